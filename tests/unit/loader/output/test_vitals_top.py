"""The vitals_top outputter (salt_ext/output/vitals_top.py): the table of ``vitals.top``, lists
and error lines as text."""

import importlib.util
from pathlib import Path

import salt_ext
from salt_ext.core.readback import model


def _outputter():
    path = Path(salt_ext.__file__).parent / "output" / "vitals_top.py"
    spec = importlib.util.spec_from_file_location("vitals_top_output", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_outputter_table_and_error_line():
    out = _outputter()
    table = {
        "backend": "http://g:8080",
        "window": 900,
        "stale_after": 180,
        "at": "T",
        "columns": [c.name for c in model.TOP_COLUMNS],
        "nodes": [
            {
                "node": "pi-01",
                "cpu": 12.34,
                "load1": 0.5,
                "mem": 40.0,
                "swap": None,
                "disk": 80.0,
                "temp": 51.0,
                "throttled": True,
                "age": 4.2,
                "stale": False,
                "spark": {"cpu": "▁▂▃"},
            },
            {"node": "pi-02", "cpu": None, "age": None, "stale": True, "spark": {}},
        ],
    }
    text = out.render(table)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["NODE", "CPU%", "LOAD1"]
    assert "12.3" in lines[1] and "YES" in lines[1] and lines[1].endswith("4s")
    assert "▁▂▃" in lines[2]
    assert lines[3].startswith("pi-02") and lines[3].endswith("never  STALE")
    assert "2 node(s), 1 stale" in lines[-1]
    assert out.output(["pi-02", "pi-01"]) == "pi-02,pi-01"
    assert out.output({"error": "CommandExecutionError: x", "retcode": 1}) == (
        "CommandExecutionError: x"
    )

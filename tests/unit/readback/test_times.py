"""The backend-neutral read-back core: times, durations, grid, metrics, sparklines, scoring,
options; and the vitals_top outputter's text."""

import importlib.util
from pathlib import Path

import pytest

import salt_ext
from salt_ext.core.errors import ConfigError, QueryError
from salt_ext.core.readback import model, options, times, views
from salt_ext.core.samples import GROUPS

NOW = 1_795_000_000


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("2d", 172800),
        ("1w", 604800),
        ("1h30m", 5400),
        ("-5m", 300),
        ("0.5m", 30),
    ],
)
def test_durations(text, seconds):
    assert times.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "soon", "5x", "m5", "1h-", "-"])
def test_bad_durations_name_the_key(text):
    with pytest.raises(ConfigError, match=r"^window: expected a duration"):
        times.parse_duration(text, "window")


@pytest.mark.parametrize(
    ("text", "ts"),
    [
        ("now", NOW),
        ("-1h", NOW - 3600),
        ("-15m", NOW - 900),
        ("1732240000", 1732240000),
        ("2024-11-22T01:46:40", 1732240000),
        ("2024-11-22T01:46:40Z", 1732240000),
        ("2024-11-22T02:46:40+01:00", 1732240000),
    ],
)
def test_times(text, ts):
    assert times.parse_time(text, NOW) == ts


def test_bad_time_names_the_key():
    with pytest.raises(ConfigError, match=r"^start: expected now, -<duration>"):
        times.parse_time("yesterday", NOW, "start")


def test_grid_aligns_to_the_step_like_summarize_and_group_by_time():
    assert times.grid(125, 300, 60) == [120, 180, 240]
    assert times.align([(180, 1.5), (999, 2.0)], [120, 180, 240]) == [None, 1.5, None]


def test_metrics_come_from_the_samples_groups():
    cores = model.parse_metric("cores.percent")
    assert (cores.measurement, cores.tag) == (GROUPS["cores"].measurement, GROUPS["cores"].tag)
    cpu = model.parse_metric("cpu.percent")
    assert cpu.tag is None and cpu.other_tags == ["cpu"]  # cores share the measurement
    assert all(c.metric.group in GROUPS for c in model.TOP_COLUMNS)
    with pytest.raises(QueryError, match=r"unknown group 'gpu'.*cpu, cores"):
        model.parse_metric("gpu.percent")
    with pytest.raises(QueryError, match=r"expected <group>.<field>"):
        model.parse_metric("cpu")


def test_sparkline():
    assert views.sparkline([0, 50, 100], 0, 100) == "▁▅█"
    assert views.sparkline([None, 1.0, 2.0]) == " ▁█"
    assert views.sparkline([None, None]) == "  "
    assert views.sparkline([3.0, 3.0]) == "▅▅"


def test_select_nodes_globs_and_lists():
    known = ["pi-01", "pi-02", "web-1"]
    assert views.select_nodes(known, "pi-*") == ["pi-01", "pi-02"]
    assert views.select_nodes(known, "web-1,pi-02") == ["pi-02", "web-1"]
    assert views.select_nodes(known, None) == known


def test_headroom_score():
    loads = views.headroom(
        {"cpu": [(0, 20.0), (1, 40.0)], "mem": [(0, 50.0)], "load1": [(0, 2.0)]}, 4
    )
    assert loads["cpu"] == 30.0 and loads["mem"] == 50.0 and loads["load"] == 50.0
    assert loads["score"] == pytest.approx(0.5 * 30 + 0.3 * 50 + 0.2 * 50)
    only_cpu = views.headroom({"cpu": [(0, 10.0)], "mem": [], "load1": []}, None)
    assert only_cpu == {"cpu": 10.0, "score": 10.0}


def test_sort_rows_busiest_first_unknown_last():
    rows = [{"node": "a", "cpu": 5.0}, {"node": "b", "cpu": None}, {"node": "c", "cpu": 9.0}]
    assert [r["node"] for r in views.sort_rows(rows, "cpu")] == ["c", "a", "b"]
    with pytest.raises(ConfigError, match=r"^sort: must be one of"):
        views.sort_rows(rows, "color")


def test_options_name_the_key_and_hide_secrets():
    opts = options.read_options({"backend": "influxdb"})
    assert opts["url"] == "http://127.0.0.1:8086" and opts["stale_after"] == 180
    with pytest.raises(ConfigError, match=r"^vitals_query:url: required"):
        options.read_options({"backend": "graphite"})
    with pytest.raises(ConfigError, match=r"^vitals_query:backend: must be one of"):
        options.read_options({"backend": "prometheus"})
    with pytest.raises(ConfigError) as info:
        options.read_options({"backend": "influxdb", "password": ["s3cret-x"]})
    assert "s3cret-x" not in str(info.value)
    with pytest.raises(ConfigError, match=r"^vitals_query:user"):
        options.read_options({"backend": "influxdb", "password": "s3cret-x"})
    with pytest.raises(ConfigError, match=r"^vitals_query:token: required with api v2"):
        options.read_options({"backend": "influxdb", "api": "v2", "bucket": "b"})


def test_bad_url_is_a_query_error_without_the_password():
    opts = options.read_options({"backend": "influxdb", "url": "ftp://u:pw-hidden-1@x"})
    with pytest.raises(QueryError) as info:
        options.open_reader(opts)
    assert "pw-hidden-1" not in str(info.value) and "vitals_query:url" in str(info.value)


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

"""Our modules and returners through Salt's real loader (entry point discovery included)."""

import sysconfig
from pathlib import Path

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.core.jobs.pollpush import POLLPUSH_OPTIONS
from salt_ext.core.samples import GROUPS

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()


def _source_file(func):
    return Path(func.__globals__["__file__"]).resolve()


def test_every_loader_module_comes_from_the_installed_wheel(loaders, returners):
    runners = __import__("salt.loader").loader.runner(loaders.opts, utils={})
    for func in (
        loaders.modules.vitals.current,
        returners["carbon.returner"],
        returners["influxdb.returner"],
        runners["vitals.pollpush"],
    ):
        where = _source_file(func)
        assert where.is_relative_to(SITE_PACKAGES / "salt_ext"), where


def test_vitals_current_through_the_loader(loaders):
    data = loaders.modules.vitals.current()
    assert isinstance(data["ts"], float)
    for group in ("cpu", "cores", "load", "mem", "system"):
        assert group in data, sorted(data)
    assert set(data) - {"ts"} <= set(GROUPS)
    assert isinstance(data["mem"]["total"], int) and isinstance(data["mem"]["percent"], float)
    assert 0.0 <= data["cpu"]["percent"] <= 100.0


def test_options_from_kwargs_and_config(loaders):
    data = loaders.modules.vitals.current(groups="mem,load")
    assert sorted(data) == ["load", "mem", "ts"]
    loaders.opts["vitals"] = {"exclude_groups": ["temp", "pi", "disk"]}
    try:
        assert "disk" not in loaders.modules.vitals.current()
    finally:
        loaders.opts.pop("vitals")


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"sample_interval": "fast"}, "vitals:sample_interval"),
        ({"groups": "cpu,bogus"}, "vitals:groups"),
        ({"no_such_option": 1}, "vitals:no_such_option"),
    ],
)
def test_bad_options_name_the_key(loaders, kwargs, key):
    with pytest.raises(SaltInvocationError, match=key):
        loaders.modules.vitals.current(**kwargs)


def test_aggregated_window(loaders):
    data = loaders.modules.vitals.current(samples=3, interval=0.1, groups="cpu,cores,mem")
    assert "percent_var" in data["cpu"] and data["cpu"]["percent_var"] >= 0
    assert all("percent_var" in core for core in data["cores"].values())
    assert isinstance(data["mem"]["total"], int) and "total_var" not in data["mem"]


def test_baseinfo(loaders):
    info = loaders.modules.vitals.baseinfo()
    assert info["cores"] >= 1 and info["mem_total"] > 0 and info["kernel"]


def test_every_public_function_documents_a_cli_example(loaders):
    docs = loaders.modules.sys.doc("vitals")
    assert set(docs) >= {"vitals.current", "vitals.baseinfo", "vitals.push", "vitals.spool"}
    for name, doc in docs.items():
        assert "CLI Example:" in doc, name


def test_our_returners_win(returners):
    for name in ("carbon", "influxdb"):
        func = returners[f"{name}.returner"]
        assert "salt_ext" in func.__module__ or "salt_ext" in func.__globals__["__file__"], name


def test_pollpush_parameters_show_in_runner_argspec(loaders):
    """What ``salt-call sys.runner_argspec vitals.pollpush`` (and the docs) show."""
    spec = loaders.modules.sys.runner_argspec("vitals.pollpush")["vitals.pollpush"]
    assert spec["args"] == list(POLLPUSH_OPTIONS)  # one parameter per option, in order
    assert spec["kwargs"] is True  # any vitals: collection option

"""``vitals:`` read without a loader call (salt_lookup) and parsed once per distinct config:
the same options as Salt's ``config.get``, and ``vitals.current`` sees every change."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from salt.exceptions import SaltInvocationError

from salt_ext.core.config import salt_config, salt_lookup
from support.saltconfig import config_sources

SOURCES = ("__opts__", "__grains__", "__pillar__", "master")
VALUES = st.sampled_from(
    [None, "", 0, False, "cpu", [], {}, {"groups": ["cpu"]}, {"exclude_groups": "temp"}]
)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(placed=st.lists(st.tuples(st.sampled_from(SOURCES), VALUES), max_size=4))
def test_same_value_as_calling_config_get(loaders, placed):
    get = loaders.modules["config.get"]
    with config_sources(get.loader.pack) as targets:
        for source, value in placed:
            targets[source]["vitals"] = value
        for lookup in (salt_lookup(get), salt_config(loaders.modules, "config.get")):
            assert lookup is not get  # Salt's own function: its sources are read directly
            assert lookup("vitals", {}) == get("vitals", {})
            assert lookup("vitals") == get("vitals")


@pytest.fixture
def vitals_config(loaders):
    with config_sources(loaders.modules["config.get"].loader.pack) as targets:
        yield targets["__opts__"]


def test_every_change_of_the_config_is_seen(loaders, vitals_config):
    current = loaders.modules.vitals.current
    assert {"mem", "load"} <= set(current())
    vitals_config["vitals"] = {"groups": ["mem", "load"]}
    assert sorted(current()) == ["load", "mem", "ts"]
    vitals_config["vitals"]["groups"].append("cpu")  # changed in place
    assert sorted(current()) == ["cpu", "load", "mem", "ts"]
    vitals_config["vitals"] = {"groups": "load"}
    assert sorted(current()) == ["load", "ts"]
    assert sorted(current(groups="mem")) == ["mem", "ts"]
    del vitals_config["vitals"]
    assert {"mem", "load", "cpu"} <= set(current())


def test_a_bad_value_is_an_error_naming_the_key_on_every_call(loaders, vitals_config):
    current = loaders.modules.vitals.current
    vitals_config["vitals"] = {"groups": ["mem"]}
    current()
    vitals_config["vitals"]["groups"].append("gpu")
    for _ in range(2):
        with pytest.raises(SaltInvocationError, match="vitals:groups"):
            current()
    vitals_config["vitals"] = {"groups": ["mem"], "min_rate_interval": True}
    with pytest.raises(SaltInvocationError, match="vitals:min_rate_interval"):
        current()
    vitals_config["vitals"] = "mem"
    with pytest.raises(SaltInvocationError, match="vitals"):
        current()


def test_salt_config_reads_the_loaders_mappings_without_a_loaded_function(loaders, monkeypatch):
    loaders.modules["config.get"]("id")  # loaded, as in any minion that ran config.get
    assert salt_config(loaders.modules, "config.no_such_function") is None
    made = []
    monkeypatch.setattr(
        type(loaders.modules), "__getitem__", lambda self, key: made.append(key) or 1 / 0
    )
    lookup = salt_config(loaders.modules, "config.get")
    assert lookup("id") == loaders.opts["id"] and made == []

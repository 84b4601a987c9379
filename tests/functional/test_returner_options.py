"""Returner options read without a loader call per key give what Salt's config.option gives."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salt_ext.core.config import salt_config, salt_lookup
from salt_ext.core.delivery import returner as backend
from salt_ext.core.graphite.carbon import BACKEND
from salt_ext.core.influxdb.write import BACKEND as INFLUX
from support.saltconfig import config_sources

VALUES = st.sampled_from([None, "", 0, False, True, 1, "x", "127.0.0.1", 2003, [], ["a:1"]])
SOURCES = ("__opts__", "__grains__", "__pillar__", "master")


def placements(name, keys):
    """Where each key lives: (source, flat or nested, value) for a few keys."""
    key = st.sampled_from([f"{name}.{k}" for k in keys] + [name])
    return st.lists(st.tuples(st.sampled_from(SOURCES), key, VALUES), max_size=8)


@pytest.mark.parametrize("returner", [BACKEND, INFLUX], ids=lambda b: b.name)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_same_values_as_calling_config_option(loaders, returner, data):
    option = loaders.modules["config.option"]
    spec = returner.spec()
    placed = data.draw(placements(returner.name, sorted(spec)))
    nested = st.dictionaries(st.sampled_from(sorted(spec)), VALUES, max_size=4)
    with config_sources(option.loader.pack) as targets:
        for source, key, flat_value in placed:
            targets[source][key] = data.draw(nested) if key == returner.name else flat_value
        expected = backend._configured(returner.name, spec, option)
        # as read_options: once per return, after any change
        for lookup in (salt_lookup(option), salt_config(loaders.modules, "config.option")):
            assert lookup is not option  # Salt's own function: its sources are read directly
            assert backend._configured(returner.name, spec, lookup) == expected


def test_a_master_config_that_is_not_a_dict_falls_back_to_calling_salt(loaders):
    option = loaders.modules["config.option"]
    pillar = option.loader.pack["__pillar__"]
    saved = pillar.get("master")
    pillar["master"] = "salt.example.com"
    try:
        assert salt_lookup(option) is option
    finally:
        if saved is None:
            pillar.pop("master")
        else:
            pillar["master"] = saved

"""read_options' one-pass reader finds exactly what Salt's get_returner_options finds."""

import types

import pytest
import salt.returners
from hypothesis import given
from hypothesis import strategies as st

from salt_ext.core.config import salt_lookup
from salt_ext.core.delivery import returner as backend
from salt_ext.core.errors import ConfigError
from salt_ext.core.graphite.carbon import BACKEND
from salt_ext.core.influxdb.write import BACKEND as INFLUX
from support.saltconfig import salt_funcs

VALUES = st.sampled_from([None, "", 0, False, True, 1, "x", "127.0.0.1", 2003, [], ["a:1"]])


def configs(name, keys):
    nested = st.dictionaries(st.sampled_from(keys), VALUES, max_size=len(keys))
    flat = st.dictionaries(st.sampled_from([f"{name}.{k}" for k in keys]), VALUES)
    return st.tuples(nested, flat).map(
        lambda pair: {**pair[1], **({name: pair[0]} if pair[0] else {})}
    )


@pytest.mark.parametrize("returner", [BACKEND, INFLUX], ids=lambda b: b.name)
@given(data=st.data())
def test_same_values_as_get_returner_options(returner, data):
    spec = returner.spec()
    config = data.draw(configs(returner.name, sorted(spec)))
    funcs = salt_funcs(config)
    salts = salt.returners.get_returner_options(
        returner.name, {}, {k: k for k in spec}, __salt__=funcs, __opts__={}
    )
    assert backend._configured(returner.name, spec, funcs["config.option"]) == salts


def test_fewer_config_lookups_than_salt():
    calls = []
    funcs = salt_funcs({"carbon": {"host": "g.example", "port": 2013, "timeout": 2}})
    option = funcs["config.option"]

    def counting(*args, **kwargs):
        calls.append(args[0])
        return option(*args, **kwargs)

    spec = BACKEND.spec()
    backend._configured("carbon", spec, counting)
    ours = len(calls)
    calls.clear()
    salt.returners.get_returner_options(
        "carbon", {}, {k: k for k in spec}, __salt__={"config.option": counting}, __opts__={}
    )
    assert ours == 1 + len(spec) - 3 and ours < len(calls) / 2 + 1


def test_a_non_dict_section_names_the_key():
    with pytest.raises(ConfigError) as info:
        backend.read_options(BACKEND, {}, salt_funcs({"carbon": "graphite.example"}), {})
    assert "carbon" in str(info.value) and "dict" in str(info.value)


def test_the_opts_mapping_is_never_asked_for_its_length():
    class NoLen(dict):
        def __len__(self):
            raise AssertionError("len() of the minion opts")

    opts = NoLen({"id": "m1"})
    found = backend.read_options(BACKEND, {}, salt_funcs({"carbon": {"port": 7}}), opts)
    assert found["endpoints"] == [("127.0.0.1", 7)]


class FakeLoader:
    def __init__(self, pack):
        self.pack = pack


def option(value, default=None, **_):
    raise AssertionError("the raw config.option is never called here")


class FakeOption:
    """Shaped like Salt's loaded ``config.option``: ``.loader.pack`` and ``.func``, whose
    module globals hold ``DEFAULTS``; calling it means a call through the loader."""

    def __init__(self, pack, defaults):
        self.loader = FakeLoader(pack)
        self.func = types.FunctionType(option.__code__, {"DEFAULTS": defaults}, "option")

    def __call__(self, *args, **kwargs):
        raise AssertionError("called through the loader")


def test_sources_are_read_in_config_options_order():
    pack = {
        "__opts__": {"carbon.a": "opts"},
        "__grains__": {"carbon.a": "grains", "carbon.b": "grains"},
        "__pillar__": {"carbon.b": "pillar", "carbon.c": "pillar", "master": {"carbon.d": "m"}},
    }
    lookup = salt_lookup(FakeOption(pack, {"carbon.c": "default", "carbon.e": "default"}))
    found = [lookup(f"carbon.{k}") for k in "abcdef"]
    assert found == ["opts", "grains", "pillar", "m", "default", ""]
    assert lookup("carbon", {}) == {}


def test_context_bound_or_odd_sources_fall_back_to_calling_salt():
    from salt.loader.context import LoaderContext, NamedLoaderContext

    bound = NamedLoaderContext("__pillar__", LoaderContext())
    for pack in (
        {"__opts__": {}, "__grains__": {}, "__pillar__": bound},
        {"__opts__": {}, "__grains__": {}, "__pillar__": {"master": "salt.example.com"}},
        {"__opts__": {}, "__grains__": None, "__pillar__": {}},
    ):
        option = FakeOption(pack, {})
        assert salt_lookup(option) is option

"""read_options' one-pass reader finds exactly what Salt's get_returner_options finds."""

import pytest
import salt.returners
from hypothesis import given
from hypothesis import strategies as st

from salt_ext.core import backend
from salt_ext.core.carbon import BACKEND
from salt_ext.core.errors import ConfigError
from salt_ext.core.influxdb import BACKEND as INFLUX
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

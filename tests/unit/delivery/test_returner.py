"""Unit tests of salt_ext.core.delivery.returner's ``read_options``: its one-pass reader finds
exactly what Salt's get_returner_options finds, where a returner's options come from, and the
same settings parsed and validated once per process (any change, a per-job option included, is
read again; a bad value is an error on every return). How Salt's config mappings are read:
tests/unit/test_config.py."""

import pytest
import salt.returners
from hypothesis import given
from hypothesis import strategies as st

from salt_ext.core.delivery import returner as backend
from salt_ext.core.errors import ConfigError
from salt_ext.core.graphite.carbon import BACKEND
from salt_ext.core.influxdb.write import BACKEND as INFLUX
from support.carbon import options
from support.saltconfig import salt_funcs


@pytest.fixture(autouse=True)  # every test starts with no options validated in this process
def validated(monkeypatch):
    cache = {}
    monkeypatch.setattr(backend, "_VALIDATED", cache)
    return cache


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


# -- where options come from: nested dicts, dotted keys, ret_config profiles, ret_kwargs (carbon
# -- as the example) ---------------------------------------------------------------------------


def test_nested_carbon_dict():
    config = {"carbon": {"host": "g.example", "port": "2013", "prefix": "lab", "spool": "no"}}
    opts = options(config)
    assert (opts["host"], opts["port"], opts["prefix"], opts["spool"]) == (
        "g.example",
        2013,
        "lab",
        False,
    )
    assert opts["endpoints"] == [("g.example", 2013)]


def test_unknown_key_in_the_nested_carbon_dict_is_named():
    # a typo must not silently fall back to a default (the pillar of another reader, too)
    with pytest.raises(ConfigError) as err:
        options({"carbon": {"hots": "g.example", "port": 2003}})
    assert err.value.key == "carbon:hots"
    assert "unknown option (known: timeout, order," in str(err.value)


def test_dotted_keys():
    opts = options({"carbon.host": "g2", "carbon.mode": "pickle", "carbon.timeout": "1.5"})
    assert (opts["host"], opts["mode"], opts["timeout"]) == ("g2", "pickle", 1.5)
    assert opts["endpoints"] == [("g2", 2004)]


def test_nested_dict_wins_over_dotted_key():
    assert options({"carbon": {"host": "nested"}, "carbon.host": "dotted"})["host"] == "nested"


@pytest.mark.parametrize(
    "config",
    [
        {"alt.carbon.host": "h-alt", "carbon.host": "h-default", "carbon.prefix": "p"},
        {"alt.carbon": {"host": "h-alt"}, "carbon": {"host": "h-default", "prefix": "p"}},
    ],
    ids=["dotted", "nested"],
)
def test_ret_config_profile_with_fallback_to_default(config):
    opts = options(config, {"ret_config": "alt"})
    assert (opts["host"], opts["prefix"]) == ("h-alt", "p")


def test_ret_kwargs_override_everything():
    config = {"carbon.prefix": "cfg", "alt.carbon.prefix": "profile", "carbon.timeout": 9}
    ret = {"ret_config": "alt", "ret_kwargs": {"prefix": "kw", "timeout": "1.5", "hosts": "x:1"}}
    opts = options(config, ret)
    assert (opts["prefix"], opts["timeout"], opts["endpoints"]) == ("kw", 1.5, [("x", 1)])


@pytest.mark.parametrize(
    "config",
    [
        {"carbon": {"spool": True, "replay_max_bytes": 5}, "alt.carbon": {"spool": False}},
        {"carbon.spool": True, "alt.carbon.spool": False},
        {"carbon.spool": True, "alt.carbon.spool": "false"},
    ],
    ids=["nested", "dotted", "string"],
)
def test_falsy_profile_value_is_honoured(config):
    assert options(config, {"ret_config": "alt"})["spool"] is False
    assert options(config)["spool"] is True


def test_falsy_default_location_value_is_honoured():
    assert options({"carbon": {"spool": False}})["spool"] is False
    assert options({"carbon.spool": False})["spool"] is False


def test_ret_kwargs_beat_a_falsy_profile_value():
    ret = {"ret_config": "alt", "ret_kwargs": {"spool": True}}
    assert options({"alt.carbon.spool": False}, ret)["spool"] is True


def test_scheduler_without_config_option_reads_opts():
    opts = backend.read_options(BACKEND, {}, {}, {"carbon.host": "from-opts", "carbon.port": 7})
    assert opts["endpoints"] == [("from-opts", 7)]


# -- parsed and validated once per process ---------------------------------------------------


@pytest.fixture
def validations(monkeypatch):
    calls = []
    validate = BACKEND.validate
    monkeypatch.setattr(BACKEND, "validate", lambda opts: calls.append(opts) or validate(opts))
    return calls


def test_the_same_settings_are_validated_once(validations, validated):
    config = {"carbon": {"host": "g.example", "port": "2013", "mode": "pickle"}}
    first = backend.read_options(BACKEND, {}, salt_funcs(config), {})
    again = backend.read_options(BACKEND, {}, salt_funcs(config), {})
    assert first == again and first is not again
    assert first["endpoints"] == [("g.example", 2013)] and first["mode"] == "pickle"
    assert len(validations) == 1 and len(validated) == 1


def test_a_caller_changing_its_options_does_not_change_the_next_callers():
    config = {"carbon": {"prefix": "lab"}}
    first = backend.read_options(BACKEND, {}, salt_funcs(config), {})
    first["prefix"] = "changed"
    first["endpoints"] = []
    again = backend.read_options(BACKEND, {}, salt_funcs(config), {})
    assert again["prefix"] == "lab" and again["endpoints"] == [("127.0.0.1", 2003)]


@pytest.mark.parametrize(
    "before, after, ret",
    [
        ({"carbon": {"port": 2013}}, {"carbon": {"port": 2014}}, {}),
        ({"carbon": {"port": 2013}}, {"carbon": {"port": "2013"}, "carbon.timeout": 2}, {}),
        ({"carbon": {"mode": "text"}}, {"carbon": {"mode": "text"}}, {"ret_kwargs": {"port": 7}}),
    ],
)
def test_changed_settings_are_read_again(before, after, ret):
    old = backend.read_options(BACKEND, {}, salt_funcs(before), {})
    new = backend.read_options(BACKEND, ret, salt_funcs(after), {})
    assert new != old
    backend._VALIDATED.clear()
    assert backend.read_options(BACKEND, ret, salt_funcs(after), {}) == new


def test_a_bad_value_is_an_error_naming_the_key_on_every_return(validated):
    funcs = salt_funcs({"carbon": {"port": 2013, "timeout": "soon"}})
    for _ in range(3):
        with pytest.raises(ConfigError, match="carbon:timeout"):
            backend.read_options(BACKEND, {}, funcs, {})
        result = backend.deliver_return(BACKEND, {"id": "m1", "fun": "test.ping"}, funcs, {})
        assert "carbon:timeout" in result.error
    assert validated == {}


def test_the_cache_stays_bounded(validated):
    for port in range(1, 3 * backend._VALIDATED_MAX):
        backend.read_options(BACKEND, {}, salt_funcs({"carbon": {"port": port}}), {})
    assert 0 < len(validated) <= backend._VALIDATED_MAX

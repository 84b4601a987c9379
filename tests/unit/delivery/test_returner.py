"""read_options parses and validates the same settings once per process; any change, a per-job
option included, is read again, and a bad value is an error on every return."""

import pytest

from salt_ext.core.delivery import returner as backend
from salt_ext.core.errors import ConfigError
from salt_ext.core.graphite.carbon import BACKEND
from support.saltconfig import salt_funcs


@pytest.fixture(autouse=True)
def validated(monkeypatch):
    cache = {}
    monkeypatch.setattr(backend, "_VALIDATED", cache)
    return cache


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

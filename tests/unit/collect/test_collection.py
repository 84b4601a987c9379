"""validate_options parses each distinct raw config once per process and hands out copies;
parse_window's plain case."""

import pytest

from salt_ext.core.collect import collection
from salt_ext.core.errors import ConfigError


@pytest.fixture(autouse=True)
def parsed(monkeypatch):
    cache = {}
    monkeypatch.setattr(collection, "_PARSED", cache)
    return cache


def test_the_same_raw_config_is_parsed_once(parsed, monkeypatch):
    calls = []
    parse = collection._parse_options
    monkeypatch.setattr(
        collection, "_parse_options", lambda raw, prefix: calls.append(raw) or parse(raw, prefix)
    )
    raw = {"exclude_groups": "temp", "min_rate_interval": "0"}
    first = collection.validate_options(raw)
    again = collection.validate_options(dict(raw))
    assert first == again and first is not again
    assert first["exclude_groups"] == ["temp"] and first["min_rate_interval"] == 0.0
    assert calls == [raw] and len(parsed) == 1


def test_a_caller_changing_its_options_does_not_change_the_next_callers():
    first = collection.validate_options({"groups": "cpu,mem"})
    first["groups"] = ["load"]
    first["sample_interval"] = 9.0
    again = collection.validate_options({"groups": "cpu,mem"})
    assert again["groups"] == ["cpu", "mem"] and again["sample_interval"] == 0.5


@pytest.mark.parametrize(
    "before, after",
    [
        ({"groups": ["cpu"]}, {"groups": ["mem"]}),
        ({"min_rate_interval": 1}, {"min_rate_interval": True}),  # equal, yet not an option
        ({"min_rate_interval": 1}, {"min_rate_interval": "1"}),
        ({}, {"groups": None}),
    ],
)
def test_a_changed_config_is_parsed_again(before, after):
    collection.validate_options(before)
    if after.get("min_rate_interval") is True:
        with pytest.raises(ConfigError, match="vitals:min_rate_interval"):
            collection.validate_options(after)
    else:
        assert collection.validate_options(after) == collection._parse_options(after, "vitals")


def test_a_bad_config_raises_naming_the_key_every_time(parsed):
    for _ in range(3):
        with pytest.raises(ConfigError) as info:
            collection.validate_options({"exclude_groups": ["bogus"]})
        assert info.value.key == "vitals:exclude_groups"
    assert parsed == {}


def test_the_cache_stays_bounded(parsed):
    for seconds in range(3 * collection._PARSED_MAX):
        collection.validate_options({"max_state_age": seconds})
    assert 0 < len(parsed) <= collection._PARSED_MAX


@pytest.mark.parametrize(
    "samples, interval, expected",
    [(1, None, (1, None)), ("1", None, (1, None)), (1.0, "", (1, None)), (3, "2", (3, 2.0))],
)
def test_parse_window(samples, interval, expected):
    assert collection.parse_window(samples, interval) == expected
    assert type(collection.parse_window(samples, interval)[0]) is int


@pytest.mark.parametrize("samples", [True, 0, "x"])
def test_parse_window_refuses_what_is_not_a_count(samples):
    with pytest.raises(ConfigError, match="vitals:samples"):
        collection.parse_window(samples)

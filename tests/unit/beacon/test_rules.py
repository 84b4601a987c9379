"""Threshold rules: parsing with errors naming the key, matching, for, hysteresis, transitions."""

import pytest

from salt_ext.core.beacon.rules import (
    RuleSet,
    matches,
    parse_rule,
    parse_rules,
    required_groups,
    worst_match,
)
from salt_ext.core.errors import ConfigError

VITALS = {
    "ts": 1000.0,
    "cpu": {"percent": 50.0, "count": 4},
    "cores": {"0": {"percent": 10.0}, "1": {"percent": 90.0}, "2": {"percent": 40.0}},
    "disk": {"/": {"percent": 91.0}, "/boot": {"percent": 40.0}},
    "net": {"eth0.100": {"rx_errors": 3}, "eth0": {"rx_errors": 1}},
    "temp": {"cpu_thermal": {"celsius": 81.5}, "nvme": {"celsius": 40.0}},
    "pi": {"under_voltage": 0},
}


def rule(**spec):
    return parse_rule("r", spec, "beacons:vitals:rules:r")


def rules(**named):
    return RuleSet(parse_rules(named))


# --- parsing ----------------------------------------------------------------------------------


def test_parse_defaults():
    r = rule(metric="cpu.percent", above=95)
    assert (r.direction, r.threshold, r.clear, r.hold, r.severity) == (
        "above",
        95.0,
        95.0,
        0.0,
        "warning",
    )


def test_parse_strings_as_operators_type_them():
    r = rule(metric="temp.*.celsius", above="80", clear="75", severity="critical", **{"for": "30"})
    assert (r.threshold, r.clear, r.hold, r.severity) == (80.0, 75.0, 30.0, "critical")


@pytest.mark.parametrize(
    ("spec", "key", "text"),
    [
        ({"metric": "cpu.percent", "above": "hot"}, "above", "expected a number, got 'hot'"),
        ({"metric": "cpu.percent"}, "above", "exactly one of above or below"),
        ({"metric": "cpu.percent", "above": 1, "below": 0}, "above", "exactly one"),
        ({"above": 1}, "metric", "required"),
        ({"metric": "cpu..percent", "above": 1}, "metric", "empty path segment"),
        ({"metric": "cpu.percent", "above": 90, "clear": 95}, "clear", "at or below"),
        ({"metric": "mem.percent", "below": 10, "clear": 5}, "clear", "at or above"),
        ({"metric": "cpu.percent", "above": 1, "for": -1}, "for", "at least 0"),
        ({"metric": "cpu.percent", "above": 1, "abov": 2}, "abov", "unknown option"),
        ({"metric": ["a"], "above": 1}, "metric", "expected a string"),
    ],
)
def test_parse_errors_name_the_key(spec, key, text):
    with pytest.raises(ConfigError) as err:
        parse_rules({"hot": spec})
    assert err.value.key == f"beacons:vitals:rules:hot:{key}"
    assert text in str(err.value)


@pytest.mark.parametrize("raw", [None, {}, [], "x"])
def test_rules_must_be_a_named_dict(raw):
    with pytest.raises(ConfigError, match="beacons:vitals:rules: must be a dict"):
        parse_rules(raw)


def test_rule_spec_must_be_a_dict():
    with pytest.raises(ConfigError, match="beacons:vitals:rules:hot: must be a dict"):
        parse_rules({"hot": "cpu.percent > 9"})


def test_required_groups():
    assert required_groups(parse_rules({"a": {"metric": "cpu.percent", "above": 1}})) == {"cpu"}
    assert required_groups(
        parse_rules(
            {"a": {"metric": "disk./.percent", "above": 1}, "b": {"metric": "temp.*.c", "above": 1}}
        )
    ) == {"disk", "temp"}
    assert required_groups(parse_rules({"a": {"metric": "*.x", "above": 1}})) is None


# --- matching ---------------------------------------------------------------------------------


def test_matches_literal_glob_and_mount_points():
    assert list(matches(VITALS, "cpu.percent")) == [("cpu.percent", 50.0)]
    assert list(matches(VITALS, "disk./.percent")) == [("disk./.percent", 91.0)]
    assert list(matches(VITALS, "disk./boot.percent")) == [("disk./boot.percent", 40.0)]
    assert dict(matches(VITALS, "cores.*.percent")) == {
        "cores.0.percent": 10.0,
        "cores.1.percent": 90.0,
        "cores.2.percent": 40.0,
    }
    assert dict(matches(VITALS, "disk.*.percent")) == {
        "disk./.percent": 91.0,
        "disk./boot.percent": 40.0,
    }


def test_matches_keys_containing_dots():
    assert dict(matches(VITALS, "net.eth0.100.rx_errors")) == {"net.eth0.100.rx_errors": 3}
    assert dict(matches(VITALS, "net.eth0.rx_errors")) == {"net.eth0.rx_errors": 1}
    assert dict(matches(VITALS, "net.*.rx_errors")) == {
        "net.eth0.100.rx_errors": 3,
        "net.eth0.rx_errors": 1,
    }


def test_matches_only_numeric_leaves():
    data = {"a": {"b": "text", "c": True, "d": {"e": 1}, "f": float("nan")}}
    assert list(matches(data, "a.*")) == []
    assert list(matches(data, "a.d")) == []  # a dict is not a value
    assert list(matches(data, "x.y")) == []
    assert list(matches(data, "a.b.c")) == []


def test_worst_match_per_direction():
    assert worst_match(VITALS, rule(metric="cores.*.percent", above=1)) == ("cores.1.percent", 90.0)
    assert worst_match(VITALS, rule(metric="cores.*.percent", below=1)) == ("cores.0.percent", 10.0)
    assert worst_match(VITALS, rule(metric="nothing.here", above=1)) is None


# --- transitions ------------------------------------------------------------------------------


def cpu(value):
    return {"cpu": {"percent": value}}


def tags(events):
    return [e["tag"] for e in events]


def test_trips_once_holds_and_clears_once():
    rs = rules(busy={"metric": "cpu.percent", "above": 95, "clear": 80, "severity": "critical"})
    assert rs.evaluate(cpu(50), 0) == []
    events = rs.evaluate(cpu(97), 10)
    assert events == [
        {
            "tag": "busy/tripped",
            "rule": "busy",
            "state": "tripped",
            "metric": "cpu.percent",
            "key": "cpu.percent",
            "value": 97,
            "above": 95.0,
            "threshold": 95.0,
            "clear": 80.0,
            "since": 10,
            "at": 10,
            "severity": "critical",
        }
    ]
    assert rs.evaluate(cpu(99), 20) == []  # still above: no repeat
    assert rs.evaluate(cpu(90), 30) == []  # between clear and threshold: hysteresis holds
    assert rs.evaluate(cpu(96), 40) == []
    cleared = rs.evaluate(cpu(80), 50)  # at the clear level
    assert tags(cleared) == ["busy/cleared"]
    assert cleared[0]["since"] == 10 and cleared[0]["at"] == 50 and cleared[0]["value"] == 80
    assert rs.evaluate(cpu(50), 60) == []
    assert tags(rs.evaluate(cpu(96), 70)) == ["busy/tripped"]  # trips again after clearing


def test_hovering_at_the_threshold_fires_once_with_hysteresis():
    rs = rules(busy={"metric": "cpu.percent", "above": 95, "clear": 85})
    fired = []
    for step, value in enumerate([94, 96, 94, 96, 94.9, 95.1, 90, 96]):
        fired += tags(rs.evaluate(cpu(value), step))
    assert fired == ["busy/tripped"]


def test_without_clear_the_threshold_clears():
    rs = rules(busy={"metric": "cpu.percent", "above": 95})
    assert tags(rs.evaluate(cpu(96), 0)) == ["busy/tripped"]
    assert tags(rs.evaluate(cpu(95), 1)) == ["busy/cleared"]  # not above any more


def test_threshold_is_strict():
    rs = rules(power={"metric": "pi.under_voltage", "above": 0})
    assert rs.evaluate({"pi": {"under_voltage": 0}}, 0) == []
    assert tags(rs.evaluate({"pi": {"under_voltage": 1}}, 1)) == ["power/tripped"]


def test_below_rules():
    rs = rules(low={"metric": "mem.percent_free", "below": 10, "clear": 20})
    mem = lambda v: {"mem": {"percent_free": v}}  # noqa: E731
    assert rs.evaluate(mem(15), 0) == []
    assert tags(rs.evaluate(mem(9), 1)) == ["low/tripped"]
    assert rs.evaluate(mem(19), 2) == []
    assert tags(rs.evaluate(mem(20), 3)) == ["low/cleared"]


def test_for_requires_the_condition_to_hold():
    rs = rules(busy={"metric": "cpu.percent", "above": 95, "for": 30})
    assert rs.evaluate(cpu(99), 100) == []
    assert rs.evaluate(cpu(99), 120) == []
    assert rs.evaluate(cpu(50), 125) == []  # interrupted: the window starts over
    assert rs.evaluate(cpu(99), 130) == []
    assert rs.evaluate(cpu(99), 159) == []
    events = rs.evaluate(cpu(99), 160)
    assert tags(events) == ["busy/tripped"] and events[0]["since"] == 130
    assert rs.evaluate(cpu(99), 200) == []


def test_missing_metric_holds_a_tripped_rule_and_restarts_a_pending_one():
    rs = rules(
        hot={"metric": "temp.*.celsius", "above": 80},
        slow={"metric": "cpu.percent", "above": 90, "for": 10},
    )
    assert tags(rs.evaluate({"temp": {"a": {"celsius": 85}}, "cpu": {"percent": 95}}, 0)) == [
        "hot/tripped"
    ]
    assert rs.evaluate({}, 5) == []  # no reading: nothing clears, the for window restarts
    assert rs.evaluate({"cpu": {"percent": 95}}, 10) == []
    assert tags(rs.evaluate({"cpu": {"percent": 95}}, 20)) == ["slow/tripped"]
    assert tags(rs.evaluate({"temp": {"a": {"celsius": 70}}}, 30)) == ["hot/cleared"]


def test_worst_match_trips_and_clears_with_its_key():
    rs = rules(hot={"metric": "temp.*.celsius", "above": 80, "clear": 75})
    events = rs.evaluate(VITALS, 0)
    assert events[0]["key"] == "temp.cpu_thermal.celsius" and events[0]["value"] == 81.5
    still = {"temp": {"cpu_thermal": {"celsius": 70}, "nvme": {"celsius": 78}}}
    assert rs.evaluate(still, 1) == []  # the worst sensor is still above clear
    done = rs.evaluate({"temp": {"cpu_thermal": {"celsius": 70}, "nvme": {"celsius": 74}}}, 2)
    assert tags(done) == ["hot/cleared"] and done[0]["key"] == "temp.nvme.celsius"


def test_update_keeps_state_so_a_raised_threshold_clears():
    rs = rules(load={"metric": "load.load1", "above": 0})
    assert tags(rs.evaluate({"load": {"load1": 0.5}}, 0)) == ["load/tripped"]
    rs.update(parse_rules({"load": {"metric": "load.load1", "above": 1000}}))
    assert tags(rs.evaluate({"load": {"load1": 0.5}}, 10)) == ["load/cleared"]
    assert rs.evaluate({"load": {"load1": 0.5}}, 20) == []


def test_update_drops_removed_rules_and_adds_new_ones_fresh():
    rs = rules(a={"metric": "cpu.percent", "above": 1})
    assert tags(rs.evaluate(cpu(50), 0)) == ["a/tripped"]
    rs.update(parse_rules({"b": {"metric": "cpu.percent", "above": 1}}))
    assert set(rs.states) == {"b"}
    assert tags(rs.evaluate(cpu(50), 1)) == ["b/tripped"]
    rs.update(parse_rules({"a": {"metric": "cpu.percent", "above": 1}}))
    assert tags(rs.evaluate(cpu(50), 2)) == ["a/tripped"]  # a re-added rule starts fresh


def test_independent_rules_fire_independently():
    rs = rules(
        busy={"metric": "cpu.percent", "above": 90},
        root={"metric": "disk./.percent", "above": 90, "clear": 85},
    )
    assert sorted(tags(rs.evaluate(VITALS, 0))) == ["root/tripped"]
    assert sorted(tags(rs.evaluate({**VITALS, "cpu": {"percent": 95}}, 1))) == ["busy/tripped"]
    assert tags(rs.evaluate({"cpu": {"percent": 95}, "disk": {"/": {"percent": 80}}}, 2)) == [
        "root/cleared"
    ]

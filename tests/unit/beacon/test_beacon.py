"""The beacon runtime (salt_ext.core.beacon.beacon): its configuration parsed with errors naming
the key, rules fired, the enabled groups pushed through real loopback sockets, only the groups
the rules need read, and its state kept across a loader reload."""

import time

import pytest

from salt_ext.core.beacon import beacon as vitals_beacon
from salt_ext.core.collect.collection import validate_options
from salt_ext.core.errors import ConfigError
from support.saltconfig import salt_funcs
from support.tcp import RecordingTcpServer


def parsed(config):
    return vitals_beacon.parse_config(config)


def test_beacon_pushes_every_enabled_group_and_fires_rules(minion_opts):
    with RecordingTcpServer() as carbon:
        beacon = vitals_beacon.VitalsBeacon(salt_funcs({}), minion_opts)
        config = parsed(
            [
                {"interval": 10},
                {"rules": {"up": {"metric": "system.uptime", "above": 0}}},
                {"push": {"returners": "carbon", "port": carbon.port}},
            ]
        )
        events = beacon.run(config, validate_options({"exclude_groups": ["pi"]}))
        assert [e["tag"] for e in events] == ["up/tripped"]
        time.sleep(0.6)  # past min_rate_interval: the second run has rates
        assert beacon.run(config, validate_options({"exclude_groups": ["pi"]})) == []
        assert beacon.pusher.workers["carbon"].wait_idle(10)
        carbon.settle()
        paths = {line.split()[0].decode() for line in carbon.lines()}
    assert "vitals.pi-01.mem.percent" in paths and "vitals.pi-01.system.uptime" in paths
    assert "vitals.pi-01.cpu.percent" in paths  # the in-memory rate reference worked
    assert not any(".pi." in p.replace("pi-01", "") for p in paths)


def test_push_sends_only_enabled_groups_even_when_rules_read_more(minion_opts):
    with RecordingTcpServer() as carbon:
        beacon = vitals_beacon.VitalsBeacon(salt_funcs({}), minion_opts)
        config = parsed(
            [
                {"rules": {"up": {"metric": "system.uptime", "above": 0}}},
                {"push": {"returners": "carbon", "port": carbon.port}},
            ]
        )
        events = beacon.run(config, validate_options({"groups": ["mem"]}))
        assert [e["tag"] for e in events] == ["up/tripped"]  # system was read for the rule
        assert beacon.pusher.workers["carbon"].wait_idle(10)
        carbon.settle()
        groups = {line.split()[0].decode().split(".")[2] for line in carbon.lines()}
    assert groups == {"mem"}


def test_beacon_reads_only_the_groups_its_rules_need(minion_opts, monkeypatch):
    seen = []
    real = vitals_beacon.collect.read_snapshot

    def spy(options, **kwargs):
        seen.append(options["groups"])
        return real(options, **kwargs)

    monkeypatch.setattr(vitals_beacon.collect, "read_snapshot", spy)
    beacon = vitals_beacon.VitalsBeacon({}, minion_opts)
    config = parsed(
        [
            {
                "rules": {
                    "a": {"metric": "load.load1", "above": 1e9},
                    "b": {"metric": "disk./.percent", "above": 100},
                }
            }
        ]
    )
    assert beacon.run(config, validate_options({"exclude_groups": ["disk"]})) == []
    assert seen == [["disk", "load"]]


def test_beacon_state_survives_a_loader_reload(minion_opts):
    vitals_beacon.RUNNING.pop("reload-test", None)
    config = parsed([{"rules": {"up": {"metric": "system.uptime", "above": 0}}}])
    first = vitals_beacon.beacon_for("reload-test", {}, minion_opts)
    assert len(first.run(config, validate_options({}))) == 1
    again = vitals_beacon.beacon_for("reload-test", {"new": "loader"}, minion_opts)
    assert again is first and again.run(config, validate_options({})) == []
    vitals_beacon.RUNNING.pop("reload-test", None)


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ([{"interval": 10}], "beacons:vitals: configure rules:, push: or both"),
        ([{"rule": {}}], "beacons:vitals:rule: unknown option"),
        ("rules", "beacons:vitals: must be a list of dicts"),
        ([{"rules": {"x": {"metric": "a", "below": "low"}}}], "beacons:vitals:rules:x:below"),
        ([{"push": {"returners": "carbon", "port": 0}}], "beacons:vitals:push:port"),
    ],
)
def test_parse_config_errors(config, text):
    with pytest.raises(ConfigError, match=text):
        parsed(config)


def test_parse_config_ignores_the_keys_salt_handles():
    found = parsed(
        [
            {"interval": 5},
            {"disable_during_state_run": True},
            {"rules": {"a": {"metric": "cpu.percent", "above": 1}}},
            {"_beacon_name": "vitals_hot"},
        ]
    )
    assert found.name == "vitals_hot" and found.push is None and list(found.rules) == ["a"]

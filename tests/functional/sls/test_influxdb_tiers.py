"""The influxdb SLS's downsampling tiers (``influxdb_server:downsample``) rendered by Salt's real
renderer with the installed salt-vitals: a retention policy and a continuous query per tier,
reading the raw tier; the queries of tiers taken out of the pillar pruned; a tier the states
would refuse fails the render, naming its key."""

import json

import pytest

from support.saltcall import salt_call


def args(ret, sid, function):
    module, fun = function.split(".")
    body = ret[sid][module]
    assert fun in body, (sid, body)
    out = {}
    for item in body:
        if isinstance(item, dict):
            out.update(item)
    return out


def test_default_tiers_mirror_graphites_retentions(tmp_path):
    code, ret = salt_call(tmp_path, {}, "state.show_sls", "influxdb")
    assert code == 0, ret
    raw = args(ret, "influxdb-retention-policy", "vitals_influxdb.retention_policy_present")
    assert (raw["name"], raw["duration"], raw["default"]) == ("vitals", "7d", True)
    tiers = {}
    for name in ("vitals_1m", "vitals_10m"):
        policy = args(ret, f"influxdb-tier-{name}", "vitals_influxdb.retention_policy_present")
        query = args(ret, f"influxdb-tier-{name}-query", "vitals_influxdb.continuous_query_present")
        assert policy["database"] == query["database"] == "salt"
        assert query["source"] == "vitals" and query["name"] == policy["name"] == name
        tiers[name] = (query["every"], policy["duration"], query["late"])
        assert query["require"] == ["influxdb-retention-policy", f"influxdb-tier-{name}"]
    assert tiers == {"vitals_1m": ("1m", "30d", "10m"), "vitals_10m": ("10m", "365d", "1h")}
    pruned = args(ret, "influxdb-downsample-pruned", "vitals_influxdb.downsampling_pruned")
    assert (pruned["name"], pruned["source"]) == ("salt", "vitals")
    assert pruned["keep"] == ["vitals_1m", "vitals_10m"]
    # the same tiers as the graphite SLS's whisper archives
    code, ret = salt_call(tmp_path, {}, "state.show_sls", "graphite")
    assert code == 0, ret
    assert "whisper-resize --nobackup {} 10s:7d 1m:30d 10m:1y" in json.dumps(ret)


def test_the_pillars_list_replaces_the_default_tiers(tmp_path):
    pillar = {
        "influxdb_server": {"downsample": [{"name": "hourly", "every": "1h", "duration": "INF"}]}
    }
    code, ret = salt_call(tmp_path, pillar, "state.show_sls", "influxdb")
    assert code == 0, ret
    assert not [sid for sid in ret if sid.startswith("influxdb-tier-vitals_")]
    query = args(ret, "influxdb-tier-hourly-query", "vitals_influxdb.continuous_query_present")
    assert query["every"] == "1h" and "late" not in query
    pruned = args(ret, "influxdb-downsample-pruned", "vitals_influxdb.downsampling_pruned")
    assert pruned["keep"] == ["hourly"]


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        (
            {"name": "t", "every": "1m", "duration": "30d", "rollup": "sum"},
            "influxdb_server:downsample:0:rollup: unknown key (known: duration, every, late, name)",
        ),
        (
            {"name": "t", "every": "1 minute", "duration": "30d"},
            "influxdb_server:downsample:0:every: expected an InfluxQL duration such as 1m or 30d,"
            " got 1 minute",
        ),
        (
            {"name": "vitals", "every": "1m", "duration": "30d"},
            "influxdb_server:downsample:0:name: expected a retention policy name used once (not"
            " the raw retention:name), got vitals",
        ),
    ],
)
def test_a_bad_tier_fails_the_render_naming_its_key(tmp_path, tier, expected):
    pillar = {"influxdb_server": {"downsample": [tier]}}
    code, ret = salt_call(tmp_path, pillar, "state.show_sls", "influxdb")
    assert code != 0
    assert expected in json.dumps(ret), ret

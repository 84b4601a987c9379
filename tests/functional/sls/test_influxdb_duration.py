"""The influxdb SLS checks ``influxdb_server:retention:duration`` with the grammar the
vitals_influxdb states read it with (``vitals_influxdb.is_duration``, rendered by Salt's real
renderer with the installed salt-vitals): whatever the state would refuse fails the render,
naming the pillar key; InfluxQL's forms pass."""

import json

import pytest

from support.saltcall import salt_call


@pytest.mark.parametrize("duration", ["52w1d", "INF", "8760h0m0s"])
def test_influxql_durations_render(tmp_path, duration):
    pillar = {"influxdb_server": {"retention": {"duration": duration}}}
    code, ret = salt_call(tmp_path, pillar, "state.show_sls", "influxdb")
    assert code == 0, ret
    policy = ret["influxdb-retention-policy"]["vitals_influxdb"]
    assert {"duration": duration} in policy


@pytest.mark.parametrize("duration", ["30 days", "1y", "1h30", "30dx"])
def test_other_durations_fail_the_render_naming_the_key(tmp_path, duration):
    pillar = {"influxdb_server": {"retention": {"duration": duration}}}
    code, ret = salt_call(tmp_path, pillar, "state.show_sls", "influxdb")
    assert code != 0
    expected = (
        "influxdb_server:retention:duration: expected an InfluxQL duration such as 365d, 52w"
        f" or INF, got {duration}"
    )
    assert expected in json.dumps(ret), ret

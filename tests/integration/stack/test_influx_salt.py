"""InfluxDB through the real stack: pollpush -> two minions -> influxdb returner -> influxd
(authentication on), read back with InfluxQL; then every log, job return and spool file is
searched for the passwords."""

import os
import time

import pytest

from support.stack import (
    INFLUX_PASSWORD,
    MINION_IDS,
    WRONG_PASSWORD,
    files_holding_no_secret,
    wait_for_receipts,
)


@pytest.fixture(scope="module")
def influx(influxd):
    if influxd is None:
        pytest.skip("influxd is not installed")
    return influxd


def _row(influx, measurement, minion, ts, **tags):
    where = " AND ".join(f""""{k}" = '{v}'""" for k, v in {"host": minion, **tags}.items())
    query = f'SELECT * FROM "{measurement}" WHERE {where} AND time = {int(ts)}s'
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        series = influx.query(query, db="vitals")["results"][0].get("series")
        if series:
            return dict(zip(series[0]["columns"], series[0]["values"][0]))
        time.sleep(0.3)
    raise AssertionError(f"no row for {query}")


def test_pollpush_feeds_carbon_and_influxdb(salt_run_cli, salt_cli, influx, carbon):
    jid = salt_run_cli.run("vitals.pollpush", "returners=carbon,influxdb").data["jid"]
    receipts = wait_for_receipts(salt_run_cli, jid, len(MINION_IDS))
    for minion in MINION_IDS:
        receipt = receipts[minion]
        assert (receipt["carbon"], receipt["influxdb"]) == ("sent", "sent"), receipt
        reported = salt_cli.run("vitals.current", minion_tgt=minion).data
        mem = _row(influx, "mem", minion, receipt["ts"])
        assert mem["total"] == reported["mem"]["total"]
        assert mem["percent"] == pytest.approx(reported["mem"]["percent"], abs=10)
        core = _row(influx, "cpu", minion, receipt["ts"], cpu="0")
        assert 0.0 <= core["percent"] <= 100.0
        root = _row(influx, "disk", minion, receipt["ts"], path="/")
        assert root["total"] == reported["disk"]["/"]["total"]
        carbon.wait_for_points(
            f"vitals.{minion}.mem.total", 1, from_ts=receipt["ts"], until_ts=receipt["ts"]
        )
    rps = influx.query("SHOW RETENTION POLICIES", db="vitals")["results"][0]["series"][0]
    assert any(row[1] == "720h0m0s" for row in rps["values"]), rps  # created: 30 d


def test_field_types_are_numbers(influx):
    result = influx.query('SHOW FIELD KEYS FROM "mem"', db="vitals")["results"][0]["series"][0]
    types = dict(result["values"])
    assert types["total"] == "integer" and types["percent"] == "float", types


def test_wrong_password_is_a_clear_error_and_never_shown(salt_cli, influx):
    minion = MINION_IDS[0]
    ret = salt_cli.run("vitals.push", "returners=influxdb", "ret_config=badauth", minion_tgt=minion)
    receipt = ret.data
    assert receipt["influxdb"].startswith("spooled: authentication failed"), receipt
    assert WRONG_PASSWORD not in str(receipt)
    # fixed configuration: the spooled points are replayed
    after = salt_cli.run("vitals.push", "returners=influxdb", minion_tgt=minion).data
    assert after["influxdb"] == "sent", after


def test_no_secret_in_logs_job_returns_or_spool(salt_master, salt_minions, influx):
    roots = [salt_master.config["cachedir"], os.path.dirname(salt_master.config["log_file"])]
    for minion in salt_minions:
        roots += [minion.config["cachedir"], os.path.dirname(minion.config["log_file"])]
    assert files_holding_no_secret(roots, (INFLUX_PASSWORD, WRONG_PASSWORD)) > 10

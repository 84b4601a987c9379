"""Fault tests on the real stack: carbon down for several pollpush cycles (and a minion
restarted meanwhile), then back — every point collected during the outage lands afterwards,
at its collection time."""

import time

import pytest

from tests.integration.conftest import MINION_IDS

pytestmark = pytest.mark.integration


def _receipts(salt_run_cli, jid, expected, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = salt_run_cli.run("jobs.lookup_jid", jid).data or {}
        if len(found) >= expected:
            return found
        time.sleep(1)
    raise AssertionError(f"job {jid}: receipts from {sorted(found)} only")


def test_outage_loses_nothing(salt_run_cli, salt_minions, carbon):
    carbon.stop()
    outage = []  # (minion, collection ts) of every push made while carbon was down
    try:
        for cycle in range(3):
            jid = salt_run_cli.run("vitals.pollpush").data["jid"]
            for minion, receipt in _receipts(salt_run_cli, jid, len(MINION_IDS)).items():
                assert receipt["carbon"].startswith("spooled"), receipt
                outage.append((minion, receipt["ts"]))
            if cycle == 1:  # a minion restart with a non-empty spool
                salt_minions[0].terminate()
                salt_minions[0].start()
            time.sleep(1.1)  # distinct collection seconds
    finally:
        carbon.start()
    jid = salt_run_cli.run("vitals.pollpush").data["jid"]
    for receipt in _receipts(salt_run_cli, jid, len(MINION_IDS)).values():
        assert receipt["carbon"] == "sent", receipt
    lost = []
    for minion, ts in outage:
        path = f"vitals.{minion}.mem.total"
        try:
            carbon.wait_for_points(path, 1, from_ts=ts, until_ts=ts, timeout=20)
        except Exception:  # noqa: BLE001 - collected and reported below
            lost.append((minion, ts))
    print(f"\noutage: {len(outage)} pushes spooled, {len(lost)} lost")
    assert not lost and len(outage) == 3 * len(MINION_IDS)

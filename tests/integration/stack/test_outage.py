"""Fault tests on the real stack: carbon down for several pollpush cycles (and a minion
restarted meanwhile), then back — every point collected during the outage lands afterwards,
at its collection time."""

import time

from support.stack import MINION_IDS, wait_for_receipts


def test_outage_loses_nothing(salt_run_cli, salt_cli, salt_minions, carbon):
    carbon.stop()
    outage = []  # (minion, collection ts) of every push made while carbon was down
    try:
        for cycle in range(3):
            jid = salt_run_cli.run("vitals.pollpush").data["jid"]
            for minion, receipt in wait_for_receipts(salt_run_cli, jid, len(MINION_IDS)).items():
                assert receipt["carbon"].startswith("spooled"), receipt
                outage.append((minion, receipt["ts"], receipt["points"]))
            if cycle == 1:  # a minion restart with a non-empty spool
                salt_minions[0].terminate()
                salt_minions[0].start()
            time.sleep(1.1)  # distinct collection seconds
    finally:
        carbon.start()
    jid = salt_run_cli.run("vitals.pollpush").data["jid"]
    for receipt in wait_for_receipts(salt_run_cli, jid, len(MINION_IDS)).values():
        assert receipt["carbon"] == "sent", receipt
    mem_total = salt_cli.run("vitals.current", "groups=mem", minion_tgt=MINION_IDS[0]).data
    lost = 0
    for minion, ts, points in outage:
        total = carbon.wait_for_points(f"vitals.{minion}.mem.total", 1, from_ts=ts, until_ts=ts)
        assert total == [(ts, float(mem_total["mem"]["total"]))]  # same machine, same RAM
        stored = sum(
            1
            for metric in carbon.metrics()
            if metric.startswith(f"vitals.{minion}.") and carbon.fetch(metric, ts, ts)
        )
        lost += points - stored
    print(
        f"\noutage: {len(outage)} pushes, {sum(p for *_, p in outage)} points spooled, {lost} lost"
    )
    assert lost == 0 and len(outage) == 3 * len(MINION_IDS)

"""Push mode (the ``vitals`` beacon on a real salt-master and minion) through an outage of both
backends, a real carbon-cache and a real influxd behind counting proxies that black-hole
(connections time out after the returners' default 5 s, so collections wait in memory behind
a delivery in flight):

* a graceful restart (SIGTERM, as ``systemctl restart salt-minion``) loses nothing: what
  waited in memory is spooled at the minion's exit;
* a SIGKILL loses at most the collections in memory (``max_pending`` + 1 per returner, in
  practice the one in flight and those that came during its timeout), and none with
  ``spool_first``.

Each test counts the collections the beacon handed over (its debug log line per collection)
against the points that landed in each backend.
"""

import collections
import contextlib
import os
import signal
import time

import psutil
import pytest

from support.spooljobs import BACKENDS, HandedCollections, Ledger, switch
from vitals_daemons.process import poll

MINION = "fault-push"
GROUPS = ["cpu", "load", "mem", "swap", "system"]
PUSH = {"returners": "carbon,influxdb"}
TIMEOUT = 5  # the returners' default: a delivery into the black hole waits this long
OUTAGE = 6  # seconds of black hole before the minion stops


@pytest.fixture(scope="module")
def push_master(salt_factories):
    factory = salt_factories.salt_master_daemon("fault-push-master")
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def push_minion(push_master, package_proxies):
    overrides = {
        "loop_interval": 1,
        "log_level_logfile": "debug",  # one line per collection handed to the push mode
        "carbon": {
            "host": "127.0.0.1",
            "port": package_proxies["carbon"].port,
            "timeout": TIMEOUT,
        },
        "influxdb": {"url": package_proxies["influxdb"].url, "db": "faults", "timeout": TIMEOUT},
        "vitals": {"groups": GROUPS},
        "beacons": {"vitals": [{"interval": 1}, {"push": PUSH}]},
    }
    factory = push_master.salt_minion_daemon(MINION, overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture
def cli(push_master):
    return push_master.salt_cli(timeout=60)


def spooled_records(minion):
    """Records waiting in the minion's spools."""
    root = os.path.join(minion.config["cachedir"], "vitals", "spool")
    if not os.path.isdir(root):
        return 0
    return sum(
        1
        for spool in os.listdir(root)
        for name in os.listdir(os.path.join(root, spool))
        if name.endswith(".rec") and not name.startswith(".")
    )


def sigkill_tree(pid):
    """SIGKILL the minion and every process under it at once, as systemd kills a unit's
    control group: the parent alone would leave its minion process running as an orphan that
    no terminate() finds (and that kept delivering what the test counts as lost)."""
    top = psutil.Process(pid)
    for process in [top, *top.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


def outage_then_recovery(minion, proxies, stop, fault, fault_carbon, fault_influxd):
    """Collect a few cycles, black-hole both backends, ``stop()`` the minion and start it
    again, end the outage, wait for the spool to drain. Returns the ledger rows and the
    collections.

    In the black hole every delivery waits for its 5 s timeout and a collection comes every
    second, so when the minion stops, a few collections of each returner are in memory: the
    one in flight and those behind it. (Without the push mode's exit hook a graceful stop here
    lost 3 collections: ``bench/push_stop.py``.)"""
    ledger = Ledger(fault)
    handed = HandedCollections(minion.config["log_file"])  # from here on
    poll(lambda: len(handed.since_start()) >= 2, 60, "the beacon pushing")
    switch(proxies, "blackhole")
    began = time.time()
    time.sleep(OUTAGE)
    stop()
    minion.start()
    time.sleep(2)
    switch(proxies, "up")
    ended = time.time()
    poll(lambda: spooled_records(minion) == 0, 60, "the spools replayed")
    time.sleep(2)  # one more cycle delivered after the replay
    cycles = handed.since_start()
    ledger.since = min(cycles)  # a collection logged before the offset is not counted either
    for backend in BACKENDS:
        during = collections.Counter({ts: n for ts, n in cycles.items() if began <= ts <= ended})
        ledger.handed_off(backend, during, spooled=True)
        ledger.handed_off(backend, cycles - during, spooled=False)
    rows = ledger.settle(
        MINION, fault_carbon, fault_influxd, proxies, timeout=20, until=max(cycles)
    )
    return rows, cycles


def assert_at_most_lost(rows, cycles, per_returner):
    biggest = max(cycles.values())
    for row in rows.values():
        assert row["injected"] == 0, row
        assert row["lost"] <= per_returner * biggest, row


def test_graceful_restart_in_an_outage_loses_nothing(
    push_minion, proxies, fault_carbon, fault_influxd
):
    rows, cycles = outage_then_recovery(
        push_minion,
        proxies,
        push_minion.terminate,  # SIGTERM, as systemctl restart salt-minion
        "push: graceful restart in an outage",
        fault_carbon,
        fault_influxd,
    )
    # including those in memory at the exit, which the SIGKILL below loses
    assert_at_most_lost(rows, cycles, 0)


def test_sigkill_in_an_outage_loses_at_most_what_is_in_memory(
    push_minion, proxies, fault_carbon, fault_influxd
):
    def sigkill():
        sigkill_tree(push_minion.pid)
        push_minion.terminate()  # reaps it

    rows, cycles = outage_then_recovery(
        push_minion, proxies, sigkill, "push: SIGKILL in an outage", fault_carbon, fault_influxd
    )
    # the documented bound is max_pending + 1 collections per returner; behind a delivery that
    # waits for its 5 s timeout at a 1 s interval, about 1 + 5 are ever in memory
    assert_at_most_lost(rows, cycles, 2 + TIMEOUT)


def test_sigkill_with_spool_first_loses_nothing_in_memory(
    push_minion, proxies, fault_carbon, fault_influxd, cli
):
    config = [{"interval": 1}, {"push": {**PUSH, "spool_first": True}}]
    done = cli.run("beacons.modify", "vitals", beacon_data=config, minion_tgt=MINION).data
    assert done["result"] is True, done

    def sigkill():
        sigkill_tree(push_minion.pid)
        push_minion.terminate()

    rows, cycles = outage_then_recovery(
        push_minion,
        proxies,
        sigkill,
        "push: SIGKILL in an outage, spool_first",
        fault_carbon,
        fault_influxd,
    )
    # only a collection being written at the very instant of the kill could be lost
    assert_at_most_lost(rows, cycles, 1)

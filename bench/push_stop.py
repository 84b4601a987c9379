"""Push mode: collections lost when the minion stops during a backend outage, stopped the way
systemd stops it (SIGTERM to the main process of Salt's keep-alive parent and minion child,
``systemctl restart salt-minion``) and by SIGKILL of both, with and without ``spool_first``.

A real salt-master and salt-minion (``vitals_daemons.salt``: the minion runs as in production,
with its keep-alive parent) push every second to a real carbon-cache and influxd, each behind
a counting proxy (``tests/support/faults.py``). Each round: the proxies black-hole for
``--outage`` seconds (every delivery waits for its ``--timeout``, 5 s as by default, so about
that many collections wait in memory behind it),
the minion is stopped and started again, the outage ends, the spools drain; then the
collections the minion handed over (its debug log line for each) are counted against the
points that landed in each backend.

Run: .venv/bin/python bench/push_stop.py [--rounds 3] [--outage 8] [--timeout 5]
"""

import argparse
import collections
import os
import signal
import tempfile
import time
from pathlib import Path

import benchpath  # noqa: F401  (tests/support on sys.path)
import psutil

from support.faults import CountingCarbonProxy, CountingInfluxProxy
from support.spooljobs import BACKENDS, HandedCollections, Ledger, switch
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import poll, stop_all
from vitals_daemons.salt import SaltMaster, SaltMinion

STOPS = {
    "SIGTERM (systemctl restart)": (signal.SIGTERM, False),
    "SIGKILL": (signal.SIGKILL, False),
    "SIGKILL, spool_first": (signal.SIGKILL, True),
}


def minion_config(proxies, spool_first, timeout):
    push = {"returners": "carbon,influxdb", "spool_first": spool_first}
    return {
        "loop_interval": 1,
        "log_level_logfile": "debug",
        "carbon": {"host": "127.0.0.1", "port": proxies["carbon"].port, "timeout": timeout},
        "influxdb": {"url": proxies["influxdb"].url, "db": "faults", "timeout": timeout},
        "vitals": {"groups": ["cpu", "load", "mem", "swap", "system"]},
        "beacons": {"vitals": [{"interval": 1}, {"push": push}]},
    }


def spooled(minion):
    root = Path(minion.config["cachedir"]) / "vitals" / "spool"
    return sum(1 for p in root.glob("*/*.rec")) if root.is_dir() else 0


def stop(minion, signum):
    """SIGTERM to the main (keep-alive) process only, as systemd with ``KillMode=process``
    sends it; or SIGKILL to the minion process itself (the keep-alive parent's child, as the
    OOM killer would; its parent reaps it and exits with it). Then clean up."""
    if signum == signal.SIGKILL:
        (child,) = psutil.Process(minion.pid).children()
        child.kill()
    else:
        os.kill(minion.pid, signal.SIGTERM)
    minion._proc.wait(timeout=30)
    minion.stop()


def one_round(name, minion, proxies, carbon, influxd, outage):
    ledger = Ledger(name)
    handed = HandedCollections(minion.config["log_file"])
    poll(lambda: len(handed.since_start()) >= 2, 120, "the beacon pushing")
    switch(proxies, "blackhole")
    began = time.time()
    time.sleep(outage)
    stop(minion, STOPS[name][0])
    minion.start()
    time.sleep(2)
    switch(proxies, "up")
    ended = time.time()
    poll(lambda: spooled(minion) == 0, 120, "the spools replayed")
    time.sleep(2)
    cycles = handed.since_start()
    ledger.since = min(cycles)
    during = collections.Counter({ts: n for ts, n in cycles.items() if began <= ts <= ended})
    for backend in BACKENDS:
        ledger.handed_off(backend, during, spooled=True)
        ledger.handed_off(backend, cycles - during, spooled=False)
    rows = ledger.settle(minion.minion_id, carbon, influxd, proxies, timeout=30, until=max(cycles))
    return rows, len(during)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--outage", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=5.0, help="the returners' (default 5)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="push-stop-", dir=os.environ.get("TMPDIR")))
    carbon, influxd = CarbonCache(root / "carbon"), InfluxD(root / "influxd")
    master = SaltMaster(root / "master", {})
    daemons = [carbon, influxd, master]
    results = {name: [] for name in STOPS}
    try:
        for daemon in daemons:
            daemon.start()
        with CountingCarbonProxy(carbon.line_port) as cp, CountingInfluxProxy(influxd.url) as ip:
            proxies = {"carbon": cp, "influxdb": ip}
            for i, (name, (_signum, spool_first)) in enumerate(STOPS.items()):
                minion_id = f"push-stop-{i}"
                minion = SaltMinion(
                    root / minion_id,
                    master,
                    minion_id,
                    minion_config(proxies, spool_first, args.timeout),
                )
                daemons.append(minion)
                minion.start()
                for _ in range(args.rounds):
                    results[name].append(
                        one_round(name, minion, proxies, carbon, influxd, args.outage)
                    )
                stop(minion, signal.SIGTERM)
    finally:
        stop_all(daemons)
    print(
        f"\n{args.rounds} rounds each, {args.outage:g} s of black hole, returner timeout "
        f"{args.timeout:g} s, a collection a second:"
    )
    for name, rounds in results.items():
        for backend in BACKENDS:
            lost = [rows[backend]["lost"] for rows, _ in rounds]
            sent = [rows[backend]["sent"] for rows, _ in rounds]
            dup = [rows[backend]["duplicated"] for rows, _ in rounds]
            print(
                f"  {name:<28} {backend:<9} lost {sum(lost):4d} of {sum(sent):5d} points "
                f"(per round {lost}), received twice {sum(dup)}"
            )


if __name__ == "__main__":
    main()

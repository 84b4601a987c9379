"""The spool after many SIGKILLed jobs: its size on disk against ``spool_max_bytes``, and where
the points went once the backends are back.

Real ``salt-call vitals.push`` jobs of one minion deliver to a real carbon-cache and a real
influxd, each behind a counting proxy (``tests/support/faults.py``) that is down for the first
phase. ``--jobs`` jobs are SIGKILLed, a third at a random moment of their life and the others
the instant a temporary spool file appears (so, mid-write: the window from its creation to its
rename is a few milliseconds of fsync). After the last one, before anything else touches the
spool, the bytes on disk are compared with the bound; then ``vitals.spool`` (which recovers
what the dead writers left) and one job with the backends back, whose replay delivers it all.
The ledger then says, per backend, what the killed jobs had handed off (records and complete
temporary files), what landed, what was lost and what was received twice.

Run: .venv/bin/python bench/crash_spool.py [--jobs 50] [--max-bytes 16384]
"""

import argparse
import collections
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

import benchpath  # noqa: F401  (tests/support on sys.path)

from support.faults import CountingCarbonProxy, CountingInfluxProxy
from support.spooljobs import (
    BACKENDS,
    Ledger,
    SaltCallMinion,
    next_second,
    points_by_ts,
    read_record,
    switch,
)
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import stop_all


def on_disk(spool):
    """(bytes of every file, bytes of records, temporary files, their bytes)."""
    total = records = temps = temp_bytes = 0
    for path in spool.iterdir() if spool.is_dir() else ():
        size = path.stat().st_size
        total += size
        if path.name.startswith(".tmp-"):
            temps += 1
            temp_bytes += size
        elif path.suffix == ".rec":
            records += size
    return total, records, temps, temp_bytes


def killed_job(minion, spool, at_random, duration):
    """Start a job; SIGKILL it at a random moment, or as soon as ``spool`` has a temporary
    file. Returns what it was killed at."""
    before = set(spool.glob(".tmp-*")) if spool.is_dir() else set()
    next_second()  # each job collects in a second of its own: the backends key points by second
    job = subprocess.Popen(
        minion.command("vitals.push", "returners=carbon,influxdb"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + (random.uniform(0.3, 1.1) * duration if at_random else 30)
    while time.monotonic() < deadline and job.poll() is None:
        if not at_random and spool.is_dir() and set(spool.glob(".tmp-*")) - before:
            break
        time.sleep(0.0002)
    finished = job.poll() is not None
    job.kill()
    job.wait()
    return "finished" if finished else ("random moment" if at_random else "temp file seen")


def handed_off(minion, ledger):
    """Everything complete in the spools now: what the killed jobs handed off."""
    for backend in BACKENDS:
        spool = minion.spool(backend)
        for path in spool.iterdir() if spool.is_dir() else ():
            found = read_record(path) if path.suffix == ".rec" else None
            if found is not None:
                ledger.handed_off(backend, points_by_ts(backend, found[1]), spooled=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--max-bytes", type=int, default=16384)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    random.seed(args.seed)
    root = Path(tempfile.mkdtemp(prefix="crash-spool-", dir=os.environ.get("TMPDIR")))
    carbon, influxd = CarbonCache(root / "carbon"), InfluxD(root / "influxd")
    try:
        carbon.start()
        influxd.start()
        with (
            CountingCarbonProxy(carbon.line_port) as carbon_proxy,
            CountingInfluxProxy(influxd.url) as influx_proxy,
        ):
            proxies = {"carbon": carbon_proxy, "influxdb": influx_proxy}
            minion = SaltCallMinion(
                root / "minion", "crash-01", carbon_proxy.port, influx_proxy.url
            )
            for backend in BACKENDS:
                minion.config[backend]["spool_max_bytes"] = args.max_bytes
            minion.write_config()
            switch(proxies, "down")
            next_second()
            started = time.monotonic()
            # one whole job: its duration, and a spool to kill into
            minion.call("vitals.push", "returners=carbon,influxdb", retcodes=(1,))
            duration = time.monotonic() - started
            outcomes = collections.Counter()
            stale_seen = set()
            since = int(time.time())
            for i in range(args.jobs):
                at_random = i % 3 == 0
                spool = minion.spool(BACKENDS[i % 2])
                outcomes[killed_job(minion, spool, at_random, duration)] += 1
                stale_seen.update(p.name for b in BACKENDS for p in minion.spool(b).glob(".tmp-*"))
            sizes = {b: on_disk(minion.spool(b)) for b in BACKENDS}
            status = minion.call("vitals.spool")  # recovers what dead writers left
            after_status = {b: on_disk(minion.spool(b)) for b in BACKENDS}
            ledger = Ledger("after SIGKILLed jobs")
            ledger.since = since
            handed_off(minion, ledger)  # every record, recovered ones included
            switch(proxies, "up")
            receipt = ledger.receipt(minion.push())
            rows = ledger.settle(minion.id, carbon, influxd, proxies)
            final = minion.call("vitals.spool")
    finally:
        stop_all([carbon, influxd])
    print(f"\n{args.jobs} jobs SIGKILLed (job alone: {duration:.1f} s): {dict(outcomes)}")
    print(f"temporary files left by a killed job (seen right after a kill): {len(stale_seen)}")
    print(f"spool_max_bytes {args.max_bytes}; on disk after the last kill, before anything else:")
    for backend in BACKENDS:
        total, records, temps, temp_bytes = sizes[backend]
        print(
            f"  {backend:<9} {total:7d} bytes = records {records:6d} "
            f"({records / args.max_bytes:.2f}x the bound) + {temps} temporary file(s) "
            f"{temp_bytes} bytes; all files {total / args.max_bytes:.2f}x the bound"
        )
    print("vitals.spool (recovers, removes, counts):")
    for name, spool in status.items():
        keys = ("records", "temp_files", "recovered_records", "torn_records", "dropped_records")
        print(f"  {name:<19} " + ", ".join(f"{k} {spool[k]}" for k in keys))
    for backend in BACKENDS:
        total, records, temps, _ = after_status[backend]
        ratio = total / args.max_bytes
        print(f"  {backend:<9} then {total} bytes on disk ({ratio:.2f}x), {temps} temporary")
    print(f"one job with the backends back: {receipt['carbon']}, {receipt['influxdb']}")
    for backend, row in rows.items():
        print(
            f"  {backend:<9} handed off {row['sent']}, landed {row['landed']}, lost {row['lost']},"
            f" injected {row['injected']}, received twice {row['duplicated']}"
        )
    print(f"spools afterwards: {[(s['records'], s['temp_files']) for s in final.values()]}")


if __name__ == "__main__":
    main()

"""In-process cost of one ``vitals.current`` collection vs the bare psutil calls it makes (P1).

Goal: at most 1.5x. The two are timed alternately, round after round, so that load from other
processes on a shared machine hits both alike; the medians and their ratio are printed, all
measured in this run (compare the ratio, not the absolute numbers). The rate state goes where
a minion keeps it (a tmpfs such as /dev/shm when writable); ``--cachedir`` forces the on-disk
fallback.

Run: .venv/bin/python bench/collect_cost.py [--rounds 300] [--cachedir]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time

import psutil

from salt_ext.core.collect import rates
from salt_ext.core.collect.collection import collect_vitals, collect_window, validate_options


def bare_psutil(skip_fstypes):
    """The same readings through psutil and os, and nothing else: the calls one collection
    makes, with ``virtual_memory``, ``swap_memory`` and ``cpu_freq`` standing for the
    /proc/meminfo, /proc/vmstat and cpufreq reads it makes itself (psutil's meaning of those
    moved between versions, docs/metrics.md)."""
    psutil.cpu_count(logical=True)
    psutil.cpu_times()
    psutil.cpu_times(percpu=True)
    psutil.cpu_freq()
    os.getloadavg()
    psutil.virtual_memory()
    psutil.swap_memory()
    for part in psutil.disk_partitions(all=True):
        if part.fstype not in skip_fstypes:
            os.statvfs(part.mountpoint)
    psutil.disk_io_counters(perdisk=True)
    psutil.net_io_counters(pernic=True)
    if hasattr(psutil, "sensors_temperatures"):
        psutil.sensors_temperatures()
    psutil.boot_time()
    psutil.pids()


def vitals_current(options, state_dir):
    """What the ``vitals.current`` execution function does once its options are parsed."""
    return collect_vitals(options, state_dir)


def timed(func, *args):
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--cachedir", action="store_true", help="rate state on disk, not tmpfs")
    args = parser.parse_args()
    if args.cachedir:
        rates.VOLATILE_ROOTS = ()
    options = validate_options({"min_rate_interval": 0})
    skip_fstypes = set(options["skip_fstypes"])
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as state_dir:
        vitals_current(options, state_dir)  # first run samples for 0.5 s: not what we measure
        where = rates.RateStore(state_dir).state_dir
        bare, full = [], []
        for _ in range(args.rounds):
            bare.append(timed(bare_psutil, skip_fstypes))
            full.append(timed(vitals_current, options, state_dir))
        points = len(collect_window(options, state_dir)[1])
        if where != state_dir:
            shutil.rmtree(where, ignore_errors=True)
    bare_ms, full_ms = statistics.median(bare) * 1e3, statistics.median(full) * 1e3
    print(f"rate state in      : {where}")
    print(f"bare psutil calls  : {bare_ms:8.3f} ms (median of {args.rounds}, interleaved)")
    print(f"vitals.current     : {full_ms:8.3f} ms (rates from the state file, {points} values)")
    print(f"ratio              : {full_ms / bare_ms:8.2f}x   (goal <= 1.5x)")


if __name__ == "__main__":
    main()

"""In-process cost of one ``vitals.current`` collection vs the bare psutil calls it makes.

Prints the median time of each and their ratio, measured in the same run (the machines are
noisy: compare the ratio, not the absolute numbers). Run: .venv/bin/python bench/collect_cost.py
"""

import os
import statistics
import tempfile
import time

import benchpath  # noqa: F401  (before salt_ext: see bench/benchpath.py)
import psutil

from salt_ext.core.collect import collect_window, validate_options
from salt_ext.core.samples import to_vitals_dict

ROUNDS = 200


def bare_psutil():
    psutil.cpu_times()
    psutil.cpu_times(percpu=True)
    psutil.cpu_freq()
    os.getloadavg()
    psutil.virtual_memory()
    psutil.swap_memory()
    for part in psutil.disk_partitions(all=True):
        if part.fstype in ("ext4", "xfs", "btrfs", "vfat"):
            os.statvfs(part.mountpoint)
    psutil.disk_io_counters(perdisk=True)
    psutil.net_io_counters(pernic=True)
    if hasattr(psutil, "sensors_temperatures"):
        psutil.sensors_temperatures()
    psutil.boot_time()
    psutil.pids()


def vitals_current(options, state_dir):
    ts, samples = collect_window(options, state_dir)
    return to_vitals_dict(samples, ts)


def median_seconds(func, *args):
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        func(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    options = validate_options({"min_rate_interval": 0})
    with tempfile.TemporaryDirectory() as state_dir:
        vitals_current(options, state_dir)  # first run samples for 0.5 s: not what we measure
        bare = median_seconds(bare_psutil)
        full = median_seconds(vitals_current, options, state_dir)
        points = len(collect_window(options, state_dir)[1])
    print(f"bare psutil calls : {bare * 1e3:8.3f} ms (median of {ROUNDS})")
    print(f"vitals.current    : {full * 1e3:8.3f} ms (rates from the state file, {points} values)")
    print(f"ratio             : {full / bare:8.2f}x")


if __name__ == "__main__":
    main()

"""Cost of one ``vitals.current`` as Salt's loader calls it vs the bare reads it makes (P1).

Goal: at most 1.5x. Four things are timed alternately, round after round, so that load from
other processes on a shared machine hits them alike; medians and ratios are printed, all
measured in this run (compare the ratios, not the absolute numbers):

* **vitals.current through the loader**: the execution function from the installed wheel,
  loaded by Salt's ``LazyLoader`` (``salt.loader.minion_mods``) of a minion config with real
  grains and logging as on a minion, called through the loader as a job calls it. It reads
  its ``vitals:`` options with the real ``config.get`` and validates them, every call;
* **collect_vitals (core)**: the same collection once the options are parsed: what the
  loader adds is the difference;
* **bare psutil**: the calls the collection makes through psutil and ``os``, and nothing else;
  ``virtual_memory``, ``swap_memory`` and ``cpu_freq`` stand for the ``/proc/meminfo``,
  ``/proc/vmstat`` and cpufreq reads the collection makes itself (what psutil costs for the
  same data: the yardstick of the goal);
* **bare kernel reads**: the same psutil calls, but the collection's own kernel files
  (meminfo, vmstat, cpufreq or ``/proc/cpuinfo``, thermal zones) read raw, unparsed, in place
  of those three psutil calls: the least any collection of the same data can cost, so parsing
  counts as ours there (a stricter yardstick, printed for information).

Each call is timed by the wall clock and by this thread's CPU time (user + system): on a
machine shared with other work the wall-clock medians carry the time spent waiting for a core,
the CPU times do not, so their ratio moves less from run to run. On a quiet machine the two agree.

The rate state goes where a minion keeps it (a tmpfs such as /dev/shm when writable);
``--cachedir`` forces the on-disk fallback.

Run: .venv/bin/python bench/collect_cost.py [--rounds 300] [--cachedir]
"""

import argparse
import inspect
import os
import shutil
import statistics
import tempfile
import time

import benchpath  # ROOT: the checkout
import psutil
from minion_env import minion_opts

import salt_ext
from salt_ext.core.collect import rates, readings
from salt_ext.core.collect.collection import collect_vitals, collect_window, validate_options

ROOT = benchpath.ROOT

# As a minion would configure it (the module's documented example, no group left out, so that
# both sides read the same things); min_rate_interval 0: every round rates against the last.
VITALS_CONFIG = {
    "exclude_mounts": ["/snap/*"],
    "exclude_interfaces": ["lo", "docker*", "veth*"],
    "min_rate_interval": 0,
}


def psutil_calls(skip_fstypes):
    """The psutil and os calls of one collection other than memory, swap and frequency."""
    psutil.cpu_count(logical=True)
    psutil.cpu_times()
    psutil.cpu_times(percpu=True)
    os.getloadavg()
    for part in psutil.disk_partitions(all=True):
        if part.fstype not in skip_fstypes:
            os.statvfs(part.mountpoint)
    psutil.disk_io_counters(perdisk=True)
    psutil.net_io_counters(pernic=True)
    if hasattr(psutil, "sensors_temperatures"):
        psutil.sensors_temperatures()
    psutil.boot_time()
    psutil.pids()


def bare_psutil(skip_fstypes, _files):
    """:func:`psutil_calls`, and psutil's calls for the memory, swap and frequency data."""
    psutil_calls(skip_fstypes)
    psutil.cpu_freq()
    psutil.virtual_memory()
    psutil.swap_memory()


def bare_kernel(skip_fstypes, files):
    """:func:`psutil_calls`, and the kernel files the collection reads itself, raw."""
    psutil_calls(skip_fstypes)
    for path in files:
        try:
            with open(path, "rb", buffering=0) as handle:
                handle.read()
        except OSError:
            pass


def kernel_files():
    """The files the collection reads itself on this machine (as ``core/collect/readings``
    finds them: cpufreq policies, else /proc/cpuinfo; every thermal zone)."""
    files = ["/proc/meminfo", "/proc/vmstat"]
    policies = readings._cpufreq_policies("/")
    if policies:
        files += [os.path.join(p, n) for p, _ in policies for n in readings._CPUFREQ_FILES]
    else:
        files.append("/proc/cpuinfo")
    for path, _ in readings._thermal_zone_paths("/"):
        files += [f"{path}/type", f"{path}/temp"]
    return files


def timed(func, *args):
    """(wall-clock seconds, CPU seconds of this thread) of one call."""
    start, start_cpu = time.perf_counter(), time.thread_time()
    func(*args)
    return time.perf_counter() - start, time.thread_time() - start_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--cachedir", action="store_true", help="rate state on disk, not tmpfs")
    args = parser.parse_args()
    if args.cachedir:
        rates.VOLATILE_ROOTS = ()
    import salt.loader

    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as cachedir:
        opts = minion_opts(cachedir, vitals=VITALS_CONFIG)
        loaded = salt.loader.minion_mods(opts)["vitals.current"]
        source = inspect.getfile(loaded.func)
        installed = os.path.dirname(salt_ext.__file__)  # the wheel's, or main's on PYTHONPATH
        if not source.startswith(installed) or installed == os.path.join(ROOT, "salt_ext"):
            raise SystemExit(f"loaded {source}, not an installed salt_ext")
        state_dir = os.path.join(cachedir, "vitals")  # the one the loaded module uses
        options = validate_options(VITALS_CONFIG)
        skip, files = set(options["skip_fstypes"]), kernel_files()
        loaded()  # the first run samples for 0.5 s: not what we measure
        where = rates.RateStore(state_dir).state_dir
        sides = {
            "bare psutil": (bare_psutil, skip, files),
            "bare kernel reads": (bare_kernel, skip, files),
            "collect_vitals (core)": (collect_vitals, options, state_dir),
            "vitals.current via loader": (loaded,),
        }
        times = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, (func, *func_args) in sides.items():
                times[name].append(timed(func, *func_args))
        points = len(collect_window(options, state_dir)[1])
        if where != state_dir:
            shutil.rmtree(where, ignore_errors=True)
    print(f"rate state in              : {where}")
    print(f"kernel files read raw      : {len(files)} ({', '.join(files[:3])}...)")
    print(f"values per collection      : {points}")
    print(f"median of {args.rounds} interleaved rounds     wall clock    CPU time (this thread)")
    ms = {}
    for name in sides:
        ms[name] = [statistics.median(t[i] for t in times[name]) * 1e3 for i in (0, 1)]
        print(f"{name:<27}: {ms[name][0]:8.3f} ms {ms[name][1]:11.3f} ms")
    loader, core = ms["vitals.current via loader"], ms["collect_vitals (core)"]
    for name, note in (("bare psutil", "goal <= 1.5x"), ("bare kernel reads", "information")):
        ratios = [loader[i] / ms[name][i] for i in (0, 1)]
        print(f"loader / {name:<18}: {ratios[0]:8.2f}x {ratios[1]:12.2f}x   ({note})")
    ratios = [core[i] / ms["bare psutil"][i] for i in (0, 1)]
    print(f"core / bare psutil         : {ratios[0]:8.2f}x {ratios[1]:12.2f}x")
    adds = [(loader[i] - core[i]) * 1e3 for i in (0, 1)]
    print(f"the loader call adds       : {adds[0]:8.1f} us {adds[1]:10.1f} us (options included)")


if __name__ == "__main__":
    main()

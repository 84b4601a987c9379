"""Minion CPU per ``vitals.push`` cycle vs a ``test.ping`` job, and minion RSS over 100 cycles (P4).

Goals: CPU per push cycle at most 1.05x a ``test.ping`` job; minion RSS flat over 100 cycles.

One real minion (``bench/fleet.py``). Jobs run one at a time (``LocalClient.cmd``) in
batches that alternate between ``test.ping``, ``vitals.current`` (collection, nothing sent)
and ``vitals.push returners=carbon`` (collection + delivery), so load from other processes hits
all alike. CPU is that of the minion's whole process tree: user + system of every live process
plus what it reaped (each job is a forked process the minion reaps). The three columns split a
push into the job itself (fork, loader, return), our collection, and our delivery.

In-job CPU: the same three functions called through ``bench/jobcpu`` (a bench-only module in
the minion's ``module_dirs``), which measures inside the forked job the CPU of loading the
function's module and calling it: the part of a job that differs between the three, without
the fork, decoding and return every job shares (and without the noise of the whole tree).

RSS: ``--rss-cycles`` jobs of ``test.ping``, then as many of ``vitals.push``, one after the
other; every process alive through a phase and the whole tree are printed for each, so growth
that Salt shows for ``test.ping`` too is told apart from ours.

Run: .venv/bin/python bench/push_cpu.py [--batch 20] [--batches 5] [--rss-cycles 100]
"""

import argparse
import contextlib
import os
import statistics
import time

import benchpath
import psutil
from fleet import Fleet

JOBS = {
    "test.ping": ("test.ping", {}),
    "vitals.current": ("vitals.current", {}),
    "vitals.push": ("vitals.push", {"returners": "carbon"}),
}
RSS_JOBS = ("test.ping", "vitals.push")


def tree_cpu(fleet):
    total = 0.0
    for proc in fleet.minion_processes():
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def tree_rss(fleet):
    """``{pid: (process title, RSS bytes)}`` of the minion's process tree."""
    found = {}
    for proc in fleet.minion_processes():
        with contextlib.suppress(psutil.Error):
            title = f"pid {proc.pid} {proc.name()} {' '.join(proc.cmdline()[1:])}"
            found[proc.pid] = (title[:41], proc.memory_info().rss)
    return found


def rss_drift(fleet, name, cycles):
    """RSS in MiB over ``cycles`` jobs of ``name`` run one after another: for each process
    alive from the first job to the last, and for the whole tree, ``(title, first tenth mean,
    last tenth mean, max)``."""
    fun, kwarg = JOBS[name]
    samples = []
    for _ in range(cycles):
        fleet.client.cmd("bench-01", fun, kwarg=kwarg, timeout=30)
        samples.append(tree_rss(fleet))
    tenth = max(1, cycles // 10)
    steady = set(samples[0]).intersection(*samples[1:])
    series = {pid: (samples[0][pid][0], [s[pid][1] for s in samples]) for pid in sorted(steady)}
    series["tree"] = ("whole tree", [sum(rss for _, rss in s.values()) for s in samples])
    out = []
    for title, values in series.values():
        mib = [value / 2**20 for value in values]
        out.append((title, sum(mib[:tenth]) / tenth, sum(mib[-tenth:]) / tenth, max(mib)))
    return out


def run_batch(fleet, name, size):
    fun, kwarg = JOBS[name]
    time.sleep(1.0)  # earlier jobs reaped
    before = tree_cpu(fleet)
    for _ in range(size):
        ret = fleet.client.cmd("bench-01", fun, kwarg=kwarg, timeout=30)
        if "bench-01" not in ret:
            raise RuntimeError(f"{fun}: no return")
        time.sleep(0.6)  # >= min_rate_interval: every push uses the stored rate state
    time.sleep(1.0)
    return (tree_cpu(fleet) - before) / size


def in_job_cpu(fleet, rounds):
    """Median in-job CPU (ms) of each job, called alternately ``rounds`` times."""
    found = {name: [] for name in JOBS}
    for _ in range(rounds):
        for name, (fun, kwarg) in JOBS.items():
            ret = fleet.client.cmd("bench-01", "jobcpu.run", kwarg={"fun": fun, **kwarg})
            if not isinstance(ret.get("bench-01"), float):
                raise RuntimeError(f"jobcpu.run {fun}: {ret}")
            found[name].append(ret["bench-01"])
            time.sleep(0.6)
    return {name: statistics.median(values) for name, values in found.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--rss-cycles", type=int, default=100)
    parser.add_argument("--in-job-rounds", type=int, default=15)
    args = parser.parse_args()
    per_job = {name: [] for name in JOBS}
    module_dirs = [os.path.join(benchpath.ROOT, "bench", "jobcpu")]
    with Fleet(1, minion_config={"module_dirs": module_dirs}) as fleet:
        try:
            run_batch(fleet, "vitals.push", 2)  # warm-up: whisper files, rate state
            for _ in range(args.batches):
                for name in JOBS:
                    per_job[name].append(run_batch(fleet, name, args.batch))
            in_job = in_job_cpu(fleet, args.in_job_rounds)
            # test.ping first: whatever Salt itself grows by over as many jobs shows beside ours
            rss = {name: rss_drift(fleet, name, args.rss_cycles) for name in RSS_JOBS}
        finally:
            fleet.stop()
            fleet.remove()
    print(f"minion CPU per job (user+system, whole tree), {args.batches} x {args.batch} each:")
    ping = sum(per_job["test.ping"]) / len(per_job["test.ping"])
    for name, values in per_job.items():
        mean = sum(values) / len(values)
        print(f"  {name:<16}{mean * 1e3:8.1f} ms  {mean / ping:6.2f}x test.ping")
    push = sum(per_job["vitals.push"]) / len(per_job["vitals.push"])
    paired = sorted(p / q for p, q in zip(per_job["vitals.push"], per_job["test.ping"]))
    print(
        f"ratio vitals.push / test.ping: {push / ping:.2f}x of the means, "
        f"{statistics.median(paired):.2f}x median of the {len(paired)} paired batches "
        "(goal <= 1.05x)"
    )
    print(f"CPU inside the job (module load + call), median of {args.in_job_rounds} each:")
    for name, ms in in_job.items():
        print(f"  {name:<16}{ms:8.2f} ms  {ms - in_job['test.ping']:+6.2f} ms over test.ping")
    print(f"minion RSS over {args.rss_cycles} jobs of each (mean of the first / last tenth):")
    for name, parts in rss.items():
        for title, first, last, top in parts:
            print(
                f"  {name:<12} {title:<42}{first:7.1f} -> {last:7.1f} MiB "
                f"({last - first:+.1f}, max {top:.1f})"
            )


if __name__ == "__main__":
    main()

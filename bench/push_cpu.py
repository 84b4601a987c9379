"""Minion CPU per ``vitals.push`` cycle vs a ``test.ping`` job, and minion RSS over 100 cycles (P4).

Goals: CPU per push cycle at most 1.05x a ``test.ping`` job; minion RSS flat over 100 cycles.

One real minion (``bench/fleet.py``). Jobs run one at a time (``LocalClient.cmd``) in
batches that alternate between ``test.ping``, ``vitals.current`` (collection, nothing sent)
and ``vitals.push returners=carbon`` (collection + delivery), so load from other processes hits
all alike. CPU is that of the minion's whole process tree: user + system of every live process
plus what it reaped (each job is a forked process the minion reaps). The three columns split a
push into the job itself (fork, loader, return), our collection, and our delivery.

Run: .venv/bin/python bench/push_cpu.py [--batch 20] [--batches 5] [--rss-cycles 100]
"""

import argparse
import contextlib
import statistics
import time

import benchpath  # noqa: F401  (before salt_ext: see bench/benchpath.py)
import psutil
from fleet import Fleet

JOBS = {
    "test.ping": ("test.ping", {}),
    "vitals.current": ("vitals.current", {}),
    "vitals.push": ("vitals.push", {"returners": "carbon"}),
}


def tree_cpu(fleet):
    total = 0.0
    for proc in fleet.minion_processes():
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def tree_rss(fleet):
    total = 0
    for proc in fleet.minion_processes():
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--rss-cycles", type=int, default=100)
    args = parser.parse_args()
    per_job = {name: [] for name in JOBS}
    with Fleet(1) as fleet:
        try:
            run_batch(fleet, "vitals.push", 2)  # warm-up: whisper files, rate state
            for _ in range(args.batches):
                for name in JOBS:
                    per_job[name].append(run_batch(fleet, name, args.batch))
            rss = []
            for _ in range(args.rss_cycles):
                fleet.client.cmd("bench-01", "vitals.push", kwarg={"returners": "carbon"})
                rss.append(tree_rss(fleet))
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
    mib = [r / 2**20 for r in rss]
    tenth = max(1, len(mib) // 10)
    first, last = sum(mib[:tenth]) / tenth, sum(mib[-tenth:]) / tenth
    print(
        f"minion RSS over {len(mib)} push cycles: first tenth {first:.1f} MiB, last tenth "
        f"{last:.1f} MiB, max {max(mib):.1f} MiB ({last - first:+.1f} MiB)"
    )


if __name__ == "__main__":
    main()

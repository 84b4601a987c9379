"""``vitals.pollpush`` at 1 and at N real minions (P3).

Goals: the ``vitals.pollpush`` runner call's wall time for 20 minions at most 1.5x the time for
1 (the runner publishes asynchronously and returns at once with the jid: this is what a
``salt-run vitals.pollpush`` or a master schedule waits for); and from the publish to every
point of the cycle being queryable in carbon (whisper) and in influxd at most 5 s.

The runner call is timed three times per cycle: with the minions running (they fork their
jobs the moment the master publishes, so on a machine with few cores whatever the call still
does after the publication competes with N job processes), and with every minion process
SIGSTOPped during the call (the publication waits in the sockets; SIGCONT after it): the master
side and the runner alone. And a third time with the master, its children and the bench on core
0, the minions (so their jobs), carbon-cache and influxd on the other cores
(``Fleet.master_on_own_core``): the master host apart from the nodes and backends, as deployed,
with the minions running and returning while the call finishes. The call is also split at the
master's reply to the publication: before it (runner client and loader, ``LocalClient``, the
publish request) and after it (Salt's ``RunnerClient`` storing the runner job and firing its
return event, our teardown).

Also printed, with its ratio: publish -> every receipt back in the master's job cache. On a
machine with few cores that one measures the box running N forked jobs (and the master, the
carbon-cache and influxd) on those cores, not the fan-out: each real node runs its job on its
own CPU.

One fleet per size (``bench/fleet.py``: a real salt-master, the minions, a carbon-cache and an
influxd on loopback), ``returners=carbon,influxdb``; a warm-up cycle first (it creates the
whisper files and the rate state), then ``--cycles`` timed cycles, each a running, a stopped and
an own-core call 10 s apart like a tight schedule. Medians are printed, and the ratios of the
two sizes measured in this run.

Run: .venv/bin/python bench/pollpush_scale.py [--minions 20] [--cycles 5]
"""

import argparse
import contextlib
import os
import statistics
import time

import salt.client
from fleet import Fleet, wait_landed

REPLIED = []  # monotonic times at which the master answered a publication in this process


def _record_replies():
    run_job = salt.client.LocalClient.run_job

    def timed_run_job(self, *args, **kwargs):
        try:
            return run_job(self, *args, **kwargs)
        finally:
            REPLIED.append(time.monotonic())

    salt.client.LocalClient.run_job = timed_run_job


MODES = {
    "running": lambda fleet: contextlib.nullcontext(),
    "stopped": lambda fleet: fleet.minions_stopped(),
    "own core": lambda fleet: fleet.master_on_own_core(),
}


def call(fleet, mode):
    """(jid, seconds of the runner call, of which after the master's reply to the publish)."""
    REPLIED.clear()
    with MODES[mode](fleet):
        start = time.monotonic()
        jid = fleet.pollpush(returners="carbon,influxdb")
        end = time.monotonic()
    return jid, start, end - start, end - REPLIED[-1]


def delivered(fleet, jid, cycle):
    receipts = fleet.wait_for_receipts(jid)
    bad = {m: r for m, r in receipts.items() if r.get("influxdb") != "sent"}
    bad.update({m: r for m, r in receipts.items() if r.get("carbon") != "sent"})
    if bad:
        raise RuntimeError(f"cycle {cycle}: not delivered: {bad}")
    return receipts


def measure(size, cycles, spacing):
    keys = ("call", "after", "call_stopped", "after_stopped", "call_own", "after_own")
    keys += ("receipts", "landed")
    figures, points = {key: [] for key in keys}, 0
    with Fleet(size) as fleet:
        try:
            for cycle in range(cycles + 1):
                jid, start, called, after = call(fleet, "running")
                receipts = delivered(fleet, jid, cycle)
                back = time.monotonic() - start
                landed = back + wait_landed(fleet, receipts)
                time.sleep(max(0.0, spacing - (time.monotonic() - start)))
                if not cycle:  # the first cycle creates files and state: not what we measure
                    continue
                points = sum(r["points"] for r in receipts.values())
                row = [called, after]
                for mode in ("stopped", "own core"):
                    jid, start, *timed = call(fleet, mode)
                    delivered(fleet, jid, cycle)
                    time.sleep(max(0.0, spacing - (time.monotonic() - start)))
                    row += timed
                row += [back, landed]
                for key, value in zip(keys, row):
                    figures[key].append(value)
        finally:
            fleet.stop()
            fleet.remove()
    medians = {key: statistics.median(values) for key, values in figures.items()}
    return medians, points


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minions", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--spacing", type=float, default=10.0, help="seconds between calls")
    args = parser.parse_args()
    _record_replies()
    results = {size: measure(size, args.cycles, args.spacing) for size in (1, args.minions)}
    print(f"median of {args.cycles} cycles, returners carbon,influxdb, {os.cpu_count()} cores")
    print(
        f"{'minions':>8}{'points/cycle':>14}{'runner call (after reply)':>28}"
        f"{'minions stopped (after reply)':>32}{'master on own core (after)':>29}"
        f"{'all receipts':>14}{'all points queryable':>22}"
    )
    for size, (m, points) in results.items():
        print(
            f"{size:>8}{points:>14}{m['call']:>17.3f} s ({m['after']:.3f} s)"
            f"{m['call_stopped']:>21.3f} s ({m['after_stopped']:.3f} s)"
            f"{m['call_own']:>18.3f} s ({m['after_own']:.3f} s)"
            f"{m['receipts']:>12.2f} s{m['landed']:>20.2f} s"
        )
    one, many = results[1][0], results[args.minions][0]
    n = args.minions
    print(
        f"ratio {n} vs 1, vitals.pollpush runner call, minions running: "
        f"{many['call'] / one['call']:.2f}x   (goal <= 1.5x)"
    )
    print(
        f"ratio {n} vs 1, vitals.pollpush runner call, minions stopped: "
        f"{many['call_stopped'] / one['call_stopped']:.2f}x   (the master and the runner alone)"
    )
    print(
        f"ratio {n} vs 1, vitals.pollpush runner call, master on its own core: "
        f"{many['call_own'] / one['call_own']:.2f}x   (the minions' jobs and the backends on"
        f" the other {os.cpu_count() - 1} core(s), as on separate hosts)"
    )
    print(
        f"ratio {n} vs 1, publish -> all receipts back: {many['receipts'] / one['receipts']:.2f}x"
        f"   (the {n} forked jobs share this machine's {os.cpu_count()} cores: not fan-out)"
    )
    print(f"publish -> every point queryable, {n} minions: {many['landed']:.2f} s (goal <= 5 s)")


if __name__ == "__main__":
    main()

"""``vitals.pollpush`` at 1 and at N real minions (P3).

Goals: the ``vitals.pollpush`` runner call's wall time for 20 minions at most 1.5x the time for
1 (the runner publishes asynchronously and returns at once with the jid: this is what a
``salt-run vitals.pollpush`` or a master schedule waits for); and from the publish to every
point of the cycle being queryable in carbon (whisper) and in influxd at most 5 s.

Also printed, with its ratio: publish -> every receipt back in the master's job cache. On a
machine with few cores that one measures the box running N forked jobs (and the master, the
carbon-cache and influxd) on those cores, not the fan-out: each real node runs its job on its
own CPU.

One fleet per size (``bench/fleet.py``: a real salt-master, the minions, a carbon-cache and an
influxd on loopback), ``returners=carbon,influxdb``; a warm-up cycle first (it creates the
whisper files and the rate state), then ``--cycles`` timed cycles, 10 s apart like a tight
schedule. Medians are printed, and the ratio of the two sizes measured in this run.

Run: .venv/bin/python bench/pollpush_scale.py [--minions 20] [--cycles 5]
"""

import argparse
import os
import statistics
import time

import benchpath  # noqa: F401  (before salt_ext: see bench/benchpath.py)
from fleet import Fleet, wait_landed


def measure(size, cycles, spacing):
    call_s, receipts_s, landed_s, points = [], [], [], 0
    with Fleet(size) as fleet:
        try:
            for cycle in range(cycles + 1):
                start = time.monotonic()
                jid = fleet.pollpush(returners="carbon,influxdb")
                called = time.monotonic() - start
                receipts = fleet.wait_for_receipts(jid)
                back = time.monotonic() - start
                bad = {m: r for m, r in receipts.items() if r.get("influxdb") != "sent"}
                bad.update({m: r for m, r in receipts.items() if r.get("carbon") != "sent"})
                if bad:
                    raise RuntimeError(f"cycle {cycle}: not delivered: {bad}")
                landed = back + wait_landed(fleet, receipts)
                if cycle:  # the first cycle creates files and state: not what we measure
                    call_s.append(called)
                    receipts_s.append(back)
                    landed_s.append(landed)
                    points = sum(r["points"] for r in receipts.values())
                time.sleep(max(0.0, spacing - (time.monotonic() - start)))
        finally:
            fleet.stop()
            fleet.remove()
    medians = [statistics.median(values) for values in (call_s, receipts_s, landed_s)]
    return (*medians, points)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minions", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--spacing", type=float, default=10.0, help="seconds between cycles")
    args = parser.parse_args()
    results = {size: measure(size, args.cycles, args.spacing) for size in (1, args.minions)}
    print(f"median of {args.cycles} cycles, returners carbon,influxdb")
    print(
        f"{'minions':>8}{'points/cycle':>14}{'runner call':>13}{'all receipts':>14}"
        f"{'all points queryable':>22}"
    )
    for size, (called, back, landed, points) in results.items():
        print(f"{size:>8}{points:>14}{called:>11.3f} s{back:>12.2f} s{landed:>20.2f} s")
    one, many = results[1], results[args.minions]
    print(
        f"ratio {args.minions} vs 1, vitals.pollpush runner call: {many[0] / one[0]:.2f}x   "
        "(goal <= 1.5x)"
    )
    print(
        f"ratio {args.minions} vs 1, publish -> all receipts back: {many[1] / one[1]:.2f}x   "
        f"(the {args.minions} forked jobs share this machine's {os.cpu_count()} cores: "
        "not fan-out)"
    )
    print(
        f"publish -> every point queryable, {args.minions} minions: {many[2]:.2f} s (goal <= 5 s)"
    )


if __name__ == "__main__":
    main()

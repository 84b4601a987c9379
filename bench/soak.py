"""Soak: 20 real minions, pollpush every 10 s for 10 minutes into carbon and influxd at once,
with both backends stopped for 3 minutes in the middle. Goal: 0 points lost, spools empty.

Expected points = the sum over every cycle and minion of the ``points`` its receipt reports
(minions x cycles x metrics); each backend is then counted back (every whisper value of every
minion between the first and the last cycle; every InfluxDB field value per ``host``). The
points of the outage reach the backends through the minions' spools, replayed by the first
cycles after the restart. Outside the default test suite: it loads a 2-core machine for ~12
minutes.

Run: .venv/bin/python bench/soak.py [--minions 20] [--minutes 10] [--interval 10]
                                    [--outage-start 3.5] [--outage-minutes 3]
"""

import argparse
import collections
import time

from fleet import Fleet


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--outage-start", type=float, default=3.5, help="minutes into the run")
    parser.add_argument("--outage-minutes", type=float, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the fleet directory")
    args = parser.parse_args()
    cycles = int(args.minutes * 60 / args.interval)
    outage = (args.outage_start * 60, (args.outage_start + args.outage_minutes) * 60)
    jids, statuses = [], collections.Counter()
    with Fleet(args.minions) as fleet:
        try:
            print(f"{args.minions} minions up under {fleet.root}; {cycles} cycles", flush=True)
            began = time.monotonic()
            down = False
            for cycle in range(cycles):
                due = began + cycle * args.interval
                time.sleep(max(0.0, due - time.monotonic()))
                elapsed = time.monotonic() - began
                if not down and outage[0] <= elapsed < outage[1]:
                    fleet.carbon.stop()
                    fleet.influxd.stop()
                    down = True
                    print(f"{elapsed:6.0f} s  backends stopped", flush=True)
                elif down and elapsed >= outage[1]:
                    fleet.carbon.start()
                    fleet.influxd.start()
                    down = False
                    print(f"{elapsed:6.0f} s  backends started again", flush=True)
                jids.append(fleet.pollpush(returners="carbon,influxdb"))
            receipts = [fleet.wait_for_receipts(jid, timeout=120) for jid in jids]
            time.sleep(15)  # carbon's writer and influxd's WAL catch up
            spooled = fleet.spooled()
            expected = collections.Counter()
            first_ts, last_ts = None, None
            for per_minion in receipts:
                for minion, receipt in per_minion.items():
                    expected[minion] += receipt["points"]
                    statuses[(receipt.get("carbon"), receipt.get("influxdb"))] += 1
                    ts = receipt["ts"]
                    first_ts = ts if first_ts is None else min(first_ts, ts)
                    last_ts = ts if last_ts is None else max(last_ts, ts)
            influx = fleet.influx_points(first_ts, last_ts)
            carbon = {m: fleet.carbon_points_between(m, first_ts, last_ts) for m in fleet.ids}
            whisper_bytes = sum(p.stat().st_size for p in fleet.carbon.whisper_dir.rglob("*.wsp"))
            influx_bytes = sum(
                p.stat().st_size
                for d in ("data", "wal")
                for p in (fleet.influxd.root / d).rglob("*")
                if p.is_file()
            )
        finally:
            fleet.stop()
            if not args.keep:
                fleet.remove()
    total = sum(expected.values())
    metrics = total / (len(expected) * cycles) if expected else 0
    print(f"\nsoak: {args.minions} minions x {cycles} cycles every {args.interval:g} s, "
          f"backends down {outage[0]:.0f}-{outage[1]:.0f} s")  # fmt: skip
    print(f"receipts (carbon, influxdb) status counts: {dict(statuses)}")
    print(f"expected points (from receipts): {total} (~{metrics:.1f} metrics per return)")
    for name, counted in (("carbon", carbon), ("influxdb", influx)):
        got = sum(counted.get(m, 0) for m in expected)
        lost = {m: n - counted.get(m, 0) for m, n in expected.items() if counted.get(m, 0) < n}
        print(f"{name:<9} counted {got:>7}  lost {sum(lost.values()):>5}  {lost or ''}")
    print(f"spool records left on the minions: {len(spooled)} {spooled[:5] or ''}")
    print(f"on disk after the run: whisper {whisper_bytes} B, influxd data+wal {influx_bytes} B")


if __name__ == "__main__":
    main()

"""Wall time of ``vitals.top`` (and ``least_loaded``, ``history``) for 20 nodes x 1 h of 10 s
data, per backend, measured in one run.

A real collection of this machine is the template of every point (its real metric names, ~80
values); 20 nodes x 360 timestamps of it are backfilled with explicit timestamps through the
returners' serializers into a real carbon-cache (whisper ``10s:1d``) read by Debian's
graphite-web under gunicorn, and into a real influxd. Then the runners' core functions run
against each backend; medians of ROUNDS runs, and the InfluxDB/Graphite ratio.

Run: .venv/bin/python bench/top_latency.py
"""

import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import benchpath

from salt_ext.core.collect.collection import collect, validate_options
from salt_ext.core.graphite import paths as graphite
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.readback import options, views
from salt_ext.core.samples import Sample
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import poll

NODES = 20
STEP = 10
HOUR = 3600
ROUNDS = 5
DB = "bench"


class TenSecondCarbon(CarbonCache):
    RETENTIONS = "10s:1d"


def backfill(template, end):
    """Per node: the template's samples at every 10 s of the hour before ``end``, values
    varied per node and time so no two series are the same."""
    for n in range(NODES):
        node = f"node-{n:02d}"
        for i, ts in enumerate(range(end - HOUR + STEP, end + 1, STEP)):
            wobble = (n * 7 + i) % 13
            yield (
                node,
                [
                    Sample(
                        s.group,
                        s.name,
                        s.value if isinstance(s.value, int) else s.value + wobble * 0.5,
                        ts,
                        s.tags,
                    )
                    for s in template
                ],
            )


def timed(func, rounds=ROUNDS):
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main():
    with tempfile.TemporaryDirectory(dir=benchpath.ROOT + "/.tmp") as tmp:
        root = Path(tmp)
        _, template = collect(validate_options({}), str(root / "state"), interval=0.3)
        end = int(time.time()) // STEP * STEP - STEP
        carbon = TenSecondCarbon(root / "carbon")
        with carbon, InfluxD(root / "influxd") as influxd, GraphiteWeb(root / "gw", carbon) as web:
            influxd.query(f'CREATE DATABASE "{DB}"')
            began = time.perf_counter()
            lines, points = [], 0
            with socket.create_connection((carbon.host, carbon.line_port)) as sock:
                for node, samples in backfill(template, end):
                    points += len(samples)
                    sock.sendall(graphite.plaintext(samples, graphite.PathBuilder(node)))
                    lines.append(line_protocol.serialize(samples, node).decode())
                    if len(lines) >= 200:
                        influxd.write("".join(lines), DB)
                        lines = []
            if lines:
                influxd.write("".join(lines), DB)
            last = f"vitals.node-{NODES - 1:02d}.cpu.percent"
            first_ts = end - HOUR + STEP
            poll(
                lambda: len(carbon.fetch(last, first_ts, end)) == HOUR // STEP,
                600,
                "carbon to store the last node",
                interval=1,
            )
            print(
                f"backfilled {points} points ({NODES} nodes x {HOUR // STEP} times x "
                f"{len(template)} values) into carbon and influxd in "
                f"{time.perf_counter() - began:.1f} s",
                flush=True,
            )
            readers = {
                "graphite": options.open_reader(
                    options.read_options({"backend": "graphite", "url": web.url})
                ),
                "influxdb": options.open_reader(
                    options.read_options({"backend": "influxdb", "url": influxd.url, "db": DB})
                ),
            }
            now = end + 5
            results = {}
            for name, reader in readers.items():
                row = {}
                for label, func in (
                    ("top 15m", lambda r=reader: views.top(r, window="15m", now=now)),
                    ("top 1h", lambda r=reader: views.top(r, window="1h", now=now)),
                    (
                        "least_loaded 5m",
                        lambda r=reader: views.least_loaded(r, 3, window="5m", now=now),
                    ),
                    (
                        "history cpu 1h/1m",
                        lambda r=reader: views.history(
                            r, "cpu.percent", start="-1h", resample="1m", now=now
                        ),
                    ),
                ):
                    seconds, result = timed(func)
                    row[label] = (seconds, result)
                results[name] = row
            top_g = results["graphite"]["top 1h"][1]
            top_i = results["influxdb"]["top 1h"][1]
            assert len(top_g["nodes"]) == len(top_i["nodes"]) == NODES
            assert [r["cpu"] for r in top_g["nodes"]] == [r["cpu"] for r in top_i["nodes"]]
            print(
                f"\n{'median of ' + str(ROUNDS):<20}{'graphite':>12}{'influxdb':>12}"
                f"{'influx/graphite':>18}"
            )
            for label in results["graphite"]:
                g = results["graphite"][label][0]
                i = results["influxdb"][label][0]
                print(f"{label:<20}{g * 1000:>10.0f}ms{i * 1000:>10.0f}ms{i / g:>18.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

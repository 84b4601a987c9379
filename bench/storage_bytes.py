"""Bytes on disk per node: whisper files and InfluxDB TSM, measured from real files (sizing).

Whisper preallocates: a node's footprint is its number of metrics times the size whisper gives
a file of the schema, whatever the values. This bench creates the real files (``whisper.create``)
for every metric this machine's ``vitals.current`` returns, under three schemas, and sums them.

InfluxDB compresses, so it is measured: one day of this node at 10 s (8 640 cycles of real
readings, cycled from 20 collections taken here) is written with our line-protocol serializer
to a real influxd, whose cache is snapshotted to TSM after 1 s cold; the TSM bytes on disk
divided by the values written give bytes per value, and x 365 bytes per node per year. The same
lines go to a single-node VictoriaMetrics (``/write``), whose data directory is measured once it
has shut down (in-memory parts written).

Run: .venv/bin/python bench/storage_bytes.py [--hours 24]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import whisper

from salt_ext.core.collect.collection import collect_window, validate_options
from salt_ext.core.graphite.paths import PathBuilder
from salt_ext.core.influxdb.line_protocol import serialize
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import poll
from vitals_daemons.victoria_metrics import VictoriaMetrics

SCHEMAS = {
    "10s:1y (raw year)": "10s:1y",
    "10s:7d,1m:30d,10m:1y": "10s:7d,1m:30d,10m:1y",
    "10s:1d,1m:7d,10m:90d,1h:2y": "10s:1d,1m:7d,10m:90d,1h:2y",
}
INTERVAL = 10


class SnapshottingInfluxD(InfluxD):
    """influxd that writes its cache to TSM after 1 s without writes (default 10 min)."""

    def _write_config(self):
        super()._write_config()
        text = self.config_path.read_text()
        cold = '[data]\n  cache-snapshot-write-cold-duration = "1s"\n'
        self.config_path.write_text(text.replace("[data]\n", cold, 1))


def readings(state_dir, count=20):
    out = []
    for _ in range(count):
        out.append(collect_window(validate_options({"min_rate_interval": 0.05}), state_dir)[1])
        time.sleep(0.1)
    return out


def whisper_bytes(paths, tmp):
    sizes = {}
    for name, schema in SCHEMAS.items():
        archives = [whisper.parseRetentionDef(r) for r in schema.split(",")]
        wsp = os.path.join(tmp, f"{len(sizes)}.wsp")
        whisper.create(wsp, archives, xFilesFactor=0, aggregationMethod="average")
        sizes[name] = os.path.getsize(wsp) * len(paths)
    return sizes


def influx_bytes(samples_cycle, hours, root):
    cycles = int(hours * 3600 / INTERVAL)
    start = int(time.time()) - cycles * INTERVAL
    values = 0
    with SnapshottingInfluxD(root) as influxd:
        influxd.query("CREATE DATABASE sizing")
        batch = []
        for i in range(cycles):
            ts = start + i * INTERVAL
            samples = [s.__class__(s.group, s.name, s.value, ts, s.tags) for s in samples_cycle(i)]
            values += len(samples)
            batch.append(serialize(samples, "pi-01.example.com").decode())
            if len(batch) == 500 or i == cycles - 1:
                influxd.write("".join(batch), db="sizing")
                batch = []
        count = influxd.query('SELECT count(*) FROM "mem"', db="sizing")["results"][0]
        tsm = Path(root) / "data" / "sizing"

        poll(lambda: list(tsm.rglob("*.tsm")), 120, "TSM files", interval=1)
        sizes = []

        def settled():  # the TSM total unchanged for 5 s: snapshots and compactions done
            sizes.append(sum(p.stat().st_size for p in tsm.rglob("*.tsm")))
            return len(sizes) > 5 and len(set(sizes[-6:])) == 1

        poll(settled, 300, "TSM files to settle", interval=1)
    tsm_bytes = sum(p.stat().st_size for p in tsm.rglob("*.tsm"))
    wal_bytes = sum(p.stat().st_size for p in (Path(root) / "wal").rglob("*") if p.is_file())
    return cycles, values, tsm_bytes, wal_bytes, count


def victoria_bytes(samples_cycle, hours, root):
    cycles = int(hours * 3600 / INTERVAL)
    start = int(time.time()) - cycles * INTERVAL
    with VictoriaMetrics(root) as vm:
        batch = []
        for i in range(cycles):
            ts = start + i * INTERVAL
            samples = [s.__class__(s.group, s.name, s.value, ts, s.tags) for s in samples_cycle(i)]
            batch.append(serialize(samples, "pi-01.example.com").decode())
            if len(batch) == 500 or i == cycles - 1:
                response = vm._http.post(
                    vm.url + "/write", data="".join(batch).encode(), timeout=60
                )
                response.raise_for_status()
                batch = []
        vm.force_flush()
    # stopped: a graceful shutdown writes every in-memory part to disk
    return sum(p.stat().st_size for p in vm.data_dir.rglob("*") if p.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        real = readings(tmp)
        paths = sorted({PathBuilder("pi-01").path(s) for s in real[-1]})
        print(f"this node: {len(paths)} metrics per vitals.current return")
        for name, size in whisper_bytes(paths, tmp).items():
            print(f"whisper {name:<28}{size / 2**20:10.1f} MiB per node (preallocated)")
        cycles, values, tsm, wal, _ = influx_bytes(
            lambda i: real[i % len(real)], args.hours, os.path.join(tmp, "influxd")
        )
        vm = victoria_bytes(
            lambda i: real[i % len(real)], args.hours, os.path.join(tmp, "victoria")
        )
    per_value = tsm / values
    per_year = per_value * values / cycles * (365 * 86400 / INTERVAL)
    print(
        f"influxdb: {cycles} cycles x {values // cycles} values written ({args.hours:g} h at "
        f"{INTERVAL} s): TSM {tsm / 2**20:.2f} MiB (WAL left {wal} B) = {per_value:.2f} B per "
        f"value -> {per_year / 2**20:.0f} MiB per node per year"
    )
    print(
        f"victoria-metrics: same lines, data dir {vm / 2**20:.2f} MiB = {vm / values:.2f} B per "
        f"value -> {vm / values * values / cycles * (365 * 86400 / INTERVAL) / 2**20:.0f} MiB "
        "per node per year (includes its fixed-size index and metadata)"
    )


if __name__ == "__main__":
    main()

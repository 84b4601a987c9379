"""Read path at fleet size: ``vitals.top``, ``vitals.least_loaded`` and ``vitals.history`` for
20 and 1,000 nodes on graphite-web and on InfluxDB 1.x, measured in one run, with the
1000/20 ratios and a check that every node is listed with the values that were written.

The data set: a real collection of this machine is the template of every point (its real metric
names, ~70 values); every node gets it at every 10 s from an hour before the start of the run to
FUTURE minutes after it (so the runs that use the real clock find a fresh fleet), its floats
moved by a per-node, per-time multiple of 0.5 (so means are exact in both backends).

* Graphite: the returner's own plaintext serializer makes the lines; they are written straight
  into whisper files exactly as carbon-cache creates and updates them (its storage schema and
  aggregation; checked at start by sending one node through the real carbon-cache pickle port
  and comparing its files with the direct writes). carbon-cache runs, and Debian's graphite-web
  under gunicorn reads the files (and carbon's cache, as in production).
* InfluxDB: the returner's own line-protocol serializer, written to a real influxd 1.6.

Each size lives under its own Graphite prefix / InfluxDB database. Times are the fastest of
``--rounds`` calls (the least disturbed by the rest of a shared machine) of the runners' core
functions in this process, and of ``salt-run`` against a real salt-master less its fastest
start-up (a ``salt-run vitals.file_root``). CPU seconds per call (this process and the backend's
daemons) are printed too: they do not depend on what else the machine runs.

Run: .venv/bin/python bench/readback_scale.py [--sizes 20,1000] [--rounds 5] [--no-salt-run]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import benchpath
import psutil
import whisper

from salt_ext.core.collect.collection import collect, validate_options
from salt_ext.core.graphite import paths as graphite
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.readback import model, options, views
from salt_ext.core.samples import Sample
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import poll
from vitals_daemons.salt import SaltMaster

STEP = 10
PAST = 3600  # the data starts an hour before the run (history's default window)
FUTURE = 1800  # and ends this long after its start, so salt-run's real "now" finds fresh data
SALT_RUN_TIMEOUT = 300
NOISE = 0.05  # seconds: no 1000/20 ratio of times below this (salt-run's start-up jitters more)


class FleetCarbon(CarbonCache):
    """10 s points kept for 3 h: the 10 s archive of a production schema, shorter so 1,000
    nodes x 70 files stay under a GB."""

    RETENTIONS = "10s:3h"
    AGGREGATION = {"xFilesFactor": 0.0, "aggregationMethod": "average"}  # its aggregation conf


def template_samples(root):
    """A real collection of this machine, floats on multiples of 0.5."""
    _, samples = collect(validate_options({}), str(root / "state"), interval=0.3)
    return [
        s
        if isinstance(s.value, int)
        else Sample(s.group, s.name, round(s.value * 2) / 2, 0, s.tags)
        for s in samples
    ]


def node_name(n):
    return f"node-{n:04d}"


def wobble(n, ts):
    return ((n * 7 + ts // STEP) % 13) * 0.5


def node_samples(template, n, stamps):
    """Node ``n``'s returns at ``stamps``: the template, floats moved by :func:`wobble`."""
    for ts in stamps:
        extra = wobble(n, ts)
        yield [
            Sample(
                s.group,
                s.name,
                s.value if isinstance(s.value, int) else s.value + extra,
                ts,
                s.tags,
            )
            for s in template
        ]


def written(template, group, field, n, ts):
    """The value node ``n`` wrote for ``group.field`` (untagged) at ``ts``."""
    (base,) = [s.value for s in template if s.group == group and s.name == (field,) and not s.tags]
    return base if isinstance(base, int) else base + wobble(n, ts)


# -- writing the data set ------------------------------------------------------------------------
def whisper_points(lines):
    """Carbon plaintext -> {path: [(ts, value)]}, as carbon-cache parses it."""
    out = defaultdict(list)
    for line in lines.decode("ascii").splitlines():
        path, value, ts = line.split()
        out[path].append((int(float(ts)), float(value)))
    return out


def write_whisper(carbon, points):
    """Create and update whisper files as carbon-cache's writer does (its schema and
    aggregation, update_many per metric)."""
    archives = [whisper.parseRetentionDef(r) for r in carbon.RETENTIONS.split(",")]
    for path, values in points.items():
        wsp = carbon.metric_file(path)
        if not wsp.exists():
            wsp.parent.mkdir(parents=True, exist_ok=True)
            whisper.create(
                str(wsp),
                archives,
                FleetCarbon.AGGREGATION["xFilesFactor"],
                FleetCarbon.AGGREGATION["aggregationMethod"],
            )
        whisper.update_many(str(wsp), values)


def check_direct_writes_equal_carbon(carbon, template, stamps):
    """One node through the real carbon-cache pickle port and the same node written directly:
    every file's header and points must be the same."""
    node = 0
    through = graphite.PathBuilder(node_name(node), "viacarbon")
    direct = graphite.PathBuilder(node_name(node), "direct")
    returns = list(node_samples(template, node, stamps))
    with socket.create_connection((carbon.host, carbon.pickle_port)) as sock:
        for samples in returns:
            sock.sendall(graphite.pickle_frames(samples, through))
    lines = b"".join(graphite.plaintext(samples, direct) for samples in returns)
    write_whisper(carbon, whisper_points(lines))
    paths = {p.split(".", 1)[1] for p in whisper_points(lines)}  # without the prefix
    last = f"viacarbon.{sorted(paths)[-1]}"
    carbon.wait_for_points(last, len(stamps), timeout=120, from_ts=stamps[0], until_ts=stamps[-1])
    for rest in sorted(paths):
        ours, theirs = carbon.metric_file(f"direct.{rest}"), carbon.metric_file(f"viacarbon.{rest}")
        poll(
            lambda t=f"viacarbon.{rest}": (
                len(carbon.fetch(t, stamps[0], stamps[-1])) == len(stamps)
            ),
            120,
            f"carbon to store {rest}",
        )
        if whisper.info(str(ours)) != whisper.info(str(theirs)):
            raise SystemExit(f"whisper header differs from carbon's for {rest}")
        mine = carbon.fetch(f"direct.{rest}", stamps[0], stamps[-1])
        if mine != carbon.fetch(f"viacarbon.{rest}", stamps[0], stamps[-1]):
            raise SystemExit(f"whisper points differ from carbon's for {rest}")
    return len(paths)


def build(carbon, influxd, template, nodes, stamps, prefix, db):
    influxd.query(f'CREATE DATABASE "{db}"')
    batch, count = [], 0
    for n in range(nodes):
        node = node_name(n)
        paths = graphite.PathBuilder(node, prefix)
        text = []
        for samples in node_samples(template, n, stamps):
            text.append(graphite.plaintext(samples, paths))
            batch.append(line_protocol.serialize(samples, node))
            count += len(samples)
        write_whisper(carbon, whisper_points(b"".join(text)))
        if len(batch) >= 2000:
            influxd.write(b"".join(batch).decode(), db)
            batch = []
    if batch:
        influxd.write(b"".join(batch).decode(), db)
    return count


# -- measuring -----------------------------------------------------------------------------------
def cpu_seconds(pids):
    """CPU time used so far by these processes and their children (a gunicorn's workers)."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def fastest(func, rounds, servers=()):
    """The fastest of ``rounds`` calls (the least disturbed by whatever else the machine runs),
    and the CPU seconds a call costs here and in the ``servers`` processes (mean of the rounds)."""
    spent, cpu = [], 0.0
    for _ in range(rounds):
        cpu -= time.process_time() + cpu_seconds(servers)
        began = time.perf_counter()
        func()
        spent.append(time.perf_counter() - began)
        cpu += time.process_time() + cpu_seconds(servers)
    return min(spent), cpu / rounds


CALLS = {
    "top": ("vitals.top", lambda r, now: views.top(r, now=now)),
    "least_loaded": ("vitals.least_loaded n=3", lambda r, now: views.least_loaded(r, 3, now=now)),
    "history": (
        "vitals.history cpu.percent --out=json",
        lambda r, now: views.history(r, "cpu.percent", now=now),
    ),
}


def in_process(reader, rounds, servers):
    """{call: (fastest seconds, CPU seconds per call here and in the servers)}"""
    return {
        name: fastest(lambda f=f: f(reader, time.time()), rounds, servers)
        for name, (_, f) in CALLS.items()
    }


def graphite_floor(reader, rounds):
    """graphite-web reading top's series at all: one render of their bare paths (no function),
    over top's default window."""
    metrics = [c.metric for c in model.TOP_COLUMNS] + [model.CPU_COUNT]
    targets = [reader.pattern(m)[0] for m in metrics]

    def render():
        end = int(time.time()) + 1
        return reader.render(targets, end - 900, end, noNullPoints="true")

    return fastest(render, rounds)[0]


class SaltRun:
    """``salt-run`` against a real salt-master, ``vitals_query`` rewritten per data set."""

    def __init__(self, root):
        self.master = SaltMaster(root / "master", {})
        self.script = str(Path(sys.executable).parent / "salt-run")

    def run(self, args):
        began = time.perf_counter()
        done = subprocess.run(
            [self.script, "-c", str(self.master.root), *args.split()],
            capture_output=True,
            text=True,
            timeout=SALT_RUN_TIMEOUT,
            check=False,
        )
        spent = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"salt-run {args} failed: {done.stdout}{done.stderr}")
        return spent

    def configure(self, query):
        path = self.master.root / "master.d" / "vitals-query.conf"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"vitals_query": query}))

    def times(self, query, rounds):
        """Per call: its fastest salt-run less the fastest start-up (a ``vitals.file_root``
        before each call), and that start-up."""
        self.configure(query)
        self.run("vitals.file_root")  # warm the page cache and Salt's loader cache
        startups, calls = [], defaultdict(list)
        for _ in range(rounds):
            for name, (args, _) in CALLS.items():
                startups.append(self.run("vitals.file_root"))
                calls[name].append(self.run(args))
        startup = min(startups)
        return {name: min(spent) - startup for name, spent in calls.items()}, startups


# -- correctness ----------------------------------------------------------------------------------
def check(template, readers, nodes, now):
    """Every node listed, values equal to what was written, both backends the same."""
    names = [node_name(n) for n in range(nodes)]
    last = now - now % STEP
    results = {}
    for backend, reader in readers.items():
        table = views.top(reader, sort="node", now=now)
        rows = table["nodes"]
        assert [r["node"] for r in rows] == names, f"{backend}: top does not list every node"
        for n, row in enumerate(rows):
            for column, (group, field) in {
                "cpu": ("cpu", "percent"),
                "load1": ("load", "load1"),
                "mem": ("mem", "percent"),
                "swap": ("swap", "percent"),
            }.items():
                want = written(template, group, field, n, last)
                assert row[column] == want, (backend, row["node"], column, row[column], want)
            assert row["age"] == round(now - last, 1) and not row["stale"], (backend, row)
        loaded = views.least_loaded(reader, nodes, now=now)
        assert sorted(loaded["nodes"]) == names, f"{backend}: least_loaded does not rank every node"
        window = [ts for ts in range(last - 300 + STEP, last + 1, STEP) if ts >= now + 1 - 300]
        for n, name in enumerate(names):
            cpu = [written(template, "cpu", "percent", n, ts) for ts in window]
            assert loaded["load"][name]["cpu"] == round(sum(cpu) / len(cpu), 2), (backend, name)
        history = views.history(reader, "cpu.percent", now=now)
        assert sorted(history["series"]) == names, f"{backend}: history does not list every node"
        step = history["resample"]
        start = now - 3600
        for n, name in enumerate(names):
            want = []
            for bucket in history["times"]:
                got = [
                    written(template, "cpu", "percent", n, ts)
                    for ts in range(bucket - bucket % STEP, bucket + step, STEP)
                    if bucket <= ts < bucket + step and start <= ts < now
                ]
                want.append(sum(got) / len(got) if got else None)
            assert history["series"][name] == want, (backend, name, history["series"][name], want)
        results[backend] = (table, loaded, history)
    (g_top, g_loaded, g_history), (i_top, i_loaded, i_history) = results.values()
    for row in i_top["nodes"]:  # graphite stores tag values sanitised (/ is root)
        for key in [k for k in row if k.endswith("_where")]:
            tag = model.COLUMNS_BY_NAME[key[: -len("_where")]].metric.tag
            row[key] = graphite.sanitize_tag_value(tag, row[key])
    strip = lambda t: {k: v for k, v in t.items() if k != "backend"}  # noqa: E731
    assert strip(g_top) == strip(i_top), "top differs between the backends"
    assert g_loaded == i_loaded, "least_loaded differs between the backends"
    assert strip(g_history) == strip(i_history), "history differs between the backends"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,1000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-salt-run", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(benchpath.ROOT + "/.tmp", exist_ok=True)
    with tempfile.TemporaryDirectory(dir=benchpath.ROOT + "/.tmp") as tmp:
        root = Path(tmp)
        template = template_samples(root)
        began = int(time.time())
        stamps = list(range(began - began % STEP - PAST, began + FUTURE, STEP))
        carbon = FleetCarbon(root / "carbon")
        salt_run = None if args.no_salt_run else SaltRun(root)
        with carbon, InfluxD(root / "influxd") as influxd, GraphiteWeb(root / "gw", carbon) as web:
            files = check_direct_writes_equal_carbon(carbon, template, stamps[:60])
            print(f"direct whisper writes equal carbon-cache's for all {files} files of a node")
            sets = {}
            for nodes in sizes:
                t0 = time.perf_counter()
                count = build(carbon, influxd, template, nodes, stamps, f"n{nodes}", f"n{nodes}")
                print(
                    f"{nodes} nodes: {count} points ({len(stamps)} times x {len(template)} values)"
                    f" written to whisper and influxd in {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
                sets[nodes] = {
                    "graphite": {"backend": "graphite", "url": web.url, "prefix": f"n{nodes}"},
                    "influxdb": {"backend": "influxdb", "url": influxd.url, "db": f"n{nodes}"},
                }
            readers = {
                nodes: {b: options.open_reader(options.read_options(q)) for b, q in qs.items()}
                for nodes, qs in sets.items()
            }
            for nodes in sizes:
                check(template, readers[nodes], nodes, int(time.time()))
                print(f"{nodes} nodes: every node listed, values as written, both backends equal")
            measured, cpu, floor = {}, {}, {}
            for nodes in sizes:
                for backend, reader in readers[nodes].items():
                    servers = [web.pid, carbon.pid] if backend == "graphite" else [influxd.pid]
                    found = in_process(reader, args.rounds, servers)
                    measured[nodes, backend, "in-process"] = {c: t for c, (t, _) in found.items()}
                    cpu[nodes, backend, "in-process"] = {c: u for c, (_, u) in found.items()}
                floor[nodes] = graphite_floor(readers[nodes]["graphite"], args.rounds)
            if salt_run is not None:
                with salt_run.master:
                    startups = []
                    for nodes in sizes:
                        for backend, query in sets[nodes].items():
                            spent, more = salt_run.times(query, 2 * args.rounds)
                            measured[nodes, backend, "salt-run"] = spent
                            startups += more
                    startups.sort()
                    print(
                        f"salt-run start-up (vitals.file_root): fastest {startups[0]:.2f} s,"
                        f" median {startups[len(startups) // 2]:.2f} s: differences under"
                        f" {NOISE} s are within its jitter"
                    )
            if time.time() > stamps[-1]:
                print("WARNING: the run outlasted the data set (raise FUTURE)")
            print(
                f"\nwall seconds, fastest of {args.rounds} in-process,"
                f" of {2 * args.rounds} salt-run (less its fastest start-up)"
            )
            report(measured, sizes)
            print(
                "\nCPU seconds per call, this process + the backend's (graphite-web, carbon-cache"
                " / influxd), mean of the rounds"
            )
            report(cpu, sizes)
            print(
                "\ngraphite-web reading top's series at all (one render of the bare paths): "
                + ", ".join(f"{n} nodes {floor[n]:.3f} s" for n in sizes)
            )
    return 0


def report(measured, sizes):
    small, large = sizes[0], sizes[-1]
    ways = sorted({way for _, _, way in measured})
    head = f"{'':<14}{'backend':<10}{'how':<12}" + "".join(f"{n:>9}" for n in sizes)
    print(head + f"{f'{large}/{small}':>10}")
    for call in CALLS:
        for backend in ("graphite", "influxdb"):
            for way in ways:
                if (small, backend, way) not in measured:
                    continue
                row = [measured[n, backend, way][call] for n in sizes]
                shown = row[0] >= NOISE or way != "salt-run"
                ratio = f"{row[-1] / row[0]:>10.1f}" if shown and row[0] > 0 else f"{'-':>10}"
                print(
                    f"{call:<14}{backend:<10}{way:<12}" + "".join(f"{v:>9.3f}" for v in row) + ratio
                )


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Local demo of salt-vitals' main job on one machine (run it through ``scripts/demo.sh``).

Everything lives under ``<repo>/.demo/`` (wiped at start) and listens on free 127.0.0.1 ports:

* a ``carbon-cache`` (PyPI carbon/whisper from the venv) writing whisper files, started with
  the launcher the tests and the benches use (``vitals_daemons``, under ``daemons/``);
* a ``salt-master`` whose ``master.d/vitals.conf`` is ``examples/master.d/vitals.conf`` -- the
  block the README tells operators to paste -- with ``tgt: 'demo-*'`` and ``seconds: 5`` so the
  master schedule runs ``vitals.pollpush`` every 5 s;
* ``--minions N`` salt-minions ``demo-pi-1`` ... ``demo-pi-N`` whose ``carbon`` returner points
  at that carbon-cache.

The demo waits until the minions answer ``test.ping``, lets the master schedule fire
``--cycles`` times, prints per node what landed in Graphite (read straight from the whisper
files), and stops every process it started (SIGTERM, then SIGKILL after a grace period, whole
process groups) -- also on Ctrl-C or an error. It exits non-zero when a node has no data.
The data (configs, logs, whisper files) stays in ``.demo/`` unless ``--no-keep`` is given.

It ends as an operator would: Debian's graphite-web (under gunicorn) reads the whisper files,
``salt-run vitals.top`` prints the cluster table and ``salt-run vitals.history ... png=`` saves
graphite-web's graph to ``.demo/cpu-percent.png``.

``--influxdb`` adds InfluxDB as the second backend (Debian's ``influxd``, started under
``.demo/influxd``): the schedule then publishes ``returners: carbon,influxdb`` and the report
also counts what landed in InfluxDB per node.

``scripts/demo.sh`` apt-get installs those Debian packages first. Where apt-get cannot run
(not root, no apt-get) it says so in ``VITALS_NOT_INSTALLED``; the demo then skips what needs
the missing packages, says so in one line and still exits 0 when the main job worked.
"""

import argparse
import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

# the launchers the tests and the benches use (daemons/, installed into .venv by setup-env.sh)
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendError, BackendUnavailable, poll, stop_all
from vitals_daemons.salt import SaltMaster, SaltMinion
from vitals_daemons.whisper_files import read_tree

ROOT = Path(__file__).resolve().parent.parent

DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent  # the venv's bin/ (not resolved: it may be a symlink)
EXAMPLE_MASTER_CONF = ROOT / "examples" / "master.d" / "vitals.conf"

HOST = "127.0.0.1"
PREFIX = "vitals"  # the carbon returner's default prefix
SCHEDULE_SECONDS = 5
JOB_NAME = "vitals-pollpush"
FIRED = re.compile(r"Running scheduled job: (\S+).* with jid (\d+)")

STARTED = time.monotonic()
# set by scripts/demo.sh: "<packages> not installed, and apt-get cannot install packages here
# (<why>)"
NOT_INSTALLED = os.environ.get("VITALS_NOT_INSTALLED", "")


def say(text):
    print(f"[{time.monotonic() - STARTED:5.1f}s] {text}", flush=True)


class DemoError(RuntimeError):
    """Something the user should read; printed without a traceback."""


def unavailable(what, exc, skipped):
    """A backend that is not installed: skipped where apt-get could not install it, an error
    where it should have been (scripts/demo.sh installs what the demo needs)."""
    if not NOT_INSTALLED:
        raise DemoError(f"no {what}: {exc}") from None
    skipped.append(what)


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------


def leftover_demo_processes():
    """Processes of an earlier demo run (their command line names a config under .demo/)."""
    marker = str(DEMO) + os.sep
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmdline = p.info["cmdline"] or []
        if p.pid != os.getpid() and any(marker in arg for arg in cmdline):
            found.append(p)
    return found


def salt_cli(master_dir, *args, timeout=30):
    """Run a venv salt CLI (``salt``, ``salt-run``) against the demo master; return stdout."""
    argv = [str(BIN / args[0]), "-c", str(master_dir), "--out=json", *args[1:]]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, _err = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return out.decode(errors="replace")


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def write_yaml(path, data, header=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, default_flow_style=False, sort_keys=False))


def influx_counts(influxd, ids):
    """Rows of the ``cpu`` measurement per node in the demo's InfluxDB (database ``salt``)."""
    out = {}
    for node in ids:
        query = f'SELECT count("percent") FROM "cpu" WHERE "host" = \'{node}\''
        try:
            series = influxd.query(query, db="salt")["results"][0].get("series")
            out[node] = series[0]["values"][0][1] if series else 0
        except Exception as exc:
            out[node] = f"error: {exc}"
    return out


def vitals_master_block(returners="carbon"):
    """The README's master block (examples/master.d/vitals.conf) adapted to the demo."""
    if EXAMPLE_MASTER_CONF.is_file():
        block = yaml.safe_load(EXAMPLE_MASTER_CONF.read_text())
        source = f"from {EXAMPLE_MASTER_CONF.relative_to(ROOT)}"
    else:
        block = {
            "vitals_pollpush": {
                "tgt": "*",
                "tgt_type": "glob",
                "returners": "carbon",
                "samples": 1,
            },
            "schedule": {JOB_NAME: {"function": "vitals.pollpush", "seconds": 60, "maxrunning": 1}},
        }
        source = "inline copy of the README block (examples/master.d/vitals.conf is missing)"
    block["vitals_pollpush"]["tgt"] = "demo-*"
    block["vitals_pollpush"]["returners"] = returners
    job = block["schedule"][JOB_NAME]
    for unit in ("minutes", "hours", "days"):
        job.pop(unit, None)
    job["seconds"] = SCHEDULE_SECONDS
    header = f"# {source}, with tgt: 'demo-*' and seconds: {SCHEDULE_SECONDS} for the demo\n"
    return block, header


def salt_master(user, returners):
    block, header = vitals_master_block(returners)
    root = DEMO / "master"
    config = {
        "user": user,
        "file_roots": {"base": [str(root / "srv" / "salt")]},
        "pillar_roots": {"base": [str(root / "srv" / "pillar")]},
    }
    vitals_conf = header + yaml.safe_dump(block, default_flow_style=False, sort_keys=False)
    return SaltMaster(root, config, extra={"master.d/vitals.conf": vitals_conf})


def salt_minion(minion_id, master, user, carbon, influxd=None):
    config = {
        "user": user,
        "file_client": "remote",
        "carbon": {"host": HOST, "port": carbon.line_port, "timeout": 2},
    }
    if influxd is not None:
        config["influxdb"] = {"url": influxd.url, "db": "salt", "timeout": 2}
    return SaltMinion(DEMO / minion_id, master, minion_id, config)


# --------------------------------------------------------------------------------------------
# waiting
# --------------------------------------------------------------------------------------------


def wait_until(what, probe, timeout, daemons, interval=0.2):
    """``probe()``'s first truthy result; a daemon dying meanwhile fails at once."""

    def alive_and_probe():
        for d in daemons:
            d.check_alive()
        return probe()

    try:
        return poll(alive_and_probe, timeout, what, interval)
    except (TimeoutError, BackendError) as exc:
        raise DemoError(str(exc)) from None


def wait_for_minions(master_dir, ids, daemons, timeout=90):
    answered = set()

    def probe():
        out = salt_cli(master_dir, "salt", "--static", "-t", "3", "demo-*", "test.ping", timeout=30)
        data = parse_json(out) or {}
        now_up = {m for m, v in data.items() if v is True}
        for m in sorted(now_up - answered):
            say(f"  {m} answers test.ping")
        answered.update(now_up)
        return answered >= set(ids)

    wait_until(f"{len(ids)} minions to answer test.ping", probe, timeout, daemons, interval=1)


def schedule_firings(master_log, offset):
    """Runner jids of the vitals job's firings logged after byte ``offset`` of the master log
    (``Running scheduled job: vitals-pollpush with jid ...`` at INFO)."""
    try:
        with open(master_log, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return []
    return [m.group(2) for m in FIRED.finditer(text) if m.group(1) == JOB_NAME]


def last_receipts(master_dir):
    """jid and per-minion returns of the newest ``vitals.push`` job in the master job cache."""
    out = salt_cli(master_dir, "salt-run", "jobs.last_run", "function=vitals.push", timeout=60)
    for jid, job in (parse_json(out) or {}).items():
        if isinstance(job, dict):
            return jid, {m: r.get("return") for m, r in (job.get("Result") or {}).items()}
    return None, {}


def fmt_receipt(ret):
    if ret is None:
        return "no return"
    if not isinstance(ret, dict):
        return "error"
    statuses = ", ".join(  # "spooled: <why>" -> "spooled"; the full text is printed below
        f"{k} {str(v).split(':')[0]}" for k, v in ret.items() if k not in ("ts", "points")
    )
    return f"{ret.get('points', '?')} pts, {statuses}"


# --------------------------------------------------------------------------------------------
# reading what landed in Graphite
# --------------------------------------------------------------------------------------------


def node_report(whisper_dir, node):
    # the last 25 minutes, inside the finest archive (1 s slots for 30 minutes): a wider
    # window would make whisper answer from the coarser one
    now = int(time.time())
    points = read_tree(whisper_dir / PREFIX / node, from_ts=now - 1499, until_ts=now + 60)

    def latest(name):
        pts = points.get(name)
        return pts[-1][1] if pts else None

    nets = sorted(
        {
            name.split(".")[1]
            for name in points
            if name.startswith("net.") and name.endswith(".rx_bytes_per_s")
        },
        key=lambda i: (
            -((latest(f"net.{i}.rx_bytes_per_s") or 0) + (latest(f"net.{i}.tx_bytes_per_s") or 0)),
            i,
        ),
    )
    iface = nets[0] if nets else None
    return {
        "metrics": len(points),
        "counts": sorted(len(p) for p in points.values()),
        "last_ts": max((p[-1][0] for p in points.values() if p), default=None),
        "cpu": latest("cpu.percent"),
        "load1": latest("load.load1"),
        "mem_pct": latest("mem.percent"),
        "mem_used": latest("mem.used"),
        "disk_root": latest("disk.root.percent"),
        "iface": iface,
        "rx": latest(f"net.{iface}.rx_bytes_per_s") if iface else None,
        "tx": latest(f"net.{iface}.tx_bytes_per_s") if iface else None,
        "uptime": latest("system.uptime"),
    }


def fmt_bytes(value, suffix=""):
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}{suffix}" if unit == "B" else f"{value:.1f} {unit}{suffix}"
        value /= 1024.0


def fmt_num(value, fmt="{:.1f}", suffix=""):
    return "-" if value is None else fmt.format(value) + suffix


def fmt_uptime(seconds):
    if seconds is None:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{h:02d}:{m:02d}:{s:02d}"


def fmt_counts(counts):
    if not counts:
        return "-"
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}..{counts[-1]}"


def print_table(reports):
    nodes = list(reports)
    rows = [
        ("whisper metrics", lambda r: str(r["metrics"])),
        ("points per metric", lambda r: fmt_counts(r["counts"])),
        (
            "last point",
            lambda r: (
                time.strftime("%H:%M:%S", time.localtime(r["last_ts"])) if r["last_ts"] else "-"
            ),
        ),
        ("cpu.percent", lambda r: fmt_num(r["cpu"], suffix=" %")),
        ("load.load1", lambda r: fmt_num(r["load1"], "{:.2f}")),
        ("mem.percent", lambda r: fmt_num(r["mem_pct"], suffix=" %")),
        ("mem.used", lambda r: fmt_bytes(r["mem_used"])),
        ("disk.root.percent", lambda r: fmt_num(r["disk_root"], suffix=" %")),
        ("net interface", lambda r: r["iface"] or "-"),
        ("  rx_bytes_per_s", lambda r: fmt_bytes(r["rx"], "/s")),
        ("  tx_bytes_per_s", lambda r: fmt_bytes(r["tx"], "/s")),
        ("system.uptime", lambda r: fmt_uptime(r["uptime"])),
        ("last receipt", lambda r: fmt_receipt(r.get("receipt"))),
    ]
    cells = [[label] + [render(reports[n]) for n in nodes] for label, render in rows]
    header = ["Graphite (whisper)"] + nodes
    widths = [max(len(row[i]) for row in cells + [header]) for i in range(len(header))]

    def line(row):
        return "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        )

    print()
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    print()


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        allow_abbrev=False,  # scripts/demo.sh reads --influxdb to install influxdb
        description="Local salt-vitals demo: carbon-cache + salt-master + minions under .demo/; "
        "the master schedule runs vitals.pollpush every 5 s.",
    )
    parser.add_argument(
        "--minions",
        type=int,
        default=2,
        metavar="N",
        help="number of minions demo-pi-1..N (default 2)",
    )
    parser.add_argument(
        "--cycles",
        type=int,
        default=4,
        metavar="N",
        help="schedule runs to wait for once the minions are up (default 4)",
    )
    parser.add_argument(
        "--influxdb",
        action="store_true",
        help="also start influxd and feed it (returners carbon,influxdb)",
    )
    parser.add_argument(
        "--keep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep .demo/ (configs, logs, whisper files) after the run "
        "(default; --no-keep deletes it). The processes are always stopped.",
    )
    args = parser.parse_args(argv)
    if args.minions < 1 or args.cycles < 1:
        parser.error("--minions and --cycles must be at least 1")
    return args


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def run(args, stages):
    """Start the backends and Salt, wait for the schedule, report; ``stages`` collects what
    was started (stopped by :func:`main` whatever happens)."""
    fresh_demo_dir()
    ids = [f"demo-pi-{i}" for i in range(1, args.minions + 1)]
    skipped = []
    carbon, influxd = start_backends(args.influxdb, stages, skipped)
    returners = "carbon,influxdb" if influxd else "carbon"
    master = start_salt(ids, returners, carbon, influxd, stages)
    seen = wait_for_schedule(master, args.cycles, stages)
    status = report(ids, master, carbon, influxd, seen)
    status = read_back(master, carbon, stages, skipped) or status
    if skipped:
        say(f"skipped {', '.join(skipped)}: {NOT_INSTALLED}")
    return status


def read_back(master, carbon, stages, skipped):
    """End as an operator would: ``salt-run vitals.top`` and a graph, through graphite-web."""
    try:
        web = GraphiteWeb(DEMO / "graphite-web", carbon)
    except BackendUnavailable as exc:
        unavailable("vitals.top and the graph", exc, skipped)
        return 0
    stages[0].append(web.start())  # stopped with the backends
    query = {"vitals_query": {"backend": "graphite", "url": web.url}}
    write_yaml(master.root / "master.d" / "vitals-query.conf", query)
    say(f"started graphite-web ({web.url}); salt-run vitals.top tgt='demo-*' window=1m:")
    salt_run = [str(BIN / "salt-run"), "-c", str(master.root)]
    top = subprocess.run(
        [*salt_run, "vitals.top", "tgt=demo-*", "window=1m"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(top.stdout)
    png = DEMO / "cpu-percent.png"
    graph = subprocess.run(
        [
            *salt_run,
            "vitals.history",
            "cpu.percent",
            "tgt=demo-*",
            "start=-2m",
            "resample=10s",
            f"png={png}",
            "--out=json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if top.returncode or graph.returncode or not png.is_file():
        say(f"reading back failed: {(top.stdout + graph.stdout).strip()[-300:]}")
        return 1
    say(f"saved graphite-web's graph of cpu.percent (10 s means, last 2 min) to {png}")
    return 0


def fresh_demo_dir():
    leftovers = leftover_demo_processes()
    if leftovers:
        pids = " ".join(str(p.pid) for p in leftovers)
        raise DemoError(
            f"processes of an earlier demo still run from {DEMO} (pids {pids}); "
            f"stop them first: kill {pids}"
        )
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)


def start_backends(with_influxdb, stages, skipped):
    backends = []
    stages.append(backends)  # stopped last
    influxd = None
    if with_influxdb:
        try:
            influxd = InfluxD(DEMO / "influxd")
        except BackendUnavailable as exc:
            unavailable("InfluxDB (--influxdb)", exc, skipped)
    if influxd is not None:
        backends.append(influxd.start())
        say(f"started influxd ({influxd.url}, database salt)")
    carbon = CarbonCache(DEMO / "carbon")
    backends.append(carbon.start())
    say(
        f"started carbon-cache (line receiver {HOST}:{carbon.line_port}, "
        f"retentions {carbon.RETENTIONS})"
    )
    return carbon, influxd


def start_salt(ids, returners, carbon, influxd, stages):
    user = getpass.getuser()
    master = salt_master(user, returners)
    stages.append([master])
    say(
        f"starting salt-master (publish {master.publish_port}, ret {master.ret_port}; "
        f"schedule: {JOB_NAME} every {SCHEDULE_SECONDS}s, tgt 'demo-*', returners {returners})"
    )
    try:
        master.start()
    except BackendError as exc:
        raise DemoError(str(exc)) from None
    minions = [salt_minion(m, master, user, carbon, influxd) for m in ids]
    stages.append(minions)  # stopped first
    say(f"starting {len(ids)} salt-minions: {', '.join(ids)}")
    for minion in minions:
        minion.start()
    wait_for_minions(master.root, ids, [master, *minions])
    return master


def wait_for_schedule(master, cycles, daemons_of_stages):
    daemons = [d for stage in daemons_of_stages for d in stage]
    master_log = master.root / "master.log"
    offset = master_log.stat().st_size if master_log.exists() else 0
    say(
        f"all minions up; waiting for {cycles} runs of the master schedule "
        f"(~{cycles * SCHEDULE_SECONDS}s)"
    )
    seen = []

    def fired_enough():
        for jid in schedule_firings(master_log, offset)[len(seen) :]:
            seen.append(jid)
            say(f"  schedule fired {JOB_NAME} ({len(seen)}/{cycles}), runner jid {jid}")
        return len(seen) >= cycles

    wait_until(f"{cycles} schedule runs", fired_enough, cycles * SCHEDULE_SECONDS + 30, daemons)
    return seen


def report(ids, master, carbon, influxd, seen):
    whisper_dir = carbon.whisper_dir
    last_fire = time.time()

    # The last run's points: a collection stamped at or after that firing, on every node.
    def landed():
        return all((node_report(whisper_dir, n)["last_ts"] or 0) >= int(last_fire) - 2 for n in ids)

    try:
        poll(landed, 10, "the last run's points in whisper", 0.5)
    except TimeoutError as exc:
        say(f"  warning: {exc}")
    reports = {n: node_report(whisper_dir, n) for n in ids}
    jid, receipts = last_receipts(master.root)
    for n in ids:
        reports[n]["receipt"] = receipts.get(n)
    print_table(reports)
    if jid:
        print(f"receipts of the last vitals.push job {jid} (all that reaches the master):")
        for n in ids:
            ret = receipts.get(n)
            if isinstance(ret, str):  # an exception: show its last line
                ret = ret.strip().splitlines()[-1] if ret.strip() else ret
            print(f"  {n}: {json.dumps(ret) if not isinstance(ret, str) else ret}")
    total = sum(r["metrics"] for r in reports.values())
    counts = [c for r in reports.values() for c in r["counts"]]
    spread = {c: counts.count(c) for c in sorted(set(counts))}
    print(f"total whisper metrics: {total} under {whisper_dir / PREFIX}")
    print(
        "points per metric: "
        + (", ".join(f"{c} points x {k} metrics" for c, k in spread.items()) or "none")
    )
    master_log = master.root / "master.log"
    print(
        f"master schedule runs of {JOB_NAME}: {len(seen)} after all minions answered, "
        f"{len(schedule_firings(master_log, 0))} since the master started "
        f'("Running scheduled job" in {master_log})'
    )
    status = 0
    if influxd is not None:
        counts = influx_counts(influxd, ids)
        print(
            "InfluxDB (database salt), cpu rows per node: "
            + ", ".join(f"{n}: {c}" for n, c in counts.items())
        )
        if any(not isinstance(c, int) or c == 0 for c in counts.values()):
            say("no InfluxDB data from some node")
            status = 1
    print()
    for n, r in reports.items():
        if r["metrics"] == 0:
            say(f"no data from {n}; its log: {DEMO / n / 'minion.log'}")
            status = 1
    return status


def main(argv=None):
    args = parse_args(argv)
    # Ctrl-C always cleans up, even when started in the background with SIGINT ignored (which
    # the daemons would inherit otherwise).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)
    stages = []  # lists of daemons, in start order; stopped last stage first
    status = 1
    try:
        status = run(args, stages)
    except DemoError as exc:
        say(f"error: {exc}")
    except KeyboardInterrupt:
        say("interrupted")
        status = 130
    except SystemExit as exc:  # SIGTERM / SIGHUP
        say("terminated")
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # let the clean-up finish
        stop_stages(stages)
        if not args.keep:
            shutil.rmtree(DEMO, ignore_errors=True)
            say(f"removed {DEMO}")
        elif DEMO.is_dir():
            say(f"data, configs and logs kept in {DEMO}")
    say("done" if status == 0 else f"failed (exit {status})")
    return status


def stop_stages(stages):
    for stage in reversed(stages):
        if stage:
            began = time.monotonic()
            stop_all(stage, grace=max(d.stop_timeout for d in stage))
            names = ", ".join(getattr(d, "minion_id", d.name) for d in stage)
            say(f"  stopped {names} ({time.monotonic() - began:.1f}s)")


if __name__ == "__main__":
    sys.exit(main())

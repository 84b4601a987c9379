"""CPU per cycle of the vitals beacon (rules, push mode) vs Salt's ``load`` beacon, collectd and a
pollpush cycle, side by side in one run.

One salt-master and four real minions run at the same time, with the same ``loop_interval``:

* ``base``: no beacon (the reference: a minion's own idle cost);
* ``rules``: the vitals beacon with four rules (cpu, root filesystem, temperatures, load);
* ``load``: Salt's own ``load`` beacon (ranges never crossed, so no events either);
* ``push``: the vitals beacon in push mode, ``returners: carbon``, into a loopback sink.

collectd (Debian's ``collectd-core``: cpu, load, memory, swap, df, disk, interface, thermal,
processes, write_graphite to a second sink) runs at the same interval. CPU is utime + stime of
each process tree (reaped children included) from /proc, over the same window; a beacon's cost
is its minion minus ``base``. Then ``vitals.push`` (what ``vitals.pollpush`` publishes) and
``test.ping`` run as jobs on ``base``, and their cost is the minion's CPU per job minus its idle
rate. The ratios are what to compare (the machine is shared and noisy).

Run: .venv/bin/python bench/beacon_cost.py [--interval 5] [--window 100] [--jobs 10]
(needs ``apt-get install collectd-core``; about 3 minutes).
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from vitals_daemons.process import LOCALHOST, poll, stop_all
from vitals_daemons.salt import SaltMaster, SaltMinion

COLLECTD_PLUGINS = (
    "cpu", "load", "memory", "swap", "df", "disk", "interface", "thermal", "processes",
)  # fmt: skip
RULES = {
    "busy": {"metric": "cpu.percent", "above": 95, "clear": 80, "for": 60},
    "rootfs": {"metric": "disk./.percent", "above": 99},
    "hot": {"metric": "temp.*.celsius", "above": 95, "clear": 90},
    "load": {"metric": "load.load1", "above": 1000},
}


class LineSink:
    """Counts the lines carbon clients send, over any number of concurrent (and persistent,
    as collectd's) connections."""

    def __init__(self):
        self._sock = socket.create_server((LOCALHOST, 0))
        self.port = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self.lines = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        with conn:
            while data := conn.recv(65536):
                with self._lock:
                    self.lines += data.count(b"\n")

    def close(self):
        self._sock.close()


def tree_cpu(pid):
    """Seconds of CPU used by ``pid`` and its descendants, reaped children included."""
    total = 0.0
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return total
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def collectd_config(root, interval, port):
    loads = "\n".join(f"LoadPlugin {name}" for name in (*COLLECTD_PLUGINS, "write_graphite"))
    return f"""Hostname "bench-collectd"
FQDNLookup false
BaseDir "{root}"
PIDFile "{root}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval {interval}
{loads}
<Plugin df>
  IgnoreSelected true
  FSType tmpfs
  FSType overlay
  FSType squashfs
  FSType proc
  FSType sysfs
</Plugin>
<Plugin interface>
  Interface "lo"
  IgnoreSelected true
</Plugin>
<Plugin write_graphite>
  <Node "sink">
    Host "{LOCALHOST}"
    Port "{port}"
    Protocol "tcp"
    Prefix "collectd."
  </Node>
</Plugin>
"""


def in_process(config_file, sink_port, rounds):
    """CPU ms per call (all threads of this process) of each beacon function, called through
    Salt's loader with a bench minion's config: precise where /proc's 10 ms ticks are not."""
    import salt.config
    import salt.loader

    from salt_ext.core.beacon import beacon as vitals_beacon

    opts = salt.config.minion_config(str(config_file))
    opts["carbon"] = {"host": LOCALHOST, "port": sink_port, "timeout": 2}
    functions = salt.loader.minion_mods(opts)
    beacons = salt.loader.beacons(opts, functions)
    configs = {
        "rules": ("vitals", [{"rules": RULES}]),
        "load rule": ("vitals", [{"rules": {"load": RULES["load"]}}]),
        "load": (
            "load",
            [
                {"averages": {"1m": [0.0, 1000], "5m": [0.0, 1000], "15m": [0.0, 1000]}},
                {"emitatstartup": False},
                {"onchangeonly": True},
            ],
        ),
        "push": ("vitals", [{"push": {"returners": "carbon"}}, {"_beacon_name": "bench-push"}]),
    }
    out = {}
    for name, (module, config) in configs.items():
        for _ in range(3):  # warm-up: imports, first reading, rate reference, connection
            beacons[f"{module}.beacon"](list(config))
            time.sleep(0.05)
        spent = 0.0
        for _ in range(rounds):
            time.sleep(0.02)  # distinct readings; not counted
            start = time.process_time()
            beacons[f"{module}.validate"](list(config))
            beacons[f"{module}.beacon"](list(config))
            if name == "push":
                vitals_beacon.RUNNING["bench-push"].pusher.workers["carbon"].wait_idle(10)
            spent += time.process_time() - start
        out[name] = spent / rounds * 1000
    return out


def salt(master, *args):
    cmd = [str(Path(sys.executable).parent / "salt"), "-c", str(master.root), "--out=json"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interval", type=int, default=5, help="seconds per cycle")
    parser.add_argument("--window", type=int, default=100, help="seconds measured side by side")
    parser.add_argument("--jobs", type=int, default=10, help="vitals.push / test.ping jobs")
    parser.add_argument("--rounds", type=int, default=200, help="in-process beacon calls")
    args = parser.parse_args()
    collectd = shutil.which("collectd") or "/usr/sbin/collectd"
    if not os.path.exists(collectd):
        sys.exit("collectd not found: apt-get install collectd-core")

    root = Path(tempfile.mkdtemp(prefix="beacon-cost-"))
    push_sink, collectd_sink = LineSink(), LineSink()
    master = SaltMaster(root / "master", {})
    every = {"loop_interval": 1, "vitals": {"exclude_interfaces": ["lo"]}}
    interval = [{"interval": args.interval}]
    minions = {
        "base": {},
        "rules": {"beacons": {"vitals": [*interval, {"rules": RULES}]}},
        "load": {
            "beacons": {
                "load": [
                    *interval,
                    {"averages": {"1m": [0.0, 1000], "5m": [0.0, 1000], "15m": [0.0, 1000]}},
                    {"emitatstartup": False},
                    {"onchangeonly": True},
                ]
            }
        },
        "push": {
            "carbon": {"host": LOCALHOST, "port": push_sink.port, "timeout": 2},
            "beacons": {"vitals": [*interval, {"push": {"returners": "carbon"}}]},
        },
    }
    daemons = [master]
    collectd_proc = None
    try:
        master.start()
        started = {}
        for name, config in minions.items():
            minion = SaltMinion(root / name, master, f"bench-{name}", {**every, **config})
            daemons.append(minion.start())
            started[name] = minion
        poll(
            lambda: salt(master, "bench-*", "test.ping").stdout.count("true") == len(minions),
            120,
            "the minions answering",
            interval=1,
        )
        (root / "collectd").mkdir()
        conf = root / "collectd" / "collectd.conf"
        conf.write_text(collectd_config(root / "collectd", args.interval, collectd_sink.port))
        collectd_proc = subprocess.Popen(
            [collectd, "-f", "-C", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(3 * args.interval)  # warm-up: first cycles, rate references, connections

        pids = {name: m.pid for name, m in started.items()}
        pids["collectd"] = collectd_proc.pid
        lines_before = (push_sink.lines, collectd_sink.lines)
        before = {name: tree_cpu(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        time.sleep(args.window)
        after = {name: tree_cpu(pid) for name, pid in pids.items()}
        elapsed = time.monotonic() - t0
        lines_after = (push_sink.lines, collectd_sink.lines)
        cycles = elapsed / args.interval
        used = {name: after[name] - before[name] for name in pids}
        per_cycle = {name: used[name] / cycles * 1000 for name in pids}
        base_rate = used["base"] / elapsed

        def job_cost(*job):
            start_cpu, start = tree_cpu(pids["base"]), time.monotonic()
            for _ in range(args.jobs):
                out = salt(master, "bench-base", *job)
                if out.returncode:
                    raise SystemExit(f"{job}: {out.stdout}{out.stderr}")
            spent = tree_cpu(pids["base"]) - start_cpu - base_rate * (time.monotonic() - start)
            return spent / args.jobs * 1000

        pollpush_ms = job_cost(
            "vitals.push", "returners=carbon", f'ret_kwargs={{"port": {push_sink.port}}}'
        )
        ping_ms = job_cost("test.ping")
        calls = in_process(root / "base" / "minion", push_sink.port, args.rounds)
    finally:
        if collectd_proc is not None:
            collectd_proc.terminate()
            collectd_proc.wait(10)
        stop_all(reversed(daemons))
        push_sink.close()
        collectd_sink.close()
        shutil.rmtree(root, ignore_errors=True)

    rules_ms = per_cycle["rules"] - per_cycle["base"]
    load_ms = per_cycle["load"] - per_cycle["base"]
    push_ms = per_cycle["push"] - per_cycle["base"]
    push_points = (lines_after[0] - lines_before[0]) / cycles
    collectd_points = (lines_after[1] - lines_before[1]) / cycles
    print(f"interval {args.interval} s, window {elapsed:.0f} s ({cycles:.1f} cycles), CPU ms/cycle")
    print(f"  minion without beacon (idle)    {per_cycle['base']:7.2f}")
    print(f"  vitals beacon, 4 rules          {rules_ms:7.2f}  (minion minus idle)")
    print(f"  Salt load beacon                {load_ms:7.2f}  (minion minus idle)")
    print(f"  vitals beacon, push to carbon   {push_ms:7.2f}  ({push_points:.0f} metrics/cycle)")
    print(f"  collectd                        {per_cycle['collectd']:7.2f}", end="")
    print(f"  ({collectd_points:.0f} metrics/cycle)")
    print(f"  vitals.push job (pollpush)      {pollpush_ms:7.2f}  (per job, minus idle)")
    print(f"  test.ping job                   {ping_ms:7.2f}  (per job, minus idle)")
    print(f"in-process, CPU ms per beacon call (validate + beacon, {args.rounds} calls)")
    print(f"  vitals beacon, 4 rules          {calls['rules']:7.2f}")
    print(f"  vitals beacon, 1 rule on load   {calls['load rule']:7.2f}")
    print(f"  Salt load beacon                {calls['load']:7.2f}")
    print(f"  vitals beacon, push to carbon   {calls['push']:7.2f}  (delivery thread included)")
    print("ratios")
    print(f"  in-process rules / load         {calls['rules'] / calls['load']:7.2f}x")
    print(f"  in-process load rule / load     {calls['load rule'] / calls['load']:7.2f}x")
    print(f"  in-process push / collectd      {calls['push'] / per_cycle['collectd']:7.2f}x")
    print(f"  in-process push / pollpush      {calls['push'] / pollpush_ms:7.3f}x")
    print(f"  rules beacon / load beacon      {rules_ms / load_ms:7.2f}x")
    print(
        f"  push beacon / collectd          {push_ms / per_cycle['collectd']:7.2f}x  (goal <= 1.0)"
    )
    print(f"  push beacon / pollpush cycle    {push_ms / pollpush_ms:7.3f}x  (goal <= 0.05)")


if __name__ == "__main__":
    main()

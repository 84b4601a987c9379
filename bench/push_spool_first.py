"""What ``spool_first`` costs the push beacon per cycle, against the default, in the same run.

With ``spool_first`` each collection is written to every returner's spool (fsynced) inside the
beacon call, and the delivery threads send it from there (a replay: read, send, unlink), so a
SIGKILL finds nothing in memory; by default the beacon only queues the collection. Each cycle
here is one :meth:`VitalsBeacon.run` (collection and push to carbon and InfluxDB), then a wait
until both delivery threads are idle, so all of a cycle's work lands in its own measurement:

* CPU per cycle: the process's user + system time over the cycle (every thread);
* the beacon call: wall time of ``run()``, what the minion's event loop waits for.

Loopback receivers stand in for the backends (a TCP sink for carbon, an HTTP server answering
204 for InfluxDB); the spool is on the filesystem of ``--dir`` (default: a temporary directory,
here the same disk as the checkout). Batches of the two modes alternate, so load from other
processes hits both alike; medians and their ratios are printed.

Run: .venv/bin/python bench/push_spool_first.py [--batch 10] [--batches 6]
"""

import argparse
import statistics
import tempfile
import time

import benchpath  # noqa: F401  (tests/support on sys.path)

from salt_ext.core.beacon import beacon as vitals_beacon
from salt_ext.core.collect.collection import validate_options
from support.faults import SlowHTTPServer
from support.saltconfig import salt_funcs
from support.tcp import RecordingTcpServer

MODES = {"default": False, "spool_first": True}


def run_batch(beacon, parsed, options, size):
    cpu, call = [], []
    for _ in range(size):
        time.sleep(0.6)  # past min_rate_interval: every cycle has its rates
        cpu0, wall0 = time.process_time(), time.perf_counter()
        beacon.run(parsed, options)
        called = time.perf_counter() - wall0
        for worker in beacon.pusher.workers.values():
            if not worker.wait_idle(30):
                raise RuntimeError(f"{worker.name}: delivery still busy after 30 s")
        cpu.append(time.process_time() - cpu0)
        call.append(called)
    return cpu, call


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--dir", default=None, help="where the minion cachedir (spool) lives")
    args = parser.parse_args()
    cpu = {mode: [] for mode in MODES}
    call = {mode: [] for mode in MODES}
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as tmp,
        RecordingTcpServer() as carbon,
        SlowHTTPServer(delay=0, status=204) as influx,
    ):
        beacons, parsed = {}, {}
        for mode, first in MODES.items():
            opts = {"id": f"bench-{mode}", "cachedir": f"{tmp}/{mode}"}
            beacons[mode] = vitals_beacon.VitalsBeacon(salt_funcs({}), opts)
            push = {
                "returners": "carbon,influxdb",
                "port": carbon.port,
                "url": influx.url,
                "create_database": False,
                "spool_first": first,
            }
            parsed[mode] = vitals_beacon.parse_config([{"push": push}])
        options = validate_options({"exclude_groups": ["pi"]})
        for mode in MODES:  # warm-up: imports, rate references, spool directories
            run_batch(beacons[mode], parsed[mode], options, 2)
        for _ in range(args.batches):
            for mode in MODES:
                c, w = run_batch(beacons[mode], parsed[mode], options, args.batch)
                cpu[mode] += c
                call[mode] += w
        carbon.settle()
        lines = len(carbon.lines())
        requests = len(influx.requests)
    n = args.batch * args.batches
    print(f"{n} cycles per mode, push to carbon and InfluxDB; medians:")
    med = {mode: (statistics.median(cpu[mode]), statistics.median(call[mode])) for mode in MODES}
    for mode, (c, w) in med.items():
        print(f"  {mode:<12} CPU per cycle {c * 1e3:6.2f} ms   beacon call {w * 1e3:6.2f} ms")
    (c0, w0), (c1, w1) = med["default"], med["spool_first"]
    print(f"spool_first / default: CPU per cycle {c1 / c0:.2f}x (+{(c1 - c0) * 1e3:.2f} ms)")
    print(f"spool_first / default: beacon call  {w1 / w0:.2f}x (+{(w1 - w0) * 1e3:.2f} ms)")
    print(f"(received: {lines} carbon lines, {requests} InfluxDB requests)")


if __name__ == "__main__":
    main()

"""Our carbon returner vs Salt 3007.8's core ``carbon_return`` (pickle) on the same returns (P2).

Goals: ours >= 10x faster per return on a ~70- and a ~200-metric ``vitals.current`` return;
the serializers >= 300 k points/s on one core; exactly one TCP connection per return.

Both returners run as a minion runs them: loaded by Salt's loader and called through it,
options read through the real ``config.option`` of a real minion config with real grains, one
call per job return, sending to the same loopback sink (a separate process that reads every
connection to EOF and counts connections and bytes).

Each Salt runs both in one process, their calls interleaved (each round of calls makes one
call of every returner, a different one first each round), so that load from other processes
and the state a forked job inherits (its garbage collector's counts among others) hit them
alike. In ``.tmp/venv-salt3007`` (built by scripts/test.sh; our wheel is installed there too)
Salt 3007.8's returner comes from a loader over Salt's own returner directory (the default one
would pick ours, which shadows it); in this venv (Salt 3008, which no longer ships a carbon
returner) from a copy of that same file. The third table sets ours under this venv's Salt
against Salt 3007's under 3007.8, what upgrading changes: those two run in separate processes
(the rounds alternate them), and 3008's loader costs more per call than 3007's (a loaded call
~5.7 us vs ~2.3 us; its opts are a copy-on-write OptsDict whose every lookup takes a lock:
~0.5 us vs ~0.04 us), which Salt's own returner would pay as well on 3008.

Two figures per side:

* **warm**: ``--calls`` returns one after the other in one process (what caches, the re
  module's pattern cache and Python's specialised bytecode give a long-lived process);
* **cold**: each return the first one of a freshly forked process, as a minion job runs it:
  the parent loaded the returner, ``config.option`` and ``test.ping`` but never called the
  returner; the child runs ``test.ping`` through the loader (the job), builds the return,
  times the one returner call and exits. This includes what a job pays on first touching
  memory (copy-on-write page faults) and code, on both sides.

Each call is timed by the wall clock and by the CPU time of the calling thread (user + system,
page faults included): on a machine shared with other work the CPU times leave out the time
spent waiting for a core, so their ratio moves less between runs; on a quiet machine they agree.

``--stages`` also prints where our time goes: ``deliver_return``'s steps timed one by one
(warm and cold), next to the loader call around it.

Run: .venv/bin/python bench/carbon_vs_salt3007.py [--calls 200] [--cold 100] [--rounds 3] [--stages]
"""

import argparse
import glob
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import benchpath
from minion_env import minion_opts

from support.vitals import vitals_return

SALT3007_VENV = os.path.join(benchpath.ROOT, ".tmp", "venv-salt3007")
SALT3007_PYTHON = os.path.join(SALT3007_VENV, "bin", "python")
SALT3007_CARBON = next(  # the returner Salt 3008 no longer ships
    iter(glob.glob(f"{SALT3007_VENV}/lib/python3*/site-packages/salt/returners/carbon_return.py")),
    "",
)
SIZES = {
    "~70 metrics": {"n_cores": 2, "n_disks": 1, "n_diskio": 1, "n_nets": 1, "n_sensors": 2},
    "~200 metrics": {},
}


# --- the sink --------------------------------------------------------------------------------


def _sink(listener, counts):
    while True:
        conn, _ = listener.accept()
        with conn:
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                counts[1] += len(chunk)
        counts[0] += 1


def start_sink():
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    counts = multiprocessing.Array("q", 2)  # connections, bytes
    proc = multiprocessing.Process(target=_sink, args=(listener, counts), daemon=True)
    proc.start()
    port = listener.getsockname()[1]
    listener.close()
    return proc, port, counts


# --- one side: a minion config, the returner, N timed calls ----------------------------------


def time_calls(returner, ret, calls):
    """Per-call [wall-clock, CPU] seconds of ``calls`` returns (the timestamp moves like a real
    schedule)."""
    times = []
    base = ret["return"]["ts"]
    for i in range(calls):
        ret["return"]["ts"] = base + i
        times.append(_timed_call(returner, ret, None))
    return times


def in_fork(job, func, *args):
    """``func(*args)`` in a freshly forked process after ``job()`` ran there, on a copy of the
    job return made there (the last argument but one); returns its JSON-able result."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            job()  # a job function through the loader, as a minion job runs before returning
            args = list(args)
            args[-2] = json.loads(json.dumps(args[-2]))  # the job builds its return
            os.write(write_end, json.dumps(func(*args)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result = pipe.read()
    os.waitpid(pid, 0)
    if not result:
        sys.exit(f"{func.__name__} failed in a forked process")
    return json.loads(result)


def _timed_call(returner, ret, _unused):
    """[wall-clock, CPU] seconds of one call: the CPU time of this thread (user + system, page
    faults included) leaves out the time spent waiting for a core on a busy machine."""
    start, start_cpu = time.perf_counter(), time.thread_time()
    returner(ret)
    return [time.perf_counter() - start, time.thread_time() - start_cpu]


def _footprint(returner, ret, _unused):
    """[distinct Python functions, Python calls] of one return: in a freshly forked job each
    distinct function (its code object, its module's globals) is first touched memory."""
    functions, calls = set(), 0

    def profile(frame, event, _arg):
        nonlocal calls
        if event == "call":
            functions.add(frame.f_code)
            calls += 1

    sys.setprofile(profile)
    try:
        returner(ret)
    finally:
        sys.setprofile(None)
    return [len(functions), calls]


def theirs(spec):
    """Salt 3007.8's carbon returner loaded by this process's Salt: from Salt's own returner
    directory under Salt 3007 (not the default loader: it would pick ours, which shadows it),
    from a copy of that same file under a Salt that no longer ships it (3008)."""
    import salt.loader
    import salt.returners

    opts = minion_opts(spec["cachedir"], carbon=spec["carbon"])
    funcs = salt.loader.minion_mods(opts)
    funcs["config.option"], funcs["test.ping"]()  # loaded before any fork, as in a minion
    directory = os.path.dirname(salt.returners.__file__)
    if not os.path.exists(os.path.join(directory, "carbon_return.py")):
        directory = tempfile.mkdtemp()
        shutil.copy(spec["carbon_return"], directory)
    loader = salt.loader.LazyLoader([directory], opts, tag="returner", pack={"__salt__": funcs})
    returner = loader["carbon.returner"]
    loaded = returner.func.__globals__["__file__"]
    with open(loaded, "rb") as code, open(spec["carbon_return"], "rb") as original:
        if code.read() != original.read():
            sys.exit(f"loaded {loaded}, not Salt 3007.8's carbon_return.py")
    return returner, funcs, opts


def ours(port, mode, cachedir):
    import salt.loader

    opts = minion_opts(cachedir, carbon={"host": "127.0.0.1", "port": port, "mode": mode})
    funcs = salt.loader.minion_mods(opts)
    funcs["config.option"], funcs["test.ping"]()  # loaded before any fork, as in a minion
    returner = salt.loader.returners(opts, funcs)["carbon.returner"]
    if "salt_ext" not in returner.func.__globals__["__file__"]:
        sys.exit(f"loaded {returner.func.__globals__['__file__']}, not our carbon returner")
    return returner, funcs, opts


def side(spec):
    """Child entry point, under either venv: Salt 3007's returner and ours (text, pickle) in
    this one process, their calls interleaved (each round of calls runs all three), every cold
    call before any warm one."""
    import salt.version

    returners = {
        "theirs": theirs(spec),
        "text": ours(spec["port"], "text", spec["cachedir"]),
        "pickle": ours(spec["port"], "pickle", spec["cachedir"]),
    }
    results, warmups = {}, 0
    labels = list(returners)

    def rotated(i):  # who goes first changes every round: no side always follows the same one
        return labels[i % len(labels) :] + labels[: i % len(labels)]

    for name, ret in spec["returns"].items():
        base = ret["return"]["ts"]
        for i in range(spec["cold"]):
            ret["return"]["ts"] = base + i
            for label in rotated(i):
                returner, funcs, _opts = returners[label]
                timed = in_fork(funcs["test.ping"], _timed_call, returner, ret, None)
                results.setdefault((name, label, "cold"), []).append(timed)
        ret["return"]["ts"] = base
        if spec["stages"] and spec["cold"]:
            job = returners["pickle"][1]["test.ping"]
            results[name, "stages", "cold"] = [
                in_fork(job, our_stages, *returners["pickle"], ret, spec["cachedir"])
                for _ in range(spec["cold"])
            ]
            for label in ("theirs", "pickle"):
                returner, funcs, _opts = returners[label]
                results[name, label, "footprint"] = [
                    in_fork(funcs["test.ping"], _footprint, returner, ret, None)
                ]
    for name, ret in spec["returns"].items():
        for returner, _funcs, _opts in returners.values():
            time_calls(returner, ret, 5)  # warm-up
            warmups += 5
        base = ret["return"]["ts"]
        for i in range(spec["calls"]):
            ret["return"]["ts"] = base + i
            for label in rotated(i):
                results.setdefault((name, label, "warm"), []).append(
                    _timed_call(returners[label][0], ret, None)
                )
        ret["return"]["ts"] = base
        if spec["stages"]:
            results[name, "stages", "warm"] = [
                our_stages(*returners["pickle"], ret, spec["cachedir"])
                for _ in range(spec["calls"])
            ]
    json.dump(
        {
            "salt": salt.version.__version__,
            "warmups": warmups,
            "results": [[*key, times] for key, times in results.items()],
        },
        sys.stdout,
    )


def run_side(python, spec):
    """Run one side in a fresh interpreter (nothing of it warm): (Salt version, warm-up
    returns sent, timings)."""
    out = subprocess.run(
        [python, os.path.abspath(__file__), "--side"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        check=True,
        cwd="/",  # never the checkout: the 3007 venv has our wheel, not this tree
    )
    run = json.loads(out.stdout)
    return run["salt"], run["warmups"], {tuple(key): t for *key, t in run["results"]}


# --- serializers ------------------------------------------------------------------------------


def serializer_rates(seconds=0.5):
    from salt_ext.core.graphite import paths as graphite
    from salt_ext.core.influxdb import line_protocol
    from salt_ext.core.samples import row_samples, vitals_rows

    rows = vitals_rows(vitals_return(time.time()))  # what the carbon returner serializes
    samples = row_samples(rows)  # what the influxdb returner serializes
    minion = "pi-01.example.com"
    cases = {
        "graphite plaintext": lambda: graphite.plaintext_rows(rows, graphite.PathBuilder(minion)),
        "graphite pickle": lambda: graphite.pickle_rows(rows, graphite.PathBuilder(minion)),
        "influx line protocol": lambda: line_protocol.serialize(
            samples, minion, tags={"role": "web"}
        ),
    }
    rates = {}
    for name, func in cases.items():
        best = 0.0
        for _ in range(5):  # best of five: the run least disturbed by other processes
            done, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                func()
                done += 1
            best = max(best, done * len(samples) / (time.perf_counter() - start))
        rates[name] = best
    return rates


STAGES = (
    "options (read_options)",
    "rows (return_rows)",
    "serialize (paths + pickle)",
    "spool and delivery setup",
    "TCP connect + send + close",
    "spool replay check",
)


def our_stages(returner, funcs, opts, ret, cachedir):
    """``deliver_return``'s steps for one return, timed one by one (seconds, STAGES order)."""
    from salt_ext.core.delivery import returner as backend
    from salt_ext.core.delivery.delivery import Delivery
    from salt_ext.core.delivery.spool import Spool
    from salt_ext.core.graphite.carbon import BACKEND
    from salt_ext.core.samples import Skipped, return_rows

    clock = time.perf_counter
    marks = [clock()]
    options = BACKEND.with_minion(backend.read_options(BACKEND, ret, funcs, opts), opts)
    marks.append(clock())
    rows = return_rows(ret, time.time, Skipped())
    marks.append(clock())
    payload = BACKEND.serialize_rows(rows, ret["id"], options)
    marks.append(clock())
    spool = Spool(
        backend.spool_dir(cachedir, BACKEND, ret, options),
        max_bytes=options["spool_max_bytes"],
        max_age=options["spool_max_age"],
    )
    delivery = Delivery(
        BACKEND.transports(options),
        spool=spool,
        order=options["order"],
        replay_max_bytes=options["replay_max_bytes"],
    )
    marks.append(clock())
    delivery.transports[0].send(payload)
    marks.append(clock())
    delivery.replay()
    marks.append(clock())
    return [b - a for a, b in zip(marks, marks[1:])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="warm returns per side per round")
    parser.add_argument("--cold", type=int, default=100, help="cold returns per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stages", action="store_true", help="also time our stages")
    args = parser.parse_args()
    if not os.path.exists(SALT3007_PYTHON) or not SALT3007_CARBON:
        sys.exit(f"{SALT3007_VENV} missing: run scripts/test.sh once to build it")
    returns = {
        name: {
            "id": "bench-minion.example.com",
            "fun": "vitals.current",
            "fun_args": [],
            "jid": "20261125000000000000",
            "return": vitals_return(int(time.time()), **sizes),
            "retcode": 0,
            "success": True,
        }
        for name, sizes in SIZES.items()
    }
    kinds = ("warm", "cold") if args.cold else ("warm",)
    sink, port, counts = start_sink()
    times, versions = {}, {}
    try:
        with tempfile.TemporaryDirectory() as cachedir:
            spec = {
                "returns": returns,
                "calls": args.calls,
                "cold": args.cold,
                "cachedir": cachedir,
                "port": port,
                "stages": args.stages,
                "carbon": {"host": "127.0.0.1", "port": port, "mode": "pickle"},
                "carbon_return": SALT3007_CARBON,
            }
            for _ in range(args.rounds):
                for python, venv in ((SALT3007_PYTHON, "3007"), (sys.executable, "this venv")):
                    before = counts[0]
                    salt, warmups, run = run_side(
                        python, {**spec, "stages": args.stages and python == sys.executable}
                    )
                    versions[venv] = salt
                    for key, values in run.items():
                        times.setdefault((venv, *key), []).extend(values)
                    time.sleep(0.2)  # let the sink finish counting
                    returns_sent = sum(len(v) for v in run.values())  # stage runs send too
                    connections = counts[0] - before - warmups
                    if connections != returns_sent:
                        sys.exit(f"Salt {salt}: {connections} connections for {returns_sent}")
    finally:
        sink.terminate()

    def ms(*key, clock=0):
        return statistics.median(t[clock] for t in times[key]) * 1e3

    print(
        f"per return, median of {args.rounds} rounds x {args.calls} warm / {args.cold} cold calls"
        " per returner, same payload, same sink, every returner called through Salt's loader;"
        " ratio = Salt 3007's / ours (> 1: ours faster)"
    )
    tables = [
        (
            f"under Salt {versions[venv]} (one process, the three returners' calls interleaved)",
            [(venv, "theirs"), (venv, "text"), (venv, "pickle")],
        )
        for venv in ("3007", "this venv")
    ]
    tables.append(
        (
            f"across Salt versions (separate processes): Salt 3007's under {versions['3007']},"
            f" ours under {versions['this venv']}",
            [("3007", "theirs"), ("this venv", "text"), ("this venv", "pickle")],
        )
    )
    for title, sides in tables:
        print(title)
        for clock, what in enumerate(("wall clock", "CPU time")):
            print(f"  {what + ', ms':<20}{'Salt 3007 pickle':>18}{'ours text':>12}"
                  f"{'ours pickle':>13}{'ratio text':>12}{'ratio pickle':>14}")  # fmt: skip
            for name in returns:
                for kind in kinds:
                    found = [ms(venv, name, label, kind, clock=clock) for venv, label in sides]
                    print(
                        f"  {name + ', ' + kind:<20}{found[0]:>15.3f} ms{found[1]:>9.3f} ms"
                        f"{found[2]:>10.3f} ms{found[0] / found[1]:>11.2f}x"
                        f"{found[0] / found[2]:>13.2f}x"
                    )
    print("connections per return: 1, counted for every call of both sides")
    if args.stages:
        for name in returns:
            print(f"our stages, pickle, {name}: median us{'warm':>10}{'cold':>10}")
            warm = times["this venv", name, "stages", "warm"]
            cold = times.get(("this venv", name, "stages", "cold"), [[0.0] * len(STAGES)])
            for i, stage in enumerate([*STAGES, "sum of the stages"]):

                def median_us(runs, i=i):
                    return (
                        statistics.median(sum(r) if i == len(STAGES) else r[i] for r in runs) * 1e6
                    )

                print(f"  {stage:<38}{median_us(warm):>10.1f}{median_us(cold):>10.1f}")
            if args.cold:
                footprints = {
                    side: [statistics.median(run[i] for run in times[
                               "this venv", name, key, "footprint"]) for i in (0, 1)]
                    for side, key in (("Salt 3007's", "theirs"), ("ours", "pickle"))
                }  # fmt: skip
                print(
                    f"  cold return under Salt {versions['this venv']}, Python functions executed"
                    " (distinct / calls): "
                    + ", ".join(f"{side} {d:.0f} / {c:.0f}" for side, (d, c) in footprints.items())
                )
    for name, rate in serializer_rates().items():
        print(f"serializer {name:<22}{rate / 1e3:>8.0f} k points/s, best of 5 (goal >= 300 k)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--side"]:
        side(json.load(sys.stdin))
    else:
        main()

"""The spine end to end: salt-run vitals.pollpush -> minions -> carbon returner -> whisper.

Everything is real: a salt-master, two salt-minions and a carbon-cache writing whisper files.
Assertions read the values back from whisper and compare them with what the minion reports.
"""

import os
import socket
import subprocess
import sys
import time

import pytest

from support.stack import MINION_IDS, SCHEDULE_PREFIX


def _metric(minion, *parts, prefix="vitals"):
    return ".".join((prefix, minion.replace(".", "_")) + parts)


def _value_at(carbon, path, ts, timeout=20):
    """The whisper value of ``path`` at second ``ts`` (waits for carbon to write it)."""
    points = carbon.wait_for_points(path, 1, timeout=timeout, from_ts=int(ts), until_ts=int(ts))
    return points[0][1]


def _push(salt_cli, minion, **kwargs):
    ret = salt_cli.run("vitals.push", minion_tgt=minion, **kwargs)
    assert ret.returncode in (0, 1), ret
    return ret.data


def test_pollpush_returns_at_once_and_every_minion_lands(salt_run_cli, carbon):
    started = time.monotonic()
    ret = salt_run_cli.run("vitals.pollpush")
    assert ret.returncode == 0, ret
    assert ret.data["jid"]
    assert ret.data["published"]["fun"] == "vitals.push"
    assert time.monotonic() - started < 30  # it never waits for minions (CLI start included)
    for minion in MINION_IDS:
        for field in (("cpu", "percent"), ("mem", "total"), ("load", "load1"), ("system", "procs")):
            carbon.wait_for_metric(_metric(minion, *field), timeout=60)


def test_pollpush_forwards_collection_options_to_the_minions(salt_run_cli, carbon):
    ret = salt_run_cli.run(
        "vitals.pollpush", "groups=load", 'ret_kwargs={"prefix": "forwarded"}', "samples=1"
    )
    assert ret.returncode == 0, ret
    assert ret.data["published"]["kwarg"] == {
        "groups": ["load"],
        "ret_kwargs": {"prefix": "forwarded"},
    }
    for minion in MINION_IDS:
        for name in ("load1", "load5", "load15"):
            carbon.wait_for_metric(_metric(minion, "load", name, prefix="forwarded"), timeout=60)
    time.sleep(2)  # anything else of the same payload would be written by now
    written = [m for m in carbon.metrics() if m.startswith("forwarded.")]
    assert {m.split(".")[2] for m in written} == {"load"}, written


def test_values_in_whisper_match_vitals_current(salt_cli, carbon):
    minion = MINION_IDS[0]
    receipt = _push(salt_cli, minion)
    assert receipt["carbon"] == "sent", receipt
    ts = receipt["ts"]
    reported = salt_cli.run("vitals.current", minion_tgt=minion).data
    assert _value_at(carbon, _metric(minion, "mem", "total"), ts) == reported["mem"]["total"]
    assert _value_at(carbon, _metric(minion, "cpu", "count"), ts) == reported["cpu"]["count"]
    root = reported["disk"].get("/")
    if root is not None:
        assert _value_at(carbon, _metric(minion, "disk", "root", "total"), ts) == root["total"]
    load1 = _value_at(carbon, _metric(minion, "load", "load1"), ts)
    assert load1 == pytest.approx(reported["load"]["load1"], abs=2.0)
    mem_percent = _value_at(carbon, _metric(minion, "mem", "percent"), ts)
    assert mem_percent == pytest.approx(reported["mem"]["percent"], abs=10)


def test_receipt_keeps_the_payload_off_the_master(salt_master, salt_run_cli, carbon):
    """The master's job cache gets a small constant receipt instead of the full return."""
    sizes = {}
    for mode in ("push", "return"):
        jid = salt_run_cli.run("vitals.pollpush", f"mode={mode}").data["jid"]
        sizes[mode] = _job_cache_bytes(salt_master, jid, len(MINION_IDS))
    for minion in MINION_IDS:
        assert sizes["push"][minion] <= 0.10 * sizes["return"][minion], sizes
    print(f"\nmaster bytes per minion per cycle: {sizes}")


def _job_cache_bytes(salt_master, jid, expected, timeout=60):
    """Size of each minion's stored return (msgpack ``return.p``) for ``jid``."""
    jobs = os.path.join(salt_master.config["cachedir"], "jobs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {}
        for root, _dirs, files in os.walk(jobs):
            if "return.p" in files and _jid_of(root) == jid:
                with open(os.path.join(root, "return.p"), "rb") as handle:
                    found[os.path.basename(root)] = len(handle.read())
        if len(found) >= expected:
            return found
        time.sleep(0.5)
    raise AssertionError(f"job {jid} returned from {found} only")


def _jid_of(minion_dir):
    jid_file = os.path.join(os.path.dirname(minion_dir), "jid")
    try:
        with open(jid_file, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def test_plain_salt_return_path_and_generic_functions(salt_cli, carbon):
    minion = MINION_IDS[1]
    ret = salt_cli.run(
        "vitals.current",
        minion_tgt=minion,
        **{"--return": "carbon", "--return_kwargs": '{"prefix": "plain"}'},
    )
    assert ret.returncode == 0, ret
    carbon.wait_for_metric(_metric(minion, "mem", "total", prefix="plain"), timeout=30)
    ret = salt_cli.run("status.loadavg", minion_tgt=minion, **{"--return": "carbon"})
    assert ret.returncode == 0, ret
    path = _metric(minion, "status", "loadavg", "1-min")
    points = carbon.wait_for_points(path, 1, timeout=30)
    assert points[-1][1] == pytest.approx(ret.data["1-min"], abs=2.0)


def test_pickle_protocol_lands_too(salt_cli, carbon):
    minion = MINION_IDS[0]
    receipt = _push(
        salt_cli,
        minion,
        ret_kwargs={"mode": "pickle", "port": carbon.pickle_port, "prefix": "pickled"},
    )
    assert receipt["carbon"] == "sent", receipt
    reported_total = _value_at(
        carbon, _metric(minion, "mem", "total", prefix="pickled"), receipt["ts"]
    )
    assert reported_total == salt_cli.run("vitals.current", minion_tgt=minion).data["mem"]["total"]


def test_master_schedule_fires_on_its_own(carbon):
    for minion in MINION_IDS:
        carbon.wait_for_points(
            _metric(minion, "cpu", "percent", prefix=SCHEDULE_PREFIX), 2, timeout=60
        )


def test_cpu_percent_follows_a_busy_core(salt_cli):
    minion = MINION_IDS[0]
    core = os.cpu_count() - 1
    salt_cli.run("vitals.current", minion_tgt=minion)  # reference counters
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import os,time; os.sched_setaffinity(0,{{{core}}})\n"
            "end=time.time()+6\nwhile time.time()<end: pass",
        ]
    )
    try:
        time.sleep(2)
        salt_cli.run("vitals.current", minion_tgt=minion)
        time.sleep(2)
        data = salt_cli.run("vitals.current", minion_tgt=minion).data
    finally:
        busy.kill()
        busy.wait()
    assert data["cores"][str(core)]["percent"] > 70, data["cores"]
    assert data["cpu"]["percent"] > 100 / os.cpu_count() * 0.7, data["cpu"]


def test_dead_carbon_never_hangs_the_job_and_nothing_is_lost(salt_cli, carbon):
    minion = MINION_IDS[1]
    with _blackholed_port() as port:
        started = time.monotonic()
        receipt = _push(salt_cli, minion, ret_kwargs={"port": port, "timeout": 1})
        elapsed = time.monotonic() - started
    assert receipt["carbon"].startswith("spooled"), receipt
    print(f"\njob against a blackholed carbon (timeout 1 s): {elapsed:.2f} s including the CLI")
    assert elapsed < 30
    # The next successful job (this one, or the master schedule's, which shares the spool)
    # replays the spooled points, which land with their collection time.
    after = _push(salt_cli, minion)
    assert after["carbon"] == "sent", after
    carbon.wait_for_points(
        _metric(minion, "mem", "total"),
        1,
        from_ts=int(receipt["ts"]),
        until_ts=int(receipt["ts"]),
        timeout=30,
    )
    assert (
        salt_cli.run("vitals.spool", "carbon", minion_tgt=minion).data["carbon-default"]["points"]
        == 0
    )


class _blackholed_port:
    """A listening socket that never accepts, its one-slot backlog already full: a connect to
    it hangs like one to a host that drops packets."""

    def __enter__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        port = self.server.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            self.fillers.append(filler)
        time.sleep(0.2)
        return port

    def __exit__(self, *exc):
        for sock in self.fillers + [self.server]:
            sock.close()


def test_minion_side_schedule_with_returner(salt_cli, carbon):
    """The minion-side alternative: the minion's own scheduler runs vitals.current with
    ``returner: carbon`` (as in examples/minion.d/vitals-schedule.conf)."""
    minion = MINION_IDS[1]
    ret = salt_cli.run(
        "schedule.add",
        "vitals-local",
        function="vitals.current",
        seconds=2,
        returner="carbon",
        return_kwargs='{"prefix": "minionsched"}',
        return_job=False,
        minion_tgt=minion,
    )
    assert ret.returncode == 0, ret
    try:
        carbon.wait_for_points(_metric(minion, "mem", "total", prefix="minionsched"), 2, timeout=40)
    finally:
        salt_cli.run("schedule.delete", "vitals-local", minion_tgt=minion)

"""Push mode: option parsing, the off-path delivery workers (bounds, spool, replay) against real
loopback sockets through the returners' own pipeline, and the beacon runtime around them."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from salt_ext.core.beacon import beacon as vitals_beacon
from salt_ext.core.beacon.worker import DeliveryWorker, Pusher, parse_push
from salt_ext.core.collect.collection import validate_options
from salt_ext.core.delivery.delivery import DeliveryResult
from salt_ext.core.delivery.spool import Spool
from salt_ext.core.errors import ConfigError
from salt_ext.core.jobs.push import job_return
from support.faults import BlackholeServer
from support.saltconfig import salt_funcs
from support.tcp import RecordingTcpServer

VITALS = {"ts": 1_700_000_000.0, "cpu": {"percent": 12.5, "count": 4}, "load": {"load1": 0.5}}
POINTS = 3


@pytest.fixture
def minion_opts(tmp_path):
    return {"id": "pi-01", "cachedir": str(tmp_path / "cache")}


def spooled_points(minion_opts, name="carbon-default"):
    spool = Spool(f"{minion_opts['cachedir']}/vitals/spool/{name}")
    return sum(spool.read(n).points for n in spool.names())


def spool_name(minion_opts, returner):
    root = f"{minion_opts['cachedir']}/vitals/spool"
    (name,) = [n for n in os.listdir(root) if n.startswith(f"{returner}-")]
    return name


def carbon_ret(port, ts=VITALS["ts"], timeout=0.5):
    return job_return("pi-01", {**VITALS, "ts": ts}, ret_kwargs={"port": port, "timeout": timeout})


# --- options ----------------------------------------------------------------------------------


def test_parse_push_defaults_and_ret_kwargs():
    opts, kwargs = parse_push({"returners": "carbon,influxdb", "port": 2013, "db": "x"})
    assert opts == {
        "returners": ["carbon", "influxdb"],
        "ret_config": "",
        "max_pending": 64,
        "spool_first": False,
    }
    assert kwargs == {"port": 2013, "db": "x"}
    assert parse_push(None)[0]["returners"] == ["carbon"]


@pytest.mark.parametrize(
    ("raw", "key", "text"),
    [
        ({"returners": "graphite"}, "returners", "unknown returner 'graphite'"),
        ({"returners": ""}, "returners", "name at least one returner"),
        ({"returners": "carbon", "port": "twenty"}, "port", "expected an integer"),
        ({"returners": "carbon", "mode": "json"}, "mode", "must be one of text, pickle"),
        ({"returners": "carbon", "db": "x"}, "db", "unknown option"),
        ({"returners": "carbon", "max_pending": 0}, "max_pending", "at least 1"),
    ],
)
def test_parse_push_errors_name_the_key(raw, key, text):
    with pytest.raises(ConfigError) as err:
        parse_push(raw)
    assert err.value.key == f"beacons:vitals:push:{key}"
    assert text in str(err.value)


def test_parse_push_never_echoes_a_secret():
    with pytest.raises(ConfigError) as err:
        parse_push({"returners": "influxdb", "password": ["s3cret-pw"]})
    assert "s3cret-pw" not in str(err.value) and "beacons:vitals:push:password" in str(err.value)


def test_parse_push_leaves_checks_across_options_to_delivery():
    # the password may come from the influxdb: settings of the minion or pillar
    assert parse_push({"returners": "influxdb", "user": "vitals"})[1] == {"user": "vitals"}


def test_parse_push_must_be_a_dict():
    with pytest.raises(ConfigError, match="beacons:vitals:push: must be a dict"):
        parse_push("carbon")


# --- delivery workers -------------------------------------------------------------------------


def test_worker_delivers_through_the_returner_pipeline(minion_opts):
    with RecordingTcpServer() as carbon:
        worker = DeliveryWorker("carbon", salt_funcs({}), minion_opts)
        worker.submit(carbon_ret(carbon.port))
        assert worker.wait_idle(10)
        carbon.settle()
        lines = carbon.lines()
    assert b"vitals.pi-01.cpu.percent 12.5 1700000000" in lines
    assert b"vitals.pi-01.load.load1 0.5 1700000000" in lines
    assert len(lines) == POINTS
    assert worker.stats["sent"] == POINTS and spooled_points(minion_opts) == 0


def test_dead_backend_spools_and_the_next_success_replays_it(minion_opts):
    carbon = RecordingTcpServer()  # bound, not listening: refused
    try:
        worker = DeliveryWorker("carbon", salt_funcs({}), minion_opts)
        for ts in (1, 2, 3):
            worker.submit(carbon_ret(carbon.port, ts=1_700_000_000.0 + ts))
            assert worker.wait_idle(10)
        assert spooled_points(minion_opts) == 3 * POINTS
        carbon.listen()
        worker.submit(carbon_ret(carbon.port, ts=1_700_000_004.0))
        assert worker.wait_idle(10)
        carbon.settle()
        lines = carbon.lines()
    finally:
        carbon.close()
    assert len(lines) == 4 * POINTS and len(set(lines)) == 4 * POINTS  # 0 lost, none twice
    assert spooled_points(minion_opts) == 0
    assert worker.stats["replayed"] == 3 * POINTS


def test_submit_never_waits_for_a_black_holing_backend(minion_opts):
    # InfluxDB over HTTP waits for an answer that never comes (carbon plaintext would count a
    # small payload sent into the kernel's buffers as delivered).
    with BlackholeServer() as hole:
        worker = DeliveryWorker("influxdb", salt_funcs({}), minion_opts)
        kwargs = {"url": f"http://127.0.0.1:{hole.port}", "timeout": 1.0, "create_database": False}
        started = time.monotonic()
        for ts in range(5):
            vitals = {**VITALS, "ts": 1_700_000_000.0 + ts}
            worker.submit(job_return("pi-01", vitals, ret_kwargs=kwargs))
        submitting = time.monotonic() - started
        assert worker.wait_idle(30)
    # the first payload waited for its timeout; the four that arrived meanwhile went straight
    # to the spool once it returned, without a network attempt each
    assert submitting < 0.5
    assert spooled_points(minion_opts, spool_name(minion_opts, "influxdb")) == 5 * POINTS
    assert worker.stats["spooled"] == 5 * POINTS
    assert worker.stats["sent"] == 0


class GatedSend:
    """A ``send`` that blocks until released, recording the backend and action of each call
    (``spool`` calls go through: they never wait for the network)."""

    def __init__(self):
        self.gate = threading.Event()
        self.calls = []

    def __call__(self, backend, ret, salt_funcs, opts, action="deliver"):
        self.calls.append((type(backend).__name__, action, ret["return"]["ts"]))
        if action == "spool":
            return DeliveryResult(points=1, spooled=1)
        self.gate.wait(10)
        return DeliveryResult(points=1, sent=1)


def test_one_delivery_in_flight_the_rest_waits_then_spools(minion_opts):
    send = GatedSend()
    worker = DeliveryWorker("carbon", {}, minion_opts, max_pending=2, send=send)
    worker.submit(carbon_ret(1, ts=1))
    deadline = time.monotonic() + 5
    while not send.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    for ts in (2, 3, 4):  # 2 is dropped: only max_pending payloads wait in memory
        worker.submit(carbon_ret(1, ts=ts))
    assert worker.stats["dropped_payloads"] == 1
    send.gate.set()
    assert worker.wait_idle(10)
    assert send.calls == [
        ("CarbonBackend", "deliver", 1),
        ("CarbonBackend", "spool", 3),
        ("CarbonBackend", "deliver", 4),
    ]


def test_spool_only_path_uses_the_returners_spool(minion_opts):
    with BlackholeServer() as hole:
        worker = DeliveryWorker("carbon", salt_funcs({}), minion_opts)
        started = time.monotonic()
        worker._deliver("spool", carbon_ret(hole.port, timeout=5))
        assert time.monotonic() - started < 1.0  # no network attempt
    assert spooled_points(minion_opts) == POINTS
    assert Spool(f"{minion_opts['cachedir']}/vitals/spool/carbon-default").names()


def test_pusher_one_worker_per_returner(minion_opts):
    send = GatedSend()
    send.gate.set()
    pusher = Pusher({}, minion_opts, send=send)
    push_opts, kwargs = parse_push({"returners": "carbon,influxdb"})
    for _ in range(2):
        pusher.push(VITALS, push_opts, kwargs)
        assert set(pusher.workers) == {"carbon", "influxdb"}
        assert all(w.wait_idle(5) for w in pusher.workers.values())
    assert sorted(send.calls) == sorted(
        [("CarbonBackend", "deliver", VITALS["ts"])] * 2
        + [("InfluxBackend", "deliver", VITALS["ts"])] * 2
    )


def wait_for_calls(send, n):
    deadline = time.monotonic() + 5
    while len(send.calls) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(send.calls) >= n, send.calls


def test_spool_pending_writes_what_waits_and_the_thread_goes_on(minion_opts):
    send = GatedSend()
    worker = DeliveryWorker("carbon", {}, minion_opts, send=send)
    worker.submit(carbon_ret(1, ts=1))
    wait_for_calls(send, 1)
    worker.submit(carbon_ret(1, ts=2))
    worker.submit(carbon_ret(1, ts=3))
    assert worker.spool_pending() == 2
    send.gate.set()
    assert worker.wait_idle(5)
    worker.submit(carbon_ret(1, ts=4))
    assert worker.wait_idle(5)
    assert send.calls == [
        ("CarbonBackend", "deliver", 1),
        ("CarbonBackend", "spool", 2),
        ("CarbonBackend", "spool", 3),
        ("CarbonBackend", "deliver", 4),
    ]


def push_three(pusher, returners="carbon"):
    push_opts, kwargs = parse_push({"returners": returners})
    for ts in (1, 2, 3):
        pusher.push({**VITALS, "ts": ts}, push_opts, kwargs)
        if ts == 1:
            wait_for_calls(pusher._send, 1)


def test_stop_spools_what_waits_and_a_copy_of_the_delivery_in_flight(minion_opts):
    send = GatedSend()
    pusher = Pusher({}, minion_opts, send=send)
    push_three(pusher)
    started = time.monotonic()
    pusher.stop(grace=0.3)
    assert 0.3 <= time.monotonic() - started < 5
    send.gate.set()
    assert send.calls == [
        ("CarbonBackend", "deliver", 1),
        ("CarbonBackend", "spool", 2),
        ("CarbonBackend", "spool", 3),
        ("CarbonBackend", "spool", 1),  # still in flight after the grace: a copy
    ]


def test_stop_copies_nothing_when_the_delivery_in_flight_returns_in_time(minion_opts):
    send = GatedSend()
    pusher = Pusher({}, minion_opts, send=send)
    push_three(pusher)
    threading.Timer(0.2, send.gate.set).start()
    pusher.stop(grace=5)
    assert [call[1:] for call in send.calls] == [("deliver", 1), ("spool", 2), ("spool", 3)]


def test_close_spools_what_the_beacon_holds_in_memory(minion_opts):
    send = GatedSend()
    beacon = vitals_beacon.beacon_for("close-test", {}, minion_opts)
    beacon.pusher = Pusher({}, minion_opts, send=send)
    try:
        push_three(beacon.pusher)
        assert vitals_beacon.close("close-test") == 2
        assert vitals_beacon.close("never-ran") == 0
    finally:
        send.gate.set()
        vitals_beacon.RUNNING.pop("close-test", None)
    assert beacon.pusher.workers["carbon"].wait_idle(5)


def test_spool_first_writes_before_the_push_returns_then_delivers_from_the_spool(minion_opts):
    carbon = RecordingTcpServer()  # bound, not listening: refused
    try:
        pusher = Pusher(salt_funcs({}), minion_opts)
        push_opts, kwargs = parse_push({"returners": "carbon", "spool_first": True})
        kwargs = {"port": carbon.port, "timeout": 0.5}
        for ts in (1, 2, 3):
            pusher.push({**VITALS, "ts": 1_700_000_000.0 + ts}, push_opts, kwargs)
            assert spooled_points(minion_opts) >= ts * POINTS  # on disk when push() returns
        worker = pusher.workers["carbon"]
        assert worker.wait_idle(10)
        assert spooled_points(minion_opts) == 3 * POINTS
        carbon.listen()
        pusher.push({**VITALS, "ts": 1_700_000_004.0}, push_opts, kwargs)
        assert worker.wait_idle(10)
        carbon.settle()
        lines = carbon.lines()
    finally:
        carbon.close()
    assert len(lines) == 4 * POINTS and len(set(lines)) == 4 * POINTS  # 0 lost, none twice
    assert spooled_points(minion_opts) == 0
    assert worker.stats["spooled"] == worker.stats["replayed"] == 4 * POINTS


EXITING_MINION = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from salt_ext.core.beacon import worker as pushing

    RUNNING = []  # as salt_ext.core.beacon.beacon.RUNNING keeps a beacon's pusher

    def main(port, cachedir, go):
        def option(key, default=None, **_):
            return "" if default is None else default
        pusher = pushing.Pusher({"config.option": option}, {"id": "pi-01", "cachedir": cachedir})
        RUNNING.append(pusher)
        push_opts, kwargs = pushing.parse_push(
            {"returners": "influxdb", "url": f"http://127.0.0.1:{port}", "timeout": 60,
             "create_database": False}
        )
        vitals = {"cpu": {"percent": 12.5, "count": 4}, "load": {"load1": 0.5}}
        for ts in range(4):
            pusher.push({**vitals, "ts": 1_700_000_000.0 + ts}, push_opts, kwargs)
        print("pushed", flush=True)
        while not os.path.exists(go):
            time.sleep(0.02)
        sys.exit(0)  # what Salt does on SIGTERM, from its signal handler

    if sys.argv[1] == "child":  # Salt's keep-alive parent runs the minion like this
        child = multiprocessing.get_context("fork").Process(target=main, args=sys.argv[2:])
        child.start()
        child.join()
        sys.exit(child.exitcode)
    main(*sys.argv[2:])
    """
)


@pytest.mark.parametrize("how", ["main", "child"])
def test_exit_spools_what_waits_and_what_is_in_flight(tmp_path, how):
    cachedir, go = tmp_path / "cache", tmp_path / "go"
    with BlackholeServer() as hole:
        proc = subprocess.Popen(
            [sys.executable, "-c", EXITING_MINION, how, str(hole.port), str(cachedir), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "pushed"
            deadline = time.monotonic() + 10
            while not hole.accepted and time.monotonic() < deadline:
                time.sleep(0.02)
            go.touch()
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
            proc.wait()
    root = cachedir / "vitals" / "spool"
    (name,) = os.listdir(root)
    spool = Spool(str(root / name))
    payloads = [spool.read(n).payload for n in spool.names()]
    stamps = sorted(line.rsplit(b" ", 1)[1] for p in payloads for line in p.splitlines())
    # the collections that waited, and a copy of the one in flight: all four, once each
    assert stamps == sorted(b"%d" % (1_700_000_000 + ts) for ts in range(4) for _ in range(2))
    assert spool.status()["points"] == 4 * POINTS


# --- the beacon runtime -----------------------------------------------------------------------


def parsed(config):
    return vitals_beacon.parse_config(config)


def test_beacon_pushes_every_enabled_group_and_fires_rules(minion_opts):
    with RecordingTcpServer() as carbon:
        beacon = vitals_beacon.VitalsBeacon(salt_funcs({}), minion_opts)
        config = parsed(
            [
                {"interval": 10},
                {"rules": {"up": {"metric": "system.uptime", "above": 0}}},
                {"push": {"returners": "carbon", "port": carbon.port}},
            ]
        )
        events = beacon.run(config, validate_options({"exclude_groups": ["pi"]}))
        assert [e["tag"] for e in events] == ["up/tripped"]
        time.sleep(0.6)  # past min_rate_interval: the second run has rates
        assert beacon.run(config, validate_options({"exclude_groups": ["pi"]})) == []
        assert beacon.pusher.workers["carbon"].wait_idle(10)
        carbon.settle()
        paths = {line.split()[0].decode() for line in carbon.lines()}
    assert "vitals.pi-01.mem.percent" in paths and "vitals.pi-01.system.uptime" in paths
    assert "vitals.pi-01.cpu.percent" in paths  # the in-memory rate reference worked
    assert not any(".pi." in p.replace("pi-01", "") for p in paths)


def test_push_sends_only_enabled_groups_even_when_rules_read_more(minion_opts):
    with RecordingTcpServer() as carbon:
        beacon = vitals_beacon.VitalsBeacon(salt_funcs({}), minion_opts)
        config = parsed(
            [
                {"rules": {"up": {"metric": "system.uptime", "above": 0}}},
                {"push": {"returners": "carbon", "port": carbon.port}},
            ]
        )
        events = beacon.run(config, validate_options({"groups": ["mem"]}))
        assert [e["tag"] for e in events] == ["up/tripped"]  # system was read for the rule
        assert beacon.pusher.workers["carbon"].wait_idle(10)
        carbon.settle()
        groups = {line.split()[0].decode().split(".")[2] for line in carbon.lines()}
    assert groups == {"mem"}


def test_beacon_reads_only_the_groups_its_rules_need(minion_opts, monkeypatch):
    seen = []
    real = vitals_beacon.collect.read_snapshot

    def spy(options, **kwargs):
        seen.append(options["groups"])
        return real(options, **kwargs)

    monkeypatch.setattr(vitals_beacon.collect, "read_snapshot", spy)
    beacon = vitals_beacon.VitalsBeacon({}, minion_opts)
    config = parsed(
        [
            {
                "rules": {
                    "a": {"metric": "load.load1", "above": 1e9},
                    "b": {"metric": "disk./.percent", "above": 100},
                }
            }
        ]
    )
    assert beacon.run(config, validate_options({"exclude_groups": ["disk"]})) == []
    assert seen == [["disk", "load"]]


def test_beacon_state_survives_a_loader_reload(minion_opts):
    vitals_beacon.RUNNING.pop("reload-test", None)
    config = parsed([{"rules": {"up": {"metric": "system.uptime", "above": 0}}}])
    first = vitals_beacon.beacon_for("reload-test", {}, minion_opts)
    assert len(first.run(config, validate_options({}))) == 1
    again = vitals_beacon.beacon_for("reload-test", {"new": "loader"}, minion_opts)
    assert again is first and again.run(config, validate_options({})) == []
    vitals_beacon.RUNNING.pop("reload-test", None)


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ([{"interval": 10}], "beacons:vitals: configure rules:, push: or both"),
        ([{"rule": {}}], "beacons:vitals:rule: unknown option"),
        ("rules", "beacons:vitals: must be a list of dicts"),
        ([{"rules": {"x": {"metric": "a", "below": "low"}}}], "beacons:vitals:rules:x:below"),
        ([{"push": {"returners": "carbon", "port": 0}}], "beacons:vitals:push:port"),
    ],
)
def test_parse_config_errors(config, text):
    with pytest.raises(ConfigError, match=text):
        parsed(config)


def test_parse_config_ignores_the_keys_salt_handles():
    found = parsed(
        [
            {"interval": 5},
            {"disable_during_state_run": True},
            {"rules": {"a": {"metric": "cpu.percent", "above": 1}}},
            {"_beacon_name": "vitals_hot"},
        ]
    )
    assert found.name == "vitals_hot" and found.push is None and list(found.rules) == ["a"]

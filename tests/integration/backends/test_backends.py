"""The launchers of vitals_daemons (daemons/) and the fault servers of tests/support/faults.py
work against real daemons."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, TypeVar

import pytest
import requests

from support.faults import BlackholeServer, SlowHTTPServer
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import (
    BackendError,
    BackendUnavailable,
    _Daemon,
    free_port,
    refused_port,
)
from vitals_daemons.victoria_metrics import VictoriaMetrics

pytestmark = pytest.mark.integration

D = TypeVar("D", bound=_Daemon)


def _running(factory: Callable[[], D]) -> Iterator[D]:
    """Yield a started daemon, skip if its executable is missing, always stop it."""
    try:
        daemon = factory()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with daemon:
        pid = daemon.pid
        assert pid is not None
        yield daemon
    assert daemon.pid is None and not daemon.running
    _assert_gone(pid)


def _assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.fixture
def carbon(tmp_path: Path) -> Iterator[CarbonCache]:
    yield from _running(lambda: CarbonCache(tmp_path / "carbon"))


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[InfluxD]:
    yield from _running(lambda: InfluxD(tmp_path / "influxd"))


@pytest.fixture
def influxd_auth(tmp_path: Path) -> Iterator[InfluxD]:
    yield from _running(lambda: InfluxD(tmp_path / "influxd-auth", auth=True))


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    yield from _running(lambda: VictoriaMetrics(tmp_path / "vm", graphite=True))


# -- carbon -----------------------------------------------------------------


def test_carbon_plaintext_and_pickle_round_trip(carbon: CarbonCache) -> None:
    now = int(time.time())
    with socket.create_connection((carbon.host, carbon.line_port), timeout=5) as sock:
        sock.sendall(f"t.node1.cpu.user 1.5 {now - 10}\nt.node1.cpu.user 2.5 {now - 5}\n".encode())
    payload = pickle.dumps([("t.node1.mem.used", (now - 3, 42.0))], protocol=2)
    with socket.create_connection((carbon.host, carbon.pickle_port), timeout=5) as sock:
        sock.sendall(struct.pack("!L", len(payload)) + payload)

    assert carbon.wait_for_points("t.node1.cpu.user", 2) == [(now - 10, 1.5), (now - 5, 2.5)]
    assert carbon.wait_for_points("t.node1.mem.used", 1) == [(now - 3, 42.0)]
    assert carbon.metrics() == ["t.node1.cpu.user", "t.node1.mem.used"]
    assert carbon.metric_file("t.node1.cpu.user").is_file()
    # Bounds are inclusive.
    assert carbon.fetch("t.node1.cpu.user", from_ts=now - 5, until_ts=now - 5) == [(now - 5, 2.5)]
    assert carbon.fetch("t.node1.cpu.user", from_ts=now - 10, until_ts=now - 6) == [(now - 10, 1.5)]
    assert carbon.fetch("no.such.metric") == []


def test_carbon_files_stay_under_root(carbon: CarbonCache, tmp_path: Path) -> None:
    assert carbon.whisper_dir.is_relative_to(tmp_path)
    assert (carbon.root / "conf" / "storage-schemas.conf").is_file()
    assert carbon.startup_seconds is not None and carbon.startup_seconds < 30
    assert carbon.log_path.is_file()


# -- influxd ----------------------------------------------------------------


def test_influxd_write_and_query_without_auth(influxd: InfluxD) -> None:
    influxd.query("CREATE DATABASE vitals")
    response = requests.post(
        f"{influxd.url}/write",
        params={"db": "vitals", "precision": "s"},
        data=b"cpu,host=n1,cpu=total usage=12.5,count=3i 1700000000\n"
        b"cpu,host=n2,cpu=total usage=7 1700000010\n",
        timeout=10,
    )
    assert response.status_code == 204, response.text

    assert influxd.points("cpu", "vitals") == [
        {"time": 1700000000, "host": "n1", "cpu": "total", "usage": 12.5, "count": 3},
        {"time": 1700000010, "host": "n2", "cpu": "total", "usage": 7, "count": None},
    ]
    assert influxd.databases() == ["vitals"]
    [policy] = influxd.retention_policies("vitals")
    assert policy["name"] == "autogen" and policy["default"] is True


def test_influxd_with_auth(influxd_auth: InfluxD) -> None:
    url = influxd_auth.url
    anonymous = requests.post(f"{url}/query", data={"q": "SHOW DATABASES"}, timeout=10)
    assert anonymous.status_code == 401
    wrong = requests.post(
        f"{url}/query", data={"q": "SHOW DATABASES"}, auth=("admin", "nope"), timeout=10
    )
    assert wrong.status_code == 401

    influxd_auth.query("CREATE DATABASE vitals")
    influxd_auth.create_user("writer", "w-secret")
    influxd_auth.query('GRANT WRITE ON "vitals" TO "writer"')
    line = b"mem,host=n1 used=1024i 1700000000"
    unauthenticated = requests.post(
        f"{url}/write", params={"db": "vitals", "precision": "s"}, data=line, timeout=10
    )
    assert unauthenticated.status_code == 401
    written = requests.post(
        f"{url}/write",
        params={"db": "vitals", "precision": "s", "u": "writer", "p": "w-secret"},
        data=line,
        timeout=10,
    )
    assert written.status_code == 204, written.text

    assert influxd_auth.points("mem", "vitals") == [
        {"time": 1700000000, "host": "n1", "used": 1024}
    ]
    users = influxd_auth.query("SHOW USERS")["results"][0]["series"][0]["values"]
    assert sorted(users) == [["admin", True], ["writer", False]]


# -- VictoriaMetrics --------------------------------------------------------


def test_victoria_metrics_influx_v2_write(victoria: VictoriaMetrics) -> None:
    now = int(time.time())
    lines = f"cpu,host=n1 usage=12.5,busy=true {now - 2}\ncpu,host=n1 usage=13 {now - 1}\n"
    response = requests.post(
        f"{victoria.url}/api/v2/write",
        params={"org": "ops", "bucket": "vitals", "precision": "s"},
        headers={"Authorization": "Token x"},
        data=lines.encode(),
        timeout=10,
    )
    assert response.status_code == 204, response.text

    [usage] = victoria.wait_for_series('{__name__="cpu_usage"}', min_samples=2)
    assert usage["metric"] == {"__name__": "cpu_usage", "host": "n1"}
    assert usage["values"] == [12.5, 13]
    assert usage["timestamps"] == [(now - 2) * 1000, (now - 1) * 1000]
    [busy] = victoria.export('{__name__="cpu_busy"}')
    assert busy["values"] == [1]


def test_victoria_metrics_graphite_listener(victoria: VictoriaMetrics) -> None:
    assert victoria.graphite_port is not None
    now = int(time.time())
    with socket.create_connection((victoria.host, victoria.graphite_port), timeout=5) as sock:
        sock.sendall(f"t.node1.load.1m 0.25 {now}\n".encode())
    [series] = victoria.wait_for_series('{__name__="t.node1.load.1m"}')
    assert series["values"] == [0.25] and series["timestamps"] == [now * 1000]


# -- lifecycle --------------------------------------------------------------


def test_daemon_stop_and_restart(tmp_path: Path) -> None:
    try:
        daemon = InfluxD(tmp_path / "influxd", auth=True)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with daemon:
        pid = daemon.pid
        assert pid is not None and daemon.running
        assert os.getpgid(pid) == pid  # own process group
        daemon.query("CREATE DATABASE vitals")
        daemon.write("up,host=n1 value=1i 1700000000", "vitals")
    _assert_gone(pid)
    daemon.stop()  # idempotent

    with daemon:  # same root and ports; the admin user already exists
        assert daemon.points("up", "vitals") == [{"time": 1700000000, "host": "n1", "value": 1}]


def test_failed_start_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    try:
        daemon = InfluxD(tmp_path / "influxd")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with socket.socket() as squatter:  # occupy the HTTP port: influxd must fail
        squatter.bind(("127.0.0.1", daemon.http_port))
        squatter.listen()
        with pytest.raises(BackendError, match="influxd exited"):
            daemon.start()
    assert daemon.pid is None and not daemon.running


# -- fault servers ----------------------------------------------------------


def test_blackhole_makes_sendall_time_out() -> None:
    with BlackholeServer() as hole:
        with socket.create_connection(hole.address, timeout=1) as sock:
            started = time.monotonic()
            with pytest.raises(socket.timeout):
                sock.sendall(b"x" * 10_000_000)
            assert time.monotonic() - started < 5
        assert hole.accepted == 1


def test_slow_http_server_delays_answer() -> None:
    with SlowHTTPServer(delay=2.0) as slow:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(f"{slow.url}/write", data=b"m v=1", timeout=0.5)
        assert slow.requests[0].method == "POST" and slow.requests[0].body == b"m v=1"
    with SlowHTTPServer(delay=0.2) as slow:
        started = time.monotonic()
        assert requests.get(f"{slow.url}/ping", timeout=5).status_code == 204
        assert time.monotonic() - started >= 0.2


def test_refused_and_free_ports() -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", refused_port()), timeout=1)
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20

"""Unit tests for salt_ext.core.delivery.delivery: the TCP transport against real loopback
sockets, and the Delivery logic (failover, round robin, spool, replay) with small fake
transports."""

import random
import socket
import threading
import time

import pytest

from salt_ext.core.delivery import delivery as delivery_module
from salt_ext.core.delivery.delivery import Delivery, DeliveryResult
from salt_ext.core.delivery.spool import Spool
from salt_ext.core.errors import DeliveryError
from salt_ext.core.net.tcp import TcpTransport
from support.faults import BlackholeServer
from support.tcp import RecordingTcpServer
from vitals_daemons.process import refused_port

TIMEOUT = 0.5
SLACK = 2.0  # generous: never a tight timed assertion


# -- helpers ------------------------------------------------------------------------------------


class FakeTransport:
    """Records payloads; raises DeliveryError while ``up`` is False (or ``fails(payload)``)."""

    def __init__(self, label, up=True, retryable=True, fails=None):
        self.label = label
        self.up = up
        self.retryable = retryable
        self.fails = fails or (lambda payload: not self.up)
        self.sent = []
        self.attempts = 0

    def send(self, payload):
        self.attempts += 1
        if self.fails(payload):
            raise DeliveryError(f"{self.label} is down", retryable=self.retryable)
        self.sent.append(payload)


class TickingClock:
    """Every call is one second later, so spooled records are strictly ordered."""

    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        self.now += 1
        return self.now


@pytest.fixture
def spool(tmp_path):
    return Spool(str(tmp_path / "spool"), clock=TickingClock())


def spooled(spool):
    return [spool.read(n).payload for n in spool.names()]


def prefill(spool, payloads):
    """Spool ``payloads`` (2 points each) the way failed deliveries would."""
    for payload in payloads:
        spool.append(payload, 2)


def elapsed(func, *args):
    started = time.monotonic()
    try:
        func(*args)
    except DeliveryError as exc:
        return time.monotonic() - started, exc
    raise AssertionError("DeliveryError expected")


# -- TcpTransport ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload", [b"vitals.pi-01.cpu.percent 12.5 1732240000\n" * 3, bytes(range(256)) * 20_000]
)
def test_tcp_transport_delivers_exact_bytes(payload):
    with RecordingTcpServer() as server:
        TcpTransport("127.0.0.1", server.port, timeout=5).send(payload)
        assert server.wait_for(1) == [payload]


def test_tcp_transport_one_connection_per_payload():
    with RecordingTcpServer() as server:
        transport = TcpTransport("127.0.0.1", server.port, timeout=5)
        transport.send(b"a 1 1\n")
        transport.send(b"b 2 2\n")
        assert server.wait_for(2) == [b"a 1 1\n", b"b 2 2\n"]
    assert transport.label == f"127.0.0.1:{server.port}"


def test_tcp_transport_refused_port_fails_quickly():
    port = refused_port()
    took, exc = elapsed(TcpTransport("127.0.0.1", port, timeout=5).send, b"x 1 1\n")
    assert took < SLACK
    assert str(exc) == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert exc.retryable is True


@pytest.fixture
def full_backlog():
    """A listening socket that never accepts, its backlog filled: new connects hang."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    try:
        for _ in range(16):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.settimeout(0.3)
            try:
                filler.connect(address)
            except socket.timeout:
                break
        else:
            pytest.skip("the kernel kept accepting connections into a full backlog")
        yield address
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def test_tcp_transport_connect_timeout_against_full_backlog(full_backlog):
    host, port = full_backlog
    took, exc = elapsed(TcpTransport(host, port, timeout=TIMEOUT).send, b"x 1 1\n")
    assert took < TIMEOUT + SLACK
    assert str(exc) == f"cannot connect to {host}:{port}: timed out"
    assert exc.retryable is True


def test_tcp_transport_send_timeout_when_peer_never_reads():
    payload = b"x" * (32 * 2**20)  # far more than both socket buffers hold
    with BlackholeServer() as server:
        transport = TcpTransport(server.host, server.port, timeout=TIMEOUT)
        took, exc = elapsed(transport.send, payload)
    assert took < TIMEOUT + SLACK
    assert str(exc) == f"sending to {server.host}:{server.port} failed: timed out"


class FakeSocket:
    def __init__(self, error=None):
        self.error = error
        self.calls = []

    def settimeout(self, value):
        self.calls.append(("settimeout", value))

    def sendall(self, payload):
        self.calls.append(("sendall", payload))
        if self.error:
            raise self.error

    def shutdown(self, how):
        self.calls.append(("shutdown", how))

    def close(self):
        self.calls.append(("close",))


def test_tcp_transport_uses_timeout_and_always_closes():
    sock = FakeSocket(ConnectionResetError(104, "Connection reset by peer"))
    connects = []

    def connect(address, timeout):
        connects.append((address, timeout))
        return sock

    transport = TcpTransport("carbon.example", 2004, timeout=1.5, connect=connect)
    with pytest.raises(DeliveryError) as info:
        transport.send(b"payload")
    assert str(info.value) == "sending to carbon.example:2004 failed: Connection reset by peer"
    assert connects == [(("carbon.example", 2004), 1.5)]
    assert sock.calls == [("settimeout", 1.5), ("sendall", b"payload"), ("close",)]

    sock.error = None
    transport.send(b"ok")
    assert sock.calls[-4:] == [
        ("settimeout", 1.5),
        ("sendall", b"ok"),
        ("shutdown", socket.SHUT_WR),
        ("close",),
    ]


# -- Delivery: sending -----------------------------------------------------------------------


def test_delivery_needs_a_transport():
    with pytest.raises(ValueError):
        Delivery([])


def test_first_transport_takes_it(spool):
    a, b = FakeTransport("a"), FakeTransport("b")
    result = Delivery([a, b], spool).deliver(b"p1", 3)
    assert (a.sent, b.attempts) == ([b"p1"], 0)
    assert (result.sent, result.destination, result.status) == (3, "a", "sent")
    assert spooled(spool) == []


def test_failover_to_second_transport(spool):
    a, b = FakeTransport("a", up=False), FakeTransport("b")
    result = Delivery([a, b], spool).deliver(b"p1", 3)
    assert (a.attempts, b.sent) == (1, [b"p1"])
    assert (result.destination, result.status, result.error) == ("b", "sent", None)
    assert spooled(spool) == []


def test_all_fail_spools(spool):
    a, b = FakeTransport("a", up=False), FakeTransport("b", up=False)
    result = Delivery([a, b], spool).deliver(b"p1", 3)
    assert (result.sent, result.spooled, result.dropped, result.status) == (0, 3, 0, "spooled")
    assert result.error == "a is down; b is down"
    assert spooled(spool) == [b"p1"]
    assert spool.status()["points"] == 3


def test_all_fail_without_spool_drops():
    result = Delivery([FakeTransport("a", up=False)]).deliver(b"p1", 3)
    assert (result.dropped, result.spooled, result.status) == (3, 0, "dropped")


def test_non_retryable_is_dropped_not_spooled(spool):
    a, b = FakeTransport("a", up=False, retryable=False), FakeTransport("b")
    result = Delivery([a, b], spool).deliver(b"p1", 3)
    assert (result.dropped, result.spooled, result.status) == (3, 0, "dropped")
    assert result.error == "a is down"
    assert b.attempts == 0  # the same bytes would be refused everywhere
    assert spooled(spool) == []


def test_empty_payload_sends_nothing(spool):
    a = FakeTransport("a")
    result = Delivery([a], spool).deliver(b"", 0)
    assert (a.attempts, result.status, result.destination) == (0, "sent", None)


def test_failover_order_never_shuffles(monkeypatch):
    def no_random(_):
        raise AssertionError("failover must not pick randomly")

    monkeypatch.setattr(delivery_module.random, "randrange", no_random)
    a, b = FakeTransport("a"), FakeTransport("b")
    for _ in range(5):
        Delivery([a, b]).deliver(b"p", 1)
    assert (len(a.sent), b.attempts) == (5, 0)


@pytest.mark.parametrize("start, first, second", [(0, "a", "b"), (1, "b", "a")])
def test_round_robin_starts_at_random_index_then_fails_over(monkeypatch, start, first, second):
    monkeypatch.setattr(delivery_module.random, "randrange", lambda n: start)
    transports = {"a": FakeTransport("a"), "b": FakeTransport("b")}
    deliver = Delivery(list(transports.values()), order="round_robin").deliver
    assert deliver(b"p", 1).destination == first
    transports[first].up = False
    assert deliver(b"p", 1).destination == second


def test_round_robin_spreads_load(monkeypatch):
    monkeypatch.setattr(delivery_module, "random", random.Random(1234))
    transports = [FakeTransport(label) for label in "abc"]
    delivery = Delivery(transports, order="round_robin")
    destinations = [delivery.deliver(b"p", 1).destination for _ in range(60)]
    assert set(destinations) == {"a", "b", "c"}


# -- Delivery: replay ---------------------------------------------------------------------------


def test_replay_after_success_oldest_first_in_chunks(spool):
    transport = FakeTransport("a", up=False)
    delivery = Delivery([transport], spool, replay_chunk_bytes=25)
    for payload in (b"old-1....\n", b"old-2....\n", b"old-3....\n"):
        assert delivery.deliver(payload, 2).status == "spooled"
    transport.up = True

    result = delivery.deliver(b"new\n", 1)
    assert transport.sent == [b"new\n", b"old-1....\nold-2....\n", b"old-3....\n"]
    assert (result.sent, result.replayed, result.status) == (1, 6, "sent")
    assert spooled(spool) == []


def test_replay_failure_keeps_everything(spool):
    prefill(spool, [b"r1", b"r2", b"r3"])
    transport = FakeTransport("a", fails=lambda payload: payload != b"new")
    result = Delivery([transport], spool, replay_chunk_bytes=1).deliver(b"new", 1)
    assert (result.status, result.replayed) == ("sent", 0)
    assert transport.attempts == 2  # replay stops at the first failing chunk
    assert spooled(spool) == [b"r1", b"r2", b"r3"]


def test_replay_failure_midway_keeps_the_rest(spool):
    prefill(spool, [b"r1", b"r2", b"r3"])
    transport = FakeTransport("a", fails=lambda payload: payload == b"r2")
    assert Delivery([transport], spool, replay_chunk_bytes=1).deliver(b"new", 1).replayed == 2
    assert transport.sent == [b"new", b"r1"]
    assert spooled(spool) == [b"r2", b"r3"]


def test_replay_rejected_chunk_is_dropped_and_replay_goes_on(spool):
    prefill(spool, [b"r1", b"bad", b"r3"])
    transport = FakeTransport("a", retryable=False, fails=lambda payload: payload == b"bad")
    result = Delivery([transport], spool, replay_chunk_bytes=1).deliver(b"new", 1)
    assert transport.sent == [b"new", b"r1", b"r3"]
    assert result.replayed == 4
    assert spooled(spool) == []


def test_replay_max_bytes_bounds_one_job(spool):
    prefill(spool, [b"0123456789"] * 4 + [b"newest...."])
    transport = FakeTransport("a")
    delivery = Delivery([transport], spool, replay_chunk_bytes=10, replay_max_bytes=25)
    assert delivery.deliver(b"new", 1).replayed == 4
    assert transport.sent == [b"new", b"0123456789", b"0123456789"]
    assert spooled(spool) == [b"0123456789", b"0123456789", b"newest...."]


def test_replay_while_another_job_replays_gets_zero(spool):
    prefill(spool, [b"r1", b"r2"])
    entered, release = threading.Event(), threading.Event()

    def slow(payload):
        entered.set()
        assert release.wait(10)
        return False

    first = Delivery([FakeTransport("a", fails=slow)], spool, replay_chunk_bytes=1)
    second_transport = FakeTransport("b")
    second = Delivery([second_transport], Spool(spool.directory))
    results = []
    thread = threading.Thread(target=lambda: results.append(first.replay()))
    thread.start()
    try:
        assert entered.wait(10)
        assert second.replay() == 0
        assert second_transport.attempts == 0
    finally:
        release.set()
        thread.join(10)
    assert results == [4]
    assert spooled(spool) == []


def test_replay_of_empty_spool(spool):
    transport = FakeTransport("a")
    assert Delivery([transport], spool).deliver(b"new", 1).replayed == 0
    assert transport.sent == [b"new"]


# -- DeliveryResult -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "result, status",
    [
        (DeliveryResult(), "sent"),
        (DeliveryResult(points=2, sent=2), "sent"),
        (DeliveryResult(points=2, spooled=2, error="e"), "spooled"),
        (DeliveryResult(points=2, dropped=2, error="e"), "dropped"),
        (DeliveryResult(points=2, sent=2, replayed=5), "sent"),
        (DeliveryResult(error="bad config"), "error"),
    ],
)
def test_delivery_result_status(result, status):
    assert result.status == status


# -- spooling first, replaying alone ----------------------------------------------------------


def test_spool_only_never_touches_the_network_and_a_replay_sends_it(spool, caplog):
    transport = FakeTransport("carbon")
    delivery = Delivery([transport], spool=spool)
    result = delivery.spool_only(b"first\n", 2)
    assert (result.status, result.spooled, result.error) == ("spooled", 2, None)
    assert transport.attempts == 0 and spooled(spool) == [b"first\n"]
    assert not caplog.records  # spooling first on purpose says nothing
    assert delivery.replay() == 2
    assert transport.sent == [b"first\n"] and spool.names() == []


def test_spool_only_without_a_spool_drops_and_says_why(caplog):
    result = Delivery([FakeTransport("carbon")]).spool_only(b"x\n", 3, "carbon is busy")
    assert (result.status, result.dropped) == ("dropped", 3)
    assert result.error == "carbon is busy; the spool is off (spool: false)"
    assert [r.message for r in caplog.records] == [
        "vitals: carbon is busy; the spool is off (spool: false); dropped 3 points"
    ]


def test_replay_enforces_the_bounds_before_it_lets_go(tmp_path):
    spool = Spool(str(tmp_path / "spool"), max_bytes=3 * (24 + 4), clock=TickingClock())
    prefill(spool, [b"r%d\n" % i for i in range(3)])
    transport = FakeTransport("carbon", fails=lambda payload: payload.startswith(b"r"))
    # what appends left while a replay held the lock: more than the bound
    with spool.locked():
        prefill(spool, [b"late\n"])
    assert len(spool.names()) == 4
    assert Delivery([transport], spool=spool).replay() == 0  # the backend refuses the replay
    assert spooled(spool) == [b"r1\n", b"r2\n", b"late\n"]
    assert spool.status()["dropped_points"] == 2

"""Unit tests of the TCP transport (salt_ext.core.net.tcp) against real loopback sockets: exact
bytes, one connection per payload, bounded connect and send timeouts, sockets always closed."""

import socket
import time

import pytest

from salt_ext.core.errors import DeliveryError
from salt_ext.core.net.tcp import TcpTransport
from support.faults import BlackholeServer
from support.tcp import RecordingTcpServer
from vitals_daemons.process import refused_port

TIMEOUT = 0.5
SLACK = 2.0  # generous: never a tight timed assertion


def elapsed(func, *args):
    started = time.monotonic()
    try:
        func(*args)
    except DeliveryError as exc:
        return time.monotonic() - started, exc
    raise AssertionError("DeliveryError expected")


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

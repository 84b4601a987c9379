"""Unit tests of salt_ext.core.net.resolve: name resolution counts against the timeout, so a
resolver that hangs cannot hang a job."""

import functools
import socket
import time

import pytest

from salt_ext.core.errors import DeliveryError
from salt_ext.core.net.resolve import create_connection, resolve
from salt_ext.core.net.tcp import TcpTransport
from support.tcp import RecordingTcpServer


def hanging_getaddrinfo(host, port, *args, **kwargs):
    if kwargs.get("flags") == socket.AI_NUMERICHOST:
        raise socket.gaierror("not a literal")
    time.sleep(30)


def test_address_literals_skip_the_resolver():
    def no_dns(host, port, *args, **kwargs):
        assert kwargs.get("flags") == socket.AI_NUMERICHOST, "asked the resolver"
        return socket.getaddrinfo(host, port, *args, **kwargs)

    assert resolve("127.0.0.1", 2003, 1, getaddrinfo=no_dns)[0][4] == ("127.0.0.1", 2003)
    assert resolve("fe80::1%lo", 2003, 1, getaddrinfo=no_dns)[0][0] == socket.AF_INET6


@pytest.mark.parametrize(
    "host, family, sockaddr",
    [
        ("127.0.0.1", socket.AF_INET, ("127.0.0.1", 2003)),
        ("::1", socket.AF_INET6, ("::1", 2003, 0, 0)),
    ],
)
def test_plain_address_literals_need_no_getaddrinfo_at_all(host, family, sockaddr):
    def never(*args, **kwargs):
        raise AssertionError("getaddrinfo called for an address literal")

    assert resolve(host, 2003, 1, getaddrinfo=never) == [
        (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)
    ]


def test_a_hanging_resolver_times_out():
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        resolve("carbon.example", 2003, 0.3, getaddrinfo=hanging_getaddrinfo)
    assert time.monotonic() - started < 5


def test_resolver_errors_pass_through():
    def failing(host, port, *args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    with pytest.raises(socket.gaierror):
        resolve("nowhere.invalid", 2003, 1, getaddrinfo=failing)


def test_tcp_transport_with_hanging_dns_is_a_delivery_error():
    connect = functools.partial(create_connection, getaddrinfo=hanging_getaddrinfo)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="timed out"):
        TcpTransport("carbon.example", 2003, timeout=0.3, connect=connect).send(b"a 1 1\n")
    assert time.monotonic() - started < 5


def test_create_connection_reaches_a_real_server():
    with RecordingTcpServer() as server:
        TcpTransport("localhost", server.port, timeout=2).send(b"a.b 1 1700000000\n")
        assert server.wait_for(1) == [b"a.b 1 1700000000\n"]

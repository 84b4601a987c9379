"""Connections whose name resolution is bounded by the timeout too.

``socket.create_connection`` applies its timeout to ``connect`` only: ``getaddrinfo`` can block
for the resolver's own timeouts and retries (10 s and more when a Pi's DNS server is away).
Here resolution runs in a daemon thread and the whole resolve-and-connect shares one deadline.
"""

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Optional


def resolve(
    host: str,
    port: int,
    timeout: float,
    getaddrinfo: Callable[..., list[Any]] = socket.getaddrinfo,
) -> list[Any]:
    """``getaddrinfo`` for a TCP connection, raising ``socket.timeout`` after ``timeout`` s."""
    for family, sockaddr in ((socket.AF_INET, (host, port)), (socket.AF_INET6, (host, port, 0, 0))):
        # An address literal needs no resolver at all. Even a numeric getaddrinfo costs ~0.3 ms
        # as the first call of a freshly forked job (every return of a minion).
        try:
            socket.inet_pton(family, host)
        except (OSError, TypeError):
            continue
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
    try:  # e.g. a scoped IPv6 literal
        return getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["addresses"] = getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    thread = threading.Thread(target=work, name="vitals-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise socket.timeout(f"resolving {host} timed out")
    if "error" in box:
        raise box["error"]
    addresses: list[Any] = box["addresses"]
    return addresses


def create_connection(
    address: tuple[str, int],
    timeout: float,
    source_address: Optional[tuple[str, int]] = None,
    getaddrinfo: Callable[..., list[Any]] = socket.getaddrinfo,
) -> socket.socket:
    """Like ``socket.create_connection``, but resolve + connect finish within ``timeout``."""
    host, port = address
    deadline = time.monotonic() + timeout
    last_error = None
    for family, kind, proto, _name, sockaddr in resolve(host, port, timeout, getaddrinfo):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(remaining)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            sock.settimeout(timeout)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or socket.timeout(f"connecting to {host}:{port} timed out")


def error_reason(exc: BaseException) -> str:
    """A short, secret-free reason for a network, TLS or HTTP error, for logs and receipts."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc.__class__.__name__})"
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    text = str(exc)
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__

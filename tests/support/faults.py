"""Misbehaving servers for fault tests (threads of the test process): a server that accepts and
never reads, and an HTTP server that answers slowly or with scripted replies."""

from __future__ import annotations

import select
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

from daemons import LOCALHOST, StartStop

# --------------------------------------------------------------------------
# Misbehaving servers (threads of the test process)
# --------------------------------------------------------------------------

_S = TypeVar("_S", bound="_FaultServer")


class _FaultServer(StartStop):
    """Lifecycle of an in-process server thread bound to 127.0.0.1.

    The port is bound in the constructor; :meth:`start` runs the thread and
    :meth:`stop` (idempotent) ends it and closes every socket.
    """

    host: ClassVar[str] = LOCALHOST
    port: int

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _serve(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self: _S) -> _S:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close all sockets."""
        self._stopping.set()
        self._close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class BlackholeServer(_FaultServer):
    """Accepts TCP connections and never reads from nor writes to them.

    The listening socket has a tiny ``SO_RCVBUF`` (inherited by accepted
    sockets), so a client's send buffer fills after a few hundred KB and
    ``sendall`` blocks / times out.
    """

    def __init__(self, rcvbuf: int = 4096) -> None:
        super().__init__()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._listener.bind((self.host, 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def accepted(self) -> int:
        """Number of connections accepted so far."""
        with self._lock:
            return len(self._connections)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([self._listener], [], [], 0.1)
                if readable:
                    conn, _ = self._listener.accept()
                    with self._lock:
                        self._connections.append(conn)
            except (OSError, ValueError):  # listener closed by stop()
                return

    def _close(self) -> None:
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                conn.close()


@dataclass(frozen=True)
class RecordedRequest:
    """One request received by :class:`SlowHTTPServer`."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class SlowHTTPServer(_FaultServer):
    """HTTP server that reads each request, waits ``delay`` s, then answers ``status``.

    Requests are recorded in :attr:`requests` once they have been read
    (before the delay).  :meth:`stop` cuts pending delays short.
    """

    def __init__(self, delay: float, status: int = 204) -> None:
        super().__init__()
        self.delay = delay
        self.status = status
        self.requests: list[RecordedRequest] = []
        self._httpd = ThreadingHTTPServer((self.host, 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port = int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    RecordedRequest(self.command, self.path, dict(self.headers), body)
                )
                if server._stopping.wait(server.delay):
                    return
                self.send_response(server.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _serve(self) -> None:
        self._httpd.serve_forever(poll_interval=0.1)

    def _close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.server_close()

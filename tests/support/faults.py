"""Misbehaving servers for fault tests (threads of the test process): a server that accepts and
never reads, an HTTP server that answers slowly or with scripted replies, and counting proxies
in front of a real carbon-cache or influxd that can be switched down or into a black hole."""

from __future__ import annotations

import collections
import contextlib
import gzip
import http.client
import select
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

from support.lineprotocol import go_parse
from vitals_daemons.process import LOCALHOST, StartStop

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

    @staticmethod
    def of_minion(key: tuple[Any, ...], minion: str) -> bool:
        return ("host", minion) in key[1]

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


# --------------------------------------------------------------------------
# Counting proxies in front of real backends, with an outage switch
# --------------------------------------------------------------------------


class _SwitchedProxy(StartStop):
    """A forwarding proxy on a fixed 127.0.0.1 port in front of a real backend, counting every
    point that passes (:attr:`received`: point key -> times received), so a test can tell
    points landed twice from points landed once: the backend itself stores a repeated point
    once. It can be switched (:meth:`up`, :meth:`down`, :meth:`blackhole`):

    * up: forwards;
    * down: the port is bound but nothing listens: connections are refused;
    * blackhole: a listener whose accept queue is kept full, so connections time out (SYNs
      dropped, as behind a firewall): a client waits for its own timeout.

    ``with proxy:`` starts it up and leaves it down.
    """

    host: ClassVar[str] = LOCALHOST

    def __init__(self) -> None:
        self.mode = "down"
        self.received: collections.Counter[tuple[Any, ...]] = collections.Counter()
        self._lock = threading.Lock()
        self._socket = self._bound(port=0)
        self.port = int(self._socket.getsockname()[1])
        self._plugs: list[socket.socket] = []
        self._thread: threading.Thread | None = None

    def _bound(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        return sock

    def start(self: _P) -> _P:
        self.up()
        return self

    def stop(self) -> None:
        self.down()

    def up(self) -> None:
        self._switch("up")

    def down(self) -> None:
        self._switch("down")

    def blackhole(self) -> None:
        self._switch("blackhole")

    def _switch(self, mode: str) -> None:
        with self._lock:
            if mode == self.mode:
                return
            old, thread = self._socket, self._thread
            for plug in self._plugs:
                plug.close()
            self._plugs, self._thread = [], None
            old.close()
            if thread is not None:
                thread.join(timeout=5)
            self._socket = sock = self._bound(self.port)
            self.mode = mode
            if mode == "blackhole":
                sock.listen(0)
                # one connection nobody accepts fills a queue of 0: the next SYNs are dropped
                self._plugs.append(socket.create_connection((self.host, self.port), timeout=5))
            elif mode == "up":
                sock.listen(64)
                sock.settimeout(0.1)
                self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
                self._thread.start()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:  # closed by _switch
                return
            conn.settimeout(30)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # a client that went away mid-request
            self.forward(conn)

    def forward(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _count(self, keys: list[tuple[Any, ...]]) -> None:
        with self._lock:
            self.received.update(keys)

    def duplicated(self, minion: str | None = None) -> int:
        """Points received more than once (each extra time counts), of ``minion`` or all."""
        with self._lock:
            return sum(
                n - 1
                for key, n in self.received.items()
                if minion is None or self.of_minion(key, minion)
            )

    @staticmethod
    def of_minion(key: tuple[Any, ...], minion: str) -> bool:
        raise NotImplementedError

    def received_by_ts(self, minion: str) -> collections.Counter[int]:
        """Distinct points of ``minion`` received, by timestamp."""
        with self._lock:
            return collections.Counter(k[-1] for k in self.received if self.of_minion(k, minion))


_P = TypeVar("_P", bound=_SwitchedProxy)


class CountingCarbonProxy(_SwitchedProxy):
    """Carbon plaintext: reads each connection to its end and forwards its complete lines (a
    cut last line is dropped, as carbon drops it) to ``carbon_port``. Keys: ``(path, ts)``."""

    def __init__(self, carbon_port: int) -> None:
        super().__init__()
        self.carbon_port = carbon_port

    @staticmethod
    def of_minion(key: tuple[Any, ...], minion: str) -> bool:
        return str(key[0]).split(".")[1:2] == [minion]

    def forward(self, conn: socket.socket) -> None:
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
        complete = b"".join(chunks).rpartition(b"\n")[0]
        if not complete:
            return
        with socket.create_connection((self.host, self.carbon_port), timeout=10) as carbon:
            carbon.sendall(complete + b"\n")
        keys = []
        for line in complete.split(b"\n"):
            path, _value, ts = line.split()
            keys.append((path.decode(), int(ts)))
        self._count(keys)


class CountingInfluxProxy(_SwitchedProxy):
    """InfluxDB 1.x HTTP: forwards each request to ``influx_url`` and counts the points of a
    write the server accepted (204). Keys: ``(measurement, tags, field, ts)``."""

    def __init__(self, influx_url: str) -> None:
        super().__init__()
        target = urllib.parse.urlsplit(influx_url)
        self.target = (target.hostname or LOCALHOST, target.port or 8086)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @staticmethod
    def of_minion(key: tuple[Any, ...], minion: str) -> bool:
        return ("host", minion) in key[1]

    def forward(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        request = reader.readline().decode("latin-1").split()
        if len(request) < 2:
            return
        method, path = request[0], request[1]
        headers = {}
        while (line := reader.readline().decode("latin-1").strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers.get("content-length") or 0))
        keep = ("authorization", "content-type", "content-encoding")
        backend = http.client.HTTPConnection(*self.target, timeout=30)
        try:
            backend.request(method, path, body, {k: v for k, v in headers.items() if k in keep})
            response = backend.getresponse()
            answer = response.read()
        finally:
            backend.close()
        if method == "POST" and path.startswith("/write") and response.status == 204:
            if headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            self._count(
                [
                    (measurement, tuple(sorted(tags.items())), field, int(ts))
                    for measurement, tags, fields, ts in go_parse(body)
                    for field in fields
                ]
            )
        head = (
            f"HTTP/1.1 {response.status} {response.reason}\r\n"
            f"Content-Type: {response.getheader('Content-Type') or 'text/plain'}\r\n"
            f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(head.encode("latin-1") + answer)

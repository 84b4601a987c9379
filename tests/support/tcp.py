"""A recording TCP server on 127.0.0.1: what a carbon receiver (plaintext or pickle) was sent.

    with RecordingTcpServer() as server:
        TcpTransport("127.0.0.1", server.port).send(b"a.b 1 1700000000\\n")
        assert server.wait_for(1) == [b"a.b 1 1700000000\\n"]

The port is bound in the constructor but nothing listens until :meth:`listen` (``with`` calls
it): until then connections are refused, so one object is a carbon that is down, then back.
"""

import socket
import threading
import uuid

LOCALHOST = "127.0.0.1"


class RecordingTcpServer:
    """Reads every connection to EOF, one at a time, and keeps its bytes in :attr:`received`
    (one entry per connection, in the order they were accepted)."""

    host = LOCALHOST

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((self.host, 0))
        self.port = self._sock.getsockname()[1]
        self.received = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = None

    # -- lifecycle -------------------------------------------------------------------------
    def listen(self, backlog=64):
        """Start accepting (idempotent); returns self."""
        if self._thread is None:
            self._sock.listen(backlog)
            self._sock.settimeout(0.1)
            self._thread = threading.Thread(
                target=self._serve, name=type(self).__name__, daemon=True
            )
            self._thread.start()
        return self

    def close(self):
        """Stop the thread and close the socket (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self):
        return self.listen()

    def __exit__(self, *exc):
        self.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:  # closed under us
                return
            chunks = []
            with conn:
                conn.settimeout(5)
                try:
                    while data := conn.recv(65536):
                        chunks.append(data)
                except OSError:  # a client that never closes: keep what came
                    pass
            with self._changed:
                self.received.append(b"".join(chunks))
                self._changed.notify_all()

    # -- what was received -----------------------------------------------------------------
    def wait_for(self, connections, timeout=5.0):
        """Wait until ``connections`` connections were read; return what was received so far
        (fewer entries on timeout: the caller's assertion shows what is missing)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.received) >= connections, timeout)
            return list(self.received)

    def lines(self):
        """Every line received so far, over all connections, without the newline."""
        with self._changed:
            return b"".join(self.received).splitlines()

    def settle(self, timeout=5.0):
        """Return once every connection made before this call has been read.

        Connects once more and waits for that connection: the server accepts in order, so
        everything queued before it was read first. The marker connection is not kept.
        """
        with self._changed:
            before = len(self.received)
        marker = f"--settle-{uuid.uuid4().hex}--".encode()
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(marker)
        with self._changed:
            if not self._changed.wait_for(lambda: marker in self.received[before:], timeout):
                raise TimeoutError(f"{self.host}:{self.port} did not read a new connection")
            self.received.remove(marker)

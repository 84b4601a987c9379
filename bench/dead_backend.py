"""How long one returner call takes against backends that misbehave, relative to ``timeout``.

Each case runs the real returner core (``backend.deliver_return``: options, serializer,
transport, spool) against a real loopback peer: a refused port, a listener whose backlog is
full (connect hangs, like a host that drops packets), a server that accepts and never reads
(with a payload larger than the socket buffers), and an HTTP server that answers after 30 s.
Prints the worst duration per case as a multiple of the configured timeout; every case must
also end "spooled". Run: .venv/bin/python bench/dead_backend.py
"""

import socket
import tempfile
import time

import benchpath  # noqa: F401  (tests/support on sys.path)

from salt_ext.core.delivery.returner import deliver_return
from salt_ext.core.graphite.carbon import BACKEND as CARBON
from salt_ext.core.influxdb.write import BACKEND as INFLUX
from support.faults import BlackholeServer, SlowHTTPServer
from support.saltconfig import salt_funcs
from vitals_daemons.process import refused_port

TIMEOUT = 1.0
RUNS = 3
BIG = {
    "id": "bench",
    "fun": "test.big",
    "retcode": 0,
    "return": {f"metric_{i:06d}": float(i) for i in range(60_000)},
}  # ~3 MB of plaintext
SMALL = {
    "id": "bench",
    "fun": "vitals.current",
    "retcode": 0,
    "return": {"ts": time.time(), "mem": {"percent": 1.0}},
}


class FullBacklog:
    """A listener that never accepts, its backlog already full: connects hang."""

    def __enter__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.port = self.server.getsockname()[1]
        self.fillers = [socket.socket() for _ in range(3)]
        for filler in self.fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        for sock in self.fillers + [self.server]:
            sock.close()


def worst(backend, ret, section, cachedir):
    opts = {"id": "bench", "cachedir": cachedir, backend.name: {"timeout": TIMEOUT, **section}}
    durations = []
    for _ in range(RUNS):
        start = time.monotonic()
        result = deliver_return(backend, ret, salt_funcs(opts), opts)
        durations.append(time.monotonic() - start)
        assert result.status == "spooled", result
    return max(durations)


def main():
    rows = []
    with tempfile.TemporaryDirectory() as cachedir:
        rows.append(
            ("carbon, refused port", worst(CARBON, SMALL, {"port": refused_port()}, cachedir))
        )
        with FullBacklog() as peer:
            rows.append(
                ("carbon, connect hangs", worst(CARBON, SMALL, {"port": peer.port}, cachedir))
            )
        with BlackholeServer() as peer:
            rows.append(
                (
                    "carbon, accepts, never reads (3 MB)",
                    worst(CARBON, BIG, {"port": peer.port}, cachedir),
                )
            )
        with SlowHTTPServer(delay=30) as peer:
            rows.append(
                ("influxdb, answers after 30 s", worst(INFLUX, SMALL, {"url": peer.url}, cachedir))
            )
    print(f"timeout = {TIMEOUT:.1f} s, worst of {RUNS} runs each")
    for label, seconds in rows:
        print(f"  {label:<38} {seconds:6.2f} s = {seconds / TIMEOUT:4.2f} x timeout")
    print(
        f"maximum job duration against a dead backend: {max(s for _, s in rows):.2f} s "
        f"({max(s for _, s in rows) / TIMEOUT:.2f} x timeout)"
    )


if __name__ == "__main__":
    main()

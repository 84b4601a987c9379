"""Cost of the spool on the healthy path: one carbon delivery per job with and without it.

A real loopback TCP sink stands in for carbon (it reads and discards). Each "job" serialises a
vitals return of this machine and delivers it through :class:`Delivery`; with the spool the job
also checks the (empty) spool for records to replay, which is the only extra work when the
backend is healthy. Prints medians and the ratio, measured in the same run.

Run: .venv/bin/python bench/spool_overhead.py
"""

import os
import socket
import statistics
import tempfile
import threading
import time

from salt_ext.core.collect.collection import collect_window, validate_options
from salt_ext.core.delivery.delivery import Delivery
from salt_ext.core.delivery.spool import Spool
from salt_ext.core.graphite import paths as graphite
from salt_ext.core.net.tcp import TcpTransport

ROUNDS = 400


def sink():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    def serve():
        while True:
            conn, _ = server.accept()
            while conn.recv(65536):
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def median_job_seconds(delivery, payload, points):
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = delivery.deliver(payload, points)
        times.append(time.perf_counter() - start)
        assert result.status == "sent", result
    return statistics.median(times)


def main():
    port = sink()
    with tempfile.TemporaryDirectory() as tmp:
        _ts, samples = collect_window(validate_options(None), os.path.join(tmp, "state"))
        payload = graphite.plaintext(samples, graphite.PathBuilder("bench-node"))
        transport = TcpTransport("127.0.0.1", port, timeout=5)
        plain = Delivery([transport])
        spooled = Delivery([transport], spool=Spool(os.path.join(tmp, "spool")))
        median_job_seconds(plain, payload, len(samples))  # warm up
        without = median_job_seconds(plain, payload, len(samples))
        with_spool = median_job_seconds(spooled, payload, len(samples))
    print(f"payload: {len(samples)} points, {len(payload)} bytes; median of {ROUNDS} jobs")
    print(f"deliver without spool : {without * 1e6:8.1f} us")
    print(f"deliver with spool    : {with_spool * 1e6:8.1f} us")
    overhead = (with_spool - without) * 1e6
    print(f"overhead              : {overhead:8.1f} us ({with_spool / without:.2f}x)")


if __name__ == "__main__":
    main()

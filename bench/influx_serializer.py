"""Throughput of the InfluxDB line-protocol serializer, and HTTP requests per returned job.

    .venv/bin/python bench/influx_serializer.py [--seconds 3]

Prints lines/s and values/s for a ~200-value ``vitals.current`` return serialized on one core
(warm: the name caches are filled as on a long-running minion; cold: caches cleared before every
return), then the number of HTTP requests ``core.send`` makes per return against a local
HTTP server (steady state, and the first return on a missing database).
"""

import argparse
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import benchpath  # noqa: F401  (tests/support on sys.path)

from salt_ext.core.delivery import returner as core
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.influxdb.write import BACKEND as INFLUXDB
from salt_ext.core.samples import from_vitals_dict
from support.saltconfig import salt_funcs
from support.vitals import vitals_return


def _caches():
    return [
        line_protocol.escape_measurement,
        line_protocol.escape_tag_key,
        line_protocol.escape_tag_value,
        line_protocol.escape_field_key,
        line_protocol._field_key,
    ]


def bench_serializer(seconds):
    samples = from_vitals_dict(vitals_return(time.time()))
    payload = line_protocol.serialize(samples, "pi-01.example.com", tags={"role": "web"})
    lines = payload.count(b"\n")
    results = {}
    for mode in ("warm", "cold"):
        count, started = 0, time.perf_counter()
        while True:
            if mode == "cold":
                for cache in _caches():
                    cache.cache_clear()
            line_protocol.serialize(samples, "pi-01.example.com", tags={"role": "web"})
            count += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
        results[mode] = count / elapsed
    return len(samples), lines, len(payload), results


class _Counter(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        server.requests.append(self.path)
        if self.path.startswith("/query"):
            server.database = True
            status, body = 200, {"results": [{"statement_id": 0}]}
        elif not server.database:
            status, body = 404, {"error": 'database not found: "salt"'}
        else:
            status, body = 204, None
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def bench_requests(returns=20):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    httpd.requests, httpd.database = [], False
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    config = salt_funcs({"influxdb": {"url": url}})
    per_return = []
    try:
        with tempfile.TemporaryDirectory() as cachedir:
            for i in range(returns):
                before = len(httpd.requests)
                ret = {
                    "id": "pi-01",
                    "fun": "vitals.current",
                    "retcode": 0,
                    "return": vitals_return(time.time() + i),
                }
                result = core.deliver_return(INFLUXDB, ret, config, {"cachedir": cachedir})
                assert result.status == "sent", result.error
                per_return.append(len(httpd.requests) - before)
    finally:
        httpd.shutdown()
        httpd.server_close()
    return per_return


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    values, lines, size, rates = bench_serializer(args.seconds)
    print(f"vitals return: {values} values -> {lines} lines, {size} bytes of line protocol")
    for mode, rate in rates.items():
        print(
            f"serializer ({mode} caches): {rate * lines:,.0f} lines/s, "
            f"{rate * values:,.0f} values/s, {rate:,.0f} returns/s, {1e6 / rate:,.0f} us/return"
        )
    per_return = bench_requests()
    steady = per_return[1:]
    print(
        f"HTTP requests per return: {sum(steady) / len(steady):.2f} (steady state, "
        f"{len(steady)} returns); first return on a missing database: {per_return[0]} "
        "(write 404, CREATE DATABASE, write)"
    )


if __name__ == "__main__":
    main()

"""Unit tests of the InfluxDB backend: serializer (exact bytes and properties), options, and the
HTTP transport against a tiny in-test ``http.server`` on 127.0.0.1.

The property tests read the payload back with two reference parsers written from the parsers
the payload meets in production: InfluxDB 1.x/2.x ``models/points.go`` (a delimiter is escaped
when the byte before it is a backslash; ``\\`` is *not* unescaped; field scanning skips two
bytes after a backslash) and VictoriaMetrics ``lib/protoparser/influx`` (a delimiter is escaped
by an odd number of backslashes; ``\\`` reads as one backslash). A payload must read back the
same, by the documented rules, in both.
"""

import base64
import gzip
import json
import logging
import math
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salt_ext.core import backend as core
from salt_ext.core import line_protocol
from salt_ext.core.errors import ConfigError, DeliveryError
from salt_ext.core.http import HttpTransport, parse_url, redact_url
from salt_ext.core.influxdb import BACKEND
from salt_ext.core.samples import Sample, from_vitals_dict, samples_from_return
from support.lineprotocol import (
    BS,
    GO_NUMBER,
    TS,
    as_points,
    expected_points,
    go_parse,
    names,
    sample_specs,
    vm_parse,
)
from support.saltconfig import salt_funcs
from support.tls import self_signed_cert
from support.vitals import vitals_return

# =============================================================================================
# Serializer: exact bytes
# =============================================================================================
VITALS = {
    "ts": TS,
    "cpu": {"percent": 12.5, "count": 4},
    "cores": {"0": {"percent": 20.0}, "1": {"percent": 5.0}},
    "mem": {"total": 1000, "available": 400, "used": 600, "percent": 60.0},
    "disk": {"/": {"total": 100, "used": 40, "free": 60, "percent": 40.0}},
    "temp": {"cpu-thermal": {"current": 48.3}},
}


def test_vitals_exact_bytes():
    payload = line_protocol.serialize(from_vitals_dict(VITALS), "pi-01")
    assert payload == (
        b"cpu,host=pi-01 percent=12.5,count=4i 1732240000\n"
        b"cpu,cpu=0,host=pi-01 percent=20.0 1732240000\n"
        b"cpu,cpu=1,host=pi-01 percent=5.0 1732240000\n"
        b"mem,host=pi-01 total=1000i,available=400i,used=600i,percent=60.0 1732240000\n"
        b"disk,host=pi-01,path=/ total=100i,used=40i,free=60i,percent=40.0 1732240000\n"
        b"temp,host=pi-01,sensor=cpu-thermal current=48.3 1732240000\n"
    )


def test_config_tags_sorted_and_precedence():
    samples = [
        Sample("disk", ("percent",), 1.0, TS, (("path", "/boot"),)),
        Sample("load", ("1m",), 0.5, TS),
    ]
    tags = {"zone": "b", "role": "web", "path": "configured", "host": "configured"}
    payload = line_protocol.serialize(samples, "pi-01", tags=tags)
    assert payload == (
        b"disk,host=pi-01,path=/boot,role=web,zone=b percent=1.0 1732240000\n"
        b"load,host=pi-01,path=configured,role=web,zone=b 1m=0.5 1732240000\n"
    )


def test_generic_return_measurement_is_function_name():
    ret = {"fun": "status.loadavg", "id": "m1", "return": {"1-min": 0.1, "5-min": 0.2, "x": "s"}}
    samples = samples_from_return(ret, clock=lambda: 1700000000.9)
    assert line_protocol.serialize(samples, "m1") == (
        b"status.loadavg,host=m1 1-min=0.1,5-min=0.2 1700000000\n"
    )


def test_nested_generic_names_are_joined_with_dots():
    samples = [Sample("disk.usage", ("/", "used"), 3.0, TS)]
    assert line_protocol.serialize(samples, "m") == b"disk.usage,host=m /.used=3.0 1732240000\n"


@pytest.mark.parametrize(
    "precision, ts, expected",
    [
        ("s", 1732240000.999, b"1732240000"),
        ("ms", 1732240000.5, b"1732240000500"),
        ("ms", 1.005, b"1005"),  # 1.005 * 1000 == 1004.999...: float noise is not truncated
        ("us", 1732240000.25, b"1732240000250000"),
        ("ns", 1732240000.5, b"1732240000500000000"),
    ],
)
def test_precision(precision, ts, expected):
    payload = line_protocol.serialize([Sample("load", ("1m",), 1.0, ts)], "h", precision=precision)
    assert payload == b"load,host=h 1m=1.0 " + expected + b"\n"


@pytest.mark.parametrize(
    "value, text",
    [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1.5e-07, "1.5e-07"),
        (123, "123i"),
        (-5, "-5i"),
        (True, "1i"),
        (2**63 - 1, "9223372036854775807i"),
        (float("nan"), None),
        (float("inf"), None),
        (-float("inf"), None),
        (2**63, None),
        ("12", None),
        (None, None),
    ],
)
def test_format_value(value, text):
    assert line_protocol.format_value(value) == text


def test_bad_values_dropped_with_debug_line(caplog):
    caplog.set_level(logging.DEBUG, logger="salt_ext.core.line_protocol")
    samples = [
        Sample("x", ("nan",), float("nan"), TS),
        Sample("x", ("big",), 2**70, TS),
        Sample("x", ("ok",), 2.0, TS),
        Sample("y", ("only_bad",), float("inf"), TS),
    ]
    assert line_protocol.serialize(samples, "h") == b"x,host=h ok=2.0 1732240000\n"
    assert "dropped 3 value(s)" in caplog.text


def test_duplicate_field_keys_after_cleaning_are_merged():
    samples = [Sample("x", ("a\nb",), 1.0, TS), Sample("x", ("a b",), 2.0, TS)]
    assert line_protocol.serialize(samples, "h") == b"x,host=h a\\ b=2.0 1732240000\n"


def test_tags_that_clean_to_the_same_key_never_duplicate():
    samples = [Sample("x", ("f",), 1.0, TS, (("k", "v"),))]
    payload = line_protocol.serialize(samples, "h", tags={"k": "conf", "k\n": "a", "k ": "b"})
    assert payload == b"x,host=h,k=v,k\\ =b f=1.0 1732240000\n"
    go_parse(payload)


def test_empty_tag_value_is_left_out():
    samples = [Sample("temp", ("current",), 40.0, TS, (("sensor", ""),))]
    assert line_protocol.serialize(samples, "h") == b"temp,host=h current=40.0 1732240000\n"


def test_samples_at_different_times_are_different_lines():
    samples = [Sample("load", ("1m",), 1.0, TS), Sample("load", ("1m",), 2.0, TS + 1)]
    assert line_protocol.serialize(samples, "h").count(b"\n") == 2


def test_empty_input():
    assert line_protocol.serialize([], "h") == b""


def test_a_200_field_vitals_return_is_a_few_dozen_lines():
    samples = from_vitals_dict(vitals_return(TS))
    assert len(samples) >= 200
    payload = line_protocol.serialize(samples, "pi-01", tags={"role": "web"})
    points = go_parse(payload)
    assert len(points) == 43  # 1 cpu + 8 cores + load, mem, swap + 8 + 8 + 6 + 7 + system, pi
    assert sum(len(fields) for _, _, fields, _ in points) == len(samples)
    series = {(m, tuple(sorted(t.items()))) for m, t, _, _ in points}
    assert len(series) == len(points)  # one line per (measurement, tag set, time)
    for line in payload.decode().splitlines():
        head = line.split(" ", 1)[0]
        keys = [part.split("=", 1)[0] for part in head.split(",")[1:]]
        assert keys == sorted(keys)


# =============================================================================================
# Names: documented rules
# =============================================================================================
@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("plain", "plain"),
        ("a b,c=d", "a b,c=d"),
        ("multi\nline", "multi line"),
        ("cr\rtab\tnul\0del\x7f", "cr tab nul del "),
        ("C:" + BS + "Users", "C:" + BS + "Users"),  # backslash + ordinary char: kept
        ("C:" + BS, "C:/"),  # the trailing backslash trap
        (BS * 2 + "srv" + BS + "share", "//srv/share"),
        ("a" + BS + ",b", "a/,b"),
        ("a" + BS + " b", "a/ b"),
        ("a" + BS + "=b" + BS + "c", "a/=b/c"),
        ("a" + BS + '"b', 'a/"b'),
        ("x" + BS + "\ny", "x/ y"),  # control char first, then the backslash rule
        ("üñ€😀", "üñ€😀"),
        ("bad\udcffbytes", "bad\ufffdbytes"),
        ("", ""),
    ],
)
def test_clean(raw, cleaned):
    assert line_protocol.clean(raw) == cleaned


@pytest.mark.parametrize(
    "raw, measurement, key, tag_value, field_key",
    [
        ("a b,c=d", r"a\ b\,c=d", r"a\ b\,c\=d", r"a\ b\,c\=d", r"a\ b\,c\=d"),
        ('q"uote', 'q"uote', 'q"uote', 'q"uote', r"q\"uote"),
        ("C:" + BS, "C:/", "C:/", "C:/", "C:/"),
        ("#comment", "_#comment", "#comment", "#comment", "#comment"),
        ("time", "time", "time_", "time", "time_"),
        ("", "_", "_", "", "_"),
        ("nl\n", r"nl\ ", r"nl\ ", r"nl\ ", r"nl\ "),
    ],
)
def test_escaping(raw, measurement, key, tag_value, field_key):
    assert line_protocol.escape_measurement(raw) == measurement
    assert line_protocol.escape_tag_key(raw) == key
    assert line_protocol.escape_tag_value(raw) == tag_value
    assert line_protocol.escape_field_key(raw) == field_key


def test_hostile_line_exact_bytes():
    samples = [Sample("disk", ('fi"eld x',), 1.5, TS, (("path", "C:" + BS),))]
    payload = line_protocol.serialize(samples, "web 01,role=x\n", tags={"env": "a=b"})
    assert payload == (
        b'disk,env=a\\=b,host=web\\ 01\\,role\\=x\\ ,path=C:/ fi\\"eld\\ x=1.5 1732240000\n'
    )
    assert go_parse(payload) == [
        (
            "disk",
            {"env": "a=b", "host": "web 01,role=x ", "path": "C:/"},
            {'fi"eld x': "1.5"},
            1732240000,
        )
    ]
    assert vm_parse(payload)[0][2] == {'fi\\"eld x': "1.5"}  # VictoriaMetrics keeps the \


# =============================================================================================
# Serializer: properties
# =============================================================================================
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=sample_specs, host=names, tags=st.dictionaries(names, names, max_size=2))
def test_property_every_name_reads_back_by_the_rules(specs, host, tags):
    samples = [Sample(g, n, v, ts, t) for g, n, v, t, ts in specs]
    payload = line_protocol.serialize(samples, host, tags=tags)
    expected = expected_points(specs, host, tags)
    assert payload.count(b"\n") == len(expected)  # never an extra (or a lost) point
    go = go_parse(payload)
    assert len(go) == len(expected)
    assert as_points(go) == expected
    vm = vm_parse(payload)
    assert len(vm) == len(expected)
    assert as_points(vm, field_key=lambda k: k.replace(BS + '"', '"')) == expected


@given(names)
def test_property_clean_is_idempotent_and_line_safe(text):
    cleaned = line_protocol.clean(text)
    assert line_protocol.clean(cleaned) == cleaned
    assert len(cleaned) == len(text)
    assert not re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", cleaned)
    assert not re.search(r'\\(?:[\\,= "]|\Z)', cleaned)
    for escaped in (line_protocol.escape_measurement(text), line_protocol.escape_field_key(text)):
        escaped.encode("utf-8")
        assert "\n" not in escaped


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_property_floats_read_back_exactly_and_stay_floats(value):
    text = line_protocol.format_value(value)
    assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
    assert "." in text or "e" in text
    assert GO_NUMBER.match(text) and not text.endswith("i")


@given(st.integers(min_value=line_protocol.INT64_MIN, max_value=line_protocol.INT64_MAX))
def test_property_ints_read_back_exactly_and_stay_ints(value):
    text = line_protocol.format_value(value)
    assert text.endswith("i") and int(text[:-1]) == value and GO_NUMBER.match(text)


@given(
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.sampled_from(sorted(line_protocol.PRECISIONS)),
)
def test_property_timestamp_truncates(ts, precision):
    factor = line_protocol.PRECISIONS[precision]
    ticks = line_protocol.timestamp(ts, precision)
    assert isinstance(ticks, int)
    slack = 1e-6 + abs(ts) * factor * 2e-16 * 4
    assert ticks <= ts * factor + slack
    assert ticks > ts * factor - 1 - slack


# =============================================================================================
# Options
# =============================================================================================
def options(**conf):
    return core.read_options(BACKEND, {}, salt_funcs({"influxdb": conf}), {})


def test_defaults():
    opts = options()
    assert opts["api"] == "v1" and opts["db"] == "salt" and opts["precision"] == "s"
    assert opts["gzip"] is True and opts["verify"] is True and opts["create_database"] is True
    assert [e.label for e in opts["endpoints"]] == ["http://127.0.0.1:8086"]
    assert opts["timeout"] == 5.0 and opts["spool"] is True


def test_dotted_keys_and_urls_list():
    conf = {"influxdb.urls": "http://a:8086, https://b/influx/", "influxdb.db": "x"}
    opts = core.read_options(BACKEND, {}, salt_funcs(conf), {})
    assert [e.label for e in opts["endpoints"]] == ["http://a:8086", "https://b:443/influx"]
    assert [t.label for t in BACKEND.transports(opts)] == ["http://a:8086", "https://b:443/influx"]


SECRET = "Sup3r-Secret-Pw"


@pytest.mark.parametrize(
    "conf, key",
    [
        ({"api": "v2", "bucket": "b", "token": SECRET}, "influxdb:org"),
        ({"api": "v2", "org": "o", "token": SECRET}, "influxdb:bucket"),
        ({"api": "v2", "org": "o", "bucket": "b"}, "influxdb:token"),
        ({"api": "v4"}, "influxdb:api"),
        ({"user": "u"}, "influxdb:password"),
        ({"password": SECRET}, "influxdb:user"),
        ({"url": f"ftp://u:{SECRET}@host"}, "influxdb:url"),
        ({"url": f"http://u:{SECRET}@host:99999"}, "influxdb:url"),
        ({"url": "http://host/?db=x"}, "influxdb:url"),
        ({"urls": ["http://ok", "nohost"]}, "influxdb:urls"),
        ({"precision": "h"}, "influxdb:precision"),
        ({"retention_duration": "30 days; DROP DATABASE x"}, "influxdb:retention_duration"),
        ({"retention_replication": 0}, "influxdb:retention_replication"),
        ({"tags": {"host": "x"}}, "influxdb:tags"),
        ({"tags": {"_field": "x"}}, "influxdb:tags"),
        ({"tags": {"role": ""}}, "influxdb:tags"),
        ({"tags": "role=web"}, "influxdb:tags"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "influxdb:ca_bundle"),
        ({"verify": "maybe"}, "influxdb:verify"),
    ],
)
def test_invalid_options_name_the_key_and_hide_secrets(conf, key):
    with pytest.raises(ConfigError) as info:
        options(**conf)
    assert info.value.key == key
    assert SECRET not in str(info.value)


def test_bad_secret_value_is_hidden():
    with pytest.raises(ConfigError) as info:
        options(password=["not", "a", "string", SECRET])
    assert SECRET not in str(info.value) and "<hidden>" in str(info.value)


def test_retention_durations():
    for good in ("90d", "52w", "1h30m", "INF", "inf", "100ms"):
        assert options(retention_duration=good)["retention_duration"] == good


def test_redact_url():
    assert redact_url("https://u:pw@h:1/p") == "https://***@h:1/p"
    assert redact_url("h:1") == "h:1"
    assert parse_url("http://u:p%40ss@[::1]:8086/x/").label == "http://[::1]:8086/x"
    assert parse_url("http://u:p%40ss@[::1]:8086/x/").password == "p@ss"


# =============================================================================================
# Transport against a scripted HTTP server
# =============================================================================================
class Recorded:
    def __init__(self, method, target, headers, raw):
        self.method = method
        parts = urlsplit(target)
        self.path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = headers
        self.raw = raw
        self.body = gzip.decompress(raw) if headers.get("Content-Encoding") == "gzip" else raw
        self.form = (
            {k: v[0] for k, v in parse_qs(self.body.decode()).items()}
            if headers.get("Content-Type", "").startswith("application/x-www-form")
            else {}
        )


class Scripted:
    """An HTTP server on 127.0.0.1 answering from a script of (status, body[, headers])."""

    def __init__(self, *answers, delay=0.0, tls=None):
        self.answers = list(answers)
        self.delay = delay
        self.requests = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                server.requests.append(Recorded("POST", self.path, dict(self.headers), raw))
                if server.delay and server.release.wait(server.delay):
                    return
                answer = server.answers.pop(0) if server.answers else (204, b"")
                status, body = answer[:2]
                headers = answer[2] if len(answer) > 2 else {}
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def transport(url, **conf):
    conf.setdefault("url", url)
    return BACKEND.transports(options(**conf))[0]


PAYLOAD = b"cpu,host=h percent=1.0 1\nmem,host=h used=2i 1\nload,host=h 1m=0.5 1\n"


def test_204_gzip_basic_auth_and_query():
    with Scripted((204, b"")) as server:
        transport(server.url, user="salt", password=SECRET).send(PAYLOAD)
    (req,) = server.requests
    assert req.path == "/write" and req.query == {"db": "salt", "precision": "s"}
    assert req.headers["Content-Encoding"] == "gzip" and req.body == PAYLOAD
    assert (
        req.headers["Authorization"]
        == "Basic " + base64.b64encode(f"salt:{SECRET}".encode()).decode()
    )
    assert SECRET not in req.path


def test_gzip_off_rp_and_precision():
    with Scripted((204, b"")) as server:
        transport(server.url, gzip=False, rp="short", precision="us").send(PAYLOAD)
    (req,) = server.requests
    assert "Content-Encoding" not in req.headers and req.raw == PAYLOAD
    assert req.query == {"db": "salt", "rp": "short", "precision": "u"}
    assert "Authorization" not in req.headers


def test_v2_token_org_bucket():
    with Scripted((204, b"")) as server:
        transport(
            server.url + "/proxy", api="v2", org="o", bucket="b", token=SECRET, precision="ms"
        ).send(PAYLOAD)
    (req,) = server.requests
    assert req.path == "/proxy/api/v2/write"
    assert req.query == {"org": "o", "bucket": "b", "precision": "ms"}
    assert req.headers["Authorization"] == f"Token {SECRET}"


def test_v3_bearer_and_precision_words():
    with Scripted((204, b"")) as server:
        transport(server.url, api="v3", db="d", token=SECRET).send(PAYLOAD)
    (req,) = server.requests
    assert req.path == "/api/v3/write_lp" and req.query == {"db": "d", "precision": "second"}
    assert req.headers["Authorization"] == f"Bearer {SECRET}"


def test_v1_token_without_user():
    with Scripted((204, b"")) as server:
        transport(server.url, token=SECRET).send(PAYLOAD)
    assert server.requests[0].headers["Authorization"] == f"Token {SECRET}"


def test_credentials_in_url_are_used_but_never_labelled():
    with Scripted((204, b"")) as server:
        url = server.url.replace("http://", f"http://salt:{SECRET}@")
        t = transport(url)
        t.send(PAYLOAD)
    assert t.label == server.url and SECRET not in repr(t)
    assert server.requests[0].headers["Authorization"].startswith("Basic ")


def test_400_is_not_retryable_and_quotes_server_text_not_body():
    error = {"error": 'partial write: field type conflict: input field "used" is type float'}
    with Scripted((400, error)) as server:
        with pytest.raises(DeliveryError) as info:
            transport(server.url).send(PAYLOAD)
    text = str(info.value)
    assert info.value.retryable is False
    assert f"{server.url} rejected 3 line(s): HTTP 400: partial write: field type conflict" in text
    assert "percent=1.0" not in text  # the payload is never quoted
    assert len(server.requests) == 1


def test_database_not_found_creates_it_and_retries_once():
    with Scripted(
        (404, {"error": 'database not found: "salt"'}),
        (200, {"results": [{"statement_id": 0}]}),
        (204, b""),
    ) as server:
        transport(server.url, user="admin", password=SECRET).send(PAYLOAD)
    write, query, retry = server.requests
    assert (write.path, query.path, retry.path) == ("/write", "/query", "/write")
    assert query.form == {"q": 'CREATE DATABASE "salt"'}
    assert query.headers["Authorization"] == write.headers["Authorization"]
    assert retry.body == PAYLOAD


def test_database_and_retention_policy_statements():
    with Scripted(
        (404, {"error": 'database not found: "m"'}),
        (200, {"results": [{"statement_id": 0}]}),
        (204, b""),
    ) as server:
        transport(server.url, db="m", retention_duration="30d", retention_replication=2).send(
            PAYLOAD
        )
    assert server.requests[1].form["q"] == (
        'CREATE DATABASE "m" WITH DURATION 30d REPLICATION 2 NAME "vitals"'
    )


def test_missing_rp_on_new_database_is_created_too():
    with Scripted(
        (404, {"error": 'database not found: "salt"'}),
        (200, {"results": [{"statement_id": 0}, {"statement_id": 1}]}),
        (204, b""),
    ) as server:
        transport(server.url, rp="short").send(PAYLOAD)
    assert server.requests[1].form["q"] == (
        'CREATE DATABASE "salt"; '
        'CREATE RETENTION POLICY "short" ON "salt" DURATION INF REPLICATION 1'
    )


def test_missing_retention_policy_is_created():
    with Scripted(
        (500, {"error": "retention policy not found: short"}),
        (200, {"results": [{"statement_id": 0}]}),
        (204, b""),
    ) as server:
        transport(server.url, rp="short", retention_duration="7d").send(PAYLOAD)
    assert server.requests[1].form["q"] == (
        'CREATE RETENTION POLICY "short" ON "salt" DURATION 7d REPLICATION 1'
    )


def test_database_still_missing_after_create_is_one_retry_only():
    missing = (404, {"error": 'database not found: "salt"'})
    with Scripted(missing, (200, {"results": [{}]}), missing, missing) as server:
        with pytest.raises(DeliveryError) as info:
            transport(server.url).send(PAYLOAD)
    assert info.value.retryable is True and len(server.requests) == 3


def test_create_database_refused():
    refusal = {
        "error": "error authorizing query: bob not authorized to execute statement "
        "'CREATE DATABASE salt', requires admin privilege"
    }
    with Scripted((404, {"error": 'database not found: "salt"'}), (403, refusal)) as server:
        with pytest.raises(DeliveryError) as info:
            transport(server.url, user="bob", password=SECRET).send(PAYLOAD)
    text = str(info.value)
    assert info.value.retryable is True
    assert f'database "salt" does not exist on {server.url} and creating it failed' in text
    assert "requires admin privilege" in text and SECRET not in text


def test_create_database_error_inside_results():
    with Scripted(
        (404, {"error": 'database not found: "salt"'}),
        (200, {"results": [{"statement_id": 0, "error": "retention policy conflicts"}]}),
    ) as server:
        with pytest.raises(DeliveryError, match="creating it failed: retention policy conflicts"):
            transport(server.url).send(PAYLOAD)


def test_create_database_off():
    with Scripted((404, {"error": 'database not found: "salt"'})) as server:
        with pytest.raises(DeliveryError, match="create_database is off") as info:
            transport(server.url, create_database=False).send(PAYLOAD)
    assert info.value.retryable is True and len(server.requests) == 1


def test_v2_404_is_not_provisioned():
    with Scripted((404, {"code": "not found", "message": 'bucket "b" not found'})) as server:
        with pytest.raises(DeliveryError, match='bucket "b" not found') as info:
            transport(server.url, api="v2", org="o", bucket="b", token=SECRET).send(PAYLOAD)
    assert info.value.retryable is True and len(server.requests) == 1


def test_other_404_is_retryable_without_query():
    with Scripted((404, b"404 page not found\n")) as server:
        with pytest.raises(DeliveryError, match="answered HTTP 404: 404 page not found") as info:
            transport(server.url).send(PAYLOAD)
    assert info.value.retryable is True and len(server.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_clear_and_retryable(status):
    echo = {"error": f"authorization failed for password {SECRET}"}
    with Scripted((status, echo)) as server:
        with pytest.raises(DeliveryError) as info:
            transport(server.url, user="salt", password=SECRET).send(PAYLOAD)
    text = str(info.value)
    assert info.value.retryable is True
    assert text.startswith(f"authentication failed for {server.url}: HTTP {status}")
    assert SECRET not in text and "***" in text


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_overload_and_server_errors_are_retryable(status):
    with Scripted((status, {"error": "busy"}, {"Retry-After": "7"})) as server:
        with pytest.raises(DeliveryError, match=rf"HTTP {status}: busy \(retry after 7s\)") as info:
            transport(server.url).send(PAYLOAD)
    assert info.value.retryable is True


@pytest.mark.parametrize("status", [405, 413, 422])
def test_other_client_errors_are_not_retryable(status):
    with Scripted((status, {"message": "nope"})) as server:
        with pytest.raises(DeliveryError, match=f"rejected 3 line.s.: HTTP {status}: nope") as info:
            transport(server.url).send(PAYLOAD)
    assert info.value.retryable is False


def test_redirect_is_retryable():
    with Scripted((301, b"", {"Location": "https://elsewhere/"})) as server:
        with pytest.raises(DeliveryError, match="HTTP 301") as info:
            transport(server.url).send(PAYLOAD)
    assert info.value.retryable is True


def test_long_server_text_is_cut():
    with Scripted((400, {"error": "x" * 5000})) as server:
        with pytest.raises(DeliveryError) as info:
            transport(server.url).send(PAYLOAD)
    assert len(str(info.value)) < 400


def test_read_timeout_is_bounded_and_retryable():
    with Scripted(delay=5.0) as server:
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="timed out") as info:
            transport(server.url, timeout=0.3).send(PAYLOAD)
        elapsed = time.monotonic() - started
    assert info.value.retryable is True and elapsed < 2.0


def test_connect_refused_is_retryable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(DeliveryError, match=r"cannot connect to .*refused") as info:
            transport(url).send(PAYLOAD)
    finally:
        sock.close()
    assert info.value.retryable is True


def test_transport_is_generic_and_never_labels_credentials():
    t = HttpTransport(f"https://u:{SECRET}@example.com/base/", "/write", params={"db": "x"})
    assert t.label == "https://example.com:443/base"
    assert SECRET not in repr(t) and SECRET not in t.label


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 signed by itself: (certfile, keyfile)."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def test_https_is_verified_by_default(self_signed):
    with Scripted(tls=self_signed) as server:
        with pytest.raises(DeliveryError, match="TLS certificate verification failed") as info:
            transport(server.url).send(PAYLOAD)
    assert info.value.retryable is True and not server.requests


def test_https_with_ca_bundle(self_signed):
    with Scripted((204, b""), tls=self_signed) as server:
        transport(server.url, ca_bundle=self_signed[0], user="u", password=SECRET).send(PAYLOAD)
    assert server.requests[0].body == PAYLOAD


def test_https_verify_false(self_signed, caplog):
    caplog.set_level(logging.WARNING, logger="salt_ext.core.http")
    with Scripted((204, b""), tls=self_signed) as server:
        transport(server.url, verify=False).send(PAYLOAD)
    assert len(server.requests) == 1 and "verification is disabled" in caplog.text


def test_verify_false_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="salt_ext.core.http")
    for _ in range(3):
        transport("https://insecure.example:8086", verify=False)
    warnings = [r for r in caplog.records if "verification is disabled" in r.getMessage()]
    assert len(warnings) == 1


def test_debug_log_never_holds_secrets(caplog):
    caplog.set_level(logging.DEBUG)
    with Scripted((401, {"error": "authorization failed"})) as server:
        with pytest.raises(DeliveryError):
            transport(server.url, user="salt", password=SECRET).send(PAYLOAD)
    assert any("/write -> HTTP 401" in r.getMessage() for r in caplog.records)
    basic = base64.b64encode(f"salt:{SECRET}".encode()).decode()
    for record in caplog.records:
        assert SECRET not in record.getMessage() and basic not in record.getMessage()


# =============================================================================================
# Through the shared core and the loader module
# =============================================================================================
RET = {"id": "pi-01", "fun": "vitals.current", "return": VITALS, "retcode": 0}


def test_core_send_spools_then_replays(tmp_path):
    conf = {"influxdb": {"url": None, "timeout": 2}}
    opts = {"cachedir": str(tmp_path), "id": "pi-01"}
    with Scripted((503, {"error": "overloaded"}), (204, b""), (204, b"")) as server:
        conf["influxdb"]["url"] = server.url
        first = core.deliver_return(BACKEND, RET, salt_funcs(conf), opts)
        second = core.deliver_return(BACKEND, RET, salt_funcs(conf), opts)
    points = len(from_vitals_dict(VITALS))
    assert first.status == "spooled" and first.spooled == points
    assert second.status == "sent" and second.replayed == points
    assert [r.body for r in server.requests] == [server.requests[0].body] * 3
    assert server.requests[0].body == line_protocol.serialize(from_vitals_dict(VITALS), "pi-01")


def test_loader_module(tmp_path):
    from salt_ext.returners import influxdb_return

    assert influxdb_return.__virtual__() == "influxdb"
    assert "CLI Example:" in influxdb_return.returner.__doc__
    with Scripted((204, b"")) as server:
        conf = {"influxdb.url": server.url, "influxdb.tags": {"role": "web"}}
        influxdb_return.__salt__ = salt_funcs(conf)
        influxdb_return.__opts__ = {"cachedir": str(tmp_path), "id": "pi-01"}
        try:
            result = influxdb_return.returner(RET)
        finally:
            del influxdb_return.__salt__, influxdb_return.__opts__
    assert result.status == "sent"
    assert b"cpu,host=pi-01,role=web percent=12.5,count=4i" in server.requests[0].body


def test_bad_config_never_raises(tmp_path):
    conf = {"influxdb": {"api": "v2", "token": SECRET}}
    result = core.deliver_return(BACKEND, RET, salt_funcs(conf), {"cachedir": str(tmp_path)})
    assert result.error.startswith("influxdb:org") and SECRET not in result.error


def test_grain_tags_come_from_the_minion_grains():
    grains = {"role": "web", "rack": {"row": "r2"}, "roles": ["a", "b"], "empty": ""}
    opts = options(
        grain_tags=["role", "rack:row", "roles", "missing", "empty"], tags={"role": "db"}
    )
    opts = BACKEND.with_minion(opts, {"grains": grains})
    assert opts["tags"] == {"rack_row": "r2", "role": "db"}  # explicit tags win
    payload = BACKEND.serialize([Sample("mem", "percent", 1.5, TS)], "m1", opts)
    assert payload == b"mem,host=m1,rack_row=r2,role=db percent=1.5 1732240000\n"

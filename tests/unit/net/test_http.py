"""Unit tests of the HTTP transport (salt_ext.core.net.http) against a scripted HTTP server on
127.0.0.1: how answers are classified, bounded timeouts, TLS, and credentials that are used but
never labelled or logged."""

import base64
import logging
import socket
import time

import pytest

from salt_ext.core.errors import DeliveryError
from salt_ext.core.net.http import HttpTransport, parse_url, redact_url
from salt_ext.core.net.resolve import create_connection
from support.httpserver import Scripted
from support.influxdb import PAYLOAD, SECRET, transport
from support.tls import self_signed_cert


def test_redact_url():
    assert redact_url("https://u:pw@h:1/p") == "https://***@h:1/p"
    assert redact_url("h:1") == "h:1"
    assert parse_url("http://u:p%40ss@[::1]:8086/x/").label == "http://[::1]:8086/x"
    assert parse_url("http://u:p%40ss@[::1]:8086/x/").password == "p@ss"


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
    caplog.set_level(logging.WARNING, logger="salt_ext.core.net.http")
    with Scripted((204, b""), tls=self_signed) as server:
        transport(server.url, verify=False).send(PAYLOAD)
    assert len(server.requests) == 1 and "verification is disabled" in caplog.text


def test_verify_false_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="salt_ext.core.net.http")
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


def test_http_transport_uses_the_bounded_connect():
    transport = HttpTransport("http://influx.example:8086", "/write", timeout=0.3)
    assert transport._connection()._create_connection is create_connection

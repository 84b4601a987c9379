"""The one InfluxDB client (salt_ext/core/influxdb/client.py) against a scripted HTTP server on
127.0.0.1: credentials per API, the /query form, one wording for every failure, and the option
fragment the returner, the read-back and the admin share."""

import base64

import pytest

from salt_ext.core.config import parse
from salt_ext.core.delivery.delivery import Delivery
from salt_ext.core.errors import ConfigError, QueryError
from salt_ext.core.influxdb.admin import CONNECTION_OPTIONS
from salt_ext.core.influxdb.client import (
    AuthError,
    InfluxClient,
    InfluxError,
    check_connection,
    connection_options,
)
from salt_ext.core.influxdb.write import BACKEND
from salt_ext.core.readback.options import QUERY_OPTIONS
from support.httpserver import Scripted

SECRET = "cl1ent-Secret-pw"
OK = {"results": [{"statement_id": 0}]}


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("settings", "authorization"),
    [
        ({"user": "ann", "password": SECRET}, basic("ann", SECRET)),
        ({"token": SECRET}, f"Token {SECRET}"),
        ({"api": "v2", "user": "ann", "password": "x", "token": SECRET}, f"Token {SECRET}"),
        ({"api": "v3", "token": SECRET}, f"Bearer {SECRET}"),
        ({}, None),
    ],
)
def test_credentials_per_api_on_writes_and_queries_alike(settings, authorization):
    with Scripted((204, b""), (200, OK)) as server:
        client = InfluxClient(server.url, **settings)
        client.write(b"m f=1 1\n")
        client.query("SHOW DATABASES")
    write, query = server.requests
    assert write.headers.get("Authorization") == authorization
    assert query.headers.get("Authorization") == authorization
    assert SECRET not in repr(client) and client.label == server.url


def test_query_form_and_one_result_per_statement():
    answer = {"results": [{"statement_id": 0, "series": []}, {"statement_id": 1}]}
    with Scripted((200, answer)) as server:
        results = InfluxClient(server.url).query(
            ["SHOW DATABASES", "SHOW USERS"], {"db": "salt", "epoch": "s"}
        )
    assert results == answer["results"]
    (req,) = server.requests
    assert req.path == "/query" and req.query == {}
    assert req.form == {"q": "SHOW DATABASES; SHOW USERS", "db": "salt", "epoch": "s"}


def test_refused_credentials_name_who_and_never_the_secret():
    echo = {"error": f"authorization failed for {SECRET}"}
    with Scripted((401, echo), (403, echo), (401, echo)) as server:
        client = InfluxClient(server.url, user="ann", password=SECRET)
        with pytest.raises(AuthError) as as_ann:
            client.query("SHOW DATABASES")
        with pytest.raises(AuthError) as anonymous:
            client.login().query("SHOW DATABASES")
        with pytest.raises(AuthError) as token:
            InfluxClient(server.url, token=SECRET).query("SHOW DATABASES")
    assert str(as_ann.value) == (
        f"authentication failed for {server.url}, which refused user 'ann': "
        "HTTP 401: authorization failed for ***"
    )
    assert "which refused anonymous access: HTTP 403" in str(anonymous.value)
    assert "which refused the token" in str(token.value) and SECRET not in str(token.value)
    assert as_ann.value.problem == "HTTP 401: authorization failed for ***"
    assert "Authorization" not in server.requests[1].headers


@pytest.mark.parametrize(
    ("answer", "message", "problem"),
    [
        (
            (500, {"error": "timeout"}),
            "CREATE DATABASE on {url}: HTTP 500: timeout",
            "HTTP 500: timeout",
        ),
        ((200, b"<html/>"), "CREATE DATABASE on {url}: the answer is not InfluxQL results", None),
        (
            (200, {"results": [{"error": "a"}, {"error": "b"}]}),
            "CREATE DATABASE on {url}: a; b",
            "a; b",
        ),
        ((200, {"results": []}), "CREATE DATABASE on {url}: answered 0 of 1 statements", None),
    ],
)
def test_one_wording_for_every_failure(answer, message, problem):
    with Scripted(answer) as server:
        with pytest.raises(InfluxError) as info:
            InfluxClient(server.url).query("CREATE DATABASE \"x\" WITH PASSWORD 'z'")
    assert str(info.value) == message.format(url=server.url)
    assert info.value.problem == (problem or str(info.value))
    assert isinstance(info.value, QueryError)  # what the read-back runners report


def test_an_unreachable_server():
    client = InfluxClient("http://127.0.0.1:9", timeout=1)
    assert client.ping() is False
    with pytest.raises(InfluxError, match=r"^cannot connect to http://127.0.0.1:9"):
        client.query("SHOW DATABASES")
    with pytest.raises(InfluxError, match="does not answer /ping"):
        client.wait_ready(0)


def test_a_list_of_clients_is_a_delivery_s_transports():
    with Scripted((503, {"error": "overloaded"})) as down, Scripted((204, b"")) as up:
        clients = [InfluxClient(down.url, write_params={"db": "x"}), InfluxClient(up.url)]
        result = Delivery(clients).deliver(b"m f=1 1\n", 1)
    assert result.status == "sent" and result.destination == up.url
    assert down.requests[0].query == {"db": "x"}


def test_recover_gets_the_client_and_the_write_is_sent_once_more():
    seen = []

    def recover(client, response):
        seen.append((client, response.status))
        client.query("CREATE DATABASE x")
        return True

    with Scripted((404, {"error": "database not found"}), (200, OK), (204, b"")) as server:
        client = InfluxClient(server.url, recover=recover)
        client.write(b"m f=1 1\n")
    assert seen == [(client, 404)]
    assert [r.path for r in server.requests] == ["/write", "/query", "/write"]


def test_one_fragment_in_the_three_specs():
    """The returner, the read-back and the admin each keep their key and their own options;
    the connection part is the fragment's, the same Option objects' kinds and defaults."""
    fragment = connection_options()
    shared = {"user", "password", "token", "verify", "ca_bundle"}
    for spec in (BACKEND.options, QUERY_OPTIONS):
        for key in shared:
            ours, theirs = spec[key], fragment[key]
            assert (ours.kind, ours.default, ours.secret, ours.doc) == (
                theirs.kind,
                theirs.default,
                theirs.secret,
                theirs.doc,
            )
    assert "timeout" not in BACKEND.options  # every returner's own
    assert QUERY_OPTIONS["timeout"].default == fragment["timeout"].default
    assert {"admin_user", "admin_password", "timeout", "verify", "ca_bundle"} <= set(
        CONNECTION_OPTIONS
    )
    assert CONNECTION_OPTIONS["admin_password"].secret and "token" not in CONNECTION_OPTIONS


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"admin_user": "a"}, "x:admin_password"),
        ({"admin_password": SECRET}, "x:admin_user"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "x:ca_bundle"),
    ],
)
def test_connection_checks_name_the_key(raw, key):
    opts = parse("x", raw, connection_options("admin_"))
    with pytest.raises(ConfigError) as info:
        check_connection("x", opts, "admin_")
    assert info.value.key == key and SECRET not in str(info.value)


def test_from_options_reads_the_prefixed_credentials():
    opts = parse("x", {"admin_user": "a", "admin_password": SECRET}, connection_options("admin_"))
    with Scripted((200, OK)) as server:
        client = InfluxClient.from_options(opts, "admin_", url=server.url)
        client.query("SHOW USERS")
    assert server.requests[0].headers["Authorization"] == basic("a", SECRET)

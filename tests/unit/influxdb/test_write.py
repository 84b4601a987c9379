"""Unit tests of the InfluxDB backend (salt_ext.core.influxdb.write): options, the write request of
each API and database creation against a scripted HTTP server on 127.0.0.1, and the path through
the shared core (the returner loader module: tests/unit/loader/returners/)."""

import base64

import pytest

from salt_ext.core.delivery import returner as core
from salt_ext.core.errors import ConfigError, DeliveryError
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.influxdb.write import BACKEND
from salt_ext.core.samples import Sample, from_vitals_dict
from support.httpserver import Scripted
from support.influxdb import PAYLOAD, RET, SECRET, options, transport
from support.lineprotocol import (
    TS,
)
from support.saltconfig import salt_funcs
from support.vitals import small_vitals

VITALS = small_vitals(TS)


# =============================================================================================
# Options
# =============================================================================================
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


# =============================================================================================
# Write requests per API and database creation, against a scripted HTTP server
# =============================================================================================
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


# =============================================================================================
# Through the shared core
# =============================================================================================


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

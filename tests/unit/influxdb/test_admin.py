"""Pure parts of the InfluxDB admin: durations, literals, privileges (core/influxdb/influxql.py,
core/durations.py), connection options (core/influxdb/admin.py)."""

import pytest

from salt_ext.core.durations import influxql_seconds as duration_seconds
from salt_ext.core.errors import ConfigError
from salt_ext.core.influxdb.admin import connect
from salt_ext.core.influxdb.influxql import (
    check_privilege,
    create_database_statement,
    duration_literal,
    format_duration,
    influxql_string,
    retention_policy_statement,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("365d", 365 * 86400),
        ("8760h0m0s", 365 * 86400),
        ("52w1d", 365 * 86400),
        ("1h30m", 5400),
        ("INF", 0),
        ("inf", 0),
        ("0s", 0),
        ("90m", 5400),
    ],
)
def test_durations_compare_normalised(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "forever", "10", "1d2", "d1", "1x", "1d 2h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="InfluxQL duration"):
        duration_seconds(text)


def test_format_duration_is_influxdbs_spelling():
    assert format_duration(365 * 86400) == "8760h0m0s"
    assert format_duration(5400) == "1h30m0s"
    assert format_duration(0) == "INF"


def test_string_literal_cannot_be_escaped_from():
    assert influxql_string("it's") == "'it\\'s'"
    assert influxql_string("a\\'; DROP DATABASE x; '") == "'a\\\\\\'; DROP DATABASE x; \\''"


@pytest.mark.parametrize(
    ("given", "wanted"),
    [("read", "READ"), ("WRITE", "WRITE"), ("all", "ALL"), ("all  privileges", "ALL")],
)
def test_privileges(given, wanted):
    assert check_privilege(given) == wanted


def test_unknown_privilege():
    with pytest.raises(ValueError, match="READ, WRITE or ALL"):
        check_privilege("owner")


def test_connection_errors_name_the_key_and_hide_the_password():
    with pytest.raises(ConfigError, match="vitals_influxdb:url"):
        connect({"url": "ftp://x", "wait": 0})
    with pytest.raises(ConfigError, match="vitals_influxdb:admin_password"):
        connect({"admin_user": "admin", "wait": 0})
    with pytest.raises(ConfigError) as raised:
        connect({"timeout": "soon", "admin_password": "pw-hidden-1", "wait": 0})
    assert "vitals_influxdb:timeout" in str(raised.value)
    assert "pw-hidden-1" not in str(raised.value)


def test_create_statements_are_the_one_implementation():
    """The states and the influxdb returner's recovery path build CREATE statements here."""
    assert create_database_statement("salt") == 'CREATE DATABASE "salt"'
    assert create_database_statement('we"ird', "30d", 2, "vitals") == (
        'CREATE DATABASE "we\\"ird" WITH DURATION 30d REPLICATION 2 NAME "vitals"'
    )
    assert retention_policy_statement("CREATE", "rp", "db", 365 * 86400, 1, 7 * 86400, True) == (
        'CREATE RETENTION POLICY "rp" ON "db" DURATION 8760h0m0s REPLICATION 1'
        " SHARD DURATION 168h0m0s DEFAULT"
    )
    assert retention_policy_statement("CREATE", "rp", "db", 0, 1) == (
        'CREATE RETENTION POLICY "rp" ON "db" DURATION INF REPLICATION 1'
    )
    assert retention_policy_statement("ALTER", "rp", "db", duration="7d") == (
        'ALTER RETENTION POLICY "rp" ON "db" DURATION 7d'
    )
    assert duration_literal(" 52w ") == "52w" and duration_literal(3600) == "1h0m0s"
    with pytest.raises(ValueError, match="InfluxQL duration"):
        duration_literal("7 days; DROP DATABASE x")

"""InfluxQL written once (salt_ext/core/influxdb/influxql.py): literals, statements with exact
text, how errors name a statement, and the reading of /query answers."""

import json

import pytest

from salt_ext.core.influxdb import influxql


def test_identifiers_and_strings_cannot_be_escaped_from():
    assert influxql.influxql_ident('we"ird\\') == '"we\\"ird\\\\"'
    assert influxql.influxql_string("it's") == "'it\\'s'"


@pytest.mark.parametrize(
    ("given", "literal"),
    [(" 52w ", "52w"), ("inf", "inf"), ("100ms", "100ms"), ("0", "INF"), (3600, "1h0m0s")],
)
def test_duration_literals(given, literal):
    assert influxql.duration_literal(given) == literal


def test_statements():
    assert influxql.create_database_statement("salt", "0") == (
        'CREATE DATABASE "salt" WITH DURATION INF REPLICATION 1 NAME "autogen"'
    )
    assert influxql.drop_database_statement("salt") == 'DROP DATABASE "salt"'
    assert influxql.show_retention_policies_statement("salt") == (
        'SHOW RETENTION POLICIES ON "salt"'
    )
    assert influxql.drop_retention_policy_statement("rp", "db") == (
        'DROP RETENTION POLICY "rp" ON "db"'
    )
    assert influxql.create_user_statement("ann", "pw'1") == (
        "CREATE USER \"ann\" WITH PASSWORD 'pw\\'1'"
    )
    assert influxql.create_user_statement("root", "pw", admin=True) == (
        "CREATE USER \"root\" WITH PASSWORD 'pw' WITH ALL PRIVILEGES"
    )
    assert influxql.set_password_statement("ann", "pw") == "SET PASSWORD FOR \"ann\" = 'pw'"
    assert influxql.set_admin_statement("ann", True) == 'GRANT ALL PRIVILEGES TO "ann"'
    assert influxql.set_admin_statement("ann", False) == 'REVOKE ALL PRIVILEGES FROM "ann"'
    assert influxql.drop_user_statement("ann") == 'DROP USER "ann"'
    assert influxql.show_grants_statement("ann") == 'SHOW GRANTS FOR "ann"'
    assert influxql.grant_statement("ann", "salt", "all privileges") == (
        'GRANT ALL ON "salt" TO "ann"'
    )
    assert influxql.revoke_statement("ann", "salt") == 'REVOKE ALL ON "salt" FROM "ann"'
    with pytest.raises(ValueError, match="READ, WRITE or ALL"):
        influxql.grant_statement("ann", "salt", "owner")


@pytest.mark.parametrize(
    ("statements", "verb"),
    [
        ("CREATE USER \"ann\" WITH PASSWORD 'secret'", "CREATE USER"),
        ('SELECT mean("percent") FROM "cpu"', "SELECT"),
        (["SHOW DATABASES", "SHOW USERS"], "SHOW DATABASES"),
        ("SET PASSWORD FOR \"ann\" = 'secret'", "SET PASSWORD"),
        ([], "query"),
    ],
)
def test_errors_name_a_statement_by_its_keywords_only(statements, verb):
    assert influxql.verb(statements) == verb


def _body(data):
    return json.dumps(data).encode()


def test_answers_are_read_per_statement():
    results = influxql.parse_results(
        _body(
            {
                "results": [
                    {
                        "statement_id": 0,
                        "series": [
                            {"name": "a", "columns": ["name"], "values": [["salt"], ["_internal"]]}
                        ],
                    },
                    {"statement_id": 1, "error": "database not found: x"},
                    {"statement_id": 2},
                ]
            }
        )
    )
    assert influxql.errors(results) == ["database not found: x"]
    assert influxql.series(results[2]) == []
    assert influxql.rows(results[:1]) == [{"name": "salt"}, {"name": "_internal"}]
    assert influxql.databases(influxql.rows(results[:1])) == ["salt", "_internal"]


@pytest.mark.parametrize(
    "body", [b"<html>proxy error</html>", b"{}", b'{"results": {}}', b'{"results": [1]}', b"\xff"]
)
def test_what_is_not_influxdb_json_is_a_value_error(body):
    with pytest.raises(ValueError, match="not InfluxQL results"):
        influxql.parse_results(body)


def test_show_rows_become_plain_data():
    policies = [
        {
            "name": "autogen",
            "duration": "0s",
            "shardGroupDuration": "168h0m0s",
            "replicaN": 1,
            "default": False,
        },
        {"name": "keep", "duration": "8736h0m0s", "replicaN": 2, "default": True},
    ]
    assert influxql.retention_policies(policies) == {
        "autogen": {"duration": 0, "shard_duration": 604800, "replication": 1, "default": False},
        "keep": {"duration": 364 * 86400, "shard_duration": 0, "replication": 2, "default": True},
    }
    assert influxql.users([{"user": "admin", "admin": True}, {"user": "ann", "admin": False}]) == {
        "admin": True,
        "ann": False,
    }
    grants = [
        {"database": "a", "privilege": "ALL PRIVILEGES"},
        {"database": "b", "privilege": "READ"},
        {"database": "c", "privilege": "NO PRIVILEGES"},
    ]
    assert influxql.grants(grants) == {"a": "ALL", "b": "READ"}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "10s"), (60, "1m"), (600, "10m"), (3600, "1h"), (90, "90s"), (86400 * 30, "30d")]
    + [(86400 * 28, "4w"), (86400 * 365, "365d")],
)
def test_durations_in_a_query_as_influxdb_renders_them(seconds, text):
    assert influxql.group_duration(seconds) == text


def test_downsampling_statements():
    select = influxql.downsample_statement("salt", "vitals", "vitals_1m", 60)
    assert select == (
        'SELECT mean(*), max(*) INTO "salt"."vitals_1m".:MEASUREMENT FROM "salt"."vitals"./.*/'
        " GROUP BY time(1m), *"
    )
    assert influxql.downsample_statement("salt", "vitals", "t", 600, 1200, 4800) == (
        'SELECT mean(*), max(*) INTO "salt"."t".:MEASUREMENT FROM "salt"."vitals"./.*/'
        " WHERE time >= 1200s AND time < 4800s GROUP BY time(10m), *"
    )
    assert influxql.create_continuous_query_statement("vitals_1m", "salt", select, 600) == (
        'CREATE CONTINUOUS QUERY "vitals_1m" ON "salt" RESAMPLE FOR 10m BEGIN ' + select + " END"
    )
    assert influxql.create_continuous_query_statement("q", "salt", "SELECT 1") == (
        'CREATE CONTINUOUS QUERY "q" ON "salt" BEGIN SELECT 1 END'
    )
    assert influxql.drop_continuous_query_statement("q", "salt") == (
        'DROP CONTINUOUS QUERY "q" ON "salt"'
    )


def test_a_query_compares_with_influxdbs_rendering_of_it():
    select = influxql.downsample_statement("salt", "vitals", "vitals_1m", 60)
    ours = influxql.create_continuous_query_statement("vitals_1m", "salt", select, 600)
    # SHOW CONTINUOUS QUERIES of influxd 1.6.7 for the statement above
    shown = (
        "CREATE CONTINUOUS QUERY vitals_1m ON salt RESAMPLE FOR 10m BEGIN SELECT mean(*), max(*)"
        " INTO salt.vitals_1m.:MEASUREMENT FROM salt.vitals./.*/ GROUP BY time(1m), * END"
    )
    assert influxql.normalise_query(ours) == influxql.normalise_query(shown) == shown
    # a name that needs its quotes keeps them on both sides
    assert influxql.normalise_query('FROM "a-b"."c"') == 'FROM "a-b".c'


def test_continuous_queries_per_database():
    answer = {
        "statement_id": 0,
        "series": [
            {"name": "_internal", "columns": ["name", "query"]},
            {
                "name": "salt",
                "columns": ["name", "query"],
                "values": [["a", "CREATE CONTINUOUS QUERY a ON salt BEGIN SELECT 1 END"]],
            },
        ],
    }
    assert influxql.continuous_queries([answer]) == {
        "_internal": {},
        "salt": {"a": "CREATE CONTINUOUS QUERY a ON salt BEGIN SELECT 1 END"},
    }


def test_downsampling_tiers_are_read_back_from_influxdbs_rendering():
    ours = influxql.downsample_statement("salt", "vitals", 'we"ird', 600)
    queries = {
        "a": "CREATE CONTINUOUS QUERY a ON salt RESAMPLE FOR 10m BEGIN SELECT mean(*), max(*)"
        " INTO salt.vitals_1m.:MEASUREMENT FROM salt.vitals./.*/ GROUP BY time(1m), * END",
        "b": f'CREATE CONTINUOUS QUERY "b" ON "salt" BEGIN {ours} END',
        "other_db": "CREATE CONTINUOUS QUERY c ON other BEGIN SELECT mean(*), max(*) INTO"
        " other.t.:MEASUREMENT FROM other.vitals./.*/ GROUP BY time(10m), * END",
        "across_dbs": "CREATE CONTINUOUS QUERY d ON salt BEGIN SELECT mean(*), max(*) INTO"
        " salt.t.:MEASUREMENT FROM other.vitals./.*/ GROUP BY time(10m), * END",
        "theirs": "CREATE CONTINUOUS QUERY e ON salt BEGIN SELECT mean(x) INTO salt.t.y FROM"
        " salt.vitals.cpu GROUP BY time(1h) END",
    }
    assert influxql.downsampling_tiers(queries, "salt") == {
        "vitals_1m": ("vitals", 60),
        'we"ird': ("vitals", 600),
    }

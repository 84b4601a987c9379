"""Unit tests of the InfluxDB reader (salt_ext.core.influxdb.read.InfluxReader) against a scripted
HTTP server on 127.0.0.1: the exact ``/query`` request and InfluxQL each reader call sends, what
it makes of InfluxDB 1.x's answers, and its errors (one line, no secret). At fleet size
``summary`` is one request per metric of two statements, ``last()`` and ``mean()`` per bucket,
aggregated by influxd. The same reader against a real influxd:
tests/integration/backends/test_query_backends.py and test_query_scale.py.

Each canned answer has its helper (``fields_of``, ``hosts_of``, ``selected``, ``failed``) shaped
like influxd's own JSON with ``epoch=s``."""

import pytest

from salt_ext.core.errors import QueryError
from salt_ext.core.influxdb.read import RAW, Tier, choose_tier, find_tiers
from salt_ext.core.readback.options import open_reader, read_options
from salt_ext.core.samples import Metric, Summary
from support.httpserver import Scripted
from vitals_daemons.process import refused_port

CPU = Metric("cpu", "percent")
CORES = Metric("cores", "percent")
DISK = Metric("disk", "percent")
SECRET = "Infl0x-Secret"
TOKEN = "t0ken-Secret-xyz"
WINDOW = "time >= 1000s AND time < 1090s"


def reader(url, **query):
    """The reader ``vitals_query:`` with ``backend: influxdb`` opens; without the request that
    finds the downsampling tiers (the tests of tiers turn it on)."""
    return open_reader(read_options({"backend": "influxdb", "url": url, "tiers": False, **query}))


# -- canned answers of influxd -------------------------------------------------------------------


def results(*statements):
    """``/query``'s answer: one result per statement, each a list of series (none: no data)."""
    return 200, {
        "results": [
            {"statement_id": i, **({"series": found} if found else {})}
            for i, found in enumerate(statements)
        ]
    }


def fields_of(measurement, *fields):
    """The series of ``SHOW FIELD KEYS FROM <measurement>``."""
    values = [[name, "float"] for name in fields]
    return [{"name": measurement, "columns": ["fieldKey", "fieldType"], "values": values}]


def hosts_of(measurement, *hosts):
    """The series of ``SHOW TAG VALUES FROM <measurement> WITH KEY = "host"``."""
    values = [["host", host] for host in hosts]
    return [{"name": measurement, "columns": ["key", "value"], "values": values}]


def selected(measurement, field, *tagged_points):
    """The series of a ``SELECT`` grouped by tags: ``(tags, [(ts, value), ...])`` each."""
    return [
        {
            "name": measurement,
            "tags": tags,
            "columns": ["time", field],
            "values": [[ts, value] for ts, value in points],
        }
        for tags, points in tagged_points
    ]


def failed(error):
    """A statement InfluxDB refused: HTTP 200, the error inside the result."""
    return 200, {"results": [{"statement_id": 0, "error": error}]}


def only_request(server):
    (request,) = server.requests
    return request


def statements(request):
    return [statement.strip() for statement in request.form["q"].split(";")]


# -- what exists: fields and nodes ---------------------------------------------------------------


def test_fields_are_the_field_keys_of_the_group_s_measurement():
    with Scripted(results(fields_of("mem", "used", "percent", "total"))) as server:
        assert reader(server.url).fields("mem") == ["percent", "total", "used"]
    request = only_request(server)
    assert (request.method, request.path, request.query) == ("POST", "/query", {})
    assert request.pairs == [("q", 'SHOW FIELD KEYS FROM "mem"'), ("db", "salt"), ("epoch", "s")]


def test_nodes_are_the_host_tag_values_once_the_field_exists():
    answers = (results(fields_of("cpu", "percent")), results(hosts_of("cpu", "pi-02", "pi-01")))
    with Scripted(*answers) as server:
        assert reader(server.url).nodes(CPU) == ["pi-01", "pi-02"]
    assert [r.form["q"] for r in server.requests] == [
        'SHOW FIELD KEYS FROM "cpu"',
        'SHOW TAG VALUES FROM "cpu" WITH KEY = "host"',
    ]


def test_no_such_field_means_no_nodes_and_no_second_query():
    with Scripted(results(fields_of("cpu", "count"))) as server:
        assert reader(server.url).nodes(CPU) == []
    assert len(server.requests) == 1


def test_an_empty_database_has_no_fields():
    with Scripted(results([])) as server:
        assert reader(server.url).fields("temp") == []


# -- summaries and buckets -----------------------------------------------------------------------


def test_summary_is_last_and_bucket_means_in_one_request():
    newest = selected(
        "cpu", "last", ({"host": "pi-01"}, [(1080, 13.0)]), ({"host": "pi-02"}, [(1050, 50.5)])
    )
    means = selected(
        "cpu",
        "mean",
        ({"host": "pi-01"}, [(960, 10.0), (1020, 12.0)]),
        ({"host": "pi-02"}, [(1020, 50.0)]),
    )
    with Scripted(results(newest, means)) as server:
        got = reader(server.url).summary(CPU, None, 1000, 1090, 60, 30)
    assert got == {
        ("pi-01", None): Summary((1080, 13.0), [(960, 10.0), (1020, 12.0)]),
        ("pi-02", None): Summary((1050, 50.5), [(1020, 50.0)]),
    }
    request = only_request(server)
    assert (request.method, request.path, request.query) == ("POST", "/query", {})
    assert statements(request) == [
        # cpu shares its measurement with cores: only the series without a cpu tag
        f"""SELECT last("percent") FROM "cpu" WHERE {WINDOW} AND "cpu" = ''"""
        ' GROUP BY "host"',
        f"""SELECT mean("percent") FROM "cpu" WHERE {WINDOW} AND "cpu" = ''"""
        """ GROUP BY time(60s), "host" fill(none)""",
    ]
    assert [(k, v) for k, v in request.pairs if k != "q"] == [("db", "salt"), ("epoch", "s")]


def test_summary_without_a_step_is_one_bucket_at_the_start_of_the_window_of_chosen_nodes():
    tags = {"host": "pi-01", "path": "/boot"}
    newest = selected("disk", "last", (tags, [(1080, 41.5)]))
    means = selected("disk", "mean", (tags, [(1000, 41.0)]))
    with Scripted(results(newest, means)) as server:
        got = reader(server.url).summary(DISK, ["pi-01", "o'neil\\"], 1000, 1090, None, 30)
    assert got == {("pi-01", "/boot"): Summary((1080, 41.5), [(1000, 41.0)])}
    # chosen nodes are quoted InfluxQL strings; a tagged group reads only its tagged series
    hosts = """("host" = 'pi-01' OR "host" = 'o\\'neil\\\\')"""
    assert statements(only_request(server)) == [
        f"""SELECT last("percent") FROM "disk" WHERE {WINDOW} AND {hosts} AND "path" != ''"""
        ' GROUP BY "host", "path"',
        f"""SELECT mean("percent") FROM "disk" WHERE {WINDOW} AND {hosts} AND "path" != ''"""
        ' GROUP BY "host", "path"',
    ]


def test_buckets_group_by_time_and_keep_empty_buckets():
    cores = selected(
        "cpu",
        "max",
        ({"host": "pi-01", "cpu": "0"}, [(960, 90.0), (1020, None)]),
        ({"host": "pi-01", "cpu": "1"}, [(960, 5.0), (1020, 7.5)]),
    )
    with Scripted(results(cores)) as server:
        buckets = reader(server.url).buckets(CORES, None, 960, 1080, 60, "max")
    assert buckets == {
        ("pi-01", "0"): [(960, 90.0), (1020, None)],
        ("pi-01", "1"): [(960, 5.0), (1020, 7.5)],
    }
    assert statements(only_request(server)) == [
        'SELECT max("percent") FROM "cpu" WHERE time >= 960s AND time < 1080s AND "cpu" != \'\''
        ' GROUP BY time(60s), "host", "cpu" fill(null)'
    ]


@pytest.mark.parametrize("agg", ["mean", "min", "last"])
def test_each_aggregate_is_its_influxql_selector(agg):
    with Scripted(results([])) as server:
        reader(server.url).buckets(CPU, ["pi-01"], 960, 1080, 60, agg)
    assert statements(only_request(server))[0].startswith(f'SELECT {agg}("percent") FROM "cpu"')


def test_a_retention_policy_qualifies_the_measurement_and_is_sent():
    with Scripted(results(fields_of("cpu", "percent"))) as server:
        reader(server.url, db="vitals", rp="week").fields("cpu")
    assert only_request(server).pairs == [
        ("q", 'SHOW FIELD KEYS FROM "vitals"."week"."cpu"'),
        ("db", "vitals"),
        ("epoch", "s"),
        ("rp", "week"),
    ]


def test_a_retention_policy_qualifies_every_statement_of_a_summary():
    with Scripted(results([], [])) as server:
        assert reader(server.url, rp="week").summary(CPU, None, 1000, 1090, 60, 30) == {}
    request = only_request(server)
    assert all(' FROM "salt"."week"."cpu" WHERE ' in s for s in statements(request))
    assert request.form["rp"] == "week"


# -- APIs and credentials ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "db", "authorization"),
    [
        ({"user": "reader", "password": SECRET}, "salt", "Basic cmVhZGVyOkluZmwweC1TZWNyZXQ="),
        ({"token": TOKEN}, "salt", f"Token {TOKEN}"),
        ({"api": "v2", "bucket": "vitals", "token": TOKEN}, "vitals", f"Token {TOKEN}"),
        ({}, "salt", None),
    ],
    ids=["v1-basic", "v1-token", "v2-bucket-token", "v1-anonymous"],
)
def test_credentials_go_in_the_authorization_header(query, db, authorization):
    with Scripted(results([])) as server:
        reader(server.url, **query).fields("cpu")
    request = only_request(server)
    assert request.headers.get("Authorization") == authorization
    assert request.form["db"] == db
    assert SECRET not in request.path and TOKEN not in request.path


# -- errors: one line, no secret -----------------------------------------------------------------


def error_of(call):
    with pytest.raises(QueryError) as info:
        call()
    text = str(info.value)
    assert "\n" not in text and SECRET not in text and TOKEN not in text
    return text


def basic(server):
    return reader(server.url, user="reader", password=SECRET)


def test_401_says_authentication_failed_with_influxdb_s_reason():
    answer = (401, {"error": "authorization failed"}, {"X-Influxdb-Error": "authorization failed"})
    with Scripted(answer) as server:
        text = error_of(lambda: basic(server).fields("cpu"))
    assert text == (
        f"authentication failed for {server.url}, which refused user 'reader':"
        " HTTP 401: authorization failed"
    )


def test_404_quotes_the_answer():
    with Scripted((404, b"404 page not found\n")) as server:
        text = error_of(lambda: reader(server.url, token=TOKEN).fields("cpu"))
    assert text == f"SHOW FIELD on {server.url}: HTTP 404: 404 page not found"


def test_an_echoed_secret_is_scrubbed_from_the_quoted_answer():
    with Scripted((500, {"error": f"bad password {SECRET} for reader"})) as server:
        text = error_of(lambda: basic(server).fields("cpu"))
    assert text == f"SHOW FIELD on {server.url}: HTTP 500: bad password *** for reader"


def test_a_refused_statement_is_an_error_naming_influxdb_s_reason():
    with Scripted(failed("database not found: salt")) as server:
        text = error_of(lambda: basic(server).nodes(CPU))
    assert text == f"SHOW FIELD on {server.url}: database not found: salt"


@pytest.mark.parametrize(
    "answer",
    [(200, b"<html>proxy login</html>"), (200, {"error": "no results"}), (200, b"[1, 2]")],
    ids=["html", "no-results", "not-an-object"],
)
def test_an_answer_that_is_not_influxql_results_is_an_error(answer):
    with Scripted(answer) as server:
        text = error_of(lambda: basic(server).fields("cpu"))
    assert text == f"SHOW FIELD on {server.url}: the answer is not InfluxQL results"


def test_fewer_results_than_statements_is_an_error():
    with Scripted(results([])) as server:
        text = error_of(lambda: basic(server).summary(CPU, None, 0, 60, 60, 60))
    assert text == f"SELECT on {server.url}: answered 1 of 2 statements"


def test_a_refused_connection_is_an_error():
    port = refused_port()
    text = error_of(lambda: reader(f"http://127.0.0.1:{port}", token=TOKEN).fields("cpu"))
    assert text == f"cannot connect to http://127.0.0.1:{port}: Connection refused"


# -- downsampling tiers --------------------------------------------------------------------------
DAY = 86400
NOW = 1_800_000_000
RAW_7D = Tier("", 0, 7 * DAY)
T1M = Tier("vitals_1m", 60, 30 * DAY)
T10M = Tier("vitals_10m", 600, 365 * DAY)


@pytest.mark.parametrize(
    ("start", "step", "chosen"),
    [
        (NOW - 3600, 60, RAW_7D),  # the raw tier covers the window: raw, whatever the step
        (NOW - 7 * DAY, 86400, RAW_7D),
        (NOW - 8 * DAY, 60, T1M),  # beyond raw: a tier that covers the start
        (NOW - 8 * DAY, 3600, T10M),  # both divide 1 h: the coarser, 10x fewer points
        (NOW - 8 * DAY, 900, T1M),  # 10 m does not divide 15 m: 1 m
        (NOW - 8 * DAY, 10, T1M),  # finer than any tier: the finest that covers
        (NOW - 60 * DAY, 60, T10M),  # only 10 m keeps 60 days
        (NOW - 400 * DAY, 60, T10M),  # none covers: the one keeping the longest
    ],
)
def test_the_tier_of_a_window(start, step, chosen):
    assert choose_tier(RAW_7D, [T10M, T1M], start, step, NOW) == chosen


def test_a_raw_tier_kept_forever_is_always_read():
    assert choose_tier(RAW, [T1M], NOW - 400 * DAY, 60, NOW) == RAW
    assert choose_tier(Tier("", 0, DAY), [], NOW - 2 * DAY, 60, NOW).policy == ""


SHOW_1M = (
    "CREATE CONTINUOUS QUERY vitals_1m ON salt RESAMPLE FOR 10m BEGIN SELECT mean(*), max(*)"
    " INTO salt.vitals_1m.:MEASUREMENT FROM salt.vitals./.*/ GROUP BY time(1m), * END"
)
POLICIES = [
    {"name": "autogen", "duration": "0s", "replicaN": 1, "default": False},
    {"name": "vitals", "duration": "168h0m0s", "replicaN": 1, "default": True},
    {"name": "vitals_1m", "duration": "720h0m0s", "replicaN": 1, "default": False},
    {"name": "old", "duration": "720h0m0s", "replicaN": 1, "default": False},
]


def test_tiers_are_the_policies_a_downsampling_query_feeds_from_the_default():
    queries = {
        "vitals_1m": SHOW_1M,
        "from_autogen": SHOW_1M.replace("vitals_1m", "old").replace(".vitals./", ".autogen./"),
        "no_policy": SHOW_1M.replace("vitals_1m", "gone"),
        "theirs": "CREATE CONTINUOUS QUERY theirs ON salt BEGIN SELECT mean(x) INTO salt.old.y"
        " FROM salt.vitals.cpu GROUP BY time(1h) END",
    }
    assert find_tiers("salt", POLICIES, queries) == (RAW_7D, [T1M])
    assert find_tiers("salt", [], queries) == (RAW, [])


def tier_answers():
    """influxd's answer to the request that finds the tiers."""
    policies = [
        {
            "columns": ["name", "duration", "shardGroupDuration", "replicaN", "default"],
            "values": [[p["name"], p["duration"], "24h0m0s", 1, p["default"]] for p in POLICIES],
        }
    ]
    queries = [{"name": "salt", "columns": ["name", "query"], "values": [["vitals_1m", SHOW_1M]]}]
    return results(policies, queries)


def test_a_window_beyond_the_raw_policy_reads_the_tier_s_columns(monkeypatch):
    monkeypatch.setattr("salt_ext.core.influxdb.read.time.time", lambda: NOW)
    start = NOW - 8 * DAY
    newest = selected("cpu", "last", ({"host": "pi-01"}, [(start + 60, 13.0)]))
    means = selected("cpu", "mean", ({"host": "pi-01"}, [(start, 12.5)]))
    with Scripted(tier_answers(), results(newest, means), results([])) as server:
        tiered = reader(server.url, tiers=True)
        got = tiered.summary(CPU, None, start, start + 120, 120, 30)
        tiered.buckets(CPU, None, start, start + 120, 60, "max")
    assert got == {("pi-01", None): Summary((start + 60, 13.0), [(start, 12.5)])}
    found, summary, buckets = server.requests  # the tiers are asked for once
    assert statements(found) == ['SHOW RETENTION POLICIES ON "salt"', "SHOW CONTINUOUS QUERIES"]
    window = f"time >= {start}s AND time < {start + 120}s"
    assert statements(summary) == [
        f"""SELECT last("mean_percent") FROM "salt"."vitals_1m"."cpu" WHERE {window}"""
        ' AND "cpu" = \'\' GROUP BY "host"',
        f"""SELECT mean("mean_percent") FROM "salt"."vitals_1m"."cpu" WHERE {window}"""
        """ AND "cpu" = '' GROUP BY time(120s), "host" fill(none)""",
    ]
    assert statements(buckets)[0].startswith(
        'SELECT max("max_percent") FROM "salt"."vitals_1m"."cpu" WHERE '
    )


def test_a_window_the_raw_policy_covers_reads_raw_points(monkeypatch):
    monkeypatch.setattr("salt_ext.core.influxdb.read.time.time", lambda: NOW)
    with Scripted(tier_answers(), results([])) as server:
        reader(server.url, tiers=True).buckets(CPU, None, NOW - 3600, NOW, 60, "min")
    assert statements(server.requests[1])[0].startswith('SELECT min("percent") FROM "cpu" WHERE')


def test_a_server_that_cannot_list_the_tiers_is_read_raw(caplog):
    refused = (403, {"error": "error authorizing query: reader not authorized"})
    with Scripted(refused, results([])) as server:
        reader(server.url, tiers=True).buckets(CPU, None, NOW - 3600, NOW, 60, "mean")
    assert statements(server.requests[1])[0].startswith('SELECT mean("percent") FROM "cpu" WHERE')
    assert "reading the raw policy only, the tiers are unknown" in caplog.text
    assert "not authorized" in caplog.text

"""The InfluxDB reader's InfluxQL at fleet size, against a scripted HTTP server on 127.0.0.1:
``summary`` is one request per metric of two statements, ``last()`` and ``mean()`` per bucket,
aggregated by influxd; history's buckets the same SELECT with the chosen selector. The same
reader against a real influxd: tests/integration/backends."""

from urllib.parse import parse_qsl

from salt_ext.core.readback.options import open_reader, read_options
from salt_ext.core.samples import Metric, Summary
from support.httpserver import Scripted

CPU = Metric("cpu", "percent")
DISK = Metric("disk", "percent")
WINDOW = "time >= 1000s AND time < 1090s"


def reader(url, **query):
    return open_reader(read_options({"backend": "influxdb", "url": url, "db": "salt", **query}))


def results(*statements):
    """InfluxDB 1.x's /query answer: one result of ``(tags, values)`` series per statement."""
    return 200, {
        "results": [
            {
                "statement_id": i,
                "series": [
                    {"name": "m", "tags": tags, "columns": ["time", "v"], "values": values}
                    for tags, values in series
                ],
            }
            for i, series in enumerate(statements)
        ]
    }


def sent(request):
    form = dict(parse_qsl(request.body.decode()))
    return form["q"].split(";"), {k: v for k, v in form.items() if k != "q"}


def test_summary_is_last_and_bucket_means_in_one_request():
    answer = results(
        [({"host": "pi-01"}, [[1080, 13.0]]), ({"host": "pi-02"}, [[1050, 50.5]])],
        [
            ({"host": "pi-01"}, [[960, 10.0], [1020, 12.0]]),
            ({"host": "pi-02"}, [[1020, 50.0]]),
        ],
    )
    with Scripted(answer) as server:
        got = reader(server.url).summary(CPU, None, 1000, 1090, 60, 30)
    assert got == {
        ("pi-01", None): Summary((1080, 13.0), [(960, 10.0), (1020, 12.0)]),
        ("pi-02", None): Summary((1050, 50.5), [(1020, 50.0)]),
    }
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/query")
    statements, rest = sent(request)
    assert statements == [
        f"""SELECT last("percent") FROM "cpu" WHERE {WINDOW} AND "cpu" = '' GROUP BY "host\"""",
        f"""SELECT mean("percent") FROM "cpu" WHERE {WINDOW} AND "cpu" = ''"""
        """ GROUP BY time(60s), "host" fill(none)""",
    ]
    assert rest == {"db": "salt", "epoch": "s"}


def test_summary_without_a_step_is_one_bucket_at_the_start_of_the_window():
    answer = results(
        [({"host": "pi-01", "path": "/boot"}, [[1080, 41.5]])],
        [({"host": "pi-01", "path": "/boot"}, [[1000, 41.0]])],
    )
    with Scripted(answer) as server:
        got = reader(server.url).summary(DISK, ["pi-01", "o'neil"], 1000, 1090, None, 30)
    assert got == {("pi-01", "/boot"): Summary((1080, 41.5), [(1000, 41.0)])}
    hosts = """("host" = 'pi-01' OR "host" = 'o\\'neil')"""
    assert sent(server.requests[0])[0] == [
        f"""SELECT last("percent") FROM "disk" WHERE {WINDOW} AND {hosts} AND "path" != ''"""
        """ GROUP BY "host", "path\"""",
        f"""SELECT mean("percent") FROM "disk" WHERE {WINDOW} AND {hosts} AND "path" != ''"""
        """ GROUP BY "host", "path\"""",
    ]


def test_a_retention_policy_qualifies_every_statement():
    with Scripted(results([], [])) as server:
        assert reader(server.url, rp="week").summary(CPU, None, 1000, 1090, 60, 30) == {}
    statements, rest = sent(server.requests[0])
    assert all(' FROM "salt"."week"."cpu" WHERE ' in s for s in statements)
    assert rest["rp"] == "week"


def test_history_buckets_are_the_same_select_with_the_selector_and_empty_buckets():
    answer = results([({"host": "pi-01"}, [[960, 12.0], [1020, None]])])
    with Scripted(answer) as server:
        got = reader(server.url).buckets(CPU, None, 1000, 1090, 60, "max")
    assert got == {("pi-01", None): [(960, 12.0), (1020, None)]}
    assert sent(server.requests[0])[0] == [
        f"""SELECT max("percent") FROM "cpu" WHERE {WINDOW} AND "cpu" = ''"""
        """ GROUP BY time(60s), "host" fill(null)""",
    ]

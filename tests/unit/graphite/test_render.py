"""Unit tests of the graphite-web reader (salt_ext.core.graphite.render.GraphiteReader) against a
scripted HTTP server on 127.0.0.1: the exact find and render requests each reader call makes,
what it makes of graphite-web's answers, and its errors (one line, no secret). At fleet size
``summary`` is one render per metric (bucket means by ``summarize``, the recent raw points by
``timeSlice``) and a second render only for series with nothing recent; every request is a POST.
The same reader against a real graphite-web: tests/integration/backends/test_query_backends.py
and test_query_scale.py.

Each canned answer has its helper (``found``, ``rendered``) shaped like graphite-web 1.1's own
(``metrics/views.py`` completer format, ``render/views.py`` renderViewJson)."""

import pytest

from salt_ext.core.errors import QueryError
from salt_ext.core.readback.options import open_reader, read_options
from salt_ext.core.samples import Metric, Summary
from support.httpserver import Scripted
from vitals_daemons.process import refused_port

CPU = Metric("cpu", "percent")
DISK = Metric("disk", "percent")
SECRET = "Gr4phite-Secret"
WIDEST = 366 * 86400  # the one-bucket summarize's interval beyond the window


def reader(url, **query):
    """The reader ``vitals_query:`` with ``backend: graphite`` opens."""
    return open_reader(read_options({"backend": "graphite", "url": url, **query}))


# -- canned answers of graphite-web --------------------------------------------------------------


def found(*paths):
    """``/metrics/find?format=completer``: a leaf for each path, a branch for one ending in ``.``
    (graphite-web appends the dot to a branch's path)."""
    metrics = [
        {
            "path": path,
            "name": path.rstrip(".").rsplit(".", 1)[-1],
            "is_leaf": "0" if path.endswith(".") else "1",
        }
        for path in paths
    ]
    return 200, {"metrics": metrics}


def series(path, *points, target=None, function=None):
    """One series of ``/render?format=json``: ``[value, ts]`` datapoints, the path as its
    ``name`` tag (the target name changes with the functions applied, the tag does not), and
    the tag a ``function`` adds (``summarize``, ``timeSliceStart``)."""
    tags = {"name": path, **({function: "x"} if function else {})}
    return {
        "target": target or path,
        "tags": tags,
        "datapoints": [[value, ts] for ts, value in points],
    }


def recent(path, *points):
    """A series of the ``timeSlice`` target: the raw points of the recent tail."""
    return series(path, *points, function="timeSliceStart")


def rendered(*all_series):
    return 200, list(all_series)


def only_request(server):
    (request,) = server.requests
    return request


# -- find: nodes and fields ----------------------------------------------------------------------


def test_nodes_are_the_minion_segments_of_the_metric_s_paths():
    answer = found("vitals.pi-02.disk.root.percent", "vitals.pi-01.disk.boot.percent")
    with Scripted(answer, found()) as server:
        assert reader(server.url).nodes(DISK) == ["pi-01", "pi-02"]
        assert reader(server.url).nodes(CPU) == []
    first, second = server.requests
    assert (first.method, first.path) == ("POST", "/metrics/find")
    assert first.pairs == [("query", "vitals.*.disk.*.percent"), ("format", "completer")]
    assert second.pairs == [("query", "vitals.*.cpu.percent"), ("format", "completer")]


def test_fields_are_the_leaf_names_under_the_group():
    answer = found(
        "vitals.pi-01.mem.used",
        "vitals.pi-01.mem.percent",
        "vitals.pi-02.mem.percent",
        "vitals.pi-01.mem.old.",  # a branch, not a field
    )
    with Scripted(answer) as server:
        assert reader(server.url).fields("mem") == ["percent", "used"]
    assert only_request(server).form == {"query": "vitals.*.mem.*", "format": "completer"}


def test_paths_follow_the_configured_prefix_and_template():
    with Scripted(found("lab.disk.pi-01.root.percent")) as server:
        nodes = reader(
            server.url, prefix="lab", template="{prefix}.{group}.{minion}.{tags}.{name}"
        ).nodes(DISK)
    assert nodes == ["pi-01"]
    assert only_request(server).form["query"] == "lab.disk.*.*.percent"


def test_find_is_a_post_so_a_long_selection_passes():
    answer = found("vitals.pi-01.cpu.percent")
    names = ",".join(f"node-{i:04d}" for i in range(1000))  # far past a 4 KB request line
    with Scripted(answer) as server:
        assert reader(server.url).find(f"vitals.{{{names}}}.cpu.percent")
    request = only_request(server)
    assert (request.method, request.path, request.query) == ("POST", "/metrics/find", {})
    assert request.pairs == [("query", f"vitals.{{{names}}}.cpu.percent"), ("format", "completer")]


# -- render: summaries, buckets, png -------------------------------------------------------------


def test_summary_is_one_render_of_bucket_means_and_the_recent_points():
    answer = rendered(
        series("vitals.pi-01.cpu.percent", (960, 10.0), (1020, 12.0)),
        series("vitals.pi-02.cpu.percent", (1020, 50.0)),
        recent("vitals.pi-01.cpu.percent", (1070, 12.5), (1080, 13.0)),
        recent("vitals.pi-02.cpu.percent", (1050, 50.5)),
    )
    with Scripted(answer) as server:
        got = reader(server.url).summary(CPU, None, 1000, 1090, 60, 30)
    assert got == {
        ("pi-01", None): Summary((1080, 13.0), [(960, 10.0), (1020, 12.0)]),
        ("pi-02", None): Summary((1050, 50.5), [(1020, 50.0)]),
    }
    request = only_request(server)
    assert (request.method, request.path) == ("POST", "/render")
    assert request.pairs == [
        ("target", 'summarize(vitals.*.cpu.percent, "60s", "avg")'),
        # timeSlice compares wall-clock times: its end lies a day out
        ("target", f'timeSlice(vitals.*.cpu.percent, "1060", "{1090 + 86400}")'),
        ("from", "999"),  # whisper leaves out a point at exactly `from`
        ("until", "1089"),
        ("format", "json"),
        ("noNullPoints", "true"),
    ]


def test_summary_matches_each_series_back_to_its_node_and_tag_and_drops_nulls():
    answer = rendered(
        series("vitals.pi-01.disk.root.percent", (960, 41.0), (1020, None)),
        series("vitals.pi-01.disk.boot.percent", (960, 10.5)),
        recent("vitals.pi-01.disk.root.percent", (1070, 41.5), (1080, None)),
        recent("vitals.pi-01.disk.boot.percent", (1070, 10.0)),
    )
    with Scripted(answer) as server:
        got = reader(server.url).summary(DISK, None, 1000, 1090, 60, 30)
    assert got == {
        ("pi-01", "root"): Summary((1070, 41.5), [(960, 41.0)]),
        ("pi-01", "boot"): Summary((1070, 10.0), [(960, 10.5)]),
    }


def test_summary_without_a_step_is_one_bucket_at_the_start_of_the_window():
    answer = rendered(
        series("vitals.pi-01.disk.root.percent", (1010, 41.0)),
        recent("vitals.pi-01.disk.root.percent", (1290, 41.5)),
    )
    with Scripted(answer) as server:
        got = reader(server.url).summary(DISK, ["pi-01", "pi-02"], 1000, 1300, None, 180)
    assert got == {("pi-01", "root"): Summary((1290, 41.5), [(1000, 41.0)])}
    assert only_request(server).pairs[:2] == [
        (
            "target",
            f'summarize(vitals.{{pi-01,pi-02}}.disk.*.percent, "{300 + WIDEST}s", "avg", true)',
        ),
        ("target", f'timeSlice(vitals.{{pi-01,pi-02}}.disk.*.percent, "1120", "{1300 + 86400}")'),
    ]


def test_summary_of_one_chosen_node_names_it_alone():
    with Scripted(rendered()) as server:
        assert reader(server.url).summary(CPU, ["pi-01"], 1000, 1090, 60, 30) == {}
    targets = [v for k, v in only_request(server).pairs if k == "target"]
    assert targets == [
        'summarize(vitals.pi-01.cpu.percent, "60s", "avg")',
        f'timeSlice(vitals.pi-01.cpu.percent, "1060", "{1090 + 86400}")',
    ]


def test_a_series_with_nothing_recent_gets_its_newest_point_from_a_second_render():
    first = rendered(
        series("vitals.pi-01.cpu.percent", (900, 5.0), (960, 6.0)),
        series("vitals.pi-02.cpu.percent", (1020, 7.0)),
        recent("vitals.pi-02.cpu.percent", (1080, 7.5)),
    )
    second = rendered(series("vitals.pi-01.cpu.percent", (960, 6.0), (970, 6.5)))
    with Scripted(first, second) as server:
        got = reader(server.url).summary(CPU, None, 900, 1090, 60, 60)
    assert got[("pi-01", None)] == Summary((970, 6.5), [(900, 5.0), (960, 6.0)])
    assert got[("pi-02", None)] == Summary((1080, 7.5), [(1020, 7.0)])
    assert server.requests[1].pairs == [  # only the stale node, from its last bucket on
        ("target", "vitals.pi-01.cpu.percent"),
        ("from", "959"),
        ("until", "1089"),
        ("format", "json"),
        ("noNullPoints", "true"),
    ]


def test_many_stale_nodes_are_read_with_a_wildcard_and_picked_out():
    stale = [f"n{i:02d}" for i in range(25)]
    first = rendered(*(series(f"vitals.{n}.cpu.percent", (900, 1.0)) for n in stale))
    second = rendered(*(series(f"vitals.{n}.cpu.percent", (930, 2.0)) for n in [*stale, "x"]))
    with Scripted(first, second) as server:
        got = reader(server.url).summary(CPU, None, 900, 1090, 60, 60)
    assert sorted(got) == [(n, None) for n in stale]  # "x" had no bucket: not asked for
    assert all(s.newest == (930, 2.0) for s in got.values())
    assert server.requests[1].pairs[0] == ("target", "vitals.*.cpu.percent")


def test_a_series_without_points_in_the_window_is_left_out():
    with Scripted(rendered(series("vitals.pi-01.cpu.percent", (960, None)))) as server:
        assert reader(server.url).summary(CPU, None, 900, 1090, 60, 60) == {}
    assert len(server.requests) == 1


def test_buckets_are_summarized_and_consolidated_and_keep_empty_buckets():
    target = 'consolidateBy(summarize(vitals.*.disk.*.percent, "60s", "max"), "max")'
    answer = rendered(
        series("vitals.pi-01.disk.root.percent", (960, 40.0), (1020, None), target=target)
    )
    with Scripted(answer) as server:
        buckets = reader(server.url).buckets(DISK, None, 960, 1080, 60, "max")
    assert buckets == {("pi-01", "root"): [(960, 40.0), (1020, None)]}
    assert only_request(server).pairs == [
        ("target", target),
        ("from", "959"),
        ("until", "1079"),
        ("format", "json"),
    ]


@pytest.mark.parametrize(
    ("agg", "summarize", "consolidate"),
    [("mean", "avg", "average"), ("min", "min", "min"), ("last", "last", "last")],
)
def test_each_aggregate_has_graphite_s_name(agg, summarize, consolidate):
    with Scripted(rendered()) as server:
        reader(server.url).buckets(CPU, ["pi-01"], 960, 1080, 60, agg)
    assert only_request(server).form["target"] == (
        f'consolidateBy(summarize(vitals.pi-01.cpu.percent, "60s", "{summarize}"), "{consolidate}")'
    )


def test_png_is_saved_with_the_series_named_by_node_and_tag(tmp_path):
    image = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    with Scripted((200, image, {"Content-Type": "image/png"})) as server:
        size = reader(server.url).png(DISK, ["pi-01"], 960, 1080, 60, "max", tmp_path / "d.png")
    assert size == len(image) and (tmp_path / "d.png").read_bytes() == image
    assert only_request(server).pairs == [
        ("target", 'aliasByNode(summarize(vitals.pi-01.disk.*.percent, "60s", "max"), 1, 3)'),
        ("from", "959"),
        ("until", "1079"),
        ("format", "png"),
        ("width", "900"),
        ("height", "400"),
        ("title", "disk.percent (max per 60s)"),
    ]


def test_an_answer_that_is_no_png_is_an_error(tmp_path):
    with Scripted((200, b"<html>login</html>")) as server:
        with pytest.raises(QueryError) as info:
            reader(server.url).png(CPU, None, 960, 1080, 60, "mean", tmp_path / "c.png")
    assert str(info.value) == f"{server.url} did not answer with a PNG image"
    assert not (tmp_path / "c.png").exists()


# -- errors: one line, no secret -----------------------------------------------------------------


def secret_url(server):
    return server.url.replace("://", f"://reader:{SECRET}@")


def error_of(call):
    with pytest.raises(QueryError) as info:
        call()
    text = str(info.value)
    assert "\n" not in text and SECRET not in text
    return text


def test_credentials_in_the_url_are_sent_but_never_shown():
    with Scripted((401, b"Unauthorized")) as server:
        text = error_of(lambda: reader(secret_url(server)).nodes(CPU))
    assert text == f"authentication failed for {server.url}: HTTP 401"
    assert only_request(server).headers["Authorization"].startswith("Basic ")


def test_http_errors_quote_the_last_line_of_the_answer():
    traceback = b"Traceback (most recent call last):\n  ...\nValueError: unknown function summarise"
    with Scripted((400, traceback), (404, b"")) as server:
        refused = error_of(lambda: reader(server.url).buckets(CPU, None, 0, 60, 60, "max"))
        not_found = error_of(lambda: reader(server.url).fields("cpu"))
    assert (
        refused == f"{server.url}/render answered HTTP 400: ValueError: unknown function summarise"
    )
    assert not_found == f"{server.url}/metrics/find answered HTTP 404: Not Found"


def test_an_echoed_secret_is_scrubbed_from_the_quoted_answer():
    with Scripted((502, f"bad gateway for reader:{SECRET}".encode())) as server:
        text = error_of(lambda: reader(secret_url(server)).summary(CPU, None, 0, 60, 60, 60))
    assert text == f"{server.url}/render answered HTTP 502: bad gateway for reader:***"


def test_an_answer_that_is_not_json_is_an_error():
    with Scripted((200, b"<html>graphite-web is starting</html>")) as server:
        text = error_of(lambda: reader(server.url).fields("cpu"))
    assert text == f"{server.url} did not answer with JSON (is it graphite-web?)"


def test_a_refused_connection_is_an_error():
    port = refused_port()
    text = error_of(lambda: reader(f"http://reader:{SECRET}@127.0.0.1:{port}").nodes(CPU))
    assert text == f"cannot connect to http://127.0.0.1:{port}: Connection refused"


def test_a_bad_template_is_refused_before_any_request():
    with pytest.raises(QueryError) as info:
        reader("http://127.0.0.1:1", template="{prefix}.{minion}")
    assert str(info.value) == "vitals_query:template: must contain {name}"

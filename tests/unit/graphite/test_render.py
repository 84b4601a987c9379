"""The graphite-web reader's requests at fleet size, against a scripted HTTP server on
127.0.0.1: ``summary`` is one render per metric (bucket means by ``summarize``, the recent raw
points by ``timeSlice``) and a second render only for series with nothing recent; every request
is a POST. The same reader against a real graphite-web: tests/integration/backends."""

from urllib.parse import parse_qsl

from salt_ext.core.readback.options import open_reader, read_options
from salt_ext.core.samples import Metric, Summary
from support.httpserver import Scripted

CPU = Metric("cpu", "percent")
DISK = Metric("disk", "percent")
WIDEST = 366 * 86400  # the one-bucket summarize's interval beyond the window


def reader(url):
    return open_reader(read_options({"backend": "graphite", "url": url}))


def series(path, *points, function="summarize"):
    """One series of graphite-web 1.1's ``format=json``: the path in the ``name`` tag, and the
    tag a function adds (``summarize`` / ``timeSliceStart``)."""
    tags = {"name": path, function: "x"} if function else {"name": path}
    return {"target": path, "tags": tags, "datapoints": [[v, ts] for ts, v in points]}


def pairs(request):
    return parse_qsl(request.body.decode(), keep_blank_values=True)


def test_summary_is_one_render_of_bucket_means_and_the_recent_points():
    answer = [
        series("vitals.pi-01.cpu.percent", (960, 10.0), (1020, 12.0)),
        series("vitals.pi-02.cpu.percent", (1020, 50.0)),
        series("vitals.pi-01.cpu.percent", (1070, 12.5), (1080, 13.0), function="timeSliceStart"),
        series("vitals.pi-02.cpu.percent", (1050, 50.5), function="timeSliceStart"),
    ]
    with Scripted((200, answer)) as server:
        got = reader(server.url).summary(CPU, None, 1000, 1090, 60, 30)
    assert got == {
        ("pi-01", None): Summary((1080, 13.0), [(960, 10.0), (1020, 12.0)]),
        ("pi-02", None): Summary((1050, 50.5), [(1020, 50.0)]),
    }
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/render")
    assert pairs(request) == [
        ("target", 'summarize(vitals.*.cpu.percent, "60s", "avg")'),
        ("target", f'timeSlice(vitals.*.cpu.percent, "1060", "{1090 + 86400}")'),
        ("from", "999"),
        ("until", "1089"),
        ("format", "json"),
        ("noNullPoints", "true"),
    ]


def test_summary_without_a_step_is_one_bucket_at_the_start_of_the_window():
    answer = [
        series("vitals.pi-01.disk.root.percent", (1010, 41.0)),
        series("vitals.pi-01.disk.root.percent", (1290, 41.5), function="timeSliceStart"),
    ]
    with Scripted((200, answer)) as server:
        got = reader(server.url).summary(DISK, ["pi-01", "pi-02"], 1000, 1300, None, 180)
    assert got == {("pi-01", "root"): Summary((1290, 41.5), [(1000, 41.0)])}
    assert pairs(server.requests[0])[:2] == [
        (
            "target",
            f'summarize(vitals.{{pi-01,pi-02}}.disk.*.percent, "{300 + WIDEST}s", "avg", true)',
        ),
        ("target", f'timeSlice(vitals.{{pi-01,pi-02}}.disk.*.percent, "1120", "{1300 + 86400}")'),
    ]


def test_a_series_with_nothing_recent_gets_its_newest_point_from_a_second_render():
    first = [
        series("vitals.pi-01.cpu.percent", (900, 5.0), (960, 6.0)),
        series("vitals.pi-02.cpu.percent", (1020, 7.0)),
        series("vitals.pi-02.cpu.percent", (1080, 7.5), function="timeSliceStart"),
    ]
    second = [series("vitals.pi-01.cpu.percent", (960, 6.0), (970, 6.5), function=None)]
    with Scripted((200, first), (200, second)) as server:
        got = reader(server.url).summary(CPU, None, 900, 1090, 60, 60)
    assert got[("pi-01", None)] == Summary((970, 6.5), [(900, 5.0), (960, 6.0)])
    assert got[("pi-02", None)] == Summary((1080, 7.5), [(1020, 7.0)])
    follow_up = server.requests[1]
    assert pairs(follow_up) == [  # only the stale node, from its last bucket on
        ("target", "vitals.pi-01.cpu.percent"),
        ("from", "959"),
        ("until", "1089"),
        ("format", "json"),
        ("noNullPoints", "true"),
    ]


def test_many_stale_nodes_are_read_with_a_wildcard_and_picked_out():
    stale = [f"n{i:02d}" for i in range(25)]
    first = [series(f"vitals.{n}.cpu.percent", (900, 1.0)) for n in stale]
    second = [series(f"vitals.{n}.cpu.percent", (930, 2.0), function=None) for n in [*stale, "x"]]
    with Scripted((200, first), (200, second)) as server:
        got = reader(server.url).summary(CPU, None, 900, 1090, 60, 60)
    assert sorted(got) == [(n, None) for n in stale]  # "x" had no bucket: not asked for
    assert all(s.newest == (930, 2.0) for s in got.values())
    assert pairs(server.requests[1])[0] == ("target", "vitals.*.cpu.percent")


def test_a_series_without_points_in_the_window_is_left_out():
    answer = [series("vitals.pi-01.cpu.percent", (960, None))]
    with Scripted((200, answer)) as server:
        assert reader(server.url).summary(CPU, None, 900, 1090, 60, 60) == {}
    assert len(server.requests) == 1


def test_find_is_a_post_too():
    answer = {"metrics": [{"path": "vitals.pi-01.cpu.percent", "name": "percent", "is_leaf": "1"}]}
    names = ",".join(f"node-{i:04d}" for i in range(1000))  # far past a 4 KB request line
    with Scripted((200, answer)) as server:
        assert reader(server.url).find(f"vitals.{{{names}}}.cpu.percent")
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/metrics/find")
    assert pairs(request) == [
        ("query", f"vitals.{{{names}}}.cpu.percent"),
        ("format", "completer"),
    ]

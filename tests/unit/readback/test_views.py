"""Unit tests of salt_ext.core.readback.views: sparklines, node selection, the headroom score,
the row order of the top view, and the views over the reader protocol at fleet size: what they
ask a reader for (one summary per metric, the node list only when short) and how the answers
become rows, with exact values. The reader here keeps its points in memory and aggregates them
as the backends do (newest point, mean per ``step`` bucket at multiples of ``step``, one bucket
at ``start`` without a step); tests/integration/backends runs the same views against
graphite-web and influxd."""

import threading

import pytest

from salt_ext.core.errors import ConfigError
from salt_ext.core.readback import model, views
from salt_ext.core.samples import Metric, Summary

NOW = 100_000
CPU, LOAD, MEM = Metric("cpu", "percent"), Metric("load", "load1"), Metric("mem", "percent")
DISK, COUNT = Metric("disk", "percent"), Metric("cpu", "count")


class MemoryReader:
    """The reader protocol over ``{metric: {series: [(ts, value)]}}``, recording its calls."""

    label = "memory"

    def __init__(self, data):
        self.data = data
        self.calls = []
        self.threads = set()

    def nodes(self, metric):
        return sorted({node for node, _ in self.data.get(metric, {})})

    def fields(self, group):
        return sorted({m.field for m in self.data if m.group == group})

    def _series(self, metric, nodes, start, end):
        for series, points in self.data.get(metric, {}).items():
            inside = [(ts, v) for ts, v in points if start <= ts < end]
            if inside and (nodes is None or series[0] in nodes):
                yield series, inside

    def summary(self, metric, nodes, start, end, step, recent):
        self.calls.append(("summary", metric, nodes, start, end, step, recent))
        self.threads.add(threading.get_ident())
        out = {}
        for series, points in self._series(metric, nodes, start, end):
            buckets = {}
            for ts, v in points:
                buckets.setdefault(ts - ts % step if step else start, []).append(v)
            means = [(b, sum(vs) / len(vs)) for b, vs in sorted(buckets.items())]
            out[series] = Summary(points[-1], means)
        return out

    def buckets(self, metric, nodes, start, end, step, agg):
        self.calls.append(("buckets", metric, nodes, start, end, step, agg))
        return {
            s: [(ts - ts % step, v) for ts, v in p]
            for s, p in self._series(metric, nodes, start, end)
        }


def fleet(count, stale=()):
    """``count`` nodes, every 10 s over the last 20 minutes (the stale ones stop 10 minutes
    ago): cpu = node index + the minute, load1 0.5, mem 40, disks / (30) and /boot (70 + i)."""
    data = {m: {} for m in (CPU, LOAD, MEM, DISK, COUNT)}
    for i in range(count):
        node = f"n{i:04d}"
        last = NOW - 600 if node in stale else NOW
        stamps = range(NOW - 1200, last + 1, 10)
        data[CPU][node, None] = [(ts, float(i + ts // 60 % 10)) for ts in stamps]
        data[LOAD][node, None] = [(ts, 0.5) for ts in stamps]
        data[MEM][node, None] = [(ts, 40.0) for ts in stamps]
        data[COUNT][node, None] = [(ts, 4) for ts in stamps]
        data[DISK][node, "/"] = [(ts, 30.0) for ts in stamps]
        data[DISK][node, "/boot"] = [(ts, 70.0 + i) for ts in stamps]
    return data


def test_top_asks_one_summary_per_metric_and_no_node_list_for_a_fleet():
    reader = MemoryReader(fleet(model.NODE_LIST_MAX + 1))
    table = views.top(reader, sort="node", window="15m", stale_after=180, now=NOW)
    assert len(table["nodes"]) == model.NODE_LIST_MAX + 1
    calls = sorted(reader.calls, key=lambda c: str(c[1]))
    end = NOW + 1
    steps = {c.metric: 75 for c in model.TOP_COLUMNS} | {COUNT: None}
    assert calls == sorted(
        [("summary", m, None, end - 900, end, step, 180) for m, step in steps.items()],
        key=lambda c: str(c[1]),
    )


def test_top_rows_are_the_newest_values_and_bucket_means():
    reader = MemoryReader(fleet(3, stale=("n0002",)))
    table = views.top(reader, sort="node", window="15m", stale_after=180, now=NOW)
    first, _, stale = table["nodes"]
    assert first["node"] == "n0000" and first["cpu"] == float(NOW // 60 % 10)
    assert (first["load1"], first["mem"], first["cpu_count"]) == (0.5, 40.0, 4)
    assert (first["disk"], first["disk_where"]) == (70.0, "/boot")  # the fullest disk
    assert first["age"] == 0 and not first["stale"] and first["temp"] is None
    assert first["spark"]["mem"] == views.sparkline([40.0] * 12, 0, 100)
    # the cpu sparkline: the means of the 75 s buckets, the same grid as the backends'
    end = NOW + 1
    times = list(range(end - 900 - (end - 900) % 75, end, 75))[-12:]
    points = reader.data[CPU]["n0000", None]
    means = []
    for t in times:
        inside = [v for ts, v in points if t <= ts < t + 75 and ts >= end - 900]
        means.append(sum(inside) / len(inside) if inside else None)
    assert first["spark"]["cpu"] == views.sparkline(means, 0, 100)
    assert (
        stale["stale"] and stale["age"] == 600 and stale["cpu"] == float(2 + (NOW - 600) // 60 % 10)
    )


def test_a_short_selection_is_named_and_a_long_one_filtered_here():
    reader = MemoryReader(fleet(model.NODE_LIST_MAX + 10))
    views.top(reader, tgt="n0001,n0003", now=NOW)
    assert {tuple(c[2]) for c in reader.calls} == {("n0001", "n0003")}
    reader.calls.clear()
    table = views.top(reader, tgt="n00[0-5]*", sort="node", now=NOW)
    assert {c[2] for c in reader.calls} == {None}  # 60 names: all asked for, the 60 kept
    assert [r["node"] for r in table["nodes"]] == [f"n{i:04d}" for i in range(60)]


def test_metrics_are_asked_for_in_parallel():
    reader = MemoryReader(fleet(2))
    barrier = threading.Barrier(2, timeout=5)
    summary = reader.summary

    def meet(*args):  # two requests must be in flight at once to pass the barrier
        if args[0] in (CPU, MEM):
            barrier.wait()
        return summary(*args)

    reader.summary = meet
    assert len(views.top(reader, now=NOW)["nodes"]) == 2
    assert len(reader.threads) >= 2


def test_least_loaded_asks_for_one_bucket_over_the_window():
    reader = MemoryReader(fleet(3, stale=("n0000",)))
    got = views.least_loaded(reader, 5, window="5m", stale_after=180, now=NOW)
    end = NOW + 1
    names = ["n0000", "n0001", "n0002"]  # a few: named in the requests
    assert sorted((str(c[1]), *c[2:]) for c in reader.calls) == sorted(
        (str(m), names, end - 300, end, None, 180) for m in (CPU, LOAD, MEM, COUNT)
    )
    assert got["nodes"] == ["n0001", "n0002"] and got["stale"] == ["n0000"]
    points = [v for ts, v in reader.data[CPU]["n0001", None] if ts >= end - 300]
    assert got["load"]["n0001"]["cpu"] == pytest.approx(sum(points) / len(points), abs=0.005)
    assert got["load"]["n0001"]["load"] == 12.5  # 0.5 per 4 cores


def test_history_filters_a_long_selection_itself():
    reader = MemoryReader(fleet(model.NODE_LIST_MAX + 10))
    got = views.history(reader, "cpu.percent", tgt="n00[0-5]*", start="-5m", now=NOW)
    assert [c[2] for c in reader.calls] == [None]
    assert sorted(got["series"]) == [f"n{i:04d}" for i in range(60)]
    few = views.history(reader, "disk.percent", tgt="n0001", start="-5m", now=NOW)
    assert reader.calls[-1][2] == ["n0001"]
    assert sorted(few["series"]) == ["n0001:/", "n0001:/boot"]


def test_sparkline():
    assert views.sparkline([0, 50, 100], 0, 100) == "▁▅█"
    assert views.sparkline([None, 1.0, 2.0]) == " ▁█"
    assert views.sparkline([None, None]) == "  "
    assert views.sparkline([3.0, 3.0]) == "▅▅"


def test_select_nodes_globs_and_lists():
    known = ["pi-01", "pi-02", "web-1"]
    assert views.select_nodes(known, "pi-*") == ["pi-01", "pi-02"]
    assert views.select_nodes(known, "web-1,pi-02") == ["pi-02", "web-1"]
    assert views.select_nodes(known, None) == known


def test_headroom_score():
    loads = views.headroom(
        {"cpu": [(0, 20.0), (1, 40.0)], "mem": [(0, 50.0)], "load1": [(0, 2.0)]}, 4
    )
    assert loads["cpu"] == 30.0 and loads["mem"] == 50.0 and loads["load"] == 50.0
    assert loads["score"] == pytest.approx(0.5 * 30 + 0.3 * 50 + 0.2 * 50)
    only_cpu = views.headroom({"cpu": [(0, 10.0)], "mem": [], "load1": []}, None)
    assert only_cpu == {"cpu": 10.0, "score": 10.0}


def test_sort_rows_busiest_first_unknown_last():
    rows = [{"node": "a", "cpu": 5.0}, {"node": "b", "cpu": None}, {"node": "c", "cpu": 9.0}]
    assert [r["node"] for r in views.sort_rows(rows, "cpu")] == ["c", "a", "b"]
    with pytest.raises(ConfigError, match=r"^sort: must be one of"):
        views.sort_rows(rows, "color")

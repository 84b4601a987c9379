"""Read-back against real backends: carbon-cache + Debian's graphite-web, and influxd.

Both are fed the same vitals through the returners' own serializers (carbon plaintext, line
protocol) with explicit timestamps, then each reader's answers are compared with what was
written: history buckets exactly, top's latest values and staleness, least_loaded's choice.
"""

import shutil
import socket
import time

import pytest

from salt_ext.core import samples
from salt_ext.core.errors import ConfigError, QueryError
from salt_ext.core.graphite import paths as graphite
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.readback import options, times, views
from salt_ext.core.samples import from_vitals_dict
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable, poll

pytestmark = pytest.mark.integration

STEP = 10
NOW = (int(time.time()) // 60) * 60 - 60  # the data's "now", in the past (whisper reads no future)
SPAN = 600  # ten minutes of 10 s data
STALE_UNTIL = NOW - 400  # node c stopped reporting here
DB = "vitals_read"
PASSWORD = "rd-s3cret-pw"


def vitals(node, ts, i):
    """A vitals.current return of node ``node`` at ``ts`` (i = point index): values are
    multiples of 0.5, so sums and means are exact in every backend."""
    cpu = {"a": 70.0 + (i % 3) * 0.5, "b": 20.0 + (i % 4), "c": 1.0}[node]
    return {
        "ts": float(ts),
        "cpu": {"percent": cpu, "user": cpu / 2, "count": 4},
        "cores": {"0": {"percent": cpu + 1}, "1": {"percent": cpu - 1}},
        "load": {"load1": {"a": 3.5, "b": 0.5, "c": 0.0}[node], "load5": 0.25},
        "mem": {"percent": {"a": 50.0, "b": 30.0, "c": 10.0}[node], "total": 4 << 30},
        "swap": {"percent": 2.5},
        "disk": {"/": {"percent": 40.0 + i % 2}, "/boot": {"percent": 80.5}},
        "temp": {"cpu-thermal": {"celsius": 45.0 + (i % 5) * 0.5}},
        "pi": {"throttling": 1 if node == "a" else 0},
    }


def written():
    """{node: [(ts, vitals dict)]} of everything the fixture writes."""
    out = {}
    for node in ("a", "b", "c"):
        last = STALE_UNTIL if node == "c" else NOW
        out[node] = [
            (ts, vitals(node, ts, i)) for i, ts in enumerate(range(NOW - SPAN, last + 1, STEP))
        ]
    return out


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    if shutil.which("influxd") is None:
        pytest.skip("influxd is not installed")
    root = tmp_path_factory.mktemp("readback")
    try:
        carbon = CarbonCache(root / "carbon")
        web = GraphiteWeb(root / "graphite-web", carbon)
        influxd = InfluxD(root / "influxd", auth=True)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with carbon, web, influxd:
        influxd.create_user("reader", PASSWORD, admin=True)
        influxd.query(f'CREATE DATABASE "{DB}"')
        lines, text = [], []
        for node, points in written().items():
            paths = graphite.PathBuilder(node, "vitals")
            for _, data in points:
                samples = from_vitals_dict(data)
                text.append(graphite.plaintext(samples, paths))
                lines.append(line_protocol.serialize(samples, node).decode())
        with socket.create_connection((carbon.host, carbon.line_port)) as sock:
            sock.sendall(b"".join(text))
        influxd.write("".join(lines), DB)
        carbon.wait_for_points("vitals.a.cpu.percent", SPAN // STEP + 1, from_ts=NOW - SPAN)
        carbon.wait_for_points("vitals.c.temp.cpu-thermal.celsius", 1, from_ts=NOW - SPAN)
        yield {
            "graphite": {"backend": "graphite", "url": web.url, "prefix": "vitals"},
            "influxdb": {
                "backend": "influxdb",
                "url": influxd.url,
                "db": DB,
                "user": "reader",
                "password": PASSWORD,
            },
        }


@pytest.fixture(params=["graphite", "influxdb"])
def reader(request, backends):
    opts = options.read_options(backends[request.param])
    found = options.open_reader(opts)
    # carbon creates whisper files as it goes: wait until graphite-web lists every node
    poll(
        lambda: len(found.nodes(samples.Metric("temp", "celsius"))) == 3,
        30,
        "all nodes listed",
    )
    return found


def expected_buckets(node, group, field, tag, start, end, step, agg):
    values = {t: [] for t in times.grid(start, end, step)}
    for ts, data in written()[node]:
        if start <= ts < end:
            fields = data[group][tag] if tag else data[group]
            values[ts - ts % step].append(float(fields[field]))
    fold = {"mean": lambda v: sum(v) / len(v), "max": max, "min": min, "last": lambda v: v[-1]}
    return [fold[agg](v) if v else None for v in values.values()]


@pytest.mark.parametrize("agg", ["mean", "max", "min", "last"])
def test_history_buckets_equal_what_was_written(reader, agg):
    start, end = NOW - 300, NOW - 60
    got = views.history(reader, "cpu.percent", "*", str(start), str(end), "1m", agg, now=NOW)
    assert got["times"] == list(range(start, end, 60))
    assert set(got["series"]) == {"a", "b", "c"}
    for node in ("a", "b", "c"):
        want = expected_buckets(node, "cpu", "percent", None, start, end, 60, agg)
        assert got["series"][node] == want, node
    # node c stopped at STALE_UNTIL: its later buckets are nulls, kept as nulls
    assert got["series"]["c"][-1] is None


def test_history_tagged_series_relative_times_and_glob(reader):
    got = views.history(reader, "disk.percent", "a", "-5m", "now", "30s", "max", now=NOW)
    start = NOW - 300
    assert got["times"][0] == start - start % 30
    names = sorted(got["series"])
    assert names[0].startswith("a:") and len(names) == 2
    boot = next(n for n in names if "boot" in n)
    assert {v for v in got["series"][boot] if v is not None} == {80.5}
    root = next(n for n in names if n != boot)
    want = expected_buckets("a", "disk", "percent", "/", start, NOW, 30, "max")
    assert got["series"][root] == want


def test_history_cores_are_not_mixed_with_cpu(reader):
    got = views.history(reader, "cores.percent", "b", "-2m", "now", "1m", now=NOW)
    assert sorted(got["series"]) == ["b:0", "b:1"]
    cpu = views.history(reader, "cpu.percent", "b", "-2m", "now", "1m", now=NOW)
    assert sorted(cpu["series"]) == ["b"]


def test_unknown_metric_or_node_lists_what_exists(reader):
    with pytest.raises(QueryError, match=r"unknown metric cpu\.nope.*percent"):
        views.history(reader, "cpu.nope", now=NOW)
    with pytest.raises(QueryError, match=r"no node matches 'zz\*'.*nodes: a, b, c"):
        views.history(reader, "cpu.percent", "zz*", now=NOW)
    with pytest.raises(QueryError, match=r"unknown group 'cpux'.*cores"):
        views.history(reader, "cpux.percent", now=NOW)
    with pytest.raises(ConfigError, match="resample"):
        views.history(reader, "cpu.percent", resample="often", now=NOW)


def test_top_latest_values_and_stale_node(reader):
    table = views.top(reader, "*", "cpu", "15m", stale_after=180, now=NOW + 5)
    rows = {r["node"]: r for r in table["nodes"]}
    assert [r["node"] for r in table["nodes"]] == ["a", "b", "c"]  # busiest first
    last_a = written()["a"][-1][1]
    assert rows["a"]["cpu"] == last_a["cpu"]["percent"]
    assert rows["a"]["load1"] == 3.5 and rows["a"]["mem"] == 50.0 and rows["a"]["swap"] == 2.5
    assert rows["a"]["disk"] == 80.5  # the fullest disk
    assert rows["a"]["temp"] == last_a["temp"]["cpu-thermal"]["celsius"]
    assert rows["a"]["throttled"] is True and rows["b"]["throttled"] is False
    assert rows["a"]["cpu_count"] == 4
    assert rows["a"]["age"] == 5.0 and not rows["a"]["stale"]
    assert rows["c"]["stale"] and rows["c"]["age"] == NOW + 5 - STALE_UNTIL
    assert len(rows["a"]["spark"]["cpu"]) == views.SPARK_WIDTH


def test_top_a_node_silent_for_the_whole_window_is_still_listed(reader):
    table = views.top(reader, "*", "node", "2m", stale_after=60, now=NOW + 5)
    rows = {r["node"]: r for r in table["nodes"]}
    assert rows["c"]["stale"] and rows["c"]["age"] is None and rows["c"]["cpu"] is None


def test_least_loaded_uses_the_window_and_skips_stale_nodes(reader):
    got = views.least_loaded(reader, 1, "*", "score", "5m", stale_after=180, now=NOW + 5)
    assert got["nodes"] == ["b"] and got["stale"] == ["c"]
    points = [d for ts, d in written()["b"] if ts > NOW + 5 - 300]
    mean_cpu = sum(d["cpu"]["percent"] for d in points) / len(points)
    assert got["load"]["b"]["cpu"] == pytest.approx(mean_cpu, abs=0.01)
    assert got["load"]["b"]["load"] == pytest.approx(0.5 / 4 * 100, abs=0.01)
    two = views.least_loaded(reader, 5, "*", "mem", "5m", stale_after=180, now=NOW + 5)
    assert two["nodes"] == ["b", "a"]


def test_wrong_url_gives_one_clear_line(backends):
    for name, opts in backends.items():
        bad = dict(opts, url="http://127.0.0.1:1")
        reader = options.open_reader(options.read_options(bad))
        with pytest.raises(QueryError) as info:
            views.top(reader)
        text = str(info.value)
        assert "cannot connect to http://127.0.0.1:1" in text and "\n" not in text, name


def test_wrong_password_gives_one_clear_line_without_the_secret(backends):
    opts = dict(backends["influxdb"], password="wrong-pw-123")
    reader = options.open_reader(options.read_options(opts))
    with pytest.raises(QueryError) as info:
        views.top(reader)
    text = str(info.value)
    assert text.startswith("authentication failed for http://127.0.0.1:")
    assert "wrong-pw-123" not in text and PASSWORD not in text and "\n" not in text


def test_graphite_png(backends, tmp_path):
    reader = options.open_reader(options.read_options(backends["graphite"]))
    target = tmp_path / "cpu.png"
    size = reader.png(samples.Metric("cpu", "percent"), None, NOW - 600, NOW, 60, "mean", target)
    assert size > 1000 and target.read_bytes()[:4] == b"\x89PNG"

"""Read-back of a selection too long to be spelled out in a request, against carbon-cache +
Debian's graphite-web and influxd: 70 nodes, 60 of them selected (more than NODE_LIST_MAX, so
every request asks for all nodes and the views pick the selection), 30 of them silent for the
last minutes (more than graphite's reader names in the render for their newest point). Every
selected node is listed, with the values that were written, and both backends answer the same.
A find naming 1,000 nodes, past gunicorn's 4 KB request line, is answered."""

import socket
import time

import pytest

from salt_ext.core import samples
from salt_ext.core.graphite import paths as graphite
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.readback import model, options, views
from salt_ext.core.samples import from_vitals_dict
from support.readback import graphite_and_influxd
from vitals_daemons.process import poll

STEP = 10
NOW = (int(time.time()) // 60) * 60 - 60  # the data's "now", in the past (whisper reads no future)
SPAN = 600
SILENT_FROM = NOW - 300  # nodes n40..n69 stopped here
NODES = [f"n{i:02d}" for i in range(70)]
SELECTED = [n for n in NODES if n < "n60"]  # tgt "n[0-5]*"
DB = "vitals_scale"


def last_ts(node):
    return SILENT_FROM if node >= "n40" else NOW


def cpu(node, ts):
    return int(node[1:]) + (ts // STEP % 4) * 0.5


def vitals(node, ts):
    return {
        "ts": float(ts),
        "cpu": {"percent": cpu(node, ts), "count": 2},
        "load": {"load1": 0.5},
        "mem": {"percent": 20.0 + int(node[1:]) % 7},
        "swap": {"percent": 1.5},
        "disk": {"/": {"percent": 50.0}},
    }


def stamps(node):
    return range(NOW - SPAN, last_ts(node) + 1, STEP)


def set_now():
    """The data's "now" when the data is written, not when the module is collected: a read
    window reaching past the finest whisper archive (the test's carbon keeps 1 s for 30 min)
    is read from the next one, so a run that reaches this module late read other values."""
    global NOW, SILENT_FROM
    NOW = (int(time.time()) // 60) * 60 - 60
    SILENT_FROM = NOW - 300


@pytest.fixture(scope="module")
def readers(tmp_path_factory):
    set_now()
    root = tmp_path_factory.mktemp("readscale")
    with graphite_and_influxd(root) as (carbon, web, influxd):
        influxd.query(f'CREATE DATABASE "{DB}"')
        lines, text = [], []
        for node in NODES:
            paths = graphite.PathBuilder(node, "vitals")
            for ts in stamps(node):
                found = from_vitals_dict(vitals(node, ts))
                text.append(graphite.plaintext(found, paths))
                lines.append(line_protocol.serialize(found, node).decode())
        with socket.create_connection((carbon.host, carbon.line_port)) as sock:
            sock.sendall(b"".join(text))
        influxd.write("".join(lines), DB)
        for node in (NODES[0], NODES[-1]):
            carbon.wait_for_points(
                f"vitals.{node}.disk.root.percent", len(stamps(node)), 60, from_ts=NOW - SPAN
            )
        opened = {
            "graphite": options.open_reader(
                options.read_options({"backend": "graphite", "url": web.url})
            ),
            "influxdb": options.open_reader(
                options.read_options({"backend": "influxdb", "url": influxd.url, "db": DB})
            ),
        }
        cpu_percent = samples.Metric("cpu", "percent")
        poll(lambda: len(opened["graphite"].nodes(cpu_percent)) == len(NODES), 60, "all nodes")
        yield opened


def test_the_selection_is_longer_than_a_request_names():
    assert len(SELECTED) > model.NODE_LIST_MAX
    assert len([n for n in NODES if last_ts(n) < NOW]) > 20  # graphite's _FEW_NODES


def test_top_lists_every_selected_node_with_what_was_written(readers):
    tables = {}
    for backend, reader in readers.items():
        table = views.top(reader, "n[0-5]*", "node", "15m", stale_after=180, now=NOW + 5)
        assert [r["node"] for r in table["nodes"]] == SELECTED, backend
        for row in table["nodes"]:
            node, newest = row["node"], last_ts(row["node"])
            assert row["cpu"] == cpu(node, newest), (backend, node)
            assert row["mem"] == 20.0 + int(node[1:]) % 7 and row["cpu_count"] == 2
            assert row["age"] == NOW + 5 - newest, (backend, node)
            assert row["stale"] == (newest < NOW), (backend, node)
            row.pop("disk_where")  # "root" in graphite, "/" in InfluxDB
        tables[backend] = {k: v for k, v in table.items() if k != "backend"}
    assert tables["graphite"] == tables["influxdb"]


def test_least_loaded_ranks_the_live_selected_nodes_by_their_means(readers):
    answers = []
    for reader in readers.values():
        got = views.least_loaded(reader, 60, "n[0-5]*", "cpu", "5m", 180, now=NOW + 5)
        live = [n for n in SELECTED if last_ts(n) == NOW]
        assert got["nodes"] == live and got["stale"] == [n for n in SELECTED if n not in live]
        for node in live:
            window = [cpu(node, ts) for ts in stamps(node) if ts > NOW + 5 - 300]
            assert got["load"][node]["cpu"] == round(sum(window) / len(window), 2)
        answers.append(got)
    assert answers[0] == answers[1]


def test_history_lists_every_selected_node(readers):
    answers = []
    for reader in readers.values():
        got = views.history(reader, "cpu.percent", "n[0-5]*", "-10m", "now", "1m", now=NOW)
        assert sorted(got["series"]) == SELECTED
        for node in SELECTED:
            want = []
            for bucket in got["times"]:
                inside = [
                    cpu(node, ts)
                    for ts in stamps(node)
                    if bucket <= ts < bucket + 60 and NOW - 600 <= ts < NOW
                ]
                want.append(sum(inside) / len(inside) if inside else None)
            assert got["series"][node] == want, node
        answers.append({k: v for k, v in got.items() if k != "backend"})
    assert answers[0] == answers[1]


def test_a_find_naming_a_thousand_nodes_is_answered(readers):
    names = [f"node-{i:04d}" for i in range(999)] + ["n00"]
    found = readers["graphite"].find("vitals.{" + ",".join(names) + "}.cpu.percent")
    assert [item["path"] for item in found] == ["vitals.n00.cpu.percent"]

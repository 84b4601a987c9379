"""Every panel query of the shipped Grafana dashboards finds data that a real collection wrote.

A real ``vitals`` collection of this machine (plus a thermal zone and a ``vcgencmd`` stand-in,
which a container has not) goes through the returners' serializers into a real carbon-cache and
influxd; then each Graphite target is rendered by Debian's graphite-web and each InfluxQL query
is run by influxd with Grafana's variables filled in, once with the node selected and once with
"All" (the node variable's ``allValue``, the default selection): exactly the selected node, or
both nodes written, must come back. A renamed metric, field, tag or measurement leaves a panel
without data and fails here.
"""

import json
import re
import shutil
import socket
from pathlib import Path

import pytest
import requests

import salt_ext
from salt_ext.core.collect.collection import collect, validate_options
from salt_ext.core.graphite import paths as graphite
from salt_ext.core.influxdb import line_protocol
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable, poll

pytestmark = pytest.mark.integration

NODE = "grafana-node"
OTHER = "grafana-node-2"  # a second node, which selecting NODE must leave out
DB = "grafana"
DASHBOARDS = Path(salt_ext.__file__).parent / "sls" / "grafana" / "dashboards"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Backends holding one real collection of this machine (and a second point per series),
    written for two nodes."""
    if shutil.which("influxd") is None:
        pytest.skip("influxd is not installed")
    root = tmp_path_factory.mktemp("grafana")
    zone = root / "sys" / "sys" / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("48500\n")
    # the rest is this machine's own: /proc (mem, swap, CPU frequency) and its cpufreq policies
    (root / "sys" / "proc").symlink_to("/proc")
    (root / "sys" / "sys" / "devices" / "system").mkdir(parents=True)
    (root / "sys" / "sys" / "devices" / "system" / "cpu").symlink_to("/sys/devices/system/cpu")
    vcgencmd = root / "vcgencmd"
    vcgencmd.write_text("#!/bin/sh\necho throttled=0x50005\n")
    vcgencmd.chmod(0o755)
    ts, samples = collect(
        validate_options({}),
        str(root / "state"),
        interval=0.3,
        sys_root=str(root / "sys"),
        vcgencmd=str(vcgencmd),
    )
    try:
        carbon = CarbonCache(root / "carbon")
        web = GraphiteWeb(root / "graphite-web", carbon)
        influxd = InfluxD(root / "influxd")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with carbon, web, influxd:
        influxd.query(f'CREATE DATABASE "{DB}"')
        # and each value once more, 1 higher, 10 s earlier: a mean and a max of the two differ
        earlier = [s._replace(ts=s.ts - 10, value=s.value + 1) for s in samples]
        expected = set()
        for node in (NODE, OTHER):
            paths = graphite.PathBuilder(node, "vitals")
            with socket.create_connection((carbon.host, carbon.line_port)) as sock:
                sock.sendall(graphite.plaintext(earlier + samples, paths))
            influxd.write(line_protocol.serialize(earlier + samples, node).decode(), DB)
            expected |= {paths.path(s) for s in samples}
        poll(lambda: expected <= set(carbon.metrics()), 30, "every whisper file")
        yield {"carbon": carbon, "web": web, "influxd": influxd, "ts": int(ts)}


def dashboard(name):
    return json.loads((DASHBOARDS / name).read_text())


def targets(board):
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target


def node_value(node_var, all_nodes, one_node):
    """What Grafana writes for ``$node`` and the nodes that must come back: the selected
    node, or the "All" value."""
    if all_nodes:
        return node_var["allValue"], {NODE, OTHER}
    return one_node, {NODE}


@pytest.mark.parametrize("all_nodes", [False, True], ids=["one-node", "all-nodes"])
def test_every_graphite_panel_renders_data(written, all_nodes):
    web, ts = written["web"], written["ts"]
    session = requests.Session()
    session.trust_env = False
    board = dashboard("vitals-graphite.json")
    (node_var,) = board["templating"]["list"]
    found = session.get(
        web.url + "/metrics/find", params={"query": node_var["query"]}, timeout=30
    ).json()
    assert NODE in [item["text"] for item in found]
    value, nodes = node_value(node_var, all_nodes, NODE)
    checked = 0
    for title, target in targets(board):
        expression = target["target"].replace("$node", value)
        answer = session.get(
            web.url + "/render",
            params={"target": expression, "from": ts - 60, "until": ts + 1, "format": "json"},
            timeout=30,
        ).json()
        values = [v for series in answer for v, _ in series["datapoints"] if v is not None]
        assert values, f"panel {title!r}: {expression} has no data"
        assert {series["target"].split(".")[0] for series in answer} == nodes, answer
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("all_nodes", [False, True], ids=["one-node", "all-nodes"])
def test_every_influxdb_panel_query_returns_data(written, all_nodes):
    influxd = written["influxd"]
    board = dashboard("vitals-influxdb.json")
    (node_var,) = board["templating"]["list"]
    hosts = influxd.query(node_var["query"], db=DB)["results"][0]["series"][0]["values"]
    assert [NODE] in [row[1:] for row in hosts]
    value, nodes = node_value(node_var, all_nodes, re.escape(NODE))
    checked = 0
    for title, target in targets(board):
        q = (
            target["query"]
            .replace("$node", value)
            .replace("$timeFilter", "time > now() - 1h")
            .replace("$__interval", "10s")
        )
        series = influxd.query(q, db=DB)["results"][0].get("series") or []
        values = [v for s in series for _, v in s["values"] if v is not None]
        assert values, f"panel {title!r}: {q} has no data"
        assert {s["tags"]["host"] for s in series} == nodes, series
        for tag in re.findall(r"\$tag_(\w+)", target["alias"]):
            assert all(tag in s["tags"] for s in series), (title, tag)
        checked += 1
    assert checked >= 20


def test_both_dashboards_draw_the_same_numbers(written):
    """Where a panel's pixel covers several points (here: both points of every series in one),
    the Graphite panel merges them as the InfluxDB panel aggregates them (mean, or max for the
    peaks: disk space, temperature, throttling flags)."""
    web, influxd, ts = written["web"], written["influxd"], written["ts"]
    session = requests.Session()
    session.trust_env = False
    influx_targets = dict(
        ((title, t["refId"]), t) for title, t in targets(dashboard("vitals-influxdb.json"))
    )
    checked = 0
    for title, target in targets(dashboard("vitals-graphite.json")):
        answer = session.get(
            web.url + "/render",
            params={
                "target": target["target"].replace("$node", NODE),
                "from": ts - 60,
                "until": ts + 1,
                "maxDataPoints": 1,
                "format": "json",
            },
            timeout=30,
        ).json()
        drawn = sorted(v for s in answer for v, _ in s["datapoints"] if v is not None)
        q = (
            influx_targets[title, target["refId"]]["query"]
            .replace("$node", re.escape(NODE))
            .replace("$timeFilter", f"time >= {ts - 60}s AND time <= {ts + 1}s")
            .replace("$__interval", "1000d")  # one bucket holding both points
        )
        series = influxd.query(q, db=DB)["results"][0].get("series") or []
        aggregated = sorted(v for s in series for _, v in s["values"] if v is not None)
        assert drawn and drawn == pytest.approx(aggregated), (title, target, q)
        checked += 1
    assert checked >= 20

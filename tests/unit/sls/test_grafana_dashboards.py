"""The shipped Grafana files load the way Grafana expects; the real-backend check of every
panel query is tests/integration/backends/test_query_grafana.py."""

import json
import re
from pathlib import Path

import grafana_dashboards
import pytest
import salt.config
import salt.utils.templates
import salt.utils.yaml

import salt_ext

SLS = Path(salt_ext.__file__).parent / "sls" / "grafana"
DASHBOARDS = sorted((SLS / "dashboards").glob("*.json"))
UIDS = {"graphite": grafana_dashboards.GRAPHITE_UID, "influxdb": grafana_dashboards.INFLUX_UID}


def test_both_dashboards_ship():
    assert [p.name for p in DASHBOARDS] == ["vitals-graphite.json", "vitals-influxdb.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_shipped_dashboard_is_what_the_generator_writes(path):
    assert path.read_text() == grafana_dashboards.render(path.name), (
        "run .venv/bin/python scripts/grafana_dashboards.py"
    )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_schema(path):
    text = path.read_text()
    board = json.loads(text)
    assert "${DS_" not in text and "__inputs" not in board  # import inputs do not provision
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["uid"] and len(board["uid"]) <= 40 and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    kind = "graphite" if "graphite" in path.name else "influxdb"
    expected = {"type": kind, "uid": UIDS[kind]}
    (node,) = [v for v in board["templating"]["list"] if v["name"] == "node"]
    assert node["datasource"] == expected
    titles = " ".join(p["title"] for p in board["panels"]).lower()
    for topic in (
        "cpu total",
        "per core",
        "load",
        "memory",
        "swap",
        "disk space",
        "disk io",
        "network",
        "temperature",
        "throttling",
    ):
        assert topic in titles
    for panel in board["panels"]:
        assert panel["type"] == "timeseries" and panel["datasource"] == expected
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["options"]["legend"]["showLegend"] is True  # the SDK's default is False
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["datasource"] == expected
            query = target.get("target") or target.get("query")
            assert "$node" in query, query
    assert len({board["uid"] for board in map(json.loads, map(Path.read_text, DASHBOARDS))}) == 2


def _render(name, **context):
    """Render a template with Salt's own jinja renderer, as file.managed does."""
    opts = salt.config.minion_config(None)
    opts["file_client"] = "local"
    template = (SLS / "provisioning" / name).read_text()
    return salt.utils.templates.render_jinja_tmpl(
        template, {"opts": opts, "saltenv": "base", **context}
    )


def test_datasource_provisioning_has_the_fixed_uids_and_hides_nothing_else():
    text = _render(
        "datasources.yaml.jinja",
        graphite_url="http://graphite:8080",
        influxdb_url="http://influx:8086",
        influxdb_db="salt",
        influxdb_user="grafana",
        influxdb_password="p: w'\"d",
    )
    data = salt.utils.yaml.safe_load(text)
    assert data["apiVersion"] == 1
    sources = {d["uid"]: d for d in data["datasources"]}
    assert set(sources) == set(UIDS.values())
    assert sources["vitals-graphite"]["type"] == "graphite"
    influx = sources["vitals-influxdb"]
    assert influx["jsonData"]["dbName"] == "salt"
    assert influx["secureJsonData"]["password"] == "p: w'\"d"  # quoted, not broken YAML
    only_graphite = salt.utils.yaml.safe_load(
        _render("datasources.yaml.jinja", graphite_url="http://g:8080", influxdb_url="")
    )
    assert [d["uid"] for d in only_graphite["datasources"]] == ["vitals-graphite"]


def test_dashboard_provider_points_at_the_dashboards_dir():
    data = salt.utils.yaml.safe_load(
        _render("dashboards.yaml.jinja", folder="Vitals", dashboards_dir="/var/lib/g/d")
    )
    (provider,) = data["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/g/d"


def test_sls_drops_the_files_only_where_grafana_is_installed():
    text = (SLS / "init.sls").read_text()
    assert re.search(r"if installed %}", text) and "test.show_notification" in text
    assert "show_changes: False" in text  # the data source password never reaches a diff

"""Write the Grafana dashboards under states/grafana/dashboards/ (one per backend).

Every Graphite path and every InfluxDB measurement, field and tag comes from the returners' own
code (:func:`salt_ext.core.query_graphite.metric_pattern` over the carbon returner's
``PathBuilder``; :data:`salt_ext.core.samples.GROUPS` through ``query.Metric``), so a renamed
metric changes the dashboards; tests/unit/test_grafana_dashboards.py checks the committed files
equal this output and that every query finds data a real collection wrote.

    .venv/bin/python scripts/grafana_dashboards.py      # rewrite the JSON files
"""

import json
import sys
from pathlib import Path

from salt_ext.core.graphite import PathBuilder
from salt_ext.core.influxdb_admin import influxql_ident
from salt_ext.core.query import Metric
from salt_ext.core.query_graphite import NODE, metric_pattern

OUT = Path(__file__).resolve().parent.parent / "states" / "grafana" / "dashboards"
GRAPHITE_UID = "vitals-graphite"
INFLUX_UID = "vitals-influxdb"
SCHEMA_VERSION = 39

# (title, unit, metrics "<group>.<field>", influx aggregate)
PANELS = (
    ("CPU total", "percent", ("cpu.percent", "cpu.user", "cpu.system", "cpu.iowait"), "mean"),
    ("CPU per core", "percent", ("cores.percent",), "mean"),
    ("Load", "short", ("load.load1", "load.load5", "load.load15"), "mean"),
    ("Memory", "percent", ("mem.percent",), "mean"),
    ("Swap", "percent", ("swap.percent",), "mean"),
    ("Disk space", "percent", ("disk.percent", "disk.inodes_percent"), "max"),
    ("Disk IO", "Bps", ("diskio.read_bytes_per_s", "diskio.write_bytes_per_s"), "mean"),
    ("Disk busy", "percent", ("diskio.busy_percent",), "mean"),
    ("Network", "Bps", ("net.rx_bytes_per_s", "net.tx_bytes_per_s"), "mean"),
    ("Temperature", "celsius", ("temp.celsius",), "max"),
    (
        "Throttling (Raspberry Pi)",
        "short",
        ("pi.under_voltage", "pi.freq_capped", "pi.throttling", "pi.soft_temp_limit"),
        "max",
    ),
)


def metric(text):
    group, field = text.split(".")
    return Metric(group, field)


def graphite_target(paths, text):
    pattern, node_at, tag_at, field_at = metric_pattern(paths, metric(text), "$node")
    keep = [i for i in (node_at, tag_at, field_at) if i is not None]
    return f"aliasByNode({pattern}, {', '.join(map(str, keep))})"


def influx_query(text, agg):
    m = metric(text)
    where = ['"host" =~ /^$node$/']
    where += [f"{influxql_ident(t)} = ''" for t in m.other_tags]
    if m.tag:
        where.append(f"{influxql_ident(m.tag)} != ''")
    where.append("$timeFilter")
    group = ["time($__interval)", '"host"'] + ([influxql_ident(m.tag)] if m.tag else [])
    return (
        f"SELECT {agg}({influxql_ident(m.field)}) AS {influxql_ident(m.field)}"
        f" FROM {influxql_ident(m.measurement)} WHERE {' AND '.join(where)}"
        f" GROUP BY {', '.join(group)} fill(null)"
    )


def influx_alias(text):
    m = metric(text)
    return "$tag_host" + (f" $tag_{m.tag}" if m.tag else "") + " $col"


def panels(datasource, targets_for):
    out = []
    for index, (title, unit, metrics, agg) in enumerate(PANELS):
        targets = [
            {"refId": chr(ord("A") + i), "datasource": datasource, **targets_for(text, agg)}
            for i, text in enumerate(metrics)
        ]
        out.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "datasource": datasource,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": targets,
            }
        )
    return out


def dashboard(uid, title, datasource, variables, targets_for):
    return {
        "uid": uid,
        "title": title,
        "tags": ["salt-vitals"],
        "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels(datasource, targets_for),
    }


def node_variable(datasource, query):
    return {
        "name": "node",
        "label": "Node",
        "type": "query",
        "datasource": datasource,
        "query": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def graphite_dashboard(prefix="vitals"):
    datasource = {"type": "graphite", "uid": GRAPHITE_UID}
    paths = PathBuilder(NODE, prefix)
    cpu = metric_pattern(paths, metric("cpu.percent"), "*")[0]
    variables = [node_variable(datasource, cpu.split(".*.", 1)[0] + ".*")]
    return dashboard(
        "salt-vitals-graphite",
        "Salt vitals (Graphite)",
        datasource,
        variables,
        lambda text, agg: {"target": graphite_target(paths, text)},
    )


def influx_dashboard():
    datasource = {"type": "influxdb", "uid": INFLUX_UID}
    cpu = metric("cpu.percent")
    variables = [
        node_variable(
            datasource, f'SHOW TAG VALUES FROM {influxql_ident(cpu.measurement)} WITH KEY = "host"'
        )
    ]
    variables[0]["allValue"] = ".*"
    return dashboard(
        "salt-vitals-influxdb",
        "Salt vitals (InfluxDB)",
        datasource,
        variables,
        lambda text, agg: {
            "rawQuery": True,
            "resultFormat": "time_series",
            "query": influx_query(text, agg),
            "alias": influx_alias(text),
        },
    )


DASHBOARDS = {"vitals-graphite.json": graphite_dashboard, "vitals-influxdb.json": influx_dashboard}


def render(name):
    return json.dumps(DASHBOARDS[name](), indent=2, ensure_ascii=False) + "\n"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        (OUT / name).write_text(render(name))
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the Grafana dashboards under states/grafana/dashboards/ (one per backend).

The dashboards are built with Grafana's own typed builders (``grafana-foundation-sdk``, pinned
in requirements/ci-constraints.txt; a build-time tool, never a run-time dependency) and encoded
by its JSON encoder. Every Graphite path and every InfluxDB measurement, field and tag comes
from the returners' own code (:func:`salt_ext.core.graphite.render.metric_pattern` over the
carbon returner's ``PathBuilder``; :data:`salt_ext.core.samples.GROUPS` through
``query.Metric``), so a renamed metric changes the dashboards;
tests/unit/sls/test_grafana_dashboards.py checks the committed files equal this output, and
tests/integration/backends/test_query_grafana.py that every query finds data a real collection
wrote.

    .venv/bin/python scripts/grafana_dashboards.py          # rewrite the JSON files
    .venv/bin/python scripts/grafana_dashboards.py --check  # exit 1 if a file is stale
"""

import sys
from pathlib import Path
from typing import Callable, Generic, Optional, TypeVar

from grafana_foundation_sdk.builders.common import VizLegendOptions, VizTooltipOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from salt_ext.core.graphite.paths import PathBuilder
from salt_ext.core.graphite.render import NODE, metric_pattern
from salt_ext.core.influxdb.influxql import influxql_ident
from salt_ext.core.samples import Metric

OUT = Path(__file__).resolve().parent.parent / "states" / "grafana" / "dashboards"
GRAPHITE_UID = "vitals-graphite"
INFLUX_UID = "vitals-influxdb"

# (title, unit, metrics "<group>.<field>", aggregate over a display interval: an InfluxQL
# function; graphite-web's consolidateBy has the same names, except mean, its default "average")
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


# The SDK has no query types for Graphite or InfluxQL (Grafana publishes no schema for them,
# grafana-foundation-sdk issue 447); its README says to define them as below.
class Target(cogvariants.Dataquery):
    """What every Grafana panel query has: its reference letter and data source."""

    def __init__(self) -> None:
        self.ref_id: Optional[str] = None
        self.datasource: Optional[DataSourceRef] = None

    def to_json(self) -> dict:
        return {"refId": self.ref_id, "datasource": self.datasource}


class GraphiteTarget(Target):
    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def to_json(self) -> dict:
        return {**super().to_json(), "target": self.target}


class InfluxQLTarget(Target):
    """A raw InfluxQL query (the query editor's text mode) drawn as time series."""

    def __init__(self, query: str, alias: str) -> None:
        super().__init__()
        self.query = query
        self.alias = alias

    def to_json(self) -> dict:
        return {
            **super().to_json(),
            "rawQuery": True,
            "resultFormat": "time_series",
            "query": self.query,
            "alias": self.alias,
        }


T = TypeVar("T", bound=Target)


class Query(cogbuilder.Builder[T], Generic[T]):
    def __init__(self, target: T) -> None:
        self._internal = target

    def build(self) -> T:
        return self._internal

    def ref_id(self, ref_id: str) -> "Query[T]":
        self._internal.ref_id = ref_id
        return self

    def datasource(self, datasource: DataSourceRef) -> "Query[T]":
        self._internal.datasource = datasource
        return self


def metric(text: str) -> Metric:
    group, field = text.split(".")
    return Metric(group, field)


def graphite_target(paths: PathBuilder, text: str, agg: str) -> GraphiteTarget:
    pattern, node_at, tag_at, field_at = metric_pattern(paths, metric(text), "$node")
    if agg != "mean":  # graphite-web averages the points it merges to fit the panel's width
        pattern = f"consolidateBy({pattern}, '{agg}')"
    keep = [i for i in (node_at, tag_at, field_at) if i is not None]
    return GraphiteTarget(f"aliasByNode({pattern}, {', '.join(map(str, keep))})")


def influx_target(text: str, agg: str) -> InfluxQLTarget:
    m = metric(text)
    where = ['"host" =~ /^$node$/']
    where += [f"{influxql_ident(t)} = ''" for t in m.other_tags]
    if m.tag:
        where.append(f"{influxql_ident(m.tag)} != ''")
    where.append("$timeFilter")
    group = ["time($__interval)", '"host"'] + ([influxql_ident(m.tag)] if m.tag else [])
    query = (
        f"SELECT {agg}({influxql_ident(m.field)}) AS {influxql_ident(m.field)}"
        f" FROM {influxql_ident(m.measurement)} WHERE {' AND '.join(where)}"
        f" GROUP BY {', '.join(group)} fill(null)"
    )
    return InfluxQLTarget(query, "$tag_host" + (f" $tag_{m.tag}" if m.tag else "") + " $col")


def dashboard(
    uid: str,
    title: str,
    datasource: DataSourceRef,
    node_query: str,
    target_for: Callable[[str, str], Target],
    all_value: str,
) -> DashboardModel:
    node = (
        QueryVariable("node")
        .label("Node")
        .datasource(datasource)
        .query(node_query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        # "All" as the backend's own wildcard: Grafana would otherwise write out every node
        # in every target, which at fleet size graphite-web expands slower than `*`
        .all_value(all_value)
        .current(VariableOption(text="All", value="$__all"))
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    board = (
        Dashboard(title)
        .uid(uid)
        .tags(["salt-vitals"])
        .timezone(common.TimeZoneBrowser)
        .version(1)
        .editable()
        .refresh("1m")
        .time("now-6h", "now")
        .annotations([])
        .with_variable(node)
    )
    for index, (panel_title, unit, metrics, agg) in enumerate(PANELS):
        panel = (
            Timeseries()
            .id(index + 1)
            .title(panel_title)
            .datasource(datasource)
            .height(8)
            .span(12)
            .unit(unit)
            .legend(
                VizLegendOptions()
                .display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM)
                .show_legend(True)
            )
            .tooltip(
                VizTooltipOptions()
                .mode(common.TooltipDisplayMode.SINGLE)
                .sort(common.SortOrder.NONE)
            )
        )
        for i, text in enumerate(metrics):
            target = target_for(text, agg)
            panel.with_target(Query(target).ref_id(chr(ord("A") + i)).datasource(datasource))
        board.with_panel(panel)
    return board.build()


def graphite_dashboard(prefix: str = "vitals") -> DashboardModel:
    paths = PathBuilder(NODE, prefix)
    cpu = metric_pattern(paths, metric("cpu.percent"), "*")[0]
    return dashboard(
        "salt-vitals-graphite",
        "Salt vitals (Graphite)",
        DataSourceRef(type_val="graphite", uid=GRAPHITE_UID),
        cpu.split(".*.", 1)[0] + ".*",
        lambda text, agg: graphite_target(paths, text, agg),
        all_value="*",
    )


def influx_dashboard() -> DashboardModel:
    cpu = metric("cpu.percent")
    return dashboard(
        "salt-vitals-influxdb",
        "Salt vitals (InfluxDB)",
        DataSourceRef(type_val="influxdb", uid=INFLUX_UID),
        f'SHOW TAG VALUES FROM {influxql_ident(cpu.measurement)} WITH KEY = "host"',
        influx_target,
        all_value=".*",
    )


DASHBOARDS = {"vitals-graphite.json": graphite_dashboard, "vitals-influxdb.json": influx_dashboard}


def render(name: str) -> str:
    encoder = JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False)
    return encoder.encode(DASHBOARDS[name]()) + "\n"


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        stale = [
            n for n in DASHBOARDS if not (OUT / n).is_file() or (OUT / n).read_text() != render(n)
        ]
        for name in stale:
            print(f"{OUT / name} is stale: run {argv[0]}", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        (OUT / name).write_text(render(name))
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

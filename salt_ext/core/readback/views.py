"""``vitals.top``, ``vitals.history`` and ``vitals.least_loaded`` over any reader: node
selection, the bucket grid, staleness, sparklines and the headroom score, once for both
backends."""

import fnmatch
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, TypeVar

from salt_ext.core.errors import ConfigError, QueryError
from salt_ext.core.readback.model import (
    AGGREGATES,
    COLUMNS_BY_NAME,
    CPU_COUNT,
    LOAD_BY,
    NODE_LIST_MAX,
    SORTS,
    TOP_COLUMNS,
    Reader,
    Row,
    parse_metric,
    series_name,
)
from salt_ext.core.readback.times import align, grid, isotime, parse_duration, parse_time
from salt_ext.core.samples import Metric, Points, Series, Summary

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 12
MAX_REQUESTS = 4  # requests in flight at once, one metric each
_T = TypeVar("_T")
ByNode = dict[str, dict[Optional[str], Summary]]  # node -> tag value (or None) -> summary


def select_nodes(known: Iterable[str], tgt: object) -> list[str]:
    """The nodes of ``known`` matching the glob (or comma-separated list) ``tgt``."""
    patterns = [p.strip() for p in str(tgt or "*").split(",") if p.strip()] or ["*"]
    return sorted(n for n in known if any(fnmatch.fnmatchcase(n, p) for p in patterns))


def resolve_nodes(reader: Reader, metric: Metric, tgt: object) -> list[str]:
    """Nodes matching ``tgt`` that have ``metric``; a clear error listing what exists."""
    known = reader.nodes(metric)
    if not known:
        raise QueryError(f"no node has {metric} in {reader.label} (is anything writing to it?)")
    nodes = select_nodes(known, tgt)
    if not nodes:
        raise QueryError(f"no node matches {tgt!r} in {reader.label}; nodes: {_listing(known)}")
    return nodes


def _listing(names: Iterable[str], limit: int = 40) -> str:
    names = list(names)
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


def ask_for(nodes: Sequence[str]) -> Optional[list[str]]:
    """The node list to put in a request: None (all of them, filtered here) when it is long."""
    return list(nodes) if len(nodes) <= NODE_LIST_MAX else None


def each_metric(func: Callable[[Metric], _T], metrics: Sequence[Metric]) -> dict[Metric, _T]:
    """``func(metric)`` for every metric, several at once: one request per metric, and the
    backends answer them in parallel (influxd on every core, graphite-web in each worker)."""
    if len(metrics) == 1:
        return {metrics[0]: func(metrics[0])}
    with ThreadPoolExecutor(max_workers=min(len(metrics), MAX_REQUESTS)) as pool:
        return dict(zip(metrics, pool.map(func, metrics)))


def summaries(
    reader: Reader,
    steps: Mapping[Metric, Optional[int]],
    nodes: Sequence[str],
    start: int,
    end: int,
    recent: int,
) -> dict[Metric, ByNode]:
    """:meth:`Reader.summary` of every metric of ``steps`` (metric -> its bucket step) for
    ``nodes``, indexed by node once."""
    ask, wanted = ask_for(nodes), set(nodes)
    found = each_metric(lambda m: reader.summary(m, ask, start, end, steps[m], recent), list(steps))
    out: dict[Metric, ByNode] = {}
    for metric, by_series in found.items():
        by_node: ByNode = out.setdefault(metric, {})
        for (node, tag), summary in by_series.items():
            if node in wanted:
                by_node.setdefault(node, {})[tag] = summary
    return out


# -- history ---------------------------------------------------------------------------------
def history(
    reader: Reader,
    metric: "Metric | str",
    tgt: object = "*",
    start: object = "-1h",
    end: object = "now",
    resample: object = "1m",
    agg: str = "mean",
    now: Optional[float] = None,
) -> dict[str, Any]:
    """Aligned buckets per node (and tag value) of one metric."""
    now = time.time() if now is None else now
    metric = parse_metric(metric) if isinstance(metric, str) else metric
    if agg not in AGGREGATES:
        raise ConfigError("agg", f"must be one of {', '.join(AGGREGATES)}, got {agg!r}")
    begin = parse_time(start, now, "start")
    finish = parse_time(end, now, "end")
    step = parse_duration(resample, "resample")
    if finish <= begin:
        raise ConfigError("end", f"must be after start ({isotime(begin)}), got {end!r}")
    nodes = resolve_nodes_for_metric(reader, metric, tgt)
    times = grid(begin, finish, step)
    wanted = set(nodes)
    found = {
        series: buckets
        for series, buckets in reader.buckets(
            metric, ask_for(nodes), begin, finish, step, agg
        ).items()
        if series[0] in wanted
    }
    if metric.tag is None:  # a node silent over the whole range: a row of nulls all the same
        for node in nodes:
            found.setdefault((node, None), [])
    series = {series_name(s): align(points, times) for s, points in sorted(found.items(), key=_k)}
    return {
        "metric": str(metric),
        "backend": reader.label,
        "start": isotime(times[0]),
        "end": isotime(finish),
        "until": finish,
        "resample": step,
        "agg": agg,
        "times": times,
        "series": series,
    }


def resolve_nodes_for_metric(reader: Reader, metric: Metric, tgt: object) -> list[str]:
    """Like :func:`resolve_nodes`, but an unknown field is told apart from an unknown node."""
    known = reader.nodes(metric)
    if not known:
        fields = reader.fields(metric.group)
        if fields:
            raise QueryError(
                f"unknown metric {metric} in {reader.label}; {metric.group} has: {_listing(fields)}"
            )
        raise QueryError(f"no node has {metric} in {reader.label} (is anything writing to it?)")
    nodes = select_nodes(known, tgt)
    if not nodes:
        raise QueryError(f"no node matches {tgt!r} in {reader.label}; nodes: {_listing(known)}")
    return nodes


def _k(item: tuple[Series, Any]) -> tuple[str, str]:
    (node, tag), _ = item
    return (node, tag or "")


# -- top -------------------------------------------------------------------------------------
def sparkline(
    values: Sequence[Optional[float]], low: Optional[float] = None, high: Optional[float] = None
) -> str:
    """One character per value (a space for None), scaled between ``low`` and ``high``."""
    present = [v for v in values if v is not None]
    if not present:
        return " " * len(values)
    low = min(present) if low is None else low
    high = max(present) if high is None else high
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span <= 0:
            out.append(SPARK[0] if high <= 0 else SPARK[len(SPARK) // 2])
        else:
            index = int((min(max(v, low), high) - low) / span * (len(SPARK) - 1) + 0.5)
            out.append(SPARK[index])
    return "".join(out)


SPARK_SCALE = {"cpu": (0, 100), "mem": (0, 100), "swap": (0, 100), "disk": (0, 100)}


def node_table(
    reader: Reader,
    tgt: object = "*",
    window: object = "15m",
    stale_after: float = 180,
    now: Optional[float] = None,
    width: int = SPARK_WIDTH,
) -> dict[str, Any]:
    """Per node: the latest value of each column, the age of its newest point, stale or not,
    and a sparkline of the window per column. Every node the backend knows for ``cpu.percent``
    that matches ``tgt`` has a row, reporting or not."""
    now = time.time() if now is None else now
    span = parse_duration(window, "window")
    end = int(now) + 1
    start = end - span
    nodes = resolve_nodes(reader, TOP_COLUMNS[0].metric, tgt)
    step = max(1, -(-span // width))
    times = grid(start, end, step)[-width:]
    steps: dict[Metric, Optional[int]] = {c.metric: step for c in TOP_COLUMNS}
    steps[CPU_COUNT] = None  # no sparkline: one bucket is cheaper
    found = summaries(reader, steps, nodes, start, end, int(stale_after))
    rows = [_top_row(node, found, times, now, stale_after) for node in nodes]
    return {
        "backend": reader.label,
        "window": span,
        "stale_after": stale_after,
        "at": isotime(now),
        "columns": [c.name for c in TOP_COLUMNS],
        "nodes": rows,
    }


def _top_row(
    node: str,
    found: Mapping[Metric, ByNode],
    times: Sequence[int],
    now: float,
    stale_after: float,
) -> Row:
    """A column's value is the newest point (of the fullest disk, the hottest sensor... for a
    folded column: the highest of the tag values' newest points at the newest time); its
    sparkline the bucket means (folded: the highest of the tag values' means)."""
    row: Row = {"node": node}
    newest: Optional[int] = None
    spark: dict[str, str] = {}
    for column in TOP_COLUMNS:
        per_tag = found[column.metric].get(node)
        if not per_tag:
            row[column.name] = None
            continue
        if column.fold:
            ts = max(s.newest[0] for s in per_tag.values())
            value = max(s.newest[1] for s in per_tag.values() if s.newest[0] == ts)
            means: dict[int, float] = {}
            for summary in per_tag.values():
                for bucket, mean in summary.means:
                    means[bucket] = max(means.get(bucket, mean), mean)
        else:
            only = next(iter(per_tag.values()))
            (ts, value), means = only.newest, dict(only.means)
        row[column.name] = value
        newest = ts if newest is None else max(newest, ts)
        low, high = SPARK_SCALE.get(column.name, (None, None))
        spark[column.name] = sparkline([means.get(t) for t in times], low, high)
        if column.fold:
            row[f"{column.name}_where"] = max(per_tag, key=lambda t: per_tag[t].newest[1])
    if row.get("throttled") is not None:
        row["throttled"] = bool(row["throttled"])
    count = found[CPU_COUNT].get(node, {}).get(None)
    row["cpu_count"] = int(count.newest[1]) if count else None
    row["newest"] = isotime(newest) if newest is not None else None
    row["age"] = round(now - newest, 1) if newest is not None else None
    row["stale"] = newest is None or now - newest > stale_after
    row["spark"] = spark
    return row


def sort_rows(rows: list[Row], sort: str) -> list[Row]:
    """Busiest first for a metric column (None last), oldest first for ``age``, by name for
    ``node``."""
    if sort not in SORTS:
        raise ConfigError("sort", f"must be one of {', '.join(SORTS)}, got {sort!r}")
    if sort == "node":
        return sorted(rows, key=lambda r: r["node"])
    return sorted(rows, key=lambda r: (r.get(sort) is None, -(r.get(sort) or 0), r["node"]))


def top(
    reader: Reader,
    tgt: object = "*",
    sort: str = "cpu",
    window: object = "15m",
    stale_after: float = 180,
    now: Optional[float] = None,
) -> dict[str, Any]:
    table = node_table(reader, tgt, window, stale_after, now)
    table["sort"] = sort
    table["nodes"] = sort_rows(table["nodes"], sort)
    return table


# -- least loaded ------------------------------------------------------------------------------
def headroom(points_by_column: Mapping[str, Points], cpu_count: Optional[int]) -> dict[str, float]:
    """Load over the window for one node, each 0..100 where known (lower = more headroom):
    ``cpu`` mean CPU %, ``mem`` mean memory %, ``load`` mean load1 per core x 100, and
    ``score`` = 0.5 cpu + 0.3 mem + 0.2 min(load, 100) over the parts that are known."""
    means = {}
    for name, points in points_by_column.items():
        if points:
            means[name] = sum(v for _, v in points) / len(points)
    out = {}
    if "cpu" in means:
        out["cpu"] = means["cpu"]
    if "mem" in means:
        out["mem"] = means["mem"]
    if "load1" in means:
        out["load"] = means["load1"] / max(cpu_count or 1, 1) * 100
    weights = {"cpu": 0.5, "mem": 0.3, "load": 0.2}
    known = {k: min(v, 100.0) for k, v in out.items()}
    if known:
        total = sum(weights[k] for k in known)
        out["score"] = sum(weights[k] * v for k, v in known.items()) / total
    return out


def least_loaded(
    reader: Reader,
    n: int = 1,
    tgt: object = "*",
    by: str = "score",
    window: object = "5m",
    stale_after: float = 180,
    now: Optional[float] = None,
) -> dict[str, Any]:
    """The ``n`` non-stale nodes with the most headroom over the window, and why."""
    now = time.time() if now is None else now
    if by not in LOAD_BY:
        raise ConfigError("by", f"must be one of {', '.join(LOAD_BY)}, got {by!r}")
    if int(n) < 1:
        raise ConfigError("n", f"must be at least 1, got {n!r}")
    span = parse_duration(window, "window")
    end = int(now) + 1
    nodes = resolve_nodes(reader, TOP_COLUMNS[0].metric, tgt)
    columns = ("cpu", "load1", "mem")
    metrics = [COLUMNS_BY_NAME[c].metric for c in columns] + [CPU_COUNT]
    found = summaries(reader, dict.fromkeys(metrics), nodes, end - span, end, int(stale_after))
    ranked, stale = [], []
    for node in nodes:
        mine = [found[m].get(node, {}) for m in metrics]
        newest = max((s.newest[0] for per_tag in mine for s in per_tag.values()), default=None)
        if newest is None or now - newest > stale_after:
            stale.append(node)
            continue
        *means, count = (per_tag.get(None) for per_tag in mine)
        # one bucket: the mean over the window
        by_column = {c: summary.means if summary else [] for c, summary in zip(columns, means)}
        loads = headroom(by_column, int(count.newest[1]) if count else None)
        if by in loads:
            ranked.append((loads[by], node, loads))
    ranked.sort(key=lambda item: (item[0], item[1]))
    chosen = ranked[: int(n)]
    return {
        "nodes": [node for _, node, _ in chosen],
        "by": by,
        "window": span,
        "load": {node: {k: round(v, 2) for k, v in loads.items()} for _, node, loads in chosen},
        "stale": stale,
    }

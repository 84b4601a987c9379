"""``vitals.top``, ``vitals.history`` and ``vitals.least_loaded`` over any reader: node
selection, the bucket grid, staleness, sparklines and the headroom score, once for both
backends."""

import fnmatch
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from salt_ext.core.errors import ConfigError, QueryError
from salt_ext.core.readback.model import (
    AGGREGATES,
    COLUMNS_BY_NAME,
    CPU_COUNT,
    LOAD_BY,
    SORTS,
    TOP_COLUMNS,
    Reader,
    Row,
    parse_metric,
    series_name,
)
from salt_ext.core.readback.times import align, grid, isotime, parse_duration, parse_time
from salt_ext.core.samples import Metric, Points, Series

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 12


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
    found = reader.buckets(metric, nodes, begin, finish, step, agg)
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


def _fold(per_tag: dict[Optional[str], Points], how: Optional[str]) -> Points:
    """Merge the tag series of one node into one ``[(ts, value)]`` list."""
    if len(per_tag) == 1 or how is None:
        return next(iter(per_tag.values()))
    by_ts: dict[int, float] = {}
    for points in per_tag.values():
        for ts, value in points:
            by_ts[ts] = value if ts not in by_ts else max(by_ts[ts], value)
    return sorted(by_ts.items())


def _bucket_means(points: Points, times: Sequence[int], step: int) -> list[Optional[float]]:
    sums: dict[int, tuple[float, int]] = {}
    for ts, value in points:
        slot = int(ts) - int(ts) % step
        total, count = sums.get(slot, (0.0, 0))
        sums[slot] = (total + value, count + 1)
    return [sums[t][0] / sums[t][1] if t in sums else None for t in times]


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
    found = reader.points([c.metric for c in TOP_COLUMNS] + [CPU_COUNT], nodes, start, end)
    step = max(1, -(-span // width))
    times = grid(start, end, step)[-width:]
    rows = []
    for node in nodes:
        row: Row = {"node": node}
        newest: Optional[int] = None
        spark: dict[str, str] = {}
        for column in TOP_COLUMNS:
            per_tag = {
                tag: pts for (n, tag), pts in found.get(column.metric, {}).items() if n == node
            }
            per_tag = {tag: pts for tag, pts in per_tag.items() if pts}
            if not per_tag:
                row[column.name] = None
                continue
            points = _fold(per_tag, column.fold)
            ts, value = points[-1]
            newest = ts if newest is None else max(newest, ts)
            row[column.name] = value
            low, high = SPARK_SCALE.get(column.name, (None, None))
            spark[column.name] = sparkline(_bucket_means(points, times, step), low, high)
            if column.fold:
                row[f"{column.name}_where"] = max(per_tag, key=lambda t: per_tag[t][-1][1])
        if row.get("throttled") is not None:
            row["throttled"] = bool(row["throttled"])
        count = found.get(CPU_COUNT, {}).get((node, None))
        row["cpu_count"] = int(count[-1][1]) if count else None
        row["newest"] = isotime(newest) if newest is not None else None
        row["age"] = round(now - newest, 1) if newest is not None else None
        row["stale"] = newest is None or now - newest > stale_after
        row["spark"] = spark
        rows.append(row)
    return {
        "backend": reader.label,
        "window": span,
        "stale_after": stale_after,
        "at": isotime(now),
        "columns": [c.name for c in TOP_COLUMNS],
        "nodes": rows,
    }


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
    metrics = [COLUMNS_BY_NAME[c].metric for c in ("cpu", "load1", "mem")] + [CPU_COUNT]
    found = reader.points(metrics, nodes, end - span, end)
    ranked, stale = [], []
    for node in nodes:
        newest = max(
            (
                pts[-1][0]
                for m in metrics
                for (nd, _), pts in found.get(m, {}).items()
                if nd == node and pts
            ),
            default=None,
        )
        if newest is None or now - newest > stale_after:
            stale.append(node)
            continue
        by_column = {
            c: found.get(COLUMNS_BY_NAME[c].metric, {}).get((node, None), [])
            for c in ("cpu", "load1", "mem")
        }
        count = found.get(CPU_COUNT, {}).get((node, None))
        loads = headroom(by_column, int(count[-1][1]) if count else None)
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

"""Reading vitals back: everything the read-back runners share, whatever the backend.

``vitals.top``, ``vitals.history`` and ``vitals.least_loaded`` ask a *reader*
(:mod:`salt_ext.core.query_graphite` or :mod:`salt_ext.core.query_influx`) for points and do the
rest here, once: option parsing (``vitals_query:``), times (``-1h``, ``now``, ISO 8601, Unix
seconds), durations (``15m``), metric names, the bucket grid, staleness, sparklines and the
headroom score.

A *metric* is ``<group>.<field>`` with the group a key of ``vitals.current``
(:data:`salt_ext.core.samples.GROUPS`): ``cpu.percent``, ``cores.percent``, ``disk.percent``.
A tagged group (cores, disk, diskio, net, temp) gives one series per node and tag value, named
``<node>:<tag value>``.

A reader implements::

    nodes(metric)                              -> sorted node names that have the metric
    fields(group)                              -> sorted field names the group has
    points(metrics, nodes, start, end)         -> {metric: {series: [(ts, value), ...]}}
    buckets(metric, nodes, start, end, step, agg) -> {series: [(bucket ts, value or None)]}

``series`` is ``(node, tag value or None)``; ``nodes`` a list of node names (None: all).
"""

import datetime
import fnmatch
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from salt_ext.core.config import Option, parse
from salt_ext.core.errors import ConfigError, QueryError
from salt_ext.core.samples import GROUPS

AGGREGATES = ("mean", "max", "min", "last")
SORTS = ("cpu", "load1", "mem", "swap", "disk", "temp", "age", "node")
LOAD_BY = ("cpu", "load", "mem", "score")
SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 12

# The read-back settings: a top-level key of the master config of their own (see POLLPUSH_KEY).
QUERY_KEY = "vitals_query"

QUERY_OPTIONS = {
    "backend": Option(
        "str", "graphite", choices=("graphite", "influxdb"), doc="where to read vitals back"
    ),
    "url": Option("str", "", doc="graphite-web URL, or the InfluxDB HTTP URL (default :8086)"),
    "prefix": Option("str", "vitals", doc="graphite: the carbon returner's prefix"),
    "template": Option("str", "", doc="graphite: the carbon returner's path template, if changed"),
    "api": Option("str", "v1", choices=("v1", "v2"), doc="influxdb: query API"),
    "db": Option("str", "salt", doc="influxdb v1 database"),
    "rp": Option("str", "", doc="influxdb v1 retention policy (default: the db's)"),
    "user": Option("str", "", doc="influxdb v1 basic auth user"),
    "password": Option("str", "", secret=True, doc="influxdb v1 basic auth password"),
    "org": Option("str", "", doc="influxdb v2 organization (informational)"),
    "bucket": Option("str", "", doc="influxdb v2 bucket (queried through the v1 /query API)"),
    "token": Option("str", "", secret=True, doc="influxdb token (v2; v1 without user)"),
    "timeout": Option("float", 10.0, minimum=0.1, doc="seconds per request"),
    "verify": Option("bool", True, doc="verify HTTPS certificates"),
    "ca_bundle": Option("str", "", doc="CA certificates file for HTTPS"),
    "stale_after": Option("str", "3m", doc="a node whose newest point is older is stale"),
}

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|secs|min|m|h|d|w|y)?", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_UNITS["y"] = 365 * 86400

Series = tuple[str, Optional[str]]  # (node, tag value)
Points = list[tuple[int, float]]
Buckets = list[tuple[int, Optional[float]]]
Options = dict[str, Any]
Row = dict[str, Any]


class Reader(Protocol):
    """What a backend reader offers (see the module docstring)."""

    label: str

    def nodes(self, metric: "Metric") -> list[str]: ...

    def fields(self, group: str) -> list[str]: ...

    def points(
        self, metrics: Sequence["Metric"], nodes: Optional[Sequence[str]], start: int, end: int
    ) -> dict["Metric", dict[Series, Points]]: ...

    def buckets(
        self,
        metric: "Metric",
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: int,
        agg: str,
    ) -> dict[Series, Buckets]: ...


# -- options and times -----------------------------------------------------------------------
def read_options(
    raw: Optional[Mapping[str, Any]], overrides: Optional[Mapping[str, Any]] = None
) -> Options:
    """``vitals_query:`` from the master config, with command-line ``overrides``, validated.

    Raises :class:`ConfigError` naming the key; secrets are never part of its text.
    """
    merged = dict(raw or {})
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    opts = parse(QUERY_KEY, merged, QUERY_OPTIONS)
    if not opts["url"]:
        default = "http://127.0.0.1:8086" if opts["backend"] == "influxdb" else ""
        if not default:
            raise ConfigError(f"{QUERY_KEY}:url", "required (the graphite-web URL)")
        opts["url"] = default
    opts["stale_after"] = parse_duration(opts["stale_after"], f"{QUERY_KEY}:stale_after")
    if opts["backend"] == "influxdb" and opts["api"] == "v2":
        for name in ("bucket", "token"):
            if not opts[name]:
                raise ConfigError(f"{QUERY_KEY}:{name}", "required with api v2")
    if bool(opts["user"]) != bool(opts["password"]):
        missing = "password" if opts["user"] else "user"
        raise ConfigError(f"{QUERY_KEY}:{missing}", "user and password go together")
    return opts


def parse_duration(text: object, key: str = "duration") -> int:
    """``90``, ``90s``, ``15m``, ``1h``, ``2d``, ``1w``, ``1h30m`` -> seconds (int, > 0)."""
    raw = str(text).strip().lower()
    if raw.startswith("-"):
        raw = raw[1:]
    total, pos = 0.0, 0
    for match in _DURATION.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2) or "s"]
        pos = match.end()
    if not raw or pos != len(raw) or total <= 0:
        raise ConfigError(key, f"expected a duration such as 30s, 15m, 1h or 2d, got {text!r}")
    return math.ceil(total)


def parse_time(text: object, now: float, key: str = "time") -> int:
    """``now``, ``-1h`` (relative to ``now``), Unix seconds or ISO 8601 (naive = UTC) -> int."""
    raw = str(text).strip()
    if raw.lower() in ("now", ""):
        return int(now)
    if raw.startswith("-"):
        return int(now) - parse_duration(raw[1:], key)
    try:
        return int(float(raw))
    except ValueError:
        pass
    try:
        when = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            key, f"expected now, -<duration> (-1h), Unix seconds or ISO 8601, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp())


def isotime(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def grid(start: int, end: int, step: int) -> list[int]:
    """Bucket start times ``floor(start/step)*step`` ... up to ``end`` (excluded), like
    graphite's ``summarize`` and InfluxQL's ``GROUP BY time()``."""
    first = start - start % step
    return list(range(first, end, step)) or [first]


def align(
    points: Iterable[tuple[int, Optional[float]]], times: Sequence[int]
) -> list[Optional[float]]:
    """``[(ts, value)]`` placed on the ``times`` grid; missing buckets stay None."""
    found = {int(ts): value for ts, value in points}
    return [found.get(ts) for ts in times]


# -- metrics ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """``<group>.<field>``: ``group`` is a key of ``vitals.current`` (samples.GROUPS)."""

    group: str
    field: str

    @property
    def measurement(self) -> str:
        return GROUPS[self.group].measurement

    @property
    def tag(self) -> Optional[str]:
        return GROUPS[self.group].tag

    @property
    def other_tags(self) -> list[str]:
        """Tags of the other groups sharing this measurement (``cores`` shares ``cpu``):
        a series of this group has none of them."""
        return sorted(
            g.tag
            for key, g in GROUPS.items()
            if key != self.group and g.measurement == self.measurement and g.tag
        )

    def __str__(self) -> str:
        return f"{self.group}.{self.field}"


def parse_metric(text: object, key: str = "metric") -> Metric:
    group, sep, field = str(text).strip().partition(".")
    if group not in GROUPS:
        raise QueryError(f"{key}: unknown group {group!r} in {text!r}; groups: {', '.join(GROUPS)}")
    if not sep or not field or "." in field:
        raise QueryError(f"{key}: expected <group>.<field> such as cpu.percent, got {text!r}")
    return Metric(group, field)


@dataclass(frozen=True)
class Column:
    """One column of ``vitals.top``: a metric, and how tagged series fold into one value."""

    name: str
    metric: Metric
    fold: Optional[str] = None  # "max" across tag values (fullest disk, hottest sensor)


TOP_COLUMNS = (
    Column("cpu", Metric("cpu", "percent")),
    Column("load1", Metric("load", "load1")),
    Column("mem", Metric("mem", "percent")),
    Column("swap", Metric("swap", "percent")),
    Column("disk", Metric("disk", "percent"), fold="max"),
    Column("temp", Metric("temp", "celsius"), fold="max"),
    Column("throttled", Metric("pi", "throttling"), fold="max"),
)
CPU_COUNT = Metric("cpu", "count")
COLUMNS_BY_NAME = {c.name: c for c in TOP_COLUMNS}
LOAD_COLUMNS = {"cpu": "cpu", "load": "load1", "mem": "mem"}


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


def series_name(series: Series) -> str:
    node, tag = series
    return node if tag is None else f"{node}:{tag}"


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


def open_reader(opts: Options) -> Reader:
    """The reader for ``opts["backend"]`` (options from :func:`read_options`)."""
    if opts["backend"] == "influxdb":
        from salt_ext.core.query_influx import InfluxReader

        return InfluxReader(opts)
    from salt_ext.core.query_graphite import GraphiteReader

    return GraphiteReader(opts)

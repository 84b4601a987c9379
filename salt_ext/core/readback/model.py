"""What the read-back runners work with, whatever the backend: the reader protocol, the
columns of ``vitals.top`` and the names they take.

A *metric* is ``<group>.<field>`` (:class:`salt_ext.core.samples.Metric`); a tagged group
(cores, disk, diskio, net, temp) gives one series per node and tag value, named
``<node>:<tag value>``. A reader (:mod:`salt_ext.core.graphite.render`,
:mod:`salt_ext.core.influxdb.read`) implements :class:`Reader`::

    nodes(metric)                                   -> sorted node names that have the metric
    fields(group)                                   -> sorted field names the group has
    summary(metric, nodes, start, end, step, recent) -> {series: Summary(newest, means)}
    buckets(metric, nodes, start, end, step, agg)    -> {series: [(bucket ts, value or None)]}

``series`` is ``(node, tag value or None)``; ``nodes`` a short list of node names to ask for
(None: all of them; the views filter a long selection themselves, see :data:`NODE_LIST_MAX`).
Each call is one request to the backend, aggregated there: ``summary`` gives, per series with
points in ``[start, end)``, the newest point and the mean of every ``step``-second bucket (the
buckets of graphite's ``summarize`` and InfluxQL's ``GROUP BY time()``, multiples of ``step``;
``step`` None: one bucket, at ``start``, for the whole window). ``recent`` says how far back the
newest point of a live series lies (the staleness bound): a backend without a "newest point"
aggregate reads the raw points of that tail only, and further back only for series that have
none there. Every call takes the window and its step, so a reader can choose per window where
to read (e.g. a downsampled retention policy covering it).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from salt_ext.core.errors import QueryError
from salt_ext.core.samples import GROUPS, Buckets, Metric, Series, Summary

AGGREGATES = ("mean", "max", "min", "last")
SORTS = ("cpu", "load1", "mem", "swap", "disk", "temp", "age", "node")
LOAD_BY = ("cpu", "load", "mem", "score")
Row = dict[str, Any]
# A selection of more nodes than this is read whole and filtered by the views: matching 1,000
# names costs graphite-web's find and InfluxDB's WHERE more than reading the other series does.
NODE_LIST_MAX = 50


class Reader(Protocol):
    """What a backend reader offers (see the module docstring)."""

    label: str

    def nodes(self, metric: "Metric") -> list[str]: ...

    def fields(self, group: str) -> list[str]: ...

    def summary(
        self,
        metric: "Metric",
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: Optional[int],
        recent: int,
    ) -> dict[Series, Summary]: ...

    def buckets(
        self,
        metric: "Metric",
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: int,
        agg: str,
    ) -> dict[Series, Buckets]: ...


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


def series_name(series: Series) -> str:
    node, tag = series
    return node if tag is None else f"{node}:{tag}"

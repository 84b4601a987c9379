"""Read vitals back from InfluxDB with InfluxQL, through
:class:`~salt_ext.core.influxdb.client.InfluxClient`.

Measurements, tags and fields are the InfluxDB returner's (measurement = the group's
``measurement`` in :data:`salt_ext.core.samples.GROUPS`, tag ``host`` = the minion id plus the
group's own tag). The server aggregates: per series ``last()`` (the newest point) and
``mean()``, ``max()``... in buckets of ``GROUP BY time(<step>s), "host"[, <tag>]``, one request
per metric; ``SHOW TAG VALUES`` and ``SHOW FIELD KEYS`` list what exists.

``api: v1`` queries ``/query?db=`` with basic auth (``user``/``password``) or ``Authorization:
Token`` when only ``token`` is set; ``api: v2`` queries InfluxDB 2's v1-compatible ``/query``
with ``db=<bucket>`` and the token (the bucket needs a DBRP mapping, as for any InfluxQL).
"""

from collections.abc import Sequence
from typing import Any, Optional

from salt_ext.core.config import Options
from salt_ext.core.errors import QueryError
from salt_ext.core.influxdb import influxql
from salt_ext.core.influxdb.client import InfluxClient
from salt_ext.core.influxdb.influxql import influxql_ident, influxql_string
from salt_ext.core.samples import Buckets, Metric, Series, Summary

SELECTORS = {"mean": "mean", "max": "max", "min": "min", "last": "last"}


class InfluxReader:
    """The reader protocol of :mod:`salt_ext.core.readback.views` over one InfluxDB."""

    def __init__(self, opts: Options) -> None:
        self.db = opts["bucket"] if opts["api"] == "v2" else opts["db"]
        self.rp = opts.get("rp") or ""
        try:
            self.client = InfluxClient.from_options(opts, api=opts["api"])
        except ValueError as exc:
            raise QueryError(f"vitals_query:url: {exc}") from None
        self.label = self.client.label

    # -- InfluxQL ------------------------------------------------------------------------------
    def source(self, metric: Metric) -> str:
        name = influxql_ident(metric.measurement)
        if self.rp:
            return f"{influxql_ident(self.db)}.{influxql_ident(self.rp)}.{name}"
        return name

    def where(self, metric: Metric, nodes: Optional[Sequence[str]], start: int, end: int) -> str:
        clauses = [f"time >= {int(start)}s", f"time < {int(end)}s"]
        if nodes:
            hosts = " OR ".join(f'"host" = {influxql_string(n)}' for n in nodes)
            clauses.append(f"({hosts})")
        # a group sharing its measurement with a tagged one (cpu with cores): no such tag
        clauses += [f"{influxql_ident(tag)} = ''" for tag in metric.other_tags]
        if metric.tag:  # and a tagged group only its tagged series
            clauses.append(f"{influxql_ident(metric.tag)} != ''")
        return " AND ".join(clauses)

    def group_by(self, metric: Metric) -> str:
        keys = ["host"] + ([metric.tag] if metric.tag else [])
        return ", ".join(influxql_ident(k) for k in keys)

    def select(
        self,
        call: str,
        metric: Metric,
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: Optional[int] = None,
        fill: str = "none",
    ) -> str:
        """``SELECT <call>(<field>)`` of ``metric`` per series over ``[start, end)``, in buckets
        of ``step`` seconds (``fill``-ed) when given: every statement of this reader is made
        here."""
        statement = (
            f"SELECT {call}({influxql_ident(metric.field)}) FROM {self.source(metric)}"
            f" WHERE {self.where(metric, nodes, start, end)} GROUP BY "
        )
        if not step:
            return statement + self.group_by(metric)
        return statement + f"time({int(step)}s), {self.group_by(metric)} fill({fill})"

    # -- the reader protocol -----------------------------------------------------------------
    def nodes(self, metric: Metric) -> list[str]:
        if metric.field not in self.fields(metric.group):
            return []
        q = f'SHOW TAG VALUES FROM {self.source(metric)} WITH KEY = "host"'
        (result,) = self.query([q])
        return sorted({row[1] for s in result for row in s.get("values") or []})

    def fields(self, group: str) -> list[str]:
        (result,) = self.query([f"SHOW FIELD KEYS FROM {self.source(Metric(group, 'x'))}"])
        return sorted({row[0] for s in result for row in s.get("values") or []})

    def summary(
        self,
        metric: Metric,
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: Optional[int],
        recent: int,
    ) -> dict[Series, Summary]:
        """``last()`` gives the newest point exactly (``recent`` is not needed), ``mean()`` the
        buckets; two statements in one request."""
        newest, means = self.query(
            [
                self.select("last", metric, nodes, start, end),
                self.select("mean", metric, nodes, start, end, step),
            ]
        )
        lasts = {self._series(metric, s): s["values"][-1] for s in newest}
        out = {}
        for s in means:
            series = self._series(metric, s)
            ts, value = lasts[series]
            buckets = [(int(t) if step else start, v) for t, v in s["values"] if v is not None]
            out[series] = Summary((int(ts), value), buckets)
        return out

    def buckets(
        self,
        metric: Metric,
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: int,
        agg: str,
    ) -> dict[Series, Buckets]:
        q = self.select(SELECTORS[agg], metric, nodes, start, end, step, fill="null")
        (result,) = self.query([q])
        return {self._series(metric, s): [(int(t), v) for t, v in s["values"]] for s in result}

    def _series(self, metric: Metric, series: dict[str, Any]) -> Series:
        tags = series.get("tags") or {}
        return tags.get("host", ""), (tags.get(metric.tag) if metric.tag else None)

    # -- HTTP ----------------------------------------------------------------------------------
    def query(self, statements: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Run the statements at once; one list of series per statement."""
        params = {"db": self.db, "epoch": "s"}
        if self.rp:
            params["rp"] = self.rp
        results = self.client.query(statements, params, max_bytes=None)
        return [influxql.series(result) for result in results]

"""Read vitals back from InfluxDB with InfluxQL, through
:class:`~salt_ext.core.influxdb.client.InfluxClient`.

Measurements, tags and fields are the InfluxDB returner's (measurement = the group's
``measurement`` in :data:`salt_ext.core.samples.GROUPS`, tag ``host`` = the minion id plus the
group's own tag). The server aggregates: per series ``last()`` (the newest point) and
``mean()``, ``max()``... in buckets of ``GROUP BY time(<step>s), "host"[, <tag>]``, one request
per metric; ``SHOW TAG VALUES`` and ``SHOW FIELD KEYS`` list what exists.

Downsampling tiers (the ``influxdb`` SLS's ``influxdb_server:downsample``): when the raw policy
(the database's default) no longer holds the start of the window, a call reads the tier
:func:`choose_tier` picks instead, ``mean_<field>``/``max_<field>`` for the field. The tiers are
found once per reader on the server itself (``SHOW RETENTION POLICIES`` and ``SHOW CONTINUOUS
QUERIES``, which a READ user may run): a retention policy is a tier while a continuous query
written by :func:`~salt_ext.core.influxdb.influxql.downsample_statement` feeds it from the raw
policy. ``vitals_query:tiers: false`` or a ``vitals_query:rp`` turns this off.

``api: v1`` queries ``/query?db=`` with basic auth (``user``/``password``) or ``Authorization:
Token`` when only ``token`` is set; ``api: v2`` queries InfluxDB 2's v1-compatible ``/query``
with ``db=<bucket>`` and the token (the bucket needs a DBRP mapping, as for any InfluxQL).
"""

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from salt_ext.core.config import Options
from salt_ext.core.errors import QueryError
from salt_ext.core.influxdb import influxql
from salt_ext.core.influxdb.client import InfluxClient
from salt_ext.core.influxdb.influxql import influxql_ident, influxql_string
from salt_ext.core.samples import Buckets, Metric, Series, Summary

log = logging.getLogger(__name__)

SELECTORS = {"mean": "mean", "max": "max", "min": "min", "last": "last"}
# which column of a tier each aggregate reads: max is exact (the max of the interval maxima);
# min and last are of the interval means, as whisper's averaging archives give them
TIER_COLUMNS = {"mean": "mean_", "max": "max_", "min": "mean_", "last": "mean_"}


@dataclass(frozen=True)
class Tier:
    """Where points are read: ``policy`` "" is the raw tier (the database's default policy,
    ``every`` 0); ``keep`` the seconds its retention policy keeps, 0 forever."""

    policy: str = ""
    every: int = 0
    keep: int = 0

    def covers(self, start: float, now: float) -> bool:
        return not self.keep or start >= now - self.keep

    def column(self, field: str, agg: str) -> str:
        return TIER_COLUMNS[agg] + field if self.every else field


RAW = Tier()


def choose_tier(raw: Tier, tiers: Sequence[Tier], start: float, step: int, now: float) -> Tier:
    """The tier a window from ``start`` in buckets of ``step`` seconds is read from at ``now``:
    the raw tier while its retention covers ``start`` (its newest points are not in any tier
    yet); else, of the tiers that cover ``start``, the coarsest whose interval divides ``step``
    (whole intervals per bucket, fewest points), else the finest; none covers ``start``: the one
    that keeps the longest."""
    if raw.covers(start, now):
        return raw
    covering = sorted((t for t in tiers if t.covers(start, now)), key=lambda t: t.every)
    if covering:
        dividing = [t for t in covering if step % t.every == 0]
        return dividing[-1] if dividing else covering[0]
    return max([raw, *tiers], key=lambda t: (t.keep == 0, t.keep))


def find_tiers(
    database: str, policies: Sequence[dict[str, Any]], queries: dict[str, str]
) -> tuple[Tier, list[Tier]]:
    """The raw tier and the downsampling tiers of ``database`` from the rows of ``SHOW
    RETENTION POLICIES`` and its continuous queries (``{name: query}``)."""
    kept = influxql.retention_policies(policies)
    default = next((name for name, p in kept.items() if p["default"]), None)
    if default is None:
        return RAW, []
    tiers = [
        Tier(tier, every, kept[tier]["duration"])
        for tier, (source, every) in sorted(influxql.downsampling_tiers(queries, database).items())
        if source == default and tier in kept and every > 0
    ]
    return Tier("", 0, kept[default]["duration"]), tiers


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
        # v2 has no continuous queries; a policy given is read whatever the window
        self.use_tiers = bool(opts.get("tiers", True)) and opts["api"] == "v1" and not self.rp
        self._tiers: Optional[tuple[Tier, list[Tier]]] = None
        self._lock = threading.Lock()

    # -- tiers ---------------------------------------------------------------------------------
    def tiers(self) -> tuple[Tier, list[Tier]]:
        """The raw tier and the downsampling tiers, asked of the server once (one request)."""
        if not self.use_tiers:
            return RAW, []
        with self._lock:  # the views ask for several metrics at once
            if self._tiers is None:
                try:
                    policies, queries = self.client.query(
                        [
                            influxql.show_retention_policies_statement(self.db),
                            influxql.SHOW_CONTINUOUS_QUERIES,
                        ],
                        {"db": self.db},
                    )
                except QueryError as exc:
                    # a server or user that cannot list them (an InfluxQL-compatible server
                    # without continuous queries, say) still has its raw points: read those
                    log.warning("reading the raw policy only, the tiers are unknown: %s", exc)
                    self._tiers = RAW, []
                else:
                    shown = influxql.continuous_queries([queries]).get(self.db, {})
                    self._tiers = find_tiers(self.db, influxql.rows([policies]), shown)
            return self._tiers

    def tier(self, start: int, end: int, step: Optional[int]) -> Tier:
        if not self.use_tiers:
            return RAW
        raw, tiers = self.tiers()
        return choose_tier(raw, tiers, start, step or max(end - start, 1), time.time())

    # -- InfluxQL ------------------------------------------------------------------------------
    def source(self, metric: Metric, tier: Tier = RAW) -> str:
        name = influxql_ident(metric.measurement)
        policy = tier.policy or self.rp
        if policy:
            return f"{influxql_ident(self.db)}.{influxql_ident(policy)}.{name}"
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
        tier: Tier = RAW,
    ) -> str:
        """``SELECT <call>(<field>)`` of ``metric`` per series over ``[start, end)``, in buckets
        of ``step`` seconds (``fill``-ed) when given, from ``tier`` (its column for ``call``):
        every statement of this reader is made here."""
        column = influxql_ident(tier.column(metric.field, call))
        statement = (
            f"SELECT {call}({column}) FROM {self.source(metric, tier)}"
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
        buckets; two statements in one request (from a tier: the newest interval's mean)."""
        tier = self.tier(start, end, step)
        newest, means = self.query(
            [
                self.select("last", metric, nodes, start, end, tier=tier),
                self.select("mean", metric, nodes, start, end, step, tier=tier),
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
        tier = self.tier(start, end, step)
        q = self.select(SELECTORS[agg], metric, nodes, start, end, step, "null", tier)
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

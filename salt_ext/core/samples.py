"""The neutral data model both returners consume, and the one mapping to and from job returns.

A :class:`Sample` is one numeric value of one series at one time. ``vitals.current`` renders
samples as a nested dict (:func:`to_vitals_dict`); returners receive that dict inside the job
return and turn it back into the same samples (:func:`from_vitals_dict`). Any other job return
becomes samples by generic flattening (:func:`flatten_return`).

The vitals dict layout (documented in ``docs/metrics.md``)::

    {"ts": 1732240000.5,                        # collection time, Unix seconds
     "cpu": {"percent": 12.5, "user": 8.0, ...},  # untagged group: field -> number
     "cores": {"0": {"percent": 20.0}, ...},      # tagged group: tag value -> fields
     "disk": {"/boot": {"percent": 41.2, ...}}, ...}
"""

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union

log = logging.getLogger(__name__)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Group:
    """How one top-level key of the vitals dict maps to samples."""

    measurement: str
    tag: Optional[str] = None  # tagged groups are keyed by this tag's value
    int_fields: frozenset = field(default_factory=frozenset)


# The documented, stable layout of ``vitals.current``. Fields listed in ``int_fields`` are
# counts or byte sizes and are always integers; every other field is always a float, so a
# field never changes type in a backend (InfluxDB rejects a batch on a type conflict).
GROUPS = {
    "cpu": Group("cpu", int_fields=frozenset({"count"})),
    "cores": Group("cpu", tag="cpu"),
    "load": Group("load"),
    "mem": Group("mem", int_fields=frozenset({"total", "available", "used"})),
    "swap": Group("swap", int_fields=frozenset({"total", "used"})),
    "disk": Group("disk", tag="path", int_fields=frozenset({"total", "used", "free"})),
    "diskio": Group("diskio", tag="device"),
    "net": Group(
        "net",
        tag="interface",
        int_fields=frozenset({"rx_errors", "tx_errors", "rx_drops", "tx_drops"}),
    ),
    "temp": Group("temp", tag="sensor"),
    "system": Group("system", int_fields=frozenset({"procs", "boot_time"})),
    "pi": Group(
        "pi",
        int_fields=frozenset(
            {
                "throttled",
                "under_voltage",
                "freq_capped",
                "throttling",
                "soft_temp_limit",
                "under_voltage_occurred",
                "freq_capped_occurred",
                "throttling_occurred",
                "soft_temp_limit_occurred",
            }
        ),
    ),
}

_KEY_BY_SERIES = {(g.measurement, g.tag): key for key, g in GROUPS.items()}

VITALS_FUNCTIONS = frozenset({"vitals.current"})


class _SampleFields(NamedTuple):
    group: str
    name: tuple[Any, ...]
    value: float  # an int for counts and sizes
    ts: float
    tags: tuple[tuple[str, str], ...] = ()


class Sample(_SampleFields):
    """One value of one series at one time.

    ``name`` is a tuple of raw path segments (one segment for vitals fields, several for a
    flattened nested return); serializers sanitise or escape each segment. ``tags`` is a tuple of
    ``(key, value)`` pairs in a fixed order. ``value`` is an int (a count) or a finite float.
    A str ``name`` and a dict ``tags`` are accepted and stored as tuples.

    Immutable and compared by value (a tuple: every return builds dozens to hundreds of these,
    and a tuple costs a tenth of a dataclass instance to build, and less memory for a forked job
    to fault in).
    """

    __slots__ = ()

    def __new__(
        cls,
        group: str,
        name: Union[str, tuple[Any, ...]],
        value: float,
        ts: float,
        tags: Union[dict[str, str], tuple[tuple[str, str], ...]] = (),
    ) -> "Sample":
        return _new_tuple(
            cls,
            (
                group,
                (name,) if isinstance(name, str) else name,
                value,
                ts,
                tuple(tags.items()) if isinstance(tags, dict) else tags,
            ),
        )

    def __repr__(self) -> str:
        return "Sample(group={!r}, name={!r}, value={!r}, ts={!r}, tags={!r})".format(*self)


_new_tuple = tuple.__new__


@dataclass
class Skipped:
    """What a conversion left out, reported in one log line per return."""

    items: list = field(default_factory=list)

    def add(self, path: str, reason: str) -> None:
        self.items.append((path, reason))

    def __len__(self) -> int:
        return len(self.items)

    def summary(self, limit: int = 5) -> str:
        shown = ", ".join(f"{p or '<root>'} ({r})" for p, r in self.items[:limit])
        more = len(self.items) - limit
        return shown + (f" and {more} more" if more > 0 else "")


def coerce_number(value: object, as_int: bool = False) -> Union[int, float, None]:
    """Return ``value`` as a finite float (or an int when ``as_int``), or None if not numeric.

    Booleans count as 0/1. Strings, bytes, None, NaN and infinities are not numbers here, nor,
    for an integer field, values outside int64; other huge integers become floats.
    """
    if type(value) is float and not as_int:  # most values: one check before the general case
        return value if math.isfinite(value) else None
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        if as_int:
            return value if INT64_MIN <= value <= INT64_MAX else None
        try:
            value = float(value)
        except OverflowError:
            return None
    elif isinstance(value, float):
        if as_int:
            return round(value) if math.isfinite(value) and abs(value) <= INT64_MAX else None
    else:
        return None
    return value if math.isfinite(value) else None


def to_vitals_dict(samples: Iterable[Sample], ts: float) -> dict[str, Any]:
    """Render vitals samples as the nested dict ``vitals.current`` returns."""
    out: dict[str, Any] = {"ts": ts}
    for sample in samples:
        key = _KEY_BY_SERIES[(sample.group, sample.tags[0][0] if sample.tags else None)]
        fields = out.setdefault(key, {})
        if sample.tags:
            fields = fields.setdefault(sample.tags[0][1], {})
        fields[sample.name[0]] = sample.value
    return out


Name = Union[str, tuple[Any, ...]]
Row = tuple[str, tuple[tuple[str, str], ...], float, Mapping[Name, Union[int, float]]]
"""One series at one time with its fields: ``(group, tags, ts, {name: value})``, one
:class:`Sample` per field (:func:`row_samples`). A name is one path segment (a str: the
vitals fields) or a tuple of segments, as :attr:`Sample.name`. A returner serializes rows
straight from the job return (:func:`return_rows`), without building a sample per value; a
vitals series whose values need no typing is the return's own dict."""


def from_vitals_dict(data: Mapping[str, Any], skipped: Optional[Skipped] = None) -> list[Sample]:
    """Turn a ``vitals.current`` return back into samples (the inverse of :func:`to_vitals_dict`).

    Unknown groups and non-numeric values are reported in ``skipped``, never raised.
    """
    return row_samples(vitals_rows(data, skipped))


def vitals_rows(data: Mapping[str, Any], skipped: Optional[Skipped] = None) -> list[Row]:
    """The rows of a ``vitals.current`` return: :func:`from_vitals_dict` without the samples."""
    skipped = Skipped() if skipped is None else skipped
    ts = coerce_number(data.get("ts"))
    if ts is None:
        skipped.add("ts", "missing collection time")
        return []
    ts = float(ts)
    rows: list[Row] = []
    for key, tag_value, fields in _typed_series(data, skipped):
        group = GROUPS[key]
        tags: tuple[tuple[str, str], ...] = ()
        if tag_value is not None and group.tag is not None:
            tags = ((group.tag, tag_value),)
        rows.append((group.measurement, tags, ts, fields))
    return rows


def row_samples(rows: Iterable[Row]) -> list[Sample]:
    """One :class:`Sample` per field of ``rows``, in order."""
    samples: list[Sample] = []
    for group, tags, ts, fields in rows:
        samples.extend(
            [
                _new_tuple(Sample, (group, _segments(name), value, ts, tags))
                for name, value in fields.items()
            ]
        )
    return samples


def _segments(name: Name) -> tuple[Any, ...]:
    return name if type(name) is tuple else (name,)


def sample_rows(samples: Iterable[Sample]) -> list[Row]:
    """``samples`` as rows: consecutive samples of one series at one time (the same group,
    tags and ts objects, as a return's samples come) with distinct names share a row."""
    rows: list[Row] = []
    fields: dict[Name, Union[int, float]] = {}
    last: Optional[tuple[str, tuple[tuple[str, str], ...], float]] = None
    for group, name, value, ts, tags in samples:
        if (
            last is None
            or group is not last[0]
            or tags is not last[1]
            or ts is not last[2]
            or name in fields
        ):
            last, fields = (group, tags, ts), {}
            rows.append((group, tags, ts, fields))
        fields[name] = value
    return rows


def typed_vitals_dict(data: Mapping[str, Any], skipped: Optional[Skipped] = None) -> dict[str, Any]:
    """``data`` as :func:`to_vitals_dict` would render :func:`from_vitals_dict`'s samples of it,
    without building the samples: what ``vitals.current`` returns."""
    skipped = Skipped() if skipped is None else skipped
    ts = coerce_number(data.get("ts"))
    if ts is None:
        skipped.add("ts", "missing collection time")
        return {}
    out: dict[str, Any] = {"ts": ts}
    for key, tag_value, fields in _typed_series(data, skipped):
        if tag_value is None:
            out.setdefault(key, {}).update(fields)
        else:
            out.setdefault(key, {}).setdefault(tag_value, {}).update(fields)
    return out


def _typed_series(
    data: Mapping[str, Any], skipped: Skipped
) -> Iterator[tuple[str, Optional[str], dict[Name, Union[int, float]]]]:
    """The one vitals mapping: ``(group key, tag value or None, {field: typed value})`` for
    every series of ``data`` with at least one numeric field, typed per :data:`GROUPS`."""
    for key, content in data.items():
        if key == "ts":
            continue
        group = GROUPS.get(key)
        if group is None or not isinstance(content, dict):
            skipped.add(str(key), "unknown group")
            continue
        if group.tag is None:
            series: list[tuple[Optional[str], Any]] = [(None, content)]
        else:
            series = []
            for tag_value, fields in content.items():
                if isinstance(fields, dict):
                    series.append((str(tag_value), fields))
                else:
                    skipped.add(f"{key}.{tag_value}", "not a dict of fields")
        int_fields = group.int_fields
        for tag_value, fields in series:
            if _typed_already(fields, int_fields):
                if fields:
                    yield key, tag_value, fields
                continue
            typed: dict[Name, Union[int, float]] = {}
            for name, raw in fields.items():
                value: Union[int, float, None]
                if type(raw) is float and raw - raw == 0.0 and name not in int_fields:
                    value = raw  # most values: a finite float in a float field, no call
                elif type(raw) is int and name in int_fields and INT64_MIN <= raw <= INT64_MAX:
                    value = raw  # and a size or count in its int field
                else:
                    value = coerce_number(raw, as_int=name in int_fields)
                if value is None:
                    skipped.add(f"{key}.{name}", _describe(raw))
                else:
                    typed[name if type(name) is str else str(name)] = value
            if typed:
                yield key, tag_value, typed


def _typed_already(fields: dict[Any, Any], int_fields: frozenset) -> bool:
    """True when every name is a str outside ``int_fields`` and every value a finite float
    (a rate, a percentage): typing would change nothing. Checked at C speed, not per field."""
    return (
        int_fields.isdisjoint(fields)
        and _ONLY_FLOAT.issuperset(map(type, fields.values()))
        and _ONLY_STR.issuperset(map(type, fields))
        and math.isfinite(sum(fields.values()))  # a NaN or an infinity makes the sum one
    )


_ONLY_FLOAT = frozenset({float})
_ONLY_STR = frozenset({str})


def flatten_return(
    group: str, data: object, ts: float, skipped: Optional[Skipped] = None, max_depth: int = 16
) -> list[Sample]:
    """Flatten any job return into samples of ``group`` (usually the function name).

    Dicts and lists are walked (list items keyed by index); every numeric leaf becomes a float
    sample named by its key path. Non-numeric leaves are recorded in ``skipped``. Values are
    always floats so a generic field never changes type between jobs.
    """
    skipped = Skipped() if skipped is None else skipped
    samples = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        items: Iterable[tuple[Any, Any]]
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, (list, tuple)):
            items = enumerate(node)
        else:
            value = coerce_number(node)
            if value is None:
                skipped.add(".".join(path), _describe(node))
            elif not path:
                samples.append(Sample(group, ("value",), value, ts))
            else:
                samples.append(Sample(group, path, value, ts))
            continue
        if len(path) >= max_depth:
            skipped.add(".".join(path), f"nested deeper than {max_depth}")
            continue
        children = [(path + (str(k),), v) for k, v in items]
        stack.extend(reversed(children))
    return samples


def samples_from_return(
    ret: Mapping[str, Any], clock: Callable[[], float], skipped: Optional[Skipped] = None
) -> list[Sample]:
    """Samples for one Salt job return (the ``ret`` dict a returner receives).

    ``vitals.current`` returns use the vitals mapping and their collection time; any other
    function is flattened generically and stamped with ``clock()``. A failed job (non-zero
    ``retcode`` or ``success`` False) carries no metrics.
    """
    return row_samples(return_rows(ret, clock, skipped))


def return_rows(
    ret: Mapping[str, Any], clock: Callable[[], float], skipped: Optional[Skipped] = None
) -> list[Row]:
    """:func:`samples_from_return` as rows: a ``vitals.current`` return's come straight from
    its dict, without a sample per value."""
    skipped = Skipped() if skipped is None else skipped
    fun = str(ret.get("fun") or "unknown")
    data = ret.get("return")
    if ret.get("retcode") not in (None, 0) or ret.get("success") is False:
        skipped.add(fun, f"failed job (retcode {ret.get('retcode')})")
        return []
    if fun in VITALS_FUNCTIONS and isinstance(data, dict) and "ts" in data:
        return vitals_rows(data, skipped)
    return sample_rows(flatten_return(fun, data, clock(), skipped))


def summarize(rounds: Iterable[Iterable[Sample]]) -> list[Sample]:
    """Pre-aggregate several collections into one set of samples.

    ``rounds`` is a list of sample lists from consecutive collections. Float fields become their
    mean, plus a ``<name>_var`` sample with the population variance; integer fields (sizes,
    counts) keep their latest value. The timestamp is the last collection's.
    """
    series: dict[tuple[str, tuple[Any, ...], tuple[str, ...]], list[Sample]] = {}
    for samples in rounds:
        for s in samples:
            series.setdefault((s.group, s.tags, s.name), []).append(s)
    out = []
    for (group, tags, name), found in series.items():
        last = found[-1]
        if isinstance(last.value, int):
            out.append(last)
            continue
        values = [s.value for s in found]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        var_name = name[:-1] + (name[-1] + "_var",)
        out.append(Sample(group, name, mean, last.ts, tags))
        out.append(Sample(group, var_name, var, last.ts, tags))
    return out


def _describe(value: object) -> str:
    text = type(value).__name__
    if isinstance(value, float):
        text = repr(value)
    return text


# -- the read direction: what the read-back runners ask a backend for ----------------------------
Series = tuple[str, Optional[str]]  # (node, tag value or None)
Points = list[tuple[int, float]]
Buckets = list[tuple[int, Optional[float]]]


class Summary(NamedTuple):
    """One series over a window ``[start, end)``, aggregated by the backend: its newest point
    ``(ts, value)``, and ``(bucket start, mean)`` of every bucket that has points."""

    newest: tuple[int, float]
    means: Points


@dataclass(frozen=True)
class Metric:
    """``<group>.<field>``: ``group`` is a key of ``vitals.current`` (:data:`GROUPS`)."""

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

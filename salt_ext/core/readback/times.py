"""Times and durations as the read-back runners take them (``-1h``, ``now``, ISO 8601, Unix
seconds, ``15m``), and the bucket grid both backends align to."""

import datetime
import math
from collections.abc import Iterable, Sequence
from typing import Optional

from salt_ext.core.durations import operator_seconds
from salt_ext.core.errors import ConfigError


def parse_duration(text: object, key: str = "duration") -> int:
    """``90``, ``90s``, ``15m``, ``1h``, ``2d``, ``1w``, ``1h30m`` (a leading ``-`` ignored: the
    ``-1h`` of a time) -> seconds (int, > 0). The grammar: :mod:`salt_ext.core.durations`."""
    raw = str(text).strip()
    seconds = operator_seconds(raw[1:] if raw.startswith("-") else raw)
    if not seconds:  # None: not a duration; 0: no span
        raise ConfigError(key, f"expected a duration such as 30s, 15m, 1h or 2d, got {text!r}")
    return math.ceil(seconds)


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

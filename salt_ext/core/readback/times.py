"""Times and durations as the read-back runners take them (``-1h``, ``now``, ISO 8601, Unix
seconds, ``15m``), and the bucket grid both backends align to."""

import datetime
import math
import re
from collections.abc import Iterable, Sequence
from typing import Optional

from salt_ext.core.errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|secs|min|m|h|d|w|y)?", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_UNITS["y"] = 365 * 86400


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

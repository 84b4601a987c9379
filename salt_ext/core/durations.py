"""Durations: the one grammar behind every duration salt-vitals reads.

A duration is one or more parts ``<number><unit>`` written together: ``15m``, ``1h30m``,
``52w1d``, ``8760h0m0s``. Units: ``ns``, ``u``/``us``/``µ``/``µs``, ``ms``, ``s``, ``m``,
``h``, ``d``, ``w``, and (operator form only) ``sec``/``secs``, ``min``, ``y`` (365 days).
It is read in two forms:

- **InfluxQL** (:func:`influxql_seconds`): what InfluxDB takes in a statement, so what may be
  written into one: whole numbers, every part with a unit, units as written (``1H`` is not
  one), no spaces; ``INF`` (any case) or ``0`` for "keep forever" (0 seconds). Read by the
  influxdb returner's ``retention_duration``, the ``vitals_influxdb`` modules and, through
  ``vitals_influxdb.is_duration``, the ``influxdb`` SLS's ``influxdb_server:retention:duration``.
- **operator** (:func:`operator_seconds`): what the read-back runners take on the command line
  and in ``vitals_query:``: also fractions (``0.5m``), a bare number in seconds (``90``), the
  longer units, any case and a space before a unit (``15 m``).
"""

import re
from typing import Optional

INFLUXQL_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "u": 1e-6,
    "µs": 1e-6,
    "µ": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}
UNITS = {**INFLUXQL_UNITS, "sec": 1, "secs": 1, "min": 60, "y": 365 * 86400}

# longest unit first, so that ``ms`` is not read as ``m`` followed by a stray ``s``
_PART = re.compile(
    r"(\d+(?:\.\d+)?)(?:(\s*)(" + "|".join(sorted(UNITS, key=len, reverse=True)) + "))?",
    re.IGNORECASE,
)


def _seconds(text: str, influxql: bool) -> Optional[float]:
    """The seconds of ``text`` read part by part, or None when it is not a duration."""
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        number, space, unit = match.groups()
        if match.start() != pos:
            return None
        if influxql and ("." in number or space or unit not in INFLUXQL_UNITS):
            return None
        factor = UNITS.get((unit or "s").lower())
        if factor is None:  # a unit matched only by ignoring case, e.g. a Greek capital mu
            return None
        total += float(number) * factor
        pos = match.end()
    return total if text and pos == len(text) else None


def influxql_seconds(text: object) -> int:
    """Seconds of an InfluxQL duration (``365d``, ``8760h0m0s``, ``1h30m``); 0 for ``INF``.

    Raises ValueError for anything else.
    """
    raw = str(text).strip()
    if raw.upper() == "INF" or raw == "0":
        return 0
    seconds = _seconds(raw, influxql=True)
    if seconds is None:
        raise ValueError(f"expected an InfluxQL duration such as 365d, 52w or INF, got {raw!r}")
    return int(seconds)


def operator_seconds(text: object) -> Optional[float]:
    """Seconds of an operator's duration (``90``, ``15m``, ``0.5m``, ``1h30m``, ``2d``), or None
    when ``text`` is not one."""
    return _seconds(str(text).strip(), influxql=False)

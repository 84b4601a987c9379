r"""InfluxDB line protocol: escaping and the serializer. Pure functions, no I/O, no Salt.

The counterpart of :mod:`salt_ext.core.graphite.paths` for carbon; the InfluxDB backend (options,
HTTP transports, database creation) is :mod:`salt_ext.core.influxdb.write`.

Data model
----------

One line per (measurement, tag set, timestamp) with all of its fields, so a ``vitals.current``
return of ~200 values is a few dozen lines::

    disk,host=pi-01,path=/boot free=1234i,percent=41.2,total=5678i,used=4444i 1732240000

* measurement: ``sample.group`` (``cpu``, ``mem``, ``disk``, ... or the function name, e.g.
  ``status.loadavg``, for generic returns);
* tags: ``host`` = the minion id (always), the sample's own tags (``cpu``, ``path``, ``device``,
  ``interface``, ``sensor``) and the ``tags`` option; on a key clash ``host`` wins over the
  sample's tags, which win over configured tags. Tag keys are sorted (InfluxDB's advice);
* field key: ``".".join(sample.name)``; integers are written ``123i``, floats as Python's
  ``repr`` (always with ``.`` or an exponent: ``1.0``, ``1e+16``) so a field never changes type.
  Non-finite or out-of-int64 values are dropped with a debug line (samples never hold them);
* timestamp: the collection time ``sample.ts`` truncated to ``precision`` (``s`` by default;
  ``ms``, ``us``, ``ns``), which is sent as the matching ``precision=`` query parameter.

Names and escaping
------------------

InfluxDB 1.x/2.x (Go), VictoriaMetrics and InfluxDB 3 (Rust) agree on how ``\,``, ``\=``,
``\ `` and a backslash before an ordinary character read back, but not on ``\\`` (1.x/2.x keep
both backslashes, VictoriaMetrics and 3.x read one) and a trailing backslash escapes the
delimiter after it in all of them (the "trailing backslash trap": ``C:\`` would swallow the
next tag or the fields). So every measurement, tag key, tag value and field key is written by
these rules, which make it read back the same everywhere:

1. lone surrogates (from undecodable bytes) become U+FFFD; any other Unicode is kept as is;
2. control characters (U+0000-U+001F, including newline, CR and tab, and U+007F) cannot be
   written in line protocol and become a space;
3. a backslash followed by an ordinary character is kept as is (``C:\Users`` stays). If any
   backslash of a name ends it or precedes ``\``, ``,``, ``=``, a space or ``"``, *all*
   backslashes of that name become ``/`` (``C:\`` reads back as ``C:/``, ``\\srv\share`` as
   ``//srv/share``);
4. escaping: measurement ``,`` and space; tag keys, tag values and field keys ``,``, ``=`` and
   space; field keys also ``"`` (as InfluxDB's own client does: an unescaped quote in a field
   key breaks VictoriaMetrics' parser; InfluxDB reads ``\"`` back as ``"``, VictoriaMetrics
   keeps the backslash);
5. an empty measurement or field key becomes ``_``; a measurement starting with ``#`` (a
   comment line) gets a ``_`` prefix; the tag or field key ``time`` (rejected by InfluxDB)
   becomes ``time_``;
6. a tag whose value is empty is left out (line protocol has no empty tag values).

:func:`measurement_name`, :func:`key_name` and :func:`tag_value` return what a name reads back
as. Names never need quoting beyond this: no value can add a line, a tag or a field.
"""

import logging
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Optional

from salt_ext.core.samples import INT64_MAX, INT64_MIN, Sample

log = logging.getLogger(__name__)

PRECISIONS = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}

RESERVED_KEYS = {"time": "time_"}

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f]")
_AMBIGUOUS_BACKSLASH = re.compile(r'\\(?:[\\,= "]|\Z)')
_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_FIELD_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", '"': '\\"'})


# -- names -------------------------------------------------------------------------------------
def clean(text: object) -> str:
    """Rules 1-3 of the module docstring: ``text`` as it will read back, before escaping."""
    text = text if type(text) is str else str(text)
    if not text.isascii():
        text = _SURROGATES.sub("\ufffd", text)
    text = _CONTROLS.sub(" ", text)
    if "\\" in text and _AMBIGUOUS_BACKSLASH.search(text):
        text = text.replace("\\", "/")
    return text


def measurement_name(text: object) -> str:
    """The measurement a group name reads back as."""
    text = clean(text) or "_"
    return "_" + text if text[0] == "#" else text


def key_name(text: object) -> str:
    """The tag key or field key a name reads back as."""
    text = clean(text) or "_"
    return RESERVED_KEYS.get(text, text)


def tag_value(text: object) -> str:
    """The tag value a value reads back as; "" means the tag is left out."""
    return clean(text)


@lru_cache(maxsize=4096)
def escape_measurement(text: object) -> str:
    return measurement_name(text).translate(_MEASUREMENT_ESCAPES)


@lru_cache(maxsize=4096)
def escape_tag_key(text: object) -> str:
    return key_name(text).translate(_TAG_ESCAPES)


@lru_cache(maxsize=16384)
def escape_tag_value(text: object) -> str:
    return tag_value(text).translate(_TAG_ESCAPES)


@lru_cache(maxsize=16384)
def escape_field_key(text: object) -> str:
    return key_name(text).translate(_FIELD_KEY_ESCAPES)


@lru_cache(maxsize=16384)
def _field_key(name: tuple[object, ...]) -> str:
    return escape_field_key(".".join(map(str, name)))


# -- values and times --------------------------------------------------------------------------
def format_value(value: object) -> Optional[str]:
    """``123i`` for an int, ``repr`` for a float; None for anything else or non-finite."""
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else None
    if isinstance(value, int):  # bool too: True -> 1i
        value = int(value)
        return f"{value}i" if INT64_MIN <= value <= INT64_MAX else None
    return None


def timestamp(ts: float, precision: str = "s") -> int:
    """Unix time ``ts`` (seconds) truncated to ``precision`` units (float noise tolerated)."""
    return math.floor(ts * PRECISIONS[precision] + 1e-6)


# -- the serializer ----------------------------------------------------------------------------
def serialize(
    samples: Iterable[Sample],
    host: str,
    precision: str = "s",
    tags: Optional[Mapping[str, object]] = None,
) -> bytes:
    """Line protocol for ``samples`` of minion ``host`` (bytes, one ``\\n`` per line).

    Pure and total: a sample that cannot be written is dropped (debug line), never raised.
    """
    base: dict[str, str] = {}
    for key, value in (tags or {}).items():
        _put_tag(base, key, value)
    prefixes: dict[
        tuple[str, tuple[Any, ...]], str
    ] = {}  # (group, sample tags) -> "measurement,tag=value,..."
    times: dict[float, int] = {}  # sample.ts -> ticks
    lines: dict[tuple[str, int], dict[str, str]] = {}  # (prefix, ticks) -> {field key: value}
    dropped = 0
    for sample in samples:
        try:
            value = format_value(sample.value)
            ticks = times.get(sample.ts)
            if ticks is None:
                ticks = times[sample.ts] = timestamp(sample.ts, precision)
            series = (sample.group, sample.tags)
            prefix = prefixes.get(series)
            if prefix is None:
                prefix = prefixes[series] = _prefix(sample.group, sample.tags, base, host)
            key = _field_key(sample.name)
        except (TypeError, ValueError, OverflowError):
            value = None
        if value is None or ticks is None or prefix is None:
            dropped += 1
            continue
        fields = lines.get((prefix, ticks))
        if fields is None:
            fields = lines[(prefix, ticks)] = {}
        fields[key] = value
    if dropped:
        log.debug("influxdb: dropped %d value(s) that are not finite int64/float numbers", dropped)
    out = [
        f"{prefix} {','.join(f'{k}={v}' for k, v in fields.items())} {ticks}\n"
        for (prefix, ticks), fields in lines.items()
    ]
    return "".join(out).encode("utf-8")


def _put_tag(tagset: dict[str, str], key: object, value: object) -> None:
    escaped = escape_tag_value(value)
    if escaped:
        tagset[escape_tag_key(key)] = escaped


def _prefix(
    group: str, sample_tags: Iterable[tuple[Any, Any]], base: Mapping[str, str], host: str
) -> str:
    tagset = dict(base)
    for key, value in sample_tags:
        _put_tag(tagset, key, value)
    _put_tag(tagset, "host", host)
    return ",".join([escape_measurement(group)] + [f"{k}={tagset[k]}" for k in sorted(tagset)])

"""Reference readers of InfluxDB line protocol, and hypothesis strategies for samples.

Two parsers written from the parsers a payload meets in production: InfluxDB 1.x/2.x
``models/points.go`` (a delimiter is escaped when the byte before it is a backslash; ``\\`` is
*not* unescaped; field scanning skips two bytes after a backslash) and VictoriaMetrics
``lib/protoparser/influx`` (a delimiter is escaped by an odd number of backslashes; ``\\``
reads as one backslash). Shared by the unit tests and the tests against real servers.
"""

import re

from hypothesis import strategies as st

from salt_ext.core.influxdb import line_protocol

TS = 1732240000.5
BS = "\\"


# =============================================================================================
# Reference parsers
# =============================================================================================
class ParseError(Exception):
    pass


def _go_unescape(text):
    """pkg/escape.Unescape (measurement names, field keys)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == BS and i + 1 < len(text) and text[i + 1] in ',"= ':
            out.append(text[i + 1])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _go_unescape_tag(text):
    """models.unescapeTag: bytes.Replace of \\, \\space \\= (tag keys and values)."""
    if BS not in text:
        return text
    for char in ", =":
        if char in text:
            text = text.replace(BS + char, char)
    return text


GO_NUMBER = re.compile(r"-?(?:\d+i|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\Z")


def go_parse(payload):
    """Points of ``payload`` as InfluxDB 1.x/2.x read them: [(measurement, tags, fields, ts)]."""
    buf = payload.decode("utf-8")
    points, pos = [], 0
    while pos < len(buf):
        i = pos  # scanLine: a backslash skips the next byte
        while i < len(buf) and buf[i] != "\n":
            i += 2 if buf[i] == BS else 1
        line, pos = buf[pos:i], i + 1
        start = 0
        while start < len(line) and line[start] in " \t\0":
            start += 1
        if start >= len(line) or line[start] == "#":
            continue
        points.append(_go_point(line[start:]))
    return points


def _go_point(buf):
    if not buf or buf[0] == ",":
        raise ParseError("missing measurement")
    i = 0
    while True:  # scanMeasurement
        i += 1
        if i >= len(buf):
            raise ParseError("missing fields")
        if buf[i - 1] == BS:
            continue
        if buf[i] in ", ":
            break
    measurement = _go_unescape(buf[:i])
    tags = {}
    raw_keys = []
    if buf[i] == ",":
        i += 1
        while True:
            start = i  # scanTagsKey
            if i >= len(buf) or buf[i] in " ,=":
                raise ParseError("missing tag key")
            while True:
                i += 1
                if i >= len(buf) or (buf[i] in " ," and buf[i - 1] != BS):
                    raise ParseError("missing tag value")
                if buf[i] == "=" and buf[i - 1] != BS:
                    break
            key = buf[start:i]
            i += 1
            start = i  # scanTagsValue
            if i >= len(buf) or buf[i] in ", ":
                raise ParseError("missing tag value")
            while True:
                i += 1
                if i >= len(buf):
                    raise ParseError("missing fields")
                if buf[i] == "=" and buf[i - 1] != BS:
                    raise ParseError("invalid tag format")
                if buf[i] in ", " and buf[i - 1] != BS:
                    break
            raw_keys.append(key)
            tags[_go_unescape_tag(key)] = _go_unescape_tag(buf[start:i])
            if buf[i] == " ":
                break
            i += 1
        if len(set(raw_keys)) != len(raw_keys):
            raise ParseError("duplicate tags")
    while i < len(buf) and buf[i] in " \t\0":
        i += 1
    start, equals, commas = i, 0, 0
    while i < len(buf):  # scanFields
        c = buf[i]
        if c == BS and i + 1 < len(buf):
            i += 2
            continue
        if c == '"' and equals > commas:
            raise ParseError("string field values are never written")
        if c == "=":
            equals += 1
            if buf[i - 1] in " ," and buf[i - 2] != BS:
                raise ParseError("missing field key")
            if i + 1 >= len(buf) or buf[i + 1] in ", ":
                raise ParseError("missing field value")
            j = i + 1
            while j < len(buf) and buf[j] not in ", ":
                j += 1
            if not GO_NUMBER.match(buf[i + 1 : j]):
                raise ParseError(f"invalid number {buf[i + 1 : j]!r}")
            i = j
            continue
        if c == ",":
            commas += 1
        if c == " ":
            break
        i += 1
    if equals == 0 or commas != equals - 1:
        raise ParseError("invalid field format")
    fields, rest = {}, buf[start:i]
    while rest:  # walkFields: key up to the first '=' not preceded by a backslash
        k = 0
        while not (rest[k] == "=" and (k == 0 or rest[k - 1] != BS)):
            k += 1
        key, rest = _go_unescape(rest[:k]), rest[k + 1 :]
        value, _, rest = rest.partition(",")
        if key in fields:
            raise ParseError("duplicate field")
        fields[key] = value
    ts = buf[i:].strip(" ")
    if not re.fullmatch(r"-?\d+", ts):
        raise ParseError(f"bad timestamp {ts!r}")
    return measurement, tags, fields, int(ts)


def _vm_next(s, ch, escapes):
    """nextUnescapedChar: ``ch`` is escaped by an odd number of backslashes before it."""
    if not escapes:
        return s.find(ch)
    offset = 0
    while True:
        n = s.find(ch, offset)
        if n < 0:
            return -1
        k = n
        while k > 0 and s[k - 1] == BS:
            k -= 1
        if (n - k) % 2 == 0:
            return n
        offset = n + 1


def _vm_split(s, ch, escapes):
    parts = []
    while True:
        n = _vm_next(s, ch, escapes)
        if n < 0:
            return parts + [s]
        parts.append(s[:n])
        s = s[n + 1 :]


def _vm_unescape(s, escapes):
    if not escapes or BS not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] != BS:
            out.append(s[i])
            i += 1
            continue
        if i + 1 == len(s):
            out.append(BS)
            break
        if s[i + 1] not in " ,=\\":
            out.append(BS)
        out.append(s[i + 1])
        i += 2
    return "".join(out)


def vm_parse(payload):
    """Rows of ``payload`` as VictoriaMetrics reads them: [(measurement, tags, fields, ts)]."""
    text = payload.decode("utf-8")
    escapes = BS in text
    rows = []
    for raw_line in text.split("\n"):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        if not line or line[0] == "#":
            continue
        n = _vm_next(line, " ", escapes)
        if n < 0:
            raise ParseError("no space")
        head, rest = line[:n], line[n + 1 :].lstrip(" ")
        tags = {}
        n = _vm_next(head, ",", escapes)
        if n >= 0:
            for part in _vm_split(head[n + 1 :], ",", escapes):
                m = _vm_next(part, "=", escapes)
                if m < 0:
                    raise ParseError("missing tag value")
                key, value = _vm_unescape(part[:m], escapes), _vm_unescape(part[m + 1 :], escapes)
                if key and value:
                    if key in tags:
                        raise ParseError("duplicate tag")
                    tags[key] = value
            head = head[:n]
        if _vm_next(rest, '"', escapes) >= 0:
            raise ParseError("an unescaped quote makes VictoriaMetrics look for quoted fields")
        n = _vm_next(rest, " ", escapes)
        if n < 0:
            raise ParseError("no timestamp")
        fields = {}
        for part in _vm_split(rest[:n], ",", escapes):
            m = _vm_next(part, "=", escapes)
            key = _vm_unescape(part[:m], escapes)
            if m < 0 or not key:
                raise ParseError("bad field")
            fields[key] = part[m + 1 :]
        rows.append((_vm_unescape(head, escapes), tags, fields, int(rest[n + 1 :].strip(" "))))
    return rows


TRICKY = list(' ,="\\#\n\r\t\x00\x7f_.') + ["é", "😀", "\udcff", "\u2028", "\x85"]
names = st.text(alphabet=st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=8) | st.just(
    "time"
)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=line_protocol.INT64_MIN, max_value=line_protocol.INT64_MAX),
)
sample_specs = st.lists(
    st.tuples(
        st.sampled_from(["cpu", "disk", "status.loadavg"]) | names,  # group
        st.lists(names, min_size=1, max_size=2).map(tuple),  # name
        values,
        st.lists(st.tuples(st.sampled_from(["path", "sensor", "device"]), names), max_size=2).map(
            lambda pairs: tuple(dict(pairs).items())
        ),  # tags
        st.sampled_from([TS, TS + 1]),
    ),
    min_size=1,
    max_size=6,
)


def expected_points(specs, host, tags):
    """Points by the documented rules: {(measurement, tags, ticks): {field key: value}}."""
    out = {}
    for group, name, value, sample_tags, ts in specs:
        tagset = {}
        for key, val in list(tags.items()) + list(sample_tags) + [("host", host)]:
            if line_protocol.tag_value(val):
                tagset[line_protocol.key_name(key)] = line_protocol.tag_value(val)
        key = (line_protocol.measurement_name(group), tuple(sorted(tagset.items())), int(ts))
        out.setdefault(key, {})[line_protocol.key_name(".".join(name))] = (
            line_protocol.format_value(value)
        )
    return out


def as_points(parsed, field_key=lambda k: k):
    return {
        (m, tuple(sorted(t.items())), ts): {field_key(k): v for k, v in f.items()}
        for m, t, f, ts in parsed
    }

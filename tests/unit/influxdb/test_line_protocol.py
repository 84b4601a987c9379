"""Unit tests of the line protocol (salt_ext.core.influxdb.line_protocol): exact bytes, the
documented naming rules, and properties.

The property tests read the payload back with two reference parsers written from the parsers
the payload meets in production: InfluxDB 1.x/2.x ``models/points.go`` (a delimiter is escaped
when the byte before it is a backslash; ``\\`` is *not* unescaped; field scanning skips two
bytes after a backslash) and VictoriaMetrics ``lib/protoparser/influx`` (a delimiter is escaped
by an odd number of backslashes; ``\\`` reads as one backslash). A payload must read back the
same, by the documented rules, in both.
"""

import logging
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salt_ext.core.influxdb import line_protocol
from salt_ext.core.samples import Sample, from_vitals_dict, samples_from_return
from support.lineprotocol import (
    BS,
    GO_NUMBER,
    TS,
    as_points,
    expected_points,
    go_parse,
    names,
    sample_specs,
    vm_parse,
)
from support.vitals import small_vitals, vitals_return

# =============================================================================================
# Serializer: exact bytes
# =============================================================================================
VITALS = small_vitals(TS)


def test_vitals_exact_bytes():
    payload = line_protocol.serialize(from_vitals_dict(VITALS), "pi-01")
    assert payload == (
        b"cpu,host=pi-01 percent=12.5,count=4i 1732240000\n"
        b"cpu,cpu=0,host=pi-01 percent=20.0 1732240000\n"
        b"cpu,cpu=1,host=pi-01 percent=5.0 1732240000\n"
        b"mem,host=pi-01 total=1000i,available=400i,used=600i,percent=60.0 1732240000\n"
        b"disk,host=pi-01,path=/ total=100i,used=40i,free=60i,percent=40.0 1732240000\n"
        b"temp,host=pi-01,sensor=cpu-thermal current=48.3 1732240000\n"
    )


def test_config_tags_sorted_and_precedence():
    samples = [
        Sample("disk", ("percent",), 1.0, TS, (("path", "/boot"),)),
        Sample("load", ("1m",), 0.5, TS),
    ]
    tags = {"zone": "b", "role": "web", "path": "configured", "host": "configured"}
    payload = line_protocol.serialize(samples, "pi-01", tags=tags)
    assert payload == (
        b"disk,host=pi-01,path=/boot,role=web,zone=b percent=1.0 1732240000\n"
        b"load,host=pi-01,path=configured,role=web,zone=b 1m=0.5 1732240000\n"
    )


def test_generic_return_measurement_is_function_name():
    ret = {"fun": "status.loadavg", "id": "m1", "return": {"1-min": 0.1, "5-min": 0.2, "x": "s"}}
    samples = samples_from_return(ret, clock=lambda: 1700000000.9)
    assert line_protocol.serialize(samples, "m1") == (
        b"status.loadavg,host=m1 1-min=0.1,5-min=0.2 1700000000\n"
    )


def test_nested_generic_names_are_joined_with_dots():
    samples = [Sample("disk.usage", ("/", "used"), 3.0, TS)]
    assert line_protocol.serialize(samples, "m") == b"disk.usage,host=m /.used=3.0 1732240000\n"


@pytest.mark.parametrize(
    "precision, ts, expected",
    [
        ("s", 1732240000.999, b"1732240000"),
        ("ms", 1732240000.5, b"1732240000500"),
        ("ms", 1.005, b"1005"),  # 1.005 * 1000 == 1004.999...: float noise is not truncated
        ("us", 1732240000.25, b"1732240000250000"),
        ("ns", 1732240000.5, b"1732240000500000000"),
    ],
)
def test_precision(precision, ts, expected):
    payload = line_protocol.serialize([Sample("load", ("1m",), 1.0, ts)], "h", precision=precision)
    assert payload == b"load,host=h 1m=1.0 " + expected + b"\n"


@pytest.mark.parametrize(
    "value, text",
    [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1.5e-07, "1.5e-07"),
        (123, "123i"),
        (-5, "-5i"),
        (True, "1i"),
        (2**63 - 1, "9223372036854775807i"),
        (float("nan"), None),
        (float("inf"), None),
        (-float("inf"), None),
        (2**63, None),
        ("12", None),
        (None, None),
    ],
)
def test_format_value(value, text):
    assert line_protocol.format_value(value) == text


def test_bad_values_dropped_with_debug_line(caplog):
    caplog.set_level(logging.DEBUG, logger="salt_ext.core.influxdb.line_protocol")
    samples = [
        Sample("x", ("nan",), float("nan"), TS),
        Sample("x", ("big",), 2**70, TS),
        Sample("x", ("ok",), 2.0, TS),
        Sample("y", ("only_bad",), float("inf"), TS),
    ]
    assert line_protocol.serialize(samples, "h") == b"x,host=h ok=2.0 1732240000\n"
    assert "dropped 3 value(s)" in caplog.text


def test_duplicate_field_keys_after_cleaning_are_merged():
    samples = [Sample("x", ("a\nb",), 1.0, TS), Sample("x", ("a b",), 2.0, TS)]
    assert line_protocol.serialize(samples, "h") == b"x,host=h a\\ b=2.0 1732240000\n"


def test_tags_that_clean_to_the_same_key_never_duplicate():
    samples = [Sample("x", ("f",), 1.0, TS, (("k", "v"),))]
    payload = line_protocol.serialize(samples, "h", tags={"k": "conf", "k\n": "a", "k ": "b"})
    assert payload == b"x,host=h,k=v,k\\ =b f=1.0 1732240000\n"
    go_parse(payload)


def test_empty_tag_value_is_left_out():
    samples = [Sample("temp", ("current",), 40.0, TS, (("sensor", ""),))]
    assert line_protocol.serialize(samples, "h") == b"temp,host=h current=40.0 1732240000\n"


def test_samples_at_different_times_are_different_lines():
    samples = [Sample("load", ("1m",), 1.0, TS), Sample("load", ("1m",), 2.0, TS + 1)]
    assert line_protocol.serialize(samples, "h").count(b"\n") == 2


def test_empty_input():
    assert line_protocol.serialize([], "h") == b""


def test_a_200_field_vitals_return_is_a_few_dozen_lines():
    samples = from_vitals_dict(vitals_return(TS))
    assert len(samples) >= 200
    payload = line_protocol.serialize(samples, "pi-01", tags={"role": "web"})
    points = go_parse(payload)
    assert len(points) == 43  # 1 cpu + 8 cores + load, mem, swap + 8 + 8 + 6 + 7 + system, pi
    assert sum(len(fields) for _, _, fields, _ in points) == len(samples)
    series = {(m, tuple(sorted(t.items()))) for m, t, _, _ in points}
    assert len(series) == len(points)  # one line per (measurement, tag set, time)
    for line in payload.decode().splitlines():
        head = line.split(" ", 1)[0]
        keys = [part.split("=", 1)[0] for part in head.split(",")[1:]]
        assert keys == sorted(keys)


# =============================================================================================
# Names: documented rules
# =============================================================================================
@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("plain", "plain"),
        ("a b,c=d", "a b,c=d"),
        ("multi\nline", "multi line"),
        ("cr\rtab\tnul\0del\x7f", "cr tab nul del "),
        ("C:" + BS + "Users", "C:" + BS + "Users"),  # backslash + ordinary char: kept
        ("C:" + BS, "C:/"),  # the trailing backslash trap
        (BS * 2 + "srv" + BS + "share", "//srv/share"),
        ("a" + BS + ",b", "a/,b"),
        ("a" + BS + " b", "a/ b"),
        ("a" + BS + "=b" + BS + "c", "a/=b/c"),
        ("a" + BS + '"b', 'a/"b'),
        ("x" + BS + "\ny", "x/ y"),  # control char first, then the backslash rule
        ("üñ€😀", "üñ€😀"),
        ("bad\udcffbytes", "bad\ufffdbytes"),
        ("", ""),
    ],
)
def test_clean(raw, cleaned):
    assert line_protocol.clean(raw) == cleaned


@pytest.mark.parametrize(
    "raw, measurement, key, tag_value, field_key",
    [
        ("a b,c=d", r"a\ b\,c=d", r"a\ b\,c\=d", r"a\ b\,c\=d", r"a\ b\,c\=d"),
        ('q"uote', 'q"uote', 'q"uote', 'q"uote', r"q\"uote"),
        ("C:" + BS, "C:/", "C:/", "C:/", "C:/"),
        ("#comment", "_#comment", "#comment", "#comment", "#comment"),
        ("time", "time", "time_", "time", "time_"),
        ("", "_", "_", "", "_"),
        ("nl\n", r"nl\ ", r"nl\ ", r"nl\ ", r"nl\ "),
    ],
)
def test_escaping(raw, measurement, key, tag_value, field_key):
    assert line_protocol.escape_measurement(raw) == measurement
    assert line_protocol.escape_tag_key(raw) == key
    assert line_protocol.escape_tag_value(raw) == tag_value
    assert line_protocol.escape_field_key(raw) == field_key


def test_hostile_line_exact_bytes():
    samples = [Sample("disk", ('fi"eld x',), 1.5, TS, (("path", "C:" + BS),))]
    payload = line_protocol.serialize(samples, "web 01,role=x\n", tags={"env": "a=b"})
    assert payload == (
        b'disk,env=a\\=b,host=web\\ 01\\,role\\=x\\ ,path=C:/ fi\\"eld\\ x=1.5 1732240000\n'
    )
    assert go_parse(payload) == [
        (
            "disk",
            {"env": "a=b", "host": "web 01,role=x ", "path": "C:/"},
            {'fi"eld x': "1.5"},
            1732240000,
        )
    ]
    assert vm_parse(payload)[0][2] == {'fi\\"eld x': "1.5"}  # VictoriaMetrics keeps the \


# =============================================================================================
# Serializer: properties
# =============================================================================================
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=sample_specs, host=names, tags=st.dictionaries(names, names, max_size=2))
def test_property_every_name_reads_back_by_the_rules(specs, host, tags):
    samples = [Sample(g, n, v, ts, t) for g, n, v, t, ts in specs]
    payload = line_protocol.serialize(samples, host, tags=tags)
    expected = expected_points(specs, host, tags)
    assert payload.count(b"\n") == len(expected)  # never an extra (or a lost) point
    go = go_parse(payload)
    assert len(go) == len(expected)
    assert as_points(go) == expected
    vm = vm_parse(payload)
    assert len(vm) == len(expected)
    assert as_points(vm, field_key=lambda k: k.replace(BS + '"', '"')) == expected


@given(names)
def test_property_clean_is_idempotent_and_line_safe(text):
    cleaned = line_protocol.clean(text)
    assert line_protocol.clean(cleaned) == cleaned
    assert len(cleaned) == len(text)
    assert not re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", cleaned)
    assert not re.search(r'\\(?:[\\,= "]|\Z)', cleaned)
    for escaped in (line_protocol.escape_measurement(text), line_protocol.escape_field_key(text)):
        escaped.encode("utf-8")
        assert "\n" not in escaped


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_property_floats_read_back_exactly_and_stay_floats(value):
    text = line_protocol.format_value(value)
    assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
    assert "." in text or "e" in text
    assert GO_NUMBER.match(text) and not text.endswith("i")


@given(st.integers(min_value=line_protocol.INT64_MIN, max_value=line_protocol.INT64_MAX))
def test_property_ints_read_back_exactly_and_stay_ints(value):
    text = line_protocol.format_value(value)
    assert text.endswith("i") and int(text[:-1]) == value and GO_NUMBER.match(text)


@given(
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.sampled_from(sorted(line_protocol.PRECISIONS)),
)
def test_property_timestamp_truncates(ts, precision):
    factor = line_protocol.PRECISIONS[precision]
    ticks = line_protocol.timestamp(ts, precision)
    assert isinstance(ticks, int)
    slack = 1e-6 + abs(ts) * factor * 2e-16 * 4
    assert ticks <= ts * factor + slack
    assert ticks > ts * factor - 1 - slack

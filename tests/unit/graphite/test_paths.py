"""Unit tests for salt_ext.core.graphite.paths: sanitising, paths, plaintext and pickle bytes;
the serializers of rows (what the returner sends) give the bytes of the samples'."""

import hashlib
import math
import pickle
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salt_ext.core.graphite import paths as graphite
from salt_ext.core.graphite.paths import (
    DEFAULT_TEMPLATE,
    MAX_SEGMENT,
    PathBuilder,
    format_value,
    pickle_frames,
    pickle_rows,
    plaintext,
    plaintext_rows,
    sanitize_prefix,
    sanitize_segment,
    sanitize_tag_value,
    validate_template,
)
from salt_ext.core.samples import Sample, from_vitals_dict, row_samples, vitals_rows
from support.vitals import vitals_return

TS = 1732240000.9  # plaintext and pickle truncate to whole seconds
MAX_FRAME = 2**20
SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
LINE = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)* -?[0-9.e+-]+ [0-9]+$")


def read_frames(data):
    """Split carbon pickle bytes into frames, check each is within carbon's limit, unpickle."""
    frames, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("!L", data, offset)
        body = data[offset + 4 : offset + 4 + length]
        assert len(body) == length, "truncated frame"
        assert length <= MAX_FRAME, f"frame of {length} bytes exceeds 1 MiB"
        assert body[:2] == b"\x80\x02", "pickle protocol 2"
        frames.append(pickle.loads(body))
        offset += 4 + length
    return frames


@pytest.fixture
def paths():
    return PathBuilder("pi-01")


# -- sanitize_segment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cpu", "cpu"),
        ("a-b_C9", "a-b_C9"),
        ("a.b", "a_b"),
        ("a b", "a_b"),
        ("a/b\\c", "a_b_c"),
        ("tab\there", "tab_here"),
        ("line\nbreak\r", "line_break_"),
        ("\x00\x1f\x7f", "___"),
        ("q\"'`", "q___"),
        ("temp é", "temp__"),
        ("温度", "__"),
        ("😀", "_"),
        ("١٢٣", "___"),  # non-ASCII digits are not digits here
        ("", "_"),
        (5, "5"),
        (None, "None"),
    ],
)
def test_sanitize_segment(text, expected):
    assert sanitize_segment(text) == expected


def test_sanitize_segment_at_limit_is_kept():
    assert sanitize_segment("x" * MAX_SEGMENT) == "x" * MAX_SEGMENT


@pytest.mark.parametrize("text", ["x" * (MAX_SEGMENT + 1), "y" * 10_000, "é" * 300])
def test_sanitize_segment_long_is_hashed_and_bounded(text):
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    digest = hashlib.sha1(safe.encode()).hexdigest()[:8]
    result = sanitize_segment(text)
    assert result == f"{safe[:119]}_{digest}"
    assert len(result) == MAX_SEGMENT and SEGMENT.match(result)


def test_sanitize_segment_long_names_stay_distinct():
    a, b = sanitize_segment("z" * 200 + "a"), sanitize_segment("z" * 200 + "b")
    assert a != b and a[:119] == b[:119]


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("path", "/", "root"),
        ("path", "//", "root"),
        ("path", "", "root"),
        ("path", "/boot", "boot"),
        ("path", "/boot/", "boot"),
        ("path", "/var/lib/x", "var_lib_x"),
        ("path", "/mnt/my disk", "mnt_my_disk"),
        ("path", "/media/usb.1", "media_usb_1"),
        ("device", "/dev/sda", "_dev_sda"),
        ("interface", "eth0.100", "eth0_100"),
        ("sensor", "", "_"),
        ("cpu", "0", "0"),
    ],
)
def test_sanitize_tag_value(key, value, expected):
    assert sanitize_tag_value(key, value) == expected


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("vitals", "vitals"),
        ("servers.vitals", "servers.vitals"),
        ("a..b.", "a.b"),
        (".lead", "lead"),
        ("my prefix.x/y", "my_prefix.x_y"),
        ("", ""),
    ],
)
def test_sanitize_prefix(prefix, expected):
    assert sanitize_prefix(prefix) == expected


# -- paths and templates ------------------------------------------------------------------------

DISK_BOOT = Sample("disk", "percent", 41.2, TS, {"path": "/boot"})
CPU = Sample("cpu", "percent", 12.5, TS)
LOADAVG = Sample("status.loadavg", "1-min", 0.5, TS)


@pytest.mark.parametrize(
    "builder, sample, expected",
    [
        (PathBuilder("pi-01"), DISK_BOOT, "vitals.pi-01.disk.boot.percent"),
        (PathBuilder("pi-01"), CPU, "vitals.pi-01.cpu.percent"),
        (PathBuilder("pi-01"), LOADAVG, "vitals.pi-01.status.loadavg.1-min"),
        (
            PathBuilder("pi-01"),
            Sample("disk", "free", 1, TS, {"path": "/"}),
            "vitals.pi-01.disk.root.free",
        ),
        (
            PathBuilder("pi-01"),
            Sample("disk.usage", ("a.b", "", "c d"), 1.0, TS),
            "vitals.pi-01.disk.usage.a_b._.c_d",
        ),
        (PathBuilder("evil.id\nx 1 2"), CPU, "vitals.evil_id_x_1_2.cpu.percent"),
        (PathBuilder("pi-01", prefix="servers.vitals"), CPU, "servers.vitals.pi-01.cpu.percent"),
        (PathBuilder("pi-01", prefix=""), CPU, "pi-01.cpu.percent"),
        (PathBuilder("pi-01", prefix="a..b"), CPU, "a.b.pi-01.cpu.percent"),
        (
            PathBuilder("pi-01", template="{prefix}.{group}.{minion}.{tags}.{name}"),
            DISK_BOOT,
            "vitals.disk.pi-01.boot.percent",
        ),
        (PathBuilder("pi-01", template="{name}"), DISK_BOOT, "percent"),
        (
            PathBuilder("pi-01", template="hosts.{minion}.{group}_{name}"),
            CPU,
            "hosts.pi-01.cpu_percent",
        ),
        (
            PathBuilder("pi-01"),
            Sample("net", "rx", 1.0, TS, (("interface", "wlan0"), ("path", "/x"))),
            "vitals.pi-01.net.wlan0.x.rx",
        ),
    ],
)
def test_paths(builder, sample, expected):
    assert builder.path(sample) == expected


def test_default_template():
    assert DEFAULT_TEMPLATE == "{prefix}.{minion}.{group}.{tags}.{name}"
    assert validate_template(DEFAULT_TEMPLATE) is None


@pytest.mark.parametrize(
    "template, error",
    [
        ("{prefix}.{name}", None),
        ("{name}", None),
        ("a.{minion}.b.{name}", None),
        ("{prefix}.{host}.{name}", "unknown field(s) host; use prefix, minion, group, tags, name"),
        ("{x}.{a}.{name}", "unknown field(s) a, x; use prefix, minion, group, tags, name"),
        ("{prefix}.{minion}", "must contain {name}"),
        ("", "must contain {name}"),
        ("{name!r}", "unknown field(s) name!r; use prefix, minion, group, tags, name"),
        ("{name:>9}", "unknown field(s) name:>9; use prefix, minion, group, tags, name"),
        ("{0}.{name}", "unknown field(s) 0; use prefix, minion, group, tags, name"),
    ],
)
def test_validate_template(template, error):
    assert validate_template(template) == error


@pytest.mark.parametrize("template", ["{prefix}.{name}}", "{name}.{", "}{name}", "{name}{"])
def test_validate_template_rejects_unformattable(template):
    assert validate_template(template) is not None


# -- values, plaintext and pickle -------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (1, "1"),
        (0, "0"),
        (-(2**63), "-9223372036854775808"),
        (1.5, "1.5"),
        (10.0, "10.0"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (1.5e-07, "1.5e-07"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


SMALL = [
    CPU,
    Sample("mem", "total", 8000000000, TS),
    Sample("disk", "percent", 41.2, TS, {"path": "/"}),
    Sample("load", "1", 1e20, 1.0),
]


def test_plaintext_exact_bytes(paths):
    assert plaintext(SMALL, paths) == (
        b"vitals.pi-01.cpu.percent 12.5 1732240000\n"
        b"vitals.pi-01.mem.total 8000000000 1732240000\n"
        b"vitals.pi-01.disk.root.percent 41.2 1732240000\n"
        b"vitals.pi-01.load.1 1e+20 1\n"
    )
    assert plaintext([], paths) == b""


def test_pickle_exact_frame(paths):
    data = pickle_frames(SMALL, paths)
    expected = [
        ("vitals.pi-01.cpu.percent", (1732240000, 12.5)),
        ("vitals.pi-01.mem.total", (1732240000, 8000000000)),
        ("vitals.pi-01.disk.root.percent", (1732240000, 41.2)),
        ("vitals.pi-01.load.1", (1, 1e20)),
    ]
    body = pickle.dumps(expected, protocol=2)
    assert data == struct.pack("!L", len(body)) + body
    frames = read_frames(data)
    assert frames == [expected]
    assert [type(v) for _, (_, v) in frames[0]] == [float, int, float, float]
    assert pickle_frames([], paths) == b""


def test_pickle_splits_into_frames_of_1000_points(paths):
    samples = [Sample("g", f"n{i}", float(i), TS) for i in range(2500)]
    frames = read_frames(pickle_frames(samples, paths))
    assert [len(f) for f in frames] == [1000, 1000, 500]
    assert [p for frame in frames for p in frame] == [
        (f"vitals.pi-01.g.n{i}", (1732240000, float(i))) for i in range(2500)
    ]


def test_pickle_frames_stay_within_1_mib_for_long_paths(paths):
    long_name = tuple("k" * 200 + str(level) for level in range(16))
    samples = [Sample("status.big", long_name + (str(i),), 1.0, TS) for i in range(1000)]
    frames = read_frames(pickle_frames(samples, paths))
    assert sum(len(f) for f in frames) == 1000


# -- properties -------------------------------------------------------------------------------

ANY_TEXT = st.text(max_size=150)
VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**63), 2**63 - 1)
)


@st.composite
def any_sample(draw):
    tags = draw(
        st.lists(
            st.tuples(st.sampled_from(["path", "device", "sensor", "cpu", "interface"]), ANY_TEXT),
            max_size=2,
        )
    )
    return Sample(
        draw(st.one_of(st.sampled_from(["cpu", "disk", "status.loadavg"]), ANY_TEXT)),
        tuple(draw(st.lists(ANY_TEXT, min_size=1, max_size=4))),
        draw(VALUES),
        draw(st.floats(0, 2**33)),
        tuple(tags),
    )


@settings(max_examples=200, deadline=None)
@given(
    minion=ANY_TEXT,
    prefix=st.sampled_from(["vitals", "servers.vitals", ""]),
    samples=st.lists(any_sample(), max_size=8),
)
def test_any_input_gives_one_safe_line_per_sample(minion, prefix, samples):
    paths = PathBuilder(minion, prefix)
    lines = plaintext(samples, paths).decode("ascii").split("\n")
    assert lines.pop() == ""
    assert len(lines) == len(samples)
    prefix_levels = len([p for p in prefix.split(".") if p])
    for line, sample in zip(lines, samples):
        assert LINE.match(line), line
        path, value, ts = line.split(" ")
        segments = path.split(".")
        # nothing from the node adds a level: prefix, minion, group levels, one per tag and name
        assert len(segments) == (
            prefix_levels + 1 + len(sample.group.split(".")) + len(sample.tags) + len(sample.name)
        )
        assert all(len(s) <= MAX_SEGMENT for s in segments)
        assert int(ts) == int(sample.ts)
        if isinstance(sample.value, int):
            assert int(value) == sample.value
        else:
            assert float(value) == sample.value
            assert math.copysign(1, float(value)) == math.copysign(1, sample.value)

    frames = read_frames(pickle_frames(samples, paths))
    points = [p for frame in frames for p in frame]
    assert [path for path, _ in points] == [line.split(" ")[0] for line in lines]
    assert [value for _, (_, value) in points] == [s.value for s in samples]


def test_serializers_registry():
    assert {"text": graphite.plaintext_rows, "pickle": graphite.pickle_rows} == graphite.SERIALIZERS


# -- the builder's caches never change a path ----------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [DEFAULT_TEMPLATE, "{prefix}.{group}.{minion}.{tags}.{name}", "hosts.{minion}.{group}_{name}"],
)
def test_one_builder_for_a_whole_return_gives_the_paths_of_fresh_builders(template):
    samples = from_vitals_dict(vitals_return(TS)) + [
        Sample("disk", "free", 1, TS, {"path": "/"}),
        Sample("disk.usage", ("a.b", "", "c d"), 1.0, TS),
        Sample("x", (), 1.0, TS),
    ]
    shared = PathBuilder("pi 01", prefix="a..b", template=template)
    paths = [shared.path(s) for s in samples]
    assert paths == [PathBuilder("pi 01", "a..b", template).path(s) for s in samples]
    assert paths == [shared.path(s) for s in samples]  # second pass: every piece cached
    if "{tags}" in template:
        assert len(set(paths[:-3])) == len(paths) - 3  # distinct series, distinct paths
    assert all(".." not in p and not p.endswith(".") for p in paths)
    assert shared.paths(samples) == paths  # the one-pass form, same paths


# Names drawn from safe characters, with the cases the one-pass check must still catch: a dot,
# an empty name, a name past MAX_SEGMENT, a non-string, a name of 0 or 2 segments.
NEAR_SAFE_NAMES = st.one_of(
    st.tuples(st.text(alphabet="az09_-", min_size=1, max_size=12)),
    st.tuples(st.text(alphabet="az09_-.", max_size=MAX_SEGMENT + 3)),
    st.tuples(st.integers(0, 99)),
    st.tuples(),
    st.tuples(st.text(alphabet="az", max_size=3), st.text(alphabet="az", max_size=3)),
)


@settings(max_examples=300, deadline=None)
@given(
    minion=ANY_TEXT,
    names=st.lists(NEAR_SAFE_NAMES, max_size=12),
    tags=st.sampled_from([(), (("path", "/boot"),), (("cpu", "0"),)]),
)
def test_paths_in_one_pass_equal_a_fresh_builder_per_sample(minion, names, tags):
    samples = [Sample("cpu", name, 1.0, TS, tags) for name in names]
    one_pass = PathBuilder(minion).paths(samples)
    assert one_pass == [PathBuilder(minion).path(s) for s in samples]
    assert all(SEGMENT.match(seg) for path in one_pass for seg in path.split("."))


# -- rows (what the returner serializes) give the bytes of their samples ---------------------

TEMPLATES = [DEFAULT_TEMPLATE, "{prefix}.{group}.{minion}.{tags}.{name}", "h.{minion}.{name}"]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("rows_of", [pickle_rows, plaintext_rows], ids=["pickle", "text"])
def test_a_vitals_return_as_rows_gives_the_bytes_of_its_samples(template, rows_of):
    of_samples = {pickle_rows: pickle_frames, plaintext_rows: plaintext}[rows_of]
    rows = vitals_rows(vitals_return(TS))
    expected = of_samples(row_samples(rows), PathBuilder("pi-01.lan", "vitals", template))
    assert rows_of(rows, PathBuilder("pi-01.lan", "vitals", template)) == expected


NAMES = st.one_of(
    st.text(alphabet="az09_-", min_size=1, max_size=8),
    st.text(alphabet="az.", max_size=4),
    st.tuples(st.text(alphabet="az09", max_size=4)),
    st.tuples(st.text(alphabet="a.", max_size=2), st.text(alphabet="b ", max_size=2)),
)


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.lists(NAMES, min_size=1, max_size=5), max_size=4),
    template=st.sampled_from(TEMPLATES),
)
def test_row_paths_are_the_paths_of_each_sample(names, template):
    rows = [
        ("cpu", (("cpu", str(i)),) if i % 2 else (), TS, dict.fromkeys(row_names, 1.0))
        for i, row_names in enumerate(names)
    ]
    samples = row_samples(rows)
    shared = PathBuilder("pi 01", "vitals", template)
    row_paths = [p for g, t, _, f in rows for p in shared.row_paths(g, t, list(f))]
    assert row_paths == [PathBuilder("pi 01", "vitals", template).path(s) for s in samples]
    assert shared.paths(samples) == row_paths

"""Unit tests for salt_ext.core.samples: the neutral data model and the job-return mappings."""

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salt_ext.core.samples import (
    GROUPS,
    INT64_MAX,
    Sample,
    Skipped,
    coerce_number,
    flatten_return,
    from_vitals_dict,
    return_rows,
    row_samples,
    sample_rows,
    samples_from_return,
    summarize,
    to_vitals_dict,
    typed_vitals_dict,
    vitals_rows,
)

TS = 1732240000.5
INT64_MIN = -INT64_MAX - 1


def _no_clock():
    raise AssertionError("vitals returns carry their own collection time")


def _types(samples):
    return [type(s.value) for s in samples]


# -- Sample and Skipped ------------------------------------------------------------------------


def test_sample_normalises_name_and_tags():
    sample = Sample("disk", "percent", 41.2, TS, {"path": "/boot"})
    assert sample.name == ("percent",)
    assert sample.tags == (("path", "/boot"),)
    assert sample == Sample("disk", ("percent",), 41.2, TS, (("path", "/boot"),))
    assert hash(sample) == hash(Sample("disk", ("percent",), 41.2, TS, (("path", "/boot"),)))


def test_sample_keeps_tuples_and_tag_order():
    sample = Sample("g", ("a", "b"), 1.0, TS, {"z": "1", "a": "2"})
    assert sample.name == ("a", "b")
    assert sample.tags == (("z", "1"), ("a", "2"))


def test_sample_is_frozen():
    sample = Sample("cpu", "percent", 1.0, TS)
    with pytest.raises(AttributeError):
        sample.value = 2.0
    assert sample == Sample("cpu", ("percent",), 1.0, TS, {}) and hash(sample) == hash(
        Sample("cpu", ("percent",), 1.0, TS)
    )
    assert repr(sample) == f"Sample(group='cpu', name=('percent',), value=1.0, ts={TS!r}, tags=())"


def test_skipped_summary_limits_and_names_root():
    skipped = Skipped()
    assert len(skipped) == 0 and skipped.summary() == ""
    skipped.add("", "str")
    for i in range(6):
        skipped.add(f"k{i}", "NoneType")
    assert len(skipped) == 7
    assert skipped.summary(limit=2) == "<root> (str), k0 (NoneType) and 5 more"
    assert skipped.summary(limit=7).endswith("k5 (NoneType)")


@pytest.mark.parametrize(
    "group, name, expected",
    [
        ("mem", "total", int),
        ("mem", "percent", float),
        ("cpu", "count", int),
        ("load", "load1", float),
        ("pi", "under_voltage", int),
    ],
)
def test_declared_int_fields_come_back_as_ints(group, name, expected):
    (sample,) = from_vitals_dict({"ts": TS, group: {name: 3.0}})
    assert type(sample.value) is expected


# -- coerce_number -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, as_int, expected",
    [
        (True, False, 1.0),
        (False, False, 0.0),
        (True, True, 1),
        (False, True, 0),
        (7, False, 7.0),
        (7, True, 7),
        (-7, True, -7),
        (1.5, False, 1.5),
        (-0.0, False, -0.0),
        (2.5, True, 2),  # round half to even
        (3.5, True, 4),
        (-1.6, True, -2),
        (INT64_MAX, True, INT64_MAX),
        (INT64_MIN, True, INT64_MIN),
        (2**64, False, float(2**64)),  # a huge int still fits a float field
        (1e308, False, 1e308),
        (5e-324, False, 5e-324),
    ],
)
def test_coerce_number_numbers(value, as_int, expected):
    result = coerce_number(value, as_int=as_int)
    assert result == expected
    assert type(result) is type(expected)
    assert math.copysign(1, result) == math.copysign(1, expected)


@pytest.mark.parametrize("as_int", [False, True])
@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        "1",
        "1.5",
        b"1",
        None,
        [1],
        {"a": 1},
        (1,),
        1j,
        10**400,  # beyond any float
        -(10**400),
    ],
    ids=repr,
)
def test_coerce_number_not_numbers(value, as_int):
    assert coerce_number(value, as_int=as_int) is None


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2**100])
def test_coerce_number_int_outside_int64_is_not_an_int(value):
    assert coerce_number(value, as_int=True) is None


@pytest.mark.parametrize("value", [1e19, -1e19, 1e300, float(2**63)])
def test_coerce_number_float_outside_int64_is_not_an_int(value):
    assert coerce_number(value, as_int=True) is None


# -- to_vitals_dict / from_vitals_dict -------------------------------------------------------

EXAMPLE_SAMPLES = [
    Sample("cpu", "percent", 12.5, TS),
    Sample("cpu", "count", 4, TS),
    Sample("cpu", "percent", 20.0, TS, {"cpu": "0"}),
    Sample("cpu", "percent", 5.0, TS, {"cpu": "1"}),
    Sample("mem", "total", 8 * 2**30, TS),
    Sample("mem", "percent", 51.0, TS),
    Sample("disk", "percent", 41.2, TS, {"path": "/boot"}),
    Sample("disk", "total", 268435456, TS, {"path": "/boot"}),
    Sample("disk", "percent", 70.0, TS, {"path": "/"}),
    Sample("pi", "under_voltage", 0, TS),
]

EXAMPLE_DICT = {
    "ts": TS,
    "cpu": {"percent": 12.5, "count": 4},
    "cores": {"0": {"percent": 20.0}, "1": {"percent": 5.0}},
    "mem": {"total": 8 * 2**30, "percent": 51.0},
    "disk": {"/boot": {"percent": 41.2, "total": 268435456}, "/": {"percent": 70.0}},
    "pi": {"under_voltage": 0},
}


def test_to_vitals_dict_layout():
    assert to_vitals_dict(EXAMPLE_SAMPLES, TS) == EXAMPLE_DICT
    assert to_vitals_dict([], TS) == {"ts": TS}


def test_from_vitals_dict_inverts_example():
    skipped = Skipped()
    back = from_vitals_dict(EXAMPLE_DICT, skipped)
    assert back == EXAMPLE_SAMPLES
    assert _types(back) == _types(EXAMPLE_SAMPLES)
    assert len(skipped) == 0


INT_VALUES = st.integers(INT64_MIN, INT64_MAX)
FLOAT_VALUES = st.floats(allow_nan=False, allow_infinity=False)
NAMES = st.text(min_size=1, max_size=10)


def _fields(key):
    ints = GROUPS[key].int_fields
    names = st.one_of(st.sampled_from(sorted(ints)), NAMES) if ints else NAMES
    return st.sets(names, min_size=1, max_size=4).flatmap(
        lambda chosen: st.fixed_dictionaries(
            {n: INT_VALUES if n in ints else FLOAT_VALUES for n in sorted(chosen)}
        )
    )


@st.composite
def vitals_samples(draw):
    """Valid vitals samples in the grouped order ``to_vitals_dict`` produces, and their ts."""
    ts = draw(st.floats(0, 4e9))
    samples = []
    for key in draw(st.lists(st.sampled_from(sorted(GROUPS)), unique=True)):
        group = GROUPS[key]
        series = [()]
        if group.tag is not None:
            values = draw(st.lists(st.text(max_size=10), min_size=1, max_size=3, unique=True))
            series = [((group.tag, v),) for v in values]
        for tags in series:
            for name, value in draw(_fields(key)).items():
                samples.append(Sample(group.measurement, (name,), value, ts, tags))
    return ts, samples


@settings(max_examples=150, deadline=None)
@given(vitals_samples())
def test_vitals_dict_round_trip_is_exact(drawn):
    ts, samples = drawn
    skipped = Skipped()
    back = from_vitals_dict(to_vitals_dict(samples, ts), skipped)
    assert back == samples
    assert _types(back) == _types(samples)
    assert len(skipped) == 0


@settings(max_examples=50, deadline=None)
@given(vitals_samples(), st.randoms(use_true_random=False))
def test_vitals_dict_round_trip_any_order(drawn, rnd):
    ts, samples = drawn
    shuffled = list(samples)
    rnd.shuffle(shuffled)
    back = from_vitals_dict(to_vitals_dict(shuffled, ts))
    assert len(back) == len(samples) and set(back) == set(samples)


def test_from_vitals_dict_types_follow_groups():
    data = {
        "ts": 1732240000,
        "mem": {"total": 8.0e9, "used": 3.6, "available": True, "percent": 50},
        "system": {"procs": 120.0, "uptime": 7},
    }
    samples = {s.name[0]: s for s in from_vitals_dict(data)}
    assert [(n, s.value, type(s.value)) for n, s in samples.items()] == [
        ("total", 8000000000, int),
        ("used", 4, int),
        ("available", 1, int),
        ("percent", 50.0, float),
        ("procs", 120, int),
        ("uptime", 7.0, float),
    ]
    assert {type(s.ts) for s in samples.values()} == {float}


def test_from_vitals_dict_reports_what_it_skips():
    skipped = Skipped()
    data = {
        "ts": TS,
        "cpu": {"percent": "high", "user": None, "system": float("nan"), "idle": 90.0},
        "mem": {"total": 2**64},
        "bogus": {"x": 1},
        "load": 1.5,
        "disk": {"/": 5, "/boot": {"percent": 1.0}},
    }
    samples = from_vitals_dict(data, skipped)
    assert [(s.group, s.name, s.tags) for s in samples] == [
        ("cpu", ("idle",), ()),
        ("disk", ("percent",), (("path", "/boot"),)),
    ]
    assert skipped.items == [
        ("cpu.percent", "str"),
        ("cpu.user", "NoneType"),
        ("cpu.system", "nan"),
        ("mem.total", "int"),
        ("bogus", "unknown group"),
        ("load", "unknown group"),
        ("disk./", "not a dict of fields"),
    ]


@pytest.mark.parametrize("data", [{}, {"ts": None, "cpu": {"percent": 1.0}}, {"ts": "now"}])
def test_from_vitals_dict_without_ts_gives_nothing(data):
    skipped = Skipped()
    assert from_vitals_dict(data, skipped) == []
    assert skipped.items == [("ts", "missing collection time")]


def test_from_vitals_dict_stringifies_tag_values_and_names():
    samples = from_vitals_dict({"ts": TS, "cores": {0: {1: 2.0}}})
    assert samples == [Sample("cpu", ("1",), 2.0, TS, (("cpu", "0"),))]


def _leaves(data):
    """Every (path, value, type) of a nested dict, in order: equality that tells 1 from 1.0."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from ((f"{key}.{path}", v, t) for path, v, t in _leaves(value))
        else:
            yield str(key), value, type(value)


@settings(max_examples=150, deadline=None)
@given(vitals_samples())
def test_typed_vitals_dict_renders_what_the_samples_would(drawn):
    ts, samples = drawn
    data = to_vitals_dict(samples, ts)
    expected = to_vitals_dict(from_vitals_dict(data), ts)
    assert list(_leaves(typed_vitals_dict(data))) == list(_leaves(expected))


@pytest.mark.parametrize(
    "data",
    [
        {
            "ts": TS,
            "cpu": {"percent": "high", "user": None, "system": float("nan"), "idle": 90},
            "mem": {"total": 2**64, "used": 3.6, "available": True},
            "bogus": {"x": 1},
            "load": 1.5,
            "disk": {"/": 5, "/boot": {"percent": 1}, "/empty": {"percent": None}},
            "cores": {0: {1: 2}},
            "pi": {"throttled": "no"},
        },
        {"ts": None, "cpu": {"percent": 1.0}},
        {"ts": 7, "system": {"procs": 120.0, "uptime": 7}},
    ],
)
def test_typed_vitals_dict_types_and_skips_like_the_samples(data):
    typed_skipped, sample_skipped = Skipped(), Skipped()
    typed = typed_vitals_dict(data, typed_skipped)
    samples = from_vitals_dict(data, sample_skipped)
    ts = coerce_number(data["ts"])
    rendered = {} if ts is None else to_vitals_dict(samples, ts)
    assert list(_leaves(typed)) == list(_leaves(rendered))
    assert typed_skipped.items == sample_skipped.items


# -- flatten_return -----------------------------------------------------------------------------


def test_flatten_nested_dicts_and_lists_of_dicts():
    data = {
        "a": {"b": 1, "c": [2, {"d": 3.5}]},
        "e": True,
        "f": ({"g": -1}, {"g": 0}),
        3: 4,
    }
    samples = flatten_return("status.thing", data, TS)
    assert [(s.name, s.value) for s in samples] == [
        (("a", "b"), 1.0),
        (("a", "c", "0"), 2.0),
        (("a", "c", "1", "d"), 3.5),
        (("e",), 1.0),
        (("f", "0", "g"), -1.0),
        (("f", "1", "g"), 0.0),
        (("3",), 4.0),
    ]
    assert {type(s.value) for s in samples} == {float}
    assert {(s.group, s.ts, s.tags) for s in samples} == {("status.thing", TS, ())}


@pytest.mark.parametrize("value, expected", [(0.5, 0.5), (3, 3.0), (False, 0.0)])
def test_flatten_scalar_return_is_named_value(value, expected):
    assert flatten_return("test.num", value, TS) == [Sample("test.num", ("value",), expected, TS)]


@pytest.mark.parametrize("data", [{}, [], ()])
def test_flatten_empty_containers(data):
    skipped = Skipped()
    assert flatten_return("g", data, TS, skipped) == []
    assert len(skipped) == 0


def test_flatten_records_non_numeric_leaves_with_paths():
    skipped = Skipped()
    data = {"a": "x", "b": None, "c": [1, "y", b"z"], "d": float("nan"), "e": {"f": float("inf")}}
    samples = flatten_return("g", data, TS, skipped)
    assert [(s.name, s.value) for s in samples] == [(("c", "0"), 1.0)]
    assert skipped.items == [
        ("a", "str"),
        ("b", "NoneType"),
        ("c.1", "str"),
        ("c.2", "bytes"),
        ("d", "nan"),
        ("e.f", "inf"),
    ]


def test_flatten_non_numeric_root():
    skipped = Skipped()
    assert flatten_return("g", "ERROR: oops", TS, skipped) == []
    assert skipped.items == [("", "str")]
    assert skipped.summary() == "<root> (str)"


def _nested(levels, leaf=1.0):
    data = leaf
    for _ in range(levels):
        data = {"k": data}
    return data


@pytest.mark.parametrize("max_depth", [3, 16])
def test_flatten_depth_limit(max_depth):
    deepest = flatten_return("g", _nested(max_depth), TS, max_depth=max_depth)
    assert [s.name for s in deepest] == [("k",) * max_depth]

    skipped = Skipped()
    assert flatten_return("g", _nested(max_depth + 1), TS, skipped, max_depth=max_depth) == []
    assert skipped.items == [(".".join(["k"] * max_depth), f"nested deeper than {max_depth}")]


def test_flatten_default_depth_is_16_and_very_deep_data_does_not_recurse():
    skipped = Skipped()
    assert flatten_return("g", _nested(10_000), TS, skipped) == []
    assert skipped.items == [(".".join(["k"] * 16), "nested deeper than 16")]


def test_flatten_ten_thousand_keys():
    data = {f"k{i}": i for i in range(10_000)}
    samples = flatten_return("g", data, TS)
    assert len(samples) == 10_000
    assert [s.name for s in samples] == [(f"k{i}",) for i in range(10_000)]
    assert [s.value for s in samples] == [float(i) for i in range(10_000)]


def test_flatten_appends_to_given_skipped():
    skipped = Skipped()
    skipped.add("earlier", "reason")
    flatten_return("g", {"a": "x"}, TS, skipped)
    assert skipped.items == [("earlier", "reason"), ("a", "str")]


# -- samples_from_return -----------------------------------------------------------------------


def _ret(fun, data, **extra):
    return {"id": "pi-01", "jid": "20241122000000000000", "fun": fun, "return": data, **extra}


def test_samples_from_vitals_return_use_vitals_mapping():
    ret = _ret("vitals.current", EXAMPLE_DICT, retcode=0, success=True)
    samples = samples_from_return(ret, _no_clock)
    assert samples == EXAMPLE_SAMPLES
    assert _types(samples) == _types(EXAMPLE_SAMPLES)


def test_samples_from_generic_return_are_flattened_at_clock_time():
    ret = _ret("status.loadavg", {"1-min": 0.5, "5-min": 0.25, "15-min": 0.1}, retcode=0)
    samples = samples_from_return(ret, lambda: 1732240009.25)
    assert samples == [
        Sample("status.loadavg", ("1-min",), 0.5, 1732240009.25),
        Sample("status.loadavg", ("5-min",), 0.25, 1732240009.25),
        Sample("status.loadavg", ("15-min",), 0.1, 1732240009.25),
    ]


def test_vitals_return_without_ts_is_flattened_generically():
    samples = samples_from_return(_ret("vitals.current", {"cpu": {"percent": 3}}), lambda: 5.0)
    assert samples == [Sample("vitals.current", ("cpu", "percent"), 3.0, 5.0)]


def test_missing_fun_is_unknown():
    assert samples_from_return({"return": 1}, lambda: 5.0) == [
        Sample("unknown", ("value",), 1.0, 5.0)
    ]


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"retcode": 1}, "failed job (retcode 1)"),
        ({"retcode": 254, "success": True}, "failed job (retcode 254)"),
        ({"success": False}, "failed job (retcode None)"),
        ({"retcode": 0, "success": False}, "failed job (retcode 0)"),
    ],
)
def test_failed_job_has_no_samples(extra, reason):
    skipped = Skipped()
    ret = _ret("vitals.current", EXAMPLE_DICT, **extra)
    assert samples_from_return(ret, _no_clock, skipped) == []
    assert skipped.items == [("vitals.current", reason)]


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"retcode": 1}, [("test.boom", "failed job (retcode 1)")]),
        ({"retcode": 0}, [("", "str")]),
    ],
)
def test_exception_string_return_has_no_samples(extra, expected):
    skipped = Skipped()
    text = "The minion function caused an exception: Traceback (most recent call last): ..."
    assert samples_from_return(_ret("test.boom", text, **extra), lambda: 1.0, skipped) == []
    assert skipped.items == expected


# -- summarize --------------------------------------------------------------------------------


def _round(ts, percent, total, core_percent):
    return [
        Sample("cpu", "percent", percent, ts),
        Sample("mem", "total", total, ts),
        Sample("cpu", "percent", core_percent, ts, {"cpu": "0"}),
    ]


def test_summarize_mean_variance_and_latest_int():
    rounds = [_round(1.0, 10.0, 100, 1.0), _round(2.0, 20.0, 200, 1.0), _round(3.0, 30.0, 300, 4.0)]
    out = summarize(rounds)
    assert out == [
        Sample("cpu", "percent", 20.0, 3.0),
        Sample("cpu", "percent_var", pytest.approx(200 / 3), 3.0),
        Sample("mem", "total", 300, 3.0),
        Sample("cpu", "percent", 2.0, 3.0, {"cpu": "0"}),
        Sample("cpu", "percent_var", 2.0, 3.0, {"cpu": "0"}),
    ]
    assert type(out[2].value) is int


def test_summarize_single_round_has_zero_variance():
    out = summarize([[Sample("load", "1", 0.5, 9.0)]])
    assert out == [Sample("load", "1", 0.5, 9.0), Sample("load", "1_var", 0.0, 9.0)]


def test_summarize_var_suffix_goes_on_last_name_segment():
    out = summarize([[Sample("g", ("a", "b"), 1.0, 1.0)], [Sample("g", ("a", "b"), 3.0, 2.0)]])
    assert out == [Sample("g", ("a", "b"), 2.0, 2.0), Sample("g", ("a", "b_var"), 1.0, 2.0)]


def test_summarize_series_missing_from_some_rounds():
    rounds = [
        [Sample("cpu", "percent", 10.0, 1.0)],
        [Sample("cpu", "percent", 30.0, 2.0), Sample("temp", "c", 50.0, 2.0, {"sensor": "soc"})],
        [],
    ]
    assert summarize(rounds) == [
        Sample("cpu", "percent", 20.0, 2.0),
        Sample("cpu", "percent_var", 100.0, 2.0),
        Sample("temp", "c", 50.0, 2.0, {"sensor": "soc"}),
        Sample("temp", "c_var", 0.0, 2.0, {"sensor": "soc"}),
    ]


def test_summarize_nothing():
    assert summarize([]) == [] and summarize([[], []]) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20))
def test_summarize_matches_population_statistics(values):
    rounds = [[Sample("cpu", "percent", v, float(i))] for i, v in enumerate(values)]
    mean, var = summarize(rounds)
    assert mean.name == ("percent",) and var.name == ("percent_var",)
    assert mean.ts == var.ts == float(len(values) - 1)
    assert math.isclose(mean.value, statistics.fmean(values), rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(var.value, statistics.pvariance(values), rel_tol=1e-6, abs_tol=1e-3)


# -- rows: a series at one time with its fields --------------------------------------------------


def test_vitals_rows_are_the_samples_grouped_by_series():
    rows = vitals_rows(EXAMPLE_DICT)
    assert row_samples(rows) == EXAMPLE_SAMPLES
    assert _types(row_samples(rows)) == _types(EXAMPLE_SAMPLES)
    assert [(group, tags) for group, tags, _, _ in rows] == list(
        dict.fromkeys((s.group, s.tags) for s in EXAMPLE_SAMPLES)
    )
    assert all(ts == EXAMPLE_DICT["ts"] and fields for _, _, ts, fields in rows)


def test_vitals_rows_skip_like_the_samples():
    data = {"ts": TS, "mem": {"total": "8G", "percent": math.nan}, "cpu": {"percent": math.inf}}
    row_skips, sample_skips = Skipped(), Skipped()
    assert vitals_rows(data, row_skips) == [] == from_vitals_dict(data, sample_skips)
    assert row_skips.items == sample_skips.items and len(row_skips) == 3
    no_ts = Skipped()
    assert vitals_rows({"cpu": {"percent": 1.0}}, no_ts) == []
    assert no_ts.items == [("ts", "missing collection time")]


@settings(max_examples=150, deadline=None)
@given(vitals_samples())
def test_rows_and_samples_convert_both_ways(drawn):
    ts, samples = drawn
    rows = sample_rows(samples)
    assert row_samples(rows) == samples
    assert sum(len(fields) for *_, fields in rows) == len(samples)
    rendered = to_vitals_dict(samples, ts)
    assert row_samples(vitals_rows(rendered)) == from_vitals_dict(rendered)


def test_sample_rows_start_a_row_when_the_series_or_time_changes():
    tags = (("path", "/"),)
    samples = [
        Sample("disk", "total", 1, TS, tags),
        Sample("disk", "used", 2, TS, tags),
        Sample("disk", "used", 3, TS + 1, tags),
        Sample("disk", ("a", "b"), 4.0, TS + 1, (("path", "/boot"),)),
    ]
    rows = sample_rows(samples)
    assert [len(fields) for *_, fields in rows] == [2, 1, 1]
    assert rows[2] == ("disk", (("path", "/boot"),), TS + 1, {("a", "b"): 4.0})
    assert row_samples(rows) == samples


@pytest.mark.parametrize(
    "ret",
    [
        _ret("vitals.current", EXAMPLE_DICT, retcode=0, success=True),
        _ret("status.loadavg", {"1-min": 0.5, "5-min": [1, "x", {"a": 2}]}, retcode=0),
        _ret("vitals.current", EXAMPLE_DICT, retcode=1),
        _ret("test.ping", True),
    ],
)
def test_return_rows_hold_the_samples_of_the_return(ret):
    row_skips, sample_skips = Skipped(), Skipped()
    rows = return_rows(ret, lambda: 1732240009.25, row_skips)
    assert row_samples(rows) == samples_from_return(ret, lambda: 1732240009.25, sample_skips)
    assert row_skips.items == sample_skips.items


def test_sample_rows_start_a_row_when_a_name_repeats():
    samples = [Sample("x", "a", 1.0, TS), Sample("x", "a", 2.0, TS), Sample("x", "b", 3.0, TS)]
    rows = sample_rows(samples)
    assert [fields for *_, fields in rows] == [{("a",): 1.0}, {("a",): 2.0, ("b",): 3.0}]
    assert row_samples(rows) == samples


def test_a_series_typed_already_is_the_returns_own_dict():
    data = {"ts": TS, "load": {"load1": 0.5, "load5": 0.25}, "mem": {"total": 8, "percent": 1.5}}
    rows = vitals_rows(data)
    assert rows[0][3] is data["load"]  # nothing to type: no copy
    assert rows[1][3] == {"total": 8, "percent": 1.5} and rows[1][3] is not data["mem"]

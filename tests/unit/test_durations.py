"""The one duration grammar (salt_ext/core/durations.py): its InfluxQL form and its operator
form, with exact values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salt_ext.core.durations import INFLUXQL_UNITS, influxql_seconds, operator_seconds


# the InfluxQL cases of the vitals_influxdb states: tests/unit/test_influxdb_admin.py
@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0), (" 7d ", 7 * 86400), ("Inf", 0), ("0", 0), ("1u1µ1µs1us1ns", 0)],
)
def test_influxql_durations(text, seconds):
    assert influxql_seconds(text) == seconds


# \u039c: a Greek capital mu, a unit only when case is ignored
@pytest.mark.parametrize("text", ["15 m", "0.5h", "1H", "1y", "2min", "-1h", "1\u039cs"])
def test_what_influxql_does_not_take_is_refused(text):
    with pytest.raises(ValueError, match=r"expected an InfluxQL duration such as 365d"):
        influxql_seconds(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("15 m", 900),
        ("15M", 900),
        ("0.5m", 30),
        ("2min", 120),
        ("10sec", 10),
        ("1h30m", 5400),
        ("1d2", 86402),
        ("1y", 365 * 86400),
        ("250ms", 0.25),
        ("52w1d", 365 * 86400),
    ],
)
def test_operator_durations(text, seconds):
    assert operator_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "soon", "5x", "m5", "1h-", "-", "INF", "1h 30m", "15 30m", "1\u039cs"]
)
def test_what_is_no_operator_duration_is_none(text):
    assert operator_seconds(text) is None


@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(sorted(INFLUXQL_UNITS))),
        min_size=1,
        max_size=4,
    )
)
def test_every_influxql_duration_reads_the_same_in_the_operator_form(parts):
    text = "".join(f"{number}{unit}" for number, unit in parts)
    assert influxql_seconds(text) == int(operator_seconds(text))

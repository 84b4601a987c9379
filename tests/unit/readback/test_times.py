"""Unit tests of salt_ext.core.readback.times: durations, times and the grid of the read-back
runners."""

import pytest

from salt_ext.core.errors import ConfigError
from salt_ext.core.readback import times

NOW = 1_795_000_000


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("2d", 172800),
        ("1w", 604800),
        ("1h30m", 5400),
        ("-5m", 300),
        ("0.5m", 30),
    ],
)
def test_durations(text, seconds):
    assert times.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "soon", "5x", "m5", "1h-", "-"])
def test_bad_durations_name_the_key(text):
    with pytest.raises(ConfigError, match=r"^window: expected a duration"):
        times.parse_duration(text, "window")


@pytest.mark.parametrize(
    ("text", "ts"),
    [
        ("now", NOW),
        ("-1h", NOW - 3600),
        ("-15m", NOW - 900),
        ("1732240000", 1732240000),
        ("2024-11-22T01:46:40", 1732240000),
        ("2024-11-22T01:46:40Z", 1732240000),
        ("2024-11-22T02:46:40+01:00", 1732240000),
    ],
)
def test_times(text, ts):
    assert times.parse_time(text, NOW) == ts


def test_bad_time_names_the_key():
    with pytest.raises(ConfigError, match=r"^start: expected now, -<duration>"):
        times.parse_time("yesterday", NOW, "start")


def test_grid_aligns_to_the_step_like_summarize_and_group_by_time():
    assert times.grid(125, 300, 60) == [120, 180, 240]
    assert times.align([(180, 1.5), (999, 2.0)], [120, 180, 240]) == [None, 1.5, None]

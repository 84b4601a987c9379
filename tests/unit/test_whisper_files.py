"""The one whisper reader of the demo, the tests and the benches (vitals_daemons.whisper_files),
over real whisper files written with carbon's schema (1 s for 30 minutes, then 60 s for a day)."""

import time

import pytest
import whisper

from vitals_daemons.whisper_files import (
    metric_file,
    metric_names,
    read_points,
    read_tree,
)

ARCHIVES = [(1, 1800), (60, 1440)]


@pytest.fixture
def now():
    return int(time.time())


def write(path, *points):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        whisper.create(str(path), ARCHIVES, xFilesFactor=0)
    whisper.update_many(str(path), list(points))
    return path


def test_a_dotted_name_is_a_file_under_the_directory_and_back(tmp_path):
    wsp = metric_file(tmp_path, "vitals.node-1.cpu.percent")
    assert wsp == tmp_path / "vitals" / "node-1" / "cpu" / "percent.wsp"
    write(wsp, (int(time.time()), 1.0))
    write(metric_file(tmp_path, "vitals.node-1.load.load1"), (int(time.time()), 1.0))
    assert metric_names(tmp_path) == ["vitals.node-1.cpu.percent", "vitals.node-1.load.load1"]


def test_points_between_inclusive_bounds_without_empty_slots(tmp_path, now):
    wsp = write(tmp_path / "m.wsp", (now - 30, 1.5), (now - 20, 2), (now - 10, 3.25))
    assert read_points(wsp, now - 30, now - 10) == [
        (now - 30, 1.5),
        (now - 20, 2.0),
        (now - 10, 3.25),
    ]
    assert read_points(wsp, now - 20, now - 20) == [(now - 20, 2.0)]
    assert read_points(wsp, now - 19, now - 11) == []


def test_by_default_the_whole_finest_archive_up_to_now(tmp_path, now):
    wsp = write(tmp_path / "m.wsp", (now - 1700, 1.0), (now - 5, 2.0))
    assert read_points(wsp) == [(now - 1700, 1.0), (now - 5, 2.0)]


def test_a_point_in_the_future_when_the_upper_bound_covers_it(tmp_path, now):
    wsp = write(tmp_path / "m.wsp", (now - 5, 1.0))
    with open(wsp, "r+b") as fh:  # whisper.update refuses future points; carbon may hold them
        whisper.file_update_many(fh, [(now + 30, 2.0)], now=now + 60)
    assert read_points(wsp, now - 5, now + 30) == [(now - 5, 1.0), (now + 30, 2.0)]
    assert read_points(wsp, now - 5) == [(now - 5, 1.0)]


def test_a_file_missing_or_still_being_created_holds_no_points(tmp_path, now):
    assert read_points(tmp_path / "missing.wsp") == []
    assert read_points(tmp_path / "missing.wsp", now - 10, now) == []
    (tmp_path / "half.wsp").write_bytes(b"\0\0\0")
    assert read_points(tmp_path / "half.wsp") == []
    assert read_points(tmp_path / "half.wsp", now - 10, now) == []


def test_a_window_outside_the_retention_holds_no_points(tmp_path, now):
    wsp = write(tmp_path / "m.wsp", (now - 5, 1.0))
    assert read_points(wsp, now - 10 * 86400, now - 5 * 86400) == []


def test_a_tree_by_dotted_names_relative_to_its_top(tmp_path, now):
    write(tmp_path / "node" / "cpu" / "percent.wsp", (now - 10, 12.5), (now - 5, 13.0))
    write(tmp_path / "node" / "mem" / "used.wsp", (now - 5, 1024))
    (tmp_path / "node" / "mem" / "free.wsp").write_bytes(b"")  # carbon just created it
    assert read_tree(tmp_path / "node", now - 5, now) == {
        "cpu.percent": [(now - 5, 13.0)],
        "mem.free": [],
        "mem.used": [(now - 5, 1024.0)],
    }
    assert read_tree(tmp_path / "absent") == {}

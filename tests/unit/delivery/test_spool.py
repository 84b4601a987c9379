"""Unit tests for salt_ext.core.delivery.spool: durable records, corruption, bounds, status and
locking."""

import errno
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from salt_ext.core.delivery.spool import Spool, describe

T0 = 1_700_000_000.0
HEADER_SIZE = 24  # magic, length, crc32, points, created


class Clock:
    """A settable clock; each test advances it explicitly."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds=1.0):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def spool_dir(tmp_path):
    return str(tmp_path / "spool")


@pytest.fixture
def spool(spool_dir, clock):
    return Spool(spool_dir, clock=clock)


def fill(spool, clock, payloads, points=None):
    """Append ``payloads`` one second apart; return the record names, oldest first."""
    points = points or [1] * len(payloads)
    for payload, count in zip(payloads, points):
        spool.append(payload, count)
        clock.advance()
    return spool.names()


def record_path(spool, name):
    return os.path.join(spool.directory, name)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# -- append / read / chunks / acknowledge ---------------------------------------------------


def test_append_and_read(spool, clock):
    [name] = fill(spool, clock, [b"a.b 1 2\n"], [3])
    record = spool.read(name)
    assert (record.name, record.payload, record.points) == (name, b"a.b 1 2\n", 3)
    assert record.created == pytest.approx(T0)
    assert name.endswith(".rec") and name.startswith(f"{int(T0 * 1e9):020d}-")
    with open(record_path(spool, name), "rb") as handle:
        raw = handle.read()
    assert raw[:4] == b"VSR1" and raw[HEADER_SIZE:] == b"a.b 1 2\n"
    assert [n for n in os.listdir(spool.directory) if n.startswith(".tmp-")] == []


def test_read_missing_record_is_none_and_not_counted(spool, clock):
    fill(spool, clock, [b"x"])
    assert spool.read("00000000000000000001-1-1.rec") is None
    assert spool.status()["corrupt_records"] == 0


def test_names_oldest_first(spool, clock):
    names = fill(spool, clock, [b"first", b"second", b"third"])
    assert [spool.read(n).payload for n in names] == [b"first", b"second", b"third"]


def test_real_clock_records_sort_oldest_first(spool_dir):
    spool = Spool(spool_dir)
    for i in range(12):
        spool.append(b"%d" % i, 1)
    assert [spool.read(n).payload for n in spool.names()] == [b"%d" % i for i in range(12)]


def test_same_tick_records_sort_in_append_order(spool, clock):
    for i in range(12):
        spool.append(b"%d" % i, 1)
    assert [spool.read(n).payload for n in spool.names()] == [b"%d" % i for i in range(12)]


@pytest.mark.parametrize(
    "chunk_bytes, max_bytes, expected",
    [
        (25, 1000, [[b"r0", b"r1"], [b"r2", b"r3"], [b"r4"]]),
        (25, 30, [[b"r0", b"r1"], [b"r2"]]),
        (1000, 1000, [[b"r0", b"r1", b"r2", b"r3", b"r4"]]),
        (5, 1000, [[b"r0"], [b"r1"], [b"r2"], [b"r3"], [b"r4"]]),  # a record alone is larger
        (25, 5, [[b"r0"]]),  # the oldest record always goes, even past max_bytes
    ],
)
def test_chunks(spool, clock, chunk_bytes, max_bytes, expected):
    fill(spool, clock, [f"r{i}".encode().ljust(10, b".") for i in range(5)])
    chunks = list(spool.chunks(chunk_bytes, max_bytes))
    assert [[r.payload.rstrip(b".") for r in chunk] for chunk in chunks] == expected


def test_chunks_of_empty_or_missing_spool(spool):
    assert list(spool.chunks(10, 10)) == []
    assert spool.names() == []


def test_waiting_on_a_missing_spool_is_false_and_creates_nothing(spool, clock, monkeypatch):
    assert spool.waiting() is False and not os.path.exists(spool.directory)
    spool.append(b"x", 1)
    assert spool.waiting() is True
    real_listdir = os.listdir

    def removed_meanwhile(path):  # the directory goes between the existence check and the list
        os.rename(path, path + ".gone")
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", removed_meanwhile)
    assert spool.waiting() is False


def test_acknowledge_removes_only_given_records(spool, clock):
    names = fill(spool, clock, [b"a", b"b", b"c"])
    chunk = next(spool.chunks(2, 100))
    spool.acknowledge(chunk)
    spool.acknowledge(chunk)  # twice is harmless
    assert spool.names() == names[2:]


# -- file modes -------------------------------------------------------------------------------


def test_file_and_directory_modes_ignore_umask(spool, clock):
    old = os.umask(0)
    try:
        [name] = fill(spool, clock, [b"x"])
        with open(record_path(spool, name), "r+b") as handle:
            handle.truncate(HEADER_SIZE)  # corrupt it so that stats.json is written too
        assert spool.read(name) is None
    finally:
        os.umask(old)
    assert mode(spool.directory) == 0o700
    assert mode(os.path.join(spool.directory, "spool.lock")) == 0o600
    assert mode(os.path.join(spool.directory, "stats.json")) == 0o600
    fill(spool, clock, [b"y"])
    assert [mode(record_path(spool, n)) for n in spool.names()] == [0o600]


# -- corruption ---------------------------------------------------------------------------------


def _truncate(data):
    return data[:-1]


def _flip_payload_byte(data):
    return data[:-3] + bytes([data[-3] ^ 0x01]) + data[-2:]


def _flip_length(data):
    return data[:4] + bytes([data[4] ^ 0x80]) + data[5:]


def _bad_magic(data):
    return b"XSR1" + data[4:]


def _short_header(data):
    return data[:10]


def _extra_byte(data):
    return data + b"!"


@pytest.mark.parametrize(
    "corrupt",
    [_truncate, _flip_payload_byte, _flip_length, _bad_magic, _short_header, _extra_byte, bytes],
)
def test_corrupt_record_is_skipped_removed_and_counted(spool, clock, corrupt):
    names = fill(spool, clock, [b"first-record", b"second-record", b"third-record"], [1, 2, 3])
    path = record_path(spool, names[1])
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(corrupt(data) if corrupt is not bytes else b"")

    chunks = list(spool.chunks(1000, 1000))
    assert [[r.payload for r in c] for c in chunks] == [[b"first-record", b"third-record"]]
    assert not os.path.exists(path)
    status = spool.status()
    assert (status["records"], status["points"], status["corrupt_records"]) == (2, 4, 1)


def test_corrupt_records_accumulate(spool, clock):
    names = fill(spool, clock, [b"a", b"b"])
    for name in names:
        with open(record_path(spool, name), "wb") as handle:
            handle.write(b"junk")
    assert spool.status()["corrupt_records"] == 2
    assert spool.names() == []


def test_unrelated_files_are_ignored(spool, clock):
    [name] = fill(spool, clock, [b"x"])
    for stray in ("notes.txt", ".stats-1.tmp", "00000000000000000001-1-1.rec.bak"):
        with open(os.path.join(spool.directory, stray), "wb") as handle:
            handle.write(b"junk")
    assert spool.names() == [name]
    assert spool.status()["corrupt_records"] == 0


# -- temporary files of writers that died ---------------------------------------------------


def temp_copy(spool, name, data, age=0.0):
    """A temporary file as a writer killed before its rename leaves it (no lock held), its
    mtime ``age`` seconds in the past; returns its path."""
    temp = record_path(spool, f".tmp-{name}")
    os.makedirs(spool.directory, exist_ok=True)
    with open(temp, "wb") as handle:
        handle.write(data)
    stamp = time.time() - age
    os.utime(temp, (stamp, stamp))
    return temp


def record_bytes(spool, clock, payload, points):
    """The bytes and name of a valid record, moved out of the spool."""
    [name] = fill(spool, clock, [payload], [points])
    with open(record_path(spool, name), "rb") as handle:
        data = handle.read()
    os.unlink(record_path(spool, name))
    return name, data


def test_complete_temp_file_of_a_dead_writer_is_recovered(spool, clock):
    lost_name, data = record_bytes(spool, clock, b"killed-before-rename", 5)
    [kept] = fill(spool, clock, [b"later"], [1])
    temp = temp_copy(spool, lost_name, data)

    status = spool.status()
    assert not os.path.exists(temp)
    assert spool.names() == [lost_name, kept]  # at its creation time: oldest first
    assert [r.payload for c in spool.chunks(1000, 1000) for r in c] == [
        b"killed-before-rename",
        b"later",
    ]
    assert (status["records"], status["points"], status["temp_files"]) == (2, 6, 0)
    assert (status["recovered_records"], status["torn_records"]) == (1, 0)


@pytest.mark.parametrize("cut", [1, HEADER_SIZE - 4, HEADER_SIZE + 3])
def test_torn_temp_file_of_a_dead_writer_is_removed_and_counted(spool, clock, cut):
    lost_name, data = record_bytes(spool, clock, b"torn-by-a-power-cut", 5)
    [kept] = fill(spool, clock, [b"real"])
    temp = temp_copy(spool, lost_name, data[:cut])

    status = spool.status()
    assert not os.path.exists(temp)
    assert spool.names() == [kept]
    assert (status["records"], status["temp_files"], status["corrupt_records"]) == (1, 0, 0)
    assert (status["recovered_records"], status["torn_records"]) == (0, 1)


def test_empty_temp_file_is_left_alone_while_young(spool, clock):
    # a writer between its open() and its flock() leaves it like this for microseconds
    temp = temp_copy(spool, f"{int(T0 * 1e9):020d}-1-1-1.rec", b"")
    assert spool.status()["temp_files"] == 1
    assert os.path.exists(temp)
    os.utime(temp, (time.time() - 61, time.time() - 61))
    status = spool.status()
    assert not os.path.exists(temp)
    assert (status["temp_files"], status["torn_records"]) == (0, 1)


HOLD_TEMP = textwrap.dedent(
    """
    import fcntl, sys
    fd = open(sys.argv[1], "ab")
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("holding", flush=True)
    sys.stdin.readline()
    """
)


def test_temp_file_of_a_live_writer_is_left_alone(spool, clock):
    lost_name, data = record_bytes(spool, clock, b"being-written", 2)
    temp = temp_copy(spool, lost_name, data[:10], age=3600)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_TEMP, temp],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        status = spool.status()
        assert (status["temp_files"], status["torn_records"]) == (1, 0)
        assert os.path.exists(temp)
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=10)
    assert spool.status()["torn_records"] == 1  # its writer is gone now
    assert not os.path.exists(temp)


def test_stale_temp_files_count_in_the_size_bound(spool_dir, clock):
    payload = b"p" * 100
    spool = Spool(spool_dir, max_bytes=2 * (HEADER_SIZE + len(payload)), clock=clock)
    stale = []
    for points in (1, 2, 3):
        stale.append(record_bytes(spool, clock, payload, points))
    for name, data in stale:
        temp_copy(spool, name, data)
    fill(spool, clock, [payload], [4])  # the next append recovers them, then trims
    assert [spool.read(n).points for n in spool.names()] == [3, 4]
    assert [n for n in os.listdir(spool_dir) if n.startswith(".tmp-")] == []
    status = spool.status()
    assert (status["recovered_records"], status["dropped_points"]) == (3, 3)


def test_stats_temp_files_of_a_dead_writer_are_removed(spool, clock):
    fill(spool, clock, [b"x"])
    temp = temp_copy(spool, "stats.json-0000000001-00000001-0000000001", b'{"dropp')
    status = spool.status()
    assert not os.path.exists(temp)
    assert (status["temp_files"], status["torn_records"], status["counters_reset"]) == (0, 0, None)


# -- bounds -----------------------------------------------------------------------------------


def test_size_bound_drops_oldest_first_and_counts_points(spool_dir, clock):
    payload = b"p" * 100
    spool = Spool(spool_dir, max_bytes=3 * (HEADER_SIZE + len(payload)), clock=clock)
    names = fill(spool, clock, [payload] * 5, [1, 2, 3, 4, 5])
    assert [spool.read(n).points for n in names] == [3, 4, 5]
    status = spool.status()
    assert (status["records"], status["points"], status["bytes"]) == (3, 12, 300)
    assert (status["dropped_points"], status["dropped_records"]) == (3, 2)


def test_record_larger_than_bound_is_dropped_itself(spool_dir, clock):
    spool = Spool(spool_dir, max_bytes=0, clock=clock)
    assert fill(spool, clock, [b"x"], [7]) == []
    assert spool.status()["dropped_points"] == 7


def test_age_bound_drops_expired_records_on_next_append(spool_dir, clock):
    spool = Spool(spool_dir, max_age=100, clock=clock)
    spool.append(b"old", 10)
    clock.advance(50)
    spool.append(b"older-but-young", 20)
    clock.advance(60)  # first is now 110 s old, second 60 s
    spool.append(b"new", 30)
    assert [spool.read(n).payload for n in spool.names()] == [b"older-but-young", b"new"]
    status = spool.status()
    assert (status["dropped_points"], status["dropped_records"]) == (10, 1)
    assert status["oldest"] == pytest.approx(T0 + 50)


# -- status -------------------------------------------------------------------------------------


def test_status_of_missing_spool(spool):
    assert spool.status() == {
        "records": 0,
        "points": 0,
        "bytes": 0,
        "oldest": None,
        "temp_files": 0,
        "filesystem": "ok",
        "dropped_points": 0,
        "dropped_records": 0,
        "corrupt_records": 0,
        "recovered_records": 0,
        "torn_records": 0,
        "counters_reset": None,
    }
    assert not os.path.exists(spool.directory)


def test_status_counts_waiting_records(spool, clock):
    fill(spool, clock, [b"abc", b"defgh"], [2, 5])
    assert spool.status() == {
        "records": 2,
        "points": 7,
        "bytes": 8,
        "oldest": pytest.approx(T0),
        "temp_files": 0,
        "filesystem": "ok",
        "dropped_points": 0,
        "dropped_records": 0,
        "corrupt_records": 0,
        "recovered_records": 0,
        "torn_records": 0,
        "counters_reset": None,
    }


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[1, 2]", b'{"dropped_points": "x"}', b'{"corrupt_records": -1}', b"\xff"],
)
def test_garbage_stats_file_says_the_counters_were_reset(spool_dir, clock, content, caplog):
    spool = Spool(spool_dir, max_bytes=150, clock=clock)
    fill(spool, clock, [b"p" * 100] * 2, [1, 2])  # the first is dropped: a counter of 1
    assert spool.status()["dropped_points"] == 1
    with open(os.path.join(spool.directory, "stats.json"), "wb") as handle:
        handle.write(content)
    clock.advance(10)

    status = spool.status()
    assert status["records"] == 1 and status["dropped_points"] == 0
    assert status["counters_reset"] == clock.now
    assert [r.message for r in caplog.records if "stats.json" in r.message] == [
        f"vitals spool {spool_dir}: stats.json is unusable "
        f"({_stats_problem_text(content)}): its counters restart from 0 now"
    ]
    caplog.clear()
    clock.advance(10)
    fill(spool, clock, [b"p" * 100], [3])  # counting goes on from the reset
    status = spool.status()
    assert (status["dropped_points"], status["counters_reset"]) == (2, clock.now - 11)
    assert not [r for r in caplog.records if "stats.json" in r.message]  # said once


def _stats_problem_text(content):
    return {
        b"not json": "not JSON",
        b"[1, 2]": "not a JSON object",
        b'{"dropped_points": "x"}': "dropped_points is 'x'",
        b'{"corrupt_records": -1}': "corrupt_records is -1",
        b"\xff": "not JSON",
    }[content]


def test_stats_of_an_older_version_are_read(spool, clock):
    fill(spool, clock, [b"x"])
    with open(os.path.join(spool.directory, "stats.json"), "w") as handle:
        handle.write('{"dropped_points": 7, "dropped_records": 2, "corrupt_records": 1}')
    status = spool.status()
    assert (status["dropped_points"], status["corrupt_records"]) == (7, 1)
    assert (status["recovered_records"], status["counters_reset"]) == (0, None)


# -- locking ------------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    from salt_ext.core.delivery.spool import Spool
    with Spool(sys.argv[1]).locked(blocking=True) as acquired:
        print("locked" if acquired else "failed", flush=True)
        sys.stdin.readline()
    """
)


def test_locked_is_exclusive_across_processes(spool):
    with spool.locked() as acquired:
        assert acquired is True
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, spool.directory],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with spool.locked() as acquired:
            assert acquired is False
        assert time.monotonic() - started < 2  # non-blocking
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=10)
    assert holder.returncode == 0
    with spool.locked() as acquired:
        assert acquired is True


def test_locked_is_exclusive_between_spool_objects(spool):
    other = Spool(spool.directory)
    with spool.locked() as first, other.locked() as second:
        assert (first, second) == (True, False)
    with other.locked() as again:
        assert again is True


def test_append_never_waits_for_a_replay_which_enforces_the_bounds(spool_dir, clock):
    payload = b"p" * 100
    spool = Spool(spool_dir, max_bytes=2 * (HEADER_SIZE + len(payload)), clock=clock)
    fill(spool, clock, [payload], [1])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, spool.directory],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"  # a replay in progress
        started = time.monotonic()
        fill(spool, clock, [payload] * 3, [2, 3, 4])
        assert time.monotonic() - started < 2  # never blocked on the lock
        assert [spool.read(n).points for n in spool.names()] == [1, 2, 3, 4]  # not trimmed yet
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=10)
    with spool.locked() as acquired:  # what the replay does before it lets go
        assert acquired
        spool.enforce_bounds()
    assert [spool.read(n).points for n in spool.names()] == [3, 4]
    assert spool.status()["dropped_points"] == 3


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (errno.EROFS, "read-only filesystem"),
        (errno.ENOSPC, "filesystem full"),
        (errno.EDQUOT, "filesystem full"),
        (errno.EIO, "Input/output error"),
    ],
)
def test_describe_filesystem_errors(code, text):
    assert describe(OSError(code, os.strerror(code), "/var/cache/x")) == text

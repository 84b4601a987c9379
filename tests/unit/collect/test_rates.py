"""Unit tests of salt_ext.core.collect.rates: snapshots, counter arithmetic and the state file."""

import json
import multiprocessing
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salt_ext.core.collect import rates
from salt_ext.core.collect.rates import LOCK_FILE, STATE_FILE, RateStore, Snapshot

BOOT = 1_700_000_000.0
MIN, MAX = 0.5, 3600.0


def snap(ts, boot=BOOT, **counters):
    return Snapshot(ts, boot, {"mem": {"total": 1}}, counters or {"cpu.total.idle": ts})


def stored(state_dir):
    with open(os.path.join(state_dir, STATE_FILE)) as handle:
        return [json.loads(line)["ts"] for line in handle]


def exchange(store, ts, boot=BOOT):
    ref = store.exchange(snap(ts, boot), MIN, MAX)
    return None if ref is None else ref.ts


def test_snapshot_round_trips_through_json():
    original = Snapshot(1.5, BOOT, {"disk": {"/": {"total": 10}}}, {"net.eth0.rx_bytes": 12})
    assert Snapshot.from_dict(json.loads(json.dumps(original.to_dict()))) == original


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"ts": "x", "boot_time": 1, "counters": {}},
        {"ts": 1, "boot_time": None, "counters": {}},
        {"ts": 1, "boot_time": 1, "counters": []},
        {"ts": 1, "boot_time": 1, "gauges": 3, "counters": {}},
        "not a dict",
    ],
)
def test_malformed_snapshot_raises_value_error(data):
    with pytest.raises(ValueError):
        Snapshot.from_dict(data)


def test_non_numeric_counters_are_dropped():
    data = {"ts": 1, "boot_time": 1, "counters": {"a": 1, "b": "2", "c": True, "d": 1.5}}
    assert Snapshot.from_dict(data).counters == {"a": 1, "d": 1.5}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 10**400, None, [1]])
def test_non_finite_counters_are_dropped(bad):
    data = {"ts": 1, "boot_time": 1, "counters": {"a": 1, "b": bad, 3: 2.0}}
    assert Snapshot.from_dict(data).counters == {"a": 1, "3": 2.0}


def test_counter_deltas_skip_counters_that_went_backwards():
    old = {"a": 10, "b": 10, "c": 10, "gone": 1}
    new = {"a": 15, "b": 3, "c": 10, "new": 7}
    assert rates.counter_deltas(old, new) == {"a": 5, "c": 0}


def test_cpu_percentages():
    deltas = {"user": 30, "nice": 0, "system": 10, "idle": 50, "iowait": 5, "steal": 5}
    assert rates.cpu_percentages(deltas, ("user", "system", "iowait", "steal", "idle")) == {
        "percent": pytest.approx(45.0),
        "user": pytest.approx(30.0),
        "system": pytest.approx(10.0),
        "iowait": pytest.approx(5.0),
        "steal": pytest.approx(5.0),
        "idle": pytest.approx(50.0),
    }


def test_cpu_percentages_without_iowait_or_elapsed_time():
    assert rates.cpu_percentages({"user": 1.0, "idle": 3.0}, ("user", "iowait")) == {
        "percent": 25.0,
        "user": 25.0,
    }
    assert rates.cpu_percentages({"user": 0.0, "idle": 0.0}, ("user",)) == {}


@given(st.dictionaries(st.sampled_from(["user", "system", "idle", "iowait", "steal"]),
                       st.floats(min_value=0, max_value=1e9)))  # fmt: skip
def test_cpu_percentages_stay_within_bounds(deltas):
    result = rates.cpu_percentages(deltas, ("user", "system", "idle", "iowait", "steal"))
    assert all(0.0 <= value <= 100.0 + 1e-9 for value in result.values())
    if result:
        parts = sum(v for k, v in result.items() if k != "percent")
        assert parts == pytest.approx(100.0)


def test_comparable_needs_same_boot_and_forward_time():
    assert rates.comparable(snap(10), snap(11, boot=BOOT + 1))  # clock adjustment drift
    assert not rates.comparable(snap(10), snap(11, boot=BOOT + 600))
    assert not rates.comparable(snap(10), snap(10))


def test_first_exchange_stores_and_returns_none(tmp_path):
    state = tmp_path / "cache" / "vitals"
    assert exchange(RateStore(state), 100.0) is None
    assert stored(state) == [100.0]
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / STATE_FILE).st_mode) == 0o600
    assert sorted(os.listdir(state)) == sorted([STATE_FILE, LOCK_FILE])  # no temp file left


def test_exchange_returns_the_previous_snapshot(tmp_path):
    store = RateStore(tmp_path)
    exchange(store, 100.0)
    assert exchange(store, 160.0) == 100.0
    assert exchange(store, 220.0) == 160.0
    assert stored(tmp_path) == [160.0, 220.0]
    ref = store.exchange(snap(280.0), MIN, MAX)
    assert ref.counters == {"cpu.total.idle": 220.0}
    assert ref.gauges == {}  # a rate reference needs its counters only


def test_too_young_snapshot_is_skipped_and_not_stored(tmp_path):
    store = RateStore(tmp_path)
    exchange(store, 100.0)
    exchange(store, 160.0)
    # Two jobs at nearly the same moment: the second still gets a proper reference.
    assert exchange(store, 160.1) == 100.0
    assert stored(tmp_path) == [100.0, 160.0]


def test_reboot_invalidates_the_state(tmp_path):
    store = RateStore(tmp_path)
    exchange(store, 100.0)
    assert exchange(store, 160.0, boot=BOOT + 150) is None
    assert stored(tmp_path) == [160.0]


def test_state_older_than_max_age_is_not_a_reference(tmp_path):
    store = RateStore(tmp_path)
    exchange(store, 100.0)
    assert store.exchange(snap(800.0), MIN, 600.0) is None
    assert stored(tmp_path) == [100.0, 800.0]
    assert store.exchange(snap(900.0), MIN, 600.0).ts == 800.0


def test_state_from_the_future_is_dropped(tmp_path):
    store = RateStore(tmp_path)
    exchange(store, 100_000.0)
    assert exchange(store, 100.0) is None  # the clock was stepped back by a day
    assert stored(tmp_path) == [100.0]


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffgarbage",
        b"",
        b'{"version": 1, "snapshots": [{"ts": 1}]}',
        b'{"version": 1, "snapshots": {"ts": 1}}',
        b"[1, 2]",
        b'{"snapshots": [{"ts": 1e999, "boot_time": 1, "counters": {}}]}',
        b'{"ts": 1e999, "boot_time": 1, "counters": {}}\n',
        b'{"ts": 50, "boot_time": 1700000000}\n\xff\n',
        b"\n\n\n",
    ],
)
def test_corrupt_state_is_treated_as_empty_and_overwritten(tmp_path, content):
    (tmp_path / STATE_FILE).write_bytes(content)
    store = RateStore(tmp_path)
    assert exchange(store, 100.0) is None
    assert stored(tmp_path) == [100.0]
    assert exchange(store, 160.0) == 100.0


def test_unusable_state_dir_is_logged_not_raised(tmp_path, monkeypatch):
    # A stub rather than caplog: salt's pytest plugin replays root-logger warnings at exit.
    warnings = []
    monkeypatch.setattr(rates.log, "warning", lambda *args: warnings.append(args))
    (tmp_path / "file").write_text("not a directory")
    assert exchange(RateStore(tmp_path / "file" / "state"), 100.0) is None
    assert len(warnings) == 1 and "rate state" in warnings[0][0]


def _exchange_in_child(state_dir, ts, barrier, results):
    barrier.wait()
    ref = RateStore(state_dir).exchange(snap(ts), MIN, MAX)
    results.put(None if ref is None else ref.ts)


def test_concurrent_jobs_both_get_a_reference(tmp_path):
    ctx = multiprocessing.get_context("fork")
    exchange(RateStore(tmp_path), 100.0)
    barrier, results = ctx.Barrier(2), ctx.Queue()
    children = [
        ctx.Process(target=_exchange_in_child, args=(str(tmp_path), ts, barrier, results))
        for ts in (160.0, 160.01)
    ]
    for child in children:
        child.start()
    refs = [results.get(timeout=30) for _ in children]
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    assert refs == [100.0, 100.0]
    assert stored(tmp_path)[0] == 100.0 and len(stored(tmp_path)) == 2


def _hammer(state_dir, offset, barrier):
    barrier.wait()
    store = RateStore(state_dir)
    for i in range(25):
        store.exchange(snap(1000.0 + i * 10 + offset), MIN, MAX)


def test_many_concurrent_writers_keep_the_file_valid(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    children = [
        ctx.Process(target=_hammer, args=(str(tmp_path), offset, barrier)) for offset in range(4)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    kept = stored(tmp_path)
    assert 1 <= len(kept) <= 2 and kept == sorted(kept)
    assert sorted(os.listdir(tmp_path)) == sorted([STATE_FILE, LOCK_FILE])


# --- where the state lives: a private directory on tmpfs, else the given directory ---------


def test_state_goes_to_a_private_dir_on_the_volatile_root(tmp_path):
    shm, cachedir = tmp_path / "shm", tmp_path / "cache" / "vitals"
    shm.mkdir()
    store = RateStore(cachedir, volatile_roots=[str(shm)])
    assert exchange(store, 100.0) is None
    base = shm / f"salt-vitals-{os.getuid()}"
    assert stat.S_IMODE(os.lstat(base).st_mode) == 0o700
    assert os.path.dirname(store.path).startswith(str(base) + os.sep)
    assert stored(store.state_dir) == [100.0]
    assert not cachedir.exists()  # nothing written to the cachedir
    assert exchange(RateStore(cachedir, volatile_roots=[str(shm)]), 101.0) == 100.0


def test_each_minion_gets_its_own_volatile_dir(tmp_path):
    roots = [str(tmp_path)]
    first = RateStore(tmp_path / "minion-1" / "cache" / "vitals", volatile_roots=roots)
    second = RateStore(tmp_path / "minion-2" / "cache" / "vitals", volatile_roots=roots)
    assert first.state_dir != second.state_dir
    exchange(first, 100.0)
    assert exchange(second, 101.0) is None


def test_first_usable_root_wins(tmp_path):
    store = RateStore(tmp_path / "cache", volatile_roots=[str(tmp_path / "missing"), str(tmp_path)])
    assert store.state_dir.startswith(str(tmp_path / f"salt-vitals-{os.getuid()}"))


@pytest.mark.parametrize("plant", ["symlink", "open_mode", "file"])
def test_a_planted_per_user_dir_is_refused_for_the_cachedir(tmp_path, plant):
    shm = tmp_path / "shm"
    shm.mkdir()
    base = shm / f"salt-vitals-{os.getuid()}"
    if plant == "symlink":
        (tmp_path / "elsewhere").mkdir()
        base.symlink_to(tmp_path / "elsewhere")
    elif plant == "open_mode":
        base.mkdir()
        base.chmod(0o777)
    else:
        base.write_text("not a directory")
    cachedir = tmp_path / "cache"
    store = RateStore(cachedir, volatile_roots=[str(shm)])
    assert store.state_dir == str(cachedir)
    exchange(store, 100.0)
    assert stored(cachedir) == [100.0]


def test_no_usable_root_falls_back_to_the_given_dir(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    store = RateStore(tmp_path / "cache", volatile_roots=[str(tmp_path / "not-a-dir")])
    assert store.state_dir == str(tmp_path / "cache")


def test_the_state_file_keeps_no_gauges(tmp_path):
    store = RateStore(tmp_path)
    exchange(store, 100.0)
    with open(store.path) as handle:
        assert all("gauges" not in json.loads(line) for line in handle)


def test_saving_never_fsyncs(tmp_path, monkeypatch):
    def no_fsync(_fd):
        raise AssertionError("fsync called")

    monkeypatch.setattr(os, "fsync", no_fsync)
    store = RateStore(tmp_path)
    exchange(store, 100.0)
    assert exchange(store, 101.0) == 100.0


def test_the_volatile_dir_is_checked_once_per_process(tmp_path, monkeypatch):
    shm, cachedir = tmp_path / "shm", tmp_path / "cache"
    shm.mkdir()
    checks = []
    real = rates.volatile_dir
    monkeypatch.setattr(rates, "volatile_dir", lambda *a: checks.append(a) or real(*a))
    exchange(RateStore(cachedir, volatile_roots=[str(shm)]), 100.0)
    assert exchange(RateStore(cachedir, volatile_roots=[str(shm)]), 101.0) == 100.0
    assert len(checks) == 1


def test_a_removed_volatile_dir_is_checked_again(tmp_path):
    """A remembered directory that is gone is never recreated blindly: a symlink planted in its
    place is refused and the state goes to the given directory."""
    shm, cachedir = tmp_path / "shm", tmp_path / "cache"
    shm.mkdir()
    exchange(RateStore(cachedir, volatile_roots=[str(shm)]), 100.0)
    base = shm / f"salt-vitals-{os.getuid()}"
    for path in sorted(base.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    base.rmdir()
    (tmp_path / "elsewhere").mkdir()
    base.symlink_to(tmp_path / "elsewhere")
    store = RateStore(cachedir, volatile_roots=[str(shm)])
    assert exchange(store, 160.0) is None
    assert store.state_dir == str(cachedir) and stored(cachedir) == [160.0]
    assert os.listdir(tmp_path / "elsewhere") == []


def line(ts, boot=BOOT):
    return json.dumps({"ts": ts, "boot_time": boot, "counters": {"cpu.total.idle": ts}}).encode()


def test_a_bad_newest_line_falls_back_to_the_older_one(tmp_path):
    (tmp_path / STATE_FILE).write_bytes(line(100.0) + b"\n{not json\n")
    assert exchange(RateStore(tmp_path), 160.0) == 100.0
    assert stored(tmp_path) == [100.0, 160.0]


def test_the_usual_exchange_decodes_one_line_and_keeps_it_as_written(tmp_path, monkeypatch):
    older, newer = line(40.0), line(100.0) + b" "  # trailing blank: kept byte for byte
    (tmp_path / STATE_FILE).write_bytes(older + b"\n" + newer + b"\n")
    decoded = []
    real = rates._parsed
    monkeypatch.setattr(rates, "_parsed", lambda raw: decoded.append(raw) or real(raw))
    assert exchange(RateStore(tmp_path), 160.0) == 100.0
    assert decoded == [newer]
    assert (tmp_path / STATE_FILE).read_bytes().splitlines()[0] == newer
    assert stored(tmp_path) == [100.0, 160.0]

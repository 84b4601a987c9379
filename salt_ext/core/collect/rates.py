"""Rate state kept between Salt jobs, and the arithmetic on cumulative counters.

Salt runs every job in a fresh forked process, so nothing like ``psutil.cpu_percent()`` can keep
its reference in memory. Instead each collection stores its cumulative counters (a
:class:`Snapshot`) in a small file, one JSON document a line, and the next collection computes
rates against it. :class:`RateStore` serializes concurrent jobs with ``flock``.

The file lives on a tmpfs (``/dev/shm`` or ``/run``) when one is writable, else in the minion
cachedir, and is replaced by an atomic rename without ``fsync``: losing it (a crash, a reboot)
costs one in-process sample, while an fsync per collection is slow on an SD card and wears it.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

log = logging.getLogger(__name__)

STATE_FILE = "vitals-rates.jsonl"
LOCK_FILE = "vitals-rates.lock"
# tmpfs directories tried, in order, for a private per-minion state directory.
VOLATILE_ROOTS = ("/dev/shm", "/run")

# psutil's boot_time follows wall-clock steps (NTP, RTC-less boards), so allow a little drift;
# a reboot moves it by at least the previous uptime.
BOOT_TIME_TOLERANCE = 5.0


@dataclass
class Snapshot:
    """One raw reading: wall-clock ``ts``, ``boot_time``, nested final ``gauges`` and a flat
    dict of cumulative ``counters`` (``"cpu.total.user"``, ``"net.eth0.rx_bytes"``, ...)."""

    ts: float
    boot_time: float
    gauges: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)

    def to_dict(self, gauges: bool = True) -> dict[str, Any]:
        """A JSON-able dict; a stored rate reference needs no ``gauges``."""
        out = {"ts": self.ts, "boot_time": self.boot_time, "counters": self.counters}
        if gauges:
            out["gauges"] = self.gauges
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Snapshot":
        """Inverse of :meth:`to_dict`; raises ValueError for anything malformed."""
        try:
            ts, boot_time = _finite(data["ts"]), _finite(data["boot_time"])
            gauges, counters = data.get("gauges", {}), data["counters"]
            if not isinstance(gauges, dict) or not isinstance(counters, dict):
                raise ValueError("gauges and counters must be dicts")
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed snapshot: {exc!r}") from None
        if not _all_finite_numbers(counters):
            counters = {str(k): v for k, v in counters.items() if _is_number(v)}
        return cls(ts, boot_time, gauges, counters)


def _all_finite_numbers(counters: Mapping[Any, Any]) -> bool:
    """True when every key is a str and every value a finite int or float (no bool): checked
    at C speed, since this runs on every collection for a file we wrote ourselves."""
    values = counters.values()
    try:
        finite = math.isfinite(sum(values))
    except (TypeError, OverflowError):
        return False
    return finite and set(map(type, values)) <= _NUMBER_TYPES and set(map(type, counters)) <= {str}


_NUMBER_TYPES = frozenset({int, float})


def _is_number(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range: no counter of ours
        return False


def _finite(value: Any) -> float:
    if not _is_number(value):
        raise ValueError(f"not a finite number: {value!r}")
    return float(value)


def same_boot(a: Snapshot, b: Snapshot) -> bool:
    """True when both snapshots come from the same boot of the machine."""
    return abs(a.boot_time - b.boot_time) <= BOOT_TIME_TOLERANCE


def comparable(old: Snapshot, new: Snapshot) -> bool:
    """True when ``new - old`` counter deltas are meaningful (same boot, time moved forward)."""
    return same_boot(old, new) and new.ts > old.ts


def is_reference(ref: Snapshot, current: Snapshot, min_interval: float, max_age: float) -> bool:
    """True when ``ref`` may serve as the rate reference of ``current``."""
    return comparable(ref, current) and min_interval <= current.ts - ref.ts <= max_age


def counter_deltas(old: Mapping[str, float], new: Mapping[str, float]) -> dict[str, float]:
    """``new - old`` for every counter in both dicts; a counter that went backwards (reset,
    wrap) is left out rather than producing a bogus rate."""
    return {key: new[key] - old[key] for key in new if key in old and new[key] >= old[key]}


def cpu_percentages(deltas: Mapping[str, float], fields: Iterable[str]) -> dict[str, float]:
    """Busy ``percent`` plus ``fields`` as percent of all CPU time, from cpu_times deltas.

    ``deltas`` maps cpu_times field names to their deltas (guest times excluded: Linux already
    counts them in user/nice). Returns {} when no CPU time elapsed.
    """
    total = sum(deltas.values())
    if total <= 0:
        return {}
    out: dict[str, float] = {}
    if "idle" in deltas:
        waiting = deltas["idle"] + deltas.get("iowait", 0)
        out["percent"] = min(100.0, max(0.0, 100.0 * (1 - waiting / total)))
    out.update({name: 100.0 * deltas[name] / total for name in fields if name in deltas})
    return out


def volatile_dir(state_dir: str, roots: Iterable[str] = VOLATILE_ROOTS) -> Optional[str]:
    """A private directory for ``state_dir``'s rate state on the first usable tmpfs, or None.

    ``<root>/salt-vitals-<uid>/<hash of state_dir>``: one per minion (each has its own
    cachedir) and user. The per-user directory must be a real directory of ours with mode
    0700, so nobody else's directory or symlink in a world-writable ``/dev/shm`` is ever used.
    """
    key = hashlib.sha1(os.path.abspath(state_dir).encode()).hexdigest()[:16]
    uid = os.getuid()
    for root in roots:
        base = os.path.join(root, f"salt-vitals-{uid}")
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(base, 0o700)
            info = os.lstat(base)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077:
            return os.path.join(base, key)
    return None


# Where each (state_dir, volatile roots) keeps its state, as :func:`volatile_dir` found it in
# this process; looked up again when the directory is missing.
_places: dict[tuple[str, tuple[str, ...]], str] = {}


class RateStore:
    """The previous snapshots of this minion, in ``vitals-rates.jsonl``.

    Keeps at most two snapshots (older, newer; one JSON line each) so that a job starting right
    after another still finds a reference at least ``min_interval`` old. The file is in
    :func:`volatile_dir` when one of ``volatile_roots`` (default :data:`VOLATILE_ROOTS`) is
    usable, else in ``state_dir``.
    """

    def __init__(
        self,
        state_dir: Union[str, "os.PathLike[str]"],
        volatile_roots: Optional[Iterable[str]] = None,
    ) -> None:
        roots = VOLATILE_ROOTS if volatile_roots is None else volatile_roots
        self._where = (os.fspath(state_dir), tuple(roots))
        self._remembered = self._where in _places
        self._place(_places.get(self._where))

    def _place(self, state_dir: Optional[str]) -> None:
        if state_dir is None:
            given, roots = self._where
            state_dir = _places[self._where] = volatile_dir(given, roots) or given
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, STATE_FILE)
        self.lock_path = os.path.join(state_dir, LOCK_FILE)

    def exchange(
        self, current: Snapshot, min_interval: float, max_age: float
    ) -> Optional[Snapshot]:
        """Return the rate reference for ``current`` (or None) and store ``current``.

        The reference is the newest stored snapshot of the same boot between ``min_interval``
        and ``max_age`` seconds older than ``current``. ``current`` is stored only when it is
        at least ``min_interval`` newer than the newest stored one, so jobs running at the same
        moment all keep a proper reference. State problems are logged, never raised.
        """
        ref = None
        try:
            with self._locked():
                lines = self._lines()
                newest = _parsed(lines[-1]) if lines else None
                if newest is not None and is_reference(newest, current, min_interval, max_age):
                    # The usual case: the newest line is the reference and stays, as it is, the
                    # older line of the file; the other line is not even decoded.
                    self._save([lines[-1], _encoded(current)])
                    return newest
                # Snapshots of another boot or from far in the future (the clock was stepped
                # back) can never serve again.
                stored = sorted(
                    (
                        s
                        for s in map(_parsed, lines)
                        if s is not None and same_boot(s, current) and s.ts - current.ts < max_age
                    ),
                    key=lambda s: s.ts,
                )
                usable = [s for s in stored if is_reference(s, current, min_interval, max_age)]
                ref = usable[-1] if usable else None
                if not stored or current.ts - stored[-1].ts >= min_interval:
                    self._save([_encoded(s) for s in stored[-1:] + [current]])
        except OSError as exc:
            log.warning("vitals: rate state in %s unusable: %s", self.state_dir, exc)
        return ref

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self.lock_path, flags, 0o600)
        except FileNotFoundError:
            if self._remembered:
                # Removed since this process checked it: check again rather than recreate it.
                self._place(None)
                self._remembered = False
            os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
            fd = os.open(self.lock_path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _lines(self) -> list[bytes]:
        """The stored lines, oldest first; a missing file has none."""
        try:
            with open(self.path, "rb", buffering=0) as handle:  # one read, no buffer object
                return handle.readall().splitlines()
        except FileNotFoundError:
            return []

    def _save(self, lines: list[bytes]) -> None:
        """Replace the file by an atomic rename: readers see the old or the new file, never half
        of one. No fsync (see the module docstring). Called under the lock, so one temporary
        name per store is enough."""
        tmp = self.path + ".tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                data = memoryview(b"\n".join(lines) + b"\n")
                while data:  # a regular file takes it in one write; a short one is retried
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _encoded(snapshot: Snapshot) -> bytes:
    """One line of the state file: the snapshot without gauges (a reference needs none)."""
    return _ENCODE(snapshot.to_dict(gauges=False)).encode()


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps would make one per call


def _parsed(line: bytes) -> Optional[Snapshot]:
    """The snapshot of one line, or None (debug log) when it is not one."""
    try:
        return Snapshot.from_dict(json.loads(line))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        log.debug("vitals: ignoring an unreadable rate state line: %s", exc)
        return None

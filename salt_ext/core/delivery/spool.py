"""A bounded on-disk spool of payloads that could not be delivered.

One directory per returner and destination profile (under the minion cachedir), one file per
record. A record is written to a temporary name, fsynced and renamed, so a power cut leaves
either the whole record or nothing. Each record carries a header with its length, CRC32, point
count and creation time; a record that fails its check is removed and counted, never blocks
the rest. Files are mode 0600 and hold only the serialized points (never credentials).

Replay takes the oldest records first, in bounded chunks, under an exclusive ``flock`` so two
jobs on one minion never send the same record twice; records are removed only after the
transport accepted them. The spool is bounded by total size and record age: when full, the
oldest records go first and the dropped points are counted in ``stats.json``.

A writer killed between creating its temporary file and renaming it (SIGKILL, power cut)
leaves that file behind. Such files are found again by :meth:`Spool.recover_temp_files`
(on every append, replay and status): a complete, valid record is renamed into the spool
(counted as recovered), anything else is removed (counted as torn), before the size bound is
measured. See :meth:`Spool.recover_temp_files` for how a file with a live writer is told apart.

Nothing here raises into a job for a filesystem that is read-only or full: :meth:`Spool.append`
raises ``OSError`` (the caller logs one line and counts the points as dropped), and
:meth:`Spool.status` reports the condition in its ``filesystem`` field.
"""

import contextlib
import errno
import fcntl
import itertools
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

log = logging.getLogger(__name__)

_MAGIC = b"VSR1"
_HEADER = struct.Struct("!4sIIIQ")  # magic, length, crc32, points, created (ns)
_SUFFIX = ".rec"
_TEMP = ".tmp-"
_STATS = "stats.json"
_SEQUENCE = itertools.count(1)  # process-wide, so two Spool objects never pick the same name
# An empty temporary file this young may belong to a writer between its open() and its
# flock(); older than this, nobody is writing it (a write takes milliseconds).
TEMP_GRACE = 60.0
# Less free space than this and the spool reports its filesystem as full: the next payload of a
# large node (10-20 KiB) may not fit.
FULL_BELOW = 16 * 1024
COUNTERS = (
    "dropped_points",
    "dropped_records",
    "corrupt_records",
    "recovered_records",
    "torn_records",
)


def _checksum(points: int, created: int, payload: bytes) -> int:
    """CRC32 over the header fields and the payload."""
    return zlib.crc32(payload, zlib.crc32(struct.pack("!IQ", points, created)))


def describe(exc: OSError) -> str:
    """A short, clear reason for a filesystem error (the path is logged separately)."""
    if exc.errno == errno.EROFS:
        return "read-only filesystem"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "filesystem full"
    return exc.strerror or str(exc)


class Record:
    """One spooled payload."""

    def __init__(self, name: str, payload: bytes, points: int, created: float) -> None:
        self.name = name
        self.payload = payload
        self.points = points
        self.created = created


def _parse(name: str, data: bytes) -> Optional[Record]:
    """The :class:`Record` in ``data``, or None if it fails its check."""
    if len(data) < _HEADER.size:
        return None
    magic, length, crc, points, created = _HEADER.unpack_from(data)
    payload = data[_HEADER.size :]
    if magic != _MAGIC or length != len(payload) or _checksum(points, created, payload) != crc:
        return None
    return Record(name, payload, points, created / 1e9)


class Spool:
    """A spool directory. ``max_bytes``/``max_age`` bound it; ``clock`` is injectable."""

    def __init__(
        self,
        directory: str,
        max_bytes: int = 20 * 2**20,
        max_age: float = 7 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.clock = clock

    # -- writing -------------------------------------------------------------------------
    def append(self, payload: bytes, points: int) -> bool:
        """Make room within the bounds, then store one payload durably. Returns False (and
        counts it as dropped) when the record alone is larger than ``max_bytes``. Raises
        ``OSError`` when it cannot be stored (read-only or full filesystem); nothing of it
        then stays."""
        self._ensure_dir()
        created = time.time_ns() if self.clock is time.time else int(self.clock() * 1e9)
        name = f"{created:020d}-{_unique()}{_SUFFIX}"
        header = _HEADER.pack(
            _MAGIC, len(payload), _checksum(points, created, payload), points, created
        )
        record = header + payload
        if len(record) > self.max_bytes:
            log.warning(
                "vitals spool %s: a record of %d points is larger than spool_max_bytes: dropped",
                self.directory,
                points,
            )
            self._update_stats(dropped_points=points, dropped_records=1)
            return False
        # Room first, so that the spool stays within its bound even while this record's
        # temporary file exists, and after a kill leaves it behind. Never wait for a replay (it
        # holds the lock while it sends, up to its timeouts, and the push beacon appends from
        # the minion's event loop): the replay enforces the bounds itself before it lets go.
        with self.locked() as acquired:
            if acquired:
                self.enforce_bounds(reserve=len(record))
        self._write(name, record)
        try:
            self._fsync_dir()
        except OSError as exc:  # the record is in place: not a reason to report it lost
            log.warning("vitals spool %s: directory not synced: %s", self.directory, describe(exc))
        return True

    def _write(self, name: str, data: bytes, temp: Optional[str] = None) -> None:
        """Write ``data`` to ``name`` atomically: a temporary file, fsynced, then renamed.

        The writer holds an exclusive ``flock`` on its temporary file from just after creating
        it until after the rename, which is how :meth:`recover_temp_files` tells a live
        writer's file from a dead one's."""
        tmp = os.path.join(self.directory, temp or f"{_TEMP}{name}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.replace(tmp, os.path.join(self.directory, name))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            os.close(fd)

    # -- reading and replay --------------------------------------------------------------
    def names(self) -> list[str]:
        """Record file names, oldest first."""
        return self._scan()[0]

    def waiting(self) -> bool:
        """True when records or temporary files are present (one ``listdir``)."""
        records, temps = self._scan()
        return bool(records or temps)

    def _scan(self) -> tuple[list[str], list[str]]:
        """(record names oldest first, temporary file names)."""
        # A spool that never held anything has no directory (the healthy case): asked without
        # an exception, which costs a freshly forked job's return ~30 us and ~12 page faults.
        if not os.access(self.directory, os.F_OK):
            return [], []
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:  # removed meanwhile
            return [], []
        records = sorted(n for n in entries if n.endswith(_SUFFIX) and not n.startswith("."))
        return records, sorted(n for n in entries if n.startswith(_TEMP))

    def read(self, name: str) -> Optional[Record]:
        """Return the :class:`Record`, or None if it is missing, unreadable or corrupt (a
        corrupt record is then removed and counted)."""
        record, corrupt = self._load(name)
        if corrupt:
            self._remove_corrupt(name)
        return record

    def _load(self, name: str) -> tuple[Optional[Record], bool]:
        """(the record or None, whether it is corrupt). A record the filesystem will not give
        back (EIO on a failing card) is skipped, not removed: it may read again later."""
        try:
            with open(os.path.join(self.directory, name), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None, False
        except OSError as exc:
            log.warning("vitals spool %s: cannot read %s: %s", self.directory, name, describe(exc))
            return None, False
        record = _parse(name, data)
        return record, record is None

    def _remove_corrupt(self, name: str) -> None:
        """Remove a corrupt record and count it once, whoever saw it first."""
        try:
            os.unlink(os.path.join(self.directory, name))
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning(
                "vitals spool %s: corrupt record %s cannot be removed: %s",
                self.directory,
                name,
                describe(exc),
            )
            return
        log.warning("vitals spool %s: removed corrupt record %s", self.directory, name)
        self._update_stats(corrupt_records=1)

    def chunks(self, chunk_bytes: int, max_bytes: int) -> Iterator[list[Record]]:
        """Yield lists of records, oldest first: each list at most ``chunk_bytes`` of payload
        (or one record if a record alone is larger), ``max_bytes`` in all."""
        chunk: list[Record] = []
        size = total = 0
        for name in self.names():
            record = self.read(name)
            if record is None:
                continue
            length = len(record.payload)
            if total + length > max_bytes and total:
                break
            if chunk and size + length > chunk_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append(record)
            size += length
            total += length
        if chunk:
            yield chunk

    def acknowledge(self, records: Iterable[Record]) -> None:
        """Remove records the backend accepted."""
        for record in records:
            self._remove(record.name)

    @contextlib.contextmanager
    def locked(self, blocking: bool = False) -> Iterator[bool]:
        """Exclusive lock over replay and trimming; yields False when not acquired."""
        self._ensure_dir()
        fd = os.open(os.path.join(self.directory, "spool.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    # -- writers that died ---------------------------------------------------------------
    def recover_temp_files(self) -> int:
        """Deal with the temporary files of writers that died; return how many temporary
        files are still there (live writers', or stale ones the filesystem keeps).

        A temporary file is stale when no live writer holds it. Every writer holds an
        exclusive ``flock`` on its temporary file from just after creating it until after
        renaming it, and the kernel drops the locks of a process however it ends (SIGKILL,
        OOM killer, power cut), so a temporary file that can be locked here has no live
        writer, except for the microseconds between a writer's ``open`` and its ``flock``:
        an empty file younger than :data:`TEMP_GRACE` is left alone. (A pid in the name says
        nothing once the pid is reused, which a reboot makes likely, and an age alone must
        either wait long or guess.)

        A stale file holding a complete, valid record is renamed into the spool under the
        record's own name (so it sorts at its creation time) and counted in
        ``recovered_records``; any other stale file is removed, a torn record being counted
        in ``torn_records``. Safe without the spool lock: the file's own lock serialises two
        processes that recover at once.
        """
        outcomes: dict[str, int] = {}
        problem: Optional[str] = None
        for temp in self._scan()[1]:
            try:
                outcome = self._recover(temp)
            except OSError as exc:
                outcome, problem = "kept", problem or f"{temp}: {describe(exc)}"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        recovered, torn = outcomes.get("recovered", 0), outcomes.get("torn", 0)
        if recovered or torn:
            log.warning(
                "vitals spool %s: writers that died left %d complete record(s), recovered, "
                "and %d torn one(s), removed",
                self.directory,
                recovered,
                torn,
            )
            self._update_stats(recovered_records=recovered, torn_records=torn)
        if problem is not None:
            log.warning("vitals spool %s: stale temporary files kept: %s", self.directory, problem)
        return outcomes.get("live", 0) + outcomes.get("kept", 0)

    def _recover(self, temp: str) -> str:
        """Recover or remove one temporary file if it is stale; returns what happened:
        ``live``, ``gone``, ``recovered``, ``torn`` or ``removed``."""
        path = os.path.join(self.directory, temp)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return "gone"
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return "live"
            info = os.fstat(fd)
            try:
                if not os.path.samestat(info, os.stat(path)):
                    return "gone"  # renamed by its writer (or another recoverer) meanwhile
            except FileNotFoundError:
                return "gone"
            if info.st_size == 0 and time.time() - info.st_mtime < TEMP_GRACE:
                return "live"  # may be between its writer's open() and flock()
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read()
            target = temp[len(_TEMP) :]
            is_record = target.endswith(_SUFFIX)
            if is_record and _parse(target, data) is not None:
                os.fsync(fd)  # its writer may have died before its own fsync
                os.rename(path, os.path.join(self.directory, target))
                return "recovered"
            os.unlink(path)
            return "torn" if is_record else "removed"
        finally:
            os.close(fd)

    # -- bounds and status ---------------------------------------------------------------
    def enforce_bounds(self, reserve: int = 0) -> None:
        """Recover what dead writers left, then drop expired records and the oldest ones until
        the records and ``reserve`` more bytes fit in ``max_bytes`` (counted). Call it holding
        :meth:`locked`."""
        self.recover_temp_files()
        names = self.names()
        sizes: dict[str, int] = {}
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                sizes[name] = os.path.getsize(os.path.join(self.directory, name))
        total = sum(sizes.values())
        oldest_allowed = (self.clock() - self.max_age) * 1e9
        dropped_points = dropped_records = 0
        for name in names:
            too_old = int(name.split("-", 1)[0]) < oldest_allowed
            if not too_old and total + reserve <= self.max_bytes:
                break
            record = self.read(name)
            if record is not None:
                dropped_points += record.points
                dropped_records += 1
                self._remove(name)
            total -= sizes.get(name, 0)
        if dropped_records:
            log.warning(
                "vitals spool %s full or expired: dropped %d oldest points (%d records)",
                self.directory,
                dropped_points,
                dropped_records,
            )
            self._update_stats(dropped_points=dropped_points, dropped_records=dropped_records)

    def status(self) -> dict[str, Any]:
        """Counts for ``vitals.spool``: what is waiting, what was ever dropped, and whether the
        filesystem can take records (``filesystem``: ``ok``, ``read-only`` or ``full``).
        Never raises. On a read-only filesystem nothing is removed or rewritten: a corrupt
        record is counted, not removed, and one log line says why."""
        records = points = size = temp_files = corrupt_kept = 0
        oldest: Optional[float] = None
        filesystem = self.filesystem()
        writable = filesystem != "read-only"
        try:
            temp_files = self.recover_temp_files() if writable else len(self._scan()[1])
            for name in self.names():
                record, corrupt = self._load(name)
                if corrupt and writable:
                    self._remove_corrupt(name)
                if corrupt and os.path.lexists(os.path.join(self.directory, name)):
                    corrupt_kept += 1
                if record is None:
                    continue
                records += 1
                points += record.points
                size += len(record.payload)
                oldest = record.created if oldest is None else oldest
        except OSError as exc:
            log.warning("vitals spool %s: cannot list: %s", self.directory, describe(exc))
        status: dict[str, Any] = {
            "records": records,
            "points": points,
            "bytes": size,
            "oldest": oldest,
            "temp_files": temp_files,
            "filesystem": filesystem,
        }
        status.update(self._read_stats(save_reset=writable))
        status["corrupt_records"] += corrupt_kept
        return status

    def filesystem(self) -> str:
        """``read-only``, ``full`` (less than :data:`FULL_BELOW` bytes or no inode free) or
        ``ok``, for the filesystem that holds (or will hold) the spool; logs a line unless
        ``ok``."""
        path = self.directory
        while not os.path.exists(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)
        try:
            fs = os.statvfs(path)
        except OSError as exc:
            log.warning("vitals spool %s: cannot stat its filesystem: %s", path, describe(exc))
            return "unknown"
        root = os.geteuid() == 0  # root may use the blocks reserved for it
        free = (fs.f_bfree if root else fs.f_bavail) * fs.f_frsize
        if fs.f_flag & os.ST_RDONLY:
            state = "read-only"
        elif free < FULL_BELOW or (fs.f_files and not (fs.f_ffree if root else fs.f_favail)):
            state = "full"
        else:
            return "ok"
        log.warning(
            "vitals spool %s: %s filesystem: nothing can be spooled there%s",
            self.directory,
            state,
            "" if state == "full" else ", replayed or removed",
        )
        return state

    def _read_stats(self, save_reset: bool = True) -> dict[str, Any]:
        """The counters of ``stats.json``. A file that does not hold counters (garbage after a
        crash, a bad edit) is never read as zeros silently: the counters restart from 0, and
        ``counters_reset`` (logged once, and kept in the file) says since when."""
        stats: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
        stats["counters_reset"] = None
        try:
            with open(os.path.join(self.directory, _STATS), "rb") as handle:
                problem = _stats_problem(raw := handle.read())
        except FileNotFoundError:
            return stats
        except OSError as exc:
            raw, problem = b"", describe(exc)
        if problem is None:
            stats.update(json.loads(raw))
            return {key: stats[key] for key in (*COUNTERS, "counters_reset")}
        stats["counters_reset"] = self.clock()
        log.warning(
            "vitals spool %s: %s is unusable (%s): its counters restart from 0 now",
            self.directory,
            _STATS,
            problem,
        )
        if save_reset:
            self._write_stats(stats)
        return stats

    def _update_stats(self, **increments: int) -> None:
        stats = self._read_stats()
        for key, value in increments.items():
            stats[key] += value
        self._write_stats(stats)

    def _write_stats(self, stats: dict[str, Any]) -> None:
        try:
            self._write(_STATS, json.dumps(stats).encode(), temp=f"{_TEMP}{_STATS}-{_unique()}")
        except OSError as exc:
            log.warning("vitals spool %s: counters not saved: %s", self.directory, describe(exc))

    def _remove(self, name: str) -> bool:
        """Delete a record; True if this call removed it."""
        try:
            os.unlink(os.path.join(self.directory, name))
        except FileNotFoundError:
            return False
        return True

    def _ensure_dir(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unique() -> str:
    """Unique among every writer of this host: pid, thread and a process-wide sequence."""
    return f"{os.getpid():010d}-{threading.get_ident() % 10**8:08d}-{next(_SEQUENCE):010d}"


def _stats_problem(raw: bytes) -> Optional[str]:
    """Why ``raw`` is not a valid ``stats.json``, or None."""
    try:
        data = json.loads(raw)
    except ValueError:
        return "not JSON"
    if not isinstance(data, dict):
        return "not a JSON object"
    for key in COUNTERS:
        value = data.get(key, 0)
        if type(value) is not int or value < 0:
            return f"{key} is {value!r}"
    reset = data.get("counters_reset")
    if reset is not None and type(reset) not in (int, float):
        return f"counters_reset is {reset!r}"
    return None

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
"""

import contextlib
import fcntl
import itertools
import json
import logging
import os
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

log = logging.getLogger(__name__)

_MAGIC = b"VSR1"
_HEADER = struct.Struct("!4sIIIQ")  # magic, length, crc32, points, created (ns)
_SUFFIX = ".rec"
_SEQUENCE = itertools.count(1)  # process-wide, so two Spool objects never pick the same name


def _checksum(points: int, created: int, payload: bytes) -> int:
    """CRC32 over the header fields and the payload."""
    return zlib.crc32(payload, zlib.crc32(struct.pack("!IQ", points, created)))


class Record:
    """One spooled payload."""

    def __init__(self, name: str, payload: bytes, points: int, created: float) -> None:
        self.name = name
        self.payload = payload
        self.points = points
        self.created = created


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
        """Store one payload durably, then enforce the bounds. Returns False when the bounds
        removed this very record (it alone is larger than ``max_bytes``)."""
        self._ensure_dir()
        created = time.time_ns() if self.clock is time.time else int(self.clock() * 1e9)
        unique = f"{os.getpid():010d}-{threading.get_ident() % 10**8:08d}-{next(_SEQUENCE):010d}"
        name = f"{created:020d}-{unique}{_SUFFIX}"
        header = _HEADER.pack(
            _MAGIC, len(payload), _checksum(points, created, payload), points, created
        )
        tmp = os.path.join(self.directory, f".tmp-{name}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header + payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, os.path.join(self.directory, name))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._fsync_dir()
        with self.locked(blocking=True):
            self._enforce_bounds()
        return os.path.exists(os.path.join(self.directory, name))

    # -- reading and replay --------------------------------------------------------------
    def names(self) -> list[str]:
        """Record file names, oldest first."""
        try:
            return sorted(
                n
                for n in os.listdir(self.directory)
                if n.endswith(_SUFFIX) and not n.startswith(".")
            )
        except FileNotFoundError:
            return []

    def read(self, name: str) -> Optional[Record]:
        """Return the :class:`Record` or None if it is corrupt (it is then removed and counted)."""
        path = os.path.join(self.directory, name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        if len(data) >= _HEADER.size:
            magic, length, crc, points, created = _HEADER.unpack_from(data)
            payload = data[_HEADER.size :]
            valid = magic == _MAGIC and length == len(payload)
            if valid and _checksum(points, created, payload) == crc:
                return Record(name, payload, points, created / 1e9)
        if self._remove(name):  # count it once, whoever saw it first
            log.warning("vitals spool %s: removed corrupt record %s", self.directory, name)
            self._update_stats(corrupt_records=1)
        return None

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

    # -- bounds and status ---------------------------------------------------------------
    def _enforce_bounds(self) -> None:
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
            if not too_old and total <= self.max_bytes:
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
        """Counts for ``vitals.spool``: what is waiting and what was ever dropped."""
        records = points = size = 0
        oldest: Optional[float] = None
        for name in self.names():
            record = self.read(name)
            if record is None:
                continue
            records += 1
            points += record.points
            size += len(record.payload)
            oldest = record.created if oldest is None else oldest
        status = {"records": records, "points": points, "bytes": size, "oldest": oldest}
        status.update(self._read_stats())
        return status

    def _read_stats(self) -> dict[str, int]:
        stats = {"dropped_points": 0, "dropped_records": 0, "corrupt_records": 0}
        try:
            with open(os.path.join(self.directory, "stats.json"), encoding="utf-8") as handle:
                stats.update({k: int(v) for k, v in json.load(handle).items() if k in stats})
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        return stats

    def _update_stats(self, **increments: int) -> None:
        stats = self._read_stats()
        for key, value in increments.items():
            stats[key] += value
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".stats-")  # mode 0600
        with os.fdopen(fd, "w") as handle:
            json.dump(stats, handle)
        os.replace(tmp, os.path.join(self.directory, "stats.json"))

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

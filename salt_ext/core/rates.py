"""Rate state kept between Salt jobs, and the arithmetic on cumulative counters.

Salt runs every job in a fresh forked process, so nothing like ``psutil.cpu_percent()`` can keep
its reference in memory. Instead each collection stores its cumulative counters (a
:class:`Snapshot`) in a small JSON file under the minion cachedir, and the next collection
computes rates against it. :class:`RateStore` serializes concurrent jobs with ``flock``.
"""

import contextlib
import fcntl
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

log = logging.getLogger(__name__)

STATE_FILE = "vitals-rates.json"
LOCK_FILE = "vitals-rates.lock"
STATE_VERSION = 1

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "boot_time": self.boot_time,
            "gauges": self.gauges,
            "counters": self.counters,
        }

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
        counters = {str(k): v for k, v in counters.items() if _is_number(v)}
        return cls(ts, boot_time, gauges, counters)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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


class RateStore:
    """The previous snapshots of this minion, in ``<state_dir>/vitals-rates.json``.

    Keeps at most two snapshots (older, newer) so that a job starting right after another still
    finds a reference at least ``min_interval`` old.
    """

    def __init__(self, state_dir: Union[str, "os.PathLike[str]"]) -> None:
        self.state_dir = os.fspath(state_dir)
        self.path = os.path.join(self.state_dir, STATE_FILE)
        self.lock_path = os.path.join(self.state_dir, LOCK_FILE)

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
                # Snapshots of another boot or from far in the future (the clock was stepped
                # back) can never serve again.
                stored = [
                    s for s in self._load() if same_boot(s, current) and s.ts - current.ts < max_age
                ]
                usable = [s for s in stored if is_reference(s, current, min_interval, max_age)]
                ref = usable[-1] if usable else None
                if not stored or current.ts - stored[-1].ts >= min_interval:
                    self._save(stored[-1:] + [current])
        except OSError as exc:
            log.warning("vitals: rate state in %s unusable: %s", self.state_dir, exc)
        return ref

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _load(self) -> list[Snapshot]:
        """Stored snapshots, oldest first; a missing or corrupt file reads as empty."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            snapshots = [Snapshot.from_dict(item) for item in data["snapshots"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("vitals: ignoring unreadable rate state %s: %s", self.path, exc)
            return []
        return sorted(snapshots, key=lambda s: s.ts)

    def _save(self, snapshots: list[Snapshot]) -> None:
        """Write atomically: a crash leaves either the old or the new file, never half of one."""
        data = {"version": STATE_VERSION, "snapshots": [s.to_dict() for s in snapshots]}
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".vitals-rates.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

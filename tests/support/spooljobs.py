"""Real ``salt-call`` jobs against a spool in trouble, and the bookkeeping of where their points
went: for the fault tests (``tests/integration/faults``) and ``bench/crash_spool.py``.

* :class:`SaltCallMinion`: a throwaway minion config whose ``vitals.push`` jobs deliver to a
  carbon and an InfluxDB (through :mod:`support.faults`' counting proxies); a job can run
  under ``strace`` with one syscall delayed and be SIGKILLed at a chosen moment, which puts the
  kill exactly where a test wants it (after the record is written and before its rename; with
  its temporary file still empty; after the backend took a replay and before the spool let go).
* :func:`tmpfs` and :func:`read_only`: real filesystems under the spool (root only).
* :class:`Ledger`: per backend, the points jobs handed off (sent or spooled), those that landed
  in the backend (queried back), and so those lost; the proxies count those received twice.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from support.lineprotocol import go_parse
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import poll
from vitals_daemons.whisper_files import read_tree

BACKENDS = ("carbon", "influxdb")
HEADER = struct.Struct("!4sIIIQ")  # the spool's record header: magic, length, crc, points, ns
STRACE = shutil.which("strace")


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def tmpfs(path: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted at ``path`` (created), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        _unmount(path)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` remounted read-only (a read-only bind mount over itself) until the end, as the
    kernel remounts a card after I/O errors."""
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield path
    finally:
        _unmount(path)


def _unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], check=True)


def read_record(path: Path) -> tuple[int, bytes] | None:
    """``(points, payload)`` of a complete spool record file, else None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < HEADER.size:
        return None
    _magic, length, _crc, points, _created = HEADER.unpack_from(data)
    payload = data[HEADER.size :]
    return (points, payload) if len(payload) == length else None


def points_by_ts(backend: str, payload: bytes) -> collections.Counter[int]:
    """Points of a serialized payload, by timestamp (carbon plaintext or line protocol)."""
    if backend == "carbon":
        return collections.Counter(int(line.split()[2]) for line in payload.splitlines())
    return collections.Counter(
        int(ts) for _m, _tags, fields, ts in go_parse(payload) for _field in fields
    )


class SaltCallMinion:
    """``salt-call --local`` jobs of one minion id, delivering to both backends."""

    def __init__(self, root: Path, minion_id: str, carbon_port: int, influx_url: str) -> None:
        self.root = root
        self.id = minion_id
        self.conf = root / "conf"
        self.conf.mkdir(parents=True, exist_ok=True)
        self.log_file = root / "minion.log"
        self.cachedir = root / "var" / "cache" / "salt" / "minion"
        self.spool_root = self.cachedir / "vitals" / "spool"
        self.config = {
            "id": minion_id,
            "root_dir": str(root),
            "file_client": "local",
            "log_file": str(self.log_file),
            "log_level_logfile": "info",
            "carbon": {"host": "127.0.0.1", "port": carbon_port, "timeout": 1},
            "influxdb": {"url": influx_url, "db": "faults", "timeout": 1},
            # fewer whisper files for carbon to create: the tests count points, not groups
            "vitals": {"groups": ["cpu", "load", "mem", "swap", "system"]},
        }
        self.write_config()

    def write_config(self) -> None:
        (self.conf / "minion").write_text(json.dumps(self.config))

    def spool(self, backend: str) -> Path:
        return self.spool_root / ("carbon-default" if backend == "carbon" else "influxdb-default-s")

    def command(self, *args: str) -> list[str]:
        script = Path(sys.executable).parent / "salt-call"
        return [str(script), "--local", "-c", str(self.conf), "--out=json", *args]

    def call(self, *args: str, timeout: float = 120, retcodes: tuple[int, ...] = (0,)) -> Any:
        """The ``local`` return of a job; fails the test unless it exits in time with one of
        ``retcodes``."""
        done = subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode in retcodes, f"salt-call {args}: {done.returncode}\n{done.stderr}"
        return json.loads(done.stdout)["local"]

    def push(self) -> dict[str, Any]:
        """One ``vitals.push`` to both backends, in a second of its own: the receipt (exit
        status 1 when a backend did not get its points at once)."""
        next_second()
        return self.call("vitals.push", "returners=carbon,influxdb", retcodes=(0, 1))

    def killed_push(
        self,
        syscall: str,
        ready: Callable[[], Any],
        paths: tuple[Path, ...] = (),
        delay: float = 5.0,
    ) -> int:
        """A ``vitals.push`` under ``strace`` with every ``syscall`` (on one of ``paths``, if
        given) delayed by ``delay`` s, SIGKILLed as soon as ``ready()`` is true. Returns the
        pid of the killed job."""
        assert STRACE is not None
        next_second()
        strace = [STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "signal=none", "-o", "/dev/null"]
        strace += [
            "-e",
            f"trace={syscall}",
            "-e",
            f"inject={syscall}:delay_enter={delay * 1e6:.0f}",
        ]
        for path in paths:
            strace += ["-P", str(path)]
        command = strace + self.command("vitals.push", "returners=carbon,influxdb")
        with subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) as tracer:
            try:
                poll(ready, 60, f"the moment to kill a job delaying {syscall}", interval=0.01)
                (job,) = psutil.Process(tracer.pid).children()
                job.kill()
                return job.pid
            finally:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    tracer.wait(timeout=10)
                tracer.kill()

    def files_of(self, backend: str, pid: int) -> list[Path]:
        """Records and temporary files the process ``pid`` left in a spool."""
        spool = self.spool(backend)
        if not spool.is_dir():
            return []
        return sorted(p for p in spool.iterdir() if f"-{pid:010d}-" in p.name)

    def log_since(self, offset: int) -> list[str]:
        """Lines of the minion log written after byte ``offset``."""
        with open(self.log_file, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace").splitlines()

    def log_size(self) -> int:
        return self.log_file.stat().st_size if self.log_file.exists() else 0


def switch(proxies: dict[str, Any], mode: str) -> None:
    """Every proxy ``up``, ``down`` (refused) or into a ``blackhole`` (connections time out)."""
    for proxy in proxies.values():
        getattr(proxy, mode)()


def complete_temp(spool: Path) -> Path | None:
    """A temporary record file in ``spool`` that holds its whole record."""
    for temp in spool.glob(".tmp-*.rec") if spool.is_dir() else ():
        if read_record(temp) is not None:
            return temp
    return None


def next_second() -> None:
    """Sleep into the next second: each job collects in a second of its own (the backends key
    points by whole seconds, and so does the ledger)."""
    time.sleep(1 - time.time() % 1 + 0.02)


class HandedCollections:
    """The collections a push-mode minion handed over (its debug log line for each), read
    from ``log_file`` from the size it has now on: ``{ts: points}``."""

    LINE = re.compile(rb"vitals push: collection of ts (\d+) \((\d+) points\) handed to")

    def __init__(self, log_file: str) -> None:
        self.path = log_file
        self.offset = os.path.getsize(log_file) if os.path.exists(log_file) else 0

    def since_start(self) -> collections.Counter[int]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                text = handle.read()
        except FileNotFoundError:  # the minion has not logged yet
            return collections.Counter()
        return collections.Counter({int(ts): int(n) for ts, n in self.LINE.findall(text)})


# -- what landed ------------------------------------------------------------------------------


def carbon_landed(carbon: CarbonCache, minion: str, since: int) -> collections.Counter[int]:
    """Points of ``minion`` stored in whisper since ``since``, by timestamp."""
    found: collections.Counter[int] = collections.Counter()
    tree = read_tree(carbon.whisper_dir / "vitals" / minion, since, int(time.time()) + 1)
    for points in tree.values():
        found.update(ts for ts, _ in points)
    return found


def influx_landed(influxd: InfluxD, db: str, minion: str, since: int) -> collections.Counter[int]:
    """Field values of ``minion`` stored in ``db`` since ``since``, by timestamp."""
    query = (
        f"SELECT COUNT(*) FROM /.*/ WHERE \"host\" = '{minion}' AND time >= {since}s "
        f"AND time <= {int(time.time()) + 1}s GROUP BY time(1s) fill(none)"
    )
    try:
        series = influxd.query(query, db=db)["results"][0].get("series", [])
    except Exception:  # the database does not exist yet
        return collections.Counter()
    found: collections.Counter[int] = collections.Counter()
    for serie in series:
        for row in serie["values"]:
            found[int(row[0])] += sum(v for v in row[1:] if v)
    return found


# -- the ledger -------------------------------------------------------------------------------


class Ledger:
    """Where the points of a fault test went, per backend.

    *sent*: points jobs handed off, by timestamp (a receipt's points; for a killed job, what
    it left in the spool or put on the wire); *spooled*: those that went through the spool;
    *reported*: those a job or the spool said were lost (a receipt's ``dropped``, a corrupt
    record); *landed*: distinct points queried back from the backend; *lost*: sent but not
    landed; *injected*: landed but never sent; *duplicated*: received more than once by the
    backend (the proxy counts; the backend stores such a point once)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = {b: collections.Counter[int]() for b in BACKENDS}
        self.spooled = dict.fromkeys(BACKENDS, 0)
        self.reported = dict.fromkeys(BACKENDS, 0)
        self.since = int(time.time())

    def receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        for backend in BACKENDS:
            status = receipt[backend]
            self.sent[backend][receipt["ts"]] += receipt["points"]
            if status.startswith("spooled"):
                self.spooled[backend] += receipt["points"]
            elif status.startswith("dropped"):
                self.reported[backend] += receipt["points"]
        return receipt

    def handed_off(self, backend: str, by_ts: collections.Counter[int], spooled: bool) -> None:
        self.sent[backend].update(by_ts)
        if spooled:
            self.spooled[backend] += sum(by_ts.values())

    def from_wire(self, backend: str, proxy: Any, minion: str, since: float, until: float) -> None:
        """A job killed after it sent: what the backend received from it (by its collection
        time, between ``since`` and ``until``) is what it handed off."""
        for ts, points in proxy.received_by_ts(minion).items():
            if since - 1 <= ts <= until and ts not in self.sent[backend]:
                self.sent[backend][ts] = points

    def tally(
        self,
        backend: str,
        landed: collections.Counter[int],
        duplicated: int,
    ) -> dict[str, Any]:
        sent = self.sent[backend]
        stamps = set(sent) | set(landed)
        return {
            "fault": self.name,
            "backend": backend,
            "sent": sum(sent.values()),
            "spooled": self.spooled[backend],
            "landed": sum(landed.values()),
            "lost": sum(max(0, sent[ts] - landed[ts]) for ts in stamps),
            "reported_lost": self.reported[backend],
            "injected": sum(max(0, landed[ts] - sent[ts]) for ts in stamps),
            "duplicated": duplicated,
        }

    def settle(
        self,
        minion: str,
        carbon: CarbonCache,
        influxd: InfluxD,
        proxies: dict[str, Any],
        expect_lost: dict[str, int] | None = None,
        timeout: float = 30,
        until: float | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Wait until each backend holds what was sent (less ``expect_lost``), then tally; a
        row per backend, printed for the record. ``until``: points collected later are not
        counted (a minion that goes on pushing)."""
        expect_lost = expect_lost or dict.fromkeys(BACKENDS, 0)
        readers = {
            "carbon": lambda: carbon_landed(carbon, minion, self.since),
            "influxdb": lambda: influx_landed(influxd, "faults", minion, self.since),
        }
        rows = {}
        for backend, read in readers.items():
            want = sum(self.sent[backend].values()) - expect_lost[backend]
            with contextlib.suppress(TimeoutError):
                poll(lambda r=read, w=want: sum(r().values()) >= w, timeout, backend)
            time.sleep(0.5)  # anything more (injected, late) shows too
            landed = collections.Counter(
                {ts: n for ts, n in read().items() if until is None or ts <= until}
            )
            rows[backend] = self.tally(backend, landed, proxies[backend].duplicated(minion))
            print(f"\nledger {json.dumps(rows[backend])}")
        return rows

"""Reading what carbon stored: the one whisper reader of the demo, the tests and the benches.

Metrics are named as carbon names them, dotted paths relative to a whisper directory
(``vitals.node.cpu.percent`` is ``<dir>/vitals/node/cpu/percent.wsp``). A file that does not
exist, is still being created or vanishes while read holds no points yet: readers poll.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

try:
    import whisper
except ImportError:  # carbon/whisper are test extras; CarbonCache then reports it
    whisper = None

AVAILABLE = whisper is not None
Points = list[tuple[int, float]]


def metric_file(whisper_dir: Path, path: str) -> Path:
    """Whisper file of dotted metric ``path`` under ``whisper_dir`` (may not exist yet)."""
    *dirs, leaf = path.split(".")
    return whisper_dir.joinpath(*dirs, leaf + ".wsp")


def metric_name(whisper_dir: Path, wsp: Path) -> str:
    """Dotted metric name of the whisper file ``wsp`` under ``whisper_dir``."""
    return ".".join(wsp.relative_to(whisper_dir).with_suffix("").parts)


def metric_names(whisper_dir: Path) -> list[str]:
    """Sorted dotted names of all metrics that have a whisper file under ``whisper_dir``."""
    return sorted(metric_name(whisper_dir, wsp) for wsp in whisper_dir.rglob("*.wsp"))


def read_points(wsp: Path, from_ts: Optional[int] = None, until_ts: Optional[int] = None) -> Points:
    """Stored ``(timestamp, value)`` points of the file ``wsp``, empty slots dropped.

    Both bounds are inclusive. ``from_ts`` defaults to the start of the finest archive; an
    older ``from_ts`` makes whisper answer from a coarser archive. ``until_ts`` defaults to
    now; points in the future are returned if ``until_ts`` covers them.
    """
    now = int(time.time())
    if until_ts is not None:
        now = max(now, int(until_ts))
    try:
        if from_ts is None:
            header = whisper.info(str(wsp))  # None when the file cannot be opened
            if header is None:
                return []
            start = now - header["archives"][0]["retention"]
        else:
            start = int(from_ts) - 1  # whisper's lower bound is exclusive
        result = whisper.fetch(str(wsp), start, until_ts, now=now)
    except (whisper.WhisperException, OSError):  # not there, being created, vanished
        return []
    if result is None:  # the window lies outside the file's retention
        return []
    (begin, _end, step), values = result
    return [(begin + i * step, float(v)) for i, v in enumerate(values) if v is not None]


def read_tree(
    top: Path, from_ts: Optional[int] = None, until_ts: Optional[int] = None
) -> dict[str, Points]:
    """:func:`read_points` of every whisper file under ``top``, by dotted name relative to
    ``top`` (``{}`` when ``top`` does not exist)."""
    return {
        metric_name(top, wsp): read_points(wsp, from_ts, until_ts)
        for wsp in sorted(top.rglob("*.wsp"))
    }

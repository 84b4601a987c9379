"""The backends of the read-back integration tests: carbon-cache, Debian's graphite-web reading
its files, and influxd, all on loopback under one directory (not a test module)."""

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vitals_daemons.carbon import CarbonCache
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable


@contextlib.contextmanager
def graphite_and_influxd(
    root: Path, **influxd: Any
) -> Iterator[tuple[CarbonCache, GraphiteWeb, InfluxD]]:
    """carbon-cache, graphite-web and influxd (``influxd``: its options, e.g. ``auth=True``)
    started under ``root`` and stopped on exit; the test skips where one cannot run here."""
    if shutil.which("influxd") is None:
        pytest.skip("influxd is not installed")
    try:
        carbon = CarbonCache(root / "carbon")
        web = GraphiteWeb(root / "graphite-web", carbon)
        influx = InfluxD(root / "influxd", **influxd)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with carbon, web, influx:
        yield carbon, web, influx

"""Single-node VictoriaMetrics: a second reader of the InfluxDB line protocol (and of Graphite
plaintext), with an export API to read back what it stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vitals_daemons import process
from vitals_daemons.process import BackendError, _HTTPDaemon, free_port, poll, tcp_accepts


class VictoriaMetrics(_HTTPDaemon):
    """Single-node ``victoria-metrics`` with ``-storageDataPath=<root>/data``.

    Started with ``-search.latencyOffset=0s`` and ``-search.disableCache``;
    :meth:`export` calls ``/internal/force_flush`` first, because a *new*
    series otherwise only becomes searchable after ~5-10 s.  With
    ``graphite=True`` it also accepts Graphite plaintext on
    :attr:`graphite_port` (TCP and UDP).

    Influx line protocol (``/write``, ``/api/v2/write``; any
    ``Authorization`` header is ignored) becomes one series per field named
    ``<measurement>_<field>`` with the tags as labels; ``true``/``false``
    are stored as 1/0, string fields as 0.
    """

    name = "victoria-metrics"

    def __init__(self, root: Path, graphite: bool = False) -> None:
        super().__init__(root)
        self._binary = process.require_executable("victoria-metrics")
        self.graphite_port: int | None = free_port() if graphite else None
        self.data_dir = self.root / "data"

    def _command(self) -> list[str]:
        command = [
            self._binary,
            f"-storageDataPath={self.data_dir}",
            f"-httpListenAddr={self.host}:{self.http_port}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
        ]
        if self.graphite_port is not None:
            command.append(f"-graphiteListenAddr={self.host}:{self.graphite_port}")
        return command

    def _is_ready(self) -> bool:
        graphite_ok = self.graphite_port is None or tcp_accepts(self.host, self.graphite_port)
        return graphite_ok and self._probe("/health", 200)

    def force_flush(self) -> None:
        """Make all ingested samples searchable now."""
        self._http.get(self.url + "/internal/force_flush", timeout=10).raise_for_status()

    def export(
        self,
        match: str = '{__name__=~".+"}',
        start: float | None = None,
        end: float | None = None,
        flush: bool = True,
    ) -> list[dict[str, Any]]:
        """Series matching ``match`` from /api/v1/export.

        Each item: ``{"metric": {"__name__": ..., label: value},
        "values": [...], "timestamps": [... milliseconds ...]}``.
        """
        if flush:
            self.force_flush()
        params: dict[str, Any] = {"match[]": match}
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        response = self._http.post(self.url + "/api/v1/export", data=params, timeout=10)
        if response.status_code != 200:
            raise BackendError(f"export {match!r}: HTTP {response.status_code} {response.text}")
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def wait_for_series(
        self, match: str, timeout: float = 20.0, min_samples: int = 1
    ) -> list[dict[str, Any]]:
        """Poll :meth:`export` until ``match`` has ``min_samples`` samples in total."""

        def probe() -> list[dict[str, Any]] | None:
            series = self.export(match)
            return series if sum(len(s["values"]) for s in series) >= min_samples else None

        return poll(probe, timeout, f"series {match}", interval=0.2)

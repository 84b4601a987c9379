"""carbon-cache, the Graphite backend the demo, the tests and the benches write to; what it
stores is read through :mod:`vitals_daemons.whisper_files`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from vitals_daemons import process, whisper_files
from vitals_daemons.process import BackendUnavailable, _Daemon, free_port, poll, tcp_accepts


class CarbonCache(_Daemon):
    """carbon-cache (PyPI ``carbon`` 1.1.x) storing whisper files under ``root``.

    Layout: ``conf/`` (carbon.conf, storage-schemas.conf,
    storage-aggregation.conf), ``storage/whisper/`` (data),
    ``storage/carbon-cache-a.pid`` and ``carbon-cache.log`` (``--debug``
    makes carbon log to stdout, so ``storage/log/`` stays unused).

    Retention is :attr:`RETENTIONS` = ``1s:30m,60s:1d`` for every metric:
    each point keeps its exact second for 30 minutes (then 1-minute
    averages for a day, ``xFilesFactor = 0`` so sparse points still
    aggregate).  Whisper preallocates ~39 KB per metric.  Carbon's own
    ``carbon.agents.*`` metrics are disabled (``CARBON_METRIC_INTERVAL = 0``)
    so :meth:`metrics` only lists what the test sent.
    """

    name = "carbon-cache"
    RETENTIONS: ClassVar[str] = "1s:30m,60s:1d"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._script = self._find_script()
        self.line_port = free_port()
        self.pickle_port = free_port()
        self.cache_query_port = free_port()
        self.conf_dir = self.root / "conf"
        self.storage_dir = self.root / "storage"
        self.whisper_dir = self.storage_dir / "whisper"

    @staticmethod
    def _find_script() -> list[str]:
        """Run ``carbon-cache.py`` with the test interpreter if it is ours."""
        if not whisper_files.AVAILABLE:
            raise BackendUnavailable("the whisper module is not installed")
        local = Path(sys.executable).parent / "carbon-cache.py"
        if local.is_file():
            return [sys.executable, str(local)]
        return [process.require_executable("carbon-cache.py")]

    @property
    def config_path(self) -> Path:
        return self.conf_dir / "carbon.conf"

    def _write_config(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.whisper_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "USER": "",
            "STORAGE_DIR": self.storage_dir,
            "LOCAL_DATA_DIR": self.whisper_dir,
            "WHITELISTS_DIR": self.storage_dir / "lists",
            "LOG_DIR": self.storage_dir / "log",
            "PID_DIR": self.storage_dir,
            "DATABASE": "whisper",
            "ENABLE_TAGS": "False",
            "LINE_RECEIVER_INTERFACE": self.host,
            "LINE_RECEIVER_PORT": self.line_port,
            "PICKLE_RECEIVER_INTERFACE": self.host,
            "PICKLE_RECEIVER_PORT": self.pickle_port,
            "CACHE_QUERY_INTERFACE": self.host,
            "CACHE_QUERY_PORT": self.cache_query_port,
            "ENABLE_UDP_LISTENER": "False",
            "ENABLE_MANHOLE": "False",
            "ENABLE_AMQP": "False",
            "MAX_CACHE_SIZE": "inf",
            "MAX_UPDATES_PER_SECOND": "inf",
            "MAX_CREATES_PER_MINUTE": "inf",
            "CACHE_WRITE_STRATEGY": "sorted",
            "CARBON_METRIC_INTERVAL": 0,
            "LOG_UPDATES": "False",
            "LOG_CACHE_HITS": "False",
            "LOG_CACHE_QUEUE_SORTS": "False",
            "LOG_CREATES": "True",
            "LOG_LISTENER_CONN_SUCCESS": "False",
            "WHISPER_AUTOFLUSH": "False",
        }
        body = "".join(f"{key} = {value}\n" for key, value in settings.items())
        self.config_path.write_text("[cache]\n" + body)
        (self.conf_dir / "storage-schemas.conf").write_text(
            f"[everything]\npattern = .*\nretentions = {self.RETENTIONS}\n"
        )
        (self.conf_dir / "storage-aggregation.conf").write_text(
            "[everything]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n"
        )

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env.update(
            GRAPHITE_ROOT=str(self.root),
            GRAPHITE_CONF_DIR=str(self.conf_dir),
            GRAPHITE_STORAGE_DIR=str(self.storage_dir),
            PYTHONUNBUFFERED="1",
            # carbon_pb2.py predates protobuf 4; the pure-Python backend still loads it.
            PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python",
        )
        return env

    def _command(self) -> list[str]:
        return [*self._script, f"--config={self.config_path}", "--debug", "start"]

    def _is_ready(self) -> bool:
        return tcp_accepts(self.host, self.line_port) and tcp_accepts(self.host, self.pickle_port)

    # -- what it stored (vitals_daemons.whisper_files) ---------------------------------------

    def metric_file(self, path: str) -> Path:
        """Whisper file of dotted metric ``path`` (may not exist yet)."""
        return whisper_files.metric_file(self.whisper_dir, path)

    def metrics(self) -> list[str]:
        """Sorted dotted names of all metrics that have a whisper file."""
        return whisper_files.metric_names(self.whisper_dir)

    def fetch(
        self, path: str, from_ts: int | None = None, until_ts: int | None = None
    ) -> whisper_files.Points:
        """Stored ``(timestamp, value)`` points of ``path``, None slots dropped; none while its
        file does not exist or is being created.

        Both bounds are inclusive.  ``from_ts`` defaults to the start of the
        1 s archive (now - 30 min); an older ``from_ts`` makes whisper answer
        from the coarser 60 s archive.  ``until_ts`` defaults to now; points
        in the future are returned if ``until_ts`` covers them.
        """
        return whisper_files.read_points(self.metric_file(path), from_ts, until_ts)

    def wait_for_metric(self, path: str, timeout: float = 20.0) -> Path:
        """Wait until the whisper file of ``path`` exists; return it."""
        wsp = self.metric_file(path)
        return poll(lambda: wsp if wsp.exists() else None, timeout, f"whisper file {wsp}")

    def wait_for_points(
        self,
        path: str,
        n: int,
        timeout: float = 20.0,
        from_ts: int | None = None,
        until_ts: int | None = None,
    ) -> whisper_files.Points:
        """Wait until :meth:`fetch` returns at least ``n`` points; return them."""

        def probe() -> whisper_files.Points | None:
            points = self.fetch(path, from_ts, until_ts)
            return points if len(points) >= n else None

        return poll(probe, timeout, f"{n} points of {path}", interval=0.2)

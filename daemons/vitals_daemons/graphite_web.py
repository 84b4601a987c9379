"""Debian's graphite-web under gunicorn, reading one carbon-cache: the render/find API the
read-back runners (``vitals.top``, ``vitals.history``) query."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import ClassVar

from vitals_daemons import process
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.process import _HTTPDaemon


class GraphiteWeb(_HTTPDaemon):
    """Debian's graphite-web (render/find API) under gunicorn, reading a :class:`CarbonCache`.

    Everything lives under ``root``: ``local_settings.py`` (loaded with
    ``GRAPHITE_SETTINGS_MODULE=local_settings``), the sqlite DB migrated at start, logs and
    the search index. It reads the carbon-cache's whisper directory and asks its cache query
    port (CARBONLINK) for points not yet flushed, so a point is readable right after carbon
    received it. Caching is off: every render reads whisper anew. It runs under the system
    ``python3`` (Debian's graphite-web and Django live there, not in the test venv).
    """

    name = "graphite-web"
    start_timeout = 60.0
    PYTHON: ClassVar[str] = "/usr/bin/python3"
    WEBAPP_DIR: ClassVar[Path] = Path("/usr/lib/python3/dist-packages/graphite")

    def __init__(self, root: Path, carbon: CarbonCache, workers: int = 2) -> None:
        super().__init__(root)
        self._python = process.require_file(Path(self.PYTHON), "python3")
        process.require_file(self.WEBAPP_DIR / "wsgi.py", "graphite-web")
        self._gunicorn = process.require_executable("gunicorn")
        self.carbon = carbon
        self.workers = workers
        self.storage_dir = self.root / "storage"

    def _write_config(self) -> None:
        (self.storage_dir / "log").mkdir(parents=True, exist_ok=True)
        settings = {
            "SECRET_KEY": "salt-vitals-test-only",
            "ALLOWED_HOSTS": ["*"],
            "GRAPHITE_ROOT": "/usr/share/graphite-web",
            "STATIC_ROOT": "/usr/share/graphite-web/static",
            "CONF_DIR": str(self.root),
            "STORAGE_DIR": str(self.storage_dir),
            "LOG_DIR": str(self.storage_dir / "log"),
            "INDEX_FILE": str(self.storage_dir / "index"),
            "WHISPER_DIR": str(self.carbon.whisper_dir) + "/",
            "STANDARD_DIRS": [str(self.carbon.whisper_dir) + "/"],
            "CARBONLINK_HOSTS": [f"{self.carbon.host}:{self.carbon.cache_query_port}"],
            "DATABASES": {
                "default": {
                    "NAME": str(self.storage_dir / "graphite.db"),
                    "ENGINE": "django.db.backends.sqlite3",
                }
            },
            "DEFAULT_CACHE_DURATION": 0,
            "FIND_CACHE_DURATION": 0,
            "CACHES": {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
            "DEFAULT_XFILES_FACTOR": 0,
            "LOG_ROTATION": False,
            "USE_WORKER_POOL": False,
            "TAGDB": "",
            "FUNCTION_PLUGINS": [],
        }
        body = "".join(f"{key} = {value!r}\n" for key, value in settings.items())
        (self.root / "local_settings.py").write_text(body)
        subprocess.run(
            [self._python, "-m", "django", "migrate", "--run-syncdb", "--verbosity", "0"],
            cwd=self.root,
            env=self._environment(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "ab"),  # noqa: SIM115 - closed with the process
            check=True,
            timeout=120,
        )

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env.update(
            PYTHONPATH=str(self.root),
            DJANGO_SETTINGS_MODULE="graphite.settings",
            GRAPHITE_SETTINGS_MODULE="local_settings",
            PYTHONUNBUFFERED="1",
        )
        env.pop("VIRTUAL_ENV", None)
        return env

    def _command(self) -> list[str]:
        return [
            self._python,
            self._gunicorn,
            f"--bind={self.host}:{self.http_port}",
            f"--workers={self.workers}",
            "--timeout=120",
            f"--pythonpath={self.root}",
            "graphite.wsgi:application",
        ]

    def _is_ready(self) -> bool:
        return self._probe("/metrics/find?query=*", 200)

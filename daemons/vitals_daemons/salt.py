"""A salt-master and salt-minions from this interpreter's venv, every path under the directory
they are given: the demo's Salt (the tests start theirs with pytest-salt-factories; benches use
both)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import yaml

from vitals_daemons import process
from vitals_daemons.process import LOCALHOST, _Daemon, free_port, tcp_accepts


class _SaltDaemon(_Daemon):
    """A salt-master or salt-minion from this interpreter's venv, every path under ``root``.

    ``config`` is merged over the paths and written to ``<root>/<name>``; ``extra`` files
    (``{"master.d/vitals.conf": text}``) are written beside it.
    """

    stop_timeout: ClassVar[float] = 12.0  # salt-minion sleeps 5 s on SIGTERM before it stops
    start_timeout: ClassVar[float] = 60.0

    def __init__(self, root: Path, config: dict[str, Any], extra: dict[str, str] | None = None):
        super().__init__(root)
        self.config = {
            "root_dir": str(self.root),
            "pki_dir": str(self.root / "pki"),
            "cachedir": str(self.root / "cache"),
            "sock_dir": str(self.root / "run"),
            "pidfile": str(self.root / "run" / f"{self.name}.pid"),
            "log_file": str(self.root / f"{self.name.split('-')[-1]}.log"),
            "log_level_logfile": "info",
            **config,
        }
        self.extra = extra or {}

    def _write_config(self) -> None:
        name = self.name.split("-")[-1]
        (self.root / name).write_text(
            f"# {self.name} for salt-vitals (vitals_daemons)\n"
            + yaml.safe_dump(self.config, default_flow_style=False, sort_keys=False)
        )
        for rel, text in self.extra.items():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_text(text)

    def _command(self) -> list[str]:
        exe = process.require_executable(self.name, prefer_dir=Path(sys.executable).parent)
        return [exe, "-c", str(self.root), "-l", "warning"]


class SaltMaster(_SaltDaemon):
    """A salt-master on loopback; ready when its publish and return ports accept."""

    name: ClassVar[str] = "salt-master"

    def __init__(self, root: Path, config: dict[str, Any], extra: dict[str, str] | None = None):
        self.publish_port = free_port()
        self.ret_port = free_port()
        config = {
            "interface": LOCALHOST,
            "publish_port": self.publish_port,
            "ret_port": self.ret_port,
            "auto_accept": True,
            "worker_threads": 3,
            "enable_gpu_grains": False,
            **config,
        }
        super().__init__(root, config, extra)
        self.config.setdefault("key_logfile", str(self.root / "key.log"))

    def _is_ready(self) -> bool:
        return tcp_accepts(self.host, self.ret_port) and tcp_accepts(self.host, self.publish_port)


class SaltMinion(_SaltDaemon):
    """A salt-minion of ``master``; "ready" once spawned (wait for ``test.ping`` yourself)."""

    name: ClassVar[str] = "salt-minion"

    def __init__(self, root: Path, master: SaltMaster, minion_id: str, config: dict[str, Any]):
        config = {
            "id": minion_id,
            "master": LOCALHOST,
            "master_port": master.ret_port,
            "publish_port": master.publish_port,
            "acceptance_wait_time": 1,
            "random_reauth_delay": 0,
            "enable_fqdns_grains": False,  # reverse DNS of every address: slow start-up
            **config,
        }
        super().__init__(root, config)
        self.minion_id = minion_id

    def _is_ready(self) -> bool:
        return True

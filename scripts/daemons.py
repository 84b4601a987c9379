"""Real metric backends on loopback, started and stopped by the project itself.

One launcher module for the demo (``scripts/demo.py``), the tests and the benches: nothing
here depends on pytest, and nothing else in the repository starts these daemons.

Every daemon listens on ``127.0.0.1`` on free ports, keeps all of its state
(configuration, data, log) under the directory it is given, and is stopped
together with its whole process group -- also when start-up fails.  Use them
as context managers (or call :meth:`_Daemon.start` / :meth:`_Daemon.stop`)::

    with CarbonCache(tmp_path / "carbon") as carbon:
        ...  # send to carbon.line_port, read back with carbon.fetch()

Daemons (subprocesses):

* :class:`CarbonCache` -- ``carbon-cache.py`` from PyPI ``carbon`` (whisper files).
* :class:`InfluxD` -- InfluxDB 1.x ``influxd``, optionally with authentication.
* :class:`VictoriaMetrics` -- single-node ``victoria-metrics``.
* :class:`SaltMaster`, :class:`SaltMinion` -- Salt daemons from this venv (the demo's; the
  tests use pytest-salt-factories).

:func:`stop_all` stops several at once (one grace period, strays included).

Misbehaving servers for the fault tests live in ``tests/support/faults.py``.

A missing executable raises :class:`BackendUnavailable` from the constructor,
so fixtures can turn it into ``pytest.skip(str(exc))``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, ClassVar, TypeVar

import psutil
import requests
import yaml

try:
    import whisper
except ImportError:  # carbon/whisper are test extras; CarbonCache then reports it
    whisper = None  # type: ignore[assignment]

LOCALHOST = "127.0.0.1"

_PORT_LOCK = threading.Lock()
_HANDED_OUT_PORTS: set[int] = set()
_REFUSING_SOCKETS: list[socket.socket] = []


class BackendUnavailable(RuntimeError):
    """The executable a backend needs is not installed."""


class BackendError(RuntimeError):
    """A backend failed to start, or answered a request with an error."""


# --------------------------------------------------------------------------
# Ports and small helpers
# --------------------------------------------------------------------------


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port on ``host`` that is currently free.

    Ports are never handed out twice by one process, so several calls in a
    row give distinct ports even if the kernel recycles them.
    """
    with _PORT_LOCK:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _HANDED_OUT_PORTS:
                _HANDED_OUT_PORTS.add(port)
                return port
    raise BackendError("could not find a free port")


def refused_port() -> int:
    """Return a port on 127.0.0.1 where TCP connections are refused.

    The port is bound by a socket that never listens (connects get RST,
    i.e. ``ConnectionRefusedError``) and stays reserved for the rest of the
    process, so no other server can grab it meanwhile.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOCALHOST, 0))
    _REFUSING_SOCKETS.append(sock)
    return int(sock.getsockname()[1])


def tcp_accepts(host: str, port: int) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_session() -> requests.Session:
    """A requests session that ignores proxy variables (loopback only)."""
    session = requests.Session()
    session.trust_env = False
    return session


def _require_executable(name: str, *, prefer_dir: Path | None = None) -> str:
    """Absolute path of ``name`` (``prefer_dir`` first, then ``$PATH``)."""
    if prefer_dir is not None and (prefer_dir / name).is_file():
        return str(prefer_dir / name)
    found = shutil.which(name)
    if found is None:
        raise BackendUnavailable(f"{name} is not installed (not found on PATH)")
    return found


def _require_file(path: Path, package: str) -> str:
    """``path``, a file the Debian ``package`` installs (an interpreter, a web application)."""
    if not path.is_file():
        raise BackendUnavailable(f"{package} is not installed (apt-get install {package})")
    return str(path)


_T = TypeVar("_T")


def poll(probe: Callable[[], _T | None], timeout: float, what: str, interval: float = 0.1) -> _T:
    """Call ``probe()`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def _exit_status(pid: int) -> int | None:
    """Exit status of child ``pid`` if it has exited, without reaping it.

    Leaving the zombie in place keeps ``pid`` (and so the process group id)
    from being recycled until we have signalled the group.  Negative values
    are signal numbers.
    """
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # already reaped
        return -1
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to process group ``pgid``; ignore a vanished group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


# --------------------------------------------------------------------------
# Subprocess daemons
# --------------------------------------------------------------------------

_D = TypeVar("_D", bound="_Daemon")
_W = TypeVar("_W", bound="StartStop")


class StartStop:
    """``with thing:`` starts it and always stops it (daemons here, fault servers in tests)."""

    def start(self: _W) -> _W:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _W) -> _W:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Daemon(StartStop):
    """Start / readiness wait / stop of one daemon in its own process group.

    Subclasses implement :meth:`_command` and :meth:`_is_ready` and may
    override :meth:`_write_config`, :meth:`_environment` and
    :meth:`_after_start`.  Output goes to ``<root>/<name>.log``.
    """

    name: ClassVar[str] = "daemon"
    start_timeout: ClassVar[float] = 30.0
    stop_timeout: ClassVar[float] = 10.0
    host: ClassVar[str] = LOCALHOST

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = self.root / f"{self.name}.log"
        #: Seconds from spawning the process until it answered the probe.
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- hooks --------------------------------------------------------------

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _write_config(self) -> None:
        """Write configuration files under :attr:`root` (default: none)."""

    def _environment(self) -> dict[str, str]:
        return dict(os.environ)

    def _after_start(self) -> None:
        """Run once the daemon is ready (default: nothing)."""

    # -- lifecycle ----------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Process id (also the process group id) while started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the daemon process is alive."""
        return self._proc is not None and _exit_status(self._proc.pid) is None

    def start(self: _D) -> _D:
        """Write the config, spawn the daemon and wait until it is ready."""
        if self._proc is not None:
            raise BackendError(f"{self.name} is already started")
        self._write_config()
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=self._environment(),
                start_new_session=True,
            )
        try:
            self._wait_ready(began + self.start_timeout)
            self.startup_seconds = time.monotonic() - began
            self._after_start()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            status = _exit_status(self._proc.pid)
            if status is not None:
                raise BackendError(
                    f"{self.name} exited with status {status} during start-up; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self._is_ready():
                return
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"{self.name} not ready after {self.start_timeout:g}s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after :attr:`stop_timeout`.

        Idempotent.  Any process left in the group, or forked from it, is killed as well.
        """
        stop_all([self], self.stop_timeout)

    def check_alive(self) -> None:
        """Raise :class:`BackendError` (with the log's tail) if the daemon has exited."""
        status = _exit_status(self._proc.pid) if self._proc is not None else -1
        if status is not None:
            raise BackendError(
                f"{self.name} exited with status {status}; log {self.log_path}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        """Last ``lines`` lines of the daemon's log file."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} root={str(self.root)!r} pid={self.pid}>"


def stop_all(daemons: Iterable[_Daemon], grace: float = 10.0) -> None:
    """Stop several daemons at once: SIGTERM every process group, SIGKILL what is left after
    ``grace`` seconds, including descendants that left their group (a salt-minion's job
    processes). Stopping them together costs one grace period, not one per daemon."""
    running = [d for d in daemons if d._proc is not None]
    procs = {d: d._proc for d in running}
    for d in running:
        d._proc = None
    family = {d: _descendants(p.pid) for d, p in procs.items()}
    for p in procs.values():
        _signal_group(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(
        _exit_status(p.pid) is None or _alive(family[d]) for d, p in procs.items()
    ):
        time.sleep(0.05)
    for d, p in procs.items():
        # The leader is a zombie (or still alive) here, so its pid -- the group id -- cannot
        # have been reused: kill whatever is left of the group, then strays by identity.
        _signal_group(p.pid, signal.SIGKILL)
        for child in _alive(family[d]):
            with contextlib.suppress(psutil.Error):
                child.kill()  # psutil checks the create time: never a recycled pid
        p.wait()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


class _HTTPDaemon(_Daemon):
    """A daemon with an HTTP API on :attr:`http_port`."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.http_port = free_port()
        self._http = _http_session()

    scheme = "http"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8086``."""
        return f"{self.scheme}://{self.host}:{self.http_port}"

    def _probe(self, path: str, status: int) -> bool:
        try:
            return self._http.get(self.url + path, timeout=1).status_code == status
        except requests.RequestException:
            return False

    def stop(self) -> None:
        super().stop()
        self._http.close()


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
            f"# {self.name} for salt-vitals (scripts/daemons.py)\n"
            + yaml.safe_dump(self.config, default_flow_style=False, sort_keys=False)
        )
        for rel, text in self.extra.items():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_text(text)

    def _command(self) -> list[str]:
        exe = _require_executable(self.name, prefer_dir=Path(sys.executable).parent)
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
        if whisper is None:
            raise BackendUnavailable("the whisper module is not installed")
        local = Path(sys.executable).parent / "carbon-cache.py"
        if local.is_file():
            return [sys.executable, str(local)]
        return [_require_executable("carbon-cache.py")]

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

    # -- whisper access -----------------------------------------------------

    def metric_file(self, path: str) -> Path:
        """Whisper file of dotted metric ``path`` (may not exist yet)."""
        *dirs, leaf = path.split(".")
        return self.whisper_dir.joinpath(*dirs, leaf + ".wsp")

    def metrics(self) -> list[str]:
        """Sorted dotted names of all metrics that have a whisper file."""
        return sorted(
            ".".join(wsp.relative_to(self.whisper_dir).with_suffix("").parts)
            for wsp in self.whisper_dir.rglob("*.wsp")
        )

    def fetch(
        self, path: str, from_ts: int | None = None, until_ts: int | None = None
    ) -> list[tuple[int, float]]:
        """Stored ``(timestamp, value)`` points of ``path``, None slots dropped.

        Both bounds are inclusive.  ``from_ts`` defaults to the start of the
        1 s archive (now - 30 min); an older ``from_ts`` makes whisper answer
        from the coarser 60 s archive.  ``until_ts`` defaults to now; points
        in the future are returned if ``until_ts`` covers them.
        """
        wsp = self.metric_file(path)
        if not wsp.exists():
            return []
        now = int(time.time())
        if until_ts is not None:
            now = max(now, int(until_ts))
        if from_ts is None:
            first = whisper.info(str(wsp))["archives"][0]["retention"]
            start = now - first
        else:
            start = int(from_ts) - 1  # whisper's lower bound is exclusive
        result = whisper.fetch(str(wsp), start, until_ts, now=now)
        if result is None:
            return []
        (begin, _end, step), values = result
        return [
            (begin + i * step, float(value)) for i, value in enumerate(values) if value is not None
        ]

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
    ) -> list[tuple[int, float]]:
        """Wait until :meth:`fetch` returns at least ``n`` points; return them."""

        def probe() -> list[tuple[int, float]] | None:
            try:
                points = self.fetch(path, from_ts, until_ts)
            except whisper.WhisperException:  # file still being created
                return None
            return points if len(points) >= n else None

        return poll(probe, timeout, f"{n} points of {path}", interval=0.2)


class InfluxD(_HTTPDaemon):
    """InfluxDB 1.x ``influxd run`` with everything under ``root``.

    Config ``influxdb.conf``; ``meta/``, ``data/``, ``wal/``; log
    ``influxd.log``.  HTTP and the RPC/backup service listen on free
    127.0.0.1 ports; the ``_internal`` monitor database is disabled.

    With ``auth=True`` the first (unauthenticated) request creates the admin
    user :attr:`admin_user` / :attr:`admin_password`, and all helpers
    authenticate as that user.
    """

    name = "influxd"

    def __init__(
        self,
        root: Path,
        auth: bool = False,
        admin_user: str = "admin",
        admin_password: str = "admin-secret",
        tls: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(root)
        self._binary = _require_executable("influxd")
        self.tls = tls  # (certfile, keyfile): serve HTTPS only; the cert is its own CA
        if tls is not None:
            self.scheme = "https"
            self._http.verify = tls[0]
        self.auth = auth
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.rpc_port = free_port()
        self.config_path = self.root / "influxdb.conf"

    def _write_config(self) -> None:
        # Upstream 1.x reads reporting-disabled, Debian's patched build reads
        # reporting-enabled; unknown keys are ignored, so set both.
        self.config_path.write_text(
            f"""\
reporting-disabled = true
reporting-enabled = false
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{self.root / "meta"}"

[data]
  dir = "{self.root / "data"}"
  wal-dir = "{self.root / "wal"}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.http_port}"
  auth-enabled = {str(self.auth).lower()}
{self._https_settings()}
  log-enabled = true
  pprof-enabled = false

[logging]
  level = "info"
  suppress-logo = true
"""
        )

    def _https_settings(self) -> str:
        if self.tls is None:
            return ""
        cert, key = self.tls
        return (
            f'  https-enabled = true\n  https-certificate = "{cert}"\n  https-private-key = "{key}"'
        )

    def _command(self) -> list[str]:
        return [self._binary, "run", "-config", str(self.config_path)]

    def _is_ready(self) -> bool:
        return self._probe("/ping", 204)

    def _after_start(self) -> None:
        if not self.auth:
            return
        existing = self._http.post(
            self.url + "/query", data={"q": "SHOW USERS"}, auth=self.credentials, timeout=10
        )
        if existing.status_code != 200:  # not a restart: create the first admin
            self._query_raw(
                f"CREATE USER {_influx_ident(self.admin_user)} WITH PASSWORD "
                f"{_influx_string(self.admin_password)} WITH ALL PRIVILEGES",
                credentials=None,
            )

    @property
    def credentials(self) -> tuple[str, str] | None:
        """``(user, password)`` the helpers use, or None without auth."""
        return (self.admin_user, self.admin_password) if self.auth else None

    def _query_raw(
        self,
        q: str,
        credentials: tuple[str, str] | None,
        db: str | None = None,
        epoch: str | None = "s",
    ) -> dict[str, Any]:
        params = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        response = self._http.post(self.url + "/query", data=params, auth=credentials, timeout=10)
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {"error": response.text}
        errors = [body.get("error")] + [r.get("error") for r in body.get("results", [])]
        errors = [e for e in errors if e]
        if response.status_code >= 300 or errors:
            raise BackendError(f"influx query {q!r}: HTTP {response.status_code} {errors}")
        return body

    def query(self, q: str, db: str | None = None, epoch: str | None = "s") -> dict[str, Any]:
        """Run InfluxQL ``q`` via POST /query; raise :class:`BackendError` on errors."""
        return self._query_raw(q, self.credentials, db=db, epoch=epoch)

    def write(
        self, lines: str | Iterable[str], db: str, precision: str = "s", rp: str | None = None
    ) -> None:
        """Write line protocol to ``db`` (must exist); raise unless HTTP 204."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        params = {"db": db, "precision": precision}
        if rp is not None:
            params["rp"] = rp
        response = self._http.post(
            self.url + "/write",
            params=params,
            data=body.encode(),
            auth=self.credentials,
            timeout=10,
        )
        if response.status_code != 204:
            raise BackendError(f"influx write: HTTP {response.status_code} {response.text}")

    def create_user(self, name: str, password: str, admin: bool = False) -> None:
        """Create a user, optionally with ALL PRIVILEGES."""
        q = f"CREATE USER {_influx_ident(name)} WITH PASSWORD {_influx_string(password)}"
        self.query(q + (" WITH ALL PRIVILEGES" if admin else ""))

    def points(self, measurement: str, db: str, rp: str | None = None) -> list[dict[str, Any]]:
        """All rows of ``measurement`` as dicts (``time`` in epoch seconds, tags, fields)."""
        source = _influx_ident(measurement)
        if rp is not None:
            source = f"{_influx_ident(rp)}.{source}"
        return [
            dict(zip(series["columns"], row))
            for series in self._series(f"SELECT * FROM {source}", db)
            for row in series.get("values", [])
        ]

    def databases(self) -> list[str]:
        """Names of all databases."""
        return [row[0] for s in self._series("SHOW DATABASES") for row in s.get("values", [])]

    def retention_policies(self, db: str) -> list[dict[str, Any]]:
        """Retention policies of ``db`` as dicts (name, duration, default, ...)."""
        return [
            dict(zip(s["columns"], row))
            for s in self._series(f"SHOW RETENTION POLICIES ON {_influx_ident(db)}")
            for row in s.get("values", [])
        ]

    def _series(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        result = self.query(q, db=db)["results"][0]
        return list(result.get("series", []))


def _influx_ident(name: str) -> str:
    """Double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _influx_string(value: str) -> str:
    """Single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
        self._binary = _require_executable("victoria-metrics")
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


class CarbonCRelay(_Daemon):
    """Debian's ``carbon-c-relay`` in front of carbon-caches, on :attr:`line_port`.

    ``destinations`` are ``(host, port)`` pairs of carbon plaintext receivers (for example
    ``(cache.host, cache.line_port)``). The relay hashes each metric path onto exactly one of
    them with ``hashing`` (``fnv1a_ch`` by default; ``carbon_ch`` hashes the host only, so
    it cannot spread over caches that share 127.0.0.1 unless each member gets an
    ``=instance``, which :attr:`instances` adds). It runs in submission mode (``-s``): no
    ``carbon.relays.*`` statistics of its own land in the caches. Config ``relay.conf``.
    """

    name = "carbon-c-relay"

    def __init__(
        self,
        root: Path,
        destinations: Iterable[tuple[str, int]],
        hashing: str = "fnv1a_ch",
        replication: int = 1,
    ) -> None:
        super().__init__(root)
        self._binary = _require_executable("carbon-c-relay")
        self.destinations = list(destinations)
        if not self.destinations:
            raise ValueError("carbon-c-relay needs at least one destination")
        self.hashing = hashing
        self.replication = replication
        self.line_port = free_port()
        self.config_path = self.root / "relay.conf"

    @property
    def instances(self) -> list[str]:
        """The hash ring members as written in the config (``host:port=instance``)."""
        return [f"{host}:{port}={chr(97 + i)}" for i, (host, port) in enumerate(self.destinations)]

    def _write_config(self) -> None:
        members = "\n".join(f"        {m}" for m in self.instances)
        self.config_path.write_text(
            f"""\
cluster caches
    {self.hashing} replication {self.replication}
{members}
    ;
listen
    type linemode
        {self.host}:{self.line_port} proto tcp
    ;
match * send to caches stop;
"""
        )

    def _command(self) -> list[str]:
        # -s: no statistics of its own; -E: keep idle connections; -w 1: one worker is
        # plenty on loopback and keeps the per-destination order easy to reason about.
        return [self._binary, "-f", str(self.config_path), "-s", "-E", "-w", "1"]

    def _is_ready(self) -> bool:
        return tcp_accepts(self.host, self.line_port)

    def route(self, paths: Iterable[str]) -> dict[str, tuple[str, int]]:
        """Where the relay's own hash ring sends each of ``paths`` (its ``-t`` test mode)."""
        paths = list(paths)
        result = subprocess.run(
            [self._binary, "-f", str(self.config_path), "-t", "-s"],
            input="".join(f"{p} 1 1\n" for p in paths).encode(),
            capture_output=True,
            check=False,
            timeout=60,
        )
        members = {f"{host}:{port}": (host, port) for host, port in self.destinations}
        routes: dict[str, tuple[str, int]] = {}
        current = None
        for line in result.stdout.decode(errors="replace").splitlines():
            text = line.strip()
            if text.startswith("* -> "):
                current = text[len("* -> ") :]
            elif current is not None and text in members:
                routes.setdefault(current, members[text])
        return routes


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
        self._python = _require_file(Path(self.PYTHON), "python3")
        _require_file(self.WEBAPP_DIR / "wsgi.py", "graphite-web")
        self._gunicorn = _require_executable("gunicorn")
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

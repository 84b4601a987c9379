"""What every launcher shares: loopback ports, the executables it runs, waiting, and one
daemon's lifecycle in its own process group (:class:`_Daemon`, stopped with its strays by
:func:`stop_all`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Callable, ClassVar, TypeVar

import psutil
import requests

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


# The launchers call these two through this module (``process.require_executable``): everything
# a launcher needs from the system passes here, which tests/unit/test_setup_env.py observes.


def require_executable(name: str, *, prefer_dir: Path | None = None) -> str:
    """Absolute path of ``name`` (``prefer_dir`` first, then ``$PATH``)."""
    if prefer_dir is not None and (prefer_dir / name).is_file():
        return str(prefer_dir / name)
    found = shutil.which(name)
    if found is None:
        raise BackendUnavailable(f"{name} is not installed (not found on PATH)")
    return found


def require_file(path: Path, package: str) -> str:
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
    procs = {d: d._proc for d in daemons if d._proc is not None}
    for d in procs:
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

"""A throw-away systemd container booted from this host's own root filesystem.

systemd is not PID 1 on the test machine, so the systemd path of the bundled states cannot run
on it directly. :class:`SystemdContainer` boots the host's ``/`` with Debian's
``systemd-nspawn`` and real systemd as the container's PID 1, on a copy-on-write layer that
lives in memory::

    with SystemdContainer(tmp_path / "box", mask=["carbon-c-relay"]) as box:
        box.run("systemctl is-system-running")          # a command inside, as root
        box.path("/etc/salt/minion").write_text(...)     # the container's files, from here

How (each step measured to be needed on this host):

* everything happens in a private mount namespace (``unshare --mount --propagation
  private``), so no mount is ever visible on the host, and all of them vanish with the last
  process of the namespace, whatever happens to this one;
* ``/`` is bind-mounted non-recursively (no ``/proc``, ``/sys``, ``/dev`` submounts) as the
  lower layer of an overlay whose upper layer is a tmpfs: the container sees the host's files
  and installed packages, and everything it writes (packages it installs, configs, data)
  goes to memory and is gone at the end;
* a tmpfs covers the container's ``/run/systemd`` (the host's ``/run`` is on disk here), and
  one covers ``/run`` in the namespace (nspawn's own state under ``/run/systemd/nspawn``
  would otherwise be left on the host's disk);
* a fresh ``/etc/machine-id``;
* ``systemd-nspawn -D <overlay> --private-network --register=no --keep-unit
  --link-journal=no -b``: no network but loopback (the container's ports never clash with the
  host's), no machined, no D-Bus of the host.

Units enabled on the host start in the container too; ``mask`` names those in the way.
Commands run inside through ``nsenter -t <PID 1> -a`` with a login-like environment (not the
test's). A command still running when the container halts would hang the halt, so every one
is killed first. Booting takes ~3 s, halting ~1.5 s.

Nothing here is specific to salt-vitals; :func:`unavailable` says why it cannot run (not root,
no ``systemd-nspawn``), and :func:`require` turns that into a pytest skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import psutil

TOOLS = ("unshare", "nsenter", "systemd-nspawn", "systemd-id128")
# what `login` gives root on Debian, not what the test runs with
LOGIN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}

# Runs as the private mount namespace's first process and ends as systemd-nspawn (exec).
_BOOT = r"""
set -eu
work=$1
shift
mount -n -t tmpfs -o mode=0755 tmpfs /run
mount -n --bind / "$work/lower"
mount -n -t tmpfs -o mode=0755 tmpfs "$work/rw"
mkdir "$work/rw/upper" "$work/rw/work"
mount -n -t overlay overlay \
    -o "lowerdir=$work/lower,upperdir=$work/rw/upper,workdir=$work/rw/work" "$work/root"
mount -n -t tmpfs -o mode=0755 tmpfs "$work/root/run/systemd"
rm -f "$work/root/etc/machine-id"
systemd-id128 new > "$work/root/etc/machine-id"
for unit in "$@"; do
    ln -sfn /dev/null "$work/root/etc/systemd/system/$unit"
done
exec systemd-nspawn -D "$work/root" --private-network --register=no --keep-unit \
    --link-journal=no -b
"""


class ContainerError(AssertionError):
    """The container did not boot, or a command inside failed (with its output)."""


def unavailable() -> str | None:
    """Why a container cannot be booted here, or None when it can."""
    if os.geteuid() != 0:
        return "a systemd container needs root (mount namespaces, overlayfs, nspawn)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (
            f"no {', '.join(missing)}: a systemd container needs Debian's systemd-container "
            "and util-linux (apt-get install systemd-container)"
        )
    return None


def require() -> None:
    """pytest-skip the calling test or fixture when :func:`unavailable` says so."""
    import pytest

    reason = unavailable()
    if reason:
        pytest.skip(reason)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies (nspawn then halts the
    container), so not even a killed pytest leaves a container running."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _unit_name(unit: str) -> str:
    return unit if "." in unit else f"{unit}.service"


class SystemdContainer:
    """The container; a context manager that always halts it and kills what is left.

    ``workdir`` (created) holds the mount points and ``console.log``, the container's console
    output (boot messages). ``mask``: units masked before boot (``carbon-c-relay`` or
    ``carbon-c-relay.service``).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        mask: Iterable[str] = (),
        boot_timeout: float = 90.0,
        halt_timeout: float = 30.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.mask = [_unit_name(unit) for unit in mask]
        self.boot_timeout = boot_timeout
        self.halt_timeout = halt_timeout
        self.console_log = self.workdir / "console.log"
        self.pid: int | None = None  # the container's PID 1, as the host sees it
        self.state = ""  # systemctl is-system-running after boot: running or degraded
        self.boot_seconds = 0.0
        self.halt_seconds = 0.0
        self._nspawn: subprocess.Popen[bytes] | None = None
        self._entered: list[subprocess.Popen[str]] = []

    # -- life cycle -----------------------------------------------------------------------

    def __enter__(self) -> SystemdContainer:
        try:
            self.boot()
        except BaseException:
            self.halt()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.halt()

    def boot(self) -> None:
        """Start the container and wait until systemd says the boot is over."""
        started = time.monotonic()
        for sub in ("lower", "rw", "root"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        with self.console_log.open("wb") as console:
            self._nspawn = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private"]
                + ["sh", "-c", _BOOT, "boot", str(self.workdir), *self.mask],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads start containers)
            )
        deadline = started + self.boot_timeout
        self.pid = self._wait_for_init(deadline)
        # until systemd's private socket exists, systemctl fails at once and prints nothing
        while self.state not in ("running", "degraded"):
            if time.monotonic() >= deadline:
                raise ContainerError(
                    f"the container did not boot: {self.state!r}\n{self.console()}"
                )
            waited = self.run(
                ["systemctl", "is-system-running", "--wait"],
                check=False,
                timeout=max(1.0, deadline - time.monotonic()),
            )
            self.state = waited.stdout.strip()
            if not self.state:
                time.sleep(0.05)
        self.boot_seconds = time.monotonic() - started

    def _wait_for_init(self, deadline: float) -> int:
        """The host PID of nspawn's child that is PID 1 in its own PID namespace."""
        assert self._nspawn is not None
        while time.monotonic() < deadline:
            if self._nspawn.poll() is not None:
                raise ContainerError(
                    f"systemd-nspawn exited ({self._nspawn.returncode}) before booting:\n"
                    + self.console()
                )
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(self._nspawn.pid).children():
                    if _pid_in_namespace(child.pid) == 1 and child.name() == "systemd":
                        return child.pid
            time.sleep(0.05)
        raise ContainerError(f"no systemd in the container after {self.boot_timeout:g} s")

    def halt(self) -> None:
        """Kill every command entered with nsenter, halt the container (SIGTERM to nspawn:
        systemd shuts down), SIGKILL whatever is left after ``halt_timeout``."""
        started = time.monotonic()
        for proc in self._entered:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self._entered.clear()
        self._kill_strays()
        nspawn, self._nspawn = self._nspawn, None
        if nspawn is None:
            return
        if nspawn.poll() is None:
            nspawn.send_signal(signal.SIGTERM)
            try:
                nspawn.wait(self.halt_timeout)
            except subprocess.TimeoutExpired:
                if self.pid:  # PID 1 killed = the whole PID namespace killed
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(nspawn.pid, signal.SIGKILL)
                nspawn.wait()
        self.pid = None
        self.halt_seconds = time.monotonic() - started

    def _kill_strays(self) -> None:
        """Processes that entered the container but do not descend from its PID 1 (a command
        whose nsenter was killed): they would keep the halt waiting."""
        if not self.pid:
            return
        with contextlib.suppress(psutil.Error, OSError):
            namespace = os.readlink(f"/proc/{self.pid}/ns/pid")
            family = {self.pid} | {p.pid for p in psutil.Process(self.pid).children(True)}
            for proc in psutil.process_iter():
                with contextlib.suppress(psutil.Error, OSError):
                    if proc.pid not in family and (
                        os.readlink(f"/proc/{proc.pid}/ns/pid") == namespace
                    ):
                        proc.kill()

    # -- inside ---------------------------------------------------------------------------

    def run(
        self,
        command: str | Sequence[str],
        *,
        check: bool = True,
        timeout: float = 300.0,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (a shell string or an argv) as root inside, with :data:`LOGIN_ENV`
        (plus ``env``); a failure (``check``) or timeout raises :class:`ContainerError` with
        the command's output."""
        if not self.pid:
            raise ContainerError("the container is not running")
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        environment = [f"{key}={value}" for key, value in {**LOGIN_ENV, **(env or {})}.items()]
        proc = subprocess.Popen(
            ["nsenter", "-t", str(self.pid), "-a", "env", "-i", *environment, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._entered.append(proc)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise ContainerError(
                f"timed out after {timeout:g} s: {_shown(argv)}\n{stdout}\n{stderr}"
            ) from None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its children too
            self._entered.remove(proc)
        done = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
        if check and done.returncode != 0:
            raise ContainerError(
                f"exit {done.returncode}: {_shown(argv)}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            )
        return done

    def path(self, inside: str) -> Path:
        """The host's path to ``inside`` (absolute, in the container): read and write the
        container's files from the test (writes land in its memory layer)."""
        if not self.pid:
            raise ContainerError("the container is not running")
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def console(self, lines: int = 40) -> str:
        """The last lines of the container's console (boot messages, nspawn's errors)."""
        with contextlib.suppress(OSError):
            text = self.console_log.read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def memory_mib(self) -> float:
        """What the container costs in memory now: the Pss of its processes plus its
        writable layer (a tmpfs)."""
        if not self.pid or self._nspawn is None:
            return 0.0
        pss = 0
        for proc in [psutil.Process(self.pid), *psutil.Process(self.pid).children(True)]:
            with contextlib.suppress(psutil.Error):
                pss += proc.memory_full_info().pss
        layer = os.statvfs(f"/proc/{self._nspawn.pid}/root{self.workdir}/rw")
        used = (layer.f_blocks - layer.f_bfree) * layer.f_frsize
        return (pss + used) / 2**20


def _pid_in_namespace(pid: int) -> int | None:
    """``pid``'s number in its own (innermost) PID namespace."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return None


def _shown(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(arg) for arg in argv)

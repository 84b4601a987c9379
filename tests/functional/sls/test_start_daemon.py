"""salt://vitals/files/start-daemon.sh, the no-systemd start of the states' daemons, run for
real under start-stop-daemon with a daemon that keeps a pid file of its own and refuses to
start while the pid in it is alive, as carbon-cache does. carbon-cache cannot delete that file
(it drops root first), so a pid reused by any other process kept carbon from starting: the
CI failure of 2026-12-06 ("Command 'graphite-carbon-service' run", result False)."""

import os
import shutil
import subprocess
import sys

import pytest

from support.saltcall import SLS_ROOT

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("start-stop-daemon") is None,
    reason="start-stop-daemon as root (it chowns the pid file's folder)",
)

SCRIPT = SLS_ROOT / "vitals" / "files" / "start-daemon.sh"
DAEMON = """\
import os, sys, time
own = sys.argv[1]
if os.path.exists(own):
    pid = int(open(own).read())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:
        print(f"fake-carbon is already running with pid {pid}", flush=True)
        sys.exit(1)
open(own, "w").write(str(os.getpid()))
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def daemon(tmp_path):
    script = tmp_path / "daemon.py"
    script.write_text(DAEMON)
    pidfile, own = tmp_path / "run" / "daemon.pid", tmp_path / "run" / "own.pid"
    own.parent.mkdir()
    own.write_text("1")  # stale, naming a live process (init)
    yield (
        pidfile,
        own,
        [
            str(tmp_path / "daemon.log"),
            "root:root",
            "^ready",
            sys.executable,
            str(script),
            str(own),
        ],
    )
    subprocess.run(
        [
            "start-stop-daemon",
            "--stop",
            "--quiet",
            "--oknodo",
            "--retry",
            "5",
            "--pidfile",
            str(pidfile),
        ],
        check=False,
    )


def start(*args):
    return subprocess.run(
        ["sh", str(SCRIPT), *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_a_stale_own_pid_file_naming_a_live_process_stops_the_start_with_the_daemon_s_words(daemon):
    pidfile, _own, rest = daemon
    ret = start(pidfile, *rest)
    assert ret.returncode == 1
    assert "exited at start" in ret.stderr
    assert "fake-carbon is already running with pid 1" in ret.stderr


def test_stale_removes_the_daemon_s_own_pid_file_before_the_start(daemon):
    pidfile, own, rest = daemon
    ret = start("--stale", own, pidfile, *rest)
    assert ret.returncode == 0, ret.stderr
    assert "started (pid" in ret.stdout
    running = int(pidfile.read_text())
    assert int(own.read_text()) == running
    # running: a second start is no change and leaves both pid files alone
    again = start("--stale", own, pidfile, *rest)
    assert again.returncode == 0 and again.stdout == ""
    assert int(own.read_text()) == running

"""Names shared by the Salt-stack integration tests and their fixtures (not a test module)."""

import contextlib
import time
from pathlib import Path

MINION_IDS = ("vitals-minion-1", "vitals-minion-2")
SCHEDULE_PREFIX = "scheduled"
INFLUX_USER = "vitals"
INFLUX_PASSWORD = "pw-Zq7-never-in-logs"
WRONG_PASSWORD = "pw-wrong-Xk2-never-in-logs"


def wait_for_receipts(salt_run_cli, jid, expected, timeout=60):
    """Wait until ``expected`` minions have returned for ``jid``; return their returns."""
    deadline = time.monotonic() + timeout
    found = {}
    while time.monotonic() < deadline:
        found = salt_run_cli.run("jobs.lookup_jid", jid).data or {}
        if len(found) >= expected:
            return found
        time.sleep(1)
    raise AssertionError(f"job {jid}: receipts from {sorted(found)} only")


@contextlib.contextmanager
def all_started(factories):
    """Start salt-factories daemons in order; terminate the started ones in reverse, whatever
    happens (a failed start included)."""
    started = []
    try:
        for factory in factories:
            factory.start()
            started.append(factory)
        yield factories
    finally:
        for factory in reversed(started):
            factory.terminate()


def files_holding_no_secret(roots, secrets):
    """Assert that no file under ``roots`` (missing ones skipped) holds any of ``secrets``
    (strings); return how many files were read."""
    searched = 0
    for root in map(Path, roots):
        for path in root.rglob("*") if root.exists() else []:
            if path.is_file():
                data = path.read_bytes()
                searched += 1
                for secret in secrets:
                    assert secret.encode() not in data, f"{secret} in {path}"
    return searched

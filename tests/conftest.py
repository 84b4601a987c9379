"""Test-wide settings. Daemons are started per package (see tests/integration/conftest.py)."""

import logging
import os
import sys

import pytest

# Salt's loader imports ``salt_ext`` through the installed entry point; make the checkout win
# even when the suite runs from a different interpreter path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def salt_factories_config():
    """Keep salt-factories' daemons quiet and quick to give up."""
    return {"code_dir": None, "inject_sitecustomize": False, "start_timeout": 120}


def pytest_sessionfinish(session, exitstatus):
    # Salt's deferred log handler flushes at interpreter exit into pytest's already-closed
    # capture streams; without this each record prints a "--- Logging error ---" traceback
    # after pytest's summary line.
    logging.raiseExceptions = False

"""Test-wide settings. Daemons are started per package (see tests/integration/conftest.py).

Every layer tests the installed wheel: ``scripts/test.sh`` builds it and installs it into
``.venv``, and nothing puts the checkout on ``sys.path`` (``tests/test_installed.py`` checks).
"""

import logging

import pytest


@pytest.fixture(scope="session")
def salt_factories_config():
    """Keep salt-factories' daemons quiet and quick to give up."""
    return {"code_dir": None, "inject_sitecustomize": False, "start_timeout": 120}


def pytest_sessionfinish(session, exitstatus):
    # Salt's deferred log handler flushes at interpreter exit into pytest's already-closed
    # capture streams; without this each record prints a "--- Logging error ---" traceback
    # after pytest's summary line.
    logging.raiseExceptions = False

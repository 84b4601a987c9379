"""Test-wide settings. Daemons are started per package (see tests/integration/conftest.py).

Every layer tests the installed wheel: ``scripts/test.sh`` builds it and installs it into
``.venv``, and nothing puts the checkout on ``sys.path`` (``tests/test_installed.py`` checks).

Markers come from the folders, never by hand (registered in pyproject.toml): a test under
``tests/<layer>/`` gets the layer's marker (unit, functional, integration, packaging, compat),
one under ``tests/integration/<part>/`` the part's too (backends, stack, topology, faults,
wholehost, systemd), and ``tests/test_installed.py`` all of them, since it guards every run.
``-m "integration and not (wholehost or systemd)"`` selects what a path alone cannot.
"""

import logging
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
LAYERS = ("unit", "functional", "integration", "packaging", "compat")
INTEGRATION_PARTS = ("backends", "stack", "topology", "faults", "wholehost", "systemd")
EVERY_LAYER = {"test_installed.py"}


def pytest_configure(config):
    """Refuse to test the checkout: salt_ext must come from the installed wheel."""
    import salt_ext

    where = Path(salt_ext.__file__).resolve()
    if where.is_relative_to(TESTS.parent / "salt_ext"):
        pytest.exit(
            f"salt_ext is imported from the checkout ({where}), not from the installed wheel: "
            "run scripts/test.sh (or .venv/bin/pytest), never python -m pytest",
            returncode=4,
        )


def markers_of(path):
    """The markers of a test file at ``path``: its layer's and its integration part's."""
    parts = Path(path).resolve().relative_to(TESTS).parts
    if parts[0] in EVERY_LAYER:
        return LAYERS + INTEGRATION_PARTS
    if parts[0] not in LAYERS:
        return ()
    if parts[0] == "integration" and len(parts) > 2 and parts[1] in INTEGRATION_PARTS:
        return (parts[0], parts[1])
    return (parts[0],)


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in markers_of(item.path):
            item.add_marker(name)


@pytest.fixture(scope="session")
def salt_factories_config():
    """Keep salt-factories' daemons quiet and quick to give up."""
    return {"code_dir": None, "inject_sitecustomize": False, "start_timeout": 120}


def pytest_sessionfinish(session, exitstatus):
    # Salt's deferred log handler flushes at interpreter exit into pytest's already-closed
    # capture streams; without this each record prints a "--- Logging error ---" traceback
    # after pytest's summary line.
    logging.raiseExceptions = False

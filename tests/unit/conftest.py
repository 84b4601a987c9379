"""Unit tests keep every file under their tmp_path: the rate state included, which would
otherwise go to a tmpfs such as /dev/shm (tests/unit/collect/test_rates.py covers that choice),
and the spool under ``minion_opts``' cachedir."""

import pytest

from salt_ext.core.collect import rates


@pytest.fixture(autouse=True)
def rate_state_in_the_given_dir(monkeypatch):
    monkeypatch.setattr(rates, "VOLATILE_ROOTS", ())


@pytest.fixture
def minion_opts(tmp_path):
    """The minion's own opts a returner or the beacon reads: its id and cachedir."""
    return {"id": "pi-01", "cachedir": str(tmp_path / "cache")}

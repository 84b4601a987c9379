"""Real backends shared by the integration tests: a carbon-cache and an influxd with auth.

They start once per test session and stop at its end. ``backends/`` tests drive them from
plain Python; ``stack/`` tests put a real salt-master and minions in front of them.
"""

import shutil

import pytest

from support.stack import INFLUX_PASSWORD, INFLUX_USER
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.influxdb import InfluxD


@pytest.fixture(scope="session")
def carbon(tmp_path_factory):
    with CarbonCache(tmp_path_factory.mktemp("carbon")) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """influxd 1.x with authentication and a write user that may create its database."""
    if shutil.which("influxd") is None:
        yield None
        return
    with InfluxD(tmp_path_factory.mktemp("influxd"), auth=True) as daemon:
        daemon.create_user(INFLUX_USER, INFLUX_PASSWORD, admin=True)
        yield daemon

"""Real backends shared by the integration tests: a carbon-cache and an influxd with auth, and
graphite-web in front of that carbon-cache for the modules that read back through it.

They start once per test session and stop at its end. ``backends/`` tests drive them from
plain Python; ``stack/`` tests put a real salt-master and minions in front of them.
"""

import shutil

import pytest

from support.stack import INFLUX_PASSWORD, INFLUX_USER
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable


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


@pytest.fixture(scope="module")
def graphite_web(tmp_path_factory, carbon):
    """graphite-web (Debian's, under gunicorn) reading the session's carbon-cache."""
    try:
        web = GraphiteWeb(tmp_path_factory.mktemp("graphite-web"), carbon)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with web:
        yield web

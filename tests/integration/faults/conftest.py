"""A carbon-cache and an influxd of the fault tests' own (they are switched off and into black
holes: no other test sees it), each behind a counting proxy that tells points received twice
from points received once, and is the outage switch."""

import pytest

from support.faults import CountingCarbonProxy, CountingInfluxProxy
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable


@pytest.fixture(scope="package")
def fault_carbon(tmp_path_factory):
    with CarbonCache(tmp_path_factory.mktemp("fault-carbon")) as daemon:
        yield daemon


@pytest.fixture(scope="package")
def fault_influxd(tmp_path_factory):
    try:
        daemon = InfluxD(tmp_path_factory.mktemp("fault-influxd"))
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with daemon:
        yield daemon


@pytest.fixture(scope="package")
def package_proxies(fault_carbon, fault_influxd):
    with (
        CountingCarbonProxy(fault_carbon.line_port) as carbon,
        CountingInfluxProxy(fault_influxd.url) as influxdb,
    ):
        yield {"carbon": carbon, "influxdb": influxdb}


@pytest.fixture
def proxies(package_proxies):
    """The proxies, up at the start of every test."""
    for proxy in package_proxies.values():
        proxy.up()
    yield package_proxies
    for proxy in package_proxies.values():
        proxy.up()

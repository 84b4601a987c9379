"""HTTPS against a real influxd with a self-signed certificate: verification is on by default
and fails clearly (points spooled), succeeds with ``ca_bundle``; ``verify: false`` works too."""

import pytest

from salt_ext.core.delivery import returner as backend
from salt_ext.core.influxdb.write import BACKEND
from support.hostile import TS
from support.saltconfig import salt_funcs
from support.tls import self_signed_cert
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable

pytestmark = pytest.mark.integration

RET = {
    "id": "tls-minion",
    "fun": "vitals.current",
    "retcode": 0,
    "return": {"ts": TS, "mem": {"total": 42, "percent": 4.2}},
}


@pytest.fixture(scope="module")
def influx_https(tmp_path_factory):
    cert, key = self_signed_cert(tmp_path_factory.mktemp("tls"))
    try:
        daemon = InfluxD(tmp_path_factory.mktemp("influxd-tls"), tls=(cert, key))
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with daemon:
        yield daemon, cert


def _send(daemon, tmp_path, **options):
    opts = {
        "id": "tester",
        "cachedir": str(tmp_path),
        "influxdb": {"url": daemon.url, "db": "tls", "timeout": 3, **options},
    }
    return backend.deliver_return(BACKEND, RET, salt_funcs(opts), opts)


def test_https_verified_by_default_fails_clearly(influx_https, tmp_path):
    daemon, _cert = influx_https
    assert daemon.url.startswith("https://")
    result = _send(daemon, tmp_path)
    assert result.status == "spooled"
    assert "certificate verification failed" in result.error, result.error


def test_https_with_ca_bundle_lands_and_replays(influx_https, tmp_path):
    daemon, cert = influx_https
    _send(daemon, tmp_path)  # spooled: no CA
    result = _send(daemon, tmp_path, ca_bundle=cert)
    assert (result.status, result.replayed) == ("sent", 2)
    rows = daemon.query('SELECT "total" FROM "mem" WHERE "host" = \'tls-minion\'', db="tls")
    assert rows["results"][0]["series"][0]["values"] == [[int(TS), 42]]


def test_verify_false_is_possible_and_warned(influx_https, tmp_path, caplog):
    daemon, _cert = influx_https
    with caplog.at_level("WARNING", logger="salt_ext.core.net.http"):
        assert _send(daemon, tmp_path, verify=False).status == "sent"
    assert "verification is disabled" in caplog.text

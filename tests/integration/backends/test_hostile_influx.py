"""The hostile corpus through the InfluxDB returner into a real influxd, read back with
InfluxQL: every valid point lands, no extra point or series appears; and replaying the same
points twice (what a spool replay after a lost acknowledgement does) stores them once."""

import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from salt_ext.core.config import parse
from salt_ext.core.delivery import returner as backend
from salt_ext.core.influxdb import line_protocol as influx_lp
from salt_ext.core.influxdb.line_protocol import serialize as influx_serialize
from salt_ext.core.influxdb.write import BACKEND
from salt_ext.core.samples import Sample
from support.hostile import cases
from support.lineprotocol import expected_points, names, sample_specs
from support.saltconfig import salt_funcs
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable

pytestmark = pytest.mark.integration

CASES = cases()


@pytest.fixture(scope="module")
def influx(tmp_path_factory):
    try:
        daemon = InfluxD(tmp_path_factory.mktemp("influxd-hostile"))
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with daemon:
        yield daemon


def _send(influx, ret, cachedir, db, **extra):
    opts = {
        "id": "tester",
        "cachedir": cachedir,
        "influxdb": {"url": influx.url, "db": db, "timeout": 5, **extra},
    }
    return backend.deliver_return(BACKEND, ret, salt_funcs(opts), opts)


def _field_values(influx, db, where=""):
    """Number of stored field values (not rows) in every measurement of ``db``."""
    measurements = influx.query("SHOW MEASUREMENTS", db=db)["results"][0].get("series", [])
    total = 0
    for (name,) in measurements[0]["values"] if measurements else []:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        rows = influx.query(f'SELECT * FROM "{quoted}" {where}', db=db)["results"][0]
        for series in rows.get("series", []):
            tag_columns = {"time", "host", "case", "path", "interface", "cpu", "device", "sensor"}
            fields = [i for i, c in enumerate(series["columns"]) if c not in tag_columns]
            total += sum(1 for row in series["values"] for i in fields if row[i] is not None)
    return total


@pytest.fixture(scope="module")
def landed(influx, tmp_path_factory):
    cachedir = str(tmp_path_factory.mktemp("hostile-influx-cachedir"))
    return {
        case.name: _send(influx, case.ret, cachedir, "hostile", tags={"case": str(index)})
        for index, case in enumerate(CASES)
    }


@pytest.mark.parametrize("index, case", list(enumerate(CASES)), ids=[c.name for c in CASES])
def test_every_valid_point_lands(influx, landed, index, case):
    result = landed[case.name]
    assert not result.spooled and not result.dropped, result
    assert _field_values(influx, "hostile", f"WHERE \"case\" = '{index}'") == case.points


def test_nothing_else_landed(influx, landed):
    assert _field_values(influx, "hostile") == sum(c.points for c in CASES)


def test_replaying_the_same_points_stores_them_once(influx, tmp_path):
    ret = {
        "id": "replayed",
        "fun": "vitals.current",
        "retcode": 0,
        "return": {"ts": 1_795_000_000.0, "mem": {"total": 5, "percent": 1.5}},
    }
    for _ in range(3):
        assert _send(influx, ret, str(tmp_path), "replay").status == "sent"
    assert _field_values(influx, "replay") == 2


_examples = itertools.count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(specs=sample_specs, host=names, tags=st.dictionaries(names, names, max_size=2))
def test_property_real_influxd_accepts_every_payload(influx, specs, host, tags):
    """Any names and values serialise to lines influxd accepts, one point per intended point.
    (A database per example: generated values give one field both types across examples,
    which the vitals mapping never does.)"""
    types = {}
    for group, name, value, _tags, _ts in specs:
        key = (influx_lp.measurement_name(group), influx_lp.key_name(".".join(name)))
        assume(types.setdefault(key, type(value)) is type(value))  # as the vitals mapping
    db = f"prop{next(_examples)}"
    samples = [Sample(g, n, v, ts, t) for g, n, v, t, ts in specs]
    transport = BACKEND.transports(
        BACKEND.validate(parse("influxdb", {"url": influx.url, "db": db}, BACKEND.spec()))
    )[0]
    transport.send(influx_serialize(samples, host, tags=tags))  # raises unless 2xx
    rows = influx.query("SELECT * FROM /.*/", db=db)
    stored = sum(len(s["values"]) for s in rows["results"][0].get("series", []))
    assert stored == len(expected_points(specs, host, tags))

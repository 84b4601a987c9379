"""The InfluxDB returner against real servers: influxd 1.6 (auth off and on) and VictoriaMetrics'
``/api/v2/write``. Each test drives the whole path -- options read like Salt's
``config.option`` does, samples, serializer, HTTP transport, spool -- through
``salt_ext.core.delivery.returner.deliver_return`` and reads the points back from the server.
"""

import logging
import time

import pytest

from salt_ext.core.delivery import returner as core
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.influxdb.write import BACKEND
from salt_ext.core.samples import samples_from_return
from support.faults import BlackholeServer
from support.saltconfig import salt_funcs
from support.stack import files_holding_no_secret
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable, refused_port
from vitals_daemons.victoria_metrics import VictoriaMetrics

BS = "\\"
PASSWORD = "S3cr3t:p@ss w0rd"


# -- daemons -----------------------------------------------------------------------------------
def _daemon(factory):
    try:
        return factory()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def influxd(tmp_path_factory):
    with _daemon(lambda: InfluxD(tmp_path_factory.mktemp("influxd"))) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def influxd_auth(tmp_path_factory):
    with _daemon(lambda: InfluxD(tmp_path_factory.mktemp("influxd-auth"), auth=True)) as daemon:
        daemon.create_user("vitals", PASSWORD, admin=True)
        daemon.create_user("bob", "bob-password")
        yield daemon


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    with _daemon(lambda: VictoriaMetrics(tmp_path_factory.mktemp("vm"))) as daemon:
        yield daemon


# -- helpers -----------------------------------------------------------------------------------
def deliver(conf, ret, tmp_path, clock=time.time):
    opts = {"cachedir": str(tmp_path / "cache"), "id": ret["id"]}
    return core.deliver_return(BACKEND, ret, salt_funcs({"influxdb": conf}), opts, clock=clock)


def vitals(ts, disks=None, sensors=None, nets=None):
    return {
        "ts": ts,
        "cpu": {"percent": 12.5, "user": 8.0, "count": 4},
        "cores": {"0": {"percent": 20.0}, "1": {"percent": 5.0}},
        "load": {"1m": 0.25, "5m": 0.5, "15m": 1.0},
        "mem": {"total": 8 << 30, "available": 3 << 30, "used": 5 << 30, "percent": 62.5},
        "disk": {
            path: {"total": 100 << 30, "used": 40 << 30, "free": 60 << 30, "percent": 40.0}
            for path in (disks or ["/", "/boot"])
        },
        "net": {n: {"rx_bytes": 1e9, "rx_errors": 3} for n in (nets or ["eth0"])},
        "temp": {s: {"current": 48.3} for s in (sensors or ["cpu-thermal"])},
        "system": {"procs": 212, "boot_time": 1700000000, "uptime": 3600.5},
    }


def vitals_ret(minion, ts, **kwargs):
    return {"id": minion, "fun": "vitals.current", "return": vitals(ts, **kwargs), "retcode": 0}


def expected_points(ret, conf_tags=None, clock=None):
    """{(measurement, tags, ts, field key): value} by the documented rules."""
    out = {}
    for s in samples_from_return(ret, clock or time.time):
        tagset = {}
        for key, value in list((conf_tags or {}).items()) + list(s.tags) + [("host", ret["id"])]:
            if line_protocol.tag_value(value):
                tagset[line_protocol.key_name(key)] = line_protocol.tag_value(value)
        key = (
            line_protocol.measurement_name(s.group),
            tuple(sorted(tagset.items())),
            int(s.ts),
            line_protocol.key_name(".".join(s.name)),
        )
        out[key] = s.value
    return out


def ident(name):
    return '"' + name.replace(BS, BS * 2).replace('"', BS + '"') + '"'


def _values(body):
    return [v for s in body["results"][0].get("series", []) for v in s.get("values", [])]


def influx_dump(ix, db, rp=None):
    """Every point of ``db`` as {(measurement, tags, time, field): value} and field types."""
    points, types = {}, {}
    for (measurement,) in _values(ix.query("SHOW MEASUREMENTS", db=db)):
        source = ident(measurement)
        tag_keys = {k for (k,) in _values(ix.query(f"SHOW TAG KEYS FROM {source}", db=db))}
        for field, kind in _values(ix.query(f"SHOW FIELD KEYS FROM {source}", db=db)):
            types[(measurement, field)] = kind
        for row in ix.points(measurement, db, rp):
            tags = tuple(sorted((k, row[k]) for k in tag_keys if row.get(k) is not None))
            for key, value in row.items():
                if key != "time" and key not in tag_keys and value is not None:
                    points[(measurement, tags, row["time"], key)] = value
    return points, types


def assert_round_trip(ix, db, expected):
    points, types = influx_dump(ix, db)
    assert points == expected  # every value, every tag, and no extra point
    for (measurement, _, _, field), value in expected.items():
        kind = "integer" if isinstance(value, int) else "float"
        assert types[(measurement, field)] == kind, (measurement, field)


# -- InfluxDB 1.x ------------------------------------------------------------------------------
def test_v1_vitals_round_trip_creates_database(influxd, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="salt_ext")
    ret = vitals_ret("pi-01", time.time())
    conf = {"url": influxd.url, "db": "rt", "tags": {"role": "web"}}
    assert "rt" not in influxd.databases()
    result = deliver(conf, ret, tmp_path)
    assert result.status == "sent", result.error
    assert result.points == len(samples_from_return(ret, time.time))
    assert result.destination == influxd.url
    assert_round_trip(influxd, "rt", expected_points(ret, {"role": "web"}))
    assert 'created database "rt"' in caplog.text
    # the healthy path: one request, no database creation
    caplog.clear()
    ret2 = vitals_ret("pi-01", time.time() + 1)
    assert deliver(conf, ret2, tmp_path).status == "sent"
    assert "created database" not in caplog.text


def test_v1_precision_ms(influxd, tmp_path):
    ts = time.time()
    ret = vitals_ret("pi-02", ts)
    result = deliver({"url": influxd.url, "db": "ms", "precision": "ms"}, ret, tmp_path)
    assert result.status == "sent", result.error
    body = influxd.query('SELECT "percent" FROM "cpu"', db="ms", epoch="ms")
    times = {row[0] for row in _values(body)}
    assert times == {line_protocol.timestamp(ts, "ms")}


HOSTILE_MINION = 'web 01,role=x="q"' + BS + "z\nü😀"
HOSTILE_DISKS = ["C:" + BS, "/mnt/we ird,=" + '"x"', BS * 2 + "srv" + BS + "share", "/a" + BS + "b"]
HOSTILE_SENSORS = ["cpu\nthermal", "tab\there", "", "sensor=1,x"]
HOSTILE_NETS = ["eth0 (ü)", "trail" + BS]
HOSTILE_GENERIC = {
    "a b": 1.0,
    "c,d=e": 2.0,
    'q"uote': 3.0,
    "back" + BS + "slash": 4.0,
    "trail" + BS: 5.0,
    "time": 6.0,
    "nl\nx": 7.0,
    "ünï😀": 8.0,
    "": 9.0,
    "nested": {"x y": 10.0, "z" + BS + '"': 11.0},
}
HOSTILE_TAGS = {"role": 'we b,x=1"' + BS, "zone": "é"}


def hostile_returns(ts):
    vit = vitals_ret(
        HOSTILE_MINION, ts, disks=HOSTILE_DISKS, sensors=HOSTILE_SENSORS, nets=HOSTILE_NETS
    )
    generic = {
        "id": HOSTILE_MINION,
        "fun": 'my.fun ,x="1"' + BS,
        "return": HOSTILE_GENERIC,
        "retcode": 0,
    }
    return vit, generic


def test_v1_hostile_names_round_trip(influxd, tmp_path):
    now = time.time()
    clock = lambda: now  # noqa: E731
    conf = {"url": influxd.url, "db": "hostile", "tags": HOSTILE_TAGS}
    expected = {}
    for ret in hostile_returns(now):
        result = deliver(conf, ret, tmp_path, clock=clock)
        assert result.status == "sent", result.error
        expected.update(expected_points(ret, HOSTILE_TAGS, clock))
    assert_round_trip(influxd, "hostile", expected)
    # spot-check the documented rules on the stored data
    points, _ = influx_dump(influxd, "hostile")
    hosts = {dict(tags)["host"] for _, tags, _, _ in points}
    assert hosts == {'web 01,role=x="q"' + BS + "z ü😀"}
    paths = {dict(tags).get("path") for m, tags, _, _ in points if m == "disk"}
    assert paths == {"C:/", "/mnt/we ird,=" + '"x"', "//srv/share", "/a" + BS + "b"}
    fields = {f for m, _, _, f in points if m.startswith("my.fun")}
    assert {
        "a b",
        "c,d=e",
        'q"uote',
        "back" + BS + "slash",
        "trail/",
        "time_",
        "nl x",
        "_",
        "nested.x y",
        'nested.z/"',
    } <= fields


def test_v1_retention_policy_created_with_database(influxd, tmp_path):
    conf = {"url": influxd.url, "db": "ret", "retention_duration": "7d"}
    result = deliver(conf, vitals_ret("pi-03", time.time()), tmp_path)
    assert result.status == "sent", result.error
    (policy,) = influxd.retention_policies("ret")
    assert policy["name"] == "vitals" and policy["default"] is True
    assert policy["duration"] == "168h0m0s" and policy["replicaN"] == 1
    assert influxd.points("cpu", "ret", rp="vitals")


def test_v1_missing_rp_created(influxd, tmp_path):
    conf = {"url": influxd.url, "db": "rp", "rp": "short"}
    result = deliver(conf, vitals_ret("pi-04", time.time()), tmp_path)
    assert result.status == "sent", result.error
    policies = {p["name"]: p for p in influxd.retention_policies("rp")}
    assert set(policies) == {"autogen", "short"} and policies["autogen"]["default"] is True
    assert influxd.points("cpu", "rp", rp="short") and not influxd.points("cpu", "rp")
    # an existing database without the policy
    influxd.query('CREATE DATABASE "rp2"')
    conf = {"url": influxd.url, "db": "rp2", "rp": "other", "retention_duration": "2w"}
    assert deliver(conf, vitals_ret("pi-04", time.time()), tmp_path).status == "sent"
    policies = {p["name"]: p for p in influxd.retention_policies("rp2")}
    assert policies["other"]["duration"] == "336h0m0s"
    assert influxd.points("cpu", "rp2", rp="other")


def test_v1_type_conflict_is_dropped_not_spooled(influxd, tmp_path):
    influxd.query('CREATE DATABASE "conflict"')
    influxd.write("cpu,host=other count=1.5", db="conflict")  # count as float first
    result = deliver(
        {"url": influxd.url, "db": "conflict"}, vitals_ret("pi-05", time.time()), tmp_path
    )
    assert result.status == "dropped" and result.spooled == 0
    assert "rejected" in result.error and "line(s): HTTP 400" in result.error
    assert "field type conflict" in result.error
    assert not list((tmp_path / "cache").rglob("*.rec"))


def test_failover_past_dead_and_silent_servers(influxd, tmp_path):
    with BlackholeServer() as hole:
        urls = [f"http://127.0.0.1:{refused_port()}", f"http://127.0.0.1:{hole.port}", influxd.url]
        started = time.monotonic()
        result = deliver(
            {"urls": urls, "db": "failover", "timeout": 0.5},
            vitals_ret("pi-06", time.time()),
            tmp_path,
        )
        elapsed = time.monotonic() - started
    assert result.status == "sent" and result.destination == influxd.url, result.error
    assert elapsed < 3.0
    assert influxd.points("cpu", "failover")


# -- InfluxDB 1.x with authentication ----------------------------------------------------------
def _secret_free(caplog, result, tmp_path):
    texts = [result.error or ""]
    for record in caplog.records:
        texts += [record.getMessage(), record.exc_text or ""]
    for text in texts:
        assert PASSWORD not in text
    files_holding_no_secret([tmp_path / "cache"], (PASSWORD,))


def test_v1_auth(influxd_auth, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    ix = influxd_auth
    now = time.time()
    conf = {"url": ix.url, "db": "authdb"}

    no_creds = deliver(conf, vitals_ret("pi-07", now - 20), tmp_path)
    assert no_creds.status == "spooled"
    assert no_creds.error.startswith(f"authentication failed for {ix.url}: HTTP 401")

    wrong = deliver(
        {**conf, "user": "vitals", "password": PASSWORD + "x"},
        vitals_ret("pi-07", now - 10),
        tmp_path,
    )
    assert wrong.status == "spooled"
    assert wrong.error.startswith(f"authentication failed for {ix.url}: HTTP 401")

    # fixed config: the database is created, and the spooled points are replayed
    right = deliver(
        {**conf, "user": "vitals", "password": PASSWORD}, vitals_ret("pi-07", now), tmp_path
    )
    assert right.status == "sent", right.error
    assert right.replayed == no_creds.points + wrong.points
    times = {row["time"] for row in ix.points("cpu", "authdb")}
    assert times == {int(now - 20), int(now - 10), int(now)}
    for result in (no_creds, wrong, right):
        _secret_free(caplog, result, tmp_path)


def test_v1_auth_user_without_admin_cannot_create(influxd_auth, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    conf = {"url": influxd_auth.url, "db": "bobdb", "user": "bob", "password": "bob-password"}
    result = deliver(conf, vitals_ret("pi-08", time.time()), tmp_path)
    assert result.status == "spooled"
    assert f'database "bobdb" does not exist on {influxd_auth.url}' in result.error
    assert "requires admin privilege" in result.error
    assert "bob-password" not in result.error and "bob-password" not in caplog.text


# -- VictoriaMetrics /api/v2/write -------------------------------------------------------------
def vm_dump(vm):
    out = {}
    for series in vm.export():
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        for value, ts in zip(series["values"], series["timestamps"]):
            out[(name, tuple(sorted(labels.items())), ts // 1000)] = value
    return out


def vm_expected(expected):
    """VictoriaMetrics names a series <measurement>_<field> and keeps the \\ of an escaped quote
    in a field key (documented)."""
    return {
        (m + "_" + field.replace('"', BS + '"'), tags, ts): float(value)
        for (m, tags, ts, field), value in expected.items()
    }


def test_v2_victoria_metrics_round_trip(vm, tmp_path):
    now = time.time()
    clock = lambda: now  # noqa: E731
    conf = {
        "api": "v2",
        "url": vm.url,
        "org": "o",
        "bucket": "b",
        "token": "t0ken",
        "tags": HOSTILE_TAGS,
    }
    expected = {}
    returns = (vitals_ret("pi-09", now),) + hostile_returns(now)
    for ret in returns:
        result = deliver(conf, ret, tmp_path, clock=clock)
        assert result.status == "sent", result.error
        expected.update(expected_points(ret, HOSTILE_TAGS, clock))
    want = vm_expected(expected)
    deadline = time.monotonic() + 20
    while True:
        got = vm_dump(vm)
        if len(got) >= len(want) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == want

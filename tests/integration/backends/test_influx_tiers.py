"""InfluxDB downsampling tiers end to end against a real influxd (auth on, loopback, a free
port): the ``influxdb`` SLS rendered by Salt's renderer with a pillar pointing at it, its
``vitals_influxdb`` states (database, raw tier, tiers, pruning) applied through ``salt-call
state.high``, raw points written as the returner writes them, the tiers filled and read back.

How the tiers get filled here:
- ``test_tier_data_equals_the_mean_and_max_of_the_raw_points``: the tiers' statement run for a
  past hour with ``salt-call vitals_influxdb.downsample`` (the very SELECT ... INTO that is the
  body of each tier's continuous query, from the same function), because waiting for a 10 m
  tier's continuous query would take 10 minutes;
- ``test_the_continuous_query_itself_fills_a_tier_late_points_included``: a 2 s tier whose
  continuous query influxd runs by itself, fed points that arrive late but within its
  ``late`` (RESAMPLE FOR).
"""

import json
import time

import pytest

from salt_ext.core.readback.options import open_reader, read_options
from salt_ext.core.readback.views import history, top
from support.saltcall import salt_call
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import BackendUnavailable, poll

ADMIN = ("admin", "adm-Tq3-never-shown")
DB = "tiers"
TIERS = [
    {"name": "vitals_1m", "every": "1m", "duration": "30d", "late": "10m"},
    {"name": "vitals_10m", "every": "10m", "duration": "365d", "late": "1h"},
]
# the vitals_influxdb states of the SLS; the others install and start influxd
APPLIED = (
    "influxdb-database",
    "influxdb-retention-policy",
    "influxdb-tier-",
    "influxdb-downsample",
)


@pytest.fixture(scope="module")
def influxd(tmp_path_factory):
    try:
        daemon = InfluxD(
            tmp_path_factory.mktemp("influxd"),
            auth=True,
            admin_user=ADMIN[0],
            admin_password=ADMIN[1],
        )
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with daemon:
        yield daemon


def pillar(influxd, tiers, **server):
    return {
        "influxdb_server": {
            "port": influxd.http_port,
            "admin": {"user": ADMIN[0], "password": ADMIN[1]},
            "database": DB,
            "downsample": tiers,
            **server,
        }
    }


def apply(tmp_path, influxd, tiers, test=False, **server):
    """{state id: (result, changes)} of the SLS's vitals_influxdb states applied with
    ``tiers`` (and ``server``: more of influxdb_server:); the requisites on the states not
    applied (service, admin) left out."""
    given = pillar(influxd, tiers, **server)
    code, rendered = salt_call(tmp_path, given, "state.show_sls", "influxdb")
    assert code == 0, rendered
    high = {}
    for sid, body in rendered.items():
        if not sid.startswith(APPLIED):
            continue
        module = "vitals_influxdb"
        args = []
        for item in body[module]:
            if isinstance(item, dict) and "require" in item:
                kept = [r for r in item["require"] if str(r).startswith(APPLIED)]
                args.append({"require": kept})
            else:
                args.append(item)
        high[sid] = {module: args, "__sls__": body["__sls__"], "__env__": body["__env__"]}
    call = ["state.high", json.dumps(high)] + (["test=True"] if test else [])
    code, ret = salt_call(tmp_path, {}, *call, secrets=[ADMIN[1]])
    assert isinstance(ret, dict), ret
    out = {}
    for key, state in ret.items():
        out[key.split("_|-")[1]] = (state["result"], state["changes"])
    assert len(out) == len(high), (out, high)
    return out


def shown_queries(influxd):
    series = influxd.query("SHOW CONTINUOUS QUERIES")["results"][0].get("series", [])
    return {row[0]: row[1] for s in series if s["name"] == DB for row in s.get("values", [])}


def policies(influxd):
    return {
        row["name"]: (row["duration"], row["default"]) for row in influxd.retention_policies(DB)
    }


def changed(applied):
    return {sid for sid, (result, changes) in applied.items() if changes}


def test_tiers_are_created_idempotent_and_follow_the_pillar(tmp_path, influxd):
    first = apply(tmp_path, influxd, TIERS)
    assert all(result is True for result, _ in first.values()), first
    assert changed(first) == {
        "influxdb-database",
        "influxdb-retention-policy",
        "influxdb-tier-vitals_1m",
        "influxdb-tier-vitals_1m-query",
        "influxdb-tier-vitals_10m",
        "influxdb-tier-vitals_10m-query",
    }
    assert policies(influxd) == {
        "autogen": ("0s", False),
        "vitals": ("168h0m0s", True),
        "vitals_1m": ("720h0m0s", False),
        "vitals_10m": ("8760h0m0s", False),
    }
    assert shown_queries(influxd) == {
        "vitals_1m": f"CREATE CONTINUOUS QUERY vitals_1m ON {DB} RESAMPLE FOR 10m BEGIN SELECT"
        f" mean(*), max(*) INTO {DB}.vitals_1m.:MEASUREMENT FROM {DB}.vitals./.*/ GROUP BY"
        " time(1m), * END",
        "vitals_10m": f"CREATE CONTINUOUS QUERY vitals_10m ON {DB} RESAMPLE FOR 1h BEGIN SELECT"
        f" mean(*), max(*) INTO {DB}.vitals_10m.:MEASUREMENT FROM {DB}.vitals./.*/ GROUP BY"
        " time(10m), * END",
    }
    again = apply(tmp_path, influxd, TIERS)
    assert changed(again) == set() and all(r is True for r, _ in again.values()), again

    # every changed (1m -> 2m), duration changed (30d -> 60d), a tier removed, one added
    new_tiers = [
        {"name": "vitals_1m", "every": "2m", "duration": "60d", "late": "10m"},
        {"name": "vitals_1h", "every": "1h", "duration": "730d", "late": "2h"},
    ]
    before = (policies(influxd), shown_queries(influxd))
    planned = apply(tmp_path, influxd, new_tiers, test=True)
    assert changed(planned) == {
        "influxdb-tier-vitals_1m",
        "influxdb-tier-vitals_1m-query",
        "influxdb-tier-vitals_1h",
        "influxdb-tier-vitals_1h-query",
        "influxdb-downsample-pruned",
    }
    assert {planned[sid][0] for sid in changed(planned)} == {None}
    assert (policies(influxd), shown_queries(influxd)) == before  # test=True changed nothing

    applied = apply(tmp_path, influxd, new_tiers)
    assert changed(applied) == changed(planned)
    assert all(result is True for result, _ in applied.values()), applied
    assert applied["influxdb-tier-vitals_1m"][1] == {
        "old": {"duration": "720h0m0s"},
        "new": {"duration": "1440h0m0s"},
    }
    assert applied["influxdb-downsample-pruned"][1] == {
        "old": {"continuous_queries": ["vitals_10m"]},
        "new": {},
    }
    queries = shown_queries(influxd)
    assert set(queries) == {"vitals_1m", "vitals_1h"}  # the removed tier's query is dropped
    assert "GROUP BY time(2m), *" in queries["vitals_1m"]
    assert "RESAMPLE FOR 2h" in queries["vitals_1h"] and "time(1h)" in queries["vitals_1h"]
    # the removed tier's policy and data stay until they age out
    assert policies(influxd)["vitals_10m"] == ("8760h0m0s", False)
    assert policies(influxd)["vitals_1h"] == ("17520h0m0s", False)
    assert changed(apply(tmp_path, influxd, new_tiers)) == set()


def raw_points(start):
    """An hour of one node at 10 s as the returner writes it (float and integer fields, two
    tag sets of one measurement): {(measurement, tags, field): [(ts, value)]}."""
    points = {}
    lines = []
    for i in range(360):
        ts = start + 10 * i
        percent = round((i * 7.3) % 100, 1)
        used = 1000 + (i * 37) % 500
        lines.append(f"cpu,host=node-a percent={percent} {ts}")
        lines.append(f"cpu,host=node-b percent={100 - percent} {ts}")
        lines.append(f"mem,host=node-a used={used}i {ts}")
        points.setdefault(("cpu", "node-a", "percent"), []).append((ts, percent))
        points.setdefault(("cpu", "node-b", "percent"), []).append((ts, 100 - percent))
        points.setdefault(("mem", "node-a", "used"), []).append((ts, used))
    return lines, points


def expected(points, every):
    """{(measurement, host, field, interval start): (mean, max)} of the raw points."""
    out = {}
    for (measurement, host, field), values in points.items():
        buckets = {}
        for ts, value in values:
            buckets.setdefault(ts - ts % every, []).append(value)
        for start, bucket in buckets.items():
            out[(measurement, host, field, start)] = (sum(bucket) / len(bucket), max(bucket))
    return out


def tier_rows(influxd, tier):
    """{(measurement, host, field, time): (mean, max)} read back from ``tier``."""
    out = {}
    answer = influxd.query(f'SELECT * FROM "{DB}"."{tier}"./.*/ GROUP BY "host"', db=DB)
    for series in answer["results"][0].get("series", []):
        host = series["tags"]["host"]
        for values in series["values"]:
            row = dict(zip(series["columns"], values))
            for column, value in row.items():
                if column.startswith("mean_") and value is not None:
                    field = column[len("mean_") :]
                    key = (series["name"], host, field, row["time"])
                    out[key] = (value, row[f"max_{field}"])
    return out


def downsample(tmp_path, influxd, db, tier, every, start, end):
    """``salt-call vitals_influxdb.downsample``: the tier's statement over ``start``..``end``."""
    code, written = salt_call(
        tmp_path,
        {},
        "vitals_influxdb.downsample",
        db,
        "vitals",
        tier,
        f"{every}s",
        f"start={start}",
        f"end={end}",
        f"url={influxd.url}",
        f"admin_user={ADMIN[0]}",
        f"admin_password={ADMIN[1]}",
        secrets=[ADMIN[1]],
    )
    assert code == 0, written
    return written


def test_tier_data_equals_the_mean_and_max_of_the_raw_points(tmp_path, influxd):
    tiers = [{"name": "data_1m", "every": "1m", "duration": "30d"}]
    tiers.append({"name": "data_10m", "every": "10m", "duration": "365d"})
    apply(tmp_path, influxd, tiers)
    start = (int(time.time()) - 3 * 3600) // 3600 * 3600  # a past hour: no query runs over it
    lines, points = raw_points(start)
    influxd.write(lines, db=DB)  # no rp: the database's default, the raw tier
    for tier, every in (("data_1m", 60), ("data_10m", 600)):
        written = downsample(tmp_path, influxd, DB, tier, every, start, start + 3600)
        want = expected(points, every)
        assert written == len(want)  # one point per series and interval, one field each
        got = tier_rows(influxd, tier)
        assert set(got) == set(want)
        for key, (mean, highest) in want.items():
            assert got[key][0] == pytest.approx(mean, rel=1e-12), key
            assert got[key][1] == highest, key
    # the mean of the 10 m tier is the mean of the raw points, not a mean of 1 m means
    assert len(expected(points, 600)) == 3 * 6


def test_the_continuous_query_itself_fills_a_tier_late_points_included(tmp_path, influxd):
    apply(tmp_path, influxd, [{"name": "fast", "every": "2s", "duration": "1h", "late": "30s"}])
    now = int(time.time())
    # points of the last 20 s, all arriving now: up to 20 s late, within late - every = 28 s
    lines = [f"load,host=late-node one={float(i)} {now - 20 + i}" for i in range(20)]
    influxd.write(lines, db=DB)
    points = {("load", "late-node", "one"): [(now - 20 + i, float(i)) for i in range(20)]}
    want = expected(points, 2)

    def filled():
        got = tier_rows(influxd, "fast")
        return got if set(want) <= set(got) else None

    got = poll(filled, 30, "the continuous query to fill the tier", interval=1)
    for key, (mean, highest) in want.items():
        assert got[key] == (pytest.approx(mean), highest), key


def test_history_and_top_beyond_the_raw_retention_read_the_tier(tmp_path, influxd):
    # raw points kept 1 h (InfluxDB's shortest), a 1 m tier kept a day
    raw = {"name": "vitals", "duration": "1h"}
    applied = apply(
        tmp_path, influxd, [{"name": "rb_1m", "every": "1m", "duration": "1d"}], retention=raw
    )
    assert all(result is True for result, _ in applied.values()), applied
    now = time.time()
    start = (int(now) - 3000) // 600 * 600  # 4 whole 10 m buckets, ending >= 10 min ago
    lines, points = raw_points(start)
    influxd.write(lines[: 3 * 240], db=DB)  # 40 minutes
    points = {
        key: [(ts, v) for ts, v in values if ts < start + 2400] for key, values in points.items()
    }
    downsample(tmp_path, influxd, DB, "rb_1m", 60, start, start + 2400)
    # a raw point the tier never got: a read of raw points would show it
    influxd.write([f"cpu,host=node-a percent=999.0 {start + 5}"], db=DB)

    opts = {"backend": "influxdb", "url": influxd.url, "db": DB}
    reader = open_reader(read_options({**opts, "user": ADMIN[0], "password": ADMIN[1]}))
    assert reader.tier(int(now) - 7200, int(now), 600).policy == "rb_1m"
    for agg, pick in (("mean", 0), ("max", 1)):
        got = history(reader, "cpu.percent", start="-2h", resample="10m", agg=agg)
        want = expected(points, 600)
        for host in ("node-a", "node-b"):
            values = dict(zip(got["times"], got["series"][host]))
            tiered = {t: values[t] for t in range(start, start + 2400, 600)}
            assert tiered == {
                t: pytest.approx(want[("cpu", host, "percent", t)][pick]) for t in tiered
            }, (agg, host)
    # top's newest value from the tier: the mean of the last whole minute written
    table = top(reader, window="2h")
    last_minute = [v for ts, v in points[("cpu", "node-b", "percent")] if ts >= start + 2340]
    (row,) = [r for r in table["nodes"] if r["node"] == "node-b"]
    assert row["cpu"] == pytest.approx(sum(last_minute) / len(last_minute))
    # the same window from raw points (tiers off): the point the tier does not have shows
    raw_reader = open_reader(
        read_options({**opts, "user": ADMIN[0], "password": ADMIN[1], "tiers": False})
    )
    first = history(raw_reader, "cpu.percent", start="-2h", resample="10m", agg="max")
    assert 999.0 in first["series"]["node-a"]

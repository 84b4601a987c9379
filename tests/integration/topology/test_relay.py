"""carbon-c-relay (Debian's) with consistent hashing in front of two carbon-caches.

The carbon returner's failover list names two relays. Every point of a multi-minion run must
land on exactly one cache (the one the relay's own hash ring names), none lost, and the
returner must keep delivering when the first relay is stopped.
"""

import time

import pytest

from salt_ext.core.delivery import returner as backend
from salt_ext.core.graphite.carbon import BACKEND
from support.saltconfig import salt_funcs
from support.topology import wait_until_landed
from support.vitals import vitals_return
from vitals_daemons.carbon_c_relay import CarbonCRelay
from vitals_daemons.process import BackendUnavailable

pytestmark = pytest.mark.integration

MINIONS = [f"relay-node-{i:02d}" for i in range(1, 9)]
SIZES = {"n_cores": 4, "n_disks": 2, "n_diskio": 2, "n_nets": 2, "n_sensors": 2}


def _send(minion, ts, relays, cachedir, prefix):
    """One ``vitals.current`` return of ``minion`` through the carbon returner."""
    opts = {
        "id": minion,
        "cachedir": str(cachedir),
        "carbon": {
            "hosts": [_label(r) for r in relays],
            "prefix": prefix,
            "timeout": 2,
        },
    }
    ret = {"id": minion, "fun": "vitals.current", "jid": "1", "return": vitals_return(ts, **SIZES)}
    return backend.deliver_return(BACKEND, ret, salt_funcs(opts), opts)


def _label(relay):
    return f"{relay.host}:{relay.line_port}"


def _under(caches, prefix):
    return {cache: {m for m in cache.metrics() if m.startswith(prefix + ".")} for cache in caches}


@pytest.fixture(scope="module")
def hashed_run(caches, relays, tmp_path_factory):
    """Eight minions, one return each, through the relay pair; what landed where."""
    ts = int(time.time()) - 5
    cachedir = tmp_path_factory.mktemp("relay-cachedir")
    results = {m: _send(m, ts, relays, cachedir, "hashed") for m in MINIONS}
    expected = sum(r.points for r in results.values())
    deadline = time.monotonic() + 60
    while sum(map(len, _under(caches, "hashed").values())) < expected:
        assert time.monotonic() < deadline, "not every metric reached a cache"
        time.sleep(0.5)
    paths = set().union(*_under(caches, "hashed").values())
    return ts, results, wait_until_landed(caches, paths, ts)


def test_every_point_lands_on_exactly_one_cache(hashed_run, caches):
    _ts, results, landed = hashed_run
    assert {r.status for r in results.values()} == {"sent"}
    points = sum(r.points for r in results.values())
    assert points == len(MINIONS) * (points // len(MINIONS)) and points >= 8 * 70
    assert len(landed) == points  # none lost: one whisper file per point, each holding it
    doubles = [p for p, where in landed.items() if len(where) != 1]
    assert not doubles, doubles[:5]
    first, second = _under(caches, "hashed").values()
    assert not first & second
    # the ring spreads the load: neither cache gets (almost) nothing
    assert min(len(first), len(second)) > 0.25 * points, (len(first), len(second))


def test_each_path_sits_where_the_relay_hash_ring_says(hashed_run, relays):
    _ts, _results, landed = hashed_run
    routes = relays[0].route(landed)
    assert set(routes) == set(landed)
    assert routes == relays[1].route(landed)  # both relays agree, whichever one a minion uses
    wrong = [p for p, (cache,) in landed.items() if routes[p] != (cache.host, cache.line_port)]
    assert not wrong, wrong[:5]


def test_values_arrive_unchanged(hashed_run):
    ts, _results, landed = hashed_run
    for minion in MINIONS:
        for leaf, expected in (("mem.total", 8 << 30), ("cpu.percent", 3.0), ("swap.used", 0)):
            path = f"hashed.{minion}.{leaf}"
            (cache,) = landed[path]
            assert cache.fetch(path, ts, ts) == [(ts, float(expected))]


def test_failover_list_survives_a_stopped_relay(caches, tmp_path_factory):
    destinations = [(cache.host, cache.line_port) for cache in caches]
    try:
        pair = [
            CarbonCRelay(tmp_path_factory.mktemp(f"failover-relay-{n}"), destinations) for n in "ab"
        ]
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    cachedir = tmp_path_factory.mktemp("failover-cachedir")
    minion = "failover-node"
    with pair[0], pair[1]:
        before = int(time.time()) - 10
        first = _send(minion, before, pair, cachedir, "failover")
        assert (first.status, first.destination) == ("sent", _label(pair[0])), first
        paths = {m for ms in _under(caches, "failover").values() for m in ms}
        deadline = time.monotonic() + 60
        while len(paths) < first.points:
            assert time.monotonic() < deadline, f"{len(paths)} of {first.points} metrics"
            time.sleep(0.5)
            paths = {m for ms in _under(caches, "failover").values() for m in ms}
        wait_until_landed(caches, paths, before)

        pair[0].stop()
        after = before + 5
        second = _send(minion, after, pair, cachedir, "failover")
        assert (second.status, second.destination) == ("sent", _label(pair[1])), second
        assert second.spooled == 0 and second.dropped == 0
        landed = wait_until_landed(caches, paths, after)
        assert len(landed) == second.points == first.points
        assert all(len(where) == 1 for where in landed.values())
    spools = cachedir / "vitals" / "spool"
    assert not spools.exists() or not any(spools.rglob("*.rec")), list(spools.rglob("*"))

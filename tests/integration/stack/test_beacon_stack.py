"""The vitals beacon on a real salt-master and real minions of its own.

* rules: a rule on a metric this machine really has trips once, holds without repeating and
  clears once when ``beacons.modify`` raises its threshold; the master's reactor runs the
  example SLS of ``examples/reactor`` for each event; ``beacons.add`` refuses a bad config;
* push: a minion with the push beacon fills a real carbon and a real influxd at its interval,
  loses nothing over a carbon outage, and answers ``test.ping`` while its backend black-holes.
"""

import contextlib
import re
import time
from pathlib import Path

import pytest

from salt_ext.core.delivery.spool import Spool
from support.faults import BlackholeServer
from support.stack import INFLUX_PASSWORD, INFLUX_USER
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.process import poll

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "reactor"
RULES_MINION = "vitals-beacon-rules"
PUSH_MINION = "vitals-beacon-push"
PUSH_INTERVAL = 2
MEM_RULE = {"metric": "mem.percent", "above": 1, "severity": "info"}


@pytest.fixture(scope="module")
def reactor_log(tmp_path_factory):
    log = tmp_path_factory.mktemp("reactor") / "vitals-events.log"
    log.touch()  # as the example says: file.append needs the file
    return log


@pytest.fixture(scope="module")
def beacon_master(salt_factories, reactor_log, tmp_path_factory):
    """A master whose reactor runs the shipped example, writing to a log of the test's."""
    example = (EXAMPLES / "vitals-record.sls").read_text()
    assert "/var/log/salt/vitals-events.log" in example
    record = tmp_path_factory.mktemp("reactor-sls") / "vitals-record.sls"
    record.write_text(example.replace("/var/log/salt/vitals-events.log", str(reactor_log)))
    overrides = {"reactor": [{"salt/beacon/*/vitals/*/*": [str(record)]}]}
    factory = salt_factories.salt_master_daemon("vitals-beacon-master", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def beacon_carbon(tmp_path_factory):
    """A carbon-cache of this module's own: the outage test stops it."""
    with CarbonCache(tmp_path_factory.mktemp("beacon-carbon")) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def rules_minion(beacon_master):
    factory = beacon_master.salt_minion_daemon(RULES_MINION, overrides={"loop_interval": 1})
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def push_minion(beacon_master, beacon_carbon, influxd):
    push = {"returners": "carbon,influxdb" if influxd is not None else "carbon"}
    overrides = {
        "loop_interval": 1,
        "carbon": {"host": "127.0.0.1", "port": beacon_carbon.line_port, "timeout": 2},
        "beacons": {"vitals": [{"interval": PUSH_INTERVAL}, {"push": push}]},
    }
    if influxd is not None:
        overrides["influxdb"] = {
            "url": influxd.url,
            "db": "beacon",
            "user": INFLUX_USER,
            "password": INFLUX_PASSWORD,
            "timeout": 2,
        }
    factory = beacon_master.salt_minion_daemon(PUSH_MINION, overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def cli(beacon_master):
    return beacon_master.salt_cli(timeout=60)


def beacon_events(event_listener, master, rule, after):
    return event_listener.get_events(
        [(master.id, f"salt/beacon/{RULES_MINION}/vitals/{rule}/*")], after_time=after
    )


# --- rules -------------------------------------------------------------------------------------


def test_invalid_config_is_refused_by_beacons_add(cli, rules_minion):
    bad = [{"interval": 1}, {"rules": {"mem": {**MEM_RULE, "above": "lots"}}}]
    ret = cli.run("beacons.add", "vitals", beacon_data=bad, minion_tgt=RULES_MINION).data
    assert ret["result"] is False
    assert "beacons:vitals:rules:mem:above: expected a number, got 'lots'" in ret["comment"]
    listed = cli.run("beacons.list", return_yaml=False, minion_tgt=RULES_MINION).data
    assert "vitals" not in (listed or {})


def test_rule_trips_once_holds_and_clears_once(
    cli, rules_minion, beacon_master, event_listener, reactor_log
):
    start = time.time()
    config = [{"interval": 1}, {"rules": {"mem": MEM_RULE}}]
    added = cli.run("beacons.add", "vitals", beacon_data=config, minion_tgt=RULES_MINION).data
    assert added["result"] is True, added
    try:
        tripped = event_listener.wait_for_events(
            [(beacon_master.id, f"salt/beacon/{RULES_MINION}/vitals/mem/tripped")],
            after_time=start,
            timeout=60,
        )
        assert tripped.found_all_events, tripped
        (event,) = tripped.matches
        data = event.data
        assert data["key"] == "mem.percent" and data["value"] > 1 and data["above"] == 1
        assert data["severity"] == "info" and data["id"] == RULES_MINION

        time.sleep(5)  # five more intervals above the threshold
        events = beacon_events(event_listener, beacon_master, "mem", start)
        assert [e.tag.rsplit("/", 1)[1] for e in events] == ["tripped"]

        raised = [{"interval": 1}, {"rules": {"mem": {**MEM_RULE, "above": 100}}}]
        ret = cli.run("beacons.modify", "vitals", beacon_data=raised, minion_tgt=RULES_MINION)
        assert ret.data["result"] is True, ret.data
        cleared = event_listener.wait_for_events(
            [(beacon_master.id, f"salt/beacon/{RULES_MINION}/vitals/mem/cleared")],
            after_time=start,
            timeout=60,
        )
        assert cleared.found_all_events, cleared
        time.sleep(4)
        events = sorted(
            beacon_events(event_listener, beacon_master, "mem", start), key=lambda e: e.data["at"]
        )
        assert [e.tag.rsplit("/", 1)[1] for e in events] == ["tripped", "cleared"]
    finally:
        cli.run("beacons.delete", "vitals", minion_tgt=RULES_MINION)

    # the master's reactor ran the example SLS once per event
    lines = poll(
        lambda: (
            reactor_log.exists()
            and len(reactor_log.read_text().splitlines()) >= 2
            and reactor_log.read_text().splitlines()
        ),
        60,
        "reactor log lines",
    )
    assert len(lines) == 2
    assert re.fullmatch(rf"\d+ {RULES_MINION} mem tripped mem\.percent=[\d.]+ \(info\)", lines[0])
    assert re.fullmatch(rf"\d+ {RULES_MINION} mem cleared mem\.percent=[\d.]+ \(info\)", lines[1])


# --- push mode ---------------------------------------------------------------------------------


def mem_points(carbon, since):
    return carbon.fetch(f"vitals.{PUSH_MINION}.mem.total", int(since), int(time.time()) + 1)


def test_push_fills_carbon_and_influxdb_at_its_interval(
    push_minion, beacon_carbon, influxd, beacon_master, event_listener
):
    start = time.time()
    points = poll(lambda: len(got := mem_points(beacon_carbon, start)) >= 4 and got, 60, "points")
    stamps = [ts for ts, _ in points]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) >= PUSH_INTERVAL - 1 and max(gaps) <= 3 * PUSH_INTERVAL, stamps
    if influxd is not None:
        found = poll(
            lambda: len(got := influxd.points("mem", "beacon")) >= 3 and got, 60, "influx points"
        )
        assert {p["host"] for p in found} == {PUSH_MINION}
        assert {p["total"] for p in found} == {points[-1][1]}
    # push mode sends nothing to the master per cycle
    assert not event_listener.get_events(
        [(beacon_master.id, f"salt/beacon/{PUSH_MINION}/*")], after_time=start
    )


def spooled_lines(push_minion):
    """Every carbon line waiting in the push minion's spool."""
    spool = Spool(f"{push_minion.config['cachedir']}/vitals/spool/carbon-default")
    lines = []
    for name in spool.names():
        record = spool.read(name)
        if record is not None:
            lines.extend(record.payload.decode().splitlines())
    return lines


def cycles(lines):
    """The collection times (carbon timestamps) among ``lines``."""
    return {line.split()[2] for line in lines}


def test_push_survives_a_carbon_outage_with_nothing_lost(push_minion, beacon_carbon):
    poll(lambda: mem_points(beacon_carbon, time.time() - 10), 60, "push running")
    beacon_carbon.stop()
    try:
        poll(lambda: len(cycles(spooled_lines(push_minion))) >= 3, 60, "three spooled cycles")
        outage = spooled_lines(push_minion)
    finally:
        beacon_carbon.start()
    poll(lambda: not spooled_lines(push_minion), 60, "the spool replayed")

    def missing():
        return [
            line
            for line in outage
            if not beacon_carbon.fetch(line.split()[0], int(line.split()[2]), int(line.split()[2]))
        ]

    # carbon-cache writes to whisper a little later: give it time, then count what is missing
    with contextlib.suppress(TimeoutError):
        poll(lambda: not missing(), 60, "the replayed points in whisper", interval=1)
    lost = missing()
    spooled = len(cycles(outage))
    print(f"\nbeacon push outage: {spooled} cycles, {len(outage)} points spooled, {len(lost)} lost")
    assert spooled >= 3 and lost == []


def test_ping_answers_while_the_backend_black_holes(cli, rules_minion):
    with BlackholeServer() as hole:
        push = {
            "returners": "influxdb",
            "url": f"http://127.0.0.1:{hole.port}",
            "timeout": 5,
            "create_database": False,
        }
        config = [{"beacon_module": "vitals"}, {"interval": 1}, {"push": push}]
        added = cli.run("beacons.add", "vitals_hole", beacon_data=config, minion_tgt=RULES_MINION)
        assert added.data["result"] is True, added.data
        try:
            poll(lambda: hole.accepted, 30, "the beacon reaching the black hole")
            for _ in range(5):
                ret = cli.run("--timeout=10", "test.ping", minion_tgt=RULES_MINION)
                assert ret.data is True
                time.sleep(1)
            spools = cli.run("vitals.spool", "influxdb", minion_tgt=RULES_MINION).data
            assert sum(s["points"] for s in spools.values()) > 0, spools
        finally:
            cli.run("beacons.delete", "vitals_hole", minion_tgt=RULES_MINION)

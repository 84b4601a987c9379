"""The ``vitals`` beacon through Salt's own beacon machinery (``salt.beacons.Beacon.process``):
validation messages, event tags as Salt builds them, trip/hold/clear across a reload of the
beacon loader, and push mode into a real loopback receiver with nothing returned as an event."""

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import salt.beacons
import salt.loader
import salt.payload

from salt_ext.core.beacon import beacon as vitals_beacon
from salt_ext.core.delivery.spool import Spool
from support.faults import BlackholeServer
from support.tcp import RecordingTcpServer


@pytest.fixture
def beacon_opts(loaders, tmp_path):
    opts = copy.deepcopy(loaders.opts)
    opts["cachedir"] = str(tmp_path / "cache")
    opts["id"] = "vitals-functional"
    return opts


@pytest.fixture(autouse=True)
def fresh_beacon_state():
    vitals_beacon.RUNNING.clear()
    yield
    vitals_beacon.RUNNING.clear()


def process(opts, loaders, beacons):
    """One pass of Salt's beacon loop, with a fresh beacon loader every time (as a refresh
    does)."""
    return salt.beacons.Beacon(opts, loaders.modules).process(copy.deepcopy(beacons), {})


def test_loader_finds_the_beacon(loaders, beacon_opts):
    beacons = salt.loader.beacons(beacon_opts, loaders.modules)
    assert "vitals.beacon" in beacons and "vitals.validate" in beacons


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            [{"rules": {"hot": {"metric": "temp.*.celsius", "above": "eighty"}}}],
            "beacons:vitals:rules:hot:above: expected a number, got 'eighty'",
        ),
        (
            [{"rules": {"hot": {"metric": "temp.*.celsius", "above": 80, "clear": 85}}}],
            "beacons:vitals:rules:hot:clear: must be at or below the above threshold 80, got 85",
        ),
        ([{"push": {"returners": "carbon", "port": "x"}}], "beacons:vitals:push:port"),
        ([{"interval": 10}], "beacons:vitals: configure rules:, push: or both"),
    ],
)
def test_validate_names_the_key(loaders, beacon_opts, config, message):
    beacons = salt.loader.beacons(beacon_opts, loaders.modules)
    valid, text = beacons["vitals.validate"](config)
    assert not valid and message in text


def test_valid_config(loaders, beacon_opts):
    beacons = salt.loader.beacons(beacon_opts, loaders.modules)
    config = [
        {"interval": 10},
        {"disable_during_state_run": True},
        {
            "rules": {
                "hot": {"metric": "temp.*.celsius", "above": 80, "clear": 75, "for": 30},
                "power": {"metric": "pi.under_voltage", "above": 0},
                "rootfs": {"metric": "disk./.percent", "above": 90, "clear": 85},
                "busy": {"metric": "cpu.percent", "above": 95, "clear": 80, "for": 60},
            }
        },
    ]
    assert beacons["vitals.validate"](config) == (True, "Valid beacon configuration")


def test_trips_holds_and_clears_through_salt(loaders, beacon_opts):
    rule = {"metric": "system.uptime", "above": 0, "severity": "info"}
    config = {"vitals": [{"rules": {"up": rule}}]}
    first = process(beacon_opts, loaders, config)
    assert [e["tag"] for e in first] == ["salt/beacon/vitals-functional/vitals/up/tripped"]
    data = first[0]["data"]
    assert data["key"] == "system.uptime" and data["value"] > 0 and data["severity"] == "info"
    assert data["id"] == "vitals-functional" and "tag" not in data
    assert process(beacon_opts, loaders, config) == []  # holds, no repeat, after a reload
    raised = {"vitals": [{"rules": {"up": {**rule, "above": 1e12}}}]}
    cleared = process(beacon_opts, loaders, raised)
    assert [e["tag"] for e in cleared] == ["salt/beacon/vitals-functional/vitals/up/cleared"]
    assert process(beacon_opts, loaders, raised) == []


def test_invalid_config_is_not_run(loaders, beacon_opts):
    config = {"vitals": [{"rules": {"up": {"metric": "system.uptime", "above": "x"}}}]}
    assert process(beacon_opts, loaders, config) == []
    assert vitals_beacon.RUNNING == {}


def test_push_mode_sends_no_event_and_delivers(loaders, beacon_opts):
    with RecordingTcpServer() as carbon:
        config = {"vitals": [{"push": {"returners": "carbon", "port": carbon.port}}]}
        assert process(beacon_opts, loaders, config) == []
        assert vitals_beacon.RUNNING["vitals"].pusher.workers["carbon"].wait_idle(10)
        carbon.settle()
        lines = carbon.lines()
    assert any(line.startswith(b"vitals.vitals-functional.mem.percent ") for line in lines)


def test_disable_during_state_run_is_honoured(loaders, beacon_opts):
    """Salt skips the beacon while a state job runs (a proc file naming a live process)."""
    rule = {"up": {"metric": "system.uptime", "above": 0}}
    config = {"vitals": [{"disable_during_state_run": True}, {"rules": rule}]}
    beacon_opts["multiprocessing"] = True  # jobs in their own processes, as by default
    proc_dir = os.path.join(beacon_opts["cachedir"], "proc")
    os.makedirs(proc_dir)
    # Salt only counts a live process whose command line says "salt"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "salt-job"]) as job:
        try:
            # between fork and exec the child still shows pytest's command line
            deadline = time.monotonic() + 10
            while b"salt-job" not in Path(f"/proc/{job.pid}/cmdline").read_bytes():
                assert time.monotonic() < deadline, "the job process never exec'd"
                time.sleep(0.01)
            with open(os.path.join(proc_dir, "20261125000000000000"), "wb") as handle:
                handle.write(salt.payload.dumps({"pid": job.pid, "fun": "state.apply", "jid": "1"}))
            assert process(beacon_opts, loaders, config) == []
            assert vitals_beacon.RUNNING == {}  # not even called
        finally:
            job.kill()
    os.remove(os.path.join(proc_dir, "20261125000000000000"))
    events = process(beacon_opts, loaders, config)
    assert [e["tag"] for e in events] == ["salt/beacon/vitals-functional/vitals/up/tripped"]


def test_salt_closing_the_beacon_spools_what_waits_in_memory(loaders, beacon_opts):
    """Salt closes beacons on ``beacons.delete`` and on every beacon refresh
    (``Beacon.close_beacons``): the collections waiting behind a delivery in flight go to the
    spool there and then."""
    with BlackholeServer() as hole:
        push = {"returners": "influxdb", "url": f"http://127.0.0.1:{hole.port}", "timeout": 30}
        config = {"vitals": [{"push": {**push, "create_database": False}}]}
        for _ in range(3):  # the first goes in flight, into the black hole; two wait
            assert process(beacon_opts, loaders, config) == []
            deadline = time.monotonic() + 10
            while not hole.accepted and time.monotonic() < deadline:
                time.sleep(0.02)
        worker = vitals_beacon.RUNNING["vitals"].pusher.workers["influxdb"]
        assert len(worker._pending) == 2
        beacon_opts["beacons"] = config
        salt.beacons.Beacon(beacon_opts, loaders.modules).close_beacons()
        assert len(worker._pending) == 0
        root = os.path.join(beacon_opts["cachedir"], "vitals", "spool")
        (name,) = os.listdir(root)
        assert len(Spool(os.path.join(root, name)).names()) == 2

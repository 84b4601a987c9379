"""The spool under faults, through real ``salt-call vitals.push`` jobs delivering to a real
carbon-cache and a real influxd (each behind a counting proxy, which is also the outage
switch). Every test counts, per backend, the points the jobs handed off, those that landed
(queried back), those lost and those received twice, and prints that ledger.

* SIGKILL mid-write: after the record is written and before its rename, and with its temporary
  file still empty (``strace`` delays a syscall, the job is killed right there);
* SIGKILL mid-replay: after the backend took the replayed points, before the spool let go;
* a tiny full filesystem (tmpfs) under the spool; a read-only spool holding a corrupt record;
  corrupt and truncated records.
"""

import os
import time
from pathlib import Path

import pytest

from salt_ext.core.delivery.spool import Spool
from support.spooljobs import (
    BACKENDS,
    STRACE,
    Ledger,
    SaltCallMinion,
    can_mount,
    complete_temp,
    points_by_ts,
    read_only,
    read_record,
    switch,
    tmpfs,
)

needs_strace = pytest.mark.skipif(STRACE is None, reason="strace is not installed")
needs_root = pytest.mark.skipif(not can_mount(), reason="mounting a filesystem needs root")


@pytest.fixture
def minion(request, tmp_path, proxies):
    name = "fault-" + request.node.name.removeprefix("test_").replace("_", "-")[:40]
    return SaltCallMinion(
        tmp_path / "minion", name, proxies["carbon"].port, proxies["influxdb"].url
    )


def left_behind(minion, ledger, pid):
    """What the killed job ``pid`` left in the spools (records, complete temporary files) is
    what it handed off; returns its temporary files."""
    temps = []
    for backend in BACKENDS:
        for path in minion.files_of(backend, pid):
            if path.name.startswith(".tmp-"):
                temps.append(path)
            found = read_record(path)
            if found is not None:
                ledger.handed_off(backend, points_by_ts(backend, found[1]), spooled=True)
    return temps


def spools(minion):
    return minion.call("vitals.spool")


def assert_nothing_lost(rows, reported=None):
    for backend, row in rows.items():
        expected = (reported or {}).get(backend, 0)
        assert (row["lost"], row["injected"]) == (expected, 0), row


@needs_strace
def test_sigkill_mid_write(minion, proxies, fault_carbon, fault_influxd):
    ledger = Ledger("SIGKILL mid-write")
    switch(proxies, "down")
    ledger.receipt(minion.push())
    carbon_spool, influx_spool = minion.spool("carbon"), minion.spool("influxdb")

    # after writing its carbon record, before renaming it: every fsync waits
    pid = minion.killed_push("fsync", lambda: complete_temp(carbon_spool))
    [complete] = left_behind(minion, ledger, pid)

    # its temporary file created, still empty: every flock waits (the writer locks it first)
    pid = minion.killed_push(
        "flock",
        lambda: [p for p in carbon_spool.glob(".tmp-*.rec") if p.stat().st_size == 0],
        delay=2,
    )
    [empty] = left_behind(minion, ledger, pid)
    assert empty.stat().st_size == 0
    # an empty temporary file is a live writer's for its first minute: let that minute pass
    past = time.time() - 120
    os.utime(empty, (past, past))

    # its carbon record in place, the InfluxDB one written and not yet renamed
    pid = minion.killed_push("fsync", lambda: complete_temp(influx_spool), delay=1)
    [influx_temp] = left_behind(minion, ledger, pid)
    assert (complete.parent, influx_temp.parent) == (carbon_spool, influx_spool)

    switch(proxies, "up")
    receipt = ledger.receipt(minion.push())
    assert (receipt["carbon"], receipt["influxdb"]) == ("sent", "sent"), receipt
    status = spools(minion)
    for name, spool in status.items():
        assert (spool["records"], spool["temp_files"], spool["recovered_records"]) == (0, 0, 1)
        assert spool["torn_records"] == (1 if name == "carbon-default" else 0), status
    rows = ledger.settle(minion.id, fault_carbon, fault_influxd, proxies)
    assert_nothing_lost(rows)
    assert all(row["duplicated"] == 0 for row in rows.values()), rows


@needs_root
def test_spool_status_on_a_read_only_filesystem_holding_a_corrupt_record(tmp_path, caplog):
    spool = Spool(str(tmp_path / "spool"))
    for payload, points in ((b"good", 1), (b"bad", 2)):
        spool.append(payload, points)
    flip_payload_byte(Path(spool.directory) / spool.names()[1])
    with read_only(Path(spool.directory)):
        status = spool.status()  # never raises
        with pytest.raises(OSError, match="Read-only"):
            spool.append(b"new", 1)  # raises to its caller, who logs the drop once
    assert (status["records"], status["points"], status["corrupt_records"]) == (1, 1, 1)
    assert status["filesystem"] == "read-only"
    assert len(spool.names()) == 2  # counted, not removed: it could not be
    said = [r.message for r in caplog.records if r.levelname == "WARNING"]
    assert said == [
        f"vitals spool {spool.directory}: read-only filesystem: nothing can be spooled there, "
        "replayed or removed"
    ]
    status = spool.status()  # writable again: removed, and counted once
    assert (status["corrupt_records"], len(spool.names())) == (1, 1)


def records(minion, backend):
    spool = minion.spool(backend)
    return sorted(p for p in spool.iterdir() if p.suffix == ".rec" and not p.name.startswith("."))


def payload_stamps(backend, paths):
    return {ts for path in paths for ts in points_by_ts(backend, read_record(path)[1])}


@needs_strace
def test_sigkill_mid_replay(minion, proxies, fault_carbon, fault_influxd):
    ledger = Ledger("SIGKILL mid-replay")
    switch(proxies, "down")
    for _ in range(3):
        ledger.receipt(minion.push())
    spooled = {backend: records(minion, backend) for backend in BACKENDS}
    stamps = {backend: payload_stamps(backend, spooled[backend]) for backend in BACKENDS}
    switch(proxies, "up")

    def replayed(backend):
        return stamps[backend] <= set(proxies[backend].received_by_ts(minion.id))

    # carbon took the replay; the job is killed before it removes the records (each unlink of
    # one of them waits): InfluxDB is never reached by this job
    started = time.time()
    minion.killed_push("unlink", lambda: replayed("carbon"), paths=tuple(spooled["carbon"]))
    ledger.from_wire("carbon", proxies["carbon"], minion.id, started, time.time())
    assert records(minion, "carbon") == spooled["carbon"]

    # the next job replays carbon again (received twice, stored once) and is killed the same
    # way in the InfluxDB replay
    started = time.time()
    minion.killed_push("unlink", lambda: replayed("influxdb"), paths=tuple(spooled["influxdb"]))
    for backend in BACKENDS:
        ledger.from_wire(backend, proxies[backend], minion.id, started, time.time())
    assert records(minion, "carbon") == [] and records(minion, "influxdb") == spooled["influxdb"]

    receipt = ledger.receipt(minion.push())  # finishes the replay
    assert (receipt["carbon"], receipt["influxdb"]) == ("sent", "sent"), receipt
    assert all(spool["records"] == 0 for spool in spools(minion).values())
    rows = ledger.settle(minion.id, fault_carbon, fault_influxd, proxies)
    assert_nothing_lost(rows)
    for backend, row in rows.items():  # exactly the replay that was killed went twice
        assert row["duplicated"] == ledger.spooled[backend], row


@needs_root
def test_full_filesystem_under_the_spool(minion, proxies, fault_carbon, fault_influxd):
    ledger = Ledger("full filesystem")
    switch(proxies, "down")
    with tmpfs(minion.spool_root, 16 * 1024):  # four pages: a job's records take one each
        receipts = [ledger.receipt(minion.push()) for _ in range(3)]
        for backend in BACKENDS:
            outcomes = [r[backend].split(":")[0] for r in receipts]
            assert outcomes[0] == "spooled" and outcomes[-1] == "dropped", receipts
            assert receipts[-1][backend].endswith("spooling failed: filesystem full"), receipts
        status = spools(minion)
        for backend, spool in zip(BACKENDS, status.values()):
            kept = sum(r[backend].startswith("spooled") for r in receipts)
            assert (spool["records"], spool["temp_files"], spool["filesystem"]) == (
                kept,
                0,
                "full",
            ), status
        switch(proxies, "up")
        receipt = ledger.receipt(minion.push())  # sent, and replays what the spool kept
        assert (receipt["carbon"], receipt["influxdb"]) == ("sent", "sent"), receipt
        status = spools(minion)
        assert [(s["records"], s["filesystem"]) for s in status.values()] == [(0, "ok")] * 2
    rows = ledger.settle(minion.id, fault_carbon, fault_influxd, proxies, ledger.reported)
    assert_nothing_lost(rows, ledger.reported)  # lost: only what a receipt said was dropped
    assert all(row["duplicated"] == 0 for row in rows.values()), rows


def flip_payload_byte(path):
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path, size):
    with open(path, "r+b") as handle:
        handle.truncate(size)


def lost_to_damage(ledger, backend, path):
    """The points of a record about to be damaged: lost, and said so by the spool."""
    ledger.reported[backend] += read_record(path)[0]


@needs_root
def test_read_only_spool_holding_a_corrupt_record(minion, proxies, fault_carbon, fault_influxd):
    ledger = Ledger("read-only spool with a corrupt record")
    switch(proxies, "down")
    for _ in range(2):
        ledger.receipt(minion.push())
    bad = records(minion, "carbon")[0]
    lost_to_damage(ledger, "carbon", bad)
    flip_payload_byte(bad)
    with read_only(minion.spool_root):
        offset = minion.log_size()
        status = spools(minion)  # exits 0: nothing raises
        carbon, influx = status["carbon-default"], status["influxdb-default-s"]
        assert (carbon["records"], carbon["corrupt_records"], carbon["filesystem"]) == (
            1,
            1,
            "read-only",
        ), carbon
        assert (influx["records"], influx["filesystem"]) == (2, "read-only"), influx
        assert bad.exists()  # counted, not removed: it cannot be

        receipt = ledger.receipt(minion.push())  # backends down: nowhere to keep the points
        for backend in BACKENDS:
            assert receipt[backend].startswith("dropped: "), receipt
            assert receipt[backend].endswith("spooling failed: read-only filesystem"), receipt
        switch(proxies, "up")
        receipt = ledger.receipt(minion.push())  # sent; the spool waits for a writable card
        assert (receipt["carbon"], receipt["influxdb"]) == ("sent", "sent"), receipt
        said = [line for line in minion.log_since(offset) if "read-only filesystem" in line]
        # one line per spool and condition: vitals.spool, then each job and returner
        assert len(said) == 6, said

    receipt = ledger.receipt(minion.push())  # writable again: the replay is done
    assert (receipt["carbon"], receipt["influxdb"]) == ("sent", "sent"), receipt
    status = spools(minion)
    assert [s["records"] for s in status.values()] == [0, 0], status
    assert status["carbon-default"]["corrupt_records"] == 1 and not bad.exists()
    rows = ledger.settle(minion.id, fault_carbon, fault_influxd, proxies, ledger.reported)
    assert_nothing_lost(rows, ledger.reported)
    assert all(row["duplicated"] == 0 for row in rows.values()), rows


def test_corrupt_and_truncated_records(minion, proxies, fault_carbon, fault_influxd):
    ledger = Ledger("corrupt and truncated records")
    switch(proxies, "down")
    for _ in range(4):
        ledger.receipt(minion.push())
    carbon, influx = records(minion, "carbon"), records(minion, "influxdb")
    for backend, path in [("carbon", p) for p in carbon[:3]] + [("influxdb", influx[1])]:
        lost_to_damage(ledger, backend, path)
    truncate(carbon[0], carbon[0].stat().st_size // 2)  # cut mid-payload
    flip_payload_byte(carbon[1])
    truncate(carbon[2], 10)  # cut inside its header
    truncate(influx[1], influx[1].stat().st_size - 1)
    # a power cut tore a record before its rename: a cut copy of a temporary file
    torn = carbon[3].with_name(".tmp-" + carbon[3].name.replace(".rec", "9.rec"))
    torn.write_bytes(carbon[3].read_bytes()[:-7])

    switch(proxies, "up")
    receipt = ledger.receipt(minion.push())
    assert (receipt["carbon"], receipt["influxdb"]) == ("sent", "sent"), receipt
    status = spools(minion)
    carbon_status, influx_status = status["carbon-default"], status["influxdb-default-s"]
    assert (carbon_status["corrupt_records"], carbon_status["torn_records"]) == (3, 1), status
    assert (influx_status["corrupt_records"], influx_status["torn_records"]) == (1, 0), status
    assert [s["records"] + s["temp_files"] for s in status.values()] == [0, 0], status
    rows = ledger.settle(minion.id, fault_carbon, fault_influxd, proxies, ledger.reported)
    assert_nothing_lost(rows, ledger.reported)  # lost: exactly the damaged records
    assert all(row["duplicated"] == 0 for row in rows.values()), rows

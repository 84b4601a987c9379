"""``vitals.push`` and ``vitals.spool`` through Salt's loader while carbon is down, then back.

Carbon refuses connections for a few pushes, with a spool that holds about three payloads: the
oldest points are dropped and counted, the newest kept. When carbon listens again the next
push is sent and replays exactly the kept points, recognised by their collection times.
"""

import collections
import os
import time

from salt_ext.core.delivery.returner import spool_root
from support.tcp import RecordingTcpServer
from vitals_daemons.process import refused_port

PUSHES = 6
KEPT_PAYLOADS = 3.5  # the spool bound, in payloads: three fit, a fourth does not


def push(loaders):
    """One ``vitals.push`` to carbon, in a later second than the previous one (carbon
    timestamps are whole seconds, and they tell the pushes apart below)."""
    time.sleep(1 - time.time() % 1 + 0.01)
    return loaders.modules.vitals.push(returners="carbon")


def record_file_sizes(cachedir):
    directory = os.path.join(spool_root(cachedir), "carbon-default")
    return [
        os.path.getsize(os.path.join(directory, name))
        for name in sorted(os.listdir(directory))
        if name.endswith(".rec")
    ]


def timestamps(lines):
    """How many received lines carry each carbon timestamp."""
    return collections.Counter(int(line.split()[2]) for line in lines)


def test_push_spools_bounded_then_replays_the_newest(loaders, tmp_path):
    saved = {key: loaders.opts.get(key) for key in ("cachedir", "carbon")}
    cachedir = str(tmp_path / "cache")
    loaders.opts["cachedir"] = cachedir
    server = RecordingTcpServer()
    try:
        # carbon down, spool unbounded: one payload, to learn its size on this machine
        loaders.opts["carbon"] = {"port": refused_port(), "timeout": 1}
        receipts = [push(loaders)]
        [size] = record_file_sizes(cachedir)
        loaders.opts["carbon"]["spool_max_bytes"] = int(size * KEPT_PAYLOADS)
        receipts += [push(loaders) for _ in range(PUSHES - 1)]

        for receipt in receipts:
            assert receipt["carbon"].startswith("spooled: cannot connect to 127.0.0.1:"), receipt
            assert "Connection refused" in receipt["carbon"]
            assert receipt["points"] > 0
        stamps = [receipt["ts"] for receipt in receipts]
        assert stamps == sorted(set(stamps)), stamps  # one distinct second per push

        status = loaders.modules.vitals.spool()["carbon-default"]
        kept = status["records"]
        assert 1 <= kept < PUSHES, status
        assert len(record_file_sizes(cachedir)) == kept
        dropped, newest = receipts[: PUSHES - kept], receipts[PUSHES - kept :]
        assert status["points"] == sum(r["points"] for r in newest) > 0
        assert status["dropped_points"] == sum(r["points"] for r in dropped) > 0
        assert status["dropped_records"] == PUSHES - kept
        assert status["bytes"] <= int(size * KEPT_PAYLOADS)

        # carbon back: the next push is sent, and the kept points are replayed after it
        server.listen()
        loaders.opts["carbon"] = dict(loaders.opts["carbon"], port=server.port)
        receipt = push(loaders)
        assert receipt["carbon"] == "sent", receipt
        assert receipt["ts"] > stamps[-1]

        status = loaders.modules.vitals.spool()["carbon-default"]
        assert (status["records"], status["points"]) == (0, 0), status
        assert status["dropped_points"] == sum(r["points"] for r in dropped)  # never reset

        server.settle()
        expected = {r["ts"]: r["points"] for r in newest + [receipt]}
        assert timestamps(server.lines()) == expected
        minion = loaders.opts["id"]
        assert all(line.startswith(f"vitals.{minion}.".encode()) for line in server.lines())
    finally:
        server.close()
        for key, value in saved.items():
            if value is None:
                loaders.opts.pop(key, None)
            else:
                loaders.opts[key] = value

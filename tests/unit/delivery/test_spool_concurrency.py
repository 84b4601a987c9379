"""Concurrent jobs on one minion share a spool: no spooled point is sent twice or lost.

Salt runs every job in its own forked process, so several returners may replay one spool at
the same moment. Here N forked processes, released together by a barrier, each deliver their
own payload through a real :class:`TcpTransport` to a loopback server that records every line,
then replay the same spool directory (each through its own :class:`Spool` object, as separate
jobs would). Every spooled line must arrive exactly once and the spool must end up empty.
"""

import collections
import multiprocessing
import traceback

import pytest

from salt_ext.core.delivery.delivery import Delivery
from salt_ext.core.delivery.spool import Spool
from salt_ext.core.errors import DeliveryError
from salt_ext.core.net.tcp import TcpTransport
from support.tcp import RecordingTcpServer

RECORDS = 40
LINES_PER_RECORD = 3
PROCESSES = 4
TS = 1732240000
WAIT = 30  # seconds; generous, never a tight timed assertion

fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)


# -- helpers ------------------------------------------------------------------------------------


def record_lines(i):
    return [f"spool.r{i:02d}.m{j} {i}.{j} {TS + i}".encode() for j in range(LINES_PER_RECORD)]


def own_line(k):
    return f"job.p{k}.points 1 {TS + 1000 + k}".encode()


def fill(directory):
    """RECORDS records of LINES_PER_RECORD unique carbon plaintext lines each, oldest first."""
    spool = Spool(directory)
    for i in range(RECORDS):
        spool.append(b"".join(line + b"\n" for line in record_lines(i)), LINES_PER_RECORD)
    assert len(spool.names()) == RECORDS
    return spool


def spooled_lines():
    return [line for i in range(RECORDS) for line in record_lines(i)]


class FailingAfter:
    """Wraps a transport: the first ``sends`` payloads go through, every later one fails
    (retryable, like a carbon host that went away in the middle of a replay)."""

    def __init__(self, transport, sends):
        self.transport = transport
        self.label = transport.label
        self.left = sends

    def send(self, payload):
        if self.left <= 0:
            raise DeliveryError(f"{self.label} went away")
        self.left -= 1
        self.transport.send(payload)


def transport_for(port, fail_after=None):
    transport = TcpTransport("127.0.0.1", port, timeout=5)
    return transport if fail_after is None else FailingAfter(transport, fail_after)


def job(k, directory, port, barrier, results, fail_after):
    """One minion job in its own process: wait for the others, then deliver and replay."""
    try:
        # one record per chunk: many sends, so the replays really overlap
        delivery = Delivery(
            [transport_for(port, fail_after)], spool=Spool(directory), replay_chunk_bytes=1
        )
        barrier.wait(WAIT)
        result = delivery.deliver(own_line(k) + b"\n", 1)
        results.put((k, result.status, result.sent, result.replayed, result.error))
    except BaseException:  # pylint: disable=broad-except; reported to the parent
        results.put((k, "crashed", 0, 0, traceback.format_exc()))
        raise


def received_once(server, expected):
    """Every ``expected`` line arrived exactly once, and nothing else arrived."""
    server.settle(WAIT)
    counts = collections.Counter(server.lines())
    twice = sorted(line for line, n in counts.items() if n > 1)
    missing = sorted(set(expected) - set(counts))
    unexpected = sorted(set(counts) - set(expected))
    assert (twice, missing, unexpected) == ([], [], [])
    assert sum(counts.values()) == len(expected)


# -- tests --------------------------------------------------------------------------------------


@fork
@pytest.mark.parametrize(
    "fail_after",
    [None, (4, 6, 9, 13)],
    ids=["healthy", "each-job-loses-carbon-midway"],
)
def test_concurrent_jobs_send_each_spooled_point_once(tmp_path, fail_after):
    directory = str(tmp_path / "spool")
    spool = fill(directory)
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    with RecordingTcpServer() as server:
        jobs = [
            ctx.Process(
                target=job,
                args=(
                    k,
                    directory,
                    server.port,
                    barrier,
                    results,
                    fail_after[k] if fail_after else None,
                ),
                daemon=True,
            )
            for k in range(PROCESSES)
        ]
        for process in jobs:
            process.start()
        outcomes = sorted(results.get(timeout=WAIT) for _ in jobs)
        for process in jobs:
            process.join(WAIT)
        assert [p.exitcode for p in jobs] == [0] * PROCESSES, outcomes
        assert [(k, status, sent) for k, status, sent, _, _ in outcomes] == [
            (k, "sent", 1) for k in range(PROCESSES)
        ], outcomes

        # A job that found the spool locked replays nothing: what is left (a replay cut short
        # by a failing transport) goes with the next job.
        final = Delivery([transport_for(server.port)], spool=Spool(directory)).deliver(
            own_line(PROCESSES) + b"\n", 1
        )
        assert final.status == "sent"

        received_once(server, spooled_lines() + [own_line(k) for k in range(PROCESSES + 1)])
    replayed = [r for _, _, _, r, _ in outcomes] + [final.replayed]
    assert sum(replayed) == RECORDS * LINES_PER_RECORD, replayed
    if fail_after is None:
        assert final.replayed == 0  # one of the jobs held the lock and replayed everything
    assert spool.names() == []
    status = spool.status()
    assert (status["records"], status["points"], status["dropped_points"]) == (0, 0, 0)


def test_replay_failing_midway_keeps_what_was_not_acknowledged(tmp_path):
    directory = str(tmp_path / "spool")
    spool = fill(directory)
    sends = 1 + 5  # the job's own payload, then five records
    with RecordingTcpServer() as server:
        transport = transport_for(server.port, fail_after=sends)
        delivery = Delivery([transport], spool=Spool(directory), replay_chunk_bytes=1)
        result = delivery.deliver(own_line(0) + b"\n", 1)
        assert (result.status, result.replayed) == ("sent", 5 * LINES_PER_RECORD)
        server.settle(WAIT)
        assert server.lines() == [own_line(0)] + [
            line for i in range(5) for line in record_lines(i)
        ]
        # exactly the records not acknowledged stay, in order, intact
        assert [spool.read(n).payload for n in spool.names()] == [
            b"".join(line + b"\n" for line in record_lines(i)) for i in range(5, RECORDS)
        ]
        assert spool.status()["points"] == (RECORDS - 5) * LINES_PER_RECORD

        result = Delivery([transport_for(server.port)], spool=Spool(directory)).deliver(
            own_line(1) + b"\n", 1
        )
        assert (result.status, result.replayed) == (
            "sent",
            (RECORDS - 5) * LINES_PER_RECORD,
        )
        received_once(server, spooled_lines() + [own_line(0), own_line(1)])
    assert spool.names() == []


def test_replay_failing_on_the_first_chunk_keeps_everything(tmp_path):
    directory = str(tmp_path / "spool")
    spool = fill(directory)
    names = spool.names()
    with RecordingTcpServer() as server:
        delivery = Delivery([transport_for(server.port, fail_after=1)], spool=Spool(directory))
        result = delivery.deliver(own_line(0) + b"\n", 1)
        assert (result.status, result.sent, result.replayed) == ("sent", 1, 0)
        server.settle(WAIT)
        assert server.lines() == [own_line(0)]
    assert spool.names() == names
    assert spool.status()["points"] == RECORDS * LINES_PER_RECORD

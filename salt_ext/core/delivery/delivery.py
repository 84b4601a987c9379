"""Delivery shared by every returner: transports with timeouts, failover, spool and replay.

A transport (:class:`Transport`: :class:`~salt_ext.core.net.tcp.TcpTransport`,
:class:`~salt_ext.core.net.http.HttpTransport`) has a ``label`` that is safe to log (never a
credential) and ``send(payload)`` that raises :class:`DeliveryError` on failure.
:class:`Delivery` wraps a list of transports (tried in order, or round-robin) and a
:class:`~salt_ext.core.delivery.spool.Spool`:

1. the current payload goes to the first destination that takes it;
2. if none does, it is spooled (unless the error says retrying can never help);
3. after a success, spooled records are replayed oldest first in bounded chunks, under the
   spool lock; a chunk that fails again stays spooled, and replay stops for this job.

Worst-case time of a job against dead backends: per destination, one connect timeout (name
resolution included, see :mod:`salt_ext.core.net.resolve`) plus one send timeout (``sendall`` with
a socket timeout bounds the whole send since Python 3.5).
"""

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional, Protocol

from salt_ext.core.delivery.spool import Spool, describe
from salt_ext.core.errors import DeliveryError

log = logging.getLogger(__name__)


class Transport(Protocol):
    """One destination: ``send`` delivers one payload or raises :class:`DeliveryError`."""

    label: str  # safe to log: never a credential

    def send(self, payload: bytes) -> None: ...


@dataclass
class DeliveryResult:
    """What happened to one return; returned by returners and summarised in
    :func:`salt_ext.core.jobs.push.receipt`."""

    points: int = 0
    sent: int = 0
    spooled: int = 0
    replayed: int = 0
    dropped: int = 0
    destination: Optional[str] = None
    error: Optional[str] = None

    @property
    def status(self) -> str:
        if self.sent == self.points and not self.error:
            return "sent"
        if self.spooled:
            return "spooled"
        return "dropped" if self.points else "error"


class Delivery:
    """Send payloads to the first working transport, spool what fails, replay after success."""

    def __init__(
        self,
        transports: Iterable[Transport],
        spool: Optional[Spool] = None,
        order: str = "failover",
        replay_chunk_bytes: int = 256 * 1024,
        replay_max_bytes: int = 4 * 2**20,
        name: str = "vitals",
    ) -> None:
        if not transports:
            raise ValueError("at least one transport is needed")
        self.transports = list(transports)
        self.spool = spool
        self.order = order
        self.replay_chunk_bytes = replay_chunk_bytes
        self.replay_max_bytes = replay_max_bytes
        self.name = name

    def deliver(self, payload: bytes, points: int) -> DeliveryResult:
        """Deliver one payload of ``points`` points; never raises for a delivery problem."""
        result = DeliveryResult(points=points)
        if not payload:
            return result
        try:
            result.destination = self._send(payload)
            result.sent = points
        except DeliveryError as exc:
            if exc.retryable:
                return self.spool_only(payload, points, str(exc))
            result.error = str(exc)
            result.dropped = points
            log.error("%s: %s; dropped %d points", self.name, exc, points)
            return result
        if self.spool is not None:
            try:
                result.replayed = self.replay()
            except OSError as exc:
                log.warning("%s: replay skipped, spool unusable: %s", self.name, describe(exc))
        return result

    def spool_only(self, payload: bytes, points: int, reason: str = "") -> DeliveryResult:
        """Write one payload to the spool with no network attempt; never raises. ``reason``
        says why it was not sent (logged); without one the payload is spooled first on
        purpose, and a later :meth:`replay` sends it."""
        result = DeliveryResult(points=points, error=reason or None)
        if not payload:
            return result
        if self.spool is None:
            kept, why = False, "the spool is off (spool: false)"
        else:
            try:
                kept = self.spool.append(payload, points)
                why = "larger than spool_max_bytes"
            except OSError as exc:  # read-only or full: one line below, no raise
                kept, why = False, f"spooling failed: {describe(exc)}"
        if not kept:
            result.dropped = points
            result.error = f"{reason}; {why}" if reason else why
            log.error("%s: %s; dropped %d points", self.name, result.error, points)
            return result
        result.spooled = points
        if reason:
            log.warning("%s: %s; spooled %d points", self.name, reason, points)
        return result

    def replay(self) -> int:
        """Replay spooled records oldest first; returns the number of points replayed."""
        replayed = 0
        spool = self.spool
        if spool is None or not spool.waiting():  # the healthy path: one listdir, no lock
            return 0
        with spool.locked() as acquired:
            if not acquired:  # another job on this minion is replaying right now
                return 0
            spool.recover_temp_files()  # what writers that died left: replayed too
            for chunk in spool.chunks(self.replay_chunk_bytes, self.replay_max_bytes):
                payload = b"".join(r.payload for r in chunk)
                points = sum(r.points for r in chunk)
                try:
                    self._send(payload)
                except DeliveryError as exc:
                    if not exc.retryable:
                        log.error(
                            "%s: replay rejected, dropping %d points: %s", self.name, points, exc
                        )
                        spool.acknowledge(chunk)
                        continue
                    log.warning(
                        "%s: replay stopped, %d points stay spooled: %s", self.name, points, exc
                    )
                    break
                spool.acknowledge(chunk)
                replayed += points
            spool.enforce_bounds()  # appends made meanwhile left it to the lock holder
        if replayed:
            log.info("%s: replayed %d spooled points", self.name, replayed)
        return replayed

    def _send(self, payload: bytes) -> str:
        transports = self.transports
        if self.order == "round_robin" and len(transports) > 1:
            start = random.randrange(len(transports))
            transports = transports[start:] + transports[:start]
        errors = []
        for transport in transports:
            try:
                transport.send(payload)
                return transport.label
            except DeliveryError as exc:
                if not exc.retryable:
                    raise
                errors.append(str(exc))
        raise DeliveryError("; ".join(errors))

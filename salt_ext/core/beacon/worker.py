"""The beacon's push mode: hand each collection to the returners' delivery off the caller's path.

The beacon runs inside the salt-minion process, on its event loop, so it must never wait for a
backend. Each returner gets one :class:`DeliveryWorker`: a thread that delivers through the very
pipeline the returners use (:func:`~salt_ext.core.delivery.returner.deliver_return`: options,
serializer, transports, spool and replay), so nothing is serialized or spooled by a second copy of
that code. The job return it delivers is :func:`salt_ext.core.jobs.push.job_return`, as for
``vitals.push``.

Bounds: at most one delivery in flight per returner. What arrives meanwhile waits in memory
(at most ``max_pending`` payloads) and, as soon as the delivery in flight returns, goes straight
to the spool without another network attempt; the newest payload is then delivered normally,
and a success replays the spool. A backend that black-holes therefore costs the caller a
``deque.append`` per cycle, and the worker at most the returner's own timeouts.

What is in memory when the minion stops is not lost: Salt calls the beacon's ``close`` on
``beacons.delete`` and on every beacon refresh (:meth:`Pusher.spool_pending` then spools what
waits), and nothing on SIGTERM, so :func:`stop_all` runs at the exit of the minion process
(:func:`_stop_at_exit`) and spools what waits and, past a short grace, a copy of the payload in
flight. After a SIGKILL or a power cut at most ``max_pending`` + 1 payloads per returner are
lost (what waits, and the one in flight); with ``spool_first`` each collection is on disk
before the beacon call returns, and none is.
"""

import collections
import logging
import multiprocessing.util
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, Callable, Optional

from salt_ext.core.config import Option, Options, parse
from salt_ext.core.delivery.delivery import DeliveryResult
from salt_ext.core.delivery.returner import deliver_return
from salt_ext.core.errors import ConfigError
from salt_ext.core.jobs.push import BACKENDS, backend, job_return
from salt_ext.core.samples import Skipped, samples_from_return

log = logging.getLogger(__name__)


Send = Callable[..., DeliveryResult]

PUSH_OPTIONS = {
    "returners": Option("list", ["carbon"], doc="returner names, as for --return"),
    "ret_config": Option("str", "", doc="returner profile, as for --return_config"),
    "max_pending": Option("int", 64, minimum=1, doc="payloads waiting in memory per returner"),
    "spool_first": Option(
        "bool",
        False,
        doc="write each collection to the spool before the beacon returns, then deliver it "
        "from there: nothing in memory to lose to a SIGKILL, for a spool write and read a cycle",
    ),
}
# At the minion's exit, a delivery in flight gets this long to finish before a copy of its
# payload is spooled as well.
STOP_GRACE = 2.0


def parse_push(raw: object, prefix: str = "beacons:vitals:push") -> tuple[Options, dict[str, Any]]:
    """Validate the ``push:`` dict: returner names, and every other key as a returner option
    (``--return_kwargs``) that at least one of the named returners knows, with a valid value.

    Returns ``(push options, ret_kwargs)``; raises :class:`ConfigError` naming the key.
    """
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(
            prefix, f"must be a dict such as {{returners: carbon}}, got {type(raw).__name__}"
        )
    opts = parse(prefix, {k: v for k, v in raw.items() if k in PUSH_OPTIONS}, PUSH_OPTIONS)
    unknown = [name for name in opts["returners"] if name not in BACKENDS]
    if not opts["returners"] or unknown:
        raise ConfigError(
            f"{prefix}:returners",
            f"unknown returner {unknown[0]!r}" if unknown else "name at least one returner",
        )
    ret_kwargs = {k: v for k, v in raw.items() if k not in PUSH_OPTIONS}
    specs = {name: backend(name).spec() for name in opts["returners"]}
    for key in ret_kwargs:
        if not any(key in spec for spec in specs.values()):
            known = sorted(set().union(*specs.values()) | set(PUSH_OPTIONS))
            raise ConfigError(f"{prefix}:{key}", f"unknown option (known: {', '.join(known)})")
    # Each value is checked on its own here; checks across options (such as a user without a
    # password) need the returner's full settings and happen at delivery, as for any return.
    for spec in specs.values():
        parse(prefix, {k: v for k, v in ret_kwargs.items() if k in spec}, spec)
    return opts, ret_kwargs


class DeliveryWorker:
    """One returner's delivery thread. :meth:`submit` never blocks on the network."""

    def __init__(
        self,
        name: str,
        salt_funcs: Mapping[str, Callable[..., Any]],
        opts: Mapping[str, Any],
        max_pending: int = 64,
        send: Send = deliver_return,
    ) -> None:
        self.name = name
        self.backend = backend(name)
        self.salt_funcs = salt_funcs
        self.opts = opts
        self.max_pending = max_pending
        self._send = send
        # (action, job return): "deliver" a collection, or "replay" the spool (spool_first)
        self._pending: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._wake = threading.Condition()
        self._current: Optional[tuple[str, dict[str, Any]]] = None
        self._stopped = False
        self.stats: collections.Counter[str] = collections.Counter()
        self.last_error: Optional[str] = None
        self._thread = threading.Thread(target=self._run, name=f"vitals-push-{name}", daemon=True)
        self._thread.start()

    def submit(self, ret: dict[str, Any]) -> None:
        """Queue a collection for delivery."""
        with self._wake:
            if len(self._pending) >= self.max_pending:
                _, lost = self._pending.popleft()
                self.stats["dropped_payloads"] += 1
                log.error(
                    "vitals push %s: %d payloads wait for a delivery in flight; dropped the "
                    "oldest (ts %s)",
                    self.name,
                    self.max_pending,
                    lost.get("return", {}).get("ts"),
                )
            self._pending.append(("deliver", ret))
            self._wake.notify()

    def spool_now(self, ret: dict[str, Any]) -> None:
        """Write a collection to the spool in the calling thread, then have the thread replay
        the spool (``spool_first``)."""
        self._deliver("spool", ret)
        with self._wake:
            if not self._pending or self._pending[-1][0] != "replay":
                self._pending.append(("replay", ret))
                self._wake.notify()

    def idle(self) -> bool:
        """True when nothing waits and nothing is in flight."""
        with self._wake:
            return not self._pending and self._current is None

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def spool_pending(self) -> int:
        """Spool, in the calling thread, the collections that wait in memory (no network);
        returns how many."""
        with self._wake:
            waiting = [ret for action, ret in self._pending if action == "deliver"]
            self._pending.clear()
        for ret in waiting:
            self._deliver("spool", ret)
        return len(waiting)

    def halt(self) -> int:
        """Stop taking work and spool what waits (:meth:`spool_pending`); returns how many."""
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        return self.spool_pending()

    def spool_in_flight(self, timeout: float) -> bool:
        """After :meth:`halt`: wait up to ``timeout`` for the delivery in flight, then spool a
        copy of its collection if it has not returned (the process is about to end). If that
        delivery did land, its points are sent twice and stored once (same series and
        timestamps). Returns True if a copy was spooled."""
        with self._wake:
            self._wake.wait_for(lambda: self._current is None, max(timeout, 0.0))
            current = self._current
        if current is None or current[0] == "replay":  # a replay's records are on disk
            return False
        self._deliver("spool", current[1])
        return True

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                action, ret = self._pending.popleft()
                if action == "deliver" and self._pending:
                    # piled up behind the delivery that just returned: straight to the spool
                    # (no network); the newest is delivered, and its success replays the spool
                    action = "spool"
                self._current = (action, ret)
            try:
                self._deliver(action, ret)
            finally:
                with self._wake:
                    self._current = None
                    self._wake.notify_all()

    def _deliver(self, action: str, ret: dict[str, Any]) -> None:
        try:
            result = self._send(self.backend, ret, self.salt_funcs, self.opts, action=action)
        except Exception:  # a worker thread must survive anything
            log.exception("vitals push %s: delivery failed", self.name)
            self.stats["errors"] += 1
            return
        self.stats["sent"] += result.sent
        self.stats["spooled"] += result.spooled
        self.stats["replayed"] += result.replayed
        self.stats["dropped"] += result.dropped
        self.last_error = result.error


class Pusher:
    """The push mode of one beacon: a :class:`DeliveryWorker` per returner."""

    def __init__(
        self,
        salt_funcs: Mapping[str, Callable[..., Any]],
        opts: Mapping[str, Any],
        send: Send = deliver_return,
    ) -> None:
        self.salt_funcs = salt_funcs
        self.opts = opts
        self._send = send
        self.workers: dict[str, DeliveryWorker] = {}

    def push(
        self, vitals: dict[str, Any], push_opts: Options, ret_kwargs: Mapping[str, Any]
    ) -> None:
        """Queue one collection for every configured returner; returns at once (with
        ``spool_first``: once it is in every returner's spool)."""
        ret = job_return(
            str(self.opts.get("id") or "unknown"),
            vitals,
            jid="beacon",
            ret_config=push_opts["ret_config"],
            ret_kwargs=dict(ret_kwargs),
        )
        for name in push_opts["returners"]:
            worker = self.workers.get(name)
            if worker is None:
                _stop_at_exit(self)
                worker = DeliveryWorker(
                    name, self.salt_funcs, self.opts, push_opts["max_pending"], self._send
                )
                self.workers[name] = worker
            worker.salt_funcs = self.salt_funcs  # a beacon reload brings a new loader
            worker.max_pending = push_opts["max_pending"]
            if push_opts["spool_first"]:
                worker.spool_now(ret)
            else:
                worker.submit(ret)
        if log.isEnabledFor(logging.DEBUG):  # what a loss count starts from
            log.debug(
                "vitals push: collection of ts %d (%d points) handed to %s",
                vitals.get("ts", 0),
                len(samples_from_return(ret, time.time, Skipped())),
                ",".join(push_opts["returners"]),
            )

    def spool_pending(self) -> int:
        """Spool what waits in memory for every returner (Salt closes the beacon: deleted,
        refreshed, paused for a state run); the threads go on. Returns how many."""
        return sum(worker.spool_pending() for worker in self.workers.values())

    def stop(self, grace: float = STOP_GRACE) -> None:
        """The process is ending: spool what waits, give the deliveries in flight ``grace``
        seconds in all, then spool a copy of those still in flight."""
        workers = list(self.workers.values())
        waiting = sum(worker.halt() for worker in workers)
        deadline = time.monotonic() + grace
        copied = sum(w.spool_in_flight(deadline - time.monotonic()) for w in workers)
        if waiting or copied:
            # a warning: Salt has shut its log handlers down by now, and Python then writes
            # warnings to stderr (the journal under systemd)
            log.warning(
                "vitals push: at exit spooled %d waiting collection(s) and %d in flight",
                waiting,
                copied,
            )


# Every Pusher of this process, and the pid that registered the exit hook (a forked child
# inherits both, but not the threads: it must not stop its parent's pushers).
_PUSHERS: "weakref.WeakSet[Pusher]" = weakref.WeakSet()
_HOOKED_PID: Optional[int] = None


def stop_all(grace: float = STOP_GRACE) -> None:
    """:meth:`Pusher.stop` for every pusher of this process."""
    if os.getpid() != _HOOKED_PID:
        return
    for pusher in list(_PUSHERS):
        try:
            pusher.stop(grace)
        except Exception:  # pylint: disable=broad-except; exiting: log, go on
            log.exception("vitals push: spooling at exit failed")


def _stop_at_exit(pusher: Pusher) -> None:
    """Run :func:`stop_all` when this process exits normally (SIGTERM included).

    Salt tells a beacon nothing when the minion stops: on SIGTERM it leaves its event loop
    and exits. ``atexit`` alone does not cover it, because the minion usually runs as a
    ``multiprocessing`` child (Salt's keep-alive parent) which ends with ``os._exit`` and
    runs only ``multiprocessing``'s own exit finalizers; those also run from ``atexit`` in a
    main process (``salt-minion --disable-keepalive``), so one finalizer covers both.
    """
    global _HOOKED_PID
    _PUSHERS.add(pusher)
    if os.getpid() != _HOOKED_PID:
        _HOOKED_PID = os.getpid()
        multiprocessing.util.Finalize(None, stop_all, exitpriority=10)

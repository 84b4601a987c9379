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
"""

import collections
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional

from salt_ext.core.config import Option, Options, parse
from salt_ext.core.delivery.delivery import DeliveryResult
from salt_ext.core.delivery.returner import Backend, deliver_return
from salt_ext.core.errors import ConfigError, DeliveryError
from salt_ext.core.jobs.push import BACKENDS, backend, job_return

log = logging.getLogger(__name__)


Send = Callable[..., DeliveryResult]

PUSH_OPTIONS = {
    "returners": Option("list", ["carbon"], doc="returner names, as for --return"),
    "ret_config": Option("str", "", doc="returner profile, as for --return_config"),
    "max_pending": Option("int", 64, minimum=1, doc="payloads waiting in memory per returner"),
}


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


class SpoolOnly:
    """A backend whose every transport is 'busy': :func:`deliver_return` then spools the payload
    through the normal path (same options, serializer and spool directory)."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def transports(self, opts: Options) -> list[Any]:
        return [_Busy()]


class _Busy:
    label = "delivery in flight"

    def send(self, payload: bytes) -> None:
        raise DeliveryError("a delivery is still in flight")


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
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = threading.Condition()
        self._busy = False
        self.stats: collections.Counter[str] = collections.Counter()
        self.last_error: Optional[str] = None
        self._thread = threading.Thread(target=self._run, name=f"vitals-push-{name}", daemon=True)
        self._thread.start()

    def submit(self, ret: dict[str, Any]) -> None:
        with self._wake:
            if len(self._pending) >= self.max_pending:
                lost = self._pending.popleft()
                self.stats["dropped_payloads"] += 1
                log.error(
                    "vitals push %s: %d payloads wait for a delivery in flight; dropped the "
                    "oldest (ts %s)",
                    self.name,
                    self.max_pending,
                    lost.get("return", {}).get("ts"),
                )
            self._pending.append(ret)
            self._wake.notify()

    def idle(self) -> bool:
        """True when nothing waits and nothing is in flight."""
        with self._wake:
            return not self._pending and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch = list(self._pending)
                self._pending.clear()
                self._busy = True
            try:
                # Older payloads piled up behind the delivery that just returned: spool them
                # (no network), then deliver the newest, whose success replays the spool.
                for ret in batch[:-1]:
                    self._deliver(SpoolOnly(self.backend), ret)
                self._deliver(self.backend, batch[-1])
            finally:
                with self._wake:
                    self._busy = False

    def _deliver(self, backend_: Any, ret: dict[str, Any]) -> None:
        try:
            result = self._send(backend_, ret, self.salt_funcs, self.opts)
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
        """Queue one collection for every configured returner; returns at once."""
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
                worker = DeliveryWorker(
                    name, self.salt_funcs, self.opts, push_opts["max_pending"], self._send
                )
                self.workers[name] = worker
            worker.salt_funcs = self.salt_funcs  # a beacon reload brings a new loader
            worker.max_pending = push_opts["max_pending"]
            worker.submit(ret)

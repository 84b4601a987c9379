"""What every returner does, written once: read options the Salt way, turn the job return into
samples, serialize with the backend's serializer, deliver through the shared delivery core.

A backend (:class:`Backend`) says only what differs: its option spec, its serializer and its
transports. The loader modules in ``salt_ext/returners`` are a few lines around
:func:`deliver_return`. Imports Salt to read returner options exactly as Salt's own returners
do: ``salt.returners.get_returner_options`` for ``ret_config`` profiles, and otherwise the
mappings of Salt's ``config.option`` in its order (see
:func:`~salt_ext.core.config.salt_config`).
"""

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Optional

import salt.returners

from salt_ext.core.config import Option, Options, parse, salt_config
from salt_ext.core.delivery.delivery import Delivery, DeliveryResult, Transport
from salt_ext.core.delivery.spool import Spool
from salt_ext.core.errors import ConfigError
from salt_ext.core.samples import Row, Sample, Skipped, return_rows, row_samples

log = logging.getLogger(__name__)

# Compiled at import: Salt imports this package in the minion's main process, so a forked job
# finds it compiled (``re``'s own cache would compile it again in every job).
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")

# Options every returner has, next to its own.
DELIVERY_OPTIONS = {
    "timeout": Option("float", 5.0, minimum=0.05, doc="connect and send/read timeout, seconds"),
    "order": Option(
        "str",
        "failover",
        choices=("failover", "round_robin"),
        doc="try destinations in order, or from a random start",
    ),
    "spool": Option("bool", True, doc="keep undeliverable points on disk and replay them"),
    "spool_max_bytes": Option(
        "int", 20 * 2**20, minimum=0, doc="spool size bound; the oldest points go first"
    ),
    "spool_max_age": Option(
        "float", 7 * 86400.0, minimum=0, doc="seconds; older spooled points are dropped (counted)"
    ),
    "replay_max_bytes": Option("int", 4 * 2**20, minimum=1, doc="replayed per job at most"),
}


class Backend:
    """Base class: a returner's name, option spec, serializer and transports."""

    name: str = ""
    options: dict[str, Option] = {}

    def spec(self) -> dict[str, Option]:
        return {**DELIVERY_OPTIONS, **self.options}

    def validate(self, opts: Options) -> Options:
        """Cross-option checks after parsing; raise ConfigError. Returns opts."""
        return opts

    def serialize(self, samples: list[Sample], minion: str, opts: Options) -> bytes:
        """Return the payload bytes for ``samples``."""
        raise NotImplementedError

    def serialize_rows(self, rows: list[Row], minion: str, opts: Options) -> bytes:
        """The payload of a job return's ``rows``: by default :meth:`serialize` of their
        samples; a backend whose serializer reads rows skips making the samples."""
        return self.serialize(row_samples(rows), minion, opts)

    def transports(self, opts: Options) -> list[Transport]:
        """Return the list of transports, in failover order."""
        raise NotImplementedError

    def with_minion(self, opts: Options, minion_opts: Mapping[str, Any]) -> Options:
        """Options completed from the minion's own config (e.g. grains); default: as is."""
        return opts

    def spool_key(self, opts: Options) -> str:
        """Options that change what spooled bytes mean (a spool per value), e.g. precision."""
        return ""


def read_options(
    backend: Backend,
    ret: Optional[Mapping[str, Any]] = None,
    salt_funcs: Optional[Mapping[str, Callable[..., Any]]] = None,
    opts: Optional[Mapping[str, Any]] = None,
) -> Options:
    """The backend's options for this return, validated against explicit defaults.

    Sources, as Salt's own returners read them (``salt.returners.get_returner_options``):
    ``<name>.<option>`` keys or a nested ``<name>:`` dict in minion config, grains or pillar,
    a ``ret_config`` profile (``<profile>.<name>.<option>``), then ``--return_kwargs``.
    Parsed and validated once per process for the same settings; each call gets its own dict.
    """
    spec = backend.spec()
    # Never ``opts or {}``: the truth value of Salt 3008's OptsDict walks all of its layers.
    salt_funcs = {} if salt_funcs is None else salt_funcs
    opts = {} if opts is None else opts
    option = salt_config(salt_funcs, "config.option")
    if option is not None and not (ret or {}).get("ret_config"):
        found = _configured(backend.name, spec, option)
    else:
        found = salt.returners.get_returner_options(
            backend.name,
            ret,
            {key: key for key in spec},
            __salt__=salt_funcs,
            __opts__=opts,
        )
        found.update(_falsy_profile_values(backend.name, ret, spec, salt_funcs))
    found.update((ret or {}).get("ret_kwargs") or {})  # per-job options win over any profile
    key = (backend, repr(found))
    options = _VALIDATED.get(key)
    if options is None:
        options = backend.validate(parse(backend.name, found, spec, allow_unknown=True))
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[key] = options
    return dict(options)


# Options parsed and validated in this process, by what was found for them (its repr: a changed
# value, type or key is another entry): a long-lived process (the beacon's push mode) and a
# job's later returns find the same settings each time. A bad one is never kept, so it is
# reported on every return.
_VALIDATED: dict[tuple[Backend, str], Options] = {}
_VALIDATED_MAX = 16


def _configured(
    name: str, spec: Mapping[str, Option], option: Callable[..., Any]
) -> dict[str, Any]:
    """What ``get_returner_options`` finds when no profile is named, with fewer lookups.

    Salt asks ``config.option`` for the nested ``<name>:`` dict *and* for ``<name>.<key>``
    once per key, twice per key in all, and the nested value wins. Here the dict is read once
    and a flat key is looked up only when the dict lacks it: the same values.
    """
    nested = option(name, {}) or {}
    if not isinstance(nested, dict) and not isinstance(nested, Mapping):
        raise ConfigError(name, f"expected a dict of options, got {type(nested).__name__}")
    unknown = sorted(str(key) for key in nested if key not in spec)
    if unknown:
        raise ConfigError(f"{name}:{unknown[0]}", f"unknown option (known: {', '.join(spec)})")
    found = {}
    for key in spec:
        value = nested[key] if key in nested else option(f"{name}.{key}")
        if value is not None and value != "":
            found[key] = value
    return found


def _falsy_profile_values(
    name: str,
    ret: Optional[Mapping[str, Any]],
    spec: Mapping[str, Option],
    salt_funcs: Mapping[str, Callable[..., Any]],
) -> dict[str, Any]:
    # get_returner_options ignores a false/0 value set in a ret_config profile and falls back
    # to the default location; read such explicit values back.
    profile = (ret or {}).get("ret_config")
    get = salt_funcs.get("config.option")
    if not profile or get is None:
        return {}
    nested = get(f"{profile}.{name}", {}) or {}
    out = {}
    for key in spec:
        value = nested.get(key, get(f"{profile}.{name}.{key}"))
        if value is not None and value != "" and not value:
            out[key] = value
    return out


def spool_root(cachedir: str) -> str:
    """Where every returner's spools live on a minion."""
    return os.path.join(cachedir, "vitals", "spool")


def spool_dir(
    cachedir: str, backend: Backend, ret: Optional[Mapping[str, Any]], opts: Options
) -> str:
    """Per returner and destination profile: ``<cachedir>/vitals/spool/<name>-<profile>[-key]``."""
    profile = str((ret or {}).get("ret_config") or "default")
    name = "-".join(p for p in (backend.name, profile, backend.spool_key(opts)) if p)
    return os.path.join(spool_root(cachedir), _UNSAFE_IN_NAME.sub("_", name))


def deliver_return(
    backend: Backend,
    ret: Mapping[str, Any],
    salt_funcs: Mapping[str, Callable[..., Any]],
    opts: Mapping[str, Any],
    clock: Callable[[], float] = time.time,
    action: str = "deliver",
) -> DeliveryResult:
    """Deliver one job return; never raises. Returns a :class:`DeliveryResult`.

    ``action``: ``deliver`` (send; spool on failure; replay the spool after a success),
    ``spool`` (straight to the spool, no network: :meth:`Delivery.spool_only`) or ``replay``
    (only replay the spool ``ret``'s options name; nothing of ``ret`` is sent)."""
    try:
        options = read_options(backend, ret, salt_funcs, opts)
    except ConfigError as exc:
        log.error("%s returner: bad configuration: %s", backend.name, exc)
        return DeliveryResult(error=str(exc))
    options = backend.with_minion(options, opts)
    if action == "replay":
        result = DeliveryResult()
        try:
            delivery = _delivery(backend, ret, opts, options)
            result.replayed = delivery.replay()
        except Exception as exc:  # pylint: disable=broad-except; a returner must never raise
            log.warning("%s returner: replay skipped: %s", backend.name, exc)
            result.error = str(exc)
        return result
    minion = str(ret.get("id") or opts.get("id") or "unknown")
    skipped = Skipped()
    rows = return_rows(ret, clock, skipped)
    if skipped:
        log.info(
            "%s returner: skipped %d value(s) of %s from %s: %s",
            backend.name,
            len(skipped),
            ret.get("fun"),
            minion,
            skipped.summary(),
        )
    points = sum(len(fields) for _, _, _, fields in rows)
    if not points:
        return DeliveryResult()
    try:
        payload = backend.serialize_rows(rows, minion, options)
        delivery = _delivery(backend, ret, opts, options)
    except Exception as exc:  # pylint: disable=broad-except; a returner must never raise
        log.exception("%s returner: cannot prepare the payload", backend.name)
        return DeliveryResult(points=points, dropped=points, error=str(exc))
    if action == "spool":
        return delivery.spool_only(payload, points)
    return delivery.deliver(payload, points)


def _delivery(
    backend: Backend, ret: Optional[Mapping[str, Any]], opts: Mapping[str, Any], options: Options
) -> Delivery:
    """The :class:`Delivery` (transports, spool) of a return with these options."""
    spool = None
    if options["spool"]:
        spool = Spool(
            spool_dir(opts.get("cachedir", "/var/cache/salt/minion"), backend, ret, options),
            max_bytes=options["spool_max_bytes"],
            max_age=options["spool_max_age"],
        )
    return Delivery(
        backend.transports(options),
        spool=spool,
        order=options["order"],
        replay_max_bytes=options["replay_max_bytes"],
        name=f"{backend.name} returner",
    )

"""What the ``vitals`` beacon does each interval, in plain Python.

The beacon runs inside the salt-minion process: no fork, no fsync, no waiting on a backend.
It reads one snapshot through the collection core (only the groups its rules need, all enabled
groups in push mode), computes rates against the previous snapshot kept in memory, renders the
``vitals.current`` dict, evaluates the rules (:mod:`~salt_ext.core.beacon.rules`) and queues
the dict for the returners (:mod:`~salt_ext.core.beacon.worker`).

Beacon state lives in :data:`RUNNING`, keyed by the beacon's name, in this regular module rather
than in the loader module, which Salt re-creates on every beacon or pillar refresh: a refresh
neither re-fires a tripped rule nor forgets the rate reference.
"""

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import psutil

from salt_ext.core.beacon.rules import Rule, RuleSet, parse_rules, required_groups
from salt_ext.core.beacon.worker import Pusher, parse_push
from salt_ext.core.collect import collection as collect
from salt_ext.core.collect import rates
from salt_ext.core.config import Options
from salt_ext.core.errors import ConfigError

PREFIX = "beacons:vitals"
# Keys of a beacon config that Salt itself handles.
SALT_KEYS = frozenset(
    {"interval", "disable_during_state_run", "beacon_module", "enabled", "run_once", "_beacon_name"}
)
OWN_KEYS = ("rules", "push")


def merge_config(config: object) -> dict[str, Any]:
    """Salt's list-of-dicts beacon config as one dict (a dict is accepted as is)."""
    if isinstance(config, dict):
        return dict(config)
    if not isinstance(config, list) or not all(isinstance(item, dict) for item in config):
        raise ConfigError(PREFIX, "must be a list of dicts, e.g. [{interval: 10}, {rules: ...}]")
    merged = {}
    for item in config:
        merged.update(item)
    return merged


@dataclass(frozen=True)
class BeaconConfig:
    """One ``vitals`` beacon's configuration, validated."""

    name: str  # the beacon's name in the minion's config (``_beacon_name``)
    rules: dict[str, Rule] = field(default_factory=dict)  # rule name -> parsed rule
    push: Optional[Options] = None  # push mode's own options; None: no push mode
    ret_kwargs: dict[str, Any] = field(default_factory=dict)  # returner options of push mode


def parse_config(config: object) -> BeaconConfig:
    """Validate a beacon config (Salt's list of dicts, or one dict).

    Salt validates the config before every call, and passes it to ``validate`` and ``beacon``
    in two shapes: valid results are kept (a few), so an unchanged config is parsed once.
    """
    key = repr(config)
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _parse_config(config)
        if len(_PARSED) >= 16:
            _PARSED.clear()
        _PARSED[key] = parsed
    return parsed


_PARSED: dict[str, BeaconConfig] = {}


def _parse_config(config: object) -> BeaconConfig:
    merged = merge_config(config)
    unknown = sorted(str(k) for k in merged if k not in SALT_KEYS and k not in OWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{PREFIX}:{unknown[0]}", f"unknown option (known: {', '.join(OWN_KEYS)})"
        )
    if merged.get("rules") is None and merged.get("push") is None:
        raise ConfigError(PREFIX, "configure rules:, push: or both")
    rules = {} if merged.get("rules") is None else parse_rules(merged["rules"], f"{PREFIX}:rules")
    push: Optional[Options] = None
    ret_kwargs: dict[str, Any] = {}
    if merged.get("push") is not None:
        push, ret_kwargs = parse_push(merged["push"], f"{PREFIX}:push")
    return BeaconConfig(str(merged.get("_beacon_name") or "vitals"), rules, push, ret_kwargs)


class VitalsBeacon:
    """One configured beacon: its rate reference, rule states and push workers."""

    def __init__(
        self,
        salt_funcs: Mapping[str, Callable[..., Any]],
        opts: Mapping[str, Any],
        source: Any = psutil,
        sys_root: str = "/",
        vcgencmd: Optional[str] = None,
    ) -> None:
        self.rules = RuleSet()
        self.pusher = Pusher(salt_funcs, opts)
        self.previous: Optional[rates.Snapshot] = None
        self.sources = {"source": source, "sys_root": sys_root, "vcgencmd": vcgencmd}
        self._lock = threading.Lock()
        self._options_key: Optional[str] = None
        self._options: tuple[collect.Options, list[str]] = ({}, [])

    def run(
        self,
        parsed: BeaconConfig,
        vitals_options: object,
        clock: Callable[[], float] = time.time,
    ) -> list[dict[str, Any]]:
        """One interval: returns the rule transition events (a list of dicts with ``tag``).

        ``vitals_options`` is the raw ``vitals:`` config; a bad value raises ConfigError.
        """
        with self._lock:
            self.rules.update(parsed.rules)
            options, enabled = self._reading_options(parsed, vitals_options)
            current = collect.read_snapshot(options, clock=clock, **self.sources)
            previous, min_age = self.previous, options["min_rate_interval"]
            usable = previous is not None and rates.is_reference(
                previous, current, min_age, options["max_state_age"]
            )
            too_young = (
                previous is not None
                and rates.same_boot(previous, current)
                and 0 <= current.ts - previous.ts < min_age
            )
            if not too_young:
                self.previous = current
            reference = previous if usable else None
            vitals = collect.snapshot_vitals(reference, current, options)
            if parsed.push is not None:
                # only the groups the vitals: options enable, not those read for rules only
                pushed = {k: v for k, v in vitals.items() if k == "ts" or k in enabled}
                self.pusher.push(pushed, parsed.push, parsed.ret_kwargs)
            return self.rules.evaluate(vitals, current.ts)

    def _reading_options(
        self, parsed: BeaconConfig, vitals_options: object
    ) -> tuple[collect.Options, list[str]]:
        """The options to read with and the groups ``vitals:`` enables; worked out again only
        when the config changed (the beacon runs every few seconds)."""
        key = repr((parsed.rules, parsed.push is None, vitals_options))
        if self._options_key != key:
            self._options = self._work_out_reading(parsed, vitals_options)
            self._options_key = key
        return self._options

    @staticmethod
    def _work_out_reading(
        parsed: BeaconConfig, vitals_options: object
    ) -> tuple[collect.Options, list[str]]:
        options = collect.validate_options(vitals_options)
        needed = required_groups(parsed.rules)
        if parsed.push is None and needed is not None:
            groups = sorted(needed)
        else:
            groups = sorted(set(collect.enabled_groups(options)) | (needed or set()))
        reading = collect.validate_options({**options, "groups": groups, "exclude_groups": []})
        return reading, collect.enabled_groups(options)


# Beacon name -> VitalsBeacon, for the life of the minion process.
RUNNING: dict[str, VitalsBeacon] = {}
_RUNNING_LOCK = threading.Lock()


def close(name: str) -> int:
    """Salt is closing the beacon ``name`` (``beacons.delete``, a beacon refresh, a state run
    with ``disable_during_state_run``): spool what its push mode holds in memory, so nothing
    waits there for a delivery that may never come. Its state (rules, rate reference, the
    delivery threads) stays for the next call. Returns how many collections were spooled."""
    with _RUNNING_LOCK:
        found = RUNNING.get(name)
    return 0 if found is None else found.pusher.spool_pending()


def beacon_for(
    name: str, salt_funcs: Mapping[str, Callable[..., Any]], opts: Mapping[str, Any]
) -> VitalsBeacon:
    """The :class:`VitalsBeacon` named ``name``, created on first use."""
    with _RUNNING_LOCK:
        found = RUNNING.get(name)
        if found is None:
            found = RUNNING[name] = VitalsBeacon(salt_funcs, opts)
        found.pusher.salt_funcs = salt_funcs
        return found

"""Threshold rules over the vitals dict: parsing, matching and tripped/cleared transitions.

A rule watches one metric, a dotted path into the ``vitals.current`` dict where a segment may be
a glob (``temp.*.celsius``, ``disk./.percent``, ``cores.*.percent``). Over all matches the rule
looks at the worst value (the highest for ``above``, the lowest for ``below``):

* it **trips** once the worst value has been past the threshold (strictly above ``above`` or
  below ``below``) for ``for`` seconds without interruption;
* it **clears** once a tripped rule's worst value is back at the ``clear`` level or better
  (``clear`` defaults to the threshold; a lower ``clear`` for an ``above`` rule is hysteresis,
  so a value hovering at the threshold does not fire every interval);
* a metric that is absent in a reading changes nothing: a tripped rule stays tripped and a
  pending ``for`` window starts over.

Each transition is reported once. Everything here is pure: the caller passes the clock value.
"""

import fnmatch
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from salt_ext.core.config import Option, parse
from salt_ext.core.errors import ConfigError

RULE_OPTIONS = {
    "metric": Option(
        "str", None, doc="required: dotted path into vitals.current; a segment may be a glob (*)"
    ),
    "above": Option("float", None, doc="trip when the highest match is above this (or: below)"),
    "below": Option("float", None, doc="trip when the lowest match is below this (or: above)"),
    "clear": Option(
        "float", None, doc="clear at or past this level (hysteresis); default: the threshold"
    ),
    "for": Option("float", 0.0, minimum=0.0, doc="seconds the condition must hold"),
    "severity": Option("str", "warning", doc="copied into the events"),
}

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Rule:
    """One parsed rule. ``direction`` is ``above`` or ``below``."""

    name: str
    metric: str
    direction: str
    threshold: float
    clear: float
    hold: float
    severity: str

    @property
    def group(self) -> Optional[str]:
        """The top-level vitals key the metric lives in, or None when that is a glob."""
        first = self.metric.split(".", 1)[0]
        return None if _GLOB_CHARS & set(first) else first

    def past_threshold(self, value: float) -> bool:
        return value > self.threshold if self.direction == "above" else value < self.threshold

    def cleared_by(self, value: float) -> bool:
        return value <= self.clear if self.direction == "above" else value >= self.clear

    def worse(self, a: float, b: float) -> bool:
        return a > b if self.direction == "above" else a < b


def parse_rules(raw: object, prefix: str = "beacons:vitals:rules") -> dict[str, Rule]:
    """``{name: {metric, above|below, clear, for, severity}}`` -> ``{name: Rule}``.

    Raises :class:`ConfigError` naming ``<prefix>:<rule>:<key>`` for the first bad value.
    """
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(prefix, "must be a dict of named rules, e.g. {hot: {metric: ...}}")
    return {
        str(name): parse_rule(str(name), spec, f"{prefix}:{name}") for name, spec in raw.items()
    }


def parse_rule(name: str, raw: object, prefix: str) -> Rule:
    opts = parse(prefix, raw, RULE_OPTIONS)
    metric = opts["metric"]
    if not metric or not metric.strip("."):
        raise ConfigError(f"{prefix}:metric", "required: a dotted path such as cpu.percent")
    if any(not part for part in metric.split(".")):
        raise ConfigError(f"{prefix}:metric", f"empty path segment in {metric!r}")
    given = [d for d in ("above", "below") if opts[d] is not None]
    if len(given) != 1:
        raise ConfigError(f"{prefix}:above", "give exactly one of above or below")
    direction = given[0]
    threshold = opts[direction]
    clear = threshold if opts["clear"] is None else opts["clear"]
    if (direction == "above" and clear > threshold) or (direction == "below" and clear < threshold):
        side = "at or below" if direction == "above" else "at or above"
        raise ConfigError(
            f"{prefix}:clear",
            f"must be {side} the {direction} threshold {threshold:g}, got {clear:g}",
        )
    return Rule(name, metric, direction, threshold, clear, opts["for"], opts["severity"])


def required_groups(rules: Mapping[str, Rule]) -> Optional[set[str]]:
    """The vitals groups the rules read, or None when a rule's first segment is a glob."""
    groups = set()
    for rule in rules.values():
        if rule.group is None:
            return None
        groups.add(rule.group)
    return groups


def matches(vitals: Mapping[str, Any], metric: str) -> Iterator[tuple[str, float]]:
    """Yield ``(dotted key, value)`` for every numeric leaf of ``vitals`` matching ``metric``.

    A literal segment also matches a key that itself contains dots (``net.eth0.100.rx_errors``
    for a VLAN interface ``eth0.100``); a glob segment matches exactly one key.
    """
    yield from _walk(vitals, metric.split("."), ())


def _walk(node: object, pattern: list[str], path: tuple[str, ...]) -> Iterator[tuple[str, float]]:
    if not pattern:
        if isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node):
            yield ".".join(path), node
        return
    if not isinstance(node, dict):
        return
    head = pattern[0]
    if _GLOB_CHARS & set(head):
        for key, child in node.items():
            if fnmatch.fnmatchcase(str(key), head):
                yield from _walk(child, pattern[1:], (*path, str(key)))
        return
    for key, child in node.items():
        parts = str(key).split(".")
        if pattern[: len(parts)] == parts:
            yield from _walk(child, pattern[len(parts) :], (*path, str(key)))


def worst_match(vitals: Mapping[str, Any], rule: Rule) -> Optional[tuple[str, float]]:
    """``(key, value)`` of the worst match of the rule's metric, or None when nothing matches."""
    worst = None
    for key, value in matches(vitals, rule.metric):
        if worst is None or rule.worse(value, worst[1]):
            worst = (key, value)
    return worst


@dataclass
class RuleState:
    """Where one rule stands: ``since`` is when the condition began (None while it does not
    hold), ``tripped`` whether the tripped event has been sent."""

    since: Optional[float] = None
    tripped: bool = False


class RuleSet:
    """Rules plus their states; :meth:`evaluate` turns one reading into transition events.

    :meth:`update` swaps in new rule specs and keeps the state of rules whose name is
    unchanged, so raising a threshold of a tripped rule clears it on the next reading.
    """

    def __init__(self, rules: Optional[Mapping[str, Rule]] = None) -> None:
        self.rules: dict[str, Rule] = {}
        self.states: dict[str, RuleState] = {}
        self.update(rules or {})

    def update(self, rules: Mapping[str, Rule]) -> None:
        self.rules = dict(rules)
        self.states = {name: self.states.get(name, RuleState()) for name in self.rules}

    def evaluate(self, vitals: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
        """Return the events of this reading: dicts with ``tag`` ``<rule>/tripped`` or
        ``<rule>/cleared`` and the rule, metric, matching key, value, threshold, clear level,
        since and severity."""
        events: list[dict[str, Any]] = []
        for name, rule in self.rules.items():
            state = self.states[name]
            found = worst_match(vitals, rule)
            if found is None:
                if not state.tripped:
                    state.since = None
                continue
            key, value = found
            if not state.tripped:
                if not rule.past_threshold(value):
                    state.since = None
                    continue
                if state.since is None:
                    state.since = now
                if now - state.since >= rule.hold:
                    state.tripped = True
                    events.append(_event(rule, "tripped", key, value, state.since, now))
            elif rule.cleared_by(value):
                events.append(_event(rule, "cleared", key, value, state.since, now))
                self.states[name] = RuleState()
        return events


def _event(
    rule: Rule, transition: str, key: str, value: float, since: Optional[float], now: float
) -> dict[str, Any]:
    return {
        "tag": f"{rule.name}/{transition}",
        "rule": rule.name,
        "state": transition,
        "metric": rule.metric,
        "key": key,
        "value": value,
        rule.direction: rule.threshold,
        "threshold": rule.threshold,
        "clear": rule.clear,
        "since": since,
        "at": now,
        "severity": rule.severity,
    }

"""Reading the node's vitals: one raw :class:`Snapshot`, and snapshots turned into samples.

Gauges (sizes, temperatures, load) come straight from the current snapshot. Rates and CPU
percentages come from counter deltas against a reference snapshot: the previous job's, kept by
:class:`~salt_ext.core.collect.rates.RateStore`, or one taken ``sample_interval`` seconds earlier
in this process. The output layout is :data:`salt_ext.core.samples.GROUPS`; the per-group readers
are :mod:`salt_ext.core.collect.readings`.

Options are validated once, by :func:`validate_options`; every other function here takes the
dict it returned.
"""

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Optional, Union

import psutil

from salt_ext.core.collect import rates
from salt_ext.core.collect.rates import RateStore, Snapshot
from salt_ext.core.collect.readings import (
    RATES,
    READERS,
    SELECTIONS,
    Reading,
    attempt,
    natural,
    selector,
)
from salt_ext.core.config import Option, Options, parse, salt_lookup
from salt_ext.core.errors import ConfigError
from salt_ext.core.samples import (
    GROUPS,
    Sample,
    from_vitals_dict,
    summarize,
    to_vitals_dict,
    typed_vitals_dict,
)

__all__ = [
    "VITALS_OPTIONS",
    "Snapshot",
    "collect",
    "collect_vitals",
    "collect_window",
    "read_snapshot",
    "snapshot_samples",
    "snapshot_vitals",
    "validate_options",
]

DEFAULT_SKIP_FSTYPES = [
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fuse.snapfuse",
    "fusectl", "hugetlbfs", "iso9660", "mqueue", "nfsd", "nsfs", "overlay", "proc", "pstore",
    "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
]  # fmt: skip

VITALS_OPTIONS = {
    "groups": Option("list", list(GROUPS), doc="groups to collect"),
    "exclude_groups": Option("list", [], doc="groups not to collect"),
    "mounts": Option("list", ["*"], doc="mount point globs of the disk group"),
    "exclude_mounts": Option("list", [], doc="mount point globs to leave out"),
    "skip_fstypes": Option("list", DEFAULT_SKIP_FSTYPES, doc="filesystem types that are not disks"),
    "devices": Option("list", ["*"], doc="block device globs of the diskio group"),
    "exclude_devices": Option("list", ["loop*", "ram*"], doc="block device globs to leave out"),
    "interfaces": Option("list", ["*"], doc="network interface globs"),
    "exclude_interfaces": Option("list", ["lo"], doc="network interface globs to leave out"),
    "sample_interval": Option(
        "float", 0.5, minimum=0.05, doc="in-process sampling window when no previous state"
    ),
    "max_state_age": Option(
        "float", 3600.0, minimum=0.0, doc="seconds after which stored state is not used"
    ),
    "min_rate_interval": Option(
        "float", 0.5, minimum=0.0, doc="a previous snapshot younger than this is not used"
    ),
}

# The default globs compiled at import: a salt-minion imports this module once in its main
# process (see salt_ext/__init__.py), so the jobs it forks find them compiled.
for _include, _exclude in SELECTIONS:
    selector(tuple(VITALS_OPTIONS[_include].default), tuple(VITALS_OPTIONS[_exclude].default))

# How many readings one collection summarises, and how far apart: ``vitals.current``,
# ``vitals.push`` and ``vitals.pollpush`` take these (``vitals:pollpush:`` may set them too).
WINDOW_OPTIONS = {
    "samples": Option(
        "int", 1, minimum=1, doc="readings summarised into one collection (mean and _var)"
    ),
    "interval": Option(
        "float",
        None,
        minimum=0.01,
        doc="seconds between readings; default: rates against the previous collection "
        "(1 s between several samples)",
    ),
}

_CPU_FIELDS = ("user", "system", "iowait", "steal", "idle")
_CORE_FIELDS = ("user", "system", "iowait")


# Keys that lived under ``vitals:`` before 0.1.0 and now have a top-level key of their own (a
# minion must not refuse them as mere typos: the error says where they went).
MOVED_KEYS = {
    "pollpush": "the master config key vitals_pollpush",
    "query": "the master config key vitals_query",
    "grafana": "the pillar key vitals_grafana",
}


def configured(
    config_get: Callable[..., Any], overrides: Optional[Mapping[str, Any]] = None
) -> dict[str, Any]:
    """The raw ``vitals:`` settings :func:`validate_options` takes: the minion's, read with
    Salt's ``config.get`` (``config_get``: as :func:`~salt_ext.core.config.salt_config` gives
    it, Salt's loaded function, or a stand-in), then ``overrides`` (a function's keyword
    arguments; Salt's own ``__pub_*`` keys left out). Raises :class:`ConfigError` when
    ``vitals:`` is not a dict."""
    found = salt_lookup(config_get)("vitals", {}) or {}
    if not isinstance(found, dict) and not isinstance(found, Mapping):
        raise ConfigError("vitals", f"must be a dict of options, got {type(found).__name__}")
    raw = dict(found)
    raw.update((key, value) for key, value in (overrides or {}).items() if not key.startswith("__"))
    return raw


# Options parsed in this process, by the raw config they came from (its repr: a changed value,
# type or key is another entry). A job, a salt-call or the beacon reads the same ``vitals:``
# every time; parsing it again would only find the same options. A bad config is never kept,
# so it raises on every call.
_PARSED: dict[str, Options] = {}
_PARSED_MAX = 16


def validate_options(raw: object, prefix: str = "vitals") -> Options:
    """Parse the ``vitals:`` config dict and check group names: the options every other
    function of this module takes. ``prefix`` names where the dict was set, in errors.

    Parsed once per process for each distinct ``raw``; each call gets its own dict."""
    key = repr(raw)  # ``prefix`` only changes errors, and those are never kept
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _parse_options(raw, prefix)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = parsed
    return dict(parsed)


def _parse_options(raw: object, prefix: str) -> Options:
    if isinstance(raw, Mapping):
        for key, where in MOVED_KEYS.items():
            if key in raw:
                raise ConfigError(f"{prefix}:{key}", f"moved to {where} in salt-vitals 0.1.0")
    opts = parse(prefix, raw, VITALS_OPTIONS)
    for key in ("groups", "exclude_groups"):
        unknown = [name for name in opts[key] if name not in GROUPS]
        if unknown:
            raise ConfigError(
                f"{prefix}:{key}", f"unknown group {unknown[0]!r} (known: {', '.join(GROUPS)})"
            )
    return opts


def enabled_groups(opts: Options) -> list[str]:
    """Group keys to collect, in :data:`GROUPS` order."""
    return [key for key in GROUPS if key in opts["groups"] and key not in opts["exclude_groups"]]


# --- reading one snapshot ---------------------------------------------------------------------


def read_snapshot(
    options: Options,
    source: Any = psutil,
    sys_root: str = "/",
    vcgencmd: Optional[str] = None,
    clock: Callable[[], float] = time.time,
) -> Snapshot:
    """Read gauges and cumulative counters of every enabled group once.

    A group whose reader fails is left out (debug log); nothing here raises for a platform
    that lacks a sensor.
    """
    ts = clock()
    boot_time = float(attempt("boot time", source.boot_time) or 0.0)
    reading = Reading(source, options, sys_root, vcgencmd, ts, boot_time)
    snapshot = Snapshot(ts, boot_time)
    for key in enabled_groups(options):
        result = attempt(key, READERS[key], reading)
        if result is None:
            continue
        gauges, counters = result
        if gauges:
            snapshot.gauges[key] = gauges
        snapshot.counters.update(counters)
    return snapshot


# --- snapshots to samples ---------------------------------------------------------------------


def snapshot_samples(
    previous: Optional[Snapshot], current: Snapshot, options: Options
) -> list[Sample]:
    """Samples of ``current``: its gauges plus rates against ``previous``.

    Rate fields are absent when ``previous`` is None or not comparable (another boot, not
    older), and per counter when that counter went backwards.
    """
    return from_vitals_dict(_ordered_values(previous, current, options))


def snapshot_vitals(
    previous: Optional[Snapshot], current: Snapshot, options: Options
) -> dict[str, Any]:
    """:func:`snapshot_samples` as the nested dict ``vitals.current`` returns, built without
    the samples."""
    return typed_vitals_dict(_ordered_values(previous, current, options))


def _ordered_values(
    previous: Optional[Snapshot], current: Snapshot, options: Options
) -> dict[str, Any]:
    """The vitals dict of ``current`` (untyped) in a fixed order: GROUPS order, natural tag
    order, field order."""
    values: dict[str, dict[str, Any]] = {}
    if previous is not None and rates.comparable(previous, current):
        for key, tag, fields in _rate_values(previous, current):
            _put(values, key, tag, fields)
    for key, content in current.gauges.items():
        tagged = key in GROUPS and GROUPS[key].tag is not None
        for tag, fields in content.items() if tagged else [(None, content)]:
            _put(values, key, tag, fields)
    ordered: dict[str, Any] = {"ts": current.ts}
    for key in enabled_groups(options):
        if key in values:
            content = values[key]
            if GROUPS[key].tag is not None:
                content = {tag: content[tag] for tag in sorted(content, key=natural)}
            ordered[key] = content
    return ordered


def _rate_values(
    previous: Snapshot, current: Snapshot
) -> Iterator[tuple[str, Optional[str], dict[str, float]]]:
    """Yield ``(group key, tag or None, fields)`` computed from counter deltas."""
    elapsed = current.ts - previous.ts
    series: dict[tuple[str, str], dict[str, float]] = {}
    parts = _COUNTER_PARTS
    if len(parts) > _COUNTER_PARTS_MAX:
        parts.clear()
    for counter, delta in rates.counter_deltas(previous.counters, current.counters).items():
        found = parts.get(counter)
        if found is None:
            prefix, _, rest = counter.partition(".")
            tag, _, name = rest.rpartition(".")  # tags such as "eth0.100" may contain dots
            found = parts[counter] = ((prefix, tag), name)
        series.setdefault(found[0], {})[found[1]] = delta
    for (prefix, tag), deltas in series.items():
        if prefix == "cpu" and tag == "total":
            yield "cpu", None, rates.cpu_percentages(deltas, _CPU_FIELDS)
        elif prefix == "cpu":
            yield "cores", tag, rates.cpu_percentages(deltas, _CORE_FIELDS)
        elif prefix in RATES:
            yield prefix, tag or None, _per_second(deltas, RATES[prefix], elapsed)


# Counter name -> ((group prefix, tag), field): the same names come back every collection.
_COUNTER_PARTS: dict[str, tuple[tuple[str, str], str]] = {}
_COUNTER_PARTS_MAX = 4096
_PERCENTS = {
    name for table in RATES.values() for name, _ in table.values() if name.endswith("percent")
}


def _per_second(
    deltas: Mapping[str, float], table: Mapping[str, tuple[str, float]], elapsed: float
) -> dict[str, float]:
    fields = {}
    for counter, (name, scale) in table.items():
        if counter in deltas:
            value = deltas[counter] / elapsed * scale
            fields[name] = min(value, 100.0) if name in _PERCENTS else value
    return fields


def _put(
    values: dict[str, dict[str, Any]], key: str, tag: Optional[str], fields: Mapping[str, Any]
) -> None:
    if fields:
        group = values.setdefault(key, {})
        (group if tag is None else group.setdefault(tag, {})).update(fields)


# --- the whole collection -----------------------------------------------------------------------


def collect(
    options: Options,
    state_dir: Union[str, "os.PathLike[str]"],
    interval: Optional[float] = None,
    source: Any = psutil,
    sys_root: str = "/",
    vcgencmd: Optional[str] = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[float, list[Sample]]:
    """Collect once and return ``(collection ts, samples)``.

    With ``interval`` the rates cover two readings that many seconds apart and no state is
    touched. Otherwise the reference is the previous job's snapshot from the
    :class:`RateStore` in ``state_dir``, or, when there is none usable, a reading taken
    ``sample_interval`` seconds earlier in this process.
    """
    read = functools.partial(read_snapshot, options, source, sys_root, vcgencmd, clock)
    reference, current = _reference_and_current(options, state_dir, interval, read, sleep)
    return current.ts, snapshot_samples(reference, current, options)


def collect_vitals(
    options: Options,
    state_dir: Union[str, "os.PathLike[str]"],
    samples: int = 1,
    interval: Optional[float] = None,
    sleep: Callable[[float], None] = time.sleep,
    **reading: Any,
) -> dict[str, Any]:
    """What ``vitals.current`` returns: :func:`collect_window` as the nested vitals dict (one
    sample is rendered without building :class:`Sample` objects)."""
    if samples > 1:
        ts, summary = collect_window(options, state_dir, samples, interval, sleep, **reading)
        return to_vitals_dict(summary, ts)
    read = functools.partial(read_snapshot, options, **reading)
    reference, current = _reference_and_current(options, state_dir, interval, read, sleep)
    return snapshot_vitals(reference, current, options)


def _reference_and_current(
    options: Options,
    state_dir: Union[str, "os.PathLike[str]"],
    interval: Optional[float],
    read: Callable[[], Snapshot],
    sleep: Callable[[float], None],
) -> tuple[Optional[Snapshot], Snapshot]:
    """The rate reference and the current reading, as :func:`collect` describes."""
    if interval is not None:
        return _sampled(read, sleep, _positive_interval(interval))
    exchange = functools.partial(
        RateStore(state_dir).exchange,
        min_interval=options["min_rate_interval"],
        max_age=options["max_state_age"],
    )
    current = read()
    reference = exchange(current)
    if reference is None:
        reference, current = _sampled(read, sleep, options["sample_interval"], first=current)
        exchange(current)  # becomes the next job's reference
    return reference, current


def collect_window(
    options: Options,
    state_dir: Union[str, "os.PathLike[str]"],
    samples: int = 1,
    interval: Optional[float] = None,
    sleep: Callable[[float], None] = time.sleep,
    **reading: Any,
) -> tuple[float, list[Sample]]:
    """Collect ``samples`` readings ``interval`` seconds apart (default 1) and summarise them.

    One sample is plain :func:`collect`. Several are N + 1 snapshots giving N rounds of rates,
    pre-aggregated by :func:`~salt_ext.core.samples.summarize` (mean and variance of the float
    fields), so a small node can ship one summary instead of N points. ``reading`` holds the
    :func:`read_snapshot` injectables (``source``, ``sys_root``, ``vcgencmd``, ``clock``).
    """
    if samples <= 1:
        return collect(options, state_dir, interval, sleep=sleep, **reading)
    seconds = 1.0 if interval is None else _positive_interval(interval)
    read = functools.partial(read_snapshot, options, **reading)
    snapshots = [read()]
    for _ in range(samples):
        sleep(seconds)
        snapshots.append(read())
    rounds = [snapshot_samples(a, b, options) for a, b in zip(snapshots, snapshots[1:])]
    return snapshots[-1].ts, summarize(rounds)


def _sampled(
    read: Callable[[], Snapshot],
    sleep: Callable[[float], None],
    seconds: float,
    first: Optional[Snapshot] = None,
) -> tuple[Snapshot, Snapshot]:
    """Two readings ``seconds`` apart (reusing ``first`` when already taken)."""
    first = read() if first is None else first
    sleep(seconds)
    return first, read()


def parse_window(samples: object = 1, interval: object = None) -> tuple[int, Optional[float]]:
    """``samples`` and ``interval`` checked by :data:`WINDOW_OPTIONS` (``""`` means no
    interval); raises :class:`ConfigError` naming ``vitals:samples`` / ``vitals:interval``."""
    if samples == 1 and interval is None and type(samples) is int:  # every plain job
        return 1, None
    raw = {"samples": samples, "interval": None if interval == "" else interval}
    window = parse("vitals", raw, WINDOW_OPTIONS)
    return window["samples"], window["interval"]


def _positive_interval(interval: object) -> float:
    seconds = parse_window(interval=interval)[1]
    if seconds is None:
        raise ConfigError("vitals:interval", "expected a number of seconds, got ''")
    return seconds

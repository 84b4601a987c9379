"""Reading the node's vitals: one raw :class:`Snapshot`, and snapshots turned into samples.

Gauges (sizes, temperatures, load) come straight from the current snapshot. Rates and CPU
percentages come from counter deltas against a reference snapshot: the previous job's, kept by
:class:`~salt_ext.core.rates.RateStore`, or one taken ``sample_interval`` seconds earlier in this
process. The output layout is :data:`salt_ext.core.samples.GROUPS`.
"""

import fnmatch
import functools
import glob
import logging
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import psutil

from salt_ext.core import rates
from salt_ext.core.config import Option, parse
from salt_ext.core.errors import ConfigError
from salt_ext.core.rates import RateStore, Snapshot
from salt_ext.core.samples import GROUPS, from_vitals_dict, summarize

log = logging.getLogger(__name__)

__all__ = [
    "VITALS_OPTIONS",
    "Snapshot",
    "baseinfo",
    "collect",
    "read_snapshot",
    "snapshot_samples",
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

_GUEST_TIMES = frozenset({"guest", "guest_nice"})  # already included in user/nice on Linux
_CPU_FIELDS = ("user", "system", "iowait", "steal", "idle")
_CORE_FIELDS = ("user", "system", "iowait")

# Counter prefix -> {counter: (sample field, scale)}; a rate is delta / seconds * scale.
_RATES = {
    "swap": {"sin": ("in_bytes_per_s", 1.0), "sout": ("out_bytes_per_s", 1.0)},
    "diskio": {
        "read_bytes": ("read_bytes_per_s", 1.0),
        "write_bytes": ("write_bytes_per_s", 1.0),
        "read_count": ("read_ops_per_s", 1.0),
        "write_count": ("write_ops_per_s", 1.0),
        "busy_time": ("busy_percent", 0.1),  # milliseconds busy per second -> percent
    },
    "net": {
        "rx_bytes": ("rx_bytes_per_s", 1.0),
        "tx_bytes": ("tx_bytes_per_s", 1.0),
        "rx_packets": ("rx_packets_per_s", 1.0),
        "tx_packets": ("tx_packets_per_s", 1.0),
    },
}
_NET_COUNTERS = {
    "rx_bytes": "bytes_recv",
    "tx_bytes": "bytes_sent",
    "rx_packets": "packets_recv",
    "tx_packets": "packets_sent",
}
_NET_GAUGES = {
    "rx_errors": "errin",
    "tx_errors": "errout",
    "rx_drops": "dropin",
    "tx_drops": "dropout",
}

# Bits of `vcgencmd get_throttled`.
_PI_FLAGS = {
    "under_voltage": 0,
    "freq_capped": 1,
    "throttling": 2,
    "soft_temp_limit": 3,
    "under_voltage_occurred": 16,
    "freq_capped_occurred": 17,
    "throttling_occurred": 18,
    "soft_temp_limit_occurred": 19,
}
VCGENCMD_TIMEOUT = 2


class _ValidOptions(dict):
    """A ``vitals:`` dict :func:`validate_options` already checked: passing it on is free."""


def validate_options(raw):
    """Parse the ``vitals:`` config dict (raw or already parsed) and check group names."""
    if isinstance(raw, _ValidOptions):  # the public readers below all accept either form
        return raw
    opts = parse("vitals", raw, VITALS_OPTIONS)
    for key in ("groups", "exclude_groups"):
        unknown = [name for name in opts[key] if name not in GROUPS]
        if unknown:
            raise ConfigError(
                f"vitals:{key}", f"unknown group {unknown[0]!r} (known: {', '.join(GROUPS)})"
            )
    return _ValidOptions(opts)


def enabled_groups(opts):
    """Group keys to collect, in :data:`GROUPS` order."""
    return [key for key in GROUPS if key in opts["groups"] and key not in opts["exclude_groups"]]


# --- reading one snapshot ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    """What every group reader gets."""

    source: object
    options: dict
    sys_root: str = "/"
    vcgencmd: str = None
    ts: float = 0.0
    boot_time: float = 0.0


def read_snapshot(options=None, source=psutil, sys_root="/", vcgencmd=None, clock=time.time):
    """Read gauges and cumulative counters of every enabled group once.

    A group whose reader fails is left out (debug log); nothing here raises for a platform
    that lacks a sensor.
    """
    options = validate_options(options)
    ts = clock()
    boot_time = float(_attempt("boot time", source.boot_time) or 0.0)
    reading = _Reading(source, options, sys_root, vcgencmd, ts, boot_time)
    snapshot = Snapshot(ts, boot_time)
    for key in enabled_groups(options):
        result = _attempt(key, _READERS[key], reading)
        if result is None:
            continue
        gauges, counters = result
        if gauges:
            snapshot.gauges[key] = gauges
        snapshot.counters.update(counters)
    return snapshot


def _attempt(what, func, *args):
    """``func(*args)``, or None (logged at debug level) when it raises."""
    try:
        return func(*args)
    except Exception as exc:  # any psutil/OS/parse failure only loses this reading
        log.debug("vitals: %s unavailable: %s", what, exc)
        return None


def _read_cpu(r):
    gauges = {"count": r.source.cpu_count(logical=True)}
    freq = _attempt("cpu frequency", r.source.cpu_freq)
    if freq is not None:
        pairs = (("freq_mhz", freq.current), ("freq_min_mhz", freq.min), ("freq_max_mhz", freq.max))
        gauges.update((name, value) for name, value in pairs if value)
    return gauges, _cpu_time_counters("total", r.source.cpu_times())


def _read_cores(r):
    counters = {}
    for index, times in enumerate(r.source.cpu_times(percpu=True)):
        counters.update(_cpu_time_counters(index, times))
    return {}, counters


def _cpu_time_counters(cpu, times):
    return {
        f"cpu.{cpu}.{name}": value
        for name, value in times._asdict().items()
        if name not in _GUEST_TIMES
    }


def _read_load(r):
    load1, load5, load15 = r.source.getloadavg()
    return {"load1": load1, "load5": load5, "load15": load15}, {}


def _read_mem(r):
    return _fields(r.source.virtual_memory(), ("total", "available", "used", "percent")), {}


def _read_swap(r):
    swap = r.source.swap_memory()
    counters = {f"swap.{name}": getattr(swap, name) for name in _RATES["swap"]}
    return _fields(swap, ("total", "used", "percent")), counters


def _fields(record, names):
    return {name: getattr(record, name) for name in names}


def _read_disk(r):
    statvfs = getattr(r.source, "statvfs", os.statvfs)  # a fake source may provide its own
    usage = {mount: _disk_usage(statvfs, mount) for mount in _disk_mounts(r.source, r.options)}
    return {mount: fields for mount, fields in usage.items() if fields}, {}


def _disk_mounts(source, options):
    """Mount points of real filesystems passing the mount globs, each once."""
    fstypes = {}
    for part in source.disk_partitions(all=True):
        fstypes[part.mountpoint] = part.fstype  # the last mount on a path is the visible one
    skip = set(options["skip_fstypes"])
    return [
        mount
        for mount, fstype in fstypes.items()
        if fstype not in skip and _selected(mount, options["mounts"], options["exclude_mounts"])
    ]


def _disk_usage(statvfs, mount):
    """Sizes like ``df`` (percent of the space available to users), or None."""
    try:
        st = statvfs(mount)
    except OSError as exc:
        log.debug("vitals: skipping mount %s: %s", mount, exc)
        return None
    total = st.f_blocks * st.f_frsize
    if not total:
        return None  # a pseudo filesystem missing from skip_fstypes
    free = st.f_bavail * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    fields = {"total": total, "used": used, "free": free}
    fields["percent"] = 100.0 * used / (used + free) if used + free else 0.0
    if st.f_files:
        fields["inodes_percent"] = 100.0 * (st.f_files - st.f_ffree) / st.f_files
    return fields


def _read_diskio(r):
    counters = {}
    for device, io in sorted((r.source.disk_io_counters(perdisk=True) or {}).items()):
        if _selected(device, r.options["devices"], r.options["exclude_devices"]):
            for name in _RATES["diskio"]:
                if getattr(io, name, None) is not None:
                    counters[f"diskio.{device}.{name}"] = getattr(io, name)
    return {}, counters


def _read_net(r):
    gauges, counters = {}, {}
    for nic, io in sorted((r.source.net_io_counters(pernic=True) or {}).items()):
        if _selected(nic, r.options["interfaces"], r.options["exclude_interfaces"]):
            gauges[nic] = {name: getattr(io, attr) for name, attr in _NET_GAUGES.items()}
            for name, attr in _NET_COUNTERS.items():
                counters[f"net.{nic}.{name}"] = getattr(io, attr)
    return gauges, counters


def _selected(name, include, exclude):
    match = functools.partial(fnmatch.fnmatchcase, name)
    return any(map(match, include)) and not any(map(match, exclude))


def _read_temp(r):
    zones = _thermal_zones(r.sys_root)
    zone_keys = {_sensor_key(name) for name in zones}
    # The same zone can come from psutil as "cpu_thermal" (hwmon) or "cpu-thermal" (thermal
    # zone fallback); keep the sysfs zone name so the series name is stable.
    reported = _attempt("psutil temperatures", _psutil_temps, r.source) or {}
    temps = {name: c for name, c in reported.items() if _sensor_key(name) not in zone_keys}
    temps.update(zones)
    return {name: {"celsius": celsius} for name, celsius in temps.items()}, {}


def _sensor_key(name):
    return name.lower().replace("-", "_")


def _psutil_temps(source):
    """{sensor name: celsius}: the chip name, or chip_label when a chip has several entries."""
    temps = {}
    for chip, entries in sorted(source.sensors_temperatures().items()):
        for index, entry in enumerate(entries):
            if entry.current is None:
                continue
            label = entry.label.strip().lower().replace(" ", "_") if entry.label else ""
            name = chip if len(entries) == 1 else f"{chip}_{label or index}"
            temps[_unique(name, temps, index)] = entry.current
    return temps


def _thermal_zones(sys_root):
    """{zone type: celsius} from ``/sys/class/thermal/thermal_zone*`` (millidegrees)."""
    temps = {}
    pattern = os.path.join(sys_root, "sys/class/thermal/thermal_zone*")
    for path in sorted(glob.glob(pattern), key=_natural):
        kind, millidegrees = _read_text(f"{path}/type"), _read_text(f"{path}/temp")
        try:
            celsius = int(millidegrees) / 1000.0
        except (TypeError, ValueError):
            log.debug("vitals: no temperature in %s", path)
            continue
        index = os.path.basename(path)[len("thermal_zone") :]
        temps[_unique(kind or f"thermal_zone{index}", temps, index)] = celsius
    return temps


def _unique(name, taken, suffix):
    return f"{name}_{suffix}" if name in taken else name


def _read_system(r):
    if not r.boot_time:
        raise ValueError("boot time unknown")
    procs = len(r.source.pids())
    return {"uptime": r.ts - r.boot_time, "boot_time": r.boot_time, "procs": procs}, {}


def _read_pi(r):
    """Raspberry Pi throttling flags from ``vcgencmd get_throttled``; empty when not a Pi."""
    path = r.vcgencmd or shutil.which("vcgencmd")
    if not path:
        return {}, {}
    output = subprocess.run(
        [path, "get_throttled"],
        capture_output=True,
        text=True,
        timeout=VCGENCMD_TIMEOUT,
        check=True,
    ).stdout
    match = re.search(r"throttled=(0x[0-9a-fA-F]+|[0-9]+)\b", output)
    if not match:
        raise ValueError(f"unexpected vcgencmd output {output.strip()!r}")
    bits = int(match.group(1), 16 if match.group(1).startswith("0x") else 10)
    flags = {name: (bits >> bit) & 1 for name, bit in _PI_FLAGS.items()}
    return {"throttled": bits, **flags}, {}


_READERS = {
    "cpu": _read_cpu,
    "cores": _read_cores,
    "load": _read_load,
    "mem": _read_mem,
    "swap": _read_swap,
    "disk": _read_disk,
    "diskio": _read_diskio,
    "net": _read_net,
    "temp": _read_temp,
    "system": _read_system,
    "pi": _read_pi,
}


# --- snapshots to samples ---------------------------------------------------------------------


def snapshot_samples(previous, current, options=None):
    """Samples of ``current``: its gauges plus rates against ``previous``.

    Rate fields are absent when ``previous`` is None or not comparable (another boot, not
    older), and per counter when that counter went backwards.
    """
    options = validate_options(options)
    values = {}
    if previous is not None and rates.comparable(previous, current):
        for key, tag, fields in _rate_values(previous, current):
            _put(values, key, tag, fields)
    for key, content in current.gauges.items():
        tagged = key in GROUPS and GROUPS[key].tag is not None
        for tag, fields in content.items() if tagged else [(None, content)]:
            _put(values, key, tag, fields)
    return _samples(values, enabled_groups(options), current.ts)


def _rate_values(previous, current):
    """Yield ``(group key, tag or None, fields)`` computed from counter deltas."""
    elapsed = current.ts - previous.ts
    series = {}
    for counter, delta in rates.counter_deltas(previous.counters, current.counters).items():
        prefix, _, rest = counter.partition(".")
        tag, _, name = rest.rpartition(".")  # tags such as "eth0.100" may contain dots
        series.setdefault((prefix, tag), {})[name] = delta
    for (prefix, tag), deltas in series.items():
        if prefix == "cpu" and tag == "total":
            yield "cpu", None, rates.cpu_percentages(deltas, _CPU_FIELDS)
        elif prefix == "cpu":
            yield "cores", tag, rates.cpu_percentages(deltas, _CORE_FIELDS)
        elif prefix in _RATES:
            yield prefix, tag or None, _per_second(deltas, _RATES[prefix], elapsed)


def _per_second(deltas, table, elapsed):
    fields = {}
    for counter, (name, scale) in table.items():
        if counter in deltas:
            value = deltas[counter] / elapsed * scale
            fields[name] = min(value, 100.0) if name.endswith("percent") else value
    return fields


def _put(values, key, tag, fields):
    if fields:
        group = values.setdefault(key, {})
        (group if tag is None else group.setdefault(tag, {})).update(fields)


def _samples(values, groups, ts):
    """Samples in a fixed order (GROUPS order, natural tag order, field order), typed per GROUPS
    by the one vitals mapping, :func:`~salt_ext.core.samples.from_vitals_dict`."""
    ordered = {"ts": ts}
    for key in groups:
        if key in values:
            content = values[key]
            if GROUPS[key].tag is not None:
                content = {tag: content[tag] for tag in sorted(content, key=_natural)}
            ordered[key] = content
    return from_vitals_dict(ordered)


def _natural(text):
    """Sort key putting "cpu2" before "cpu10"."""
    parts = re.split(r"(\d+)", str(text))
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts]


# --- the whole collection -----------------------------------------------------------------------


def collect(
    options,
    state_dir,
    interval=None,
    source=psutil,
    sys_root="/",
    vcgencmd=None,
    clock=time.time,
    sleep=time.sleep,
):
    """Collect once and return ``(collection ts, samples)``.

    With ``interval`` the rates cover two readings that many seconds apart and no state is
    touched. Otherwise the reference is the previous job's snapshot from the
    :class:`RateStore` in ``state_dir``, or, when there is none usable, a reading taken
    ``sample_interval`` seconds earlier in this process.
    """
    options = validate_options(options)
    read = functools.partial(read_snapshot, options, source, sys_root, vcgencmd, clock)
    if interval is not None:
        reference, current = _sampled(read, sleep, _positive_interval(interval))
    else:
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
    return current.ts, snapshot_samples(reference, current, options)


def collect_window(options, state_dir, samples=1, interval=None, sleep=time.sleep, **reading):
    """Collect ``samples`` readings ``interval`` seconds apart (default 1) and summarise them.

    One sample is plain :func:`collect`. Several are N + 1 snapshots giving N rounds of rates,
    pre-aggregated by :func:`~salt_ext.core.samples.summarize` (mean and variance of the float
    fields), so a small node can ship one summary instead of N points. ``reading`` holds the
    :func:`read_snapshot` injectables (``source``, ``sys_root``, ``vcgencmd``, ``clock``).
    """
    if samples <= 1:
        return collect(options, state_dir, interval, sleep=sleep, **reading)
    options = validate_options(options)
    seconds = 1.0 if interval is None else _positive_interval(interval)
    read = functools.partial(read_snapshot, options, **reading)
    snapshots = [read()]
    for _ in range(samples):
        sleep(seconds)
        snapshots.append(read())
    rounds = [snapshot_samples(a, b, options) for a, b in zip(snapshots, snapshots[1:])]
    return snapshots[-1].ts, summarize(rounds)


def _sampled(read, sleep, seconds, first=None):
    """Two readings ``seconds`` apart (reusing ``first`` when already taken)."""
    first = read() if first is None else first
    sleep(seconds)
    return first, read()


def _positive_interval(interval):
    try:
        seconds = float(interval)
    except (TypeError, ValueError):
        seconds = 0.0
    if not seconds > 0:
        raise ConfigError("interval", f"must be a positive number of seconds, got {interval!r}")
    return seconds


# --- facts that rarely change -------------------------------------------------------------------


def baseinfo(source=psutil, sys_root="/"):
    """Hardware and OS facts of the node; a fact that cannot be read is absent."""
    boot_time = _attempt("boot time", source.boot_time)
    info = {
        "cores": _attempt("cpu count", source.cpu_count),
        "physical_cores": _attempt("physical cpu count", source.cpu_count, False),
        "cpu_model": _cpu_model(sys_root),
        "mem_total": _attempt("memory", lambda: int(source.virtual_memory().total)),
        "swap_total": _attempt("swap", lambda: int(source.swap_memory().total)),
        "disks": _disk_totals(source),
        "pi_model": _pi_model(sys_root),
        "kernel": platform.release(),
        "os": _os_name(sys_root),
        "arch": platform.machine(),
        "boot_time": None if boot_time is None else int(boot_time),
    }
    return {key: value for key, value in info.items() if value is not None}


def _disk_totals(source):
    """{mount: total bytes} of the disk group with default options."""
    result = _attempt("disks", _read_disk, _Reading(source, validate_options(None)))
    return None if result is None else {mount: f["total"] for mount, f in result[0].items()}


def _pi_model(sys_root):
    model = _read_text(os.path.join(sys_root, "proc/device-tree/model")) or ""
    return model.strip("\x00").strip() or None  # device-tree strings end with NUL


def _read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _cpu_model(sys_root):
    """``model name`` (x86), else ``Model`` (Raspberry Pi) or ``Hardware`` of /proc/cpuinfo."""
    found = {}
    for line in (_read_text(os.path.join(sys_root, "proc/cpuinfo")) or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            found.setdefault(key.strip(), value.strip())
    return next((found[k] for k in ("model name", "Model", "Hardware") if k in found), None)


def _os_name(sys_root):
    """PRETTY_NAME of /etc/os-release, else what :mod:`platform` knows."""
    for line in (_read_text(os.path.join(sys_root, "etc/os-release")) or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME" and value.strip().strip("\"'"):
            return value.strip().strip("\"'")
    return platform.platform(terse=True)

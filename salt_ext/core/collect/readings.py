"""Per-group readings: one function per vitals group returns ``(gauges, counters)`` read from a
psutil-like ``source``, ``/proc``, ``/sys`` and ``vcgencmd``.
:func:`~salt_ext.core.collect.collection.read_snapshot` runs the enabled ones into one
:class:`~salt_ext.core.collect.rates.Snapshot`.

Memory, swap and CPU frequency come from the kernel's files (``/proc/meminfo``,
``/proc/vmstat``, cpufreq in ``/sys``), not from psutil, whose meaning of them changed between
the versions this package allows (``used`` in psutil 7.1, the frequency source in 5.9): every
node then reports the same quantity whatever psutil it has. docs/metrics.md defines each field.

Counters are cumulative (``"net.eth0.rx_bytes"``); the collection turns them into rates with
:data:`RATES`. Nothing here raises for a platform that lacks a sensor: a reader that fails is
caught by :func:`attempt` and only its group is missing.
"""

import fnmatch
import functools
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from salt_ext.core.config import Options

log = logging.getLogger(__name__)

T = TypeVar("T")
Result = tuple[dict[str, Any], dict[str, float]]
"""What a reader returns: ``(gauges, counters)``."""

_GUEST_TIMES = frozenset({"guest", "guest_nice"})  # already included in user/nice on Linux

# Bytes per page: the unit of the kernel's pswpin/pswpout (16 KiB on a Raspberry Pi 5 kernel,
# where psutil's fixed 4 KiB would read a quarter of the swap traffic).
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Counter prefix -> {counter: (sample field, scale)}; a rate is delta / seconds * scale.
RATES: dict[str, dict[str, tuple[str, float]]] = {
    "swap": {"pswpin": ("in_bytes_per_s", PAGE_SIZE), "pswpout": ("out_bytes_per_s", PAGE_SIZE)},
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

# Bits of `vcgencmd get_throttled` and of the firmware's get_throttled sysfs attribute.
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

# Paths found by globbing /sys and searching PATH are kept per process and looked up again
# after this many seconds (a driver loaded after the minion started adds a thermal zone) or
# as soon as a read through them fails.
LOOKUP_MAX_AGE = 300.0
_lookups: dict[tuple[str, Optional[str]], tuple[float, Any]] = {}

_MEMINFO_FIELDS = re.compile(rb"^(MemTotal|MemAvailable|SwapTotal|SwapFree):[ \t]+(\d+) kB$", re.M)
# Led by a literal, so that re scans for it at C speed (10x faster than ^-anchored lines).
_SWAP_PAGES = re.compile(rb"\n(pswp(?:in|out)) (\d+)")
_CPUINFO_MHZ = re.compile(rb"cpu MHz[ \t]*: *([0-9.]+)")
_CPUFREQ_FILES = ("scaling_cur_freq", "scaling_min_freq", "scaling_max_freq")  # kHz
_FREQ_FIELDS = ("freq_mhz", "freq_min_mhz", "freq_max_mhz")


@dataclass(frozen=True)
class Reading:
    """What every group reader gets: the source, the validated ``vitals:`` options and when.

    ``sys_root`` is where ``proc/`` and ``sys/`` are found (``/`` on a node, a directory of
    fixed files in tests).
    """

    source: Any  # psutil, or a stand-in with the same functions
    options: Options
    sys_root: str = "/"
    vcgencmd: Optional[str] = None
    ts: float = 0.0
    boot_time: float = 0.0

    @functools.cached_property
    def meminfo(self) -> dict[str, int]:
        """The ``/proc/meminfo`` fields the mem and swap groups use, in bytes; read once for
        both. A field the kernel does not have (MemAvailable before Linux 3.14) is absent."""
        text = read_bytes(os.path.join(self.sys_root, "proc/meminfo"))
        return {name.decode(): int(kib) * 1024 for name, kib in _MEMINFO_FIELDS.findall(text)}


def attempt(what: str, func: Callable[..., T], *args: Any) -> Optional[T]:
    """``func(*args)``, or None (logged at debug level) when it raises."""
    try:
        return func(*args)
    except Exception as exc:  # any psutil/OS/parse failure only loses this reading
        log.debug("vitals: %s unavailable: %s", what, exc)
        return None


def _read_cpu(r: Reading) -> Result:
    gauges = {"count": r.source.cpu_count(logical=True)}
    freq = attempt("cpu frequency", _cpu_freq, r.sys_root) or {}
    gauges.update((name, value) for name, value in freq.items() if value)
    return gauges, _cpu_time_counters("total", r.source.cpu_times())


def _cpu_freq(sys_root: str) -> dict[str, float]:
    """Mean frequencies in MHz over the online CPUs: each CPU counts with its cpufreq policy's
    ``scaling_cur_freq``, ``scaling_min_freq`` and ``scaling_max_freq``. Without cpufreq (a
    virtual machine) the mean ``cpu MHz`` of ``/proc/cpuinfo``, and no min/max."""
    key = ("cpufreq policies", sys_root)
    policies = looked_up(key, functools.partial(_cpufreq_policies, sys_root))
    if not policies:
        cpuinfo = read_bytes(os.path.join(sys_root, "proc/cpuinfo"))
        mhz = [float(value) for value in _CPUINFO_MHZ.findall(cpuinfo)]
        return {"freq_mhz": sum(mhz) / len(mhz)} if mhz else {}
    sums, cpus = [0, 0, 0], 0
    for path, weight in policies:
        try:
            khz = [int(read_text(os.path.join(path, name)) or "") for name in _CPUFREQ_FILES]
        except ValueError:  # unreadable: the policy went inactive (all its CPUs offline)
            log.debug("vitals: no cpu frequency in %s", path)
            forget(key)
            continue
        sums = [total + weight * value for total, value in zip(sums, khz)]
        cpus += weight
    return {name: total / cpus / 1000.0 for name, total in zip(_FREQ_FIELDS, sums)} if cpus else {}


def _cpufreq_policies(sys_root: str) -> list[tuple[str, int]]:
    """``(policy directory, number of its online CPUs)`` of every cpufreq policy with any."""
    directory = os.path.join(sys_root, "sys/devices/system/cpu/cpufreq")
    policies = []
    for name in sorted(_entries(directory, "policy"), key=natural):
        path = os.path.join(directory, name)
        cpus = len((read_text(os.path.join(path, "affected_cpus")) or "").split())
        if cpus:
            policies.append((path, cpus))
    return policies


def _read_cores(r: Reading) -> Result:
    counters = {}
    for index, times in enumerate(r.source.cpu_times(percpu=True)):
        counters.update(_cpu_time_counters(index, times))
    return {}, counters


def looked_up(key: tuple[str, Optional[str]], find: Callable[[], T]) -> T:
    """``find()``, remembered under ``key`` for :data:`LOOKUP_MAX_AGE` seconds."""
    now = time.monotonic()
    hit = _lookups.get(key)
    if hit is not None and now - hit[0] < LOOKUP_MAX_AGE:
        return hit[1]  # type: ignore[no-any-return]
    value = find()
    _lookups[key] = (now, value)
    return value


def forget(key: tuple[str, Optional[str]]) -> None:
    """Drop what :func:`looked_up` remembers under ``key``: the next call finds it again."""
    _lookups.pop(key, None)


def _cpu_time_counters(cpu: object, times: Any) -> dict[str, float]:
    return {
        f"cpu.{cpu}.{name}": value
        for name, value in zip(times._fields, times)
        if name not in _GUEST_TIMES
    }


def _read_load(r: Reading) -> Result:
    load1, load5, load15 = r.source.getloadavg()
    return {"load1": load1, "load5": load5, "load15": load15}, {}


def _read_mem(r: Reading) -> Result:
    """``used`` is ``MemTotal - MemAvailable``, as free(1) of procps-ng 4 and psutil >= 7.1
    report it: memory the kernel cannot hand to a new process without swapping."""
    total = r.meminfo["MemTotal"]
    gauges: dict[str, Any] = {"total": total}
    available = r.meminfo.get("MemAvailable")
    if available is not None:
        used = max(total - available, 0)
        gauges.update(available=available, used=used, percent=_percent(used, total))
    return gauges, {}


def _read_swap(r: Reading) -> Result:
    total = r.meminfo["SwapTotal"]
    used = total - r.meminfo["SwapFree"]
    pages = attempt("swap in/out", _swap_pages, r.sys_root) or {}
    counters: dict[str, float] = {
        f"swap.{name}": pages[name] for name in RATES["swap"] if name in pages
    }
    return {"total": total, "used": used, "percent": _percent(used, total)}, counters


def _swap_pages(sys_root: str) -> dict[str, int]:
    """Pages swapped in and out since boot: ``pswpin`` and ``pswpout`` of ``/proc/vmstat``."""
    vmstat = read_bytes(os.path.join(sys_root, "proc/vmstat"))
    return {name.decode(): int(pages) for name, pages in _SWAP_PAGES.findall(vmstat)}


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def read_disk(r: Reading) -> Result:
    statvfs = getattr(r.source, "statvfs", os.statvfs)  # a fake source may provide its own
    usage = {mount: _disk_usage(statvfs, mount) for mount in _disk_mounts(r.source, r.options)}
    return {mount: fields for mount, fields in usage.items() if fields}, {}


def _disk_mounts(source: Any, options: Options) -> list[str]:
    """Mount points of real filesystems passing the mount globs, each once."""
    fstypes = {}
    for part in source.disk_partitions(all=True):
        fstypes[part.mountpoint] = part.fstype  # the last mount on a path is the visible one
    skip = set(options["skip_fstypes"])
    selected = _selection(options, "mounts")
    return [mount for mount, fstype in fstypes.items() if fstype not in skip and selected(mount)]


def _disk_usage(statvfs: Callable[[str], Any], mount: str) -> Optional[dict[str, Any]]:
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


def _read_diskio(r: Reading) -> Result:
    counters = {}
    selected = _selection(r.options, "devices")
    for device, io in sorted((r.source.disk_io_counters(perdisk=True) or {}).items()):
        if selected(device):
            for name in RATES["diskio"]:
                value = getattr(io, name, None)
                if value is not None:
                    counters[f"diskio.{device}.{name}"] = value
    return {}, counters


def _read_net(r: Reading) -> Result:
    gauges, counters = {}, {}
    selected = _selection(r.options, "interfaces")
    for nic, io in sorted((r.source.net_io_counters(pernic=True) or {}).items()):
        if selected(nic):
            gauges[nic] = {name: getattr(io, attr) for name, attr in _NET_GAUGES.items()}
            for name, attr in _NET_COUNTERS.items():
                counters[f"net.{nic}.{name}"] = getattr(io, attr)
    return gauges, counters


def _selection(options: Options, include: str) -> Callable[[str], bool]:
    """The :func:`selector` of the globs ``options[include]`` and ``options["exclude_" +
    include]``, one pair of :data:`SELECTIONS`."""
    return selector(tuple(options[include]), tuple(options[f"exclude_{include}"]))


# Which options pair up as (include globs, exclude globs).
SELECTIONS = (
    ("mounts", "exclude_mounts"),
    ("devices", "exclude_devices"),
    ("interfaces", "exclude_interfaces"),
)


@functools.lru_cache(maxsize=64)
def selector(include: tuple[str, ...], exclude: tuple[str, ...]) -> Callable[[str], bool]:
    """A test of "matches a glob of ``include`` and none of ``exclude``" (fnmatchcase), with
    each list compiled into one regex once per process."""
    included = re.compile("|".join(map(fnmatch.translate, include)) or "(?!)").match
    excluded = re.compile("|".join(map(fnmatch.translate, exclude)) or "(?!)").match
    return lambda name: included(name) is not None and excluded(name) is None


def _read_temp(r: Reading) -> Result:
    zones = _thermal_zones(r.sys_root)
    zone_keys = {_sensor_key(name) for name in zones}
    # The same zone can come from psutil as "cpu_thermal" (hwmon) or "cpu-thermal" (thermal
    # zone fallback); keep the sysfs zone name so the series name is stable.
    reported = attempt("psutil temperatures", _psutil_temps, r.source) or {}
    temps = {name: c for name, c in reported.items() if _sensor_key(name) not in zone_keys}
    temps.update(zones)
    return {name: {"celsius": celsius} for name, celsius in temps.items()}, {}


def _sensor_key(name: str) -> str:
    return name.lower().replace("-", "_")


def _psutil_temps(source: Any) -> dict[str, float]:
    """{sensor name: celsius}: the chip name, or chip_label when a chip has several entries."""
    temps: dict[str, float] = {}
    for chip, entries in sorted(source.sensors_temperatures().items()):
        for index, entry in enumerate(entries):
            if entry.current is None:
                continue
            label = entry.label.strip().lower().replace(" ", "_") if entry.label else ""
            name = chip if len(entries) == 1 else f"{chip}_{label or index}"
            temps[_unique(name, temps, index)] = entry.current
    return temps


def _thermal_zones(sys_root: str) -> dict[str, float]:
    """{zone type: celsius} from ``/sys/class/thermal/thermal_zone*`` (millidegrees)."""
    temps: dict[str, float] = {}
    key = ("thermal zones", sys_root)
    for path, index in looked_up(key, functools.partial(_thermal_zone_paths, sys_root)):
        kind, millidegrees = read_text(f"{path}/type"), read_text(f"{path}/temp")
        if kind is None:
            forget(key)  # the zone went away: glob again next time
        try:
            celsius = int(millidegrees or "") / 1000.0
        except (TypeError, ValueError):
            log.debug("vitals: no temperature in %s", path)
            continue
        temps[_unique(kind or f"thermal_zone{index}", temps, index)] = celsius
    return temps


def _thermal_zone_paths(sys_root: str) -> list[tuple[str, str]]:
    """``(path, zone number)`` of every thermal zone, in natural order."""
    directory = os.path.join(sys_root, "sys/class/thermal")
    zones = sorted(_entries(directory, "thermal_zone"), key=natural)
    return [(os.path.join(directory, name), name[len("thermal_zone") :]) for name in zones]


def _entries(directory: str, prefix: str, suffix: str = "") -> list[str]:
    """Names in ``directory`` that start with ``prefix`` and end with ``suffix`` (what
    ``glob("prefix*suffix")`` finds, without compiling a pattern in every job)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [
        n
        for n in names
        if n.startswith(prefix) and n.endswith(suffix) and len(n) >= len(prefix) + len(suffix)
    ]


def _unique(name: str, taken: Mapping[str, object], suffix: object) -> str:
    return f"{name}_{suffix}" if name in taken else name


def _read_system(r: Reading) -> Result:
    if not r.boot_time:
        raise ValueError("boot time unknown")
    procs = len(r.source.pids())
    return {"uptime": r.ts - r.boot_time, "boot_time": r.boot_time, "procs": procs}, {}


def _read_pi(r: Reading) -> Result:
    """Raspberry Pi throttling flags; empty when not a Pi.

    From the firmware driver's sysfs attribute (the same bits as ``vcgencmd get_throttled``,
    written as bare hex such as ``50005``): one read, no fork. ``vcgencmd`` only on kernels
    without that attribute.
    """
    attribute_key = ("throttled attribute", r.sys_root)
    path = looked_up(attribute_key, functools.partial(_throttled_attribute, r.sys_root))
    if path is not None:
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            forget(attribute_key)
            raise
        try:
            bits = int(text, 16)
        except ValueError:
            raise ValueError(f"unexpected {path} content {text!r}") from None
        return _pi_flags(bits), {}
    command_key = ("vcgencmd", os.environ.get("PATH"))
    command = r.vcgencmd or looked_up(command_key, functools.partial(shutil.which, "vcgencmd"))
    if not command:
        return {}, {}
    try:
        output = subprocess.run(
            [command, "get_throttled"],
            capture_output=True,
            text=True,
            timeout=VCGENCMD_TIMEOUT,
            check=True,
        ).stdout
    except OSError:
        forget(command_key)
        raise
    match = re.search(r"throttled=(0x[0-9a-fA-F]+|[0-9]+)\b", output)
    if not match:
        raise ValueError(f"unexpected vcgencmd output {output.strip()!r}")
    return _pi_flags(int(match.group(1), 16 if match.group(1).startswith("0x") else 10)), {}


# The firmware driver's attribute: Pi 1-4 (``soc``), Pi 5 (``soc@107c000000``): the first of
# ``soc/soc:firmware/get_throttled``, then of ``soc@*/soc@*:firmware/get_throttled``.
THROTTLED_ATTRIBUTE = "get_throttled"


def _throttled_attribute(sys_root: str) -> Optional[str]:
    platform = os.path.join(sys_root, "sys/devices/platform")
    path = os.path.join(platform, "soc", "soc:firmware", THROTTLED_ATTRIBUTE)
    if os.path.exists(path):
        return path
    found = [
        path
        for soc in _entries(platform, "soc@")
        for firmware in _entries(os.path.join(platform, soc), "soc@", ":firmware")
        if os.path.exists(path := os.path.join(platform, soc, firmware, THROTTLED_ATTRIBUTE))
    ]
    return min(found, default=None)


def _pi_flags(bits: int) -> dict[str, int]:
    return {"throttled": bits, **{name: (bits >> bit) & 1 for name, bit in _PI_FLAGS.items()}}


READERS = {
    "cpu": _read_cpu,
    "cores": _read_cores,
    "load": _read_load,
    "mem": _read_mem,
    "swap": _read_swap,
    "disk": read_disk,
    "diskio": _read_diskio,
    "net": _read_net,
    "temp": _read_temp,
    "system": _read_system,
    "pi": _read_pi,
}


_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=4096)  # the same names (cores, disks, interfaces) every collection
def natural(text: object) -> tuple[tuple[int, int, str], ...]:
    """Sort key putting "cpu2" before "cpu10"."""
    parts = _DIGITS.split(str(text))
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)


def read_bytes(path: str) -> bytes:
    """The whole file, read without a buffer in between (a /proc file is made on each read)."""
    with open(path, "rb", buffering=0) as handle:
        return handle.read()


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None

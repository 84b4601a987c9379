"""A fake machine for the collection tests: psutil's functions with fixed readings
(:class:`FakePsutil`, whose ``advance`` moves the counters on by known deltas), a clock that only
moves when told, a fake ``vcgencmd``, and the exact vitals dict a first reading of it gives. The
fixtures that build it under ``tmp_path`` are in tests/unit/collect/conftest.py."""

import os
from collections import namedtuple

from salt_ext.core.collect import collection as vitals
from salt_ext.core.samples import GROUPS, to_vitals_dict

CPU_FIELDS = "user nice system idle iowait irq softirq steal guest guest_nice"


CpuTimes = namedtuple("scputimes", CPU_FIELDS, defaults=(0.0,) * 10)


VirtualMemory = namedtuple("svmem", "total available percent used free")


SwapMemory = namedtuple("sswap", "total used free percent sin sout")


Partition = namedtuple("sdiskpart", "device mountpoint fstype opts", defaults=("rw",))


StatVfs = namedtuple("statvfs_result", "f_frsize f_blocks f_bfree f_bavail f_files f_ffree")


DiskIo = namedtuple("sdiskio", "read_count write_count read_bytes write_bytes busy_time")


DiskIoNoBusy = namedtuple("sdiskio", "read_count write_count read_bytes write_bytes")


NetIo = namedtuple(
    "snetio", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout"
)


Temp = namedtuple("shwtemp", "label current high critical", defaults=(None, None))


T0 = 1000.0


DEFAULTS = vitals.validate_options(None)


BOOT = 100


def bump(record, **deltas):
    """``record`` with each named counter increased by its delta."""
    return record._replace(**{k: getattr(record, k) + v for k, v in deltas.items()})


class FakePsutil:
    """The psutil functions collect uses, returning fixed readings; ``advance`` moves the
    counters on by known deltas, the swap page counters in ``root``'s ``proc/vmstat`` too."""

    def __init__(self, root):
        self.root = root
        self.times = CpuTimes(user=100.0, system=50.0, idle=800.0, iowait=10.0, guest=5.0)
        self.per_cpu = [CpuTimes(user=10.0, idle=100.0), CpuTimes(user=20.0, idle=200.0)]
        self.swap_pages = {"pswpin": 0, "pswpout": 0}
        self.write_vmstat()
        self.mounts = [
            Partition("/dev/root", "/", "ext4"),
            Partition("proc", "/proc", "proc"),
            Partition("tmpfs", "/run", "tmpfs"),
            Partition("/dev/mmcblk0p1", "/boot/firmware", "vfat"),
            Partition("/dev/sda1", "/mnt/backup", "ext4"),
            Partition("server:/export", "/mnt/stale", "nfs4"),
            Partition("none", "/weird", "weirdfs"),
            Partition("/dev/root", "/", "ext4"),
        ]
        self.statvfs_results = {
            "/": StatVfs(4096, 1000, 400, 300, 1000, 750),
            "/boot/firmware": StatVfs(512, 1000, 500, 500, 0, 0),
            "/mnt/backup": StatVfs(4096, 100, 100, 100, 10, 10),
            "/weird": StatVfs(4096, 0, 0, 0, 0, 0),
            "/run": StatVfs(4096, 10, 10, 10, 10, 10),
        }
        self.disks = {
            "sda": DiskIo(0, 0, 0, 0, 1000),
            "mmcblk0": DiskIo(0, 0, 0, 0, 0),
            "md0": DiskIoNoBusy(0, 0, 0, 0),
            "loop0": DiskIo(0, 0, 0, 0, 0),
        }
        self.nics = {
            "eth0": NetIo(0, 0, 0, 0, 1, 2, 3, 4),
            "wlan0": NetIo(0, 0, 0, 0, 0, 0, 0, 0),
            "lo": NetIo(0, 0, 0, 0, 0, 0, 0, 0),
        }
        self.temps = {
            "coretemp": [Temp("Package id 0", 55.0), Temp("Core 0", 53.0)],
            "cpu_thermal": [Temp("", 48.3)],
            "nvme": [Temp("Composite", 40.0)],
        }

    def write_vmstat(self):
        if os.path.isdir(os.path.join(self.root, "proc")):
            pages = "".join(f"{name} {count}\n" for name, count in self.swap_pages.items())
            with open(os.path.join(self.root, "proc/vmstat"), "w") as handle:
                handle.write(f"nr_free_pages 12345\npgpgout 1600\n{pages}pgalloc_dma 0\n")

    def advance(self):
        """Ten seconds of activity: CPU 45 % busy, core 0 at 90 %, known IO."""
        self.times = bump(self.times, user=30, system=10, idle=50, iowait=5, steal=5, guest=7)
        self.per_cpu = [bump(self.per_cpu[0], user=9, idle=1), bump(self.per_cpu[1], idle=10)]
        self.swap_pages["pswpin"] += 2
        self.write_vmstat()
        self.disks["sda"] = bump(
            self.disks["sda"],
            read_bytes=40960,
            write_bytes=10240,
            read_count=100,
            write_count=50,
            busy_time=2500,
        )
        self.disks["mmcblk0"] = bump(self.disks["mmcblk0"], busy_time=20000)
        self.nics["eth0"] = bump(
            self.nics["eth0"], bytes_recv=10000, bytes_sent=5000, packets_recv=100, packets_sent=50
        )

    def cpu_times(self, percpu=False):
        return list(self.per_cpu) if percpu else self.times

    def cpu_count(self, logical=True):
        return 2 if logical else 1

    def getloadavg(self):
        return (0.5, 0.25, 0.125)

    # Only vitals.baseinfo reads these two; the mem and swap groups read proc/meminfo.
    def virtual_memory(self):
        return VirtualMemory(8_000_000, 6_000_000, 25.0, 2_000_000, 1_000_000)

    def swap_memory(self):
        return SwapMemory(total=1000, used=250, free=750, percent=25.0, sin=0, sout=0)

    def disk_partitions(self, all=False):
        return list(self.mounts)

    def statvfs(self, path):
        if path == "/mnt/stale":
            raise OSError(116, "Stale file handle")
        if path not in self.statvfs_results:
            raise FileNotFoundError(path)
        return self.statvfs_results[path]

    def disk_io_counters(self, perdisk=False):
        return dict(self.disks)

    def net_io_counters(self, pernic=False):
        return dict(self.nics)

    def sensors_temperatures(self):
        return self.temps

    def boot_time(self):
        return BOOT

    def pids(self):
        return list(range(1, 43))


class Clock:
    """A wall clock that only moves when told (or when the fake sleep runs)."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def script(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def vitals_dict(previous, current, **options):
    samples = vitals.snapshot_samples(previous, current, vitals.validate_options(options))
    return to_vitals_dict(samples, current.ts)


def check_types(data):
    """Integer fields of GROUPS are ints, every other field a float."""
    for key, content in data.items():
        if key == "ts":
            continue
        group = GROUPS[key]
        series = content.values() if group.tag else [content]
        for fields in series:
            for name, value in fields.items():
                expected = int if name in group.int_fields else float
                assert type(value) is expected, (key, name, value)


PI_FLAGS = {
    "throttled": 0x50005,
    "under_voltage": 1,
    "freq_capped": 0,
    "throttling": 1,
    "soft_temp_limit": 0,
    "under_voltage_occurred": 1,
    "freq_capped_occurred": 0,
    "throttling_occurred": 1,
    "soft_temp_limit_occurred": 0,
}


FIRST_READING = {
    "ts": T0,
    "cpu": {"count": 2, "freq_mhz": 1500.0, "freq_min_mhz": 600.0, "freq_max_mhz": 1800.0},
    "load": {"load1": 0.5, "load5": 0.25, "load15": 0.125},
    "mem": {"total": 8_192_000, "available": 6_144_000, "used": 2_048_000, "percent": 25.0},
    "swap": {"total": 1_024_000, "used": 256_000, "percent": 25.0},
    "disk": {
        "/": {
            "total": 4_096_000,
            "used": 2_457_600,
            "free": 1_228_800,
            "percent": 100 * 600 / 900,
            "inodes_percent": 25.0,
        },
        "/boot/firmware": {"total": 512_000, "used": 256_000, "free": 256_000, "percent": 50.0},
        "/mnt/backup": {
            "total": 409_600,
            "used": 0,
            "free": 409_600,
            "percent": 0.0,
            "inodes_percent": 0.0,
        },
    },
    "net": {
        "eth0": {"rx_errors": 1, "tx_errors": 2, "rx_drops": 3, "tx_drops": 4},
        "wlan0": {"rx_errors": 0, "tx_errors": 0, "rx_drops": 0, "tx_drops": 0},
    },
    "temp": {
        "coretemp_core_0": {"celsius": 53.0},
        "coretemp_package_id_0": {"celsius": 55.0},
        "cpu-thermal": {"celsius": 48.312},
        "nvme": {"celsius": 40.0},
    },
    "system": {"uptime": 900.0, "boot_time": 100, "procs": 42},
    "pi": PI_FLAGS,
}


def boom(*args, **kwargs):
    raise RuntimeError("sensor on fire")

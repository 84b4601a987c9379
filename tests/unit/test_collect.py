"""Unit tests of salt_ext.core.collect.collection with a fake psutil, a fake /proc and /sys tree
and a fake vcgencmd (tests/unit/test_kernel_fields.py: mem, swap and CPU frequency from
real-looking kernel files)."""

import fnmatch
import json
import logging
import os
import re
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from salt_ext.core.collect import baseinfo as base
from salt_ext.core.collect import collection as vitals
from salt_ext.core.collect import readings as readers
from salt_ext.core.collect.rates import STATE_FILE
from salt_ext.core.errors import ConfigError
from salt_ext.core.samples import GROUPS, to_vitals_dict
from support.kernel import cpufreq_policy

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

CHECKOUT = Path(__file__).resolve().parents[2]
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


@pytest.fixture
def fake(sys_root):
    return FakePsutil(sys_root)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sys_root(tmp_path):
    root = tmp_path / "root"
    zones = root / "sys/class/thermal"
    (zones / "thermal_zone0").mkdir(parents=True)
    (zones / "thermal_zone0/type").write_text("cpu-thermal\n")
    (zones / "thermal_zone0/temp").write_text("48312\n")
    (zones / "thermal_zone1").mkdir()
    (zones / "thermal_zone1/type").write_text("gpu-thermal\n")  # temp unreadable: skipped
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    (root / "proc/cpuinfo").write_text(
        "processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\n"
        "Model\t\t: Raspberry Pi 4 Model B Rev 1.4\n"
    )
    (root / "proc/meminfo").write_text(
        "MemTotal:           8000 kB\nMemFree:            1000 kB\nMemAvailable:       6000 kB\n"
        "Buffers:             100 kB\nCached:             3000 kB\nSwapCached:            0 kB\n"
        "SwapTotal:          1000 kB\nSwapFree:            750 kB\nHugePages_Total:       0\n"
    )
    cpufreq_policy(root, "policy0", "0 1", 1_500_000, 600_000, 1_800_000)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12"\n')
    return str(root)


def script(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def vcgencmd(tmp_path):
    return script(tmp_path / "vcgencmd", 'test "$1" = get_throttled && echo throttled=0x50005')


@pytest.fixture
def reader(fake, clock, sys_root, vcgencmd):
    """read_snapshot on the fake machine; keyword arguments are vitals options."""

    def read(**options):
        return vitals.read_snapshot(
            vitals.validate_options(options), fake, sys_root, vcgencmd, clock
        )

    return read


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


def test_first_reading_has_exact_gauges_and_no_rates(reader):
    data = vitals_dict(None, reader())
    assert data == FIRST_READING
    check_types(data)


def test_second_reading_adds_rates(reader, fake, clock):
    first = reader()
    fake.advance()
    clock.now += 10
    data = vitals_dict(first, reader())
    check_types(data)
    approx = pytest.approx
    assert data["cpu"] == {
        "percent": approx(45.0),
        "user": approx(30.0),
        "system": approx(10.0),
        "iowait": approx(5.0),
        "steal": approx(5.0),
        "idle": approx(50.0),
        **FIRST_READING["cpu"],
    }
    assert data["cores"] == {
        "0": {"percent": approx(90.0), "user": approx(90.0), "system": 0.0, "iowait": 0.0},
        "1": {"percent": 0.0, "user": 0.0, "system": 0.0, "iowait": 0.0},
    }
    assert data["swap"] == {
        "in_bytes_per_s": approx(2 * readers.PAGE_SIZE / 10),
        "out_bytes_per_s": 0.0,
        **FIRST_READING["swap"],
    }
    assert data["diskio"] == {
        "md0": dict.fromkeys(
            ["read_bytes_per_s", "write_bytes_per_s", "read_ops_per_s", "write_ops_per_s"], 0.0
        ),
        "mmcblk0": {
            "read_bytes_per_s": 0.0,
            "write_bytes_per_s": 0.0,
            "read_ops_per_s": 0.0,
            "write_ops_per_s": 0.0,
            "busy_percent": 100.0,  # 200 % from overlapping requests, capped
        },
        "sda": {
            "read_bytes_per_s": approx(4096.0),
            "write_bytes_per_s": approx(1024.0),
            "read_ops_per_s": approx(10.0),
            "write_ops_per_s": approx(5.0),
            "busy_percent": approx(25.0),
        },
    }
    assert data["net"]["eth0"] == {
        "rx_bytes_per_s": approx(1000.0),
        "tx_bytes_per_s": approx(500.0),
        "rx_packets_per_s": approx(10.0),
        "tx_packets_per_s": approx(5.0),
        **FIRST_READING["net"]["eth0"],
    }
    assert data["system"]["uptime"] == 910.0


def defined_fields(doc):
    """{group: fields} of the definition tables of docs/metrics.md (first column)."""
    defined, group = {}, None
    for line in doc.splitlines():
        if line.startswith("### "):
            group = re.findall(r"`(\w+)`", line)
        elif group and line.startswith("| `"):
            names = re.findall(r"`(\w+)`", line.split(" | ")[0])
            for key in group:
                defined.setdefault(key, set()).update(names)
    return defined


def test_every_field_has_a_definition_in_the_docs(reader, fake, clock):
    first = reader()
    fake.advance()
    clock.now += 10
    data = vitals_dict(first, reader())
    defined = defined_fields((CHECKOUT / "docs" / "metrics.md").read_text(encoding="utf-8"))
    undefined = []
    for key, content in data.items():
        series = content.values() if key != "ts" and GROUPS[key].tag else [content]
        for fields in series if key != "ts" else []:
            undefined += [f"{key}.{name}" for name in fields if name not in defined.get(key, ())]
    assert set(data) - {"ts"} == set(GROUPS)
    assert sorted(set(undefined)) == []


def test_samples_are_ordered_deterministically(reader, fake, clock):
    fake.per_cpu = [CpuTimes(idle=float(i)) for i in range(12)]
    first = reader()
    fake.per_cpu = [CpuTimes(idle=float(i) + 1) for i in range(12)]
    clock.now += 10
    current = reader()
    samples = vitals.snapshot_samples(first, current, DEFAULTS)
    assert samples == vitals.snapshot_samples(first, current, DEFAULTS)
    measurements = list(dict.fromkeys(s.group for s in samples))
    assert measurements == ["cpu", "load", "mem", "swap", "disk", "diskio", "net", "temp"] + [
        "system",
        "pi",
    ]
    cores = [s.tags[0][1] for s in samples if s.tags and s.tags[0][0] == "cpu"]
    assert list(dict.fromkeys(cores)) == [str(i) for i in range(12)]
    assert all(s.ts == current.ts for s in samples)


def test_counter_going_backwards_drops_only_that_rate(reader, fake, clock):
    fake.nics["eth0"] = fake.nics["eth0"]._replace(bytes_recv=2**32 - 10)
    first = reader()
    fake.advance()
    fake.nics["eth0"] = fake.nics["eth0"]._replace(bytes_recv=5)  # 32-bit counter wrapped
    clock.now += 10
    eth0 = vitals_dict(first, reader())["net"]["eth0"]
    assert "rx_bytes_per_s" not in eth0
    assert eth0["tx_bytes_per_s"] == pytest.approx(500.0)


def test_reboot_gives_no_rates(reader, fake, clock):
    first = reader()
    fake.advance()
    fake.boot_time = lambda: BOOT + 3600
    clock.now += 10
    data = vitals_dict(first, reader())
    assert "cores" not in data and "diskio" not in data and "percent" not in data["cpu"]
    assert "rx_bytes_per_s" not in data["net"]["eth0"]


def test_reference_not_older_gives_no_rates(reader, fake):
    first = reader()
    fake.advance()
    data = vitals_dict(first, reader())  # same ts: elapsed 0
    assert "cores" not in data and "in_bytes_per_s" not in data["swap"]


def run_collect(fake, clock, sys_root, vcgencmd, state_dir, interval=None, **options):
    """collect() whose sleep advances the fake clock and the fake counters."""
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock.now += seconds
        fake.advance()

    ts, samples = vitals.collect(
        vitals.validate_options(options),
        state_dir,
        interval,
        fake,
        sys_root,
        vcgencmd,
        clock,
        sleep,
    )
    return ts, to_vitals_dict(samples, ts), sleeps


@pytest.fixture
def run(fake, clock, sys_root, vcgencmd):
    def run(state_dir, interval=None, **options):
        return run_collect(fake, clock, sys_root, vcgencmd, state_dir, interval, **options)

    return run


def stored_ts(state_dir):
    with open(os.path.join(state_dir, STATE_FILE)) as handle:
        return [json.loads(line)["ts"] for line in handle]


def test_collect_vitals_is_collect_rendered_without_samples(
    fake, clock, sys_root, vcgencmd, tmp_path
):
    """vitals.current's path: the same values and types as collect() + to_vitals_dict, the
    stored state used the same way."""

    def sleep(seconds):
        clock.now += seconds
        fake.advance()

    reading = {"source": fake, "sys_root": sys_root, "vcgencmd": vcgencmd, "clock": clock}
    state = str(tmp_path / "state")
    first = vitals.collect_vitals(DEFAULTS, state, sleep=sleep, **reading)
    assert first["ts"] == T0 + 0.5 and first["cpu"]["percent"] == pytest.approx(45.0)
    clock.now += 59.5
    fake.advance()
    data = vitals.collect_vitals(DEFAULTS, state, sleep=sleep, **reading)
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(10000 / 59.5)
    check_types(data)
    assert stored_ts(state) == [T0 + 0.5, T0 + 60]
    previous = vitals.read_snapshot(DEFAULTS, fake, sys_root, vcgencmd, clock)
    clock.now += 10
    fake.advance()
    current = vitals.read_snapshot(DEFAULTS, fake, sys_root, vcgencmd, clock)
    rendered = vitals.snapshot_vitals(previous, current, DEFAULTS)
    assert list(rendered) == list(vitals_dict(previous, current))  # the same group order
    assert leaves(rendered) == leaves(vitals_dict(previous, current))
    summary = vitals.collect_vitals(DEFAULTS, state, samples=2, interval=1, sleep=sleep, **reading)
    assert summary["cpu"]["percent_var"] == pytest.approx(0.0)


def leaves(data, prefix=""):
    """(path, value, type) of every leaf: equality that tells 1 from 1.0."""
    out = []
    for key, value in data.items():
        if isinstance(value, dict):
            out.extend(leaves(value, f"{prefix}{key}."))
        else:
            out.append((prefix + str(key), value, type(value)))
    return out


def test_first_run_samples_in_process_and_stores_state(run, tmp_path):
    state = str(tmp_path / "state")
    ts, data, sleeps = run(state)
    assert sleeps == [0.5]
    assert ts == T0 + 0.5
    assert data["cpu"]["percent"] == pytest.approx(45.0)
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(20000.0)  # 10000 B in 0.5 s
    check_types(data)
    assert stored_ts(state) == [T0, T0 + 0.5]


def test_next_run_uses_the_stored_state(run, fake, clock, tmp_path):
    state = str(tmp_path / "state")
    run(state)
    clock.now += 59.5
    fake.advance()
    ts, data, sleeps = run(state)
    assert sleeps == []
    assert ts == T0 + 60
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(10000 / 59.5)
    assert stored_ts(state) == [T0 + 0.5, T0 + 60]


def test_state_older_than_max_age_is_not_used(run, clock, tmp_path):
    state = str(tmp_path / "state")
    run(state, max_state_age=600)
    clock.now += 601
    _, data, sleeps = run(state, max_state_age=600)
    assert sleeps == [0.5]
    assert data["cpu"]["percent"] == pytest.approx(45.0)


def test_sample_interval_option(run, tmp_path):
    _, _, sleeps = run(str(tmp_path / "state"), sample_interval="0.2")
    assert sleeps == [0.2]


def test_explicit_interval_touches_no_state(run, tmp_path):
    state = tmp_path / "state"
    ts, data, sleeps = run(str(state), interval=2)
    assert sleeps == [2.0]
    assert ts == T0 + 2
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(5000.0)
    assert not state.exists()


@pytest.mark.parametrize("interval", [0, -1, "soon"])
def test_bad_interval_is_a_config_error(run, tmp_path, interval):
    with pytest.raises(ConfigError) as err:
        run(str(tmp_path), interval=interval)
    assert err.value.key == "vitals:interval"


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"groups": ["cpu", "mem"]}, {"cpu", "mem"}),
        ({"groups": "cpu, mem, load", "exclude_groups": ["mem"]}, {"cpu", "load"}),
        (
            {"exclude_groups": ["pi", "temp", "disk"]},
            {"cpu", "load", "mem", "swap", "net", "system"},
        ),
    ],
)
def test_group_include_exclude(reader, options, expected):
    data = vitals_dict(None, reader(**options), **options)
    assert set(data) - {"ts"} == expected


def test_excluded_groups_are_not_read(reader, fake):
    called = []
    fake.disk_partitions = lambda all=False: called.append(all) or []
    snapshot = reader(groups=["cpu"])
    assert not called
    assert set(snapshot.gauges) == {"cpu"}
    assert snapshot.counters and all(k.startswith("cpu.total.") for k in snapshot.counters)


@pytest.mark.parametrize(
    "options, mounts",
    [
        ({}, ["/", "/boot/firmware", "/mnt/backup"]),
        ({"exclude_mounts": ["/mnt/*"]}, ["/", "/boot/firmware"]),
        ({"mounts": ["/boot*"]}, ["/boot/firmware"]),
        ({"skip_fstypes": ["vfat", "proc"]}, ["/", "/mnt/backup", "/run"]),
    ],
)
def test_mount_filtering(reader, options, mounts):
    assert sorted(vitals_dict(None, reader(**options))["disk"]) == mounts


def test_topmost_mount_decides_the_fstype(reader, fake):
    fake.mounts.append(Partition("tmpfs", "/mnt/backup", "tmpfs"))  # mounted over the disk
    assert "/mnt/backup" not in vitals_dict(None, reader())["disk"]


@pytest.mark.parametrize(
    "options, devices",
    [
        ({}, ["md0", "mmcblk0", "sda"]),
        ({"devices": ["sd*", "loop*"]}, ["sda"]),
        ({"exclude_devices": []}, ["loop0", "md0", "mmcblk0", "sda"]),
    ],
)
def test_diskio_device_filtering(reader, fake, clock, options, devices):
    first = reader(**options)
    clock.now += 1
    assert sorted(vitals_dict(first, reader(**options))["diskio"]) == devices


@pytest.mark.parametrize(
    "options, interfaces",
    [
        ({}, ["eth0", "wlan0"]),
        ({"interfaces": ["eth*"]}, ["eth0"]),
        ({"exclude_interfaces": []}, ["eth0", "lo", "wlan0"]),
    ],
)
def test_interface_filtering(reader, options, interfaces):
    assert sorted(vitals_dict(None, reader(**options))["net"]) == interfaces


def test_interface_names_with_dots(reader, fake, clock):
    fake.nics = {"eth0.100": NetIo(0, 0, 0, 0, 0, 0, 0, 0)}
    first = reader()
    fake.nics["eth0.100"] = bump(fake.nics["eth0.100"], bytes_recv=300)
    clock.now += 3
    vlan = vitals_dict(first, reader())["net"]["eth0.100"]
    assert vlan["rx_bytes_per_s"] == pytest.approx(100.0)


def test_thermal_zones_without_psutil_sensors(reader, fake, sys_root):
    fake.sensors_temperatures = None  # psutil on macOS/Windows has no such function
    zone = os.path.join(sys_root, "sys/class/thermal/thermal_zone2")
    os.mkdir(zone)
    for name, text in (("type", "cpu-thermal"), ("temp", "-1500")):
        with open(os.path.join(zone, name), "w") as handle:
            handle.write(text)
    temps = vitals_dict(None, reader())["temp"]
    assert temps == {"cpu-thermal": {"celsius": 48.312}, "cpu-thermal_2": {"celsius": -1.5}}


def test_no_temperatures_at_all(reader, fake, tmp_path):
    fake.temps = {}
    snapshot = vitals.read_snapshot(DEFAULTS, fake, str(tmp_path / "empty"), None, Clock())
    assert "temp" not in vitals_dict(None, snapshot)


@pytest.mark.parametrize(
    "body",
    ["exit 1", "echo error=1", "exec sleep 5"],
    ids=["fails", "garbage", "hangs"],
)
def test_pi_group_absent_when_vcgencmd_misbehaves(
    fake, clock, sys_root, tmp_path, body, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG, logger=readers.__name__)
    monkeypatch.setattr(readers, "VCGENCMD_TIMEOUT", 0.2)
    broken = script(tmp_path / "vcgencmd-broken", body)
    snapshot = vitals.read_snapshot(DEFAULTS, fake, sys_root, broken, clock)
    data = vitals_dict(None, snapshot)
    assert "pi" not in data and "cpu" in data
    assert "vitals: pi unavailable" in caplog.text


@pytest.fixture
def lookups(monkeypatch):
    """An empty lookup cache, and every directory listing / attribute / PATH search the readers
    make, recorded."""
    monkeypatch.setattr(readers, "_lookups", {})
    calls = []
    real_entries, real_which = readers._entries, readers.shutil.which
    real_throttled = readers._throttled_attribute

    def entries(directory, prefix, *args, **kwargs):
        calls.append(prefix + "*")
        return real_entries(directory, prefix, *args, **kwargs)

    def throttled_attribute(sys_root):
        calls.append("get_throttled")
        return real_throttled(sys_root)

    def which(name, *args, **kwargs):
        calls.append(name)
        return real_which(name, *args, **kwargs)

    monkeypatch.setattr(readers, "_entries", entries)
    monkeypatch.setattr(readers, "_throttled_attribute", throttled_attribute)
    monkeypatch.setattr(readers.shutil, "which", which)
    return calls


def test_thermal_zones_are_listed_once_and_again_when_one_goes(reader, sys_root, lookups):
    assert vitals_dict(None, reader())["temp"]["cpu-thermal"] == {"celsius": 48.312}
    assert vitals_dict(None, reader())["temp"]["cpu-thermal"] == {"celsius": 48.312}
    assert lookups.count("thermal_zone*") == 1
    zone0 = os.path.join(sys_root, "sys/class/thermal/thermal_zone0")
    for name in os.listdir(zone0):
        os.unlink(os.path.join(zone0, name))
    os.rmdir(zone0)
    assert "cpu-thermal" not in vitals_dict(None, reader()).get("temp", {})
    assert lookups.count("thermal_zone*") == 1
    reader()
    assert lookups.count("thermal_zone*") == 2  # the missing zone made it look again


def test_a_zone_added_later_is_found_after_lookup_max_age(reader, sys_root, lookups, monkeypatch):
    reader()
    zone = os.path.join(sys_root, "sys/class/thermal/thermal_zone2")
    os.mkdir(zone)
    for name, text in (("type", "iwlwifi_1"), ("temp", "41000")):
        with open(os.path.join(zone, name), "w") as handle:
            handle.write(text)
    assert "iwlwifi_1" not in vitals_dict(None, reader())["temp"]  # remembered list
    monkeypatch.setattr(readers, "LOOKUP_MAX_AGE", 0.0)
    assert vitals_dict(None, reader())["temp"]["iwlwifi_1"] == {"celsius": 41.0}


def test_vcgencmd_is_searched_once_per_path(fake, clock, sys_root, vcgencmd, lookups, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(vcgencmd))
    for _ in range(3):
        data = vitals_dict(None, vitals.read_snapshot(DEFAULTS, fake, sys_root, None, clock))
        assert data["pi"] == PI_FLAGS
    assert lookups.count("vcgencmd") == 1
    assert lookups.count("get_throttled") == 1  # once too
    monkeypatch.setenv("PATH", os.path.dirname(os.path.dirname(vcgencmd)))
    assert "pi" not in vitals_dict(
        None, vitals.read_snapshot(DEFAULTS, fake, sys_root, None, clock)
    )
    assert lookups.count("vcgencmd") == 2


def test_pi_group_absent_without_vcgencmd(fake, clock, sys_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert "pi" not in vitals_dict(
        None, vitals.read_snapshot(DEFAULTS, fake, sys_root, None, clock)
    )


def test_vcgencmd_found_on_path(fake, clock, sys_root, vcgencmd, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(vcgencmd))
    data = vitals_dict(None, vitals.read_snapshot(DEFAULTS, fake, sys_root, None, clock))
    assert data["pi"] == PI_FLAGS


def boom(*args, **kwargs):
    raise RuntimeError("sensor on fire")


@pytest.mark.parametrize(
    "method, gone",
    [
        ("disk_io_counters", ["diskio"]),
        ("disk_partitions", ["disk"]),
        ("pids", ["system"]),
        ("boot_time", ["system"]),
        ("cpu_times", ["cpu", "cores"]),
        ("sensors_temperatures", []),
    ],
)
def test_failing_reader_drops_only_its_group(reader, fake, clock, caplog, method, gone):
    caplog.set_level(logging.DEBUG, logger=readers.__name__)
    setattr(fake, method, boom)
    first = reader()
    fake.advance()
    clock.now += 10
    data = vitals_dict(first, reader())
    assert set(data) - {"ts"} == set(GROUPS) - set(gone)
    assert "sensor on fire" in caplog.text
    if method == "sensors_temperatures":
        assert data["temp"] == {"cpu-thermal": {"celsius": 48.312}}


@pytest.mark.parametrize(
    "path, gone, rates_gone, logged",
    [
        ("proc/meminfo", ["mem", "swap"], [], "proc/meminfo"),
        ("proc/vmstat", [], ["swap"], "proc/vmstat"),
        ("sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", [], [], "cpufreq/policy0"),
    ],
)
def test_missing_kernel_file_drops_only_what_it_gives(
    reader, fake, clock, sys_root, caplog, path, gone, rates_gone, logged
):
    caplog.set_level(logging.DEBUG, logger=readers.__name__)
    os.unlink(os.path.join(sys_root, path))
    first = reader()
    fake.advance()
    clock.now += 10
    data = vitals_dict(first, reader())
    assert set(data) - {"ts"} == set(GROUPS) - set(gone)
    assert logged in caplog.text
    assert ("in_bytes_per_s" in data.get("swap", {})) == ("swap" not in gone + rates_gone)
    if "swap" in rates_gone:
        assert data["swap"] == FIRST_READING["swap"]
    if "freq" in path:
        assert data["cpu"]["percent"] == pytest.approx(45.0) and "freq_mhz" not in data["cpu"]


def test_validate_options_defaults():
    opts = vitals.validate_options(None)
    assert opts["groups"] == list(GROUPS)
    assert opts["exclude_interfaces"] == ["lo"]
    assert opts["exclude_devices"] == ["loop*", "ram*"]
    assert {"tmpfs", "overlay", "squashfs", "proc", "cgroup2"} <= set(opts["skip_fstypes"])
    assert (opts["sample_interval"], opts["max_state_age"], opts["min_rate_interval"]) == (
        0.5,
        3600.0,
        0.5,
    )
    assert vitals.validate_options(opts) == opts  # parsing a parsed dict changes nothing


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"groups": ["cpu", "gpu"]}, "vitals:groups"),
        ({"exclude_groups": "cpu,bogus"}, "vitals:exclude_groups"),
        ({"sample_interval": 0.01}, "vitals:sample_interval"),
        ({"max_state_age": "an hour"}, "vitals:max_state_age"),
        ({"mounts": {"/": True}}, "vitals:mounts"),
        ({"intervall": 1}, "vitals:intervall"),
    ],
)
def test_bad_option_names_the_key(raw, key):
    with pytest.raises(ConfigError) as err:
        vitals.validate_options(raw)
    assert err.value.key == key
    assert str(err.value).startswith(key + ":")


def test_baseinfo_from_fake_machine(fake, sys_root):
    assert base.baseinfo(fake, sys_root) == {
        "cores": 2,
        "physical_cores": 1,
        "cpu_model": "Raspberry Pi 4 Model B Rev 1.4",
        "mem_total": 8_000_000,
        "swap_total": 1000,
        "disks": {"/": 4_096_000, "/boot/firmware": 512_000, "/mnt/backup": 409_600},
        "pi_model": "Raspberry Pi 4 Model B Rev 1.4",
        "kernel": base.platform.release(),
        "os": "Debian GNU/Linux 12",
        "arch": base.platform.machine(),
        "boot_time": 100,
    }


def test_baseinfo_prefers_model_name_and_skips_missing_facts(fake, tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("model name\t: AMD EPYC\nHardware\t: x\n")
    fake.virtual_memory = boom
    info = base.baseinfo(fake, str(tmp_path))
    assert info["cpu_model"] == "AMD EPYC"
    assert "pi_model" not in info and "mem_total" not in info
    assert info["os"]  # falls back to the platform module


def test_real_psutil(tmp_path):
    ts, samples = vitals.collect(vitals.validate_options({"sample_interval": 0.1}), tmp_path)
    data = to_vitals_dict(samples, ts)
    check_types(data)
    assert abs(ts - time.time()) < 60
    assert 0.0 <= data["cpu"]["percent"] <= 100.0
    assert data["cpu"]["count"] == psutil.cpu_count()
    assert data["mem"]["total"] > 0
    assert set(data["load"]) == {"load1", "load5", "load15"}
    assert data["system"]["uptime"] > 0 and data["system"]["procs"] > 0
    assert (tmp_path / STATE_FILE).exists()


def test_real_baseinfo():
    info = base.baseinfo()
    assert info["cores"] == psutil.cpu_count()
    assert isinstance(info["mem_total"], int) and isinstance(info["boot_time"], int)
    assert isinstance(info["disks"], dict)


@pytest.mark.parametrize("include", [["*"], ["lo"], ["eth*", "wl?n[0-3]"], [], ["[!a]*"], ["*[*"]])
@pytest.mark.parametrize("exclude", [[], ["lo"], ["eth0.*", "a.b*"], ["*"]])
def test_selection_is_fnmatchcase(include, exclude):
    for name in ["lo", "eth0", "eth0.100", "wlan2", "wlan4", "a.b", "ab", "x*", "", "*[x", "LO"]:
        expected = any(fnmatch.fnmatchcase(name, p) for p in include) and not any(
            fnmatch.fnmatchcase(name, p) for p in exclude
        )
        assert readers.selector(tuple(include), tuple(exclude))(name) == expected, name


def test_configured_reads_vitals_then_overrides():
    config = {"vitals": {"exclude_groups": ["temp"], "mounts": ["/"]}}
    get = lambda key, default=None: config.get(key, default)  # noqa: E731  (config.get)
    raw = vitals.configured(get, {"mounts": ["/srv"], "__pub_jid": "1", "samples": 2})
    assert raw == {"exclude_groups": ["temp"], "mounts": ["/srv"], "samples": 2}
    assert config["vitals"]["mounts"] == ["/"]  # the minion's config is not modified
    assert vitals.configured(lambda key, default=None: None) == {}


@pytest.mark.parametrize(
    ("key", "where"),
    [
        ("pollpush", "the master config key vitals_pollpush"),
        ("query", "the master config key vitals_query"),
        ("grafana", "the pillar key vitals_grafana"),
    ],
)
def test_a_key_that_moved_out_of_vitals_says_where_it_went(key, where):
    with pytest.raises(ConfigError) as err:
        vitals.validate_options({"mounts": ["/"], key: {"x": 1}})
    assert err.value.key == f"vitals:{key}"
    assert str(err.value) == f"vitals:{key}: moved to {where} in salt-vitals 0.1.0"


def test_any_other_unknown_key_in_vitals_names_the_key_and_the_known_ones():
    with pytest.raises(ConfigError) as err:
        vitals.validate_options({"exclude_group": ["temp"]})
    assert err.value.key == "vitals:exclude_group"
    assert "unknown option (known: devices, exclude_devices," in str(err.value)


def test_validate_options_names_where_the_dict_was_set():
    with pytest.raises(ConfigError) as err:
        vitals.validate_options({"groups": ["cpu", "gpu"]}, "vitals_pollpush")
    assert err.value.key == "vitals_pollpush:groups"


def test_configured_vitals_that_is_not_a_dict_names_the_key():
    with pytest.raises(ConfigError) as err:
        vitals.configured(lambda key, default=None: "cpu,mem")
    assert err.value.key == "vitals" and "must be a dict" in str(err.value)

"""Unit tests of salt_ext.core.collect.readings: the mem and swap groups and the CPU frequency
read from fixed kernel files, with the exact numbers docs/metrics.md defines (the same whatever
psutil is installed: none of it is asked); the mount, device and interface globs; temperatures;
the pi group from the firmware's get_throttled sysfs attribute (no fork, in a fake /sys for a
Pi 1-4 and a Pi 5 layout) or ``vcgencmd`` where the attribute is absent; and a failing reader or
missing kernel file dropping only what it gives (the fake machine: tests/support/fakemachine.py).
"""

import fnmatch
import logging
import os
from collections import namedtuple

import pytest

from salt_ext.core.collect import collection as vitals
from salt_ext.core.collect import readings as readers
from salt_ext.core.collect.collection import validate_options
from salt_ext.core.collect.rates import Snapshot
from salt_ext.core.collect.readings import READERS, Reading
from salt_ext.core.samples import GROUPS
from support.fakemachine import (
    DEFAULTS,
    FIRST_READING,
    PI_FLAGS,
    Clock,
    Partition,
    boom,
    script,
    vitals_dict,
)
from support.kernel import (
    HOST_MEMINFO,
    PI3_MEMINFO,
    PI4_MEMINFO,
    cpufreq_policy,
    machine_root,
)

CpuTimes = namedtuple("scputimes", "user system idle")
MEM_SWAP = vitals.validate_options({"groups": ["mem", "swap"]})
CPU = vitals.validate_options({"groups": ["cpu"]})


class Machine:
    """The psutil functions the cpu group still asks (mem and swap ask none)."""

    def boot_time(self):
        return 100.0

    def cpu_count(self, logical=True):
        return 8

    def cpu_times(self, percpu=False):
        return CpuTimes(10.0, 5.0, 100.0)


def current(root, options=MEM_SWAP, previous=None, ts=1000.0):
    snapshot = vitals.read_snapshot(options, Machine(), root, clock=lambda: ts)
    return snapshot, vitals.snapshot_vitals(previous, snapshot, options)


@pytest.mark.parametrize(
    "meminfo, mem, swap",
    [
        (
            HOST_MEMINFO,
            {
                "total": 25_276_194_816,  # MemTotal 24683784 kB * 1024
                "available": 22_898_647_040,  # MemAvailable
                "used": 2_377_547_776,  # MemTotal - MemAvailable
                "percent": 100 * 2_377_547_776 / 25_276_194_816,  # 9.406...
            },
            {"total": 0, "used": 0, "percent": 0.0},  # no swap: 0 %, not absent
        ),
        (
            PI4_MEMINFO,
            {
                "total": 3_977_236_480,
                "available": 2_807_713_792,
                "used": 1_169_522_688,
                "percent": 100 * 1_169_522_688 / 3_977_236_480,  # 29.405...
            },
            {
                "total": 104_853_504,  # SwapTotal 102396 kB
                "used": 41_943_040,  # SwapTotal - SwapFree = 40960 kB
                "percent": 100 * 41_943_040 / 104_853_504,  # 40.0016...
            },
        ),
        (
            PI3_MEMINFO,
            {
                "total": 971_063_296,
                "available": 415_395_840,
                "used": 555_667_456,
                "percent": 100 * 555_667_456 / 971_063_296,  # 57.223...
            },
            {"total": 104_853_504, "used": 101_707_776, "percent": 100 * 99324 / 102396},
        ),
    ],
    ids=["host", "pi4", "pi3-32bit"],
)
def test_mem_and_swap_from_meminfo(tmp_path, meminfo, mem, swap):
    _, data = current(machine_root(tmp_path, meminfo))
    assert data == {"ts": 1000.0, "mem": mem, "swap": swap}
    assert [type(data["mem"][k]) for k in ("total", "available", "used", "percent")] == [
        int,
        int,
        int,
        float,
    ]


def test_a_kernel_without_memavailable_gives_the_total_only(tmp_path):
    """Linux < 3.14: no MemAvailable, so no available/used/percent (never an estimate)."""
    old = "".join(line + "\n" for line in PI4_MEMINFO.splitlines() if "MemAvailable" not in line)
    _, data = current(machine_root(tmp_path, old))
    assert data["mem"] == {"total": 3_977_236_480}


def test_available_above_total_is_never_negative_use(tmp_path):
    """A container's virtualised meminfo can claim more available than total."""
    odd = PI4_MEMINFO.replace("MemAvailable:    2741908", "MemAvailable:    3900000")
    _, data = current(machine_root(tmp_path, odd))
    assert data["mem"] == {
        "total": 3_977_236_480,
        "available": 3_993_600_000,
        "used": 0,
        "percent": 0.0,
    }


def test_swap_rates_count_kernel_pages_of_this_kernel(tmp_path):
    """pswpin/pswpout count pages of the kernel's page size (16 KiB on a Pi 5 kernel), where
    psutil multiplies by a fixed 4 KiB."""
    page = os.sysconf("SC_PAGE_SIZE")
    assert readers.RATES["swap"] == {
        "pswpin": ("in_bytes_per_s", page),
        "pswpout": ("out_bytes_per_s", page),
    }
    root = machine_root(tmp_path, PI4_MEMINFO, swapped=(3_000, 70_000))
    first, _ = current(root)
    assert first.counters == {"swap.pswpin": 3_000, "swap.pswpout": 70_000}
    machine_root(tmp_path, PI4_MEMINFO, swapped=(3_050, 70_500))
    _, data = current(root, previous=first, ts=1010.0)
    assert data["swap"]["in_bytes_per_s"] == 50 * page / 10
    assert data["swap"]["out_bytes_per_s"] == 500 * page / 10


def test_a_reference_from_before_the_page_counters_gives_no_swap_rate(tmp_path):
    """Rate state written by an older version held psutil's byte counts (swap.sin/sout): they
    are never subtracted from page counts."""
    root = machine_root(tmp_path, PI4_MEMINFO, swapped=(3_050, 70_500))
    old = Snapshot(990.0, 100.0, counters={"swap.sin": 12_288_000, "swap.sout": 286_720_000})
    _, data = current(root, previous=old)
    assert data["swap"] == {
        "total": 104_853_504,
        "used": 41_943_040,
        "percent": 100 * 41_943_040 / 104_853_504,
    }


def cpu_fields(root):
    cpu = current(root, CPU)[1]["cpu"]
    return {name: value for name, value in cpu.items() if name.startswith("freq")}


def test_frequency_is_the_mean_over_cpus_of_their_policy(tmp_path):
    """A big.LITTLE board (RK3588): four A55 cores in policy0, two pairs of A76 cores."""
    cpufreq_policy(tmp_path, "policy0", "0 1 2 3", 1_800_000, 408_000, 1_800_000)
    cpufreq_policy(tmp_path, "policy4", "4 5", 2_352_000, 408_000, 2_352_000)
    cpufreq_policy(tmp_path, "policy6", "6 7", 408_000, 408_000, 2_352_000)
    cpufreq_policy(tmp_path, "policy8", "", 0, 0, 0)  # every CPU of it offline: not counted
    assert cpu_fields(str(tmp_path)) == {
        "freq_mhz": (4 * 1800 + 2 * 2352 + 2 * 408) / 8,  # 1590.0
        "freq_min_mhz": 408.0,
        "freq_max_mhz": (4 * 1800 + 4 * 2352) / 8,  # 2076.0
    }


def test_frequency_without_cpufreq_is_the_mean_of_cpuinfo(tmp_path):
    """A virtual machine: no cpufreq policies, ``cpu MHz`` in /proc/cpuinfo, no min/max."""
    (tmp_path / "sys/devices/system/cpu/cpufreq").mkdir(parents=True)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.134\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2400.000\n"
    )
    assert cpu_fields(str(tmp_path)) == {"freq_mhz": (2596.134 + 2400.0) / 2}


def test_no_frequency_anywhere_leaves_the_fields_out(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nModel\t\t: Raspberry Pi 4\n")
    assert cpu_fields(str(tmp_path)) == {}


# -- selection: mounts, devices, interfaces ----------------------------------------------------


@pytest.mark.parametrize("include", [["*"], ["lo"], ["eth*", "wl?n[0-3]"], [], ["[!a]*"], ["*[*"]])
@pytest.mark.parametrize("exclude", [[], ["lo"], ["eth0.*", "a.b*"], ["*"]])
def test_selection_is_fnmatchcase(include, exclude):
    for name in ["lo", "eth0", "eth0.100", "wlan2", "wlan4", "a.b", "ab", "x*", "", "*[x", "LO"]:
        expected = any(fnmatch.fnmatchcase(name, p) for p in include) and not any(
            fnmatch.fnmatchcase(name, p) for p in exclude
        )
        assert readers.selector(tuple(include), tuple(exclude))(name) == expected, name


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


# -- temperatures ----------------------------------------------------------------------------


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


# -- the pi group: the get_throttled attribute, vcgencmd where it is absent --------------------


PI4 = "sys/devices/platform/soc/soc:firmware/get_throttled"


PI5 = "sys/devices/platform/soc@107c000000/soc@107c000000:firmware/get_throttled"


def read_pi(sys_root, vcgencmd=None):
    return READERS["pi"](Reading(None, validate_options({}), str(sys_root), vcgencmd))


def attribute(sys_root, rel, text):
    path = sys_root / rel
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


@pytest.fixture
def refusing_vcgencmd(tmp_path):
    """A vcgencmd that records being run and fails: it must not be needed."""
    marker = tmp_path / "vcgencmd-ran"
    path = tmp_path / "vcgencmd"
    path.write_text(f"#!/bin/sh\ntouch {marker}\nexit 3\n")
    path.chmod(0o755)
    return str(path), marker


@pytest.mark.parametrize("layout", [PI4, PI5])
def test_sysfs_attribute_gives_the_same_bits_as_vcgencmd(tmp_path, refusing_vcgencmd, layout):
    vcgencmd, marker = refusing_vcgencmd
    attribute(tmp_path, layout, "50005\n")  # the driver writes "%x\n"
    gauges, counters = read_pi(tmp_path, vcgencmd)
    assert counters == {}
    assert gauges == PI_FLAGS  # what the fake vcgencmd's throttled=0x50005 gives
    assert not marker.exists()  # no fork


def test_all_flags_and_none(tmp_path):
    attribute(tmp_path, PI4, "f000f\n")
    gauges, _ = read_pi(tmp_path)
    assert gauges["throttled"] == 0xF000F and all(
        gauges[k] == 1 for k in gauges if k != "throttled"
    )
    (tmp_path / PI4).write_text("0\n")
    gauges, _ = read_pi(tmp_path)
    assert gauges["throttled"] == 0 and not any(gauges.values())


def test_garbage_in_the_attribute_is_an_error_naming_the_file(tmp_path):
    attribute(tmp_path, PI4, "throttled?\n")
    with pytest.raises(ValueError, match="get_throttled content 'throttled\\?'"):
        read_pi(tmp_path)


def test_vcgencmd_only_without_the_attribute(tmp_path):
    vcgencmd = tmp_path / "vcgencmd"
    vcgencmd.write_text('#!/bin/sh\ntest "$1" = get_throttled && echo throttled=0x80008\n')
    vcgencmd.chmod(0o755)
    (tmp_path / "sys/devices/platform/soc").mkdir(parents=True)  # a Pi without the driver
    gauges, _ = read_pi(tmp_path, str(vcgencmd))
    assert gauges["throttled"] == 0x80008 and gauges["soft_temp_limit"] == 1


def test_not_a_pi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no vcgencmd anywhere
    assert read_pi(tmp_path) == ({}, {})


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


# -- a failing reader or a missing kernel file --------------------------------------------------


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

"""The mem and swap groups and the CPU frequency read from fixed kernel files, with the exact
numbers docs/metrics.md defines: the same whatever psutil is installed (none of it is asked)."""

import os
from collections import namedtuple

import pytest

from salt_ext.core.collect import collection as vitals
from salt_ext.core.collect import readings as readers
from salt_ext.core.collect.rates import Snapshot
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

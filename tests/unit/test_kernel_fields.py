"""The mem and swap groups and the CPU frequency read from fixed kernel files, with the exact
numbers docs/metrics.md defines: the same whatever psutil is installed (none of it is asked)."""

import os
from collections import namedtuple

import pytest

from salt_ext.core import collect as vitals
from salt_ext.core import readers
from salt_ext.core.rates import Snapshot

# This development machine (an AMD EPYC VM, Linux 6.18, no swap), 2026-12-06. free(1) of
# procps-ng 4.0.2 printed "used 2377547776" for it; psutil < 7.1 would report 2043240448 as
# used (MemTotal - MemFree - Buffers - Cached - SReclaimable), 319 MiB less.
HOST_MEMINFO = """\
MemTotal:       24683784 kB
MemFree:        17665732 kB
MemAvailable:   22361960 kB
Buffers:          147564 kB
Cached:          3886212 kB
SwapCached:            0 kB
Active:          1568100 kB
Inactive:        4204924 kB
Active(anon):        188 kB
Inactive(anon):  1750580 kB
Active(file):    1567912 kB
Inactive(file):  2454344 kB
Unevictable:       17476 kB
Mlocked:           14656 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:             15300 kB
Writeback:             0 kB
AnonPages:       1756832 kB
Mapped:            58872 kB
Shmem:             11520 kB
KReclaimable:     988924 kB
Slab:            1066284 kB
SReclaimable:     988924 kB
SUnreclaim:        77360 kB
KernelStack:        6032 kB
PageTables:        18152 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:    12341892 kB
Committed_AS:    5841236 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       18860 kB
VmallocChunk:          0 kB
Percpu:              744 kB
AnonHugePages:         0 kB
ShmemHugePages:        0 kB
ShmemPmdMapped:        0 kB
FileHugePages:     14336 kB
FilePmdMapped:         0 kB
Balloon:               0 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
DirectMap4k:       26624 kB
DirectMap2M:     2070528 kB
DirectMap1G:    25165824 kB
"""

# A Raspberry Pi 4 (4 GB) in the layout of a 64-bit Pi OS kernel (6.1, CMA, the 100 MB
# dphys-swapfile) with 40 MB of swap in use; psutil < 7.1 would report 1042661376 as used.
PI4_MEMINFO = """\
MemTotal:        3884020 kB
MemFree:          612340 kB
MemAvailable:    2741908 kB
Buffers:          122788 kB
Cached:          2032116 kB
SwapCached:         4416 kB
Active:           998104 kB
Inactive:        1905512 kB
Active(anon):     512300 kB
Inactive(anon):   288912 kB
Active(file):     485804 kB
Inactive(file):  1616600 kB
Unevictable:       16420 kB
Mlocked:              16 kB
SwapTotal:        102396 kB
SwapFree:          61436 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:               212 kB
Writeback:             0 kB
AnonPages:        780120 kB
Mapped:           301448 kB
Shmem:             31716 kB
KReclaimable:      98552 kB
Slab:             151208 kB
SReclaimable:      98552 kB
SUnreclaim:        52656 kB
KernelStack:        5248 kB
PageTables:        12096 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:     2044406 kB
Committed_AS:    2912004 kB
VmallocTotal:   259653632 kB
VmallocUsed:       14380 kB
VmallocChunk:          0 kB
Percpu:              896 kB
CmaTotal:         524288 kB
CmaFree:          391240 kB
"""

# A Raspberry Pi 3 (1 GB) on a 32-bit kernel: highmem lines, the swap file nearly full.
PI3_MEMINFO = """\
MemTotal:         948304 kB
MemFree:           48212 kB
MemAvailable:     405660 kB
Buffers:           31244 kB
Cached:           402580 kB
SwapCached:        12960 kB
Active:           512828 kB
Inactive:         289016 kB
Active(anon):     301124 kB
Inactive(anon):    79532 kB
Active(file):     211704 kB
Inactive(file):   209484 kB
Unevictable:          16 kB
Mlocked:              16 kB
HighTotal:        180224 kB
HighFree:           7340 kB
LowTotal:         768080 kB
LowFree:           40872 kB
SwapTotal:        102396 kB
SwapFree:           3072 kB
Dirty:                48 kB
Writeback:             0 kB
AnonPages:        364216 kB
Mapped:           112084 kB
Shmem:             16120 kB
KReclaimable:      16432 kB
Slab:              39408 kB
SReclaimable:      16432 kB
SUnreclaim:        22976 kB
KernelStack:        1936 kB
PageTables:         4260 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:      576548 kB
Committed_AS:    1187412 kB
VmallocTotal:     245760 kB
VmallocUsed:        5344 kB
VmallocChunk:          0 kB
Percpu:              464 kB
CmaTotal:         262144 kB
CmaFree:          180412 kB
"""

CpuTimes = namedtuple("scputimes", "user system idle")
VMSTAT = "nr_free_pages 153085\npgpgin 4113472\npgpgout 922180\npswpin {}\npswpout {}\n"
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


def machine_root(tmp_path, meminfo, swapped=(0, 0)):
    proc = tmp_path / "proc"
    proc.mkdir(exist_ok=True)
    (proc / "meminfo").write_text(meminfo)
    (proc / "vmstat").write_text(VMSTAT.format(*swapped))
    return str(tmp_path)


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


def write_policy(root, name, cpus, cur, low, high):
    policy = root / "sys/devices/system/cpu/cpufreq" / name
    policy.mkdir(parents=True)
    for file, text in (
        ("affected_cpus", cpus),
        ("scaling_cur_freq", cur),
        ("scaling_min_freq", low),
        ("scaling_max_freq", high),
    ):
        (policy / file).write_text(f"{text}\n")


def cpu_fields(root):
    cpu = current(root, CPU)[1]["cpu"]
    return {name: value for name, value in cpu.items() if name.startswith("freq")}


def test_frequency_is_the_mean_over_cpus_of_their_policy(tmp_path):
    """A big.LITTLE board (RK3588): four A55 cores in policy0, two pairs of A76 cores."""
    write_policy(tmp_path, "policy0", "0 1 2 3", 1_800_000, 408_000, 1_800_000)
    write_policy(tmp_path, "policy4", "4 5", 2_352_000, 408_000, 2_352_000)
    write_policy(tmp_path, "policy6", "6 7", 408_000, 408_000, 2_352_000)
    write_policy(tmp_path, "policy8", "", 0, 0, 0)  # every CPU of it offline: not counted
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

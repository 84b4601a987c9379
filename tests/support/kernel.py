"""Kernel files of real-looking machines, shared by the unit and the compatibility tests of the
mem, swap and CPU frequency readings (tests/unit/collect/test_readings.py,
tests/compat/test_psutil_versions.py)."""

import os

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

VMSTAT = "nr_free_pages 153085\npgpgin 4113472\npgpgout 922180\npswpin {}\npswpout {}\n"


def machine_root(root, meminfo, swapped=(0, 0)):
    """``root`` as a machine's ``/``: ``proc/meminfo`` and ``proc/vmstat`` with ``swapped``
    (pages in, pages out); returns it as a str."""
    proc = os.path.join(root, "proc")
    os.makedirs(proc, exist_ok=True)
    with open(os.path.join(proc, "meminfo"), "w") as handle:
        handle.write(meminfo)
    with open(os.path.join(proc, "vmstat"), "w") as handle:
        handle.write(VMSTAT.format(*swapped))
    return str(root)


def cpufreq_policy(root, name, cpus, cur_khz, min_khz, max_khz):
    """A cpufreq policy directory under ``root`` (``sys/devices/system/cpu/cpufreq/<name>``)
    for the CPUs ``cpus`` (a string such as ``"0 1"``, empty when they are all offline)."""
    policy = os.path.join(root, "sys/devices/system/cpu/cpufreq", name)
    os.makedirs(policy)
    for file, text in (
        ("affected_cpus", cpus),
        ("scaling_cur_freq", cur_khz),
        ("scaling_min_freq", min_khz),
        ("scaling_max_freq", max_khz),
    ):
        with open(os.path.join(policy, file), "w") as handle:
            handle.write(f"{text}\n")

"""Run with another psutil's interpreter: print, as JSON, the mem, swap and cpu frequency that
the installed salt_ext reads from the machine root given as argv[1] (two readings 10 s apart,
the second with 13 pages swapped in and 7 out), and psutil's own ``used`` of the same
``proc/meminfo``."""

import json
import os
import sys
from collections import namedtuple

import psutil

from salt_ext.core.collect import collection as vitals

CpuTimes = namedtuple("scputimes", "user system idle")


class Machine:
    """What the cpu group still asks psutil, fixed."""

    boot_time = staticmethod(lambda: 100.0)
    cpu_count = staticmethod(lambda logical=True: 4)
    cpu_times = staticmethod(lambda percpu=False: CpuTimes(1.0, 1.0, 1.0))


def reading(root, ts, pages_in, pages_out):
    with open(os.path.join(root, "proc/vmstat"), "w") as handle:
        handle.write(f"pgpgin 4113472\npswpin {pages_in}\npswpout {pages_out}\n")
    return vitals.read_snapshot(OPTIONS, Machine, root, clock=lambda: ts)


OPTIONS = vitals.validate_options({"groups": ["cpu", "mem", "swap"]})
root = sys.argv[1]
first = reading(root, 1000.0, 3000, 70000)
data = vitals.snapshot_vitals(first, reading(root, 1010.0, 3013, 70007), OPTIONS)
psutil.PROCFS_PATH = os.path.join(root, "proc")
out = {
    "psutil": psutil.__version__,
    "vitals": {
        "mem": data["mem"],
        "swap": data["swap"],
        "freq": {k: v for k, v in data["cpu"].items() if k.startswith("freq")},
    },
    "psutil_used": psutil.virtual_memory().used,
}
print(json.dumps(out))

"""psutil changed what some of its numbers mean (``used`` in 7.1, ``cpu_freq`` in 5.9): the
mem, swap and CPU frequency of the installed wheel must not change with it. Runs
``kernel_fields_check.py`` on the same fixed kernel files with this venv's psutil and with the
psutil 5.9.4 (Debian 12's and Raspberry Pi OS bookworm's ``python3-psutil``) of a venv that
``scripts/test.sh`` prepares (``.tmp/venv-psutil5``)."""

import json
import os
import subprocess
import sys

import pytest

from support.kernel import (
    HOST_MEMINFO,
    PI3_MEMINFO,
    PI4_MEMINFO,
    cpufreq_policy,
    machine_root,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PSUTIL5_PYTHON = os.path.join(ROOT, ".tmp", "venv-psutil5", "bin", "python")
CHECK = os.path.join(ROOT, "tests", "compat", "kernel_fields_check.py")


def check(python, root):
    out = subprocess.run(
        [python, CHECK, root], cwd="/", capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def psutil5():
    if not os.path.exists(PSUTIL5_PYTHON):
        if os.environ.get("CI"):
            pytest.fail("scripts/test.sh did not build the psutil 5 venv")
        pytest.skip("no psutil 5 venv (scripts/test.sh makes it)")
    return PSUTIL5_PYTHON


@pytest.mark.parametrize(
    "meminfo, psutil5_used",
    [(HOST_MEMINFO, 2_043_240_448), (PI4_MEMINFO, 1_042_661_376), (PI3_MEMINFO, 460_632_064)],
    ids=["host", "pi4", "pi3-32bit"],
)
def test_the_same_numbers_with_psutil_5_and_7(psutil5, tmp_path, meminfo, psutil5_used):
    root = machine_root(tmp_path, meminfo)
    cpufreq_policy(root, "policy0", "0 1 2 3", 1_500_000, 600_000, 1_800_000)
    old, new = check(psutil5, root), check(sys.executable, root)
    assert old["psutil"] == "5.9.4" and new["psutil"].split(".")[0] == "7"
    assert old["vitals"] == new["vitals"]
    mem = new["vitals"]["mem"]
    assert mem["used"] == mem["total"] - mem["available"]
    assert new["vitals"]["freq"] == {
        "freq_mhz": 1500.0,
        "freq_min_mhz": 600.0,
        "freq_max_mhz": 1800.0,
    }
    page = os.sysconf("SC_PAGE_SIZE")
    assert new["vitals"]["swap"]["in_bytes_per_s"] == 13 * page / 10
    # what passing psutil's used through gave: it differs between the two
    assert (old["psutil_used"], new["psutil_used"]) == (psutil5_used, mem["used"])

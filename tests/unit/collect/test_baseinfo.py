"""Unit tests of salt_ext.core.collect.baseinfo: the machine's facts from the fake machine of
tests/support/fakemachine.py, and from the real one."""

import psutil

from salt_ext.core.collect import baseinfo as base
from support.fakemachine import boom


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


def test_real_baseinfo():
    info = base.baseinfo()
    assert info["cores"] == psutil.cpu_count()
    assert isinstance(info["mem_total"], int) and isinstance(info["boot_time"], int)
    assert isinstance(info["disks"], dict)

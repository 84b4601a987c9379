"""The fake machine of tests/support/fakemachine.py under each test's tmp_path: psutil, the
/proc and /sys tree, vcgencmd, and ``reader(**options)`` reading a snapshot of it."""

import pytest

from salt_ext.core.collect import collection as vitals
from support.fakemachine import Clock, FakePsutil, script
from support.kernel import cpufreq_policy


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

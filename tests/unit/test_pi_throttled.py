"""The pi group reads the firmware's get_throttled sysfs attribute (no fork), in a fake /sys for
a Pi 1-4 and a Pi 5 layout; ``vcgencmd`` only where the attribute is absent."""

import pytest

from salt_ext.core.collect.collection import validate_options
from salt_ext.core.collect.readings import READERS, Reading

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
    assert gauges == {
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

"""Facts about the node that rarely change (``vitals.baseinfo``): cores, CPU model, memory,
filesystem sizes, Raspberry Pi model, kernel, OS and architecture."""

import os
import platform
from typing import Any, Optional

import psutil

from salt_ext.core.collect.collection import validate_options
from salt_ext.core.collect.readings import Reading, attempt, read_disk, read_text


def baseinfo(source: Any = psutil, sys_root: str = "/") -> dict[str, Any]:
    """Hardware and OS facts of the node; a fact that cannot be read is absent."""
    boot_time = attempt("boot time", source.boot_time)
    info = {
        "cores": attempt("cpu count", source.cpu_count),
        "physical_cores": attempt("physical cpu count", source.cpu_count, False),
        "cpu_model": _cpu_model(sys_root),
        "mem_total": attempt("memory", lambda: int(source.virtual_memory().total)),
        "swap_total": attempt("swap", lambda: int(source.swap_memory().total)),
        "disks": _disk_totals(source),
        "pi_model": _pi_model(sys_root),
        "kernel": platform.release(),
        "os": _os_name(sys_root),
        "arch": platform.machine(),
        "boot_time": None if boot_time is None else int(boot_time),
    }
    return {key: value for key, value in info.items() if value is not None}


def _disk_totals(source: Any) -> Optional[dict[str, int]]:
    """{mount: total bytes} of the disk group with default options."""
    result = attempt("disks", read_disk, Reading(source, validate_options(None)))
    return None if result is None else {mount: f["total"] for mount, f in result[0].items()}


def _pi_model(sys_root: str) -> Optional[str]:
    model = read_text(os.path.join(sys_root, "proc/device-tree/model")) or ""
    return model.strip("\x00").strip() or None  # device-tree strings end with NUL


def _cpu_model(sys_root: str) -> Optional[str]:
    """``model name`` (x86), else ``Model`` (Raspberry Pi) or ``Hardware`` of /proc/cpuinfo."""
    found: dict[str, str] = {}
    for line in (read_text(os.path.join(sys_root, "proc/cpuinfo")) or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            found.setdefault(key.strip(), value.strip())
    return next((found[k] for k in ("model name", "Model", "Hardware") if k in found), None)


def _os_name(sys_root: str) -> str:
    """PRETTY_NAME of /etc/os-release, else what :mod:`platform` knows."""
    for line in (read_text(os.path.join(sys_root, "etc/os-release")) or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME" and value.strip().strip("\"'"):
            return value.strip().strip("\"'")
    return platform.platform(terse=True)

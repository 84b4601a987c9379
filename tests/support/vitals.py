"""Realistic ``vitals.current`` returns, shared by the tests and the benches.

Pure data, no test framework: ``bench/`` scripts import it with ``tests/`` on ``sys.path``
(``bench/benchpath.py``).
"""


def small_vitals(ts):
    """A small ``vitals.current`` return whose line protocol the tests spell out byte by byte."""
    return {
        "ts": ts,
        "cpu": {"percent": 12.5, "count": 4},
        "cores": {"0": {"percent": 20.0}, "1": {"percent": 5.0}},
        "mem": {"total": 1000, "available": 400, "used": 600, "percent": 60.0},
        "disk": {"/": {"total": 100, "used": 40, "free": 60, "percent": 40.0}},
        "temp": {"cpu-thermal": {"current": 48.3}},
    }


def vitals_return(ts, n_cores=8, n_disks=8, n_diskio=8, n_nets=6, n_sensors=7):
    """A mid-size server's ``vitals.current`` return: ~200 values collected at ``ts``.

    With the default sizes it is 43 InfluxDB lines (one per measurement and tag set).
    """
    return {
        "ts": ts,
        "cpu": {
            "percent": 3.0,
            "user": 1.0,
            "system": 1.0,
            "idle": 95.0,
            "iowait": 0.1,
            "count": n_cores,
            "ctx_switches": 1000.0,
            "interrupts": 500.0,
        },
        "cores": {
            str(i): {"percent": 2.5, "freq": 1500.0, "user": 1.25, "system": 0.5}
            for i in range(n_cores)
        },
        "load": {"1m": 0.1, "5m": 0.2, "15m": 0.3},
        "mem": {"total": 8 << 30, "available": 4 << 30, "used": 3 << 30, "percent": 40.2},
        "swap": {"total": 1 << 30, "used": 0, "percent": 0.0},
        "disk": {
            f"/mnt/data{i}": {"total": 10 << 30, "used": 1 << 30, "free": 9 << 30, "percent": 10.7}
            for i in range(n_disks)
        },
        "diskio": {
            f"sd{chr(97 + i)}": {
                "read_bytes": 1.5e6,
                "write_bytes": 2.5e6,
                "read_count": 30.0,
                "write_count": 41.0,
                "busy_time": 0.35,
            }
            for i in range(n_diskio)
        },
        "net": {
            f"eth{i}": {
                "rx_bytes": 1.2e5,
                "tx_bytes": 2.3e4,
                "rx_packets": 310.0,
                "tx_packets": 120.0,
                "rx_errors": 0,
                "tx_errors": 0,
                "rx_drops": 0,
                "tx_drops": 0,
            }
            for i in range(n_nets)
        },
        "temp": {
            f"coretemp-{i}": {"current": 41.5, "high": 80.0, "critical": 95.0}
            for i in range(n_sensors)
        },
        "system": {"procs": 231, "boot_time": 1700000000, "uptime": 123456.7, "users": 1.0},
        "pi": {
            "throttled": 0,
            "under_voltage": 0,
            "freq_capped": 0,
            "throttling": 0,
            "soft_temp_limit": 0,
            "volts": 1.2,
            "temp": 50.0,
        },
    }

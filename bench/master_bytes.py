"""Bytes the master receives per minion per cycle: ``vitals.push`` receipt vs full return.

Builds the exact return load a minion sends to the master (``salt.minion`` ``_return_pub``:
cmd, id, jid, fun, fun_args, return, retcode, success) and serialises it with Salt's own
msgpack payload serializer, for this machine and for a synthetic large node (64 cores, 24
filesystems, 24 disks, 16 interfaces, 8 sensors). The receipt stays the same size whatever the
node; the full return grows with it. The integration test
``tests/integration/test_spine.py::test_receipt_keeps_the_payload_off_the_master`` measures the
real master job cache the same way (return.p sizes) and asserts the 10 % bound.

Run: .venv/bin/python bench/master_bytes.py
"""

import tempfile

import salt.payload

from salt_ext.core.collect.collection import collect_window, validate_options
from salt_ext.core.samples import Sample, to_vitals_dict


def load(fun, ret, fun_args):
    return {
        "cmd": "_return",
        "id": "pi-cluster-node-07",
        "jid": "20261122051500123456",
        "fun": fun,
        "fun_args": fun_args,
        "return": ret,
        "retcode": 0,
        "success": True,
    }


def big_node(ts):
    fields = {
        "cpu": {"percent": 1.5, "user": 1.0, "system": 0.5, "iowait": 0.1, "idle": 98.5},
        "mem": {"percent": 40.0},
    }
    samples = [Sample(g, n, v, ts) for g, f in fields.items() for n, v in f.items()]
    for core in range(64):
        samples += [
            Sample("cpu", n, 3.25, ts, (("cpu", str(core)),))
            for n in ("percent", "user", "system", "iowait")
        ]
    for i in range(24):
        samples += [
            Sample("disk", n, 123456789, ts, (("path", f"/srv/data{i}"),))
            for n in ("total", "used", "free")
        ]
        samples += [
            Sample("diskio", n, 1234.5, ts, (("device", f"sd{chr(97 + i)}"),))
            for n in ("read_bytes_per_s", "write_bytes_per_s", "busy_percent")
        ]
    for i in range(16):
        samples += [
            Sample("net", n, 987.25, ts, (("interface", f"eth{i}"),))
            for n in ("rx_bytes_per_s", "tx_bytes_per_s", "rx_errors")
        ]
    for i in range(8):
        samples.append(Sample("temp", "celsius", 48.5, ts, (("sensor", f"zone{i}"),)))
    return samples


def main():
    size = lambda data: len(salt.payload.dumps(data))  # noqa: E731
    with tempfile.TemporaryDirectory() as state_dir:
        ts, here = collect_window(validate_options(None), state_dir)
    receipt = {"ts": int(ts), "points": len(here), "carbon": "sent"}
    push = size(load("vitals.push", receipt, []))
    print(f"{'node':<26}{'points':>8}{'full return':>14}{'push receipt':>15}{'ratio':>9}")
    for name, samples in (("this machine", here), ("synthetic large node", big_node(ts))):
        full = size(load("vitals.current", to_vitals_dict(samples, ts), []))
        print(f"{name:<26}{len(samples):>8}{full:>12} B{push:>13} B{push / full:>9.1%}")


if __name__ == "__main__":
    main()

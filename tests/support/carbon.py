"""The carbon backend's options read the way a returner reads them (``read_options`` over a
config dict), and a ``vitals.current`` job return with the exact plaintext carbon receives."""

from salt_ext.core.delivery import returner as backend
from salt_ext.core.graphite.carbon import BACKEND
from support.saltconfig import salt_funcs

VITALS_RET = {
    "id": "pi-01",
    "jid": "20241122020000123456",
    "fun": "vitals.current",
    "fun_args": [],
    "retcode": 0,
    "success": True,
    "return": {
        "ts": 1732240000.5,
        "cpu": {"percent": 12.5, "count": 4},
        "disk": {"/": {"percent": 41.2, "total": 1000}, "/boot": {"percent": 10.0}},
        "mem": {"total": 8000, "percent": 50.0},
    },
}


VITALS_TEXT = (
    b"vitals.pi-01.cpu.percent 12.5 1732240000\n"
    b"vitals.pi-01.cpu.count 4 1732240000\n"
    b"vitals.pi-01.disk.root.percent 41.2 1732240000\n"
    b"vitals.pi-01.disk.root.total 1000 1732240000\n"
    b"vitals.pi-01.disk.boot.percent 10.0 1732240000\n"
    b"vitals.pi-01.mem.total 8000 1732240000\n"
    b"vitals.pi-01.mem.percent 50.0 1732240000\n"
)


def options(config, ret=None):
    return backend.read_options(BACKEND, ret or {}, salt_funcs(config), {})

"""The InfluxDB backend's options and HTTP transports, built the way a returner builds them
(from a config dict through ``read_options``), and the data the transport tests send."""

from salt_ext.core.delivery import returner as core
from salt_ext.core.influxdb.write import BACKEND
from support.lineprotocol import TS
from support.saltconfig import salt_funcs
from support.vitals import small_vitals

SECRET = "Sup3r-Secret-Pw"
PAYLOAD = b"cpu,host=h percent=1.0 1\nmem,host=h used=2i 1\nload,host=h 1m=0.5 1\n"
# A vitals.current job return of small_vitals, whose line protocol the tests spell out.
RET = {"id": "pi-01", "fun": "vitals.current", "return": small_vitals(TS), "retcode": 0}


def options(**conf):
    return core.read_options(BACKEND, {}, salt_funcs({"influxdb": conf}), {})


def transport(url, **conf):
    conf.setdefault("url", url)
    return BACKEND.transports(options(**conf))[0]

"""The InfluxDB returner loader module (salt_ext/returners/influxdb_return.py) over the core:
its virtual name, CLI example, and a job return written with the options Salt's
``config.option`` gives, against a scripted HTTP server."""

from support.httpserver import Scripted
from support.influxdb import RET
from support.saltconfig import salt_funcs


def test_loader_module(tmp_path):
    from salt_ext.returners import influxdb_return

    assert influxdb_return.__virtual__() == "influxdb"
    assert "CLI Example:" in influxdb_return.returner.__doc__
    with Scripted((204, b"")) as server:
        conf = {"influxdb.url": server.url, "influxdb.tags": {"role": "web"}}
        influxdb_return.__salt__ = salt_funcs(conf)
        influxdb_return.__opts__ = {"cachedir": str(tmp_path), "id": "pi-01"}
        try:
            result = influxdb_return.returner(RET)
        finally:
            del influxdb_return.__salt__, influxdb_return.__opts__
    assert result.status == "sent"
    assert b"cpu,host=pi-01,role=web percent=12.5,count=4i" in server.requests[0].body

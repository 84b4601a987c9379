"""The carbon returner loader module (salt_ext/returners/carbon_return.py) over the core: its
virtual name, and a job return delivered with the options Salt's ``config.option`` gives."""

from salt_ext.returners import carbon_return
from support.carbon import VITALS_RET, VITALS_TEXT
from support.saltconfig import salt_funcs
from support.tcp import RecordingTcpServer


def test_loader_module_returner(minion_opts, monkeypatch):
    with RecordingTcpServer() as server:
        monkeypatch.setattr(
            carbon_return,
            "__salt__",
            salt_funcs({"carbon": {"port": server.port, "prefix": "lab"}}),
            raising=False,
        )
        monkeypatch.setattr(carbon_return, "__opts__", minion_opts, raising=False)
        assert carbon_return.__virtual__() == "carbon"
        result = carbon_return.returner(VITALS_RET)
        assert result.status == "sent"
        assert server.wait_for(1) == [VITALS_TEXT.replace(b"vitals.pi-01.", b"lab.pi-01.")]

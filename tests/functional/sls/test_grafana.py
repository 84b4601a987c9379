"""The ``grafana`` SLS through ``salt-call --local`` (Salt's real state system, no daemon):
``test=True`` changes nothing, a run drops the dashboards and provisioning files in place, and
a host without Grafana gets a note instead."""

import pytest
import salt.utils.yaml

from support.saltcall import SLS_ROOT
from support.saltcall import salt_call as support_salt_call

PASSWORD = "graf-Pw-9x-secret"


def salt_call(root, pillar, *args):
    return support_salt_call(
        root, {"vitals_grafana": pillar}, *args, minion_id="grafana-host", secrets=[PASSWORD]
    )


@pytest.fixture
def grafana_host(tmp_path):
    provisioning = tmp_path / "etc" / "grafana" / "provisioning"
    provisioning.mkdir(parents=True)
    pillar = {
        "provisioning_dir": str(provisioning),
        "dashboards_dir": str(tmp_path / "dashboards"),
        "graphite_url": "http://graphite:8080",
        "influxdb_url": "http://influx:8086",
        "influxdb_user": "grafana",
        "influxdb_password": PASSWORD,
    }
    return tmp_path, provisioning, pillar


def test_test_mode_changes_nothing(grafana_host):
    root, provisioning, pillar = grafana_host
    code, ret = salt_call(root, pillar, "state.apply", "grafana", "test=True")
    assert code == 0, ret
    assert all(r["result"] is None for r in ret.values()), ret
    assert not (root / "dashboards").exists()
    assert not (provisioning / "datasources").exists()


def test_apply_drops_dashboards_and_provisioning(grafana_host):
    root, provisioning, pillar = grafana_host
    code, ret = salt_call(root, pillar, "state.apply", "grafana")
    assert code == 0 and all(r["result"] for r in ret.values()), ret
    for board in (SLS_ROOT / "grafana" / "dashboards").glob("*.json"):
        assert (root / "dashboards" / board.name).read_text() == board.read_text()
    sources = provisioning / "datasources" / "salt-vitals.yaml"
    assert oct(sources.stat().st_mode & 0o777) == "0o640"
    data = salt.utils.yaml.safe_load(sources.read_text())
    uids = {d["uid"]: d for d in data["datasources"]}
    assert set(uids) == {"vitals-graphite", "vitals-influxdb"}
    assert uids["vitals-influxdb"]["secureJsonData"]["password"] == PASSWORD
    provider = salt.utils.yaml.safe_load(
        (provisioning / "dashboards" / "salt-vitals.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == str(root / "dashboards")
    code, again = salt_call(root, pillar, "state.apply", "grafana")
    assert code == 0 and not any(r["changes"] for r in again.values()), again


def test_no_grafana_no_files(tmp_path):
    pillar = {"provisioning_dir": str(tmp_path / "missing"), "dashboards_dir": str(tmp_path / "d")}
    code, ret = salt_call(tmp_path, pillar, "state.apply", "grafana")
    assert code == 0, ret
    (state,) = ret.values()
    assert "Grafana is not installed" in state["comment"]
    assert not (tmp_path / "d").exists()

"""The bundled SLS rendered by Salt's real renderer (``salt-call --local state.show_sls``, no
daemon, nothing applied): the systemd and the no-systemd service branches, the onedir
``salt-pip`` choice of ``vitals.agent``, the restart commands' PATH, and pillar.example against
the defaults. The states applied for real are in tests/integration/stack/test_states.py
(without systemd) and tests/integration/systemd/ (with)."""

import json
import os

import pytest
import salt.utils.systemd
import salt.utils.yaml

from support.saltcall import SLS_ROOT, salt_call

PILLAR = {"graphite": {"web": {"enabled": True, "secret_key": "render-test-secret"}}}
DAEMONS = {  # state id -> (service / unit name, what restarts it)
    "graphite-carbon-service": (
        "carbon-cache",
        [{"file": "graphite-carbon-enabled"}, {"file": "graphite-carbon-conf"}]
        + [{"file": "graphite-storage-schemas"}],
    ),
    "influxdb-service": ("influxdb", [{"file": "influxdb-config"}]),
    "graphite-web-service": (
        "graphite-web",
        [{"file": "graphite-web-settings"}, {"file": "graphite-web-service-unit"}],
    ),
}


def show_sls(tmp_path, sls, pillar, grains=None):
    code, ret = salt_call(tmp_path, pillar, "state.show_sls", sls, grains=grains)
    assert code == 0 and isinstance(ret, dict), ret
    return ret


def states(ret, function):
    """{id: {arg: value}} of the states calling ``function`` (e.g. ``service.running``)."""
    module, fun = function.split(".")
    out = {}
    for sid, body in ret.items():
        if fun in body.get(module, []):
            args = {}
            for item in body[module]:
                if isinstance(item, dict):
                    args.update(item)
            out[sid] = args
    return out


def test_where_systemd_is_pid_1_the_daemons_are_service_running(tmp_path):
    ret = show_sls(tmp_path, "graphite,influxdb", PILLAR, grains={"init": "systemd"})
    running = states(ret, "service.running")
    assert set(running) == set(DAEMONS), running
    for sid, (name, watch) in DAEMONS.items():
        assert running[sid]["name"] == name and running[sid]["enable"] is True
        assert running[sid]["watch"] == watch, (sid, running[sid])
    unit = states(ret, "file.managed")["graphite-web-service-unit"]
    assert unit["name"] == "/etc/systemd/system/graphite-web.service"
    assert "GRAPHITE_SETTINGS_MODULE=local_settings" in unit["contents"]
    assert "start-daemon.sh" not in json.dumps(ret)
    assert not [sid for sid in ret if sid.endswith("-stop-on-change")]


def test_without_systemd_the_daemons_go_through_start_daemon_sh(tmp_path):
    # the machine these tests run on: no systemd as PID 1 (else nothing to compare)
    if salt.utils.systemd.booted():
        pytest.skip("systemd is PID 1 here")
    ret = show_sls(tmp_path, "graphite,influxdb", PILLAR)
    assert states(ret, "service.running") == {}
    scripts = states(ret, "cmd.script")
    assert set(scripts) == set(DAEMONS), scripts
    for sid in DAEMONS:
        assert scripts[sid]["source"] == "salt://vitals/files/start-daemon.sh"
        assert scripts[sid]["unless"].startswith("start-stop-daemon --status --pidfile /run/")
        stop = states(ret, "cmd.run")[f"{sid}-stop-on-change"]
        assert stop["name"].startswith("start-stop-daemon --stop")
    # carbon's own pid file, which it cannot delete (it drops root first), goes before a start
    carbon = scripts["graphite-carbon-service"]["args"].split()
    assert carbon[:3] == [
        "--stale",
        "/run/carbon-cache/carbon-cache-a.pid",
        "/run/carbon-cache/carbon-cache.pid",
    ]
    assert "--pidfile=/run/carbon-cache/carbon-cache-a.pid" in carbon
    assert not scripts["influxdb-service"]["args"].startswith("--stale")
    # the whisper resize waits for carbon to be stopped
    resize = states(ret, "cmd.run")["graphite-whisper-resize"]
    assert {"cmd": "graphite-carbon-service-stop-on-change"} in resize["require"]


def test_the_sls_and_salt_s_service_module_read_systemd_the_same_way(tmp_path):
    """The SLS decides on the ``init`` grain; Salt computes it with the check
    ``salt.utils.systemd.booted`` makes (/run/systemd/system), the one systemd_service's
    ``__virtual__`` uses. systemd_service also loads "offline" (systemctl installed, systemd
    not running), where service.running starts nothing: the SLS must not follow the provider."""
    code, grains = salt_call(tmp_path, {}, "grains.item", "init")
    assert code == 0
    assert (grains["init"] == "systemd") is salt.utils.systemd.booted()
    assert salt.utils.systemd.booted() is os.path.isdir("/run/systemd/system")


@pytest.mark.parametrize("onedir", [True, False], ids=["onedir", "not-onedir"])
def test_the_agent_uses_salt_pip_on_a_onedir_minion(tmp_path, onedir):
    root = tmp_path / "opt" / "saltstack" / "salt"
    (root / "bin").mkdir(parents=True)
    if onedir:
        (root / "salt-pip").write_text("#!/bin/sh\n")
    python = str(root / "bin" / "python3.10")
    pillar = {"vitals_agent": {"onedir_root": str(root)}}
    grains = {"pythonexecutable": python}
    ret = show_sls(tmp_path / "call", "vitals.agent", pillar, grains=grains)
    package = states(ret, "pip.installed")["vitals-agent-package"]
    assert package["bin_env"] == (str(root / "salt-pip") if onedir else python)
    assert package["pkgs"] == ["salt-vitals", "psutil"]


def test_a_python_outside_the_onedir_root_uses_its_own_pip(tmp_path):
    root = tmp_path / "opt" / "saltstack" / "salt"
    root.mkdir(parents=True)
    (root / "salt-pip").write_text("#!/bin/sh\n")
    pillar = {"vitals_agent": {"onedir_root": str(root)}}
    grains = {"pythonexecutable": "/usr/bin/python3"}
    ret = show_sls(tmp_path / "call", "vitals.agent", pillar, grains=grains)
    assert states(ret, "pip.installed")["vitals-agent-package"]["bin_env"] == "/usr/bin/python3"


def test_the_restart_commands_run_with_the_minion_s_own_salt_first_on_path(tmp_path):
    # with Salt in a venv, a systemd unit's PATH has no salt-call (tests/integration/systemd)
    grains = {"pythonexecutable": "/opt/salt-venv/bin/python3"}
    ret = show_sls(tmp_path, "vitals.agent,vitals.master", {}, grains=grains)
    restarts = states(ret, "cmd.run")
    for sid, daemon in (("vitals-agent-restart", "minion"), ("vitals-master-restart", "master")):
        assert restarts[sid]["name"] == f"salt-call --local service.restart salt-{daemon}"
        assert restarts[sid]["prepend_path"] == "/opt/salt-venv/bin", restarts[sid]
        assert restarts[sid]["bg"] is True


def test_a_bad_package_list_fails_the_render_naming_the_key(tmp_path):
    code, ret = salt_call(
        tmp_path, {"graphite": {"pkgs": "graphite-carbon"}}, "state.show_sls", "graphite"
    )
    assert code != 0
    assert "graphite:pkgs: expected a list of package names" in json.dumps(ret), ret


@pytest.mark.parametrize(
    ("sls", "pillar", "error"),
    [
        (
            "graphite",
            {"graphite": {"carbon": {"line_prot": 2003}}},
            "graphite:carbon:line_prot: unknown key (known: interface, line_port,",
        ),
        ("graphite", {"graphite": {"web": True}}, "graphite:web: expected a dict, got True"),
        (
            "influxdb",
            {"influxdb_server": {"retention": {"durration": "30d"}}},
            "influxdb_server:retention:durration: unknown key (known: duration, name,",
        ),
        (
            "influxdb",
            {"influxdb_server": {"users": {"salt": {"password": "pw-1", "grants": "WRITE"}}}},
            "influxdb_server:users:salt:grants: unknown key (known: grant, password)",
        ),
        (
            "grafana",
            {"vitals_grafana": {"graphite": "http://g:8080"}},
            "vitals_grafana:graphite: unknown key (known: dashboards_dir, folder,",
        ),
        (
            "vitals.agent",
            {"vitals_agent": {"returner": ["carbon"]}},
            "vitals_agent:returner: unknown key (known: bin_env, carbon,",
        ),
        (
            "vitals.master",
            {"vitals_master": {"schedule": 10}},
            "vitals_master:schedule: unknown key (known: conf_dir, pollpush,",
        ),
    ],
)
def test_an_unknown_pillar_key_fails_the_render_naming_its_path(tmp_path, sls, pillar, error):
    code, ret = salt_call(tmp_path, pillar, "state.show_sls", sls)
    assert code != 0
    assert error in json.dumps(ret), ret


def test_the_operator_s_influxdb_users_replace_the_default_ones(tmp_path):
    pillar = {"influxdb_server": {"users": {"writer": {"password": "pw-2", "grant": "WRITE"}}}}
    ret = show_sls(tmp_path, "influxdb", pillar)
    users = sorted(sid for sid in ret if sid.startswith("influxdb-user-"))
    assert users == ["influxdb-user-writer"]


# pillar roots whose dicts are the operator's own: their keys are passed on whole
OPEN_PILLAR = ("influxdb_server:users", "vitals_agent:carbon", "vitals_agent:influxdb")
OPEN_PILLAR += ("vitals_master:pollpush",)


def _pillar_paths(tree, prefix=""):
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in OPEN_PILLAR:
            yield from _pillar_paths(value, path + ":")
        else:
            yield path


@pytest.mark.parametrize("sls", ["graphite", "influxdb", "grafana", "vitals"])
def test_every_documented_pillar_key_is_read_by_its_sls(sls):
    """A key in defaults.yaml (and so in pillar.example) that no template reads is a promise
    the states do not keep."""
    files = [p for p in (SLS_ROOT / sls).rglob("*") if p.is_file() and p.name != "defaults.yaml"]
    text = "\n".join(p.read_text() for p in files)
    defaults = salt.utils.yaml.safe_load((SLS_ROOT / sls / "defaults.yaml").read_text())
    unread = [
        path for path in _pillar_paths(defaults) if "." + ".".join(path.split(":")[1:]) not in text
    ]
    assert unread == []

"""Every shipped example and the whole pillar on ONE host, as an operator deploys them: the host
is the salt-master, its minion, the Graphite host, the InfluxDB host and the Grafana host.

* the pillar is ``pillar.example`` as installed with the package, every ``CHANGE-ME`` filled
  and the addresses pointed at this session's daemons, assigned to ``'*'`` (one pillar for
  every role);
* every file under ``examples/`` is placed where its header says (``master.d``, ``minion.d``,
  the reactor directory), with only its placeholders (``*.example.com``, the default ports,
  ``/srv/reactor``, ``/var/log/salt``) replaced; a file with no place fails the test, and so does
  a placeholder this test does not know;
* ``vitals.agent`` and ``vitals.master`` are applied for real (they write ``minion.d`` /
  ``master.d`` files beside the examples'), ``grafana`` too (into a provisioning directory of
  the test's), and every SLS with ``test=True``;
* then ``vitals.current``, ``vitals.push``, ``vitals.pollpush``, the beacon (rules and push),
  the reactor, ``vitals.top`` and ``vitals.history`` run, and what they wrote is read back from
  carbon and InfluxDB.

A key that two readers share breaks one of them here: e.g. ``vitals:grafana`` in the pillar made
``vitals.current`` refuse to run, and a ``master.d`` file holding ``vitals:`` hid the read-back
settings.
"""

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import salt.utils.yaml

from salt_ext.runners import _sls_tree as sls_tree
from support.stack import files_holding_no_secret
from vitals_daemons.process import poll

CHECKOUT = Path(__file__).resolve().parents[3]
EXAMPLES = CHECKOUT / "examples"
SLS_ROOT = Path(sls_tree.sls_root())
HOST = "whole-host"
# each pillar root and the SLS that reads it (docs/configuration.md)
PILLAR_READERS = {
    "graphite": "graphite",
    "influxdb_server": "influxdb",
    "vitals_grafana": "grafana",
    "vitals_agent": "vitals.agent",
    "vitals_master": "vitals.master",
}
BEACON_INTERVAL = 10  # examples/minion.d/vitals-beacon.conf
SCHEDULE_SECONDS = 60  # the examples' schedules; the pillar's vitals_master gets the same


def _set(tree, path, value):
    *parents, leaf = path.split(":")
    for key in parents:
        tree = tree[key]
    assert leaf in tree, f"pillar.example has no {path}"
    tree[leaf] = value


def _fill_change_me(tree, path=""):
    """Every CHANGE-ME becomes a secret of its own; returns them."""
    secrets = []
    for key, value in tree.items():
        here = f"{path}:{key}" if path else key
        if isinstance(value, dict):
            secrets += _fill_change_me(value, here)
        elif value == "CHANGE-ME":
            tree[key] = "wh-" + here.replace(":", "-") + "-Zx9"
            secrets.append(tree[key])
    return secrets


@pytest.fixture(scope="module")
def host(tmp_path_factory, carbon, influxd, graphite_web):
    """Paths, the pillar and the placeholder replacements of the whole host."""
    if influxd is None:
        pytest.skip("influxd is not installed")
    root = tmp_path_factory.mktemp("whole-host")
    pillar = salt.utils.yaml.safe_load((SLS_ROOT / "pillar.example").read_text())
    assert set(pillar) == set(PILLAR_READERS), "a pillar root with no SLS applied here"
    secrets = _fill_change_me(pillar)
    grafana = root / "grafana"
    (grafana / "provisioning").mkdir(parents=True)
    for path, value in {
        # the Influx host is this session's influxd (its admin bootstraps nothing new)
        "influxdb_server:port": int(influxd.url.rsplit(":", 1)[1]),
        "influxdb_server:admin:user": influxd.admin_user,
        "influxdb_server:admin:password": influxd.admin_password,
        "vitals_grafana:provisioning_dir": str(grafana / "provisioning"),
        "vitals_grafana:dashboards_dir": str(grafana / "dashboards"),
        "vitals_grafana:graphite_url": graphite_web.url,
        "vitals_grafana:influxdb_url": influxd.url,
        "vitals_grafana:influxdb_user": "grafana",
        "vitals_agent:restart_command": f"touch {root / 'minion-restarted'}",
        "vitals_agent:carbon": {"host": "127.0.0.1", "port": carbon.line_port, "timeout": 2},
        "vitals_agent:influxdb": {"url": influxd.url, "timeout": 2},
        "vitals_master:schedule_seconds": SCHEDULE_SECONDS,
        "vitals_master:restart_command": f"touch {root / 'master-restarted'}",
    }.items():
        _set(pillar, path, value)
    users = pillar["influxdb_server"]["users"]
    _set(pillar, "vitals_grafana:influxdb_password", users["grafana"]["password"])
    secrets.append(influxd.admin_password)
    # the database and the minions' user, as `state.apply influxdb` makes them
    database = pillar["influxdb_server"]["database"]
    influxd.query(f'CREATE DATABASE "{database}"')
    influxd.create_user("salt", users["salt"]["password"])
    influxd.query(f'GRANT WRITE ON "{database}" TO "salt"')
    reactor = root / "reactor"
    reactor.mkdir()
    events = root / "vitals-events.log"
    events.touch()  # the reactor example says so
    replacements = {
        "http://graphite.example.com:8080": graphite_web.url,
        "graphite.example.com": "127.0.0.1",
        "port: 2003": f"port: {carbon.line_port}",
        "/srv/reactor/": f"{reactor}/",
        "/var/log/salt/vitals-events.log": str(events),
    }
    return {
        "root": root,
        "pillar": pillar,
        "secrets": secrets,
        "database": database,
        "reactor": reactor,
        "events": events,
        "grafana": grafana,
        "replacements": replacements,
    }


def _placed(text, replacements, source):
    for old, new in replacements.items():
        text = text.replace(old, new)
    for placeholder in ("example.com", "CHANGE-ME"):
        assert placeholder not in text, f"{source}: a placeholder this test cannot fill"
    return text


def place_examples(host, master_d, minion_d):
    """Every file of examples/ where it goes; {destination: source} of what was placed."""
    placed = {}
    for source in sorted(p for p in EXAMPLES.rglob("*") if p.is_file()):
        relative = source.relative_to(EXAMPLES)
        if source.suffix == ".conf" and relative.parent.name == "master.d":
            target = master_d / source.name
        elif source.suffix == ".conf" and relative.parent.name == "minion.d":
            target = minion_d / source.name
        elif source.suffix == ".sls" and relative.parent.name == "reactor":
            target = host["reactor"] / source.name
        else:
            raise AssertionError(f"examples/{relative}: no place for it on the whole host")
        assert target not in placed, f"examples/{relative} and {placed[target]} collide"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_placed(source.read_text(), host["replacements"], relative))
        placed[target] = relative
    return placed


@pytest.fixture(scope="module")
def whole_host(salt_factories, host):
    root = host["root"]
    pillar_root, file_root = root / "pillar", root / "srv-salt"
    pillar_root.mkdir()
    file_root.mkdir()
    overrides = {
        "pillar_roots": {"base": [str(pillar_root)]},
        "file_roots": {"base": [str(file_root)]},
        "keep_jobs_seconds": 3600,
    }
    master = salt_factories.salt_master_daemon(f"{HOST}-master", overrides=overrides)
    # loop_interval: Salt's default (salt-factories sets 0.05); Salt counts a beacon's
    # interval in loop_interval ticks of one second each, so 0.05 makes 10 s last 200 s
    minion = master.salt_minion_daemon(
        HOST, overrides={"log_level_logfile": "debug", "loop_interval": 1}
    )
    _set(host["pillar"], "vitals_master:conf_dir", str(master.config_dir))
    (pillar_root / "top.sls").write_text("base:\n  '*':\n    - vitals\n")
    (pillar_root / "vitals.sls").write_text(json.dumps(host["pillar"]))
    placed = place_examples(
        host, Path(master.config_dir) / "master.d", Path(minion.config_dir) / "minion.d"
    )
    started = []
    try:
        master.start()
        started.append(master)
        # the one documented step: the installed SLS tree into file_roots, then a restart
        done = master.salt_run_cli().run("vitals.file_root", "write=True")
        assert done.returncode == 0, done
        master.terminate()
        master.start()
        minion.start()
        started.append(minion)
        cli = master.salt_cli(timeout=300)
        for sls in ("vitals.agent", "vitals.master"):
            ret = cli.run("state.apply", sls, minion_tgt=HOST, _timeout=300)
            assert ret.returncode == 0 and isinstance(ret.data, dict), ret
            assert all(state["result"] for state in ret.data.values()), ret.data
        # the restart_command ran; these daemons are the test's, so the test restarts them
        assert (root / "minion-restarted").exists() and (root / "master-restarted").exists()
        minion.terminate()
        master.terminate()
        master.start()
        minion.start()
        yield {"master": master, "minion": minion, "cli": cli, "placed": placed}
    finally:
        for daemon in reversed(started):
            daemon.terminate()


def salt_run(master, *args):
    """``salt-run`` as the operator types it: (exit status, stdout, stderr)."""
    script = Path(sys.executable).parent / "salt-run"
    done = subprocess.run(
        [str(script), "-c", str(master.config_dir), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def run_json(master, *args):
    code, out, err = salt_run(master, *args, "--out=json")
    assert code == 0, out + err
    return json.loads(out)


def test_every_example_and_the_state_written_files_are_loaded_side_by_side(whole_host):
    master, minion = whole_host["master"], whole_host["minion"]
    master_d = sorted(p.name for p in (Path(master.config_dir) / "master.d").glob("*.conf"))
    minion_d = sorted(p.name for p in (Path(minion.config_dir) / "minion.d").glob("*.conf"))
    assert {"vitals-master.conf", "vitals-file-roots.conf"} <= set(master_d)
    assert "vitals-agent.conf" in minion_d
    # every top-level key of every placed file is in the running daemon's configuration
    for target, source in whole_host["placed"].items():
        if target.suffix != ".conf":
            continue
        keys = salt.utils.yaml.safe_load(target.read_text())
        for key in keys:
            if "master.d" in target.parts:
                value = run_json(master, "config.get", key)
            else:
                value = whole_host["cli"].run("config.get", key, minion_tgt=HOST).data
            assert value, f"{key} of examples/{source} is not in the running configuration"


def test_vitals_current_reads_its_options_beside_every_other_pillar_root(whole_host):
    ret = whole_host["cli"].run("vitals.current", minion_tgt=HOST)
    assert ret.returncode == 0, ret
    assert ret.data["mem"]["total"] > 0 and 0 <= ret.data["cpu"]["percent"] <= 100
    # examples/minion.d/vitals.conf leaves lo out
    assert "lo" not in ret.data.get("net", {})


def test_vitals_push_lands_in_carbon_and_influxdb(whole_host, carbon, influxd, host):
    ret = whole_host["cli"].run("vitals.push", "returners=carbon,influxdb", minion_tgt=HOST)
    assert ret.returncode == 0, ret
    receipt = ret.data
    assert receipt["carbon"] == "sent" and receipt["influxdb"] == "sent", receipt
    ts = int(receipt["ts"])
    stored = carbon.wait_for_points(f"vitals.{HOST}.mem.total", 1, timeout=30, from_ts=ts)
    q = f"SELECT last(total) FROM mem WHERE host = '{HOST}' AND time >= {ts}s"

    def influx_total():
        series = influxd.query(q, db=host["database"])["results"][0].get("series")
        return series[0]["values"][0][1] if series else None

    total = poll(influx_total, 30, "mem.total in InfluxDB")
    assert stored[-1][1] == total > 0


def test_pollpush_from_the_merged_master_d_reaches_the_backend(whole_host, carbon):
    master = whole_host["master"]
    since = int(time.time())
    published = run_json(master, "vitals.pollpush")
    assert published["jid"], published
    # examples/master.d/vitals.conf: returners carbon, merged over vitals-master.conf's
    assert published["published"]["kwarg"].get("returners", "carbon") == "carbon"
    points = carbon.wait_for_points(f"vitals.{HOST}.mem.total", 1, timeout=60, from_ts=since)
    assert points[-1][1] > 0


def test_vitals_top_and_history_read_back_what_was_written(whole_host, carbon):
    master = whole_host["master"]
    table = run_json(master, "vitals.top", f"tgt={HOST}", "window=5m")
    (row,) = table["nodes"]
    assert row["node"] == HOST and not row["stale"], row
    stored = carbon.fetch(f"vitals.{HOST}.mem.percent")
    assert row["mem"] == stored[-1][1], (row, stored[-3:])
    history = run_json(master, "vitals.history", "mem.percent", f"tgt={HOST}", "start=-10m")
    values = [v for v in history["series"][HOST] if v is not None]
    assert values and all(0 < v < 100 for v in values), history


def test_every_sls_in_test_mode_fails_nothing_while_the_beacon_pushes(whole_host, carbon, host):
    beacons = whole_host["cli"].run("beacons.list", "return_yaml=False", minion_tgt=HOST).data
    config = {k: v for item in beacons["vitals"] for k, v in item.items()}
    assert set(config) >= {"interval", "rules", "push"}, config
    # The SLS runs below write no metric: what lands meanwhile is the beacon's, but for the
    # schedules of the examples and vitals_master, every SCHEDULE_SECONDS, once each at most
    # per period of the window.
    since = time.monotonic()
    since_ts = int(time.time())
    cli = whole_host["cli"]
    for sls in PILLAR_READERS.values():
        ret = cli.run("state.apply", sls, "test=True", minion_tgt=HOST, _timeout=300)
        assert isinstance(ret.data, dict), ret
        failed = {sid: s["comment"] for sid, s in ret.data.items() if s["result"] is False}
        assert not failed, (sls, failed)
    ret = cli.run("state.apply", "grafana", minion_tgt=HOST, _timeout=300)
    assert all(state["result"] for state in ret.data.values()), ret.data
    sources = host["grafana"] / "provisioning" / "datasources" / "salt-vitals.yaml"
    data = salt.utils.yaml.safe_load(sources.read_text())
    assert {d["url"] for d in data["datasources"]} == {
        host["pillar"]["vitals_grafana"]["graphite_url"],
        host["pillar"]["vitals_grafana"]["influxdb_url"],
    }
    # a second apply of the agent and the master changes nothing
    for sls in ("vitals.agent", "vitals.master"):
        ret = cli.run("state.apply", sls, minion_tgt=HOST, _timeout=300)
        assert not [s for s in ret.data.values() if s["changes"]], (sls, ret.data)
    # at least four beacon intervals in the window
    time.sleep(max(0.0, 4 * BEACON_INTERVAL + 5 - (time.monotonic() - since)))
    window = time.monotonic() - since
    stamps = {ts for ts, _v in carbon.fetch(f"vitals.{HOST}.mem.total", from_ts=since_ts)}
    jobs_at_most = 2 * (int(window) // SCHEDULE_SECONDS + 1)
    beacon_at_least = int(window) // BEACON_INTERVAL - 1
    assert beacon_at_least > jobs_at_most, "the window cannot tell the beacon from the jobs"
    assert len(stamps) > jobs_at_most, (window, sorted(stamps))


def test_the_beacon_s_rules_reach_the_reactor_of_the_examples(whole_host, host):
    event = {
        "id": HOST,
        "rule": "hot",
        "state": "tripped",
        "at": time.time(),
        "key": "temp.cpu_thermal.celsius",
        "value": 82.5,
        "severity": "critical",
    }
    tag = f"salt/beacon/{HOST}/vitals/hot/tripped"
    code, out, err = salt_run(whole_host["master"], "event.send", tag, f"data={json.dumps(event)}")
    assert code == 0, out + err
    line = poll(lambda: host["events"].read_text().strip(), 60, "the reactor's log line")
    assert line.endswith(f"{HOST} hot tripped temp.cpu_thermal.celsius=82.5 (critical)"), line


def test_no_secret_of_the_pillar_in_logs_or_job_returns(whole_host, host):
    master, minion = whole_host["master"], whole_host["minion"]
    roots = [
        Path(master.config["log_file"]).parent,
        Path(minion.config["log_file"]).parent,
        Path(master.config["cachedir"]) / "jobs",
    ]
    assert files_holding_no_secret(roots, host["secrets"]) > 3


def test_the_pillar_is_not_changed_by_the_test_beyond_its_placeholders(host):
    """The pillar given to the host is pillar.example, only filled in: same keys everywhere."""
    example = salt.utils.yaml.safe_load((SLS_ROOT / "pillar.example").read_text())

    def keys(tree, prefix=""):
        out = set()
        for key, value in tree.items():
            path = f"{prefix}{key}"
            out.add(path)
            if isinstance(value, dict) and path not in OPEN:
                out |= keys(value, path + ":")
        return out

    OPEN = {"vitals_agent:carbon", "vitals_agent:influxdb"}
    assert keys(copy.deepcopy(host["pillar"])) == keys(example)

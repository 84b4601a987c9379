"""The bundled states applied for real by a real salt-minion on this machine (root, Debian):
``graphite`` (carbon-cache + graphite-web under gunicorn) and ``influxdb`` from Debian's
packages, then ``vitals.agent`` and ``vitals.master`` through a test master whose file_roots
come from ``salt-run vitals.file_root write=True``. The master schedule then feeds the daemons
the states started, and the data is queried back from them.

The daemons listen on their default ports (2003, 2004, 8080, 8086); the module stops them at
its end and drops the InfluxDB objects it created (the Debian packages stay installed).
Wall times and change counts of each apply are printed (run with ``-s`` to see them).
"""

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from salt_ext.runners import _sls_tree as sls_tree
from support.stack import files_holding_no_secret
from vitals_daemons.process import poll

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("apt-get") is None or shutil.which("dpkg") is None,
    reason="applies Debian packages and services for real: needs root on Debian",
)

MINION = "states-minion"
ADMIN_PASSWORD = "adm-Qv8-never-shown"
SALT_PASSWORD = "wr-Lp3-never-shown"
GRAFANA_PASSWORD = "rd-Hx5-never-shown"
SECRETS = (ADMIN_PASSWORD, SALT_PASSWORD, GRAFANA_PASSWORD)
INFLUX = "http://127.0.0.1:8086"
RENDER = "http://127.0.0.1:8080/render"
PIDFILES = (
    "/run/influxdb/influxd.pid",
    "/run/graphite-web/gunicorn.pid",
    "/run/carbon-cache/carbon-cache.pid",
)
TIMINGS = {}


def _pillar(tmp, master_conf_dir):
    return {
        "graphite": {
            "carbon": {"max_creates_per_minute": "inf"},
            "retentions": "5s:1d,1m:30d",
            "web": {"enabled": True, "secret_key": "states-test-secret-key"},
        },
        "influxdb_server": {
            "admin": {"user": "admin", "password": ADMIN_PASSWORD},
            "users": {
                "salt": {"password": SALT_PASSWORD, "grant": "WRITE"},
                "grafana": {"password": GRAFANA_PASSWORD, "grant": "READ"},
            },
        },
        "vitals_agent": {
            "wheels": "salt://vitals-wheels",
            "restart_command": f"touch {tmp / 'minion-restarted'}",
            "carbon": {"host": "127.0.0.1", "port": 2003, "timeout": 2},
            "influxdb": {"url": INFLUX, "timeout": 2},
        },
        "vitals_master": {
            "conf_dir": str(master_conf_dir),
            "schedule_seconds": 5,
            "pollpush": {"tgt": MINION, "returners": "carbon,influxdb"},
            "restart_command": f"touch {tmp / 'master-restarted'}",
        },
    }


def _stop_daemons():
    for pidfile in PIDFILES:
        subprocess.run(
            ["start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "15"]
            + ["--pidfile", pidfile, "--remove-pidfile"],
            capture_output=True,
            check=False,
        )


def _influx(query, auth=None, path="/query", data=None, params=None):
    """(status, parsed JSON or text) of one request to the InfluxDB the states set up."""
    url = INFLUX + path + "?" + urllib.parse.urlencode(params or {})
    body = data if data is not None else urllib.parse.urlencode({"q": query}).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    if auth:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw = answer.read().decode()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError as exc:  # not running
        return 0, str(exc)


def _cleanup_influx():
    """Drop what the states created, leaving InfluxDB as a fresh install (no users)."""
    admin = ("admin", ADMIN_PASSWORD)
    _influx("DROP DATABASE salt", auth=admin)
    for user in ("grafana", "salt", "admin"):
        _influx(f'DROP USER "{user}"', auth=admin)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("states")


@pytest.fixture(scope="module")
def master(salt_factories, workdir):
    files, pillar = workdir / "files", workdir / "pillar"
    (files / "vitals-wheels").mkdir(parents=True)
    pillar.mkdir()
    dist = os.environ.get("VITALS_DIST")
    wheels = sorted(Path(dist).glob("salt_vitals-*.whl")) if dist else []
    if not wheels:
        pytest.skip("no built wheel (run through scripts/test.sh)")
    shutil.copy(wheels[0], files / "vitals-wheels")
    overrides = {"file_roots": {"base": [str(files)]}, "pillar_roots": {"base": [str(pillar)]}}
    factory = salt_factories.salt_master_daemon("states-master", overrides=overrides)
    (pillar / "top.sls").write_text("base:\n  '*': [vitals]\n")
    (pillar / "vitals.sls").write_text(json.dumps(_pillar(workdir, factory.config_dir)))
    _cleanup_influx()
    _stop_daemons()
    with factory.started():
        # the one documented step: the installed SLS tree into file_roots
        written = factory.salt_run_cli().run("vitals.file_root", "write=True")
        assert written.returncode == 0, written
        factory.terminate()
        factory.start()
        try:
            yield factory
        finally:
            _cleanup_influx()
            _stop_daemons()


@pytest.fixture(scope="module")
def minion(master):
    factory = master.salt_minion_daemon(MINION, overrides={"log_level_logfile": "debug"})
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def salt_cli(master, minion):
    return master.salt_cli(timeout=900)


def _apply(salt_cli, sls, *args, label=None):
    started = time.monotonic()
    ret = salt_cli.run("state.apply", sls, *args, minion_tgt=MINION, _timeout=900)
    elapsed = time.monotonic() - started
    assert isinstance(ret.data, dict), ret
    failed = {  # a script's own words are in its changes
        k: [v["comment"], v["changes"].get("stderr")] if v["changes"] else v["comment"]
        for k, v in ret.data.items()
        if v["result"] is False
    }
    assert not failed, failed
    changed = sorted(v["__id__"] for v in ret.data.values() if v["changes"])
    if label:
        TIMINGS[label] = (round(elapsed, 1), len(changed))
        print(f"\n{label}: {elapsed:.1f} s, {len(changed)} state(s) changed: {changed}")
    return ret, changed


@pytest.fixture(scope="module")
def backends(salt_cli):
    """graphite + influxdb applied once; the first apply's return."""
    ret, changed = _apply(salt_cli, "graphite,influxdb", label="first apply graphite,influxdb")
    return ret, changed


def test_file_root_without_write_names_the_installed_tree_and_writes_nothing(master):
    conf_dir = Path(master.config_dir)

    def conf_files():
        return {p: p.read_bytes() for p in conf_dir.rglob("*") if p.is_file()}

    before = conf_files()
    ret = master.salt_run_cli().run("vitals.file_root")
    assert ret.returncode == 0, ret
    root = Path(ret.stdout.strip())  # a plain string: not JSON data for the factories
    assert str(root) == sls_tree.sls_root() and "site-packages" in root.parts, root
    for sls in ("graphite/init.sls", "influxdb/init.sls", "vitals/agent.sls", "pillar.example"):
        assert (root / sls).is_file(), sls
    assert conf_files() == before


def test_first_apply_starts_the_backends(backends):
    ret, changed = backends
    assert "influxdb-admin" in changed  # bootstrapped on a fresh InfluxDB
    # no systemd here: the daemons went through start-daemon.sh, not service.running
    daemons = {v["__id__"]: key for key, v in ret.data.items() if v["__id__"].endswith("-service")}
    assert set(daemons) == {"graphite-carbon-service", "graphite-web-service", "influxdb-service"}
    assert all(key.startswith("cmd_|-") and key.endswith("_|-script") for key in daemons.values())
    assert "influxdb-user-salt" in changed and "influxdb-grant-grafana" in changed
    status, body = _influx("SHOW DATABASES")
    assert status == 401, (status, body)  # auth-enabled = true
    status, body = _influx("SHOW RETENTION POLICIES ON salt", auth=("admin", ADMIN_PASSWORD))
    rows = body["results"][0]["series"][0]["values"]
    # the raw tier and the downsampling tiers of the SLS's defaults, each fed by its query
    assert [row[:2] for row in rows if row[0].startswith("vitals")] == [
        ["vitals", "168h0m0s"],
        ["vitals_1m", "720h0m0s"],
        ["vitals_10m", "8760h0m0s"],
    ], rows
    status, body = _influx("SHOW CONTINUOUS QUERIES", auth=("admin", ADMIN_PASSWORD))
    (queries,) = [s for s in body["results"][0]["series"] if s["name"] == "salt"]
    assert sorted(row[0] for row in queries["values"]) == ["vitals_10m", "vitals_1m"]
    status, body = _influx("SHOW GRANTS FOR grafana", auth=("admin", ADMIN_PASSWORD))
    assert body["results"][0]["series"][0]["values"] == [["salt", "READ"]]
    text = json.dumps(ret.data)
    assert not any(secret in text for secret in SECRETS)


def test_second_apply_changes_nothing(salt_cli, backends):
    _ret, changed = _apply(salt_cli, "graphite,influxdb", label="second apply graphite,influxdb")
    assert changed == []


def test_test_mode_after_a_pillar_change_reports_and_changes_nothing(salt_cli, backends):
    carbon_conf = Path("/etc/carbon/carbon.conf").read_text()
    change = {
        "graphite": {"carbon": {"max_creates_per_minute": 700}},
        "influxdb_server": {
            "retention": {"duration": "30d"},
            "downsample": [{"name": "vitals_1m", "every": "2m", "duration": "30d"}],
            "users": {"grafana": {"password": "rd-new-never-shown", "grant": "WRITE"}},
        },
    }
    ret, changed = _apply(
        salt_cli, "graphite,influxdb", f"pillar={json.dumps(change)}", "test=True"
    )
    assert {
        "graphite-carbon-conf",
        "influxdb-retention-policy",
        "influxdb-tier-vitals_1m-query",
        "influxdb-downsample-pruned",
        "influxdb-user-grafana",
        "influxdb-grant-grafana",
    } <= set(changed), changed
    by_id = {v["__id__"]: v for v in ret.data.values()}
    assert by_id["influxdb-retention-policy"]["changes"] == {
        "old": {"duration": "168h0m0s"},
        "new": {"duration": "720h0m0s"},
    }
    assert by_id["influxdb-downsample-pruned"]["changes"]["old"] == {
        "continuous_queries": ["vitals_10m"]
    }
    assert by_id["influxdb-user-grafana"]["changes"]["new"] == {"password": "changed"}
    assert "rd-new-never-shown" not in json.dumps(ret.data)
    # nothing changed
    assert Path("/etc/carbon/carbon.conf").read_text() == carbon_conf
    admin = ("admin", ADMIN_PASSWORD)
    rows = _influx("SHOW RETENTION POLICIES ON salt", auth=admin)[1]["results"][0]["series"]
    assert ["vitals", "168h0m0s"] in [row[:2] for row in rows[0]["values"]]
    shown = _influx("SHOW CONTINUOUS QUERIES", auth=admin)[1]["results"][0]["series"]
    (queries,) = [s["values"] for s in shown if s["name"] == "salt"]
    assert sorted(row[0] for row in queries) == ["vitals_10m", "vitals_1m"]
    assert "GROUP BY time(1m)" in dict(queries)["vitals_1m"]
    assert _influx("SHOW DATABASES", auth=("grafana", GRAFANA_PASSWORD))[0] == 200


def test_a_bad_pillar_value_fails_naming_the_key(salt_cli, backends):
    bad = {"graphite": {"carbon": {"line_port": "twenty"}}}
    ret = salt_cli.run(
        "state.apply", "graphite", f"pillar={json.dumps(bad)}", minion_tgt=MINION, _timeout=300
    )
    assert ret.returncode != 0
    assert "graphite:carbon:line_port: expected a port number" in str(ret.data), ret.data


def test_a_port_in_use_fails_with_that_message(salt_cli, backends):
    taken = {"graphite": {"carbon": {"line_port": 8080}}}  # graphite-web's
    ret = salt_cli.run(
        "state.apply", "graphite", f"pillar={json.dumps(taken)}", minion_tgt=MINION, _timeout=300
    )
    by_id = {v["__id__"]: v for v in ret.data.values()}
    carbon = by_id["graphite-carbon-service"]
    assert carbon["result"] is False
    assert "Address already in use" in carbon["changes"]["stderr"], carbon
    _ret, changed = _apply(salt_cli, "graphite")  # back to the pillar's ports
    assert "graphite-carbon-service" in changed


def test_a_package_that_cannot_be_installed_fails_with_apts_message(salt_cli, backends):
    carbon_conf = Path("/etc/carbon/carbon.conf").read_text()
    carbon_pid = Path("/run/carbon-cache/carbon-cache.pid").read_text()
    # and a config change, which would restart carbon if anything after the package ran
    broken = {"graphite": {"pkgs": ["vitals-no-such-package"], "carbon": {"line_port": 2013}}}
    ret = salt_cli.run(
        "state.apply", "graphite", f"pillar={json.dumps(broken)}", minion_tgt=MINION, _timeout=300
    )
    assert ret.returncode != 0
    by_id = {v["__id__"]: v for v in ret.data.values()}
    package = by_id["graphite-carbon-packages"]
    assert package["result"] is False
    assert "Unable to locate package vitals-no-such-package" in package["comment"], package
    after = ("graphite-carbon-enabled", "graphite-carbon-conf", "graphite-storage-schemas")
    for sid in (*after, "graphite-carbon-service"):
        assert by_id[sid]["result"] is False, by_id[sid]
        assert by_id[sid]["comment"].startswith("One or more requisite failed"), by_id[sid]
    for sid in ("graphite-carbon-service-stop-on-change", "graphite-whisper-resize"):
        assert by_id[sid]["__state_ran__"] is False, by_id[sid]  # their onchanges never ran
    assert {sid: v["changes"] for sid, v in by_id.items() if v["changes"]} == {}
    assert Path("/etc/carbon/carbon.conf").read_text() == carbon_conf
    assert Path("/run/carbon-cache/carbon-cache.pid").read_text() == carbon_pid


def test_a_minion_without_credentials_cannot_write(backends):
    line = b"intruder,host=x value=1 1"
    status, body = _influx(None, path="/write", data=line, params={"db": "salt"})
    assert status == 401, (status, body)
    reader = ("grafana", GRAFANA_PASSWORD)
    status, body = _influx(None, auth=reader, path="/write", data=line, params={"db": "salt"})
    assert status == 403, (status, body)


@pytest.fixture(scope="module")
def agent_and_master(salt_cli, master, minion, backends, workdir):
    ret, changed = _apply(salt_cli, "vitals.agent,vitals.master", label="first apply agent,master")
    # restart_command ran (a service restart in production); here the test restarts the
    # factories' daemons, which are no system services
    assert (workdir / "minion-restarted").exists() and (workdir / "master-restarted").exists()
    conf = Path(minion.config_dir) / "minion.d" / "vitals-agent.conf"
    assert oct(conf.stat().st_mode & 0o777) == "0o600"
    minion.terminate()
    master.terminate()
    master.start()
    minion.start()
    return ret, changed


def test_agent_and_master_second_apply_changes_nothing(salt_cli, agent_and_master, workdir):
    for marker in ("minion-restarted", "master-restarted"):
        (workdir / marker).unlink()
    _ret, changed = _apply(
        salt_cli, "vitals.agent,vitals.master", label="second apply agent,master"
    )
    assert changed == []
    assert not (workdir / "minion-restarted").exists()  # no restart without a change


def test_the_schedule_feeds_the_daemons_the_states_started(agent_and_master):
    since = int(time.time())
    metric = f"vitals.{MINION}.mem.total"

    def rendered():
        query = urllib.parse.urlencode({"target": metric, "format": "json", "from": "-5min"})
        with urllib.request.urlopen(f"{RENDER}?{query}", timeout=10) as answer:
            series = json.loads(answer.read())
        points = [v for v, ts in (series[0]["datapoints"] if series else []) if v and ts >= since]
        return points or None

    points = poll(rendered, 90, f"{metric} from graphite-web's render API")
    assert points[-1] > 0
    reader = ("grafana", GRAFANA_PASSWORD)

    def stored():
        q = f"SELECT last(total) FROM mem WHERE host = '{MINION}' AND time >= {since}s"
        status, body = _influx(q, auth=reader, params={"db": "salt"})
        series = body["results"][0].get("series") if status == 200 else None
        return series[0]["values"][0][1] if series else None

    total = poll(stored, 90, "mem.total in InfluxDB")
    assert total > 0
    assert abs(total - points[-1]) <= 0.01 * total  # the same minion, the same memory
    print(f"\nstate runs (wall s, states changed): {TIMINGS}")


def test_a_retention_change_resizes_existing_whisper_files(salt_cli, agent_and_master):
    wsp = Path(f"/var/lib/graphite/whisper/vitals/{MINION}/mem/total.wsp")
    assert wsp.exists()

    def archives():
        info = subprocess.run(
            ["whisper-info", str(wsp)], check=True, capture_output=True, text=True
        )
        return [line.split()[-1] for line in info.stdout.splitlines() if "retention:" in line]

    assert archives() == ["86400", "2592000"]  # 5s:1d,1m:30d
    longer = {"graphite": {"retentions": "5s:2d,1m:30d"}}
    _ret, changed = _apply(salt_cli, "graphite", f"pillar={json.dumps(longer)}")
    assert "graphite-whisper-resize" in changed
    assert archives() == ["172800", "2592000"]
    _apply(salt_cli, "graphite")  # back to the pillar's schema
    assert archives() == ["86400", "2592000"]


def test_no_password_in_logs_or_the_job_cache(master, minion, agent_and_master):
    roots = [
        Path(minion.config["log_file"]).parent,
        Path(master.config["log_file"]).parent,
        Path(master.config["cachedir"]) / "jobs",
        Path("/var/log/influxdb"),
        Path("/var/log/graphite"),
        Path("/var/log/carbon"),
    ]
    assert files_holding_no_secret(roots, SECRETS) > 3

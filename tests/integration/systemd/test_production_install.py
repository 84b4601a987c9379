"""The README's **Production install**, followed literally on a host where systemd is PID 1.

A throw-away container (``support.systemd_container``) boots this machine's own root with real
systemd; in it, as an operator would:

* Salt in a venv, run by ``salt-master`` / ``salt-minion`` systemd units written here (Debian 12
  does not package Salt). The venv is the checkout's ``.venv``, which ``scripts/test.sh`` made
  with ``pip install`` of the built wheel: the container sees it at the same path, and whatever
  Salt writes there lands in the container's memory layer, not in the checkout;
* ``salt-run vitals.file_root write=True`` and a master restart;
* one pillar for every role, made from the installed ``pillar.example`` with its ``CHANGE-ME``
  values filled (and the schedule and whisper retentions set for a short test);
* ``state.apply`` of ``graphite`` (with graphite-web), ``influxdb``, ``vitals.agent``,
  ``vitals.master`` and ``grafana``, every state True, the agent's and master's restart commands
  (the defaults) restarting the daemons through systemd;
* the daemons are systemd units, the master schedule's cycles land every point in carbon and
  InfluxDB, ``vitals.top`` shows the node, a second apply changes nothing, and a minion restart
  plus InfluxDB stopped for two cycles loses no point.

Run with ``-s`` to see the time of each step.
"""

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import salt.payload
import yaml

from salt_ext.runners import _sls_tree as sls_tree
from support import systemd_container
from support.systemd_container import ContainerError, SystemdContainer
from vitals_daemons.process import poll
from vitals_daemons.whisper_files import read_tree

pytestmark = pytest.mark.integration

VENV_BIN = Path(sys.executable).parent
MINION = "vitals-host"
# enabled on this host, in the way in the container: carbon-c-relay wants carbon-cache's port
# 2003; the others belong to no role of this host and only cost boot time and memory
IN_THE_WAY = ("carbon-c-relay", "victoria-metrics", "postgresql")
# what the states install: cached on this host first, since the container has no network
PACKAGES = ("graphite-carbon", "python3-whisper", "graphite-web", "gunicorn", "influxdb")
ADMIN_PASSWORD = "adm-Tz4-systemd"
SALT_PASSWORD = "wr-Mb8-systemd"
GRAFANA_PASSWORD = "rd-Kc2-systemd"
CYCLE = 5  # vitals_master:schedule_seconds
# the pillar.example values an operator sets (key path: value)
PILLAR = {
    "graphite:web:enabled": True,
    "graphite:web:secret_key": "systemd-test-secret-key",
    # 1 s slots: every cycle's collection second gets its own point, so points can be counted
    "graphite:retentions": "1s:1h,1m:1d",
    "influxdb_server:admin:password": ADMIN_PASSWORD,
    "influxdb_server:users:salt:password": SALT_PASSWORD,
    "influxdb_server:users:grafana:password": GRAFANA_PASSWORD,
    "vitals_master:schedule_seconds": CYCLE,
}
# Read-back settings where the README puts them, in the main master file: vitals_query: is a key
# of its own, so the master.d/vitals-master.conf that vitals.master writes cannot shadow it (a
# shared vitals: key was replaced whole, Salt merging master.d over the main file key by key).
QUERY_CONF = "/etc/salt/master"
QUERY = {"vitals_query": {"backend": "graphite", "url": "http://127.0.0.1:8080"}}
SLS = ("graphite", "influxdb", "vitals.agent", "vitals.master", "grafana")
UNIT = """\
[Unit]
Description=The Salt {what} (Salt in a venv)
After=network.target{after}

[Service]
Type=notify
NotifyAccess=all
{service}ExecStart={venv}/salt-{what_lower}

[Install]
WantedBy=multi-user.target
"""
TIMINGS = {}


def _unit(what, after="", service=""):
    return UNIT.format(
        what=what, what_lower=what.lower(), after=after, service=service, venv=VENV_BIN
    )


# Salt's own units (salt/pkg/common/*.service) with the venv's executables
UNITS = {
    "salt-master": _unit("Master", service="LimitNOFILE=100000\n"),
    # KillMode=process: a restart leaves the job that asked for it alone
    "salt-minion": _unit(
        "Minion", after=" salt-master.service", service="KillMode=process\nLimitNOFILE=8192\n"
    ),
}


class Timer:
    def __init__(self, label):
        self.label = label

    def __enter__(self):
        self.started = time.monotonic()

    def __exit__(self, *exc):
        TIMINGS[self.label] = round(time.monotonic() - self.started, 1)


# -- the operator's commands -------------------------------------------------------------------


def _salt(box, *args, timeout=600):
    """``salt MINION <args>``: the minion's return (parsed JSON) and the exit status."""
    done = box.run(
        [f"{VENV_BIN}/salt", "--out=json", "--static", f"--timeout={timeout}", MINION, *args],
        check=False,
        timeout=timeout + 30,
    )
    try:
        return json.loads(done.stdout)[MINION], done.returncode
    except (ValueError, KeyError):
        output = f"{done.returncode}\n{done.stdout}\n{done.stderr}"
        raise ContainerError(f"salt {args}: {output}") from None


def _salt_run(box, *args, check=True):
    done = box.run([f"{VENV_BIN}/salt-run", "--out=json", *args], check=check, timeout=120)
    return json.loads(done.stdout) if done.stdout.strip() else None, done


def _apply(box, sls, label=None):
    """``salt MINION state.apply <sls>``: every state True; the ids of the changed ones."""
    started = time.monotonic()
    states, status = _salt(box, "state.apply", sls)
    assert isinstance(states, dict), states
    failed = {v["__id__"]: v["comment"] for v in states.values() if v["result"] is not True}
    assert not failed and status == 0, failed
    changed = sorted(v["__id__"] for v in states.values() if v["changes"])
    if label:
        TIMINGS[label] = round(time.monotonic() - started, 1)
    return states, changed


def _main_pid(box, unit):
    done = box.run(["systemctl", "show", "--property=MainPID", "--value", unit])
    return int(done.stdout.strip() or 0)


def _wait_restarted(box, unit, old_pid, why, timeout=60):
    """Wait until ``unit`` runs with a new main PID (it was restarted); the new PID."""
    try:
        return poll(lambda: (_main_pid(box, unit) or old_pid) != old_pid, timeout, why)
    except TimeoutError:
        log = box.run(["journalctl", "--no-pager", "-n", "30", "-u", unit], check=False).stdout
        raise AssertionError(f"{unit} was not restarted ({why}):\n{log}") from None


def _wait_minion(box, timeout=90):
    def answers():
        try:
            ret, status = _salt(box, "test.ping", timeout=3)
        except ContainerError:  # "No return received"
            return False
        return ret is True and status == 0

    poll(answers, timeout, f"{MINION} answering test.ping", interval=1)


def _set(tree, path, value):
    """``tree[a][b][c] = value`` for ``path`` ``a:b:c``, which must exist: a key renamed or
    dropped from pillar.example fails here, not later as a silently ignored setting."""
    *parents, leaf = path.split(":")
    for key in parents:
        assert isinstance(tree.get(key), dict), f"{path}: no {key} in pillar.example"
        tree = tree[key]
    assert leaf in tree, f"{path}: no {leaf} in pillar.example"
    tree[leaf] = value


def operator_pillar():
    """pillar.example as installed with the package, with :data:`PILLAR` set."""
    example = Path(sls_tree.sls_root()) / "pillar.example"
    pillar = yaml.safe_load(example.read_text())
    for path, value in PILLAR.items():
        _set(pillar, path, value)
    left = [line for line in yaml.safe_dump(pillar).splitlines() if "CHANGE-ME" in line]
    assert not left, f"CHANGE-ME values this test does not fill: {left}"
    return pillar


# -- the host's backends, read back ----------------------------------------------------------


def _receipts(box, since):
    """``{collection ts: receipt}`` of MINION's vitals.push jobs with ts >= since, read from
    the master's job cache (only receipts are there: the points went to the backends)."""
    found = {}
    for load in box.path("/var/cache/salt/master/jobs").glob("*/*/.load.p"):
        try:
            with load.open("rb") as handle:
                if salt.payload.load(handle).get("fun") != "vitals.push":
                    continue
            with (load.parent / MINION / "return.p").open("rb") as handle:
                receipt = salt.payload.load(handle)["return"]
        except (OSError, ValueError, KeyError, TypeError):  # not there (yet)
            continue
        if isinstance(receipt, dict) and receipt.get("ts", 0) >= since:
            found[receipt["ts"]] = receipt
    return found


def _carbon_points(box, start, end):
    """``{ts: number of metrics with a point at ts}`` in MINION's whisper files."""
    counts = {}
    tree = read_tree(box.path(f"/var/lib/graphite/whisper/vitals/{MINION}"), start, end)
    for points in tree.values():
        for ts, _ in points:
            counts[ts] = counts.get(ts, 0) + 1
    return counts


def _influx(box, query, user="admin", password=ADMIN_PASSWORD):
    done = box.run(
        ["curl", "-sS", "-G", "-u", f"{user}:{password}", "http://127.0.0.1:8086/query"]
        + ["--data-urlencode", "db=salt", "--data-urlencode", "epoch=s"]
        + ["--data-urlencode", f"q={query}"]
    )
    return json.loads(done.stdout)


def _influx_up(box):
    ping = ["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:8086/ping"]
    return box.run(ping, check=False).returncode == 0


def _influx_points(box, start, end):
    """``{ts: number of field values at ts}`` of MINION in InfluxDB (one per point)."""
    body = _influx(
        box,
        f"SELECT count(*) FROM /.*/ WHERE host = '{MINION}' AND time >= {start}s "
        f"AND time <= {end}s GROUP BY time(1s) fill(none)",
    )
    counts = {}
    for series in body["results"][0].get("series", []):
        for ts, *values in series["values"]:
            counts[ts] = counts.get(ts, 0) + sum(v for v in values if v)
    return counts


def _lost(receipts, stored):
    """{ts: (expected, stored)} for each receipt whose points are not all stored."""
    return {
        ts: (r["points"], stored.get(ts, 0))
        for ts, r in receipts.items()
        if stored.get(ts, 0) != r["points"]
    }


def _wait_all_landed(box, receipts, timeout=60):
    """Wait until every point of ``receipts`` is in carbon and in InfluxDB."""
    start, end = min(receipts), max(receipts)
    lost = {}

    def landed():
        lost["carbon"] = _lost(receipts, _carbon_points(box, start, end))
        lost["influxdb"] = _lost(receipts, _influx_points(box, start, end))
        return not lost["carbon"] and not lost["influxdb"]

    try:
        poll(landed, timeout, "every point in both backends", interval=1)
    except TimeoutError:
        raise AssertionError(f"points missing (ts: expected, stored): {lost}") from None


def _wait_receipts(box, since, count, timeout, what):
    return poll(
        lambda: (found := _receipts(box, since)) and len(found) >= count and found,
        timeout,
        what,
        interval=0.5,
    )


# -- the host ----------------------------------------------------------------------------------


def _cache_packages():
    """The .debs of the states' Debian packages in this host's apt cache (downloaded when
    missing): the container, which has no network, installs them from there."""
    if shutil.which("apt-get") is None:
        pytest.skip("the states install Debian packages: needs apt-get")
    command = ["apt-get", "install", "--download-only", "--reinstall", "-y", "-qq", *PACKAGES]
    for _attempt in range(10):  # another apt-get may hold the cache's lock for a while
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return
        if "lock" not in done.stderr:
            break
        time.sleep(6)
    pytest.fail(f"{' '.join(command)}: {done.stderr}")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    systemd_container.require()
    _cache_packages()
    started = time.monotonic()
    with SystemdContainer(tmp_path_factory.mktemp("systemd") / "box", mask=IN_THE_WAY) as box:
        TIMINGS["boot"] = round(box.boot_seconds, 1)
        try:
            yield box
        finally:
            TIMINGS["memory MiB"] = round(box.memory_mib())
            TIMINGS["layer"] = round(time.monotonic() - started, 1)
            print(f"\nsystemd layer, seconds per step: {TIMINGS}")


@pytest.fixture(scope="module")
def salt_host(box):
    """Salt's master and minion as systemd units, the minion's key accepted."""
    with Timer("salt units"):
        # a fresh host: none of the packages the states install, no data of the daemons
        box.run(
            f"apt-get purge -y -qq {' '.join(PACKAGES)} >/dev/null"
            " && rm -rf /var/lib/influxdb /var/lib/graphite /etc/carbon /etc/graphite",
            env={"DEBIAN_FRONTEND": "noninteractive"},
        )
        for name, unit in UNITS.items():
            box.path(f"/etc/systemd/system/{name}.service").write_text(unit)
        box.path("/etc/salt").mkdir()
        # acceptance_wait_time (10 s by default): how soon the minion retries a master that
        # did not answer (its key not yet accepted, the master restarting); the test's time only
        box.path("/etc/salt/minion").write_text(
            f"master: 127.0.0.1\nid: {MINION}\nacceptance_wait_time: 2\n"
        )
        box.path("/etc/salt/master.d").mkdir()
        box.path(QUERY_CONF).write_text(yaml.safe_dump(QUERY))
        box.run("systemctl daemon-reload && systemctl enable --now salt-master salt-minion")
        poll(
            lambda: MINION in box.run([f"{VENV_BIN}/salt-key", "-l", "pre"]).stdout,
            60,
            "the minion's key",
            interval=0.5,
        )
        box.run([f"{VENV_BIN}/salt-key", "-y", "-a", MINION])
        _wait_minion(box)
    return box


@pytest.fixture(scope="module")
def file_root(salt_host):
    """``salt-run vitals.file_root write=True && systemctl restart salt-master``"""
    box = salt_host
    with Timer("file_root"):
        written, _ = _salt_run(box, "vitals.file_root", "write=True")
        box.run("systemctl restart salt-master")
        _wait_minion(box)
    box.path("/srv/pillar").mkdir(parents=True)
    box.path("/srv/pillar/top.sls").write_text("base:\n  '*':\n    - vitals\n")
    box.path("/srv/pillar/vitals.sls").write_text(yaml.safe_dump(operator_pillar()))
    return written


@pytest.fixture(scope="module")
def first_apply(file_root, salt_host):
    """Each SLS applied once, in the README's order: ``{sls: (states, changed ids)}``."""
    box = salt_host
    applied = {}
    for sls in SLS:
        minion_pid, master_pid = _main_pid(box, "salt-minion"), _main_pid(box, "salt-master")
        applied[sls] = _apply(box, sls, label=f"first apply {sls}")
        # the default restart commands, run in the background by the minion
        if sls == "vitals.agent":
            _wait_restarted(box, "salt-minion", minion_pid, "vitals_agent:restart_command")
            _wait_minion(box)
        if sls == "vitals.master":
            _wait_restarted(box, "salt-master", master_pid, "vitals_master:restart_command")
            _wait_minion(box)
    return applied


def test_file_root_is_the_installed_tree(file_root):
    assert file_root["file_root"] == sls_tree.sls_root()
    assert file_root["written"] == "/etc/salt/master.d/vitals-file-roots.conf"


def test_every_sls_applies_with_every_state_true(first_apply):
    # every state True: checked by _apply; on a fresh host the packages come with the states
    assert {"graphite-carbon-packages", "graphite-web-packages"} <= set(first_apply["graphite"][1])
    assert "influxdb-package" in first_apply["influxdb"][1]
    assert "influxdb-admin" in first_apply["influxdb"][1]
    assert "vitals-agent-config" in first_apply["vitals.agent"][1]
    assert "vitals-master-config" in first_apply["vitals.master"][1]
    grafana = first_apply["grafana"][0]
    assert [v["__id__"] for v in grafana.values()] == ["vitals-grafana-not-installed"]


def test_the_daemons_are_systemd_units(salt_host, first_apply):
    box = salt_host
    units = ("carbon-cache", "influxdb", "graphite-web")
    active = box.run(["systemctl", "is-active", *units], check=False).stdout.split()
    assert active == ["active"] * 3, active
    enabled = box.run(["systemctl", "is-enabled", *units], check=False).stdout.split()
    assert enabled == ["enabled"] * 3, enabled
    for unit in units:
        assert _main_pid(box, unit) > 0, unit
    # the systemd branch of vitals/macros.jinja: service.running, no start-daemon.sh
    states = {**first_apply["graphite"][0], **first_apply["influxdb"][0]}
    services = {v["__id__"]: key for key, v in states.items() if v["__id__"].endswith("-service")}
    assert set(services) == {
        "graphite-carbon-service",
        "graphite-web-service",
        "influxdb-service",
    }, services
    assert all(
        key.startswith("service_|-") and key.endswith("_|-running") for key in services.values()
    )
    assert not [key for key in states if "start-daemon" in key or "stop-on-change" in key]
    for pidfile in ("/run/influxdb/influxd.pid", "/run/graphite-web/gunicorn.pid"):
        assert not box.path(pidfile).exists(), pidfile


@pytest.fixture(scope="module")
def landed(salt_host, first_apply):
    """Two schedule cycles after the applies, every point of both in both backends."""
    box = salt_host
    since = int(time.time())
    with Timer("two cycles land"):
        receipts = _wait_receipts(box, since, 2, 6 * CYCLE, "two scheduled cycles")
        for receipt in receipts.values():
            assert receipt["carbon"] == "sent" and receipt["influxdb"] == "sent", receipt
        _wait_all_landed(box, receipts)
    return receipts


def test_the_schedule_lands_every_point_in_both_backends(landed):
    points = {r["points"] for r in landed.values()}
    assert min(points) > 20, landed  # a whole collection: cpu, mem, disks, net...
    # the master's job cache holds the receipts only
    assert all(set(r) == {"ts", "points", "carbon", "influxdb"} for r in landed.values())


def test_vitals_top_shows_the_node(salt_host, landed):
    table, done = _salt_run(salt_host, "vitals.top", check=False)
    assert done.returncode == 0, (done.stdout, done.stderr)
    (row,) = table["nodes"]
    assert row["node"] == MINION and row["stale"] is False, table
    assert 0 <= row["cpu"] <= 100 and 0 < row["mem"] < 100, row


def test_a_second_apply_changes_nothing(salt_host, landed):
    minion_pid = _main_pid(salt_host, "salt-minion")
    for sls in SLS:
        _states, changed = _apply(salt_host, sls, label=f"second apply {sls}")
        assert changed == [], (sls, changed)
    assert _main_pid(salt_host, "salt-minion") == minion_pid  # no restart without a change


def test_a_minion_restart_and_influxdb_down_for_two_cycles_lose_nothing(salt_host, landed):
    box = salt_host
    since = int(time.time())
    with Timer("outage"):
        box.run("systemctl restart salt-minion && systemctl stop influxdb")
        stopped = math.ceil(time.time())
        down = _wait_receipts(box, stopped, 2, 8 * CYCLE, "two cycles with InfluxDB down")
        box.run("systemctl start influxdb")
        poll(lambda: _influx_up(box), 30, "InfluxDB answering /ping", interval=0.2)
        back = math.ceil(time.time())
        after = _wait_receipts(box, back, 1, 6 * CYCLE, "a cycle with InfluxDB back")
        receipts = _receipts(box, since)
    assert all(r["influxdb"].startswith("spooled: ") for r in down.values()), down
    assert all(r["carbon"] == "sent" for r in receipts.values()), receipts
    assert all(r["influxdb"] == "sent" for r in after.values()), after
    with Timer("outage replayed"):
        _wait_all_landed(box, receipts)
    total = sum(r["points"] for r in receipts.values())
    print(f"\noutage: {len(receipts)} cycles, {total} points in each backend, 0 lost")


def test_no_password_in_the_journal_the_logs_or_the_job_cache(salt_host, landed):
    # under systemd the daemons' output (influxd's query log included) goes to the journal
    where = "/var/log/salt /var/log/graphite /var/cache/salt/master/jobs"
    for secret in (
        ADMIN_PASSWORD,
        SALT_PASSWORD,
        GRAFANA_PASSWORD,
        PILLAR["graphite:web:secret_key"],
    ):
        found = salt_host.run(
            f"journalctl --no-pager -o cat | grep -c -F {secret}; grep -rlF {secret} {where}",
            check=False,
        )
        assert found.stdout.split() == ["0"], (secret, found.stdout)

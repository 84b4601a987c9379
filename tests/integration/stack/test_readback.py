"""Reading it back through the real stack: three real minions push to carbon-cache and influxd,
a real salt-master runs ``salt-run vitals.top / history / least_loaded`` against Debian's
graphite-web and the influxd, and the numbers are compared with what the backends stored.
One minion is stopped: it shows as stale in ``top`` and ``least_loaded`` leaves it out."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.stack import INFLUX_PASSWORD, INFLUX_USER, all_started

IDS = ("readback-1", "readback-2", "readback-3")
DB = "readback"
STALE_AFTER = 20


@pytest.fixture(scope="module")
def stack(salt_factories, carbon, influxd, graphite_web):
    if influxd is None:
        pytest.skip("influxd is not installed")
    master = salt_factories.salt_master_daemon("readback-master")
    minion_config = {
        "carbon": {"host": "127.0.0.1", "port": carbon.line_port, "timeout": 2},
        "influxdb": {
            "url": influxd.url,
            "db": DB,
            "user": INFLUX_USER,
            "password": INFLUX_PASSWORD,
            "timeout": 2,
        },
        "vitals": {"sample_interval": 0.3},
    }
    with master.started():
        minions = [master.salt_minion_daemon(m, overrides=minion_config) for m in IDS]
        with all_started(minions):
            yield master, minions


def configure(master, **query):
    """Write ``vitals_query`` where the next salt-run reads it (master.d is read per run)."""
    path = Path(master.config_dir) / "master.d" / "vitals-query.conf"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"vitals_query": {"stale_after": f"{STALE_AFTER}s", **query}}))


def salt_run(master, *args):
    """``salt-run`` exactly as an operator types it (no --out added)."""
    script = Path(sys.executable).parent / "salt-run"
    return subprocess.run(
        [str(script), "-c", str(master.config_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_json(master, *args):
    done = salt_run(master, *args, "--out=json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def push(master, targets):
    cli = master.salt_cli(timeout=60)
    for minion in targets:
        ret = cli.run("vitals.push", "returners=carbon,influxdb", minion_tgt=minion)
        assert ret.data["carbon"] == "sent" and ret.data["influxdb"] == "sent", ret.data


@pytest.fixture(scope="module")
def fed(stack, carbon, influxd):
    """Push rounds from all three minions, stop readback-3, keep pushing from the others."""
    master, minions = stack
    push(master, IDS)
    time.sleep(1.1)
    push(master, IDS)
    minions[2].terminate()
    silent_since = time.time()
    while time.time() - silent_since < STALE_AFTER + 2:
        time.sleep(4)
        push(master, IDS[:2])
    for minion in IDS:
        carbon.wait_for_metric(f"vitals.{minion}.cpu.percent")
    return master


def stored_graphite(carbon, minion, path):
    return carbon.fetch(f"vitals.{minion}.{path}", from_ts=int(time.time()) - 600)


def stored_influx(influxd, minion, measurement, field, where=""):
    q = (
        f'SELECT "{field}" FROM "{measurement}" WHERE "host" = \'{minion}\' {where}'
        " AND time > now() - 10m"
    )
    series = influxd.query(q, db=DB)["results"][0].get("series") or [{"values": []}]
    return [(t, v) for t, v in series[0]["values"] if v is not None]


BACKENDS = ["graphite", "influxdb"]


def query_config(backend, graphite_web, influxd, password=INFLUX_PASSWORD):
    if backend == "graphite":
        return {"backend": "graphite", "url": graphite_web.url, "prefix": "vitals"}
    return {
        "backend": "influxdb",
        "url": influxd.url,
        "db": DB,
        "user": INFLUX_USER,
        "password": password,
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_shows_what_was_written_and_the_stopped_minion_as_stale(
    backend, fed, carbon, influxd, graphite_web
):
    configure(fed, **query_config(backend, graphite_web, influxd))
    push(fed, IDS[:2])  # the live ones fresh whatever the tests before took (a busy machine)
    table = run_json(fed, "vitals.top", "tgt=readback-*", "window=5m")
    rows = {r["node"]: r for r in table["nodes"]}
    assert sorted(rows) == list(IDS)
    assert rows["readback-3"]["stale"] is True and rows["readback-3"]["age"] > STALE_AFTER
    for minion in IDS[:2]:
        row = rows[minion]
        assert row["stale"] is False, row
        if backend == "graphite":
            cpu = stored_graphite(carbon, minion, "cpu.percent")
            mem = stored_graphite(carbon, minion, "mem.percent")
        else:
            cpu = stored_influx(influxd, minion, "cpu", "percent", "AND \"cpu\" = ''")
            mem = stored_influx(influxd, minion, "mem", "percent")
        assert row["cpu"] == cpu[-1][1] and row["mem"] == mem[-1][1], (row, cpu[-1], mem[-1])
        assert row["load1"] is not None and row["disk"] is not None
        assert set(row["spark"]) >= {"cpu", "mem", "load1"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_least_loaded_leaves_the_stale_minion_out(backend, fed, graphite_web, influxd):
    configure(fed, **query_config(backend, graphite_web, influxd))
    push(fed, IDS[:2])
    chosen = run_json(fed, "vitals.least_loaded", "n=5", "window=2m")
    assert sorted(chosen) == list(IDS[:2])
    plain = salt_run(fed, "vitals.least_loaded", "n=5")  # as `salt -L "$(...)"` reads it
    assert sorted(plain.stdout.strip().split(",")) == list(IDS[:2]), plain.stdout
    # other stack tests share these backends: their minions are stale too, so name ours
    details = run_json(
        fed, "vitals.least_loaded", "n=1", "tgt=readback-*", "by=mem", "details=True"
    )
    assert details["stale"] == ["readback-3"] and len(details["nodes"]) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_history_buckets_equal_the_stored_points(backend, fed, carbon, influxd, graphite_web):
    configure(fed, **query_config(backend, graphite_web, influxd))
    end = int(time.time())
    start = end - 300
    got = run_json(
        fed,
        "vitals.history",
        "mem.percent",
        "tgt=readback-1",
        f"start={start}",
        f"end={end}",
        "resample=10s",
        "agg=max",
    )
    if backend == "graphite":
        stored = stored_graphite(carbon, "readback-1", "mem.percent")
    else:
        stored = stored_influx(influxd, "readback-1", "mem", "percent")
    want = {}
    for ts, value in stored:
        if start <= ts < end:
            slot = ts - ts % 10
            want[slot] = max(want.get(slot, value), value)
    got_buckets = dict(zip(got["times"], got["series"]["readback-1"]))
    assert {t: v for t, v in got_buckets.items() if v is not None} == want
    assert len(want) >= 3


def test_top_prints_a_table_through_our_outputter(fed, graphite_web, influxd):
    configure(fed, **query_config("graphite", graphite_web, influxd))
    done = salt_run(fed, "vitals.top", "tgt=readback-*")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["NODE", "CPU%", "LOAD1"], done.stdout
    stale = [line for line in lines if line.startswith("readback-3")]
    assert stale and stale[0].endswith("STALE")
    assert any(ch in done.stdout for ch in "▁▂▃▄▅▆▇█")


def test_history_png(fed, graphite_web, influxd, tmp_path):
    configure(fed, **query_config("graphite", graphite_web, influxd))
    target = tmp_path / "mem.png"
    got = run_json(fed, "vitals.history", "mem.percent", "start=-5m", f"png={target}")
    assert got["png"]["bytes"] > 1000 and target.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("backend", "change", "expected"),
    [
        ("graphite", {"url": "http://127.0.0.1:1"}, "cannot connect to http://127.0.0.1:1"),
        ("influxdb", {"url": "http://127.0.0.1:1"}, "cannot connect to http://127.0.0.1:1"),
        ("influxdb", {"password": "wrong-Qp9-pass"}, "authentication failed for http://"),
    ],
)
def test_bad_url_or_password_is_one_clear_line(
    backend, change, expected, fed, graphite_web, influxd
):
    configure(fed, **{**query_config(backend, graphite_web, influxd), **change})
    done = salt_run(fed, "vitals.top")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert done.stdout.strip().startswith("CommandExecutionError: " + expected), output
    assert len(done.stdout.strip().splitlines()) == 1, output
    assert "Traceback" not in output
    assert "wrong-Qp9-pass" not in output and INFLUX_PASSWORD not in output


def test_unknown_metric_lists_what_exists(fed, graphite_web, influxd):
    configure(fed, **query_config("influxdb", graphite_web, influxd))
    done = salt_run(fed, "vitals.history", "mem.nope")
    assert done.returncode != 0
    assert "unknown metric mem.nope" in done.stdout and "percent" in done.stdout, done.stdout

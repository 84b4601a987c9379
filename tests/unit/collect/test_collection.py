"""Unit tests of salt_ext.core.collect.collection with a fake psutil, a fake /proc and /sys tree
and a fake vcgencmd (tests/support/fakemachine.py): options, snapshots, rates, the vitals dict
and its state, options parsed once per process for each distinct raw config, parse_window
(tests/unit/collect/test_readings.py: what each group reads)."""

import json
import os
import re
import time
from pathlib import Path

import psutil
import pytest

from salt_ext.core.collect import collection as vitals
from salt_ext.core.collect import readings as readers
from salt_ext.core.collect.rates import STATE_FILE
from salt_ext.core.errors import ConfigError
from salt_ext.core.samples import GROUPS, to_vitals_dict
from support.fakemachine import (
    BOOT,
    DEFAULTS,
    FIRST_READING,
    T0,
    CpuTimes,
    NetIo,
    bump,
    check_types,
    vitals_dict,
)

CHECKOUT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)  # every test starts with no options parsed in this process
def parsed(monkeypatch):
    cache = {}
    monkeypatch.setattr(vitals, "_PARSED", cache)
    return cache


def test_first_reading_has_exact_gauges_and_no_rates(reader):
    data = vitals_dict(None, reader())
    assert data == FIRST_READING
    check_types(data)


def test_second_reading_adds_rates(reader, fake, clock):
    first = reader()
    fake.advance()
    clock.now += 10
    data = vitals_dict(first, reader())
    check_types(data)
    approx = pytest.approx
    assert data["cpu"] == {
        "percent": approx(45.0),
        "user": approx(30.0),
        "system": approx(10.0),
        "iowait": approx(5.0),
        "steal": approx(5.0),
        "idle": approx(50.0),
        **FIRST_READING["cpu"],
    }
    assert data["cores"] == {
        "0": {"percent": approx(90.0), "user": approx(90.0), "system": 0.0, "iowait": 0.0},
        "1": {"percent": 0.0, "user": 0.0, "system": 0.0, "iowait": 0.0},
    }
    assert data["swap"] == {
        "in_bytes_per_s": approx(2 * readers.PAGE_SIZE / 10),
        "out_bytes_per_s": 0.0,
        **FIRST_READING["swap"],
    }
    assert data["diskio"] == {
        "md0": dict.fromkeys(
            ["read_bytes_per_s", "write_bytes_per_s", "read_ops_per_s", "write_ops_per_s"], 0.0
        ),
        "mmcblk0": {
            "read_bytes_per_s": 0.0,
            "write_bytes_per_s": 0.0,
            "read_ops_per_s": 0.0,
            "write_ops_per_s": 0.0,
            "busy_percent": 100.0,  # 200 % from overlapping requests, capped
        },
        "sda": {
            "read_bytes_per_s": approx(4096.0),
            "write_bytes_per_s": approx(1024.0),
            "read_ops_per_s": approx(10.0),
            "write_ops_per_s": approx(5.0),
            "busy_percent": approx(25.0),
        },
    }
    assert data["net"]["eth0"] == {
        "rx_bytes_per_s": approx(1000.0),
        "tx_bytes_per_s": approx(500.0),
        "rx_packets_per_s": approx(10.0),
        "tx_packets_per_s": approx(5.0),
        **FIRST_READING["net"]["eth0"],
    }
    assert data["system"]["uptime"] == 910.0


def defined_fields(doc):
    """{group: fields} of the definition tables of docs/metrics.md (first column)."""
    defined, group = {}, None
    for line in doc.splitlines():
        if line.startswith("### "):
            group = re.findall(r"`(\w+)`", line)
        elif group and line.startswith("| `"):
            names = re.findall(r"`(\w+)`", line.split(" | ")[0])
            for key in group:
                defined.setdefault(key, set()).update(names)
    return defined


def test_every_field_has_a_definition_in_the_docs(reader, fake, clock):
    first = reader()
    fake.advance()
    clock.now += 10
    data = vitals_dict(first, reader())
    defined = defined_fields((CHECKOUT / "docs" / "metrics.md").read_text(encoding="utf-8"))
    undefined = []
    for key, content in data.items():
        series = content.values() if key != "ts" and GROUPS[key].tag else [content]
        for fields in series if key != "ts" else []:
            undefined += [f"{key}.{name}" for name in fields if name not in defined.get(key, ())]
    assert set(data) - {"ts"} == set(GROUPS)
    assert sorted(set(undefined)) == []


def test_samples_are_ordered_deterministically(reader, fake, clock):
    fake.per_cpu = [CpuTimes(idle=float(i)) for i in range(12)]
    first = reader()
    fake.per_cpu = [CpuTimes(idle=float(i) + 1) for i in range(12)]
    clock.now += 10
    current = reader()
    samples = vitals.snapshot_samples(first, current, DEFAULTS)
    assert samples == vitals.snapshot_samples(first, current, DEFAULTS)
    measurements = list(dict.fromkeys(s.group for s in samples))
    assert measurements == ["cpu", "load", "mem", "swap", "disk", "diskio", "net", "temp"] + [
        "system",
        "pi",
    ]
    cores = [s.tags[0][1] for s in samples if s.tags and s.tags[0][0] == "cpu"]
    assert list(dict.fromkeys(cores)) == [str(i) for i in range(12)]
    assert all(s.ts == current.ts for s in samples)


def test_counter_going_backwards_drops_only_that_rate(reader, fake, clock):
    fake.nics["eth0"] = fake.nics["eth0"]._replace(bytes_recv=2**32 - 10)
    first = reader()
    fake.advance()
    fake.nics["eth0"] = fake.nics["eth0"]._replace(bytes_recv=5)  # 32-bit counter wrapped
    clock.now += 10
    eth0 = vitals_dict(first, reader())["net"]["eth0"]
    assert "rx_bytes_per_s" not in eth0
    assert eth0["tx_bytes_per_s"] == pytest.approx(500.0)


def test_reboot_gives_no_rates(reader, fake, clock):
    first = reader()
    fake.advance()
    fake.boot_time = lambda: BOOT + 3600
    clock.now += 10
    data = vitals_dict(first, reader())
    assert "cores" not in data and "diskio" not in data and "percent" not in data["cpu"]
    assert "rx_bytes_per_s" not in data["net"]["eth0"]


def test_reference_not_older_gives_no_rates(reader, fake):
    first = reader()
    fake.advance()
    data = vitals_dict(first, reader())  # same ts: elapsed 0
    assert "cores" not in data and "in_bytes_per_s" not in data["swap"]


def run_collect(fake, clock, sys_root, vcgencmd, state_dir, interval=None, **options):
    """collect() whose sleep advances the fake clock and the fake counters."""
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock.now += seconds
        fake.advance()

    ts, samples = vitals.collect(
        vitals.validate_options(options),
        state_dir,
        interval,
        fake,
        sys_root,
        vcgencmd,
        clock,
        sleep,
    )
    return ts, to_vitals_dict(samples, ts), sleeps


@pytest.fixture
def run(fake, clock, sys_root, vcgencmd):
    def run(state_dir, interval=None, **options):
        return run_collect(fake, clock, sys_root, vcgencmd, state_dir, interval, **options)

    return run


def stored_ts(state_dir):
    with open(os.path.join(state_dir, STATE_FILE)) as handle:
        return [json.loads(line)["ts"] for line in handle]


def test_collect_vitals_is_collect_rendered_without_samples(
    fake, clock, sys_root, vcgencmd, tmp_path
):
    """vitals.current's path: the same values and types as collect() + to_vitals_dict, the
    stored state used the same way."""

    def sleep(seconds):
        clock.now += seconds
        fake.advance()

    reading = {"source": fake, "sys_root": sys_root, "vcgencmd": vcgencmd, "clock": clock}
    state = str(tmp_path / "state")
    first = vitals.collect_vitals(DEFAULTS, state, sleep=sleep, **reading)
    assert first["ts"] == T0 + 0.5 and first["cpu"]["percent"] == pytest.approx(45.0)
    clock.now += 59.5
    fake.advance()
    data = vitals.collect_vitals(DEFAULTS, state, sleep=sleep, **reading)
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(10000 / 59.5)
    check_types(data)
    assert stored_ts(state) == [T0 + 0.5, T0 + 60]
    previous = vitals.read_snapshot(DEFAULTS, fake, sys_root, vcgencmd, clock)
    clock.now += 10
    fake.advance()
    current = vitals.read_snapshot(DEFAULTS, fake, sys_root, vcgencmd, clock)
    rendered = vitals.snapshot_vitals(previous, current, DEFAULTS)
    assert list(rendered) == list(vitals_dict(previous, current))  # the same group order
    assert leaves(rendered) == leaves(vitals_dict(previous, current))
    summary = vitals.collect_vitals(DEFAULTS, state, samples=2, interval=1, sleep=sleep, **reading)
    assert summary["cpu"]["percent_var"] == pytest.approx(0.0)


def leaves(data, prefix=""):
    """(path, value, type) of every leaf: equality that tells 1 from 1.0."""
    out = []
    for key, value in data.items():
        if isinstance(value, dict):
            out.extend(leaves(value, f"{prefix}{key}."))
        else:
            out.append((prefix + str(key), value, type(value)))
    return out


def test_first_run_samples_in_process_and_stores_state(run, tmp_path):
    state = str(tmp_path / "state")
    ts, data, sleeps = run(state)
    assert sleeps == [0.5]
    assert ts == T0 + 0.5
    assert data["cpu"]["percent"] == pytest.approx(45.0)
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(20000.0)  # 10000 B in 0.5 s
    check_types(data)
    assert stored_ts(state) == [T0, T0 + 0.5]


def test_next_run_uses_the_stored_state(run, fake, clock, tmp_path):
    state = str(tmp_path / "state")
    run(state)
    clock.now += 59.5
    fake.advance()
    ts, data, sleeps = run(state)
    assert sleeps == []
    assert ts == T0 + 60
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(10000 / 59.5)
    assert stored_ts(state) == [T0 + 0.5, T0 + 60]


def test_state_older_than_max_age_is_not_used(run, clock, tmp_path):
    state = str(tmp_path / "state")
    run(state, max_state_age=600)
    clock.now += 601
    _, data, sleeps = run(state, max_state_age=600)
    assert sleeps == [0.5]
    assert data["cpu"]["percent"] == pytest.approx(45.0)


def test_sample_interval_option(run, tmp_path):
    _, _, sleeps = run(str(tmp_path / "state"), sample_interval="0.2")
    assert sleeps == [0.2]


def test_explicit_interval_touches_no_state(run, tmp_path):
    state = tmp_path / "state"
    ts, data, sleeps = run(str(state), interval=2)
    assert sleeps == [2.0]
    assert ts == T0 + 2
    assert data["net"]["eth0"]["rx_bytes_per_s"] == pytest.approx(5000.0)
    assert not state.exists()


@pytest.mark.parametrize("interval", [0, -1, "soon"])
def test_bad_interval_is_a_config_error(run, tmp_path, interval):
    with pytest.raises(ConfigError) as err:
        run(str(tmp_path), interval=interval)
    assert err.value.key == "vitals:interval"


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"groups": ["cpu", "mem"]}, {"cpu", "mem"}),
        ({"groups": "cpu, mem, load", "exclude_groups": ["mem"]}, {"cpu", "load"}),
        (
            {"exclude_groups": ["pi", "temp", "disk"]},
            {"cpu", "load", "mem", "swap", "net", "system"},
        ),
    ],
)
def test_group_include_exclude(reader, options, expected):
    data = vitals_dict(None, reader(**options), **options)
    assert set(data) - {"ts"} == expected


def test_excluded_groups_are_not_read(reader, fake):
    called = []
    fake.disk_partitions = lambda all=False: called.append(all) or []
    snapshot = reader(groups=["cpu"])
    assert not called
    assert set(snapshot.gauges) == {"cpu"}
    assert snapshot.counters and all(k.startswith("cpu.total.") for k in snapshot.counters)


def test_interface_names_with_dots(reader, fake, clock):
    fake.nics = {"eth0.100": NetIo(0, 0, 0, 0, 0, 0, 0, 0)}
    first = reader()
    fake.nics["eth0.100"] = bump(fake.nics["eth0.100"], bytes_recv=300)
    clock.now += 3
    vlan = vitals_dict(first, reader())["net"]["eth0.100"]
    assert vlan["rx_bytes_per_s"] == pytest.approx(100.0)


def test_validate_options_defaults():
    opts = vitals.validate_options(None)
    assert opts["groups"] == list(GROUPS)
    assert opts["exclude_interfaces"] == ["lo"]
    assert opts["exclude_devices"] == ["loop*", "ram*"]
    assert {"tmpfs", "overlay", "squashfs", "proc", "cgroup2"} <= set(opts["skip_fstypes"])
    assert (opts["sample_interval"], opts["max_state_age"], opts["min_rate_interval"]) == (
        0.5,
        3600.0,
        0.5,
    )
    assert vitals.validate_options(opts) == opts  # parsing a parsed dict changes nothing


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"groups": ["cpu", "gpu"]}, "vitals:groups"),
        ({"exclude_groups": "cpu,bogus"}, "vitals:exclude_groups"),
        ({"sample_interval": 0.01}, "vitals:sample_interval"),
        ({"max_state_age": "an hour"}, "vitals:max_state_age"),
        ({"mounts": {"/": True}}, "vitals:mounts"),
        ({"intervall": 1}, "vitals:intervall"),
    ],
)
def test_bad_option_names_the_key(raw, key):
    with pytest.raises(ConfigError) as err:
        vitals.validate_options(raw)
    assert err.value.key == key
    assert str(err.value).startswith(key + ":")


def test_real_psutil(tmp_path):
    ts, samples = vitals.collect(vitals.validate_options({"sample_interval": 0.1}), tmp_path)
    data = to_vitals_dict(samples, ts)
    check_types(data)
    assert abs(ts - time.time()) < 60
    assert 0.0 <= data["cpu"]["percent"] <= 100.0
    assert data["cpu"]["count"] == psutil.cpu_count()
    assert data["mem"]["total"] > 0
    assert set(data["load"]) == {"load1", "load5", "load15"}
    assert data["system"]["uptime"] > 0 and data["system"]["procs"] > 0
    assert (tmp_path / STATE_FILE).exists()


def test_configured_reads_vitals_then_overrides():
    config = {"vitals": {"exclude_groups": ["temp"], "mounts": ["/"]}}
    get = lambda key, default=None: config.get(key, default)  # noqa: E731  (config.get)
    raw = vitals.configured(get, {"mounts": ["/srv"], "__pub_jid": "1", "samples": 2})
    assert raw == {"exclude_groups": ["temp"], "mounts": ["/srv"], "samples": 2}
    assert config["vitals"]["mounts"] == ["/"]  # the minion's config is not modified
    assert vitals.configured(lambda key, default=None: None) == {}


@pytest.mark.parametrize(
    ("key", "where"),
    [
        ("pollpush", "the master config key vitals_pollpush"),
        ("query", "the master config key vitals_query"),
        ("grafana", "the pillar key vitals_grafana"),
    ],
)
def test_a_key_that_moved_out_of_vitals_says_where_it_went(key, where):
    with pytest.raises(ConfigError) as err:
        vitals.validate_options({"mounts": ["/"], key: {"x": 1}})
    assert err.value.key == f"vitals:{key}"
    assert str(err.value) == f"vitals:{key}: moved to {where} in salt-vitals 0.1.0"


def test_any_other_unknown_key_in_vitals_names_the_key_and_the_known_ones():
    with pytest.raises(ConfigError) as err:
        vitals.validate_options({"exclude_group": ["temp"]})
    assert err.value.key == "vitals:exclude_group"
    assert "unknown option (known: devices, exclude_devices," in str(err.value)


def test_validate_options_names_where_the_dict_was_set():
    with pytest.raises(ConfigError) as err:
        vitals.validate_options({"groups": ["cpu", "gpu"]}, "vitals_pollpush")
    assert err.value.key == "vitals_pollpush:groups"


def test_configured_vitals_that_is_not_a_dict_names_the_key():
    with pytest.raises(ConfigError) as err:
        vitals.configured(lambda key, default=None: "cpu,mem")
    assert err.value.key == "vitals" and "must be a dict" in str(err.value)


def test_the_same_raw_config_is_parsed_once(parsed, monkeypatch):
    calls = []
    parse = vitals._parse_options
    monkeypatch.setattr(
        vitals, "_parse_options", lambda raw, prefix: calls.append(raw) or parse(raw, prefix)
    )
    raw = {"exclude_groups": "temp", "min_rate_interval": "0"}
    first = vitals.validate_options(raw)
    again = vitals.validate_options(dict(raw))
    assert first == again and first is not again
    assert first["exclude_groups"] == ["temp"] and first["min_rate_interval"] == 0.0
    assert calls == [raw] and len(parsed) == 1


def test_a_caller_changing_its_options_does_not_change_the_next_callers():
    first = vitals.validate_options({"groups": "cpu,mem"})
    first["groups"] = ["load"]
    first["sample_interval"] = 9.0
    again = vitals.validate_options({"groups": "cpu,mem"})
    assert again["groups"] == ["cpu", "mem"] and again["sample_interval"] == 0.5


@pytest.mark.parametrize(
    "before, after",
    [
        ({"groups": ["cpu"]}, {"groups": ["mem"]}),
        ({"min_rate_interval": 1}, {"min_rate_interval": True}),  # equal, yet not an option
        ({"min_rate_interval": 1}, {"min_rate_interval": "1"}),
        ({}, {"groups": None}),
    ],
)
def test_a_changed_config_is_parsed_again(before, after):
    vitals.validate_options(before)
    if after.get("min_rate_interval") is True:
        with pytest.raises(ConfigError, match="vitals:min_rate_interval"):
            vitals.validate_options(after)
    else:
        assert vitals.validate_options(after) == vitals._parse_options(after, "vitals")


def test_a_bad_config_raises_naming_the_key_every_time(parsed):
    for _ in range(3):
        with pytest.raises(ConfigError) as info:
            vitals.validate_options({"exclude_groups": ["bogus"]})
        assert info.value.key == "vitals:exclude_groups"
    assert parsed == {}


def test_the_cache_stays_bounded(parsed):
    for seconds in range(3 * vitals._PARSED_MAX):
        vitals.validate_options({"max_state_age": seconds})
    assert 0 < len(parsed) <= vitals._PARSED_MAX


@pytest.mark.parametrize(
    "samples, interval, expected",
    [(1, None, (1, None)), ("1", None, (1, None)), (1.0, "", (1, None)), (3, "2", (3, 2.0))],
)
def test_parse_window(samples, interval, expected):
    assert vitals.parse_window(samples, interval) == expected
    assert type(vitals.parse_window(samples, interval)[0]) is int


@pytest.mark.parametrize("samples", [True, 0, "x"])
def test_parse_window_refuses_what_is_not_a_count(samples):
    with pytest.raises(ConfigError, match="vitals:samples"):
        vitals.parse_window(samples)

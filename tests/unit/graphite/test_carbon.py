"""Unit tests for the carbon backend (salt_ext.core.graphite.carbon): option validation, and
``deliver_return`` end to end against a real loopback TCP server (where a returner's options
come from: tests/unit/delivery/test_returner.py)."""

import os
import pickle
import struct

import pytest

from salt_ext.core.delivery import returner as backend
from salt_ext.core.delivery.spool import Spool
from salt_ext.core.errors import ConfigError
from salt_ext.core.graphite.carbon import BACKEND, CarbonBackend, parse_endpoint
from salt_ext.core.graphite.paths import DEFAULT_TEMPLATE
from salt_ext.core.samples import Sample, row_samples, sample_rows, vitals_rows
from support.carbon import VITALS_RET, VITALS_TEXT, options
from support.saltconfig import salt_funcs
from support.tcp import RecordingTcpServer
from support.vitals import vitals_return

NOW = 1732240001.7


LOADAVG_RET = {
    "id": "pi-01",
    "jid": "20241122020000654321",
    "fun": "status.loadavg",
    "fun_args": [],
    "retcode": 0,
    "return": {"1-min": 0.12, "5-min": 0.2, "15-min": 0.25},
}
LOADAVG_TEXT = (
    b"vitals.pi-01.status.loadavg.1-min 0.12 1732240001\n"
    b"vitals.pi-01.status.loadavg.5-min 0.2 1732240001\n"
    b"vitals.pi-01.status.loadavg.15-min 0.25 1732240001\n"
)

DEFAULT_OPTIONS = {
    "timeout": 5.0,
    "order": "failover",
    "spool": True,
    "spool_max_bytes": 20 * 2**20,
    "spool_max_age": 7 * 86400.0,
    "replay_max_bytes": 4 * 2**20,
    "host": "127.0.0.1",
    "port": None,
    "hosts": [],
    "mode": "text",
    "prefix": "vitals",
    "template": DEFAULT_TEMPLATE,
    "endpoints": [("127.0.0.1", 2003)],
}


# -- helpers ------------------------------------------------------------------------------------


def config_error(config, ret=None):
    with pytest.raises(ConfigError) as info:
        options(config, ret)
    return info.value


@pytest.fixture
def server():
    """Bound but not yet listening: connections are refused until ``server.listen()``."""
    carbon = RecordingTcpServer()
    yield carbon
    carbon.close()


def send(server, minion_opts, ret, extra=None):
    config = {"carbon.host": "127.0.0.1", "carbon.port": server.port, "carbon.timeout": 2}
    config.update(extra or {})
    return backend.deliver_return(BACKEND, ret, salt_funcs(config), minion_opts, clock=lambda: NOW)


def spool_for(minion_opts, profile="default"):
    return Spool(os.path.join(minion_opts["cachedir"], "vitals", "spool", f"carbon-{profile}"))


def spooled(minion_opts, profile="default"):
    spool = spool_for(minion_opts, profile)
    return [spool.read(n).payload for n in spool.names()]


# -- validate --------------------------------------------------------------------------------


def test_defaults():
    assert options({}) == DEFAULT_OPTIONS


@pytest.mark.parametrize(
    "config, endpoints",
    [
        ({"carbon.mode": "pickle"}, [("127.0.0.1", 2004)]),
        ({"carbon.mode": "pickle", "carbon.port": "2104"}, [("127.0.0.1", 2104)]),
        ({"carbon.host": "g.example", "carbon.port": 2013}, [("g.example", 2013)]),
    ],
)
def test_port_defaults_by_mode(config, endpoints):
    assert options(config)["endpoints"] == endpoints


@pytest.mark.parametrize(
    "hosts, endpoints",
    [
        ("a", [("a", 2003)]),
        ("a:2004", [("a", 2004)]),
        ("[::1]:2003", [("::1", 2003)]),
        ("[::1]:2103", [("::1", 2103)]),
        ("[fe80::1]", [("fe80::1", 2003)]),
        ("::1", [("::1", 2003)]),
        ("2001:db8::5", [("2001:db8::5", 2003)]),
        ("a:1, b , [::1]:65535", [("a", 1), ("b", 2003), ("::1", 65535)]),
        (["a:2004", " b "], [("a", 2004), ("b", 2003)]),
    ],
)
def test_hosts_parsing(hosts, endpoints):
    opts = options({"carbon": {"hosts": hosts, "host": "ignored"}})
    assert opts["endpoints"] == endpoints


def test_hosts_without_port_use_configured_port():
    opts = options({"carbon": {"hosts": "a,b:1", "port": 2103}})
    assert opts["endpoints"] == [("a", 2103), ("b", 1)]


def test_transports_follow_endpoints():
    opts = options({"carbon": {"hosts": "a:1,[::1]:2", "timeout": "0.25"}})
    transports = BACKEND.transports(opts)
    assert [(t.host, t.port, t.timeout, t.label) for t in transports] == [
        ("a", 1, 0.25, "a:1"),
        ("::1", 2, 0.25, "::1:2"),
    ]


@pytest.mark.parametrize(
    "hosts", ["a:99999", "a:0", "a:x", "a:-1", ":2003", "[]:2003", "[::1]:http", ["a", ""]]
)
def test_bad_hosts_name_the_key(hosts):
    exc = config_error({"carbon": {"hosts": hosts}})
    assert exc.key == "carbon:hosts"
    assert str(exc).startswith("carbon:hosts: expected host or host:port, got ")


@pytest.mark.parametrize("text", ["[::1]2003", "[::1]junk", "[::1", "host:"])
def test_malformed_endpoints_are_rejected(text):
    with pytest.raises(ValueError):
        parse_endpoint(text, 2003)


@pytest.mark.parametrize("port", [70000, "65536", 0, "http", 20.5])
def test_bad_port_names_the_key(port):
    exc = config_error({"carbon.port": port})
    assert exc.key == "carbon:port"


@pytest.mark.parametrize(
    "template, message",
    [
        ("{prefix}.{minion}", "carbon:template: must contain {name}"),
        (
            "{prefix}.{host}.{name}",
            "carbon:template: unknown field(s) host; use prefix, minion, group, tags, name",
        ),
    ],
)
def test_template_errors_name_the_key(template, message):
    exc = config_error({"carbon": {"template": template}})
    assert (exc.key, str(exc)) == ("carbon:template", message)


@pytest.mark.parametrize(
    "config, key",
    [
        ({"carbon.mode": "udp"}, "carbon:mode"),
        ({"carbon.timeout": 0.01}, "carbon:timeout"),
        ({"carbon.order": "random"}, "carbon:order"),
        ({"carbon.spool": "maybe"}, "carbon:spool"),
        ({"carbon.replay_max_bytes": 0}, "carbon:replay_max_bytes"),
    ],
)
def test_delivery_option_errors_name_the_key(config, key):
    assert config_error(config).key == key


def test_validate_directly():
    parsed = {**DEFAULT_OPTIONS, "hosts": ["[::1]:2003"], "mode": "pickle"}
    del parsed["endpoints"]
    assert CarbonBackend().validate(parsed)["endpoints"] == [("::1", 2003)]


# -- serialize --------------------------------------------------------------------------------


def test_rows_are_serialized_as_their_samples():
    rows = vitals_rows(vitals_return(NOW)) + sample_rows(
        [Sample("status.loadavg", ("1-min",), 0.5, NOW), Sample("status.loadavg", "5", 1.0, NOW)]
    )
    for mode in ("text", "pickle"):
        opts = BACKEND.validate({**DEFAULT_OPTIONS, "mode": mode})
        assert BACKEND.serialize_rows(rows, "m1", opts) == BACKEND.serialize(
            row_samples(rows), "m1", opts
        )


# -- send, end to end --------------------------------------------------------------------------


def test_send_vitals_exact_plaintext(server, minion_opts):
    server.listen()
    result = send(server, minion_opts, VITALS_RET)
    assert server.wait_for(1) == [VITALS_TEXT]
    assert (result.points, result.sent, result.status) == (7, 7, "sent")
    assert result.destination == f"127.0.0.1:{server.port}"
    assert spooled(minion_opts) == []


def test_send_generic_return_exact_plaintext(server, minion_opts):
    server.listen()
    result = send(server, minion_opts, LOADAVG_RET)
    assert server.wait_for(1) == [LOADAVG_TEXT]
    assert (result.status, result.points, result.error) == ("sent", 3, None)


def test_send_pickle_mode(server, minion_opts):
    server.listen()
    send(server, minion_opts, LOADAVG_RET, {"carbon.mode": "pickle", "carbon.prefix": "lab.x"})
    [data] = server.wait_for(1)
    (length,) = struct.unpack("!L", data[:4])
    assert len(data) == 4 + length
    assert pickle.loads(data[4:]) == [
        ("lab.x.pi-01.status.loadavg.1-min", (1732240001, 0.12)),
        ("lab.x.pi-01.status.loadavg.5-min", (1732240001, 0.2)),
        ("lab.x.pi-01.status.loadavg.15-min", (1732240001, 0.25)),
    ]


def test_send_fails_over_to_the_next_host(minion_opts):
    dead, alive = RecordingTcpServer(), RecordingTcpServer().listen()
    try:
        hosts = f"127.0.0.1:{dead.port},127.0.0.1:{alive.port}"
        result = send(alive, minion_opts, LOADAVG_RET, {"carbon.hosts": hosts})
        assert alive.wait_for(1) == [LOADAVG_TEXT]
        assert result.destination == f"127.0.0.1:{alive.port}"
    finally:
        dead.close()
        alive.close()


@pytest.mark.parametrize("profile", [None, "alt"])
def test_spooled_when_refused_and_replayed_when_back(server, minion_opts, profile):
    ret = dict(VITALS_RET, ret_config=profile) if profile else VITALS_RET
    result = send(server, minion_opts, ret)
    assert (result.status, result.spooled, result.sent) == ("spooled", 7, 0)
    assert "Connection refused" in result.error
    assert spooled(minion_opts, profile or "default") == [VITALS_TEXT]

    server.listen()
    ret = dict(LOADAVG_RET, ret_config=profile) if profile else LOADAVG_RET
    result = send(server, minion_opts, ret)
    assert server.wait_for(2) == [LOADAVG_TEXT, VITALS_TEXT]
    assert (result.status, result.sent, result.replayed) == ("sent", 3, 7)
    assert spooled(minion_opts, profile or "default") == []


def test_spool_false_drops(server, minion_opts):
    result = send(server, minion_opts, VITALS_RET, {"carbon.spool": False})
    assert (result.status, result.dropped, result.spooled) == ("dropped", 7, 0)
    assert not os.path.exists(os.path.join(minion_opts["cachedir"], "vitals"))


def test_spool_bound_comes_from_options(server, minion_opts):
    result = send(server, minion_opts, VITALS_RET, {"carbon.spool_max_bytes": 0})
    assert (result.status, result.dropped) == ("dropped", 7)
    assert result.error.endswith("larger than spool_max_bytes")
    status = spool_for(minion_opts).status()
    assert (status["records"], status["dropped_points"]) == (0, 7)


def test_failed_job_sends_nothing(server, minion_opts):
    server.listen()
    result = send(server, minion_opts, dict(VITALS_RET, retcode=1))
    assert (result.points, result.destination, result.error) == (0, None, None)
    assert spooled(minion_opts) == []


def test_bad_configuration_is_reported_not_raised(server, minion_opts):
    result = send(server, minion_opts, VITALS_RET, {"carbon.mode": "udp"})
    assert result.error.startswith("carbon:mode: must be one of text, pickle")


def test_bad_configuration_status_is_not_sent(server, minion_opts):
    assert send(server, minion_opts, VITALS_RET, {"carbon.mode": "udp"}).status != "sent"


def test_send_never_raises_when_the_spool_is_unusable(server, tmp_path):
    cachedir = tmp_path / "not-a-dir"
    cachedir.write_text("")
    result = send(server, {"id": "pi-01", "cachedir": str(cachedir)}, VITALS_RET)
    assert result.status == "dropped" and result.error

"""salt_ext.core.jobs.pollpush through ``salt-run vitals.pollpush`` with Salt's loader-module
mocking: the exact publication a stub LocalClient receives, for arguments, master config and
collection options."""

from unittest.mock import patch

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.runners import vitals as vitals_runner

JID = "20261125060000123456"


class StubLocalClient:
    """Records every ``cmd_async`` call; answers ``JID`` (or ``jid`` when set)."""

    calls = []
    jid = JID

    def __init__(self, mopts=None):
        assert mopts is vitals_runner.__opts__
        self.destroyed = False

    def cmd_async(self, **kwargs):
        self.calls.append(kwargs)
        return self.jid

    def destroy(self):
        self.destroyed = True


@pytest.fixture
def configure_loader_modules():
    return {vitals_runner: {"__opts__": {"vitals": {}}}}


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr(StubLocalClient, "calls", [])
    monkeypatch.setattr(StubLocalClient, "jid", JID)
    monkeypatch.setattr(vitals_runner.salt.client, "LocalClient", StubLocalClient)
    return StubLocalClient


def published(client):
    (call,) = client.calls
    return call


def test_defaults_publish_push_with_no_arguments(client):
    ret = vitals_runner.pollpush()
    expected = {"tgt": "*", "tgt_type": "glob", "fun": "vitals.push", "arg": [], "kwarg": {}}
    assert published(client) == {**expected, "ret": ""}
    assert ret == {
        "jid": JID,
        "published": {**{k: v for k, v in expected.items() if k != "arg"}, "ret": ""},
    }


def test_explicit_arguments(client):
    vitals_runner.pollpush(
        tgt="pi-*",
        tgt_type="glob",
        returners="carbon, influxdb",
        samples="3",
        interval=5,
        ret_config="lab",
        ret_kwargs={"db": "lab"},
        timeout=10,
    )
    assert published(client) == {
        "tgt": "pi-*",
        "tgt_type": "glob",
        "fun": "vitals.push",
        "arg": [],
        "kwarg": {
            "samples": 3,
            "interval": 5.0,
            "returners": "carbon,influxdb",
            "ret_config": "lab",
            "ret_kwargs": {"db": "lab"},
        },
        "ret": "",
        "timeout": 10,
    }


def test_master_config_gives_the_defaults_and_arguments_win(client):
    config = {"tgt": "web*", "returners": "influxdb", "samples": 2, "exclude_groups": ["temp"]}
    with patch.dict(vitals_runner.__opts__, {"vitals_pollpush": config}):
        vitals_runner.pollpush(tgt="db*", samples=1)
    assert published(client) == {
        "tgt": "db*",
        "tgt_type": "glob",
        "fun": "vitals.push",
        "arg": [],
        "kwarg": {"exclude_groups": ["temp"], "returners": "influxdb"},
        "ret": "",
    }


def test_collection_options_are_forwarded_only_when_not_default(client):
    vitals_runner.pollpush(
        exclude_groups="temp,pi",
        exclude_interfaces="lo",  # the default: not published
        sample_interval="0.5",  # the default too
        mounts=["/", "/boot*"],
        __pub_user="root",  # Salt's own keyword arguments are not options
    )
    assert published(client)["kwarg"] == {
        "exclude_groups": ["temp", "pi"],
        "mounts": ["/", "/boot*"],
    }


def test_mode_return_publishes_vitals_current_with_ret(client):
    vitals_runner.pollpush(mode="return", returners="carbon", ret_config="lab", groups="cpu")
    assert published(client) == {
        "tgt": "*",
        "tgt_type": "glob",
        "fun": "vitals.current",
        "arg": [],
        "kwarg": {"groups": ["cpu"], "samples": 1},
        "ret": "carbon",
        "ret_config": "lab",
    }


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"samples": 0}, "vitals_pollpush:samples"),
        ({"samples": "many"}, "vitals_pollpush:samples"),
        ({"interval": -1}, "vitals_pollpush:interval"),
        ({"tgt_type": "regex"}, "vitals_pollpush:tgt_type"),
        ({"mode": "pull"}, "vitals_pollpush:mode"),
        ({"returners": " , "}, "vitals_pollpush:returners"),
        ({"ret_kwargs": "db=x"}, "vitals_pollpush:ret_kwargs"),
        ({"groups": "cpu,gpu"}, "vitals_pollpush:groups"),
        ({"sample_interval": "fast"}, "vitals_pollpush:sample_interval"),
        ({"intervall": 5}, "vitals_pollpush:intervall"),
    ],
)
def test_bad_values_name_the_key_and_publish_nothing(client, kwargs, key):
    with pytest.raises(SaltInvocationError) as err:
        vitals_runner.pollpush(**kwargs)
    assert str(err.value).startswith(f"{key}: ")
    assert client.calls == []


def test_bad_master_config_names_the_key(client):
    with patch.dict(vitals_runner.__opts__, {"vitals_pollpush": {"exclude_groups": 5}}):
        with pytest.raises(SaltInvocationError, match=r"^vitals_pollpush:exclude_groups: "):
            vitals_runner.pollpush()
    with patch.dict(vitals_runner.__opts__, {"vitals_pollpush": "tgt=*"}):
        with pytest.raises(SaltInvocationError, match=r"^vitals_pollpush: must be a dict"):
            vitals_runner.pollpush()
    assert client.calls == []


@pytest.mark.parametrize("moved", ["pollpush", "query"])
def test_settings_left_under_vitals_say_where_they_moved(client, moved):
    with patch.dict(vitals_runner.__opts__, {"vitals": {moved: {"tgt": "*"}}}):
        with pytest.raises(SaltInvocationError) as err:
            vitals_runner.pollpush()
    assert str(err.value) == f"vitals:{moved}: moved to the master config key vitals_{moved}"
    assert client.calls == []


def test_no_minion_matched(client):
    client.jid = ""
    ret = vitals_runner.pollpush(tgt="nobody")
    assert ret["jid"] is None and ret["error"] == "no minion matched the target"
    assert ret["published"]["tgt"] == "nobody"

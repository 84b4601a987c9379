"""``vitals.push`` with Salt's loader-module mocking: the job return each returner receives and
the one receipt format (``salt_ext.core.jobs.push``)."""

import pytest
import salt.loader
import salt.utils.args
from salt.exceptions import SaltInvocationError

from salt_ext.core.delivery.delivery import DeliveryResult
from salt_ext.core.samples import Sample, to_vitals_dict
from salt_ext.modules import vitals as vitals_module

TS = 1732240000.75
SAMPLES = [
    Sample("load", ("load1",), 0.5, TS),
    Sample("mem", ("total",), 8000, TS),
    Sample("disk", ("percent",), 41.5, TS, (("path", "/boot"),)),
]
VITALS = {
    "ts": TS,
    "load": {"load1": 0.5},
    "mem": {"total": 8000},
    "disk": {"/boot": {"percent": 41.5}},
}


@pytest.fixture
def configure_loader_modules(tmp_path):
    return {
        vitals_module: {
            "__opts__": {"id": "pi-01", "cachedir": str(tmp_path)},
            "__salt__": {"config.get": lambda key, default=None: default},
            "__context__": {},
        }
    }


@pytest.fixture
def collected(monkeypatch):
    """Collection returns SAMPLES; records the options and window it was asked for."""
    calls = []

    def collect_vitals(options, state_dir, samples=1, interval=None):
        calls.append((options, samples, interval))
        return to_vitals_dict(SAMPLES, TS)

    monkeypatch.setattr(vitals_module.collection, "collect_vitals", collect_vitals)
    return calls


@pytest.fixture
def returners(monkeypatch):
    """Stub returners by name: ``returners[name] = result`` (what the returner returns).

    Ours (carbon, influxdb) are stubbed at the core delivery ``vitals.push`` calls directly;
    any other name in Salt's returner loader, whose builds are counted in ``loads``.
    """
    results, received, loads = {}, [], []

    def deliver(backend, ret, salt_funcs, opts):
        assert salt_funcs is vitals_module.__salt__ and opts is vitals_module.__opts__
        received.append((backend.name, ret))
        return results[backend.name]

    def loader(opts, functions):
        assert opts is vitals_module.__opts__
        loads.append(opts)
        loaded = {}
        for name, result in results.items():

            def returner(ret, result=result, name=name):
                received.append((name, ret))
                return result

            loaded[f"{name}.returner"] = returner
        return loaded

    monkeypatch.setattr(vitals_module, "deliver_return", deliver)
    monkeypatch.setattr(salt.loader, "returners", loader)
    return results, received, loads


def test_every_returner_gets_the_vitals_job_return(collected, returners):
    results, received, loads = returners
    results.update(
        carbon=DeliveryResult(points=3, sent=3), influxdb=DeliveryResult(points=3, sent=3)
    )
    receipt = vitals_module.push(
        returners="carbon,influxdb",
        ret_config="lab",
        ret_kwargs={"db": "x"},
        exclude_groups="temp",
        __pub_jid="20261125060000123456",
    )
    expected = {
        "id": "pi-01",
        "fun": "vitals.current",
        "fun_args": [],
        "jid": "20261125060000123456",
        "return": VITALS,
        "retcode": 0,
        "success": True,
        "ret_config": "lab",
        "ret_kwargs": {"db": "x"},
    }
    assert received == [("carbon", expected), ("influxdb", expected)]
    assert receipt == {"ts": 1732240000, "points": 3, "carbon": "sent", "influxdb": "sent"}
    assert loads == []  # our returners are called without building a returner loader
    assert "retcode" not in vitals_module.__context__
    ((options, samples, interval),) = collected
    assert options["exclude_groups"] == ["temp"] and (samples, interval) == (1, None)


def test_receipt_reports_each_outcome_and_fails_the_job(collected, returners):
    results, _, loads = returners
    results.update(
        carbon=DeliveryResult(points=3, spooled=3, error="cannot connect to 127.0.0.1:2003"),
        other=None,  # a returner that is not ours returns nothing
    )
    receipt = vitals_module.push(returners="carbon,other,missing", samples=2, interval=1)
    assert receipt == {
        "ts": 1732240000,
        "points": 3,
        "carbon": "spooled: cannot connect to 127.0.0.1:2003",
        "other": "called",
        "missing": "error: returner not available",
    }
    assert len(loads) == 1  # one loader for both names that are not ours
    assert vitals_module.__context__["retcode"] == 1
    assert collected[0][1:] == (2, 1.0)


def test_foreign_returner_alone_does_not_fail_the_job(collected, returners):
    results, received, loads = returners
    results["other"] = None
    assert vitals_module.push(returners="other") == {"ts": 1732240000, "other": "called"}
    assert "retcode" not in vitals_module.__context__
    assert received[0][1]["jid"] == "req"
    assert len(loads) == 1  # a third-party returner goes through Salt's loader


def test_a_third_party_returner_gets_the_same_job_return_through_the_loader(collected, returners):
    results, received, loads = returners
    results.update(carbon=DeliveryResult(points=3, sent=3), mysql=None)
    receipt = vitals_module.push(returners="mysql,carbon", __pub_jid="20261125060000123456")
    assert receipt == {"ts": 1732240000, "points": 3, "mysql": "called", "carbon": "sent"}
    assert [name for name, _ in received] == ["mysql", "carbon"]
    assert received[0][1] == received[1][1] and received[0][1]["return"] == VITALS
    assert len(loads) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"returners": " , "}, "returners: name at least one returner"),
        ({"samples": 0}, "vitals:samples: must be at least 1"),
        ({"interval": "soon"}, "vitals:interval: expected a number"),
        ({"groups": "gpu"}, "vitals:groups: unknown group 'gpu'"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(collected, returners, kwargs, message):
    with pytest.raises(SaltInvocationError) as err:
        vitals_module.push(**kwargs)
    assert str(err.value).startswith(message)
    assert returners[1] == [] and returners[2] == [] and collected == []

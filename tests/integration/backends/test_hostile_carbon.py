"""Hostile names and values through the carbon returner into a real carbon-cache.

Verified by listing and reading the whisper files carbon wrote: every valid point lands under
its own case's sanitised path, nothing lands anywhere else, no line was forged.
"""

import re
import time

import pytest

from salt_ext.core.delivery import returner as backend
from salt_ext.core.graphite.carbon import BACKEND
from support.hostile import TS, cases
from support.saltconfig import salt_funcs
from vitals_daemons.carbon import CarbonCache

pytestmark = pytest.mark.integration

SAFE_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")
CASES = [c for c in cases() if not c.heavy]


@pytest.fixture(scope="module")
def carbon(tmp_path_factory):
    """A carbon-cache of its own: every metric in it must come from the corpus."""
    with CarbonCache(tmp_path_factory.mktemp("carbon-hostile")) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def landed(carbon, tmp_path_factory):
    """Send every case with its own prefix; return {case name: metric paths}."""
    cachedir = str(tmp_path_factory.mktemp("hostile-cachedir"))
    results = {}
    for index, case in enumerate(CASES):
        opts = {
            "id": "tester",
            "cachedir": cachedir,
            "carbon": {"port": carbon.line_port, "prefix": f"hostile{index}"},
        }
        results[case.name] = backend.deliver_return(BACKEND, case.ret, salt_funcs(opts), opts)
    expected_total = sum(c.points for c in CASES)
    deadline = time.monotonic() + 30
    while len(carbon.metrics()) < expected_total and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.5)  # anything forged would land now too
    metrics = carbon.metrics()
    return (
        results,
        {
            c.name: [m for m in metrics if m.split(".")[0] == f"hostile{i}"]
            for i, c in enumerate(CASES)
        },
        metrics,
    )


def test_corpus_is_large_enough():
    assert len(cases()) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_valid_point_lands_and_nothing_else(landed, case, carbon):
    results, by_case, _ = landed
    assert results[case.name].status in ("sent", "dropped") and not results[case.name].spooled
    paths = by_case[case.name]
    assert len(paths) == case.points, paths
    for path in paths:
        assert SAFE_PATH.match(path), path
        stamps = [ts for ts, _ in carbon.fetch(path)]
        assert len(stamps) == 1, path
        if case.ret["fun"] == "vitals.current":  # collection time; others: the send time
            assert stamps == [int(TS)], path


def test_no_forged_metric_anywhere(landed):
    _, by_case, metrics = landed
    known = {path for paths in by_case.values() for path in paths}
    assert set(metrics) == known
    assert not [m for m in metrics if "forged" in m.split(".")[0]]


def test_skips_are_logged_in_one_line(carbon, tmp_path, caplog):
    case = next(c for c in CASES if c.name == "nan_inf_bool_none")
    opts = {
        "id": "tester",
        "cachedir": str(tmp_path),
        "carbon": {"port": carbon.line_port, "prefix": "hostile-log"},
    }
    with caplog.at_level("INFO", logger="salt_ext.core.delivery.returner"):
        backend.deliver_return(BACKEND, case.ret, salt_funcs(opts), opts)
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(lines) == 1 and "nan" in lines[0] and "none" in lines[0], lines

"""Unit tests of salt_ext.core.readback.views: sparklines, node selection, the headroom score
and the row order of the top view."""

import pytest

from salt_ext.core.errors import ConfigError
from salt_ext.core.readback import views


def test_sparkline():
    assert views.sparkline([0, 50, 100], 0, 100) == "▁▅█"
    assert views.sparkline([None, 1.0, 2.0]) == " ▁█"
    assert views.sparkline([None, None]) == "  "
    assert views.sparkline([3.0, 3.0]) == "▅▅"


def test_select_nodes_globs_and_lists():
    known = ["pi-01", "pi-02", "web-1"]
    assert views.select_nodes(known, "pi-*") == ["pi-01", "pi-02"]
    assert views.select_nodes(known, "web-1,pi-02") == ["pi-02", "web-1"]
    assert views.select_nodes(known, None) == known


def test_headroom_score():
    loads = views.headroom(
        {"cpu": [(0, 20.0), (1, 40.0)], "mem": [(0, 50.0)], "load1": [(0, 2.0)]}, 4
    )
    assert loads["cpu"] == 30.0 and loads["mem"] == 50.0 and loads["load"] == 50.0
    assert loads["score"] == pytest.approx(0.5 * 30 + 0.3 * 50 + 0.2 * 50)
    only_cpu = views.headroom({"cpu": [(0, 10.0)], "mem": [], "load1": []}, None)
    assert only_cpu == {"cpu": 10.0, "score": 10.0}


def test_sort_rows_busiest_first_unknown_last():
    rows = [{"node": "a", "cpu": 5.0}, {"node": "b", "cpu": None}, {"node": "c", "cpu": 9.0}]
    assert [r["node"] for r in views.sort_rows(rows, "cpu")] == ["c", "a", "b"]
    with pytest.raises(ConfigError, match=r"^sort: must be one of"):
        views.sort_rows(rows, "color")

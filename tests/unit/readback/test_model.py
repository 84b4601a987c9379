"""Unit tests of salt_ext.core.readback.model: metrics named after the samples' groups."""

import pytest

from salt_ext.core.errors import QueryError
from salt_ext.core.readback import model
from salt_ext.core.samples import GROUPS


def test_metrics_come_from_the_samples_groups():
    cores = model.parse_metric("cores.percent")
    assert (cores.measurement, cores.tag) == (GROUPS["cores"].measurement, GROUPS["cores"].tag)
    cpu = model.parse_metric("cpu.percent")
    assert cpu.tag is None and cpu.other_tags == ["cpu"]  # cores share the measurement
    assert all(c.metric.group in GROUPS for c in model.TOP_COLUMNS)
    with pytest.raises(QueryError, match=r"unknown group 'gpu'.*cpu, cores"):
        model.parse_metric("gpu.percent")
    with pytest.raises(QueryError, match=r"expected <group>.<field>"):
        model.parse_metric("cpu")

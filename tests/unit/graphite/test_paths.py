"""The carbon serializers of rows (what the returner sends) give the bytes of the samples'."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salt_ext.core.graphite.carbon import BACKEND
from salt_ext.core.graphite.paths import (
    DEFAULT_TEMPLATE,
    PathBuilder,
    pickle_frames,
    pickle_rows,
    plaintext,
    plaintext_rows,
)
from salt_ext.core.samples import Sample, row_samples, sample_rows, vitals_rows
from support.vitals import vitals_return

TS = 1732240000.9
TEMPLATES = [DEFAULT_TEMPLATE, "{prefix}.{group}.{minion}.{tags}.{name}", "h.{minion}.{name}"]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("rows_of", [pickle_rows, plaintext_rows], ids=["pickle", "text"])
def test_a_vitals_return_as_rows_gives_the_bytes_of_its_samples(template, rows_of):
    of_samples = {pickle_rows: pickle_frames, plaintext_rows: plaintext}[rows_of]
    rows = vitals_rows(vitals_return(TS))
    expected = of_samples(row_samples(rows), PathBuilder("pi-01.lan", "vitals", template))
    assert rows_of(rows, PathBuilder("pi-01.lan", "vitals", template)) == expected


NAMES = st.one_of(
    st.text(alphabet="az09_-", min_size=1, max_size=8),
    st.text(alphabet="az.", max_size=4),
    st.tuples(st.text(alphabet="az09", max_size=4)),
    st.tuples(st.text(alphabet="a.", max_size=2), st.text(alphabet="b ", max_size=2)),
)


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.lists(NAMES, min_size=1, max_size=5), max_size=4),
    template=st.sampled_from(TEMPLATES),
)
def test_row_paths_are_the_paths_of_each_sample(names, template):
    rows = [
        ("cpu", (("cpu", str(i)),) if i % 2 else (), TS, dict.fromkeys(row_names, 1.0))
        for i, row_names in enumerate(names)
    ]
    samples = row_samples(rows)
    shared = PathBuilder("pi 01", "vitals", template)
    row_paths = [p for g, t, _, f in rows for p in shared.row_paths(g, t, list(f))]
    assert row_paths == [PathBuilder("pi 01", "vitals", template).path(s) for s in samples]
    assert shared.paths(samples) == row_paths


def test_the_carbon_backend_serializes_rows_as_their_samples():
    rows = vitals_rows(vitals_return(TS)) + sample_rows(
        [Sample("status.loadavg", ("1-min",), 0.5, TS), Sample("status.loadavg", "5", 1.0, TS)]
    )
    for mode in ("text", "pickle"):
        opts = BACKEND.validate({**BACKEND_OPTIONS, "mode": mode})
        assert BACKEND.serialize_rows(rows, "m1", opts) == BACKEND.serialize(
            row_samples(rows), "m1", opts
        )


BACKEND_OPTIONS = {
    "host": "127.0.0.1",
    "port": None,
    "hosts": [],
    "prefix": "vitals",
    "template": DEFAULT_TEMPLATE,
}

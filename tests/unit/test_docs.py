"""The option tables of docs/options.md and README.md are generated from the ``Option`` specs
(scripts/gen_docs.py); this fails when the checked-in ones are stale or an option has no doc."""

from pathlib import Path

import gen_docs
import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


def test_checked_in_option_docs_are_current():
    stale = gen_docs.stale(CHECKOUT)
    assert not stale, f"stale: {stale}; run .venv/bin/python scripts/gen_docs.py"


@pytest.mark.parametrize("concern", gen_docs.CONCERNS, ids=lambda c: c.name)
def test_every_option_is_documented(concern):
    undocumented = [key for key, option in concern.spec.items() if not option.doc.strip()]
    assert undocumented == []


def test_secrets_are_marked():
    influxdb = next(c for c in gen_docs.CONCERNS if c.name == "influxdb")
    rows = {line.split(" | ")[0]: line for line in gen_docs.table(influxdb.spec).splitlines()}
    assert "**secret**" in rows["| `password`"] and "**secret**" in rows["| `token`"]
    assert "**secret**" not in rows["| `user`"]


def test_a_stale_readme_is_detected(tmp_path):
    (tmp_path / "docs").mkdir()
    for path, text in gen_docs.rendered(CHECKOUT).items():
        target = tmp_path / path.relative_to(CHECKOUT)
        target.write_text(text.replace("`0.5`", "`0.25`", 1), encoding="utf-8")
    assert sorted(gen_docs.stale(tmp_path)) == ["README.md", "docs/options.md"]

"""docs/configuration.md, the README option tables and pillar.example are generated from the
``Option`` specs and the SLS defaults (scripts/gen_docs.py); this fails when the checked-in ones
are stale, an option has no doc, or a key of the tree has no namespace."""

from pathlib import Path

import gen_docs
import pytest
import yaml

CHECKOUT = Path(__file__).resolve().parents[3]


def test_checked_in_option_docs_are_current():
    stale = gen_docs.stale(CHECKOUT)
    assert not stale, f"stale: {stale}; run .venv/bin/python scripts/gen_docs.py"


SPECS = [ns for ns in gen_docs.NAMESPACES if ns.spec is not None]
PILLARS = [ns for ns in gen_docs.NAMESPACES if ns.sls is not None]


@pytest.mark.parametrize("namespace", SPECS, ids=lambda ns: ns.key)
def test_every_option_is_documented(namespace):
    undocumented = [key for key, option in namespace.spec.items() if not option.doc.strip()]
    assert undocumented == []


@pytest.mark.parametrize("namespace", PILLARS, ids=lambda ns: ns.key)
def test_every_pillar_key_is_documented(namespace):
    text = (CHECKOUT / "states" / namespace.sls / "defaults.yaml").read_text()
    keys = [k for k in gen_docs.pillar_keys(text) if k[0].startswith(namespace.key + ":")]
    assert keys, namespace.key
    assert [path for path, _default, about in keys if not about.strip()] == []


def test_every_pillar_root_of_the_sls_has_its_namespace():
    roots = set()
    for sls in gen_docs.SLS_DEFAULTS:
        roots |= set(yaml.safe_load((CHECKOUT / "states" / sls / "defaults.yaml").read_text()))
    assert roots == {ns.key for ns in PILLARS}


def test_no_two_namespaces_share_a_key():
    keys = [ns.key for ns in gen_docs.NAMESPACES]
    assert len(keys) == len(set(keys))
    tops = {ns.key.split(":")[0] for ns in gen_docs.NAMESPACES if ns.key != "beacons:vitals:push"}
    assert len(tops) == len(gen_docs.NAMESPACES) - 1  # the beacon's two parts share beacons:


def test_pillar_keys_reads_paths_defaults_and_comments():
    text = """root:
  # above
  a: 1          # after
  b:            # a section
    c: 'x # y'  # quoted hash
  d: {e: 2}
"""
    assert gen_docs.pillar_keys(text) == [
        ("root", None, ""),
        ("root:a", 1, "above after"),
        ("root:b", None, "a section"),
        ("root:b:c", "x # y", "quoted hash"),
        ("root:d", {"e": 2}, ""),
    ]


def test_secrets_are_marked():
    influxdb = next(ns for ns in gen_docs.NAMESPACES if ns.key == "influxdb")
    rows = {line.split(" | ")[0]: line for line in gen_docs.table(influxdb.spec).splitlines()}
    assert "**secret**" in rows["| `password`"] and "**secret**" in rows["| `token`"]
    assert "**secret**" not in rows["| `user`"]


def test_a_stale_readme_is_detected(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "states").mkdir()
    for path, text in gen_docs.rendered(CHECKOUT).items():
        target = tmp_path / path.relative_to(CHECKOUT)
        target.write_text(text, encoding="utf-8")
    assert gen_docs.stale(tmp_path) == []
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("`0.5`", "`0.25`", 1), encoding="utf-8")
    assert gen_docs.stale(tmp_path) == ["README.md"]

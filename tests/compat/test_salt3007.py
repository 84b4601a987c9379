"""Salt 3007 still ships core ``carbon_return.py`` / ``influxdb_return.py``: ours must load and
win there too. Runs ``loader_check.py`` with the interpreter of a Salt 3007 virtualenv that
``scripts/test.sh`` prepares (``.tmp/venv-salt3007``)."""

import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(ROOT, ".tmp", "venv-salt3007", "bin", "python")


def test_salt_3007_loads_ours_and_our_returners_win():
    if not os.path.exists(PYTHON):
        if os.environ.get("CI"):
            pytest.fail("scripts/test.sh did not build the Salt 3007 venv")
        pytest.skip("no Salt 3007 venv (scripts/test.sh makes it)")
    out = subprocess.run(
        [PYTHON, os.path.join(ROOT, "tests", "compat", "loader_check.py")],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["salt"].startswith("3007.")
    assert result["groups"] == ["cpu", "load", "mem", "ts"]
    # ours, from the wheel installed into that venv (never the checkout)
    venv = os.path.join(ROOT, ".tmp", "venv-salt3007")
    for key in ("carbon_file", "influxdb_file", "vitals_file"):
        assert result[key].startswith(venv) and "/site-packages/salt_ext/" in result[key], result
    assert result["runner"]

"""The suite tests what users install: ``salt_ext`` comes from the installed wheel, never from
the checkout. If this fails, some path setting (``python -m pytest`` from the checkout, a
``pythonpath``/``PYTHONPATH`` entry, an editable install) has put the source tree back on
``sys.path`` and every other test is testing the wrong thing."""

import importlib.metadata
import json
import sys
import sysconfig
from pathlib import Path

import salt_ext

CHECKOUT = Path(__file__).resolve().parent.parent
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()


def test_salt_ext_is_imported_from_site_packages():
    where = Path(salt_ext.__file__).resolve()
    assert where.is_relative_to(SITE_PACKAGES), where
    assert not where.is_relative_to(CHECKOUT / "salt_ext"), where


def test_the_checkout_is_not_on_sys_path():
    on_path = {Path(p or ".").resolve() for p in sys.path}
    assert CHECKOUT not in on_path


def test_the_distribution_is_a_wheel_install_not_editable():
    dist = importlib.metadata.distribution("salt-vitals")
    assert dist.version == salt_ext.__version__
    direct_url = dist.read_text("direct_url.json")
    if direct_url:  # pip records where it came from: a file, never an editable directory
        info = json.loads(direct_url)
        assert not info.get("dir_info", {}).get("editable"), info
        assert info["url"].endswith(".whl"), info

"""What ``pip install salt-vitals`` gets: the wheel and the sdist that ``scripts/test.sh`` built
(``$VITALS_DIST``, or built here when absent) hold every loader module and data file, the sdist
builds a wheel with the same files, and the metadata renders."""

import configparser
import email
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import readme_renderer.markdown
from packaging.markers import Marker
from packaging.requirements import Requirement

import salt_ext

CHECKOUT = Path(__file__).resolve().parent.parent.parent
# Loader modules and data files the README documents; a regression in packaging drops them.
DOCUMENTED = [
    "salt_ext/modules/vitals.py",
    "salt_ext/runners/vitals.py",
    "salt_ext/returners/carbon_return.py",
    "salt_ext/returners/influxdb_return.py",
    "salt_ext/py.typed",
    "salt_ext/sls/pillar.example",
]


def _build(outdir, source, *what):
    subprocess.run(
        [sys.executable, "-m", "build", *what, "--outdir", str(outdir), str(source)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    given = os.environ.get("VITALS_DIST")
    if given and list(Path(given).glob("*.whl")):
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    _build(out, CHECKOUT)
    return out


@pytest.fixture(scope="module")
def wheel(dist):
    (path,) = dist.glob("salt_vitals-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


@pytest.fixture(scope="module")
def sdist(dist):
    (path,) = dist.glob("salt_vitals-*.tar.gz")
    return path


def _payload(names):
    return sorted(n for n in names if not n.startswith("salt_vitals-") and not n.endswith("/"))


def _source_files():
    """Every file under salt_ext/ and states/ in the checkout, by its path in the wheel."""
    out = set()
    for top, prefix in (("salt_ext", "salt_ext"), ("states", "salt_ext/sls")):
        for path in (CHECKOUT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                out.add(f"{prefix}/{path.relative_to(CHECKOUT / top).as_posix()}")
    return out


def test_the_wheel_holds_every_documented_module_and_data_file(wheel):
    names = set(wheel.namelist())
    missing = [name for name in DOCUMENTED if name not in names]
    assert not missing, f"missing from the wheel: {missing}"


def test_the_wheel_holds_every_file_of_the_source_tree(wheel):
    missing = sorted(_source_files() - set(wheel.namelist()))
    assert not missing, f"in the checkout but not in the wheel (setup.cfg packages?): {missing}"


def test_the_wheel_holds_nothing_else(wheel):
    extra = sorted(set(_payload(wheel.namelist())) - _source_files())
    assert not extra, extra


def test_neither_the_wheel_nor_the_sdist_ships_the_daemon_launchers(wheel, sdist):
    """vitals_daemons (daemons/) starts the demo's, the tests' and the benches' daemons: tooling
    of this checkout, not something users install."""
    with tarfile.open(sdist) as tf:
        in_sdist = [name.split("/", 1)[-1] for name in tf.getnames()]
    shipped = [
        name
        for name in [*wheel.namelist(), *in_sdist]
        if name.split("/")[0] in ("daemons", "vitals_daemons")
    ]
    assert not shipped, shipped


def test_the_sdist_builds_a_wheel_with_the_same_files(wheel, sdist, tmp_path):
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path / "src", filter="data")
    (unpacked,) = (tmp_path / "src").iterdir()
    _build(tmp_path / "out", unpacked, "--wheel")
    (rebuilt,) = (tmp_path / "out").glob("*.whl")
    with zipfile.ZipFile(rebuilt) as zf:
        assert _payload(zf.namelist()) == _payload(wheel.namelist())


def test_metadata(wheel):
    meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    meta = email.message_from_string(wheel.read(meta_name).decode("utf-8"))
    assert meta["Name"] == "salt-vitals"
    assert meta["Version"] == salt_ext.__version__
    assert meta["Requires-Python"] == ">=3.9"
    assert meta["License-Expression"] == "Apache-2.0"
    assert "Framework :: Salt" in meta.get_all("Classifier")
    requires = meta.get_all("Requires-Dist")
    runtime = sorted(r.split(">")[0] for r in requires if "extra ==" not in r)
    assert runtime == ["psutil", "salt"]  # the brief: salt and psutil only
    assert meta["Description-Content-Type"] == "text/markdown"
    description = meta.get_payload()
    assert description.strip() == (CHECKOUT / "README.md").read_text(encoding="utf-8").strip()
    html = readme_renderer.markdown.render(description, variant="GFM")
    assert html and "<h1" in html
    license_name = next(n for n in wheel.namelist() if n.endswith("licenses/LICENSE"))
    assert b"Apache License" in wheel.read(license_name)


def test_the_salt_loader_entry_point(wheel):
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(name).decode()
    assert "[salt.loader]" in text
    assert "salt-vitals = salt_ext" in text


def test_setup_cfg_alone_declares_the_package(wheel):
    """The metadata has one home: a ``[project]`` table in pyproject.toml would win over
    setup.cfg, so a dependency added there would silently replace these."""
    pyproject = (CHECKOUT / "pyproject.toml").read_text(encoding="utf-8")
    tables = re.findall(r"^\[+([^\]]+)\]", pyproject, re.MULTILINE)
    assert not [t for t in tables if t.startswith(("project", "tool.setuptools"))], tables
    cfg = configparser.ConfigParser()
    cfg.read(CHECKOUT / "setup.cfg", encoding="utf-8")

    def lines(value):
        return [line.strip() for line in value.splitlines() if line.strip()]

    declared = [str(Requirement(r)) for r in lines(cfg["options"]["install_requires"])]
    for extra, value in cfg["options.extras_require"].items():
        for text in lines(value):
            req = Requirement(text)
            # the wheel adds the extra to the requirement's own marker, as setuptools writes it
            both = [str(req.marker)] if req.marker else []
            req.marker = Marker(" and ".join([*both, f'extra == "{extra}"']))
            declared.append(str(req))
    meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    meta = email.message_from_string(wheel.read(meta_name).decode("utf-8"))
    built = [str(Requirement(req)) for req in meta.get_all("Requires-Dist")]
    assert built == declared
    assert meta.get_all("Provides-Extra") == list(cfg["options.extras_require"])

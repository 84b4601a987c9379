"""scripts/setup-env.sh's one list of Debian packages (SYSTEM_PACKAGES) covers every program
the launchers of vitals_daemons run for the demo and the tests, and ``ensure_system_packages``
reports instead of failing where apt-get cannot run.

What a daemon launches is observed, not restated: each launcher is built with its two lookup
helpers (``process.require_executable``, ``process.require_file``) recording what they are
asked for, and its command line is read from ``_command()``. Nothing is started, so this holds
on a machine with none of the packages installed."""

import configparser
import importlib
import importlib.metadata
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import demo
import vitals_daemons
from vitals_daemons import process
from vitals_daemons.carbon import CarbonCache
from vitals_daemons.carbon_c_relay import CarbonCRelay
from vitals_daemons.graphite_web import GraphiteWeb
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.salt import SaltMaster, SaltMinion
from vitals_daemons.victoria_metrics import VictoriaMetrics

CHECKOUT = Path(__file__).resolve().parent.parent.parent
SETUP_ENV = CHECKOUT / "scripts" / "setup-env.sh"
VENV_BIN = Path(sys.executable).parent
ROLES = {"demo", "demo-influxdb", "test"}  # demo.sh, demo.sh --influxdb, test.sh


def system_packages(*roles):
    """{package: probes} of the SYSTEM_PACKAGES lines any of ``roles`` needs."""
    out = subprocess.run(
        ["bash", "-c", 'source "$0" && system_packages "$@"', str(SETUP_ENV), *roles],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()}


class Lookups:
    """Stands in for the launchers' lookup helpers; ``asked`` holds what one launcher needed from
    the system: command names and absolute paths, the probes SYSTEM_PACKAGES lists."""

    def __init__(self):
        self.asked = set()
        self.system_paths = set()

    def executable(self, name, *, prefer_dir=None):
        if prefer_dir is not None and (prefer_dir / name).is_file():
            return str(prefer_dir / name)  # the venv's own: checked by its owner below
        self.asked.add(name)
        path = f"/on-the-path/{name}"
        self.system_paths.add(path)
        return path

    def file(self, path, package):
        self.asked.add(str(path))
        self.system_paths.add(str(path))
        return str(path)


def launcher_factories(root):
    """Every launcher of vitals_daemons, built the way the demo and the tests build them."""
    carbon = CarbonCache(root / "carbon-for-web")
    master = SaltMaster(root / "master-for-minion", {})
    return {
        CarbonCache: lambda: CarbonCache(root / "carbon"),
        InfluxD: lambda: InfluxD(root / "influxd"),
        VictoriaMetrics: lambda: VictoriaMetrics(root / "victoria-metrics"),
        CarbonCRelay: lambda: CarbonCRelay(root / "relay", [("127.0.0.1", 2003)]),
        GraphiteWeb: lambda: GraphiteWeb(root / "graphite-web", carbon),
        SaltMaster: lambda: SaltMaster(root / "master", {}),
        SaltMinion: lambda: SaltMinion(root / "minion", master, "m1", {}),
    }


def launchers():
    for module in pkgutil.iter_modules(vitals_daemons.__path__, "vitals_daemons."):
        importlib.import_module(module.name)  # a launcher's class exists once its module ran
    found, todo = set(), [process._Daemon]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if not sub.__name__.startswith("_"):
                found.add(sub)
    return found


def venv_distributions():
    """Names of what scripts/setup-env.sh installs into the venv: setup.cfg's requirements."""
    cfg = configparser.ConfigParser()
    cfg.read(CHECKOUT / "setup.cfg", encoding="utf-8")
    lines = cfg["options"]["install_requires"].split()
    for value in cfg["options.extras_require"].values():
        lines += value.splitlines()
    names = (re.match(r"[A-Za-z0-9._-]+", line.strip()) for line in lines if line.strip())
    return {canonical(m.group(0)) for m in names if m}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def owner(path):
    """The installed distribution whose RECORD holds ``path`` (a venv script)."""
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            if file.name == path.name and Path(dist.locate_file(file)).resolve() == path.resolve():
                return canonical(dist.metadata["Name"])
    return None


def needs(cls, root, monkeypatch):
    """(what the launcher asks of the system, the venv programs it runs, programs it runs that
    no lookup helper found)."""
    factory = launcher_factories(root)[cls]
    lookups = Lookups()
    monkeypatch.setattr(process, "require_executable", lookups.executable)
    monkeypatch.setattr(process, "require_file", lookups.file)
    argv = factory()._command()
    monkeypatch.undo()
    interpreted = Path(argv[0]).name.startswith("python")
    programs = argv[:2] if interpreted else argv[:1]  # a script's interpreter and the script
    venv, unknown = [], []
    for program in programs:
        if program in lookups.system_paths or Path(program) == Path(sys.executable):
            continue
        (venv if Path(program).parent == VENV_BIN else unknown).append(program)
    return lookups.asked, venv, unknown


def test_every_launcher_is_checked(tmp_path):
    assert set(launcher_factories(tmp_path)) == launchers()


def test_the_list_is_well_formed():
    lines = [
        line
        for line in SETUP_ENV.read_text().split("SYSTEM_PACKAGES='")[1].split("'")[0].splitlines()
        if line.strip()
    ]
    assert lines
    for line in lines:
        package, probes, users = (part.strip() for part in line.split("|"))
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", package), line
        assert probes.split(), line
        assert set(users.split()) <= ROLES and users.split(), line
    assert len(system_packages(*ROLES)) == len(lines)


DEMO_LAUNCHERS = sorted(
    (v for v in vars(demo).values() if isinstance(v, type) and issubclass(v, process._Daemon)),
    key=lambda cls: cls.__name__,
)


def check_installed(cls, roles, root, monkeypatch):
    asked, venv, unknown = needs(cls, root, monkeypatch)
    assert not unknown, f"{cls.__name__} runs {unknown}, found by no lookup helper"
    probes = {p for ps in system_packages(*roles).values() for p in ps}
    assert asked <= probes, f"{cls.__name__} needs {asked - probes}: add it to SYSTEM_PACKAGES"
    allowed = venv_distributions()
    for program in venv:
        assert owner(Path(program)) in allowed, f"{program} comes from none of {allowed}"


@pytest.mark.parametrize("cls", DEMO_LAUNCHERS, ids=lambda cls: cls.__name__)
def test_what_the_demo_launches_demo_sh_installs(cls, tmp_path, monkeypatch):
    # InfluxD only runs with --influxdb, which adds the role demo-influxdb
    roles = ("demo", "demo-influxdb") if cls is InfluxD else ("demo",)
    check_installed(cls, roles, tmp_path, monkeypatch)


@pytest.mark.parametrize(
    "cls", sorted(launchers(), key=lambda cls: cls.__name__), ids=lambda cls: cls.__name__
)
def test_what_the_tests_launch_test_sh_installs(cls, tmp_path, monkeypatch):
    check_installed(cls, ("test",), tmp_path, monkeypatch)


# ensure_system_packages, run with a PATH holding only stand-ins: `id` (the uid to be), and
# `apt-get` (logs its arguments) where the case has one.
PRESENT = "present-command"
LIST = f"""
here    | {PRESENT} {SETUP_ENV} | demo test complete
absent  | {PRESENT} /nonexistent/file | demo test
nowhere | no-such-command | test
"""


def ensure(tmp_path, *roles, uid=0, apt=True):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {"id": f"echo {uid}", PRESENT: "true", "dirname": 'echo "${1%/*}"'}
    if apt:
        scripts["apt-get"] = f'echo "$*" >> {tmp_path}/apt.log'
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    script = (
        'source "$0"; SYSTEM_PACKAGES=$1; shift; ensure_system_packages "$@"; echo "$NOT_INSTALLED"'
    )
    out = subprocess.run(
        ["/bin/bash", "-c", script, str(SETUP_ENV), LIST, *roles],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": str(bin_dir)},
    )
    log = tmp_path / "apt.log"
    return out.stdout.strip(), log.read_text().splitlines() if log.exists() else []


def test_ensure_installs_what_the_role_misses_and_nothing_else(tmp_path):
    assert ensure(tmp_path, "demo") == ("", ["update -qq", "install -y -qq absent"])


def test_ensure_with_nothing_missing_runs_no_apt_get(tmp_path):
    assert ensure(tmp_path, "complete", uid=1000) == ("", [])


def test_ensure_as_a_user_says_what_is_missing_and_why(tmp_path):
    assert ensure(tmp_path, "test", uid=1000) == (
        "absent nowhere not installed, and apt-get cannot install packages here (not root)",
        [],
    )


def test_ensure_without_apt_get_says_what_is_missing_and_why(tmp_path):
    assert ensure(tmp_path, "demo", apt=False) == (
        "absent not installed, and apt-get cannot install packages here (no apt-get)",
        [],
    )

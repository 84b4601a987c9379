# Sourced by scripts/test.sh and scripts/demo.sh: make a fresh machine ready, idempotently.
#   build_dist             sdist + wheel of this checkout into dist/ (PEP 517, wheel built from the sdist)
#   ensure_venv            .venv with the built wheel installed (never editable), the test/dev
#                          tools, pinned by requirements/ci-constraints.txt (install_requires stays
#                          loose), and the daemon launchers of daemons/ (vitals_daemons, editable)
#   ensure_salt3007_venv   the same wheel in a Salt 3007 venv, for tests/compat
#   ensure_psutil5_venv    the same wheel (no Salt) with Debian 12's psutil 5.9.4, for tests/compat
#   ensure_system_packages the Debian packages of SYSTEM_PACKAGES a command needs, when missing
set -euo pipefail

# The Debian packages this checkout runs, one a line:
#   package | what shows it is installed (commands on PATH or absolute paths; all of them)
#           | who needs it: demo (scripts/demo.sh), demo-influxdb (scripts/demo.sh --influxdb),
#             test (scripts/test.sh)
# tests/unit/test_setup_env.py fails when a launcher of daemons/vitals_daemons/ runs something
# for the demo or the tests that no line here (or the venv) provides.
SYSTEM_PACKAGES='
python3          | /usr/bin/python3                                | demo test
graphite-web     | /usr/lib/python3/dist-packages/graphite/wsgi.py | demo test
gunicorn         | gunicorn                                        | demo test
influxdb         | influxd                                         | demo-influxdb test
victoria-metrics | victoria-metrics                                | test
carbon-c-relay   | carbon-c-relay                                  | test
systemd-container | systemd-nspawn                                 | test
strace           | strace                                          | test
'

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
DIST="$ROOT/dist"
CONSTRAINTS="$ROOT/requirements/ci-constraints.txt"

_pip() {
    "$1" -m pip install -q --disable-pip-version-check "${@:2}" 2>&1 | grep -v "^WARNING: Location" >&2 || true
}

# The wheel users install: built from the sdist, so a file missing from the sdist is missing here.
build_dist() {
    local started=$SECONDS
    rm -rf "$DIST" "$ROOT/build" "$ROOT"/*.egg-info
    if ! "$PY" -m build --outdir "$DIST" "$ROOT" >"$ROOT/.tmp/build.log" 2>&1; then
        cat "$ROOT/.tmp/build.log" >&2
        echo "building the sdist and wheel failed" >&2
        exit 1
    fi
    rm -rf "$ROOT/build" "$ROOT"/*.egg-info
    WHEEL="$(ls "$DIST"/salt_vitals-*.whl)"
    echo "==> built $(basename "$WHEEL") and its sdist in $((SECONDS - started)) s" >&2
}

ensure_venv() {
    mkdir -p "$ROOT/.tmp"
    local stamp="$VENV/.salt-vitals-deps" want
    want="$(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" "$ROOT/daemons/pyproject.toml" "$CONSTRAINTS" \
        | sha1sum | cut -d' ' -f1)"
    [[ -x "$PY" ]] || python3 -m venv "$VENV"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "==> installing dependencies into $VENV (first run takes a minute or two)" >&2
        _pip "$PY" -c "$CONSTRAINTS" -U build setuptools wheel
    fi
    build_dist
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        # carbon installs under /opt/graphite unless told otherwise
        GRAPHITE_NO_PREFIX=1 _pip "$PY" -c "$CONSTRAINTS" "$WHEEL[test,dev]"
        # Editable: the launchers are tooling read from the checkout, like the tests that use
        # them, so an edit needs no reinstall; only salt_ext, the code under test, is a wheel.
        # setuptools maps the one package (no directory lands on sys.path).
        _pip "$PY" -c "$CONSTRAINTS" --no-build-isolation -e "$ROOT/daemons"
    fi
    _pip "$PY" --no-deps --force-reinstall "$WHEEL"
    (cd / && "$PY" -c "import salt, psutil, saltfactories, carbon, whisper, salt_ext, vitals_daemons") \
        || { echo "installing the Python dependencies failed" >&2; exit 1; }
    echo "$want" > "$stamp"
}

# A venv under .tmp with the pins of a constraints file and the built wheel, for tests/compat;
# made again when the pins change. Arguments: the venv's name, the constraints file, what it
# holds (for the messages), the imports that prove it usable, then pip options for the pins.
_compat_venv() {
    local venv="$ROOT/.tmp/$1" constraints="$2" what="$3" imports="$4"
    local stamp="$venv/.installed" want
    want="$(sha1sum < "$constraints" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "==> installing $what into $venv for the compatibility test" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        _pip "$venv/bin/python" "${@:5}" -r "$constraints"
    fi
    _pip "$venv/bin/python" --no-deps --force-reinstall "$WHEEL"
    if (cd / && "$venv/bin/python" -c "import $imports"); then
        echo "$want" > "$stamp"
    else
        echo "==> $what venv unusable: the compatibility test will skip" >&2
    fi
}

# Salt 3007.8's sdist ignores its requirements files: install it without deps, then its deps
# pinned by requirements/salt3007-constraints.txt; used by tests/compat to prove that 3007 loads
# this extension and that our returners win over the carbon/influxdb ones 3007 still ships.
ensure_salt3007_venv() {
    _compat_venv venv-salt3007 "$ROOT/requirements/salt3007-constraints.txt" "Salt 3007" \
        "salt.loader, psutil, salt_ext" --no-deps
}

# The oldest psutil line this package allows that users actually have (python3-psutil of
# Debian 12 / Raspberry Pi OS): tests/compat checks that it gives the same metrics as psutil 7.
ensure_psutil5_venv() {
    _compat_venv venv-psutil5 "$ROOT/requirements/psutil5-constraints.txt" "psutil 5" \
        "psutil, salt_ext.core.collect" --only-binary :all:
}

# system_packages ROLE...: "package probe..." for each line of SYSTEM_PACKAGES a ROLE needs.
system_packages() {
    local package probes users role
    while IFS='|' read -r package probes users; do
        package="${package//[[:space:]]/}"
        [[ -n $package ]] || continue
        for role in "$@"; do
            if [[ " ${users//[[:space:]]/ } " == *" $role "* ]]; then
                echo "$package" $probes
                break
            fi
        done
    done <<< "$SYSTEM_PACKAGES"
}

_present() {
    if [[ $1 == /* ]]; then [[ -e $1 ]]; else command -v "$1" >/dev/null; fi
}

# ensure_system_packages ROLE...: apt-get install the packages a ROLE needs whose probes are
# not all present. Where apt-get cannot run (not root, no apt-get) it installs nothing and sets
# NOT_INSTALLED to a phrase naming the missing packages and why (empty when nothing is missing).
ensure_system_packages() {
    local missing=() package probes probe why=""
    NOT_INSTALLED=""
    while read -r package probes; do
        for probe in $probes; do
            _present "$probe" || { missing+=("$package"); break; }
        done
    done < <(system_packages "$@")
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        why="not root"
    elif ! command -v apt-get >/dev/null; then
        why="no apt-get"
    else
        echo "==> apt-get install ${missing[*]}" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        return 0
    fi
    NOT_INSTALLED="${missing[*]} not installed, and apt-get cannot install packages here ($why)"
}

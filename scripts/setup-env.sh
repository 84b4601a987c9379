# Sourced by scripts/test.sh and scripts/demo.sh: make a fresh machine ready, idempotently.
#   build_dist             sdist + wheel of this checkout into dist/ (PEP 517, wheel built from the sdist)
#   ensure_venv            .venv with the built wheel installed (never editable) and the test/dev
#                          tools, pinned by requirements/ci-constraints.txt (install_requires stays loose)
#   ensure_salt3007_venv   the same wheel in a Salt 3007 venv, for tests/compat
#   ensure_debian_daemons  influxd, victoria-metrics (and the other test tools) from Debian, when
#                          root and missing
set -euo pipefail

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
    want="$(cat "$ROOT/pyproject.toml" "$CONSTRAINTS" | sha1sum | cut -d' ' -f1)"
    [[ -x "$PY" ]] || python3 -m venv "$VENV"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "==> installing dependencies into $VENV (first run takes a minute or two)" >&2
        _pip "$PY" -c "$CONSTRAINTS" -U build setuptools wheel
    fi
    build_dist
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        # carbon installs under /opt/graphite unless told otherwise
        GRAPHITE_NO_PREFIX=1 _pip "$PY" -c "$CONSTRAINTS" "$WHEEL[test,dev]"
    fi
    _pip "$PY" --no-deps --force-reinstall "$WHEEL"
    (cd / && "$PY" -c "import salt, psutil, saltfactories, carbon, whisper, salt_ext") \
        || { echo "installing the Python dependencies failed" >&2; exit 1; }
    echo "$want" > "$stamp"
}

# Salt 3007.8's sdist ignores its requirements files: install it without deps, then its deps
# pinned by requirements/salt3007-constraints.txt; used by tests/compat to prove that 3007 loads
# this extension and that our returners win over the carbon/influxdb ones 3007 still ships.
ensure_salt3007_venv() {
    local venv="$ROOT/.tmp/venv-salt3007" constraints="$ROOT/requirements/salt3007-constraints.txt"
    local stamp="$venv/.installed" want
    want="$(sha1sum < "$constraints" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "==> installing Salt 3007 into $venv for the compatibility test" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        _pip "$venv/bin/python" --no-deps -r "$constraints"
    fi
    _pip "$venv/bin/python" --no-deps --force-reinstall "$WHEEL"
    if (cd / && "$venv/bin/python" -c "import salt.loader, psutil, salt_ext"); then
        echo "$want" > "$stamp"
    else
        echo "==> Salt 3007 venv unusable: the compatibility test will skip" >&2
    fi
}

ensure_debian_daemons() {
    local missing=()
    command -v influxd >/dev/null || missing+=(influxdb)
    command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
    command -v carbon-c-relay >/dev/null || missing+=(carbon-c-relay)
    # the read-back and Grafana tests query a real graphite-web (Debian's, under gunicorn)
    command -v graphite-manage >/dev/null || missing+=(graphite-web)
    command -v gunicorn >/dev/null || missing+=(gunicorn)
    # the spool fault tests kill jobs at an exact syscall (strace -e inject=...:delay_enter)
    command -v strace >/dev/null || missing+=(strace)
    [[ ${#missing[@]} -eq 0 ]] && return
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "==> ${missing[*]} not installed and cannot apt-get here: their tests will skip" >&2
        return
    fi
    echo "==> apt-get install ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

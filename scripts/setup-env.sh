# Sourced by scripts/test.sh and scripts/demo.sh: make a fresh machine ready, idempotently.
#   ensure_venv          .venv with this project (editable) and its test/demo tools, pinned by
#                        requirements/ci-constraints.txt (install_requires itself stays loose)
#   ensure_debian_daemons  influxd and victoria-metrics from Debian, when root and missing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

ensure_venv() {
    local stamp="$VENV/.salt-vitals-installed"
    local want
    want="$(cat "$ROOT/setup.cfg" "$ROOT/requirements/ci-constraints.txt" | sha1sum | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return
    fi
    echo "==> installing into $VENV (first run takes a minute or two)" >&2
    [[ -x "$PY" ]] || python3 -m venv "$VENV"
    # carbon installs under /opt/graphite unless told otherwise
    GRAPHITE_NO_PREFIX=1 "$PY" -m pip install -q --disable-pip-version-check \
        -c "$ROOT/requirements/ci-constraints.txt" -e "$ROOT[test]" 2>&1 \
        | grep -v "^WARNING: Location" >&2 || true
    "$PY" -c "import salt, psutil, saltfactories, carbon, whisper, salt_ext" \
        || { echo "installing the Python dependencies failed" >&2; exit 1; }
    echo "$want" > "$stamp"
}

# Salt 3007.8's sdist ignores its requirements files: install it without deps, then its deps
# pinned by requirements/salt3007-constraints.txt; used by tests/compat to prove that 3007 loads
# this extension and that our returners win over the carbon/influxdb ones 3007 still ships.
ensure_salt3007_venv() {
    local venv="$ROOT/.tmp/venv-salt3007" constraints="$ROOT/requirements/salt3007-constraints.txt"
    local stamp="$venv/.installed" want
    want="$(cat "$constraints" | sha1sum | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return
    fi
    echo "==> installing Salt 3007 into $venv for the compatibility test" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$constraints" 2>&1 \
        | grep -v "^WARNING: Location" >&2 || true
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$ROOT" 2>&1 \
        | grep -v "^WARNING: Location" >&2 || true
    if "$venv/bin/python" -c "import salt.loader, psutil, salt_ext"; then
        echo "$want" > "$stamp"
    else
        echo "==> Salt 3007 venv unusable: the compatibility test will skip" >&2
    fi
}

ensure_debian_daemons() {
    local missing=()
    command -v influxd >/dev/null || missing+=(influxdb)
    command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
    [[ ${#missing[@]} -eq 0 ]] && return
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "==> ${missing[*]} not installed and cannot apt-get here: their tests will skip" >&2
        return
    fi
    echo "==> apt-get install ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, builds the sdist and wheel,
# installs the wheel (not editable), runs ruff, mypy, lint-imports and the docs build, then unit,
# functional, integration, packaging and compat tests (real salt-master/minions, carbon-cache,
# influxd, VictoriaMetrics) against that installed wheel: the checkout itself is never on
# sys.path. With --coverage, reports the coverage of salt_ext as installed, under the
# checkout's paths.
#
#   scripts/test.sh [pytest args]                  everything (e.g. scripts/test.sh tests/unit -x)
#   scripts/test.sh --layer LAYER [pytest args]    one layer: unit, functional, integration,
#                                                  packaging, compat, or a part of integration
#                                                  (backends, stack, topology, faults, wholehost,
#                                                  systemd): its folder, selected by its marker
#   scripts/test.sh --unit [pytest args]           the fast unit run: --fast --layer unit
#   --fast                                         no ruff/mypy/lint-imports/sphinx,
#                                                  and the wheel is rebuilt and reinstalled only
#                                                  when salt_ext/, states/ or the metadata changed
#                                                  since the last install
#   --coverage                                     measure coverage, in every Python process the
#                                                  tests start: it doubles the CPU time of the
#                                                  integration layer, so no run measures unasked
#
# A run with --layer or --unit always includes tests/test_installed.py, which fails if salt_ext
# is not imported from the installed wheel (tests/conftest.py refuses to start then, too).
source "$(dirname "$0")/setup-env.sh"

LAYER="" FAST="" MEASURE=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --layer) LAYER=${2:?--layer needs a layer name}; shift 2 ;;
        --layer=*) LAYER=${1#--layer=}; shift ;;
        --unit) LAYER=unit FAST=1; shift ;;
        --fast) FAST=1; shift ;;
        --coverage) MEASURE=1; shift ;;
        *) break ;;
    esac
done

# The folder of a layer (tests/conftest.py gives its tests the marker of the same name).
layer_folder() {
    case $1 in
        unit | functional | integration | packaging | compat) echo "tests/$1" ;;
        backends | stack | topology | faults | wholehost | systemd) echo "tests/integration/$1" ;;
        *)
            echo "unknown layer '$1': unit, functional, integration, packaging, compat," \
                "backends, stack, topology, faults, wholehost or systemd" >&2
            exit 2
            ;;
    esac
}

SELECT=()
if [[ -n $LAYER ]]; then
    folder="$(layer_folder "$LAYER")"
    SELECT=(-m "$LAYER" "tests/test_installed.py")
    given_path=""
    for arg in "$@"; do
        [[ $arg != -* && -e "$ROOT/${arg%%::*}" ]] && given_path=1
    done
    [[ -n $given_path ]] || SELECT+=("$folder")
fi

ensure_system_packages test
[[ -z $NOT_INSTALLED ]] || echo "==> $NOT_INSTALLED: their tests will skip" >&2
if [[ -n $FAST ]]; then
    ensure_current_venv
else
    ensure_venv
fi
if [[ -z $LAYER || $LAYER == compat ]]; then
    ensure_salt3007_venv
    ensure_psutil5_venv
fi
cd "$ROOT"
if [[ -z $FAST ]]; then
    echo "==> ruff check, ruff format --check" >&2
    "$VENV/bin/ruff" check --quiet .
    "$VENV/bin/ruff" format --check --quiet .
    echo "==> mypy (salt_ext, daemons/vitals_daemons)" >&2
    "$VENV/bin/mypy"
    echo "==> lint-imports (the layers of pyproject.toml's [tool.importlinter])" >&2
    "$VENV/bin/lint-imports" --no-cache >/dev/null || "$VENV/bin/lint-imports" --no-cache
    echo "==> sphinx-build -W docs -> .tmp/docs" >&2
    rm -rf "$ROOT/.tmp/docs"
    "$VENV/bin/sphinx-build" -W -q -b html docs "$ROOT/.tmp/docs"
fi
# salt-factories and the daemons write under TMPDIR: keep it inside the clone, short enough
# for unix socket paths.
export TMPDIR="$ROOT/.tmp"
export VITALS_DIST="$DIST"
rm -rf "$ROOT/.tmp/pytest"
# Coverage ([tool.coverage] in pyproject.toml) of the test process and of every Python process
# it starts (Salt daemons, salt-call): one data file each, combined at the end. The installed
# package is measured by its directory: Salt's loader imports our loader modules under names of
# its own (salt.loaded.ext...), which a package name would not match.
export COVERAGE_FILE="$ROOT/.tmp/coverage/.coverage"
rm -rf "$ROOT/.tmp/coverage"
mkdir -p "$ROOT/.tmp/coverage"
COVERAGE=()
if [[ -n $MEASURE ]]; then
    installed="$(cd / && "$PY" -c 'import os, salt_ext; print(os.path.dirname(salt_ext.__file__))')"
    COVERAGE=(--cov="$installed" --cov-report=term)
fi
# The pytest script, not `python -m pytest`: -m would put the checkout (the cwd) on sys.path.
exec "$VENV/bin/pytest" -p no:cacheprovider --basetemp="$ROOT/.tmp/pytest" -ra \
    "${COVERAGE[@]}" "${SELECT[@]}" "$@"

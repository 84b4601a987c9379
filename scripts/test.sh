#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, builds the sdist and wheel,
# installs the wheel (not editable), runs ruff, mypy and the docs build, then unit, functional,
# integration, packaging and compat tests (real salt-master/minions, carbon-cache, influxd,
# VictoriaMetrics) against that installed wheel: the checkout itself is never on sys.path.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
source "$(dirname "$0")/setup-env.sh"
ensure_system_packages test
[[ -z $NOT_INSTALLED ]] || echo "==> $NOT_INSTALLED: their tests will skip" >&2
ensure_venv
ensure_salt3007_venv
ensure_psutil5_venv
cd "$ROOT"
echo "==> ruff check, ruff format --check" >&2
"$VENV/bin/ruff" check --quiet .
"$VENV/bin/ruff" format --check --quiet .
echo "==> mypy (salt_ext/core, daemons/vitals_daemons)" >&2
"$VENV/bin/mypy"
echo "==> lint-imports (the layers of pyproject.toml's [tool.importlinter])" >&2
"$VENV/bin/lint-imports" --no-cache >/dev/null || "$VENV/bin/lint-imports" --no-cache
echo "==> sphinx-build -W docs -> .tmp/docs" >&2
rm -rf "$ROOT/.tmp/docs"
"$VENV/bin/sphinx-build" -W -q -b html docs "$ROOT/.tmp/docs"
# salt-factories and the daemons write under TMPDIR: keep it inside the clone, short enough
# for unix socket paths.
export TMPDIR="$ROOT/.tmp"
export VITALS_DIST="$DIST"
rm -rf "$ROOT/.tmp/pytest"
# The pytest script, not `python -m pytest`: -m would put the checkout (the cwd) on sys.path.
exec "$VENV/bin/pytest" -p no:cacheprovider --basetemp="$ROOT/.tmp/pytest" -ra "$@"

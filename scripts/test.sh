#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, runs unit, functional and
# integration tests (real salt-master/minions, carbon-cache, influxd, VictoriaMetrics).
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
source "$(dirname "$0")/setup-env.sh"
ensure_debian_daemons
ensure_venv
ensure_salt3007_venv
# salt-factories and the daemons write under TMPDIR: keep it inside the clone, short enough
# for unix socket paths.
mkdir -p "$ROOT/.tmp"
export TMPDIR="$ROOT/.tmp"
rm -rf "$ROOT/.tmp/pytest"
cd "$ROOT"
exec "$PY" -m pytest -p no:cacheprovider --basetemp="$ROOT/.tmp/pytest" -ra "$@"

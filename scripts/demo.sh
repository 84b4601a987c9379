#!/usr/bin/env bash
# Local demo on one machine: installs .venv if needed, then starts a carbon-cache, a salt-master
# and 2 salt-minions under .demo/ (loopback only), lets the master schedule run vitals.pollpush
# a few times, prints what landed in Graphite per node and stops everything it started.
# Options: --minions N (default 2), --cycles N (default 4), --no-keep (delete .demo/ afterwards).
source "$(dirname "$0")/setup-env.sh"
ensure_venv
exec "$PY" "$ROOT/scripts/demo.py" "$@"

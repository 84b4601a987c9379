#!/usr/bin/env bash
# Local demo on one machine: installs .venv if needed, then starts a carbon-cache, a salt-master
# and 2 salt-minions under .demo/ (loopback only), lets the master schedule run vitals.pollpush
# a few times, prints what landed in Graphite per node, reads it back through graphite-web
# (salt-run vitals.top and a graph) and stops everything it started.
# Options: --minions N (default 2), --cycles N (default 4), --influxdb (InfluxDB as a second
# backend), --no-keep (delete .demo/ afterwards).
# It apt-get installs the Debian packages SYSTEM_PACKAGES (scripts/setup-env.sh) lists for the
# demo when missing; where apt-get cannot run (not root, no apt-get), the demo skips what needs
# them and says so in one line.
source "$(dirname "$0")/setup-env.sh"
roles=(demo)
for arg in "$@"; do
    [[ $arg != --influxdb ]] || roles+=(demo-influxdb)
done
ensure_system_packages "${roles[@]}"
ensure_venv
VITALS_NOT_INSTALLED="$NOT_INSTALLED" exec "$PY" "$ROOT/scripts/demo.py" "$@"

#!/bin/sh
# Start a daemon without an init system of its own (no systemd, or an init script that cannot
# run here) and wait until it is ready; used by the influxdb and graphite states.
#   start-daemon.sh [--stale FILE]... PIDFILE LOGFILE USER READY_REGEX EXECUTABLE [ARGS...]
# --stale FILE: a pid file the daemon keeps itself and refuses to start over while the pid in it
# is alive. carbon-cache cannot delete its own (it drops root first), so after any stop the pid
# in it may be reused by another process; removed before a start, as PIDFILE (ours) says the
# daemon is not running. Paths without spaces.
# Exit 0 when the daemon is running (already, or now and its log matched READY_REGEX); exit 1
# with the daemon's last log lines (e.g. "address already in use") when it died or never got
# ready within 60 s.
set -eu
stale=""
while [ "$1" = --stale ]; do
    stale="$stale $2"
    shift 2
done
pidfile=$1 logfile=$2 user=$3 ready=$4
shift 4
exe=$1
shift
if start-stop-daemon --status --pidfile "$pidfile"; then
    exit 0
fi
for file in $stale; do
    rm -f -- "$file"
done
mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
touch "$logfile"
chown "$user" "$(dirname "$pidfile")" "$logfile"
before=$(wc -l < "$logfile")
start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$pidfile" \
    --chuid "$user" --no-close --startas "$exe" -- "$@" >>"$logfile" 2>&1 </dev/null
# the daemon's own words: its error lines if any, else its last lines
explain() {
    new=$(tail -n +"$((before + 1))" "$logfile")
    errors=$(printf '%s\n' "$new" | grep -iE 'in use|error|denied|fatal|cannot|couldn|failed' | tail -n 5)
    printf '%s\n' "${errors:-$(printf '%s\n' "$new" | tail -n 15)}" >&2
}
i=0
while [ $i -lt 120 ]; do
    sleep 0.5
    i=$((i + 1))
    if ! start-stop-daemon --status --pidfile "$pidfile"; then
        echo "$exe exited at start; its log says:" >&2
        explain
        exit 1
    fi
    if tail -n +"$((before + 1))" "$logfile" | grep -Eq "$ready"; then
        sleep 1  # still alive a moment after saying it is ready
        if start-stop-daemon --status --pidfile "$pidfile"; then
            echo "$exe started (pid $(cat "$pidfile"))"
            exit 0
        fi
    fi
done
echo "$exe did not get ready within 60 s; its log says:" >&2
explain
exit 1

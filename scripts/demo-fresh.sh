#!/usr/bin/env bash
# The README's demo command as on a fresh machine, run on this one: in a private mount
# namespace, this host's / becomes the lower layer of an overlay in memory, chrooted into with
# the host's network; there the Debian packages of SYSTEM_PACKAGES (scripts/setup-env.sh, all
# but python3) and pip's cache are removed, the checkout's committed HEAD is cloned, and
# `scripts/demo.sh ARGS` runs in the clone: it has to install everything itself again
# (apt-get, the venv from PyPI). Nothing it does reaches the host's disk or packages.
#   sudo scripts/demo-fresh.sh [demo.sh args]     e.g. --influxdb
# Exit status: the demo's. Needs root, unshare, chroot and network.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup-env.sh"
[[ $(id -u) == 0 ]] || {
    echo "demo-fresh.sh: needs root (mount namespace, overlay, chroot)" >&2
    exit 2
}
remove=$(system_packages demo demo-influxdb test | awk '$1 != "python3" {print $1}' | xargs)
# The Debian packages these pull in that a fresh Debian does not have either.
remove="$remove graphite-carbon python3-whisper"
work=$(mktemp -d /tmp/demo-fresh.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/lower" "$work/rw" "$work/root"

unshare --mount --propagation private bash -s "$work" "$ROOT" "$remove" "$@" <<'EOF'
set -euo pipefail
work=$1 checkout=$2 remove=$3
shift 3
mount -n --bind / "$work/lower"
mount -n -t tmpfs -o mode=0755,size=8g tmpfs "$work/rw"
mkdir "$work/rw/upper" "$work/rw/work"
mount -n -t overlay overlay \
    -o "lowerdir=$work/lower,upperdir=$work/rw/upper,workdir=$work/rw/work" "$work/root"
root=$work/root
mount -n -t proc proc "$root/proc"
mount -n --rbind /sys "$root/sys"
mount -n --rbind /dev "$root/dev"
for dir in /run /tmp; do
    mount -n -t tmpfs -o mode=1777 tmpfs "$root$dir"
done
git clone -q "$checkout" "$root/root/salt-vitals"
echo "==> fresh machine: removing $remove" >&2
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $remove >/dev/null 2>&1
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get autoremove -y -qq >/dev/null 2>&1
rm -rf "$root/root/.cache/pip"
for package in $remove; do
    if chroot "$root" dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        echo "demo-fresh.sh: $package is still installed" >&2
        exit 1
    fi
done
echo "==> scripts/demo.sh $* in a fresh clone" >&2
started=$SECONDS
set +e
chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 bash -c 'cd /root/salt-vitals && scripts/demo.sh "$@"' demo "$@"
code=$?
echo "==> demo exited $code after $((SECONDS - started)) s on the fresh machine" >&2
# whatever the demo left running in the chroot would keep the overlay busy
for proc in /proc/[0-9]*; do
    if [[ $(readlink "$proc/root" 2>/dev/null) == "$root" ]]; then
        kill -9 "${proc#/proc/}" 2>/dev/null
    fi
done
exit $code
EOF

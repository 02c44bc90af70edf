#!/usr/bin/env bash
# Try the README's two commands as a new user would, on a fresh Debian root.
#
#   bash scripts/fresh-debian.sh RELEASE [WORKDIR]     # RELEASE: bookworm (12) or trixie (13)
#
# As root: makes WORKDIR/RELEASE (default /tmp/fresh-debian) with `debootstrap --variant=minbase`
# from this machine's own Debian package source, with only python3, python3-venv, python3-pip,
# git and ca-certificates; copies the host's CA certificates and resolver in; bind-mounts the
# root onto itself (the engine fixtures' `unshare --mount` needs `/` to be a mount point) and
# /proc, /sys, /dev below it; clones this repository (HEAD, committed work only) with ../shared
# beside it; runs the README's quick-start and test commands inside with a clean environment;
# prints the test summary; unmounts everything. The root is kept for a look afterwards
# (`--clean` removes it first for a new start). Output goes to WORKDIR/RELEASE.log too.
#
# A check for people and releases, not part of CI (it downloads a whole Debian).
set -euo pipefail

clean=0
if [ "${1:-}" = "--clean" ]; then clean=1; shift; fi
release=${1:?usage: fresh-debian.sh [--clean] bookworm|trixie [WORKDIR]}
work=${2:-/tmp/fresh-debian}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" 2>/dev/null && pwd || true)
root="$work/$release"
log="$work/$release.log"

[ "$(id -u)" = 0 ] || { echo "fresh-debian: needs root"; exit 2; }
mkdir -p "$work"

# The first Debian archive this machine's apt uses (deb822 or one-line form).
mirror=$(
    { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
      grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } |
    grep -E '/debian/?$' | head -n1 || true
)
mirror=${mirror:-http://deb.debian.org/debian}

command -v debootstrap >/dev/null || {
    echo "fresh-debian: installing debootstrap"
    apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq debootstrap >/dev/null; }
}

unmount_all() {
    # deepest first; lazily, so a busy /dev does not keep the rest mounted
    awk -v r="$root" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo |
        sort -r | while read -r point; do umount -l "$point" 2>/dev/null || true; done
}
trap unmount_all EXIT
unmount_all
if [ "$clean" = 1 ]; then rm -rf "$root"; fi

if [ ! -x "$root/usr/bin/python3" ]; then
    echo "fresh-debian: debootstrap $release from $mirror into $root"
    rm -rf "$root"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python3-pip,git,ca-certificates \
        "$release" "$root" "$mirror" >"$work/$release.debootstrap.log" 2>&1 ||
        { echo "fresh-debian: debootstrap failed (see $work/$release.debootstrap.log)"; exit 1; }
fi

# Certificates: this machine may reach its registries through a proxy with its own CA.
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
printf 'deb %s %s main\n' "$mirror" "$release" >"$root/etc/apt/sources.list"

mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"

rm -rf "$root/work"
mkdir -p "$root/work"
git clone -q "$repo" "$root/work/main"
if [ -n "$shared" ]; then cp -a "$shared" "$root/work/shared"; fi

echo "fresh-debian: $release $(cat "$root/etc/debian_version"), running the README's commands"
set +e
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c 'cd /work/main && bash scripts/quickstart.sh >/tmp/quickstart.out &&
             echo "quickstart: exit 0, $(wc -l </tmp/quickstart.out) lines" &&
             bash scripts/test.sh' 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e
echo "fresh-debian: $release: exit $code; $(grep -E '^summary: ' "$log" | tail -n1)"
exit "$code"

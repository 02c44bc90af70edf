#!/bin/sh
# Install the real container engines used by the `engines` tests (tests/engines.py).
#
# Idempotent: installs only what is missing, and runs `apt-get update` only when
# a package cannot be found in the current lists. Quiet: apt's output goes to a
# log file; one summary line is printed. Never fails the caller: when this is
# not a root Debian machine, it says the engine tests will be skipped, exits 0.
set -u

PACKAGES="docker.io buildah podman skopeo docker-registry busybox-static zstd xz-utils umoci"
# What the packages above recommend but the tests truly need offline:
#   containerd, runc   - dockerd spawns its own containerd and runs RUN steps with runc
#   crun, conmon       - podman's runtime and monitor (podman system service, podman save)
#   uidmap             - newuidmap/newgidmap that buildah/podman probe for
#   gzip               - `docker save | gzip` in the fixtures
# Not wanted: fuse-overlayfs, slirp4netns, iptables rules (we use vfs and no network).
EXTRA="containerd runc crun conmon uidmap gzip"
LOG="${ENGINES_INSTALL_LOG:-/tmp/install-engines.log}"

skip() {
    echo "install-engines: $1; engine tests will be skipped"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "not root"
command -v apt-get >/dev/null 2>&1 || skip "no apt-get (not Debian)"
[ -r /etc/debian_version ] || skip "not Debian"

missing() {
    for p in $PACKAGES $EXTRA; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
            || printf '%s ' "$p"
    done
}

todo=$(missing)
if [ -z "$todo" ]; then
    echo "install-engines: all engine packages already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
: >"$LOG"
# `apt-get update` only if some wanted package has no candidate in the lists.
for p in $todo; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update >>"$LOG" 2>&1 || skip "apt-get update failed (see $LOG)"
        break
    fi
done

# shellcheck disable=SC2086  # word splitting of the package list is intended
if apt-get install -y --no-install-recommends $todo >>"$LOG" 2>&1; then
    echo "install-engines: installed $(echo $todo | wc -w) package(s): $todo(log: $LOG)"
else
    skip "apt-get install failed (see $LOG)"
fi

#!/bin/sh
# Install the real container engines used by the `engines` tests (tests/engines.py).
#
# Idempotent: installs only what is missing, and runs `apt-get update` only when
# a wanted package has no candidate in the current lists. Quiet: apt's output
# goes to a log file and one summary line is printed. Never fails its caller:
# when this is not a root Debian machine, it says the engine tests will be
# skipped and exits 0.
set -u

PACKAGES="docker.io buildah podman skopeo docker-registry busybox-static zstd xz-utils umoci"
# Their Depends bring containerd, runc, tini (docker.io), crun, conmon, uidmap
# (podman/buildah). The fixtures also run unshare and mount (util-linux, mount)
# and gzip, normally present. Recommends are not wanted: fuse-overlayfs and
# slirp4netns (we use vfs and no network), apparmor, needrestart.
EXTRA="util-linux mount gzip"
LOG="${ENGINES_INSTALL_LOG:-/tmp/install-engines.log}"

skip() {
    echo "install-engines: $1; engine tests will be skipped"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "not root"
command -v apt-get >/dev/null 2>&1 || skip "no apt-get"
[ -r /etc/debian_version ] || skip "not Debian"

missing() {
    for p in $PACKAGES $EXTRA; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            printf '%s ' "$p"
    done
}

todo=$(missing)
if [ -z "$todo" ]; then
    echo "install-engines: all engine packages already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
: >"$LOG"
for p in $todo; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update >>"$LOG" 2>&1 || skip "apt-get update failed (see $LOG)"
        break
    fi
done

# docker.io's and docker-registry's postinst would start system services (a
# dockerd on /var/run/docker.sock, a registry on :5000). The tests start their
# own private ones, so forbid service starts during the install unless the
# machine already has a policy.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod 755 "$guard"
    trap 'rm -f "$guard"' EXIT
fi

# shellcheck disable=SC2086  # the package list is split on purpose
if apt-get install -y --no-install-recommends $todo >>"$LOG" 2>&1; then
    echo "install-engines: installed $(echo $todo | wc -w) package(s): ${todo}(log: $LOG)"
else
    skip "apt-get install failed (see $LOG)"
fi

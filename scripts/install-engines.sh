#!/bin/sh
# Install every Debian package the test suite uses: the real container engines
# (tests/plugins/engines/) and the tools the tests call.
#
# Idempotent: installs only what is missing, and runs `apt-get update` only when
# a wanted package has no candidate in the current lists. Quiet: apt's output
# goes to a log file and one summary line is printed. When this is not a root
# Debian machine, it says so in one line and exits 0: the tests that need these
# tools are then skipped (and listed at the end). On a root Debian machine a
# package that cannot be had is named in one line, and the tests that need it
# fail (tests/support/needs.py): a skip there would hide a missing install step.
set -u

# Debian 12 ships the docker CLI inside docker.io; Debian 13 has it in docker-cli,
# which docker.io only recommends (and Recommends are not installed here).
PACKAGES="docker.io docker-cli buildah podman skopeo docker-registry busybox-static"
# Depends bring containerd, runc, tini (docker.io), crun, conmon, uidmap (podman,
# buildah). Recommends are not wanted: fuse-overlayfs and slirp4netns (we use vfs
# and no network), apparmor, needrestart.
# The tests also call: GNU time (peak memory of hostile inputs), the compressors,
# unshare/setpriv/mount (util-linux, mount), strace (no file outside an input is opened),
# sha256sum and diff (essential anyway), and Mojo::Date (libmojolicious-perl), the repo-info
# generator's own date code, which tests/test_generator_date.py checks every date rule against.
# And chromium, headless (tests/report/): the HTML report is rendered in a real browser, its
# DOM and a screenshot checked; fonts-liberation (only a Recommends of chromium, not
# installed here) gives the screenshot its text.
TOOLS="time strace zstd xz-utils gzip util-linux mount libmojolicious-perl chromium fonts-liberation"
# Debian 12's dockerd 20.10, which the tests fetch on Debian 13 (fetch-engines.sh bookworm),
# links libdevmapper.so.1.02.1: Debian 12's docker.io brings it, Debian 13's does not. (An
# LD_LIBRARY_PATH would not do: dockerd re-executes itself to apply layers with a clean
# environment.)
LIBRARIES="libdevmapper1.02.1"
# Packages that exist only in some releases; absent ones are not an error.
OPTIONAL="docker-cli"
LOG="${ENGINES_INSTALL_LOG:-/tmp/install-engines.log}"

say_skip() {
    echo "install-engines: $1; the tests that need real engines will be skipped"
    exit 0
}

[ "$(id -u)" = 0 ] || say_skip "not root"
command -v apt-get >/dev/null 2>&1 || say_skip "no apt-get"
[ -r /etc/debian_version ] || say_skip "not Debian"

installed() {
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}
has_candidate() {
    apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'
}
is_optional() {
    case " $OPTIONAL " in *" $1 "*) return 0 ;; esac
    return 1
}

todo="" needed=""
for p in $PACKAGES $TOOLS $LIBRARIES; do
    installed "$p" && continue
    todo="$todo $p"
    # an optional package this release does not have (Debian 12's docker-cli) is no work left
    { is_optional "$p" && ! has_candidate "$p"; } || needed="$needed $p"
done
if [ -z "$needed" ]; then
    echo "install-engines: all packages already installed (Debian $(cat /etc/debian_version))"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
: >"$LOG"
for p in $todo; do
    if ! has_candidate "$p" && ! is_optional "$p"; then
        apt-get update >>"$LOG" 2>&1 || echo "install-engines: apt-get update failed (see $LOG)"
        break
    fi
done

wanted="" absent=""
for p in $todo; do
    if has_candidate "$p"; then
        wanted="$wanted $p"
    elif ! is_optional "$p"; then
        absent="$absent $p"
    fi
done
[ -z "$absent" ] ||
    echo "install-engines: not in this machine's Debian archive:$absent; the tests that need them will FAIL"
[ -n "$wanted" ] || exit 0

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
if apt-get install -y --no-install-recommends $wanted >>"$LOG" 2>&1; then
    echo "install-engines: installed$wanted (Debian $(cat /etc/debian_version); log: $LOG)"
else
    echo "install-engines: apt-get install failed (see $LOG); the tests that need these will FAIL"
fi

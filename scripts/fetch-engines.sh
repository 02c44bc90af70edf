#!/bin/sh
# A Debian release's container engines, unpacked into .engines/<suite>/ with nothing
# installed system-wide: the tests run dockerd 26 with the containerd image store (trixie's
# docker.io, docker-cli, docker-buildx, containerd 1.7) from there on Debian 12 and 13 alike.
# `bookworm` fetches dockerd 20.10 and containerd 1.6 the same way: the tests use them on
# Debian 13 (on Debian 12 they are the system's).
#
#   sh scripts/fetch-engines.sh            trixie's (the default; what the tests use on 12 and 13)
#   sh scripts/fetch-engines.sh SUITE      that suite's
#
# apt-get downloads from this machine's own Debian mirror (its first deb.debian.org-style URI)
# with the suite changed, into a private sources list, lists and cache; `dpkg -x` unpacks each
# package into .engines/<suite>/root. Their runc is not used (trixie's needs glibc 2.38): the
# tests run the system's. Idempotent: a complete unpack is marked .engines/<suite>/done (holding
# the package list, so a changed list fetches again).
# Not root, no apt-get or not Debian: says so in one line and exits 0.
set -u
cd "$(dirname "$0")/.."

say_skip() {
    echo "fetch-engines: $1; the tests that need these engines will be skipped"
    exit 0
}
[ "$(id -u)" = 0 ] || say_skip "not root"
command -v apt-get >/dev/null 2>&1 || say_skip "no apt-get"
[ -r /etc/debian_version ] || say_skip "not Debian"

suite=${1:-trixie}
case "$suite" in
    trixie) packages="docker.io docker-cli docker-buildx containerd" ;;
    # dockerd 20.10 also links libdevmapper.so.1.02.1: install-engines.sh installs it
    bookworm) packages="docker.io containerd" ;;
    *) echo "fetch-engines: no package list for suite $suite"; exit 2 ;;
esac

dest=$PWD/.engines/$suite
if [ "$(cat "$dest/done" 2>/dev/null)" = "$packages" ]; then
    echo "fetch-engines: $suite engines already in $dest"
    exit 0
fi

# The machine's own mirror: the first URI of a deb822 .sources file or a one-line entry.
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}')
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}')
fi
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

rm -rf "$dest"
mkdir -p "$dest/apt/lists/partial" "$dest/apt/cache/archives/partial" "$dest/debs" "$dest/root"
echo "deb [signed-by=$keyring] $mirror $suite main" >"$dest/apt/sources.list"
log=$dest/apt/log
set -- -o Dir::Etc::sourcelist="$dest/apt/sources.list" -o Dir::Etc::sourceparts=/dev/null \
    -o Dir::State::Lists="$dest/apt/lists" -o Dir::Cache="$dest/apt/cache" \
    -o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0 \
    -o APT::Sandbox::User=root
if ! apt-get "$@" update >"$log" 2>&1; then
    echo "fetch-engines: apt-get update of $suite from $mirror failed (see $log)"
    exit 1
fi
# shellcheck disable=SC2086  # the package list is split on purpose
if ! (cd "$dest/debs" && apt-get "$@" download $packages >>"$log" 2>&1); then
    echo "fetch-engines: apt-get download of $packages ($suite) failed (see $log)"
    exit 1
fi
for deb in "$dest"/debs/*.deb; do
    dpkg -x "$deb" "$dest/root" || { echo "fetch-engines: dpkg -x $deb failed"; exit 1; }
done
rm -rf "$dest/apt/cache" "$dest/apt/lists"
echo "$packages" >"$dest/done"
echo "fetch-engines: $suite's $packages unpacked into $dest/root"

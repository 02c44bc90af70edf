#!/usr/bin/env bash
# The whole test suite, from a clean checkout:
#   1. as root on Debian: every Debian package the suite uses (scripts/install-engines.sh),
#      and Debian 13's engines unpacked into .engines/trixie (scripts/fetch-engines.sh; on
#      Debian 13, Debian 12's dockerd 20.10 into .engines/bookworm),
#   2. a venv with the project and its test dependencies,
#   3. pytest (real engines included),
#   4. as root: the suite's engine-free part again inside a network namespace with no
#      interfaces (`unshare -n`), which shows no code path needs the network,
#   5. the fuzzers, FUZZ_SECONDS (default 60) per reader.
# Arguments go to the first pytest run (`bash scripts/test.sh -k verify -x`); with
# arguments, steps 4 and 5 are left out. Every temporary file goes to one private folder,
# removed at the end. The last line is `summary: N passed, N failed, N skipped`, with the
# reasons for any skip on the lines before it.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/install-engines.sh
sh scripts/fetch-engines.sh trixie  # dockerd 26, containerd 1.7, buildx: into .engines/, not installed
# dockerd 20.10 is the system's on Debian 12; elsewhere bookworm's, fetched the same way
grep -q '^12\.' /etc/debian_version 2>/dev/null || sh scripts/fetch-engines.sh bookworm
. scripts/venv.sh
make_venv "[test]"
python=.venv/bin/python

# Short: the engines' unix sockets and podman's runroot live below it.
scratch=$(mktemp -d /tmp/rtest-XXXXXX)
tmp_before=$(ls -A /tmp)
cleanup() {
    awk -v r="$scratch" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo |
        sort -r | while read -r point; do umount -l "$point" 2>/dev/null || true; done
    rm -rf --one-file-system "$scratch"
}
trap cleanup EXIT
export TMPDIR="$scratch"
export RECONSTRUCT_TEST_SUMMARY="$scratch/summary.jsonl"
: >"$RECONSTRUCT_TEST_SUMMARY"

status=0
fuzz="fuzzers not run"
run_pytest() {
    set +e
    "$@"
    local code=$?
    set -e
    # pytest's 5 means "no test ran": a failure here, never a silent pass.
    [ "$code" = 5 ] && echo "test.sh: no test ran"
    [ "$code" = 0 ] || status=1
}
pytest=("$python" -m pytest -q -p no:cacheprovider)
run_pytest "${pytest[@]}" --basetemp="$scratch/pytest" "$@"
if [ $# -eq 0 ]; then
    if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
        echo "test.sh: again without a network (unshare -n), engine tests left out"
        run_pytest unshare -n "${pytest[@]}" --basetemp="$scratch/pytest-offline" -m "not engines" -x
    else
        echo "test.sh: unshare -n needs root: the offline run is left out"
    fi
    if PYTHON="$python" bash tests/fuzz/run.sh; then fuzz="8 fuzzers, no crash"; else
        fuzz="a fuzzer FAILED"; status=1
    fi
fi

left=$(comm -13 <(echo "$tmp_before" | sort) <(ls -A /tmp | sort) | grep -v "^${scratch#/tmp/}\$" || true)
if [ -n "$left" ]; then echo "test.sh: left in /tmp by the run: $(echo "$left" | tr '\n' ' ')"; fi

"$python" - "$RECONSTRUCT_TEST_SUMMARY" "$fuzz" "$(($(date +%s) - started))" <<'EOF'
import json, sys
from collections import Counter
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
total = Counter()
reasons, known = Counter(), Counter()
for run in runs:
    total.update({k: run[k] for k in ("passed", "failed", "skipped")})
    reasons.update(run["reasons"])
    known.update(run["xfailed"])
parts = "; ".join(f"run {i}: {r['passed']} passed, {r['failed']} failed, {r['skipped']} skipped"
                  for i, r in enumerate(runs, 1))
print(f"test.sh: {len(runs)} pytest run(s) ({parts}); {sys.argv[2]}; {sys.argv[3]} s")
for reason, count in known.most_common():
    print(f"known gap: {count} × {reason} (xfail, strict)")
for reason, count in reasons.most_common():
    print(f"skipped: {count} × {reason}")
print(f"summary: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
EOF
exit "$status"

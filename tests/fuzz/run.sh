#!/usr/bin/env bash
# Fuzz every reader (the directory stores too) for FUZZ_SECONDS each (default 60) on a copy of
# the kept corpus, so a run never writes into the repository. Exit non-zero on the first crash
# (libFuzzer saves it in the work directory and prints its path). The seed is fixed (FUZZ_SEED,
# default 1) so that a run explores the same inputs first wherever it runs; set another to
# explore further.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python3}
# the loop below runs from a work directory: a relative interpreter path must not break
case "$python" in /*) ;; */*) python="$PWD/$python" ;; esac
seconds=${FUZZ_SECONDS:-60}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
work=$(mktemp -d /tmp/reconstruct-fuzz-run-XXXXXX)
# The store targets write a folder tree per input: on a tmpfs where there is one (much faster).
scratch=$(mktemp -d /dev/shm/reconstruct-fuzz-XXXXXX 2>/dev/null || mktemp -d "$work/scratch-XXXXXX")
trap 'rm -rf "$work" "$scratch"' EXIT
export TMPDIR="$work"  # fuzz.py's scratch files too: libFuzzer exits without running atexit
export RECONSTRUCT_FUZZ_SCRATCH="$scratch"
for target in json archive layout repo-info registry-dir docker-root containerd containers-storage; do
    mkdir -p "$work/$target"
    cp tests/fuzz/corpus/"$target"/* "$work/$target/" 2>/dev/null || true
    echo "fuzz: $target for ${seconds}s"
    (cd "$work" && "$python" "$OLDPWD/tests/fuzz/fuzz.py" "$target" -max_total_time="$seconds" \
        -seed="${FUZZ_SEED:-1}" -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$work/$target-" "$work/$target" \
        > "$work/$target.log" 2>&1) || { tail -40 "$work/$target.log"; echo "fuzz: $target FAILED"; exit 1; }
    runs=$(grep -o 'Done [0-9]* runs' "$work/$target.log" | tail -1 | grep -o '[0-9]*' || true)
    echo "fuzz: $target ok (${runs:-?} inputs)"
done

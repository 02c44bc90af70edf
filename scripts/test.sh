#!/usr/bin/env bash
# The whole test suite, from a clean checkout:
#   1. the real engines' Debian packages (as root; skipped with one line otherwise),
#   2. a venv with the project and its test dependencies,
#   3. pytest (engines included),
#   4. as root: the suite's engine-free part again inside a network namespace with no
#      interfaces (`unshare -n`), which shows no code path needs the network,
#   5. the fuzzers, FUZZ_SECONDS (default 60) per reader.
# Arguments go to the first pytest run; with arguments, steps 4 and 5 are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-engines.sh
. scripts/venv.sh
make_venv "[test]"
python=.venv/bin/python
status=0
run_pytest() {
    set +e
    "$@"
    local code=$?
    set -e
    # pytest's 5 means "no test ran": a failure here, never a silent pass.
    [ "$code" = 5 ] && echo "test.sh: no test ran"
    [ "$code" = 0 ] || status=1
}
run_pytest "$python" -m pytest -q -p no:cacheprovider "$@"
if [ $# -eq 0 ]; then
    if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
        echo "test.sh: again without a network (unshare -n), engine tests left out"
        run_pytest unshare -n "$python" -m pytest -q -p no:cacheprovider -m "not engines" -x
    else
        echo "test.sh: unshare -n needs root: the offline run is left out"
    fi
    PYTHON="$python" bash tests/fuzz/run.sh || status=1
fi
exit "$status"

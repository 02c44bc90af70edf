#!/usr/bin/env bash
# The whole test suite, from a clean checkout: the real engines' Debian packages (as root),
# a venv with the project and its test dependencies, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-engines.sh
. scripts/venv.sh
make_venv "[test]"
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
code=$?
set -e
# pytest's 5 means "no test ran": a failure here, never a silent pass.
[ "$code" = 5 ] && { echo "test.sh: no test ran"; exit 1; }
exit "$code"

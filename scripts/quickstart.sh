#!/usr/bin/env bash
# Install reconstruct into ./.venv and rebuild the bundled sample's repo-info document.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
make_venv ""
exec .venv/bin/reconstruct show samples/python-3-windowsservercore "$@"

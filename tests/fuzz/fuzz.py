#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris) of the readers: JSON metadata, archives, layouts, repo-info.

    python tests/fuzz/fuzz.py TARGET [libFuzzer options] [CORPUS_DIR]
    python tests/fuzz/fuzz.py json -max_total_time=60 /tmp/corpus-json

Each input goes through auto-detection, the source and every renderer, as `reconstruct show`
would. A SourceError, LookupError or ValueError is the CLI's one-line error (exit 2), so it is
an accepted outcome; anything else escaping is a crash, which libFuzzer reports and saves.
`tests/fuzz/run.sh` runs every target for a bounded time on a copy of the kept corpus.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from reconstruct import api as service
    from reconstruct.sources.base import SourceError

ACCEPTED = (SourceError, LookupError, ValueError)
FORMATS = ("repo-info", "dockerfile", "json", "table")
WORK = Path(tempfile.mkdtemp(prefix="reconstruct-fuzz-"))
atexit.register(shutil.rmtree, WORK, True)


def _exercise(spec: str) -> None:
    try:
        target = service.load(spec)
    except ACCEPTED:
        return
    for fmt in FORMATS:
        service.render(target, fmt, name="fuzz:1")


def fuzz_json(data: bytes) -> None:
    path = WORK / "input.json"
    path.write_bytes(data)
    _exercise(f"json:{path}")


def fuzz_archive(data: bytes) -> None:
    path = WORK / "input.tar"
    path.write_bytes(data)
    _exercise(f"docker-archive:{path}")


def fuzz_layout(data: bytes) -> None:
    """The input is index.json, then (after a NUL) one blob named by its own digest."""
    import hashlib

    index, _, blob = data.partition(b"\x00")
    layout = WORK / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for old in blobs.iterdir():
        old.unlink()
    (layout / "index.json").write_bytes(index)
    (blobs / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    _exercise(f"oci:{layout}")


def fuzz_repo_info(data: bytes) -> None:
    path = WORK / "input.md"
    path.write_bytes(data)
    _exercise(f"repo-info:{path}")


TARGETS = {
    "json": fuzz_json,
    "archive": fuzz_archive,
    "layout": fuzz_layout,
    "repo-info": fuzz_repo_info,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz.py {{{','.join(TARGETS)}}} [libFuzzer options] [corpus]")
    target = TARGETS[sys.argv.pop(1)]
    os.environ.setdefault("RECONSTRUCT_NO_PROGRESS", "1")
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

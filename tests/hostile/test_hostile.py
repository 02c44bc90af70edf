"""Every hostile input ends with a one-line error (exit 2) or a correct partial result: never a
traceback, never more than 512 MB of memory, never unbounded time, and the input unchanged."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import hostile
from tests.support.limits import assert_clean, run_limited

# Built once at collection (the names parametrize the tests); removed at exit.
_FOLDER = tempfile.TemporaryDirectory(prefix="hostile-")
CORPUS = hostile.build(Path(_FOLDER.name))
CASE_NAMES = sorted(CORPUS)


@pytest.fixture(scope="module")
def corpus():
    return CORPUS


def _snapshot(spec: str) -> dict[str, tuple[int, int, int, str]]:
    path = Path(spec.split(":", 1)[1] if spec.startswith("json:") else spec)
    files = (
        [path]
        if path.is_file()
        else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    )
    found = {}
    for file in files:
        info = file.stat()
        digest = subprocess.run(
            ["sha256sum", str(file)], capture_output=True, text=True
        ).stdout.split()[0]
        found[str(file)] = (info.st_size, info.st_mode, info.st_mtime_ns, digest)
    return found


@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("fmt", ["repo-info", "json"])
def test_hostile_input(corpus, case, fmt):
    spec = corpus[case]
    before = _snapshot(spec)
    result = run_limited("show", spec, "--format", fmt)
    assert_clean(result)
    if result.code == 2:
        assert result.out == "", result
    else:
        assert result.code == 0 and result.out.strip(), result  # a result must say something
    assert _snapshot(spec) == before, "the input was changed"


def test_the_corpus_is_large_enough():
    assert len(CASE_NAMES) >= 50

"""Every hostile input ends with a one-line error (exit 2) or a correct partial result: never a
traceback, never more than 512 MB of memory, never unbounded time, and the input unchanged."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import hostile
from tests.support.needs import need_tools
from tests.support.paths import REPO

# Built once at collection (the names parametrize the tests); removed at exit.
_FOLDER = tempfile.TemporaryDirectory(prefix="hostile-")
CORPUS = hostile.build(Path(_FOLDER.name))
CASE_NAMES = sorted(CORPUS)
MEMORY_LIMIT_KB = 512 * 1024
TIME_LIMIT = 60


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


def run_with_time(*args: str) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in KB) of one CLI run, under GNU time."""
    need_tools("/usr/bin/time")  # GNU time (Debian package time) measures peak memory
    with tempfile.NamedTemporaryFile() as measure:
        command = [
            "/usr/bin/time",
            "-q",
            "-f",
            "%M",
            "-o",
            measure.name,
            sys.executable,
            "-m",
            "reconstruct",
            *args,
        ]
        try:
            done = subprocess.run(
                command, cwd=REPO, capture_output=True, timeout=TIME_LIMIT, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"no answer within {TIME_LIMIT} s: {args}")
        peak = int(Path(measure.name).read_text().strip().splitlines()[-1] or 0)
        return (
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
            peak,
        )


RUN = run_with_time


@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("fmt", ["repo-info", "json"])
def test_hostile_input(corpus, case, fmt):
    spec = corpus[case]
    before = _snapshot(spec)
    code, out, err, peak_kb = RUN("show", spec, "--format", fmt)
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    if code == 2:
        assert out == "" and err.startswith("reconstruct: ") and err.count("\n") == 1, (code, err)
    else:
        assert code == 0, (code, err)
        assert out.strip(), "a result must say something"
    assert peak_kb <= MEMORY_LIMIT_KB, f"{peak_kb} KB"
    assert _snapshot(spec) == before, "the input was changed"


def test_the_corpus_is_large_enough():
    assert len(CASE_NAMES) >= 50

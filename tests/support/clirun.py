"""Running the real command line in a subprocess, as a user would; every JSON output it prints
is checked against its schema (support/schemas.py)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from tests.support.paths import REPO
from tests.support.schemas import check_output


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(*args: str, stdin: bytes | None = None, timeout: float = 120) -> Result:
    done = subprocess.run(
        [sys.executable, "-m", "reconstruct", *map(str, args)],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    result = Result(done.returncode, done.stdout.decode(), done.stderr.decode())
    check_output(args, result.out, result.code)
    return result


def assert_one_line_error(result: Result) -> None:
    assert result.code == 2, result
    assert result.out == ""
    assert result.err.startswith("reconstruct: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err

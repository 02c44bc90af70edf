"""One CLI run under GNU time with a time and memory limit, and the checks every hostile input
must pass whatever it is: exit 0, 1 or 2; one `reconstruct: ` line on 2; no traceback or
"internal error"; no terminal control character (ESC, CSI/OSC, C0 but tab and newline, DEL,
C1) and no bidi override in stdout or stderr, and both valid UTF-8 (a byte that is not, 0x9b
among them, is a C1 control to many terminals: a lone surrogate written with surrogateescape)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.needs import need_tools
from tests.support.paths import REPO
from tests.support.schemas import check_output

MEMORY_LIMIT_KB = 512 * 1024
TIME_LIMIT = 60

# What a terminal acts on: C0 controls but tab and newline, DEL, C1 controls, and the Unicode
# bidi controls (embeddings, overrides, isolates, marks) that reorder what is shown.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Limited:
    code: int
    out: str  # decoded with U+FFFD for what is not UTF-8 (`valid_utf8` says whether any was)
    err: str
    peak_kb: int
    args: tuple[str, ...]
    valid_utf8: bool = True

    def __repr__(self) -> str:  # what a failing assertion shows
        return f"exit {self.code} for {self.args}\nstdout: {self.out[:2000]!r}\nstderr: {self.err[:2000]!r}"


def run_limited(
    *args: str,
    stdin: bytes | None = None,
    stdin_file: str | None = None,
    timeout: float = TIME_LIMIT,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> Limited:
    """`python -m reconstruct ARGS` under GNU time; fails the test on a timeout."""
    need_tools("/usr/bin/time")  # GNU time (Debian package time) measures peak memory
    with tempfile.NamedTemporaryFile() as measure:
        command = ["/usr/bin/time", "-q", "-f", "%M", "-o", measure.name]
        command += [sys.executable, "-m", "reconstruct", *map(str, args)]
        environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        handle = open(stdin_file, "rb") if stdin_file else None  # noqa: SIM115
        try:
            done = subprocess.run(
                command,
                cwd=cwd,
                input=stdin,
                stdin=handle if handle else (None if stdin is not None else subprocess.DEVNULL),
                capture_output=True,
                timeout=timeout,
                env=environment,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"no answer within {timeout} s: {args}")
        finally:
            if handle:
                handle.close()
        lines = Path(measure.name).read_text().strip().splitlines()
        peak = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    result = Limited(
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
        peak,
        tuple(map(str, args)),
        _valid_utf8(done.stdout, done.stderr),
    )
    check_output(result.args, result.out, result.code)  # JSON outputs against their schemas
    return result


def run_piped(chunks: Iterator[bytes], *args: str, timeout: float = TIME_LIMIT) -> Limited:
    """`… | reconstruct ARGS` with a writer that goes on until the pipe closes (or the
    timeout): the shape of `cat x.tar /dev/zero | reconstruct show -`."""
    need_tools("/usr/bin/time")
    with (
        tempfile.NamedTemporaryFile() as measure,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        command = ["/usr/bin/time", "-q", "-f", "%M", "-o", measure.name]
        command += [sys.executable, "-m", "reconstruct", *args]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        process = subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env
        )
        deadline = time.monotonic() + timeout

        def write() -> None:
            try:
                for chunk in chunks:
                    if time.monotonic() > deadline:
                        break
                    process.stdin.write(chunk)  # type: ignore[union-attr]
            except OSError:  # the pipe closed: the reader is done
                pass
            finally:
                with contextlib.suppress(OSError):
                    process.stdin.close()  # type: ignore[union-attr]

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"no answer within {timeout} s: {args} on an endless stdin")
        writer.join(timeout=10)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        lines = Path(measure.name).read_text().strip().splitlines()
        peak = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return Limited(
            code,
            stdout.decode(errors="replace"),
            stderr.decode(errors="replace"),
            peak,
            args,
            _valid_utf8(stdout, stderr),
        )


def _valid_utf8(*streams: bytes) -> bool:
    try:
        for stream in streams:
            stream.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def assert_clean(result: Limited, memory_kb: int = MEMORY_LIMIT_KB) -> None:
    """The outcome any input may have, however hostile."""
    assert result.code in (0, 1, 2), result
    assert "Traceback" not in result.err, result
    assert "internal error" not in result.err, result
    assert result.valid_utf8, f"an output is not UTF-8: {result!r}"
    if result.code == 2:
        assert result.err.startswith("reconstruct: ") and result.err.count("\n") == 1, result
    for stream, text in (("stdout", result.out), ("stderr", result.err)):
        found = UNSAFE.search(text)
        assert found is None, f"{stream} holds {found.group()!r}: {result!r}"
    assert result.peak_kb <= memory_kb, f"{result.peak_kb} KB: {result!r}"

"""What a mirror run tells its user: counts, notes, failures, and a progress bar on terminals."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol


class Reporter(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, count: int) -> None: ...
    def note(self, message: str) -> None: ...
    def failure(self, label: str, message: str) -> None: ...


@dataclass
class Summary:
    images: int = 0  # documents produced this run (written or unchanged)
    repositories: int = 0
    written: int = 0  # files, tag-details.md included
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0  # untagged, or a name:tag another source already gave
    failed: int = 0

    def line(self, outdir: Path) -> str:
        repositories = "repository" if self.repositories == 1 else "repositories"
        text = (
            f"mirrored {self.images} image(s) of {self.repositories} {repositories} into "
            f"{outdir}: {self.written} written, {self.unchanged} unchanged, "
            f"{self.removed} removed"
        )
        if self.skipped:
            text += f", {self.skipped} skipped"
        if self.failed:
            text += f", {self.failed} failed"
        return text


def one_line(error: BaseException) -> str:
    """An error as one line; anything but the expected kinds is marked as a bug."""
    from ..sources import SourceError

    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, SourceError | LookupError | ValueError | OSError):
        return text
    return f"internal error ({type(error).__name__}: {text})"


class QuietReporter:
    """Collects notes and failures (for library callers and tests)."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.failures: list[tuple[str, str]] = []

    def start(self, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)

    def failure(self, label: str, message: str) -> None:
        self.failures.append((label, message))


class ConsoleReporter:
    """`reconstruct: …` lines on `stream`, and a progress bar when it is a terminal."""

    REFRESH_SECONDS = 0.1

    def __init__(self, stream: IO[str], *, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.clock = clock
        self.progress: Any = None  # rich.progress.Progress, imported only on a terminal
        self.task: Any = None
        self.last_refresh = 0.0

    def __enter__(self) -> ConsoleReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def start(self, total: int) -> None:
        if total < 2 or not getattr(self.stream, "isatty", lambda: False)():
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        # auto_refresh=False: no refresh thread in the parent, so forking workers stays safe.
        self.progress = Progress(
            TextColumn("mirror"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            auto_refresh=False,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("mirror", total=total)

    def advance(self, count: int) -> None:
        if self.progress is None:
            return
        self.progress.advance(self.task, count)
        now = self.clock()
        if now - self.last_refresh >= self.REFRESH_SECONDS:
            self.last_refresh = now
            self.progress.refresh()

    def _print(self, text: str) -> None:
        if self.progress is not None:  # above the bar, which is redrawn below
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def note(self, message: str) -> None:
        self._print(f"reconstruct: note: {message}")

    def failure(self, label: str, message: str) -> None:
        self._print(f"reconstruct: {label}: {message}")

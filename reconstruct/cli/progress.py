"""Progress on a terminal, one module for every command (as pip's cli/progress_bars.py).

A bar is drawn only when its stream is a terminal, from the caller's thread (no refresh
thread: verify and mirror fork worker processes, and forking a process that runs threads is
asking for trouble), at most every REFRESH_SECONDS. rich is imported only when a bar is drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any

from ..text import terminal_safe

REFRESH_SECONDS = 0.1


class Bar:
    """One transient rich progress bar: `bytes` columns (size, speed) or `count` (N of M)."""

    def __init__(self, stream: IO[str], kind: str, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.kind = kind
        self.clock = clock
        self.progress: Any = None  # rich.progress.Progress while drawn
        self.task: Any = None
        self.drawn = 0.0

    def start(self, total: int | None, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        if self.kind == "bytes":
            columns = (DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        else:
            columns = (MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            *columns,
            console=Console(file=self.stream),
            auto_refresh=False,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(terminal_safe(description), total=total)

    def update(self, *, completed: int | None = None, advance: int = 0) -> None:
        if self.progress is None:
            return
        if completed is not None:
            self.progress.update(self.task, completed=completed)
        if advance:
            self.progress.advance(self.task, advance)
        now = self.clock()
        if now - self.drawn >= REFRESH_SECONDS:
            self.drawn = now
            self.progress.refresh()

    def print(self, text: str) -> bool:
        """`text` above the bar (which is redrawn below it); False when no bar is drawn."""
        if self.progress is None:
            return False
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        return True

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress = self.task = None


class TerminalProgress:
    """verify's Progress (verify/report.py) as a bar of bytes read."""

    def __init__(self, stream: IO[str]):
        self.bar = Bar(stream, "bytes")

    def start(self, total: int | None, description: str) -> None:
        self.bar.start(total, f"verify: {description}")

    def update(self, done: int) -> None:
        self.bar.update(completed=done)

    def stop(self) -> None:
        self.bar.stop()


class ConsoleReporter:
    """mirror's Reporter (mirror/report.py): `reconstruct: …` lines on `stream`, and a bar of
    images written when it is a terminal."""

    def __init__(self, stream: IO[str], *, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.bar = Bar(stream, "count", clock)

    @property
    def progress(self) -> Any:
        """The rich progress while a bar is drawn, else None."""
        return self.bar.progress

    def __enter__(self) -> ConsoleReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def start(self, total: int) -> None:
        if total >= 2 and getattr(self.stream, "isatty", lambda: False)():
            self.bar.start(total, "mirror")

    def advance(self, count: int) -> None:
        self.bar.update(advance=count)

    def note(self, message: str) -> None:
        self._print(f"reconstruct: note: {message}")

    def failure(self, label: str, message: str) -> None:
        self._print(f"reconstruct: {label}: {message}")

    def _print(self, text: str) -> None:
        text = terminal_safe(text)  # labels and messages name images: untrusted
        if not self.bar.print(text):
            print(text, file=self.stream, flush=True)

"""What a mirror run tells its user: counts, notes, failures (the terminal's progress bar and
lines are cli/progress.py's ConsoleReporter)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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


def printable(text: str) -> str:
    """`text` with what a terminal would act on (a newline in a name, ESC) shown escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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

"""What `verify` found: one verdict per blob, grouped per image, and the report's exit code."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Verdict(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"
    NOT_CHECKABLE = "not checkable"
    UNREADABLE = "unreadable"  # there, but not a regular file, outside the input, or unreadable


@dataclass
class Check:
    """One blob (or one consistency rule) checked, and what was found."""

    kind: str  # index, manifest, config, layer, rootfs, history, entry, source
    name: str  # the digest, archive member or file the check is about ("" for a rule)
    verdict: Verdict
    reason: str  # short: what agrees, or what disagrees with what
    platform: str | None = None  # the image within an index this belongs to
    normal: bool = False  # missing, and the source is not expected to hold it
    urls: list[str] = field(default_factory=list)  # where a foreign layer is distributed
    size: int | None = None  # bytes, as stored
    position: int | None = None  # a layer's number in its manifest (1-based)

    @property
    def failed(self) -> bool:
        return self.verdict in (Verdict.MISMATCH, Verdict.UNREADABLE) or (
            self.verdict is Verdict.MISSING and not self.normal
        )


@dataclass
class Group:
    """The checks of one image or index of the source, under every name it goes by."""

    label: str
    digest: str | None
    checks: list[Check] = field(default_factory=list)


@dataclass
class VerifyReport:
    source: str
    transport: str
    groups: list[Group] = field(default_factory=list)
    streamed: bool = False  # the archive was read once, front to back, hashing as it went

    @property
    def checks(self) -> list[Check]:
        return [check for group in self.groups for check in group.checks]

    def counts(self) -> dict[str, int]:
        found = Counter(check.verdict.value for check in self.checks)
        counts = {verdict.value: found.get(verdict.value, 0) for verdict in Verdict}
        counts["missing_normal"] = sum(
            1 for c in self.checks if c.verdict is Verdict.MISSING and c.normal
        )
        return counts

    @property
    def failed(self) -> bool:
        return any(check.failed for check in self.checks)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


class Progress(Protocol):
    """What verify tells a progress bar (the CLI draws one on terminals)."""

    def start(self, total: int | None, description: str) -> None: ...

    def update(self, done: int) -> None: ...

    def stop(self) -> None: ...

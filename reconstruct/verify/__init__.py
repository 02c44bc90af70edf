"""`verify`: check everything a source can prove about its images, blob by blob.

Every index, manifest and config blob must hash to the digest its descriptor names and have the
size it states (a config's digest is the Image ID); every present layer blob is read once,
streamed, for its digest and the digest of what it inflates to (its diff_id, which the config's
`rootfs.diff_ids` must list in order); history must account for every layer. Verdicts:

- ok: what the source states and what the bytes say agree;
- mismatch: they disagree (tampering, corruption, a buggy writer);
- missing: a blob is named but absent. `normal` marks the absences a source is not expected to
  hold: foreign (non-distributable) layers, index platforms a copy left out, and the layers of a
  metadata-only copy (no layer blob at all, like the bundled sample);
- not checkable: the source keeps nothing to hash (a repo-info document, a Dockerfile, an
  engine's API, a data root's unpacked layers).

Exit status (see `VerifyReport.exit_code`): 0 all ok, 1 a mismatch or an unexpected absence;
errors reading the source raise SourceError (the CLI's exit 2).

The per-source plans live in verifyplan.py, the blob-store walk in verifywalk.py, hashing in
layerdigest.py, the report's text and JSON in render/verifyreport.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from .digest import Measured, measure_all


class Verdict(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"
    NOT_CHECKABLE = "not checkable"


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
        return self.verdict is Verdict.MISMATCH or (
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


# --- layers: what the source states against what the bytes say --------------------------------


@dataclass(frozen=True)
class Expected:
    """What a source states about one layer blob."""

    digest: str | None = None  # the descriptor's digest (of the blob as stored)
    size: int | None = None  # the descriptor's size
    diff_id: str | None = None  # the config's rootfs.diff_ids entry at this position
    media_type: str | None = None
    named: str | None = None  # the digest a file or archive member is named by
    distributed: str | None = None  # a legacy archive's LayerSources digest (compressed form)


def judge(check: Check, measured: Measured, expected: Expected) -> None:
    """Fill `check` with the verdict for one measured layer blob."""
    problems: list[str] = []
    compared: list[str] = []
    if expected.digest:
        compared.append("digest")
        if measured.digest != expected.digest:
            problems.append(f"the blob hashes to {measured.digest}")
    if expected.named and expected.named != expected.digest:
        compared.append("name")
        if measured.digest != expected.named:
            problems.append(f"named {expected.named} but hashes to {measured.digest}")
    if expected.size is not None:
        compared.append("size")
        if measured.size != expected.size:
            problems.append(
                f"the descriptor says {expected.size} bytes, the blob has {measured.size}"
            )
    problems += _compression_problems(measured, expected.media_type)
    if measured.error is not None:
        problems.append(measured.error)
    elif expected.diff_id:
        compared.append("diff_id")
        if measured.diff_id != expected.diff_id:
            verb = "inflates" if measured.compression else "hashes"
            problems.append(
                f"the config's diff_id is {expected.diff_id}, the content {verb} to "
                f"{measured.diff_id}"
            )
    notes = []
    if expected.distributed and expected.distributed not in (expected.digest, expected.named):
        if measured.digest == expected.distributed:
            compared.append("distribution digest")
        elif measured.compression is None:
            notes.append(
                f"distributed as {expected.distributed}, which the uncompressed tar here "
                "cannot prove"
            )
        else:
            problems.append(f"distributed as {expected.distributed}, hashes to {measured.digest}")
    check.size = measured.size
    if problems:
        check.verdict = Verdict.MISMATCH
        check.reason = "; ".join(problems)
        return
    if not compared:
        check.verdict = Verdict.NOT_CHECKABLE
        check.reason = f"nothing names this blob's content; it hashes to {measured.digest}"
        return
    check.verdict = Verdict.OK
    form = measured.compression or "uncompressed"
    size = _sizes(measured)
    check.reason = f"{_joined(compared)} match ({form}{size})" + "".join(f"; {n}" for n in notes)


def _compression_problems(measured: Measured, media_type: str | None) -> list[str]:
    """The media type's compression against the blob's magic bytes (unknown types: no word)."""
    if not media_type:
        return []
    if media_type.endswith("gzip"):
        says: str | None = "gzip"
    elif media_type.endswith("zstd"):
        says = "zstd"
    elif media_type.endswith(".tar"):
        says = None
    else:
        return []  # not a layer type we know (attestations, artifacts)
    if says == measured.compression:
        return []
    found = measured.compression or "uncompressed"
    return [f"the media type says {says or 'uncompressed'}, the blob is {found}"]


def _sizes(measured: Measured) -> str:
    if measured.compression and measured.uncompressed_size is not None:
        return f", {measured.size} → {measured.uncompressed_size} bytes"
    return f", {measured.size} bytes"


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# --- running it ----------------------------------------------------------------------------------


def verify(
    spec: str,
    *,
    config: str | None = None,
    host: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Verify everything the source `spec` holds (or the image its selector names); `host`: the
    engine of a `docker-daemon:` source (which has nothing to hash, but is still listed)."""
    from .plan import plan_source

    plan = plan_source(spec, config=config, host=host, progress=progress)
    if plan.jobs:
        total = sum(job.size for job in plan.jobs)
        if progress is not None:
            progress.start(total, "layers")
        try:
            measured = measure_all(
                plan.jobs, workers, progress.update if progress is not None else None
            )
        finally:
            if progress is not None:
                progress.stop()
        plan.measured.update(measured)
    plan.resolve()
    return plan.report

"""A layer's verdict: what the source states about it against what its bytes measured."""

from __future__ import annotations

from dataclasses import dataclass

from .digest import Measured
from .report import Check, Verdict

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

"""What a mirror run reads and writes: the sources, their tagged images, each one's file name."""

from __future__ import annotations

import errno
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..model import Collection
from ..refs import repo_info_name
from ..sources import Source, SourceError, folder_members, input_path, open_source
from .report import Reporter, Summary, one_line, printable

# Which names and tags become paths (full matches only: `$` would let a final newline through).
# A name is the distribution reference grammar's path, lowercase as Docker requires: one
# spelling per name, so no two names share a folder even on a case-insensitive file system. Its
# first component is a folder of repos/ (which holds nothing else); every later one lands in the
# folder of the repository above it, beside that repository's own `remote` and
# `tag-details.md`, so those two are refused there (`x/remote` would write into x's documents).
# Components start with a letter or digit, so none is `.`, `..` or a dot file (temp files).
NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
RESERVED_COMPONENT = r"(?:remote|tag-details\.md)"
NAME = re.compile(
    rf"(?=.{{1,255}}\Z){NAME_COMPONENT}(?:/(?!{RESERVED_COMPONENT}(?:/|\Z)){NAME_COMPONENT})*"
)
# A tag is Docker's grammar, in ASCII; it is a file name of remote/ as `<tag>.md`.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.zst", ".tar.xz", ".tar.bz2", ".tgz", ".tar")


def path_problem(repo: str, tag: str) -> str | None:
    """Why `repos/<repo>/remote/<tag>.md` cannot be written safely; None when it can."""
    if not NAME.fullmatch(repo):
        parts = repo.split("/")
        reserved = [
            i for i, part in enumerate(parts) if i and re.fullmatch(RESERVED_COMPONENT, part)
        ]
        if reserved:
            above = "/".join(parts[: reserved[0]])
            why = f": {parts[reserved[0]]!r} is the name of a file or folder of {above!r}"
        elif repo != repo.lower() and NAME.fullmatch(repo.lower()):
            why = ": repository names are lowercase"
        else:
            why = ""
        return f"name {repo!r} cannot be a repo-info path{why} (see --name)"
    if not TAG.fullmatch(tag):
        return f"tag {tag!r} cannot be a file name"
    return None


def default_name(spec: str) -> str:
    """For images a source names by tag only: the layout's folder or the archive's file name."""
    path = input_path(spec)
    name = path.resolve().name if path is not None and str(path) != "-" else ""
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name or "image"


def source_specs(spec: str) -> list[str]:
    """`spec` itself, or for a plain folder of archives and OCI layouts, one spec per member."""
    return folder_members(spec) or [spec]


def check_outdir(outdir: Path, spec: str) -> None:
    """Bad input: an OUTDIR that is a file, or that overlaps the source (inputs are only read)."""
    if outdir.exists() and not outdir.is_dir():
        raise SourceError(f"{outdir} exists and is not a directory")
    path = input_path(spec)
    if path is None or str(path) == "-" or not path.exists():
        _resolved(outdir)  # a link loop: one line here, not where it is first opened
        return
    source, out = _resolved(path), _resolved(outdir)
    if out.is_relative_to(source) or source.is_relative_to(out / "repos"):
        raise SourceError(f"{outdir} overlaps the source {path}; choose another OUTDIR")


def check_file_outside(output: Path, specs: list[str]) -> None:
    """Bad input: a file to write (`report -o`) that is one of the inputs or inside one."""
    target = _resolved(output.parent) / output.name
    for spec in specs:
        path = input_path(spec)
        if path is None or str(path) == "-" or not path.exists():
            continue
        source = _resolved(path)
        if target == source or target.is_relative_to(source):
            raise SourceError(f"{output} is in the input {path}: inputs are only read")


def _resolved(path: Path) -> Path:
    loop = SourceError(f"{path}: cannot be resolved (a loop of symbolic links)")
    try:
        os.stat(path)  # Python 3.13's resolve() returns a loop as it is; the kernel tells
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise loop from None
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python 3.11's resolve() raises RuntimeError for one
        raise loop from None


@dataclass(frozen=True)
class Shard:
    """Share `number` of `count` (1-based) of a store's repositories, for several machines.

    A repository's share is a stable hash of its name, so every tag of a repository (and its
    tag-details.md) lands in one share and the shares' trees never overlap."""

    number: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        number, slash, count = text.partition("/")
        try:
            shard = cls(int(number), int(count))
        except ValueError:
            shard = cls(0, 0)
        if not slash or not 1 <= shard.number <= shard.count:
            raise ValueError(f"--shard {text!r}: expected K/N with 1 ≤ K ≤ N, as 2/4")
        return shard

    def holds(self, repo: str) -> bool:
        return zlib.crc32(repo.encode()) % self.count == self.number - 1


@dataclass(frozen=True, slots=True)
class Job:
    """One listed image: where it is read from, and which document it becomes."""

    spec: str
    selector: str | None
    name: str | None
    tag: str
    digest: str | None
    repo: str

    @property
    def label(self) -> str:
        return f"{self.repo}:{self.tag}"


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)  # by source, then as the source lists them
    # Sources only this process can read again (standard input): workers are not used.
    opened: dict[str, Source] = field(default_factory=dict)
    # Repository → the whole tag-details.md a source holds for it (a checkout's), written back
    # as it is held rather than assembled from the documents.
    collections: dict[str, Collection] = field(default_factory=dict)


def plan(
    spec: str,
    reporter: Reporter,
    summary: Summary,
    *,
    name: str | None = None,
    host: str | None = None,
    shard: Shard | None = None,
) -> Plan:
    """Every tagged image of the source(s) once, with the document it becomes.

    `shard`: only the repositories of that share (see Shard)."""
    specs = source_specs(spec)
    result = Plan()
    seen: dict[tuple[str, str], str] = {}  # (repo, tag) → the source that gave it first
    folded: dict[tuple[str, str], str] = {}  # (repo, tag in lowercase) → the tag kept
    for member in specs:
        try:
            source, selector = open_source(member, **({"host": host} if host else {}))
            references = source.selected(selector)
        except (SourceError, LookupError, ValueError, OSError) as error:
            if len(specs) == 1:
                raise  # the one source given cannot be read: bad input
            summary.failed += 1
            reporter.failure(printable(member), one_line(error))
            continue
        if input_path(member) == Path("-"):
            result.opened[member] = source  # standard input can be read only once
        for held, collection in source.collections().items():
            repo = repo_info_name(held)
            if shard is None or shard.holds(repo):
                result.collections.setdefault(repo, collection)
        fallback = name or default_name(member)
        untagged: list[str] = []
        unnamed = False
        for reference in references:
            if not reference.tag:
                untagged.append(reference.selector or reference.digest or "?")
                continue
            unnamed |= not reference.name
            repo = repo_info_name(reference.name or fallback)
            if shard is not None and not shard.holds(repo):
                continue
            job = Job(
                member,
                reference.selector or reference.digest,
                reference.name,
                reference.tag,
                reference.digest,
                repo,
            )
            problem = path_problem(repo, job.tag)
            if problem:
                summary.failed += 1
                reporter.failure(printable(f"{member}: {job.label}"), problem)
                continue
            first = seen.get((repo, job.tag))
            if first is not None:  # several drivers or archives, or two names mapped alike
                summary.skipped += 1
                where = "it is listed twice" if first == member else f"{first} holds it too"
                reporter.note(printable(f"{member}: {job.label} skipped: {where}"))
                continue
            other = folded.get((repo, job.tag.lower()))
            if other is not None:  # one file on a case-insensitive file system
                summary.skipped += 1
                reporter.note(
                    printable(f"{member}: {job.label} skipped: its file name differs from ")
                    + printable(f"{other}.md's only in case")
                )
                continue
            seen[(repo, job.tag)] = member
            folded[(repo, job.tag.lower())] = job.tag
            result.jobs.append(job)
        if unnamed:
            reporter.note(
                printable(f"{member}: images named by tag only are filed under {fallback!r}")
            )
        if untagged:
            summary.skipped += len(untagged)
            shown = ", ".join(untagged[:3]) + (", …" if len(untagged) > 3 else "")
            reporter.note(
                printable(f"{member}: {len(untagged)} untagged image(s) skipped ({shown})")
            )
    return result

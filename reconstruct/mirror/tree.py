"""OUTDIR/repos: files written only when their content changes, atomically.

A re-run over an unchanged source writes nothing (so mtimes, `make` and `rsync` see no change),
and a reader never sees a half-written file: new content goes to a temp file beside the old one,
then is renamed over it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from ..render import tagdetails
from .plan import Job
from .report import Summary

COPY_BLOCK = 1 << 16


class SyncedFile:
    """`path` rewritten only if what is fed differs from what it holds; one pass, small memory.

    Fed bytes are compared with the existing file as they come. At the first difference the
    matching prefix is copied to a temp file beside `path` and writing goes on there; `close`
    renames it over `path`, or leaves `path` alone when nothing differed.
    """

    def __init__(self, path: Path):
        self.path = path
        self.matched = 0
        self.temp: Path | None = None
        self.out: IO[bytes] | None = None
        try:
            self.old: IO[bytes] | None = path.open("rb")
        except FileNotFoundError:
            self.old = None

    def write(self, data: bytes) -> None:
        if self.out is None and self.old is not None and self.old.read(len(data)) == data:
            self.matched += len(data)
            return
        if self.out is None:
            self._diverge()
        assert self.out is not None
        self.out.write(data)

    def _diverge(self) -> None:
        self.temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.out = self.temp.open("wb")
        except FileNotFoundError:  # a new repository: its folders first (rare, so not checked)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.out = self.temp.open("wb")
        if self.old is not None:
            self.old.seek(0)
            remaining = self.matched
            while remaining:
                block = self.old.read(min(remaining, COPY_BLOCK))
                self.out.write(block)
                remaining -= len(block)
            self.old.close()
            self.old = None

    def close(self) -> bool:
        """True when `path` was (re)written."""
        if self.out is None and self.old is not None:
            longer = self.old.read(1) != b""
            if not longer:
                self.old.close()
                return False
        if self.out is None:
            self._diverge()  # the old file was longer, or there was none
        assert self.out is not None and self.temp is not None
        self.out.close()
        os.replace(self.temp, self.path)
        return True

    def abort(self) -> None:
        for handle in (self.old, self.out):
            if handle is not None:
                handle.close()
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


def sync_file(path: Path, data: bytes) -> bool:
    """Afterwards `path` holds `data`; True when it had to be written."""
    synced = SyncedFile(path)
    try:
        synced.write(data)
        return synced.close()
    except BaseException:
        synced.abort()
        raise


class Tree:
    """Documents, tag-details.md, and removal of documents of tags no longer held."""

    def __init__(self, outdir: Path, summary: Summary):
        self.repos = outdir / "repos"
        self.summary = summary

    def remote(self, repo: str) -> Path:
        return self.repos / repo / "remote"

    def _count(self, written: bool) -> None:
        if written:
            self.summary.written += 1
        else:
            self.summary.unchanged += 1

    def document(self, job: Job, data: bytes) -> None:
        self._count(sync_file(self.remote(job.repo) / f"{job.tag}.md", data))

    def tag_details(self, repo: str, tags: list[str]) -> None:
        """Upstream's file for `repo`, streamed from its documents now on disk, in `tags` order."""
        synced = SyncedFile(self.repos / repo / "tag-details.md")
        try:
            synced.write(tagdetails.header(repo, tags).encode())
            for tag in tags:
                synced.write(tagdetails.SEPARATOR.encode())
                with (self.remote(repo) / f"{tag}.md").open("rb") as document:
                    while block := document.read(COPY_BLOCK):
                        synced.write(block)
            self._count(synced.close())
        except BaseException:
            synced.abort()
            raise

    def prune(self, repo: str, tags: set[str]) -> None:
        """Remove documents of tags this run did not list: the source no longer holds them."""
        try:
            entries = list(os.scandir(self.remote(repo)))
        except FileNotFoundError:
            return
        for entry in entries:
            stem, dot, suffix = entry.name.rpartition(".")
            stale = dot and suffix == "md" and not entry.name.startswith(".") and stem not in tags
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                self.summary.removed += 1

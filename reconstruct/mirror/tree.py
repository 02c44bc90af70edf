"""OUTDIR/repos: files written only when their content changes, atomically, never through a link.

A re-run over an unchanged source writes nothing (so mtimes, `make` and `rsync` see no change),
and a reader never sees a half-written file: new content goes to a temp file beside the old one,
then is renamed over it. Every folder and file is reached from OUTDIR's descriptor one name at a
time, refusing links (outdir.py): nothing outside OUTDIR is read, written or removed.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from ..render import tagdetails
from .outdir import new_temp, open_dir, open_regular, remove_temp, rename_temp
from .plan import TAG, Job
from .report import Summary

COPY_BLOCK = 1 << 16


class SyncedFile:
    """File `name` of folder `parent` rewritten only if what is fed differs from what it holds;
    one pass, small memory. `shown`: its path, for messages.

    Fed bytes are compared with the existing file as they come. At the first difference the
    matching prefix is copied to a temp file beside it and writing goes on there; `close`
    renames it over the file, or leaves the file alone when nothing differed.
    """

    def __init__(self, parent: int, name: str, shown: str):
        self.parent = parent
        self.name = name
        self.matched = 0
        self.temp: str | None = None
        self.out: BinaryIO | None = None
        self.old: BinaryIO | None = open_regular(parent, name, shown)

    def write(self, data: bytes) -> None:
        if self.out is None and self.old is not None and self.old.read(len(data)) == data:
            self.matched += len(data)
            return
        if self.out is None:
            self._diverge()
        assert self.out is not None
        self.out.write(data)

    def _diverge(self) -> None:
        self.temp, self.out = new_temp(self.parent)
        if self.old is not None:
            self.old.seek(0)
            remaining = self.matched
            while remaining:
                block = self.old.read(min(remaining, COPY_BLOCK))
                if not block:  # the old file shrank meanwhile: what was matched is fed again
                    raise OSError(f"{self.name} changed while it was read")
                self.out.write(block)
                remaining -= len(block)
            self.old.close()
            self.old = None

    def close(self) -> bool:
        """True when the file was (re)written."""
        if self.out is None and self.old is not None:
            longer = self.old.read(1) != b""
            if not longer:
                self.old.close()
                return False
        if self.out is None:
            self._diverge()  # the old file was longer, or there was none
        assert self.out is not None and self.temp is not None
        self.out.close()
        rename_temp(self.parent, self.temp, self.name)
        self.temp = None
        return True

    def abort(self) -> None:
        for handle in (self.old, self.out):
            if handle is not None:
                handle.close()
        if self.temp is not None:
            remove_temp(self.parent, self.temp)
            self.temp = None


def sync_file(parent: int, name: str, shown: str, data: bytes) -> bool:
    """Afterwards file `name` of `parent` holds `data`; True when it had to be written."""
    synced = SyncedFile(parent, name, shown)
    try:
        synced.write(data)
        written = synced.close()
    except BaseException:
        synced.abort()
        raise
    return written


class Tree:
    """Documents, tag-details.md, and removal of documents of tags no longer held.

    `outdir`: OUTDIR's descriptor; `shown`: OUTDIR as the user wrote it, for messages."""

    def __init__(self, outdir: int, shown: str, summary: Summary):
        self.shown = f"{shown}/repos"
        repos = open_dir(outdir, "repos", self.shown, create=True)
        assert repos is not None
        self.repos = repos
        self.summary = summary

    def close(self) -> None:
        if self.repos >= 0:
            os.close(self.repos)
            self.repos = -1

    def folder(self, repo: str, *, remote: bool, create: bool) -> int | None:
        """The descriptor of `repos/<repo>` (or its `remote`), None when it is missing and not
        to be created; each component is opened from the one above, refusing links."""
        shown = self.shown
        parent = self.repos
        for part in [*repo.split("/"), *(["remote"] if remote else [])]:
            shown = f"{shown}/{part}"
            try:
                child = open_dir(parent, part, shown, create=create)
            finally:
                if parent != self.repos:
                    os.close(parent)
            if child is None:
                return None
            parent = child
        return parent

    def _count(self, written: bool) -> None:
        if written:
            self.summary.written += 1
        else:
            self.summary.unchanged += 1

    def document(self, job: Job, data: bytes) -> None:
        remote = self.folder(job.repo, remote=True, create=True)
        assert remote is not None
        try:
            name = f"{job.tag}.md"
            shown = f"{self.shown}/{job.repo}/remote/{name}"
            self._count(sync_file(remote, name, shown, data))
        finally:
            os.close(remote)

    def tag_details(self, repo: str, tags: list[str]) -> None:
        """Upstream's file for `repo`, streamed from its documents now on disk, in `tags` order."""
        folder = self.folder(repo, remote=False, create=True)
        assert folder is not None
        try:
            remote = open_dir(folder, "remote", f"{self.shown}/{repo}/remote", create=True)
            assert remote is not None
            try:
                self._tag_details(repo, tags, folder, remote)
            finally:
                os.close(remote)
        finally:
            os.close(folder)

    def whole_tag_details(self, repo: str, data: bytes) -> None:
        """A tag-details.md the source held whole, written as it is."""
        folder = self.folder(repo, remote=False, create=True)
        assert folder is not None
        try:
            self._count(
                sync_file(folder, "tag-details.md", f"{self.shown}/{repo}/tag-details.md", data)
            )
        finally:
            os.close(folder)

    def _tag_details(self, repo: str, tags: list[str], folder: int, remote: int) -> None:
        synced = SyncedFile(folder, "tag-details.md", f"{self.shown}/{repo}/tag-details.md")
        try:
            synced.write(tagdetails.header(repo, tags).encode())
            for tag in tags:
                synced.write(tagdetails.SEPARATOR.encode())
                shown = f"{self.shown}/{repo}/remote/{tag}.md"
                document = open_regular(remote, f"{tag}.md", shown)
                if document is None:
                    raise FileNotFoundError(f"{shown} is missing")
                with document:
                    while block := document.read(COPY_BLOCK):
                        synced.write(block)
            self._count(synced.close())
        except BaseException:
            synced.abort()
            raise

    def prune(self, repo: str, tags: set[str]) -> None:
        """Remove documents of tags this run did not list: the source no longer holds them.
        Only regular files named as a document of a tag are removed, by name in the folder's
        descriptor (a link is never one)."""
        remote = self.folder(repo, remote=True, create=False)
        if remote is None:
            return
        try:
            with os.scandir(remote) as listing:
                entries = list(listing)
            for entry in entries:
                stem, dot, suffix = entry.name.rpartition(".")
                stale = dot and suffix == "md" and TAG.fullmatch(stem) and stem not in tags
                if stale and entry.is_file(follow_symlinks=False):
                    try:
                        os.unlink(entry.name, dir_fd=remote)
                    except FileNotFoundError:
                        continue
                    self.summary.removed += 1
        finally:
            os.close(remote)

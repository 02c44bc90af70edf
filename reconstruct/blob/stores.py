"""Content-addressed blob stores shared by layouts, archives, blob folders and registry storage."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import SourceError
from .digests import check_digest
from .files import MAX_METADATA_BYTES, BlobLocation, read_small_file


@dataclass(frozen=True)
class BlobInfo:
    size: int
    modified: datetime | None = None


class BlobStore(ABC):
    @abstractmethod
    def stat(self, digest: str) -> BlobInfo | None:
        """Size (and modification time where the store keeps one), None when absent."""

    @abstractmethod
    def read(self, digest: str) -> bytes | None:
        """A metadata blob's bytes, None when absent."""

    def locate(self, digest: str) -> BlobLocation | None:
        """Where `digest`'s bytes can be read again by another process; None: nowhere (held in
        memory, streamed past, or absent)."""
        return None

    def member_name(self, digest: str) -> str | None:
        """The archive member holding `digest`, for a store inside an archive; None otherwise."""
        return None


class DirectoryBlobStore(BlobStore):
    """Blobs as files: `blobs/<alg>/<hex>` (OCI layout) or files named by digest in one folder."""

    def __init__(
        self, root: Path, patterns: tuple[str, ...] = ("{alg}/{hex}",), keep_mtime: bool = False
    ):
        self.root = root
        self.patterns = patterns
        self.keep_mtime = keep_mtime  # a registry's blob mtimes are its Last-Modified
        self._real_root: str | None = None

    def path(self, digest: str) -> Path | None:
        """The first existing file for `digest` among the patterns, inside the store."""
        try:
            alg, hexpart = check_digest(digest)
        except SourceError:
            return None
        for pattern in self.patterns:
            relative = pattern.format(alg=alg, hex=hexpart, short=hexpart[:2])
            path = self.root / relative
            if path.is_file() and self._inside(path, relative):
                return path
        return None

    def _inside(self, path: Path, relative: str) -> bool:
        """No symlink below the root (a few lstat calls), else where the symlinks lead."""
        folder = str(self.root)
        for part in relative.split("/"):
            folder = os.path.join(folder, part)
            if os.path.islink(folder):
                if self._real_root is None:
                    self._real_root = os.path.realpath(self.root)
                real = os.path.realpath(path)
                try:
                    return os.path.commonpath([real, self._real_root]) == self._real_root
                except ValueError:
                    return False
        return True

    def stat(self, digest: str) -> BlobInfo | None:
        path = self.path(digest)
        if path is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        modified = datetime.fromtimestamp(info.st_mtime, UTC) if self.keep_mtime else None
        return BlobInfo(info.st_size, modified)

    def read(self, digest: str) -> bytes | None:
        path = self.path(digest)
        return None if path is None else read_small_file(path, f"blob {digest}")

    def locate(self, digest: str) -> BlobLocation | None:
        path = self.path(digest)
        return BlobLocation(str(path)) if path is not None else None


class MemoryBlobStore(BlobStore):
    """Blobs already read (from a tar's metadata members, or files given on the command line)."""

    def __init__(self, blobs: dict[str, bytes] | None = None, sizes: dict[str, int] | None = None):
        self.blobs = dict(blobs or {})
        self.sizes = dict(sizes or {})  # blobs known to exist but not loaded (layers)

    def stat(self, digest: str) -> BlobInfo | None:
        if digest in self.blobs:
            return BlobInfo(len(self.blobs[digest]))
        if digest in self.sizes:
            return BlobInfo(self.sizes[digest])
        return None

    def read(self, digest: str) -> bytes | None:
        return self.blobs.get(digest)


__all__ = ["MAX_METADATA_BYTES", "BlobInfo", "BlobStore", "DirectoryBlobStore", "MemoryBlobStore"]

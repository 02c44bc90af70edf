"""Content-addressed blob stores shared by layouts, archives, blob folders and registry storage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import SourceError
from .contained import InputPath
from .digests import check_digest
from .files import MAX_METADATA_BYTES, BlobLocation, read_small_file


def modified_time(seconds: float) -> datetime | None:
    """A file's mtime as a UTC datetime; None when it is outside what a datetime holds (a
    filesystem like tmpfs keeps any 64-bit time a writer sets)."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


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

    def problem(self, digest: str) -> str | None:
        """Why a blob that is there by name cannot be read (a FIFO, a device, a symlink out of
        the input); None when it can, or when it is simply absent."""
        return None

    def member_name(self, digest: str) -> str | None:
        """The archive member holding `digest`, for a store inside an archive; None otherwise."""
        return None


class DirectoryBlobStore(BlobStore):
    """Blobs as files: `blobs/<alg>/<hex>` (OCI layout) or files named by digest in one folder,
    every one resolved inside the input folder (blob/contained.py)."""

    def __init__(
        self,
        root: InputPath,
        patterns: tuple[str, ...] = ("{alg}/{hex}",),
        keep_mtime: bool = False,
    ):
        self.root = root
        self.patterns = patterns
        self.keep_mtime = keep_mtime  # a registry's blob mtimes are its Last-Modified

    def _candidates(self, digest: str) -> list[InputPath]:
        try:
            alg, hexpart = check_digest(digest)
        except SourceError:
            return []
        return [
            self.root / pattern.format(alg=alg, hex=hexpart, short=hexpart[:2])
            for pattern in self.patterns
        ]

    def path(self, digest: str) -> InputPath | None:
        """The first regular file for `digest` among the patterns, inside the store."""
        for path in self._candidates(digest):
            if path.is_file():
                return path
        return None

    def problem(self, digest: str) -> str | None:
        for path in self._candidates(digest):
            reason = path.problem()
            if reason is not None:
                return f"{path.key}: {reason}"
        return None

    def stat(self, digest: str) -> BlobInfo | None:
        path = self.path(digest)
        if path is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        return BlobInfo(info.st_size, modified_time(info.st_mtime) if self.keep_mtime else None)

    def read(self, digest: str) -> bytes | None:
        path = self.path(digest)
        if path is None:
            reason = self.problem(digest)
            if reason is not None:
                raise SourceError(f"cannot read blob {digest}: {reason}")
            return None
        return read_small_file(path, f"blob {digest}")

    def locate(self, digest: str) -> BlobLocation | None:
        path = self.path(digest)
        if path is None:
            return None
        return BlobLocation(path.key, root=str(path.folder.path))


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

"""Content-addressed blob stores shared by layouts, archives, blob folders and registry storage."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..sources.base import SourceError

DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{64}|[0-9a-f]{128})$")
# Metadata blobs (configs, manifests, indexes) are small; refuse to load anything larger.
MAX_METADATA_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    size: int
    modified: datetime | None = None


def check_digest(digest: str) -> tuple[str, str]:
    """`sha256:<hex>` → (algorithm, hex); anything else (`../x`, upper case) is refused."""
    match = DIGEST.match(digest or "")
    if not match:
        raise SourceError(f"not a valid digest: {digest!r}")
    return match.group(1), match.group(2)


class BlobStore(ABC):
    @abstractmethod
    def stat(self, digest: str) -> BlobInfo | None:
        """Size (and modification time where the store keeps one), None when absent."""

    @abstractmethod
    def read(self, digest: str) -> bytes | None:
        """A metadata blob's bytes, None when absent."""


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


def read_small_file(path: Path, what: str) -> bytes:
    """A metadata file's bytes; a one-line SourceError when unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > MAX_METADATA_BYTES:
            raise SourceError(f"{what} {path} is {size} bytes: too large to be metadata")
        return path.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read {what} {path}: {error.strerror}") from None

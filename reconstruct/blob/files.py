"""Every file a reader opens, opened here: metadata files whole and bounded, blobs in chunks.

Sources, the blob stores and verify read through these functions only, so what may be opened
(and how far it may be read) is decided in one place. A `BlobLocation` is a plain, picklable
(path, offset, length): a file of a blob folder or a member of a plain tar in a regular file,
which worker processes reopen to hash layers in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError

# Metadata blobs (configs, manifests, indexes) are small; refuse to load anything larger.
MAX_METADATA_BYTES = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024


def read_small_file(path: Path, what: str, limit: int = MAX_METADATA_BYTES) -> bytes:
    """A metadata file's bytes; a one-line SourceError when absent, unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise SourceError(f"{what} {path} is {size} bytes: too large to be metadata")
        return path.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read {what} {path}: {error.strerror}") from None


def read_optional_file(path: Path, what: str, limit: int = MAX_METADATA_BYTES) -> bytes | None:
    """As `read_small_file`, but None when there is no such file."""
    try:
        return read_small_file(path, what, limit)
    except SourceError:
        if not (path.exists() or path.is_symlink()):
            return None
        raise


def read_text_file(path: Path, limit: int) -> str | None:
    """A small ASCII/UTF-8 record (a registry `link`, a layerdb `diff`), stripped; None when
    absent, unreadable, too large or not text."""
    try:
        if path.stat().st_size > limit:
            return None
        return path.read_bytes().decode().strip()
    except (OSError, UnicodeDecodeError):
        return None


def read_head(path: Path, size: int) -> bytes:
    """The first `size` bytes of a file (to tell what it is); OSError as raised."""
    with path.open("rb") as handle:
        return handle.read(size)


@dataclass(frozen=True)
class BlobLocation:
    """Bytes `offset` to `offset + length` of the file at `path` (length None: to its end)."""

    path: str
    offset: int = 0
    length: int | None = None

    @property
    def key(self) -> str:
        """One key per distinct blob, so a blob named twice is read once."""
        return f"{self.path}\0{self.offset}\0{self.length}"


def read_chunks(location: BlobLocation, chunk: int = READ_CHUNK) -> Iterator[bytes]:
    """The blob's bytes, `chunk` at a time; fewer than `length` when the file is cut short."""
    remaining = location.length
    with open(location.path, "rb", buffering=0) as handle:
        if location.offset:
            handle.seek(location.offset)
        while remaining is None or remaining > 0:
            data = handle.read(chunk if remaining is None else min(chunk, remaining))
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data


def file_size(location: BlobLocation) -> int | None:
    """The blob's size as stored, None when it cannot be read."""
    if location.length is not None:
        return location.length
    try:
        return os.stat(location.path).st_size
    except OSError:
        return None

"""Every file a reader opens, opened here: metadata files whole and bounded, blobs in chunks.

Sources, the blob stores and verify read through these functions only, so what may be opened
(and how far it may be read) is decided in one place. A `BlobLocation` is a plain, picklable
(path, offset, length): a file of a blob folder or a member of a plain tar in a regular file,
which worker processes reopen to hash layers in parallel.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from .contained import InputFolder, InputPath, open_named, read_descriptor

# Metadata blobs (configs, manifests, indexes) are small; refuse to load anything larger.
MAX_METADATA_BYTES = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024


def read_small_file(path: Path | InputPath, what: str, limit: int = MAX_METADATA_BYTES) -> bytes:
    """A metadata file's bytes; a one-line SourceError when absent, unreadable, not a regular
    file, leading outside its input folder, or too large. A plain Path is a file the user
    named; anything below an input folder is an InputPath, resolved inside it."""
    if isinstance(path, InputPath):
        return path.read_bytes(what, limit)
    try:
        fd = open_named(path)
    except OSError as error:
        raise SourceError(f"cannot read {what} {path}: {error.strerror}") from None
    return read_descriptor(fd, what, str(path), limit)


def read_optional_file(
    path: Path | InputPath, what: str, limit: int = MAX_METADATA_BYTES
) -> bytes | None:
    """As `read_small_file`, but None when there is no such file."""
    if isinstance(path, InputPath):
        return None if path.kind() is None else path.read_bytes(what, limit)
    if not (path.exists() or path.is_symlink()):
        return None
    return read_small_file(path, what, limit)


def read_text_file(path: InputPath, limit: int) -> str | None:
    """A small ASCII/UTF-8 record (a registry `link`, a layerdb `diff`), stripped; None when
    absent, unreadable, not a regular file, too large or not text."""
    try:
        return path.read_bytes("record", limit).decode().strip()
    except (SourceError, UnicodeDecodeError):
        return None


def read_head(path: Path, size: int) -> bytes:
    """The first `size` bytes of a file the user named (to tell what it is); OSError as
    raised. Opened non-blocking: a FIFO gives what is there, or nothing, never a hang."""
    try:
        fd = open_named(path)
    except OSError as error:
        if error.errno == errno.EINVAL:
            return b""  # a FIFO, socket or device: nothing to tell it by
        raise
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class BlobLocation:
    """Bytes `offset` to `offset + length` of the file at `path` (length None: to its end)."""

    path: str
    offset: int = 0
    length: int | None = None
    root: str | None = None  # an input folder `path` is below (then relative to it)

    @property
    def key(self) -> str:
        """One key per distinct blob, so a blob named twice is read once."""
        return f"{self.root}\0{self.path}\0{self.offset}\0{self.length}"

    def open(self) -> int:
        """A descriptor of the file (inside its input folder, a regular file only)."""
        if self.root is not None:
            return (InputFolder(self.root) / self.path).open_file()
        return open_named(self.path)


def read_chunks(location: BlobLocation, chunk: int = READ_CHUNK) -> Iterator[bytes]:
    """The blob's bytes, `chunk` at a time; fewer than `length` when the file is cut short."""
    remaining = location.length
    with open(location.open(), "rb", buffering=0) as handle:
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
        if location.root is not None:
            return (InputFolder(location.root) / location.path).stat().st_size
        return os.stat(location.path).st_size
    except OSError:
        return None

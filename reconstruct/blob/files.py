"""Raw blob bytes for verification: where a blob lives, in a form another process can open.

Sources read metadata blobs through their `BlobStore`; checking layer digests needs the layer
bytes too, streamed, and read by worker processes in parallel. A `BlobLocation` is a plain,
picklable (path, offset, length): a file of a blob folder (OCI layout, registry storage, a folder
of blobs) or a member of a plain tar in a regular file. Streamed archives (compressed, or a
pipe) have no locations: their members are hashed during the one pass (`tarindex.stream_index`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..sources.base import SourceError
from .stores import MAX_METADATA_BYTES, BlobStore, DirectoryBlobStore, check_digest
from .tar import TarBlobStore, TarIndex

READ_CHUNK = 1024 * 1024


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


def locate(store: BlobStore, digest: str) -> BlobLocation | None:
    """Where `digest`'s bytes are, None when the store does not hold it or cannot say where."""
    if isinstance(store, DirectoryBlobStore):
        path = store.path(digest)
        return BlobLocation(str(path)) if path is not None else None
    if isinstance(store, TarBlobStore):
        try:
            alg, hexpart = check_digest(digest)
        except SourceError:
            return None
        return member_location(store.tar, f"{store.root}/{alg}/{hexpart}")
    return None


def member_location(tar: TarIndex, name: str) -> BlobLocation | None:
    """A member of a plain tar in a regular file (links followed); None when streamed."""
    member = tar.resolve(name)
    if member is None or member.kind != "file" or member.offset is None or tar.streamed:
        return None
    if tar.label == "stdin":  # read by offset from our own standard input: no path to reopen
        return None
    return BlobLocation(tar.label, member.offset, member.size)


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


def read_file(path: Path, limit: int = MAX_METADATA_BYTES) -> bytes | None:
    """A small file's bytes (a config in a data root, a layerdb record); None when absent."""
    try:
        if path.stat().st_size > limit:
            return None
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def file_size(location: BlobLocation) -> int | None:
    """The blob's size as stored, None when it cannot be read."""
    if location.length is not None:
        return location.length
    try:
        return os.stat(location.path).st_size
    except OSError:
        return None

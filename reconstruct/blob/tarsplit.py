"""A layer's tar stream rebuilt from tar-split metadata and its unpacked files.

containers-storage keeps each layer unpacked, and beside it `<id>.tar-split.gz`
(vbatts/tar-split): gzip-compressed JSON lines, one per piece of the original tar stream,

    {"type": 2, "payload": base64, "position": n}    raw bytes: headers, padding, the end
    {"type": 1, "name": "./etc/passwd", "size": 1234, "payload": base64 crc64, "position": n}
                                                     a file's contents, left out (they are
                                                     the unpacked file of that name)

(a name that is not UTF-8 is in `name_raw`, base64). Putting the pieces back in order gives
the tar stream byte for byte, as podman itself does to push or save an image: its sha256 is
the layer's diff_id. So the diff_id is checked against the files that are really there, not
against what layers.json says.

Bounded by what is on disk: a file entry is read from the unpacked file, which must be a
regular file inside the graph root holding exactly the size the entry records; a line longer
than MAX_LINE (a PAX header of megabytes) is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import SourceError
from .compression import inflate_chunks
from .contained import InputFolder
from .files import READ_CHUNK

SEGMENT, FILE = 2, 1
MAX_LINE = 16 * 1024 * 1024


@dataclass(frozen=True)
class Reassembly:
    """Where one layer's pieces are (picklable, for worker processes): paths relative to
    `root`, the input folder (a graph root) nothing is read outside of."""

    root: str
    tar_split: str  # `<driver>-layers/<id>.tar-split.gz`
    files: str  # the unpacked layer: `vfs/dir/<id>`, `overlay/<id>/diff`

    @property
    def key(self) -> str:
        return f"tar-split\0{self.root}\0{self.tar_split}\0{self.files}"


def _lines(chunks: Iterator[bytes], label: str) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
        if len(pending) > MAX_LINE:
            raise SourceError(f"{label}: a line longer than {MAX_LINE // (1024 * 1024)} MB")
    if pending.strip():
        yield pending


def _entry_name(entry: dict, label: str) -> str:
    if isinstance(entry.get("name"), str):
        return entry["name"]
    try:
        return base64.b64decode(entry.get("name_raw") or "", validate=True).decode(
            "utf-8", "surrogateescape"
        )
    except (binascii.Error, ValueError):
        raise SourceError(f"{label}: a file entry has no readable name") from None


def _relative(name: str, label: str) -> str | None:
    """The entry's path inside the layer folder; None for the folder itself."""
    parts = [part for part in PurePosixPath(name).parts if part not in ("/", ".")]
    if ".." in parts:
        raise SourceError(f"{label}: the entry {name!r} leads outside the layer")
    return "/".join(parts) or None


def reassembled(layer: Reassembly) -> Iterator[bytes]:
    """The layer's tar stream, piece by piece; a one-line SourceError where the metadata is
    unreadable or a file on disk is not what it records."""
    root = InputFolder(layer.root)
    label = f"{layer.root}/{layer.tar_split}"
    try:
        fd = (root / layer.tar_split).open_file()
    except OSError as error:
        raise SourceError(f"cannot read {label}: {error.strerror or error}") from None
    with open(fd, "rb", buffering=0) as handle:
        for line in _lines(inflate_chunks("gzip", handle.read, label), label):
            try:
                entry = json.loads(line)
            except ValueError:
                raise SourceError(f"{label}: a line is not JSON") from None
            if not isinstance(entry, dict):
                raise SourceError(f"{label}: a line is not a JSON object")
            kind = entry.get("type")
            if kind == SEGMENT:
                try:
                    yield base64.b64decode(entry.get("payload") or "", validate=True)
                except (binascii.Error, ValueError):
                    raise SourceError(f"{label}: a segment's payload is not base64") from None
            elif kind == FILE:
                size = entry.get("size", 0)
                if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                    raise SourceError(f"{label}: a file entry has no valid size")
                if size:
                    name = _entry_name(entry, label)
                    relative = _relative(name, label)
                    if relative is None:
                        raise SourceError(f"{label}: the layer folder itself has contents")
                    yield from _file(root, f"{layer.files}/{relative}", size)
            else:
                raise SourceError(f"{label}: an entry of unknown type {kind!r}")


def _file(root: InputFolder, relative: str, size: int) -> Iterator[bytes]:
    path = root / relative
    try:
        fd = path.open_file()
    except OSError as error:
        reason = path.problem() or error.strerror or str(error)
        raise SourceError(f"the unpacked file {relative} cannot be read: {reason}") from None
    remaining = size
    with open(fd, "rb", buffering=0) as handle:
        while remaining:
            data = handle.read(min(READ_CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
        longer = os.fstat(fd).st_size > size
    if remaining or longer:
        raise SourceError(f"the unpacked file {relative} is not the {size} bytes tar-split records")

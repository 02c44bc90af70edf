"""The tar format, read header by header without tarfile's member objects: extended headers
(GNU long names, pax records) folded into the entry they describe, names normalised, member data
skipped by offset or passed through in chunks, metadata members kept, bounds on every count.
tar.py builds the index of an archive on top of it; nothing here opens a file.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import SourceError

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
# Configs, manifests and indexes are kilobytes; 4 MiB leaves room for huge histories while a
# stream never buffers a layer that happens to be small.
JSON_MEMBER_LIMIT = 4 * 1024 * 1024
STREAM_KEEP_BUDGET = 32 * 1024 * 1024  # all JSON members kept from one stream, together
MAX_MEMBERS = 200_000  # an image archive has a handful per layer; this bounds the index's memory
MAX_HEADER_DATA = 1024 * 1024  # pax and GNU long-name records
MAX_LINK_HOPS = 16
# Names of members that are layers whatever they contain: never kept while streaming.
LAYER_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2")

EXTENSION_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


@dataclass(frozen=True)
class Member:
    name: str  # normalised archive path
    kind: str  # "file", "dir", "symlink", "hardlink" or "other"
    size: int
    link: str | None = None  # a symlink's target as written, or a hard link's archive path
    offset: int | None = None  # where the data starts, for a seekable plain file


def clean_name(name: str) -> str | None:
    """`./a//b/` → `a/b`; None for absolute paths, `..` and empty names."""
    if name.startswith("/"):
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


# What `stream_index` hands each regular member to: `observe(name, size)` returns a consumer of
# the member's data (called with consecutive pieces), or None to let the member pass unseen.
MemberObserver = Callable[[str, int], Callable[[memoryview], None] | None]
# Asked after each member with the metadata members kept so far: True ends the pass there.
StopWhen = Callable[[dict[str, bytes]], bool]


class Stopped(Exception):
    """A pass ended by its `stop` before the end of the archive (what was read is kept)."""

    def __init__(self, members: dict[str, Member], kept: dict[str, bytes]):
        self.members, self.kept = members, kept


def pread_all(fd: int, size: int, offset: int) -> bytes:
    parts = []
    while size > 0:
        data = os.pread(fd, size, offset)
        if not data:
            break
        parts.append(data)
        size -= len(data)
        offset += len(data)
    return b"".join(parts)


class FileReader:
    """A plain tar in a regular file: headers by pread, data skipped by offset."""

    def __init__(self, fd: int, base: int, end: int):
        self.fd = fd
        self.base = base
        self.end = end
        self.offset = 0

    def read(self, size: int) -> bytes:
        data = pread_all(self.fd, size, self.base + self.offset)
        self.offset += len(data)
        return data

    def skip(self, size: int) -> int:
        size = max(0, min(size, self.end - self.base - self.offset))
        self.offset += size
        return size

    def drain(self) -> None:
        """Nothing to do: what follows the end marker is not read."""


class ChunkReader:
    """A stream of chunks read front to back; skipping drops data without copying it."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""
        self._at = 0
        self.offset = 0

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buffer, self._at = chunk, 0
                return True
        return False

    def read(self, size: int) -> bytes:
        parts = []
        while size > 0:
            if self._at >= len(self._buffer) and not self._fill():
                break
            part = self._buffer[self._at : self._at + size]
            self._at += len(part)
            self.offset += len(part)
            size -= len(part)
            parts.append(part)
        return b"".join(parts)

    def skip(self, size: int, feed: Callable[[memoryview], None] | None = None) -> int:
        """Drop `size` bytes (fewer at the end of the stream); `feed` sees them on the way."""
        skipped = 0
        while size > skipped:
            available = len(self._buffer) - self._at
            if available <= 0:
                if not self._fill():
                    break
                continue
            step = min(available, size - skipped)
            if feed is not None:
                feed(memoryview(self._buffer)[self._at : self._at + step])
            self._at += step
            skipped += step
        self.offset += skipped
        return skipped

    def peek(self, size: int) -> bytes:
        while len(self._buffer) - self._at < size:
            rest = self._buffer[self._at :]
            if not self._fill():
                self._buffer, self._at = rest, 0
                break
            self._buffer, self._at = rest + self._buffer, 0
        return self._buffer[self._at : self._at + size]

    def drain(self) -> None:
        """Inflate what follows the end marker: a corrupt or cut-off trailer is still an error."""
        for _ in self._chunks:
            pass


@dataclass
class _Entry:
    """One member's header, its extended headers applied."""

    info: tarfile.TarInfo
    name: str
    link: str
    kind: str
    size: int
    at: int  # where its header starts


class _Headers:
    """Reads header blocks, folding GNU long names and pax records into the entry they describe."""

    def __init__(self, reader, label: str):
        self.reader, self.label = reader, label
        self._sparse = False  # the last header block's GNU "is extended" flag
        self.pax_global: dict[str, str] = {}

    def next(self) -> _Entry | None:
        """The next member's header; None at the end-of-archive marker."""
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        while True:
            at = self.reader.offset
            info = self._block(at)
            if info is None:
                return None
            if info.type not in EXTENSION_TYPES:
                break
            data = _header_data(self.reader, info.size, self.label, at)
            if info.type == tarfile.GNUTYPE_LONGNAME:
                long_name = _text(data.split(b"\0", 1)[0])
            elif info.type == tarfile.GNUTYPE_LONGLINK:
                long_link = _text(data.split(b"\0", 1)[0])
            elif info.type == tarfile.XGLTYPE:
                self.pax_global.update(_pax_records(data, self.label, at))
            else:
                pax = _pax_records(data, self.label, at)
        extended = {**self.pax_global, **pax}
        size = info.size
        if "size" in extended:
            try:
                size = int(extended["size"])
            except ValueError:
                raise SourceError(f"{self.label} is corrupt: bad pax size at byte {at}") from None
        kind = _member_kind(info)
        # Like tarfile: only regular files (and unknown types) carry data, whatever the size says.
        if kind != "file" and info.type in tarfile.SUPPORTED_TYPES:
            size = 0
        name = long_name or extended.get("path") or info.name
        link = long_link or extended.get("linkpath") or info.linkname
        if info.type == tarfile.GNUTYPE_SPARSE and self._sparse:
            raise SourceError(f"{self.label}: GNU sparse member {name!r} is not supported")
        return _Entry(info, name, link, kind, size, at)

    def _block(self, at: int) -> tarfile.TarInfo | None:
        header = self.reader.read(BLOCK)
        if not header:
            raise SourceError(
                f"{self.label} is truncated: it ends without the tar end-of-archive marker"
            )
        if len(header) < BLOCK:
            raise SourceError(f"{self.label} is truncated: it ends inside a tar header")
        if header == ZERO_BLOCK:
            return None
        self._sparse = bool(header[482])  # GNU's "is extended" flag: sparse maps follow
        try:
            return tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            if at == 0:
                raise SourceError(f"{self.label} is not a tar archive") from None
            raise SourceError(
                f"{self.label} is corrupt: no valid tar header at byte {at}"
            ) from None


class _Kept:
    """The metadata members kept while streaming, within STREAM_KEEP_BUDGET."""

    def __init__(self, label: str):
        self.label = label
        self.data: dict[str, bytes] = {}
        self.total = 0

    def add(self, name: str, data: bytes) -> None:
        self.total += len(data)
        if self.total > STREAM_KEEP_BUDGET:
            raise SourceError(
                f"{self.label}: more than {STREAM_KEEP_BUDGET // (1024 * 1024)} MiB of JSON "
                "members, too much metadata to hold while streaming"
            )
        self.data[name] = data


def scan(
    reader,
    label: str,
    *,
    keep_json: bool,
    observe: MemberObserver | None = None,
    stop: StopWhen | None = None,
) -> tuple[dict[str, Member], dict[str, bytes]]:
    """Every member's header, and the data of the JSON members kept (`keep_json`, for a stream
    read once); `observe` sees every regular member's data; with `stop`, only until it says so
    (then `Stopped` carries what was read)."""
    members: dict[str, Member] = {}
    kept = _Kept(label)
    headers = _Headers(reader, label)
    while (entry := headers.next()) is not None:
        member_name = clean_name(entry.name)
        offset = reader.offset
        is_file = member_name is not None and entry.kind == "file"
        keep = (
            keep_json
            and is_file
            and _may_be_json(member_name or "", entry.size)
            and reader.peek(min(entry.size, 64)).lstrip()[:1] in (b"{", b"[")
        )
        feed = observe(member_name, entry.size) if observe is not None and is_file else None
        data = _pass_data(reader, entry, label, keep, feed)
        if member_name is None:
            continue  # absolute or `..` names: never part of an image archive
        link = clean_name(entry.link) or "" if entry.kind == "hardlink" else entry.link
        members.pop(member_name, None)  # a later member of the same name replaces it
        if data is not None:
            kept.add(member_name, data)
        else:
            kept.data.pop(member_name, None)
        members[member_name] = Member(
            member_name, entry.kind, entry.size, link or None, None if keep_json else offset
        )
        if len(members) > MAX_MEMBERS:
            raise SourceError(f"{label} has more than {MAX_MEMBERS} members: not an image archive")
        if stop is not None and stop(kept.data):
            raise Stopped(members, kept.data)
    reader.drain()
    return members, kept.data


def _pass_data(
    reader, entry: _Entry, label: str, keep: bool, feed: Callable[[memoryview], None] | None
) -> bytes | None:
    """Move past a member's data (padding included): kept and returned when `keep`, handed to
    `feed` when given, else skipped."""
    size = entry.size
    padded = size + (-size % BLOCK)
    data = None
    if keep:
        data = reader.read(size)
        if len(data) < size:
            raise SourceError(f"{label} is truncated: it ends inside {entry.name}")
        if feed is not None:
            feed(memoryview(data))
        skipped = size + reader.skip(padded - size)
    elif feed is not None:
        skipped = reader.skip(size, feed)
        if skipped == size:
            skipped += reader.skip(padded - size)
    else:
        skipped = reader.skip(padded)
    if skipped < padded:
        raise SourceError(f"{label} is truncated: it ends inside {entry.name}")
    return data


def _header_data(reader, size: int, label: str, at: int) -> bytes:
    """The data of a pax or GNU long-name header (it describes the member after it)."""
    if size > MAX_HEADER_DATA:
        raise SourceError(f"{label} is corrupt: a {size}-byte extended header at byte {at}")
    data = reader.read(size)
    padding = -size % BLOCK
    if len(data) < size or reader.skip(padding) < padding:
        raise SourceError(f"{label} is truncated: it ends inside an extended header")
    return data


def _pax_records(data: bytes, label: str, at: int) -> dict[str, str]:
    """`<length> <key>=<value>\\n` records (POSIX pax extended header)."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        try:
            length = int(data[position:space])
        except ValueError:
            length = 0
        if space < 0 or length <= space - position:
            if not data[position:].strip(b"\0\n"):
                break
            raise SourceError(f"{label} is corrupt: bad pax header at byte {at}")
        key, _, value = data[space + 1 : position + length - 1].partition(b"=")
        records[_text(key)] = _text(value)
        position += length
    return records


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _member_kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    return "other"


def _may_be_json(name: str, size: int) -> bool:
    return size <= JSON_MEMBER_LIMIT and not name.endswith(LAYER_SUFFIXES)

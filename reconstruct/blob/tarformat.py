"""The tar format, read header by header without tarfile's member objects: extended headers
(GNU long names, pax records) folded into the entry they describe, names normalised, member data
skipped by offset or passed through in chunks, metadata members kept, bounds on every count.
tar.py builds the index of an archive on top of it; nothing here opens a file.
"""

from __future__ import annotations

import os
import re
import struct
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from ..errors import SourceError
from ..text import decimal_number

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
# Configs, manifests and indexes are kilobytes; 4 MiB leaves room for huge histories while a
# stream never buffers a layer that happens to be small.
JSON_MEMBER_LIMIT = 4 * 1024 * 1024
STREAM_KEEP_BUDGET = 32 * 1024 * 1024  # all JSON members kept from one stream, together
# Bounds on what an archive makes us do, whatever its headers claim. An image archive has a
# handful of members per layer, names of under a hundred bytes and no extended headers but long
# names; these leave room for any real one and stop a small input that would cost much more.
MAX_MEMBERS = 200_000  # member headers, every one counted (repeats and skipped names too)
MAX_NAME = 4096  # a name or link target longer than PATH_MAX names no file: the member is skipped
MAX_NAME_BYTES = 64 * 1024 * 1024  # names and link targets kept in the index, together
MAX_HEADER_DATA = 1024 * 1024  # one pax header's records
MAX_LONG_NAME = 64 * 1024  # one GNU long name or long link
MAX_PAX_RECORDS = 1024  # records in one pax header (a real one has a few)
MAX_EXTENDED = MAX_MEMBERS  # extended headers (pax, GNU long names, sparse maps), together
MAX_EXTENDED_DATA = 64 * 1024 * 1024  # their data, together
MAX_CHAIN = 16  # extended headers before one member
# What follows the end-of-archive marker in a stream is read (and inflated: a cut-off or
# corrupt trailer is still an error) up to this much in and out; beyond, reading stops.
TRAILER_LIMIT = 1024 * 1024
MAX_LINK_HOPS = 16
# Names of members that are layers whatever they contain: never kept while streaming.
LAYER_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2")

EXTENSION_TYPES = frozenset(
    (
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    )
)
KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.FIFOTYPE: "fifo",
    tarfile.CHRTYPE: "chardev",
    tarfile.BLKTYPE: "blockdev",
    tarfile.GNUTYPE_SPARSE: "sparse",
}
# What a member that is no regular file is, in words (TarIndex.problem).
KIND_WORDS = {
    "dir": "a directory",
    "symlink": "a symbolic link",
    "hardlink": "a hard link",
    "fifo": "a FIFO",
    "chardev": "a character device",
    "blockdev": "a block device",
    "sparse": "a sparse file (its data is not read)",
    "other": "a member of an unknown type",
}
# Member types whose data follows the header (like tarfile: regular files and unknown types).
_NO_DATA = frozenset(tarfile.SUPPORTED_TYPES) - frozenset(tarfile.REGULAR_TYPES)
# The pax records that matter here; every other one is parsed past and dropped.
_PAX_KEPT = frozenset((b"path", b"linkpath", b"size", b"GNU.sparse.name", b"uid", b"gid"))
_SPARSE = "GNU.sparse"  # set in a pax header's records when any GNU.sparse.* record is there
_HEADER = struct.Struct("100s8s8s8s12s12s8s1s100s6s2s32s32s8s8s155s12x")
_DIGITS = re.compile(rb"[0-9]{1,20}")


class TrailerTooLong(Exception):
    """Raised by a stream's reader when more than TRAILER_LIMIT follows the end marker."""


@dataclass(frozen=True, slots=True)
class Member:
    name: str  # normalised archive path
    # "file", "dir", "symlink", "hardlink", "fifo", "chardev", "blockdev", "sparse" or "other"
    kind: str
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

    def skip(self, size: int, feed: Callable[[memoryview], None] | None = None) -> int:
        """Move past `size` bytes (fewer at the end); read and handed to `feed` when given."""
        size = max(0, min(size, self.end - self.base - self.offset))
        if feed is None:
            self.offset += size
            return size
        done = 0
        while done < size:
            data = os.pread(self.fd, min(FEED_CHUNK, size - done), self.base + self.offset)
            if not data:
                break
            feed(memoryview(data))
            done += len(data)
            self.offset += len(data)
        return done

    def drain(self) -> None:
        """Nothing to do: what follows the end marker is not read."""


class ChunkReader:
    """A stream of chunks read front to back; skipping drops data without copying it.

    `at_end` is called when the end-of-archive marker has been read: the stream's reader then
    allows TRAILER_LIMIT more bytes of input, and raises TrailerTooLong past them.
    """

    def __init__(self, chunks: Iterator[bytes], at_end: Callable[[], None] | None = None):
        self._chunks = chunks
        self._at_end = at_end
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
        """Inflate what follows the end marker, so that a corrupt or cut-off trailer is still an
        error; but only TRAILER_LIMIT of it, in and out: `cat x.tar /dev/zero |` ends here."""
        if self._at_end is not None:
            self._at_end()
        seen = len(self._buffer) - self._at
        try:
            for chunk in self._chunks:
                seen += len(chunk)
                if seen > TRAILER_LIMIT:
                    break
        except TrailerTooLong:
            pass
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()


@dataclass(slots=True)
class _Head:
    """One header block's fields."""

    name: str
    size: int
    type: bytes
    link: str
    extended: bool  # GNU sparse: more of the map follows in extension blocks
    block: bytes  # the header itself: mode and owner are read from it only when listed


@dataclass(slots=True)
class _Entry:
    """One member's header, its extended headers applied."""

    name: str
    link: str
    kind: str
    size: int
    at: int  # where its header starts
    block: bytes = b""
    pax: dict[str, str] | None = None  # its extended records that matter (uid, gid)


class _Headers:
    """Reads header blocks, folding GNU long names and pax records into the entry they describe;
    counts every header against the bounds above."""

    def __init__(self, reader, label: str):
        self.reader, self.label = reader, label
        self.pax_global: dict[str, str] = {}  # only the records that matter (_PAX_KEPT)
        self.members = 0
        self.extended = 0
        self.extended_data = 0

    def next(self) -> _Entry | None:
        """The next member's header; None at the end-of-archive marker."""
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        chain = 0
        while True:
            at = self.reader.offset
            head = self._block(at)
            if head is None:
                return None
            if head.type not in EXTENSION_TYPES:
                break
            chain += 1
            if chain > MAX_CHAIN:
                raise SourceError(
                    f"{self.label} is corrupt: more than {MAX_CHAIN} extended headers in a row "
                    f"at byte {at}"
                )
            self._count_extended(head.size, at)
            if head.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                if head.size > MAX_LONG_NAME:
                    raise SourceError(
                        f"{self.label} is corrupt: a {head.size}-byte GNU long name at byte {at}"
                    )
                data = _header_data(self.reader, head.size, self.label)
                value = _text(data.split(b"\0", 1)[0])
                if head.type == tarfile.GNUTYPE_LONGNAME:
                    long_name = value
                else:
                    long_link = value
            else:
                if head.size > MAX_HEADER_DATA:
                    raise SourceError(
                        f"{self.label} is corrupt: a {head.size}-byte extended header at byte {at}"
                    )
                records = _pax_records(_header_data(self.reader, head.size, self.label), self, at)
                if head.type == tarfile.XGLTYPE:
                    self.pax_global.update(records)  # a handful of keys at most: it is bounded
                else:
                    pax = records
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise SourceError(
                f"{self.label} holds more than {MAX_MEMBERS} members: too many for an image archive"
            )
        extended = {**self.pax_global, **pax} if self.pax_global else pax
        size = head.size
        if "size" in extended:
            if not _DIGITS.fullmatch(extended["size"].encode("utf-8", "surrogateescape")):
                raise SourceError(f"{self.label} is corrupt: bad pax size at byte {at}")
            size = int(extended["size"])
        kind = KINDS.get(head.type, "other")
        name = long_name or extended.get("path") or head.name
        if _SPARSE in extended:  # pax sparse formats: the map is in the records or the data
            kind = "sparse"
            name = extended.get("GNU.sparse.name") or name
        if head.type == tarfile.GNUTYPE_SPARSE and head.extended:
            self._sparse_map(at)
        if head.type in _NO_DATA:  # like tarfile: only files (and unknown types) carry data
            size = 0
        link = long_link or extended.get("linkpath") or head.link
        return _Entry(name, link, kind, size, at, head.block, extended or None)

    def _count_extended(self, size: int, at: int) -> None:
        self.extended += 1
        self.extended_data += size
        if self.extended > MAX_EXTENDED:
            raise SourceError(
                f"{self.label} holds more than {MAX_EXTENDED} extended headers (at byte {at}): "
                "too many for an image archive"
            )
        if self.extended_data > MAX_EXTENDED_DATA:
            raise SourceError(
                f"{self.label} holds more than {MAX_EXTENDED_DATA // (1024 * 1024)} MiB of "
                f"extended headers (at byte {at}): too much for an image archive"
            )

    def _sparse_map(self, at: int) -> None:
        """Pass the extension blocks that go on with an old GNU sparse member's map."""
        while True:
            block = self.reader.read(BLOCK)
            if len(block) < BLOCK:
                raise SourceError(f"{self.label} is truncated: it ends inside a tar header")
            self._count_extended(BLOCK, at)
            if not block[504]:
                return

    def _block(self, at: int) -> _Head | None:
        header = self.reader.read(BLOCK)
        if not header:
            raise SourceError(
                f"{self.label} is truncated: it ends without the tar end-of-archive marker"
            )
        if len(header) < BLOCK:
            raise SourceError(f"{self.label} is truncated: it ends inside a tar header")
        if header == ZERO_BLOCK:
            return None
        head = parse_header(header)
        if head is None:
            if at == 0:
                raise SourceError(f"{self.label} is not a tar archive")
            raise SourceError(f"{self.label} is corrupt: no valid tar header at byte {at}")
        return head


def parse_header(block: bytes) -> _Head | None:
    """A header block's fields as tarfile.TarInfo.frombuf reads them (name with its ustar
    prefix, octal or base-256 numbers, the checksum checked); None when it is no valid header.
    Only what an index needs, at a fraction of frombuf's cost per member."""
    (name, _, _, _, size_field, _, checksum, kind, link, _, _, _, _, _, _, prefix) = _HEADER.unpack(
        block
    )
    stored = _octal(checksum)
    if stored is None:
        return None
    unsigned = sum(block) - sum(block[148:156]) + 256
    if stored != unsigned:
        signed = unsigned - 2 * sum(b for b in block if b > 127)
        if stored != signed:
            return None
    size = _number(size_field)
    if size is None or size < 0:
        return None
    name_text = _text(name.split(b"\0", 1)[0])
    if kind == tarfile.AREGTYPE and name_text.endswith("/"):
        kind = tarfile.DIRTYPE  # old V7 tars write directories as files with a trailing slash
    prefix_text = _text(prefix.split(b"\0", 1)[0])
    if prefix_text and kind not in tarfile.GNU_TYPES:
        name_text = prefix_text + "/" + name_text
    if kind == tarfile.DIRTYPE:
        name_text = name_text.rstrip("/")
    extended = kind == tarfile.GNUTYPE_SPARSE and bool(block[482])
    return _Head(name_text, size, kind, _text(link.split(b"\0", 1)[0]), extended, block)


def _octal(field: bytes) -> int | None:
    """Octal digits between optional spaces, up to a NUL (` *[0-7]* *`); None for anything else.
    By translate and int, not the regular expression: this runs several times per member."""
    digits = field.split(b"\0", 1)[0].strip(b" ")
    if digits.translate(None, b"01234567"):
        return None  # anything but octal digits (a sign, `_`, an inner space: int would take some)
    return int(digits, 8) if digits else 0


def _number(field: bytes) -> int | None:
    """tarfile's nti: octal, or GNU base-256 (first byte 0o200 positive, 0o377 negative)."""
    if field[0] in (0o200, 0o377):
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[0] == 0o377 else value
    return _octal(field)


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
    name_bytes = 0
    while (entry := headers.next()) is not None:
        member_name = _indexed_name(entry)
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
            continue  # absolute, `..` or overlong names: never part of an image archive
        link = clean_name(entry.link) or "" if entry.kind == "hardlink" else entry.link
        if members.pop(member_name, None) is None:  # a later member of the same name replaces it
            name_bytes += len(member_name)
        name_bytes += len(link)
        if name_bytes > MAX_NAME_BYTES:
            raise SourceError(
                f"{label}: its member names take more than {MAX_NAME_BYTES // (1024 * 1024)} "
                "MiB: too many for an image archive"
            )
        if data is not None:
            kept.add(member_name, data)
        elif kept.data:
            kept.data.pop(member_name, None)
        members[member_name] = Member(
            member_name, entry.kind, entry.size, link or None, None if keep_json else offset
        )
        if stop is not None and stop(kept.data):
            raise Stopped(members, kept.data)
    reader.drain()
    return members, kept.data


@dataclass(frozen=True, slots=True)
class Listed:
    """One member as a layer listing shows it (`tar -tv`): its name as written, type, mode
    (permission and set-id bits), owner, size and link target."""

    name: str
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    link: str | None
    data: bytes | None = None  # a regular file's contents, where the listing was asked for them


# What a listing may keep of one member's data (a credential file, a config: a few KB).
MAX_KEPT_DATA = 1024 * 1024
FEED_CHUNK = 1024 * 1024

# Sees a regular file's data on its way past: given the member (no data), it returns the
# function to hand the data to, or None.
Sink = Callable[[Listed], Callable[[memoryview], None] | None]


def listing(
    reader,
    label: str,
    keep: Callable[[str, int], bool] | None = None,
    sink: Sink | None = None,
) -> Iterator[Listed]:
    """Every member of a tar stream in order (a name repeated is listed each time), bounded as
    `scan` is; its data skipped, or kept for a regular file of at most MAX_KEPT_DATA bytes that
    `keep(name, size)` wants, and streamed to what `sink` returns for it. Names are as written:
    the caller decides what they mean."""
    headers = _Headers(reader, label)
    while (entry := headers.next()) is not None:
        fields = _HEADER.unpack(entry.block)
        pax = entry.pax or {}
        member = Listed(
            name=entry.name,
            kind=entry.kind,
            mode=(_number(fields[1]) or 0) & 0o7777,
            uid=_pax_number(pax.get("uid")) or _number(fields[2]) or 0,
            gid=_pax_number(pax.get("gid")) or _number(fields[3]) or 0,
            size=entry.size,
            link=entry.link or None,
        )
        is_file = entry.kind == "file"
        wanted = (
            keep is not None
            and is_file
            and entry.size <= MAX_KEPT_DATA
            and keep(entry.name, entry.size)
        )
        feed = sink(member) if sink is not None and is_file else None
        data = _pass_data(reader, entry, label, wanted, feed)
        yield replace(member, data=data) if data is not None else member
    reader.drain()


def _pax_number(value: str | None) -> int | None:
    return decimal_number(value)


def _indexed_name(entry: _Entry) -> str | None:
    """The name a member is indexed under; None for one no image archive can mean."""
    if len(entry.name) > MAX_NAME or len(entry.link) > MAX_NAME:
        return None
    return clean_name(entry.name)


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
            raise SourceError(f"{label} is truncated: it ends inside {_shown(entry.name)}")
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
        raise SourceError(f"{label} is truncated: it ends inside {_shown(entry.name)}")
    return data


def _header_data(reader, size: int, label: str) -> bytes:
    """The data of a pax or GNU long-name header (it describes the member after it)."""
    data = reader.read(size)
    padding = -size % BLOCK
    if len(data) < size or reader.skip(padding) < padding:
        raise SourceError(f"{label} is truncated: it ends inside an extended header")
    return data


def _pax_records(data: bytes, headers: _Headers, at: int) -> dict[str, str]:
    """The records that matter of a POSIX pax extended header (`<length> <key>=<value>\\n`);
    at most MAX_PAX_RECORDS of them are parsed."""
    records: dict[str, str] = {}
    position = 0
    count = 0
    end = len(data)
    while position < end:
        space = data.find(b" ", position, position + 21)
        length = int(data[position:space]) if _DIGITS.fullmatch(data, position, space) else 0
        if space < 0 or length <= space - position or position + length > end:
            if not data[position:].strip(b"\0\n"):
                break
            raise SourceError(f"{headers.label} is corrupt: bad pax header at byte {at}")
        count += 1
        if count > MAX_PAX_RECORDS:
            raise SourceError(
                f"{headers.label} is corrupt: a pax header of more than {MAX_PAX_RECORDS} "
                f"records at byte {at}"
            )
        equals = data.find(b"=", space + 1, position + length)
        key = data[space + 1 : equals] if equals > 0 else b""
        if key in _PAX_KEPT:
            records[_text(key)] = _text(data[equals + 1 : position + length - 1])
        elif key.startswith(b"GNU.sparse."):
            records[_SPARSE] = ""
        position += length
    return records


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _shown(name: str) -> str:
    """A member name for a message: quoted, and cut when it is long."""
    return repr(name) if len(name) <= 200 else repr(name[:200]) + "…"


def _may_be_json(name: str, size: int) -> bool:
    return size <= JSON_MEMBER_LIMIT and not name.endswith(LAYER_SUFFIXES)

"""One pass over a tar archive that keeps what image metadata needs and never layer data.

An archive may be a plain tar file, a gzip/zstd/xz/bzip2-compressed one (told apart by magic
bytes, not by name), or either of them on a pipe. The pass records every member's name, size,
type and link target. What happens to member data depends on what the input allows:

- a plain tar in a regular file is seekable: headers are read with `pread` and member data is
  skipped by offset, so a 3 GB archive costs a few KiB of reads; members are read later, only
  those a manifest or index actually names (`TarIndex.read`);
- anything else (compressed, or a pipe) can only be read once, front to back, and the member that
  names the others (`manifest.json`) comes last in the legacy layout. So the stream is inflated in
  fixed-size chunks and every small member that looks like JSON is kept, within a memory budget;
  the rest of the data passes through the chunk buffer and is dropped.

Member names are normalised (`./a//b` → `a/b`); absolute names and names with `..` are skipped
without a word: they cannot be part of an image archive and are never looked up or followed.
Nothing is written to disk.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import stat
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import SourceError
from .compression import OUTPUT_CHUNK, compression_of, inflate_chunks
from .digests import check_digest
from .files import MAX_METADATA_BYTES, BlobLocation, read_head
from .stores import BlobInfo, BlobStore
from .tarformat import (
    BLOCK,
    JSON_MEMBER_LIMIT,
    MAX_LINK_HOPS,
    TRAILER_LIMIT,
    ChunkReader,
    FileReader,
    Listed,
    Member,
    MemberObserver,
    Sink,
    Stopped,
    StopWhen,
    TrailerTooLong,
    clean_name,
    listing,
    pread_all,
    scan,
)


def sniff(head: bytes) -> str | None:
    """'gzip', 'zstd', 'xz', 'bzip2' or 'tar' from an input's first bytes; None for anything else."""
    kind = compression_of(head)
    if kind is not None:
        return kind
    if len(head) >= BLOCK:
        try:
            tarfile.TarInfo.frombuf(head[:BLOCK], "utf-8", "surrogateescape")
            return "tar"
        except tarfile.HeaderError:
            return None
    return None


class TarIndex:
    """The members of one archive, and the bytes of its metadata members."""

    def __init__(
        self,
        label: str,
        members: dict[str, Member],
        kept: dict[str, bytes],
        compression: str | None,
        pread: Callable[[int, int], bytes] | None,
    ):
        self.label = label  # the path, or "stdin", for messages
        self.members = members
        self.compression = compression  # None for a plain tar
        self._kept = kept
        self._pread = pread  # (offset, size) → bytes, for a seekable plain file

    def kept_members(self) -> dict[str, bytes]:
        """The metadata members whose bytes were kept (small JSON), by name."""
        return dict(self._kept)

    @property
    def streamed(self) -> bool:
        """True when member data was only available during the pass (compressed or a pipe)."""
        return self._pread is None

    @classmethod
    def open(
        cls,
        path: Path | str,
        observe: MemberObserver | None = None,
        on_read: Callable[[int], None] | None = None,
    ) -> TarIndex:
        """Index the archive at `path` (`-` is standard input) in one pass.

        With `observe`, an input that can be read only once (standard input, or compressed)
        hands every member's data to it as it passes (see `stream_index`); a plain tar in a
        regular file is indexed by offset as always, its members read again later."""
        if observe is not None and one_pass_only(path):
            return stream_index(path, observe, on_read)
        if str(path) == "-":
            return _index_stdin()
        label = str(path)
        try:
            if Path(path).is_dir():
                raise SourceError(f"{label} is a directory, not an archive")
            with open(path, "rb", buffering=0) as handle:
                return _index_file(handle.fileno(), label, lambda: open(path, "rb", buffering=0))
        except OSError as error:
            raise SourceError(f"cannot read {label}: {error.strerror or error}") from None

    @classmethod
    def of_stream(
        cls, read: Callable[[int], bytes], label: str, observe: MemberObserver
    ) -> TarIndex:
        """Index a stream (an engine's export) in its one pass, as `stream_index` does."""
        return _stream_with(read, label, observe, None)

    def resolve(self, name: str) -> Member | None:
        """The member at `name`, following symlinks in any component and hard links."""
        path = clean_name(name)
        hops = 0
        while path is not None:
            parts = path.split("/")
            for at in range(1, len(parts) + 1):
                member = self.members.get("/".join(parts[:at]))
                if member is None or member.kind != "symlink" or member.link is None:
                    continue
                hops += 1
                target = member.link
                if hops > MAX_LINK_HOPS or target.startswith("/"):
                    return None  # a loop, or a link out of the archive
                joined = posixpath.normpath(posixpath.join(*parts[: at - 1], target))
                path = clean_name("/".join([joined, *parts[at:]]))
                break
            else:
                member = self.members.get(path)
                if member is None or member.kind != "hardlink":
                    return member
                hops += 1
                if hops > MAX_LINK_HOPS or member.link is None:
                    return None
                path = clean_name(member.link)
        return None

    def read(self, name: str, limit: int = MAX_METADATA_BYTES) -> bytes | None:
        """A metadata member's bytes (links followed); None when the archive has no such file."""
        member = self.resolve(name)
        if member is None or member.kind != "file":
            return None
        if member.name in self._kept:
            return self._kept[member.name]
        if member.size > limit:
            raise SourceError(
                f"{self.label}: {name} is {member.size} bytes, too large for metadata"
            )
        if self._pread is None or member.offset is None:
            raise SourceError(
                f"{self.label}: {name} was not kept while streaming the archive "
                f"(only JSON members up to {JSON_MEMBER_LIMIT // (1024 * 1024)} MiB are)"
            )
        data = self._pread(member.offset, member.size)
        if len(data) != member.size:
            raise SourceError(f"{self.label} is truncated: {name} is cut short")
        return data

    def location(self, name: str) -> BlobLocation | None:
        """Where a member's bytes lie in a plain tar in a regular file (links followed), for
        another process to read; None when the archive was streamed or the member is no file."""
        member = self.resolve(name)
        if member is None or member.kind != "file" or member.offset is None or self.streamed:
            return None
        if self.label == "stdin":  # read by offset from our own standard input: no path to reopen
            return None
        return BlobLocation(self.label, member.offset, member.size)

    def files(self, prefix: str = "") -> list[Member]:
        """Regular-file members whose name starts with `prefix`, in archive order."""
        return [m for m in self.members.values() if m.kind == "file" and m.name.startswith(prefix)]


class TarBlobStore(BlobStore):
    """The `blobs/<alg>/<hex>` members of an OCI image layout inside an archive.

    Reads go through `TarIndex.read`: from memory for a streamed archive (like `MemoryBlobStore`),
    by offset for a plain file, so only the blobs a walk from index.json reaches are read.
    """

    def __init__(self, tar: TarIndex, root: str = "blobs"):
        self.tar = tar
        self.root = root

    def _name(self, digest: str) -> str | None:
        try:
            alg, hexpart = check_digest(digest)
        except SourceError:
            return None
        return f"{self.root}/{alg}/{hexpart}"

    def stat(self, digest: str) -> BlobInfo | None:
        name = self._name(digest)
        member = self.tar.resolve(name) if name else None
        return BlobInfo(member.size) if member is not None and member.kind == "file" else None

    def read(self, digest: str) -> bytes | None:
        name = self._name(digest)
        return self.tar.read(name) if name else None

    def locate(self, digest: str) -> BlobLocation | None:
        name = self._name(digest)
        return self.tar.location(name) if name else None

    def member_name(self, digest: str) -> str | None:
        name = self._name(digest)
        member = self.tar.resolve(name) if name else None
        return member.name if member is not None and member.kind == "file" else None


# --- opening the input -------------------------------------------------------------------------


def one_pass_only(path: Path | str) -> bool:
    """Standard input, or a compressed file: its members can only be seen in one pass."""
    if str(path) == "-":
        return True
    try:
        head = read_head(Path(path), BLOCK)
    except OSError:
        return False  # opening it reports the problem
    return sniff(head) not in (None, "tar")


def _stdin() -> tuple[BinaryIO, int | None]:
    """Standard input's byte stream and its file descriptor (None for an in-memory stand-in)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise SourceError("standard input is closed: nothing to read an archive from")
    try:
        fd = stream.fileno()
        os.fstat(fd)
    except (OSError, ValueError, io.UnsupportedOperation):  # an in-memory stand-in (tests)
        return stream, None
    return stream, fd


def _index_stdin() -> TarIndex:
    stream, fd = _stdin()
    if fd is None:
        return _index_stream(stream.read, "stdin")
    return _index_file(fd, "stdin", None)


def _index_file(fd: int, label: str, reopen: Callable[[], BinaryIO] | None) -> TarIndex:
    """A file descriptor: a regular file is read by offset, anything else as a stream.

    `reopen` opens the same file again for later reads (None: keep using `fd`, standard input).
    """
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return _index_stream(lambda size: os.read(fd, size), label)
    base = os.lseek(fd, 0, os.SEEK_CUR)  # `< file` may hand over a file already read into
    end = os.fstat(fd).st_size
    kind = _kind(os.pread(fd, BLOCK, base), label)
    if kind != "tar":
        return _index_stream(lambda size: os.read(fd, size), label, compression=kind)
    _no_readahead(fd)
    members, kept = scan(FileReader(fd, base, end), label, keep_json=False)

    def pread(offset: int, size: int) -> bytes:
        if reopen is None:
            return pread_all(fd, size, base + offset)
        with reopen() as handle:
            _no_readahead(handle.fileno())
            return pread_all(handle.fileno(), size, base + offset)

    return TarIndex(label, members, kept, None, pread)


def _index_stream(
    read: Callable[[int], bytes],
    label: str,
    compression: str | None = None,
    observe: MemberObserver | None = None,
    stop: StopWhen | None = None,
) -> TarIndex:
    """Index a stream that can be read only once, front to back."""
    head = b""
    if compression is None:
        head = _read_up_to(read, BLOCK)
        compression = _kind(head, label)
    raw = _AfterEnd(_prefixed(head, read))
    if compression == "tar":
        chunks = _raw_chunks(raw.read)
        compression = None
    else:
        chunks = inflate_chunks(compression, raw.read, label)
    reader = ChunkReader(chunks, at_end=raw.start)
    members, kept = scan(reader, label, keep_json=True, observe=observe, stop=stop)
    return TarIndex(label, members, kept, compression, None)


def list_layer(
    location: BlobLocation,
    label: str,
    keep: Callable[[str, int], bool] | None = None,
    sink: Sink | None = None,
) -> Iterator[Listed]:
    """Every entry of a layer blob (plain or compressed tar, told by its bytes), in order, read
    once front to back; its data is inflated past, never kept."""
    with open(location.open(), "rb", buffering=0) as handle:
        fd = handle.fileno()
        base = location.offset
        if stat.S_ISREG(os.fstat(fd).st_mode):
            end = os.fstat(fd).st_size
            if location.length is not None:
                end = min(end, base + location.length)
            if _kind(os.pread(fd, BLOCK, base), label) == "tar":
                # a plain tar in a file: headers by pread, data skipped by offset (as tar -t)
                _no_readahead(fd)
                yield from listing(FileReader(fd, base, end), label, keep, sink)
                return
        if base:
            handle.seek(base)
        remaining = location.length

        def read(size: int) -> bytes:
            nonlocal remaining
            if remaining is not None:
                size = min(size, remaining)
                if size <= 0:
                    return b""
            data = handle.read(size)
            if remaining is not None:
                remaining -= len(data)
            return data

        yield from list_read(read, label, keep, sink)


def list_stream(
    chunks: Iterator[bytes],
    label: str,
    keep: Callable[[str, int], bool] | None = None,
    sink: Sink | None = None,
) -> Iterator[Listed]:
    """As `list_layer`, for a layer's bytes that come as pieces (a rebuilt tar stream)."""
    pending = bytearray()

    def read(size: int) -> bytes:
        while len(pending) < size:
            piece = next(chunks, None)
            if piece is None:
                break
            pending.extend(piece)
        data = bytes(pending[:size])
        del pending[:size]
        return data

    return list_read(read, label, keep, sink)


def list_read(
    read: Callable[[int], bytes],
    label: str,
    keep: Callable[[str, int], bool] | None = None,
    sink: Sink | None = None,
) -> Iterator[Listed]:
    head = _read_up_to(read, BLOCK)
    compression = _kind(head, label)
    whole = _prefixed(head, read)
    if compression == "tar":
        chunks = _raw_chunks(whole)
    else:
        chunks = inflate_chunks(compression, whole, label)
    yield from listing(ChunkReader(chunks), label, keep, sink)


class _AfterEnd:
    """A stream's raw input, counted once the tar end marker has been read (`start`): past
    TRAILER_LIMIT more bytes, reading raises TrailerTooLong. What inflates to nothing (zero
    bytes after a gzip member, `cat x.tar.gz /dev/zero |`; empty members; skippable zstd
    frames) would otherwise be read for ever."""

    def __init__(self, read: Callable[[int], bytes]):
        self._read = read
        self._left: int | None = None

    def start(self) -> None:
        self._left = TRAILER_LIMIT

    def read(self, size: int) -> bytes:
        data = self._read(size)
        if self._left is not None:
            self._left -= len(data)
            if self._left < 0:
                raise TrailerTooLong
        return data


def read_stream_until(
    read: Callable[[int], bytes], label: str, stop: StopWhen
) -> tuple[TarIndex, bool]:
    """Index a stream (plain or compressed tar) only as far as `stop` needs; the rest is never
    read. Returns the index and whether the archive was read to its end."""
    try:
        return _index_stream(read, label, stop=stop), True
    except Stopped as stopped:
        return TarIndex(label, stopped.members, stopped.kept, None, None), False


def stream_index(
    path: Path | str,
    observe: MemberObserver,
    on_read: Callable[[int], None] | None = None,
) -> TarIndex:
    """Index an archive in one front-to-back pass, whatever it is (plain, compressed, a pipe;
    `-` is standard input), handing every regular member's data to `observe` as it passes.

    For checking the digests of a whole archive with one read (`verify`): metadata members are
    kept as for any stream, member data is never held. `on_read(n)` hears of every `n` input
    bytes read (a progress bar).
    """
    if str(path) == "-":
        stream, fd = _stdin()
        raw_read: Callable[[int], bytes] = (
            stream.read if fd is None else (lambda size: os.read(fd, size))
        )
        return _stream_with(raw_read, "stdin", observe, on_read)
    label = str(path)
    try:
        if Path(path).is_dir():
            raise SourceError(f"{label} is a directory, not an archive")
        with open(path, "rb", buffering=0) as handle:
            fd = handle.fileno()
            return _stream_with(lambda size: os.read(fd, size), label, observe, on_read)
    except OSError as error:
        raise SourceError(f"cannot read {label}: {error.strerror or error}") from None


def _stream_with(
    read: Callable[[int], bytes],
    label: str,
    observe: MemberObserver,
    on_read: Callable[[int], None] | None,
) -> TarIndex:
    if on_read is not None:
        plain_read = read

        def read(size: int) -> bytes:
            data = plain_read(size)
            on_read(len(data))
            return data

    return _index_stream(read, label, observe=observe)


def _kind(head: bytes, label: str) -> str:
    if not head:
        raise SourceError(f"{label} is empty")
    kind = sniff(head)
    if kind is None:
        raise SourceError(f"{label} is not a tar archive (nor a gzip, zstd, xz or bzip2 one)")
    return kind


def _no_readahead(fd: int) -> None:
    # The kernel would otherwise read ahead of every header into layer data we skip.
    with contextlib.suppress(AttributeError, OSError):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)


def _read_up_to(read: Callable[[int], bytes], size: int) -> bytes:
    """`size` bytes from a pipe (which hands out less at a time), fewer only at its end."""
    parts = []
    while size > 0:
        data = read(size)
        if not data:
            break
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


def _prefixed(head: bytes, read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """`read` with `head` (already consumed to sniff the format) put back in front."""
    pending = [head] if head else []

    def reader(size: int) -> bytes:
        if pending:
            return pending.pop()
        return read(size)

    return reader


def _raw_chunks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while data := read(OUTPUT_CHUNK):
        yield data

"""Decompression, once for every reader: told by magic bytes, never by name or media type.

gzip (ISA-L's inflater when the `isal` package is installed, zlib's otherwise), xz and bzip2
share one piecewise inflater (`Inflater`) that takes input as it comes and hands out output in
pieces of at most OUTPUT_CHUNK bytes, so memory stays bounded whatever the input expands to;
several gzip members or xz/bzip2 streams one after another (pigz, `cat a.gz b.gz`) and zero
padding after the last one are read as one stream. zstd frames are followed from their bytes
(`ZstdFrames`: skippable frames are valid anywhere and dropped, a last frame cut off is an
error) and inflated one block at a time by zstandard (`ZstdInflater`), as bounded. Two forms: pull
(`inflate_chunks`, for a tar read front to back) and push (`pusher`, for a digest computed as
bytes go by).
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import SourceError

INPUT_CHUNK = 128 * 1024
# Small output pieces stay in the CPU cache, which measured faster than 1 MiB ones
# (bench/bench_archive.py); they are also the memory bound per stream.
OUTPUT_CHUNK = 256 * 1024
# Compressed input that inflates to nothing at all: empty gzip members, zstd skippable frames.
# A real stream gives output every few KB; this much without any is a stream built to be read
# for ever (on stdin, with no size to stop at).
MAX_SILENT_INPUT = 16 * 1024 * 1024

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bzip2",
}
LONGEST_MAGIC = max(len(magic) for magic in MAGIC)
ZSTD_MAGIC = 0xFD2FB528
# A zstd skippable frame: magic 0x184D2A50 to 0x184D2A5F (little-endian), a 4-byte
# little-endian length, that many bytes of anything. A zstd stream may start with one.
SKIPPABLE_MAGIC = 0x184D2A50
SKIPPABLE_MASK = 0xFFFFFFF0


def compression_of(head: bytes) -> str | None:
    """'gzip', 'zstd', 'xz' or 'bzip2' from a stream's first bytes; None: not compressed."""
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    if len(head) >= 4 and int.from_bytes(head[:4], "little") & SKIPPABLE_MASK == SKIPPABLE_MAGIC:
        return "zstd"
    return None


class ZstdFrames:
    """Follows the frame structure of a zstd stream from its compressed bytes (RFC 8878: frame
    header, block headers, checksum; skippable frames), without decompressing: `split` hands
    back the bytes of real frames cut after every block (so that inflating one piece makes at
    most one block, 128 KiB, of output) and drops skippable frames; `complete` tells whether
    the input so far ends between frames or inside one (cut off).

    Costs a few operations per block and keeps at most a header's bytes. Raises ValueError on
    bytes that begin no frame."""

    def __init__(self):
        self._state = "magic"
        self._pending = b""  # header bytes gathered so far
        self._skip = 0  # content bytes to pass before the next header
        self._after_skip = "magic"
        self._checksum = False
        self._real = False  # inside a frame that is not skippable
        self._new = False  # the next piece starts a frame
        self._out: list[bytes] = []  # a real frame's bytes since the last cut

    @property
    def complete(self) -> bool:
        """The bytes so far end exactly after a frame."""
        return self._state == "magic" and not self._pending and not self._skip

    def split(self, data: bytes | memoryview) -> list[tuple[bool, bytes]]:
        """(starts a frame, bytes) pieces of the real frames in `data`."""
        pieces: list[tuple[bool, bytes]] = []
        view = memoryview(data)
        at, end = 0, len(view)
        while at < end:
            if self._skip:
                step = min(self._skip, end - at)
                if self._real:
                    self._out.append(bytes(view[at : at + step]))
                self._skip -= step
                at += step
                if self._skip:
                    break
                self._state = self._after_skip
                if self._state in ("block", "magic"):  # a block (or a checksum) ends here
                    self._cut(pieces)
                continue
            need = 1 if self._state == "descriptor" else 3 if self._state == "block" else 4
            take = need - len(self._pending)
            self._pending += bytes(view[at : at + take])
            at += min(take, end - at)
            if len(self._pending) < need:
                break
            self._advance(pieces)
        self._cut(pieces)
        return pieces

    def _cut(self, pieces: list[tuple[bool, bytes]]) -> None:
        if self._out:
            pieces.append((self._new, b"".join(self._out)))
            self._out, self._new = [], False

    def _then(self, skip: int, state: str) -> None:
        """Pass `skip` bytes, then read a `state` header."""
        self._skip, self._after_skip = skip, state
        self._state = state if not skip else "skipping"

    def _advance(self, pieces: list[tuple[bool, bytes]]) -> None:
        header, self._pending = self._pending, b""
        value = int.from_bytes(header, "little")
        state = self._state
        if state == "magic":
            self._cut(pieces)
            if value == ZSTD_MAGIC:
                self._real = self._new = True
                self._out.append(header)
                self._state = "descriptor"
            elif value & SKIPPABLE_MASK == SKIPPABLE_MAGIC:
                self._real = False
                self._state = "skippable"
            else:
                raise ValueError("bytes after a frame begin no zstd frame")
            return
        if state == "skippable":
            self._then(value, "magic")
            return
        self._out.append(header)
        if state == "descriptor":
            size_flag, single = value >> 6, bool(value & 0x20)
            if value & 0x08:
                raise ValueError("a reserved bit is set in a frame header")
            self._checksum = bool(value & 0x04)
            rest = (0 if single else 1) + (0, 1, 2, 4)[value & 0x03]
            rest += (1 if single else 0, 2, 4, 8)[size_flag]
            self._then(rest, "block")
            return
        # a block header: last-block bit, type, size
        last, kind, size = value & 1, (value >> 1) & 3, value >> 3
        if kind == 3:
            raise ValueError("a block of the reserved type")
        content = (1 if kind == 1 else size) + (4 if last and self._checksum else 0)
        self._then(content, "magic" if last else "block")
        if not content:
            self._cut(pieces)


class ZstdInflater:
    """A zstd stream inflated piece by piece as its input arrives, like Inflater: each frame
    through its own zstandard decompressobj, fed at most one block at a time (decompressobj
    bounds no output, a block is at most 128 KiB of it)."""

    kind = "zstd"

    def __init__(self):
        try:
            import zstandard
        except ImportError:
            raise SourceError(
                "the data is zstd-compressed: install the `zstandard` package to read it"
            ) from None
        self._make = zstandard.ZstdDecompressor().decompressobj
        self._frames = ZstdFrames()
        self._current: Any = None

    def feed(self, data: bytes | memoryview) -> Iterator[bytes]:
        for starts, piece in self._frames.split(data):
            if starts or self._current is None:
                self._current = self._make()
            out = self._current.decompress(piece)
            if out:
                yield out

    @property
    def complete(self) -> bool:
        return self._frames.complete


class _ZlibGzip:
    """zlib's gzip inflater behind the needs_input/eof interface that bz2, lzma and isal share."""

    def __init__(self):
        self._inflater = zlib.decompressobj(31)

    @property
    def needs_input(self) -> bool:
        return not self._inflater.unconsumed_tail

    @property
    def eof(self) -> bool:
        return self._inflater.eof

    @property
    def unused_data(self) -> bytes:
        return self._inflater.unused_data

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return self._inflater.decompress(self._inflater.unconsumed_tail + data, max_length)


def _gzip_factory() -> Callable[[], Any]:
    # ISA-L inflates gzip about twice as fast as zlib (and faster than `gzip -dc`).
    try:
        from isal import igzip_lib
    except ImportError:
        return _ZlibGzip
    return lambda: igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)


def _factory(kind: str) -> Callable[[], Any]:
    if kind == "gzip":
        return _gzip_factory()
    if kind == "xz":
        return lzma.LZMADecompressor
    if kind == "bzip2":
        return bz2.BZ2Decompressor
    raise ValueError(f"no piecewise inflater for {kind!r}")


def errors() -> tuple[type[BaseException], ...]:
    """What the inflaters raise on corrupt input (each library has its own error class)."""
    found: list[type[BaseException]] = [OSError, EOFError, ValueError, zlib.error, lzma.LZMAError]
    with contextlib.suppress(ImportError):
        from isal import igzip_lib

        found.append(igzip_lib.IsalError)
    with contextlib.suppress(ImportError):
        import zstandard

        found.append(zstandard.ZstdError)
    return tuple(found)


def describe_error(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class Inflater:
    """A gzip, xz or bzip2 stream inflated piece by piece as its input arrives."""

    def __init__(self, kind: str):
        self.kind = kind
        self._make = _factory(kind)
        self._current = self._make()

    def feed(self, data: bytes | memoryview) -> Iterator[bytes]:
        """The output `data` makes available, lazily, OUTPUT_CHUNK bytes at most at a time."""
        data = bytes(data)
        while True:
            inflater = self._current
            if inflater.eof:
                # another member may follow; zero bytes after the last one are padding
                data = (inflater.unused_data + data).lstrip(b"\0")
                if not data:
                    return
                self._current = inflater = self._make()
            out = inflater.decompress(data, OUTPUT_CHUNK)
            data = b""
            if out:
                yield out
            if not inflater.eof and inflater.needs_input:
                return

    @property
    def complete(self) -> bool:
        """The last member read so far has ended (no data cut off inside one)."""
        return bool(self._current.eof)


def inflater(kind: str) -> Inflater | ZstdInflater:
    """The piecewise inflater for `kind`."""
    return ZstdInflater() if kind == "zstd" else Inflater(kind)


class InflaterPusher:
    """An inflater pushed into: `sink` gets each piece of output as input arrives."""

    def __init__(self, kind: str, sink: Callable[[bytes], None]):
        self._inflater = inflater(kind)
        self._sink = sink

    def push(self, data: bytes | memoryview) -> None:
        for piece in self._inflater.feed(data):
            self._sink(piece)

    def finish(self) -> None:
        if not self._inflater.complete:
            raise EOFError(f"the {self._inflater.kind} data ends early")


def pusher(kind: str, sink: Callable[[bytes], None]) -> InflaterPusher:
    """The push form for `kind`: push(data) as it comes, finish() at the end (raises on data
    cut off inside a member or frame)."""
    return InflaterPusher(kind, sink)


def inflate_chunks(kind: str, read: Callable[[int], bytes], label: str) -> Iterator[bytes]:
    """`read`'s stream inflated, in chunks of at most OUTPUT_CHUNK bytes; memory stays constant.

    Corrupt or cut-off data ends in a one-line SourceError naming `label`.
    """
    failures = errors()
    try:
        inflating = inflater(kind)
        silent = 0  # input read since the last output
        while chunk := read(INPUT_CHUNK):
            silent += len(chunk)
            for piece in inflating.feed(chunk):
                silent = 0
                yield piece
            if silent > MAX_SILENT_INPUT:
                raise SourceError(
                    f"{label}: {MAX_SILENT_INPUT // (1024 * 1024)} MB of {kind} data inflate to "
                    "nothing (a stream built to be read for ever)"
                )
        if not inflating.complete:
            raise SourceError(f"{label} is truncated: the {kind} data ends early")
    except failures as error:
        raise SourceError(f"{label}: corrupt {kind} data ({describe_error(error)})") from None

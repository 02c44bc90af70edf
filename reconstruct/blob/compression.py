"""Decompression, once for every reader: told by magic bytes, never by name or media type.

gzip (ISA-L's inflater when the `isal` package is installed, zlib's otherwise), xz and bzip2
share one piecewise inflater (`Inflater`) that takes input as it comes and hands out output in
pieces of at most OUTPUT_CHUNK bytes, so memory stays bounded whatever the input expands to;
several gzip members or xz/bzip2 streams one after another (pigz, `cat a.gz b.gz`) and zero
padding after the last one are read as one stream. zstd goes through zstandard's own bounded
readers and writers. Two forms: pull (`inflate_chunks`, for a tar read front to back) and push
(`pusher`, for a digest computed as bytes go by).
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

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bzip2",
}
LONGEST_MAGIC = max(len(magic) for magic in MAGIC)


def compression_of(head: bytes) -> str | None:
    """'gzip', 'zstd', 'xz' or 'bzip2' from a stream's first bytes; None: not compressed."""
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


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


class InflaterPusher:
    """An Inflater pushed into: `sink` gets each piece of output as input arrives."""

    def __init__(self, kind: str, sink: Callable[[bytes], None]):
        self._inflater = Inflater(kind)
        self._sink = sink

    def push(self, data: bytes | memoryview) -> None:
        for piece in self._inflater.feed(data):
            self._sink(piece)

    def finish(self) -> None:
        if not self._inflater.complete:
            raise EOFError(f"the {self._inflater.kind} data ends early")


class ZstdPusher:
    """zstd frames one after another, pushed in; `sink` gets bounded pieces of output."""

    def __init__(self, sink: Callable[[bytes], None]):
        import zstandard

        class Writer:  # what zstandard writes the decompressed pieces to
            def write(self, data: bytes) -> int:
                sink(data)
                return len(data)

        self._writer = zstandard.ZstdDecompressor().stream_writer(
            Writer(), write_size=OUTPUT_CHUNK, closefd=False
        )

    def push(self, data: bytes | memoryview) -> None:
        self._writer.write(data)

    def finish(self) -> None:
        self._writer.flush()


def pusher(kind: str, sink: Callable[[bytes], None]) -> InflaterPusher | ZstdPusher:
    """The push form for `kind`: push(data) as it comes, finish() at the end (raises on data
    cut off inside a member)."""
    return ZstdPusher(sink) if kind == "zstd" else InflaterPusher(kind, sink)


def inflate_chunks(kind: str, read: Callable[[int], bytes], label: str) -> Iterator[bytes]:
    """`read`'s stream inflated, in chunks of at most OUTPUT_CHUNK bytes; memory stays constant.

    Corrupt or cut-off data ends in a one-line SourceError naming `label`.
    """
    failures = errors()
    try:
        if kind == "zstd":
            yield from _zstd_chunks(read)
            return
        inflater = Inflater(kind)
        while chunk := read(INPUT_CHUNK):
            yield from inflater.feed(chunk)
        if not inflater.complete:
            raise SourceError(f"{label} is truncated: the {kind} data ends early")
    except failures as error:
        raise SourceError(f"{label}: corrupt {kind} data ({describe_error(error)})") from None


def _zstd_chunks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    try:
        import zstandard
    except ImportError:
        raise SourceError(
            "the archive is zstd-compressed: install the `zstandard` package to read it"
        ) from None

    class Raw:  # zstandard reads from an object with .read()
        def read(self, size: int = -1) -> bytes:
            return read(INPUT_CHUNK if size < 0 else size)

    # stream_reader bounds each output (decompressobj may expand one input chunk without
    # limit); a truncated frame shows up as a tar that ends early.
    reader = zstandard.ZstdDecompressor().stream_reader(
        Raw(), read_size=INPUT_CHUNK, read_across_frames=True
    )
    while out := reader.read(OUTPUT_CHUNK):
        yield out

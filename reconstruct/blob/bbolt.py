"""A read-only reader of bbolt files (go.etcd.io/bbolt), the format of containerd's meta.db.

No maintained Python library reads bbolt. PyPI's `boltdb` (0.0.2, 2020, unmaintained) opens
the file `O_RDWR|O_CREAT`, takes a `lockf` lock and maps it writable: wrong for a file that a
running containerd owns, and for one an attacker wrote. So this is a small reader of the
on-disk format, for what containerd's metadata needs: nested buckets of keys and values.

The file is read as it is, with no lock: a running containerd holds bbolt's flock for as long
as it runs, and bbolt writes a transaction's pages before the meta page that makes them
current, so the newest meta page whose checksum holds names a complete tree. Everything is
checked against the file's real size: page numbers, element counts, offsets, overflow, depth.
A page is read once per walk (a tree with a loop is refused), so work follows the file's size.

Format (bbolt's page.go, bucket.go, db.go): a file of pages of `page_size` bytes; each page
starts with id u64, flags u16, count u16, overflow u32. Pages 0 and 1 are meta pages (magic
0xED0CDAED, version 2, page size, flags, root bucket {root pgid, sequence}, freelist, pgid
count, txid, FNV-1a checksum). Branch pages (0x01) hold {pos u32, ksize u32, pgid u64}
elements; leaf pages (0x02) {flags u32, pos u32, ksize u32, vsize u32}, the key `pos` bytes
after its element, the value right after the key. A leaf element with flag 0x01 is a nested
bucket: its value is {root pgid u64, sequence u64}, and root 0 means the bucket's one leaf
page follows inline in the value.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = 0xED0CDAED
VERSION = 2
BRANCH, LEAF, META = 0x01, 0x02, 0x04
BUCKET_LEAF = 0x01
PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
META_BODY = struct.Struct("<IIIIQQQQQQ")  # magic, version, page size, flags, root, seq, ...
BRANCH_ELEMENT = struct.Struct("<IIQ")  # pos, ksize, pgid
LEAF_ELEMENT = struct.Struct("<IIII")  # flags, pos, ksize, vsize
BUCKET_HEADER = struct.Struct("<QQ")  # root pgid, sequence
MAX_DEPTH = 64  # a B+tree of 64 levels would hold more keys than any file can


class BoltError(ValueError):
    """The bytes are not a bbolt file this reader can follow; str() is the one-line reason."""


def _fnv1a64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


@dataclass(frozen=True)
class _Meta:
    page_size: int
    root: int
    txid: int


class Bucket:
    """A bucket: its keys in order, each to a value (bytes) or a nested Bucket."""

    def __init__(self, db: BoltDB, root: int, inline: bytes | None):
        self._db = db
        self._root = root
        self._inline = inline

    def items(self) -> Iterator[tuple[bytes, bytes | Bucket]]:
        """(key, value or Bucket), in key order."""
        if self._inline is not None:
            yield from self._db._leaf_items(self._inline, 0, len(self._inline))
        else:
            yield from self._db._tree_items(self._root, set(), 0)

    def get(self, key: bytes) -> bytes | Bucket | None:
        for name, value in self.items():
            if name == key:
                return value
        return None

    def bucket(self, *path: bytes) -> Bucket | None:
        """The nested bucket at `path`, or None when any part is absent or not a bucket."""
        found: bytes | Bucket | None = self
        for name in path:
            if not isinstance(found, Bucket):
                return None
            found = found.get(name)
        return found if isinstance(found, Bucket) else None

    def buckets(self) -> Iterator[tuple[bytes, Bucket]]:
        for name, value in self.items():
            if isinstance(value, Bucket):
                yield name, value

    def values(self) -> dict[bytes, bytes]:
        """The plain key → value pairs of this bucket (nested buckets left out)."""
        return {name: value for name, value in self.items() if isinstance(value, bytes)}


class BoltDB:
    """A bbolt file's contents, read from `data` (the whole file, read without a lock)."""

    def __init__(self, data: bytes):
        self.data = data
        self.meta = self._meta()
        self.root = Bucket(self, self.meta.root, None)

    def _meta(self) -> _Meta:
        best: _Meta | None = None
        for offset in self._meta_offsets():
            found = self._meta_at(offset)
            if found is not None and (best is None or found.txid > best.txid):
                best = found
        if best is None:
            raise BoltError("no valid bbolt meta page (not a bbolt file, or damaged)")
        return best

    def _meta_offsets(self) -> list[int]:
        """Page 0's meta starts the file; page 1's is one page size further, and the page size
        is written in page 0 (read it there, else try the usual sizes)."""
        offsets = [0]
        first = self._meta_at(0, check_sum=False)
        sizes = [first.page_size] if first else [4096, 8192, 16384, 65536]
        return offsets + sizes

    def _meta_at(self, offset: int, check_sum: bool = True) -> _Meta | None:
        start = offset + PAGE_HEADER.size
        if start + META_BODY.size > len(self.data):
            return None
        _, flags, _, _ = PAGE_HEADER.unpack_from(self.data, offset)
        fields = META_BODY.unpack_from(self.data, start)
        magic, version, page_size, _, root, _, _, pgids, txid, checksum = fields
        if not flags & META or magic != MAGIC or version != VERSION:
            return None
        if page_size < 512 or page_size > 1 << 20 or page_size & (page_size - 1):
            return None
        if check_sum and _fnv1a64(self.data[start : start + META_BODY.size - 8]) != checksum:
            return None
        if pgids * page_size > len(self.data) + page_size:  # more pages than the file holds
            return None
        return _Meta(page_size, root, txid)

    def _page(self, pgid: int) -> tuple[int, int, int]:
        """(offset, flags, count) of page `pgid`, checked to lie inside the file."""
        size = self.meta.page_size
        offset = pgid * size
        if pgid < 2 or offset + PAGE_HEADER.size > len(self.data):
            raise BoltError(f"page {pgid} is outside the file")
        page_id, flags, count, overflow = PAGE_HEADER.unpack_from(self.data, offset)
        if page_id != pgid:
            raise BoltError(f"page {pgid} says it is page {page_id}")
        if offset + (overflow + 1) * size > len(self.data):
            raise BoltError(f"page {pgid} runs past the end of the file")
        return offset, flags, count

    def _tree_items(
        self, pgid: int, seen: set[int], depth: int
    ) -> Iterator[tuple[bytes, bytes | Bucket]]:
        if depth > MAX_DEPTH:
            raise BoltError("the tree is nested too deeply")
        if pgid in seen:
            raise BoltError(f"page {pgid} is reached twice (a loop)")
        seen.add(pgid)
        offset, flags, count = self._page(pgid)
        end = offset + self._span(pgid)
        if flags & LEAF:
            yield from self._leaf_items(self.data, offset, end, count)
            return
        if not flags & BRANCH:
            raise BoltError(f"page {pgid} is neither a branch nor a leaf")
        elements = offset + PAGE_HEADER.size
        if elements + count * BRANCH_ELEMENT.size > end:
            raise BoltError(f"page {pgid} lists more elements than it holds")
        for number in range(count):
            _, _, child = BRANCH_ELEMENT.unpack_from(
                self.data, elements + number * BRANCH_ELEMENT.size
            )
            yield from self._tree_items(child, seen, depth + 1)

    def _span(self, pgid: int) -> int:
        _, _, _, overflow = PAGE_HEADER.unpack_from(self.data, pgid * self.meta.page_size)
        return (overflow + 1) * self.meta.page_size

    def _leaf_items(
        self, data: bytes, offset: int, end: int, count: int | None = None
    ) -> Iterator[tuple[bytes, bytes | Bucket]]:
        """The elements of the leaf page at `offset` in `data` (the file, or an inline bucket's
        value), each checked to lie before `end`."""
        if offset + PAGE_HEADER.size > end:
            raise BoltError("a leaf page is cut off")
        _, flags, stated, _ = PAGE_HEADER.unpack_from(data, offset)
        count = stated if count is None else count
        if not flags & LEAF and count:
            raise BoltError("an inline bucket holds no leaf page")
        elements = offset + PAGE_HEADER.size
        if elements + count * LEAF_ELEMENT.size > end:
            raise BoltError("a leaf page lists more elements than it holds")
        for number in range(count):
            at = elements + number * LEAF_ELEMENT.size
            element_flags, pos, ksize, vsize = LEAF_ELEMENT.unpack_from(data, at)
            key_start = at + pos
            value_end = key_start + ksize + vsize
            if value_end > end:
                raise BoltError("a leaf element runs past its page")
            key = bytes(data[key_start : key_start + ksize])
            value = bytes(data[key_start + ksize : value_end])
            if element_flags & BUCKET_LEAF:
                yield key, self._bucket(value)
            else:
                yield key, value

    def _bucket(self, value: bytes) -> Bucket:
        if len(value) < BUCKET_HEADER.size:
            raise BoltError("a bucket's header is cut off")
        root, _ = BUCKET_HEADER.unpack_from(value, 0)
        return Bucket(self, root, value[BUCKET_HEADER.size :] if root == 0 else None)

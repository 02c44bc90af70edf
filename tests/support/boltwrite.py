"""A minimal bbolt writer for tests: a containerd-shaped meta.db from a nested dict, so hostile
containerd roots can be written without a containerd. The layout is bbolt's own (page.go,
bucket.go, db.go): two meta pages, an empty freelist page, the root bucket's one leaf page
(with overflow pages when large), every nested bucket inline (root 0: its leaf page follows
its header in the value), keys sorted. Real files from a running containerd are read by the
bbolt tests (tests/blob/test_bbolt.py); this writes what those show."""

from __future__ import annotations

import struct

PAGE = 4096
MAGIC, VERSION = 0xED0CDAED, 2
BRANCH, LEAF, META, FREELIST = 0x01, 0x02, 0x04, 0x10
Tree = dict[bytes, "bytes | Tree"]


def _fnv1a64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _leaf(tree: Tree, page_id: int) -> bytes:
    """A leaf page: header, elements, then each key and value."""
    items = sorted(tree.items())
    header = struct.pack("<QHHI", page_id, LEAF, len(items), 0)
    elements, data = b"", b""
    start = len(header) + 16 * len(items)
    for number, (key, value) in enumerate(items):
        flags = 0
        if isinstance(value, dict):
            flags, value = 1, struct.pack("<QQ", 0, 0) + _leaf(value, 0)
        element_at = len(header) + 16 * number
        pos = start + len(data) - element_at
        elements += struct.pack("<IIII", flags, pos, len(key), len(value))
        data += key + value
    return header + elements + data


def _meta(page_id: int, txid: int, pages: int) -> bytes:
    body = struct.pack("<IIIIQQQQQ", MAGIC, VERSION, PAGE, 0, 3, 0, 2, pages, txid)
    page = struct.pack("<QHHI", page_id, META, 0, 0) + body + struct.pack("<Q", _fnv1a64(body))
    return page.ljust(PAGE, b"\0")


def bolt_file(tree: Tree) -> bytes:
    """The bytes of a bbolt file whose root bucket holds `tree`."""
    root = _leaf(tree, 3)
    overflow = (len(root) - 1) // PAGE
    root = root[:12] + struct.pack("<I", overflow) + root[16:]
    root = root.ljust((overflow + 1) * PAGE, b"\0")
    pages = 4 + overflow
    freelist = struct.pack("<QHHI", 2, FREELIST, 0, 0).ljust(PAGE, b"\0")
    return _meta(0, 2, pages) + _meta(1, 3, pages) + freelist + root


def varint(value: int) -> bytes:
    """Go's binary.PutVarint (zig-zag), as containerd writes sizes."""
    unsigned = (value << 1) ^ (value >> 63)
    out = b""
    while unsigned >= 0x80:
        out += bytes([unsigned & 0x7F | 0x80])
        unsigned >>= 7
    return out + bytes([unsigned])


def containerd_meta(images: dict[str, dict[str, tuple[str, str, int | bytes]]]) -> bytes:
    """meta.db for {namespace: {image name: (digest, media type, size)}}, schema 6 (a size
    given as bytes is written as they are: a malformed varint)."""
    v1: Tree = {b"version": b"\x06"}
    for namespace, named in images.items():
        records: Tree = {}
        for name, (digest, media_type, size) in named.items():
            records[name.encode()] = {
                b"target": {
                    b"digest": digest.encode(),
                    b"mediatype": media_type.encode(),
                    b"size": size if isinstance(size, bytes) else varint(size),
                },
                b"labels": {},
            }
        v1[namespace.encode()] = {b"images": records}
    return bolt_file({b"v1": v1})

"""A small PNG reader for the tests (no Pillow here): 8-bit RGB/RGBA/grey, not interlaced,
which is what Chromium's screenshots are. Pure Python, so it is only meant for a few
megapixels."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from itertools import accumulate
from operator import add

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type → samples per pixel


@dataclass
class Picture:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered, `width * channels` bytes each

    def pixels(self, row: int) -> list[tuple[int, ...]]:
        data, n = self.rows[row], self.channels
        return [tuple(data[i : i + n]) for i in range(0, len(data), n)]


def read_png(data: bytes) -> Picture:
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    at, header, compressed = len(SIGNATURE), None, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or interlace or colour not in _CHANNELS:
        raise ValueError(f"unsupported PNG: depth {depth}, colour {colour}, interlace {interlace}")
    channels = _CHANNELS[colour]
    raw = zlib.decompress(b"".join(compressed))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for number in range(height):
        start = number * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        previous = _unfilter(kind, line, previous, channels)
        rows.append(previous)
    return Picture(width, height, channels, rows)


def _unfilter(kind: int, line: bytes, up: bytes, bpp: int) -> bytes:
    if kind == 0:
        return bytes(line)
    if kind == 1:  # Sub: a running sum per channel
        out = bytearray(len(line))
        for channel in range(bpp):
            out[channel::bpp] = bytes(v & 255 for v in accumulate(line[channel::bpp], add))
        return bytes(out)
    if kind == 2:  # Up
        return bytes(map((255).__and__, map(add, line, up)))
    out = bytearray(len(line))
    for i, value in enumerate(line):
        left = out[i - bpp] if i >= bpp else 0
        above = up[i]
        if kind == 3:  # Average
            out[i] = (value + ((left + above) >> 1)) & 255
            continue
        corner = up[i - bpp] if i >= bpp else 0  # Paeth
        p = left + above - corner
        pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
        guess = left if pa <= pb and pa <= pc else above if pb <= pc else corner
        out[i] = (value + guess) & 255
    return bytes(out)

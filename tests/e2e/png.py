"""A tiny PNG decoder (stdlib only) for looking at screenshots: 8-bit RGB/RGBA, not interlaced.

Rows are unfiltered whole-row at a time with big-integer SWAR arithmetic (per-byte addition mod
256 without carries between bytes) for the None, Sub and Up filters; Average and Paeth, whose
bytes depend on the byte just decoded, fall back to a loop. A 1280x4000 screenshot decodes in
well under a second on this machine.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int  # 3 (RGB) or 4 (RGBA)
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The pixel's RGB (alpha ignored: Chromium's screenshots are opaque)."""
        i = x * self.channels
        row = self.rows[y]
        return row[i], row[i + 1], row[i + 2]


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file")
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


class _Swar:
    """Per-byte arithmetic on rows of `n` bytes held as little-endian integers."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.mask = (1 << (8 * n)) - 1
        self.low = int.from_bytes(b"\x7f" * n, "little")
        self.high = int.from_bytes(b"\x80" * n, "little")

    def add(self, a: int, b: int) -> int:
        return ((a & self.low) + (b & self.low)) ^ ((a ^ b) & self.high)

    def prefix(self, x: int, bpp: int) -> int:
        """Running sum mod 256 over bytes bpp apart (the Sub filter), by doubling."""
        shift = 8 * bpp
        while shift < 8 * self.n:
            x = self.add(x, (x << shift) & self.mask)
            shift *= 2
        return x


def _average(line: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
    return bytes(out)


def _paeth(line: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray(line)
    for i in range(min(bpp, len(out))):  # no left neighbour: the predictor is the byte above
        out[i] = (out[i] + prev[i]) & 0xFF
    for i in range(bpp, len(out)):
        a, b, c = out[i - bpp], prev[i], prev[i - bpp]
        pa, pb = b - c, a - c  # p - a and p - b, with p = a + b - c
        pc = abs(pa + pb)
        pa, pb = abs(pa), abs(pb)
        out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return bytes(out)


def decode(data: bytes) -> Image:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG."""
    chunks = _chunks(data)
    header = next(body for kind, body in chunks if kind == b"IHDR")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    if len(raw) != height * (stride + 1):
        raise ValueError("PNG image data has the wrong length")
    swar = _Swar(stride)
    rows: list[bytes] = []
    prev, prev_int = bytes(stride), 0
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        if kind == 0:
            row = line
        elif kind == 1:
            row = swar.prefix(int.from_bytes(line, "little"), bpp).to_bytes(stride, "little")
        elif kind == 2:
            row = swar.add(int.from_bytes(line, "little"), prev_int).to_bytes(stride, "little")
        elif kind == 3:
            row = _average(line, prev, bpp)
        elif kind == 4:
            row = _paeth(line, prev, bpp)
        else:
            raise ValueError(f"bad PNG filter type {kind} in row {y}")
        rows.append(row)
        prev, prev_int = row, int.from_bytes(row, "little")
    return Image(width, height, bpp, rows)

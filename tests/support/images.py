"""Small real image files for the tests that attach them (the browser must be able to decode
them, and the desk finds their type from the content)."""

from __future__ import annotations

import struct
import zlib


def tiny_png() -> bytes:
    """A real 2x2 red PNG (the browser must be able to decode the thumbnail)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )

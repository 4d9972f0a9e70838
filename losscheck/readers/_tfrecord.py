"""TFRecord framing (the container of TensorBoard event files), written from the format docs.

Format (TensorFlow docs, "TFRecord and tf.train.Example", section "TFRecords format
details"): each record is

    uint64 length          (little-endian)
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

with ``masked_crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8`` (mod 2**32), and crc32c the
Castagnoli CRC (reflected polynomial ``0x82F63B78``).

CRC policy: the 4-byte CRC of each *length* field is verified (8 bytes per record, cheap in
pure Python) so that framing errors are caught; the CRC of the *data* is not verified
(a pure-Python CRC over every byte costs about a second per few MB). Corrupt data is
still caught when the protobuf payload fails to decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` as an unsigned 32-bit int (pure Python, ~1 MB/s)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C stored in TFRecord files (see module docstring)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord: header, ``data`` and both masked CRCs (used by tests and tools)."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data
            + struct.pack("<I", masked_crc32c(data)))


@dataclass
class FrameProblem:
    """Why reading stopped before the end: ``offset`` is the byte where the bad record
    starts; ``truncated`` is True for a record cut by the end of the file, False for a
    corrupt length header."""

    offset: int
    message: str
    truncated: bool


def iter_records(data: bytes) -> tuple[list[tuple[int, bytes]], FrameProblem | None]:
    """Split ``data`` into TFRecord payloads.

    Returns ``(records, problem)``: ``records`` is a list of ``(offset, payload)`` for every
    complete record in file order (``offset`` = byte where the record header starts);
    ``problem`` describes a truncated last record or a corrupt header, after which nothing
    more is read (there is no resynchronisation marker in the format). Never raises.
    """
    out: list[tuple[int, bytes]] = []
    n = len(data)
    pos = 0
    unpack_q = struct.Struct("<Q").unpack_from
    unpack_i = struct.Struct("<I").unpack_from
    while pos < n:
        if n - pos < 12:
            return out, FrameProblem(pos, f"truncated record header at byte {pos} "
                                          f"({n - pos} of 12 bytes present)", True)
        (length,) = unpack_q(data, pos)
        (len_crc,) = unpack_i(data, pos + 8)
        if masked_crc32c(data[pos:pos + 8]) != len_crc:
            return out, FrameProblem(pos, f"corrupt record header at byte {pos} "
                                          "(length checksum mismatch)", False)
        end = pos + 12 + length + 4
        if end > n:
            return out, FrameProblem(pos, f"truncated last record at byte {pos} (needs "
                                          f"{12 + length + 4} bytes, {n - pos} present)", True)
        out.append((pos, data[pos + 12:pos + 12 + length]))
        pos = end
    return out, None

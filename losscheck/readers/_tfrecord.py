"""TFRecord framing (the container of TensorBoard event files), written from the format docs.

Format (TensorFlow docs, "TFRecord and tf.train.Example", section "TFRecords format
details"): each record is

    uint64 length          (little-endian)
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

with ``masked_crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8`` (mod 2**32), and crc32c the
Castagnoli CRC (reflected polynomial ``0x82F63B78``, initial value and final XOR
``0xFFFFFFFF``).

Two ways to split a file:

- :func:`iter_records`: one record at a time in pure Python (the reference; small files,
  tests, tools).
- :func:`frame_records`: the same framing in bulk. Record boundaries form a chain (each
  offset depends on the previous length), so the walk is sequential, but event files are
  mostly periodic (the same few record sizes repeating: one per tag, and constant while the
  step varint keeps its width). The walker detects the period of the last record sizes and
  then checks thousands of predicted length fields at once through numpy strided views,
  falling back to a Python ``struct`` walk where the pattern breaks. The length CRCs of all
  records are then verified in one vectorised pass.

CRC policy:

- the CRC of every *length* field is verified (by both functions), so framing errors are
  caught and reading stops there (there is no resynchronisation marker in the format);
- the CRC of the *data* is verified by :func:`data_crc_ok` (vectorised over records of equal
  length with numpy position tables, ~0.1 s per million small records), or per record with
  the native ``crc32c`` package (PyPI, optional extra ``losscheck[fast]``) when it is
  importable. Without that package, only records short enough for the vectorised check are
  verified (see :data:`NUMPY_CRC_MAX_LEN`); longer ones (images, graphs, histograms) are not,
  and damage there is caught only when the protobuf payload fails to decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8

#: Records up to this many payload bytes get their data CRC checked with numpy position
#: tables (cost ~ one table lookup per byte, vectorised across records of equal length).
NUMPY_CRC_MAX_LEN = 512

_UNSET = object()
#: the optional native CRC-32C (hardware accelerated; PyPI package "crc32c"), loaded on first
#: use by :func:`native_crc32c` (its import costs ~30 ms, and most files never need it);
#: ``None`` when not installed (tests set it to ``None`` to force the fallbacks)
_native_crc32c = _UNSET


def native_crc32c():
    """The native ``crc32c`` function, or ``None`` when the package is not importable."""
    global _native_crc32c
    if _native_crc32c is _UNSET:
        try:
            from crc32c import crc32c as fn
        except Exception:  # pragma: no cover - depends on the environment
            fn = None
        _native_crc32c = fn
    return _native_crc32c


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()
_NP_TABLE = np.array(_TABLE, dtype=np.uint32)


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` as an unsigned 32-bit int (the native package when
    importable, else pure Python at ~1 MB/s; pure Python for up to 64 bytes, where it is
    quicker than loading the package)."""
    if len(data) > 64:
        fn = native_crc32c()
        if fn is not None:
            return fn(data)
    return _py_crc32c(data)


def _py_crc32c(data: bytes) -> int:
    """Pure-Python CRC-32C (table driven, ~1 MB/s); ``_py_crc32c(b"123456789") == 0xE3069283``."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask_crc(crc):
    """The TFRecord mask of a CRC (int or uint32 array)."""
    if isinstance(crc, np.ndarray):
        return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C stored in TFRecord files (see module docstring)."""
    return mask_crc(crc32c(data))


def frame(data: bytes) -> bytes:
    """One TFRecord: header, ``data`` and both masked CRCs (used by tests and tools)."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data
            + struct.pack("<I", masked_crc32c(data)))


@dataclass
class FrameProblem:
    """Why reading stopped before the end: ``offset`` is the byte where the bad record
    starts, and ``message`` names it (``"... at byte <offset> ..."``); ``truncated`` is True
    for a record cut by the end of the file, False for a corrupt length header."""

    offset: int
    message: str
    truncated: bool


def _truncated_header(pos: int, n: int) -> FrameProblem:
    return FrameProblem(pos, f"truncated record header at byte {pos} ({n - pos} of 12 bytes present)", True)


def _corrupt_header(pos: int) -> FrameProblem:
    return FrameProblem(pos, f"corrupt record header at byte {pos} (length checksum mismatch)", False)


def _truncated_record(pos: int, length: int, n: int) -> FrameProblem:
    return FrameProblem(pos, f"truncated last record at byte {pos} (needs {12 + length + 4} bytes, "
                             f"{n - pos} present)", True)


def iter_records(data: bytes) -> tuple[list[tuple[int, bytes]], FrameProblem | None]:
    """Split ``data`` into TFRecord payloads, one record at a time (reference implementation).

    Returns ``(records, problem)``: ``records`` is a list of ``(offset, payload)`` for every
    complete record in file order (``offset`` = byte where the record header starts);
    ``problem`` describes a truncated last record or a corrupt header, after which nothing
    more is read (there is no resynchronisation marker in the format). Data CRCs are not
    checked here. Never raises.
    """
    out: list[tuple[int, bytes]] = []
    n = len(data)
    pos = 0
    unpack_q = struct.Struct("<Q").unpack_from
    unpack_i = struct.Struct("<I").unpack_from
    while pos < n:
        if n - pos < 12:
            return out, _truncated_header(pos, n)
        (length,) = unpack_q(data, pos)
        (len_crc,) = unpack_i(data, pos + 8)
        if masked_crc32c(data[pos:pos + 8]) != len_crc:
            return out, _corrupt_header(pos)
        end = pos + 12 + length + 4
        if end > n:
            return out, _truncated_record(pos, length, n)
        out.append((pos, data[pos + 12:pos + 12 + length]))
        pos = end
    return out, None


# --------------------------------------------------------------------------- vectorised CRC

_POS_TABLES: list[np.ndarray] = [_NP_TABLE.copy()]  # U_j[b]: CRC register after byte b then j zero bytes
_ZERO_CRC: dict[int, int] = {}


def _pos_table(j: int) -> np.ndarray:
    """``U_j``: the (zero-initialised, unfinalised) CRC register after byte ``b`` followed by
    ``j`` zero bytes, for every ``b`` (shape ``(256,)``, uint32)."""
    while len(_POS_TABLES) <= j:
        u = _POS_TABLES[-1]
        _POS_TABLES.append(_NP_TABLE[u & np.uint32(0xFF)] ^ (u >> np.uint32(8)))
    return _POS_TABLES[j]


def _zero_crc(length: int) -> int:
    """Finalised CRC-32C of ``length`` zero bytes (the affine part of the CRC)."""
    c = _ZERO_CRC.get(length)
    if c is None:
        c = _ZERO_CRC[length] = _py_crc32c(bytes(length))
    return c


def crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-32C of every row of a ``(k, L)`` uint8 array, vectorised across rows.

    CRC-32C is affine in the message bits: ``crc(m) = crc(0^L) ^ XOR_i U_{L-1-i}[m_i]``,
    so a row costs one table lookup per byte, done column by column for all rows at once.
    Returns a uint32 array of shape ``(k,)`` (unmasked CRCs).
    """
    k, length = rows.shape
    acc = np.full(k, _zero_crc(length), dtype=np.uint32)
    done = 0
    if k >= 4096 and length >= 2:
        # two bytes per lookup: 65536-entry tables (256 KB each, built by an outer XOR)
        pairs = rows[:, :length - length % 2].view("<u2")
        for j in range(length // 2):
            i = 2 * j
            t16 = (_pos_table(length - 2 - i)[:, None] ^ _pos_table(length - 1 - i)[None, :]).reshape(-1)
            acc ^= np.take(t16, pairs[:, j])
        done = length - length % 2
    for i in range(done, length):
        acc ^= np.take(_pos_table(length - 1 - i), rows[:, i])
    return acc


def _windows(buf: np.ndarray, width: int) -> np.ndarray:
    """Zero-copy ``(n - width + 1, width)`` view of every ``width``-byte window of ``buf``."""
    return np.lib.stride_tricks.sliding_window_view(buf, width)


def gather_rows(buf: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes starting at each of ``offsets``: a ``(k, width)`` uint8 copy.

    Raises IndexError when a window runs past the end of ``buf``."""
    if width == 0:
        return np.zeros((len(offsets), 0), dtype=np.uint8)
    return _windows(buf, width)[offsets]


def read_u32(buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Little-endian uint32 at each byte offset (any alignment), shape ``(k,)``."""
    return gather_rows(buf, offsets, 4).view("<u4").reshape(-1)


def data_crc_ok(buf: np.ndarray, data: bytes, starts: np.ndarray, lens: np.ndarray,
                check_all: bool = True) -> np.ndarray:
    """Which records' data CRC matches (bool array, shape ``(k,)``).

    Args:
        buf: the file as a uint8 array; ``data`` the same bytes.
        starts: byte offset of each record header (int64, shape ``(k,)``).
        lens: payload length of each record (int64, shape ``(k,)``).
        check_all: verify records longer than :data:`NUMPY_CRC_MAX_LEN` too (needs the
            native ``crc32c`` package; without it they are reported as matching).
    """
    k = len(starts)
    ok = np.ones(k, dtype=bool)
    if k == 0:
        return ok
    stored = read_u32(buf, starts + 12 + lens)
    small = lens <= NUMPY_CRC_MAX_LEN
    if small.any():
        idx = np.flatnonzero(small)
        sl = lens[idx]
        order = np.argsort(sl, kind="stable")
        sorted_lens = sl[order]
        cuts = np.flatnonzero(np.diff(sorted_lens)) + 1
        for grp in np.split(order, cuts):
            length = int(sl[grp[0]])
            rec = idx[grp]
            rows = gather_rows(buf, starts[rec] + 12, length)
            ok[rec] = mask_crc(crc32c_rows(rows)) == stored[rec]
    fn = native_crc32c() if check_all and not small.all() else None
    if fn is not None:
        mv = memoryview(data)
        for i in np.flatnonzero(~small).tolist():
            a = int(starts[i]) + 12
            ok[i] = mask_crc(fn(mv[a:a + int(lens[i])])) == int(stored[i])
    return ok


# --------------------------------------------------------------------------- bulk framing

_PERIOD_WINDOW = 96      # record sizes looked at to detect a period
_MAX_PERIOD = 48


def _find_period(sizes: list[int]) -> int:
    """Smallest p such that the last :data:`_PERIOD_WINDOW` sizes repeat with period p, or 0."""
    tail = np.asarray(sizes[-_PERIOD_WINDOW:], dtype=np.int64)
    for p in range(1, min(_MAX_PERIOD, len(tail) // 2) + 1):
        if np.array_equal(tail[p:], tail[:-p]):
            return p
    return 0


#: records per block of the bulk length-CRC check (bounds its temporaries: ~20 B per record)
_CRC_BLOCK = 1 << 16


def frame_records(data: bytes, base: int = 0) -> tuple[np.ndarray, np.ndarray, FrameProblem | None]:
    """Split ``data`` into TFRecords in bulk; same result as :func:`iter_records`.

    Returns ``(starts, lens, problem)``: integer arrays of shape ``(k,)`` with the byte offset of
    each complete record's header and its payload length (payload = ``data[s + 12: s + 12 + l]``),
    and the :class:`FrameProblem` that stopped reading (or ``None``). They are int32 for files
    under 2 GiB (8 bytes per record less to hold next to the file), int64 above. Length CRCs
    are checked; data CRCs are not (see :func:`data_crc_ok`). ``base``: the file offset of
    ``data[0]`` when ``data`` is a block of a file; the problem's offset and message are given
    in file offsets (``starts`` stay relative to ``data``). Never raises.
    """
    n = len(data)
    idt = np.int32 if n < 2 ** 31 - 2 ** 24 else np.int64
    buf = np.frombuffer(data, dtype=np.uint8)
    unpack_q = struct.Struct("<Q").unpack_from
    chunks_s: list[np.ndarray] = []
    chunks_l: list[np.ndarray] = []
    py_s: list[int] = []
    py_l: list[int] = []
    sizes: list[int] = []     # record sizes walked in Python since the last bulk attempt
    pos = 0
    problem: FrameProblem | None = None
    next_try = _PERIOD_WINDOW
    while pos < n:
        if n - pos < 12:
            problem = _truncated_header(base + pos, base + n)
            break
        (length,) = unpack_q(data, pos)
        end = pos + 16 + length
        if end > n:
            problem = _truncated_record(base + pos, length, base + n)
            break
        py_s.append(pos)
        py_l.append(length)
        sizes.append(16 + length)
        pos = end
        if len(sizes) >= next_try:
            p = _find_period(sizes)
            if not p:
                next_try = len(sizes) + _PERIOD_WINDOW
                continue
            # Predict whole periods ahead and check every predicted length field at once.
            per = sizes[-p:]
            span = sum(per)
            phase = np.cumsum([0] + per[:-1])
            reps = (n - pos) // span
            got = 0
            batch = 1024
            while got < reps:
                m = min(batch, reps - got)
                first = pos + got * span
                good = np.ones(m, dtype=bool)
                for j in range(p):
                    view = np.ndarray((m,), dtype="<u8", buffer=data, offset=first + int(phase[j]),
                                      strides=(span,))
                    good &= view == per[j] - 16
                bad = np.flatnonzero(~good)
                ok = int(bad[0]) if len(bad) else m
                if ok:
                    s = (first + np.arange(ok, dtype=np.int64)[:, None] * span + phase[None, :]).reshape(-1)
                    if py_s:
                        chunks_s.append(np.asarray(py_s, dtype=idt))
                        chunks_l.append(np.asarray(py_l, dtype=idt))
                        py_s, py_l = [], []
                    chunks_s.append(s.astype(idt))
                    chunks_l.append(np.tile(np.asarray(per, dtype=idt) - 16, ok))
                got += ok
                if ok < m:
                    break
                batch *= 4
            pos += got * span
            sizes = []
            next_try = _PERIOD_WINDOW
    if py_s:
        chunks_s.append(np.asarray(py_s, dtype=idt))
        chunks_l.append(np.asarray(py_l, dtype=idt))
    starts = np.concatenate(chunks_s) if chunks_s else np.zeros(0, dtype=idt)
    chunks_s = []
    lens = np.concatenate(chunks_l) if chunks_l else np.zeros(0, dtype=idt)
    chunks_l = []
    # Length CRCs of every walked record (and of the header that stopped the walk), in
    # blocks so that the temporaries stay small next to the file
    for a in range(0, len(starts), _CRC_BLOCK):
        st = starts[a:a + _CRC_BLOCK]
        bad = np.flatnonzero(mask_crc(crc32c_rows(gather_rows(buf, st, 8))) != read_u32(buf, st + 8))
        if len(bad):
            i = a + int(bad[0])
            return starts[:i], lens[:i], _corrupt_header(base + int(starts[i]))
    if problem is not None and problem.truncated and n - (problem.offset - base) >= 12:
        o = problem.offset - base
        if masked_crc32c(data[o:o + 8]) != int.from_bytes(data[o + 8:o + 12], "little"):
            problem = _corrupt_header(base + o)
    return starts, lens, problem

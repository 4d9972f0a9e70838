"""Weights & Biases run files (``wandb/run-*/run-<id>.wandb``), read without the wandb package.

Format (learned from the public wandb SDK, ``wandb/sdk/internal/datastore.py`` and
``wandb/proto/wandb_internal.proto``; decoded here by hand):

- file header, 7 bytes: ``:W&B``, a 2-byte magic, a 1-byte version;
- then a LevelDB-style log: 32 KiB blocks counted from the start of the file; each chunk
  has a 7-byte header ``crc32 (4, little-endian) | length (2, little-endian) | type (1)``,
  type FULL=1, FIRST=2, MIDDLE=3, LAST=4; a block tail shorter than 7 bytes is padding.
  The CRC is zlib's CRC-32 of the type byte followed by the data (verified here: it is
  cheap with :func:`zlib.crc32`);
- each reassembled record is a protobuf ``Record``: field 2 is a ``HistoryRecord``, whose
  repeated field 1 holds ``HistoryItem``\\ s (``key`` = field 1, ``nested_key`` = field 2,
  ``value_json`` = field 16) and field 2 a ``HistoryStep`` (``num`` = field 1).

Step = the ``_step`` item (else ``HistoryStep.num``), except when every row also logs an
explicit training-step key (``trainer/global_step``, ``global_step``, ``step``, ``iter``...)
that never decreases: ``_step`` only counts ``wandb.log`` calls, so that key is used instead
(with a note) and the file lines up with the same run's console log. Wall time =
``_timestamp`` (seconds).
Values are JSON; only numbers (NaN/Infinity included) become points. Keys starting with
``_`` are not series. Files copied while the run was still writing end mid-record: what
is complete is read, with a warning.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name, json_number, read_data
from losscheck.readers.interface import SNIFF

_HEADER = 7
_BLOCK = 32768
_CHUNK = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


class _WireError(ValueError):
    """Malformed protobuf wire data."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns ``(value, new_pos)``."""
    result = shift = 0
    n = len(buf)
    while True:
        if pos >= n or shift > 63:
            raise _WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def pb_fields(buf: bytes):
    """Iterate the top-level fields of a protobuf message.

    Yields ``(field_number, wire_type, value)``: ``int`` for varint (0), fixed64 (1) and
    fixed32 (5); ``bytes`` for length-delimited (2). Raises :class:`_WireError` (a
    ``ValueError``) on malformed data or group wire types.
    (Protocol Buffers docs, "Encoding".)
    """
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wt = key >> 3, key & 7
        val: int | bytes
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise _WireError("truncated fixed64")
            val = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wt == 2:
            ln, pos = _varint(buf, pos)
            if pos + ln > n:
                raise _WireError("truncated bytes")
            val = buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            if pos + 4 > n:
                raise _WireError("truncated fixed32")
            val = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise _WireError(f"unsupported wire type {wt}")
        yield field, wt, val


def iter_log_records(data: bytes) -> tuple[list[bytes], list[str]]:
    """Reassemble the LevelDB-style records after the 7-byte header.

    Returns ``(records, problems)``; ``problems`` are one-line descriptions (with byte
    offsets) of a truncated tail, CRC mismatches (the rest of that block is skipped) or
    chunks out of sequence. Never raises.
    """
    records: list[bytes] = []
    problems: list[str] = []
    pos, n = _HEADER, len(data)
    pending: list[bytes] | None = None
    pending_at = 0
    while pos < n:
        block_left = _BLOCK - (pos % _BLOCK)
        if block_left < _CHUNK:
            pos += block_left  # trailer padding
            continue
        if n - pos < _CHUNK:
            if data[pos:].strip(b"\x00"):
                problems.append(f"truncated chunk header at byte {pos}")
            break
        crc, length, ctype = struct.unpack_from("<IHB", data, pos)
        if crc == 0 and length == 0 and ctype == 0:  # zero padding (preallocated tail)
            pos += block_left
            continue
        start, end = pos + _CHUNK, pos + _CHUNK + length
        if end > n:
            problems.append(f"truncated record at byte {pending_at if pending is not None else pos} "
                            f"(a run still writing?)")
            pending = None
            break
        if length > block_left - _CHUNK:
            problems.append(f"chunk at byte {pos} crosses a block boundary; rest of block skipped")
            pos += block_left
            pending = None
            continue
        payload = data[start:end]
        if zlib.crc32(bytes([ctype]) + payload) != crc:
            problems.append(f"checksum mismatch at byte {pos}; rest of block skipped")
            pos += block_left
            pending = None
            continue
        pos = end
        if ctype == _FULL:
            if pending is not None:
                problems.append(f"incomplete record at byte {pending_at} dropped")
                pending = None
            records.append(payload)
        elif ctype == _FIRST:
            if pending is not None:
                problems.append(f"incomplete record at byte {pending_at} dropped")
            pending, pending_at = [payload], start - _CHUNK
        elif ctype == _MIDDLE:
            if pending is None:
                problems.append(f"orphan chunk at byte {start - _CHUNK} skipped")
            else:
                pending.append(payload)
        elif ctype == _LAST:
            if pending is None:
                problems.append(f"orphan chunk at byte {start - _CHUNK} skipped")
            else:
                pending.append(payload)
                records.append(b"".join(pending))
                pending = None
        else:
            problems.append(f"unknown chunk type {ctype} at byte {start - _CHUNK}; rest of block skipped")
            pos += _BLOCK - (pos % _BLOCK) if pos % _BLOCK else 0
            pending = None
    if pending is not None:
        problems.append(f"truncated record at byte {pending_at} (a run still writing?)")
    return records, problems


def history_items(record: bytes) -> tuple[dict[str, str], int | None] | None:
    """The history items of a ``Record`` (``{key: value_json}``, step num) or ``None`` when
    the record is not a history record. Raises ``ValueError`` on malformed protobuf."""
    hist = None
    for field, wt, val in pb_fields(record):
        if field == 2 and wt == 2:
            hist = val
    if hist is None:
        return None
    items: dict[str, str] = {}
    step_num = None
    for field, wt, val in pb_fields(hist):
        if field == 1 and wt == 2:
            key, nested, vj = "", [], None
            for f2, w2, v2 in pb_fields(val):
                if w2 != 2:
                    continue
                if f2 == 1:
                    key = v2.decode("utf-8", errors="replace")
                elif f2 == 2:
                    nested.append(v2.decode("utf-8", errors="replace"))
                elif f2 == 16:
                    vj = v2.decode("utf-8", errors="replace")
            name = key or ".".join(nested)
            if name and vj is not None:
                items[name] = vj
        elif field == 2 and wt == 2:
            for f2, w2, v2 in pb_fields(val):
                if f2 == 1 and w2 == 0:
                    step_num = v2 - (1 << 64) if v2 >= 1 << 63 else v2
    return items, step_num


#: History keys that hold the training step when a script logs it explicitly (nanoGPT logs
#: ``iter``; Lightning's ``WandbLogger`` logs ``trainer/global_step``).
TRAINING_STEP_KEYS = ("trainer/global_step", "global_step", "train/global_step", "step", "iter", "iteration")


def _json_float(text: str | None) -> float | int | None:
    """A JSON number from ``value_json`` text (see
    :func:`~losscheck.readers._common.json_number`: an integer beyond 2**53 stays an exact
    ``int``), else ``None`` (also for text that is not JSON or is nested too deeply)."""
    if text is None:
        return None
    try:
        return json_number(json.loads(text))
    except (ValueError, RecursionError):
        return None


def _training_step_key(rows) -> str | None:
    """The first of :data:`TRAINING_STEP_KEYS` present in every row, integral and never decreasing
    (then it, not ``_step``, is the step axis), else ``None``."""
    if not rows:
        return None
    for key in TRAINING_STEP_KEYS:
        vals = [r[2].get(key) for r in rows]
        if any(v is None or v != v or not float(v).is_integer() for v in vals):
            continue
        if all(b >= a for a, b in zip(vals, vals[1:])) and vals[-1] > vals[0]:
            return key
    return None


class WandbBinaryReader(BaseReader):
    """W&B ``run-<id>.wandb`` files: every history row, without the wandb package.

    ``read`` returns one series per numeric history key (units: W&B ``_step``, exact
    integers), with wall time from ``_timestamp`` (seconds). A ``value_json`` that is not
    JSON, or is nested too deeply to parse, is skipped and counted in a warning; it never
    rejects the file.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the file does not start with the ``:W&B`` header.
    """

    name = "wandb"
    description = "Weights & Biases run-*.wandb binary history (LevelDB-style log of protobuf records)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        if not head.startswith(b":W&B"):
            return 0.0
        return conf["named"] if base_name(path).endswith(".wandb") else conf["content"]

    def _read(self, path: Path) -> ReadResult:
        src = str(path)
        data, read_notes = read_data(path)
        if not data.startswith(b":W&B") or len(data) < _HEADER:
            raise ParseError(path, "not a W&B run file (no ':W&B' header)", offset=0)
        records, problems = iter_log_records(data)
        notes = read_notes + [ReadNote(src, p, "warning") for p in problems[:5]]
        if len(problems) > 5:
            notes.append(ReadNote(src, f"{len(problems) - 5} more framing problem(s)", "warning"))
        rows: list[tuple[float, float | None, dict[str, float]]] = []
        bad = 0
        bad_values = 0
        no_step = 0
        loads = json.loads
        for rec in records:
            try:
                got = history_items(rec)
            except ValueError:
                bad += 1
                continue
            if got is None:
                continue
            items, step_num = got
            step = _json_float(items.get("_step"))
            if step is None and step_num is not None:
                step = step_num  # an exact int (steps are int64 end to end)
            if step is None:
                no_step += 1
                continue
            wall = _json_float(items.get("_timestamp"))
            values = {}
            for key, vj in items.items():
                if key.startswith("_"):
                    continue
                try:
                    x = json_number(loads(vj))
                except (ValueError, RecursionError):  # not JSON, or nested too deeply to parse
                    bad_values += 1
                    continue
                if x is not None:
                    values[key] = x
            if values:
                rows.append((step, wall, values))
        step_key = _training_step_key(rows)
        if step_key is not None:
            notes.append(ReadNote(src, f"steps taken from the logged {step_key!r} key (W&B's _step only "
                                       "counts log calls)", "info"))
        col = Collector()
        for step, wall, values in rows:
            if step_key is not None:
                step = values[step_key]
            for key, x in values.items():
                if key != step_key:
                    col.add(key, step, x, wall)
        if bad:
            notes.append(ReadNote(src, f"{bad} record(s) with malformed protobuf skipped", "warning"))
        if no_step:
            notes.append(ReadNote(src, f"{no_step} history row(s) without a step skipped", "warning"))
        if bad_values:
            notes.append(ReadNote(src, f"{bad_values} history value(s) that are not JSON (or are nested too "
                                       "deeply to parse) skipped", "warning"))
        series, n = col.build(src)
        return ReadResult(series, notes + n, {})


READER = WandbBinaryReader()

"""The decoder of TensorBoard event files (``events.out.tfevents.*``), in bulk with numpy.

The reader (:mod:`losscheck.readers.tensorboard`) is a short module over this one: it names
the files and the step unit of each tag; this module turns the bytes into series.

Every record (see :mod:`losscheck.readers._tfrecord` for the framing and CRC policy) is a
``tensorboard.compat.proto.event_pb2.Event``. Scalars come in two encodings
(TensorBoard docs and ``tensorboard/plugins/scalar/summary_v2.py``; the
``data_compat`` migration in ``tensorboard/data_compat.py``):

- TF1 / PyTorch ``SummaryWriter`` / tensorboardX: ``summary.value[i].simple_value``
  (a float32). Taken whatever the plugin name.
- TF2 ``tf.summary.scalar`` (Keras ``TensorBoard`` callback): ``summary.value[i].tensor``,
  a one-element tensor of dtype ``DT_FLOAT``/``DT_DOUBLE``/``DT_HALF``/``DT_BFLOAT16``
  stored in ``float_val``/``double_val``/``half_val`` or packed little-endian in
  ``tensor_content``; ``metadata.plugin_data.plugin_name`` is ``"scalars"``. Tensors whose
  plugin name is set to something else (histograms, text, hparams...) are ignored.

Every point is kept (no reservoir sampling, unlike TensorBoard's ``EventAccumulator``),
with its wall time (seconds since the Unix epoch). A ``SessionLog.START`` event at step
``s`` discards the points already read at steps ``>= s`` (TensorBoard's orphaned-data purge);
steps going back within a tag are handled by :func:`losscheck.series.normalize`.

Two implementations side by side, with the same output (``tests/readers/test_tb_fast.py`` compares
them): :func:`read_reference` decodes every record with protobuf (~10 us per record), and
:func:`read_fast`, the one the reader uses, is fast like this: records are framed in bulk
(:func:`losscheck.readers._tfrecord.frame_records`), then grouped by payload length and
copied into ``(k, L)`` byte matrices. Within a group, the ordinary one-scalar events have a
fixed layout once the width of the step varint is known (protobuf wire format,
https://protobuf.dev/programming-guides/encoding/):

    09 <f64 wall_time> [10 <varint step>] 2a <len> 0a <len> 0a <len> <tag> VALUE

with ``VALUE`` = ``15 <f32>`` (``simple_value``) or ``42 <len> <tensor> [4a <len> <metadata>]``
for the TF2 float32/float64 tensor encodings listed in :data:`_TF2_TEMPLATES`. Those rows
are checked and decoded with column operations; any other record (file version, graphs,
histograms, images, multi-value summaries, session logs, other tensor layouts) goes through
protobuf one by one.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import numpy as np

from losscheck.errors import ParseError, UnreadableFile
from losscheck.model import ReadNote, ReadResult
from losscheck.readers import _tfrecord
from losscheck.readers._common import Collector, grown_note, open_binary, read_bytes
from losscheck.readers._tfrecord import (NUMPY_CRC_MAX_LEN, crc32c_rows, data_crc_ok,
                                         frame_records, gather_rows, iter_records, mask_crc,
                                         masked_crc32c, read_u32)
from losscheck.series import normalize

# tensorflow/core/framework/types.proto
_DT_FLOAT, _DT_DOUBLE, _DT_BFLOAT16, _DT_HALF = 1, 2, 14, 19
_PACKED = {_DT_FLOAT: "<f4", _DT_DOUBLE: "<f8", _DT_HALF: "<f2"}


def _every_step(tag: str) -> str:
    """The step unit of every tag when the caller gives none."""
    return "step"


def _event_cls():
    # Imported lazily: the protobuf modules take ~0.2 s to load and most runs have no TB file.
    from tensorboard.compat.proto import event_pb2
    return event_pb2


def tensor_scalar(tensor) -> float | None:
    """The value of a one-element floating-point ``TensorProto``, else ``None``.

    Args:
        tensor: a ``tensorboard.compat.proto.tensor_pb2.TensorProto``.
    Returns: the float (NaN/Inf kept), or ``None`` for another dtype, more than one
    element, or no stored value.
    """
    dtype = tensor.dtype
    if dtype not in (_DT_FLOAT, _DT_DOUBLE, _DT_HALF, _DT_BFLOAT16):
        return None
    numel = 1
    for d in tensor.tensor_shape.dim:
        numel *= d.size
    if numel != 1:
        return None
    content = tensor.tensor_content
    if content:
        if dtype == _DT_BFLOAT16:
            if len(content) != 2:
                return None
            bits = np.frombuffer(content, dtype="<u2").astype(np.uint32) << 16
            return float(bits.view(np.float32)[0])
        arr = np.frombuffer(content, dtype=_PACKED[dtype])
        return float(arr[0]) if arr.shape[0] == 1 else None
    if dtype == _DT_FLOAT and len(tensor.float_val) == 1:
        return float(tensor.float_val[0])
    if dtype == _DT_DOUBLE and len(tensor.double_val) == 1:
        return float(tensor.double_val[0])
    if dtype in (_DT_HALF, _DT_BFLOAT16) and len(tensor.half_val) == 1:
        raw = np.array([tensor.half_val[0] & 0xFFFF], dtype=np.uint16)
        if dtype == _DT_HALF:
            return float(raw.view(np.float16)[0])
        return float((raw.astype(np.uint32) << 16).view(np.float32)[0])
    return None


# --------------------------------------------------------------------------- fast layouts

def _tf2_templates() -> list[tuple[bytes, str, bytes]]:
    """``(before, dtype, after)``: the bytes of a ``Summary.Value`` after its tag, around the
    value, for the TF2 scalar encodings decoded in bulk.

    Tensors (``TensorProto``, fields dtype=1, tensor_shape=2, tensor_content=4, float_val=5,
    double_val=6): TF2's C++ summary writer stores ``tensor_content`` with an empty shape
    (``AsProtoTensorContent``); TensorBoard's ``make_tensor_proto`` stores packed
    ``float_val``/``double_val``. Metadata (field 9): none, or ``plugin_name: "scalars"``
    (optionally with ``data_class: DATA_CLASS_SCALAR``).
    """
    metas = [b"", b"\x4a\x0b\x0a\x09\x0a\x07scalars", b"\x4a\x0d\x0a\x09\x0a\x07scalars\x20\x01"]
    tensors = []
    for shape in (b"\x12\x00", b""):
        tensors += [(b"\x08\x01" + shape + b"\x22\x04", "<f4"), (b"\x08\x01" + shape + b"\x2a\x04", "<f4"),
                    (b"\x08\x01" + shape + b"\x2d", "<f4"),
                    (b"\x08\x02" + shape + b"\x22\x08", "<f8"), (b"\x08\x02" + shape + b"\x32\x08", "<f8")]
    out = []
    for meta in (metas[1], metas[2], metas[0]):
        for head, dt in tensors:
            body = len(head) + int(dt[-1])
            out.append((b"\x42" + bytes([body]) + head, dt, meta))
    return out


#: Records decoded per numpy batch (bounds the temporaries: ~100 bytes per row).
_CHUNK_ROWS = 1 << 16

#: ``(before, dtype, after)`` byte templates of the value part of one-scalar events.
_SIMPLE = (b"\x15", "<f4", b"")
_TF2_TEMPLATES = _tf2_templates()


class _Points:
    """Per-record decoding results of the fast path (arrays of shape ``(k,)``); ``tag_ids``
    (tag name -> id) may be shared between the blocks of one file."""

    def __init__(self, k: int, tag_ids: dict[str, int] | None = None) -> None:
        self.fast = np.zeros(k, dtype=bool)
        self.tag = np.zeros(k, dtype=np.int32)
        self.step = np.zeros(k, dtype=np.int64)
        self.wall = np.zeros(k, dtype=np.float64)
        self.value = np.zeros(k, dtype=np.float64)
        self.tag_ids: dict[str, int] = {} if tag_ids is None else tag_ids

    def tag_id(self, name: str) -> int:
        i = self.tag_ids.get(name)
        if i is None:
            i = self.tag_ids[name] = len(self.tag_ids)
        return i


def _varint_steps(rows: np.ndarray, width: int) -> np.ndarray:
    """Decode the int64 varint of ``width`` bytes at columns 10.. of ``rows`` (exact int64)."""
    acc = np.zeros(len(rows), dtype=np.uint64)
    for j in range(width):
        acc |= (rows[:, 10 + j] & np.uint8(0x7F)).astype(np.uint64) << np.uint64(7 * j)
    return acc.view(np.int64)


def _assign_tags(pts: _Points, rec: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Give each row of ``tags`` (``(k, t)`` uint8, the tag bytes of records ``rec``) its tag id.

    Returns a bool mask of the rows whose tag is valid UTF-8 (the others are left to
    protobuf, which rejects them). Tags are compared as zero-padded uint64 words; distinct
    tags are peeled off one at a time (few tags per file), and after 64 of them the rest is
    grouped with ``np.unique``.
    """
    k, t = tags.shape
    ok = np.ones(k, dtype=bool)
    nw = (t + 7) // 8
    padded = np.zeros((k, nw * 8), dtype=np.uint8)
    padded[:, :t] = tags
    words = padded.view("<u8")
    cols = [np.ascontiguousarray(words[:, j]) for j in range(nw)]
    todo = np.arange(k)
    peeled = 0
    while len(todo) and peeled < 64:
        i = todo[0]
        if peeled == 0:  # todo is every row: compare without gathering
            same = cols[0] == cols[0][i]
            for c in cols[1:]:
                same &= c == c[i]
        else:
            same = cols[0][todo] == cols[0][i]
            for c in cols[1:]:
                same &= c[todo] == c[i]
        _set_tag(pts, rec, ok, todo[same], tags[i].tobytes())
        todo = todo[~same]
        peeled += 1
    if len(todo):
        uniq, first, inv = np.unique(words[todo], axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        for u in range(len(uniq)):
            _set_tag(pts, rec, ok, todo[inv == u], tags[todo[first[u]]].tobytes())
    return ok


def _set_tag(pts: _Points, rec: np.ndarray, ok: np.ndarray, rows: np.ndarray, raw: bytes) -> None:
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        ok[rows] = False
        return
    pts.tag[rec[rows]] = pts.tag_id(name)


def _decode_group(pts: _Points, rows: np.ndarray, rec: np.ndarray) -> None:
    """Decode the one-scalar events among records ``rec`` (all of payload length ``L``;
    ``rows`` is their ``(k, L)`` payload matrix) into ``pts``."""
    k, length = rows.shape
    if length < 17:
        return
    cand = rows[:, 0] == 0x09
    has_step = rows[:, 9] == 0x10
    # width of the step varint: first byte from column 10 without the continuation bit
    # (-1: not terminated within 10 bytes or the record, not ours)
    width = np.where(has_step, -1, 0).astype(np.int8)
    open_ = np.flatnonzero(has_step)
    for j in range(min(10, length - 10)):
        if not len(open_):
            break
        ends = rows[open_, 10 + j] < 0x80
        width[open_[ends]] = j + 1
        open_ = open_[~ends]
    for w in np.unique(width[cand]).tolist():
        if w < 0:
            continue
        sel = np.flatnonzero(cand & (width == w))
        sub = rows if len(sel) == k else rows[sel]
        if w == 10:  # an int64 varint's 10th byte holds one bit
            keep = sub[:, 19] <= 1
            sel, sub = sel[keep], sub[keep]
        h = 9 if w == 0 else 10 + w
        if length - h - 2 >= 128 or length - h < 13:
            continue
        base = ((sub[:, h] == 0x2A) & (sub[:, h + 1] == length - h - 2) & (sub[:, h + 2] == 0x0A)
                & (sub[:, h + 3] == length - h - 4) & (sub[:, h + 4] == 0x0A))
        left = base
        for before, dt, after in (_SIMPLE, *_TF2_TEMPLATES):
            if not left.any():
                break
            size = int(dt[-1])
            tlen = length - h - 6 - len(before) - size - len(after)
            if tlen < 1:
                continue
            q = h + 6 + tlen
            m = left & (sub[:, h + 5] == tlen)
            for j, b in enumerate(before):
                if not m.any():
                    break
                m &= sub[:, q + j] == b
            for j, b in enumerate(after):
                if not m.any():
                    break
                m &= sub[:, q + len(before) + size + j] == b
            if not m.any():
                continue
            left &= ~m
            if m.all():
                r, rr = sub, sel
            else:
                idx = np.flatnonzero(m)
                r, rr = sub[idx], sel[idx]
            good = _assign_tags(pts, rec[rr], r[:, h + 6:q])
            if not good.all():
                r, rr = r[good], rr[good]
            g = rec[rr]
            v0 = q + len(before)
            pts.value[g] = np.ascontiguousarray(r[:, v0:v0 + size]).view(dt).reshape(-1)
            pts.wall[g] = np.ascontiguousarray(r[:, 1:9]).view("<f8").reshape(-1)
            pts.step[g] = _varint_steps(r, w) if w else 0
            pts.fast[g] = True


def _fast_decode(buf: np.ndarray, starts: np.ndarray, lens: np.ndarray,
                 tag_ids: dict[str, int] | None = None) -> tuple[_Points, np.ndarray]:
    """Bulk-decode the one-scalar events and check data CRCs of the short records.

    Returns ``(points, crc_bad)``: ``points.fast[i]`` tells whether record ``i`` was decoded
    here; ``crc_bad`` is a bool mask of records (of length <= NUMPY_CRC_MAX_LEN) whose data
    CRC does not match. ``tag_ids`` is extended with the tags met (a new dict when ``None``).
    """
    k = len(starts)
    pts = _Points(k, tag_ids)
    crc_bad = np.zeros(k, dtype=bool)
    # blocks of consecutive records (so that the index arrays and the temporaries stay
    # small next to the file), grouped by payload length within each block
    for c0 in range(0, k, _CHUNK_ROWS):
        cl = lens[c0:c0 + _CHUNK_ROWS]
        small = np.flatnonzero(cl <= NUMPY_CRC_MAX_LEN)
        if not len(small):
            continue
        sl = cl[small].astype(np.uint16)
        order = np.argsort(sl, kind="stable")  # radix sort on uint16
        sorted_lens = sl[order]
        cuts = np.flatnonzero(sorted_lens[1:] != sorted_lens[:-1]) + 1
        bounds = [0, *cuts.tolist(), len(order)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            length = int(sorted_lens[a])
            rec = c0 + small[order[a:b]]
            rows = gather_rows(buf, starts[rec] + 12, length)
            bad = mask_crc(crc32c_rows(rows)) != read_u32(buf, starts[rec] + 12 + length)
            if bad.any():
                crc_bad[rec[bad]] = True
                keep = ~bad
                rows, rec = rows[keep], rec[keep]
            _decode_group(pts, rows, rec)
    return pts, crc_bad


# --------------------------------------------------------------------------- protobuf path

def _decode_pb(payload: bytes, Event, start):
    """One record through protobuf: ``("start", step)``, ``("points", [(tag, step, value,
    wall)...])`` or ``("other", None)``. Raises on a payload that is not an Event."""
    ev = Event.FromString(payload)
    kind = ev.WhichOneof("what")
    if kind == "session_log":
        if ev.session_log.status == start:
            return "start", int(ev.step)
        return "other", None
    if kind != "summary":
        return "other", None
    step = int(ev.step)
    wall = float(ev.wall_time)
    out = []
    for v in ev.summary.value:
        which = v.WhichOneof("value")
        value: float | None
        if which == "simple_value":
            value = float(v.simple_value)
        elif which == "tensor":
            plugin = v.metadata.plugin_data.plugin_name
            if plugin not in ("", "scalars"):
                continue
            value = tensor_scalar(v.tensor)
            if value is None:
                continue
        else:
            continue
        tag = v.tag or v.node_name
        if tag:
            out.append((tag, step, value, wall))
    return "points", out


def _notes_for(src: str, problem, n_records: int, bad: list[int], crc_bad: list[int],
               purged: int) -> list[ReadNote]:
    notes = []
    if problem is not None:
        notes.append(ReadNote(src, f"{problem.message}; the {n_records} record(s) before "
                                   "it were read", "warning"))
    if crc_bad:
        notes.append(ReadNote(src, f"{len(crc_bad)} record(s) failed their data checksum and were "
                                   f"skipped (first at byte {crc_bad[0]})", "warning"))
    if bad:
        notes.append(ReadNote(src, f"{len(bad)} record(s) could not be decoded and were skipped "
                                   f"(first at byte {bad[0]})", "warning"))
    if purged:
        notes.append(ReadNote(src, f"a SessionLog.START (restart) discarded {purged} earlier "
                                   "point(s) at the restart step or later", "warning"))
    return notes


def read_reference(path: Path, unit_of: Callable[[str], str] = _every_step) -> ReadResult:
    """Every scalar of one event file, every record through protobuf, points gathered by
    :class:`Collector`: the reference :func:`read_fast` is tested against (same arguments, same
    result, ~10 us per record). Data CRCs are checked per record with
    :func:`losscheck.readers._tfrecord.crc32c` under the same policy as the fast path: every
    record with the native ``crc32c`` package, else records up to ``NUMPY_CRC_MAX_LEN`` bytes."""
    path = Path(path)
    src = str(path)
    data = read_bytes(path)
    records, problem = iter_records(data)
    if problem is not None and not records and not problem.truncated:
        raise ParseError(path, f"not a TensorBoard event file: {problem.message}", offset=problem.offset,
                         offset_in_problem=True)
    event_pb2 = _event_cls()
    Event, start = event_pb2.Event, event_pb2.SessionLog.START
    col = Collector()
    bad: list[int] = []
    crc_bad: list[int] = []
    purged = 0
    for i, (offset, payload) in enumerate(records):
        stored = int.from_bytes(data[offset + 12 + len(payload):offset + 16 + len(payload)], "little")
        checked = len(payload) <= NUMPY_CRC_MAX_LEN or _tfrecord.native_crc32c() is not None
        if checked and masked_crc32c(payload) != stored:
            crc_bad.append(offset)
            continue
        try:
            kind, got = _decode_pb(payload, Event, start)
        except Exception:
            if i == 0:
                raise ParseError(path, "not a TensorBoard event file: first record is not an "
                                       "Event protobuf", offset=offset) from None
            bad.append(offset)
            continue
        if kind == "start":
            purged += col.drop_from(got)
        elif kind == "points":
            for tag, step, value, wall in got:
                col.add(tag, step, value, wall if math.isfinite(wall) else None)
    notes = _notes_for(src, problem, len(records), bad, crc_bad, purged)
    series, n2 = col.build(src, units={t: unit_of(t) for t in col.tags()})
    notes.extend(n2)
    return ReadResult(series=series, notes=notes, meta={})


def is_file_version(data: bytes, a: int, length: int) -> bool:
    """Whether the payload ``data[a:a + length]`` is an ``Event`` holding only ``wall_time``,
    an optional ``step`` and a ``file_version`` string ``brain.Event:...`` (fields 1, 2, 3 of
    ``tensorboard/compat/proto/event.proto``), encoded in field order."""
    end = a + length
    if length < 11 or data[a] != 0x09:
        return False
    p = a + 9
    if data[p] == 0x10:  # step, a varint of at most 10 bytes
        p += 1
        for _ in range(10):
            if p >= end:
                return False
            p += 1
            if data[p - 1] < 0x80:
                break
        else:
            return False
    if p + 2 > end or data[p] != 0x1A or data[p + 1] >= 0x80:
        return False
    n = data[p + 1]
    if p + 2 + n != end or data[p + 2:p + 2 + 12] != b"brain.Event:":
        return False
    try:  # a proto3 string: protobuf rejects a record whose version is not UTF-8
        data[p + 2:end].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Decoded:
    """The points of one event file, gathered block by block (:meth:`add`), then put in file
    order (:meth:`columns`).

    Attributes:
        tag_ids: tag name -> id, shared by every block.
        nrec: records seen so far (a block's record ``i`` is the file's ``nrec + i``).
        bad: byte offsets of records protobuf rejected; ``crc_bad``: of records whose data
            CRC does not match.
        starts_marks: ``(record index, step)`` of each ``SessionLog.START``.
    """

    _FIELDS = ("rec", "tag", "step", "value", "wall")

    def __init__(self) -> None:
        self.tag_ids: dict[str, int] = {}
        self.nrec = 0
        self.bad: list[int] = []
        self.crc_bad: list[int] = []
        self.starts_marks: list[tuple[int, int]] = []
        self._fast: dict[str, list[np.ndarray]] = {f: [] for f in self._FIELDS}  # bulk-decoded
        self._slow: dict[str, list] = {f: [] for f in self._FIELDS}              # via protobuf

    def add(self, path: Path, data: bytes, starts: np.ndarray, lens: np.ndarray, base: int) -> None:
        """Decode the complete records of one block: ``data`` is the block's bytes, which
        begin at byte ``base`` of the file; ``starts``/``lens`` (shape ``(k,)``) frame its
        records relative to ``data``.

        Raises:
            ParseError: the file's first record is not an ``Event`` protobuf.
        """
        buf = np.frombuffer(data, dtype=np.uint8)
        pts, crc_bad_mask = _fast_decode(buf, starts, lens, self.tag_ids)
        slow = np.flatnonzero(~pts.fast & ~crc_bad_mask)
        # Large records: data CRC with the native package when importable (see _tfrecord).
        big = slow[lens[slow] > NUMPY_CRC_MAX_LEN]
        if len(big):
            big_ok = data_crc_ok(buf, data, starts[big], lens[big])
            crc_bad_mask[big[~big_ok]] = True
            slow = np.flatnonzero(~pts.fast & ~crc_bad_mask)
        # the file_version record that opens every event file carries no scalar: recognised
        # here so that a file of plain scalars never loads protobuf (~35 ms of imports)
        todo = [i for i in slow.tolist() if not is_file_version(data, int(starts[i]) + 12, int(lens[i]))]
        if todo:
            self._add_protobuf(path, data, starts, lens, base, todo, pts)
        self.crc_bad.extend((base + starts[np.flatnonzero(crc_bad_mask)].astype(np.int64)).tolist())
        fast = np.flatnonzero(pts.fast)
        self._fast["rec"].append(fast.astype(np.int64) + self.nrec)
        for name in ("tag", "step", "value", "wall"):
            self._fast[name].append(getattr(pts, name)[fast])
        self.nrec += len(starts)

    def _add_protobuf(self, path: Path, data: bytes, starts: np.ndarray, lens: np.ndarray, base: int,
                      slow: list[int], pts: _Points) -> None:
        """Records ``slow`` of a block (indices into ``starts``) through protobuf."""
        event_pb2 = _event_cls()
        Event, start = event_pb2.Event, event_pb2.SessionLog.START
        x = self._slow
        with memoryview(data) as mv:
            for i in slow:
                a = int(starts[i]) + 12
                try:
                    kind, got = _decode_pb(mv[a:a + int(lens[i])].tobytes(), Event, start)
                except Exception:
                    if self.nrec + i == 0:
                        raise ParseError(path, "not a TensorBoard event file: first record is not an "
                                               "Event protobuf", offset=base + int(starts[i])) from None
                    self.bad.append(base + int(starts[i]))
                    continue
                if kind == "start":
                    self.starts_marks.append((self.nrec + i, got))
                elif kind == "points":
                    for tag, step, value, wall in got:
                        x["rec"].append(self.nrec + i)
                        x["tag"].append(pts.tag_id(tag))
                        x["step"].append(step)
                        x["value"].append(value)
                        x["wall"].append(wall)

    def columns(self) -> tuple[np.ndarray, ...]:
        """``(rec, tag, step, value, wall)``: every point in file order, shape ``(n,)`` each
        (record index int64, tag id int32, step int64, then float64). The gathered pieces are freed one
        field at a time."""
        dtypes = (np.int64, np.int32, np.int64, np.float64, np.float64)
        cols = [_concat(self._fast[f], dt) for f, dt in zip(self._FIELDS, dtypes)]
        if self._slow["rec"]:
            cols = [np.concatenate([c, np.asarray(self._slow[f], dtype=dt)])
                    for c, f, dt in zip(cols, self._FIELDS, dtypes)]
            order = np.argsort(cols[0], kind="stable")
            cols = [c[order] for c in cols]
        return tuple(cols)


def _remaining(fh) -> int:
    """Bytes left to read from a file object of :func:`open_binary` (up to the size the file
    had when it was opened), or from an in-memory buffer."""
    if hasattr(fh, "remaining"):
        return fh.remaining()
    if hasattr(fh, "getbuffer"):
        return len(fh.getbuffer()) - fh.tell()
    return max(os.fstat(fh.fileno()).st_size - fh.tell(), 0)


def _concat(chunks: list[np.ndarray], dtype) -> np.ndarray:
    """Concatenate and empty ``chunks`` (so that the pieces can be freed one field at a time)."""
    out = np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)
    chunks.clear()
    return out


#: Bytes of an event file read and decoded at a time (plus a record cut by the block's end).
#: The file is never held whole: peak memory is a block, ~36 bytes per decoded point and the
#: series being assembled.
READ_BLOCK = 8 << 20


def _framed_blocks(path: Path, problem: list, grown: list | None = None):
    """Read ``path`` in blocks of :data:`READ_BLOCK` bytes and frame each block's complete
    records: yields ``(data, starts, lens, base)`` (the block's bytes, its records' offsets
    and payload lengths relative to ``data``, shape ``(k,)``, and the block's offset in the
    file). A record cut by a block's end is carried into the next block; when its header is
    intact, the next read is made long enough to complete it (up to the end of the file).
    The :class:`~losscheck.readers._tfrecord.FrameProblem` that stops reading (a truncated
    last record, a corrupt header), with file offsets, is appended to ``problem``.

    The file is read up to the size it had when it was opened (:func:`open_binary`), never
    followed while a job appends to it: a record cut by that end is a truncated last record.
    When the file grew meanwhile, ``(size at open, bytes added)`` is appended to ``grown``.

    Raises:
        UnreadableFile: the file cannot be opened or read.
        ParseError: the file does not start with TFRecord framing.
    """
    base = 0          # file offset of the current block's first byte
    carry = b""       # the start of a record cut by the previous block's end
    seen = 0          # records framed in earlier blocks
    fh = open_binary(path)
    try:
        with fh:
            while True:
                want = READ_BLOCK
                if len(carry) >= 12 and masked_crc32c(carry[:8]) == int.from_bytes(carry[8:12], "little"):
                    need = 16 + int.from_bytes(carry[:8], "little") - len(carry)
                    want = max(want, min(need, _remaining(fh)))
                try:
                    block = fh.read(want)
                except OSError as exc:
                    raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
                eof = not block
                data = carry + block if carry else block
                del block
                if eof and grown is not None and fh.grown():
                    grown.append((fh.size, fh.grown()))
                if not data:
                    return
                starts, lens, prob = frame_records(data, base)
                cut = len(data)
                if prob is not None and prob.truncated and not eof:
                    # the rest of the record is in the next block
                    cut, prob = prob.offset - base, None
                if prob is not None:
                    problem.append(prob)
                    if not seen and not len(starts) and not prob.truncated:
                        raise ParseError(path, f"not a TensorBoard event file: {prob.message}",
                                         offset=prob.offset, offset_in_problem=True)
                yield data, starts, lens, base
                seen += len(starts)
                carry = data[cut:]
                base += cut
                del data, starts, lens
                if prob is not None or eof:
                    return
    except OSError as exc:  # closing
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None


def read_fast(path: Path, unit_of: Callable[[str], str] = _every_step) -> ReadResult:
    """Every scalar of one event file: bulk framing + bulk decoding of one-scalar events +
    protobuf for the rest, one block of :data:`READ_BLOCK` bytes at a time
    (:func:`_framed_blocks`, :class:`_Decoded`). Never declines: a record the bulk decoder
    does not take goes through protobuf, so the result is always :func:`read_reference`'s.

    Args:
        path: the file (gzipped when its name ends in ``.gz``).
        unit_of: tag -> its step unit (``"step"`` or ``"epoch"``; the reader decides).
    Returns: a :class:`ReadResult` with one series per tag, in first-seen order; steps exact
        int64 (beyond 2**53 too).
    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the first record is not TFRecord framing or not an ``Event``.
    """
    path = Path(path)
    src = str(path)
    dec = _Decoded()
    found: list = []
    grown: list = []
    for block in _framed_blocks(path, found, grown):
        dec.add(path, *block)
        del block  # nothing of a block outlives its decoding
    problem = found[0] if found else None
    tag_ids, starts_marks, k = dec.tag_ids, dec.starts_marks, dec.nrec
    rec, tag, step, value, wall = dec.columns()
    n_tags = len(tag_ids)
    # per tag: first-seen position and whether every wall time is finite (before any purge)
    alive = np.ones(len(rec), dtype=bool)
    purged = 0
    for i, mark in starts_marks:
        hit = alive & (rec < i) & (step >= mark)
        purged += int(hit.sum())
        alive &= ~hit
    notes = _notes_for(src, problem, k, dec.bad, dec.crc_bad, purged)
    notes += [grown_note(path, size, more) for size, more in grown]
    if not n_tags:
        return ReadResult(series=[], notes=notes, meta={})
    names = [""] * n_tags
    for name, i in tag_ids.items():
        names[i] = name
    # per tag (before any purge, like Collector): first-seen point and finite wall times
    wall_ok = np.ones(n_tags, dtype=bool)
    nonfinite = ~np.isfinite(wall)
    if nonfinite.any():
        wall_ok[np.unique(tag[nonfinite])] = False
    purge = not alive.all()
    series = []
    groups: list[tuple[int, np.ndarray | None]]
    if n_tags == 1:
        groups = [(0, np.flatnonzero(alive) if purge else None)]
    else:
        by_tag = np.argsort(tag.astype(np.uint16) if n_tags < 65536 else tag, kind="stable")
        counts = np.bincount(tag, minlength=n_tags)
        begins = np.cumsum(counts) - counts
        first = np.where(counts > 0, by_tag[np.minimum(begins, len(by_tag) - 1)], len(rec))
        groups = []
        for t in np.argsort(first, kind="stable").tolist():
            sel = by_tag[begins[t]:begins[t] + counts[t]]
            groups.append((t, sel[alive[sel]] if purge else sel))
    for t, rows in groups:
        if rows is None:
            st, va, wt = step, value, wall
        else:
            st, va, wt = step[rows], value[rows], wall[rows]
        if not len(st):
            continue
        s, n2 = normalize(names[t], st, va, src, wt if wall_ok[t] else None, unit_of(names[t]))
        if len(s):
            series.append(s)
        notes.extend(n2)
    return ReadResult(series=series, notes=notes, meta={})

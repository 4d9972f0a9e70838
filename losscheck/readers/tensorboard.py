"""TensorBoard event files (``events.out.tfevents.*``), read record by record.

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
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name, read_bytes
from losscheck.readers._tfrecord import iter_records, masked_crc32c

_EVENT_NAME = re.compile(r"(^|\.)tfevents(\.|$)")

# tensorflow/core/framework/types.proto
_DT_FLOAT, _DT_DOUBLE, _DT_BFLOAT16, _DT_HALF = 1, 2, 14, 19
_PACKED = {_DT_FLOAT: "<f4", _DT_DOUBLE: "<f8", _DT_HALF: "<f2"}


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


class TensorBoardReader(BaseReader):
    """TensorBoard ``events.out.tfevents.*`` files: every scalar, every point.

    ``read`` returns one :class:`~losscheck.model.Series` per tag (steps = ``Event.step``,
    values float64, ``wall_time`` = ``Event.wall_time`` in seconds). A truncated last record
    or a corrupt header mid-file gives a warning note naming the byte offset, and the
    records before it are kept.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the very first record is not valid TFRecord framing or not an ``Event``.
    """

    name = "tensorboard"
    description = "TensorBoard event files (TF1/PyTorch simple_value and TF2 tensor scalars)"

    def _sniff(self, path: Path, head: bytes) -> float:
        if _EVENT_NAME.search(base_name(path)):
            return 0.95
        # A renamed event file: a valid first record header whose payload is a file_version.
        if len(head) >= 12 and masked_crc32c(head[:8]) == int.from_bytes(head[8:12], "little"):
            length = int.from_bytes(head[:8], "little")
            if length < len(head) - 12 and b"brain.Event" in head[12:12 + length]:
                return 0.8
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        data = read_bytes(path)
        src = str(path)
        records, problem = iter_records(data)
        notes: list[ReadNote] = []
        if problem is not None:
            if not records and not problem.truncated:
                raise ParseError(path, f"not a TensorBoard event file: {problem.message}",
                                 offset=problem.offset)
            notes.append(ReadNote(src, f"{problem.message}; the {len(records)} record(s) before "
                                       "it were read", "warning"))
        event_pb2 = _event_cls()
        Event = event_pb2.Event
        start = event_pb2.SessionLog.START
        col = Collector()
        bad: list[int] = []
        purged = 0
        for i, (offset, payload) in enumerate(records):
            try:
                ev = Event.FromString(payload)
            except Exception:
                if i == 0:
                    raise ParseError(path, "not a TensorBoard event file: first record is not an "
                                           "Event protobuf", offset=offset) from None
                bad.append(offset)
                continue
            kind = ev.WhichOneof("what")
            if kind == "session_log":
                if ev.session_log.status == start:
                    purged += col.drop_from(ev.step)
                continue
            if kind != "summary":
                continue
            step = float(ev.step)
            wall = float(ev.wall_time)
            for v in ev.summary.value:
                which = v.WhichOneof("value")
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
                    col.add(tag, step, value, wall if math.isfinite(wall) else None)
        if bad:
            notes.append(ReadNote(src, f"{len(bad)} record(s) could not be decoded and were skipped "
                                       f"(first at byte {bad[0]})", "warning"))
        if purged:
            notes.append(ReadNote(src, f"a SessionLog.START (restart) discarded {purged} earlier "
                                       "point(s) at the restart step or later", "warning"))
        series, n2 = col.build(src)
        notes.extend(n2)
        return ReadResult(series=series, notes=notes, meta={})


READER = TensorBoardReader()

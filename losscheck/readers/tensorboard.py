"""TensorBoard event files (``events.out.tfevents.*``): the reader.

Which files are event files, and the step unit of each tag; the bytes are decoded by
:mod:`losscheck.readers._tfevents` (TFRecord framing and CRC policy in
:mod:`losscheck.readers._tfrecord`). Scalars of both encodings are read: TF1 / PyTorch /
tensorboardX ``simple_value`` and TF2 ``tf.summary.scalar`` tensors (plugin ``"scalars"``);
every point is kept, with its wall time.
"""

from __future__ import annotations

import re
from pathlib import Path

from losscheck.model import ReadResult
from losscheck.readers._common import BaseReader, base_name
from losscheck.readers.interface import SNIFF

_EVENT_NAME = re.compile(r"(^|\.)tfevents(\.|$)")


def step_unit(tag: str) -> str:
    """``"epoch"`` for Keras' epoch-level scalars (``epoch_loss``, ``epoch_accuracy``,
    ``train/epoch_learning_rate``: the callback logs them at the epoch number), else
    ``"step"`` (a global step)."""
    return "epoch" if tag.rsplit("/", 1)[-1].startswith("epoch_") else "step"


def read_events(path: Path) -> ReadResult:
    """Read every scalar of one event file (:func:`losscheck.readers._tfevents.read_fast`,
    with this reader's step units).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the first record is not valid TFRecord framing or not an ``Event``.
    """
    from losscheck.readers import _tfevents  # lazy: only event files need the TFRecord decoder

    return _tfevents.read_fast(Path(path), step_unit)


class TensorBoardReader(BaseReader):
    """TensorBoard ``events.out.tfevents.*`` files: every scalar, every point.

    ``read`` returns one :class:`~losscheck.model.Series` per tag (steps = ``Event.step``,
    exact int64; values float64; ``wall_time`` = ``Event.wall_time`` in seconds). A truncated
    last record or a corrupt header mid-file gives a warning note naming the byte offset, and
    the records before it are kept; a record failing its data checksum, or not decodable, is
    skipped with a warning naming its offset.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the very first record is not valid TFRecord framing or not an ``Event``.
    """

    name = "tensorboard"
    description = "TensorBoard event files (TF1/PyTorch simple_value and TF2 tensor scalars)"

    def _sniff(self, path: Path, head: bytes) -> float:
        if _EVENT_NAME.search(base_name(path)):
            return SNIFF[self.name]["named"]
        # A renamed event file: a valid first record header whose payload is a file_version.
        # (the payload is looked at before the header's checksum: the CRC code is imported only
        # for a head that names an Event)
        if len(head) >= 12:
            length = int.from_bytes(head[:8], "little")
            if length < len(head) - 12 and b"brain.Event" in head[12:12 + length]:
                from losscheck.readers._tfrecord import masked_crc32c

                if masked_crc32c(head[:8]) == int.from_bytes(head[8:12], "little"):
                    return SNIFF[self.name]["content"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        return read_events(path)


READER = TensorBoardReader()

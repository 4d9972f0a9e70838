"""Keras ``CSVLogger`` files (``training.log`` by convention).

Format (Keras docs, ``keras.callbacks.CSVLogger``): a header ``epoch,<metric>,...`` (metric
names sorted: ``accuracy``, ``loss``, ``val_accuracy``, ``val_loss``, maybe
``learning_rate``/``lr``), then one row per epoch; ``epoch`` counts from 0.
"""

from __future__ import annotations

from pathlib import Path

from losscheck.errors import ParseError
from losscheck.model import ReadResult
from losscheck.readers._common import BaseReader, base_name
from losscheck.readers._tabular import header_fields, load_table, second_line_numeric, table_series
from losscheck.readers.interface import SNIFF


#: Columns that count steps finer than the epoch: a CSV that has one is not a Keras
#: CSVLogger file (one row per epoch), whatever its first column.
_FINER_STEPS = frozenset({"step", "global_step", "_step", "iter", "iteration", "it", "batch", "steps"})


class KerasCsvReader(BaseReader):
    """Keras ``CSVLogger`` output: first column ``epoch``, one row per epoch.

    ``read`` returns one series per metric, ``step_unit="epoch"`` (steps = epoch numbers as
    written, 0-based).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no ``epoch`` column, empty file, or too many malformed rows.
    """

    name = "keras-csv"
    description = "Keras CSVLogger training.log (epoch,loss,val_loss,...)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path).lower()
        fields = header_fields(head)
        if not fields or fields[0] != "epoch" or _FINER_STEPS & {f.lower() for f in fields}:
            return 0.0  # a finer step column: not Keras' one-row-per-epoch log (csv reads it by step)
        if not any(f == "loss" or f.endswith("_loss") for f in fields):
            return 0.0
        if any("/" in f for f in fields):  # ultralytics-style names: not Keras
            return 0.0
        if name == "training.log" or name.endswith(".log"):
            return conf["log"] if second_line_numeric(head) or len(fields) > 1 else 0.0
        if name.endswith(".csv"):
            return conf["csv"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        table = load_table(path)
        epoch = table.find("epoch", case=True)
        if epoch is None:
            raise ParseError(path, "Keras CSVLogger file without a numeric 'epoch' column")
        series, notes = table_series(table, str(path), epoch, set(), "epoch")
        return ReadResult(series, table.notes + notes, {})


READER = KerasCsvReader()

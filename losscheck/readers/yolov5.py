"""Ultralytics YOLO ``results.csv`` (YOLOv5, and YOLOv8+ which uses the same columns).

Format (ultralytics/yolov5 ``utils/loggers/__init__.py``, ``Loggers.on_fit_epoch_end``):
the header and cells are right-aligned and padded with spaces
(``'      train/box_loss'``); one row per epoch (0-based ``epoch`` column); columns
``train/{box,obj,cls}_loss``, ``metrics/precision``, ``metrics/mAP_0.5``...,
``val/*_loss``, ``x/lr0..2`` (``lr/pg0..2`` in YOLOv8). Names are stripped here.
"""

from __future__ import annotations

from pathlib import Path

from losscheck.errors import ParseError
from losscheck.model import ReadResult
from losscheck.readers._common import BaseReader, base_name
from losscheck.readers._tabular import header_fields, load_table, table_series
from losscheck.readers.interface import SNIFF


class YoloResultsReader(BaseReader):
    """Ultralytics ``results.csv``: one row per epoch, padded headers.

    ``read`` returns one series per metric column, ``step_unit="epoch"``.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no ``epoch`` column, empty file, or too many malformed rows.
    """

    name = "yolo-results"
    description = "Ultralytics YOLOv5/v8 results.csv (padded headers, one row per epoch)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path).lower()
        if not name.endswith(".csv"):
            return 0.0
        fields = header_fields(head)
        if "epoch" not in fields:
            return 0.0
        if any(f.startswith("train/") and f.endswith("_loss") for f in fields):
            return conf["named"] if name == "results.csv" else conf["content"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        table = load_table(path)
        epoch = table.find("epoch", case=True)
        if epoch is None:
            raise ParseError(path, "YOLO results.csv without a numeric 'epoch' column")
        series, notes = table_series(table, str(path), epoch, {"time"}, "epoch")
        return ReadResult(series, table.notes + notes, {})


READER = YoloResultsReader()

"""PyTorch Lightning ``CSVLogger`` files (``lightning_logs/version_N/metrics.csv``).

Format (Lightning docs, ``lightning.pytorch.loggers.CSVLogger``; the writer is
``lightning.fabric.loggers.csv_logs._ExperimentWriter``): one header with every metric
ever logged plus ``epoch`` and ``step``; each row holds only the metrics logged at that
call, the others empty. ``on_step`` metrics (``train_loss_step``) and ``on_epoch``
metrics (``train_loss_epoch``, ``val_loss``) therefore sit on different rows.

Each metric series takes only its non-empty rows, indexed by ``step`` (the global step;
epoch-level metrics are at the last step of their epoch). ``epoch`` is not a series.
"""

from __future__ import annotations

from pathlib import Path

from losscheck.errors import ParseError
from losscheck.model import ReadResult
from losscheck.readers._common import BaseReader, base_name, steps_per_epoch
from losscheck.readers._tabular import header_fields, load_table, table_series
from losscheck.readers.interface import SNIFF


class LightningCsvReader(BaseReader):
    """Lightning ``metrics.csv``: sparse rows, ``step`` column, ``epoch`` column.

    ``read`` returns one series per metric column (units: global steps).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no ``step`` column, empty file, or too many malformed rows.
    """

    name = "lightning-csv"
    description = "PyTorch Lightning CSVLogger metrics.csv (sparse step/epoch rows)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path).lower()
        if not name.endswith(".csv"):
            return 0.0
        fields = header_fields(head)
        if "step" in fields and "epoch" in fields:
            return conf["named"] if name == "metrics.csv" else conf["content"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        table = load_table(path)
        step = table.find("step", case=True)
        if step is None:
            raise ParseError(path, "Lightning metrics.csv without a numeric 'step' column")
        series, notes = table_series(table, str(path), step, {"epoch"}, "step")
        meta = {}
        ep = table.find("epoch")
        if ep is not None:
            spe = steps_per_epoch(table.values[step], table.values[ep])
            if spe:
                meta["steps_per_epoch"] = spe
        return ReadResult(series, table.notes + notes, meta)


READER = LightningCsvReader()

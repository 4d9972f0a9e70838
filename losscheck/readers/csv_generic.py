"""Generic CSV/TSV metrics tables: one row per logging event, one column per metric.

The step is the first column named (case-insensitively) ``step``, ``global_step``,
``_step``, ``iteration``, ``iter`` or ``epoch``, else one whose words name a counter (Caffe
``parse_log.py``'s ``NumIters``); without one, the row index (from 0). A ``.log``, ``.txt``,
``.out`` or ``.dat`` file is read as CSV when its header has such a counter field and its
first row is numeric.
Every other numeric column is a series. Empty / ``None`` / ``null`` cells are missing
(no point); ``nan`` / ``inf`` / ``-Infinity`` cells are kept as values.

A TensorBoard "Download CSV" export (columns ``Wall time``, ``Step``, ``Value``) gives one
series named after the file, with its wall time.
"""

from __future__ import annotations

from pathlib import Path

from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import STEP_KEYS, BaseReader, base_name
from losscheck.readers._tabular import (counter_field, header_fields, integral, load_table, second_line_numeric,
                                        table_series, wall_seconds, text_table)
from losscheck.readers.interface import SNIFF

_CSV_EXT = (".csv", ".tsv")
_TEXT_EXT = (".log", ".txt", ".out", ".dat")


#: Words of a training log's columns: a CSV whose first lines have none of them
#: (``id,text,label`` in a project's ``data/``) is a data set, not a log.
_METRIC_WORDS = ("loss", "step", "epoch", "iter", "lr", "learning_rate", "acc", "perplexity", "ppl",
                 "grad", "wall", "time", "value")


def _looks_like_metrics(head: bytes) -> bool:
    """Whether the first lines of a CSV (its header, after any comment lines) name a step
    counter or a training metric."""
    low = head[:4096].lower()
    return any(w.encode() in low for w in _METRIC_WORDS)


class GenericCsvReader(BaseReader):
    """Any CSV/TSV with a header row and numeric columns (lowest-priority tabular reader).

    ``read`` returns one series per numeric non-step column; ``step_unit`` is ``"epoch"``
    when the step column is ``epoch``.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: empty file or too many malformed rows.
    """

    name = "csv"
    description = "CSV/TSV tables with a step-like column (or row index) and numeric columns"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path).lower()
        fields = header_fields(head)
        if name.endswith(_CSV_EXT):
            if fields and not _looks_like_metrics(head):
                return 0.0  # a data set (id,text,label), not a training log
            return conf["table"] if fields and (len(fields) > 1 or second_line_numeric(head)) else conf["one-column"]
        if name.endswith(_TEXT_EXT) and text_table(head):
            return conf["text"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        table = load_table(path)
        src = str(path)
        notes: list[ReadNote] = list(table.notes)
        cols = {c.lower() for c in table.columns}
        if {"wall time", "step", "value"} <= cols and len(table.columns) == 3:
            step, wall_col, value_col = table.find("Step"), table.find("Wall time"), table.find("Value")
            wt = table.values[wall_col] if wall_col else None
            stem = base_name(path)
            stem = stem.rsplit(".", 1)[0] if "." in stem else stem
            series, n = table_series(table, src, step, {wall_col or ""},
                                     wall=wt, rename={value_col: stem} if value_col else None)
            return ReadResult(series, notes + n, {})
        step_col = table.find(*STEP_KEYS)
        if step_col is None:
            # a counter named otherwise (Caffe parse_log's ``NumIters``), when numeric
            named = counter_field([c for c in table.columns if c in table.values])
            step_col = named
        unit = "step"
        if step_col is not None and not integral(table.values[step_col]):
            notes.append(ReadNote(src, f"column {step_col!r} has fractional values; the row index "
                                       "is used as the step", "info"))
            step_col = None
        if step_col is not None and step_col.lower() == "epoch":
            unit = "epoch"
        wall_col, wall = wall_seconds(table)
        skip = {wall_col} if wall_col else set()
        series, n = table_series(table, src, step_col, skip, unit, wall)
        if step_col is None and table.find(*STEP_KEYS) is None and counter_field(list(table.values)) is None:
            notes.append(ReadNote(src, "no step column; the row index is used as the step", "info"))
        return ReadResult(series, notes + n, {})


READER = GenericCsvReader()

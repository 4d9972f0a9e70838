"""Header-less numeric logs whose file name names the loss (a helper of
:mod:`losscheck.readers.text_logs`).

Small training scripts often write the loss alone to a file named after it
(``loss_log.txt``, ``losses.txt``, ``train_loss.csv``), one line per epoch or step, with no
name in the file:

- bare numbers, one per line (``2.31``): the loss, step = the line's position (from 0);
- an index column and a value (``1,6.23``, ``1 6.23``, ``1\\t6.23``): the index is the step
  (a restart of the index is a restart of the step, handled as every reader's steps are:
  :func:`losscheck.series.normalize` keeps the later points and warns);
- a counter word, its number and the value (``Epoch 3: 1.91``, ``step 200 0.52``): the
  number is the step (unit ``epoch`` for an epoch);
- several value columns (``16.84,-210.47``), with or without an index column: the FIRST
  value column is taken as the loss (the name says a loss is in the file, and nothing says
  which column; a note names the column taken and how to choose another with ``--loss``);
  the others are read as ``column_2``, ``column_3``... (1-based positions in the row).

A file is read this way only when every non-blank line has one of these shapes with the same
number of cells (a last line cut mid-write is dropped), at least 3 lines (2 in a file of 2
lines), and the name's stem names a loss (:func:`names_loss`), or the name says console log
(``log.txt``; the caller decides) and the rows open with an index column or a counter word,
the first value column not whole numbers only: then nothing names the loss, and the note
taking the first value column is a warning. The first column is an index
when every cell of it is a non-negative whole number and it rises by a constant step between
restarts. A printed NumPy array that is the whole file (``array([ 434.28,  317.39,`` wrapped
over lines; a loss history printed with ``print(np.array(...))``) is one column of values,
step = position. Nothing here raises; work is linear in the text length.
"""

from __future__ import annotations

import re

from losscheck.readers._textkv import NUM

_NUMBER = re.compile(NUM)
_SPLIT = re.compile(r"\s*[,;\t]\s*|\s+")
_COUNTED = re.compile(rf"\s*(?P<w>epoch|ep|step|iter|iteration|batch|episode)\s{{0,5}}[#:=]?\s{{0,5}}(?P<n>\d{{1,12}})"
                      rf"\s{{0,5}}[:=,|-]?\s{{0,5}}(?P<v>{NUM})\s*", re.IGNORECASE)
_STEM_WORDS = re.compile(r"[^a-z0-9]+")
_MAX_COLS = 64


def names_loss(name: str) -> bool:
    """Whether a file name's stem (before its last suffix, ``.gz`` aside) names a loss:
    ``loss_log.txt``, ``losses.txt``, ``train_loss.csv``, ``LossHistory.dat``."""
    low = name.lower()
    if low.endswith(".gz"):
        low = low[:-3]
    stem = low.rsplit(".", 1)[0] if "." in low else low
    return "loss" in stem


def numeric_rows(lines: list[str]) -> tuple[list[list[float]], str | None] | None:
    """The rows of numbers of ``lines`` (non-blank lines of one file), and the counter word
    when the lines were ``<counter> N: value``; ``None`` when any line (but a cut last one)
    has another shape or the rows differ in length."""
    rows: list[list[float]] = []
    word: str | None = None
    width = -1
    for i, line in enumerate(lines):
        row: list[float] | None = None
        cm = _COUNTED.fullmatch(line)
        if cm is not None:
            w = cm.group("w").lower()
            w = "epoch" if w == "ep" else w
            if word not in (None, w):
                return None
            word = w
            row = [float(cm.group("n")), float(cm.group("v"))]
        elif word is None:
            cells = _SPLIT.split(line.strip())
            if 0 < len(cells) <= _MAX_COLS and all(_NUMBER.fullmatch(c) for c in cells):
                row = [float(c) for c in cells]
        if row is None or (width >= 0 and len(row) != width):
            if i == len(lines) - 1 and rows:
                break  # a last line cut mid-write
            return None
        width = len(row)
        rows.append(row)
    return rows, word


_ARRAY_OPEN = re.compile(r"\s*array\(\[")
_ARRAY_CLOSE = re.compile(r"\]\s*(?:,\s*dtype=\w+\s*)?\)\s*$")


def array_values(lines: list[str]) -> list[float] | None:
    """The values of a printed one-dimensional NumPy array that is the whole file
    (``array([ 434.285,  317.386,`` wrapped over lines, closed by ``])`` or cut before it),
    in order; ``None`` for any other text or fewer than 3 values."""
    if not lines or not _ARRAY_OPEN.match(lines[0]):
        return None
    body = _ARRAY_OPEN.sub("", lines[0], count=1)
    text = "\n".join([body] + lines[1:])
    closed = _ARRAY_CLOSE.search(text)
    if closed:
        text = text[:closed.start()]
    cells = [c for c in re.split(r"[\s,]+", text) if c]
    if len(cells) < 3 or not all(_NUMBER.fullmatch(c) for c in cells):
        return None
    return [float(c) for c in cells]


def _is_index(col: list[float]) -> bool:
    """Whether a column is an index: whole non-negative numbers rising by one constant step
    (restarts aside), at least two distinct values."""
    if any(not (v >= 0 and float(v).is_integer()) for v in col) or len(set(col)) < 2:
        return False
    strides = {b - a for a, b in zip(col, col[1:]) if b > a}
    return len(strides) == 1


def read_numeric(lines: list[str], loss_named: bool = True) -> tuple[dict[str, tuple[list[float], list[float]]], str,
                                                                  list[tuple[str, str]]] | None:
    """Series of a header-less numeric file (see the module docstring): ``(tag -> (steps,
    values), step unit, notes as (severity, message))``, the loss under the tag ``loss``
    (the note is a warning when a column had to be chosen among several); ``None`` when
    ``lines`` (the file's non-blank lines) are not such a file. With ``loss_named`` False
    (a file whose name says log, not loss: ``log.txt``), the rows must open with an index
    column or a counter word and hold at least 3 rows: the step is then printed, and the
    note is always a warning (nothing names the loss)."""
    if len(lines) < 2:
        return None
    arr = array_values(lines)
    if arr is not None:
        why = "the file name says loss" if loss_named else "nothing names a loss"
        return ({"loss": ([float(i) for i in range(len(arr))], arr)}, "step",
                [("info" if loss_named else "warning", f"a printed NumPy array: its values are read as the loss "
                  f"({why}), the n-th value at step n (from 0)")])
    got = numeric_rows(lines)
    if got is None:
        return None
    rows, word = got
    if len(rows) < 3 and len(rows) != len(lines):
        return None
    width = len(rows[0])
    first = [r[0] for r in rows]
    indexed = word is not None or (width >= 2 and _is_index(first))
    if not loss_named and (not indexed or len(rows) < 3 or all(r[-1 if width == 1 else 1].is_integer() for r in rows)):
        return None  # (whole numbers only: counts or ids, not a loss)
    steps = first if indexed else [float(i) for i in range(len(rows))]
    cols = list(range(1 if indexed else 0, width))
    out: dict[str, tuple[list[float], list[float]]] = {}
    info: list[tuple[str, str]] = []
    for k, c in enumerate(cols):
        tag = "loss" if k == 0 else f"column_{c + 1}"
        out[tag] = (list(steps), [r[c] for r in rows])
    where = f"{word} counter" if word else ("index column (column 1)" if indexed else "line position")
    if not loss_named:
        others = (f"; the other columns are read as {', '.join(f'column_{c + 1}' for c in cols[1:])}"
                  if len(cols) > 1 else "")
        info.append(("warning", f"no header and no loss name: column {cols[0] + 1} of {width} was taken as the "
                                f"loss (the file is a log of numbers only; the step is the {where}){others}: "
                                "choose another series with --loss"))
    elif len(cols) > 1:
        info.append(("warning", f"no header: column {cols[0] + 1} of {width} was taken as the loss (the file name says "
                    f"loss; the step is the {where}); the other columns are read as "
                    f"{', '.join(f'column_{c + 1}' for c in cols[1:])}: choose one with --loss column_N"))
    else:
        info.append(("info", f"no header: the numbers are read as the loss (the file name says loss); the "
                             f"step is the {where}"))
    return out, ("epoch" if word == "epoch" else "step"), info

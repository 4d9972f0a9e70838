"""Shared CSV loading for the CSV-family readers (Python's :mod:`csv` tokenizer).

The tokenizer is Python's :mod:`csv` (C-accelerated): a row at a time, so a malformed row is
skipped on its own (no re-parse of the whole file), and a small file costs microseconds
rather than a pandas ``read_csv`` set-up (a folder of 10,000 small CSV files stays fast).

Cells are read as text and converted here, because a generic NA list conflates two
things losscheck must keep apart: a *missing* cell (``""``, ``None``, ``null``: no point)
and a *non-finite value* (``nan``, ``inf``, ``-Infinity``: a point that the analysis counts).
See :data:`losscheck.readers._common.MISSING_TOKENS` and ``NAN_TOKENS``/``INF_TOKENS``.

Large files (>= :data:`PANDAS_MIN_CHARS`; smaller ones from
:data:`~losscheck.readers._numscan.SMALL_MAX_BYTES` once pandas paid for its import in this
process: :class:`~losscheck.readers._numscan.ColumnarBudget`) that need none of the repairs below (no quotes,
comments, blank lines, repeated header, lone CR or NUL; a final newline) are read by
pandas' C ``read_csv`` instead, in one of two ways:

- straight to ``float64`` (:func:`losscheck.readers._numscan.csv_floats`, ASCII files): pandas' converter is
  correctly rounded (fast_float from pandas 3.1, ``float_precision="round_trip"`` before),
  so every value is bit for bit what :func:`float` gives; empty cells come back as NaN and
  are the missing ones, which is only unambiguous when no cell spells NaN, so a file with
  both goes to the next way. ~6x faster than the text route on 1M rows, and no
  per-cell Python string;
- as text (``na_filter=False``, :func:`cells_fast`), the cells then going through the
  same conversion as the Python path's (spelled-out missing cells, stray text...).

Any pandas error or warning falls back to the next way and finally to the Python path, so
the :class:`Table` is always the same; ``tests/readers/test_readers.py`` compares the paths.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from losscheck.errors import ParseError, excerpt
from losscheck.model import NOTE_NO_VALUES, ReadNote, Series
from losscheck.readers._common import (INF_TOKENS, MISSING_TOKENS, NAN_TOKENS, STEP_KEYS, beyond_exact, decode_text,
                                       drop_long_lines, first_lines, read_data)
from losscheck.readers._numscan import BUDGET, csv_floats, guess_sep
from losscheck.series import normalize

#: Column names holding wall-clock time (seconds or milliseconds since the Unix epoch).
WALL_COLUMNS = ("wall_time", "Wall time", "walltime", "_timestamp", "timestamp")

#: A CSV file with more than this share of malformed data rows (and at least 3) is a read
#: error, not a table read with gaps: past it, the rows that are left no longer say what the
#: run did. Below it, the rows are skipped one by one and a warning names their lines.
MAX_MALFORMED_SHARE = 0.2

#: Files at least this long (bytes) try pandas' C parser when they allow it; smaller ones too
#: once it paid for its import in this process (:class:`losscheck.readers._numscan.ColumnarBudget`).
PANDAS_MIN_CHARS = 5_000_000

# A comment line or a blank (whitespace-only) line, anywhere: the pandas path does not apply.
_NEEDS_PYTHON = re.compile(r"^\s*(#|//)|^\s*$", re.MULTILINE)
#: The last cell of a last line with no newline after it, when it is a number cut mid-print:
#: digits and a point with no digit after it (``1.``), a mantissa with an exponent sign but no
#: exponent digit (``1e``, ``3.2e-``), or a lone sign. No CSV writer prints these (Python's
#: ``csv``, pandas and the loggers print ``1.0``/``1`` and full exponents), so such a line is a
#: file cut while it was written; the rest of a cut number (``1.7`` cut to ``1``) cannot be told.
_CUT_NUMBER = re.compile(rb"(?:^|[,;\t|])\s*[+-]?(?:\d+\.|\d*\.?\d+[eE][+-]?|[+-])\s*$")


def drop_cut_last_line(data: bytes, src: str) -> tuple[bytes, list[ReadNote]]:
    """``data`` without its last line when that line has no newline after it and ends in a
    number cut mid-print (:data:`_CUT_NUMBER`), with a warning naming the line; else ``data``
    unchanged and no note. A single line (the header) is never dropped. Cost: O(n) for the
    line number, only when a line is dropped."""
    if not data or data.endswith(b"\n"):
        return data, []
    start = data.rfind(b"\n") + 1
    last = data[start:].rstrip(b"\r")
    if start == 0 or not last.strip() or not _CUT_NUMBER.search(last):
        return data, []
    line = data.count(b"\n", 0, start) + 1
    shown = last[-24:].decode("utf-8", "replace")
    return data[:start], [ReadNote(src, f"line {line} is incomplete (a number cut mid-print, {shown!r}, with "
                                        "no newline after it: a file still being written?) and was skipped",
                                   "warning")]


@dataclass
class Table:
    """A CSV file as float columns.

    Attributes:
        columns: header names, stripped of surrounding spaces, in file order.
        values: name -> ``float64`` array of shape ``(nrows,)``; NaN where missing *or* NaN.
        missing: name -> ``bool`` array of shape ``(nrows,)``, True where the cell is
            missing (empty, ``None``, ``null``...). Only numeric columns appear in
            ``values``/``missing``.
        nrows: number of data rows.
        notes: what was skipped or repaired, for the user.
        exact: name -> {row: int} for the cells of a numeric column that are integers too
            large for a double to hold exactly (beyond 2**53): their exact value (steps of
            a long run must not collapse; see :meth:`steps`).
    """

    columns: list[str]
    values: dict[str, np.ndarray]
    missing: dict[str, np.ndarray]
    nrows: int
    notes: list[ReadNote] = field(default_factory=list)
    exact: dict[str, dict[int, int]] = field(default_factory=dict)

    def steps(self, name: str) -> np.ndarray:
        """Column ``name`` as steps for :func:`losscheck.series.normalize`, shape ``(nrows,)``:
        its ``float64`` values, or, when it holds integers beyond 2**53, an object array in
        which those cells are exact Python ints (the others floats)."""
        vals = self.values[name]
        ex = self.exact.get(name)
        if not ex:
            return vals
        out = vals.astype(object)
        for r, v in ex.items():
            out[r] = v
        return out

    def find(self, *names: str, case: bool = False) -> str | None:
        """The first column among ``names`` present among numeric columns (case-insensitive
        unless ``case``), or ``None``."""
        for want in names:
            for c in self.columns:
                if c in self.values and (c == want if case else c.lower() == want.lower()):
                    return c
        return None


_COUNTER_TOKENS = frozenset({"step", "steps", "iter", "iters", "iteration", "iterations", "epoch", "epochs",
                             "numiters", "update", "updates"})
_FIELD_TOKEN = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")


def counter_field(fields: list[str]) -> str | None:
    """The first header field naming a step counter (:data:`STEP_KEYS`, or a name one of whose
    words, split at separators and case changes, is a counter word: Caffe's ``parse_log.py``
    writes ``NumIters``; ``num_updates``, ``Global Step``), or ``None``."""
    keys = {k.lower() for k in STEP_KEYS}
    for f in fields:
        if f.lower() in keys:
            return f
    for f in fields:
        if len(f) <= 60 and _COUNTER_TOKENS.intersection(t.lower() for t in _FIELD_TOKEN.split(f) if t):
            return f
    return None


def text_table(head: bytes) -> bool:
    """Whether a ``.log``/``.txt`` sniff head opens with a CSV table: a header of several
    fields, none a bare number, then a row with a numeric cell; and either a field naming a
    step counter (:func:`counter_field`), or (a table a script wrote without one:
    ``loss,val_loss`` / ``0.91,1.02``) a field naming a loss and a first row of as many
    cells, every one a number (the row index is then the step). A header names its columns:
    a field that is a bare number means the commas are inside a console line (thousands
    separators: ``step 1,000 | loss 2.9 | tokens 12,345``), which is the text reader's."""
    fields = header_fields(head)
    if len(fields) < 2 or not second_line_numeric(head):
        return False
    for f in fields:
        try:
            float(f)
            return False
        except ValueError:
            pass
    if counter_field(fields) is not None:
        return True
    if not any("loss" in f.lower() and len(f) <= 60 for f in fields):
        return False
    lines = first_lines(head, 2)
    cells = lines[1].split(guess_sep(lines[0]))
    if len(cells) != len(fields):
        return False
    for c in cells:
        try:
            float(c.strip().strip('"'))
        except ValueError:
            return False
    return True


def header_fields(head: bytes) -> list[str]:
    """The stripped header fields of a CSV sniff head (``[]`` when there is no line)."""
    lines = first_lines(head, 2)
    if not lines:
        return []
    sep = guess_sep(lines[0])
    return [f.strip().strip('"').strip() for f in lines[0].split(sep)]


def second_line_numeric(head: bytes) -> bool:
    """Whether the first data line of a CSV sniff head has at least one numeric cell."""
    lines = first_lines(head, 2)
    if len(lines) < 2:
        return False
    sep = guess_sep(lines[0])
    for cell in lines[1].split(sep):
        try:
            float(cell.strip().strip('"'))
            return True
        except ValueError:
            continue
    return False


def _cell_kind(text: str) -> tuple[float, int]:
    """One text cell -> ``(value, kind)``; kind 0 = a number (NaN/Inf included), 1 = missing
    (empty), 2 = missing spelled out (``None``, ``null``, ``NA``...), 3 = not a number."""
    t = text.strip()
    if not t:
        return math.nan, 1
    try:
        return float(t), 0
    except ValueError:
        pass
    low = t.lower()
    if low in MISSING_TOKENS:
        return math.nan, 2
    if low in NAN_TOKENS:
        return math.nan, 0
    if low in INF_TOKENS:
        return INF_TOKENS[low], 0
    return math.nan, 3


def _convert(cells: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Text cells -> ``(values float64, missing bool, bad bool, spelled)``: arrays of shape
    ``(n,)`` and the number of missing cells spelled out (``None``, ``null``...).

    Conversion is memoised per distinct text, so repeated cells (empty cells of sparse
    Lightning rows, repeated values) cost one dict look-up.
    """
    try:  # every cell a plain number (the common case): one vectorised conversion
        vals = np.array(cells, dtype=np.float64)
        if vals.ndim == 1 and vals.shape[0] == len(cells):
            z = np.zeros(len(cells), dtype=bool)
            return vals, z, z.copy(), 0
    except (ValueError, TypeError):
        pass
    memo: dict[str, tuple[float, int]] = {}
    out = []
    for c in cells:
        r = memo.get(c)
        if r is None:
            r = memo[c] = _cell_kind(c if isinstance(c, str) else str(c))
        out.append(r)
    n = len(out)
    vals = np.fromiter((r[0] for r in out), dtype=np.float64, count=n)
    kind = np.fromiter((r[1] for r in out), dtype=np.int8, count=n)
    missing = (kind == 1) | (kind == 2)
    return vals, missing, kind == 3, int((kind == 2).sum())


def _tokenize(lines: list[str], sep: str, n_fields: int
              ) -> tuple[list[str] | None, list[list[str]], list[int], int]:
    """Split CSV ``lines`` into ``(header, rows, skipped_line_numbers, repeated_headers)``.

    Memory is proportional to the non-empty lines (empty lines never reach the csv module).
    Blank rows are dropped; rows with more fields than the header are skipped (their 1-based
    line numbers returned); shorter rows are padded with empty (missing) cells; rows equal to
    the header (written again by a resumed job) are dropped and counted.
    """
    skipped: list[int] = []
    # Empty lines make no row: they are left out before the csv module, which would make an
    # empty row (a list, ~100 bytes with its line number) of each: 10 MiB of blank lines took
    # 1.5 GB. `where` maps the lines kept to their 0-based line numbers.
    where: list[int] | None = None
    cr = lines.count("\r")
    if lines.count("") + cr > 1:
        where = ([i for i, ln in enumerate(lines) if ln and ln != "\r"] if cr else
                 list(itertools.compress(range(len(lines)), lines)))  # the non-empty lines, in C
        lines = [lines[i] for i in where]
    else:
        lines = list(lines)

    def number(k: int) -> int:
        """The 1-based line number of the k-th (0-based) line kept."""
        return (where[k] if where is not None else k) + 1

    # A quoted field never runs past the end of its line: one stray '"' would otherwise make
    # the csv module read the rest of the file as one field (rows silently lost). A line with
    # an odd number of quote characters cannot close its quotes and is skipped on its own.
    for i, ln in enumerate(lines):
        if '"' in ln and ln.count('"') % 2:
            skipped.append(number(i))
            lines[i] = ""
    parsed, numbers = [], []
    reader = csv.reader(lines, delimiter=sep, quotechar='"', strict=False)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a NUL byte or an oversized field
            skipped.append(number(reader.line_num - 1))
            continue
        parsed.append(row)
        numbers.append(number(reader.line_num - 1))
    header: list[str] | None = None
    start = 0
    for k, row in enumerate(parsed):
        if row and not (len(row) == 1 and not row[0].strip()):
            header = [c.strip().strip('"').strip() for c in row]
            start = k + 1
            break
    if header is None:
        return None, [], skipped, 0
    n_fields = len(header)
    body = parsed[start:]
    if all(len(r) == n_fields for r in body):
        rows = body
    else:
        rows = []
        for k, row in enumerate(body, start):
            if len(row) == n_fields:
                rows.append(row)
            elif not row or (len(row) == 1 and not row[0].strip()):
                continue
            elif len(row) > n_fields:
                skipped.append(numbers[k])
            else:
                rows.append(row + [""] * (n_fields - len(row)))
    repeated = 0
    h0 = header[0]
    if any(r[0].strip().strip('"').strip() == h0 for r in rows):
        kept = [r for r in rows if not (r[0].strip().strip('"').strip() == h0
                                        and [c.strip().strip('"').strip() for c in r] == header)]
        repeated = len(rows) - len(kept)
        rows = kept
    return header, rows, sorted(skipped), repeated


def cells_fast(text: str) -> tuple[list[str], list[list[str]]] | None:
    """``(header_row, columns of cell texts)`` of a clean file by pandas' C tokenizer, or
    ``None`` when the file needs the Python path (repairs, notes) or pandas fails.

    Clean: a final newline; no quote, NUL or lone CR; no comment or blank line; the first
    header field nowhere in the body (no repeated header); no row with more fields than the
    header (pandas raises). Shorter rows are padded with empty cells, as the Python path does.
    """
    if not text.endswith("\n") or '"' in text or "\x00" in text or text.count("\r") != text.count("\r\n"):
        return None
    if _NEEDS_PYTHON.search(text, 0, len(text) - 1):
        return None
    end = text.index("\n")
    first = text[:end].rstrip("\r")
    sep = guess_sep(first)
    header = [f.strip() for f in first.split(sep)]
    if not header[0] or text.find(header[0], end) != -1:
        return None
    try:
        import pandas as pd  # lazy: start-up time

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            df = pd.read_csv(io.StringIO(text), sep=sep, header=None, skiprows=1,
                             names=list(range(len(header))), index_col=False, dtype=str, na_filter=False, keep_default_na=False,
                             skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c")
        if df.shape[0] == 0 or df.shape[1] != len(header) or bool(df.isna().to_numpy().any()):
            return None
        cols = [df[k].to_numpy(dtype=object).tolist() for k in range(len(header))]
    except Exception:  # noqa: BLE001 - any pandas failure: the Python path decides
        return None
    return header, cols


def _exact_ints(vals: np.ndarray, cells) -> dict[int, int]:
    """``{row: int}`` for the cells of a column (``vals`` ``float64`` (n,), ``cells`` their
    texts) that hold an integer beyond 2**53, which ``vals`` may have rounded."""
    big = beyond_exact(vals)
    out: dict[int, int] = {}
    for r in [] if big is None else big.tolist():
        try:
            out[r] = int(str(cells[r]).strip())
        except ValueError:  # 1e17, 12.0: a double is what the cell says
            continue
    return out


def _is_comment(line: str) -> bool:
    s = line.lstrip()
    return s.startswith("#") or s.startswith("//")


def load_table(path: Path) -> Table:
    """Read a delimited text file into a :class:`Table`.

    Handles a UTF-8 BOM, CRLF line ends, ``#``/``//`` comment lines, space-padded or
    duplicated header names (a duplicate is renamed ``name#2``, with a note), the header
    repeated mid-file (a resumed writer; skipped with a note), a truncated last line (dropped
    with a warning), and malformed rows mid-file (skipped with a warning naming the line).
    Columns where most non-missing cells are not numbers are left out (with a note when some
    cells were numbers); a few stray non-numeric cells in a numeric column become missing
    (with a note). A header without data rows gives an empty table and a warning. A line
    longer than :data:`~losscheck.readers._common.MAX_LINE_BYTES` is skipped unparsed, with
    a warning (:func:`~losscheck.readers._common.drop_long_lines`); memory stays
    proportional to the lines kept (empty lines cost nothing but their line break). Integer
    cells beyond 2**53 are kept exact in :attr:`Table.exact` (for steps).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the file is empty, or too many rows are malformed.
    """
    src = str(path)
    data, notes = read_data(path)
    data, more = drop_long_lines(data, path)
    notes += more
    data, more = drop_cut_last_line(data, src)
    notes += more
    columnar = BUDGET.columnar(len(data), PANDAS_MIN_CHARS)
    if columnar:
        floats = csv_floats(data)
        if floats is not None:
            header, cols, exact = floats
            return _build_table(src, header, cols, len(cols[0][0]), notes, converted=True, exact=exact)
    text, more = decode_text(data, path)
    notes += more
    del data
    fast = cells_fast(text) if columnar else None
    if fast is not None:
        header, cells = fast
        return _build_table(src, header, cells, len(cells[0]), notes)
    header_row, cols, nrows = cells_reference(path, text, notes)
    return _build_table(src, header_row, cols, nrows, notes)


def cells_reference(path: Path, text: str, notes: list[ReadNote]) -> tuple[list[str], list, int]:
    """Tokenize ``text`` with Python's csv module, with every repair and note of
    :func:`load_table` (notes appended to ``notes``): ``(header_row, columns, nrows)``."""
    src = str(path)
    lines = text.split("\n")
    comments = 0
    if "#" in text or "//" in text:  # else no line can be a comment: no Python step per line
        for i, ln in enumerate(lines):
            if _is_comment(ln):
                lines[i] = ""
                comments += 1
    if comments:
        notes.append(ReadNote(src, f"{comments} comment line(s) skipped", "info"))
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise ParseError(path, "empty file (no header line)" if not comments else
                         "no header line (only comments)")
    if not lines[first].strip("\x00 \t\r"):
        # a block of NULs (space a crashed writer preallocated, a disk error): not a header
        raise ParseError(path, "binary content: its first line is only NUL bytes, not a header (a file "
                               "never written past its preallocated space?)")
    if "\x00" in lines[first]:  # no text header holds one (UTF-16 is decoded before this)
        raise ParseError(path, "binary content (NUL bytes in its first line), not a text table: not read")
    sep = guess_sep(lines[first])
    n_fields = lines[first].count(sep) + 1
    # A last line cut short (no newline at the end, fewer fields than the header).
    if not text.endswith("\n") and len(lines) - 1 > first and lines[-1].strip():
        if lines[-1].count(sep) + 1 < n_fields:
            notes.append(ReadNote(src, f"line {len(lines)} is incomplete (truncated file?) and was "
                                       "skipped", "warning"))
            lines[-1] = ""
    header_row, rows, skipped, repeated = _tokenize(lines, sep, n_fields)
    if header_row is None:
        raise ParseError(path, "empty file (no header line)")
    if skipped:
        total = len(skipped) + len(rows)
        if not rows:  # said once, not as rows skipped and then as a header without rows
            raise ParseError(path, f"no data row can be read: the {total} data row(s) have the wrong number of "
                                   "fields or an unclosed quote", line=skipped[0])
        if len(skipped) >= 3 and len(skipped) > MAX_MALFORMED_SHARE * total:
            raise ParseError(path, f"malformed CSV: {len(skipped)} of {total} data rows cannot be read "
                                   f"(wrong number of fields or an unclosed quote; more than "
                                   f"{MAX_MALFORMED_SHARE:.0%}), first at line {skipped[0]}", line=skipped[0])
        shown = ", ".join(str(k) for k in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        notes.append(ReadNote(src, f"{len(skipped)} of {total} data row(s) skipped (wrong number of "
                                   f"fields or an unclosed quote): line{'s' if len(skipped) > 1 else ''} {shown}{more}",
                              "warning"))
    n_fields = len(header_row)
    if repeated:
        notes.append(ReadNote(src, f"the header line is repeated {repeated} time(s) inside the file (a "
                                   "resumed job appending?); those rows skipped", "info"))
    nrows = len(rows)
    cols = list(zip(*rows)) if rows else [()] * n_fields
    return header_row, cols, nrows


def _build_table(src: str, header: list[str], cols: list, nrows: int, notes: list[ReadNote],
                 converted: bool = False, exact: dict[int, dict[int, int]] | None = None) -> Table:
    """Name the columns (duplicates renamed, with a note) and convert the cells: the
    :class:`Table` of :func:`load_table` from any tokenizer.

    ``cols`` holds one sequence of ``nrows`` text cells per header field, or with
    ``converted`` one ``(values float64, missing bool)`` pair of arrays of shape ``(nrows,)``
    (cells already numbers or empty, as :func:`losscheck.readers._numscan.csv_floats` gives them, with ``exact``:
    column index -> {row: exact int} for its integer cells beyond 2**53)."""
    columns: list[str] = []
    seen: dict[str, int] = {}
    for k, name in enumerate(header):
        name = name or f"column {k + 1}"
        if name in seen:
            seen[name] += 1
            new = f"{name}#{seen[name]}"
            notes.append(ReadNote(src, f"duplicate column name {excerpt(name)} (column {k + 1}): read as {excerpt(new)}",
                                  "warning"))
            name = new
        else:
            seen[name] = 1
        columns.append(name)
    if nrows == 0:
        notes.append(ReadNote(src, "header only, no data rows (a run that has not logged yet, or a "
                                   "truncated file)", "warning"))
    values: dict[str, np.ndarray] = {}
    missing: dict[str, np.ndarray] = {}
    exact_in = exact
    by_name: dict[str, dict[int, int]] = {}
    text_only: list[str] = []  # columns of text alone, e.g. "'loss' ('abc' in data row 1)"
    for i, name in enumerate(columns):
        if converted:
            vals, miss = cols[i]
            bad, spelled = np.zeros(nrows, dtype=bool), 0
        else:
            vals, miss, bad, spelled = _convert(cols[i])
        present = int((~miss).sum())
        nbad = int(bad.sum())
        if nrows and present == 0:
            notes.append(ReadNote(src, f"column {excerpt(name)} has no values (every cell empty or missing)", "info",
                                  kind=NOTE_NO_VALUES, tags=(name,)))
            continue
        if nbad * 2 > present:
            if present > nbad:
                notes.append(ReadNote(src, f"column {excerpt(name)}: only {present - nbad} of {present} cell(s) are "
                                           "numbers; read as text, not as a metric", "info"))
            else:
                row = int(np.flatnonzero(bad)[0])
                text_only.append(f"{excerpt(name)} ({excerpt(str(cols[i][row]).strip(), 20)} in data row {row + 1})")
            continue  # text column: not a metric
        if nbad:
            notes.append(ReadNote(src, f"column {excerpt(name)}: {nbad} non-numeric cell(s) treated as "
                                       f"missing (first at data row {int(np.flatnonzero(bad)[0]) + 1})",
                                  "warning"))
            miss = miss | bad
        if spelled:
            notes.append(ReadNote(src, f"column {excerpt(name)}: {spelled} cell(s) written as None/null/NA read as "
                                       "missing (no point)", "info"))
        values[name] = vals
        missing[name] = miss
        ints = (exact_in or {}).get(i) if converted else _exact_ints(vals, cols[i])
        if ints:
            by_name[name] = ints
    if text_only and all(c in STEP_KEYS for c in values):  # nothing numeric but steps: say why
        notes.append(ReadNote(src, f"no numeric metric column; text instead of numbers in column(s) "
                                   f"{', '.join(text_only[:5])}", "warning"))
    return Table(columns, values, missing, nrows, notes, by_name)


def wall_seconds(table: Table) -> tuple[str | None, np.ndarray | None]:
    """A wall-clock column converted to seconds since the Unix epoch, if one looks like it
    (values above 1e8; above 1e11 they are taken as milliseconds). ``(name, array)``."""
    for name in WALL_COLUMNS:
        c = table.find(name, case=True)
        if c is None:
            continue
        v = table.values[c]
        fin = v[np.isfinite(v)]
        if fin.size and np.nanmin(fin) > 1e8:
            return c, (v / 1000.0 if np.nanmin(fin) > 1e11 else v)
    return None, None


def table_series(table: Table, source: str, step_col: str | None, skip: set[str],
                 step_unit: str = "step", wall: np.ndarray | None = None,
                 rename: dict[str, str] | None = None) -> tuple[list[Series], list[ReadNote]]:
    """One series per numeric column not in ``skip`` (and not ``step_col``).

    Each series takes only the rows where its cell is present (sparse columns, e.g.
    Lightning's step vs epoch rows), indexed by ``step_col`` (row index from 0 when
    ``None``), normalised with :func:`losscheck.series.normalize`.

    Args:
        wall: optional wall-time array, shape ``(nrows,)``, seconds.
        rename: column -> tag.
    Returns ``(series, notes)``.
    """
    if step_col is None:
        steps = np.arange(table.nrows, dtype=np.float64)
    else:
        steps = table.steps(step_col)  # exact integers beyond 2**53 too
    out: list[Series] = []
    notes: list[ReadNote] = []
    for name in table.columns:
        if name == step_col or name in skip or name not in table.values:
            continue
        keep = ~table.missing[name]
        if not keep.any():
            continue
        tag = (rename or {}).get(name, name)
        s, n = normalize(tag, steps[keep], table.values[name][keep], source,
                         None if wall is None else wall[keep], step_unit)
        notes.extend(n)
        if len(s):
            out.append(s)
    return out, notes


def integral(arr: np.ndarray) -> bool:
    """Whether every finite entry of ``arr`` (shape ``(n,)``) is a whole number."""
    fin = arr[np.isfinite(arr)]
    return bool(np.all(fin == np.round(fin)))

"""Shared CSV loading for the CSV-family readers (pandas C engine).

Cells are read as text and converted here, because pandas' default NA list conflates two
things losscheck must keep apart: a *missing* cell (``""``, ``None``, ``null``: no point)
and a *non-finite value* (``nan``, ``inf``, ``-Infinity``: a point that the analysis counts).
See :data:`losscheck.readers._common.MISSING_TOKENS` and ``NAN_TOKENS``/``INF_TOKENS``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from losscheck.errors import ParseError
from losscheck.model import ReadNote, Series
from losscheck.readers._common import (INF_TOKENS, MISSING_TOKENS, NAN_TOKENS, decode_text,
                                       first_lines, read_bytes)
from losscheck.series import normalize

#: Column names holding wall-clock time (seconds or milliseconds since the Unix epoch).
WALL_COLUMNS = ("wall_time", "Wall time", "walltime", "_timestamp", "timestamp")

_LINE_RE = re.compile(r"line (\d+)")
_MAX_BAD_LINES = 1000


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
    """

    columns: list[str]
    values: dict[str, np.ndarray]
    missing: dict[str, np.ndarray]
    nrows: int
    notes: list[ReadNote] = field(default_factory=list)

    def find(self, *names: str, case: bool = False) -> str | None:
        """The first column among ``names`` present among numeric columns (case-insensitive
        unless ``case``), or ``None``."""
        for want in names:
            for c in self.columns:
                if c in self.values and (c == want if case else c.lower() == want.lower()):
                    return c
        return None


def guess_sep(header: str) -> str:
    """The delimiter of a header line: the most frequent of ``,``, tab and ``;`` (``,`` on ties)."""
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda s: (counts[s], s == ","))
    return best if counts[best] else ","


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


def _convert(col: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Text cells -> ``(values float64, missing bool, bad bool)`` arrays of shape ``(n,)``."""
    st = col.astype(str).str.strip()
    low = st.str.lower()
    missing = low.isin(MISSING_TOKENS).to_numpy(dtype=bool)
    nan_tok = low.isin(NAN_TOKENS).to_numpy(dtype=bool)
    inf_tok = low.isin(INF_TOKENS.keys()).to_numpy(dtype=bool)
    plain = st.mask(missing | nan_tok | inf_tok, "nan")
    vals = np.array(pd.to_numeric(plain, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    if inf_tok.any():
        vals[inf_tok] = [INF_TOKENS[t] for t in low[inf_tok]]
    bad = np.isnan(vals) & ~missing & ~nan_tok
    vals[missing] = np.nan
    return vals, missing, bad


def load_table(path: Path) -> Table:
    """Read a delimited text file into a :class:`Table`.

    Handles a UTF-8 BOM, CRLF line ends, space-padded header names, a truncated last line
    (dropped with a warning), and malformed rows mid-file (skipped with a warning naming
    the line). Columns where most non-missing cells are not numbers are left out; a few
    stray non-numeric cells in a numeric column become missing (with a note).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the file is empty, or too many rows are malformed.
    """
    src = str(path)
    text, notes = decode_text(read_bytes(path), path)
    lines = text.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise ParseError(path, "empty file (no header line)")
    sep = guess_sep(lines[first])
    n_fields = lines[first].count(sep) + 1
    # A last line cut short (no newline at the end, fewer fields than the header).
    if not text.endswith("\n") and len(lines) - 1 > first and lines[-1].strip():
        if lines[-1].count(sep) + 1 < n_fields:
            notes.append(ReadNote(src, f"line {len(lines)} is incomplete (truncated file?) and was "
                                       "skipped", "warning"))
            lines[-1] = ""
    skipped: list[int] = []
    while True:
        try:
            df = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, dtype=str, engine="c",
                             keep_default_na=False, na_filter=False, skip_blank_lines=True)
            break
        except pd.errors.EmptyDataError:
            raise ParseError(path, "empty file (no header line)") from None
        except pd.errors.ParserError as exc:
            m = _LINE_RE.search(str(exc))
            if not m or len(skipped) >= _MAX_BAD_LINES:
                msg = " ".join(str(exc).split())
                raise ParseError(path, f"malformed CSV: {msg}",
                                 line=int(m.group(1)) if m else None) from None
            ln = int(m.group(1))
            if ln - 1 >= len(lines) or not lines[ln - 1]:
                raise ParseError(path, "malformed CSV", line=ln) from None
            skipped.append(ln)
            lines[ln - 1] = ""
    if skipped:
        more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        notes.append(ReadNote(src, f"{len(skipped)} malformed row(s) skipped (wrong number of fields): "
                                   f"line {skipped[0]}{more}", "warning"))
    columns = [str(c).strip().strip('"').strip() for c in df.columns]
    df.columns = columns
    values: dict[str, np.ndarray] = {}
    missing: dict[str, np.ndarray] = {}
    for i, name in enumerate(columns):
        if name in values:
            continue  # a repeated header name: pandas renamed the copy; keep the first
        vals, miss, bad = _convert(df.iloc[:, i])
        present = int((~miss).sum())
        nbad = int(bad.sum())
        if present == 0 or nbad * 2 > present:
            continue  # text column (or empty): not a metric
        if nbad:
            notes.append(ReadNote(src, f"column {name!r}: {nbad} non-numeric cell(s) treated as "
                                       f"missing (first at data row {int(np.flatnonzero(bad)[0]) + 1})",
                                  "warning"))
            miss = miss | bad
        values[name] = vals
        missing[name] = miss
    return Table(columns, values, missing, int(len(df)), notes)


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
        steps = table.values[step_col]
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

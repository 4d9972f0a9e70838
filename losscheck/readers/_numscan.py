"""Byte scanners shared by the CSV and JSON-lines readers: a whole file of numbers turned
into ``float64`` columns by pandas' C parser, without a Python step per line or per cell.

Each scanner is a fast path of the form ``fast(data) -> columns | None``: it returns exactly
what the reference (per-line) path of its reader would build, or ``None`` when the file is
anything it cannot prove it reads the same way, and the caller then takes the reference path
(with its notes). The references sit beside their callers, and each pair has an equivalence
test:

============================  ==========================================  ====================================
scanner                       reference                                   test
============================  ==========================================  ====================================
:func:`csv_floats`            ``_tabular.cells_reference``                ``tests/readers/test_readers.py``
:func:`jsonl_columns`         ``_jsonl.load_json_lines`` + ``collect``    ``tests/readers/test_jsonl_fast.py``
============================  ==========================================  ====================================

Both go through :func:`pandas_float_columns`, whose conversion is correctly rounded (equal bit
for bit to :func:`float`: :func:`float_options`); integers beyond 2**53, which a double may
round, are looked up exactly (CSV) or make the scanner decline (JSON-lines steps).
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings

import numpy as np

from losscheck.readers._common import MAX_LINE_BYTES, STEP_KEYS, beyond_exact, strip_bom


#: A table file shorter than this (bytes) stays on the per-line path even once pandas is
#: loaded: a ``read_csv`` call costs ~1 ms of set-up, about what the per-line path takes for
#: ~300 rows (~15 KB of ``step,loss,lr`` JSON lines, ~6 KB of CSV; measured with the generator
#: of ``benchmarks/speed.py`` on the 2-core VM, 2026-12-06).
SMALL_MAX_BYTES = 16_384


class ColumnarBudget:
    """When a table file is worth pandas' C parser, in a process that may read many of them.

    The per-line paths need no import; the C paths need pandas, whose import costs what the
    per-line path spends on a few MB of text. A file at least ``alone`` bytes long (the
    reader's threshold: :data:`losscheck.readers._tabular.PANDAS_MIN_CHARS`,
    :data:`losscheck.readers._jsonl.COLUMNS_MIN_BYTES`) pays for the import on its own. A
    sweep of 25,000-row files (0.5-1.2 MB each) never reaches it, and would read every file
    ~8x slower than pandas. So, as in the ski-rental problem (rent until the rent paid equals
    the price, then buy: never more than twice the cost of the best choice made knowing the
    future; Karlin, Manasse, Rudolph & Sleator, "Competitive snoopy caching", Algorithmica 3,
    1988), this process counts the bytes it read per line, and a file of at least
    :data:`SMALL_MAX_BYTES` takes the C path once that count plus its own size reach
    ``alone``, or at once when pandas is already imported. A diagnosis of one small run thus
    never imports pandas (start-up), and a sweep's worker buys it after a few MB.

    Only the cost is decided here: each C path returns exactly what its per-line reference
    builds, or declines (tests compare them), so no result depends on this state.
    """

    def __init__(self) -> None:
        #: bytes of table files (each >= SMALL_MAX_BYTES) this process read per line
        self.per_line_bytes = 0
        #: table files sent to a C path
        self.columnar_files = 0

    def columnar(self, nbytes: int, alone: int) -> bool:
        """Whether a table file of ``nbytes`` bytes should try the C (pandas) path; when not,
        the caller reads it per line and its bytes are counted here."""
        import sys

        if nbytes >= alone or (nbytes >= SMALL_MAX_BYTES and (
                "pandas" in sys.modules or self.per_line_bytes + nbytes >= alone)):
            self.columnar_files += 1
            return True
        if nbytes >= SMALL_MAX_BYTES:
            self.per_line_bytes += nbytes
        return False


#: This process's budget (each worker process has its own).
BUDGET = ColumnarBudget()


def guess_sep(header: str) -> str:
    """The delimiter of a header line: the most frequent of ``,``, tab and ``;`` (``,`` on ties)."""
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda s: (counts[s], s == ","))
    return best if counts[best] else ","


# --------------------------------------------------------------------------- CSV

# Bytes that may not start a line on the float path: whitespace (str.strip's ASCII set, which
# includes \x1c-\x1f), '#' and '/' (comments); a superset of what _NEEDS_PYTHON matches.
_BAD_LINE_START = np.zeros(256, dtype=bool)
_BAD_LINE_START[list(b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f#/")] = True

# NaN spellings that float() accepts (any case, optional sign): pandas reads them as NA values.
_NAN_SPELLINGS = sorted({sign + "".join(c.upper() if m >> i & 1 else c for i, c in enumerate("nan"))
                         for sign in ("", "+", "-") for m in range(8)})
_NAN_TEXT = re.compile(rb"[nN][aA][nN]")

#: At most this many NaN cells are told apart (empty or a spelled NaN) one by one in Python;
#: beyond, a file that has both goes to the text path.
_MAX_NAN_CELLS = 200_000

def float_options(pd) -> dict:
    """``read_csv`` options that make pandas' float conversion correctly rounded (equal to
    :func:`float`): none from pandas 3.1 (fast_float for every mode; the option is deprecated),
    ``float_precision="round_trip"`` (Python's own ``PyOS_string_to_double``) before."""
    try:
        version = tuple(int(x) for x in pd.__version__.split(".")[:2])
    except ValueError:
        version = (0, 0)
    return {} if version >= (3, 1) else {"float_precision": "round_trip"}


def pandas_float_columns(data: bytes, sep: str, ncols: int, na_values: list[str], skiprows: int = 0
                         ) -> list[np.ndarray] | None:
    """The ``ncols`` columns of delimited text ``data`` (no header after ``skiprows`` lines,
    no quoting), parsed by pandas' C reader straight to ``float64`` arrays of shape
    ``(nrows,)`` (correctly rounded: :func:`float_options`); cells equal to one of
    ``na_values`` are NaN. ``None`` on any pandas error or warning (a cell that is not a
    number, a row of another width...): the caller's next path decides."""
    try:
        import pandas as pd  # lazy: start-up time

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            df = pd.read_csv(io.BytesIO(data), sep=sep, header=None, skiprows=skiprows,
                             names=list(range(ncols)), index_col=False, dtype=np.float64,
                             na_filter=True, na_values=na_values, keep_default_na=False,
                             skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c",
                             **float_options(pd))
        if df.shape[1] != ncols:
            return None
        return [df[k].to_numpy(dtype=np.float64) for k in range(ncols)]
    except Exception:  # noqa: BLE001 - any pandas failure: the next path decides
        return None


def csv_floats(data: bytes) -> tuple[list[str], list[tuple[np.ndarray, np.ndarray]], dict] | None:
    """``(header_row, [(values, missing)] per column, exact)`` of a clean ASCII file, parsed
    by pandas straight to ``float64``, or ``None`` when the file needs another path
    (``exact``: :attr:`losscheck.readers._tabular.Table.exact`, the integer cells beyond 2**53 read exactly).

    ``data`` is the raw file content (a UTF-8 BOM allowed). ``values`` are ``float64`` arrays of
    shape ``(nrows,)``, equal bit for bit to :func:`float` of each stripped cell; ``missing`` is
    a ``bool`` array of the same shape, True for empty cells (and cells of short rows, which
    the Python path pads with empty cells). Clean, beyond :func:`losscheck.readers._tabular.cells_fast`' rules: ASCII
    only (bytes are then the decoded text), no line starting with whitespace, ``#`` or ``/``,
    no ``(`` (``nan(ind)``), and every cell a number or empty: one spelled-out missing cell or
    word makes pandas fail, and the caller goes on to the text path.

    pandas reads empty cells and NaN spellings (``nan``, ``-NaN``...) alike as NaN; when the
    file spells NaN somewhere, each NaN cell (at most :data:`_MAX_NAN_CELLS`, else ``None``)
    is looked up in its line to tell a missing cell from a NaN value (``-nan`` keeps its sign,
    as :func:`float` gives it).
    """
    data = strip_bom(data)
    if not data.isascii() or not data.endswith(b"\n") or b'"' in data or b"\x00" in data or b"(" in data:
        return None
    if data.count(b"\r") != data.count(b"\r\n"):
        return None
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    if _BAD_LINE_START[arr[0]] or _BAD_LINE_START[arr[nl[:-1] + 1]].any():
        return None
    del arr
    end = int(nl[0])
    first = data[:end].decode("ascii").rstrip("\r")
    sep = guess_sep(first)
    header = [f.strip() for f in first.split(sep)]
    if not header[0] or data.find(header[0].encode("ascii"), end) != -1:
        return None
    cols = pandas_float_columns(data, sep, len(header), [""] + _NAN_SPELLINGS, skiprows=1)
    if cols is None or not len(cols[0]) or len(cols[0]) != len(nl) - 1:
        return None
    exact = _exact_cells(cols, data, nl, sep) if _big_integer_cells(cols, data) else {}
    nans = [np.isnan(v) for v in cols]
    if not any(m.any() for m in nans) or _NAN_TEXT.search(data, end) is None:
        return header, list(zip(cols, nans)), exact  # every NaN is an empty cell
    if sum(int(m.sum()) for m in nans) > _MAX_NAN_CELLS:
        return None
    bsep = sep.encode("ascii")
    out = []
    for k, (vals, miss) in enumerate(zip(cols, nans)):
        rows = np.flatnonzero(miss).tolist()
        if rows and not vals.flags.writeable:  # a read-only view (pandas copy-on-write)
            vals = vals.copy()
        for r in rows:
            fields = data[nl[r] + 1:nl[r + 1]].rstrip(b"\r").split(bsep)
            cell = fields[k].strip() if k < len(fields) else b""
            if cell:  # a NaN spelling: a value, not a missing cell
                miss[r] = False
                vals[r] = float(cell)
        out.append((vals, miss))
    return header, out, exact


# A whole cell that is an integer of 16 digits or more (beyond 2**53 a double may round it).
_BIG_INT_CELL = re.compile(rb"(?:^|[,;\t\n])[ \t]*[-+]?[0-9]{16,}[ \t]*(?=[,;\t\r\n])")


def _big_integer_cells(cols: list[np.ndarray], data: bytes) -> bool:
    """Whether ``data`` has a cell that is an integer a double may round, looked for only when
    a column (``float64`` arrays of shape ``(nrows,)``) holds a finite magnitude of 2**53 or
    more: the common file costs one pass per column."""
    if all(beyond_exact(c) is None for c in cols):
        return False
    return _BIG_INT_CELL.search(data) is not None


def _exact_cells(cols: list[np.ndarray], data: bytes, nl: np.ndarray, sep: str) -> dict[str, dict[int, int]]:
    """:attr:`losscheck.readers._tabular.Table.exact` (by column index) of a file read by :func:`csv_floats`:
    ``cols`` its ``float64`` columns, ``data`` its bytes, ``nl`` the positions of its line
    breaks (the header's first), ``sep`` the delimiter. Each cell of 2**53 or more is looked
    up in its line (one Python step per such cell)."""
    bsep = sep.encode("ascii")
    out: dict = {}
    for k, vals in enumerate(cols):
        big = beyond_exact(vals)
        ints: dict[int, int] = {}
        for r in [] if big is None else big.tolist():
            fields = data[nl[r] + 1:nl[r + 1]].rstrip(b"\r").split(bsep)
            try:
                ints[r] = int(fields[k].strip())
            except (ValueError, IndexError):
                continue
        if ints:
            out[k] = ints
    return out


# --------------------------------------------------------------------------- JSON lines

_JSON_WS = " \t"
# Bytes that split lines for str.splitlines() besides "\n" (the per-line path's notion of a
# line), or that str.strip() strips and JSON does not: a file holding any is not a template.
_LINE_BREAKS = (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f")
# Marker bytes standing for the template's literals: control bytes other than tab/newline
# (which are not in a file that passes the checks above plus "no control byte").
_MARKERS = bytes([*range(1, 9), *range(14, 28)])
_CONSTANTS = {b"NaN": "nan", b"Infinity": "inf", b"-Infinity": "-inf"}
_LETTERS = b"NaIfinty"  # of NaN, Infinity
_CELL_BYTES = b"0123456789.eE+-" + _LETTERS
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[list(b"0123456789")] = True
_LETTER = np.zeros(256, dtype=bool)
_LETTER[list(_LETTERS)] = True


def _template(line: str) -> tuple[list[str], list[str]] | None:
    """``(keys, literals)`` of a JSON object line whose values are all numbers (or ``NaN``,
    ``Infinity``, ``-Infinity``), or ``None``. ``literals`` has ``len(keys) + 1`` entries,
    the text around the values: ``line == literals[0] + v0 + literals[1] + ... + literals[-1]``.
    Keys must be distinct (a repeated key would make the last value win)."""
    dec = json.JSONDecoder()
    n = len(line)

    def ws(i: int) -> int:
        while i < n and line[i] in _JSON_WS:
            i += 1
        return i

    i = ws(0)
    if i >= n or line[i] != "{":
        return None
    i += 1
    keys: list[str] = []
    literals: list[str] = []
    start = 0
    while True:
        i = ws(i)
        if i >= n or line[i] != '"':
            return None
        key, i = json.decoder.scanstring(line, i + 1)  # type: ignore[attr-defined]
        i = ws(i)
        if i >= n or line[i] != ":":
            return None
        i = ws(i + 1)
        value, end = dec.raw_decode(line, i)
        if type(value) not in (int, float):
            return None
        keys.append(key)
        literals.append(line[start:i])
        start = i = end
        i = ws(i)
        if i < n and line[i] == ",":
            i += 1
            continue
        if i < n and line[i] == "}":
            i = ws(i + 1)
            break
        return None
    if i != n or len(set(keys)) != len(keys):
        return None
    literals.append(line[start:])
    return keys, literals


def jsonl_columns(data: bytes | list[bytes]) -> tuple[list[str], list[np.ndarray]] | None:
    """The JSON-lines file ``data`` as columns, when every line is the first line's object
    with other numbers: ``(keys, values)``, ``values[i]`` a ``float64`` array of shape
    ``(nlines,)`` holding what ``json_number(json.loads(line)[keys[i]])`` gives on each line.
    ``None`` when the file is anything else (another key set or order, other spacing, text,
    ``null``, nested objects, blank or comment lines, a last line without a newline, CR line
    ends, non-ASCII bytes, a first line longer than
    :data:`~losscheck.readers._common.MAX_LINE_BYTES`, a step-like column beyond 2**53 that
    doubles would round): the per-line paths then read it, with their notes.

    How: the first line gives the text around its values (:func:`_template`); each of those
    literals is replaced by its own marker byte throughout (the end of one line and the start
    of the next are one literal), which maps back to the file one to one. The file is the
    template repeated iff the markers then come in the template's order and every cell
    between them is one JSON number token (``-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?``:
    :func:`_number_cells_valid` and pandas' converter) or exactly ``NaN``, ``Infinity`` or
    ``-Infinity``. JSON grammar being context-free, each line then parses to the first line's
    keys with these numbers. The cells are converted by pandas' correctly rounded C parser
    (as :func:`float` would; an integer token ``-0`` gives ``0.0``, as ``float(int)`` does).

    ``data`` may be a one-element list holding the bytes: they are taken out of it, so that
    when the caller keeps no other reference they are freed once the template is applied.
    """
    if isinstance(data, list):  # handed over: nobody else holds the bytes, so they can be
        data = data.pop()       # freed before the columns are built
    data = strip_bom(data)
    if not data.endswith(b"\n") or not data.isascii() or any(b in data for b in _LINE_BREAKS):
        return None
    end = data.index(b"\n")
    if end > MAX_LINE_BYTES:
        return None  # the per-line path skips that line unparsed
    try:
        tpl = _template(data[:end].decode("ascii"))
    except (ValueError, RecursionError):  # not JSON (JSONDecodeError is a ValueError)
        return None
    if tpl is None:
        return None
    keys, literals = tpl
    lits = [x.encode("ascii") for x in literals]
    ncols = len(keys)
    if ncols > len(_MARKERS) or not data.startswith(lits[0]) or not data.endswith(lits[-1] + b"\n"):
        return None
    if any(data.find(_MARKERS[m:m + 1]) != -1 for m in range(ncols)):
        return None
    # the line break with the literals around it first, then the literals inside a line (none
    # can overlap the file's first or last literal, which are cut off afterwards: a literal
    # inside a line holds a ',' outside a string, the first and last do not)
    body = data.replace(lits[-1] + b"\n" + lits[0], _MARKERS[ncols - 1:ncols])
    del data
    for k in range(1, ncols):
        body = body.replace(lits[k], _MARKERS[k - 1:k])
    if not body.startswith(lits[0]) or not body.endswith(lits[-1] + b"\n"):
        return None
    body = body[len(lits[0]):len(body) - len(lits[-1]) - 1]
    if not body:
        return None
    arr = np.frombuffer(body, dtype=np.uint8)
    is_marker = arr < 32
    mpos = np.flatnonzero(is_marker)
    if len(arr) < 2 ** 31:
        mpos = mpos.astype(np.int32)  # half the memory of the three position arrays
    if (len(mpos) + 1) % ncols:
        return None
    nrows = (len(mpos) + 1) // ncols
    expect = np.frombuffer(_MARKERS[:ncols], dtype=np.uint8)
    if not np.array_equal(arr[mpos], np.tile(expect, nrows)[:-1]):
        return None  # a literal out of place: another key order, a repeated key...
    del is_marker
    if body.translate(None, _CELL_BYTES + _MARKERS[:ncols]):
        return None  # a byte that is neither a marker nor in a number token
    starts = np.concatenate((np.zeros(1, dtype=mpos.dtype), mpos + 1))
    ends = np.concatenate((mpos, np.array([len(arr)], dtype=mpos.dtype)))
    if (ends <= starts).any():
        return None  # an empty cell
    # NaN / Infinity / -Infinity: the cells holding a letter must be exactly these
    special = np.zeros(0, dtype=np.int64)
    if any(body.find(_LETTERS[i:i + 1]) != -1 for i in range(len(_LETTERS))):
        special = np.unique(np.searchsorted(mpos, np.flatnonzero(_LETTER[arr])))
    for c in special.tolist():
        if body[starts[c]:ends[c]] not in _CONSTANTS:
            return None
    if not _number_cells_valid(arr, starts, ends, special):
        return None
    # an integer token -0 is the int 0 for json, +0.0 as a float; pandas gives -0.0
    short = np.flatnonzero(ends - starts == 2)
    neg_zero = short[(arr[starts[short]] == 45) & (arr[starts[short] + 1] == 48)].tolist()
    del arr, mpos, starts, ends, short
    table = bytes.maketrans(_MARKERS[:ncols], b"," * (ncols - 1) + b"\n")
    text = body.translate(table) + b"\n"
    del body
    cols = pandas_float_columns(text, ",", ncols, ["NaN"])
    if cols is None or len(cols[0]) != nrows:
        return None
    del text
    if _big_steps(keys, cols):
        return None  # doubles would round them: the per-line path keeps integer steps exact
    for c in neg_zero:
        r, k = divmod(c, ncols)
        if not cols[k].flags.writeable:
            cols[k] = cols[k].copy()
        cols[k][r] = 0.0
    return keys, cols


def _big_steps(keys: list[str], cols: list[np.ndarray]) -> bool:
    """Whether a step-like column (a key of :data:`~losscheck.readers._common.STEP_KEYS`;
    ``cols`` ``float64`` arrays of shape ``(nrows,)``) holds a finite magnitude of 2**53 or
    more, which a double may have rounded."""
    return any(beyond_exact(c) is not None for k, c in zip(keys, cols) if k in STEP_KEYS)


def _number_cells_valid(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        special: np.ndarray) -> bool:
    """Whether no cell of ``arr`` (bytes ``[starts[c], ends[c])``, shape ``(ncells,)``) other
    than those in ``special`` (already checked constants) breaks a JSON-only rule of the number
    grammar, given that each holds only ``0-9 . e E + -``: a digit, or ``-`` then a digit,
    first; no leading zero before another digit; a digit after each ``.``.

    pandas' converter, which refuses any cell it cannot read whole, enforces the rest
    (one dot, one exponent with digits, signs in place): these are the forms it reads and
    JSON does not (``+1``, ``.5``, ``-.5``, ``5.``, ``1.e5``, ``01``).
    """
    n = len(arr)
    s = starts
    if len(special):
        numeric = np.ones(len(starts), dtype=bool)
        numeric[special] = False
        s = starts[numeric]
        ends = ends[numeric]
    d0 = s + (arr[s] == 45)
    if (d0 >= ends).any() or not _DIGIT[arr[d0]].all():
        return False
    nxt = d0[arr[d0] == 48] + 1
    if _DIGIT[arr[nxt[nxt < n]]].any():
        return False
    dots = np.flatnonzero(arr == 46)
    return not (len(dots) and (dots[-1] == n - 1 or not _DIGIT[arr[dots + 1]].all()))

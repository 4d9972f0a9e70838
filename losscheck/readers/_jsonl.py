"""Shared JSON-lines parsing for the JSONL-family readers.

Fast paths and their references, side by side (each pair compared in
``tests/readers/test_jsonl_fast.py``); a fast path returns what its reference would, or ``None``
when it cannot be sure, and the caller then takes the reference:

===========================  ===============================  ==================================
fast                         reference                        used by
===========================  ===============================  ==================================
:func:`lines_fast`           :func:`lines_reference`          :func:`load_json_lines`
:func:`collect_fast`         :func:`collect_reference`        :func:`collect` (never declines)
:func:`flatten_fast`         :func:`flatten_reference`        :func:`flatten`
===========================  ===============================  ==================================

The whole-file column scanner is :func:`losscheck.readers._numscan.jsonl_columns`.

Python's :mod:`json` accepts the bare ``NaN``, ``Infinity`` and ``-Infinity`` tokens that
Python writers (``json.dumps`` default) emit, so they parse to float NaN/Inf here.
"""

from __future__ import annotations

import functools
import gc
import json
import math
import operator
import re
from pathlib import Path
from typing import Any, Callable, Iterable


from losscheck.errors import ParseError, excerpt
from losscheck.model import NOTE_NO_VALUES, ReadNote, Series
from losscheck.readers._common import (Collector, decode_text, drop_long_lines, first_lines, json_number, parse_cell,
                                       read_data)


def gc_paused(fn: Callable) -> Callable:
    """Run ``fn`` with the cyclic garbage collector paused (restored afterwards).

    Reading a large JSON-lines file allocates millions of acyclic dicts, tuples and lists;
    the collector's repeated passes over them cost ~30% of the read and free nothing."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()
    return wrapper


def load_json_lines(path: Path, data: bytes | None = None, notes: list[ReadNote] | None = None
                    ) -> tuple[list[tuple[int, dict]], list[ReadNote]]:
    """Every JSON object line of ``path`` as ``(line_number, dict)`` (1-based), plus notes.

    Blank lines are skipped silently; ``#`` and ``//`` comment lines are skipped with an info
    note. A line that is not a JSON object is skipped with a warning naming its line number
    (so is a line nested too deeply for the parser: one such line never rejects the file);
    the last line being cut (a run still writing) is reported as such. A line longer than
    :data:`~losscheck.readers._common.MAX_LINE_BYTES` is skipped unparsed, with a warning
    counting such lines (:func:`~losscheck.readers._common.drop_long_lines`).

    ``data`` and ``notes``: the file's content and notes from
    :func:`~losscheck.readers._common.read_data` when the caller has read it already.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no line holds a JSON object (except a file of one cut line, which gives
            no records and a warning).
    """
    src = str(path)
    if data is None:
        data, notes = read_data(path)
    notes = list(notes or [])
    data, long_notes = drop_long_lines(data, path)
    text, more = decode_text(data, path)
    notes += long_notes + more
    del data
    fast = lines_fast(text)
    if fast is not None:
        records, comments = fast
        if comments:
            notes.append(ReadNote(src, f"{comments} comment line(s) skipped", "info"))
        return records, notes
    return lines_reference(path, text, notes)


# A top-level separator between two objects on one line: `}` `,` `{` (JSON whitespace
# inside a line is only space or tab). Its absence proves that the objects of the joined
# array are exactly the lines (see lines_fast).
_STR_ONLY = frozenset({str})
_INLINE_SEP = re.compile(r"\}[ \t]*,[ \t]*\{")


def lines_fast(text: str) -> tuple[list[tuple[int, dict]], int] | None:
    """``(records, comment_count)`` when every non-blank, non-comment line is one JSON
    object, parsed with a single ``json.loads`` of the lines joined into an array; ``None``
    (use :func:`lines_reference`) otherwise.

    Exactness: strings cannot span lines (the join inserts a newline, which strict JSON
    forbids inside strings). With N lines joined by N-1 commas into an array of N dicts,
    the array has N-1 top-level separators; a separator inside a line would need `}`,
    `,`, `{` with only spaces/tabs between, which ``_INLINE_SEP`` rules out, so every
    joining comma is a separator and each element is exactly one (stripped) line, parsed
    as ``json.loads(line)`` would parse it alone.
    """
    if _INLINE_SEP.search(text) is not None:
        return None
    lines = text.splitlines()
    parts = list(map(str.strip, lines))
    comments = 0
    if "" not in parts and "#" not in text and "//" not in text:
        numbers: Iterable[int] = range(1, len(parts) + 1)  # no blank or comment line
    else:
        numbers = []
        kept: list[str] = []
        for i, s in enumerate(parts, 1):
            if not s:
                continue
            if s.startswith(("#", "//")):
                comments += 1
                continue
            numbers.append(i)
            kept.append(s)
        parts = kept
    del lines
    if not parts:
        return None
    try:
        objs = json.loads("[" + ",\n".join(parts) + "]")
    except (ValueError, RecursionError):
        return None
    if len(objs) != len(parts):
        return None
    for o in objs:
        if type(o) is not dict:
            return None
    return list(zip(numbers, objs)), comments


def lines_reference(path: Path, text: str, notes: list[ReadNote]
                    ) -> tuple[list[tuple[int, dict]], list[ReadNote]]:
    """The per-line reference of :func:`load_json_lines` (after decoding): ``text`` the
    file's text, ``notes`` those so far (extended and returned)."""
    src = str(path)
    records: list[tuple[int, dict]] = []
    bad: list[int] = []
    last_line = 0
    comments = 0
    loads = json.loads
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith(("#", "//")):
            comments += 1
            continue
        last_line = i
        try:
            obj = loads(s)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            bad.append(i)
            continue
        if isinstance(obj, dict):
            records.append((i, obj))
        else:
            bad.append(i)
    if comments:
        notes.append(ReadNote(src, f"{comments} comment line(s) skipped", "info"))
    if not records:
        if len(bad) == 1 and bad == [last_line]:
            # a single cut line: a run that has only started writing
            return [], notes + [ReadNote(src, "the only line is incomplete or not JSON (a run still "
                                              "writing?); nothing to read", "warning")]
        if bad:
            raise ParseError(path, "no line holds a JSON object", line=bad[0])
        return [], notes + [ReadNote(src, "empty file: no JSON lines", "warning")]
    if bad and bad[-1] == last_line:
        notes.append(ReadNote(src, f"last line ({last_line}) is incomplete or not JSON (a run still "
                                   "writing?); skipped", "warning"))
        bad = bad[:-1]
    if bad:
        shown = ", ".join(str(b) for b in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        notes.append(ReadNote(src, f"{len(bad)} line(s) that are not JSON objects were skipped: "
                                   f"line {shown}", "warning"))
    return records, notes


def flatten(obj: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts joined with ``/`` (``{"train": {"loss": 1}}`` -> ``{"train/loss": 1}``).

    Keys come in depth-first order (a nested dict's keys where the dict was). Iterative, so
    any depth is flattened without recursion (a line nested thousands of levels deep is a
    long key, never a ``RecursionError``)."""
    if not prefix:
        flat = flatten_fast(obj)
        if flat is not None:
            return flat
    return flatten_reference(obj, prefix)


def flatten_fast(obj: dict) -> dict[str, Any] | None:
    """A copy of ``obj`` when it is flat with string keys (nothing to rename), else ``None``."""
    if set(map(type, obj)) <= _STR_ONLY and not any(issubclass(t, dict) for t in set(map(type, obj.values()))):
        return dict(obj)
    return None


def flatten_reference(obj: dict, prefix: str = "") -> dict[str, Any]:
    """The reference of :func:`flatten`: every key walked, nested dicts joined with ``/``."""
    out: dict[str, Any] = {}
    stack = [(prefix, iter(obj.items()))]
    while stack:
        pre, items = stack[-1]
        for k, v in items:
            key = f"{pre}{k}"
            if isinstance(v, dict):
                stack.append((key + "/", iter(v.items())))
                break
            out[key] = v
        else:
            stack.pop()
    return out


def flatten_records(records: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """``[(line, flatten(obj))]`` for records from :func:`load_json_lines` (plain dicts with
    string keys); a record without nested objects is passed on as it is, not copied."""
    return [(ln, r) if dict not in map(type, r.values()) else (ln, flatten(r)) for ln, r in records]


def number_or_numeric_string(value: Any) -> float | None:
    """Like :func:`json_number`, but also accepts strings holding a number (``"0.00"``) or a
    NaN/Inf spelling (``"nan"``, ``"-Infinity"``: writers that cannot put NaN in JSON).
    ``None`` for null, ``"None"``/``"null"`` strings, booleans and other text."""
    x = json_number(value)
    if x is not None or not isinstance(value, str):
        return x
    try:
        return parse_cell(value)
    except ValueError:
        return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def collect(records: Iterable[tuple[int, dict]], src: str, step_of: Callable[[dict], float | None],
            keep: Callable[[str], bool], step_unit: str = "step",
            wall_of: Callable[[dict], float | None] | None = None,
            value_of: Callable[[Any], float | None] = number_or_numeric_string
            ) -> tuple[list[Series], list[ReadNote]]:
    """Turn JSON records into normalised series.

    Args:
        records: ``(line, dict)`` pairs in file order (dicts already flattened if wanted).
        step_of: the step of a record, or ``None`` when it has none (record skipped).
        keep: whether a key is a metric.
        wall_of: optional wall time of a record, seconds since the Unix epoch.
        value_of: converts a JSON value to a float, ``None`` = missing (null, text...).
    Returns ``(series, notes)``. Nothing is dropped silently: records without a step, values
    of a numeric key that are not numbers (mixed types), and keys that hold no number at all
    although their name says loss are reported in notes.
    """
    if value_of in (number_or_numeric_string, json_number):
        return collect_fast(records, src, step_of, keep, step_unit, wall_of, value_of)
    return collect_reference(records, src, step_of, keep, step_unit, wall_of, value_of)


def collect_reference(records, src, step_of, keep, step_unit="step", wall_of=None,
                      value_of=number_or_numeric_string):
    """The per-record reference implementation of :func:`collect`."""
    col = Collector()
    no_step = 0
    first_no_step = None
    # key -> [count of non-numeric non-null values, first line, kinds seen]
    odd: dict[str, list] = {}
    seen_numeric: set[str] = set()
    seen_null: set[str] = set()
    for line, rec in records:
        step = step_of(rec)
        if step is None or not math.isfinite(step):
            no_step += 1
            first_no_step = first_no_step or line
            continue
        wall = wall_of(rec) if wall_of else None
        for k, v in rec.items():
            if not keep(k):
                continue
            x = value_of(v)
            if x is not None:
                col.add(k, step, x, wall)
                seen_numeric.add(k)
            else:
                _note_non_numeric(k, v, line, seen_null, odd)
    series, notes = col.build(src, step_unit)
    return _collect_notes(src, series, notes, odd, seen_numeric, seen_null, no_step, first_no_step)


def collect_fast(records, src, step_of, keep, step_unit="step", wall_of=None,
                 value_of=number_or_numeric_string):
    """:func:`collect` with the per-point work inlined: ``keep`` cached per key, plain
    floats (and ints that fit a double) taken as they are, other values through
    ``value_of``; columns appended to per-key lists and handed to the Collector at once.
    Same arguments and result as :func:`collect_reference`, for ``value_of`` one of
    :func:`number_or_numeric_string` and :func:`json_number` (it inlines their plain cases)."""
    cols = _columns(records, step_of, keep) if wall_of is None else None
    if cols is not None:
        col = Collector()
        for k, (st, va) in cols.items():
            col.set_points(k, st, va, [math.nan] * len(st), False)
        series, notes = col.build(src, step_unit)
        return _collect_notes(src, series, notes, {}, set(cols), set(), 0, None)
    no_step = 0
    first_no_step = None
    odd: dict[str, list] = {}
    seen_numeric: set[str] = set()
    seen_null: set[str] = set()
    kept: dict[str, bool] = {}
    # key -> [steps, values, walls, has_wall]; insertion order = first numeric value
    cols: dict[str, list] = {}
    isfinite = math.isfinite
    nan = math.nan
    for line, rec in records:
        step = step_of(rec)
        if step is None or not isfinite(step):
            no_step += 1
            first_no_step = first_no_step or line
            continue
        wall = wall_of(rec) if wall_of else None
        for k, v in rec.items():
            kk = kept.get(k)
            if kk is None:
                kk = kept[k] = bool(keep(k))
            if not kk:
                continue
            t = type(v)
            if t is float:
                x = v
            elif t is int and -9007199254740992 <= v <= 9007199254740992:
                x = float(v)
            else:
                x = value_of(v)
            if x is not None:
                c = cols.get(k)
                if c is None:
                    c = cols[k] = [[], [], [], True]
                    seen_numeric.add(k)
                c[0].append(step)
                c[1].append(x)
                if wall is None:
                    c[2].append(nan)
                    c[3] = False
                else:
                    c[2].append(wall)
            else:
                _note_non_numeric(k, v, line, seen_null, odd)
    col = Collector()
    for k, (st, va, wt, has_wall) in cols.items():
        col.set_points(k, st, va, wt, has_wall)
    series, notes = col.build(src, step_unit)
    return _collect_notes(src, series, notes, odd, seen_numeric, seen_null, no_step, first_no_step)


_PLAIN_NUMBER = frozenset({float, int})


def _columns(records, step_of, keep) -> dict[str, tuple[list, list]] | None:
    """Column-wise :func:`collect` for the common case, ``{key: (steps, values)}`` in the
    order the per-record loop would create them; ``None`` (use that loop) unless every record
    has the same keys in the same order, a finite step, and every kept key holds plain
    floats (or ints that fit a double exactly) in every record. Then no note can arise and
    tags are created in key order."""
    if not records:
        return None
    dicts = [r for _, r in records]
    if len(set(map(tuple, dicts))) != 1:
        return None
    steps = list(map(step_of, dicts))
    if None in steps or not all(map(math.isfinite, steps)):
        return None
    out: dict[str, tuple[list, list]] = {}
    for k in dicts[0]:
        if not keep(k):
            continue
        vals = list(map(operator.itemgetter(k), dicts))
        types = set(map(type, vals))
        if not types <= _PLAIN_NUMBER:
            return None
        if int in types:
            ints = [v for v in vals if type(v) is int]
            if min(ints) < -9007199254740992 or max(ints) > 9007199254740992:
                return None
            vals = list(map(float, vals))
        out[k] = (steps[:], vals)
    return out


def _collect_notes(src, series, notes, odd, seen_numeric, seen_null, no_step, first_no_step):
    for k, (count, line, kinds) in odd.items():
        if k in seen_numeric:  # mixed types: numbers and something else
            notes.append(ReadNote(src, f"{excerpt(k)}: {count} value(s) that are not numbers ({', '.join(sorted(kinds))}) "
                                       f"skipped (first at line {line})", "warning"))
    empty = sorted(k for k in seen_null if k not in seen_numeric and "loss" in k.lower())
    if empty:
        notes.append(ReadNote(src, f"no numeric value for {', '.join(excerpt(k) for k in empty[:5])} "
                                   "(always null): no points", "info", kind=NOTE_NO_VALUES, tags=tuple(empty)))
    if no_step:
        notes.insert(0, ReadNote(src, f"{no_step} record(s) without a usable step were skipped (first at "
                                      f"line {first_no_step})", "warning"))
    return series, notes


def _data_lines(head: bytes, limit: int) -> list[str]:
    """Non-blank, non-comment lines of a sniff head (at most ``limit``)."""
    return [ln for ln in first_lines(head, limit + 20) if not ln.lstrip().startswith(("#", "//"))][:limit]


def first_object(head: bytes, tries: int = 5, named_jsonl: bool = False) -> dict | None:
    """The JSON object on the first non-blank, non-comment line of a sniff head, or ``None``.

    A JSON-lines log may open with a line cut or garbled by a crash or a concurrent writer
    (the reader then skips it with a note): when the first line starts like an object
    (``{``) but does not parse, the first object among the next ``tries - 1`` lines is
    taken, provided at least two of them are objects. A pretty-printed JSON document
    (``[`` or ``{ "history": [`` first, then ``{...},`` lines) therefore does not pass for
    JSON lines: at most its last element parses on its own. With ``named_jsonl`` (the file
    is named ``.jsonl``/``.ndjson``) a first line of any garbage (binary bytes, ``[[[...``)
    is passed over the same way: the name says JSON lines, and one bad line must not lose
    the file (the same line later in the file is skipped with a note).
    """
    lines = _data_lines(head, tries)
    if not lines:
        return None
    objs = []
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            obj = None
        if i == 0:
            if isinstance(obj, dict):
                return obj
            if not named_jsonl and not line.lstrip().startswith("{"):
                return None
            continue
        if isinstance(obj, dict):
            objs.append(obj)
    return objs[0] if len(objs) >= 2 else None


def count_object_lines(head: bytes, limit: int = 20) -> int:
    """How many of the first ``limit`` non-blank lines of a head are JSON objects."""
    n = 0
    for ln in _data_lines(head, limit):
        try:
            if isinstance(json.loads(ln), dict):
                n += 1
        except (ValueError, RecursionError):
            pass
    return n


def _note_non_numeric(k: str, v: Any, line: int, seen_null: set, odd: dict) -> None:
    """Record a value of key ``k`` that is not a number: a null-like one in ``seen_null``, any
    other kind in ``odd`` as ``[count, first line, kinds]`` (for the reader's notes)."""
    if v is None or (isinstance(v, str) and v.strip().lower() in ("", "none", "null")):
        seen_null.add(k)
    else:
        o = odd.setdefault(k, [0, line, set()])
        o[0] += 1
        o[2].add(_kind(v))


#: Files at least this long (bytes) try :func:`losscheck.readers._numscan.jsonl_columns` first
#: (it imports pandas); smaller ones too once pandas paid for its import in this process
#: (:class:`losscheck.readers._numscan.ColumnarBudget`).
COLUMNS_MIN_BYTES = 5_000_000

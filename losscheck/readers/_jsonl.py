"""Shared JSON-lines parsing for the JSONL-family readers.

Python's :mod:`json` accepts the bare ``NaN``, ``Infinity`` and ``-Infinity`` tokens that
Python writers (``json.dumps`` default) emit, so they parse to float NaN/Inf here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Iterable

from losscheck.errors import ParseError
from losscheck.model import ReadNote, Series
from losscheck.readers._common import Collector, first_lines, json_number, read_text


def load_json_lines(path: Path) -> tuple[list[tuple[int, dict]], list[ReadNote]]:
    """Every JSON object line of ``path`` as ``(line_number, dict)`` (1-based), plus notes.

    Blank lines are skipped silently. A line that is not a JSON object is skipped with a
    warning naming its line number; the last line being cut (a run still writing) is
    reported as such.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no line holds a JSON object (except a file of one cut line, which gives
            no records and a warning).
    """
    src = str(path)
    text, notes = read_text(path)
    records: list[tuple[int, dict]] = []
    bad: list[int] = []
    last_line = 0
    loads = json.loads
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        last_line = i
        try:
            obj = loads(s)
        except ValueError:
            bad.append(i)
            continue
        if isinstance(obj, dict):
            records.append((i, obj))
        else:
            bad.append(i)
    if not records:
        if bad == [last_line] and last_line == 1:
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
    """Nested dicts joined with ``/`` (``{"train": {"loss": 1}}`` -> ``{"train/loss": 1}``)."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def number_or_numeric_string(value: Any) -> float | None:
    """Like :func:`json_number`, but also accepts strings holding a number (``"0.00"``)."""
    x = json_number(value)
    if x is not None or not isinstance(value, str):
        return x
    try:
        return float(value)
    except ValueError:
        return None


def collect(records: Iterable[tuple[int, dict]], src: str, step_of: Callable[[dict], float | None],
            keep: Callable[[str], bool], step_unit: str = "step",
            wall_of: Callable[[dict], float | None] | None = None,
            value_of: Callable[[Any], float | None] = json_number
            ) -> tuple[list[Series], list[ReadNote]]:
    """Turn JSON records into normalised series.

    Args:
        records: ``(line, dict)`` pairs in file order (dicts already flattened if wanted).
        step_of: the step of a record, or ``None`` when it has none (record skipped).
        keep: whether a key is a metric.
        wall_of: optional wall time of a record, seconds since the Unix epoch.
        value_of: converts a JSON value to a float, ``None`` = missing (null, text...).
    Returns ``(series, notes)``.
    """
    col = Collector()
    no_step = 0
    for _line, rec in records:
        step = step_of(rec)
        if step is None or not math.isfinite(step):
            no_step += 1
            continue
        wall = wall_of(rec) if wall_of else None
        for k, v in rec.items():
            if not keep(k):
                continue
            x = value_of(v)
            if x is not None:
                col.add(k, step, x, wall)
    series, notes = col.build(src, step_unit)
    if no_step:
        notes.insert(0, ReadNote(src, f"{no_step} record(s) without a usable step were skipped", "warning"))
    return series, notes


def first_object(head: bytes) -> dict | None:
    """The JSON object on the first non-blank line of a sniff head, or ``None``."""
    lines = first_lines(head, 1)
    if not lines:
        return None
    try:
        obj = json.loads(lines[0])
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def count_object_lines(head: bytes, limit: int = 20) -> int:
    """How many of the first ``limit`` non-blank lines of a head are JSON objects."""
    n = 0
    for ln in first_lines(head, limit):
        try:
            if isinstance(json.loads(ln), dict):
                n += 1
        except ValueError:
            pass
    return n

"""Generic JSON-lines metric logs: one JSON object per line.

The step is the first key present, in this order: ``step``, ``global_step``, ``_step``,
``iteration``, ``iter``, ``epoch`` (then ``step_unit="epoch"``); without one, the record
index (from 0). Numeric fields become series (nested objects are flattened with ``/``);
``null`` is missing; NaN/Infinity tokens are kept as values. W&B-style ``_timestamp``
(seconds) becomes the wall time and ``_runtime``/``_timestamp``/``_wandb/*`` are dropped.

Summary files (``wandb-summary.json``, ``all_results.json``, ``*_results.json``,
``config.json``) hold one set of final values, not series, and are not claimed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from losscheck.model import ReadNote, ReadResult
from losscheck.readers import _jsonl, _numscan
from losscheck.readers._common import BaseReader, Collector, base_name, is_integral, json_number, read_data
from losscheck.readers._jsonl import (collect, count_object_lines, first_object, flatten,
                                        flatten_records, gc_paused, load_json_lines)
from losscheck.readers.interface import HEAD_BYTES, SNIFF

#: Step keys in order of preference.
JSONL_STEP_KEYS = ("step", "global_step", "_step", "iteration", "iter", "epoch")

_SUMMARY_NAMES = ("wandb-summary.json", "all_results.json", "train_results.json",
                  "eval_results.json", "test_results.json", "predict_results.json", "config.json",
                  "trainer_state.json", "wandb-metadata.json")
_DROP = ("_runtime", "_timestamp")


class GenericJsonlReader(BaseReader):
    """Any JSON-lines file of metric records (lowest-priority JSON reader).

    ``read`` returns one series per numeric key other than the step key.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no line holds a JSON object.
    """

    name = "jsonl"
    description = "JSON lines, one metrics object per line (step/global_step/iteration/epoch key)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path).lower()
        if name in _SUMMARY_NAMES or name.endswith("_results.json"):
            return 0.0
        named = name.endswith((".jsonl", ".ndjson"))
        obj = first_object(head, named_jsonl=named)
        if obj is None and named:
            nl = head.find(b"\n")
            if nl >= 0 and b"\x00" in head[:8]:
                # a first line of binary bytes (NULs: a crash's preallocated block) makes the head
                # look binary: the lines after it decide, as after any other bad first line
                obj = first_object(head[nl + 1:], named_jsonl=True)
            elif nl < 0 and len(head) >= HEAD_BYTES:
                # a first line longer than the whole sniff head (a record of thousands of keys,
                # or garbage): claimed by its name; the read parses every line, skips the bad
                # ones with a note, and names the file when no line holds a record
                return conf["jsonl"]
        if obj is None:
            return 0.0
        if not any(json_number(v) is not None for v in flatten(obj).values()):
            return 0.0
        if name.endswith((".jsonl", ".ndjson")):
            return conf["jsonl"]
        many = count_object_lines(head) >= 2
        if name.endswith(".json"):
            return conf["json"] if many or any(k in obj for k in JSONL_STEP_KEYS) else 0.0
        if name.endswith((".log", ".txt", ".out")) and many:
            return conf["text"]
        return 0.0

    @gc_paused
    def _read(self, path: Path) -> ReadResult:
        src = str(path)
        data, notes = read_data(path)
        if _numscan.BUDGET.columnar(len(data), _jsonl.COLUMNS_MIN_BYTES):
            held = [data]
            del data  # handed over, so that the column path can free the file's bytes early
            cols = _numscan.jsonl_columns(held)
            if cols is not None and _steps_finite(*cols):
                return _from_columns(src, cols[0], cols[1], notes)
            data, _ = read_data(path)  # the per-line path reads the file again (same notes)
        records, notes = load_json_lines(path, data, notes)
        del data
        return records_read(src, records, notes)


def records_read(src: str, records: list[tuple[int, dict]], notes: list[ReadNote]) -> ReadResult:
    """The series of metric records (``[(line or index, object)]``, nested objects flattened
    here with ``/``) read as this module's docstring says: the step is the first step key
    present (:data:`JSONL_STEP_KEYS`; ``epoch`` gives ``step_unit="epoch"``), else the record
    index; every other numeric key is a series. ``notes`` (the file's read notes) are
    extended and returned with the result."""
    records = flatten_records(records)
    keys: set[str] = set()
    for _, r in records:
        keys.update(r)
    step_key = next((k for k in JSONL_STEP_KEYS if k in keys), None)
    excluded = step_key  # a step-like key is never a metric, even when not used as the step
    unit = "step"
    if step_key == "epoch":
        vals = [json_number(r.get("epoch")) for _, r in records]
        if all(v is None or is_integral(v) for v in vals):
            unit = "epoch"
        else:
            notes.append(ReadNote(src, "'epoch' has fractional values; the record index is used "
                                       "as the step", "info"))
            step_key = None
    elif step_key is not None:
        vals = [json_number(r.get(step_key)) for _, r in records]
        if not all(v is None or not math.isfinite(v) or is_integral(v) for v in vals):
            notes.append(ReadNote(src, f"{step_key!r} has fractional values; the record index is "
                                       "used as the step", "info"))
            step_key = None
    step_of: Callable[[dict], float | int | None]
    if step_key is None:
        index = {id(r): float(i) for i, (_, r) in enumerate(records)}
        step_of = lambda r: index[id(r)]  # noqa: E731
        if excluded is None:
            notes.append(ReadNote(src, "no step key; the record index is used as the step", "info"))
    else:
        step_of = lambda r: json_number(r.get(step_key))  # noqa: E731

    keep = _keep(excluded)

    def wall_of(r: dict) -> float | None:
        return json_number(r.get("_timestamp"))

    series, n = collect(records, src, step_of, keep, unit,
                        wall_of if "_timestamp" in keys else None)
    return ReadResult(series, notes + n, {})


def _keep(excluded: str | None) -> Callable[[str], bool]:
    """Whether a key is a metric: not the step-like key, not W&B bookkeeping."""
    return lambda k: k != excluded and k not in _DROP and not k.startswith("_wandb/")


def _steps_finite(keys: list[str], cols: list[np.ndarray]) -> bool:
    """Whether the step column of a column-wise file (if any) is finite everywhere; when not,
    the per-record path reads the file, as it reports the records without a usable step."""
    step_key = next((k for k in JSONL_STEP_KEYS if k in keys), None)
    return step_key is None or bool(np.isfinite(cols[keys.index(step_key)]).all())


def _from_columns(src: str, keys: list[str], cols: list[np.ndarray], notes: list[ReadNote]) -> ReadResult:
    """What :meth:`GenericJsonlReader._read` gives for a file of uniform numeric records, from
    its columns (:func:`~losscheck.readers._numscan.jsonl_columns`: ``keys`` in record order,
    ``cols`` ``float64`` arrays of shape ``(nrecords,)``, steps finite: :func:`_steps_finite`);
    ``notes`` are the file's read notes."""
    colmap = dict(zip(keys, cols))
    notes = list(notes)
    step_key = next((k for k in JSONL_STEP_KEYS if k in colmap), None)
    excluded = step_key
    unit = "step"
    if step_key is not None:
        st = colmap[step_key]
        if not bool((st == np.floor(st)).all()):
            notes.append(ReadNote(src, f"{step_key!r} has fractional values; the record index is used "
                                       "as the step", "info"))
            step_key = None
        elif step_key == "epoch":
            unit = "epoch"
    if step_key is None:
        steps = np.arange(len(cols[0]), dtype=np.float64)
        if excluded is None:
            notes.append(ReadNote(src, "no step key; the record index is used as the step", "info"))
    else:
        steps = colmap[step_key]
    walls = colmap.get("_timestamp")
    keep = _keep(excluded)
    col = Collector()
    for k in keys:
        if keep(k):
            col.set_points(k, steps, colmap[k], walls if walls is not None else [], walls is not None)
    series, more = col.build(src, unit)
    return ReadResult(series, notes + more, {})


READER = GenericJsonlReader()

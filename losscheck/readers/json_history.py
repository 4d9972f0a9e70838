"""JSON documents holding a training history (not JSON lines): what a script writes with
one ``json.dump`` at the end of, or after each, epoch.

Three shapes are read:

- a **list of metric records**, ``[{"epoch": 0, "iteration": 100, "main/loss": 1.49, ...},
  ...]``: Chainer's ``LogReport`` file (``result/log``, no extension: Chainer's
  ``training.extensions.LogReport`` documentation), and any ``json.dump(list_of_dicts, f,
  indent=2)`` of per-epoch records. Read like JSON lines
  (:func:`losscheck.readers.jsonl_generic.records_read`: the step is the first of ``step``,
  ``global_step``, ``_step``, ``iteration``, ``iter``, ``epoch`` present, else the record index);
- a **dict of lists**, ``{"loss": [0.9, 0.7, ...], "val_loss": [...], "accuracy": [...]}``:
  Keras' ``History.history`` dumped as it is (``json.dump(history.history, f)``; Keras'
  ``Model.fit`` documentation: "a record of training loss values and metrics values at
  successive epochs"). Each list of numbers is a series; the n-th value is epoch n (from 1,
  ``step_unit="epoch"``), unless the dict holds an ``epoch``/``step``/``iteration`` list of the same
  length, which then gives the steps;
- a **wrapper** ``{"history": [records]}`` (also ``log_history``, ``logs``, ``log``,
  ``records``, ``metrics``, ``train_log``): its list read as above.

Sniff: the document must open with one of those shapes in its head and name a loss among its
first 64 KiB (a quoted key containing ``loss`` with a number or a list of numbers), so that a data set (``[{"id": 1, "text": ..}]``)
or a config (``{"layers": [64, 64]}``) beside a run is never taken for a log. ``.json`` names
are claimed at 0.3 (below the JSON-lines reader, which reads documents it recognises), other
names (Chainer's ``log``, a ``.log``/``.txt``) at 0.35 (above the text reader, whose line
grammar would take the document's ``"loss": 0.5,`` lines for uncounted prints). Summary
files (``wandb-summary.json``, ``*_results.json``, ``config.json``, ``trainer_state.json``)
are left to their readers.

``NaN`` / ``Infinity`` (Python's ``json`` writes them) are kept as values; ``null`` and
non-numbers are missing.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name, decode_text, json_number, read_data
from losscheck.readers.interface import SNIFF

#: keys whose list is the document's history in a wrapper object
_WRAPPERS = ("history", "log_history", "logs", "log", "records", "metrics", "train_log")
#: keys of a dict of lists that give the steps (first found, same length as the series)
_STEP_LISTS = ("step", "steps", "global_step", "iteration", "iterations", "epoch", "epochs")
_NOT_OURS = ("wandb-summary.json", "all_results.json", "train_results.json", "eval_results.json",
             "test_results.json", "predict_results.json", "config.json", "trainer_state.json",
             "wandb-metadata.json")
_NUMBER = r"(?:-?\d|NaN|-?Infinity|null)"
_KEY = r'"[^"\\\n]{1,200}"'
#: the opening of each shape (whitespace and newlines allowed: pretty-printed documents)
_LIST_OF_RECORDS = re.compile(rf"\[\s*\{{\s*{_KEY}\s*:")
_DICT_OF_LISTS = re.compile(rf"\{{\s*{_KEY}\s*:\s*\[\s*{_NUMBER}")
_WRAPPED = re.compile(rf'\{{\s*"(?:{"|".join(_WRAPPERS)})"\s*:\s*\[\s*\{{')
_LOSS_KEY = re.compile(rf'"[^"\\\n]{{0,100}}loss[^"\\\n]{{0,100}}"\s*:\s*(?:\[\s*)?{_NUMBER}', re.I)


class JsonHistoryReader(BaseReader):
    """A JSON document of a training history (list of records, dict of lists, or a wrapper).

    ``read`` returns one series per numeric key (records) or per list of numbers (dict).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: the document is not valid JSON, or holds none of the shapes.
    """

    name = "json-history"
    description = "JSON document of a training history (Chainer LogReport, Keras History.history dump)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path).lower()
        if name in _NOT_OURS or name.endswith("_results.json"):
            return 0.0
        if "." in name and not name.endswith((".json", ".log", ".txt")):
            return 0.0
        text = head[:65536].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
        if text[:1] not in ("[", "{"):
            return 0.0
        opening = text[:2000]
        if not (_LIST_OF_RECORDS.match(opening) or _DICT_OF_LISTS.match(opening) or _WRAPPED.match(opening)):
            return 0.0
        if not _LOSS_KEY.search(text):
            return 0.0
        return conf["json"] if name.endswith(".json") else conf["other"]

    def _read(self, path: Path) -> ReadResult:
        from losscheck.readers.jsonl_generic import records_read

        src = str(path)
        data, notes = read_data(path)
        text, more = decode_text(data, path)
        notes += more
        del data
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ParseError(path, f"not a valid JSON document ({exc})") from None
        del text
        if isinstance(doc, dict):
            wrapped = next((doc[k] for k in _WRAPPERS if isinstance(doc.get(k), list)), None)
            if wrapped is not None and any(isinstance(r, dict) for r in wrapped):
                doc = wrapped
            else:
                return _dict_of_lists(src, doc, notes, path)
        if not isinstance(doc, list):
            raise ParseError(path, "the JSON document holds no list of records or lists of values")
        records = [(i, r) for i, r in enumerate(doc) if isinstance(r, dict)]
        if not records:
            raise ParseError(path, "the JSON list holds no metric records")
        if len(records) < len(doc):
            notes.append(ReadNote(src, f"{len(doc) - len(records)} of {len(doc)} list item(s) are not "
                                       "records (objects) and were skipped", "warning"))
        return records_read(src, records, notes)


def _dict_of_lists(src: str, doc: dict, notes: list[ReadNote], path: Path) -> ReadResult:
    """The series of a dict of lists (Keras ``History.history``): each list whose items are
    numbers (``null`` missing) is a series; the steps are a step/epoch list of the same
    length when the dict holds one, else 1..n (epochs, as ``model.fit`` records them)."""
    lists = {k: v for k, v in doc.items() if isinstance(v, list) and v
             and all(x is None or json_number(x) is not None for x in v)}
    if not lists:
        raise ParseError(path, "the JSON object holds no list of numbers")
    step_key = next((k for k in _STEP_LISTS if k in lists), None)
    col = Collector()
    units: dict[str, str] = {}
    for k, v in lists.items():
        if k == step_key:
            continue
        steps: list[float]
        unit = "epoch"
        if step_key is not None and len(lists[step_key]) == len(v):
            steps = []
            for x in lists[step_key]:
                n = json_number(x)
                steps.append(math.nan if n is None else float(n))
            unit = "epoch" if step_key.startswith("epoch") else "step"
        else:
            steps = [float(i) for i in range(1, len(v) + 1)]
        for st, x in zip(steps, v):
            val = json_number(x)
            if val is not None:
                col.add(k, int(st) if math.isfinite(st) and st.is_integer() else st, val)
        units[k] = unit
    series, more = col.build(src, "epoch", units)
    if step_key is None:
        more.append(ReadNote(src, "a dict of value lists without a step list: the n-th value is "
                                  "epoch n (Keras History.history)", "info"))
    return ReadResult(series, notes + more, {})


READER = JsonHistoryReader()

"""Hugging Face ``Trainer`` state files (``trainer_state.json``, also in ``checkpoint-*/``).

Format (transformers docs, ``transformers.TrainerState``; saved by
``TrainerState.save_to_json``): one JSON object with ``log_history`` (a list of dicts, one
per ``Trainer.log`` call: ``step``, ``epoch``, ``loss``, ``learning_rate``, ``grad_norm``
on training entries, ``eval_loss``/``eval_*`` on evaluation entries) and the settings
``max_steps``, ``logging_steps``, ``eval_steps``, ``num_train_epochs``, ``train_batch_size``.
Python's :mod:`json` writes NaN/Inf as bare ``NaN``/``Infinity`` tokens, which parse here.

The final summary entry (``train_runtime``, ``train_loss``, ``total_flos``...) is not a
series: its ``train_loss`` goes to ``meta["final_train_loss"]``. Per-entry timing and
throughput keys (``*_runtime``, ``*_samples_per_second``, ``*_steps_per_second``) and
``epoch``, ``total_flos`` are dropped. ``all_results.json``/``train_results.json`` are
summaries, not series, and are not claimed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import (BaseReader, add_steps_per_epoch, base_name, json_number, read_text,
                                      safe_call)
from losscheck.readers._jsonl import collect
from losscheck.readers.interface import SNIFF

_DROP = frozenset({"step", "epoch", "total_flos", "train_loss", "train_runtime",
                   "train_samples_per_second", "train_steps_per_second"})
_DROP_SUFFIX = ("_runtime", "_samples_per_second", "_steps_per_second")
#: Log keys that are not metric series (for the live HF callback, which sees the same logs).
NOT_METRICS, NOT_METRIC_SUFFIXES = _DROP, _DROP_SUFFIX
_SUMMARY_KEYS = ("train_runtime", "train_loss", "train_samples_per_second")

#: trainer_state key -> meta key, with a converter.
_META = {"max_steps": ("max_steps", int), "logging_steps": ("logging_steps", int),
         "eval_steps": ("eval_steps", int), "num_train_epochs": ("num_train_epochs", float),
         "train_batch_size": ("batch_size", int)}


_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
               int: "a number", float: "a number", type(None): "null"}


def _type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _salvage(text: str) -> tuple[dict, int] | None:
    """Best effort for a ``trainer_state.json`` cut short (a job killed while writing it):
    the settings before ``log_history`` and every complete entry of it.

    Returns ``(state, n_entries)``, or ``None`` when there is no ``log_history`` list.
    """
    key = text.find('"log_history"')
    if key < 0:
        return None
    bracket = text.find("[", key)
    if bracket < 0 or text[key + len('"log_history"'):bracket].strip() != ":":
        return None
    dec = json.JSONDecoder()
    entries = []
    i = bracket + 1
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n or text[i] == "]":
            break
        try:
            obj, i = dec.raw_decode(text, i)
        except ValueError:
            break
        entries.append(obj)
    state: dict = {"log_history": entries}
    # top-level settings written before log_history ("max_steps": 500, ...)
    for k in _META:
        m = re.search(rf'"{k}"\s*:\s*(-?[0-9.eE+]+)', text[:key])
        if m:
            state[k] = safe_call(lambda: json.loads(m.group(1)))
    return state, len(entries)


def _load_state(path: Path, text: str) -> tuple[dict, list[ReadNote]]:
    """Parse a ``trainer_state.json`` text into its top-level object, with notes.

    Trailing bytes after the object are ignored with a warning; a file cut short keeps its
    complete ``log_history`` entries with a warning.

    Raises:
        ParseError: not JSON (and nothing salvageable), the top level is not an object, or
            ``log_history`` is missing or not a list (the message names the type found).
    """
    src = str(path)
    notes: list[ReadNote] = []
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    try:
        state, end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as exc:
        got = _salvage(text)
        if got is None or got[1] == 0:
            raise ParseError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
        state, n = got
        notes.append(ReadNote(src, f"invalid JSON at line {exc.lineno} ({exc.msg}: a file cut short by a "
                                   f"killed job?); read the {n} complete log_history entr(ies) before it",
                              "warning"))
        return state, notes
    rest = stripped[end:].strip()
    if rest:
        notes.append(ReadNote(src, f"{len(rest)} character(s) of trailing data after the JSON object "
                                   f"(from byte {lead + end}) ignored", "warning"))
    if not isinstance(state, dict):
        raise ParseError(path, f"the top level is {_type_name(state)}, expected an object with a "
                               "'log_history' list: not a Trainer state file")
    if "log_history" not in state:
        raise ParseError(path, "no 'log_history' key: not a Trainer state file")
    if not isinstance(state["log_history"], list):
        raise ParseError(path, f"'log_history' is {_type_name(state['log_history'])}, expected a list")
    return state, notes


class HfTrainerStateReader(BaseReader):
    """HF ``trainer_state.json``: series from ``log_history`` indexed by ``step``.

    ``read`` returns one series per metric key (units: optimizer steps) and meta
    ``max_steps``, ``logging_steps``, ``eval_steps``, ``num_train_epochs``, ``epochs``,
    ``batch_size``, ``final_train_loss`` where present.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: not valid JSON (nothing salvageable), the top level is not an object,
            or no ``log_history`` list.
    """

    name = "hf-trainer-state"
    description = "Hugging Face Trainer trainer_state.json (log_history)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path)
        if b'"log_history"' in head:
            return conf["named"] if name == "trainer_state.json" else conf["content"]
        if name == "trainer_state.json" and head.strip():
            return conf["named-only"]  # log_history beyond the head (or a broken file: read gives the reason)
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        src = str(path)
        text, notes = read_text(path)
        state, more = _load_state(path, text)
        notes.extend(more)
        meta: dict = {}
        for key, (mkey, conv) in _META.items():
            v = json_number(state.get(key))
            if v is None or not v > 0:
                continue
            if key in ("logging_steps", "eval_steps") and v < 1:
                # a ratio of max_steps (TrainingArguments docs: "if smaller than 1, ratio")
                if "max_steps" not in meta:
                    continue
                v = max(1.0, round(v * meta["max_steps"]))
            conv_v = safe_call(lambda: conv(v))
            if conv_v is not None:
                meta[mkey] = conv_v
        if "num_train_epochs" in meta:
            meta["epochs"] = int(round(meta["num_train_epochs"]))
        entries = []
        skipped = 0
        for i, e in enumerate(state["log_history"]):
            if not isinstance(e, dict):
                skipped += 1
                continue
            if any(k in e for k in _SUMMARY_KEYS):
                tl = json_number(e.get("train_loss"))
                if tl is not None:
                    meta["final_train_loss"] = tl
                continue
            entries.append((i, e))
        if skipped:
            notes.append(ReadNote(src, f"{skipped} log_history entr(ies) that are not objects were "
                                       "skipped", "warning"))
        if not state["log_history"]:
            notes.append(ReadNote(src, "log_history is empty (no logging step reached yet?): no points",
                                  "warning"))

        def keep(k: str) -> bool:
            return k not in _DROP and not k.endswith(_DROP_SUFFIX)

        series, n = collect(entries, src, lambda e: json_number(e.get("step")), keep, "step")
        add_steps_per_epoch(meta, entries, "step")
        return ReadResult(series, notes + n, meta)


READER = HfTrainerStateReader()

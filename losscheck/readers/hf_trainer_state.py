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
from pathlib import Path

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, base_name, json_number, read_text, safe_call
from losscheck.readers._jsonl import collect

_DROP = frozenset({"step", "epoch", "total_flos", "train_loss", "train_runtime",
                   "train_samples_per_second", "train_steps_per_second"})
_DROP_SUFFIX = ("_runtime", "_samples_per_second", "_steps_per_second")
_SUMMARY_KEYS = ("train_runtime", "train_loss", "train_samples_per_second")

#: trainer_state key -> meta key, with a converter.
_META = {"max_steps": ("max_steps", int), "logging_steps": ("logging_steps", int),
         "eval_steps": ("eval_steps", int), "num_train_epochs": ("num_train_epochs", float),
         "train_batch_size": ("batch_size", int)}


class HfTrainerStateReader(BaseReader):
    """HF ``trainer_state.json``: series from ``log_history`` indexed by ``step``.

    ``read`` returns one series per metric key (units: optimizer steps) and meta
    ``max_steps``, ``logging_steps``, ``eval_steps``, ``num_train_epochs``, ``epochs``,
    ``batch_size``, ``final_train_loss`` where present.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: not valid JSON, or no ``log_history`` list.
    """

    name = "hf-trainer-state"
    description = "Hugging Face Trainer trainer_state.json (log_history)"

    def _sniff(self, path: Path, head: bytes) -> float:
        name = base_name(path)
        if b'"log_history"' in head:
            return 0.95 if name == "trainer_state.json" else 0.9
        if name == "trainer_state.json" and head.lstrip().startswith(b"{"):
            return 0.6  # log_history beyond the head
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        src = str(path)
        text, notes = read_text(path)
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
        if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
            raise ParseError(path, "no 'log_history' list: not a Trainer state file")
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

        def keep(k: str) -> bool:
            return k not in _DROP and not k.endswith(_DROP_SUFFIX)

        series, n = collect(entries, src, lambda e: json_number(e.get("step")), keep, "step")
        return ReadResult(series, notes + n, meta)


READER = HfTrainerStateReader()

"""LLaMA-Factory ``trainer_log.jsonl`` (written by its ``LogCallback``).

Format (hiyouga/LLaMA-Factory, ``src/llamafactory/train/callbacks.py``, ``LogCallback``):
one JSON object per logging step with ``current_steps``, ``total_steps``, ``loss``, the
learning rate as ``lr`` (newer) or ``learning_rate`` (older), ``eval_loss``, ``grad_norm``,
``epoch``, ``percentage``, ``elapsed_time``/``remaining_time`` (text), optionally
``accuracy``, ``throughput`` (a number or a numeric string) and ``total_tokens``; older
versions write ``"eval_loss": null``, ``"predict_loss": null``, ``"reward": null``.
Tag names are kept as written.

Steps logged twice or more (several writer processes, resumes) are de-duplicated by
:func:`losscheck.series.normalize` (later line wins, with a note).
"""

from __future__ import annotations

from pathlib import Path

from losscheck.model import ReadResult
from losscheck.readers._common import BaseReader, add_steps_per_epoch, base_name, json_number
from losscheck.readers._jsonl import (collect, first_object, gc_paused, load_json_lines,
                                        number_or_numeric_string)
from losscheck.readers.interface import SNIFF

_NOT_METRICS = frozenset({"current_steps", "total_steps", "percentage", "elapsed_time",
                          "remaining_time", "epoch"})


class LlamaFactoryReader(BaseReader):
    """LLaMA-Factory ``trainer_log.jsonl``: step = ``current_steps``.

    ``read`` returns one series per metric (``loss``, ``lr``/``learning_rate``,
    ``eval_loss``, ``grad_norm``, ``accuracy``, ``throughput``...), units: optimizer steps.
    Meta: ``max_steps`` from ``total_steps``.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no line holds a JSON object.
    """

    name = "llamafactory"
    description = "LLaMA-Factory trainer_log.jsonl (current_steps, loss, lr, eval_loss...)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        obj = first_object(head)
        if obj is not None and "current_steps" in obj:
            return conf["content"]
        if base_name(path) == "trainer_log.jsonl" and obj is None and not head.strip():
            return conf["named-empty"]
        return 0.0

    @gc_paused
    def _read(self, path: Path) -> ReadResult:
        records, notes = load_json_lines(path)
        series, n = collect(records, str(path), lambda r: json_number(r.get("current_steps")),
                            lambda k: k not in _NOT_METRICS, "step",
                            value_of=number_or_numeric_string)
        meta = {}
        for _, r in reversed(records):
            total = json_number(r.get("total_steps"))
            if total is not None and total > 0:
                meta["max_steps"] = int(total)
                break
        add_steps_per_epoch(meta, records, "current_steps")
        return ReadResult(series, notes + n, meta)


READER = LlamaFactoryReader()

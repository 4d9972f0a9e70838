"""``LosscheckCallback`` for the Hugging Face ``Trainer``.

Three lines::

    from losscheck.integrations.transformers import LosscheckCallback
    trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=[LosscheckCallback()])
    trainer.train()  # stops itself when the loss diverges or turns NaN; see output_dir/losscheck-report.txt

What it sees: every ``on_log`` (the logged ``loss``, ``grad_norm``, ``learning_rate`` and the
eval metrics, under the names ``trainer_state.json`` keeps, so the verdict is the one
``losscheck diagnose output_dir/trainer_state.json`` gives); at each ``on_evaluate`` it
analyses at once. Stopping sets ``control.should_training_stop``. Ranks: the Trainer logs the
same, already gathered, numbers on every process, so every rank reaches the same decision at
the same step (no collective call, nothing to wait for); only the world's main process writes
the report. Checkpoints: each ``on_save`` records ``output_dir/checkpoint-N`` and saves the
monitor's history beside it (``losscheck-monitor.json``, written atomically: a run killed while
saving never leaves half a file there); a run resumed from that checkpoint
reloads it in ``on_train_begin``, so it keeps its history.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from transformers import TrainerCallback

from losscheck._io import write_atomic
from losscheck.integrations._live import LiveCallback
from losscheck.readers.hf_trainer_state import NOT_METRIC_SUFFIXES, NOT_METRICS

#: The monitor's history, saved into each checkpoint folder.
STATE_FILE = "losscheck-monitor.json"

logger = logging.getLogger("transformers.losscheck")


def _meta(args, state) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if getattr(state, "max_steps", 0) and state.max_steps > 0:
        meta["max_steps"] = int(state.max_steps)
    for key, mkey in (("learning_rate", "learning_rate"), ("max_grad_norm", "max_grad_norm"),
                      ("warmup_steps", "warmup_steps"), ("fp16", "fp16")):
        v = getattr(args, key, None)
        if v:
            meta[mkey] = v
    return meta


class LosscheckCallback(TrainerCallback, LiveCallback):
    """Diagnose the run at every log and stop it when it fails.

    Args:
        action: ``"stop"`` (default) or ``"warn"``.
        fail_on: ``"error"`` (default), ``"warning"``, ``"never"`` or ``LEVEL:P``, as the CLI.
        stop_on: ``"urgent"`` (default: divergence, NaN/Inf, an unrecovered spike) or
            ``"failing"`` (anything failing the gate).
        output_dir: where the report goes (default: ``args.output_dir``).
        monitor_kwargs: other :class:`losscheck.Monitor` arguments.
    """

    _logger = logger

    def __init__(self, action: str = "stop", fail_on: str = "error", stop_on: str = "urgent",
                 output_dir: str | None = None, **monitor_kwargs: Any) -> None:
        self._live_init(action, fail_on, stop_on, output_dir, monitor_kwargs)

    # --- events ---------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        self.check.monitor.meta.update(_meta(args, state))
        if state.global_step > 0:  # resumed: the Trainer loaded its state from a checkpoint
            path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}", STATE_FILE)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as fh:
                    self.check.load_state_dict(json.load(fh))

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = {k: v for k, v in (logs or {}).items()
                  if k not in NOT_METRICS and not k.endswith(NOT_METRIC_SUFFIXES) and isinstance(v, (int, float))}
        if not values:
            return
        v = self.check.observe(state.global_step, values, evaluation="eval_loss" in values)
        self._decide(args, state, control, v)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._decide(args, state, control, self.check.monitor.analyse())

    def on_save(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.check.saw_checkpoint(state.global_step, path)
        if state.is_world_process_zero and os.path.isdir(path):
            write_atomic(os.path.join(path, STATE_FILE), json.dumps(self.check.state_dict()).encode("utf-8"))

    def on_train_end(self, args, state, control, **kwargs):
        v = self.check.monitor.analyse()
        if state.is_world_process_zero and v.report is not None:
            self.check.write(self.output_dir or args.output_dir, v)
            logger.info(self.check.message(v))

    # --- decision -------------------------------------------------------------------------

    def _decide(self, args, state, control, v) -> None:
        if not v.changed and (not v.stop or self.stopped_at is not None):
            return
        if v.status in ("failing", "warning") and state.is_world_process_zero:
            self._report(self.output_dir or args.output_dir, v)
        if self.check.should_stop(v):
            control.should_training_stop = True
            self._mark_stopped(state.global_step)

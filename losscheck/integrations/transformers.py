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

Rollback (opt in): with ``LosscheckCallback(action="rollback")`` and
:func:`train_with_rollback` in place of ``trainer.train()``, a run stopped for a divergence is
resumed from the last checkpoint saved before the onset with the remedies' settings applied
(the peak LR they name, a grad-norm clip), at most ``max_rollbacks`` times: the seed case
study's "stop early, keep the snapshot, resume from the last healthy checkpoint with the fix".
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
        action: ``"stop"`` (default), ``"warn"`` or ``"rollback"`` (stop, and leave a
            :attr:`rollback_plan` that :func:`train_with_rollback` carries out).
        fail_on: ``"error"`` (default), ``"warning"``, ``"never"`` or ``LEVEL:P``, as the CLI.
        stop_on: ``"urgent"`` (default: divergence, NaN/Inf, an unrecovered spike) or
            ``"failing"`` (anything failing the gate).
        output_dir: where the report goes (default: ``args.output_dir``).
        monitor_kwargs: other :class:`losscheck.Monitor` arguments.
    """

    _logger = logger
    _actions = ("stop", "warn", "rollback")

    def __init__(self, action: str = "stop", fail_on: str = "error", stop_on: str = "urgent",
                 output_dir: str | None = None, **monitor_kwargs: Any) -> None:
        self._live_init(action, fail_on, stop_on, output_dir, monitor_kwargs)
        #: with ``action="rollback"``, after a stop: where and how to resume
        #: (:meth:`LiveCheck.rollback_plan`), or ``None``
        self.rollback_plan: dict[str, Any] | None = None
        self._resuming: dict[str, Any] | None = None  # the plan being applied at the next train begin

    # --- events ---------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        self.check.monitor.meta.update(_meta(args, state))
        if state.global_step > 0:  # resumed: the Trainer loaded its state from a checkpoint
            path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}", STATE_FILE)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as fh:
                    self.check.load_state_dict(json.load(fh))
        plan, self._resuming = self._resuming, None
        if plan is not None and state.global_step == plan["checkpoint_step"]:
            self._apply(plan, args, kwargs.get("optimizer"), kwargs.get("lr_scheduler"))

    def _apply(self, plan: dict[str, Any], args, optimizer, lr_scheduler) -> None:
        """Apply a rollback's settings after the Trainer loaded the checkpoint's optimizer and
        scheduler state (which hold the old LR): every LR the optimizer and scheduler keep is
        scaled by ``peak_lr / old peak``, so the schedule's shape is kept at the lower peak;
        ``max_grad_norm`` turns clipping on (the Trainer reads it at every step)."""
        done: dict[str, Any] = {"from_step": plan["from_step"], "checkpoint": plan["checkpoint"],
                                "checkpoint_step": plan["checkpoint_step"]}
        changed: list[str] = []  # for the log line
        sched = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate wraps it
        base = list(getattr(sched, "base_lrs", []) or [])
        peak = plan["settings"].get("peak_lr")
        if peak and base and max(base) > 0:
            scale = float(peak) / max(base)
            sched.base_lrs = [b * scale for b in base]
            for group in getattr(optimizer, "param_groups", []):
                for key in ("lr", "initial_lr"):
                    if key in group:
                        group[key] = group[key] * scale
            last = getattr(sched, "_last_lr", None)
            if last:
                sched._last_lr = [x * scale for x in last]
            done["peak_lr"] = {"from": max(base), "to": float(peak)}
            changed.append(f"peak_lr {max(base):g} -> {float(peak):g}")
            args.learning_rate = float(peak)
            self.check.monitor.meta["learning_rate"] = float(peak)
        clip = plan["settings"].get("max_grad_norm")
        if clip:
            done["max_grad_norm"] = {"from": getattr(args, "max_grad_norm", None), "to": float(clip)}
            changed.append(f"max_grad_norm {done['max_grad_norm']['from']} -> {float(clip):g}")
            args.max_grad_norm = float(clip)
            self.check.monitor.meta["max_grad_norm"] = float(clip)
        self.check.rollbacks.append(done)
        logger.warning("losscheck: rolled back to %s (step %d) after a stop at step %d; %s",
                       plan["checkpoint"], plan["checkpoint_step"], plan["from_step"], ", ".join(changed))

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
            if self.check.action == "rollback" and self.stopped_at is None:
                self.rollback_plan = self.check.rollback_plan(v)
                if self.rollback_plan is None:
                    logger.warning("losscheck: no rollback (no checkpoint before the onset, or no setting to change)")
            self._mark_stopped(state.global_step)


def train_with_rollback(trainer, max_rollbacks: int = 2, **train_kwargs: Any):
    """``trainer.train(**train_kwargs)``, then, each time the trainer's
    ``LosscheckCallback(action="rollback")`` stopped it with a rollback plan, resume from that
    plan's checkpoint (``resume_from_checkpoint``) with its settings applied, at most
    ``max_rollbacks`` times. Each rollback is logged and listed in the report's
    ``live.rollbacks`` (step stopped at, checkpoint, the LR and clip before and after).

    Returns:
        the ``TrainOutput`` of the last ``train`` call.
    Raises:
        ValueError: the trainer has no ``LosscheckCallback`` with ``action="rollback"``, or
            ``max_rollbacks`` is negative.
    """
    if max_rollbacks < 0:
        raise ValueError(f"max_rollbacks must be >= 0, not {max_rollbacks}")
    cbs = [c for c in trainer.callback_handler.callbacks
           if isinstance(c, LosscheckCallback) and c.check.action == "rollback"]
    if not cbs:
        raise ValueError('train_with_rollback needs a LosscheckCallback(action="rollback") among the callbacks')
    cb = cbs[0]
    out = trainer.train(**train_kwargs)
    for _ in range(max_rollbacks):
        plan, cb.rollback_plan = cb.rollback_plan, None
        if plan is None or not os.path.isdir(plan["checkpoint"]):
            break
        cb.stopped_at = None
        cb._resuming = plan
        kwargs = {k: v for k, v in train_kwargs.items() if k != "resume_from_checkpoint"}
        out = trainer.train(resume_from_checkpoint=plan["checkpoint"], **kwargs)
    return out

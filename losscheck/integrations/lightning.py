"""``LosscheckCallback`` for Lightning (``lightning.pytorch``).

::

    from losscheck.integrations.lightning import LosscheckCallback
    trainer = lightning.Trainer(callbacks=[LosscheckCallback()])

What it sees: the training loss each batch returns (``loss``) and the first optimizer's LR
(``lr``) at every global step; at the end of each validation, the validation metrics the
module logged (names containing ``val``), and then it analyses at once. Ranks: the decision is
gathered across ranks (``trainer.strategy.all_gather`` of one flag per rank) at every step on
every rank (the same calls in the same order everywhere, so none waits for another), and one
failing rank stops them all (``trainer.should_stop``); the report written then is the
verdict of the lowest failing rank (``strategy.broadcast`` to rank 0, which writes it, with
``live.rank`` naming it), not rank 0's own, which may be healthy. Checkpoints: those the
``ModelCheckpoint`` callbacks hold or have in their ``dirpath``, with the step their file
name carries (``epoch=0-step=40.ckpt``). The monitor's history is part of the callback's ``state_dict``,
which Lightning saves in each checkpoint and restores on resume.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from lightning.pytorch.callbacks import Callback

from losscheck.integrations._live import LiveCallback, step_in_name

logger = logging.getLogger("lightning.pytorch.callbacks.losscheck")


def _scalar(x) -> float | None:
    try:
        v = float(x.detach().cpu().item() if hasattr(x, "detach") else x)
    except (TypeError, ValueError, RuntimeError):
        return None
    return v


class LosscheckCallback(Callback, LiveCallback):
    """Diagnose the run at every step and stop every rank when it fails.

    Args:
        action: ``"stop"`` (default) or ``"warn"``.
        fail_on: as the CLI's ``--fail-on``.
        stop_on: ``"urgent"`` (default) or ``"failing"``.
        output_dir: where the report goes (default: ``trainer.log_dir``, else
            ``trainer.default_root_dir``).
        monitor_kwargs: other :class:`losscheck.Monitor` arguments.
    """

    _logger = logger

    def __init__(self, action: str = "stop", fail_on: str = "error", stop_on: str = "urgent",
                 output_dir: str | None = None, **monitor_kwargs: Any) -> None:
        self._live_init(action, fail_on, stop_on, output_dir, monitor_kwargs)
        self._stop_rank: int | None = None  # the rank whose verdict stopped the run

    def _out(self, trainer) -> str:
        return self.output_dir or trainer.log_dir or trainer.default_root_dir

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.max_steps and trainer.max_steps > 0:
            self.check.monitor.meta.setdefault("max_steps", int(trainer.max_steps))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        values: dict[str, float] = {}
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            x = _scalar(loss)
            if x is not None:
                values["loss"] = x
        if trainer.optimizers:
            values["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        v = self.check.observe(trainer.global_step, values) if values else self.check.monitor.verdict
        self._decide(trainer, v)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        values = {k: x for k, x in ((k, _scalar(t)) for k, t in trainer.callback_metrics.items() if "val" in k)
                  if x is not None}
        if values:
            self.check.observe(trainer.global_step, values, evaluation=True)
        self._decide(trainer, self.check.monitor.verdict)

    def _checkpoints(self, trainer) -> None:
        seen = {p for _, p in self.check.checkpoints}
        for cb in getattr(trainer, "checkpoint_callbacks", []):
            paths = [*getattr(cb, "best_k_models", {}), getattr(cb, "last_model_path", "")]
            folder = getattr(cb, "dirpath", None)
            if folder and os.path.isdir(folder):  # with monitor=None the callback keeps no list
                paths += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".ckpt"))
            for path in paths:
                if path and path not in seen:
                    step = step_in_name(path)
                    if step is not None:
                        self.check.saw_checkpoint(step, path)
                        seen.add(path)
        self.check.checkpoints.sort()

    def _decide(self, trainer, v) -> None:
        mine = self.check.should_stop(v)
        # every rank calls this at every step, the same collectives in the same order: one
        # failing rank stops all of them
        failing = self._failing_ranks(trainer, mine)
        if failing and self.stopped_at is None:
            # the first stop: the report is the verdict of the lowest failing rank, sent to
            # rank 0 (which writes the files): a rank that did not fail would report healthy
            src = failing[0]
            self._checkpoints(trainer)
            out = str(self._out(trainer))
            payload = None
            if trainer.global_rank == src:
                rendered = self.check.render(v, rank=src if trainer.world_size > 1 else None, root=out)
                payload = (rendered, self.check.message(v))
            payload = trainer.strategy.broadcast(payload, src=src)
            self._stop_rank = src
            if trainer.is_global_zero and payload is not None and payload[0] is not None:
                self.check.write(out, v, rendered=payload[0])
                where = f" (rank {src})" if trainer.world_size > 1 else ""
                logger.error(payload[1] + where)
        elif self._needs_report(v, bool(failing)) and trainer.is_global_zero and self._stop_rank in (None, 0):
            self._checkpoints(trainer)
            self._report(self._out(trainer), v)
        if failing:
            trainer.should_stop = True
            self._mark_stopped(trainer.global_step)

    @staticmethod
    def _failing_ranks(trainer, mine: bool) -> list[int]:
        """The ranks whose verdict asks to stop, known to every rank (one all-gather of one
        number per rank; a single process gathers nothing)."""
        import torch

        if trainer.world_size <= 1:
            return [0] if mine else []
        flag = torch.tensor([1.0 if mine else 0.0], device=trainer.strategy.root_device)
        gathered = trainer.strategy.all_gather(flag)
        return [r for r, x in enumerate(gathered.reshape(-1).tolist()) if x > 0.5]

    def on_train_end(self, trainer, pl_module) -> None:
        v = self.check.monitor.analyse()
        self._checkpoints(trainer)
        if self._stop_rank not in (None, 0):
            return  # another rank's failure stopped the run: its report stays the report
        if trainer.is_global_zero and v.report is not None:
            self.check.write(self._out(trainer), v)
            logger.info(self.check.message(v))

    def state_dict(self) -> dict[str, Any]:
        return self.check.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.check.load_state_dict(state_dict)



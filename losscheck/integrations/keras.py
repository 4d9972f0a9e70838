"""``LosscheckCallback`` for Keras 3 (any backend; tested with ``KERAS_BACKEND=torch``).

::

    from losscheck.integrations.keras import LosscheckCallback
    model.fit(x, y, validation_data=(xv, yv), callbacks=[LosscheckCallback(output_dir="run1")])

What it sees: the ``loss`` of every training batch at a global step it counts (Keras 3 reports
the running mean of the epoch so far; the verdict is made on that curve, as on a Keras
progress-bar log), and at each epoch's end the ``val_*`` metrics (``val_loss`` is the eval
loss), then it analyses at once. Stopping sets ``model.stop_training`` (Keras ends the epoch
after the current batch). Checkpoints: files appearing in ``checkpoint_dir`` (where a
``ModelCheckpoint`` writes) are recorded at the step they were seen (again, when a file is
saved over). The folder is listed when its modification time changed (one ``stat`` per
batch: a new file), at each epoch's end and before a report is written or a stop asked
(a file saved over in place leaves the folder's time as it was: it is seen then, at that
later step, never earlier than it was saved). Keras has no
output directory of its own: the report goes to ``output_dir``. Single process: a
distributed Keras strategy is not handled.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import keras

from losscheck.integrations._live import LiveCallback
from losscheck.live.follow import RACY_NS

logger = logging.getLogger("keras.losscheck")


class LosscheckCallback(keras.callbacks.Callback, LiveCallback):
    """Diagnose the run at every batch and stop it when it fails.

    Args:
        action: ``"stop"`` (default) or ``"warn"``.
        fail_on: as the CLI's ``--fail-on``.
        stop_on: ``"urgent"`` (default) or ``"failing"``.
        output_dir: where the report goes (default: the working directory).
        checkpoint_dir: the folder a ``ModelCheckpoint`` writes to, to name the last healthy one.
        monitor_kwargs: other :class:`losscheck.Monitor` arguments.
    """

    _logger = logger

    def __init__(self, action: str = "stop", fail_on: str = "error", stop_on: str = "urgent",
                 output_dir: str = ".", checkpoint_dir: str | None = None, **monitor_kwargs: Any) -> None:
        super().__init__()
        self._live_init(action, fail_on, stop_on, output_dir, monitor_kwargs)
        self.checkpoint_dir = checkpoint_dir
        self.global_step = 0
        self._seen: dict[str, int] = {}  # checkpoint file name -> modification time seen
        self._dir_mtime: int | None = None  # checkpoint_dir's modification time at the last scan
        self._racy = False  # the last scan came within RACY_NS of a change: scan again

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.global_step += 1
        if self._dir_changed():
            self._scan()
        values = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        if values:
            self._decide(self.check.observe(self.global_step, values))

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._scan()
        # val_loss is the eval loss (the name trainer logs use); other val_* metrics keep their names
        values = {("eval_loss" if k == "val_loss" else k): float(v) for k, v in (logs or {}).items()
                  if k.startswith("val_") and _is_number(v)}
        if values:
            self.check.observe(self.global_step, values, evaluation=True)
        self._decide(self.check.monitor.verdict)

    def on_train_end(self, logs=None) -> None:
        v = self.check.monitor.analyse()
        if v.report is not None:
            self._scan()
            self.check.write(self.output_dir or ".", v)
            logger.info(self.check.message(v))

    def _dir_changed(self) -> bool:
        """Whether ``checkpoint_dir`` may hold a new file since the last scan (one ``stat``)."""
        if not self.checkpoint_dir:
            return False
        try:
            mtime = os.stat(self.checkpoint_dir).st_mtime_ns
        except OSError:
            return False
        return self._racy or mtime != self._dir_mtime

    def _scan(self) -> None:
        if not self.checkpoint_dir:
            return
        started = time.time_ns()
        try:
            mtime = os.stat(self.checkpoint_dir).st_mtime_ns  # before listing: a later change shows
            names = sorted(os.listdir(self.checkpoint_dir))
        except OSError:
            return
        self._dir_mtime = mtime
        self._racy = mtime > started - RACY_NS
        for name in names:
            path = os.path.join(self.checkpoint_dir, name)
            try:
                stamp = os.stat(path).st_mtime_ns
            except OSError:
                continue
            if self._seen.get(name) != stamp:  # new, or saved again under the same name
                self._seen[name] = stamp
                self.check.checkpoints = [c for c in self.check.checkpoints if c[1] != path]
                self.check.saw_checkpoint(self.global_step, path)

    def _decide(self, v) -> None:
        stop = self.check.should_stop(v)
        report = self._needs_report(v, stop)
        if report or stop:
            self._scan()  # the checkpoints named in the report are the ones on disk now
        if report:
            self._report(self.output_dir or ".", v)
        if stop:
            self.model.stop_training = True
            self._mark_stopped(self.global_step)


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True

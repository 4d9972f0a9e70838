"""What the three training callbacks share, framework-free: a :class:`~losscheck.Monitor`, the
decision (stop or warn), the checkpoints seen, the report files and the rollback advice."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from losscheck import __version__
from losscheck._io import write_atomic
from losscheck.config import Settings
from losscheck.live.monitor import Monitor, Verdict
from losscheck.model import Report

#: Every action a callback may take; ``rollback`` only where the framework can resume cleanly
#: (the HF ``Trainer``: :func:`losscheck.integrations.transformers.train_with_rollback`).
ACTIONS = ("stop", "warn", "rollback")
#: Remedy settings worth resuming with (peak LR, clip value, warmup), by remedy setting name.
RESUME_KEYS = ("peak_lr", "max_grad_norm", "warmup_steps")
#: The settings a rollback can apply to a resumed run (a warmup cannot be changed once the
#: scheduler is built).
ROLLBACK_KEYS = ("peak_lr", "max_grad_norm")
#: File names written into the trainer's output directory.
REPORT_JSON = "losscheck-report.json"
REPORT_TEXT = "losscheck-report.txt"


class LiveCheck:
    """A monitor plus what a callback decides with it.

    Args:
        action: ``"stop"`` (ask the trainer to stop when the verdict says stop), ``"warn"``
            (log and write the report, never stop) or ``"rollback"`` (stop, and plan a resume
            from the last healthy checkpoint with the remedies' settings: :meth:`rollback_plan`).
        fail_on: the gate level, as ``losscheck diagnose --fail-on`` (``error``, ``warning``,
            ``never``, ``LEVEL:P``).
        stop_on: ``"urgent"`` (divergence, NaN/Inf, an unrecovered spike) or ``"failing"``.
        options: full :class:`~losscheck.config.Settings` (``fail_on`` above overrides theirs).
        meta: what the trainer knows (``max_steps``, ``learning_rate``, ``warmup_steps``,
            ``max_grad_norm``), given to the monitor.
        monitor_kwargs: other :class:`~losscheck.Monitor` arguments.
    Raises:
        ValueError: an unknown ``action``/``stop_on`` or a malformed ``fail_on``.
    """

    def __init__(self, action: str = "stop", fail_on: str = "error", stop_on: str = "urgent",
                 options: Settings | None = None, meta: Mapping[str, Any] | None = None,
                 **monitor_kwargs: Any) -> None:
        import dataclasses

        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
        self.action = action
        opts = dataclasses.replace(options or Settings(), fail_on=fail_on)
        self.monitor = Monitor(opts, meta=meta, stop_on=stop_on, **monitor_kwargs)
        self.checkpoints: list[tuple[int, str]] = []  # (global step, path), in save order
        self.reported: Verdict | None = None  # the verdict last written out
        self.rollbacks: list[dict[str, Any]] = []  # the rollbacks done, in order (the callback's record)

    def observe(self, step: int, values: Mapping[str, Any], evaluation: bool = False) -> Verdict:
        """Feed one logging event; at an evaluation, analyse at once (the exact verdict)."""
        v = self.monitor.add(step, dict(values))
        if evaluation:
            v = self.monitor.analyse()
        return v

    def should_stop(self, v: Verdict) -> bool:
        """Whether to ask the trainer to stop (``action`` is ``stop`` or ``rollback`` and the
        verdict says stop)."""
        return self.action in ("stop", "rollback") and v.stop

    def saw_checkpoint(self, step: int, path: str | os.PathLike | None) -> None:
        """Record a checkpoint saved at global ``step``."""
        self.checkpoints.append((int(step), str(path) if path is not None else ""))

    def last_healthy_checkpoint(self, v: Verdict) -> tuple[int, str] | None:
        """The last checkpoint saved before the problem's onset (or before the first
        non-finite value when there is no onset), or ``None``."""
        onset = v.onset_step
        if onset is None:
            steps = [f.step for f in v.findings if f.step is not None and f.severity == "error"]
            onset = min(steps) if steps else None
        before = [c for c in self.checkpoints if onset is None or c[0] < onset]
        return max(before, key=lambda c: c[0]) if before else None

    def resume_settings(self, v: Verdict) -> dict[str, Any]:
        """The settings the ranked remedies give for a resumed run (peak LR, clip value...)."""
        out: dict[str, Any] = {}
        for r in v.remedies:
            for k in RESUME_KEYS:
                if k in r.settings and k not in out:
                    out[k] = r.settings[k]
        return out

    def rollback_plan(self, v: Verdict) -> dict[str, Any] | None:
        """Where and how to resume a stopped run: ``{"from_step", "checkpoint", "checkpoint_step",
        "settings"}`` with ``settings`` the remedies' ``peak_lr`` and/or ``max_grad_norm``
        (:meth:`resume_settings`), or ``None`` when there is nothing to change (a NaN from the
        data: the same data would fail again) or no checkpoint saved before the onset (the
        seed case study: resume from the last healthy checkpoint *with the fix applied*)."""
        ck = self.last_healthy_checkpoint(v)
        settings = {k: val for k, val in self.resume_settings(v).items() if k in ROLLBACK_KEYS}
        if ck is None or not ck[1] or not settings:
            return None
        return {"from_step": int(v.step or 0), "checkpoint": ck[1], "checkpoint_step": ck[0], "settings": settings}

    def message(self, v: Verdict) -> str:
        """One paragraph for the framework's logger: the verdict, the first remedy, where to
        resume from and with what."""
        parts = [f"losscheck: {v.line()}"]
        if v.findings:
            parts.append(v.findings[0].message)
        if v.remedies:
            parts.append(f"first remedy: {v.remedies[0].title}")
        ck = self.last_healthy_checkpoint(v)
        if ck is not None and v.status != "healthy":
            parts.append(f"last checkpoint before the onset: {ck[1] or 'step ' + str(ck[0])} (step {ck[0]})")
        rs = self.resume_settings(v)
        if rs and v.status != "healthy":
            parts.append("resume with " + ", ".join(f"{k}={val:g}" if isinstance(val, float) else f"{k}={val}"
                                                   for k, val in rs.items()))
        return "; ".join(parts)

    def render(self, v: Verdict, rank: int | None = None, root: str = "") -> tuple[str, str] | None:
        """The two report files' contents for ``v``: the JSON document (with a ``live``
        section: step, action, stop, the last checkpoint before the onset, the settings to
        resume with, and ``rank``, the process whose verdict it is, when given) and the text
        report followed by :meth:`message`. Plain strings, so a rank can send them to another
        (see the Lightning callback); ``root`` is the report's root (the output directory).
        ``None`` when there is no analysis yet."""
        from losscheck.formats.json import JsonFormat
        from losscheck.formats.text import TextFormat

        if v.report is None:
            return None
        rep = Report([v.report], [], __version__, self.monitor.options.fail_on, root)
        ck = self.last_healthy_checkpoint(v)
        live: dict[str, Any] = {"step": v.step, "action": self.action, "stop": v.stop, "failing": v.failing,
                                "last_healthy_checkpoint": None if ck is None else {"step": ck[0], "path": ck[1]},
                                "resume_settings": self.resume_settings(v)}
        if self.rollbacks:
            live["rollbacks"] = self.rollbacks
        if rank is not None:
            live["rank"] = rank
        data = JsonFormat().document(rep)
        data["live"] = live
        text = TextFormat().render(rep) + "\n" + self.message(v) + "\n"
        return json.dumps(data, indent=2, default=str) + "\n", text

    def write(self, out_dir: str | os.PathLike, v: Verdict,
              rendered: tuple[str, str] | None = None) -> tuple[Path, Path] | None:
        """Write ``losscheck-report.json`` and ``losscheck-report.txt`` into ``out_dir`` (made if
        missing; each written atomically, :func:`losscheck._io.write_atomic`): ``rendered``
        (from :meth:`render`, possibly another rank's) or else ``v`` rendered here.

        Returns:
            the two paths written, or ``None`` when there is no analysis yet (nothing written).
        Raises:
            OSError: ``out_dir`` cannot be made or a file cannot be written (a full disk, no
                permission); a file already there is then left as it was.
        """
        if rendered is None:
            rendered = self.render(v, root=str(out_dir))
        if rendered is None:
            return None
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = (out / REPORT_JSON, out / REPORT_TEXT)
        for p, body in zip(paths, rendered):
            write_atomic(p, body.encode("utf-8"))
        self.reported = v
        return paths

    def state_dict(self) -> dict:
        """The monitor's points and the checkpoints seen (JSON-safe)."""
        return {"monitor": self.monitor.state_dict(), "checkpoints": [list(c) for c in self.checkpoints]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (a resumed run keeps its history).

        Raises:
            KeyError: ``state`` has no ``"monitor"`` entry.
            ValueError: its ``"monitor"`` is not a monitor state
                (:meth:`losscheck.Monitor.load_state_dict`), or a checkpoint's step is not a number."""
        self.monitor.load_state_dict(state["monitor"])
        self.checkpoints = [(int(s), str(p)) for s, p in state.get("checkpoints", [])]


_STEP_IN_NAME = re.compile(r"(?:step[=_-]?|checkpoint-)(\d+)")


def step_in_name(path: str) -> int | None:
    """The global step a checkpoint's file name carries (``epoch=1-step=200.ckpt``,
    ``checkpoint-200``), or ``None``."""
    m = _STEP_IN_NAME.findall(os.path.basename(str(path)))
    return int(m[-1]) if m else None


class LiveCallback:
    """What each framework's ``LosscheckCallback`` holds and does beside its framework base
    class (a mixin: the framework class comes first in the bases, this second).

    Attributes:
        check: the :class:`LiveCheck` (monitor, checkpoints, report files).
        output_dir: where the report goes (``None``: the framework's own default).
        stopped_at: the global step at which the callback first asked the trainer to stop,
            or ``None``.
    """

    _logger: Any = None  # each framework module's logger, set on the subclass
    #: the actions this framework's callback takes (``rollback`` where it can resume cleanly)
    _actions: tuple[str, ...] = ("stop", "warn")

    def _live_init(self, action: str, fail_on: str, stop_on: str, output_dir: str | None,
                   monitor_kwargs: Mapping[str, Any]) -> None:
        """Build the :class:`LiveCheck` (see its ``Raises``; also ``ValueError`` for an action
        this framework's callback does not take) and reset the stop state."""
        if action not in self._actions:
            raise ValueError(f"action must be one of {self._actions} for {type(self).__name__}, not {action!r}")
        self.check = LiveCheck(action, fail_on, stop_on, **monitor_kwargs)
        self.output_dir = output_dir
        self.stopped_at: int | None = None

    def _needs_report(self, v: Verdict, stop: bool) -> bool:
        """A failing or warning verdict that changed, or the first stop, is reported once."""
        return (v.changed or (stop and self.stopped_at is None)) and v.status in ("failing", "warning")

    def _report(self, out_dir: str | os.PathLike, v: Verdict) -> None:
        """Write the report files into ``out_dir`` and log the verdict (error when it stops)."""
        self.check.write(out_dir, v)
        (self._logger.error if v.stop else self._logger.warning)(self.check.message(v))

    def _mark_stopped(self, step: int) -> None:
        """Remember the first global step at which a stop was asked for."""
        if self.stopped_at is None:
            self.stopped_at = step

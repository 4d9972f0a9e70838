"""Shared wording helpers for rules: the judged curve, units, numbers, remedy settings.

Rules read measurements from the run's facts (:class:`~losscheck.model.RunFacts`, computed by
:mod:`losscheck.analysis.facts`) and only word them here: no series maths (no numpy).
"""

from __future__ import annotations

import math

from losscheck.analysis.evidence import main_curve
from losscheck.model import OnsetFacts
from losscheck.remedies import nice, nice_steps

__all__ = ["fmt", "lr_votes_settings", "main_curve", "unit_word", "warmup_settings"]


def unit_word(ctx_or_run, role: str | None = None) -> str:
    """``"epoch"`` when the judged curve is indexed by epochs (Keras, YOLO logs), else ``"step"``.

    Findings and settings say "epoch 10" / ``resume_before_epoch`` for such logs, so a
    number is never read in the wrong unit.
    """
    run = getattr(ctx_or_run, "run", ctx_or_run)
    analysis = getattr(ctx_or_run, "analysis", None)
    if role is None and analysis is not None:
        cur = main_curve(analysis)
        role = cur.role if cur is not None else "loss"
    s = run.get(role or "loss") or run.get("eval_loss")
    return "epoch" if s is not None and s.step_unit == "epoch" else "step"


def fmt(x: float | None) -> str:
    """A compact human number: ``5e-04``, ``0.213``, ``1.2e+22``."""
    if x is None:
        return "?"
    if x == 0 or not math.isfinite(x):
        return str(x)
    ax = abs(x)
    if ax >= 1e5 or ax < 1e-3:
        return f"{x:.2g}"
    return f"{x:.3g}"


def lr_votes_settings(ctx: OnsetFacts) -> dict:
    """Settings for ``lower_lr``: a peak LR 5x below the LR at onset (else below the peak LR),
    with a 3-10x range, rounded by :func:`losscheck.remedies.nice`; ``{"factor": "3-10x lower"}``
    when no positive LR is known."""
    base = ctx.lr_at_onset if ctx.lr_at_onset else ctx.lr_peak
    if not base or base <= 0:
        return {"factor": "3-10x lower"}
    return {"peak_lr": nice(base / 5), "lr_range": [nice(base / 10), nice(base / 3)],
            "lr_at_onset": nice(base, 3)}


def warmup_settings(ctx: OnsetFacts, total_steps: int | None) -> dict:
    """Settings for ``warmup``: at least the steps it took to diverge, and 2x any current warmup.

    ``total_steps`` is the planned run length (``max_steps``); with it the suggestion stays
    between 2% (Goyal et al. 2017 used ~5 epochs of 90) and 50% of the run.
    """
    target = 0.0
    if ctx.onset:
        target = ctx.onset
    if ctx.warmup_steps:
        target = max(target, 2 * ctx.warmup_steps)
    if total_steps:  # the planned run length (max_steps), when the log says it
        target = min(max(target, 0.02 * total_steps), 0.5 * total_steps)
    return {"warmup_steps": nice_steps(target)} if target else {}

"""Shared evidence helpers for rules: LR at the onset, grad-norm lead, rollback target.

Pure functions of the resolved run and its analysis; each returns ``None`` when the data do
not allow an answer (so a rule never invents a number).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from losscheck.model import CurveAnalysis, ResolvedRun, RunAnalysis
from losscheck.remedies import clip_threshold, last_healthy_step, nice, nice_steps, value_at


def main_curve(analysis: RunAnalysis) -> CurveAnalysis | None:
    """The curve the run's verdict is about: the training loss, unless only the eval loss
    shows the primary problem (then the eval loss); the eval loss when there is no training
    loss. Rules judge this curve, so the run's class always comes with its finding.
    """
    loss, ev = analysis.curves.get("loss"), analysis.curves.get("eval_loss")
    if loss is not None and ev is not None and loss.klass != analysis.primary and ev.klass == analysis.primary:
        return ev
    return loss or ev


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


@dataclass
class OnsetContext:
    """What the LR and grad norm were doing at a loss onset step.

    ``lr_at_onset``: the LR logged at or before the onset; ``lr_peak``/``lr_peak_step``;
    ``at_peak``: the onset falls after the LR reached 90% of its peak, within the first
    third of the post-peak span (divergence "as the LR reached its peak");
    ``warmup_steps``: 0 means no warmup; ``grad_lead``: steps by which a grad-norm surge
    preceded the loss onset (``None`` if none); ``clip``: a suggested clip threshold;
    ``rollback``: the last logged step before the loss onset.
    """

    onset: int | None
    lr_at_onset: float | None = None
    lr_peak: float | None = None
    lr_peak_step: int | None = None
    at_peak: bool = False
    warmup_steps: int | None = None
    grad_lead: int | None = None
    clip: float | None = None
    rollback: int | None = None


def onset_context(run: ResolvedRun, analysis: RunAnalysis, onset: int | None) -> OnsetContext:
    """Gather :class:`OnsetContext` for ``onset`` (a global step, or ``None``)."""
    ctx = OnsetContext(onset)
    lr = run.get("lr")
    lrc = analysis.lr
    if lrc is not None:
        ctx.lr_peak, ctx.lr_peak_step, ctx.warmup_steps = lrc.peak, lrc.peak_step, lrc.warmup_steps
    if onset is not None:
        ctx.lr_at_onset = value_at(lr, onset)
        if lrc is not None and ctx.lr_at_onset is not None and lrc.peak > 0:
            ctx.at_peak = ctx.lr_at_onset >= 0.9 * lrc.peak
    g = analysis.curves.get("grad_norm")
    earliest = onset
    if g is not None and onset is not None and g.onset_step is not None and g.klass in (
            "diverging", "spiking", "nan") and g.onset_step < onset:
        ctx.grad_lead = int(onset - g.onset_step)
        earliest = g.onset_step
    ctx.clip = clip_threshold(run.get("grad_norm"), earliest)
    loss = run.get("loss") or run.get("eval_loss")
    # roll back to before the loss onset, not before a slow grad-norm rise that may span most of
    # the run: the checkpoint must still have a good loss (PaLM restarted ~100 steps before a spike)
    ctx.rollback = last_healthy_step(loss, onset)
    return ctx


def grad_jump(run: ResolvedRun, step: int, window: int = 2) -> float | None:
    """The grad norm near ``step`` over the 90th percentile of the grad norms before it.

    Looks at the logged grad norms within ``window`` logged points after ``step`` (the spike
    may be logged one point late). Returns ``None`` without a grad norm or with fewer than 5
    earlier finite values. A ratio of 10 or more means the update at the spike was an
    exploding gradient that clipping would have capped (Pascanu et al. 2013).
    """
    import numpy as np

    g = run.get("grad_norm")
    if g is None or len(g) == 0:
        return None
    before = g.values[g.steps < step]
    before = before[np.isfinite(before) & (before > 0)]
    if len(before) < 5:
        return None
    i = int(np.searchsorted(g.steps, step))
    near = g.values[max(0, i - 1): i + window + 1]
    near = near[np.isfinite(near)]
    if not len(near):
        return None
    return float(near.max() / np.percentile(before, 90))


def lr_votes_settings(ctx: OnsetContext) -> dict:
    """Settings for ``lower_lr``: a peak LR 5x below the LR at onset, with a 3-10x range."""
    base = ctx.lr_at_onset if ctx.lr_at_onset else ctx.lr_peak
    if not base or base <= 0:
        return {"factor": "3-10x lower"}
    return {"peak_lr": nice(base / 5), "lr_range": [nice(base / 10), nice(base / 3)],
            "lr_at_onset": nice(base, 3)}


def warmup_settings(ctx: OnsetContext, total_steps: int | None) -> dict:
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


# --------------------------------------------------------------------------- helpers for LC2xx-LC5xx


def finite_xy(series):
    """``(steps, values)`` of the finite points of ``series`` (empty arrays for ``None``).

    When every point is finite these are read-only views of the series' own arrays (no
    copy of a million-point curve per rule); otherwise fresh arrays."""
    import numpy as np

    if series is None or len(series) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    ok = np.isfinite(series.values)
    if ok.all():
        return _read_only(series.steps), _read_only(series.values)
    return series.steps[ok], series.values[ok]


def _read_only(a):
    """A read-only view of ``a`` (same shape and data, no copy): rules share the series'
    arrays and must not write into them."""
    v = a.view()
    v.flags.writeable = False
    return v


def last_step(run: ResolvedRun) -> int | None:
    """The last logged step of the training loss (else the eval loss), or ``None``."""
    s = run.get("loss") or run.get("eval_loss")
    return int(s.steps[-1]) if s is not None and len(s) else None


#: Series tags that say the run trains a language model (token-level cross-entropy):
#: a logged perplexity or a token counter.
LM_TAG_WORDS = ("perplexity", "ppl", "token")


def looks_like_language_model(run: ResolvedRun) -> bool:
    """True when a logged tag names a perplexity or a token count (``ppl``,
    ``train_perplexity_step``, ``total_tokens``...), i.e. the loss is a token-level
    cross-entropy whose value near 0 means perplexity ~1."""
    tags = [t.lower() for t in getattr(run.data, "series", {}) or {}]
    tags += [s.tag.lower() for s in run.components]
    return any(w in t for t in tags for w in LM_TAG_WORDS)


def wall_clock(run: ResolvedRun):
    """``(steps, wall_time)`` of the best-timed series: the one with the most finite wall
    times among the roles (training loss first on ties), restricted to points whose wall
    time is finite and increasing. ``None`` when no series carries at least 2 wall times.
    Read-only views of the series' arrays when every point is kept, else fresh arrays.
    """
    import numpy as np

    best = None
    for role in ("loss", "eval_loss", "grad_norm", "lr", "accuracy", "eval_accuracy"):
        s = run.get(role)
        if s is None or s.wall_time is None or len(s) == 0 or s.wall_time.shape != s.steps.shape:
            continue
        ok = np.isfinite(s.wall_time)
        if best is None or int(ok.sum()) > int(best[0].sum()):
            best = (ok, s)
    if best is None or int(best[0].sum()) < 2:
        return None
    ok, s = best
    st, w = (s.steps, s.wall_time) if ok.all() else (s.steps[ok], s.wall_time[ok])
    # keep points whose wall time moves forward (a resumed run that re-logs old steps, or
    # merged files with clock skew, must not produce negative gaps)
    # (w[i] not below every earlier w, i.e. equal to the running maximum; O(n) in numpy)
    keep = w >= np.maximum.accumulate(w)
    if not keep.all():
        return st[keep], w[keep]
    # every point kept: read-only views of the arrays, not copies of a million-point series
    return _read_only(st), _read_only(w)


def _finite(v):
    import numpy as np

    return v[np.isfinite(v)]


def grad_norm_trend(run: ResolvedRun) -> float | None:
    """Median grad norm of the last quarter over that of the first quarter (``None`` when
    fewer than 8 finite grad norms are logged).

    Under a flat loss this separates *no learning at all* (ratio <= ~1.2: the weights are not
    moving, or the gradient vanishes before it reaches them) from *fitting noise* (the grad
    norm grows as the model tries to fit labels it cannot, e.g. shuffled labels; Zhang et al.
    2017, "Understanding deep learning requires rethinking generalization").
    """
    import numpy as np

    g = run.get("grad_norm")
    if g is None:
        return None
    v = _finite(g.values)
    if len(v) < 8:
        return None
    q = len(v) // 4
    a, b = float(np.median(v[:q])), float(np.median(v[-q:]))
    return b / a if a > 0 else None


def nonfinite_share(series) -> float:
    """Share of the logged values of ``series`` that are NaN/Inf (0.0 for ``None``/empty)."""
    import numpy as np

    if series is None or len(series) == 0:
        return 0.0
    return float((~np.isfinite(series.values)).mean())


def frozen_level(series, tail: float = 0.5, rel: float = 1e-6) -> bool:
    """True when the last ``tail`` share of a loss is constant to ``rel`` (relative).

    A minibatch loss always moves while the weights move; an epoch-averaged loss that repeats
    to six digits means the weights do not change at all (LR = 0, frozen parameters, dead
    units). Needs at least 5 finite points in the tail.
    """
    import numpy as np

    if series is None:
        return False
    v = _finite(series.values[int(len(series) * (1 - tail)):])
    if len(v) < 5:
        return False
    lvl = float(np.median(np.abs(v)))
    return lvl > 0 and float(np.ptp(v)) <= rel * lvl


def lr_jump(run: ResolvedRun, step: int | None) -> float | None:
    """How much the LR jumped just before ``step``: LR at ``step`` over the LR a window earlier.

    The window is 5% of the logged span (at least 3 logged points). Returns the ratio only for
    a *jump*, i.e. when the LR had not been rising before the window (a warmup ramp also
    raises the LR, but gradually from the start); ``None`` otherwise or without an LR.
    """
    import numpy as np

    lr = run.get("lr")
    if lr is None or step is None or len(lr) < 8:
        return None
    st, v = lr.steps, lr.values
    i = int(np.searchsorted(st, step, side="right")) - 1
    if i < 4:
        return None
    k = max(3, int(0.05 * len(st)))
    j = max(0, i - k)
    now, before = v[i], v[j]
    if not (np.isfinite(now) and np.isfinite(before)) or before <= 0:
        return None
    earlier = _finite(v[max(0, j - k): j + 1])
    # the LR must not have been ramping up over the previous window (warmup)
    if len(earlier) >= 2 and earlier[-1] > 1.2 * earlier[0]:
        return None
    ratio = float(now / before)
    return ratio if ratio >= 1.5 else None


def pre_nonfinite_growth(run: ResolvedRun, role: str, onset: int | None) -> tuple[float | None, float | None]:
    """Whether a curve grew before it went non-finite.

    Returns ``(loss_ratio, grad_ratio)``: the median of the last 3 finite values of ``role``
    before ``onset`` over its lowest earlier 5-point median, and the largest of the last 3
    finite grad norms before ``onset`` over the 90th percentile of the earlier ones. A loss
    ratio >= 2 or a grad ratio >= 10 means the run was blowing up (LR, instability); values
    near 1 mean a sudden NaN out of a stable run (a bad batch, an overflow).
    """
    import numpy as np

    out: list[float | None] = [None, None]
    for k, series in enumerate((run.get(role), run.get("grad_norm"))):
        if series is None or onset is None:
            continue
        v = _finite(series.values[series.steps < onset])
        if len(v) < 8:
            continue
        last, early = v[-3:], v[:-3]
        if k == 0:
            roll = np.convolve(early, np.ones(5) / 5, mode="valid") if len(early) >= 5 else early
            low = float(np.min(roll))
            out[0] = float(np.median(last) / low) if low > 0 else None
        else:
            p90 = float(np.percentile(early, 90))
            out[1] = float(np.max(last) / p90) if p90 > 0 else None
    return out[0], out[1]

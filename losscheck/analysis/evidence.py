"""Measurements at one step of a run, for the facts the rules word (:class:`~losscheck.model.OnsetFacts`).

Pure functions of the resolved run and its analysis; each returns ``None`` when the data do
not allow an answer (so a rule never invents a number). Arrays follow the contract of
:mod:`losscheck.model`: steps ``int64`` (n,), strictly increasing; values ``float64`` (n,),
NaN/Inf kept. Steps are in the series' own unit (steps, or epochs for an epoch log).
(Moved here from ``rules/_evidence.py`` and ``remedies/__init__.py``, issue 13: rules and
remedies hold no series maths.)
"""

from __future__ import annotations

import math

import numpy as np

from losscheck.model import CurveAnalysis, OnsetFacts, ResolvedRun, RunAnalysis, Series


def main_curve(analysis: RunAnalysis) -> CurveAnalysis | None:
    """The curve the run's verdict is about: the training loss, unless only the eval loss
    shows the primary problem (then the eval loss); the eval loss when there is no training
    loss. Rules judge this curve, so the run's class always comes with its finding.
    """
    loss, ev = analysis.curves.get("loss"), analysis.curves.get("eval_loss")
    if loss is not None and ev is not None and loss.klass != analysis.primary and ev.klass == analysis.primary:
        return ev
    return loss or ev


def value_at(series: Series | None, step: int | None) -> float | None:
    """The series' last finite value at or before ``step`` (``None`` if there is none).

    Args:
        series: steps ``int64`` (n,) increasing, values ``float64`` (n,), NaN/Inf kept (or ``None``).
        step: a step in the series' unit (steps, or epochs for an epoch-indexed log).
    Cost: O(log n) to find the step, then back over any non-finite values. Never raises.
    """
    if series is None or step is None or len(series) == 0:
        return None
    idx = int(np.searchsorted(series.steps, step, side="right")) - 1
    while idx >= 0 and not math.isfinite(series.values[idx]):
        idx -= 1
    return float(series.values[idx]) if idx >= 0 else None


def clip_threshold(grad_norm: Series | None, before_step: int | None) -> float | None:
    """A grad-norm clip threshold from the healthy grad norms before ``before_step``.

    Returns the 90th percentile of the finite grad norms logged before the onset, rounded up
    to two significant figures: a threshold that leaves healthy steps alone
    and caps outliers (the practice of HF ``max_grad_norm=1.0``, Pascanu et al. 2013, at the
    scale this run actually has). ``None`` when fewer than 5 healthy points exist.
    """
    if grad_norm is None or len(grad_norm) == 0:
        return None
    v = grad_norm.values if before_step is None else grad_norm.values[grad_norm.steps < before_step]
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) < 5:
        return None
    p90 = float(np.percentile(v, 90))
    # round *up* to two significant figures: below the healthy level it would clip healthy steps
    q = 10.0 ** (math.floor(math.log10(p90)) - 1)
    return float(f"{math.ceil(p90 / q - 1e-9) * q:.2g}")


def last_healthy_step(series: Series | None, onset: int | None) -> int | None:
    """The last logged step strictly before ``onset`` (the rollback target), or ``None``
    (no series, no onset, or nothing logged before it). ``series``: steps ``int64`` (n,);
    ``onset`` in the same unit. Never raises."""
    if series is None or onset is None:
        return None
    before = series.steps[series.steps < onset]
    return int(before[-1]) if len(before) else None


def onset_facts(run: ResolvedRun, analysis: RunAnalysis, onset: int | None) -> OnsetFacts:
    """Gather :class:`~losscheck.model.OnsetFacts` for ``onset`` (a step, or ``None``): the
    LR there and its peak (:func:`value_at`, the run's LR context), the grad norm's lead in
    steps when its own onset came first, a clip threshold (:func:`clip_threshold`) from the
    grad norms before the earlier of the two onsets, the rollback step
    (:func:`last_healthy_step` of the training loss, else the eval loss), and the LR and grad-norm
    jumps (:func:`lr_jump`, :func:`grad_jump`). Fields that cannot be measured stay ``None``.
    Cost: O(n log n) for the percentiles over the grad norms."""
    ctx = OnsetFacts(onset)
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
    ctx.lr_jump = lr_jump(run, onset)
    if onset is not None:
        ctx.grad_jump = grad_jump(run, onset)
    return ctx


def grad_jump(run: ResolvedRun, step: int, window: int = 2) -> float | None:
    """The grad norm near ``step`` over the 90th percentile of the grad norms before it.

    Looks at the logged grad norms within ``window`` logged points after ``step`` (the spike
    may be logged one point late). Returns ``None`` without a grad norm or with fewer than 5
    earlier finite values. A ratio of 10 or more means the update at the spike was an
    exploding gradient that clipping would have capped (Pascanu et al. 2013).
    """
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


def finite_xy(series: Series | None) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of the finite points of ``series`` (empty arrays for ``None``).

    When every point is finite these are read-only views of the series' own arrays (no
    copy of a million-point curve per fact); otherwise fresh arrays."""
    if series is None or len(series) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    ok = np.isfinite(series.values)
    if ok.all():
        return read_only(series.steps), read_only(series.values)
    return series.steps[ok], series.values[ok]


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (same shape and data, no copy): facts share the series'
    arrays and must not write into them."""
    v = a.view()
    v.flags.writeable = False
    return v


def last_step(run: ResolvedRun) -> int | None:
    """The last logged step (``int``, in the series' unit) of the training loss, else the eval
    loss; ``None`` when neither is logged. O(1)."""
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


def _finite(v: np.ndarray) -> np.ndarray:
    return v[np.isfinite(v)]


def grad_norm_trend(run: ResolvedRun) -> float | None:
    """Median grad norm of the last quarter over that of the first quarter (``None`` when
    fewer than 8 finite grad norms are logged).

    Under a flat loss this separates *no learning at all* (ratio <= ~1.2: the weights are not
    moving, or the gradient vanishes before it reaches them) from *fitting noise* (the grad
    norm grows as the model tries to fit labels it cannot, e.g. shuffled labels; Zhang et al.
    2017, "Understanding deep learning requires rethinking generalization").
    """
    g = run.get("grad_norm")
    if g is None:
        return None
    v = _finite(g.values)
    if len(v) < 8:
        return None
    q = len(v) // 4
    a, b = float(np.median(v[:q])), float(np.median(v[-q:]))
    return b / a if a > 0 else None


def nonfinite_share(series: Series | None) -> float:
    """Share in [0, 1] of the logged values of ``series`` (values ``float64`` (n,)) that are
    NaN/Inf; 0.0 for ``None``/empty. O(n)."""
    if series is None or len(series) == 0:
        return 0.0
    return float((~np.isfinite(series.values)).mean())


def frozen_level(series: Series | None, tail: float = 0.5, rel: float = 1e-6) -> bool:
    """True when the last ``tail`` share of a loss is constant to ``rel`` (relative).

    A minibatch loss always moves while the weights move; an epoch-averaged loss that repeats
    to six digits means the weights do not change at all (LR = 0, frozen parameters, dead
    units). Needs at least 5 finite points in the tail.
    """
    if series is None:
        return False
    v = _finite(series.values[int(len(series) * (1 - tail)):])
    if len(v) < 5:
        return False
    lvl = float(np.median(np.abs(v)))
    return lvl > 0 and float(np.ptp(v)) <= rel * lvl


def knocked_up(series: Series | None) -> tuple[float, float] | None:
    """How far a flat loss sits above the lowest level it had reached before: ``(ratio, z)``,
    ``ratio`` the median of its last third over the minimum of a centred running median (window
    ``max(3, n // 20)``) of the first two thirds, ``z`` = ``log(ratio)`` in units of the curve's
    robust point-to-point noise of the log loss (:func:`losscheck.analysis._util.diff_noise`; a
    noisy curve -- a GAN's generator loss -- has running-median minima far below its level by
    chance alone); ``None`` below 9 finite positive points.

    A plateau *above* a level the run had already reached means something knocked the model
    off it -- an update too large (dead ReLUs, a blown-up normalisation scale after an LR far too
    high), not a model that never learned (issue 14, pattern 7: "LR far too high settling on a
    floor"). O(n log n) in points.

    The split and sizes are chosen, not fitted: the *last third* (at least 3 points) is "where
    the run sits now"; the running median's window ``max(3, n // 20)`` is 5% of the points (a
    median of at least 3 points ignores one outlier, so a single low point is not the "lowest
    level reached"); 9 points is the least for which the last third has 3 points and the first
    two thirds (6) hold two such windows.

    Args:
        series: the loss (steps and values; non-finite and non-positive values are dropped).
    Returns:
        ``(ratio, z)`` as above (both floats), or ``None`` (too few points, no positive minimum).
    """
    if series is None:
        return None
    return knocked_up_values(series.values)


def knocked_up_values(values: np.ndarray) -> tuple[float, float] | None:
    """:func:`knocked_up` of a bare array of loss values ``(n,)`` in logged order (non-finite and
    non-positive values dropped): ``(ratio, z)`` or ``None`` below 9 such values. The plateau
    detector reads it on its binned curve (:mod:`losscheck.analysis.plateau`, a fast drop)
    and the facts on the raw loss."""
    v = _finite(np.asarray(values, dtype=float))
    v = v[v > 0]
    n = len(v)
    if n < 9:
        return None
    k = n - max(3, n // 3)
    w = max(3, n // 20)
    from losscheck.analysis._util import diff_noise, rolling_median

    best = float(np.nanmin(rolling_median(v[:k], w, trailing=False, min_periods=1)))
    if best <= 0:
        return None
    ratio = float(np.median(v[k:])) / best
    sig = diff_noise(np.log(v))
    z = float(np.log(ratio) / sig) if sig > 0 else (math.inf if ratio > 1 else 0.0)
    return ratio, z


#: the Adam family's default LR (Kingma & Ba 2015, "Adam", Algorithm 1: alpha = 0.001)
ADAM_DEFAULT_LR = 1e-3


def adam_peak_lr(run: ResolvedRun, peak: float | None) -> float | None:
    """The peak LR when the optimizer is of the Adam family (named by ``meta["optimizer"]`` or
    by the LR tag, as Lightning's ``LearningRateMonitor`` writes ``lr-Adam``/``lr-AdamW``),
    else ``None``. Compared with :data:`ADAM_DEFAULT_LR` by LC105."""
    if peak is None:
        return None
    names = [str(getattr(run.data, "meta", {}).get("optimizer", ""))]
    lr = run.get("lr")
    if lr is not None:
        names.append(lr.tag)
    return peak if any("adam" in n.lower() for n in names) else None


def lr_jump(run: ResolvedRun, step: int | None) -> float | None:
    """How much the LR jumped just before ``step``: LR at ``step`` over the LR a window earlier.

    The window is 5% of the logged span (at least 3 logged points). Returns the ratio only for
    a *jump*, i.e. when the LR had not been rising before the window (a warmup ramp also
    raises the LR, but gradually from the start); ``None`` otherwise or without an LR.
    """
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

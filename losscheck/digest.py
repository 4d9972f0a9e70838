"""Plot digests: what a format needs to draw a run's curves, in a size bounded by the plot's width.

:func:`plot_digest` bins one series into at most :data:`~losscheck.model.PLOT_BINS` equal step
bins (one per pixel column of a plot) and keeps, per bin, the lowest and the highest finite
value (the band the raw points cover in that column, as a min/max line decimation draws a
dense curve), the smoothed value, and the non-finite points (counted by kind, never dropped).
A curve of 1M points becomes at most ``PLOT_BINS`` bins; drawing needs no more.

The smoothed line is TensorBoard's debiased exponential moving average
(``tensorboard/plugins/scalar/tf_scalar_dashboard/vz-line-chart2`` ``resmoothDataset``: ``last =
w * last + (1 - w) * x`` over the finite values from ``last = 0``, divided by ``1 - w ** k``
after ``k`` of them, so the first points are not pulled towards 0; W&B documents the same
"exponential moving average" with debiasing at
https://docs.wandb.ai/guides/app/features/panels/line-plot/smoothing). TensorBoard's weight
applies per logged point, so its look depends on how densely a run logged; here the weight is
chosen from the point count so that the EMA's time constant is about 1% of the curve
(:func:`ema_weight`), never below TensorBoard's default of 0.6.
"""

from __future__ import annotations

import numpy as np

from losscheck.model import PLOT_BINS, CurveAnalysis, CurveDigest, NonFiniteMark, RunPlot, Series

#: Points the fitted trend is sampled at over its span (for drawing).
TREND_SAMPLES = 96

#: Spikes drawn per curve (the largest by ratio); a report says how many there were.
MAX_SPIKES = 40


def ema_weight(n: int) -> float:
    """The EMA weight for a curve of ``n`` finite points: ``max(0.6, 1 - 100 / n)``.

    ``1 / (1 - w)`` is the EMA's time constant in points, so it is ``n / 100`` (1% of the curve)
    for ``n >= 250`` and TensorBoard's default weight 0.6 below that.
    """
    return 0.6 if n <= 250 else max(0.6, 1.0 - 100.0 / n)


def debiased_ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased EMA of ``values`` (``float64`` (n,)): ``float64`` (n,).

    Non-finite values are skipped (they neither update nor break the average) and are NaN in
    the output; a curve whose finite values are all equal is returned as is (TensorBoard's
    ``isConstant`` case). O(n) in numpy (:func:`scipy.signal.lfilter`).
    """
    from scipy.signal import lfilter

    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, np.nan)
    fin = np.isfinite(v)
    x = v[fin]
    if x.size == 0:
        return out
    if x.min() == x.max():
        out[fin] = x
        return out
    acc = lfilter([1.0 - weight], [1.0, -weight], x)
    with np.errstate(under="ignore"):
        debias = 1.0 - np.power(weight, np.arange(1, x.size + 1, dtype=np.float64))
    out[fin] = acc / debias
    return out


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def plot_digest(s: Series, role: str, curve: CurveAnalysis | None = None,
                bins: int = PLOT_BINS) -> CurveDigest:
    """The plot digest of one series (see the module doc).

    Args:
        s: the series (steps increasing; NaN/Inf kept).
        role: the role it fills.
        curve: its analysis, for the fitted trend (sampled at :data:`TREND_SAMPLES` steps over
            the fitted span) and the spikes (the :data:`MAX_SPIKES` largest).
        bins: at most this many equal step bins.
    Returns:
        a :class:`CurveDigest` with at most ``bins`` bins; O(n) time, O(bins) output.
    """
    from losscheck.analysis.trend import trend_values

    n = len(s)
    fin = np.isfinite(s.values)
    w = ema_weight(int(fin.sum()))
    d = CurveDigest(role=role, tag=s.tag, step_unit=s.step_unit, points=n, smoothing=w)
    if n == 0:
        return d
    edges = np.linspace(float(s.steps[0]), float(s.steps[-1]) + 1.0, min(bins, n) + 1)
    bounds = np.searchsorted(s.steps, edges, side="left")
    bounds[-1] = n
    starts = bounds[:-1][bounds[:-1] < bounds[1:]]  # first index of each non-empty bin
    ends = np.append(starts[1:], n)
    lo = np.minimum.reduceat(np.where(fin, s.values, np.inf), starts)
    hi = np.maximum.reduceat(np.where(fin, s.values, -np.inf), starts)
    ema = debiased_ema(s.values, w)
    last_fin = np.maximum.accumulate(np.where(fin, np.arange(n), -1))[ends - 1]
    d.steps = [int(x) for x in s.steps[starts]]
    d.low = [_num(x) for x in lo]
    d.high = [_num(x) for x in hi]
    d.smooth = [_num(ema[i]) if i >= a else None for i, a in zip(last_fin.tolist(), starts.tolist())]
    bad = np.flatnonzero(~fin)
    if bad.size:
        which = np.searchsorted(starts, bad, side="right") - 1
        for kind, mask in (("NaN", np.isnan(s.values[bad])), ("+Inf", s.values[bad] == np.inf),
                           ("-Inf", s.values[bad] == -np.inf)):
            if not mask.any():
                continue
            b, first = np.unique(which[mask], return_index=True)
            counts = np.bincount(which[mask], minlength=len(starts))[b]
            d.nonfinite += [NonFiniteMark(int(s.steps[bad[mask][i]]), kind, int(c))
                            for i, c in zip(first.tolist(), counts.tolist())]
        d.nonfinite.sort(key=lambda m: m.step)
    if curve is not None:
        if curve.trend is not None and curve.trend.end_step >= curve.trend.start_step:
            ts = np.unique(np.linspace(curve.trend.start_step, curve.trend.end_step, TREND_SAMPLES).round())
            tv = trend_values(curve.trend, ts)
            d.trend = [(int(a), float(b)) for a, b in zip(ts.tolist(), tv.tolist()) if np.isfinite(b)]
            d.trend_model = curve.trend.model
        big = sorted(curve.spikes, key=lambda sp: -sp.ratio)[:MAX_SPIKES]
        d.spikes = sorted(sp.step for sp in big)
        d.spike_count = len(curve.spikes)
    return d


def run_plot(roles: dict[str, Series], curves: dict[str, CurveAnalysis], analysis, baseline=None,
             bins: int = PLOT_BINS) -> RunPlot:
    """The :class:`RunPlot` of one run: a digest per drawn role plus the run-level marks.

    Args:
        roles: role (``"loss"``, ``"eval_loss"``...) -> :class:`~losscheck.model.Series` (the
            resolved roles; steps in global steps or epochs).
        curves: role -> its :class:`~losscheck.model.CurveAnalysis`.
        analysis: the :class:`~losscheck.model.RunAnalysis` (onset, overfitting, rollback step,
            chance level).
        baseline: the matching :class:`losscheck.baseline.BaselineRun`, or ``None``.
        bins: points per drawn curve: each role's series is reduced to at most this many
            equal-step bins (:func:`plot_digest`; default :data:`~losscheck.model.PLOT_BINS`).
    Returns:
        the :class:`~losscheck.model.RunPlot` (digests for the roles of ``PLOT_ROLES`` present).
    """
    plot = RunPlot()
    for role in PLOT_ROLES:
        if role in roles:
            plot.curves[role] = plot_digest(roles[role], role, curves.get(role), bins)
    if analysis.overfit is not None:
        plot.overfit_step = int(analysis.overfit.best_step)
    if analysis.onset_step is not None:
        plot.rollback_step = analysis.facts.at(analysis.onset_step).rollback
    ch = analysis.facts.chance
    classes = ch.classes if ch is not None else next(
        (c.plateau.chance_classes for c in curves.values() if c.plateau and c.plateau.chance_classes), None)
    if classes:
        plot.chance_classes = int(classes)
        plot.chance_level = float(np.log(classes))
    if baseline is not None:
        plot.baseline = {role: {k: v for k, v in d.items() if k in ("final", "best") and isinstance(v, (int, float))}
                         for role, d in (baseline.summary or {}).items() if role in ("loss", "eval_loss")}
    return plot


#: Roles drawn, in panel order (``disc_loss``: a GAN's discriminator loss).
PLOT_ROLES = ("loss", "eval_loss", "disc_loss", "grad_norm", "lr")

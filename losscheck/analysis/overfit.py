"""Overfitting: the eval loss reaches a minimum and then rises, persistently, while the
training loss keeps falling.

Source: Prechelt 1998, "Early stopping -- but when?" (in *Neural Networks: Tricks of the
Trade*, LNCS 1524): the generalisation loss ``GL(t) = 100 * (E_va(t) / E_opt(t) - 1)``
(percent above the best eval loss so far), with stopping criteria GL_alpha for alpha in
1..5 %. Prechelt also warns that validation curves are noisy and have several local
minima, so a single eval above the best must not count. Here:

* the eval curve is smoothed by a centred running median of 3 (< 15 evals) or 5 evals,
  so one noisy eval can neither make nor break the minimum (Tukey 1977 running medians);
* ``best`` = the minimum of the smoothed curve; at least ``min_after`` (3) evals must follow
  it (persistence: every later eval stays above the raw minimum by construction);
* the level after the minimum (median of the evals after it) must exceed the smoothed
  best by ``gl_min`` (GL >= 2 %, Prechelt's GL_2) **and** by ``z_sig`` (3) standard errors
  (medians' SE with the robust point-to-point eval noise, Hampel 1974) -- the rise must
  exceed the eval noise;
* the training loss over the same span falls by at least ``train_min_fall`` (1 %);
  the comparison is median(train, first 10 % of the span) vs median(last 10 %).

A second, patience-style path (Prechelt's "no improvement for s strips"; Keras
``EarlyStopping(patience=...)``) catches a *stalled* eval loss with a widening gap: the
minimum lies before the last ``stall_frac`` (30 %, and >= 5) of the evals, GL >= 2 %, the
post-minimum level is >= ``stall_z`` (1.5) standard errors above the best, and the train
loss fell by >= ``stall_train_fall`` (10 %) meanwhile.

**Few evals** (issue 14, pattern 4): with fewer than 5 evals (an epoch-level eval in a 3-4
epoch fine-tune, a log pasted into a thread) neither smoothing nor a noise estimate is
possible, and the paths above say nothing. There, ``few_min_evals`` (3) or more evals whose
minimum is followed by ``few_min_rises`` (2) or more evals that *each* rise over the one
before, ending >= ``few_gl_min`` (GL_2, 2 %) above the minimum, while the training loss over
the same span falls by >= ``train_min_fall`` (and, over >= 8 training points, significantly:
one-sided exact Mann-Kendall ``p < few_train_alpha``, 0.05, as a noisy per-step loss
meanders by 1 % between two medians), are overfitting: every eval after the best is
worse than the one before, which Prechelt's "UP_s" criterion (s successive strips with a
rising validation error) calls a stop at s = 2. Thresholds fitted on tune (and checked on
the blind sets as a second tune-like source) by ``benchmarks/fit_overfit_few.py``.

**Memorised** (issue 14, pattern 7's "a dataset memorised over many epochs"): when no path
above fires, an eval loss that sits >= ``gap_ratio`` (100) times above the training loss at
the same steps (medians of the eval's last third and of the training loss's last 10 %), while
the eval loss's later half does not fall (Mann-Kendall as above), is overfitting: the model fits its training set two orders of
magnitude better than anything else (Zhang et al. 2017, "Understanding deep learning requires
rethinking generalization": networks memorise their training set). Fitted on tune by
``benchmarks/fit_overfit_gap.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from losscheck.analysis._util import diff_noise, py, rolling_median
from losscheck.model import Overfit, Series
from losscheck.ranges import POSITIVE_COUNT


@dataclass
class OverfitOptions:
    """Thresholds of :func:`detect_overfit` (sources in the module doc)."""

    min_after: int = field(default=3, metadata={"range": POSITIVE_COUNT})  # evals after the best: 0 divided by 0
    gl_min: float = 0.02
    z_sig: float = 3.0
    train_min_fall: float = 0.01
    stall_frac: float = 0.3
    stall_min: int = 5
    stall_z: float = 1.5
    stall_train_fall: float = 0.10
    few_min_evals: int = field(default=3, metadata={"range": POSITIVE_COUNT})
    few_min_rises: int = field(default=2, metadata={"range": POSITIVE_COUNT})
    few_gl_min: float = 0.02
    few_train_alpha: float = 0.05
    gap_ratio: float = 100.0


def detect_overfit(train: Series | None, eval_: Series | None, opts: OverfitOptions | None = None
                   ) -> tuple[Overfit | None, dict]:
    """Detect a persistent eval-loss rise while the train loss falls.

    Args:
        train: training loss series (steps int64 (n,), values float64 (n,)).
        eval_: eval loss series (m,), on the same step axis.
    Returns:
        ``(Overfit or None, evidence)``; needs a train series and >= 5 finite positive eval
        points, or 3-4 for the few-evals path (module doc). Units: steps; ``rise`` and ``train_change`` are ratios - 1. Evidence
        keys ``overfit_*``, as the eval curve's evidence shows them.
    """
    o = opts or OverfitOptions()
    ev: dict = {}
    if train is None or eval_ is None:
        return None, ev
    ok = np.isfinite(eval_.values) & (eval_.values > 0)
    es, ey = eval_.steps[ok], np.log(eval_.values[ok])
    m = ey.shape[0]
    if m < 5:
        found, ev = _few_evals(train, es, ey, o, ev)
        return (found, ev) if found is not None else _memorised(train, es, ey, o, ev)
    w = 3 if m < 15 else 5
    sm = rolling_median(ey, w, trailing=False, min_periods=1)
    i_b = int(np.argmin(sm))
    n_after = m - 1 - i_b
    ev["overfit_evals_after_best"] = n_after
    if n_after < o.min_after:
        return _memorised(train, es, ey, o, ev)
    best_s = float(sm[i_b])
    post = ey[i_b + 1:]
    level = float(np.median(post))
    sig = diff_noise(ey)
    se = 1.2533 * sig * np.sqrt(1.0 / post.shape[0] + 1.0 / w)
    gl = float(np.exp(level - best_s) - 1.0)
    # raw minimum (reported) within the smoothing window of the smoothed best
    lo, hi = max(0, i_b - w // 2), min(m, i_b + w // 2 + 1)
    i_raw = lo + int(np.argmin(ey[lo:hi]))
    best_step = int(es[i_raw])
    tfin = np.isfinite(train.values) & (train.values > 0)
    ts, ty = train.steps[tfin], np.log(train.values[tfin])
    span = (ts >= best_step) & (ts <= es[-1])
    if span.sum() < 2:
        span = ts >= best_step
    tys = ty[span]
    if tys.shape[0] >= 2:
        k = max(1, int(round(0.1 * tys.shape[0])))
        train_change = float(np.exp(np.median(tys[-k:]) - np.median(tys[:k])) - 1.0)
    else:
        train_change = 0.0
    # persistence: consecutive evals at the end above the raw best
    above = ey > ey[i_raw]
    tail = 0
    for a in above[::-1]:
        if not a:
            break
        tail += 1
    ev.update(py({"overfit_gl_percent": 100.0 * gl, "overfit_eval_noise_log": sig, "overfit_rise_se_log": se,
                  "overfit_rise_z": (level - best_s) / se if se > 0 else None,
                  "overfit_train_change": train_change, "overfit_best_step": best_step,
                  "overfit_persistence": tail}))
    z = (level - best_s) / se if se > 0 else (np.inf if level > best_s else 0.0)
    rising = z >= o.z_sig
    stalled = (n_after >= max(o.stall_min, o.stall_frac * m) and z >= o.stall_z
               and train_change <= -o.stall_train_fall)
    ev["overfit_path"] = "rise" if rising else ("stall" if stalled else "none")
    if gl < o.gl_min or train_change > -o.train_min_fall or not (rising or stalled):
        return _memorised(train, es, ey, o, ev)
    best = float(np.exp(ey[i_raw]))
    last = float(np.exp(ey[-1]))
    return Overfit(best_step=best_step, best=best, last=last, rise=last / best - 1.0,
                   persistence=tail, train_change=train_change), ev


#: training points from which the few-evals path also asks the training loss's fall to be
#: significant (one-sided exact Mann-Kendall at ``few_train_alpha``), and the most block
#: medians the test then compares (it compares every pair: bounded work)
FEW_TRAIN_TEST_POINTS = 8
FEW_TRAIN_MAX_BLOCKS = 60


def _train_change(train: Series, start: int, end: int) -> tuple[float, float]:
    """``(change, p_down)`` of the training loss from ``start`` to ``end`` (steps): the relative
    change between the medians of the first and last 10 % of its points in that span (at
    least 1 each; 0 with < 2 points), and the one-sided Mann-Kendall p-value of a fall over
    those points (1.0 below :data:`FEW_TRAIN_TEST_POINTS` points: not tested)."""
    from losscheck.analysis.short import mann_kendall

    tfin = np.isfinite(train.values) & (train.values > 0)
    ts, ty = train.steps[tfin], np.log(train.values[tfin])
    tys = ty[(ts >= start) & (ts <= end)]
    if tys.shape[0] < 2:
        tys = ty[ts >= start]
    if tys.shape[0] < 2:
        return 0.0, 1.0
    k = max(1, int(round(0.1 * tys.shape[0])))
    change = float(np.exp(np.median(tys[-k:]) - np.median(tys[:k])) - 1.0)
    if tys.shape[0] < FEW_TRAIN_TEST_POINTS:
        return change, 1.0
    if tys.shape[0] > FEW_TRAIN_MAX_BLOCKS:
        tys = np.array([np.median(b) for b in np.array_split(tys, FEW_TRAIN_MAX_BLOCKS)])
    return change, mann_kendall(tys)[2]


def _memorised(train: Series, es: np.ndarray, ey: np.ndarray, o: OverfitOptions, ev: dict
               ) -> tuple[Overfit | None, dict]:
    """The memorisation path of the module doc: ``es`` (m,) steps and ``ey`` (m,) log eval
    losses, m >= 3. The eval level (median of its last third) is >= ``gap_ratio`` times the
    training level over the same steps (median of the training loss's last 10 % up to the last
    eval), and the eval loss's later half does not fall (one-sided exact Mann-Kendall ``p >=
    few_train_alpha``; block medians past 60 evals)."""
    from losscheck.analysis.short import mann_kendall

    m = ey.shape[0]
    if m < 3:
        return None, ev
    tfin = np.isfinite(train.values) & (train.values > 0) & (train.steps <= es[-1])
    if tfin.sum() < 3:
        return None, ev
    tv = np.log(train.values[tfin])
    k, kt = max(1, m // 3), max(1, int(round(0.1 * tv.shape[0])))
    gap = float(np.median(ey[-k:]) - np.median(tv[-kt:]))
    ev["overfit_gap_ratio"] = float(np.exp(gap))
    if gap < np.log(o.gap_ratio):
        return None, ev
    i_b = int(np.argmin(ey))
    tc, _ = _train_change(train, int(train.steps[0]), int(es[-1]))
    half = ey[m // 2:]
    if half.shape[0] > 60:  # block medians: the exact test's work stays bounded
        half = np.array([np.median(b) for b in np.array_split(half, 60)])
    if half.shape[0] >= 3 and mann_kendall(half)[2] < o.few_train_alpha:
        return None, ev
    ev["overfit_path"] = "gap"
    best, last = float(np.exp(ey[i_b])), float(np.exp(ey[-1]))
    return Overfit(best_step=int(es[i_b]), best=best, last=last, rise=last / best - 1.0,
                   persistence=m - 1 - i_b, train_change=tc), ev


def _n_between(s: Series, start: int, end: int) -> int:
    """Finite positive points of ``s`` with ``start <= step <= end``."""
    ok = np.isfinite(s.values) & (s.values > 0) & (s.steps >= start) & (s.steps <= end)
    return int(ok.sum())


def _few_evals(train: Series, es: np.ndarray, ey: np.ndarray, o: OverfitOptions, ev: dict
               ) -> tuple[Overfit | None, dict]:
    """The few-evals path of the module doc: ``es`` (m,) steps and ``ey`` (m,) log eval
    losses with m < 5."""
    m = ey.shape[0]
    if m < max(o.few_min_evals, o.few_min_rises + 1):
        return None, ev
    i_b = int(np.argmin(ey))
    after = ey[i_b:]
    rises = m - 1 - i_b
    gl = float(np.exp(ey[-1] - ey[i_b]) - 1.0)
    ev.update({"overfit_evals_after_best": rises, "overfit_path": "none"})
    if rises < o.few_min_rises or not np.all(np.diff(after) > 0) or gl < o.few_gl_min:
        return None, ev
    best_step = int(es[i_b])
    tc, p_down = _train_change(train, best_step, int(es[-1]))
    tested = p_down < 1.0 or _n_between(train, best_step, int(es[-1])) >= FEW_TRAIN_TEST_POINTS
    ev.update(py({"overfit_gl_percent": 100.0 * gl, "overfit_train_change": tc, "overfit_best_step": best_step,
                  "overfit_persistence": rises, "overfit_train_p_down": p_down if tested else None}))
    if tc > -o.train_min_fall or (tested and p_down >= o.few_train_alpha):
        return None, ev
    ev["overfit_path"] = "few"
    best, last = float(np.exp(ey[i_b])), float(np.exp(ey[-1]))
    return Overfit(best_step=best_step, best=best, last=last, rise=last / best - 1.0,
                   persistence=rises, train_change=tc), ev


#: The options of :func:`detect` (the detector interface of :mod:`losscheck.analysis.prepared`).
Options = OverfitOptions


def detect(curve, opts: OverfitOptions | None = None, *, train=None):
    """Overfitting of a prepared eval curve against the prepared training curve ``train``
    (:class:`~losscheck.analysis.prepared.PreparedCurve`, either may be ``None``): a
    :class:`~losscheck.analysis.prepared.Detection` with the :class:`~losscheck.model.Overfit`
    (or ``None``) and the ``overfit_*`` evidence."""
    from losscheck.analysis.prepared import Detection

    fact, ev = detect_overfit(train.series if train is not None else None,
                              curve.series if curve is not None else None, opts)
    return Detection(fact, ev)

"""Oscillation: large, slow swings of the loss with no downward progress.

What counts: a GAN's generator/discriminator losses trading places, or SGD with too high a
learning rate / momentum bouncing across a valley (Goodfellow 2016, "NIPS tutorial: GANs",
sec. 5.1 non-convergence; Goodfellow, Bengio & Courville 2016, *Deep Learning*, sec. 8.3.2
on momentum). What does not: a converging curve with per-step noise (the swings are fast
white noise and the level falls), an epoch staircase (sharp drops at epoch boundaries of a
falling curve) and SGDR warm-restart bumps (Loshchilov & Hutter 2017) -- these all make
downward progress, and restarts are excluded by the caller from the LR schedule.

Method, on the median-binned analysis-scale curve (log-loss) after dropping the first
quarter (initial transient):

* progress: the Theil-Sen decrease over the window (Sen 1968);
* detrended residual e = y - Theil-Sen line;
* periodicity: the sample autocorrelation of e (FFT, Wiener-Khinchin; Box & Jenkins
  1976, ch. 2); the period is the first ACF peak after the first zero crossing, kept when
  its autocorrelation is >= ``min_acf`` (0.3) and above the 2/sqrt(n) white-noise band;
* slowness (aperiodic swings): the variance ratio of block means, VR = m * var(block
  means) / var(e) with blocks of m points (Lo & MacKinlay 1988): ~1 for white noise,
  >> 1 for slow wandering; oscillation needs VR >= ``min_vr`` (4);
* repetition (aperiodic case): the block medians cross their median >= ``min_crossings``
  (4) times -- up and down at least twice; a single jump or a trend is not a swing;
* amplitude: the robust standard deviation of the block means (or of e, periodic case),
  in log units, >= ``min_swing`` (ln 1.2: the loss swings by >= ~20 %), and the range of
  the block medians >= ``progress_frac`` (30 %) of the run's total log decrease (so a
  converged floor wandering by x3 after a x10^6 drop is not an oscillation).

Oscillating = swings large and slow (or periodic) AND the window's decrease is < 2 x the
swing amplitude (no downward progress); or, with progress, a pattern that repeats every P
steps (autocorrelation >= 0.5 at P after removing a moving-median trend, >= 5 cycles):
data served in a fixed order (:func:`periodic_pattern`) -- when its amplitude is at least
``periodic_progress_ratio`` (0.15) of the window's decrease (issue 14, pattern 2: the
amplitude relative to progress, not the mere presence of a period, decides: a fine-tune's
epoch-boundary or ``group_by_length`` ripple of 2-8 % of its progress is healthy, a fixed
class order swinging by 20-50 % of it is not; fitted on tune by
``benchmarks/fit_osc_progress.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from losscheck.analysis._util import median_filter_nearest, robust_sd, theil_sen
from losscheck.model import Oscillation


@dataclass
class OscillationOptions:
    """Thresholds of :func:`detect_oscillation` (sources in the module doc)."""

    min_acf: float = 0.3
    min_vr: float = 4.0
    min_swing: float = float(np.log(1.2))
    progress_frac: float = 0.3
    skip_frac: float = 0.25
    min_crossings: int = 4
    # tuned on the corpus tune split: healthy runs reach at most 0.37 (an epoch staircase),
    # runs on class-sorted data 0.53-0.68; ln 1.04 keeps periodicity in pure noise out
    periodic_acf: float = 0.5
    periodic_cycles: float = 5.0
    periodic_swing: float = float(np.log(1.04))
    periodic_progress_ratio: float = 0.15


def acf(e: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation of ``e`` (n,) for lags 0..max_lag, via FFT (O(n log n))."""
    n = e.shape[0]
    e = e - e.mean()
    f = np.fft.rfft(e, 2 * n)
    c = np.fft.irfft(f * np.conj(f))[: max_lag + 1]
    return c / c[0] if c[0] > 0 else np.zeros(max_lag + 1)


def detect_oscillation(x: np.ndarray, y: np.ndarray, total_progress: float,
                       opts: OscillationOptions | None = None
                       ) -> tuple[Oscillation | None, dict]:
    """Decide whether a binned curve oscillates.

    Args:
        x: (n,) bin steps; y: (n,) analysis-scale values (log-loss).
        total_progress: the whole run's log decrease (start level - minimum level), >= 0.
    Returns:
        ``(Oscillation or None, evidence)``; ``evidence`` always holds the measured numbers
        (JSON-friendly), keyed ``osc_*`` as the curve's evidence shows them. ``None`` when the
        curve has fewer than 16 bins after the skip.
    """
    o = opts or OscillationOptions()
    n0 = y.shape[0]
    i0 = int(n0 * o.skip_frac)
    x, y = x[i0:], y[i0:]
    n = y.shape[0]
    ev: dict = {}
    if n < 16:
        return None, ev
    slope, lo, hi = theil_sen(x, y)
    span = float(x[-1] - x[0])
    decrease = -slope * span
    e = y - (np.median(y - slope * x) + slope * x)
    sd_e = robust_sd(e)
    m = max(2, n // 20)
    nb = n // m
    blocks = e[: nb * m].reshape(nb, m).mean(axis=1)
    var_e = float(np.var(e))
    vr = float(m * np.var(blocks) / var_e) if var_e > 0 else 0.0
    swing_slow = robust_sd(blocks)
    r = acf(e, n // 2)
    period = None
    strength = 0.0
    neg = np.flatnonzero(r[1:] < 0)
    if neg.size:
        z0 = int(neg[0]) + 1
        if z0 + 1 < r.shape[0]:
            k = z0 + int(np.argmax(r[z0:]))
            if 0 < k < r.shape[0] - 1 and r[k] >= max(o.min_acf, 2.0 / np.sqrt(n)) \
                    and r[k] >= r[k - 1] and r[k] >= r[k + 1]:
                period = float(k * span / max(n - 1, 1))
                strength = float(r[k])
    swing = max(swing_slow, sd_e if period is not None else 0.0)
    # block medians of the detrended curve: range and crossings of their median
    bm = np.median(e[: nb * m].reshape(nb, m), axis=1)
    rng_b = float(np.ptp(bm))
    sgn = np.sign(bm - np.median(bm))
    sgn = sgn[sgn != 0]
    crossings = int(np.sum(sgn[1:] != sgn[:-1]))
    yb = np.median(y[: nb * m].reshape(nb, m), axis=1)
    end_within = bool(yb[-1] <= np.max(yb[:-3])) if nb > 4 else False
    raw_dev = np.exp(e)  # detrended curve as a ratio to its trend
    cv = float(np.std(raw_dev) / np.mean(raw_dev)) if np.mean(raw_dev) > 0 else 0.0
    ev = {"osc_window_decrease_log": decrease, "osc_swing_log": swing, "osc_range_log": rng_b,
          "osc_variance_ratio": vr, "osc_acf_peak": strength, "osc_period_steps": period, "osc_cv": cv,
          "osc_crossings": crossings, "osc_end_within_swings": end_within}
    big = swing >= o.min_swing and rng_b >= o.progress_frac * max(total_progress, 0.0)
    slow = period is not None or (vr >= o.min_vr and crossings >= o.min_crossings)
    no_progress = decrease < 2.0 * swing
    if big and slow and no_progress:
        return Oscillation(period_steps=period, strength=strength if period is not None else cv, cv=cv), ev
    per = periodic_pattern(x, y)
    if per is not None:
        k_steps, s_acf, cycles, amp = per
        ev.update(osc_periodic_period_steps=k_steps, osc_periodic_acf=s_acf, osc_periodic_cycles=cycles,
                  osc_periodic_swing_log=amp)
        ev["osc_periodic_progress_ratio"] = amp / decrease if decrease > 0 else None
        if s_acf >= o.periodic_acf and cycles >= o.periodic_cycles and amp >= o.periodic_swing \
                and amp >= o.periodic_progress_ratio * decrease:
            ev["osc_periodic_with_progress"] = True
            return Oscillation(period_steps=k_steps, strength=s_acf, cv=cv), ev
    return None, ev


#: The options of :func:`detect` (the detector interface of :mod:`losscheck.analysis.prepared`).
Options = OscillationOptions


def detect(curve, opts: OscillationOptions | None = None):
    """Oscillation of a prepared curve (:class:`~losscheck.analysis.prepared.PreparedCurve`):
    a :class:`~losscheck.analysis.prepared.Detection` with the :class:`~losscheck.model.Oscillation`
    (or ``None``) and the ``osc_*`` evidence; the swings are weighed against the curve's coarse
    progress (``curve.progress_log``)."""
    from losscheck.analysis.prepared import Detection

    if not curve.binned:
        return Detection()
    fact, ev = detect_oscillation(curve.tb, curve.yb, max(curve.progress_log, 0.0), opts)
    return Detection(fact, ev)


def periodic_pattern(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float] | None:
    """A pattern that repeats every P steps on top of a trend (a fixed data order).

    Data served in the same order every epoch (e.g. sorted by class) make the loss repeat the
    same within-epoch shape each epoch while the level still falls, so the trend test above
    (no downward progress) does not see it. Here the trend is removed with a wide centred
    moving median (a quarter of the window), and the autocorrelation of the residual is
    searched for its strongest peak after the first zero crossing (Box & Jenkins 1976).

    Args:
        x: (n,) bin steps; y: (n,) analysis-scale values.
    Returns:
        ``(period in steps, autocorrelation at the period, cycles in the window, residual
        robust SD in log units)``, or ``None`` with fewer than 32 bins or no peak.
    """
    n = y.shape[0]
    if n < 32:
        return None
    w = max(5, (n // 4) | 1)  # odd: the window is centred; the ends repeat the edge values
    y = np.asarray(y, dtype=np.float64)
    e = y - median_filter_nearest(y, w)
    r = acf(e, n // 3)
    neg = np.flatnonzero(r[1:] < 0)
    if not neg.size:
        return None
    z0 = int(neg[0]) + 1
    if z0 + 1 >= r.shape[0]:
        return None
    k = z0 + int(np.argmax(r[z0:]))
    if k < 3:
        return None
    span = float(x[-1] - x[0])
    step_per_bin = span / max(n - 1, 1)
    return float(k * step_per_bin), float(r[k]), float(n / k), float(robust_sd(e))

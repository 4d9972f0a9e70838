"""Divergence: the loss grows -- it ends well above its best level, or drifts up steadily.

Criteria (on the median-binned log-loss, so thresholds are ratios and scale-free):

* **rise from the best**: the curve is cut into (at most) 20 equal blocks whose medians
  give a robust coarse curve (noise sd ``1.2533 sigma / sqrt(block size)``, Hampel 1974).
  With ``best`` its minimum and ``end`` its last block, the run diverges when
  ``end - best >= max(ln min_ratio, progress_frac * (start - best)) + 3 sqrt(2) sd``:
  the loss is at least 1.5 x its best (``min_ratio``), the rise undoes at least 30 % of the
  log-progress made (so a converged 1e-4 loss drifting to 1e-3 after falling from 1 is not
  flagged), and the rise is beyond block-median noise.
* **slow drift**: a run that never improved (start - best < ln 1.05) whose Theil-Sen slope
  (Theil 1950; Sen 1968) is positive with its 95 % CI above 0 and whose end is >= 3 %
  above its start (``drift_min``).

Onset: binary segmentation on log-loss (:mod:`losscheck.analysis.changepoint`), the change
point where the final climb starts. After the onset the growth is summarised by the
log-linear rate ``r`` (OLS of log-loss on steps; ``loss ~ exp(r step)``) and the doubling
time ``ln 2 / r`` steps -- exponential growth is the signature of an unstable optimiser
(e.g. LR above the edge of stability; Cohen et al. 2021, "Gradient descent on neural
networks typically occurs at the edge of stability").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from losscheck.analysis._util import diff_noise, rolling_median, theil_sen
from losscheck.analysis.changepoint import Segment, onset_of_rise
from losscheck.analysis.trend import growth_rate
from losscheck.ranges import POSITIVE_COUNT


@dataclass
class DivergenceOptions:
    """Thresholds of :func:`detect_divergence` (sources in the module doc)."""

    min_ratio: float = 1.5
    progress_frac: float = 0.3
    drift_min: float = float(np.log(1.03))
    never_improved: float = float(np.log(1.05))
    blocks: int = field(default=20, metadata={"range": POSITIVE_COUNT})  # divides the curve


@dataclass
class Divergence:
    """Result of :func:`detect_divergence` (all JSON-friendly scalars in ``evidence``)."""

    diverging: bool = False
    kind: str = ""  # "rise" or "drift"
    onset_idx: int | None = None  # bin index
    rise_log: float = 0.0
    progress_log: float = 0.0
    best_idx: int = 0
    end_above_start: bool = False
    start_log: float = 0.0
    end_log: float = 0.0
    evidence: dict = field(default_factory=dict)


def block_medians(y: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Split (n,) into ``min(blocks, n)`` equal-count blocks; returns (medians, start index
    of each block, block size)."""
    n = y.shape[0]
    b = min(blocks, n)
    k = n // b
    idx = np.arange(b) * k
    med = np.empty(b)
    med[:-1] = np.median(y[: (b - 1) * k].reshape(b - 1, k), axis=1)
    med[-1] = np.median(y[(b - 1) * k:])  # the last block takes the remainder
    return med, idx, k


def coarse_progress(y: np.ndarray, blocks: int) -> float:
    """The coarse log-progress of a binned curve (n,): ``max(start - best, 0)`` over
    ``min(blocks, n)`` block medians (0.0 with fewer than 4 bins) -- what
    :func:`detect_divergence` compares a rise with, and the oscillation detector compares
    swings with."""
    if y.shape[0] < 4:
        return 0.0
    med, _, _ = block_medians(y, blocks)
    return max(float(med[0]) - float(np.min(med)), 0.0)


#: The options of :func:`detect` (the detector interface of :mod:`losscheck.analysis.prepared`).
Options = DivergenceOptions


def detect(curve, opts: DivergenceOptions | None = None):
    """The divergence test of a prepared curve (:class:`~losscheck.analysis.prepared.PreparedCurve`):
    a :class:`~losscheck.analysis.prepared.Detection` whose fact is the :class:`Divergence`
    (``.diverging`` says whether it diverges; ``None`` for a curve too short to bin) and whose
    evidence is ``rise_ratio``, ``rise_needed_ratio``, ``progress_ratio`` (and ``drift_ratio``)."""
    from losscheck.analysis.prepared import Detection

    if not curve.binned:
        return Detection()
    d = detect_divergence(curve.tb, curve.yb, curve.segments, opts)
    return Detection(d, dict(d.evidence))


def detect_divergence(x: np.ndarray, y: np.ndarray, segments: list[Segment],
                      opts: DivergenceOptions | None = None) -> Divergence:
    """Decide whether a binned log-loss curve diverges and where it starts.

    Args:
        x: (n,) bin steps; y: (n,) log-loss bins; segments: change points of (x, y).
    """
    o = opts or DivergenceOptions()
    d = Divergence()
    n = y.shape[0]
    if n < 4:
        return d
    sig = diff_noise(y)
    med, idx, k = block_medians(y, o.blocks)
    sd = 1.2533 * sig / np.sqrt(max(k, 1))
    i_b = int(np.argmin(med))
    best, end, start = float(med[i_b]), float(med[-1]), float(med[0])
    rise = end - best
    progress = max(start - best, 0.0)
    need = max(np.log(o.min_ratio), o.progress_frac * progress) + 3.0 * np.sqrt(2.0) * sd
    d.rise_log, d.progress_log = rise, progress
    d.end_above_start = end > start
    d.start_log, d.end_log = float(np.median(y[:3])), end
    d.evidence = {"rise_ratio": float(np.exp(rise)), "rise_needed_ratio": float(np.exp(need)),
                  "progress_ratio": float(np.exp(progress))}
    if rise >= need and i_b < med.shape[0] - 1:
        d.diverging, d.kind = True, "rise"
    else:
        slope, lo, hi = theil_sen(x, y)
        total = slope * float(x[-1] - x[0])
        if progress < o.never_improved and lo > 0 and total >= o.drift_min and end - start >= o.drift_min:
            d.diverging, d.kind = True, "drift"
            d.evidence["drift_ratio"] = float(np.exp(total))
    if not d.diverging:
        return d
    kk = max(1, n // 50) | 1
    ys = rolling_median(y, kk, trailing=False, min_periods=1) if kk > 1 else y
    if d.kind == "drift":
        d.onset_idx = 0
    else:
        d.onset_idx = onset_of_rise(segments, x, ys, sig)
    d.best_idx = int(idx[i_b])
    return d


def post_onset_growth(steps: np.ndarray, y: np.ndarray, onset_step: int) -> dict:
    """Log-linear growth after the onset: rate per step, doubling steps, R^2, jump ratio.

    Args:
        steps: (m,) raw finite steps; y: (m,) log-loss; onset_step: in steps.
    """
    sel = steps >= onset_step
    out: dict = {}
    pre = y[steps < onset_step]
    if sel.sum() >= 1 and pre.size:
        out["jump_ratio"] = float(np.exp(y[sel][0] - np.median(pre[-5:])))
    if sel.sum() >= 3:
        r, r2 = growth_rate(steps[sel], y[sel])
        out["growth_rate_per_step"] = r
        out["growth_r2"] = r2
        if r > 0:
            out["doubling_steps"] = float(np.log(2.0) / r)
    return out

"""Loss spikes: sudden jumps of the loss above its recent level, recovered or not.

Why it matters: loss spikes are the classic instability of large-model training (Chowdhery
et al. 2022, PaLM, sec. 5.1: spikes "roughly 20 times" during training, handled by
restarting before the spike and skipping batches; Wortsman et al. 2023, "Small-scale
proxies for large-scale Transformer training instabilities": attention-logit growth and
output-logit divergence; Molybog et al. 2023, "A theory on Adam instability in large-scale
machine learning": time-domain correlation of gradient estimates makes Adam's update
blow up). A spike that never recovers leaves the run at a worse level.

Method (one O(n log w) pass on *all* finite points, no binning so no spike is smoothed away):

1. baseline_i = median of the ``w`` previous log values (trailing rolling median; a
   Hampel filter, Hampel 1974 / Pearson 2002), ``w = clip(n / 100, 5, 25)``;
   residual r_i = y_i - baseline_i (log-ratio to the recent level).
2. noise: sigma_i = 1.4826 * trailing rolling MAD of r over ``10 w + 1`` points (an odd
   window: one middle value, one rank-filter pass on long curves), floored at
   half the global MAD and at ``sigma_floor`` (0.5 %); robust z_i = (r_i - median r)/sigma_i
   (Rousseeuw & Croux 1993).
3. a point is a spike candidate when all of:

   * ``z >= z_thresh`` (6; a 3-sigma Hampel rule is made for one outlier among few
     points; over 10^5-10^6 per-step points a Gaussian would pass 3.5 sigma hundreds of
     times, so 6) **and** ``z >= tail_factor * q99(z)`` (2 x the 99th percentile of
     the positive z's, with >= 500 of them so that a few real spikes do
     not set their own bar: heavy-tailed healthy noise -- batch size 4-8 -- raises its own bar);
   * the jump is at least ``min_ratio`` (x1.3) over the baseline; and
   * it is large on the scale of the whole run: the log-jump is at least
     ``progress_frac`` (40 %) of the run's log range (``log(initial level) - log(lowest
     baseline)``, the initial level being the largest of the first 3 points, as the
     loss often falls several-fold within the first logged points). A converged
     loss of 1e-4 jumping to 1e-3 after falling from 1 (9.2 log units; the jump is 25 %)
     is noise at the floor, not an instability; a converged 0.05 jumping above its
     initial level is.

   An isolated single-point candidate must also beat ``tail_factor * q99.9(z)`` (with
   >= 1000 points): per-step losses of small batches have rare single-step outliers of x10
   or more, while an optimiser instability lasts several steps (Molybog et al. 2023).
4. consecutive candidates form one spike; its peak is the largest residual. Recovery:
   the first later point whose forward 3-point median is back within
   ``max(2 sigma, ln 1.1)`` of the pre-spike baseline; ``level_ratio`` compares with the
   baseline the median of the next ``w`` points after recovery, or, for a spike that does
   not recover, the lowest median of ``w`` consecutive points within the ``4 w`` points after
   it (where the loss settles once the turbulence after a blow-up has passed, which the
   first ``w`` points can still hold). A spike that does not recover and sits >= x1.2 (and
   3 sigma) above the baseline is a *jump to a worse level*, provided the shift gives back
   at least 10% of the progress made before it, in loss units (a tiny converged loss that
   settles 1.7x higher is noise around a floor, not lost learning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from losscheck.analysis._util import MAD_TO_SD, Transformed, rolling_median
from losscheck.model import Spike


@dataclass
class SpikeOptions:
    """Thresholds of :func:`detect_spikes` (sources in the module doc)."""

    z_thresh: float = 6.0
    tail_factor: float = 2.0
    min_ratio: float = 1.3
    progress_frac: float = 0.4
    worse_ratio: float = 1.2
    sigma_floor: float = 0.005
    worse_progress_frac: float = 0.1


@dataclass
class SpikeReport:
    """Spikes of one curve plus the calibration numbers (for ``evidence``)."""

    spikes: list[Spike] = field(default_factory=list)
    worse: list[Spike] = field(default_factory=list)
    threshold_z: float = 0.0
    noise: float = 0.0
    range_log: float = 0.0


def detect_spikes(tr: Transformed, opts: SpikeOptions | None = None) -> SpikeReport:
    """Find spikes in one curve.

    Args:
        tr: the curve's finite points on the analysis scale (m,) (see
            :func:`losscheck.analysis._util.transform`). Steps in training steps.
    Returns:
        a :class:`SpikeReport`; empty with fewer than 8 finite points.
    """
    o = opts or SpikeOptions()
    y, st = tr.y, tr.steps
    m = y.shape[0]
    rep = SpikeReport()
    if m < 8:
        return rep
    w = int(np.clip(m // 100, 5, 25))
    # (in-place arithmetic below keeps a million-point curve's temporaries to a few arrays)
    base = rolling_median(y, w, trailing=True, min_periods=3)
    r = y - base
    ok = np.isfinite(r)
    if ok.sum() < 5:
        return rep
    # (the medians partition their own copy of the selection: overwrite_input saves a second)
    med_r = float(np.median(r[ok], overwrite_input=True))
    dev = np.subtract(r, med_r)  # |r - med_r| (NaN where r is)
    np.abs(dev, out=dev)
    g = MAD_TO_SD * float(np.median(dev[ok], overwrite_input=True))
    loc = rolling_median(dev, 10 * w + 1, trailing=True, min_periods=w)
    del dev
    loc *= MAD_TO_SD
    loc[~np.isfinite(loc)] = g
    sig = np.fmax(loc, max(0.5 * g, o.sigma_floor), out=loc)
    z = np.subtract(r, med_r)  # made only now: one array less alive during the rolling medians
    z /= sig
    z[~ok] = 0.0
    zpos = z[z > 0]
    q99 = float(np.quantile(zpos, 0.99)) if zpos.size >= 500 else 0.0
    thr = max(o.z_thresh, o.tail_factor * q99)
    q999 = float(np.quantile(zpos, 0.999)) if zpos.size >= 1000 else q99
    thr_single = max(thr, o.tail_factor * q999)
    rep.threshold_z, rep.noise = thr, g
    y_init = float(np.max(y[:3]))
    progress = max(y_init - float(np.nanmin(base)), 0.0)
    rep.range_log = progress
    need = max(float(np.log(o.min_ratio)), o.progress_frac * progress)
    cand = ok & (z >= thr) & (r >= need)
    if not cand.any():
        return rep
    idx = np.flatnonzero(cand)
    # clusters of consecutive candidates (a gap of one point still joins them)
    breaks = np.flatnonzero(np.diff(idx) > 2)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [idx.size - 1]])
    # forward 3-point median for recovery checks
    fwd = rolling_median(y[::-1], 3, trailing=False, min_periods=1)[::-1]
    band_floor = np.log(1.1)
    for a, b in zip(starts, ends):
        cl = idx[a: b + 1]
        p = int(cl[np.argmax(r[cl])])
        if cl.size == 1 and z[p] < thr_single:
            continue  # an isolated point: must beat the noise's own extreme tail
        b0 = float(base[cl[0]])
        band = max(2.0 * float(sig[p]), band_floor)
        after = np.flatnonzero(fwd[p + 1:] <= b0 + band)
        if after.size:
            j = p + 1 + int(after[0])
            rec = int(st[j] - st[p])
            lvl = float(np.median(y[j:j + w])) - b0
        else:
            rec = None
            lvl = _settled_level(y, int(cl[-1]) + 1, w, SETTLE_WINDOWS) - b0
            if not np.isfinite(lvl):  # the spike ends the curve
                lvl = float(np.median(y[cl])) - b0
        if tr.domain == "log":
            ratio = float(np.exp(y[p] - b0))
            lratio = float(np.exp(lvl))
        else:
            bv = float(tr.inverse(b0))
            ratio = float(tr.inverse(y[p]) / bv) if bv != 0 else float("inf")
            lratio = float(tr.inverse(b0 + lvl) / bv) if bv != 0 else float("inf")
        sp = Spike(step=int(st[p]), ratio=ratio, z=float(z[p]), recover_steps=rec, level_ratio=lratio)
        rep.spikes.append(sp)
        if rec is None and lvl >= max(np.log(o.worse_ratio), 3.0 * float(sig[p])) \
                and _costs_progress(tr, int(cl[0]), b0, lvl, o.worse_progress_frac):
            sp.worse = True
            rep.worse.append(sp)
    return rep


#: The options of :func:`detect` (the detector interface of :mod:`losscheck.analysis.prepared`).
Options = SpikeOptions


def detect(curve, opts: SpikeOptions | None = None):
    """Spikes of a prepared curve (:class:`~losscheck.analysis.prepared.PreparedCurve`), on all
    its finite points (no binning): a :class:`~losscheck.analysis.prepared.Detection` whose
    fact is the :class:`SpikeReport` (its lists empty when there is none) and whose evidence is
    ``spike_threshold_z`` and, with spikes, ``spike_count``, ``spike_max_ratio``,
    ``spike_max_z``, ``spike_max_step`` and ``spikes_worse_level``."""
    from losscheck.analysis.prepared import Detection

    sp = detect_spikes(curve.tr, opts)
    ev: dict = {"spike_threshold_z": sp.threshold_z}
    if sp.spikes:
        big = max(sp.spikes, key=lambda s: s.ratio)
        ev.update({"spike_count": len(sp.spikes), "spike_max_ratio": big.ratio, "spike_max_z": big.z,
                   "spike_max_step": big.step, "spikes_worse_level": len(sp.worse)})
    return Detection(sp, ev)


#: an unrecovered spike's level is looked for over this many windows of ``w`` points after it
SETTLE_WINDOWS = 4


def _settled_level(y: np.ndarray, i0: int, w: int, windows: int) -> float:
    """Where the curve settles after an unrecovered spike: the lowest median of ``w``
    consecutive points within the ``windows * w`` points from index ``i0`` (fewer near the
    end of the curve; all of them when fewer than ``w`` remain; NaN when none do).

    A spike is often followed by a few more wild points before the loss settles (the
    optimiser's state is damaged for a while); the median of the first ``w`` points after
    it can still sit in that turbulence and overstate the level by orders of magnitude.
    The lowest windowed median is where the loss stays once it has calmed down, and it
    can only understate a shift, never invent one.
    """
    seg = y[i0:i0 + windows * w]
    if seg.size == 0:
        return float("nan")
    if seg.size <= w:
        return float(np.median(seg))
    return float(np.min(np.median(np.lib.stride_tricks.sliding_window_view(seg, w), axis=1)))


def _costs_progress(tr: Transformed, i0: int, b0: float, lvl: float, frac: float) -> bool:
    """Whether a level shift gives back at least ``frac`` of the progress made before it.

    Measured in loss units (not log units): a converged loss of 5e-3 that settles at 9e-3 is
    ~1.7x higher, but gives back 0.2% of a 2.3 -> 0.005 descent; a model that "lost what it
    learned" gives back a real share of it. ``i0`` is the first index of the spike, ``b0``
    the pre-spike baseline and ``lvl`` the shift, both on the analysis scale. Curves on the
    asinh scale are always judged by the ratio test alone (returns True).
    """
    if tr.domain != "log" or i0 <= 0:
        return True
    init = float(np.max(tr.raw[:min(3, i0)]))
    best = float(np.min(tr.raw[:i0]))
    gained = init - best
    if gained <= 0:
        return True
    lost = float(np.exp(b0 + lvl) - np.exp(b0))
    return lost >= frac * gained

"""Learning-rate context: schedule facts used as evidence by the classifier and rules.

Sources: linear warmup (Goyal et al. 2017, "Accurate, large minibatch SGD: training
ImageNet in 1 hour", sec. 2.2; transformers ``get_linear_schedule_with_warmup``); warm
restarts (Loshchilov & Hutter 2017, SGDR). ``warmup_steps`` is measured as the steps from
the first logged point to the first point at >= 90 % of the peak (0 when the first point is
already there). Units: steps (or epochs, as logged) and LR units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from losscheck.analysis.evidence import finite_xy
from losscheck.model import CurveAnalysis, EarlyTrouble, LRContext, LRFinite, LRZeroStretch, Series


def lr_context(lr: Series | None) -> LRContext | None:
    """Summarise an LR series (values float64 (n,), steps int64 (n,)); ``None`` if no
    finite positive LR point.

    Returns an :class:`~losscheck.model.LRContext` over the finite points: the peak LR and its
    step, ``warmup_steps`` (steps from the first logged point to the first at >= 90% of the
    peak, module doc), the first and final LR, whether it decays (falls below half the peak
    after it), whether it ends at zero (<= 1e-12 x
    peak), and the SGDR restart steps (:func:`restart_steps`). O(n). Never raises on odd data.
    """
    if lr is None:
        return None
    ok = np.isfinite(lr.values)
    v, s = lr.values[ok], lr.steps[ok]
    if v.size == 0 or not np.max(v) > 0:
        return None
    i = int(np.argmax(v))
    peak = float(v[i])
    j = int(np.flatnonzero(v >= 0.9 * peak)[0])
    after = v[i:]
    return LRContext(peak=peak, peak_step=int(s[i]), warmup_steps=int(s[j] - s[0]), first=float(v[0]),
                     final=float(v[-1]), decays=bool(np.any(after < 0.5 * peak)),
                     zero=bool(v[-1] <= 1e-12 * peak), restart_steps=restart_steps(lr))


#: The LR context has no configurable options.
Options = None


def detect(curve, opts=None):
    """The LR schedule context of a prepared LR curve (:class:`~losscheck.analysis.prepared.PreparedCurve`,
    or ``None``): a :class:`~losscheck.analysis.prepared.Detection` with the
    :class:`~losscheck.model.LRContext` (``None`` without a finite positive LR)."""
    from losscheck.analysis.prepared import Detection

    return Detection(lr_context(curve.series if curve is not None else None))


def in_warmup(lr: Series | None, configured_peak: float | None = None) -> bool:
    """True when the log ends while the LR is still warming up.

    That is: the LR rises over the log (last > 2 x first), its maximum is the last point,
    and -- when the configured peak LR is known (``meta["learning_rate"]``) -- the last LR
    is below 90 % of it.
    """
    if lr is None:
        return False
    ok = np.isfinite(lr.values)
    v = lr.values[ok]
    if v.size < 2:
        return False
    if configured_peak and configured_peak > 0 and v[-1] < 0.9 * configured_peak:
        return bool(v[-1] > v[0])
    return bool(v[-1] > 2.0 * max(v[0], 0.0) and v[-1] >= np.max(v) and v[-1] > v[0])


def restart_steps(lr: Series | None) -> list[int]:
    """The steps where the LR climbs back (> 2x its low, to > 50 % of the previous peak) after
    having decayed below 50 % of that peak: SGDR warm restarts (Loshchilov & Hutter 2017).
    A warmup from ~0 is not a restart. Returns the step where each restart is first seen.

    The scan is a two-state machine (before / after the decay below half the running peak).
    Up to :data:`SCAN_LOOP_MAX` points it walks the points in Python (~0.1 us each); longer
    series find each state's exit with cumulative max/min over windows that double in length
    (a few numpy passes per restart, ~10 us), so a 5,000-point LR costs ~0.05 ms and a
    million-point one milliseconds. When restarts come densely (a segment shorter than
    :data:`DENSE_SEGMENT` points) the windows cost more than walking, and the rest of the
    series is walked point by point from that restart on (the state machine starts afresh at
    every restart, so the hand-over is exact). Both give the same steps (tested)."""
    if lr is None:
        return []
    ok = np.isfinite(lr.values)
    v, s = lr.values[ok], lr.steps[ok]
    n = v.size
    if n < 3:
        return []
    if n <= SCAN_LOOP_MAX:
        return _restart_loop(v, s)
    return _restart_windows(v, s)


#: series up to this many points are scanned point by point (see :func:`restart_steps`)
SCAN_LOOP_MAX = 512
#: a segment between restarts shorter than this hands the rest of the scan to the loop
DENSE_SEGMENT = 256


def _restart_windows(v: np.ndarray, s: np.ndarray) -> list[int]:
    """:func:`restart_steps` by windowed numpy scans: v (n,) finite LR values, s (n,) steps."""
    n = v.size
    out: list[int] = []
    k = 0  # a segment starts at k with the running peak v[k] (the start, or a restart)
    while k < n - 1:
        # state 1: the first d > k where v[d] < 0.5 * max(v[k..d])
        d, peak = _first_decay(v, k)
        if d < 0:
            break
        # state 2: the first i > d where v[i] > 2 * min(v[d..i]) and v[i] > 0.5 * max(v[k..i-1])
        r = _first_climb(v, d, peak)
        if r < 0:
            break
        out.append(int(s[r]))
        if r - k < DENSE_SEGMENT:  # dense restarts: walking is cheaper from here on
            return out + _restart_loop(v[r:], s[r:])
        k = r
    return out


def _restart_loop(v: np.ndarray, s: np.ndarray) -> list[int]:
    """:func:`restart_steps` point by point: v (n,) finite LR values, s (n,) their steps."""
    out: list[int] = []
    runmax, low, decayed = float(v[0]), float("inf"), False
    # Python floats and plain comparisons (no min/max calls): ~0.25 us per point
    for x, st in zip(v[1:].tolist(), s[1:].tolist()):
        if decayed:
            if x < low:
                low = x
            if x > 2.0 * low and x > 0.5 * runmax:
                out.append(st)
                runmax, low, decayed = x, float("inf"), False
                continue
        if x > runmax:
            runmax = x
        if x < 0.5 * runmax:
            decayed = True
            if x < low:
                low = x
    return out


def _first_decay(v: np.ndarray, k: int) -> tuple[int, float]:
    """``(d, max(v[k..d]))`` for the first ``d > k`` with ``v[d] < 0.5 max(v[k..d])``; ``d = -1``
    when there is none."""
    n, a, width, carry = v.size, k + 1, 256, float(v[k])
    while a < n:
        b = min(n, a + width)
        cm = np.maximum(np.maximum.accumulate(v[a:b]), carry)
        hit = np.flatnonzero(v[a:b] < 0.5 * cm)
        if hit.size:
            j = int(hit[0])
            return a + j, float(cm[j])
        carry, a, width = float(cm[-1]), b, width * 2
    return -1, carry


def _first_climb(v: np.ndarray, d: int, peak: float) -> int:
    """The first ``i > d`` with ``v[i] > 2 min(v[d..i])`` and ``v[i] > 0.5 * (the running peak
    before i)``, the peak being ``peak`` at ``d``; -1 when there is none."""
    n, a, width = v.size, d + 1, 256
    low, top = float(v[d]), peak
    while a < n:
        b = min(n, a + width)
        w = v[a:b]
        cmin = np.minimum(np.minimum.accumulate(w), low)
        cmax = np.maximum(np.maximum.accumulate(w), top)
        before = np.concatenate([[top], cmax[:-1]])  # the running peak before each point
        hit = np.flatnonzero((w > 2.0 * cmin) & (w > 0.5 * before))
        if hit.size:
            return a + int(hit[0])
        low, top, a, width = float(cmin[-1]), float(cmax[-1]), b, width * 2
    return -1


# --------------------------------------------------------------------------- facts for rules LC301-LC304


def lr_finite(lr: Series | None) -> LRFinite | None:
    """The finite LR points summarised (:class:`~losscheck.model.LRFinite`): their number, the
    first and last LR and their steps, the peak, and the share of points at >= 90% of the peak
    (0.0 when the peak is not positive); ``None`` without a finite LR point. ``lr``: steps
    ``int64`` (n,), values ``float64`` (n,). O(n)."""
    if lr is None or len(lr) == 0:
        return None
    ok = np.isfinite(lr.values)
    s, v = (lr.steps, lr.values) if ok.all() else (lr.steps[ok], lr.values[ok])
    if v.size == 0:
        return None
    peak = float(np.max(v))
    share = float(np.mean(v >= 0.9 * peak)) if peak > 0 else 0.0
    return LRFinite(points=int(v.size), first=float(v[0]), last=float(v[-1]), first_step=int(s[0]),
                    last_step=int(s[-1]), peak=peak, at_peak_share=share)


#: A blow-up or trouble within this share of the run (or the first 100 steps) is "early" (LC102,
#: LC301: the seed case study's rule of thumb that NaN/explosion in the first ~100 iterations is
#: usually a too-high LR).
EARLY_FRACTION = 0.1
#: At least this share of the logged LR points at >= 90% of the peak: an LR that never decays
#: (LC302's ``at-peak-share``); only then is the loss read for a level-off (:func:`loss_quarters`).
AT_PEAK_SHARE = 0.9
#: A loss that rises this much above its first logged value early in the run is unstable (LC301).
EARLY_RISE = 1.2


def early_trouble(cur: CurveAnalysis | None, series: Series | None, last: int,
                  fraction: float) -> EarlyTrouble | None:
    """Trouble in the loss early on, within the first max(100 steps, ``fraction`` of the run):
    a spike found by the analysis, or a running median (windows of max(5, 2% of the points))
    :data:`EARLY_RISE` (20%) above the first window's; ``None`` otherwise.

    Args:
        cur: the judged curve's analysis (``None``: no trouble); ``series``: its series;
            ``last``: the run's last step; ``fraction``: the early share of the run.
    Cost: O(m log w) for the m early points and windows of w points (one running median,
    :func:`window_medians`).
    """
    if cur is None:
        return None
    horizon = max(100, fraction * last)
    spikes = [sp for sp in cur.spikes if sp.step <= horizon]
    if spikes:
        return EarlyTrouble(spike_step=spikes[0].step)
    s, v = finite_xy(series)
    # robust to batch noise: running medians over windows of max(5, 2% of the points)
    w = max(5, len(v) // 50)
    early, es = v[s <= horizon], s[s <= horizon]
    if len(early) < 2 * w:
        return None
    roll = window_medians(early, w)
    if roll[0] > 0 and float(np.max(roll[1:])) >= EARLY_RISE * float(roll[0]):
        i = int(np.argmax(roll[1:])) + 1
        return EarlyTrouble(rise_ratio=float(roll[i] / roll[0]), rise_step=int(es[min(len(es) - 1, i + w - 1)]))
    return None


def window_medians(x: np.ndarray, w: int) -> np.ndarray:
    """The median of every full window of ``w`` consecutive points of ``x``.

    Args:
        x: ``float64`` (m,), finite values; w: window length in points, 1 <= w <= m.
    Returns:
        ``float64`` (m - w + 1,): entry k is ``np.median(x[k:k + w])``, bit for bit (an even
        window averages its two middle values as numpy does; tested against the per-window
        loop). O(m log w): one running median (:func:`losscheck.analysis._util.rolling_median`,
        a double heap in C), whatever w.
    Raises:
        ValueError: ``w`` outside ``[1, m]``.
    """
    from losscheck.analysis._util import rolling_median

    m, w = int(x.shape[0]), int(w)
    if not 1 <= w <= m:
        raise ValueError(f"window of {w} point(s) for {m} point(s)")
    # the centred window of i is [i - w // 2, i - w // 2 + w): full for i = w // 2 ... (so
    # window k is centred on k + w // 2); the clipped windows at both ends are NaN (min_periods)
    h = w // 2
    return rolling_median(x, w, trailing=False, min_periods=w)[h:h + m - w + 1]


def loss_quarters(series: Series | None) -> tuple[float, float] | None:
    """Medians of the second-to-last and the last quarter of the finite values of a loss
    (``None`` with fewer than 12 finite points): a loss that has levelled off (LC302) has the
    second within 2% of the first."""
    _, lv = finite_xy(series)
    q = len(lv) // 4
    if q < 3:
        return None
    return float(np.median(lv[-2 * q:-q])), float(np.median(lv[-q:]))


#: An LR at or below this fraction of its peak counts as zero (LC303: a cosine schedule's last
#: logged values are ~1e-3..1e-7 of the peak, still non-zero; an exact 0.0 is what a broken
#: schedule gives).
ZERO_REL = 1e-9


#: the most decimals a fixed-decimal LR print is looked for with (``lr:0.00159`` has 5)
_MAX_PRINT_DECIMALS = 8


def _below_print_precision(v: np.ndarray, last_nz: int) -> bool:
    """Whether the zeros after ``v[last_nz]`` are a fixed-decimal print rounding a small LR
    down rather than an LR of 0: every value is a whole number of units of one last printed
    place ``10**-d`` (the fewest decimals that hold them all), some value shows the print
    keeps ``d`` decimals for larger numbers too (two or more significant digits ending in
    that place, ``0.00159``), and the last non-zero value is one unit (``0.00001``). A step
    decay x0.1 printed with ``%.5f`` (0.01, 0.001, 0.0001, 0.00001, then 1e-6 shown as
    ``0.00000``) is such a print; ``%g`` would have shown ``1e-06``. Python's ``round`` is
    exact on the printed decimals, so the test is exact for values parsed from a print."""
    vals = [float(x) for x in v]
    for d in range(1, _MAX_PRINT_DECIMALS + 1):
        if all(round(x, d) == x for x in vals):
            break
    else:
        return False
    units = [round(x * 10 ** d) for x in vals]
    fixed = any(u >= 11 and u % 10 for u in units)
    return fixed and units[last_nz] == 1


@dataclass
class ZeroOptions:
    """Thresholds of :func:`zero_stretch` (kebab-case names in LC303's ``options``): the zero
    stretch at the end holds ``min_zero_points`` (3) LR points and ``min_zero_fraction`` (5%)
    of the logged steps (a linear decay to 0 logs 0.0 only at its final step); the loss is flat
    when the median of the second half of the stretch is within ``flat_tolerance`` (2%) of the
    first half's."""

    min_zero_points: float = 3
    min_zero_fraction: float = 0.05
    flat_tolerance: float = 0.02

    @classmethod
    def from_thresholds(cls, th: Mapping[str, float]) -> "ZeroOptions":
        d = cls()
        return cls(th.get("min-zero-points", d.min_zero_points), th.get("min-zero-fraction", d.min_zero_fraction),
                   th.get("flat-tolerance", d.flat_tolerance))


def zero_stretch(lr: Series | None, loss: Series | None, cur: CurveAnalysis | None,
                 o: ZeroOptions) -> LRZeroStretch | None:
    """The LR at zero while training goes on (every LR <= 0, or a suffix at <= :data:`ZERO_REL`
    x the peak that is long enough, module doc), or ``None``. ``loss`` is the training (else
    eval) loss; ``cur`` the judged curve's analysis (a ``plateau`` class makes a whole-run zero
    LR flat)."""
    if lr is None or len(lr) == 0:
        return None
    s, v = finite_xy(lr)
    if len(v) < o.min_zero_points:
        return None
    peak = float(np.max(v))
    if peak > 0 and len(v) - 1 - int(np.flatnonzero(v > ZERO_REL * peak)[-1]) < o.min_zero_points:
        return None  # the usual case: no zero stretch at the end (the loss is not read)
    ls, lv = finite_xy(loss)
    whole = peak <= 0
    if whole:
        start = int(s[0])
        zero_n = len(v)
    else:
        nz = np.flatnonzero(v > ZERO_REL * peak)
        last_nz = int(nz[-1])
        zero_n = len(v) - 1 - last_nz
        if zero_n < o.min_zero_points:
            return None
        if _below_print_precision(v, last_nz):
            return None
        start = int(s[last_nz + 1])
        end = max(int(s[-1]), int(ls[-1]) if len(ls) else 0)
        first = min(int(s[0]), int(ls[0]) if len(ls) else int(s[0]))
        if end <= first or (end - start) < o.min_zero_fraction * (end - first):
            return None
        # training must go on: the loss is logged past the zero onset
        if len(ls) and int(np.sum(ls > start)) < 2:
            return None
    flat = (cur is not None and cur.klass == "plateau") if whole else False
    f = _flat(ls, lv, start, o.flat_tolerance) if len(lv) else None
    flat = flat or bool(f)
    end = max(int(s[-1]), int(ls[-1]) if len(ls) else int(s[-1]))
    first = min(int(s[0]), int(ls[0]) if len(ls) else int(s[0]))
    level = None
    if flat and len(lv):
        level = float(np.median(lv[ls >= start])) if np.any(ls >= start) else float(np.median(lv))
    return LRZeroStretch(whole=whole, start=start, points=int(zero_n), first=first, end=end, peak=peak,
                         flat=flat, level=level, lr_points=int(len(v)))


def _flat(steps: np.ndarray, values: np.ndarray, from_step: int, tol: float) -> bool | None:
    """Whether the loss is flat from ``from_step``; ``None`` with too few points."""
    sel = values[steps >= from_step]
    if len(sel) < 4:
        return None
    h = len(sel) // 2
    a, b = float(np.median(sel[:h])), float(np.median(sel[h:]))
    return bool(b >= (1 - tol) * a)


#: A loss median over the few points after a restart this much above the median before it is a bump (LC304).
BUMP_RATIO = 1.1
#: Points on each side of a restart used for the bump medians.
BUMP_WINDOW = 3


def restart_bumps(restarts: list[int], loss: Series | None, ratio: float = BUMP_RATIO,
                  window: float = BUMP_WINDOW) -> list[tuple[int, float]]:
    """``(restart step, after / before)`` for each LR restart after which the loss bumped up:
    the median of up to ``window`` finite loss points from the restart on is at least
    ``ratio`` x the median of up to ``window`` points before it."""
    from losscheck.analysis._util import row_nanmedian

    if not restarts:
        return []
    if loss is not None and len(loss):
        ok = np.isfinite(loss.values)
        ls, lv = loss.steps[ok], loss.values[ok]
    else:
        ls, lv = np.zeros(0, dtype=np.int64), np.zeros(0)
    w = max(1, int(window))
    # medians of up to w loss points before each restart and from it on: one (R, w)
    # matrix per side, NaN where a window runs off the curve
    at = np.searchsorted(ls, np.asarray(restarts), side="left")
    n = lv.shape[0]
    lvp = np.append(lv, np.nan)  # index n reads as missing
    bidx = at[:, None] - np.arange(w, 0, -1)[None, :]
    aidx = at[:, None] + np.arange(w)[None, :]
    before = lvp[np.where((bidx >= 0) & (bidx < n), bidx, n)]
    after = lvp[np.where(aidx < n, aidx, n)]
    has = (at > 0) & (at < n)
    bumps: list[tuple[int, float]] = []
    if has.any():
        b, _ = row_nanmedian(before[has])
        a, _ = row_nanmedian(after[has])
        for r, bb, aa in zip(np.asarray(restarts)[has].tolist(), b.tolist(), a.tolist()):
            if bb > 0 and aa >= ratio * bb:
                bumps.append((r, aa / bb))
    return bumps

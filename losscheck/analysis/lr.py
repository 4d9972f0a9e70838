"""Learning-rate context: schedule facts used as evidence by the classifier and rules.

Sources: linear warmup (Goyal et al. 2017, "Accurate, large minibatch SGD: training
ImageNet in 1 hour", sec. 2.2; transformers ``get_linear_schedule_with_warmup``); warm
restarts (Loshchilov & Hutter 2017, SGDR). ``warmup_steps`` is measured as the steps from
the first logged point to the first point at >= 90 % of the peak (0 when the first point is
already there). Units: steps (or epochs, as logged) and LR units.
"""

from __future__ import annotations

import numpy as np

from losscheck.model import LRContext, Series


def lr_context(lr: Series | None) -> LRContext | None:
    """Summarise an LR series (values float64 (n,), steps int64 (n,)); ``None`` if no
    finite positive LR point."""
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

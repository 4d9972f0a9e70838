"""Short curves: the best call from 3 to ``min_points - 1`` finite points.

Logs pasted into bug reports and the first lines of a run have a handful of points, too few
for trend models, change points or spike statistics (:mod:`.trend`, :mod:`.changepoint`,
:mod:`.spikes` need at least ``min_points``). Refusing them (``insufficient``) is the one
answer that never helps the user who pasted them; below 3 points nothing can be said about a
shape and the classifier still refuses. On 3 to 7 points the question is reduced to what
those points can answer, in this order:

1. **a jump up** (``spiking``): a point at least ``spike_ratio`` (x2) above the point before
   it *and* above the curve's floor (the median of its lower half), not the first point (a
   first point above the rest is the initial drop). Recovered when a later point is back
   under ``spike_ratio`` x the floor; else a spike to a worse level, or a divergence when
   the level after it is ``divergence_ratio`` above where the log started. A factor of 2 is
   well outside the point-to-point noise of a training loss at a print interval (a few
   percent to ~20 %; the noise of the tune logs' curves) and is the smallest ratio the
   spike detector's own fixed floor accepts (:mod:`.spikes`).
2. **a trend** by the Mann-Kendall test (Mann 1945; Kendall 1975): ``S`` = the number of
   increasing minus decreasing pairs, with the *exact* one-sided p-value from the
   distribution of inversions of a random permutation (Mahonian numbers), so it is exact
   for n = 3..30 where normal approximations are not. A rise with ``p < alpha`` and at
   least ``min_change`` in size (Theil-Sen over the window; Theil 1950, Sen 1968) is a
   (slow) divergence: the training loss going up print after print; a fall with
   ``p < alpha`` and ``min_change`` is learning (``converging``), and so is any fall of at
   least ``big_drop`` between the first and the last third (a fast initial drop that a
   noisy tail makes non-monotone).
3. otherwise **no detectable trend**: ``plateau`` (the loss is not moving on this window).

With n points the smallest attainable one-sided p is 1/n! (1/6 for 3 points), so on 3
points a trend is never significant at ``alpha``: only a big drop, a jump or an explosion
can be called there, and 3 flat points are a plateau. Points that fall in every pair by at
least ``monotone_fall`` in all (log units) are not flat, though, even where the test cannot
reach ``alpha`` (3 points): they are called ``converging`` (3 points falling 5 % each were
warned as a plateau in a new-user trial). From 4 points on, a fall in every pair is
significant at alpha 0.05 anyway (p = 1/24). ``monotone_fall`` is fitted like the others
(``benchmarks/fit_short.py --monotone-fall``: a one-dimensional grid with the others at
their fitted values).

Thresholds (:class:`ShortOptions`) were chosen by a grid search on the tune split of
``benchmarks/accuracy.py`` (``benchmarks/fit_short.py``; README "How accurate is it?"):
every combination of ``alpha`` in {0.01, 0.05, 0.1}, ``min_change`` in {0, 1 %, 2 %, 5 %},
``big_drop`` in {10 %, 25 %, 50 %} and ``spike_ratio`` in {1.5, 2, 3}; the defaults are the
combination with the most tune runs right, ties broken towards the conventional value
(alpha 0.05) and then the larger thresholds (fewer alarms).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from losscheck.analysis._util import theil_sen
from losscheck.analysis.plateau import exact_chance
from losscheck.model import Plateau, Spike


#: ``ShortOptions.monotone_fall``: ln 1.05. ``benchmarks/fit_short.py --monotone-fall`` on the tune
#: split (2026-12-06): no tune run is moved by it, so off, ln 1.01, ln 1.05 and ln 1.10 tie
#: (22 of 25 short runs right, 1 healthy alarmed); the two at the grid's middle are ln 1.01 and
#: ln 1.05, and the larger is kept (the smaller change from the behaviour fitted before).
MONOTONE_FALL = float(np.log(1.05))


@dataclass
class ShortOptions:
    """Thresholds of :func:`classify_short` (sources and fitting in the module doc).

    Attributes:
        alpha: one-sided significance of the Mann-Kendall trend test. Default 0.05.
        min_change: smallest trend (log units over the window) called a rise or a fall.
            Default ln 1.01 (1 %).
        big_drop: a fall of the last third's median below the first third's by at least this
            (log units) is learning whatever the test says. Default ln 1.25.
        spike_ratio: a jump up by at least this factor (over the previous point and the
            floor) is a spike. Default 2.
        divergence_ratio: the level after a jump this many times the first point is a
            divergence, not a spike. Default 10 (that of :mod:`.divergence`).
        monotone_fall: a fall in every pair of points of at least this much over the window
            (log units) is learning whatever the test says (``inf``: never). Fitted (module doc).
    """

    alpha: float = 0.05
    min_change: float = float(np.log(1.01))
    big_drop: float = float(np.log(1.25))
    spike_ratio: float = 2.0
    divergence_ratio: float = 10.0
    monotone_fall: float = MONOTONE_FALL


@lru_cache(maxsize=64)
def _inversions(n: int) -> tuple[float, ...]:
    """Probability of each inversion count k = 0..n(n-1)/2 of a random permutation of n
    (Mahonian numbers by the standard recurrence; exact, O(n^3))."""
    counts = np.zeros(1)
    counts[0] = 1.0
    for m in range(2, n + 1):
        new = np.zeros(counts.shape[0] + m - 1)
        for j in range(m):
            new[j:j + counts.shape[0]] += counts
        counts = new
    return tuple(counts / counts.sum())


def mann_kendall(y: np.ndarray) -> tuple[int, float, float]:
    """Mann-Kendall trend statistic of ``y`` (m,) with exact one-sided p-values.

    Returns:
        ``(S, p_up, p_down)``: S = #(i<j, y_j > y_i) - #(i<j, y_j < y_i); ``p_up`` the
        probability of an S at least this large under no trend (every order equally likely),
        ``p_down`` of one at most this small. Ties count as neither (conservative). For m > 60
        the normal approximation with variance m(m-1)(2m+5)/18 is used. Returns
        ``(0, 1.0, 1.0)`` for fewer than 2 points.
    """
    y = np.asarray(y, dtype=np.float64)
    m = y.shape[0]
    if m < 2:
        return 0, 1.0, 1.0
    d = np.sign(y[None, :] - y[:, None])
    s = int(np.triu(d, 1).sum())
    if m > 60:
        from math import erf, sqrt

        sd = sqrt(m * (m - 1) * (2 * m + 5) / 18.0)
        z_up, z_dn = (s - 1) / sd, (s + 1) / sd
        return s, 0.5 * (1 - erf(z_up / sqrt(2))), 0.5 * (1 + erf(z_dn / sqrt(2)))
    # S = pairs - 2 * inversions, with inversions counted against increasing order
    probs = np.asarray(_inversions(m))
    pairs = m * (m - 1) // 2
    k = np.arange(probs.shape[0])
    s_of_k = pairs - 2 * k
    return s, float(probs[s_of_k >= s].sum()), float(probs[s_of_k <= s].sum())


@dataclass
class ShortCall:
    """The call on a short curve: its internal ``label`` (``converging``, ``plateau``,
    ``diverging``, ``spiking`` or ``spiking_worse``), the ``onset`` step (``None`` when
    converging), the spikes found, the plateau (for the rules that word one) and the
    evidence (``short_*`` keys)."""

    label: str
    onset: int | None
    spikes: list[Spike]
    plateau: Plateau | None
    evidence: dict


def classify_short(steps: np.ndarray, y: np.ndarray, raw: np.ndarray, domain: str,
                   opts: ShortOptions | None = None, chance_tol: float = 0.0,
                   num_classes: int | None = None) -> ShortCall:
    """Classify a short curve (see the module doc).

    Args:
        steps: ``int64`` (m,) steps of the finite points, m >= 3.
        y: (m,) the values on the analysis scale (log loss when ``domain == "log"``, else asinh).
        raw: (m,) the raw finite values.
        domain: ``"log"`` or ``"asinh"``; ratios (spikes) are only read on ``"log"``.
        chance_tol: a curve whose last ``max(3, m // 2)`` points sit on ln C to this relative
            tolerance is a plateau at chance, not learning, whatever came before
            (:func:`losscheck.analysis.plateau.exact_chance`; 0: not checked).
        num_classes: C when known (else the common counts and vocabularies).
    Returns:
        a :class:`ShortCall`. Never raises on finite input.
    """
    o = opts or ShortOptions()
    m = y.shape[0]
    ev: dict = {"short_points": int(m)}
    spikes: list[Spike] = []
    if domain == "log" and m >= 3:
        floor = float(np.median(np.sort(y)[:max(1, m // 2)]))
        lr = float(np.log(o.spike_ratio))
        for i in range(1, m):
            if y[i] - y[i - 1] >= lr and y[i] - floor >= lr:
                back = np.flatnonzero(y[i + 1:] < floor + lr)
                rec = int(steps[i + 1 + int(back[0])] - steps[i]) if back.size else None
                after = float(np.median(y[i:])) if rec is None else floor
                spikes.append(Spike(step=int(steps[i]), ratio=float(np.exp(y[i] - y[i - 1])), z=float("nan"),
                                    recover_steps=rec, level_ratio=float(np.exp(after - floor)),
                                    worse=rec is None and i < m - 1))
        if spikes:
            ev["short_spikes"] = len(spikes)
            top = max(spikes, key=lambda s: s.ratio)
            ev["short_spike_ratio"] = top.ratio
            worse = [s for s in spikes if s.worse]
            if worse:
                i = int(np.searchsorted(steps, worse[0].step))
                if float(np.median(y[i:])) - float(y[0]) >= np.log(o.divergence_ratio):
                    return ShortCall("diverging", worse[0].step, spikes, None, ev)
                return ShortCall("spiking_worse", worse[0].step, spikes, None, ev)
    s, p_up, p_down = mann_kendall(y)
    slope, _, _ = theil_sen(steps.astype(np.float64), y)
    change = float(slope * (steps[-1] - steps[0]))
    k = max(1, m // 3)
    drop = float(np.median(y[:k]) - np.median(y[-k:]))
    ev.update(short_mk_s=s, short_p_up=p_up, short_p_down=p_down, short_change=change, short_drop=drop)
    if spikes:
        # recovered spikes: the trend is read without them
        return ShortCall("spiking", spikes[0].step, spikes, None, ev)
    if p_up < o.alpha and change >= o.min_change:
        i0 = int(np.argmin(y[:-1]))
        return ShortCall("diverging", int(steps[i0]), spikes, None, ev)
    tail_n = min(m, max(3, m // 2))
    chance = exact_chance(raw[-tail_n:], chance_tol, num_classes) if domain == "log" and chance_tol > 0 else None
    if chance is not None:
        ev["short_chance_classes"] = chance
        # the plateau starts where the points enter the band around ln C for good
        outside = np.flatnonzero(np.abs(raw / np.log(chance) - 1) > 2 * chance_tol)
        i0 = int(outside[-1]) + 1 if outside.size else 0
        return ShortCall("plateau", int(steps[i0]), spikes,
                         Plateau(start_step=int(steps[i0]), level=float(np.median(raw[-tail_n:])), rel_slope=0.0,
                                 from_start=i0 == 0, chance_classes=chance), ev)
    every_pair_falls = s == -(m * (m - 1) // 2)
    if (p_down < o.alpha and -change >= o.min_change) or drop >= o.big_drop or (
            every_pair_falls and -change >= o.monotone_fall):
        return ShortCall("converging", None, spikes, None, ev)
    level = float(np.median(raw[-k:]))
    span = max(float(steps[-1] - steps[0]), 1.0)
    pl = Plateau(start_step=int(steps[0]), level=level, rel_slope=float(slope * 1000.0 if span else 0.0),
                 from_start=drop < o.min_change)
    return ShortCall("plateau", int(steps[0]), spikes, pl, ev)

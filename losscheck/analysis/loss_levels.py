"""Loss-level facts: ln(C) stretches (rule LC401), losses near zero (LC402) and the eval loss
against the training loss (LC403).

Arrays: steps ``int64`` (n,), values ``float64`` (n,), finite points only (NaN/Inf dropped).
Steps in the series' unit.

* **At chance** (Goodfellow, Bengio & Courville 2016, sec. 6.2.2; Karpathy 2019, "verify loss
  @ init"): 5-point running medians (:data:`CHANCE_WINDOW`) of the finite values; the
  at-chance stretch is the longest suffix within ``chance-tolerance`` (2%, relative) of ln(C)
  and must cover ``min-share`` (50%) of the points.
* **End level**: the median of the last 5 finite points (a language model's loss below 0.05
  nats is perplexity 1.05, LC402).
* **Eval collapse**: the first eval below both ``eval-collapse-ratio`` (10%) of the first eval
  and ``eval-near-zero`` (0.1), within ``few-evals`` (10) evaluations of a first eval >= 1.
* **Eval vs train** (LC403): the train level at each eval is the median of the training
  losses logged since the previous eval (:func:`train_at_evals`); the gap (train - eval) /
  train over the evals of the second half counts as "below" above ``min-gap`` (5%).
"""

from __future__ import annotations

import math

import numpy as np

from losscheck.analysis.evidence import finite_xy
from losscheck.model import ChanceFacts, ChanceHit, EvalCollapse, EvalGap, ResolvedRun, RunAnalysis

#: Relative distance to ln(C) that counts as "at chance" (the analysis' plateau uses 1-3%).
CHANCE_TOL = 0.02
#: The at-chance stretch must cover at least this share of the logged points (and end the log).
CHANCE_MIN_SHARE = 0.5
#: Running-median window (points) that smooths batch noise before comparing with ln(C).
CHANCE_WINDOW = 5


def chance_classes(run: ResolvedRun, analysis: RunAnalysis) -> int | None:
    """The number of classes C behind a chance level ln C: the log's ``num_classes`` (an
    integer >= 2, e.g. written by the trainer), else the C whose ln C the plateau detector found
    evident on the training or eval loss (:mod:`losscheck.analysis.plateau`, which also uses
    ``--num-classes``), else ``None``. O(1)."""
    c = run.data.meta.get("num_classes")
    if isinstance(c, (int, float)) and not isinstance(c, bool) and c >= 2 and float(c).is_integer():
        return int(c)
    for role in ("loss", "eval_loss"):
        cur = analysis.curves.get(role)
        if cur is not None and cur.plateau is not None and cur.plateau.chance_classes:
            return int(cur.plateau.chance_classes)
    return None


def at_chance(run: ResolvedRun, analysis: RunAnalysis, tol: float = CHANCE_TOL,
              min_share: float = CHANCE_MIN_SHARE) -> ChanceFacts | None:
    """The ln(C) facts of a run (module doc); ``None`` when C is unknown (:func:`chance_classes`).

    Args:
        run: the resolved run (training and eval loss, accuracy read if logged).
        analysis: its classified analysis (the plateau facts give an evident C).
        tol: relative distance to ln(C) that counts as "at chance" (LC401's ``chance-tolerance``).
        min_share: share of the logged run the at-chance stretch must cover (``min-share``).
    Returns:
        :class:`~losscheck.model.ChanceFacts`: C, the at-chance stretch per loss role, and the
        median accuracy over the last quarter (a fraction) when an accuracy is logged.
    Cost: O(n w) for the 5-point running medians. Never raises on odd data.
    """
    c = chance_classes(run, analysis)
    if c is None:
        return None
    level = math.log(c)
    out = ChanceFacts(classes=c)
    for role in ("loss", "eval_loss"):
        h = _at_chance(run, role, level, tol, min_share)
        if h is not None:
            out.hits[role] = h
    if out.hits:
        for arole in ("eval_accuracy", "accuracy"):
            _, av = finite_xy(run.get(arole))
            if len(av) >= 4:
                out.accuracy_role, out.accuracy = arole, float(np.median(av[-max(1, len(av) // 4):]))
                break
    return out


def _at_chance(run: ResolvedRun, role: str, level: float, tol: float, min_share: float) -> ChanceHit | None:
    """The at-chance suffix of ``role``, or ``None``."""
    s, v = finite_xy(run.get(role))
    if len(v) < CHANCE_WINDOW:
        return None
    roll = np.array([np.median(v[max(0, k - CHANCE_WINDOW + 1):k + 1]) for k in range(len(v))])
    near = np.abs(roll - level) <= tol * level
    if not near[-1]:
        return None
    off = np.flatnonzero(~near)
    i = int(off[-1]) + 1 if len(off) else 0
    if len(v) - i < CHANCE_WINDOW or (len(v) - i) < min_share * len(v):
        return None
    # the running median lags by up to CHANCE_WINDOW-1 points: report the first raw point in the band
    j = i
    while j > 0 and abs(v[j - 1] - level) <= tol * level:
        j -= 1
    return ChanceHit(start=int(s[j]), from_start=j == 0, median=float(np.median(v[i:])), points=len(v) - j)


def end_levels(run: ResolvedRun) -> dict[str, tuple[float, int]]:
    """role -> (median of the last 5 finite values, in the loss's units; last finite step), for
    the training and eval loss with at least 3 finite points (others left out). O(n)."""
    out = {}
    for role in ("loss", "eval_loss"):
        s, v = finite_xy(run.get(role))
        if len(v) >= 3:
            out[role] = (float(np.median(v[-5:])), int(s[-1]))
    return out


#: An eval loss that falls below this share of its first value...
EVAL_COLLAPSE_RATIO = 0.1
#: ... to below this absolute value (nats) ...
EVAL_NEAR_ZERO = 0.1
#: ... within this many evaluations, from a first eval loss of at least 1 (a cross-entropy over
#: 3+ classes or tokens; MSE losses of normalised regressions start lower).
FEW_EVALS = 10
#: Relative gap (train - eval) / train that counts as "below" at one eval (LC403).
MIN_GAP = 0.05


def eval_collapse(run: ResolvedRun, ratio: float = EVAL_COLLAPSE_RATIO, near_zero: float = EVAL_NEAR_ZERO,
                  few: float = FEW_EVALS) -> EvalCollapse | None:
    """The eval loss collapsing towards 0 within ``few`` evals (module doc), or ``None``.

    The first eval point (counted from the first finite eval, index k) whose loss is below both
    ``ratio`` x the first eval loss and ``near_zero`` (nats), when k <= ``few`` and the first
    eval loss is >= 1. Returns an :class:`~losscheck.model.EvalCollapse` (first, low and end
    levels, k, the step of the low point). O(n). Never raises on odd data.
    """
    s, v = finite_xy(run.get("eval_loss"))
    if not (len(v) >= 2 and v[0] >= 1.0):
        return None
    low = np.flatnonzero((v < ratio * v[0]) & (v < near_zero))
    if not (len(low) and low[0] <= few):
        return None
    k = int(low[0])
    return EvalCollapse(first=float(v[0]), low=float(v[k]), evals=k, low_step=int(s[k]), end=float(v[-1]))


def eval_gap(run: ResolvedRun, min_gap: float = MIN_GAP) -> EvalGap | None:
    """The eval loss against the training level at the evals of the second half (module
    doc); ``None`` with fewer than 3 training or 2 eval points, or no eval in the second half."""
    ts, tv = finite_xy(run.get("loss"))
    es, evv = finite_xy(run.get("eval_loss"))
    if len(tv) < 3 or len(evv) < 2:
        return None
    st, tr, ev_at = train_at_evals(ts, tv, es, evv)
    if not len(st):
        return None
    # the evals of the second half of the eval steps (exact integer comparison, also for
    # steps beyond 2**53: p >= mid <=> p >= ceil(mid) for a whole p)
    second = st >= math.ceil((int(st[0]) + int(st[-1])) / 2)
    n2 = int(second.sum())
    if n2 == 0:
        return None
    t, e = tr[second], ev_at[second]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gaps = np.where(t > 0, (t - e) / t, 0.0)
    below = gaps > min_gap
    return EvalGap(compared=n2, below=int(below.sum()), share=float(np.mean(below)), median=float(np.median(gaps)),
                   first_step=int(st[second][0]), last_step=int(st[second][-1]), last_train=float(t[-1]),
                   last_eval=float(e[-1]))


def _interval(es) -> float:
    """The median eval interval in steps (for the train window before the first eval)."""
    d = np.diff(es)
    return float(np.median(d)) if len(d) else 1.0


def train_at_evals(ts: np.ndarray, tv: np.ndarray, es: np.ndarray, ev: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training level at each eval: ``(eval steps, train levels, eval losses)``.

    The train level at eval i is the median of the training losses logged in ``(es[i-1],
    es[i]]`` (for the first eval, in ``(es[0] - the median eval interval, es[0]]``), else the
    last training loss at or before ``es[i]``; an eval with no training loss at or before it
    is left out.

    Args:
        ts, tv: ``int64`` / ``float64`` (n,), the finite training losses, steps strictly
            increasing (a normalised series; other orders are sorted first).
        es, ev: ``int64`` / ``float64`` (m,), the finite eval losses, likewise.
    Returns:
        ``int64`` (k,), ``float64`` (k,), ``float64`` (k,) with k <= m, in eval order.
    Cost: O((n + m) log n): each eval's window is found by binary search
    (:func:`numpy.searchsorted`), and the windows (disjoint, as the eval steps increase) are
    sorted at once to read their medians (:func:`segment_medians`), instead of a mask over
    every training point at every eval (O(n m)).
    """
    m = len(es)
    if m == 0 or len(ts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    if np.any(np.diff(ts) <= 0):
        o = np.argsort(ts, kind="stable")
        ts, tv = ts[o], tv[o]
    if np.any(np.diff(es) <= 0):  # not a normalised series: the per-eval reference
        return _train_at_evals_loop(ts, tv, es, ev)
    hi = np.searchsorted(ts, es, side="right")  # ts[:hi[i]] <= es[i]
    lo = np.empty(m, dtype=np.int64)
    lo[1:] = hi[:-1]  # ts > es[i - 1]
    lo[0] = np.searchsorted(ts, es[0] - _interval(es), side="right")
    lo = np.minimum(lo, hi)
    med = segment_medians(tv, lo, hi)
    empty = lo == hi
    med[empty & (hi > 0)] = tv[hi[empty & (hi > 0)] - 1]  # the last training loss before
    keep = ~(empty & (hi == 0))
    return (np.asarray(es[keep], dtype=np.int64), med[keep], np.asarray(ev[keep], dtype=np.float64))


def _train_at_evals_loop(ts, tv, es, ev) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`train_at_evals`, one mask per eval (O(n m)): the reference, and the path for
    eval steps that do not increase (never the case after :func:`losscheck.series.normalize`)."""
    pairs = []
    prev = None
    for s, e in zip(es, ev):
        sel = tv[(ts <= s) & (ts > prev)] if prev is not None else tv[(ts <= s) & (ts > s - _interval(es))]
        if len(sel) == 0:
            before = tv[ts <= s]
            if len(before) == 0:
                prev = s
                continue
            sel = before[-1:]
        pairs.append((int(s), float(np.median(sel)), float(e)))
        prev = s
    return (np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.float64),
            np.array([p[2] for p in pairs], dtype=np.float64))


def segment_medians(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``np.median(v[lo[k]:hi[k]])`` for every k, for disjoint segments in increasing order.

    Args:
        v: ``float64`` (n,), finite; lo, hi: integer (m,), ``0 <= lo[k] <= hi[k] <= n`` and
            ``hi[k] <= lo[k + 1]``.
    Returns:
        ``float64`` (m,): each segment's median (the mean of its two middle values when its
        length is even, as numpy computes it: ``(a + b) / 2``); NaN for an empty segment.
        O(s log s) for the s points inside the segments: one sort keyed by segment.
    """
    m = len(lo)
    out = np.full(m, np.nan)
    length = hi - lo
    if m == 0 or not length.any():
        return out
    seg = np.repeat(np.arange(m), length)  # the segment of each covered point
    start = np.cumsum(length) - length  # where each segment starts among the covered points
    idx = np.arange(len(seg)) - start[seg] + lo[seg]
    vals = v[idx]
    sv = vals[np.lexsort((vals, seg))]  # sorted within each segment, segments in order
    full = length > 0
    a = sv[(start + (length - 1) // 2)[full]]
    b = sv[(start + length // 2)[full]]
    odd = (length[full] % 2) == 1
    out[full] = np.where(odd, a, (a + b) / 2.0)
    return out

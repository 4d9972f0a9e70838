"""LC403 eval-below-train (the eval loss stays below the training loss)."""

from __future__ import annotations

import math

import numpy as np

from losscheck.model import RemedyVote
from losscheck.rules._evidence import finite_xy, fmt
from losscheck.rules.interface import Rule, RuleContext

#: Relative gap (train - eval) / train that counts as "below" at one eval.
MIN_GAP = 0.05
#: A median gap above this (and persistent) is "large": named as such, and votes for check_data.
LARGE_GAP = 0.2
#: Share of the second-half evals that must be below the training loss.
PERSISTENT_SHARE = 0.8
#: Evals needed in the second half of the run.
MIN_EVALS = 3


class EvalBelowTrain(Rule):
    code = "LC403"
    name = "eval-below-train"
    severity = "info"
    summary = "The eval loss stays below the training loss (train-mode dropout/BatchNorm, an epoch-averaged train loss, label noise, or leakage)."
    what = ("At the evaluations of the second half of the run, the eval loss is at least `min-gap` (5%) below "
            "the training loss at `persistent-share` (80%) or more of them (at least `min-evals` (3)). Always info: "
            "a gap above `large-gap` (20%) is named large and votes for checking the data, but the curves "
            "alone cannot tell leakage from label noise (see below); LC402 raises a warning for the "
            "unmistakable case, an eval loss collapsing towards 0.")
    why = ("A model should not do better on data it has not seen. Three benign effects make the eval loss "
           "lower, and they are the first thing to rule out: (1) regularisation active only in training "
           "(dropout, stochastic depth, label smoothing, augmentation) raises the training loss; (2) "
           "BatchNorm uses batch statistics in train mode and running statistics in eval mode; (3) the "
           "logged training loss is often an average over the epoch or logging interval, taken while the "
           "model was still improving, while the eval runs on the model at its end (Keras, Lightning's "
           "`*_epoch` metrics, HF's averaged `loss`), so it trails by about half an interval. A large gap "
           "can still be benign: (4) noisy labels in the training set only (the training loss floors at the "
           "noise entropy while the clean eval set keeps falling; in our fault-injection corpus, 20-40% "
           "label noise gave 33-75% gaps on healthy runs). Otherwise a large, persistent gap means leakage "
           "(the eval set overlaps the training set) or an easier eval set (another distribution, shorter "
           "sequences).")
    fix = ("For a large gap only: ranks `check_data` (look for train/eval overlap, label noise and a "
           "distribution shift) and, weaker, `normalization` (compare the training loss in eval mode: "
           "`model.eval()` on a training batch; with BatchNorm and small batches, consider GroupNorm/"
           "LayerNorm). A small gap gets no remedy vote.")
    how = ("Train level at each eval step: the median of the training losses logged since the previous eval "
           "(the last training loss at or before it when none). Gap = (train - eval) / train at each eval of "
           "the second half of the eval steps; persistent when >= 80% of them exceed 5%; reported gap = "
           "median.")
    example = "eval loss below the training loss at 4 of 4 evals in the second half (median gap 48%, e.g. 0.0668 vs 0.154 at step 8)"
    options = {"min-gap": MIN_GAP, "large-gap": LARGE_GAP, "persistent-share": PERSISTENT_SHARE,
               "min-evals": MIN_EVALS}
    sources = ("Srivastava et al. 2014, Dropout (training-time noise raises the training loss)",
               "Ioffe & Szegedy 2015, Batch normalization (train vs inference statistics)",
               "Kaufman et al. 2012, Leakage in data mining",
               "Keras FAQ: why is my training loss much higher than my testing loss?")

    def check(self, ctx: RuleContext) -> list:
        ts, tv = finite_xy(ctx.run.get("loss"))
        es, evv = finite_xy(ctx.run.get("eval_loss"))
        if len(tv) < 3 or len(evv) < 2:
            return []
        st, tr, ev_at = train_at_evals(ts, tv, es, evv)
        if not len(st):
            return []
        # the evals of the second half of the eval steps (exact integer comparison, also for
        # steps beyond 2**53: p >= mid <=> p >= ceil(mid) for a whole p)
        second = st >= math.ceil((int(st[0]) + int(st[-1])) / 2)
        n2 = int(second.sum())
        if n2 < self.opt(ctx, "min-evals"):
            return []
        t, e = tr[second], ev_at[second]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            gaps = np.where(t > 0, (t - e) / t, 0.0)
        below = gaps > self.opt(ctx, "min-gap")
        if float(np.mean(below)) < self.opt(ctx, "persistent-share"):
            return []
        med = float(np.median(gaps))
        first_step, last = int(st[second][0]), (int(st[second][-1]), float(t[-1]), float(e[-1]))
        msg = (f"eval loss below the training loss at {int(below.sum())} of {n2} evals in the second half "
               f"(median gap {med * 100:.3g}%, e.g. {fmt(last[2])} vs {fmt(last[1])} at step {last[0]})")
        large = med > self.opt(ctx, "large-gap")
        if large:
            msg += (": too large for dropout or an epoch-averaged training loss; label noise in the training set "
                    "or train/eval overlap")
        else:
            msg += ": dropout/BatchNorm train mode or an epoch-averaged training loss can explain it"
        ev = {"evals_compared": n2, "evals_below": int(below.sum()), "median_gap": med}
        votes = []
        if large:
            votes = [RemedyVote("check_data", 0.8, "an eval loss persistently far below the training loss: check "
                                "train/eval overlap, label noise in the training set, and whether the eval set "
                                "is easier"),
                     RemedyVote("normalization", 0.4, "compare the training loss in eval mode: dropout and "
                                "BatchNorm behave differently in training")]
        return [self.finding(msg, role="eval_loss", step=first_step, evidence=ev, remedies=votes)]


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


RULE = EvalBelowTrain()

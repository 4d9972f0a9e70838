"""Wall-clock facts: stalls between logged points (rule LC501) and a throughput regression
(rule LC502).

The clock is that of the best-timed series (:func:`wall_clock`): ``steps`` ``int64`` (k,)
and ``wall`` ``float64`` (k,) seconds since the Unix epoch, finite and not decreasing.

* **Stalls**: gaps = differences of consecutive wall times; a stall is a gap of at least
  max(``gap-factor`` (20) x the median gap, ``min-gap-seconds`` (600 s: longer than a typical
  eval or checkpoint save)), with ``min-points`` (10) timestamps; the first gap (start-up,
  compilation) is ignored.
* **Throughput**: after skipping ``skip-points`` (3) points (compilation, autotuning), the
  per-interval seconds per step dt / ds (intervals of >= :data:`STALL_FACTOR` x the median
  left out: stalls), split in quarters; the medians of the first and last quarter, with
  ``min-intervals`` (12) intervals.
"""

from __future__ import annotations

import numpy as np

from losscheck.analysis.evidence import read_only
from losscheck.model import ResolvedRun, Stalls, Throughput


def wall_clock(run: ResolvedRun) -> tuple[np.ndarray, np.ndarray] | None:
    """``(steps, wall_time)`` of the best-timed series: the one with the most finite wall
    times among the roles (training loss first on ties), restricted to points whose wall
    time is finite and increasing. ``None`` when no series carries at least 2 wall times.
    Read-only views of the series' arrays when every point is kept, else fresh arrays.
    """
    best: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (finite mask, steps, wall times)
    for role in ("loss", "eval_loss", "grad_norm", "lr", "accuracy", "eval_accuracy"):
        s = run.get(role)
        if s is None or s.wall_time is None or len(s) == 0 or s.wall_time.shape != s.steps.shape:
            continue
        ok = np.isfinite(s.wall_time)
        if best is None or int(ok.sum()) > int(best[0].sum()):
            best = (ok, s.steps, s.wall_time)
    if best is None or int(best[0].sum()) < 2:
        return None
    ok, steps, wall = best
    st, w = (steps, wall) if ok.all() else (steps[ok], wall[ok])
    # keep points whose wall time moves forward (a resumed run that re-logs old steps, or
    # merged files with clock skew, must not produce negative gaps)
    # (w[i] not below every earlier w, i.e. equal to the running maximum; O(n) in numpy)
    keep = w >= np.maximum.accumulate(w)
    if not keep.all():
        return st[keep], w[keep]
    # every point kept: read-only views of the arrays, not copies of a million-point series
    return read_only(st), read_only(w)


#: A gap counts as a stall when it is at least this many times the median gap...
GAP_FACTOR = 20.0
#: ... and at least this many seconds (10 minutes: longer than a typical eval or checkpoint save).
MIN_GAP_SECONDS = 600.0
#: Points with a wall time needed to have a median gap.
STALL_MIN_POINTS = 10


def stalls(wc: tuple[np.ndarray, np.ndarray] | None, gap_factor: float = GAP_FACTOR,
           min_gap: float = MIN_GAP_SECONDS, min_points: float = STALL_MIN_POINTS) -> Stalls | None:
    """The stalls of a wall clock (module doc), or ``None`` when there is none.

    Args:
        wc: ``(steps int64 (n,), wall times float64 (n,) in seconds)`` from :func:`wall_clock`.
        gap_factor: a gap counts from this many times the median gap (LC501's ``gap-factor``) ...
        min_gap: ... and from this many seconds (``min-gap-seconds``).
        min_points: wall times needed (``min-points``).
    Returns:
        :class:`~losscheck.model.Stalls`: steps after which the clock stalled (the first gap,
        start-up, is ignored), the longest gap and its step, the median gap and the seconds lost.
    O(n). Never raises on odd data.
    """
    if wc is None:
        return None
    steps, w = wc
    if len(w) < min_points:
        return None
    gaps = np.diff(w)
    med = float(np.median(gaps))
    if not med > 0:
        return None
    limit = max(gap_factor * med, min_gap)
    idx = np.flatnonzero(gaps >= limit)
    idx = idx[idx >= 1]  # the first gap is start-up
    if not len(idx):
        return None
    big = int(idx[np.argmax(gaps[idx])])
    return Stalls(steps=[int(steps[i]) for i in idx], longest=float(gaps[big]), longest_step=int(steps[big]),
                  median=med, lost=float(np.sum(gaps[idx])), after=len(w) - 1 - int(idx[-1]))


#: Intervals this many times the median are stalls (LC501) and left out of the per-step times.
STALL_FACTOR = 20.0


#: Logged points skipped at the start (compilation, cudnn autotuning, cache warm-up).
SKIP_POINTS = 3
#: Timed intervals needed after the skipped points (3 per quarter at least).
MIN_INTERVALS = 12


def throughput(wc: tuple[np.ndarray, np.ndarray] | None, skip: float = SKIP_POINTS,
               min_intervals: float = MIN_INTERVALS) -> Throughput | None:
    """Seconds per step in the first and last quarter (module doc), or ``None``.

    Args:
        wc: ``(steps int64 (n,), wall times float64 (n,) in seconds)`` from :func:`wall_clock`.
        skip: logged points left out at the start (LC502's ``skip-points``: compilation, warm-up).
        min_intervals: timed intervals needed after them, stalls removed (``min-intervals``).
    Returns:
        :class:`~losscheck.model.Throughput`: median seconds per step of the first and of the
        last quarter of the intervals, and the number of intervals used. O(n). Never raises.
    """
    if wc is None:
        return None
    steps, w = wc
    k = max(0, int(skip))
    steps, w = steps[k:], w[k:]
    if len(w) < 2:
        return None
    dt, ds = np.diff(w), np.diff(steps).astype(np.float64)
    ok = (ds > 0) & (dt >= 0)
    dt, ds = dt[ok], ds[ok]
    if len(dt) < min_intervals:
        return None
    med = float(np.median(dt))
    keep = dt < STALL_FACTOR * med if med > 0 else np.ones(len(dt), dtype=bool)
    sps = (dt / ds)[keep]
    if len(sps) < min_intervals:
        return None
    q = len(sps) // 4
    return Throughput(first=float(np.median(sps[:q])), last=float(np.median(sps[-q:])), intervals=int(len(sps)))

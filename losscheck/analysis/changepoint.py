"""Change points of a (binned, log-scale) curve: binary segmentation into linear pieces.

Method: binary segmentation (Scott & Knott 1974; Vostrikova 1981), as reviewed by
Killick, Fearnhead & Eckley 2012 ("Optimal detection of changepoints with a linear
computational cost", JASA) and Truong, Oudre & Vayatis 2020 (the ``ruptures`` review).
Each segment is fitted by an ordinary least-squares line, so the method finds changes in
level *and* slope (a jump, or the point where a falling loss starts to rise). A split is
kept when it lowers the residual sum of squares by more than a BIC-style penalty
(Schwarz 1978): ``penalty_factor * 3 * sigma^2 * ln(n)`` -- 3 new parameters per split
(location, intercept, slope), ``sigma`` the robust point-to-point noise
(:func:`~losscheck.analysis._util.diff_noise`). ``penalty_factor`` (default 2) guards
against the serial correlation of real loss curves, which makes plain BIC over-segment.

Cost: each scan of a segment is O(length) using cumulative sums; at most
``max_segments`` scans per level: O(n * max_segments). Input should be binned (<= ~2000
points) by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Segment:
    """A linear piece ``[start, end)`` of the binned curve.

    ``start``/``end`` are bin indices; ``start_step``/``end_step`` the bin steps (the end
    one inclusive); ``slope`` is in analysis units (log-loss) per step; ``y0``/``y1`` are the
    fitted values at the first and last bin.
    """

    start: int
    end: int
    start_step: float
    end_step: float
    slope: float
    y0: float
    y1: float


def _cums(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Prefix sums of 1, x, y, x^2, xy, y^2 as one ``(n + 1, 6)`` array (row 0 is zeros), so
    that the sums over points ``[i, j)`` are ``c[j] - c[i]``."""
    c = np.zeros((x.shape[0] + 1, 6))
    np.cumsum(np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y]), axis=0, out=c[1:])
    return c


def _sse(c, i, j):
    """SSE of the OLS line on points [i, j) (vectorised over i or j)."""
    return _sse_of((c[j] - c[i]).T)


def _sse_of(d):
    """SSE of the OLS line from the sums ``d = (n, sx, sy, sxx, sxy, syy)`` (6,) or (6, k)."""
    n, sx, sy, sxx, sxy, syy = d
    with np.errstate(invalid="ignore", divide="ignore"):
        vxx = sxx - sx * sx / n
        vxy = sxy - sx * sy / n
        vyy = syy - sy * sy / n
        sse = vyy - np.where(vxx > 1e-300, vxy * vxy / np.where(vxx > 1e-300, vxx, 1.0), 0.0)
    return np.maximum(sse, 0.0)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through (m,) points with distinct x
    (centred normal equations: what ``np.polyfit(x, y, 1)`` returns, without its SVD)."""
    xm, ym = x.mean(), y.mean()
    dx = x - xm
    b = float(dx @ (y - ym)) / float(dx @ dx)
    return b, float(ym - b * xm)


def segment(x: np.ndarray, y: np.ndarray, sigma: float, max_segments: int = 8,
            min_size: int = 3, penalty_factor: float = 2.0) -> list[Segment]:
    """Split a curve into linear pieces by binary segmentation (see module doc).

    Args:
        x: (n,) steps (float), increasing; y: (n,) analysis-scale values (log-loss).
        sigma: noise standard deviation of ``y`` (floored at 1e-3 = 0.1 %, so a noiseless
            curve is not cut into ``max_segments`` pieces by rounding errors).
        max_segments: at most this many pieces.
        min_size: minimum points per piece.
        penalty_factor: multiplier on the BIC penalty.
    Returns:
        the segments in order (one segment when no split pays its penalty).
    """
    n = y.shape[0]
    xc = (x - x[0]) / max(float(x[-1] - x[0]), 1.0)  # conditioning
    c = _cums(xc, y)
    cT = np.ascontiguousarray(c.T)  # (6, n + 1): the sums of each split point in contiguous rows
    sig = max(float(sigma), 1e-3)
    pen = penalty_factor * 3.0 * sig * sig * np.log(max(n, 2))
    bounds = [0, n]
    cache: dict[tuple[int, int], tuple[float, int]] = {}

    def best_split(i, j):
        if (i, j) in cache:
            return cache[(i, j)]
        if j - i < 2 * min_size:
            cache[(i, j)] = (0.0, -1)
            return cache[(i, j)]
        # split points ks = i + min_size .. j - min_size: a slice of the prefix sums (the same
        # numbers as _sse(c, i, ks) + _sse(c, ks, j), without gathering rows)
        k0, k1 = i + min_size, j - min_size + 1
        total = float(_sse_of(cT[:, j] - cT[:, i]))
        cks = cT[:, k0:k1]
        split = _sse_of(cks - cT[:, i:i + 1]) + _sse_of(cT[:, j:j + 1] - cks)
        kbest = int(np.argmin(split))
        cache[(i, j)] = (total - float(split[kbest]), k0 + kbest)
        return cache[(i, j)]

    while len(bounds) - 1 < max_segments:
        gains = [best_split(bounds[q], bounds[q + 1]) for q in range(len(bounds) - 1)]
        q = int(np.argmax([g[0] for g in gains]))
        gain, k = gains[q]
        if k < 0 or gain <= pen:
            break
        bounds.insert(q + 1, k)
    out = []
    scale = max(float(x[-1] - x[0]), 1.0)
    for i, j in zip(bounds[:-1], bounds[1:]):
        xs, ys = xc[i:j], y[i:j]
        if j - i >= 2 and np.ptp(xs) > 0:
            b, a = _ols(xs, ys)
        else:
            b, a = 0.0, float(np.mean(ys))
        out.append(Segment(i, j, float(x[i]), float(x[j - 1]), float(b / scale),
                           float(a + b * xs[0]), float(a + b * xs[-1])))
    return out


def hinge_knot(x: np.ndarray, y: np.ndarray, min_size: int = 2, max_candidates: int = 300) -> int:
    """Knot of the best continuous two-piece linear fit ``a + b x + c max(x - x_k, 0)``.

    A single change in slope (Hinkley 1969, "Inference about the intersection in
    two-phase regression"). Args: x, y (n,), x increasing. Returns the knot index (``0``
    when n is too small).

    Search: every ``stride``-th candidate (``stride = candidates // max_candidates``), then
    the ``2 stride`` around the best; the first candidate of least residual wins. Each
    candidate's residual is that of :func:`numpy.linalg.lstsq` on the three columns
    (:func:`_hinge_sse`), but only the candidates that can win are solved that way: the
    residuals of all of them come first in O(n) from prefix sums (:func:`_hinge_screen`,
    the regression on ``[1, x]`` and the hinge column's part of it), and a candidate is
    solved only when that residual is within a tolerance of the least one (1e-6 of it plus
    1e-7 of the curve's sum of squares: ~400x the rounding of the screen, measured), so
    the answer is the one of solving every candidate. A noisy curve solves one or a few
    (counted by ``tests/analysis/test_fast_paths.py``); a straight line, where every knot
    fits equally well, still solves them all.
    """
    n = y.shape[0]
    if n < 2 * min_size + 1:
        return 0
    xs = (x - x[0]) / max(float(x[-1] - x[0]), 1.0)
    approx = _hinge_screen(xs, y)
    # slack for the rounding of the prefix sums (screen) and of lstsq
    tol_rel, tol_abs = 1e-6, 1e-7 * float(np.sum((y - y.mean()) ** 2)) + 1e-300

    def best_of(ks: np.ndarray) -> int:
        a = approx[ks]
        lo = float(np.min(a))
        keep = ks[a <= lo + tol_rel * max(lo, 0.0) + tol_abs]
        return int(min(keep, key=lambda k: _hinge_sse(xs, y, int(k))))

    cands = np.arange(min_size, n - min_size)
    stride = max(1, cands.size // max_candidates)
    best = best_of(cands[::stride])
    if stride > 1:
        lo, hi = max(min_size, best - stride), min(n - min_size, best + stride + 1)
        best = best_of(np.arange(lo, hi))
    return int(best)


def _hinge_sse(xs: np.ndarray, y: np.ndarray, k: int) -> float:
    """Residual sum of squares of ``y ~ a + b xs + c max(xs - xs[k], 0)`` by least squares
    (:func:`numpy.linalg.lstsq`); xs, y (n,)."""
    A = np.column_stack([np.ones(xs.shape[0]), xs, np.maximum(xs - xs[k], 0.0)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = y - A @ coef
    return float(r @ r)


def _hinge_screen(xs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`_hinge_sse` for every knot index at once, from prefix sums: (n,), O(n).

    With ``h = max(xs - v, 0)`` (``v = xs[k]``, xs increasing) the sums the hinge column
    needs are sums over the points after ``k``: ``sum h = T1 - v T0``, ``sum h^2 = T2 - 2 v T1
    + v^2 T0``, ``sum xs h = T2 - v T1``, ``sum h y = Txy - v Ty`` (``T*``: suffix sums). The
    residual is that of the line on ``[1, xs]`` less the part the hinge column explains once
    made orthogonal to them (Frisch-Waugh-Lovell): ``sse2 - (h'y)^2 / (h'h)`` in centred,
    residualised sums. Exact in exact arithmetic; in floating point within ~1e-12 of the
    curve's sum of squares, which is why :func:`hinge_knot` only screens with it.
    """
    n = xs.shape[0]
    # in extended precision (80-bit long double on x86): the suffix sums cancel near the end
    xs, y = xs.astype(np.longdouble), y.astype(np.longdouble)
    xc, yc = xs - xs.mean(), y - y.mean()
    sxx, sxy, syy = xc @ xc, xc @ yc, yc @ yc
    sse2 = syy - (sxy * sxy / sxx if sxx > 0 else 0.0)

    def suffix(v):  # sums over the points after each index: (n,)
        c = np.cumsum(v[::-1])[::-1]
        return np.append(c[1:], np.longdouble(0.0))

    t0 = np.arange(n - 1, -1, -1).astype(np.longdouble)
    t1, t2, ty, txy = suffix(xc), suffix(xc * xc), suffix(yc), suffix(xc * yc)
    v = xc
    sh = t1 - v * t0
    shh = t2 - 2.0 * v * t1 + v * v * t0
    sxh = t2 - v * t1  # sum xc h (xc centred: no mean term)
    shy = txy - v * ty
    # centre h, then take out its projection on xc
    hh = shh - sh * sh / n
    hy = shy  # yc is centred: sum (h - mean h) yc = sum h yc
    if sxx > 0:
        hh = hh - sxh * sxh / sxx
        hy = hy - sxh * sxy / sxx
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(hh > 1e-14 * max(float(sxx), 1e-300), hy * hy / hh, 0.0)
    return np.maximum(sse2 - gain, 0.0).astype(np.float64)


def onset_of_rise(segments: list[Segment], x: np.ndarray, y_smooth: np.ndarray, sigma: float = 0.0) -> int:
    """The bin index where the final climb of a curve starts (a change point).

    1. ``i_low``: the last bin still within ``max(2 sigma, ln 1.05)`` of the curve's minimum
       (before the end level).
    2. A segment boundary between the minimum and ``i_low + 1`` that opens with an upward
       jump of that size is the onset (a jump).
    3. Otherwise the climb is gradual: the onset is the knot of a two-phase linear fit
       (:func:`hinge_knot`) over the segment holding ``i_low`` and the one before it, kept
       within ``[i_min, i_low + 1]``: the climb cannot start before the minimum, nor after
       the last bin at the minimum's level (past it the curve never comes back). A straight
       climb (a loss growing x2 every N steps from its first step: one line in the log
       domain) has no knot of its own, and the unclamped fit put it anywhere, e.g. at the
       last step, so that the rollback named a checkpoint 1e4 times worse than the start.

    Args:
        segments: from :func:`segment`; x: (n,) bin steps; y_smooth: (n,) smoothed values;
        sigma: point noise of ``y``.
    Returns:
        a bin index in ``[0, n)``.
    """
    thr = max(2.0 * sigma, float(np.log(1.05)))
    i_min = int(np.argmin(y_smooth))
    within = np.flatnonzero(y_smooth[i_min:] <= y_smooth[i_min] + thr)
    i_low = i_min + int(within[-1])
    for k in range(1, len(segments)):
        sg = segments[k]
        if i_min <= sg.start <= i_low + 1 and sg.y0 - segments[k - 1].y1 >= thr:
            return int(sg.start)
    q = max(k for k in range(len(segments)) if segments[k].start <= i_low)
    lo = segments[q - 1].start if q > 0 else segments[q].start
    hi = segments[q].end
    if hi - lo < 5:
        return i_min
    knot = int(lo + hinge_knot(x[lo:hi], y_smooth[lo:hi]))
    return min(max(knot, i_min), i_low + 1, len(y_smooth) - 1)

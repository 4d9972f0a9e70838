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


def _cums(x: np.ndarray, y: np.ndarray):
    z = np.zeros(1)
    return (np.concatenate([z, np.cumsum(np.ones_like(x))]), np.concatenate([z, np.cumsum(x)]),
            np.concatenate([z, np.cumsum(y)]), np.concatenate([z, np.cumsum(x * x)]),
            np.concatenate([z, np.cumsum(x * y)]), np.concatenate([z, np.cumsum(y * y)]))


def _sse(c, i, j):
    """SSE of the OLS line on points [i, j) (vectorised over i or j)."""
    n, sx, sy, sxx, sxy, syy = (a[j] - a[i] for a in c)
    with np.errstate(invalid="ignore", divide="ignore"):
        vxx = sxx - sx * sx / n
        vxy = sxy - sx * sy / n
        vyy = syy - sy * sy / n
        sse = vyy - np.where(vxx > 1e-300, vxy * vxy / np.where(vxx > 1e-300, vxx, 1.0), 0.0)
    return np.maximum(sse, 0.0)


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
        ks = np.arange(i + min_size, j - min_size + 1)
        total = float(_sse(c, i, j))
        split = _sse(c, i, ks) + _sse(c, ks, j)
        kbest = int(np.argmin(split))
        cache[(i, j)] = (total - float(split[kbest]), int(ks[kbest]))
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
            b, a = np.polyfit(xs, ys, 1)
        else:
            b, a = 0.0, float(np.mean(ys))
        out.append(Segment(i, j, float(x[i]), float(x[j - 1]), float(b / scale),
                           float(a + b * xs[0]), float(a + b * xs[-1])))
    return out


def onset_of_rise(segments: list[Segment], x: np.ndarray, y_smooth: np.ndarray) -> int:
    """The bin index where a final rise starts.

    The rise is taken to start where the smoothed curve last sat in the lowest quarter of
    its final climb (from its minimum to its end level); the onset is the last segment
    boundary at or before that point (the change point), else the minimum itself.

    Args:
        segments: from :func:`segment`; x: (n,) bin steps; y_smooth: (n,) smoothed values.
    Returns:
        a bin index in ``[0, n)``.
    """
    n = y_smooth.shape[0]
    i_min = int(np.argmin(y_smooth))
    k = max(1, n // 20)
    y_end = float(np.median(y_smooth[-k:]))
    level = y_smooth[i_min] + 0.25 * (y_end - y_smooth[i_min])
    above = np.flatnonzero(y_smooth[i_min:] <= level)
    i_low = i_min + int(above[-1]) if above.size else i_min
    starts = [s.start for s in segments[1:] if i_min - 1 <= s.start <= i_low + 1]
    if starts:
        return int(starts[-1])
    return i_min

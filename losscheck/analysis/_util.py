"""Shared numerics for the detectors: value transform, binning, robust noise, Theil-Sen.

Everything here is O(n) or O(n log n) in the number of points, except
:func:`theil_sen`, which is O(m^2) on at most ``max_points`` (default 300) bins.

Scale-freedom: a positive loss is analysed as ``log(loss)``, so multiplying the loss by any
constant only shifts the curve and every threshold below (differences of logs = ratios)
is unchanged. A curve with zero or negative values (GAN, ELBO, RL objectives) is analysed
as ``asinh(v / (2 s))`` with ``s`` its median absolute value: ~ ``log(v / s)`` for large
positive ``v`` and linear near 0, so the same thresholds still mean "relative change".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: 1 / Phi^-1(3/4): turns a median absolute deviation into a Gaussian standard deviation
#: (Hampel 1974; Rousseeuw & Croux 1993, "Alternatives to the median absolute deviation").
MAD_TO_SD = 1.4826


@dataclass
class Transformed:
    """A curve's finite points on the analysis scale.

    Attributes:
        steps: ``int64`` (m,), the steps of the finite points.
        y: ``float64`` (m,), ``log(values)`` (``domain == "log"``) or the asinh transform.
        raw: ``float64`` (m,), the finite raw values (the input arrays themselves when every
            value is finite: treat as read-only).
        domain: ``"log"`` or ``"asinh"``.
        scale: the ``s`` of the asinh transform (1.0 for ``log``).
    """

    steps: np.ndarray
    y: np.ndarray
    raw: np.ndarray
    domain: str
    scale: float = 1.0

    def inverse(self, y: np.ndarray | float) -> np.ndarray | float:
        """Map analysis-scale values back to raw loss units."""
        if self.domain == "log":
            return np.exp(y)
        return 2.0 * self.scale * np.sinh(y)


def transform(steps: np.ndarray, values: np.ndarray) -> Transformed:
    """Keep the finite points and put them on the analysis scale (see module doc).

    Args:
        steps: ``int64`` (n,), strictly increasing.
        values: ``float64`` (n,), NaN/Inf allowed (dropped here; counted elsewhere).
    """
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    if ok.all():  # the usual case: the caller's arrays, not copies (read-only use below)
        st, raw = np.asarray(steps, dtype=np.int64), values
    else:
        st, raw = np.asarray(steps, dtype=np.int64)[ok], values[ok]
    if raw.size and np.all(raw > 0):
        return Transformed(st, np.log(raw), raw, "log", 1.0)
    s = float(np.median(np.abs(raw))) if raw.size else 1.0
    if not s > 0:
        s = float(np.max(np.abs(raw))) if raw.size and np.max(np.abs(raw)) > 0 else 1.0
    return Transformed(st, np.arcsinh(raw / (2.0 * s)), raw, "asinh", s)


def bin_median(steps: np.ndarray, y: np.ndarray, max_bins: int = 2000
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robustly smooth a long curve: equal-count bins, median of ``y`` per bin.

    Args:
        steps: (m,) steps; y: (m,) analysis-scale values.
        max_bins: at most this many bins (curves with fewer points are returned as is).
    Returns:
        ``(t, yb, first)``: (b,) bin centre steps (float, mean of the bin's steps), (b,)
        bin medians, (b,) the first raw step of each bin (int64). O(m log k), k = m / b.
    """
    steps = np.asarray(steps)
    m = y.shape[0]
    if m <= max_bins:
        return steps.astype(np.float64), y.astype(np.float64), steps.astype(np.int64)
    k = int(np.ceil(m / max_bins))
    b = m // k
    main = y[: b * k].reshape(b, k)
    st = steps[: b * k].reshape(b, k)
    t = st.mean(axis=1)
    yb = row_median(main)
    first = st[:, 0].astype(np.int64)
    if b * k < m:
        t = np.append(t, steps[b * k:].mean())
        yb = np.append(yb, np.median(y[b * k:]))
        first = np.append(first, steps[b * k])
    return t.astype(np.float64), yb, first


def row_median(m: np.ndarray) -> np.ndarray:
    """``np.median(m, axis=1)`` of a (b, k) array, k >= 1, by sorting the rows: the same
    numbers (the middle value, or the mean of the two middle values of an even row; NaN for a
    row holding a NaN) at a fraction of the cost for short rows (numpy's median partitions
    each row through a general path; tested equal in ``tests/analysis/test_fast_paths.py``).
    Returns (b,) float64."""
    s = np.sort(m, axis=1)
    k = s.shape[1]
    h = k // 2
    med = s[:, h] if k % 2 else (s[:, h - 1] + s[:, h]) / 2.0
    nan = np.isnan(s[:, -1])  # sort puts NaN last
    if nan.any():
        med = np.where(nan, np.nan, med)
    return med


def robust_sd(x: np.ndarray) -> float:
    """``1.4826 * MAD``: a Gaussian-consistent robust standard deviation (Hampel 1974)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(MAD_TO_SD * np.median(np.abs(x - np.median(x))))


def diff_noise(y: np.ndarray) -> float:
    """Point-to-point noise of a curve with a trend: ``robust_sd(diff(y)) / sqrt(2)``.

    First differences remove a slowly varying trend; the MAD ignores jumps and spikes
    (Rousseeuw & Croux 1993). Units: those of ``y`` (log units for a positive loss).
    """
    if y.shape[0] < 3:
        return 0.0
    return robust_sd(np.diff(y)) / np.sqrt(2.0)


def rolling_median(y: np.ndarray, window: int, trailing: bool = True, min_periods: int = 1
                   ) -> np.ndarray:
    """Rolling median of the finite values in each window (pandas' ``rolling().median()``,
    which takes NaN and +-inf as missing).

    Args:
        y: (n,) values; NaN and +-inf are missing.
        window: points per window (``w``).
        trailing: ``True``: the median of the ``w`` points *before* i (i excluded);
            ``False``: the centred window ``[i - w // 2, i - w // 2 + w)``, i included.
            Windows are clipped at the ends of the curve.
        min_periods: finite values a window needs, else NaN (at least 1; above ``window``
            every output is NaN, where pandas raises).
    Returns:
        (n,) float64 medians; an even count averages its two middle values.

    Computed by :func:`bottleneck.move_median` (a double-heap running median, O(n log w),
    C; it ignores NaN and counts the values present against ``min_count``), with the
    output shifted for the trailing and centred alignments. The result equals
    ``pd.Series(y).rolling(...)`` to the last bit (tests/analysis/test_analysis.py), but for the sign
    of a zero median when +0.0 and -0.0 tie (equal values either way).
    """
    import bottleneck as bn  # lazy: start-up time (~5 ms)

    y = np.asarray(y, dtype=np.float64)
    n, w = y.shape[0], int(window)
    mp = max(int(min_periods), 1)
    if n == 0 or mp > w:
        return np.full(n, np.nan)
    fin = np.isfinite(y)
    yy = y if fin.all() else np.where(fin, y, np.nan)
    # bottleneck's window at k is a[k - w + 1: k + 1] (clipped at 0) and needs len(a) >= w:
    # NaN padding (ignored) in front of a short input, at the back for the centred windows
    # that run past the end
    lead = max(w - n, 0)
    tail = 0 if trailing else w - 1 - w // 2
    if lead or tail:
        yy = np.concatenate([np.full(lead, np.nan), yy, np.full(tail, np.nan)])
    m = bn.move_median(yy, w, min_count=mp)[lead:]
    if trailing:  # output i is the window ending at i - 1: shift in place (a memmove)
        m[1:] = m[:-1]
        m[0] = np.nan
        return m
    return m[tail:]  # output i is the window ending at i - w // 2 + w - 1


def median_filter_nearest(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving median of a finite (n,) curve (n >= 1) over an odd ``window``, the ends
    padded by repeating the edge values: what ``scipy.ndimage.median_filter(y,
    size=window, mode="nearest")`` returns (tested), through :func:`bottleneck.move_median`.
    Returns (n,).

    Raises:
        ValueError: for an even ``window`` (a centred median needs a middle point).
    """
    import bottleneck as bn  # lazy: start-up time

    if window % 2 == 0:
        raise ValueError(f"median_filter_nearest needs an odd window, got {window}")
    y = np.asarray(y, dtype=np.float64)
    h = window // 2
    padded = np.concatenate([np.full(h, y[0]), y, np.full(h, y[-1])])
    return bn.move_median(padded, window)[2 * h:]  # the window ending at i + 2h is centred on i


def row_nanmedian(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of the non-NaN values of each row of ``m`` (p, w), and their count, both (p,).

    The median is NaN for a row without values; an even count averages the two middle
    values (as :func:`numpy.nanmedian` and pandas). Sorts ``m`` in place (NaN last): for the
    short rows of rolling windows this is several times faster than ``np.nanmedian``.
    """
    if m.shape[1] == 0:
        return np.full(m.shape[0], np.nan), np.zeros(m.shape[0], dtype=np.int64)
    m.sort(axis=1)
    cnt = (~np.isnan(m)).sum(axis=1)
    r = np.arange(m.shape[0])
    a = m[r, np.maximum(cnt - 1, 0) // 2]
    b = m[r, np.minimum(cnt // 2, m.shape[1] - 1)]
    med = np.where(cnt % 2 == 1, b, (a + b) / 2.0)
    return np.where(cnt > 0, med, np.nan), cnt


@lru_cache(maxsize=8)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``i < j`` of ``n`` points (cached: the same bin counts recur)."""
    i, j = np.triu_indices(n, k=1)
    return i.astype(np.intp), j.astype(np.intp)


def theil_sen(x: np.ndarray, y: np.ndarray, max_points: int = 300, alpha: float = 0.95
              ) -> tuple[float, float, float]:
    """Theil-Sen slope with its confidence interval (Theil 1950; Sen 1968).

    The slope is the median of the pairwise slopes ``(y_j - y_i) / (x_j - x_i)`` over the
    pairs with ``x_j > x_i``. The interval takes order statistics of those N slopes at
    ranks ``M1 = (N - C) / 2`` and ``M2 + 1 = (N + C) / 2 + 1`` (rounded), with
    ``C = z_{(1+alpha)/2} * sqrt(Var S)`` and Kendall's ``Var S = [n(n-1)(2n+5) -
    sum_ties k(k-1)(2k+5)] / 18`` over tied groups in x and in y (Sen 1968, eq. 2.6; Gilbert
    1987, *Statistical Methods for Environmental Pollution Monitoring*, sec. 16.5). Written
    out here rather than imported from :func:`scipy.stats.theilslopes`, which gives the same
    figures (tested) but costs ~0.4 s and ~25 MB of imports per process.

    Args:
        x, y: (m,) arrays (x in steps). Longer inputs are first median-binned to
            ``max_points`` so the O(m^2) pairwise slopes stay cheap.
        alpha: confidence level of the interval (it assumes independent errors, which
            binning makes closer to true).
    Returns:
        ``(slope, low, high)`` in units of y per step; zeros when fewer than 3 points or all
        x are equal.
    """
    if x.shape[0] < 3:
        return 0.0, 0.0, 0.0
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] > 10_000:
        return _theil_sen(x, y, max_points, alpha)
    # the divergence, oscillation and plateau detectors ask for the same binned curve's
    # slope: the answer is kept for the last few inputs, keyed by their bytes
    return _theil_sen_cached(x.tobytes(), y.tobytes(), max_points, alpha)


@lru_cache(maxsize=8)
def _theil_sen_cached(xb: bytes, yb: bytes, max_points: int, alpha: float) -> tuple[float, float, float]:
    return _theil_sen(np.frombuffer(xb), np.frombuffer(yb), max_points, alpha)


def _theil_sen(x: np.ndarray, y: np.ndarray, max_points: int, alpha: float) -> tuple[float, float, float]:
    from statistics import NormalDist

    if x.shape[0] > max_points:
        x, y, _ = bin_median(x, y, max_points)
    if np.ptp(x) == 0:
        return 0.0, 0.0, 0.0
    i, j = _pairs(x.shape[0])
    # take() and in-place differences: half the time of fancy indexing, the same numbers
    dx = x.take(j)
    dx -= x.take(i)
    dy = y.take(j)
    dy -= y.take(i)
    increasing = bool(np.all(x[1:] > x[:-1]))
    if increasing:  # the usual case (bins): every pair already has dx > 0, no tied x
        dy /= dx
        slopes = dy
    else:  # orient every pair so that x increases; pairs with equal x have no slope
        up, down = dx > 0, dx < 0
        slopes = np.concatenate([dy[up] / dx[up], dy[down] / dx[down]])
    N = slopes.shape[0]
    n = x.shape[0]

    def ties(v):
        k = np.unique(v, return_counts=True)[1].astype(np.float64)
        return float(np.sum(k * (k - 1) * (2 * k + 5)))

    var_s = (n * (n - 1) * (2 * n + 5) - (0.0 if increasing else ties(x)) - ties(y)) / 18.0
    c = NormalDist().inv_cdf(0.5 + max(alpha, 1.0 - alpha) / 2.0) * np.sqrt(max(var_s, 0.0))
    lo = max(int(np.round((N - c) / 2.0)) - 1, 0)  # 0-based index of the M1-th slope
    hi = min(int(np.round((N + c) / 2.0)), N - 1)  # of the (M2 + 1)-th
    mid = [(N - 1) // 2, N // 2]
    part = np.partition(slopes, sorted({lo, hi, *mid}))
    return float((part[mid[0]] + part[mid[1]]) / 2.0), float(part[lo]), float(part[hi])


def py(x):
    """Make a value JSON-friendly: numpy scalars -> float/int/bool, NaN/Inf -> None."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return f if np.isfinite(f) else None
    if isinstance(x, dict):
        return {str(k): py(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [py(v) for v in x]
    return x

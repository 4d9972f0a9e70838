"""Vectorised computations equal the plain loops they replaced (speed work of issue 6)."""

import numpy as np
import pytest

from losscheck.analysis.divergence import block_medians
from losscheck.analysis.lr import restart_steps
from losscheck.model import Series
from losscheck.pipeline import curve_digest as sparkline_values


def _sparkline_loop(s: Series, width: int = 40):
    edges = np.linspace(s.steps[0], s.steps[-1] + 1, min(width, len(s)) + 1)
    idx = np.clip(np.searchsorted(edges, s.steps, side="right") - 1, 0, len(edges) - 2)
    out = []
    for b in range(len(edges) - 1):
        v = s.values[idx == b]
        v = v[np.isfinite(v)]
        out.append(float(np.median(v)) if len(v) else (float("nan") if np.any(idx == b) else None))
    return out


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is y
        elif np.isnan(x) or np.isnan(y):
            assert np.isnan(x) and np.isnan(y)
        else:
            assert x == y


@pytest.mark.parametrize("seed", range(12))
def test_sparkline_equals_loop(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    steps = np.cumsum(rng.integers(1, 50 if seed % 2 else 2, n)).astype(np.int64)
    values = rng.lognormal(0, 1, n)
    values[rng.random(n) < 0.1 * (seed % 3)] = np.nan
    if seed % 4 == 0:
        values[: n // 2] = np.inf  # a bin of only non-finite values
    s = Series("loss", steps, values, "x.csv")
    _same(sparkline_values(s), _sparkline_loop(s))
    _same(sparkline_values(s, 7), _sparkline_loop(s, 7))


@pytest.mark.parametrize("n,blocks", [(100, 10), (101, 10), (7, 10), (1999, 16), (16, 16)])
def test_block_medians_equal_loop(n, blocks):
    y = np.random.default_rng(n).normal(size=n)
    med, idx, k = block_medians(y, blocks)
    b = min(blocks, n)
    ref = [np.median(y[i: i + k] if j < b - 1 else y[i:]) for j, i in enumerate(np.arange(b) * k)]
    assert med.tolist() == ref and idx.tolist() == (np.arange(b) * k).tolist()


def test_periodic_pattern_detrending_equals_sliding_window_median():
    from losscheck.analysis._util import median_filter_nearest

    y = np.random.default_rng(1).normal(size=777).cumsum()
    w = (777 // 4) | 1
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(y, w // 2, mode="edge"), w)
    assert np.array_equal(median_filter_nearest(y, w), np.median(windows, axis=1))


def test_restart_steps_and_bumps():
    # cosine with warm restarts every 100 steps, the loss bumps x1.5 after every other one
    steps = np.arange(1000, dtype=np.int64)
    lr = 1e-3 * (0.5 + 0.5 * np.cos(np.pi * (steps % 100) / 100))
    rs = restart_steps(Series("lr", steps, lr, "x.csv"))
    assert rs == list(range(100, 1000, 100))
    assert all(isinstance(r, int) for r in rs)


@pytest.mark.parametrize("seed", range(6))
def test_lc304_bumps_equal_loop(seed):
    from losscheck.analysis.evidence import finite_xy
    from tests.rules.test_rules_extra import fire, lr_run

    rng = np.random.default_rng(seed)
    steps = np.arange(0, 4000, 5)
    period = int(rng.integers(40, 400))
    lr = 1e-3 * (0.5 + 0.5 * np.cos(np.pi * (steps % period) / period))
    loss = rng.lognormal(0, 0.3, steps.shape[0])
    loss[rng.random(steps.shape[0]) < 0.05] = np.nan
    f = fire("LC304", lr_run(lr, steps, loss=loss))
    rs = restart_steps(Series("lr", steps, lr, "x.csv"))
    ls, lv = finite_xy(Series("loss", steps, loss, "x.csv"))
    ref = []
    for r in rs:  # the loop the rule used before it was vectorised
        before, after = lv[ls < r][-3:], lv[ls >= r][:3]
        if len(before) and len(after):
            b, a = float(np.median(before)), float(np.median(after))
            if b > 0 and a >= 1.1 * b:  # BUMP_RATIO
                ref.append((r, a / b))
    assert len(f) == 1 and f[0].evidence["loss_bumps"] == len(ref)
    if ref:
        top = max(ref, key=lambda x: x[1])
        assert f[0].evidence["largest_bump"] == {"step": top[0], "ratio": pytest.approx(top[1], rel=1e-12)}


@pytest.mark.parametrize("dense", [0, 256])
@pytest.mark.parametrize("seed", range(30))
def test_restart_steps_equal_the_per_point_scan(seed, dense, monkeypatch):
    from losscheck.analysis import lr as lrmod

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 20000))
    steps = np.arange(n, dtype=np.int64) * int(rng.integers(1, 5))
    kind = seed % 5
    if kind == 0:  # cosine restarts, random period
        p = int(rng.integers(3, 3000))
        v = 0.5 + 0.5 * np.cos(np.pi * (np.arange(n) % p) / p)
    elif kind == 1:  # noise: many spurious climbs
        v = rng.lognormal(0, 1, n)
    elif kind == 2:  # warmup then decay, with zeros
        v = np.minimum(np.arange(n) / max(n // 10, 1), 1.0) * np.linspace(1, 0, n)
    elif kind == 3:  # step schedule with a rise back
        v = np.repeat(rng.choice([1e-3, 1e-4, 5e-4, 1e-5], size=n // 50 + 1), 50)[:n]
    else:  # triangles of random heights
        v = np.abs(np.sin(np.arange(n) / rng.uniform(5, 500))) * rng.uniform(0.1, 1, n) ** 0.1
    ref = lrmod._restart_loop(v, steps)
    monkeypatch.setattr(lrmod, "SCAN_LOOP_MAX", 2)  # force the windowed scan
    monkeypatch.setattr(lrmod, "DENSE_SEGMENT", dense)  # 0: windows only; else hand-over
    assert restart_steps(Series("lr", steps, v, "x.csv")) == ref


def test_row_nanmedian_equals_numpy():
    import warnings

    from losscheck.analysis._util import row_nanmedian

    rng = np.random.default_rng(0)
    for _ in range(300):
        p, w = int(rng.integers(0, 20)), int(rng.integers(0, 9))
        m = rng.normal(size=(p, w))
        m[rng.random((p, w)) < 0.4] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
            ref = np.nanmedian(m, axis=1) if w else np.full(p, np.nan)
        got, cnt = row_nanmedian(m.copy())
        assert np.array_equal(got, ref, equal_nan=True)
        assert np.array_equal(cnt, (~np.isnan(m)).sum(axis=1))


@pytest.mark.parametrize("seed", range(20))
def test_median_filter_nearest_equals_scipy(seed):
    ndimage = pytest.importorskip("scipy.ndimage")
    from losscheck.analysis._util import median_filter_nearest

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    y = rng.normal(size=n)
    if seed % 3 == 0:
        y = np.round(y, 1)  # ties
    w = int(rng.integers(0, 400)) | 1
    got = median_filter_nearest(y, w)
    assert np.array_equal(got, ndimage.median_filter(y, size=w, mode="nearest"))


def test_median_filter_nearest_rejects_an_even_window():
    from losscheck.analysis._util import median_filter_nearest

    with pytest.raises(ValueError, match="odd window"):
        median_filter_nearest(np.arange(10.0), 4)


@pytest.mark.parametrize("seed", range(6))
def test_grad_surge_with_running_medians_equals_the_median_per_window(seed, monkeypatch):
    """detect_surge's trailing medians (bottleneck.move_median) and its running floor
    (np.minimum.accumulate), each replaced by its plain loop, give the surge the per-window
    np.median scan gave (issue 15: that scan was O(n^2 / 10))."""
    import bottleneck

    from losscheck.live import Monitor

    rng = np.random.default_rng(seed)
    n = 400 + 50 * seed
    k = int(n * rng.uniform(0.4, 0.6))
    loss = 2.0 * np.exp(-np.arange(n) / 80) + 0.5 + 0.02 * rng.standard_normal(n)
    gn = 1.0 + 0.2 * rng.standard_normal(n) ** 2
    gn[k:] *= np.exp(0.03 * np.arange(n - k))
    loss[k + 60:] *= np.exp(0.03 * np.arange(n - k - 60))

    def verdict():
        m = Monitor()
        for i in range(n):
            m.update(i, loss=float(loss[i]), grad_norm=float(gn[i]), lr=1e-3)
        r = m.analyse().report
        return [(f.code, f.step, f.evidence.get("lead")) for f in r.findings], [c.notes for c in r.curves]

    fast = verdict()

    real = bottleneck.move_median

    def slow_move_median(a, window, min_count=None):
        if min_count is not None:  # other detectors' partial windows: not under test here
            return real(a, window, min_count=min_count)
        out = np.full(len(a), np.nan)
        for i in range(window - 1, len(a)):
            out[i] = np.median(a[i - window + 1:i + 1])
        return out

    # the running floor (np.minimum.accumulate) against the plain loop it replaces: the lowest
    # trailing median so far, recomputed at each index
    from losscheck.analysis import gradnorm

    class _Minimum:
        def __call__(self, *a, **k):
            return np.minimum(*a, **k)

        @staticmethod
        def accumulate(a):
            return np.array([min(a[:j + 1]) for j in range(len(a))], dtype=np.float64)

    class _Numpy:  # numpy, but minimum.accumulate is the plain loop
        minimum = _Minimum()

        def __getattr__(self, name):
            return getattr(np, name)

    monkeypatch.setattr(bottleneck, "move_median", slow_move_median)
    monkeypatch.setattr(gradnorm, "np", _Numpy())
    assert verdict() == fast
    assert any(code == "LC201" for code, _, _ in fast[0]), fast  # the surge is found


def _hinge_reference(x, y, min_size=2, max_candidates=300):
    """hinge_knot as it was: every strided candidate solved by lstsq, then the window around
    the best (the plain search the screened one must reproduce)."""
    n = y.shape[0]
    xs = (x - x[0]) / max(float(x[-1] - x[0]), 1.0)

    def sse(k):
        A = np.column_stack([np.ones(n), xs, np.maximum(xs - xs[k], 0.0)])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        r = y - A @ coef
        return float(r @ r)

    cands = np.arange(min_size, n - min_size)
    stride = max(1, cands.size // max_candidates)
    best = min(cands[::stride], key=sse)
    if stride > 1:
        lo, hi = max(min_size, best - stride), min(n - min_size, best + stride + 1)
        best = min(range(lo, hi), key=sse)
    return int(best)


def _hinge_curve(rng, n, noise):
    x = np.sort(rng.choice(100_000, n, replace=False)).astype(np.float64)
    knot = x[int(rng.integers(0, n))]
    y = 5.0 * rng.normal() + 1e-5 * rng.normal() * x + 1e-4 * rng.normal() * np.maximum(x - knot, 0.0)
    return x, y + noise * rng.standard_normal(n)


@pytest.mark.parametrize("seed", range(40))
def test_hinge_knot_equals_solving_every_candidate(seed):
    """The prefix-sum screen only skips candidates that cannot win: the knot is the one of
    solving each candidate by lstsq (noiseless pieces, rounded values with ties, noisy ones)."""
    from losscheck.analysis.changepoint import hinge_knot

    rng = np.random.default_rng(seed)
    x, y = _hinge_curve(rng, int(rng.integers(5, 2200)), (0.0, 1e-3, 1e-2, 0.1)[seed % 4])
    if seed % 5 == 0:
        y = np.round(y, 2)
    assert hinge_knot(x, y) == _hinge_reference(x, y)


def test_hinge_knot_solves_few_candidates(monkeypatch):
    """Counted work, not time: a noisy curve's knot costs a handful of lstsq solves whatever
    its length (they were ~300-400 per knot: one per strided candidate plus the window)."""
    from losscheck.analysis import changepoint

    calls = []
    real = np.linalg.lstsq

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(np.linalg, "lstsq", counted)
    rng = np.random.default_rng(7)
    for n in (50, 500, 2000):
        for _ in range(5):
            calls.clear()
            x, y = _hinge_curve(rng, n, 0.01)
            changepoint.hinge_knot(x, y)
            assert 1 <= len(calls) <= 20, (n, len(calls))
    # a straight line fits every knot equally well: then every candidate is solved, as before
    calls.clear()
    x = np.arange(600, dtype=np.float64)
    changepoint.hinge_knot(x, 0.5 + 0.01 * x)
    assert len(calls) > 100


def test_row_median_equals_numpy():
    from losscheck.analysis._util import row_median

    rng = np.random.default_rng(3)
    for t in range(400):
        b, k = int(rng.integers(1, 200)), int(rng.integers(1, 30))
        m = rng.standard_normal((b, k)) * 10.0 ** int(rng.integers(-4, 4))
        if t % 3 == 0:
            m = np.round(m, 1)  # ties
        if t % 5 == 0:
            m[rng.random((b, k)) < 0.05] = np.nan
        if t % 7 == 0:
            m[rng.random((b, k)) < 0.05] = np.inf
        assert np.array_equal(row_median(m.copy()), np.median(m, axis=1), equal_nan=True)


def _segment_reference(x, y, sigma, max_segments=8, min_size=3, penalty_factor=2.0):
    """The split search of segment() with the prefix-sum rows gathered per split point."""
    from losscheck.analysis.changepoint import _cums, _sse

    n = y.shape[0]
    xc = (x - x[0]) / max(float(x[-1] - x[0]), 1.0)
    c = _cums(xc, y)
    sig = max(float(sigma), 1e-3)
    pen = penalty_factor * 3.0 * sig * sig * np.log(max(n, 2))
    bounds = [0, n]

    def best_split(i, j):
        if j - i < 2 * min_size:
            return 0.0, -1
        ks = np.arange(i + min_size, j - min_size + 1)
        split = _sse(c, i, ks) + _sse(c, ks, j)
        kb = int(np.argmin(split))
        return float(_sse(c, i, j)) - float(split[kb]), int(ks[kb])

    while len(bounds) - 1 < max_segments:
        gains = [best_split(bounds[q], bounds[q + 1]) for q in range(len(bounds) - 1)]
        q = int(np.argmax([g[0] for g in gains]))
        if gains[q][1] < 0 or gains[q][0] <= pen:
            break
        bounds.insert(q + 1, gains[q][1])
    return bounds


@pytest.mark.parametrize("seed", range(30))
def test_segment_splits_equal_the_gathered_search(seed):
    from losscheck.analysis.changepoint import segment

    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 2100))
    x = np.sort(rng.choice(100_000, n, replace=False)).astype(np.float64)
    y = np.cumsum(rng.standard_normal(n)) * (0.001, 0.01, 0.1)[seed % 3] + (rng.random(n) < 0.01) * rng.normal(size=n)
    if seed % 4 == 0:
        y = np.round(y, 2)
    sigma = (0.0, 1e-3, 0.01)[seed % 3]
    got = segment(x, y, sigma)
    assert [s.start for s in got] + [got[-1].end] == _segment_reference(x, y, sigma)

"""The trend fits (variable projection + Levenberg-Marquardt) against scipy's least_squares.

scipy is a test dependency (the ``test`` extra), so the reference optimiser is always
available here; losscheck itself does not import scipy when it diagnoses.
"""

import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import least_squares

from losscheck.analysis import _least_squares as LS
from losscheck.analysis import trend as T


def _curves():
    rng = np.random.default_rng(7)
    t = np.linspace(0, 1, 400)
    u = (np.arange(400) + 1.0) / 400
    for noise in (0.01, 0.1, 0.5):
        e = rng.normal(0, noise, 400)
        yield "exp_decay", t, u, np.log(0.3 + 2.0 * np.exp(-t / 0.05)) + e
        yield "power_decay", t, u, np.log(0.1 + 0.5 * u ** -0.6) + e
        yield "exp_decay", t, u, np.log(1.0 + 0.5 * np.exp(-t / 2.0)) + e  # nearly linear
        yield "power_decay", t, u, np.log(2.0 + 0 * t) + e  # flat: b -> 0 on the bound
        yield "exp_decay", t, u, np.log(np.exp(3 * t)) + e  # rising: no decay fits


def _scipy_best(model, t, u, y):
    """Multi-start trust-region reflective on the same log-scale objective."""
    g = (lambda p: np.exp(-t / p[2])) if model == "exp_decay" else (lambda p: u ** -p[2])
    lo, hi = ((1e-4, 1e3) if model == "exp_decay" else (1e-3, 5.0))
    L = np.exp(y)
    best = np.inf
    for th0 in np.geomspace(lo * 10, hi / 10, 6):
        res = least_squares(lambda p: np.log(np.maximum(p[0] + p[1] * g(p), 1e-12)) - y,
                            [max(L.min() * 0.9, 1e-6), max(np.ptp(L), 1e-6), th0],
                            bounds=([0, 0, lo], [np.inf, np.inf, hi]), method="trf", max_nfev=2000)
        best = min(best, float(np.sum(res.fun ** 2)))
    return best


@pytest.mark.parametrize("case", list(_curves()), ids=lambda c: c[0])
def test_separable_fit_reaches_scipys_optimum(case):
    model, t, u, y = case
    p, rss = T._fit_separable(model, t, u, y, True, max_nfev=200)
    ref = _scipy_best(model, t, u, y)
    assert rss <= ref * (1 + 1e-4) + 1e-9
    # the reported parameters give the reported residual, inside the bounds
    g = np.exp(-t / p[2]) if model == "exp_decay" else u ** -p[2]
    r = np.log(np.maximum(p[0] + p[1] * g, 1e-12)) - y
    assert float(r @ r) == pytest.approx(rss, rel=1e-9)
    assert p[0] >= 0 and p[1] >= 0


def test_raw_scale_fits_match_linear_least_squares_for_fixed_rate():
    # on the asinh scale with r fixed, a + b exp(r t) is linear: compare the profile with lstsq
    rng = np.random.default_rng(3)
    t = np.linspace(0, 1, 300)
    y = -1.0 + 0.2 * np.exp(2.5 * t) + rng.normal(0, 0.05, 300)
    g = np.exp(np.array([1.0, 2.5, 4.0])[:, None] * t)
    a, b, rss = LS.profile(g, y, log_link=False)
    for k in range(3):
        X = np.column_stack([np.ones_like(t), g[k]])
        coef, res, *_ = np.linalg.lstsq(X, y, rcond=None)
        assert (a[k], b[k]) == pytest.approx(tuple(coef), rel=1e-7)
        assert rss[k] == pytest.approx(float(res[0]), rel=1e-7)
    p, cost = T._fit_separable("exp_growth", t, t + 1e-3, y, False, 200)
    assert p[2] == pytest.approx(2.5, rel=0.05) and cost <= rss.min()


def test_levenberg_marquardt_holds_bounds():
    # unconstrained minimum at x = -1; with x >= 0 the answer is the bound
    p, cost = LS.levenberg_marquardt(lambda p: np.array([p[0] + 1.0]), lambda p: np.array([[1.0]]),
                                     np.array([2.0]), np.array([0.0]), np.array([np.inf]))
    assert p[0] == 0.0 and cost == pytest.approx(1.0)


def test_diagnose_imports_neither_scipy_nor_pandas_for_an_event_file():
    # start-up time: scipy.optimize and scipy.stats cost ~0.4 s and ~25 MB per process each,
    # scipy.ndimage 0.16 s, pandas 0.25 s (benchmarks/SPEED.md)
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "sample_runs" / "qwen-style-diverge"
    code = ("import sys\n"
            "from losscheck.pipeline import diagnose\n"
            f"r = diagnose({str(sample)!r})\n"
            "assert r.runs and r.runs[0].primary == 'diverging', r\n"
            "print(sorted(m for m in ('scipy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_theil_sen_equals_scipy():
    from scipy.stats import theilslopes

    from losscheck.analysis._util import theil_sen

    rng = np.random.default_rng(0)
    checked = 0
    for trial in range(200):
        n = int(rng.integers(3, 300))
        if trial % 3:
            x = np.sort(rng.choice(5000, n, replace=False)).astype(float)
        else:  # tied steps
            x = np.sort(rng.integers(0, 40, n)).astype(float)
        y = rng.normal(0, 1, n) + 0.01 * x
        if trial % 5 == 0:
            y = np.round(y, 1)  # tied values
        if np.ptp(x) == 0:
            continue
        for alpha in (0.95, 0.9):
            ref = theilslopes(y, x, alpha=alpha)
            got = theil_sen(x, y, alpha=alpha)
            assert got == pytest.approx((ref[0], ref[2], ref[3]), rel=1e-12, abs=1e-15)
        checked += 1
    assert checked > 150


@pytest.mark.parametrize("slope", [-0.9, -0.5, 0.0, 2.0, 50.0])
@pytest.mark.parametrize("noise", [0.01, 0.3])
def test_linear_log_fit_reaches_scipys_optimum(slope, noise):
    rng = np.random.default_rng(int(abs(slope) * 10 + noise * 100))
    t = np.linspace(0, 1, 300)
    y = np.log(1.0 + slope * t) + rng.normal(0, noise, 300)
    p, rss = T._fit_linear_log(t, y)
    best = np.inf
    for a0, b0 in ((1.0, slope), (np.exp(y[0]), 0.0), (1e-3, 1.0)):
        res = least_squares(lambda q: np.log(np.maximum(q[0] + q[1] * t, 1e-12)) - y, [a0, b0],
                            bounds=([1e-12, -np.inf], [np.inf, np.inf]), method="trf", max_nfev=5000)
        best = min(best, float(np.sum(res.fun ** 2)))
    assert rss <= best * (1 + 1e-5) + 1e-9
    f = p[0] + p[1] * t
    assert np.all(f > 0) and float(np.sum((np.log(f) - y) ** 2)) == pytest.approx(rss, rel=1e-9)

"""Trend models for a loss curve, chosen by AICc.

Method: the finite points are put on the analysis scale (``log(loss)``, see
:mod:`losscheck.analysis._util`) and median-binned into at most ``max_bins`` equal-count
bins (robust smoothing, O(n)). Five models of the *loss* are fitted by least squares on the
*log* scale (residual = ``log f(step) - median log loss``), so the fit is scale-free and
multiplicative noise is homoscedastic:

================  ==========================================  ======
model             loss model ``f(step)``                      params
================  ==========================================  ======
``constant``      ``a``                                       1
``linear``        ``a + b * t``                               2
``exp_decay``     ``a + b * exp(-t / tau)``  (a, b >= 0)      3
``power_decay``   ``a + b * u ** -alpha``    (a, b >= 0)      3
``exp_growth``    ``a * exp(r * t)``         (r >= 0)         2
================  ==========================================  ======

``t`` is the step minus the first step; ``u`` is the step counted from the start of
training (the first logged step plus one logging interval when the log starts at 0).
For a curve with zero/negative values (asinh scale), the models are fitted to the
transformed values directly (``exp_growth`` is then ``a + b * exp(r t)``).

Model choice: the small-sample corrected Akaike criterion
``AICc = n ln(RSS/n) + 2K + 2K(K+1)/(n-K-1)`` with K = params + 1 (the variance)
(Akaike 1974; Hurvich & Tsai 1989; Burnham & Anderson 2002, *Model Selection and
Multimodel Inference*, ch. 2). ``delta_aic`` is the runner-up's AICc minus the winner's;
Burnham & Anderson read delta > 10 as "essentially no support" for the runner-up.

Cost: each nonlinear fit is :func:`scipy.optimize.least_squares` (trust-region
reflective, analytic Jacobians) capped at ``max_nfev`` evaluations on <= ``max_bins``
points; never O(n^2).
"""

from __future__ import annotations

import numpy as np

from losscheck.analysis._util import bin_median, transform
from losscheck.model import TrendFit

MODELS = ("constant", "linear", "exp_decay", "power_decay", "exp_growth")
_N_PARAMS = {"constant": 1, "linear": 2, "exp_decay": 3, "power_decay": 3, "exp_growth": 2}


def aicc(rss: float, n: int, n_params: int) -> float:
    """AICc of a least-squares fit (Hurvich & Tsai 1989); K = n_params + 1 (sigma^2).

    ``rss`` is floored so that an exactly constant curve does not give ``-inf``.
    Returns ``inf`` when ``n <= K + 1`` (the correction is undefined).
    """
    k = n_params + 1
    if n - k - 1 <= 0:
        return float("inf")
    rss = max(rss, n * 1e-18)
    return float(n * np.log(rss / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1))


def _lsq(fun, x0, bounds, max_nfev, jac):
    from scipy.optimize import least_squares  # lazy

    try:
        res = least_squares(fun, x0, jac=jac, bounds=bounds, max_nfev=max_nfev, method="trf")
    except (ValueError, FloatingPointError):
        return None
    if not np.all(np.isfinite(res.x)):
        return None
    r = fun(res.x)
    return res.x, float(np.dot(r, r))


# Analytic Jacobians (n, k) of the models f(p) with respect to their parameters p; ``e``/``v``
# is the model's exp/power term, already computed. Exact derivatives instead of scipy's
# finite differences: same optimum, a fraction of the evaluations.
def _exp_decay_df(p, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """f = a + b exp(-t / tau): (1, e, b e t / tau^2)."""
    return np.column_stack([np.ones_like(t), e, p[1] * e * t / (p[2] * p[2])])


def _power_decay_df(p, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """f = a + b u^-alpha: (1, v, -b v ln u)."""
    return np.column_stack([np.ones_like(u), v, -p[1] * v * np.log(u)])


def _exp_growth_df(p, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """f = a + b exp(r t): (1, e, b t e)."""
    return np.column_stack([np.ones_like(t), e, p[1] * t * e])


def _log_jac(f: np.ndarray, df: np.ndarray, tiny: float) -> np.ndarray:
    """Jacobian of ``log(max(f, tiny)) - y`` from that of ``f`` ((n, k) ``df``): ``df / f``
    where ``f > tiny``, 0 where the floor is active."""
    live = f > tiny
    return np.where(live[:, None], df / np.where(live, f, 1.0)[:, None], 0.0)


def _fit_log(t: np.ndarray, u: np.ndarray, y: np.ndarray, max_nfev: int) -> dict:
    """Fit the five models to log-scale bins ``y`` on ``t`` in [0, 1] and ``u`` in (0, 1].

    Returns ``{model: (params_in_normalised_units, rss)}``; the loss is scaled by
    ``exp(median y)`` for conditioning (undone by the caller).
    """
    out: dict[str, tuple[np.ndarray, float]] = {}
    c = float(np.mean(y))
    out["constant"] = (np.array([c]), float(np.sum((y - c) ** 2)))
    L = np.exp(y)
    tiny = 1e-12

    def lin(p):
        return np.log(np.maximum(p[0] + p[1] * t, tiny)) - y

    def lin_jac(p):
        return _log_jac(p[0] + p[1] * t, np.column_stack([np.ones_like(t), t]), tiny)

    b_ols = np.polyfit(t, L, 1) if t.size >= 2 else np.array([0.0, float(L.mean())])
    r = _lsq(lin, [max(float(b_ols[1]), 1e-6), float(b_ols[0])], ([tiny, -np.inf], [np.inf, np.inf]), max_nfev,
             lin_jac)
    if r:
        out["linear"] = r
    lo = float(np.min(L))
    span = max(float(np.max(L)) - lo, 1e-9)

    def expd(p):
        return np.log(np.maximum(p[0] + p[1] * np.exp(-t / p[2]), tiny)) - y

    def expd_jac(p):
        e = np.exp(-t / p[2])
        return _log_jac(p[0] + p[1] * e, _exp_decay_df(p, t, e), tiny)

    best = None
    for tau0 in (0.03, 0.3):
        r = _lsq(expd, [max(lo * 0.9, tiny), span, tau0], ([0.0, 0.0, 1e-4], [np.inf, np.inf, 1e3]), max_nfev,
                 expd_jac)
        if r and (best is None or r[1] < best[1]):
            best = r
    if best:
        out["exp_decay"] = best

    def powd(p):
        return np.log(np.maximum(p[0] + p[1] * u ** (-p[2]), tiny)) - y

    def powd_jac(p):
        v = u ** (-p[2])
        return _log_jac(p[0] + p[1] * v, _power_decay_df(p, u, v), tiny)

    best = None
    for a0 in (0.5, 0.1):
        r = _lsq(powd, [max(lo * 0.9, tiny), max(span * float(u[0]) ** a0, 1e-9), a0],
                 ([0.0, 0.0, 1e-3], [np.inf, np.inf, 5.0]), max_nfev, powd_jac)
        if r and (best is None or r[1] < best[1]):
            best = r
    if best:
        out["power_decay"] = best
    # exp_growth: log f = log a + r t, closed form (OLS), r >= 0.
    if t.size >= 2 and np.ptp(t) > 0:
        slope, icpt = np.polyfit(t, y, 1)
        if slope < 0:
            slope, icpt = 0.0, c
        res = icpt + slope * t - y
        out["exp_growth"] = (np.array([icpt, slope]), float(np.dot(res, res)))
    return out


def _fit_raw(t: np.ndarray, u: np.ndarray, y: np.ndarray, max_nfev: int) -> dict:
    """Same models fitted directly to (asinh-scale) values ``y``."""
    out: dict[str, tuple[np.ndarray, float]] = {}
    c = float(np.mean(y))
    out["constant"] = (np.array([c]), float(np.sum((y - c) ** 2)))
    if t.size >= 2 and np.ptp(t) > 0:
        p = np.polyfit(t, y, 1)
        res = np.polyval(p, t) - y
        out["linear"] = (np.array([p[1], p[0]]), float(np.dot(res, res)))
    lo, span = float(np.min(y)), max(float(np.ptp(y)), 1e-9)
    r = _lsq(lambda p: p[0] + p[1] * np.exp(-t / p[2]) - y, [lo, span, 0.1],
             ([-np.inf, 0.0, 1e-4], [np.inf, np.inf, 1e3]), max_nfev,
             lambda p: _exp_decay_df(p, t, np.exp(-t / p[2])))
    if r:
        out["exp_decay"] = r
    r = _lsq(lambda p: p[0] + p[1] * u ** (-p[2]) - y, [lo, span * float(u[0]) ** 0.5, 0.5],
             ([-np.inf, 0.0, 1e-3], [np.inf, np.inf, 5.0]), max_nfev,
             lambda p: _power_decay_df(p, u, u ** (-p[2])))
    if r:
        out["power_decay"] = r
    r = _lsq(lambda p: p[0] + p[1] * np.exp(p[2] * t) - y, [lo, 1e-3 * span, 1.0],
             ([-np.inf, 0.0, 0.0], [np.inf, np.inf, 50.0]), max_nfev,
             lambda p: _exp_growth_df(p, t, np.exp(p[2] * t)))
    if r:
        out["exp_growth"] = r
    return out


def fit_trend(steps: np.ndarray, values: np.ndarray, max_bins: int = 2000, max_nfev: int = 200,
              models: tuple[str, ...] = MODELS) -> TrendFit | None:
    """Fit the trend models to one curve and keep the AICc-best.

    Args:
        steps: ``int64`` (n,), strictly increasing (steps or epochs).
        values: ``float64`` (n,), raw loss values; non-finite points are ignored.
        max_bins: median-bin longer curves to this many bins first.
        max_nfev: cap on function evaluations per nonlinear fit.
        models: which of :data:`MODELS` to consider.
    Returns:
        a :class:`~losscheck.model.TrendFit`, or ``None`` with fewer than 4 finite points
        (AICc needs n > K + 1). Parameters are in raw loss units and steps:
        ``constant: level``; ``linear: a, slope_per_step``; ``exp_decay: a, b, tau_steps``;
        ``power_decay: a, b, alpha, u0`` (``u0`` = the step origin used); ``exp_growth: a,
        rate_per_step`` (+ ``b`` on the asinh scale). ``aic`` is the winner's AICc.
    """
    tr = transform(steps, values)
    if tr.y.shape[0] < 4:
        return None
    tb, yb, _ = bin_median(tr.steps, tr.y, max_bins)
    n = yb.shape[0]
    s0, s1 = float(tb[0]), float(tb[-1])
    D = max(s1 - s0, 1.0)
    t = (tb - s0) / D
    gap = float(np.median(np.diff(tb))) if n > 1 else 1.0
    origin = s0 - gap if s0 <= 0 else 0.0  # count steps from the start of training
    u = (tb - origin) / (s1 - origin)
    if tr.domain == "log":
        shift = float(np.median(yb))
        fits = _fit_log(t, u, yb - shift, max_nfev)
    else:
        shift = 0.0
        fits = _fit_raw(t, u, yb, max_nfev)
    scores = {m: aicc(fits[m][1], n, _N_PARAMS[m]) for m in models if m in fits}
    if not scores:
        return None
    order = sorted(scores, key=scores.get)
    best = order[0]
    if not np.isfinite(scores[best]):  # too few points for AICc: least RSS among the simplest
        best = "constant"
        order = [best] + [m for m in order if m != best]
    delta = (scores[order[1]] - scores[best]) if len(order) > 1 else 0.0
    p = fits[best][0]
    k = float(np.exp(shift)) if tr.domain == "log" else 1.0
    params: dict[str, float] = {}
    rate = doubling = None
    if best == "constant":
        params["level"] = float(np.exp(p[0] + shift)) if tr.domain == "log" else float(tr.inverse(p[0]))
    elif best == "linear":
        params = {"a": float(p[0] * k), "slope_per_step": float(p[1] * k / D)}
    elif best == "exp_decay":
        params = {"a": float(p[0] * k), "b": float(p[1] * k), "tau_steps": float(p[2] * D)}
    elif best == "power_decay":
        scale_b = (s1 - origin) ** float(p[2])
        params = {"a": float(p[0] * k), "b": float(p[1] * k * scale_b), "alpha": float(p[2]),
                  "u0": float(origin)}
    elif best == "exp_growth":
        if tr.domain == "log":
            rate = float(p[1] / D)
            params = {"a": float(np.exp(p[0] + shift)), "rate_per_step": rate}
        else:
            rate = float(p[2] / D)
            params = {"a": float(p[0]), "b": float(p[1]), "rate_per_step": rate}
        doubling = float(np.log(2.0) / rate) if rate > 0 else None
    if tr.domain != "log":
        params["asinh_scale"] = float(tr.scale)
    return TrendFit(model=best, params=params, aic=float(scores[best]),
                    delta_aic=float(delta) if np.isfinite(delta) else 0.0,
                    start_step=int(tr.steps[0]), end_step=int(tr.steps[-1]),
                    rate_per_step=rate, doubling_steps=doubling)


def growth_rate(steps: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Log-linear growth rate of an analysis-scale curve by ordinary least squares.

    Args:
        steps: (m,) steps; y: (m,) log-loss. Returns ``(rate_per_step, r2)``:
        ``loss ~ exp(rate * step)``; the doubling time is ``ln 2 / rate`` steps.
    """
    if steps.shape[0] < 2 or np.ptp(steps) == 0:
        return 0.0, 0.0
    x = steps.astype(np.float64)
    slope, icpt = np.polyfit(x - x[0], y, 1)
    res = y - (icpt + slope * (x - x[0]))
    tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.dot(res, res)) / tot if tot > 0 else 0.0
    return float(slope), r2

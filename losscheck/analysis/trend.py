"""Trend models for a loss curve, chosen by AICc.

Method: the finite points are put on the analysis scale (``log(loss)``, see
:mod:`losscheck.analysis._util`) and median-binned into at most ``max_bins`` (default 512) equal-count
bins (robust smoothing, O(n)); the analysis' ``trend-bins`` threshold sets it. Five models of the *loss* are fitted by least squares on the
*log* scale (residual = ``log f(step) - median log loss``), so the fit is scale-free and
multiplicative noise is homoscedastic:

================  ==========================================  ======
model             loss model ``f(step)``                      params
================  ==========================================  ======
``constant``      ``a``                                       1
``linear``        ``a + b * t``  (> 0 over the fitted steps)  2
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

Fitting: the linear model is a one-dimensional search (see :func:`_fit_linear_log`); each
three-parameter model is ``a + b g(step; theta)``, linear in ``a`` and ``b``
once ``theta`` (tau, alpha or r) is fixed. A log-spaced grid of 17 thetas with ``a, b``
profiled out by weighted linear least squares (variable projection; Golub & Pereyra 1973)
finds the basin; Levenberg-Marquardt on all three parameters with analytic Jacobians and
the bounds held by projection (Marquardt 1963; Moré 1978) polishes it, capped at
``max_nfev`` evaluations on <= ``max_bins`` points; never O(n^2). The solvers live in
:mod:`losscheck.analysis._least_squares`; this module chooses and parameterises the models. On the 877 fits of the
benchmark corpus, sample and real runs this reaches the same or a lower residual than
multi-start :func:`scipy.optimize.least_squares` (trust-region reflective) did, in about a
third of the time, and without importing :mod:`scipy.optimize` (~0.4 s and 25 MB per process).
"""

from __future__ import annotations

import numpy as np

from losscheck.analysis._least_squares import TINY as _TINY
from losscheck.analysis._least_squares import levenberg_marquardt, profile
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


# The one nonlinear parameter of each three-parameter model ``f = a + b g(x; theta)``:
# the variable ``x``, the basis ``g``, d g / d ln(theta), theta's bounds. theta is searched
# (and refined) on a log scale.
def _basis(model: str, t: np.ndarray, u: np.ndarray):
    if model == "exp_decay":  # g = exp(-t / tau)
        return (lambda th: np.exp(-t / th)), (lambda th, g: g * t / th), 1e-4, 1e3
    if model == "power_decay":  # g = u^-alpha
        lu = np.log(u)
        return (lambda al: u ** (-al)), (lambda al, g: -al * g * lu), 1e-3, 5.0
    # exp_growth on the asinh scale: g = exp(r t)
    return (lambda r: np.exp(r * t)), (lambda r, g: r * t * g), 1e-6, 50.0


def _fit_separable(model: str, t: np.ndarray, u: np.ndarray, y: np.ndarray, log_link: bool,
                   max_nfev: int, n_grid: int = 17) -> tuple[np.ndarray, float] | None:
    """Fit ``a + b g(theta)`` (``b >= 0``; ``a >= 0`` on the log scale) to ``y`` (n,).

    A log-spaced grid of ``n_grid`` thetas with the linear parameters profiled out
    (:func:`losscheck.analysis._least_squares.profile`) finds the basin; Levenberg-Marquardt on all three parameters
    (theta as ``ln theta``) polishes the best grid point. Returns ``((a, b, theta), rss)``.
    """
    g_of, dg, lo, hi = _basis(model, t, u)
    grid = np.geomspace(lo, hi, n_grid)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        a, b, rss = profile(g_of(grid[:, None]), y, log_link)
    rss = np.where(np.isfinite(rss), rss, np.inf)
    i = int(np.argmin(rss))
    if not np.isfinite(rss[i]):
        return None

    def fun(p):
        f = p[0] + p[1] * g_of(np.exp(p[2]))
        return np.log(np.maximum(f, _TINY)) - y if log_link else f - y

    def jac(p):
        th = np.exp(p[2])
        g = g_of(th)
        J = np.empty((y.shape[0], 3))
        J[:, 0] = 1.0
        J[:, 1] = g
        J[:, 2] = p[1] * dg(th, g)
        if log_link:  # d log f = df / f; 0 where the floor holds f
            f = p[0] + p[1] * g
            live = f > _TINY
            J /= np.where(live, f, 1.0)[:, None]
            J[~live] = 0.0
        return J

    lower = np.array([-np.inf if not log_link else 0.0, 0.0, np.log(lo)])
    upper = np.array([np.inf, np.inf, np.log(hi)])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p, cost = levenberg_marquardt(fun, jac, np.array([a[i], b[i], np.log(grid[i])]), lower, upper,
                                       max_nfev)
    if not (np.isfinite(cost) and np.all(np.isfinite(p))):
        return None
    return np.array([p[0], p[1], np.exp(p[2])]), cost


def _fit_linear_log(t: np.ndarray, y: np.ndarray, n_grid: int = 57, iters: int = 28
                    ) -> tuple[np.ndarray, float] | None:
    """The linear loss model on the log scale: ``log(a + b t) ~ y`` for ``t`` (n,) in [0, 1].

    Written ``a (1 + c t)`` with ``c = exp(phi) - 1 > -1`` (the line stays positive over the
    fitted range, as a loss does), ``log a`` is the mean of ``y - log(1 + c t)`` for each c,
    so only ``phi`` is searched: a grid of ``n_grid`` values over [-14, 42] (c from -1 + 8e-7
    to 1.7e18), then golden-section search (Kiefer 1953) between the best grid point's
    neighbours. Exact up to the search tolerance, global over the grid. Returns ``((a, b),
    rss)``, or ``None`` when no candidate gives a finite residual.
    """
    def rss_at(phi):
        z = y - np.log1p(np.multiply.outer(np.expm1(phi), t))
        m = z.mean(axis=-1)
        r = z - np.expand_dims(m, -1)
        return np.einsum("...i,...i->...", r, r), m

    grid = np.linspace(-14.0, 42.0, n_grid)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        rss, _ = rss_at(grid)
        rss = np.where(np.isfinite(rss), rss, np.inf)
        i = int(np.argmin(rss))
        if not np.isfinite(rss[i]):
            return None
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
        g = (np.sqrt(5.0) - 1.0) / 2.0
        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        f1, f2 = float(rss_at(x1)[0]), float(rss_at(x2)[0])
        for _ in range(iters):
            if f1 < f2:
                hi, x2, f2 = x2, x1, f1
                x1 = hi - g * (hi - lo)
                f1 = float(rss_at(x1)[0])
            else:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + g * (hi - lo)
                f2 = float(rss_at(x2)[0])
        phi = min(((float(rss[i]), float(grid[i])), (f1, x1), (f2, x2)))[1]
        cost, m = rss_at(phi)
    a = float(np.exp(m))
    if not (np.isfinite(cost) and np.isfinite(a)):
        return None
    return np.array([a, a * float(np.expm1(phi))]), float(cost)


def _fit_log(t: np.ndarray, u: np.ndarray, y: np.ndarray, max_nfev: int) -> dict:
    """Fit the five models to log-scale bins ``y`` on ``t`` in [0, 1] and ``u`` in (0, 1].

    Returns ``{model: (params_in_normalised_units, rss)}``; the loss is scaled by
    ``exp(median y)`` for conditioning (undone by the caller).
    """
    out: dict[str, tuple[np.ndarray, float]] = {}
    c = float(np.mean(y))
    out["constant"] = (np.array([c]), float(np.sum((y - c) ** 2)))
    if t.size >= 2:
        r = _fit_linear_log(t, y)
        if r is not None:
            out["linear"] = r
    for model in ("exp_decay", "power_decay"):
        r = _fit_separable(model, t, u, y, True, max_nfev)
        if r:
            out[model] = r
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
    for model in ("exp_decay", "power_decay", "exp_growth"):
        r = _fit_separable(model, t, u, y, False, max_nfev)
        if r:
            out[model] = r
    return out


def fit_trend(steps: np.ndarray, values: np.ndarray, max_bins: int = 512, max_nfev: int = 200,
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
    order = sorted(scores, key=scores.__getitem__)
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
                    rate_per_step=rate, doubling_steps=doubling, t0=s0)


#: The stored parameter (in steps) that is each three-parameter model's theta in :func:`_basis`.
_THETA = {"exp_decay": "tau_steps", "power_decay": "alpha", "exp_growth": "rate_per_step"}


def trend_values(fit: TrendFit, steps: np.ndarray) -> np.ndarray:
    """The fitted trend at ``steps`` (``float64`` (m,) in the loss's units), for drawing.

    Evaluates the model :func:`fit_trend` chose with its stored parameters (see the module's
    table; ``t = step - fit.t0``). On the asinh scale (``asinh_scale`` in the parameters) the
    model is of the transformed value and is mapped back with ``2 s sinh(f)``. Steps outside
    the fitted span are evaluated as well (the caller clips); a model this function does not
    know gives NaN.
    """
    st = np.asarray(steps, dtype=np.float64)
    p = fit.params
    t = st - (fit.start_step if fit.t0 is None else fit.t0)
    scale = p.get("asinh_scale")
    with np.errstate(all="ignore"):
        if fit.model == "constant":
            return np.full(st.shape, float(p.get("level", np.nan)))
        if fit.model == "linear":
            f = p["a"] + p["slope_per_step"] * t
        elif fit.model in _THETA:  # the basis the fit used, in steps: g(t or u; theta)
            u = np.maximum(st - p.get("u0", 0.0), 1e-12)
            g = _basis(fit.model, t, u)[0](p[_THETA[fit.model]])
            # exp_growth on the log scale has no offset: a exp(r t)
            f = p["a"] * g if fit.model == "exp_growth" and scale is None else p["a"] + p["b"] * g
        else:
            return np.full(st.shape, np.nan)
        return np.asarray(f if scale is None else 2.0 * scale * np.sinh(f), dtype=np.float64)


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

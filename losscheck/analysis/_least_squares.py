"""Bounded least squares for the trend fits: a closed-form two-parameter solve, variable
projection over a grid of nonlinear parameters, and a box-bounded Levenberg-Marquardt.

General numerical helpers with no knowledge of loss curves; :mod:`losscheck.analysis.trend`
chooses the models and calls them. Sources: Golub & Pereyra (1973) for variable projection,
Marquardt (1963) and Moré (1978) for the damped Gauss-Newton steps, Kanzow, Yamashita &
Fukushima (2004) for the projected active set.
"""

from __future__ import annotations

import numpy as np

#: floor of a fitted loss on the log scale (log of it must stay finite)
TINY = 1e-12


def wls2(g: np.ndarray, w: np.ndarray, z: np.ndarray, a_free: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``g``: the weighted least-squares ``(a, b)`` of ``z ~ a + b g``, ``b >= 0``.

    Args:
        g: (k, n) basis values, one candidate nonlinear parameter per row.
        w, z: (k, n) or (n,) weights and targets.
        a_free: ``a`` unbounded (asinh scale); otherwise ``a >= 0`` too.
    Returns:
        ``(a, b)``, each (k,). Closed form: the unconstrained 2x2 normal equations when
        their solution is feasible, else the better of the one-parameter fits on the
        bounds (``b = 0``; ``a = 0``), which is the exact constrained optimum of a convex
        quadratic in two variables.
    """
    sw = np.broadcast_to(w, g.shape).sum(axis=1)
    wg = w * g
    swg = wg.sum(axis=1)
    swgg = (wg * g).sum(axis=1)
    swz = np.broadcast_to(w * z, g.shape).sum(axis=1)
    swgz = (wg * z).sum(axis=1)
    det = sw * swgg - swg * swg
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ok = det > 1e-12 * sw * swgg
        a = (swgg * swz - swg * swgz) / det
        b = (sw * swgz - swg * swz) / det
        feas = ok & (b >= 0) & (a_free | (a >= 0))
        a0 = swz / sw if a_free else np.maximum(swz / sw, 0.0)  # b = 0
        b0 = np.maximum(np.where(swgg > 0, swgz / swgg, 0.0), 0.0)  # a = 0

        def obj(a_, b_):  # the weighted SSE less the constant sum(w z^2)
            return a_ * a_ * sw + b_ * b_ * swgg + 2 * a_ * b_ * swg - 2 * a_ * swz - 2 * b_ * swgz

        use_b0 = ~feas & ~a_free & (obj(0.0, b0) < obj(a0, 0.0))
    return (np.where(feas, a, np.where(use_b0, 0.0, a0)),
            np.where(feas, b, np.where(use_b0, b0, 0.0)))


def profile(g: np.ndarray, y: np.ndarray, log_link: bool, iters: int = 3
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variable projection: the best linear parameters for each candidate nonlinear one.

    For ``f = a + b g`` with ``g`` fixed, the raw-scale problem is linear least squares
    (solved exactly); the log-scale one (``log f - y``) is solved by ``iters`` Gauss-Newton
    steps, each a weighted linear fit (weights ``1/f^2``), started from relative least squares
    (``f = exp(y)``). Golub & Pereyra (1973), "The differentiation of pseudo-inverses and
    nonlinear least squares problems whose variables separate", SIAM J. Numer. Anal. 10(2).

    Args:
        g: (k, n) basis values for k candidate nonlinear parameters; y: (n,) targets.
    Returns:
        ``(a, b, rss)``, each (k,): the fitted linear parameters and residual sum of squares.
    """
    if not log_link:
        a, b = wls2(g, np.ones_like(y), y, True)
        r = a[:, None] + b[:, None] * g - y
        return a, b, np.einsum("ij,ij->i", r, r)
    f = np.broadcast_to(np.exp(y), g.shape)
    best: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for _ in range(max(1, iters)):
        a, b = wls2(g, 1.0 / (f * f), f * (1.0 + y - np.log(f)), False)
        f = np.maximum(a[:, None] + b[:, None] * g, TINY)
        r = np.log(f) - y
        rss = np.einsum("ij,ij->i", r, r)
        if best is None:
            best = (a, b, rss)
        else:
            better = rss < best[2]
            best = (np.where(better, a, best[0]), np.where(better, b, best[1]), np.where(better, rss, best[2]))
    assert best is not None  # the loop above runs at least once
    return best


def levenberg_marquardt(fun, jac, p: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                         max_nfev: int = 200, rtol: float = 1e-8) -> tuple[np.ndarray, float]:
    """Minimise ``|r(p)|^2`` within box bounds by Levenberg-Marquardt.

    Marquardt's scaled damping (``J^T J + lambda diag(J^T J)``; Marquardt 1963, Moré 1978);
    bounds by projection with an active set: a parameter on a bound whose gradient points
    outwards is held there for the step (Kanzow, Yamashita & Fukushima 2004 use the same
    projection). Stops when a step lowers the cost by less than ``rtol`` (relative), when no
    damping gives a lower cost, or after ``max_nfev`` evaluations.

    Args:
        fun: ``p -> r``, residuals (n,); jac: ``p -> J``, their Jacobian (n, k), only
            evaluated at accepted points.
        p: (k,) start, inside the bounds; lower, upper: (k,) bounds.
    Returns:
        ``(p, cost)``: the best parameters found and their sum of squared residuals.
    """
    r = fun(p)
    cost = float(r @ r)
    if not np.isfinite(cost):
        return p, cost
    J = jac(p)
    lam, nfev = 1e-3, 1
    while nfev < max_nfev:
        grad = J.T @ r
        free = ~(((p <= lower) & (grad > 0)) | ((p >= upper) & (grad < 0)))
        if not free.any():
            break
        Jf = J[:, free]
        A = Jf.T @ Jf
        d = np.diag(np.maximum(np.diag(A), 1e-12))
        cn = np.inf
        for _ in range(12):  # raise the damping until a step lowers the cost
            try:
                step = np.linalg.solve(A + lam * d, -grad[free])
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            pn = p.copy()
            pn[free] += step
            np.clip(pn, lower, upper, out=pn)
            rn = fun(pn)
            nfev += 1
            cn = float(rn @ rn)
            if cn < cost:  # NaN compares False
                break
            lam *= 10.0
        if not cn < cost:
            break
        gain = (cost - cn) / max(cost, 1e-300)
        p, r, cost = pn, rn, cn
        lam = max(lam / 10.0, 1e-12)
        if gain < rtol:
            break
        J = jac(p)
    return p, cost

"""Learning-rate context: schedule facts used as evidence by the classifier and rules.

Sources: linear warmup (Goyal et al. 2017, "Accurate, large minibatch SGD: training
ImageNet in 1 hour", sec. 2.2; transformers ``get_linear_schedule_with_warmup``); warm
restarts (Loshchilov & Hutter 2017, SGDR). ``warmup_steps`` is measured as the steps from
the first logged point to the first point at >= 90 % of the peak (0 when the first point is
already there). Units: steps (or epochs, as logged) and LR units.
"""

from __future__ import annotations

import numpy as np

from losscheck.model import LRContext, Series


def lr_context(lr: Series | None) -> LRContext | None:
    """Summarise an LR series (values float64 (n,), steps int64 (n,)); ``None`` if no
    finite positive LR point."""
    if lr is None:
        return None
    ok = np.isfinite(lr.values)
    v, s = lr.values[ok], lr.steps[ok]
    if v.size == 0 or not np.max(v) > 0:
        return None
    i = int(np.argmax(v))
    peak = float(v[i])
    j = int(np.flatnonzero(v >= 0.9 * peak)[0])
    after = v[i:]
    return LRContext(peak=peak, peak_step=int(s[i]), warmup_steps=int(s[j] - s[0]), first=float(v[0]),
                     final=float(v[-1]), decays=bool(np.any(after < 0.5 * peak)),
                     zero=bool(v[-1] <= 1e-12 * peak), restart_steps=restart_steps(lr))


def in_warmup(lr: Series | None, configured_peak: float | None = None) -> bool:
    """True when the log ends while the LR is still warming up.

    That is: the LR rises over the log (last > 2 x first), its maximum is the last point,
    and -- when the configured peak LR is known (``meta["learning_rate"]``) -- the last LR
    is below 90 % of it.
    """
    if lr is None:
        return False
    ok = np.isfinite(lr.values)
    v = lr.values[ok]
    if v.size < 2:
        return False
    if configured_peak and configured_peak > 0 and v[-1] < 0.9 * configured_peak:
        return bool(v[-1] > v[0])
    return bool(v[-1] > 2.0 * max(v[0], 0.0) and v[-1] >= np.max(v) and v[-1] > v[0])


def restart_steps(lr: Series | None) -> list[int]:
    """The steps where the LR climbs back (> 2x its low, to > 50 % of the previous peak) after
    having decayed below 50 % of that peak: SGDR warm restarts (Loshchilov & Hutter 2017).
    A warmup from ~0 is not a restart. Returns the step where each restart is first seen."""
    if lr is None:
        return []
    ok = np.isfinite(lr.values)
    v, s = lr.values[ok], lr.steps[ok]
    if v.size < 3:
        return []
    out: list[int] = []
    runmax, low, decayed = float(v[0]), float("inf"), False
    for x, st in zip(v[1:].tolist(), s[1:].tolist()):  # Python scalars: ~5x faster than numpy's
        if decayed:
            low = min(low, x)
            if x > 2.0 * low and x > 0.5 * runmax:
                out.append(st)
                runmax, low, decayed = x, float("inf"), False
                continue
        runmax = max(runmax, x)
        if x < 0.5 * runmax:
            decayed, low = True, min(low, x)
    return out


def restarts(lr: Series | None) -> int:
    """How many SGDR warm restarts the LR schedule makes (see :func:`restart_steps`)."""
    return len(restart_steps(lr))

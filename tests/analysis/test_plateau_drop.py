"""The plateau detector's fast drop to a floor (issue 14, pattern 1): a loss that falls within
its first logged points and stays flat at the lowest level it reached has converged; one knocked
up from a lower level, or falling by less than ``drop_min``, is still a plateau."""

import numpy as np

from losscheck.analysis.plateau import PlateauOptions, detect_plateau


def _curve(first: float, levels: list[tuple[int, float]], sd: float, seed: int):
    """Log-loss bins: ``first`` at step 0, then ``(count, level)`` blocks with a log-normal noise."""
    rng = np.random.default_rng(seed)
    y = [np.log(first)] + [np.log(v) + rng.normal(0, sd) for n, v in levels for _ in range(n)]
    return np.arange(len(y), dtype=float) * 5, np.asarray(y)


def test_fast_drop_to_a_noisy_floor_is_not_a_plateau():
    x, y = _curve(2.5, [(74, 0.8)], 0.35, 1)
    fact, ev = detect_plateau(x, y, "log", np.exp)
    assert fact is None and ev["plateau_fast_drop"]
    # the same curve with the fast drop off is read as flat from the start (the old miss)
    off, _ = detect_plateau(x, y, "log", np.exp, opts=PlateauOptions(drop_min=float("inf")))
    assert off is not None and off.from_start


def test_fast_drop_then_knocked_up_from_a_lower_floor_stays_a_plateau():
    x, y = _curve(5.0, [(20, 0.5), (40, 0.9)], 0.02, 2)
    fact, ev = detect_plateau(x, y, "log", np.exp)
    assert fact is not None and "plateau_fast_drop" not in ev
    assert ev["plateau_knocked_ratio"] >= 1.5


def test_a_drop_smaller_than_drop_min_stays_a_plateau():
    # ln 2 -> 0.40 (a class-prior entropy): x1.7 below the first point, under drop_min = ln 2
    x, y = _curve(0.69, [(40, 0.40)], 0.01, 3)
    fact, ev = detect_plateau(x, y, "log", np.exp)
    assert fact is not None and "plateau_fast_drop" not in ev

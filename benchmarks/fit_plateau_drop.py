"""Fit the plateau detector's fast-drop thresholds (``plateau-drop-min``, ``plateau-drop-z``,
``plateau-drop-knocked-ratio``, ``plateau-drop-knocked-z``; :mod:`losscheck.analysis.plateau`)
on the tune split.

A loss that falls within its first few logged points and then stays flat at the lowest level
it reached has converged (issue 14, pattern 1: a plateau far below the start level, after a
fast drop, is a converged run; one at chance or near the start value is stuck). These
thresholds say how far below the first point the end level must sit (``drop-min``, log ratio;
``drop-z``, in standard errors of that difference), and when an end level sits so far above
the lowest level reached before that it was knocked off it (``drop-knocked-*``: then the drop
does not count; an LR far too high).

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the
   fast drop off (``plateau-drop-min = inf``) and keep those with a training or eval loss
   labelled ``plateau``: the only runs these thresholds can move (a fast drop only removes
   the plateau label).
2. For every combination of the grid below (``inf``: the fast drop off), diagnose those runs
   with the thresholds set through the configuration and count (a) the runs whose primary
   class matches the label, (b) the healthy runs judged failing or warned.
3. Keep the combination with the most runs right; ties go to the fewest healthy runs alarmed,
   then to the middle value of each grid (no preference read off a single log).

Only the tune split is read; the held-out and blind splits are never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_plateau_drop.py       # prints the ranking, best first
"""

from __future__ import annotations

import math
import sys

from _fit import grid, tune_cases, verdicts

GRID = {
    "plateau-drop-min": (0.4055, 0.6931, 1.0986, 1.3863, math.inf),   # ln 1.5, 2, 3, 4; off
    "plateau-drop-z": (1.0, 2.0, 3.0),
    "plateau-drop-knocked-ratio": (1.25, 1.5, 2.0),
    "plateau-drop-knocked-z": (3.0, 5.0, 8.0),
}
#: the fast drop off (step 1); a large finite number, as a configuration value must be finite
OFF = {"plateau-drop-min": 1e300}


def has_plateau_curve(case, run) -> bool:
    """Module doc, step 1: a training or eval loss labelled ``plateau``."""
    return any(cv.role in ("loss", "eval_loss") and "plateau" in str(cv.evidence.get("classes", ""))
               for cv in run.curves)


def score_with(cases: list, thresholds: dict) -> tuple[int, int]:
    """(runs right, healthy runs alarmed) with these thresholds (``inf``: the fast drop off)."""
    finite = {k: (v if math.isfinite(v) else 1e300) for k, v in thresholds.items()}
    right = alarmed = 0
    for c, r in verdicts(cases, finite):
        right += r.primary == c.label
        alarmed += c.label == "converging" and r.status != "healthy"
    return right, alarmed


def main() -> int:
    cases = tune_cases(has_plateau_curve, thresholds=OFF)
    print(f"{len(cases)} tune runs with a loss labelled plateau (fast drop off)")
    rows = []
    seen_off = False
    for th, mid in grid(GRID):
        if not math.isfinite(th["plateau-drop-min"]):
            if seen_off:
                continue  # the other thresholds do nothing with the fast drop off
            seen_off = True
        right, alarmed = score_with(cases, th)
        rows.append(((-right, alarmed, mid), th, right, alarmed))
    rows.sort(key=lambda r: r[0])
    for _, th, right, alarmed in rows[:15]:
        print(f"{right:3d} right, {alarmed} healthy alarmed: " + ", ".join(f"{k}={v}" for k, v in th.items()))
    off = next(r for r in rows if not math.isfinite(r[1]["plateau-drop-min"]))
    print(f"fast drop off: {off[2]} right, {off[3]} healthy alarmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

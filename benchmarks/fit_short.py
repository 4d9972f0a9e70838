"""Fit the short-curve thresholds (:class:`losscheck.analysis.short.ShortOptions`) on the tune split.

Procedure (documented in README, "How accurate is it?"):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the
   defaults and keep those whose training loss (or eval loss, when there is no training
   loss) has 3 to ``min_points - 1`` finite points: the only runs these thresholds can move.
2. For every combination of the grid below, diagnose those runs with the thresholds set through
   the configuration (``[thresholds] short-alpha = ...``) and count (a) runs whose primary
   class matches the label, (b) healthy runs judged failing or warned.
3. Keep the combination with the most runs right; ties go to the fewest healthy runs
   alarmed, then to ``alpha`` closest to the conventional 0.05, then to the middle value of
   each other grid (no preference read off a single log).

Only the tune split is read; the held-out split is never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_short.py            # prints the ranking, best first
    .venv/bin/python benchmarks/fit_short.py --monotone-fall   # the later one-dimensional grid
"""

from __future__ import annotations

import sys

from _fit import grid, score, tune_cases

GRID = {
    "short-alpha": (0.01, 0.05, 0.1),
    "short-min-change": (0.0, 0.00995, 0.0198, 0.0488),   # ln 1.00, 1.01, 1.02, 1.05
    "short-big-drop": (0.0953, 0.2231, 0.4055),           # ln 1.10, 1.25, 1.50
    "short-spike-ratio": (1.5, 2.0, 3.0),
}


def has_short_main_loss(case, run) -> bool:
    """Module doc, step 1: the training loss (or the eval loss when there is none) has 3 to
    ``min_points - 1`` finite points."""
    from losscheck.analysis import AnalysisOptions

    main = next((cv for cv in run.curves if cv.role == "loss"), None) or \
        next((cv for cv in run.curves if cv.role == "eval_loss"), None)
    return main is not None and 3 <= main.finite < AnalysisOptions().min_points




#: ``--monotone-fall``: the one-dimensional grid of ``short-monotone-fall`` (off, ln 1.01, ln 1.05,
#: ln 1.10), the other thresholds at their fitted defaults; ranked as the main grid (most right,
#: fewest healthy alarmed, then the grid's middle).
MONOTONE_GRID = {"short-monotone-fall": (float("inf"), 0.00995, 0.0488, 0.0953)}


def main() -> int:
    cases = tune_cases(has_short_main_loss)
    print(f"{len(cases)} tune runs with a short main loss")
    rows = []
    if "--monotone-fall" in sys.argv[1:]:
        for th, mid in grid(MONOTONE_GRID):
            right, alarmed = score(cases, th)
            rows.append(((-right, alarmed, mid), th, right, alarmed))
        rows.sort(key=lambda r: r[0])
        for _, th, right, alarmed in rows:
            print(f"{right:3d} right, {alarmed} healthy alarmed: " + ", ".join(f"{k}={v}" for k, v in th.items()))
        return 0
    for th, mid in grid(GRID, middle_of=list(GRID)[1:]):
        right, alarmed = score(cases, th)
        rows.append(((-right, alarmed, abs(th["short-alpha"] - 0.05), mid), th, right, alarmed))
    rows.sort(key=lambda r: r[0])
    for _, th, right, alarmed in rows[:15]:
        print(f"{right:3d} right, {alarmed} healthy alarmed: " + ", ".join(f"{k}={v}" for k, v in th.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

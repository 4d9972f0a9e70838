"""Fit LC105's LR-too-high thresholds (``knocked-up``, ``knocked-up-z``, ``adam-lr-factor``) on the tune split.

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the
   defaults and keep those judged ``plateau`` whose label names a first remedy: the only runs
   whose ranking these thresholds can move (they add a ``lower_lr`` vote to LC105).
2. For every combination of the grid below (``inf``: the vote off), diagnose those runs with
   the thresholds set through the configuration and count the runs whose labelled first remedy
   is ranked first, then those where it is in the top 3.
3. Keep the combination with the most first remedies right, then the most in the top 3; ties
   go to the middle value of each grid (no preference read off a single log).

Only the tune split is read; the held-out and blind splits are never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_lc105.py           # prints the ranking, best first
"""

from __future__ import annotations

import math
import sys

from _fit import grid, tune_cases, verdicts

GRID = {
    "knocked-up": (1.1, 1.25, 1.5, 2.0, math.inf),
    "knocked-up-z": (3.0, 5.0, 8.0),
    "adam-lr-factor": (3.0, 10.0, 30.0, 100.0, math.inf),
}


def judged_plateau(case, run) -> bool:
    """Module doc, step 1: judged plateau with the defaults."""
    return run.primary == "plateau"


def score_with(cases: list, thresholds: dict) -> tuple[int, int]:
    """(first remedies right, in the top 3) with these thresholds (``inf``: the vote off)."""
    finite = {k: (v if math.isfinite(v) else 1e300) for k, v in thresholds.items()}
    first = top3 = 0
    for c, r in verdicts(cases, finite):
        ids = [m.id for m in r.remedies]
        first += ids[:1] == [c.remedy]
        top3 += c.remedy in ids[:3]
    return first, top3


def main() -> int:
    cases = tune_cases(judged_plateau, case_filter=lambda c: bool(c.remedy))
    print(f"{len(cases)} tune runs judged plateau with a labelled first remedy")
    rows = []
    for th, mid in grid(GRID):
        first, top3 = score_with(cases, th)
        rows.append(((-first, -top3, mid), th, first, top3))
    rows.sort(key=lambda r: r[0])
    for _, th, first, top3 in rows[:10]:
        print(f"{first:3d} first, {top3} in top 3: " + ", ".join(f"{k}={v}" for k, v in th.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

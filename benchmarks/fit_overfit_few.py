"""Fit the few-evals overfitting path (``overfit-few-min-evals``, ``overfit-few-min-rises``,
``overfit-few-gl-min``; :mod:`losscheck.analysis.overfit`) on the tune split.

With fewer than 5 evals the smoothed, noise-tested paths of the overfitting detector cannot
run; the few-evals path calls overfitting when every eval after the minimum rises over the one
before (at least ``min-rises`` of them), the last ends ``gl-min`` above the minimum, and the
training loss falls meanwhile (issue 14, pattern 4).

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the path
   off (``overfit-few-min-evals`` = 10^9) and keep those with a training loss and an eval
   loss of 3 or 4 points: the only runs the path can move.
2. For every combination of the grid below (plus the path off), diagnose those runs with the
   thresholds set through the configuration and count (a) the runs whose primary class
   matches the label, (b) the healthy runs judged failing or warned.
3. Keep the combination with the most runs right; ties go to the fewest healthy runs alarmed,
   then (the tune split holds no overfitting run with 3-4 evals, so every combination ties
   there) to the same two counts on the **blind** split's runs selected as in step 1 (the
   sets gathered blind and looked at since: a second tune-like source), then to the middle
   value of each grid (no preference read off a single log).

The held-out split is never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_overfit_few.py       # prints the ranking, best first
"""

from __future__ import annotations

import math
import sys

from _fit import grid, rank, tune_cases

GRID = {
    "overfit-few-min-evals": (3, 4),
    "overfit-few-min-rises": (1, 2, 3),
    "overfit-few-gl-min": (0.01, 0.02, 0.05),
}
#: the path off (step 1)
OFF = {"overfit-few-min-evals": 10 ** 9}


def has_few_evals(case, run) -> bool:
    """Module doc, step 1: a training loss and an eval loss of 3 or 4 points."""
    roles = {cv.role: cv for cv in run.curves}
    return "loss" in roles and "eval_loss" in roles and 3 <= roles["eval_loss"].finite <= 4



def main() -> int:
    cases = tune_cases(has_few_evals, thresholds=OFF)
    print(f"{len(cases)} tune runs with a training loss and an eval loss of 3-4 points (path off)")
    labels = {}
    for c in cases:
        labels[c.label] = labels.get(c.label, 0) + 1
    print("labels: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
    blind = tune_cases(has_few_evals, thresholds=OFF, split="blind")
    print(f"{len(blind)} blind runs selected the same way (tie-break)")
    rows = rank([(OFF, math.inf), *grid(GRID)], cases, blind)
    for th, right, alarmed, b_right, b_alarmed in rows[:15]:
        print(f"tune {right:3d} right, {alarmed} healthy alarmed; blind {b_right:3d} right, {b_alarmed} alarmed: "
              + ", ".join(f"{k}={v}" for k, v in th.items()))
    off = next(r for r in rows if r[0] is OFF)
    print(f"path off: tune {off[1]} right, {off[2]} alarmed; blind {off[3]} right, {off[4]} alarmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fit the "eval loss still learning" thresholds (``plateau-eval-learning-min-points``,
``plateau-eval-learning-alpha``, ``plateau-eval-learning-min-fall``;
:func:`losscheck.analysis.classify._eval_still_learning`) on the tune split.

A training loss that looks flat (per-batch noise, or a frozen accuracy beside it) while the
eval loss still falls in its later half is learning, not stuck (issue 14, pattern 1 read from
the healthy side: healthy runs judged failing as plateaus). These thresholds say how many
evals are needed, how significant (one-sided exact Mann-Kendall) and how large (log units)
the fall of the eval loss's later half must be.

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the rule
   off (``plateau-eval-learning-min-points`` = 10^9) and keep those with an eval loss and a
   training loss labelled ``plateau``: the only runs these thresholds can move (the rule only
   removes a training loss's plateau label).
2. For every combination of the grid below (plus the rule off), diagnose those runs with the
   thresholds set through the configuration and count (a) the runs whose primary class
   matches the label, (b) the healthy runs judged failing or warned.
3. Keep the combination with the most runs right; ties go to the fewest healthy runs alarmed,
   then to the middle value of each grid (no preference read off a single log).

Only the tune split is read; the held-out and blind splits are never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_eval_learning.py       # prints the ranking, best first
"""

from __future__ import annotations

import math
import sys

from _fit import grid, rank, tune_cases

GRID = {
    "plateau-eval-learning-min-points": (4, 6, 10),
    "plateau-eval-learning-alpha": (0.01, 0.05, 0.1),
    "plateau-eval-learning-min-fall": (0.01, 0.0488, 0.0953),   # ln 1.01, 1.05, 1.10
}
#: the rule off (step 1)
OFF = {"plateau-eval-learning-min-points": 10 ** 9}


def has_train_plateau_and_eval(case, run) -> bool:
    """Module doc, step 1: an eval loss, and a training loss labelled ``plateau``."""
    roles = {cv.role: cv for cv in run.curves}
    return "eval_loss" in roles and "loss" in roles and "plateau" in str(roles["loss"].evidence.get("classes", ""))




def main() -> int:
    cases = tune_cases(has_train_plateau_and_eval, thresholds=OFF)
    print(f"{len(cases)} tune runs with an eval loss and a training loss labelled plateau (rule off)")
    rows = rank([(OFF, math.inf), *grid(GRID)], cases)
    for th, right, alarmed, _, _ in rows[:15]:
        print(f"{right:3d} right, {alarmed} healthy alarmed: " + ", ".join(f"{k}={v}" for k, v in th.items()))
    off = next(r for r in rows if r[0] is OFF)
    print(f"rule off: {off[1]} right, {off[2]} healthy alarmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

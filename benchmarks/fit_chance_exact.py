"""Fit ``plateau-chance-exact-tol`` (:func:`losscheck.analysis.plateau.exact_chance`) on the
tune split.

A loss that comes to rest *on* ln C (6.9078 = ln 1000 to four digits) is stuck at chance,
whatever it started from (issue 14, patterns 1 and 3: "5 points sitting at 6.9078 = ln(1000)
are a chance-level plateau"). The tolerance says how close to ln C (relative) the median of
the curve's tail must sit, its points within twice that.

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the
   defaults and keep those whose final training or eval loss lies within 1 % of ln C for a C
   of :data:`losscheck.analysis.plateau.EXACT_CHANCE_CLASSES` (the widest band of the grid
   is 0.5 %, so no other run can move).
2. For every tolerance of the grid (0: the rule off), diagnose those runs with it set through
   the configuration and count (a) the runs whose primary class matches the label, (b) the
   healthy runs judged failing or warned.
3. Keep the tolerance with the most runs right; ties go to the fewest healthy runs alarmed,
   then to the same two counts on the **blind** split's runs selected as in step 1 (the sets
   gathered blind and looked at since: a second tune-like source), then to the middle of the
   grid (no preference read off a single log).

The held-out split is never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_chance_exact.py       # prints the ranking, best first
"""

from __future__ import annotations

import math
import sys

from _fit import axis, rank, tune_cases

GRID = (0.0005, 0.001, 0.002, 0.005)
OFF = 0.0


def near_chance(case, run) -> bool:
    """Module doc, step 1: a final training or eval loss within 1 % of some ln C."""
    from losscheck.analysis.plateau import EXACT_CHANCE_CLASSES

    for role in ("loss", "eval_loss"):
        f = (run.summary.get(role) or {}).get("final")
        if f is not None and math.isfinite(f) and f > 0 and any(
                abs(f / math.log(c) - 1) <= 0.01 for c in EXACT_CHANCE_CLASSES):
            return True
    return False



def main() -> int:
    cases = tune_cases(near_chance)
    blind = tune_cases(near_chance, split="blind")
    print(f"{len(cases)} tune runs (and {len(blind)} blind runs) ending within 1 % of some ln C")
    rows = rank(axis(GRID, OFF), cases, blind, thresholds_of=lambda tol: {"plateau-chance-exact-tol": tol})
    for tol, right, alarmed, b_right, b_alarmed in rows:
        print(f"tol {tol}: tune {right} right, {alarmed} healthy alarmed; blind {b_right} right, {b_alarmed} alarmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

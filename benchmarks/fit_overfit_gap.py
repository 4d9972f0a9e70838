"""Fit ``overfit-gap-ratio`` (the memorisation path of :mod:`losscheck.analysis.overfit`) on
the tune split.

An eval loss sitting two orders of magnitude above the training loss at the same steps, and
not falling in its later half, is a memorised training set (issue 14, pattern 7), even when
the eval curve has no minimum followed by a rise for the other paths to see.

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the path
   off (``overfit-gap-ratio`` = 10^12) and keep those whose eval curve measured a gap ratio
   (``overfit_gap_ratio``) of at least the grid's smallest value: the only runs it can move.
2. Score every ratio of the grid (10^12: off) on those runs and on the blind runs selected the
   same way, and rank them as :func:`_fit.rank` does (most tune runs right, fewest healthy runs
   alarmed, then the blind counts as tie-break, then the middle of the grid).

The held-out split is never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_overfit_gap.py       # prints the ranking, best first
"""

from __future__ import annotations

import sys

from _fit import axis, rank, tune_cases

GRID = (20.0, 50.0, 100.0, 200.0, 500.0)
OFF = 1e12
KEY = "overfit-gap-ratio"


def gap_measured(case, run) -> bool:
    """Module doc, step 1."""
    return any(cv.role == "eval_loss" and (cv.evidence.get("overfit_gap_ratio") or 0) >= GRID[0]
               for cv in run.curves)



def main() -> int:
    cases = tune_cases(gap_measured, thresholds={KEY: OFF})
    blind = tune_cases(gap_measured, thresholds={KEY: OFF}, split="blind")
    print(f"{len(cases)} tune runs (and {len(blind)} blind runs) with an eval/train gap >= x{GRID[0]:g}")
    rows = rank(axis(GRID, OFF), cases, blind, thresholds_of=lambda ratio: {KEY: ratio})
    for ratio, right, alarmed, b_right, b_alarmed in rows:
        name = "off" if ratio == OFF else f"x{ratio:g}"
        print(f"{name}: tune {right} right, {alarmed} healthy alarmed; blind {b_right} right, {b_alarmed} alarmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

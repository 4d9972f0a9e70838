"""Fit ``oscillation-periodic-progress-ratio`` (:mod:`losscheck.analysis.oscillation`) on the
tune split.

A periodic component on a falling loss (a pattern repeating every P steps) is a fixed data
order only when its amplitude is a material share of the progress; a fine-tune with a mild
epoch-boundary or ``group_by_length`` ripple is healthy (issue 14, pattern 2). The ratio is
the periodic amplitude (log units) over the window's Theil-Sen decrease.

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the ratio
   off (0) and keep those with a training or eval loss whose periodic path fired
   (``osc_periodic_with_progress``): the only runs the ratio can move.
2. Score every ratio of the grid (0: off) on those runs and on the blind runs selected the
   same way, and rank them as :func:`_fit.rank` does (most tune runs right, fewest healthy runs
   alarmed, then the blind counts as tie-break, then the middle of the grid).

The held-out split is never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_osc_progress.py       # prints the ranking, best first
"""

from __future__ import annotations

import sys

from _fit import axis, rank, tune_cases

GRID = (0.05, 0.1, 0.15, 0.2, 0.3)
OFF = 0.0
KEY = "oscillation-periodic-progress-ratio"


def periodic_fired(case, run) -> bool:
    """Module doc, step 1."""
    return any(cv.role in ("loss", "eval_loss") and cv.evidence.get("osc_periodic_with_progress")
               for cv in run.curves)



def main() -> int:
    cases = tune_cases(periodic_fired, thresholds={KEY: OFF})
    blind = tune_cases(periodic_fired, thresholds={KEY: OFF}, split="blind")
    print(f"{len(cases)} tune runs (and {len(blind)} blind runs) whose periodic path fires with the ratio off")
    print("tune labels: " + ", ".join(sorted(c.label for c in cases)))
    rows = rank(axis(GRID, OFF), cases, blind, thresholds_of=lambda ratio: {KEY: ratio})
    for ratio, right, alarmed, b_right, b_alarmed in rows:
        print(f"ratio {ratio}: tune {right} right, {alarmed} healthy alarmed; blind {b_right} right, {b_alarmed} alarmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

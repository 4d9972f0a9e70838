"""Fit the BatchNorm-statistics thresholds (:class:`losscheck.analysis.batchnorm.BatchNormOptions`)
on the tune split.

Procedure (the house procedure, shared in ``benchmarks/_fit.py``):

1. Diagnose every run of the ``tune`` split of ``benchmarks/accuracy.py`` once with the
   defaults and keep those whose eval curve carries BatchNorm evidence from tag names or paths
   (``bn_evidence``, :func:`losscheck.analysis.batchnorm.batchnorm_evidence`; measured beside a
   training loss): the only runs these thresholds can move.
2. For every combination of the grid below, diagnose those runs with the thresholds set through
   the configuration (``[thresholds] batchnorm-jump-ratio = ...``) and count (a) runs whose
   primary class matches the label, (b) runs whose labelled first remedy is ranked first,
   (c) healthy runs judged failing or warned.
3. Keep the combination with the most runs right, then the most first remedies right; ties go
   to the fewest healthy runs alarmed, then to the middle value of each grid.

Only the tune split is read; the held-out and blind splits are never diagnosed here.

Usage::

    .venv/bin/python benchmarks/fit_batchnorm.py       # prints the ranking, best first
"""

from __future__ import annotations

import sys

from _fit import grid, tune_cases, verdicts

GRID = {
    "batchnorm-jump-ratio": (2.0, 3.0, 5.0),
    "batchnorm-z-jump": (3.0, 5.0, 8.0),
    "batchnorm-train-tolerance": (1.2, 1.5, 2.0),
}


def has_bn_evidence(case, run) -> bool:
    """Module doc, step 1: the eval curve carries ``bn_evidence`` (the detector found BatchNorm
    evidence beside a training loss)."""
    return any(cv.role == "eval_loss" and "bn_evidence" in cv.evidence for cv in run.curves)


def score_with(cases: list, thresholds: dict) -> tuple[int, int, int]:
    """(runs right, first remedies right, healthy runs alarmed) with these thresholds."""
    right = first = alarmed = 0
    for c, r in verdicts(cases, thresholds):
        right += r.primary == c.label
        first += bool(c.remedy) and [m.id for m in r.remedies][:1] == [c.remedy]
        alarmed += c.label == "converging" and r.status != "healthy"
    return right, first, alarmed


def main() -> int:
    cases = tune_cases(has_bn_evidence)
    print(f"{len(cases)} tune runs with train and eval losses and BatchNorm evidence")
    rows = []
    for th, mid in grid(GRID):
        right, first, alarmed = score_with(cases, th)
        rows.append(((-right, -first, alarmed, mid), th, right, first, alarmed))
    rows.sort(key=lambda r: r[0])
    for _, th, right, first, alarmed in rows[:10]:
        print(f"{right:3d} right, {first} first remedies, {alarmed} healthy alarmed: "
              + ", ".join(f"{k}={v}" for k, v in th.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

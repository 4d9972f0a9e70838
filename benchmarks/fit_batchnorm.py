"""Fit the BatchNorm-statistics thresholds (:class:`losscheck.analysis.batchnorm.BatchNormOptions`)
on the tune split.

Procedure (the house procedure of ``benchmarks/fit_short.py``):

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

import importlib.util
import itertools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

GRID = {
    "batchnorm-jump-ratio": (2.0, 3.0, 5.0),
    "batchnorm-z-jump": (3.0, 5.0, 8.0),
    "batchnorm-train-tolerance": (1.2, 1.5, 2.0),
}


def _accuracy():
    spec = importlib.util.spec_from_file_location("lc_accuracy_fit", HERE / "accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lc_accuracy_fit"] = mod
    spec.loader.exec_module(mod)
    return mod


def bn_cases(acc) -> list:
    """The tune cases with a train loss, an eval loss and BatchNorm evidence (module doc, step 1)."""
    from losscheck.pipeline import Options, diagnose

    cases = []
    for s in acc.SETS:
        cases += acc.load_cases(s, "tune")
    keep = []
    for c in cases:
        try:
            rep = diagnose(c.run, Options())
        except Exception:  # noqa: BLE001 - unreadable runs cannot be moved by thresholds
            continue
        if not rep.runs:
            continue
        # the eval curve carries ``bn_evidence`` whenever the detector found BatchNorm evidence
        if any(cv.role == "eval_loss" and "bn_evidence" in cv.evidence for cv in rep.runs[0].curves):
            keep.append(c)
    return keep


def score_with(cases: list, thresholds: dict) -> tuple[int, int, int]:
    """(runs right, first remedies right, healthy runs alarmed) with these thresholds."""
    from losscheck.pipeline import Options, diagnose

    right = first = alarmed = 0
    for c in cases:
        r = diagnose(c.run, Options(thresholds=thresholds)).runs[0]
        right += r.primary == c.label
        first += bool(c.remedy) and [m.id for m in r.remedies][:1] == [c.remedy]
        alarmed += c.label == "converging" and r.status != "healthy"
    return right, first, alarmed


def main() -> int:
    acc = _accuracy()
    cases = bn_cases(acc)
    print(f"{len(cases)} tune runs with train and eval losses and BatchNorm evidence")
    keys = list(GRID)
    rows = []
    for combo in itertools.product(*GRID.values()):
        th = dict(zip(keys, combo))
        right, first, alarmed = score_with(cases, th)
        mid = sum(abs(GRID[k].index(th[k]) - (len(GRID[k]) - 1) / 2) for k in keys)
        rows.append(((-right, -first, alarmed, mid), th, right, first, alarmed))
    rows.sort(key=lambda r: r[0])
    for _, th, right, first, alarmed in rows[:10]:
        print(f"{right:3d} right, {first} first remedies, {alarmed} healthy alarmed: "
              + ", ".join(f"{k}={v}" for k, v in th.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

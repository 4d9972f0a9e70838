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
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

GRID = {
    "short-alpha": (0.01, 0.05, 0.1),
    "short-min-change": (0.0, 0.00995, 0.0198, 0.0488),   # ln 1.00, 1.01, 1.02, 1.05
    "short-big-drop": (0.0953, 0.2231, 0.4055),           # ln 1.10, 1.25, 1.50
    "short-spike-ratio": (1.5, 2.0, 3.0),
}


def _accuracy():
    spec = importlib.util.spec_from_file_location("lc_accuracy_fit", HERE / "accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lc_accuracy_fit"] = mod
    spec.loader.exec_module(mod)
    return mod


def short_cases(acc) -> list:
    """The tune cases whose main loss is short (see the module doc, step 1)."""
    from losscheck.analysis import AnalysisOptions

    low = AnalysisOptions().min_points
    cases = []
    for s in acc.SETS:
        cases += acc.load_cases(s, "tune")
    keep = []
    for c in cases:
        from losscheck.pipeline import Options, diagnose

        try:
            rep = diagnose(c.run, Options())
        except Exception:  # noqa: BLE001 - unreadable runs cannot be moved by thresholds
            continue
        if not rep.runs:
            continue
        r = rep.runs[0]
        main = next((cv for cv in r.curves if cv.role == "loss"), None) or \
            next((cv for cv in r.curves if cv.role == "eval_loss"), None)
        if main is not None and 3 <= main.finite < low:
            keep.append(c)
    return keep


def score_with(cases: list, thresholds: dict) -> tuple[int, int]:
    """(runs right, healthy runs alarmed) with these thresholds."""
    from losscheck.pipeline import Options, diagnose

    right = alarmed = 0
    for c in cases:
        rep = diagnose(c.run, Options(thresholds=thresholds))
        r = rep.runs[0]
        right += r.primary == c.label
        alarmed += c.label == "converging" and r.status != "healthy"
    return right, alarmed


def main() -> int:
    acc = _accuracy()
    cases = short_cases(acc)
    print(f"{len(cases)} tune runs with a short main loss")
    keys = list(GRID)
    rows = []
    for combo in itertools.product(*GRID.values()):
        th = dict(zip(keys, combo))
        right, alarmed = score_with(cases, th)
        mid = sum(abs(GRID[k].index(th[k]) - (len(GRID[k]) - 1) / 2) for k in keys[1:])
        rows.append(((-right, alarmed, abs(th["short-alpha"] - 0.05), mid), th, right, alarmed))
    rows.sort(key=lambda r: r[0])
    for _, th, right, alarmed in rows[:15]:
        print(f"{right:3d} right, {alarmed} healthy alarmed: " + ", ".join(f"{k}={v}" for k, v in th.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

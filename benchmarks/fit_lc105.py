"""Fit LC105's LR-too-high thresholds (``knocked-up``, ``knocked-up-z``, ``adam-lr-factor``) on the tune split.

Procedure (the house procedure of ``benchmarks/fit_short.py``):

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

import importlib.util
import itertools
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

GRID = {
    "knocked-up": (1.1, 1.25, 1.5, 2.0, math.inf),
    "knocked-up-z": (3.0, 5.0, 8.0),
    "adam-lr-factor": (3.0, 10.0, 30.0, 100.0, math.inf),
}


def _accuracy():
    spec = importlib.util.spec_from_file_location("lc_accuracy_fit", HERE / "accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lc_accuracy_fit"] = mod
    spec.loader.exec_module(mod)
    return mod


def plateau_cases(acc) -> list:
    """The tune runs judged plateau with a labelled first remedy (module doc, step 1)."""
    from losscheck.pipeline import Options, diagnose

    cases = []
    for s in acc.SETS:
        cases += [c for c in acc.load_cases(s, "tune") if c.remedy]
    keep = []
    for c in cases:
        try:
            rep = diagnose(c.run, Options())
        except Exception:  # noqa: BLE001 - unreadable runs cannot be moved by thresholds
            continue
        if rep.runs and rep.runs[0].primary == "plateau":
            keep.append(c)
    return keep


def score_with(cases: list, thresholds: dict) -> tuple[int, int]:
    """(first remedies right, in the top 3) with these thresholds."""
    from losscheck.pipeline import Options, diagnose

    first = top3 = 0
    for c in cases:
        ids = [m.id for m in diagnose(c.run, Options(thresholds=thresholds)).runs[0].remedies]
        first += ids[:1] == [c.remedy]
        top3 += c.remedy in ids[:3]
    return first, top3


def main() -> int:
    acc = _accuracy()
    cases = plateau_cases(acc)
    print(f"{len(cases)} tune runs judged plateau with a labelled first remedy")
    keys = list(GRID)
    rows = []
    for combo in itertools.product(*GRID.values()):
        th = dict(zip(keys, combo))
        first, top3 = score_with(cases, {k: v for k, v in th.items() if math.isfinite(v)} |
                                 {k: 1e300 for k, v in th.items() if not math.isfinite(v)})
        mid = sum(abs(GRID[k].index(th[k]) - (len(GRID[k]) - 1) / 2) for k in keys)
        rows.append(((-first, -top3, mid), th, first, top3))
    rows.sort(key=lambda r: r[0])
    for _, th, first, top3 in rows[:10]:
        print(f"{first:3d} first, {top3} in top 3: " + ", ".join(f"{k}={v}" for k, v in th.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

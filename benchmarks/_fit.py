"""The shared steps of the threshold searches (``fit_short.py``, ``fit_lc105.py``,
``fit_batchnorm.py``): the house procedure.

1. :func:`tune_cases` diagnoses every ``tune`` case of ``benchmarks/accuracy.py`` once with
   the defaults and keeps the cases a search's predicate selects (the only runs its
   thresholds can move); runs that cannot be read are left out, as no threshold moves them.
2. :func:`grid` walks every combination of a search's grid, each with its distance from the
   middle of the grid (the last tie-break: no preference read off a single log).
3. :func:`verdicts` diagnoses the kept cases with one combination set through the
   configuration (``Options(thresholds=...)``), yielding ``(case, run report)`` pairs for the
   search to score. Each kept run is read from disk once (step 1) and only re-analysed per
   combination: thresholds act after reading.

Only the tune split is read here (and, for a search that breaks tune ties on it, the blind
split); the held-out split is never diagnosed.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))


def load_accuracy():
    """The ``benchmarks/accuracy.py`` module (it is a script, not a package member).

    Returns:
        The loaded module; its ``SETS`` and ``load_cases(set, split)`` are used here.
    """
    name = "lc_accuracy_fit"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def tune_cases(keep: Callable[[object, object], bool],
               case_filter: Callable[[object], bool] = lambda c: True,
               thresholds: Mapping[str, float] | None = None, split: str = "tune") -> list:
    """Step 1: the tune cases a search can move.

    Args:
        keep: ``keep(case, run_report)`` on the default diagnosis of a case's first run;
            True keeps the case.
        case_filter: applied to a case before it is diagnosed (e.g. "has a labelled remedy").
        thresholds: configuration thresholds of that first diagnosis (default: none, the
            defaults); a search whose own thresholds are now on by default turns them off here.
        split: the split read (``tune``; a search may break ties on ``blind``, the sets
            gathered blind and since looked at, a second tune-like source: never ``heldout``).

    Returns:
        The kept cases, in the corpus order of ``accuracy.SETS``. A case whose diagnosis
        raises or finds no run is left out.
    """
    from losscheck.pipeline import Options, diagnose

    acc = load_accuracy()
    kept = []
    for s in acc.SETS:
        for c in acc.load_cases(s, split):
            if not case_filter(c):
                continue
            try:
                rep = diagnose(c.run, Options(thresholds=dict(thresholds or {})))
            except Exception:  # noqa: BLE001 - unreadable runs cannot be moved by thresholds
                continue
            if rep.runs and keep(c, rep.runs[0]):
                kept.append(c)
                _DATA[id(c)] = _read(c.run, rep.runs[0].run)
    return kept


#: id(case) -> the RunData of its first run, read once in step 1
_DATA: dict[int, object] = {}


def _read(path, run_path: str):
    """The RunData of the run at ``run_path`` found under ``path`` (as ``diagnose`` reads it)."""
    from losscheck.discovery import discover
    from losscheck.pipeline import read_run

    run = next(r for r in discover(path).runs if str(r.root) == run_path)
    return read_run(run)


def grid(values: Mapping[str, Sequence[float]],
         middle_of: Sequence[str] | None = None) -> Iterator[tuple[dict, float]]:
    """Step 2: every combination of ``values``, with its distance from the grid's middle.

    Args:
        values: threshold name -> the values tried, in increasing order.
        middle_of: the names whose distance counts (default: all).

    Yields:
        ``(thresholds, mid)``: one combination as a dict, and the sum over ``middle_of`` of
        ``|index - (len - 1) / 2|`` (0 at the centre of every axis).
    """
    keys = list(values)
    counted = keys if middle_of is None else list(middle_of)
    for combo in itertools.product(*values.values()):
        th = dict(zip(keys, combo))
        mid = sum(abs(values[k].index(th[k]) - (len(values[k]) - 1) / 2) for k in counted)
        yield th, mid


def verdicts(cases: Sequence, thresholds: Mapping[str, float]) -> Iterator[tuple[object, object]]:
    """Step 3: ``(case, run report)`` for each case, diagnosed with ``thresholds``."""
    from losscheck.pipeline import Options, diagnose_run

    opts = Options(thresholds=dict(thresholds))
    for c in cases:
        yield c, diagnose_run(_DATA[id(c)], opts)


def axis(values: Sequence[float], off: float) -> list[tuple[float, float]]:
    """Step 2 for one threshold: ``(value, mid)`` for "off" (``mid`` = ``inf``, so it wins no
    tie) and then every value of ``values`` with its distance from the grid's middle."""
    return [(off, math.inf)] + [(v, abs(i - (len(values) - 1) / 2)) for i, v in enumerate(values)]


def score(cases: Sequence, thresholds: Mapping[str, float]) -> tuple[int, int]:
    """Step 3's counts for one setting: ``(runs whose primary class matches the label, healthy
    runs judged failing or warned)`` over ``cases`` diagnosed with ``thresholds``."""
    right = alarmed = 0
    for c, r in verdicts(cases, thresholds):
        right += r.primary == c.label
        alarmed += c.label == "converging" and r.status != "healthy"
    return right, alarmed


def rank(settings: Sequence[tuple[object, float]], cases: Sequence, blind: Sequence = (),
         thresholds_of: Callable[[object], Mapping[str, float]] = dict) -> list[tuple]:
    """Step 4: score every setting on the tune ``cases`` and on the ``blind`` runs selected the
    same way, best first.

    Args:
        settings: ``(setting, mid)`` pairs: a setting (what :func:`grid` yields, or a single
            value) and its distance from the grid's middle (``inf`` for "off").
        cases: tune runs (:func:`tune_cases`).
        blind: blind runs selected the same way (the tie-break); empty for none.
        thresholds_of: the ``[thresholds]`` mapping of a setting (default: the setting itself).

    Returns:
        ``(setting, right, alarmed, blind right, blind alarmed)`` rows sorted by most tune runs
        right, then fewest tune healthy runs alarmed, then the same two on blind, then the
        middle of the grid.
    """
    rows = []
    for setting, mid in settings:
        th = thresholds_of(setting)
        right, alarmed = score(cases, th)
        b_right, b_alarmed = score(blind, th) if blind else (0, 0)
        rows.append(((-right, alarmed, -b_right, b_alarmed, mid), (setting, right, alarmed, b_right, b_alarmed)))
    rows.sort(key=lambda r: r[0])
    return [row for _, row in rows]


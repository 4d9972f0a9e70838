"""The analysis of one run: classify its curves and the run (:mod:`.classify`), then measure
the facts its rules word (:mod:`.facts`)."""

from __future__ import annotations

import numpy as np

from losscheck.analysis.classify import classify_run
from losscheck.analysis.confidence import confidence
from losscheck.analysis.facts import run_facts
from losscheck.analysis.options import AnalysisOptions
from losscheck.model import ResolvedRun, RunAnalysis


def analyse(run: ResolvedRun, options: AnalysisOptions | None = None) -> RunAnalysis:
    """Analyse a resolved run: one :class:`~losscheck.model.CurveAnalysis` per loss / eval-loss
    / grad-norm curve (and per GAN discriminator and component loss), run-level NaN verdict,
    overfitting, LR context, primary and secondary classes, and the run's facts.

    Args:
        run: a :class:`~losscheck.model.ResolvedRun` (``run.get(role)`` gives a Series).
        options: thresholds; defaults documented on :class:`AnalysisOptions`.
    Returns:
        a :class:`~losscheck.model.RunAnalysis`. ``primary`` follows the priority of
        :mod:`losscheck.analysis.classify`; ``secondary`` lists the other problem classes;
        ``onset_step`` is where the primary problem starts (``None`` when healthy);
        ``facts`` holds the measurements the rules word (:class:`~losscheck.model.RunFacts`);
        ``confidence`` the calibrated probability that ``primary`` is right
        (:mod:`losscheck.analysis.confidence`).
    Never raises on odd data (empty, all-NaN, negative values); never prints.
    """
    # losses near 1e308 overflow intermediate sums: the detectors handle inf, numpy's warnings
    # would only reach the user's terminal
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = classify_run(run, options)
        out.facts = run_facts(run, out, options.facts if options is not None else None)
        out.confidence = confidence(out)
    return out

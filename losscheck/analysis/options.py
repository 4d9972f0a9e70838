"""The analysis' options: one flat public facade (:class:`AnalysisOptions`) over the
per-detector thresholds, which the configuration builds by field name."""

from __future__ import annotations

from dataclasses import dataclass, field

from losscheck.analysis.batchnorm import BatchNormOptions
from losscheck.analysis.divergence import DivergenceOptions
from losscheck.analysis.facts import FactOptions
from losscheck.analysis.oscillation import OscillationOptions
from losscheck.analysis.overfit import OverfitOptions
from losscheck.analysis.plateau import PlateauOptions
from losscheck.analysis.short import ShortOptions
from losscheck.analysis.spikes import SpikeOptions
from losscheck.ranges import POSITIVE_COUNT, TIMES


@dataclass
class AnalysisOptions:
    """Options of :func:`losscheck.analysis.analyse`; every threshold's source is in its
    detector's module.

    Attributes:
        num_classes: C for the chance level ln C (else ``meta["num_classes"]``, else C is
            only recognised when the loss starts *and* ends at ln C, C in 2..5, 10, 100, 1000).
        min_points: fewer finite points than this -> the short-curve call of
            :mod:`losscheck.analysis.short` (3 points and more) or ``insufficient`` (fewer,
            unless NaN or an explosion). Default 8.
        explosion_ratio: in a short log, a rise of at least this factor over the minimum is
            an unmistakable divergence. Default 100.
        max_bins: long curves are median-binned to at most this many bins for the
            detectors (change points, divergence, oscillation, plateau). Default 2000.
        trend_bins: the trend models are fitted to at most this many bin medians. Default
            512: on the 224 curves of the benchmark corpus, sample and real runs longer than
            512 points, 512 bins chose the same model as 2,000 except for 12 near-ties
            (delta AICc < 2) and the same doubling time within 0.2% on the diverging ones, in
            half the time (see :mod:`losscheck.analysis.trend`).
        spike, oscillation, plateau, overfit, divergence, batchnorm: per-detector thresholds.
        short: thresholds of the short-curve call (:class:`~losscheck.analysis.short.ShortOptions`).
        lr_restarts: set by :func:`losscheck.analysis.analyse` from the LR series (SGDR
            restarts seen).
        facts: the thresholds of the measurements the rules word
            (:class:`~losscheck.analysis.facts.FactOptions`, keys as the rules document them,
            e.g. ``surge-ratio``); built from the configuration by :mod:`losscheck.catalogue`.
    """

    #: fields set by the analysis itself or the pipeline, never one configuration key each
    INTERNAL = ("num_classes", "lr_restarts", "facts")

    num_classes: int | None = None
    min_points: int = 8
    explosion_ratio: float = field(default=100.0, metadata={"range": TIMES})  # a rise factor; 0 broke the short call
    max_bins: int = field(default=2000, metadata={"range": POSITIVE_COUNT})  # divides the point count
    trend_bins: int = field(default=512, metadata={"range": POSITIVE_COUNT})
    spike: SpikeOptions = field(default_factory=SpikeOptions)
    oscillation: OscillationOptions = field(default_factory=OscillationOptions)
    plateau: PlateauOptions = field(default_factory=PlateauOptions)
    overfit: OverfitOptions = field(default_factory=OverfitOptions)
    divergence: DivergenceOptions = field(default_factory=DivergenceOptions)
    batchnorm: BatchNormOptions = field(default_factory=BatchNormOptions)
    short: ShortOptions = field(default_factory=ShortOptions)
    lr_restarts: int = 0
    facts: FactOptions = field(default_factory=FactOptions)

"""The one input and the one output of every curve detector.

:func:`prepare` turns a curve into a :class:`PreparedCurve` once -- finite points on the
analysis scale, median bins, their noise, change-point segments, the coarse progress -- and
every detector reads it: ``detect(curve: PreparedCurve, opts: Options) -> Detection``
(registry: :mod:`losscheck.analysis.detectors`). A :class:`Detection` carries the detector's
fact (a :mod:`losscheck.model` dataclass, or ``None`` when the detector found nothing or could
not run) and the evidence it measured, under the detector's own key names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscheck.analysis._util import Transformed, bin_median, diff_noise, transform
from losscheck.analysis.changepoint import Segment, segment
from losscheck.model import Series


@dataclass
class PreparedCurve:
    """One curve, prepared once for every detector.

    Attributes:
        series: the raw curve (steps ``int64`` (n,), values ``float64`` (n,), NaN/Inf kept).
        role: the role it fills (``loss``, ``eval_loss``, ``grad_norm``, ``disc_loss``,
            ``component``).
        kind: ``"loss"`` (loss-like: trend, plateau and oscillation apply), ``"grad_norm"``,
            ``"component"`` or ``"lr"`` (a learning rate: never binned).
        tr: the finite points on the analysis scale (m,) (log, or asinh for curves with
            values <= 0; :func:`losscheck.analysis._util.transform`); ``transformed`` holds it
            once computed (an LR, which its detector reads raw, is transformed only on demand).
        binned: the curve has at least ``min_points`` finite points, and the fields below
            are filled (else empty arrays, 0.0 and ``[]``).
        tb, yb, first: (b,) bin centre steps (float), bin medians on the analysis scale, first
            step of each bin (int64); b <= ``max_bins`` (:func:`losscheck.analysis._util.bin_median`).
        noise: robust point-to-point noise of ``yb`` (analysis-scale units, i.e. log units for
            a positive loss; :func:`losscheck.analysis._util.diff_noise`).
        segments: change-point segments of ``(tb, yb)`` (:func:`losscheck.analysis.changepoint.segment`).
        progress_log: the coarse log-progress ``max(start - best, 0)`` of ``yb`` over
            ``divergence.blocks`` (20) block medians (:func:`losscheck.analysis.divergence.coarse_progress`).
        num_classes: C of the run's chance level ln C, when known (``AnalysisOptions.num_classes``).
    """

    series: Series
    role: str
    kind: str
    transformed: Transformed | None = None
    binned: bool = False
    tb: np.ndarray = field(default_factory=lambda: np.zeros(0))
    yb: np.ndarray = field(default_factory=lambda: np.zeros(0))
    first: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    noise: float = 0.0
    segments: list[Segment] = field(default_factory=list)
    progress_log: float = 0.0
    num_classes: int | None = None

    @property
    def tr(self) -> Transformed:
        """The finite points on the analysis scale (transformed on first use for an LR)."""
        if self.transformed is None:
            self.transformed = transform(self.series.steps, self.series.values)
        return self.transformed

    @property
    def loss_like(self) -> bool:
        """Trend, plateau and oscillation apply (not a grad norm)."""
        return self.kind != "grad_norm"

    @property
    def finite(self) -> int:
        """Number of finite points (m)."""
        return int(self.tr.y.shape[0])


@dataclass
class Detection:
    """What a detector returns: its ``fact`` (``None`` when nothing was found or the curve is
    too short for it) and the JSON-friendly ``evidence`` it measured, keys as the curve's
    evidence shows them (each detector names its own keys)."""

    fact: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)


def prepare(series: Series, role: str, opts, kind: str = "loss") -> PreparedCurve:
    """Prepare ``series`` for the detectors (see :class:`PreparedCurve`); ``opts`` is the
    :class:`~losscheck.analysis.AnalysisOptions` (``min_points``, ``max_bins``,
    ``divergence.blocks``). Cost: O(n) for the transform, O(n log k) for the bins, the
    change points on at most ``max_bins`` bins."""
    from losscheck.analysis.divergence import coarse_progress

    c = PreparedCurve(series, role, kind, num_classes=opts.num_classes)
    if kind == "lr":
        return c
    tr = c.tr
    if c.finite < opts.min_points:
        return c
    c.binned = True
    c.tb, c.yb, c.first = bin_median(tr.steps, tr.y, opts.max_bins)
    c.noise = diff_noise(c.yb)
    c.segments = segment(c.tb, c.yb, c.noise)
    c.progress_log = coarse_progress(c.yb, opts.divergence.blocks)
    return c

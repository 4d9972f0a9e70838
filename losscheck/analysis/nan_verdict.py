"""The run-level NaN verdict as a registered detector: does a run's main loss, read together
with its grad norm, make the run ``nan``?

The method (exact scans of every logged value, the Hugging Face Trainer's NaN-filter
signature, benign fp16 overflow) lives in :func:`losscheck.analysis.nonfinite.verdict`, beside
the curve scan it builds on; this module gives it the detector interface of
:mod:`losscheck.analysis.prepared` so the classifier finds it in the registry
(:mod:`losscheck.analysis.detectors`) like the other run-level detectors.
"""

from __future__ import annotations

from losscheck.analysis.nonfinite import NanVerdict, verdict
from losscheck.analysis.prepared import Detection, PreparedCurve

__all__ = ["NanVerdict", "Options", "detect"]

#: The verdict has no configurable options (its tolerances are documented in
#: :mod:`losscheck.analysis.nonfinite`).
Options = None


def detect(curve: PreparedCurve | None, opts: None = None, *, grad: PreparedCurve | None = None) -> Detection:
    """The NaN verdict of a prepared main-loss curve (training loss, else eval loss) with the
    prepared grad-norm curve ``grad`` (either may be ``None``; only their raw series are read:
    steps ``int64`` (n,), values ``float64`` (n,), NaN/Inf kept).

    Returns:
        a :class:`~losscheck.analysis.prepared.Detection` whose ``fact`` is the
        :class:`~losscheck.analysis.nonfinite.NanVerdict` (never ``None``; ``is_nan`` False
        when nothing is non-finite) and whose ``evidence`` is the verdict's evidence.
    Never raises on odd data. Cost: O(n) per curve (exact scans), O(n log n) for the
    NaN-filter signature's step sets.
    """
    v = verdict(curve.series if curve is not None else None, grad.series if grad is not None else None)
    return Detection(v, dict(v.evidence))

"""The detector registry: which detectors run on a prepared curve, with which options, and
where their facts go.

Every detector module exposes ``Options`` and ``detect(curve: PreparedCurve, opts) ->
Detection`` (:mod:`losscheck.analysis.prepared`). :func:`run_detectors` runs the curve
detectors of :data:`CURVE_DETECTORS` in order on one prepared curve; the classifier
(:mod:`losscheck.analysis.classify`) reads their detections by name, and the run-level
detectors of :data:`RUN_DETECTORS` (pairs of curves, the LR) by name too.

Adding a detector: its module (``Options``, ``detect``), one :class:`Detector` entry here,
and one field for its fact in :mod:`losscheck.model` (``CurveAnalysis`` for a curve detector,
``RunAnalysis`` for a run one); its thresholds reach the configuration through one
``AnalysisOptions`` field named by ``options`` (keys ``<field>-<option>``, listed by
:mod:`losscheck.catalogue` without further edits). Whether its fact is kept on the curve and
which label it adds is decided in :mod:`losscheck.analysis.classify`, where all labelling
lives: a detector that labels curves is also a few lines there.

Not detectors, on purpose: the trend fit (:mod:`.trend`, a model choice the classifier makes
for every loss curve) and the measurements of :mod:`.facts` (a grad-norm surge, a clip
ceiling, a zero LR, chance level, eval gaps, stalls...), which are taken after the curves are
classified, only when a rule can use them, from the classes as settled; they are listed in
:func:`losscheck.analysis.facts.run_facts` (adding one: the measuring function, one line there,
one :class:`~losscheck.model.RunFacts` field, and a :class:`~losscheck.analysis.facts.FactOptions`
field for each threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Callable

from losscheck.analysis import adversarial, batchnorm, divergence, lr, nan_verdict, nonfinite, oscillation, overfit, plateau, spikes
from losscheck.analysis.prepared import Detection, PreparedCurve


@dataclass(frozen=True)
class Detector:
    """One registered detector.

    Attributes:
        name: the key of its :class:`~losscheck.analysis.prepared.Detection` in
            :func:`run_detectors`' result.
        module: the module exposing ``Options`` and ``detect``.
        options: the :class:`~losscheck.analysis.AnalysisOptions` field holding its options
            (``None``: it has none).
        fact: the model field its fact fills (``CurveAnalysis.<fact>`` or ``RunAnalysis.<fact>``;
            ``None``: the fact is read by the classifier only).
        applies: whether it runs on a curve, given the detections made so far.
    """

    name: str
    module: ModuleType
    options: str | None
    fact: str | None
    applies: Callable[[PreparedCurve, dict], bool]


def _binned(c: PreparedCurve, done: dict) -> bool:
    return c.binned


def _oscillation_applies(c: PreparedCurve, done: dict) -> bool:
    """Loss-like curves; a grad norm only to overrule a divergence (large slow swings can make
    the end of a non-progressing curve sit well above its lowest block)."""
    div = done.get("divergence")
    return c.binned and (c.loss_like or bool(div is not None and div.fact is not None and div.fact.diverging))


#: Curve detectors, in the order they run (the classifier merges their evidence in this order).
CURVE_DETECTORS: tuple[Detector, ...] = (
    Detector("nonfinite", nonfinite, None, "nonfinite", lambda c, done: True),
    Detector("divergence", divergence, "divergence", None, _binned),
    Detector("spikes", spikes, "spike", "spikes", _binned),
    Detector("oscillation", oscillation, "oscillation", "oscillation", _oscillation_applies),
    Detector("plateau", plateau, "plateau", "plateau", lambda c, done: c.binned and c.loss_like),
)

#: Run-level detectors (a pair of curves, or the LR): run by the classifier by name.
RUN_DETECTORS: tuple[Detector, ...] = (
    Detector("lr", lr, None, "lr", lambda c, done: True),
    Detector("nan_verdict", nan_verdict, None, None, lambda c, done: True),
    Detector("overfit", overfit, "overfit", "overfit", lambda c, done: True),
    Detector("adversarial", adversarial, None, None, lambda c, done: True),
    Detector("batchnorm", batchnorm, "batchnorm", "batchnorm", lambda c, done: True),
)


def options_of(d: Detector, opts) -> object:
    """A detector's options: the :class:`~losscheck.analysis.AnalysisOptions` field named by
    ``d.options`` (an instance of the detector's ``Options``), or ``None`` for a detector
    without options. Raises AttributeError when ``opts`` lacks that field (a programming error)."""
    return getattr(opts, d.options) if d.options else None


def run_detectors(curve: PreparedCurve, opts) -> dict[str, Detection]:
    """Every curve detector that applies to ``curve``, in :data:`CURVE_DETECTORS` order:
    name -> :class:`~losscheck.analysis.prepared.Detection`."""
    done: dict[str, Detection] = {}
    for d in CURVE_DETECTORS:
        if d.applies(curve, done):
            done[d.name] = d.module.detect(curve, options_of(d, opts))
    return done


def detector(name: str) -> Detector:
    """The registered detector called ``name`` (curve or run level). Raises KeyError for a
    name that is not registered."""
    for d in CURVE_DETECTORS + RUN_DETECTORS:
        if d.name == name:
            return d
    raise KeyError(name)

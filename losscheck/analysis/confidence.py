"""How sure a verdict is: a calibrated probability that the run's primary class is right.

Three steps, all deterministic:

1. :func:`features` reads five numbers off the analysis already made (nothing is re-fitted):

   * ``margin`` -- how far the statistic that decided the primary class lies past its own
     threshold, squashed to [0, 1) by ``tanh`` (0 = on the threshold, -> 1 = far past it).
     Per class (the statistics and thresholds are the detectors', see their modules):
     ``diverging``: ln(rise) / ln(rise needed) - 1 (:mod:`.divergence`), or for a short log
     ln(rise) / ln(``explosion_ratio``) - 1; ``spiking``: largest robust z over the spike
     threshold - 1 (:mod:`.spikes`), or ln(worse level ratio) / ln 1.3 - 1 for a jump to a
     worse level; ``overfitting``: the eval rise's z over ``z_sig`` (:mod:`.overfit`);
     ``oscillating``: the autocorrelation at the period (:mod:`.oscillation`) times 2;
     ``plateau``: 2 at a chance level ln C, else 1 - (decrease / 2 standard errors)
     (:mod:`.plateau`); ``nan``: 2 when the curve stays non-finite to its end, 1 when it
     recovered; ``converging``: the decrease over the run in standard errors / 3 - 1 (the
     plateau test's statistic read the other way); ``insufficient``: 0.
   * ``points`` -- ln(n / 3) / ln(200 / 3) clipped to [0, 1], n = finite points of the curve
     that decided (3 points: 0, the fewest a verdict is made from; 200 and more: 1).
   * ``conflict`` -- other problem classes the run also shows (its secondary classes), plus 1
     when the eval loss and the training loss each show a different problem; /3, at most 1.
   * ``noise`` -- the deciding curve's robust point-to-point noise (log units, the detectors'
     ``noise_log``) / 0.5, at most 1.
   * ``agree`` -- 1 when a second signal says the same (the grad norm for ``diverging``,
     ``nan`` and ``spiking``; the eval loss sharing the training loss's class), else 0.

2. :func:`calibrate` maps them to a probability with a logistic model
   ``p = 1 / (1 + exp(-(b + b_class + w . x)))`` whose coefficients
   (:data:`losscheck.analysis.confidence_fit.COEFFICIENTS`) are fitted by
   ``benchmarks/fit_confidence.py`` on the *tune* split of the labelled benchmark runs only:
   L2-penalised maximum likelihood with Platt's smoothed targets (Platt 1999, "Probabilistic
   outputs for support vector machines", sec. 2.2: ``(N+ + 1) / (N+ + 2)`` for right verdicts,
   ``1 / (N- + 2)`` for wrong ones, so a separable tune set does not give 0 or 1) and sign
   constraints that keep the probability monotone in the evidence: non-decreasing in
   ``margin``, ``points`` and ``agree``, non-increasing in ``conflict`` and ``noise``
   (a clearer divergence never gets a lower confidence than a borderline one). ``b_class`` is a
   per-class offset, shrunk towards 0 by the same penalty.

3. The logit then goes through a post-hoc calibration map ``z -> scale * z + shift``
   (``COEFFICIENTS["calibration"]``; ``scale > 0``, so the order of the confidences is kept):
   the identity, a single temperature (``shift = 0``; Guo et al. 2017, "On calibration of
   modern neural networks", ICML, sec. 4.2) or Platt scaling (Platt 1999). The penalty and the
   map are both chosen inside the tune split by leave-one-source-group-out cross-validation
   (every run's prediction made by a model that never saw its repository, thread or injected
   fault family), scored by the out-of-source log-loss; the procedure is in the docstring of
   ``benchmarks/fit_confidence.py``. No held-out or blind run is read by the fit.

The held-out and blind splits measure the result (reliability table and expected calibration
error, Naeini et al. 2015; Guo et al. 2017) in ``benchmarks/accuracy.py``.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass

from losscheck.model import CurveAnalysis, RunAnalysis

#: Feature names, in the order of :class:`Features` and of the fitted weights.
FEATURES = ("margin", "points", "conflict", "noise", "agree")
#: Sign each weight is constrained to (+1: non-decreasing in that feature, -1: non-increasing).
SIGNS = (1, 1, -1, -1, 1)


@dataclass
class Features:
    """The evidence a confidence is computed from; every field is unitless in [0, 1] (module doc)."""

    margin: float
    points: float
    conflict: float
    noise: float
    agree: float

    def vector(self) -> tuple[float, ...]:
        """The values in :data:`FEATURES` order."""
        return astuple(self)


def _num(ev: dict, key: str) -> float | None:
    v = ev.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None
    return float(v)


def _ln_ratio(num: float | None, den: float | None) -> float | None:
    """ln(num) / ln(den) for num, den > 1, else ``None``."""
    if num is None or den is None or num <= 0 or den <= 1:
        return None
    return math.log(num) / math.log(den)


def deciding_curve(a: RunAnalysis) -> CurveAnalysis | None:
    """The curve whose class is the run's primary class (training loss first, then eval loss),
    else the training loss, else the eval loss; ``None`` when neither was analysed."""
    for role in ("loss", "eval_loss"):
        c = a.curves.get(role)
        if c is not None and c.klass == a.primary:
            return c
    return a.curves.get("loss") or a.curves.get("eval_loss")


def raw_margin(klass: str, c: CurveAnalysis | None) -> float:
    """How far the deciding statistic is past its threshold, in threshold units (>= 0; 0 = on
    it or unknown). See the module doc for each class's statistic."""
    if c is None:
        return 0.0
    ev = c.evidence
    m: float | None = None
    if klass == "nan":
        nf = c.nonfinite
        m = 1.0 if nf is not None and nf.recovered else 2.0
    elif klass == "diverging":
        m = _ln_ratio(_num(ev, "rise_ratio"), _num(ev, "rise_needed_ratio"))
        if m is None:
            m = _ln_ratio(_num(ev, "jump_far_above_start"), 1.5)
        if m is None:
            m = _ln_ratio(_num(ev, "max_rise_ratio"), 100.0)
        m = None if m is None else m - 1.0
        if m is None and _num(ev, "doubling_steps") is not None:
            m = 0.5
    elif klass == "spiking":
        z, thr = _num(ev, "spike_max_z"), _num(ev, "spike_threshold_z")
        if _num(ev, "worse_level_ratio") is not None:
            r = _ln_ratio(_num(ev, "worse_level_ratio"), 1.3)
            m = None if r is None else r - 1.0
        elif z is not None and thr is not None and thr > 0:
            m = z / thr - 1.0
    elif klass == "overfitting":
        z = _num(ev, "overfit_rise_z")
        m = None if z is None else z / 3.0 - 1.0
        if m is not None and ev.get("overfit_path") == "stall":
            m = max(m, 0.0)
    elif klass == "oscillating":
        s = _num(ev, "osc_acf_peak")
        m = None if s is None else 2.0 * max(s, 0.0)
    elif klass == "plateau":
        if c.plateau is not None and c.plateau.chance_classes:
            m = 2.0
        else:
            dec, se = _num(ev, "plateau_decrease_log"), _num(ev, "plateau_decrease_se")
            if dec is not None and se is not None:
                m = 1.0 - max(dec, 0.0) / max(2.0 * se, 1e-3)
    elif klass == "converging":
        dec, se = _num(ev, "plateau_decrease_log"), _num(ev, "plateau_decrease_se")
        if dec is not None and se is not None:
            # both significant (in standard errors) and large (the loss at least halved: 1)
            m = min(dec / max(se, 1e-3) / 3.0 - 1.0, dec / math.log(2.0))
    return max(0.0, m) if m is not None and math.isfinite(m) else 0.0


def features(a: RunAnalysis) -> Features:
    """The five features of a run's verdict (module doc), from its analysis only.

    Args:
        a: the run's :class:`~losscheck.model.RunAnalysis`.
    Returns:
        a :class:`Features`, every value in [0, 1]. Never raises.
    """
    c = deciding_curve(a)
    margin = math.tanh(raw_margin(a.primary, c))
    n = c.finite if c is not None else 0
    points = min(1.0, max(0.0, math.log(max(n, 1) / 3.0) / math.log(200 / 3.0)))
    train, ev_c = a.curves.get("loss"), a.curves.get("eval_loss")
    ok = ("converging", "insufficient")
    clash = int(train is not None and ev_c is not None and train.klass not in ok and ev_c.klass not in ok
                and train.klass != ev_c.klass)
    conflict = min(1.0, (len(a.secondary) + clash) / 3.0)
    noise_log = _num(c.evidence, "noise_log") if c is not None else None
    noise = min(1.0, max(0.0, (noise_log or 0.0) / 0.5))
    g = a.curves.get("grad_norm")
    agree = 0.0
    if a.primary in ("diverging", "nan", "spiking") and g is not None and g.klass == a.primary:
        agree = 1.0
    elif a.primary not in ok and train is not None and ev_c is not None and train.klass == ev_c.klass:
        agree = 1.0
    return Features(margin, points, conflict, noise, agree)


def calibrate(klass: str, f: Features, coefficients: dict | None = None) -> float:
    """The calibrated probability that ``klass`` is right, given the features.

    Args:
        klass: the run's primary class.
        f: its :class:`Features`.
        coefficients: ``{"intercept": b, "weights": {feature: w}, "class_offset": {class: b_c}}``
            and optionally ``"calibration": {"scale": a, "shift": c}`` (the post-hoc map
            ``z -> a * z + c``; identity when absent); default the committed fit
            (:mod:`losscheck.analysis.confidence_fit`).
    Returns:
        a probability in [0, 1], rounded to 3 decimals (more digits are not meaningful with the
        size of the tune split).
    """
    if coefficients is None:
        from losscheck.analysis.confidence_fit import COEFFICIENTS
        coefficients = COEFFICIENTS
    z = float(coefficients["intercept"]) + float(coefficients["class_offset"].get(klass, 0.0))
    w = coefficients["weights"]
    for name, x in zip(FEATURES, f.vector()):
        z += float(w.get(name, 0.0)) * x
    cal = coefficients.get("calibration") or {}
    z = float(cal.get("scale", 1.0)) * z + float(cal.get("shift", 0.0))
    z = max(-40.0, min(40.0, z))
    return round(1.0 / (1.0 + math.exp(-z)), 3)


def confidence(a: RunAnalysis, coefficients: dict | None = None) -> float:
    """The calibrated confidence of a run's primary class (:func:`features` then
    :func:`calibrate`); in [0, 1]. Never raises on an analysis :func:`~losscheck.analysis.analyse`
    returned."""
    return calibrate(a.primary, features(a), coefficients)

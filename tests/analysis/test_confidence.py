"""The confidence of a verdict (:mod:`losscheck.analysis.confidence`): a probability, monotone
in the evidence, computed from the committed calibration table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscheck.analysis import analyse
from losscheck.analysis.confidence import FEATURES, SIGNS, Features, calibrate, confidence, features
from losscheck.analysis.confidence_fit import COEFFICIENTS
from losscheck.model import CLASSES
from tests.analysis.test_analysis import converging, mkrun


def diverging(rate: float, n: int = 1000, onset: int = 500, seed: int = 0):
    """A loss that converges, then grows as exp(rate * steps since ``onset``)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1)
    base = 0.5 + 4.5 * (1 + 20 * steps / n) ** -1.0
    grow = np.exp(rate * np.clip(steps - onset, 0, None))
    return steps, base * grow * np.exp(0.03 * rng.standard_normal(n))


def test_calibration_table_loads_with_the_documented_shape():
    assert set(COEFFICIENTS) == {"intercept", "weights", "class_offset", "calibration"}
    # the post-hoc map z -> scale * z + shift: a positive scale keeps the confidence monotone
    cal = COEFFICIENTS["calibration"]
    assert set(cal) == {"scale", "shift"} and cal["scale"] > 0 and math.isfinite(cal["shift"])
    assert set(COEFFICIENTS["weights"]) == set(FEATURES)
    for name, sign in zip(FEATURES, SIGNS):
        w = COEFFICIENTS["weights"][name]
        assert math.isfinite(w) and w * sign >= 0, (name, w)  # the monotonicity constraint held
    assert set(COEFFICIENTS["class_offset"]) <= set(CLASSES)
    assert all(math.isfinite(v) for v in COEFFICIENTS["class_offset"].values())


@pytest.mark.parametrize("klass", CLASSES)
def test_calibrated_value_is_a_probability_at_the_corners(klass):
    for lo_hi in ((0.0,) * 5, (1.0,) * 5, (1.0, 1.0, 0.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0, 0.0)):
        p = calibrate(klass, Features(*lo_hi))
        assert 0.0 <= p <= 1.0


@pytest.mark.parametrize("name", FEATURES)
def test_calibrated_value_moves_with_each_feature_in_its_sign(name):
    coef = {"intercept": 0.0, "weights": {f: (1.0 if s > 0 else -1.0) for f, s in zip(FEATURES, SIGNS)},
            "class_offset": {}}
    lo = dict.fromkeys(FEATURES, 0.5)
    hi = {**lo, name: 0.9}
    p_lo, p_hi = calibrate("diverging", Features(**lo), coef), calibrate("diverging", Features(**hi), coef)
    sign = SIGNS[FEATURES.index(name)]
    assert (p_hi - p_lo) * sign > 0


def test_runs_of_every_kind_get_a_probability_and_features_in_unit_range():
    runs = [mkrun(loss=converging()), mkrun(loss=diverging(0.01)),
            mkrun(loss=(np.arange(1, 6), np.array([2.3, 2.3, 2.3, 2.3, 2.3])))]
    nan_st, nan_v = converging(n=300)
    nan_v = nan_v.copy()
    nan_v[200:] = np.nan
    runs.append(mkrun(loss=(nan_st, nan_v)))
    for r in runs:
        a = analyse(r)
        assert a.confidence is not None and 0.0 <= a.confidence <= 1.0, a.primary
        assert all(0.0 <= v <= 1.0 for v in features(a).vector()), (a.primary, features(a))
        assert confidence(a) == a.confidence


def test_a_clearer_divergence_is_at_least_as_sure_as_a_borderline_one():
    # x20 over the 500 steps after the onset vs x2.1 (just past the detector's threshold)
    clear = analyse(mkrun(loss=diverging(0.006)))
    border = analyse(mkrun(loss=diverging(0.0015)))
    assert clear.primary == border.primary == "diverging", (clear.primary, border.primary)
    fc, fb = features(clear), features(border)
    assert fc.margin > fb.margin
    assert clear.confidence > border.confidence
    rates = (0.0015, 0.002, 0.003, 0.006, 0.03)
    conf = [analyse(mkrun(loss=diverging(r))).confidence for r in rates]
    assert conf == sorted(conf), dict(zip(rates, conf))


def test_more_points_never_lower_the_confidence_of_the_same_curve_shape():
    short = analyse(mkrun(loss=converging(n=12)))
    long = analyse(mkrun(loss=converging(n=2000)))
    assert short.primary == long.primary == "converging"
    assert features(long).points > features(short).points
    assert long.confidence > short.confidence


def test_the_calibration_map_is_applied_on_the_logit_and_keeps_the_order():
    base = {"intercept": 0.5, "weights": dict.fromkeys(FEATURES, 0.0), "class_offset": {"nan": 1.0}}
    f = Features(*(0.5,) * 5)
    z = 0.5 + 1.0
    assert calibrate("nan", f, base) == round(1 / (1 + math.exp(-z)), 3)  # no map: identity
    sharp = {**base, "calibration": {"scale": 0.5, "shift": -0.25}}
    assert calibrate("nan", f, sharp) == round(1 / (1 + math.exp(-(0.5 * z - 0.25))), 3)
    lo, hi = Features(0.1, 0.5, 0.5, 0.5, 0.5), Features(0.9, 0.5, 0.5, 0.5, 0.5)
    w = {**sharp, "weights": {**base["weights"], "margin": 2.0}}
    assert calibrate("nan", lo, w) < calibrate("nan", hi, w)

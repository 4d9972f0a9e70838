"""The detector interface (issue 13): every detector exposes ``Options`` and
``detect(curve: PreparedCurve, opts) -> Detection``; the registry lists them; a curve is
prepared (transform, bins, noise, change points) once, whatever the number of detectors."""

import dataclasses

import numpy as np

from losscheck.analysis import AnalysisOptions, analyse
from losscheck.analysis.detectors import CURVE_DETECTORS, RUN_DETECTORS, run_detectors
from losscheck.analysis.prepared import Detection, PreparedCurve, prepare
from losscheck.model import CurveAnalysis, ResolvedRun, RoleAssignment, RunAnalysis, RunData, Series


def _run(**curves):
    series = {role: Series(role, st, v, "log") for role, (st, v) in curves.items()}
    return ResolvedRun(RunData("r", ["log"], series), {r: RoleAssignment(r, s) for r, s in series.items()})


def test_every_registered_detector_has_options_and_detect():
    fields = {f.name for f in dataclasses.fields(AnalysisOptions)}
    names = [d.name for d in CURVE_DETECTORS + RUN_DETECTORS]
    assert len(names) == len(set(names))
    for d in CURVE_DETECTORS + RUN_DETECTORS:
        assert callable(d.module.detect) and hasattr(d.module, "Options"), d.name
        if d.options is not None:  # its options are a field of the flat facade, of its own type
            assert d.options in fields and isinstance(getattr(AnalysisOptions(), d.options), d.module.Options)
        if d.fact is not None:  # its fact has a home in the model
            home = CurveAnalysis if d in CURVE_DETECTORS else RunAnalysis
            assert d.fact in {f.name for f in dataclasses.fields(home)}, d.name


def test_curve_detectors_return_one_shape():
    st = np.arange(400)
    v = 2.0 * np.exp(-st / 100) + 0.3 + 0.01 * np.sin(st)
    v[200] = 30.0  # a spike
    curve = prepare(Series("loss", st, v, "log"), "loss", AnalysisOptions())
    assert isinstance(curve, PreparedCurve) and curve.binned and curve.yb.shape[0] <= 2000
    found = run_detectors(curve, AnalysisOptions())
    assert list(found) == [d.name for d in CURVE_DETECTORS]
    assert all(isinstance(x, Detection) and isinstance(x.evidence, dict) for x in found.values())
    assert found["spikes"].fact.spikes and found["spikes"].evidence["spike_count"] >= 1
    # a grad norm: no plateau, and the oscillation check only to overrule a divergence
    g = run_detectors(prepare(Series("grad_norm", st, v, "log"), "grad_norm", AnalysisOptions(),
                              kind="grad_norm"), AnalysisOptions())
    assert "plateau" not in g and "oscillation" not in g


def test_each_curve_is_prepared_once(monkeypatch):
    import losscheck.analysis.prepared as P

    calls = []
    real = P.segment
    monkeypatch.setattr(P, "segment", lambda *a, **k: calls.append(1) or real(*a, **k))
    st = np.arange(300)
    run = _run(loss=(st, 2.0 * np.exp(-st / 80) + 0.5), eval_loss=(st[::10], 2.1 * np.exp(-st[::10] / 80) + 0.5),
               grad_norm=(st, 1.0 + 0.1 * np.cos(st)))
    a = analyse(run)
    assert a.primary == "converging"
    assert len(calls) == 3  # one change-point segmentation per curve, shared by every detector


def test_the_nan_verdict_is_a_registered_run_detector():
    """The run-level NaN verdict is found in the registry and gives the classifier what
    nonfinite.verdict gives: the HF NaN-filter signature (loss 0.0 where the grad norm is NaN)
    makes the run ``nan`` from the first hidden step; a finite run is not ``nan``."""
    from losscheck.analysis.detectors import detector
    from losscheck.analysis.nonfinite import verdict

    d = detector("nan_verdict")
    assert d in RUN_DETECTORS and d.module.Options is None
    st = np.arange(50)
    loss, grad = 2.0 * np.exp(-st / 20) + 0.1, np.full(50, 0.5)
    loss[30:], grad[30:] = 0.0, np.nan
    opts = AnalysisOptions()
    pl = prepare(Series("loss", st, loss, "log"), "loss", opts)
    pg = prepare(Series("grad_norm", st, grad, "log"), "grad_norm", opts, kind="grad_norm")
    found = d.module.detect(pl, None, grad=pg)
    assert isinstance(found, Detection) and found.fact.is_nan and found.fact.hf_nan_filter
    assert found.fact.onset_step == 30 and found.evidence == verdict(pl.series, pg.series).evidence
    assert analyse(_run(loss=(st, loss), grad_norm=(st, grad))).primary == "nan"
    assert not d.module.detect(prepare(Series("loss", st, 2.0 * np.exp(-st / 20) + 0.1, "log"), "loss", opts),
                               None, grad=None).fact.is_nan

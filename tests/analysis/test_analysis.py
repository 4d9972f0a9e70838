"""Tests for losscheck.analysis on synthetic curves (every class and the hard healthy cases),
at several scales and lengths. Seeded; fast."""

from __future__ import annotations

import json

import numpy as np
import pytest

from losscheck.analysis import AnalysisOptions, analyse
from losscheck.analysis.changepoint import segment
from losscheck.analysis.lr import in_warmup, lr_context, restart_steps
from losscheck.analysis.spikes import detect_spikes
from losscheck.analysis._util import transform
from losscheck.analysis.trend import fit_trend
from losscheck.model import CLASSES, ResolvedRun, RoleAssignment, RunData, Series

SCALES = (1e-4, 1.0, 1e4)


def mkrun(**roles) -> ResolvedRun:
    """roles: name -> (steps, values)."""
    series, ra = {}, {}
    for role, (st, va) in roles.items():
        s = Series(role, np.asarray(st), np.asarray(va, dtype=float), "synthetic")
        series[role] = s
        ra[role] = RoleAssignment(role, s)
    return ResolvedRun(RunData("synthetic", ["synthetic"], series), ra)


def converging(n=2000, seed=0, noise=0.05, start=5.0, floor=0.5, span=None):
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1) * (10 if span is None else max(1, span // n))
    t = steps / steps[-1]
    clean = floor + (start - floor) * (1 + 20 * t) ** -1.0
    return steps, clean * np.exp(noise * rng.standard_normal(n))


def assert_json_friendly(d: dict):
    for k, v in d.items():
        assert isinstance(k, str)
        assert type(v) in (float, int, str, bool), (k, type(v))
    json.dumps(d)


# --------------------------------------------------------------------------- healthy


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("n", [30, 2000])
def test_converging_any_scale_and_length(scale, n):
    st, v = converging(n=n, seed=n)
    a = analyse(mkrun(loss=(st, v * scale)))
    assert a.primary == "converging", (a.primary, a.curves["loss"].evidence)
    assert a.secondary == []
    assert a.onset_step is None
    assert a.curves["loss"].trend is not None
    assert a.curves["loss"].trend.model in ("exp_decay", "power_decay")


def test_converging_1e5_points_binned():
    """10^5 points are median-binned to <= 2000 before any fit (the cost is bounded by the bins;
    its speed is measured by benchmarks/speed.py, not asserted here)."""
    st, v = converging(n=100_000, seed=3, noise=0.2)
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "converging"
    assert a.curves["loss"].evidence["bins"] <= 2000


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_batch_heavy_tailed_noise_is_not_spiking(seed):
    # batch size 4: the per-step loss is the mean of 4 heavy-tailed (lognormal, sigma=1)
    # per-sample losses around the trend; single-step ratios up to x10 and more occur.
    rng = np.random.default_rng(seed)
    n = 20_000
    st = np.arange(n)
    trend = 0.5 + 0.3 * (1 + st / 500) ** -0.5
    v = trend * rng.lognormal(-0.5, 1.0, (n, 4)).mean(axis=1)
    assert np.max(v[1:] / v[:-1]) > 10
    a = analyse(mkrun(loss=(st, v)))
    assert a.curves["loss"].spikes == []
    assert a.primary == "converging", a.curves["loss"].evidence


def test_converge_then_flat_is_converging():
    rng = np.random.default_rng(5)
    st = np.arange(4000)
    clean = np.where(st < 1000, 10.0 * np.exp(-st / 150.0), 0.0) + 0.1
    v = clean * np.exp(0.03 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "converging", a.curves["loss"].evidence


def test_tiny_late_jump_after_convergence_is_converging():
    rng = np.random.default_rng(6)
    st = np.arange(5000)
    v = 1.0 * np.exp(-st / 200.0) + 1e-4
    v[4000:4030] = 1e-3  # x10 in relative terms, far below anything that matters
    v = v * np.exp(0.05 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "converging", a.curves["loss"].evidence


def test_epoch_staircase_is_converging():
    rng = np.random.default_rng(7)
    st = np.arange(3000)
    epoch = st // 500
    v = 2.0 * 0.7 ** epoch * (1 + 0.15 * np.exp(-(st % 500) / 100.0))
    v *= np.exp(0.03 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "converging", a.curves["loss"].evidence
    assert a.curves["loss"].oscillation is None


def test_warm_restarts_are_not_oscillation():
    rng = np.random.default_rng(8)
    st = np.arange(4000)
    cyc = st % 1000
    lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * cyc / 1000))
    v = (1.5 - 0.1 * (st // 1000)) * (1 + 0.4 * np.exp(-cyc / 80.0)) * np.exp(0.02 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v), lr=(st, lr)))
    assert len(restart_steps(mkrun(lr=(st, lr)).get("lr"))) == 3
    assert a.primary == "converging", (a.primary, a.curves["loss"].evidence)


# --------------------------------------------------------------------------- diverging


@pytest.mark.parametrize("scale", SCALES)
def test_exponential_growth_rate_doubling_and_onset(scale):
    rng = np.random.default_rng(11)
    st = np.arange(0, 10000, 5)
    onset, r = 6000, 2e-3
    base = 0.3 + 2.0 * np.exp(-st / 800.0)
    v = base * np.exp(np.where(st >= onset, r * (st - onset), 0.0))
    v = v * np.exp(0.02 * rng.standard_normal(st.size)) * scale
    a = analyse(mkrun(loss=(st, v)))
    c = a.curves["loss"]
    assert a.primary == "diverging", c.evidence
    assert abs(a.onset_step - onset) <= 0.03 * st[-1], a.onset_step
    assert c.evidence["growth_rate_per_step"] == pytest.approx(r, rel=0.10)
    assert c.evidence["doubling_steps"] == pytest.approx(np.log(2) / r, rel=0.10)
    assert c.trend is not None and c.trend.model == "exp_growth"
    assert c.trend.rate_per_step == pytest.approx(r, rel=0.10)
    assert c.trend.doubling_steps == pytest.approx(np.log(2) / r, rel=0.10)


def test_exponential_growth_at_1e5_points():
    st = np.arange(100_000)
    onset, r = 70_000, 1e-4
    v = (0.5 + np.exp(-st / 5000.0)) * np.exp(np.where(st >= onset, r * (st - onset), 0.0))
    v *= np.exp(0.1 * np.random.default_rng(15).standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "diverging"
    assert abs(a.onset_step - onset) <= 0.03 * st[-1]
    assert a.curves["loss"].evidence["doubling_steps"] == pytest.approx(np.log(2) / r, rel=0.10)


@pytest.mark.parametrize("rate", [0.02, 0.05, 0.1])
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_a_loss_growing_from_its_first_step_has_its_onset_at_the_start(rate, seed):
    """A straight climb in the log domain (x2 every ln2/rate steps from step 1) has no knot: the
    onset is where it leaves its minimum, at the start, not wherever a two-phase fit of a line
    lands (it put it at step 198 of 200, so the rollback named a checkpoint 1e4 times worse)."""
    st = np.arange(1, 201)
    v = 2.0 * np.exp(rate * st)
    if seed is not None:
        v = v * np.exp(0.05 * np.random.default_rng(seed).standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "diverging"
    assert a.onset_step <= 0.05 * st[-1] + 5, a.onset_step


def test_gradual_climb_from_noisy_floor_onset():
    rng = np.random.default_rng(16)
    st = np.arange(2, 162, 2)
    v = 1.7 * np.exp(np.where(st >= 60, 0.12 * (st - 60), 0.0) + 0.1 * rng.standard_normal(st.size))
    lr = np.minimum(st / 50.0, 1.0)
    a = analyse(mkrun(loss=(st, v), lr=(st, lr)))
    assert a.primary == "diverging"
    assert abs(a.onset_step - 60) <= 10
    assert a.evidence["divergence_after_lr_peak_steps"] == a.onset_step - 50


def test_short_explosion_is_diverging_and_short_healthy_gets_a_call():
    st = np.arange(430, 438)[:7]
    v = np.array([0.061, 0.060, 0.062, 0.06, 5.4e19, 4.3e20, 2.1e21])
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "diverging"
    assert a.onset_step == 434
    assert a.curves["loss"].evidence["growth_rate_per_step"] > 0
    b = analyse(mkrun(loss=(np.arange(5), [1.3, 1.2, 1.25, 1.1, 1.05])))
    assert b.primary == "converging"  # the short-log call (losscheck.analysis.short)
    assert any("short-log call" in n for n in b.curves["loss"].notes)
    c = analyse(mkrun(loss=(np.arange(2), [1.3, 1.2])))
    assert c.primary == "insufficient"  # below 3 points, no shape can be read


def test_jump_to_worse_level_that_stays_is_spiking_worse_or_diverging():
    rng = np.random.default_rng(12)
    st = np.arange(3000)
    v = 0.8 + 4.0 * np.exp(-st / 300.0)
    v[2000:] = 1.6  # x2 jump, stays, below the initial 4.8
    v = v * np.exp(0.02 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "spiking", (a.primary, a.curves["loss"].evidence)
    assert abs(a.onset_step - 2000) <= 30
    worse = [s for s in a.curves["loss"].spikes if s.recover_steps is None]
    assert worse and worse[0].level_ratio > 1.5
    # the same jump to far above the initial level is a divergence
    v2 = v.copy()
    v2[2000:] *= 40
    b = analyse(mkrun(loss=(st, v2)))
    assert b.primary == "diverging"
    assert abs(b.onset_step - 2000) <= 30


# --------------------------------------------------------------------------- spikes


@pytest.mark.parametrize("scale", SCALES)
def test_recovered_spike_found(scale):
    rng = np.random.default_rng(13)
    st = np.arange(0, 20000, 10)
    v = 0.05 + 14 * np.exp(-st / 800.0)
    v = v * np.exp(0.05 * rng.standard_normal(st.size))
    i = 1200
    v[i:i + 3] = [22.7, 3.0, 0.3]
    a = analyse(mkrun(loss=(st, v * scale)))
    sp = a.curves["loss"].spikes
    assert len(sp) == 1
    assert sp[0].step == st[i]
    assert sp[0].ratio > 100
    assert sp[0].recover_steps is not None and sp[0].recover_steps <= 50
    assert a.primary == "spiking" and a.onset_step == st[i]


def test_spike_detector_directly_ignores_white_noise():
    rng = np.random.default_rng(14)
    st = np.arange(50_000)
    v = np.exp(0.3 * rng.standard_normal(st.size))
    rep = detect_spikes(transform(st, v))
    assert rep.spikes == []
    assert rep.threshold_z >= 6.0


# --------------------------------------------------------------------------- nan


def test_nan_midrun_first_metric_and_onset():
    st = np.arange(100)
    loss = 0.2 + np.exp(-st / 20.0)
    loss[60:] = np.nan
    grad = np.ones(100)
    grad[58:] = np.inf
    a = analyse(mkrun(loss=(st, loss), grad_norm=(st, grad)))
    assert a.primary == "nan"
    assert a.onset_step == 58
    assert a.evidence["first_nonfinite_metric"] == "grad_norm"
    assert a.evidence["grad_norm_lead_steps"] == 2
    assert a.curves["loss"].nonfinite.first_step == 60
    assert a.curves["loss"].nonfinite.recovered is False


def test_short_nan_is_unmistakable():
    a = analyse(mkrun(loss=([82, 83, 84], [0.79, 0.874, np.inf])))
    assert a.primary == "nan"
    assert a.onset_step == 84


def test_benign_fp16_overflow_is_not_nan():
    st = np.arange(1000)
    loss = 0.3 + 2 * np.exp(-st / 200.0)
    grad = 1 + np.exp(-st / 300.0)
    grad[[50, 51, 300, 620, 998]] = [np.inf, np.nan, np.nan, np.inf, np.nan]
    a = analyse(mkrun(loss=(st, loss), grad_norm=(st, grad)))
    assert a.primary == "converging"
    assert a.evidence["benign_overflow"] is True
    assert a.curves["grad_norm"].klass == "nan"
    # short log (the mmengine excerpt shape): last two grad norms NaN, loss falling
    b = analyse(mkrun(loss=(np.arange(6) * 10, [2.75, 2.7, 2.62, 2.55, 2.5, 2.46]),
                      grad_norm=(np.arange(6) * 10, [3.06, 2.9, 2.7, 2.51, np.nan, np.nan])))
    assert b.primary != "nan"
    assert b.evidence["benign_overflow"] is True


def test_hf_nan_filter_signature_is_nan():
    st = np.array([10, 20, 30, 40])
    a = analyse(mkrun(loss=(st, [0.2051, 0.1, 0.0, 0.0]),
                      grad_norm=(st, [np.nan, np.nan, np.nan, np.nan])))
    assert a.primary == "nan"
    assert a.evidence["hf_nan_filter"] is True
    assert a.onset_step == 10


def test_isolated_recovered_loss_nan_is_not_nan_class():
    st = np.arange(2000)
    loss = 0.3 + 2 * np.exp(-st / 200.0)
    loss[1500] = np.nan
    a = analyse(mkrun(loss=(st, loss)))
    assert a.primary == "converging"
    assert a.evidence.get("loss_nonfinite_benign") is True


# --------------------------------------------------------------------------- oscillation


@pytest.mark.parametrize("scale", SCALES)
def test_periodic_bouncing_is_oscillating_with_period(scale):
    rng = np.random.default_rng(21)
    st = np.arange(0, 6000, 2)
    v = 2.0 * np.exp(0.5 * np.sin(2 * np.pi * st / 400.0) + 0.05 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v * scale)))
    assert a.primary == "oscillating", a.curves["loss"].evidence
    osc = a.curves["loss"].oscillation
    assert osc.period_steps == pytest.approx(400, rel=0.15)
    assert osc.strength > 0.3


def test_gan_like_slow_swings_are_oscillating_but_white_noise_is_not():
    rng = np.random.default_rng(22)
    n = 4000
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = 0.98 * x[i - 1] + 0.12 * rng.standard_normal()
    g = 2.0 * np.exp(x + 0.3 * rng.standard_normal(n))
    g[:100] *= 8  # an initial transient
    a = analyse(mkrun(loss=(np.arange(n), g)))
    assert a.primary == "oscillating", a.curves["loss"].evidence
    w = 2.0 * np.exp(0.3 * rng.standard_normal(n))
    b = analyse(mkrun(loss=(np.arange(n), w)))
    assert b.primary == "plateau"


def test_noisy_converging_is_not_oscillating():
    st, v = converging(n=5000, seed=23, noise=0.3)
    a = analyse(mkrun(loss=(st, v)))
    assert a.curves["loss"].oscillation is None
    assert a.primary == "converging"


# --------------------------------------------------------------------------- plateau


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("every", [50, 370])
def test_flat_from_start_is_plateau(scale, every):
    rng = np.random.default_rng(31)
    st = np.arange(0, 11000, every)  # 220 or 30 points
    v = 7.65 * np.exp(0.01 * rng.standard_normal(st.size) - 0.0000005 * st)
    a = analyse(mkrun(loss=(st, v * scale)))
    assert a.primary == "plateau", a.curves["loss"].evidence
    p = a.curves["loss"].plateau
    assert p.from_start and p.start_step == 0


def test_flat_at_chance_ln4():
    rng = np.random.default_rng(32)
    st = np.arange(50, 3150, 50)
    v = np.log(4) * np.exp(0.005 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v), eval_loss=(st, np.full(st.size, 1.38630))))
    assert a.primary == "plateau"
    assert a.curves["loss"].plateau.chance_classes == 4
    assert a.curves["eval_loss"].plateau.chance_classes == 4


def test_chance_level_with_num_classes_after_initial_drop():
    rng = np.random.default_rng(33)
    st = np.arange(4000)
    v = np.log(10) + 1.5 * np.exp(-st / 150.0)
    v = v * np.exp(0.004 * rng.standard_normal(st.size))
    a = analyse(mkrun(loss=(st, v)), AnalysisOptions(num_classes=10))
    assert a.primary == "plateau"
    p = a.curves["loss"].plateau
    assert p.chance_classes == 10 and not p.from_start
    assert 300 <= p.start_step <= 1200
    # without knowing C, a loss that *ends* near ln 10 after learning is not called chance
    b = analyse(mkrun(loss=(st, v)))
    assert b.primary == "converging"


def test_dpo_flat_in_warmup_is_a_plateau_reported_as_info():
    """Flat while the LR still warms up: the best call is a plateau (issue 14: no
    'insufficient' on 3 points or more), and LC105 says it only as info (may be too early)."""
    from losscheck.config import Settings
    from losscheck.pipeline import diagnose_run

    rng = np.random.default_rng(34)
    st = np.arange(1, 203)
    v = np.log(2) * np.exp(0.3 * rng.standard_normal(st.size))
    lr = 1e-9 * st
    a = analyse(mkrun(loss=(st, v), lr=(st, lr)))
    assert a.primary == "plateau"
    assert a.evidence["lr_in_warmup"] is True
    rep = diagnose_run(mkrun(loss=(st, v), lr=(st, lr)).data, Settings())
    assert [f.severity for f in rep.findings if f.code == "LC105"] == ["info"] and rep.status == "healthy"
    # the same flat curve with a decayed LR is a plateau
    b = analyse(mkrun(loss=(st, v), lr=(st, 1e-5 * (1 - st / 300))))
    assert b.primary == "plateau"


# --------------------------------------------------------------------------- overfitting


def _train_eval(eval_curve, n_eval=20, seed=41):
    rng = np.random.default_rng(seed)
    st = np.arange(1, 5001)
    train = (0.05 + 2 * (1 + st / 200) ** -1.0) * np.exp(0.02 * rng.standard_normal(st.size))
    es = np.linspace(250, 5000, n_eval).astype(int)
    return (st, train), (es, eval_curve(es, rng))


@pytest.mark.parametrize("scale", SCALES)
def test_overfitting_detected_with_persistence(scale):
    def ev(es, rng):
        return (1.0 + 0.6 * np.exp(-es / 400) + 0.25 * np.clip(es - 2000, 0, None) / 3000) \
            * np.exp(0.01 * rng.standard_normal(es.size))

    tr, e = _train_eval(ev)
    a = analyse(mkrun(loss=(tr[0], tr[1] * scale), eval_loss=(e[0], e[1] * scale)))
    assert a.primary == "overfitting", a.curves["eval_loss"].evidence
    assert a.overfit is not None
    assert 1200 <= a.overfit.best_step <= 2800
    assert a.overfit.persistence >= 3
    assert a.overfit.train_change < 0
    assert a.overfit.rise > 0.1
    assert a.onset_step == a.overfit.best_step


def test_one_noisy_eval_is_not_overfitting():
    def ev(es, rng):
        y = (1.0 + 0.6 * np.exp(-es / 400)) * np.exp(0.01 * rng.standard_normal(es.size))
        y[-1] *= 1.3  # one bad eval at the end
        return y

    tr, e = _train_eval(ev)
    a = analyse(mkrun(loss=tr, eval_loss=e))
    assert a.overfit is None
    assert a.primary == "converging"

    def ev2(es, rng):
        y = (1.0 + 0.6 * np.exp(-es / 400)) * np.exp(0.01 * rng.standard_normal(es.size))
        y[12] *= 1.3  # one bad eval mid-run
        return y

    tr, e = _train_eval(ev2)
    assert analyse(mkrun(loss=tr, eval_loss=e)).overfit is None


def test_eval_rising_while_train_also_rises_is_not_overfitting():
    st = np.arange(1, 2001)
    train = 0.5 * np.exp(st / 1000)
    es = np.arange(100, 2001, 100)
    ev = 0.6 * np.exp(es / 1000)
    a = analyse(mkrun(loss=(st, train), eval_loss=(es, ev)))
    assert a.overfit is None
    assert a.primary == "diverging"


# --------------------------------------------------------------------------- estimators


def test_trend_models_recovered():
    t = np.arange(1, 3001)
    rng = np.random.default_rng(51)
    noise = np.exp(0.01 * rng.standard_normal(t.size))
    f = fit_trend(t, (0.4 + 3 * np.exp(-(t - 1) / 300.0)) * noise)
    assert f.model == "exp_decay" and f.delta_aic > 10
    assert f.params["tau_steps"] == pytest.approx(300, rel=0.1)
    assert f.params["a"] == pytest.approx(0.4, rel=0.1)
    f = fit_trend(t, (0.2 + 5 * t ** -0.7) * noise)
    assert f.model == "power_decay"
    assert f.params["alpha"] == pytest.approx(0.7, rel=0.15)
    f = fit_trend(t, 2.0 * noise)
    assert f.model == "constant"
    assert f.params["level"] == pytest.approx(2.0, rel=0.01)
    f = fit_trend(t, 0.1 * np.exp(0.001 * t) * noise)
    assert f.model == "exp_growth"
    assert f.rate_per_step == pytest.approx(0.001, rel=0.05)
    assert fit_trend(t[:3], t[:3] * 1.0) is None


def test_changepoint_finds_known_level_and_slope_changes():
    rng = np.random.default_rng(52)
    x = np.arange(1000.0)
    y = np.where(x < 400, 0.0, 1.0) + np.where(x >= 700, 0.01 * (x - 700), 0) + 0.05 * rng.standard_normal(x.size)
    segs = segment(x, y, 0.05)
    cuts = [s.start for s in segs[1:]]
    assert any(abs(c - 400) <= 10 for c in cuts)
    assert any(abs(c - 700) <= 30 for c in cuts)
    assert len(segment(x, 0.05 * rng.standard_normal(x.size), 0.05)) == 1


def test_lr_context():
    st = np.arange(1000)
    lr = np.where(st < 100, 1e-3 * (st + 1) / 100, 1e-3 * (1 - (st - 100) / 899))
    c = lr_context(mkrun(lr=(st, lr)).get("lr"))
    assert c.peak == pytest.approx(1e-3) and c.peak_step == 99
    assert 85 <= c.warmup_steps <= 92
    assert c.decays and c.zero
    assert not in_warmup(mkrun(lr=(st, lr)).get("lr"))
    assert in_warmup(mkrun(lr=(st[:50], lr[:50])).get("lr"))


# --------------------------------------------------------------------------- contract


def test_output_contract_and_edge_cases():
    st, v = converging(n=300)
    grad = np.abs(np.sin(st / 10.0)) + 0.5
    es = st[::30]
    a = analyse(mkrun(loss=(st, v), eval_loss=(es, v[::30] * 1.1), grad_norm=(st, grad),
                      lr=(st, np.full(st.size, 1e-4))))
    assert a.primary in CLASSES and all(s in CLASSES for s in a.secondary)
    assert set(a.curves) == {"loss", "eval_loss", "grad_norm"}
    assert_json_friendly(a.evidence)
    for c in a.curves.values():
        assert c.klass in CLASSES
        assert_json_friendly(c.evidence)
    # no loss at all / all NaN / empty / negative values must not raise
    assert analyse(mkrun()).primary == "insufficient"
    assert analyse(mkrun(loss=(np.arange(10), np.full(10, np.nan)))).primary == "nan"
    assert analyse(mkrun(loss=(np.arange(0), np.zeros(0)))).primary == "insufficient"
    rng = np.random.default_rng(61)
    neg = -1.0 + 0.3 * rng.standard_normal(500)
    r = analyse(mkrun(loss=(np.arange(500), neg)))
    assert r.primary in CLASSES
    assert r.curves["loss"].evidence["domain"] == "asinh"


def test_rolling_median_equals_pandas():
    """The rank-filter rolling median is pandas' rolling median to the last bit: trailing and
    centred windows, odd and even sizes, ties, NaN/inf (missing), min_periods, short curves."""
    pd = pytest.importorskip("pandas")
    from losscheck.analysis._util import rolling_median

    def ref(y, w, trailing, mp):
        s = pd.Series(y)
        if trailing:
            return s.rolling(w, min_periods=mp).median().shift(1).to_numpy()
        return s.rolling(w, min_periods=mp, center=True).median().to_numpy()

    rng = np.random.default_rng(7)
    for trial in range(600):
        n = int(rng.integers(0, 200)) if trial % 20 else int(rng.integers(5000, 12000))
        y = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 3))
        if trial % 3 == 0:
            y = np.round(y, 1)  # ties
        kind = trial % 6
        if n and kind == 1:
            y[rng.random(n) < 0.1] = np.nan
        elif n and kind == 2:
            y[: int(rng.integers(0, n))] = np.nan  # leading NaN, as detect_spikes passes
        elif n and kind == 3:
            y[rng.random(n) < 0.02] = np.inf
            y[rng.random(n) < 0.02] = -np.inf
        elif n and kind == 4:
            y[rng.random(n) < 0.6] = np.nan  # many missing: the pandas fallback
        w = int(rng.integers(1, 40)) if trial % 5 else int(rng.integers(1, 300))
        trailing = bool(trial % 2)
        mp = int(rng.integers(1, w + 1))
        got = rolling_median(y, w, trailing=trailing, min_periods=mp)
        assert np.array_equal(got, ref(y, w, trailing, mp), equal_nan=True), (trial, n, w, trailing, mp)


def test_overfit_names_the_raw_eval_minimum_as_the_checkpoint():
    """The detector decides on a smoothed eval curve; the reported best step is the raw minimum."""
    from losscheck.analysis import analyse
    from losscheck.model import ResolvedRun, RoleAssignment, RunData, Series

    st = np.arange(0, 3000, 10)
    train = Series("loss", st, 2.0 * np.exp(-st / 800) + 0.1, "f")
    est = np.arange(100, 3001, 100)
    ev = 1.0 + 0.4 * ((est - 1200) / 1000.0) ** 2
    ev[10] = 0.95  # one lucky eval right after the smooth minimum
    evs = Series("eval_loss", est, ev, "f")
    run = ResolvedRun(RunData("r", [], {"loss": train, "eval_loss": evs}),
                      {"loss": RoleAssignment("loss", train), "eval_loss": RoleAssignment("eval_loss", evs)})
    a = analyse(run)
    assert a.primary == "overfitting"
    assert a.overfit.best_step == int(est[10]) and a.overfit.best == 0.95
    assert a.onset_step == a.overfit.best_step


def test_unrecovered_spike_level_is_where_the_loss_settles_not_the_turbulence():
    """After a blow-up the loss can stay wild for a while before it settles at a worse level;
    the reported level is the settled one (here x4), not the turbulence (x1000)."""
    from losscheck.analysis._util import transform
    from losscheck.analysis.spikes import detect_spikes

    rng = np.random.default_rng(3)
    n = 400
    y = 0.25 * np.exp(0.05 * rng.standard_normal(n))
    y[:100] *= np.linspace(6.0, 1.0, 100)             # an early descent (progress to lose)
    y[200:203] = [150.0, 900.0, 240.0]                  # the spike
    y[203:217] = rng.choice([250.0, 900.0, 40.0, 3.0], 14)  # turbulence, 14 points
    y[217:] = 1.0 * np.exp(0.05 * rng.standard_normal(n - 217))  # settled x4 higher
    rep = detect_spikes(transform(np.arange(n) * 2, y))
    worse = [s for s in rep.spikes if s.worse]
    assert len(worse) == 1 and worse[0].recover_steps is None
    assert 3.0 <= worse[0].level_ratio <= 5.5, worse[0].level_ratio

"""The short-log call (losscheck.analysis.short) and the causes added with it (issue 14):
each cause on synthetic curves, with a counter-example that must not trigger it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from losscheck.analysis import analyse
from losscheck.analysis.short import classify_short, mann_kendall
from tests.analysis.test_analysis import mkrun


def _call(values, steps=None):
    v = np.asarray(values, dtype=float)
    st = np.arange(v.size, dtype=np.int64) * 50 if steps is None else np.asarray(steps, dtype=np.int64)
    return classify_short(st, np.log(v), v, "log")


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
def test_mann_kendall_exact_p_matches_enumeration(n):
    """The exact one-sided p-values equal the share of all n! orders with an S as extreme."""
    rng = np.random.default_rng(n)
    y = rng.standard_normal(n)
    s, p_up, p_down = mann_kendall(y)

    def stat(order):
        return sum(np.sign(order[j] - order[i]) for i in range(n) for j in range(i + 1, n))

    all_s = [stat(np.array(p)) for p in itertools.permutations(range(n))]
    assert p_up == pytest.approx(sum(x >= s for x in all_s) / math.factorial(n))
    assert p_down == pytest.approx(sum(x <= s for x in all_s) / math.factorial(n))


def test_mann_kendall_large_n_uses_the_normal_tail():
    y = np.arange(100, dtype=float)
    s, p_up, p_down = mann_kendall(y)
    assert s == 100 * 99 // 2 and p_up < 1e-10 and p_down > 0.999


def test_steady_fall_on_five_points_is_converging():
    assert _call([11.5, 11.3, 11.2, 11.0, 10.9]).label == "converging"


def test_fast_drop_then_noise_is_converging_by_the_big_drop():
    # not monotone after the drop, so the trend test alone is not significant
    assert _call([5.9, 5.2, 2.85, 2.97, 2.77]).label == "converging"


@pytest.mark.parametrize("values", [[3.27, 3.25, 3.27, 3.26], [1.30, 1.33, 1.31, 1.31, 1.35, 1.34],
                                    [2.0, 2.0, 2.0]])
def test_no_trend_on_a_short_window_is_a_plateau(values):
    call = _call(values)
    assert call.label == "plateau" and call.plateau is not None


def test_three_points_never_give_a_significant_trend():
    """1/3! = 0.17 > alpha: on 3 points a small monotone fall is not called learning."""
    assert _call([2.0, 1.99, 1.98]).label == "plateau"


@pytest.mark.parametrize("values,label", [([2.0, 1.9, 1.8], "converging"), ([5.0, 4.0, 3.9], "converging"),
                                          ([2.0, 1.9, 1.95], "plateau"), ([2.0, 1.99, 1.98], "plateau")])
def test_three_points_falling_in_every_pair_by_5_percent_are_learning(values, label):
    """A fall in every pair of at least ``monotone_fall`` (ln 1.05) in all is not a plateau,
    though the trend test cannot be significant on 3 points; a 1 % creep or a fall that
    turns back up stays one."""
    assert _call(values).label == label


def test_monotone_rise_is_diverging_with_its_onset_at_the_minimum():
    call = _call([38.0, 64.0, 103.0, 140.0, 182.0, 230.0])
    assert call.label == "diverging" and call.onset == 0


def test_isolated_jump_that_comes_back_is_a_spike():
    call = _call([9.2, 9.5, 8.5, 8.9, 18.5, 7.4])
    assert call.label == "spiking" and call.spikes[0].step == 200 and call.spikes[0].recover_steps == 50


def test_alternating_giant_values_are_spikes_not_divergence():
    call = _call([0.08, 1e15, 0.08, 2e15, 0.07, 1e15, 0.08])
    assert call.label == "spiking" and len(call.spikes) == 3


def test_jump_that_stays_is_a_spike_to_a_worse_level():
    call = _call([1.0, 0.9, 0.85, 2.5, 2.4, 2.5])
    assert call.label == "spiking_worse" and call.onset == 150


def test_a_high_first_point_is_the_initial_drop_not_a_spike():
    assert _call([5332.0, 1038.0, 155.0, 113.0]).label == "converging"


def test_run_with_a_short_loss_gets_a_class_and_a_warning_not_a_failure():
    """A plateau called on 5 points is reported by LC105 as a warning (low power)."""
    from losscheck.config import Settings
    from losscheck.pipeline import diagnose_run

    st = np.arange(5, dtype=np.int64) * 100
    rep = diagnose_run(mkrun(loss=(st, [3.27, 3.25, 3.27, 3.26, 3.27])).data, Settings())
    assert rep.primary == "plateau" and rep.status == "warning"
    assert [f.code for f in rep.findings if f.code == "LC105"] == ["LC105"]


def test_one_nan_among_four_prints_is_a_nan_run_but_one_among_many_is_a_glitch():
    st = np.arange(4) * 50
    a = analyse(mkrun(loss=(st, np.array([1.65, 1.04, np.nan, 1.06]))))
    assert a.primary == "nan"
    st = np.arange(200)
    v = 1.0 + np.exp(-st / 50.0)
    v[120] = np.nan
    assert analyse(mkrun(loss=(st, v))).primary != "nan"


def test_creeping_train_loss_with_a_flat_eval_is_stuck_but_not_with_a_falling_eval():
    rng = np.random.default_rng(3)
    st = np.arange(10)
    train = 0.775 * np.exp(-0.002 * st) * np.exp(0.0005 * rng.standard_normal(10))
    flat_eval = 0.66 * np.exp(0.03 * rng.standard_normal(10))
    a = analyse(mkrun(loss=(st, train), eval_loss=(st, flat_eval)))
    assert a.primary == "plateau"
    falling_eval = 0.66 * np.exp(-0.004 * st)
    b = analyse(mkrun(loss=(st, train), eval_loss=(st, falling_eval)))
    assert b.primary == "converging"
    c = analyse(mkrun(loss=(st, train)))  # a steady creep without an eval is a healthy excerpt
    assert c.primary == "converging"


def _decaying(n=12, seed=0):
    rng = np.random.default_rng(seed)
    st = np.arange(n)
    return st, (0.16 + 0.13 * np.exp(-st / 2.0)) * np.exp(0.002 * rng.standard_normal(n))


def test_frozen_accuracy_makes_a_falling_loss_stuck():
    """Majority-class floor: the loss recalibrates, the accuracy never moves."""
    st, loss = _decaying()
    a = analyse(mkrun(loss=(st, loss), eval_accuracy=(st, np.full(st.size, 0.9463))))
    assert a.primary == "plateau" and a.curves["loss"].evidence["stuck_side_channel"] == "accuracy"


@pytest.mark.parametrize("acc", [np.full(12, 0.0), np.full(12, 1.0), np.linspace(0.5, 0.9, 12)])
def test_accuracy_at_zero_at_the_top_or_moving_does_not_make_a_run_stuck(acc):
    st, loss = _decaying()
    assert analyse(mkrun(loss=(st, loss), accuracy=(st, acc))).primary == "converging"


def test_lr_zero_everywhere_makes_a_moving_loss_stuck_but_a_final_decay_to_zero_does_not():
    st, loss = _decaying()
    a = analyse(mkrun(loss=(st, loss), lr=(st, np.zeros(st.size))))
    assert a.primary == "plateau" and a.curves["loss"].evidence["stuck_side_channel"] == "lr_zero"
    lr = np.linspace(1e-3, 0.0, st.size)
    assert analyse(mkrun(loss=(st, loss), lr=(st, lr))).primary == "converging"


@pytest.mark.parametrize("acc, first", [(0.9463, "rebalance"), (0.25, None)])
def test_a_frozen_majority_share_ranks_rebalance_first_but_chance_does_not(acc, first):
    """A constant predictor scores the share of its class: above 1/2 only a majority class."""
    from losscheck.config import Settings
    from losscheck.pipeline import diagnose_run

    st, loss = _decaying()
    rep = diagnose_run(mkrun(loss=(st, loss), eval_accuracy=(st, np.full(st.size, acc))).data, Settings())
    assert rep.primary == "plateau"
    ids = [r.id for r in rep.remedies]
    assert (ids[0] == "rebalance") if first else ("rebalance" not in ids)


def test_a_frozen_accuracy_does_not_make_a_run_stuck_while_the_eval_loss_still_falls():
    """A segmentation 'accuracy' may sit still while the eval loss keeps falling in its later
    half: the predictions change, so the run is learning (issue 14, pattern 1)."""
    st, loss = _decaying()
    still = 0.66 * np.exp(-0.12 * st)  # falls in every half, ~5 % per eval
    a = analyse(mkrun(loss=(st, loss), eval_loss=(st, still), eval_accuracy=(st, np.full(st.size, 0.0135))))
    assert a.primary == "converging"
    floor = 0.2 + 0.46 * np.exp(-st / 1.5)  # reaches its floor early: later half flat
    b = analyse(mkrun(loss=(st, loss), eval_loss=(st, floor), eval_accuracy=(st, np.full(st.size, 0.0135))))
    assert b.primary == "plateau" and b.curves["loss"].evidence["stuck_side_channel"] == "accuracy"


def test_a_noisy_flat_train_loss_beside_an_eval_loss_still_falling_is_learning():
    """Per-batch costs with no visible trend, while the eval loss falls 28 % in its later
    half: learning, not a plateau; the same train loss beside a flat eval loss is a plateau."""
    rng = np.random.default_rng(5)
    st = np.arange(0, 22000, 100)
    train = 120 * np.exp(0.5 * rng.standard_normal(st.size))
    est = np.arange(1000, 22000, 1000)
    falling = np.r_[np.full(11, 163.0), [150, 135, 129, 124, 122, 121, 120, 119, 118.0, 118.3]]
    a = analyse(mkrun(loss=(st, train), eval_loss=(est, falling)))
    assert a.primary == "converging" and a.curves["loss"].evidence.get("eval_still_learning")
    flat = 163.0 * np.exp(0.003 * rng.standard_normal(est.size))
    b = analyse(mkrun(loss=(st, train), eval_loss=(est, flat)))
    assert b.primary == "plateau"


def test_eval_zeros_before_a_real_eval_are_placeholders_not_a_divergence_from_zero():
    """Validation off until the last epoch (Ultralytics logs val losses as 0): the one real
    eval is not a divergence; an eval loss collapsing to 0 at its tail keeps its zeros."""
    st = np.arange(1, 21)
    train = 1.57 * np.exp(-0.02 * st)
    ev = np.r_[np.zeros(19), 1.18]
    a = analyse(mkrun(loss=(st, train), eval_loss=(st, ev)))
    assert a.primary == "converging" and a.evidence.get("eval_placeholder_zeros") == 19
    tail = np.r_[np.linspace(1.5, 1.2, 17), np.zeros(3)]
    b = analyse(mkrun(loss=(st, train), eval_loss=(st, tail)))
    assert "eval_placeholder_zeros" not in b.evidence


def test_a_second_run_appended_to_the_log_is_a_restart_not_a_jump_to_a_worse_level():
    """A bare column of losses with a second run appended: the loss goes back to its initial
    level and falls again. A jump that lands there and stays is still a jump to a worse level."""
    rng = np.random.default_rng(2)
    st = np.arange(3000)
    first = 2.0 + 19.0 * np.exp(-np.arange(2900) / 150.0)
    again = 7.0 + 15.0 * np.exp(-np.arange(100) / 15.0)
    v = np.r_[first, again] * np.exp(0.05 * rng.standard_normal(3000))
    a = analyse(mkrun(loss=(st, v)))
    assert a.curves["loss"].evidence.get("restart_step") == 2900 or a.curves["loss"].evidence.get("restart_step") == 2901
    assert a.primary == "converging"
    stays = np.r_[first, np.full(100, 21.0)] * np.exp(0.05 * rng.standard_normal(3000))
    b = analyse(mkrun(loss=(st, stays)))
    assert "restart_step" not in b.curves["loss"].evidence and b.primary in ("spiking", "diverging")


@pytest.mark.parametrize("evals, label", [
    ([0.3197, 0.3285, 0.3329, 0.3406], "overfitting"),   # every eval after the first worse, +6.5 %
    ([118.2, 120.7, 141.5], "overfitting"),              # three epochs, the eval rising twice
    ([1.556, 1.5285, 1.551, 1.5861], "overfitting"),     # minimum, then two rises
    ([0.3197, 0.3285, 0.3250, 0.3406], "converging"),    # not every eval after the minimum rises
    ([0.3197, 0.3200, 0.3205, 0.3210], "converging"),    # rises under 2 % in all
    ([0.66, 0.62, 0.60, 0.59], "converging"),            # still falling
])
def test_few_evals_rising_after_their_minimum_while_train_falls_are_overfitting(evals, label):
    """Issue 14, pattern 4: 3-4 evals, every one after the minimum worse than the one before."""
    st = np.arange(0, 400, 10)
    train = 0.32 * np.exp(-st / 400.0)
    est = np.linspace(100, 390, len(evals)).astype(int)
    assert analyse(mkrun(loss=(st, train), eval_loss=(est, np.array(evals)))).primary == label


def test_few_evals_rising_beside_a_noisy_train_loss_that_does_not_fall_are_not_overfitting():
    """A per-step training loss that only meanders (no significant fall) is no train/eval gap."""
    st = np.arange(0, 400, 5)
    # alternating 0.9 / 0.5: the medians of the first and last 10 % of the 50 points between
    # the best eval (step 124) and the last (374) fall 44 %, the points have no trend at all
    train = np.where(((st - 125) // 5) % 2 == 0, 0.9, 0.5)
    est = np.array([124, 249, 374])
    r = mkrun(loss=(st, train), eval_loss=(est, np.array([0.6684, 0.6943, 0.7158])))
    a = analyse(r)
    ev = a.curves["eval_loss"].evidence
    assert ev["overfit_train_change"] <= -0.4 and ev["overfit_train_p_down"] > 0.05
    assert a.primary != "overfitting"


def test_five_points_resting_on_ln_1000_are_a_chance_plateau_not_a_fast_drop():
    """Issue 14, pattern 3: a badly scaled start falling onto 6.9078 = ln(1000) and staying."""
    st = np.arange(10, 60, 10)
    a = analyse(mkrun(loss=(st, np.array([10.2748, 6.9104, 6.9078, 6.9078, 6.9077]))))
    assert a.primary == "plateau" and a.curves["loss"].plateau.chance_classes == 1000
    b = analyse(mkrun(loss=(st, np.array([10.2748, 6.95, 6.80, 6.70, 6.62]))))  # passes near ln 1000, falls on
    assert b.primary == "converging"


def test_a_long_loss_that_comes_to_rest_on_ln_vocab_is_at_chance():
    """An LLM loss falling from a high init onto ln(32000) = 10.3735 and staying there."""
    rng = np.random.default_rng(1)
    st = np.arange(0, 2000, 10)
    v = np.log(32000) + 3.0 * np.exp(-st / 50.0) + 0.002 * rng.standard_normal(st.size)
    a = analyse(mkrun(loss=(st, v)))
    assert a.primary == "plateau" and a.curves["loss"].plateau.chance_classes == 32000
    healthy = 2.0 + 3.0 * np.exp(-st / 500.0) + 0.002 * rng.standard_normal(st.size)
    assert analyse(mkrun(loss=(st, healthy))).primary == "converging"


@pytest.mark.parametrize("ripple, label", [(0.06, "converging"), (0.25, "oscillating")])
def test_a_periodic_ripple_on_a_falling_loss_counts_by_its_size_against_the_progress(ripple, label):
    """Issue 14, pattern 2: a pattern repeating every epoch on a loss falling x3 is a fixed data
    order when it swings by a large share of the progress (33 %), and a healthy ripple when
    small (7 %, though above the periodic path's own 4 % floor)."""
    rng = np.random.default_rng(4)
    st = np.arange(0, 6400, 10)
    y = np.log(2.0) - 1.1 * st / st[-1] + ripple * np.sin(2 * np.pi * st / 320.0) \
        + 0.005 * rng.standard_normal(st.size)
    a = analyse(mkrun(loss=(st, np.exp(y))))
    assert a.primary == label
    assert a.curves["loss"].evidence.get("osc_periodic_acf", 0) >= 0.5


def test_an_eval_loss_two_orders_above_a_memorised_train_loss_is_overfitting_unless_it_still_falls():
    """Issue 14, pattern 7: train loss 0.1 -> 0.0005 while the evals sit flat at 0.13 (x270)."""
    st = np.arange(12, 101)
    train = np.r_[0.1026, np.full(st.size - 1, 0.0005)]
    est = np.array([12, 95, 96, 97, 98, 99, 100])
    flat = np.array([0.1384, 0.129, 0.1321, 0.1312, 0.1322, 0.1326, 0.1295])
    a = analyse(mkrun(loss=(st, train), eval_loss=(est, flat)))
    assert a.primary == "overfitting" and a.curves["eval_loss"].evidence["overfit_path"] == "gap"
    falling = np.array([0.1384, 0.129, 0.12, 0.11, 0.10, 0.09, 0.08])
    b = analyse(mkrun(loss=(st, train), eval_loss=(est, falling)))
    assert b.primary != "overfitting"
    near = flat / 100.0  # the same evals only x2.7 above the training loss: no gap
    assert analyse(mkrun(loss=(st, train), eval_loss=(est, near))).primary != "overfitting"

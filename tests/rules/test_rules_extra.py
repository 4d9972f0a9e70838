"""Rules beyond the seven classes (LC201-LC502) on hand-built runs: each fires on its pattern with
the numbers in its message and the remedies it should rank, and stays quiet on a healthy look-alike."""

import math

import numpy as np
import pytest

from losscheck.analysis.facts import run_facts
from losscheck.analysis.lr import lr_context
from losscheck.model import (CurveAnalysis, NonFinite, Plateau, ResolvedRun, RoleAssignment, RunAnalysis,
                             RunData, Series, Spike)
from losscheck.remedies import rank
from losscheck.rules import RuleContext, find_rule

EXTRA = ("LC201", "LC203", "LC301", "LC302", "LC303", "LC304", "LC401", "LC402", "LC403", "LC404",
         "LC501", "LC502")


def ctx_for(series, meta=None, curves=None, primary="converging", extra=()):
    """A RuleContext from role -> Series (plus extra non-role series), with the real LR context."""
    tags = {s.tag: s for s in list(series.values()) + list(extra)}
    data = RunData("runs/x", ["log"], tags, meta=dict(meta or {}))
    run = ResolvedRun(data, {r: RoleAssignment(r, s) for r, s in series.items()})
    curves = dict(curves or {})
    for role in ("loss", "eval_loss", "grad_norm"):
        if role in series and role not in curves:
            n = len(series[role])
            curves[role] = CurveAnalysis(role, series[role].tag, n, n, "converging")
    analysis = RunAnalysis(curves, primary, [], None, lr=lr_context(series.get("lr")))
    analysis.facts = run_facts(run, analysis)  # what analyse() measures for the rules to word
    return RuleContext(run, analysis)


def fire(code, ctx):
    return find_rule(code).check(ctx)


def decaying(steps, start=2.0, floor=0.5, tau=None, noise=0.0, seed=0):
    tau = tau or (steps[-1] - steps[0] + 1) / 4
    rng = np.random.default_rng(seed)
    return floor + (start - floor) * np.exp(-(steps - steps[0]) / tau) * 1.0 + noise * rng.standard_normal(len(steps))


# --------------------------------------------------------------------------- LC201 grad-norm-surge


def surge_run(grad_klass="diverging"):
    steps = np.arange(0, 202, 2)
    rng = np.random.default_rng(1)
    g = 0.1 * (1 + 0.1 * rng.standard_normal(len(steps)))
    g = np.where(steps >= 100, 0.1 * 5 * 1.02 ** (steps - 100), g)  # x5 from step 100 on
    loss = np.where(steps < 130, 1.0, 1.0 * 1.05 ** (steps - 130))
    series = {"loss": Series("loss", steps, loss, "log"), "grad_norm": Series("grad_norm", steps, g, "log"),
              "lr": Series("lr", steps, np.full(len(steps), 1e-3), "log")}
    curves = {"loss": CurveAnalysis("loss", "loss", len(steps), len(steps), "diverging", 130),
              "grad_norm": CurveAnalysis("grad_norm", "grad_norm", len(steps), len(steps), grad_klass, 100)}
    return ctx_for(series, curves=curves, primary="diverging")


def test_lc201_surge_before_divergence_reports_lead_and_votes_clip_at_pre_surge_level():
    ctx = surge_run()
    f = fire("LC201", ctx)
    assert len(f) == 1 and f[0].severity == "warning"
    assert "from step 100" in f[0].message and "30 steps before the loss diverged at step 130" in f[0].message
    assert f[0].evidence["lead_steps"] == 30
    votes = {v.id: v for v in f[0].remedies}
    assert votes["grad_clip"].weight > votes["lower_lr"].weight
    assert votes["grad_clip"].settings["max_grad_norm"] == 0.11  # 90th pct of the pre-surge norms ~0.11, rounded up
    # with LC101 beside it, lower_lr stays first and grad_clip second
    from losscheck.rules import run_rules
    ids = [m.id for m in rank(run_rules(ctx))]
    assert ids[:2] == ["lower_lr", "grad_clip"]


def test_lc201_quiet_when_grad_norm_is_healthy_noisy_or_jumps_with_the_loss():
    # the grad-norm analysis calls the curve healthy: no finding even with a diverging loss
    assert fire("LC201", surge_run(grad_klass="converging")) == []
    # falling, noisy grad norm with one x4 outlier (not sustained) before a loss spike
    steps = np.arange(0, 200)
    rng = np.random.default_rng(2)
    g = decaying(steps, 3.0, 0.5) * (1 + 0.3 * rng.standard_normal(len(steps))).clip(0.3)
    g[80] = 4 * g[79]
    loss = decaying(steps)
    series = {"loss": Series("loss", steps, loss, "log"), "grad_norm": Series("grad_norm", steps, g, "log")}
    curves = {"loss": CurveAnalysis("loss", "loss", 200, 200, "spiking", 150,
                                    spikes=[Spike(150, 3.0, 9.0, 2, 1.0)]),
              "grad_norm": CurveAnalysis("grad_norm", "grad_norm", 200, 200, "spiking", 80)}
    assert fire("LC201", ctx_for(series, curves=curves, primary="spiking")) == []
    # a grad norm that settled x4 higher early on (natural drift) explains nothing about a late blow-up
    g3 = np.where(steps < 30, 0.5, 2.0)
    series["grad_norm"] = Series("grad_norm", steps, g3, "log")
    assert fire("LC201", ctx_for(series, curves=curves, primary="spiking")) == []
    g3[140:] = 9.0  # ... but a fresh surge shortly before it is
    f = fire("LC201", ctx_for(series, curves=curves, primary="spiking"))
    assert len(f) == 1 and "from step 140" in f[0].message and "10 steps before the loss spiked" in f[0].message
    # a jump at the same logged step as the loss spike is no precursor
    g2 = np.full(200, 1.0)
    g2[150:] = 50.0
    series["grad_norm"] = Series("grad_norm", steps, g2, "log")
    assert fire("LC201", ctx_for(series, curves=curves, primary="spiking")) == []


# --------------------------------------------------------------------------- LC203 clip-saturation


def test_lc203_most_steps_above_max_grad_norm_votes_a_higher_threshold():
    steps = np.arange(1, 401)
    rng = np.random.default_rng(3)
    g = 2.5 + 0.5 * rng.standard_normal(400)
    g[:40] = 0.8  # a few unclipped steps
    ctx = ctx_for({"loss": Series("loss", steps, decaying(steps), "log"),
                   "grad_norm": Series("grad_norm", steps, g, "log")}, meta={"max_grad_norm": 1.0})
    f = fire("LC203", ctx)
    assert len(f) == 1 and "threshold 1 (max_grad_norm) at 89.8% of 400 logged steps" in f[0].message
    remedies = rank(f)
    assert [m.id for m in remedies] == ["grad_clip", "lower_lr"]
    assert remedies[0].settings["max_grad_norm"] == 3.0  # 90th pct of the logged norms


def test_lc203_infers_a_post_clip_ceiling():
    steps = np.arange(1, 101)
    g = np.where(steps % 10 < 7, 0.5, 0.31)  # 70% exactly at 0.5
    f = fire("LC203", ctx_for({"loss": Series("loss", steps, decaying(steps), "log"),
                               "grad_norm": Series("grad_norm", steps, g, "log")}))
    assert len(f) == 1 and "0.5 (inferred" in f[0].message and "70%" in f[0].message
    assert f[0].remedies[0].settings == {"max_grad_norm": 1.5, "range": [1.5, 2.5]}


def test_lc203_quiet_when_clipping_is_rare_or_no_ceiling():
    steps = np.arange(1, 401)
    rng = np.random.default_rng(4)
    g = 0.5 + 0.1 * rng.standard_normal(400)
    g[::50] = 3.0  # 2% outliers clipped
    base = {"loss": Series("loss", steps, decaying(steps), "log"), "grad_norm": Series("grad_norm", steps, g, "log")}
    assert fire("LC203", ctx_for(base, meta={"max_grad_norm": 1.0})) == []
    assert fire("LC203", ctx_for(base)) == []  # continuous values: no inferred ceiling


# --------------------------------------------------------------------------- LC301 lr-no-warmup


def lr_run(lr_values, steps, loss=None, meta=None, curves=None, primary="converging"):
    loss = decaying(steps) if loss is None else loss
    return ctx_for({"loss": Series("loss", steps, loss, "log"), "lr": Series("lr", steps, lr_values, "log")},
                   meta=meta, curves=curves, primary=primary)


def test_lc301_no_warmup_info_without_vote_on_a_stable_run_and_vote_on_early_trouble():
    steps = np.arange(0, 5000, 10)
    lr = 3e-4 * (1 - steps / 5000)
    f = fire("LC301", lr_run(lr, steps, meta={"max_steps": 5000}))
    assert len(f) == 1 and f[0].severity == "info"
    assert "peak (0.0003) from the first logged step (0) of a 4990-step run: no warmup" in f[0].message
    assert f[0].remedies == []
    # the loss climbs early: the missing warmup shows, and warmup is voted at 3% of max_steps
    loss = decaying(steps)
    loss[5:40] *= 1.6
    f = fire("LC301", lr_run(lr, steps, loss=loss, meta={"max_steps": 5000}))
    assert "the loss rose to x1.2 its starting level by step" in f[0].message
    assert rank(f)[0].id == "warmup" and rank(f)[0].settings["warmup_steps"] == 150


def test_lc301_warning_on_early_divergence_keeps_lower_lr_first():
    steps = np.arange(0, 300)
    curves = {"loss": CurveAnalysis("loss", "loss", 300, 300, "diverging", 40)}
    ctx = lr_run(np.full(300, 0.05), steps, curves=curves, primary="diverging")
    f = fire("LC301", ctx)
    assert f[0].severity == "warning" and "diverges from step 40, early in the run" in f[0].message
    from losscheck.rules import run_rules
    assert rank(run_rules(ctx))[0].id == "lower_lr"


def test_lc301_quiet_with_warmup_short_runs_late_logs_and_epoch_logs():
    steps = np.arange(0, 5000, 10)
    warm = np.minimum(steps / 150, 1.0) * 3e-4
    assert fire("LC301", lr_run(warm, steps)) == []
    short = np.arange(0, 500)
    assert fire("LC301", lr_run(np.full(500, 1e-3), short)) == []
    late = np.arange(3000, 8000, 10)  # an excerpt: cannot see the start
    assert fire("LC301", lr_run(np.full(len(late), 1e-3), late)) == []
    assert fire("LC301", lr_run(np.full(500, 1e-3), steps, meta={"warmup_steps": 100})) == []


# --------------------------------------------------------------------------- LC302 lr-never-decays


def test_lc302_constant_lr_on_a_long_run_with_a_levelled_loss():
    steps = np.arange(0, 4000, 10)
    f = fire("LC302", lr_run(np.full(len(steps), 3e-4), steps, loss=decaying(steps, tau=300)))
    assert len(f) == 1 and f[0].severity == "info"
    assert "peak (0.0003) for the whole 3990-step run (no decay); the loss has levelled off at 0.5" in f[0].message
    assert rank(f)[0].id == "lr_schedule"
    # still falling: informational only
    f = fire("LC302", lr_run(np.full(len(steps), 3e-4), steps, loss=3.0 - steps / 2000))
    assert len(f) == 1 and f[0].remedies == []


def test_lc302_quiet_on_decay_and_short_runs():
    steps = np.arange(0, 4000, 10)
    cosine = 3e-4 * 0.5 * (1 + np.cos(np.pi * steps / 4000))
    assert fire("LC302", lr_run(cosine, steps)) == []
    short = np.arange(0, 1000, 10)
    assert fire("LC302", lr_run(np.full(len(short), 3e-4), short)) == []


# --------------------------------------------------------------------------- LC303 lr-zero


def test_lc303_lr_zero_before_the_end_with_a_flat_loss_is_an_error():
    steps = np.arange(0, 5000, 10)
    lr = np.clip(1e-3 * (1 - steps / 4000), 0, None)  # scheduler sized for 4000 steps, run 5000
    loss = np.where(steps < 4000, decaying(steps, tau=800), 0.0)
    loss[steps >= 4000] = loss[steps < 4000][-1]
    f = fire("LC303", lr_run(lr, steps, loss=loss))
    assert len(f) == 1 and f[0].severity == "error"
    assert "LR is 0 from step 4000 to the end (990 steps, 19.8% of the run)" in f[0].message
    remedies = rank(f)
    assert [m.id for m in remedies] == ["increase_lr", "lr_schedule"]
    assert remedies[1].settings["num_training_steps"] == 4990


def test_lc303_zero_for_the_whole_run_and_not_for_a_final_zero():
    steps = np.arange(0, 1000, 10)
    curves = {"loss": CurveAnalysis("loss", "loss", 100, 100, "plateau", plateau=Plateau(0, 2.3, 0.0, True))}
    f = fire("LC303", lr_run(np.zeros(100), steps, loss=np.full(100, 2.3), curves=curves, primary="plateau"))
    assert f[0].severity == "error" and "LR is 0 at all 100 logged points" in f[0].message
    # a linear decay to 0 logs 0.0 only at its final step: normal
    assert fire("LC303", lr_run(1e-3 * (1 - steps / steps[-1]), steps)) == []
    # a warmup from 0 is not a zero LR
    assert fire("LC303", lr_run(np.minimum(steps / 100, 1) * 1e-3, steps)) == []


# --------------------------------------------------------------------------- LC304 lr-warm-restarts


def test_lc304_lists_restarts_and_loss_bumps():
    steps = np.arange(0, 3000, 10)
    lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * (steps % 1000) / 1000))
    loss = decaying(steps) + np.where(steps % 1000 < 100, 0.5, 0.0) * (steps >= 1000)
    f = fire("LC304", lr_run(lr, steps, loss=loss))
    assert len(f) == 1 and f[0].severity == "info"
    assert "2 LR warm restart(s) (at step(s) 1000, 2000)" in f[0].message
    assert "bumped up after 2 of them" in f[0].message and rank(f)[0].id == "lr_schedule"


def test_lc304_quiet_on_a_single_cosine():
    steps = np.arange(0, 3000, 10)
    assert fire("LC304", lr_run(1e-3 * 0.5 * (1 + np.cos(np.pi * steps / 3000)), steps)) == []


# --------------------------------------------------------------------------- LC401 loss-at-chance


def test_lc401_flat_at_ln4_from_start_adds_accuracy_and_uniform_output():
    steps = np.arange(50, 3150, 50)
    rng = np.random.default_rng(5)
    loss = math.log(4) + 0.003 * rng.standard_normal(len(steps))
    series = {"loss": Series("loss", steps, loss, "log"),
              "eval_loss": Series("eval_loss", steps, np.full(len(steps), math.log(4)), "log"),
              "eval_accuracy": Series("eval_accuracy", steps, np.full(len(steps), 0.26), "log")}
    f = fire("LC401", ctx_for(series, meta={"num_classes": 4}))
    assert len(f) == 1 and f[0].severity == "error"
    m = f[0].message
    assert "at ln(4) = 1.3863" in m and "from step 50 to the end (62 logs)" in m
    assert "eval accuracy 0.26 vs chance 0.25" in m and "same uniform output" in m
    assert [r.id for r in rank(f)] == ["check_labels", "check_model"]


def test_lc401_collapse_to_chance_is_a_warning_and_quiet_on_a_learning_run():
    steps = np.arange(0, 1000, 10)
    loss = np.where(steps < 400, 1.386 - steps / 1000, math.log(10) * 1.005)
    curves = {"loss": CurveAnalysis("loss", "loss", 100, 100, "plateau",
                                    plateau=Plateau(400, 2.31, 0.0, False, 10))}
    f = fire("LC401", ctx_for({"loss": Series("loss", steps, loss, "log")}, curves=curves))
    assert f[0].severity == "warning" and "from step 400" in f[0].message and "collapsed" in f[0].message
    healthy = decaying(steps, math.log(4), 0.9)
    assert fire("LC401", ctx_for({"loss": Series("loss", steps, healthy, "log")}, meta={"num_classes": 4})) == []
    # no C known: nothing to compare with
    assert fire("LC401", ctx_for({"loss": Series("loss", steps, np.full(100, math.log(4)), "log")})) == []


# --------------------------------------------------------------------------- LC402 loss-suspiciously-low


def test_lc402_exact_zero_with_finite_grad_norm_ranks_labels_first():
    steps = np.arange(1, 51)
    loss = decaying(steps)
    loss[30:] = 0.0
    series = {"loss": Series("loss", steps, loss, "log"),
              "grad_norm": Series("grad_norm", steps, np.full(50, 0.7), "log")}
    f = fire("LC402", ctx_for(series))
    assert len(f) == 1 and "exactly 0.0 at 20 logged points from step 31" in f[0].message
    assert rank(f)[0].id == "check_labels"
    # the same zeros with a NaN grad norm are the HF NaN filter: LC404, not LC402
    g = np.full(50, 0.7)
    g[30:] = np.nan
    series["grad_norm"] = Series("grad_norm", steps, g, "log")
    assert fire("LC402", ctx_for(series)) == []
    assert len(fire("LC404", ctx_for(series))) == 1


def test_lc402_language_model_near_zero_and_eval_collapse():
    steps = np.arange(1, 101)
    ppl = Series("train_perplexity", steps, np.ones(100), "log")
    f = fire("LC402", ctx_for({"loss": Series("loss", steps, decaying(steps, 5.0, 0.01, tau=8), "log")}, extra=[ppl]))
    assert len(f) == 1 and "language model's loss ends at 0.01" in f[0].message and "perplexity 1.01" in f[0].message
    es = np.arange(1, 9)
    ev = np.array([6.6, 3.2, 1.5, 0.6, 0.2, 0.12, 0.09, 0.07])
    f = fire("LC402", ctx_for({"loss": Series("loss", es, ev * 2, "log"),
                               "eval_loss": Series("eval_loss", es, ev, "log")}))
    assert "eval loss fell from 6.6 to 0.09 (1.4% of it) in 6 evals and ends at 0.07" in f[0].message
    assert rank(f)[0].id == "check_data"


def test_lc402_quiet_on_lm_at_normal_levels_and_regression_losses():
    steps = np.arange(1, 101)
    ppl = Series("ppl", steps, np.ones(100), "log")
    assert fire("LC402", ctx_for({"loss": Series("loss", steps, decaying(steps, 7.0, 1.5), "log")}, extra=[ppl])) == []
    es = np.arange(1, 9)
    mse = np.array([0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.01, 0.01])  # first eval < 1: not a cross-entropy collapse
    assert fire("LC402", ctx_for({"loss": Series("loss", es, mse, "log"),
                                  "eval_loss": Series("eval_loss", es, mse, "log")})) == []


# --------------------------------------------------------------------------- LC403 eval-below-train


def eval_train(train_level, eval_level):
    ts = np.arange(10, 1010, 10)
    es = np.arange(100, 1100, 100)
    return ctx_for({"loss": Series("loss", ts, decaying(ts, 3.0, train_level), "log"),
                    "eval_loss": Series("eval_loss", es, decaying(es, 3.0, eval_level), "log")})


def test_lc403_large_persistent_gap_votes_check_data_small_gap_only_informs():
    f = fire("LC403", eval_train(1.0, 0.6))
    assert len(f) == 1 and f[0].severity == "info" and "at 5 of 5 evals in the second half" in f[0].message
    assert "label noise in the training set or train/eval overlap" in f[0].message
    assert [m.id for m in rank(f)] == ["check_data", "normalization"]
    f = fire("LC403", eval_train(1.0, 0.9))
    assert len(f) == 1 and f[0].severity == "info" and "dropout/BatchNorm" in f[0].message
    assert f[0].remedies == []


def test_lc403_quiet_when_eval_is_above_or_equal_to_train():
    assert fire("LC403", eval_train(1.0, 1.2)) == []
    assert fire("LC403", eval_train(1.0, 0.98)) == []  # within the 5% noise margin


# --------------------------------------------------------------------------- LC404 hf-nan-filter and LC102


def test_lc404_reports_the_signature_and_lc102_does_not_repeat_it():
    steps = np.array([0, 1, 2])
    series = {"loss": Series("loss", steps, np.array([0.2051, 0.0, 0.0]), "log"),
              "grad_norm": Series("grad_norm", steps, np.array([np.nan, np.nan, np.nan]), "log"),
              "lr": Series("lr", steps, np.array([9.77e-6, 9.775e-6, 9.773e-6]), "log")}
    curves = {"loss": CurveAnalysis("loss", "loss", 3, 3, "nan", 0),
              "grad_norm": CurveAnalysis("grad_norm", "grad_norm", 3, 0, "nan",
                                         nonfinite=NonFinite(0, 3, 0, 3, False))}
    ctx = ctx_for(series, curves=curves, primary="nan")
    f = fire("LC404", ctx)
    assert len(f) == 1 and f[0].severity == "error"
    assert "NaN grad norm at 2 of 2 logged steps (from step 1)" in f[0].message
    from losscheck.rules import run_rules
    findings = run_rules(ctx)
    lc102 = [x for x in findings if x.code == "LC102"][0]
    assert "see LC404" in lc102.message and "logging_nan_inf_filter" not in lc102.message
    # the signature says NaN, not why: without an fp16 flag the data comes first, with it the precision
    assert rank(findings)[0].id == "check_data"
    ctx.run.data.meta["fp16"] = True
    assert rank(run_rules(ctx))[0].id == "mixed_precision"


def test_lc404_quiet_on_a_zero_loss_with_finite_grad_norm():
    steps = np.arange(5)
    series = {"loss": Series("loss", steps, np.array([1.0, 0.5, 0.0, 0.0, 0.0]), "log"),
              "grad_norm": Series("grad_norm", steps, np.ones(5), "log")}
    assert fire("LC404", ctx_for(series)) == []


# --------------------------------------------------------------------------- LC501 / LC502 wall time


def timed(wall, steps=None):
    steps = np.arange(len(wall)) * 10 if steps is None else steps
    return ctx_for({"loss": Series("loss", steps, decaying(steps.astype(float)), "log", wall_time=wall)})


def test_lc501_one_stall_then_resumed_is_info_two_is_warning():
    wall = 1.7e9 + np.arange(100) * 12.0
    wall[50:] += 3 * 3600  # a 3 h hang after the 50th point
    f = fire("LC501", timed(wall))
    assert len(f) == 1 and f[0].severity == "info"
    assert "logging stopped for 3 h after step 490 (median gap 12 s" in f[0].message and "continued" in f[0].message
    wall[80:] += 1800
    f = fire("LC501", timed(wall))
    assert f[0].severity == "warning" and "stopped 2 times" in f[0].message


def test_lc501_stall_at_the_end_is_a_warning_and_short_gaps_are_quiet():
    wall = 1.7e9 + np.arange(100) * 12.0
    wall[-1] += 7200
    f = fire("LC501", timed(wall))
    assert f[0].severity == "warning" and "ends right after it" in f[0].message
    wall = 1.7e9 + np.arange(100) * 12.0
    wall[50:] += 300  # a 5-minute eval: below the 10-minute floor
    assert fire("LC501", timed(wall)) == []
    assert fire("LC501", ctx_for({"loss": Series("loss", np.arange(100), np.ones(100), "log")})) == []


def test_lc502_slower_steps_fire_compile_warmup_does_not():
    dt = np.concatenate([[60.0, 30.0, 20.0], np.linspace(0.35, 0.75, 97)])  # slow first points = compile
    f = fire("LC502", timed(1.7e9 + np.cumsum(dt), np.arange(100)))
    assert len(f) == 1 and f[0].severity == "warning"
    m = f[0].message
    assert m.startswith("seconds per step rose x1.") and "(first quarter)" in m
    assert f[0].evidence["ratio"] >= 1.5
    rng = np.random.default_rng(6)
    flat = np.concatenate([[60.0, 30.0, 20.0], 0.35 * (1 + 0.1 * rng.standard_normal(97))])
    assert fire("LC502", timed(1.7e9 + np.cumsum(flat), np.arange(100))) == []


# --------------------------------------------------------------------------- robustness


DEGENERATE = [
    {},
    {"loss": Series("loss", [], [], "log")},
    {"loss": Series("loss", [5], [np.nan], "log"), "lr": Series("lr", [5], [np.inf], "log")},
    {"loss": Series("loss", np.arange(4), [np.nan, np.inf, -np.inf, np.nan], "log"),
     "grad_norm": Series("grad_norm", np.arange(4), [np.nan] * 4, "log"),
     "eval_loss": Series("eval_loss", np.arange(4), [0.0] * 4, "log"),
     "lr": Series("lr", np.arange(4), [0.0] * 4, "log", wall_time=[np.nan] * 4)},
    {"loss": Series("loss", np.arange(30), np.zeros(30), "log", wall_time=np.zeros(30)),
     "grad_norm": Series("grad_norm", np.arange(30), -np.ones(30), "log"),
     "lr": Series("lr", np.arange(30), -np.ones(30), "log")},
]


@pytest.mark.parametrize("code", EXTRA)
@pytest.mark.parametrize("case", range(len(DEGENERATE)))
def test_extra_rules_never_raise_on_degenerate_data(code, case):
    series = DEGENERATE[case]
    curves = {r: CurveAnalysis(r, r, len(s), 0, "nan", 0, spikes=[Spike(0, 2.0, 5.0, None, 2.0)],
                               plateau=Plateau(0, 0.0, 0.0, True, 4))
              for r, s in series.items() if r in ("loss", "eval_loss", "grad_norm")}
    out = find_rule(code).check(ctx_for(series, meta={"max_grad_norm": "x", "num_classes": 4}, curves=curves,
                                        primary="nan"))
    assert isinstance(out, list)


def test_extra_rules_document_their_options():
    for code in EXTRA:
        r = find_rule(code)
        assert r.what and r.why and r.fix and r.how and r.example and r.sources, code
        for name in r.options:
            assert name == name.lower() and "_" not in name, (code, name)
            assert f"`{name}`" in (r.what + r.how + r.fix), (code, name)

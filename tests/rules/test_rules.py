"""Rules and remedy ranking on hand-built analyses (the analysis stage is tested separately)."""

import numpy as np

from losscheck.model import (CurveAnalysis, LRContext, NonFinite, Overfit, Plateau, ResolvedRun,
                             RoleAssignment, RunAnalysis, RunData, Series, Spike, TrendFit)
from losscheck.remedies import rank
from losscheck.rules import RuleContext, all_rules, find_rule, run_rules, selected


def ctx_of(run, analysis):
    """The rule context of a hand-built analysis, with the facts the analysis stage measures
    for the rules (:func:`losscheck.analysis.facts.run_facts`)."""
    from losscheck.analysis.facts import run_facts

    analysis.facts = run_facts(run, analysis)
    return RuleContext(run, analysis)


def seed_run():
    """The seed case: warmup to a 5e-4 peak at step 800; loss grows x2 every 60 steps from 840."""
    steps = np.arange(0, 1201, 10)
    lr = np.minimum(steps / 800, 1.0) * 5e-4
    loss = np.where(steps < 840, 2.0 * np.exp(-steps / 400) + 0.8, 0.0)
    base = 2.0 * np.exp(-840 / 400) + 0.8
    loss = np.where(steps >= 840, base * 2 ** ((steps - 840) / 60), loss)
    gn = np.where(steps < 800, 1.0 + 0.1 * np.sin(steps), 1.0 * 2 ** ((steps - 780) / 40))
    series = {"loss": Series("loss", steps, loss, "trainer_state.json"),
              "learning_rate": Series("learning_rate", steps, lr, "trainer_state.json"),
              "grad_norm": Series("grad_norm", steps, gn, "trainer_state.json")}
    data = RunData("runs/qwen-sft", ["trainer_state.json"], series)
    roles = {"loss": RoleAssignment("loss", series["loss"]), "lr": RoleAssignment("lr", series["learning_rate"]),
             "grad_norm": RoleAssignment("grad_norm", series["grad_norm"])}
    r = np.log(2) / 60
    curves = {
        "loss": CurveAnalysis("loss", "loss", len(steps), len(steps), "diverging", 840,
                              trend=TrendFit("exp_growth", {"r": r}, 10.0, 50.0, 840, 1200, r, 60.0)),
        "grad_norm": CurveAnalysis("grad_norm", "grad_norm", len(steps), len(steps), "diverging", 800),
    }
    analysis = RunAnalysis(curves, "diverging", [], 840,
                           lr=LRContext(5e-4, 800, 720, 0.0, 5e-4, False))
    return ResolvedRun(data, roles), analysis


def test_seed_scenario_ranks_lower_lr_first_with_concrete_settings():
    run, analysis = seed_run()
    findings = run_rules(ctx_of(run, analysis))
    assert [f.code for f in findings] == ["LC101"]
    f = findings[0]
    assert "x2 every 60 steps from step 840, as the LR reached its peak of 0.0005" in f.message
    assert "the grad norm had started rising at step 800 (40 steps earlier)" in f.message
    remedies = rank(findings)
    ids = [m.id for m in remedies]
    assert ids[0] == "lower_lr"
    assert set(ids[1:4]) == {"grad_clip", "warmup", "rollback"}
    s = remedies[0].settings
    assert s["lr_at_onset"] == 5e-4 and s["peak_lr"] == 1e-4 and s["lr_range"] == [5e-5, 2e-4]
    by = {m.id: m for m in remedies}
    assert by["warmup"].settings["warmup_steps"] == 1400  # 2x the 720-step warmup that failed, rounded
    assert by["grad_clip"].settings["max_grad_norm"] == 1.1  # 90th pct of healthy grad norms ~1.09, rounded up
    assert by["rollback"].settings["resume_before_step"] == 830  # last logged step before the onset


def test_absurd_first_loss_puts_check_data_first():
    run, analysis = seed_run()
    s = run.data.series["loss"]
    s.values[:] = s.values * 1e11
    remedies = rank(run_rules(ctx_of(run, analysis)))
    assert remedies[0].id == "check_data"


def _flat_loss(run, level: float) -> None:
    """Make the run's loss the one a hand-built plateau analysis describes: flat at ``level`` with
    1% noise (the seed's own loss diverges, which LC105 reads as a loss knocked off a lower level,
    an LR cause, since issue 14's pattern 7)."""
    v = run.data.series["loss"].values
    v[:] = level * np.exp(np.random.default_rng(0).normal(0, 0.01, v.shape[0]))


def test_chance_plateau_puts_labels_and_model_above_lr():
    run, analysis = seed_run()
    _flat_loss(run, 1.3863)
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 100, 100, "plateau",
                                            plateau=Plateau(0, 1.3863, 0.0, True, 4))
    analysis.primary = "plateau"
    findings = run_rules(ctx_of(run, analysis))
    assert findings[0].code == "LC105" and "ln(4)" in findings[0].message
    ids = [m.id for m in rank(findings)]
    assert ids[:2] == ["check_labels", "check_model"]


def test_nan_after_fp16_overflow_signs_puts_mixed_precision_first():
    run, analysis = seed_run()
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 100, 90, "nan", 1000,
                                            nonfinite=NonFinite(1000, 10, 0, 121, False, 0.9))
    analysis.curves["grad_norm"] = CurveAnalysis("grad_norm", "grad_norm", 121, 118, "converging",
                                                 nonfinite=NonFinite(500, 3, 0, 121, True))
    analysis.primary = "nan"
    ids = [m.id for m in rank(run_rules(ctx_of(run, analysis)))]
    assert ids[0] == "mixed_precision"
    assert "rollback" in ids


def test_sudden_midrun_nan_puts_check_data_first():
    run, analysis = seed_run()
    loss, g = run.data.series["loss"], run.data.series["grad_norm"]
    loss.values[:] = np.where(loss.steps < 1000, 2.0 * np.exp(-loss.steps / 400) + 0.8, np.nan)
    g.values[:] = np.where(g.steps < 1000, 1.0 + 0.1 * np.sin(g.steps), np.nan)
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 121, 100, "nan", 1000,
                                            nonfinite=NonFinite(1000, 21, 0, 121, False, 0.9))
    analysis.curves["grad_norm"] = CurveAnalysis("grad_norm", "grad_norm", 121, 121, "converging")
    analysis.primary = "nan"
    ids = [m.id for m in rank(run_rules(ctx_of(run, analysis)))]
    assert ids[0] == "check_data"
    # the same NaN after the loss had doubled is an LR problem
    loss.values[:] = np.where(loss.steps < 1000, np.where(loss.steps < 900, 1.0, 3.0), np.nan)
    assert [m.id for m in rank(run_rules(ctx_of(run, analysis)))][0] == "lower_lr"


def test_nan_right_after_an_lr_jump_blames_the_lr():
    run, analysis = seed_run()
    loss, lr = run.data.series["loss"], run.data.series["learning_rate"]
    loss.values[:] = np.where(loss.steps < 1000, 1.0, np.nan)
    lr.values[:] = np.where(lr.steps < 980, 1e-4, 1e-3)
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 121, 100, "nan", 1000,
                                            nonfinite=NonFinite(1000, 21, 0, 121, False, 1.0))
    analysis.curves["grad_norm"].klass = "converging"
    analysis.primary = "nan"
    f = run_rules(ctx_of(run, analysis))
    assert "jumped x10" in f[0].message
    assert rank(f)[0].id == "lower_lr"


def test_overfitting_ranks_early_stop_with_best_step():
    run, analysis = seed_run()
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 100, 100, "converging")
    analysis.curves["grad_norm"].klass = "converging"
    analysis.primary = "overfitting"
    analysis.overfit = Overfit(1250, 2.146, 4.92, 1.29, 15, -0.92)
    findings = run_rules(ctx_of(run, analysis))
    assert [f.code for f in findings] == ["LC107"]
    top = rank(findings)[0]
    assert top.id == "early_stop" and top.settings["best_step"] == 1250
    assert findings[0].severity == "error"  # ends 129% above its minimum
    analysis.overfit = Overfit(1250, 2.146, 2.4, 0.12, 5, -0.5)
    assert run_rules(ctx_of(run, analysis))[0].severity == "warning"


def test_overfitting_names_the_raw_eval_minimum_in_epochs():
    run, analysis = seed_run()
    ev = Series("val_loss", np.arange(10), [2.0, 1.5, 1.2, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4], "log",
                step_unit="epoch")
    run.roles["eval_loss"] = RoleAssignment("eval_loss", ev)
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 100, 100, "converging")
    analysis.curves["grad_norm"].klass = "converging"
    analysis.primary = "overfitting"
    analysis.overfit = Overfit(3, 1.1, 1.4, 0.27, 6, -0.5)  # the analysis reports the raw minimum
    f = run_rules(ctx_of(run, analysis))[0]
    assert "min 1.1 at epoch 3" in f.message
    assert rank([f])[0].settings["best_epoch"] == 3


def test_recovered_spikes_check_data_then_clip_and_recurring_ones_add_lr_and_optimizer():
    run, analysis = seed_run()
    run.data.series["loss"].values[:] = 1.0
    run.data.series["grad_norm"].values[:] = 1.0 + 0.1 * np.sin(np.arange(121))
    analysis.curves["grad_norm"].klass = "converging"
    one = [Spike(500, 8.0, 12.0, 3, 1.0)]
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 100, 100, "spiking", spikes=one)
    analysis.primary = "spiking"
    ids = [m.id for m in rank(run_rules(ctx_of(run, analysis)))]
    assert ids[:2] == ["check_data", "grad_clip"] and "optimizer" not in ids
    many = [Spike(100 * i, 5.0, 9.0, 2, 1.0) for i in range(1, 8)]
    analysis.curves["loss"].spikes = many
    ids = [m.id for m in rank(run_rules(ctx_of(run, analysis)))]
    assert ids[:2] == ["check_data", "grad_clip"] and {"lower_lr", "optimizer"} <= set(ids)
    # the same spike right after the LR jumped x10 blames the LR
    lr = run.data.series["learning_rate"]
    lr.values[:] = np.where(lr.steps < 480, 1e-4, 1e-3)
    analysis.curves["loss"].spikes = one
    assert rank(run_rules(ctx_of(run, analysis)))[0].id == "lower_lr"
    lr.values[:] = 1e-4
    worse = [Spike(600, 1.5, 8.0, None, 1.6, worse=True)]
    analysis.curves["loss"].spikes = worse
    f = run_rules(ctx_of(run, analysis))
    assert [x.code for x in f] == ["LC104"] and rank(f)[0].id == "rollback"


def test_healthy_curve_yields_no_findings():
    run, analysis = seed_run()
    for c in analysis.curves.values():
        c.klass, c.onset_step = "converging", None
    analysis.primary = "converging"
    assert run_rules(ctx_of(run, analysis)) == []


def test_select_ignore_and_lookup():
    codes = [r.code for r in all_rules()]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    assert all(r.code.startswith("LC") and len(r.code) == 5 for r in all_rules())
    assert [r.code for r in selected(["LC10"], ["LC103", "overfitting"])] == [
        c for c in codes if c.startswith("LC10") and c not in ("LC103", "LC107")]
    assert find_rule("loss-diverging").code == "LC101" and find_rule("lc101").name == "loss-diverging"
    for r in all_rules():
        assert r.what and r.why and r.fix and r.how and r.sources, r.code


def test_flat_from_start_steady_grad_norm_points_at_the_model_growing_one_at_the_labels():
    run, analysis = seed_run()
    _flat_loss(run, 2.25)
    g = run.data.series["grad_norm"]
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 100, 100, "plateau",
                                            plateau=Plateau(0, 2.25, 0.0, True, None))
    analysis.curves["grad_norm"].klass = "converging"
    analysis.primary = "plateau"
    g.values[:] = 3.7  # gradients computed, weights never move
    assert [m.id for m in rank(run_rules(ctx_of(run, analysis)))][:2] == ["check_model", "check_labels"]
    g.values[:] = np.linspace(0.5, 3.7, len(g))  # the model fights labels it cannot fit
    assert [m.id for m in rank(run_rules(ctx_of(run, analysis)))][:2] == ["check_labels", "check_model"]


def test_jump_to_worse_level_with_exploding_grad_norm_ranks_grad_clip_first():
    run, analysis = seed_run()
    g = run.data.series["grad_norm"]
    g.values[:] = 1.0
    g.values[60] = 900.0  # step 600: one batch in the wrong units
    analysis.curves["grad_norm"].klass = "converging"
    analysis.curves["loss"] = CurveAnalysis("loss", "loss", 121, 121, "spiking",
                                            spikes=[Spike(600, 50.0, 20.0, None, 4.0, worse=True)])
    analysis.primary = "spiking"
    f = run_rules(ctx_of(run, analysis))
    assert f[0].code == "LC104" and "x900" in f[0].message
    assert [m.id for m in rank(f)][:2] == ["grad_clip", "rollback"]


def test_epoch_indexed_logs_are_described_in_epochs():
    run, analysis = seed_run()
    for s in run.data.series.values():
        s.step_unit = "epoch"
    f = run_rules(ctx_of(run, analysis))
    lc101 = [x for x in f if x.code == "LC101"][0]
    assert "from epoch 840" in lc101.message and "step" not in lc101.message.replace("steps", "")
    by = {m.id: m for m in rank(f)}
    assert "resume_before_epoch" in by["rollback"].settings


def test_one_finding_votes_once_per_remedy_at_its_strongest():
    from losscheck.model import Finding, RemedyVote

    # a rule giving two weaker reasons for check_model must not outvote its own stronger,
    # more specific increase_lr vote; two findings still add up
    f = Finding("LC105", "loss-plateau", "error", "loss", 0, "flat", remedies=[
        RemedyVote("increase_lr", 1.05, "constant to 6 digits"), RemedyVote("check_model", 1.0, "frozen"),
        RemedyVote("check_model", 0.85, "never left its first level")])
    ranked = rank([f])
    assert [m.id for m in ranked] == ["increase_lr", "check_model"]
    assert ranked[1].score == 3.0 and ranked[1].evidence == "frozen"
    g = Finding("LC999", "other", "warning", "loss", 0, "x", remedies=[RemedyVote("check_model", 1.0, "other")])
    assert [m.id for m in rank([f, g])][0] == "check_model"  # 3.0 + 2.0 across findings

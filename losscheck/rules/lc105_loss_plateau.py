"""LC105 loss-plateau (not learning)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.evidence import ADAM_DEFAULT_LR
from losscheck.model import RemedyVote, Severity
from losscheck.rules._evidence import fmt, main_curve, unit_word
from losscheck.rules.interface import Rule, RuleContext, threshold

#: A flat loss this many times above the lowest level it had reached before was knocked off that
#: level (``benchmarks/fit_lc105.py`` on the tune split: 1.1-2.0 tie at 14 of 14 first remedies; the grid middle, 1.5).
KNOCKED_UP = 1.5
#: ... and that rise at least this many point-to-point noise SDs of the log loss (a noisy curve's
#: running-median minimum sits below its level by chance; ``benchmarks/fit_lc105.py``: ties, the
#: grid middle, 5)
KNOCKED_UP_Z = 5.0
#: An Adam-family peak LR this many times its 1e-3 default is far too high (Kingma & Ba 2015 use
#: 1e-3; ``benchmarks/fit_lc105.py`` on the tune split: 3-100 tie; the grid middle, 30).
ADAM_LR_FACTOR = 30.0


@dataclass(frozen=True)
class Options:
    """LC105's thresholds (``[thresholds]`` keys ``knocked-up``, ``knocked-up-z``, ``adam-lr-factor``)."""

    knocked_up: float = threshold(KNOCKED_UP, unit='ratio, x',
        doc='A flat loss this many times above the lowest level reached before was knocked off that level (fitted on tune: benchmarks/fit_lc105.py).')
    knocked_up_z: float = threshold(KNOCKED_UP_Z, unit='noise SDs',
        doc='... and that rise is at least this many point-to-point noise SDs of the log loss (benchmarks/fit_lc105.py).')
    adam_lr_factor: float = threshold(ADAM_LR_FACTOR,
        doc='An Adam-family peak LR this many times its 1e-3 default is far too high (Kingma & Ba 2015; benchmarks/fit_lc105.py).')


class LossPlateau(Rule[Options]):
    code = "LC105"
    name = "loss-plateau"
    severity = "error"
    summary = "The loss is flat: the model is not learning (from the start, at chance level, or stuck)."
    what = ("The loss shows no significant decrease: the Theil-Sen slope's confidence interval includes "
            "zero relative to the noise, either from the start of the run or after an early drop to a level "
            "far above what the run should reach. A level at ln(C) (chance for C classes) is named.")
    why = ("A flat loss from step 0 means nothing is learned: labels misaligned or shuffled, frozen "
           "parameters, LR = 0, a broken loss. A flat loss at ln(C) means the model predicts the uniform "
           "distribution. Every further step is wasted.")
    fix = ("Flat from the start or at chance: `check_labels` (overfit one batch) and `check_model`, both above "
           "LR changes; `check_model` first when the grad norm does not grow (nothing is learned: frozen "
           "parameters, vanishing gradients), `check_labels` first when it grows (the model fights labels it "
           "cannot fit). `increase_lr` first when the LR is zero or the loss repeats to six digits; "
           "`mixed_precision` first when most steps were overflow-skipped. Stuck after an early drop: "
           "`lr_schedule`, `optimizer`, `check_model`. An LR far too high ranks `lower_lr` first: a flat loss "
           "`knocked-up` (1.5) times and `knocked-up-z` (5) noise SDs above the lowest level it had reached "
           "before (an update knocked the model off it), or an Adam-family optimizer at `adam-lr-factor` (30) times its 1e-3 default or more.")
    how = ("Theil-Sen slope (Theil 1950; Sen 1968) of the log loss per 1,000 steps with its confidence "
           "interval, compared to the robust noise level (MAD); chance level when the loss is within 1% of "
           "ln(C) for a small integer C (or the --num-classes given), by the plateau detector "
           "(`losscheck.analysis.plateau.detect_plateau`). The remedy evidence (share of non-finite grad norms, "
           "grad-norm trend, a frozen level) is measured once by `losscheck.analysis.evidence` and read from the "
           "run's facts. On fewer than `min-points` points the short-log call "
           "(`losscheck.analysis.short`: no Mann-Kendall trend) is reported as a warning: the test has little "
           "power on 3-7 points, so that call alone does not fail the gate; so is a train loss that only creeps "
           "down (a significant fall under 5% on a short window) beside an eval loss that does not improve. An "
           "accuracy frozen above 50% is a majority-class floor: `rebalance` first.")
    example = "loss flat at 1.386 = ln(4) (chance for 4 classes) from the start"
    sources = ("Theil 1950", "Sen 1968", "seed case study (label misalignment: overfit one batch)",
               "Karpathy 2019, A recipe for training neural networks",
               "Kingma & Ba 2015, Adam (default LR 1e-3)")
    Options = Options

    def check(self, ctx: RuleContext) -> list:
        cur = main_curve(ctx.analysis)
        if cur is None or cur.klass != "plateau" or cur.plateau is None:
            return []
        p = cur.plateau
        unit = unit_word(ctx)
        lrc = ctx.analysis.lr
        ev = {"level": p.level, "rel_slope_per_1k_steps": p.rel_slope, "from_start": p.from_start,
              "start_step": p.start_step}
        series = ctx.run.get(cur.role)
        # a log that starts late (a resumed run, an excerpt) says nothing about whether the model
        # ever learned: "flat from the first logged step" then means stuck, not "never learned"
        resumed = (series is not None and len(series) > 1 and series.steps[0] > 0
                   and series.steps[0] >= 0.2 * series.steps[-1])
        never_learned = p.from_start and not resumed
        if resumed and p.from_start and series is not None:
            ev["log_starts_at"] = int(series.steps[0])
        where = ("from the start" if never_learned else
                 f"from the first logged {unit} ({p.start_step}) of a resumed run" if p.from_start
                 else f"from {unit} {p.start_step}")
        msg = f"{cur.role.replace('_', ' ')} flat at {fmt(p.level)} {where}"
        severity: Severity | None = None
        votes = []
        if p.chance_classes:
            msg += f" = ln({p.chance_classes}), chance level for {p.chance_classes} classes"
            ev["chance_classes"] = p.chance_classes
        if lrc is not None and lrc.peak <= 0:  # zero for the whole run (a decay to 0 at the end is normal)
            msg += "; the LR is zero"
            votes.append(RemedyVote("increase_lr", 1.2, "the LR is zero: nothing can move"))
        lr = ctx.run.get("lr")
        warming = (lrc is not None and lrc.warmup_steps and lr is not None
                   and int(lr.steps[-1]) <= lrc.peak_step and not lrc.decays)
        if warming:
            msg += "; the run stopped while the LR was still warming up"
            severity = "info"
        short = cur.evidence.get("short_points")
        if short is not None and severity is None:
            # no trend on a handful of points is the best call, not proof: warn, do not fail the gate
            msg += f" (on only {short} points)"
            ev["short_points"] = short
            severity = "warning"
        stuck_acc = cur.evidence.get("stuck_accuracy")
        if stuck_acc is not None:
            msg += f"; the accuracy never changes ({stuck_acc:.1%}): the predictions are constant"
            ev["stuck_accuracy"] = stuck_acc
            if stuck_acc > 0.5:
                # a constant predictor scores the share of the class it predicts; above one
                # half that can only be a majority class (chance 1/C is at most 1/2)
                votes.append(RemedyVote("rebalance", 1.3, f"the accuracy is frozen at {stuck_acc:.1%}, the share of "
                                        "a majority class that the model always predicts: reweight or resample "
                                        "the classes"))
        if cur.evidence.get("plateau_creep") and severity is None:
            # the train loss still inches down; the stall is read from the eval loss: a warning
            msg += "; the train loss only creeps down while the eval loss does not improve"
            ev["creep"] = True
            severity = "warning"
        facts = ctx.analysis.facts
        skipped = facts.grad_nonfinite_share
        trend = facts.grad_norm_trend
        frozen = facts.frozen.get(cur.role, False)
        if skipped >= 0.5:
            msg += f"; the grad norm is NaN/Inf at {skipped:.0%} of steps, so those updates were skipped"
            ev["grad_norm_nonfinite_share"] = skipped
            votes.append(RemedyVote("mixed_precision", 1.3, f"{skipped:.0%} of steps overflowed (non-finite grad "
                                    "norm): fp16 loss scaling skips them, so the weights barely move",
                                    {"precision": "bf16"}))
        if frozen:
            msg += "; the loss repeats to 6 digits, so the weights do not change at all"
            ev["frozen_level"] = True
            if not (lrc is not None and lrc.peak <= 0):
                votes += [RemedyVote("increase_lr", 1.05, "a loss constant to 6 digits: the LR is 0 or the optimizer "
                                     "updates nothing"),
                          RemedyVote("check_model", 1.0, "parameters frozen (requires_grad) or missing from the "
                                     "optimizer's param groups")]
        # an LR far too high leaves a flat loss too (dead units after the blow-up): the cause ranks first
        knock = facts.knocked_up.get(cur.role)
        cfg = self.opts(ctx)
        if knock is not None and knock[0] >= cfg.knocked_up and knock[1] >= cfg.knocked_up_z:
            knock_ratio = knock[0]
            msg += f"; it sits x{knock_ratio:.3g} above the lowest level it had reached before"
            ev["knocked_up"] = knock_ratio
            votes.append(RemedyVote("lower_lr", 1.3, f"the loss had been x{knock_ratio:.3g} lower: an update too large "
                                    "knocked the model off that level (dead units), not a model that never learned"))
        adam = facts.adam_peak_lr
        if adam is not None and adam >= cfg.adam_lr_factor * ADAM_DEFAULT_LR:
            msg += f"; an Adam LR of {fmt(adam)}, x{adam / ADAM_DEFAULT_LR:.3g} its default"
            ev["adam_peak_lr"] = adam
            votes.append(RemedyVote("lower_lr", 1.3, f"Adam at LR {fmt(adam)} ({adam / ADAM_DEFAULT_LR:.3g}x the 1e-3 "
                                    "default) blows the first updates up and leaves dead units",
                                    {"peak_lr": ADAM_DEFAULT_LR}))
        if p.chance_classes or never_learned:
            # a grad norm that does not grow under a flat loss: nothing is being learned at all (frozen,
            # vanishing gradients); one that grows: the model fights labels it cannot fit
            static = trend is not None and trend <= 1.2
            if trend is not None:
                ev["grad_norm_trend"] = trend
            if static:
                msg += (f"; the grad norm does not grow (x{trend:.2f} first to last quarter), so nothing is "
                        "being learned")
            at = f"ln({p.chance_classes})" if p.chance_classes else "its first level"
            votes += [RemedyVote("check_model", 1.0 if static else 0.85,
                                 "the loss stays at " + at + " while the gradients stay flat: parameters not "
                                 "updated (requires_grad, optimizer param groups), or gradients that vanish "
                                 "before the early layers (deep plain nets: residuals, normalisation, init)"
                                 if static else "frozen parameters, a detached graph or a wrong output layer "
                                 "also keep the loss flat"),
                      RemedyVote("check_labels", 0.85 if static else 1.0,
                                 f"a loss that never leaves {at}: inputs and labels may not be paired; overfit "
                                 "one batch to check"),
                      RemedyVote("increase_lr", 0.5, "an LR too small to move the weights")]
        else:
            votes += [RemedyVote("lr_schedule", 0.8, f"progress stopped at {unit} {p.start_step}: decay or "
                                 "restart the LR"),
                      RemedyVote("optimizer", 0.6, "switch to Adam(W) or retune momentum"),
                      RemedyVote("check_model", 0.6, "a model too small, or dead units (ReLU) after an early "
                                 "instability")]
        return [self.finding(msg, role=cur.role, step=p.start_step, evidence=ev, remedies=votes,
                             severity=severity)]


RULE = LossPlateau()

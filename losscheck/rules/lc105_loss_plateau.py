"""LC105 loss-plateau (not learning)."""

from __future__ import annotations

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt, main_curve
from losscheck.rules.interface import Rule, RuleContext

#: An LR below this fraction of its own peak at the end of warmup still counts as "warming up".
#: A run stopped during warmup (e.g. a DPO run at lr 2e-7) has not had the chance to learn.


class LossPlateau(Rule):
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
    fix = ("At chance level: `check_labels` (overfit one batch), then `check_model`; flat from the start but "
           "not at chance: `check_model` (parameters not updated), then `check_labels`; both above LR changes. "
           "With an LR that is zero: `increase_lr`. Stuck after an early drop: `lr_schedule`, `optimizer`, "
           "`check_model`.")
    how = ("Theil-Sen slope (Theil 1950; Sen 1968) of the log loss per 1,000 steps with its confidence "
           "interval, compared to the robust noise level (MAD); chance level when the loss is within 1% of "
           "ln(C) for a small integer C (or the --num-classes given).")
    example = "loss flat at 1.386 = ln(4) (chance for 4 classes) from the start"
    sources = ("Theil 1950", "Sen 1968", "seed case study (label misalignment: overfit one batch)",
               "Karpathy 2019, A recipe for training neural networks")

    def check(self, ctx: RuleContext) -> list:
        cur = main_curve(ctx.analysis)
        if cur is None or cur.klass != "plateau" or cur.plateau is None:
            return []
        p = cur.plateau
        lrc = ctx.analysis.lr
        ev = {"level": p.level, "rel_slope_per_1k_steps": p.rel_slope, "from_start": p.from_start,
              "start_step": p.start_step}
        where = "from the start" if p.from_start else f"from step {p.start_step}"
        msg = f"{cur.role.replace('_', ' ')} flat at {fmt(p.level)} {where}"
        severity = None
        votes = []
        if p.chance_classes:
            msg += f" = ln({p.chance_classes}), chance level for {p.chance_classes} classes"
            ev["chance_classes"] = p.chance_classes
        if lrc is not None and (lrc.zero or lrc.peak <= 0):
            msg += "; the LR is zero"
            votes.append(RemedyVote("increase_lr", 1.2, "the LR is zero: nothing can move"))
        warming = (lrc is not None and lrc.warmup_steps and ctx.run.get("lr") is not None
                   and int(ctx.run.get("lr").steps[-1]) <= lrc.peak_step and not lrc.decays)
        if warming:
            msg += "; the run stopped while the LR was still warming up"
            severity = "info"
        if p.chance_classes:
            votes += [RemedyVote("check_labels", 1.0, f"a loss that never leaves ln({p.chance_classes}): the model "
                                 "predicts the uniform distribution; inputs and labels are not paired, "
                                 "overfit one batch to check"),
                      RemedyVote("check_model", 0.85, "frozen parameters, a detached graph or a wrong output "
                                 "layer also keep the loss at chance"),
                      RemedyVote("increase_lr", 0.5, "an LR too small to move the weights")]
        elif p.from_start:
            frozen = _grad_norm_steady(ctx.run.get("grad_norm"))
            if frozen:
                msg += "; the grad norm stays at its first level, so the weights are not moving"
                ev["grad_norm_steady"] = True
            votes += [RemedyVote("check_model", 1.0 if frozen else 0.85,
                                 "gradients are computed but the loss and the grad norm never change: the "
                                 "parameters are not updated (requires_grad, optimizer param groups, detached "
                                 "graph)" if frozen else "frozen parameters, a detached graph or a wrong output "
                                 "layer keep the loss flat"),
                      RemedyVote("check_labels", 0.85 if frozen else 1.0, "overfit one batch: if the loss cannot "
                                 "fall, inputs and labels are not paired"),
                      RemedyVote("increase_lr", 0.5, "an LR too small to move the weights")]
        else:
            votes += [RemedyVote("lr_schedule", 0.8, f"progress stopped at step {p.start_step}: decay or "
                                 "restart the LR"),
                      RemedyVote("optimizer", 0.6, "switch to Adam(W) or retune momentum"),
                      RemedyVote("check_model", 0.6, "a model too small, or dead units (ReLU) after an early "
                                 "instability")]
        return [self.finding(msg, role=cur.role, step=p.start_step, evidence=ev, remedies=votes,
                             severity=severity)]


def _grad_norm_steady(g) -> bool:
    """True when a logged grad norm neither decays nor grows: its last-quarter median is
    within 20% of its first-quarter median (and it is not ~0). A model that learns anything,
    even towards the uniform prediction under shuffled labels, moves its weights and its
    grad norm changes; parameters that are never updated keep it where it started.
    """
    import numpy as np

    if g is None:
        return False
    v = g.values[np.isfinite(g.values)]
    if len(v) < 8:
        return False
    q = len(v) // 4
    a, b = float(np.median(v[:q])), float(np.median(v[-q:]))
    return a > 1e-8 and abs(b / a - 1) <= 0.2


RULE = LossPlateau()

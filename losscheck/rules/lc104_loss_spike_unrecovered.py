"""LC104 loss-spike-unrecovered (a jump to a worse level)."""

from __future__ import annotations

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt, lr_votes_settings, main_curve, unit_word
from losscheck.rules.interface import Rule, RuleContext



class LossSpikeUnrecovered(Rule):
    code = "LC104"
    name = "loss-spike-unrecovered"
    severity = "error"
    summary = "The loss jumped and settled at a clearly worse level."
    what = ("A spike after which the loss does not return to its pre-spike level: it settles at least 1.2x "
            "(and 3 noise SDs) above the level before the jump, and the shift gives back at least 10% of the "
            "progress made before it, in loss units (so a converged 5e-3 loss settling at 9e-3 is not reported).")
    why = ("The model lost what it had learned (a damaged state: dead units, corrupted optimizer moments). "
           "Training on from here wastes compute; the checkpoint before the jump is better than any after.")
    fix = ("Ranks `rollback` to the last step before the jump, then `lower_lr` and `grad_clip`; `grad_clip` "
           "comes first when the grad norm at the jump is 10x or more its healthy 90th percentile (an "
           "exploding gradient that clipping would have capped); `lower_lr` comes first when the LR jumped "
           "just before the spike.")
    how = ("Spike detection as LC103; the level ratio compares robust (median) levels of the windows "
           "before and after the jump (losscheck.analysis.spikes).")
    example = "loss jumped x1.4 at step 3200 and settled 1.3x higher (5.11 -> 6.6)"
    sources = ("Chowdhery et al. 2022, PaLM, sec. 5.1 (roll back ~100 steps before a spike)", "seed case study")

    def check(self, ctx: RuleContext) -> list:
        cur = main_curve(ctx.analysis)
        if cur is None or cur.klass != "spiking":
            return []
        worse = [s for s in cur.spikes if s.worse]
        if not worse:
            return []
        s = max(worse, key=lambda s: s.level_ratio)
        unit = unit_word(ctx)
        oc = ctx.analysis.facts.at(s.step)
        msg = (f"{cur.role.replace('_', ' ')} jumped x{s.ratio:.3g} at {unit} {s.step} and settled "
               f"x{s.level_ratio:.3g} higher")
        if oc.lr_at_onset is not None:
            msg += f" (LR {fmt(oc.lr_at_onset)})"
        jump = oc.lr_jump
        if jump:
            msg += f"; the LR jumped x{jump:.3g} just before"
        gj = oc.grad_jump
        exploding = gj is not None and gj >= 10
        if exploding:
            msg += f"; the grad norm jumped x{gj:.3g} over its healthy level at that step"
        votes = [RemedyVote("grad_clip", 1.1 if exploding else 0.7,
                            f"the grad norm was x{gj:.3g} its healthy level at the jump: clipping caps that update"
                            if exploding else "clip the outlier update", {"max_grad_norm": oc.clip or 1.0}),
                 RemedyVote("rollback", 1.0, f"the best state is before {unit} {s.step}",
                            {f"resume_before_{unit}": oc.rollback} if oc.rollback is not None else {}),
                 RemedyVote("lower_lr", 1.2 if jump else 0.8,
                            f"the LR jumped x{jump:.3g} just before: remove the bump or lower the LR" if jump else
                            "a jump to a worse level is an update too large for the loss surface there",
                            lr_votes_settings(oc)),
                 RemedyVote("check_data", 0.4, f"inspect the batch at {unit} {s.step}")]
        ev = {"step": s.step, "ratio": s.ratio, "level_ratio": s.level_ratio, "z": s.z, "grad_norm_jump": gj,
              "lr_jump": jump}
        return [self.finding(msg, role=cur.role, step=s.step, evidence=ev, remedies=votes)]


RULE = LossSpikeUnrecovered()

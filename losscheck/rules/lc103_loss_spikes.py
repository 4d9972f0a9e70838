"""LC103 loss-spikes (spikes that recover)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.model import RemedyVote
from losscheck.rules._evidence import lr_votes_settings, main_curve, unit_word
from losscheck.rules.interface import Rule, RuleContext, threshold

#: More spikes than this in one run is "recurring": an optimizer/LR problem rather than a
#: few bad batches (PaLM, Chowdhery et al. 2022, sec. 5.1, saw ~20 spikes at 540B).
RECURRING = 3


@dataclass(frozen=True)
class Options:
    """LC103's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    recurring_spikes: float = threshold(RECURRING,
        doc='More spikes than this in one run are recurring: an optimizer/LR problem rather than a few bad batches (Chowdhery et al. 2022, sec. 5.1).')


class LossSpikes(Rule[Options]):
    code = "LC103"
    name = "loss-spikes"
    severity = "warning"
    summary = "The loss jumps far above its recent level and comes (mostly) back."
    what = ("Sudden jumps of the loss well outside its noise band (robust z-score of the log loss "
            "against a rolling median and MAD) that recover within a short span.")
    why = ("A spike that recovers costs steps and can be the first of a series that does not recover; "
           "isolated spikes usually come from bad batches, recurring ones from an LR or optimizer state "
           "at the edge of stability (Adam's second-moment estimate lagging rare large gradients).")
    fix = ("Spikes that recover rank `check_data` (inspect or skip the batches at those steps, as PaLM did) "
           "and `grad_clip`; recurring spikes add `lower_lr` and `optimizer` (lower beta2, raise epsilon); "
           "a spike right after an LR jump ranks `lower_lr` first.")
    how = ("Robust z-score (Hampel filter; Rousseeuw & Croux 1993) of log(loss) against a rolling median "
           "and MAD, with a minimum height ratio over the local baseline so noisy small-batch losses "
           "do not count; recovery is the return into the pre-spike noise band.")
    example = "2 loss spikes (largest x450 at step 256), each recovered within 2 steps"
    Options = Options
    sources = ("Chowdhery et al. 2022, PaLM, sec. 5.1", "Molybog et al. 2023, A theory on Adam instability",
               "Rousseeuw & Croux 1993")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        cur = main_curve(ctx.analysis)
        if cur is None or not cur.spikes:
            return []
        # every spike the analysis did not call a jump to a worse level (LC104 reports those)
        rec = [s for s in cur.spikes if not s.worse]
        if not rec or (cur.klass not in ("spiking", "converging", "overfitting", "oscillating", "plateau")):
            return []
        if cur.klass == "spiking" and any(s.worse for s in cur.spikes):
            return []  # LC104 reports the unrecovered one; do not double-count
        big = max(rec, key=lambda s: s.ratio)
        unit = unit_word(ctx)
        back = [s for s in rec if s.recover_steps is not None]
        msg = f"{len(rec)} loss spike(s) (largest x{big.ratio:.3g} at {unit} {big.step})"
        if len(back) == len(rec):
            msg += f", each recovered within {max(s.recover_steps for s in back if s.recover_steps is not None)} {unit}s"
        else:
            high = max((s for s in rec if s.recover_steps is None), key=lambda s: s.level_ratio)
            msg += (f"; {len(rec) - len(back)} did not fully come back (settled x{high.level_ratio:.3g} above "
                    f"the level before {unit} {high.step})")
        oc = ctx.analysis.facts.at(big.step)
        ev = {"spikes": len(rec), "largest_ratio": big.ratio, "largest_step": big.step, "largest_z": big.z}
        steps = [s.step for s in rec[:10]]
        jump = oc.lr_jump
        votes = [RemedyVote("check_data", 1.0, f"spike(s) that come back down, at {unit}(s) "
                            f"{', '.join(str(s.step) for s in rec[:5])}: inspect (or skip) those batches",
                            {"steps": steps}),
                 RemedyVote("grad_clip", 0.85, "clipping caps the update an outlier batch makes",
                            {"max_grad_norm": oc.clip or 1.0})]
        if jump:
            msg += f"; the LR jumped x{jump:.3g} just before {unit} {big.step}"
            ev["lr_jump"] = jump
            votes.append(RemedyVote("lower_lr", 1.2, f"the LR jumped x{jump:.3g} just before the spike",
                                    lr_votes_settings(oc)))
        elif len(rec) > cfg.recurring_spikes:
            votes += [RemedyVote("lower_lr", 0.6, "recurring spikes mean the LR sits at the edge of stability",
                                 lr_votes_settings(oc)),
                      RemedyVote("optimizer", 0.5, "Adam instability: lower beta2 (0.95) or raise epsilon",
                                 {"adam_beta2": 0.95, "adam_epsilon": 1e-6})]
        else:
            votes.append(RemedyVote("lower_lr", 0.3, "a lower LR widens the stability margin"))
        return [self.finding(msg, role=cur.role, step=big.step, evidence=ev, remedies=votes)]


RULE = LossSpikes()

"""LC101 loss-diverging."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt, lr_votes_settings, main_curve, unit_word, warmup_settings
from losscheck.rules.interface import Rule, RuleContext, threshold

#: A first logged loss above this is not a learning-rate problem but a data/scale problem:
#: cross-entropy starts near ln(C) (< 12 even for a 150k-token vocabulary) and MSE on
#: normalised targets near 1; 1e8 means unnormalised inputs/targets or corrupted records.
ABSURD_FIRST_LOSS = 1e8


@dataclass(frozen=True)
class Options:
    """LC101's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    absurd_first_loss: float = threshold(ABSURD_FIRST_LOSS, unit='loss value',
        doc='A first logged loss above this is a data or scale problem (unnormalised inputs, corrupted records), not an LR problem: cross-entropy starts near ln(C) < 12, MSE on normalised targets near 1.')


class LossDiverging(Rule[Options]):
    code = "LC101"
    name = "loss-diverging"
    severity = "error"
    summary = "The loss grows instead of falling (exponentially, or steadily), from an onset step."
    what = ("The training loss (or the eval loss when no training loss is logged) grows after an onset "
            "found by change-point detection, and a growth trend model (exponential or linear) beats "
            "the decay and constant models by AIC. For exponential growth the rate and the doubling "
            "time in steps are reported.")
    why = ("A diverging run only wastes GPU time from the onset on: the weights are being pushed away from "
           "any minimum, and in fp16/bf16 the next step is often NaN. The seed case study (a Qwen2.5-1.5B "
           "fine-tune) is this pattern: loss rising exponentially once the LR reached its peak.")
    fix = ("Ranks `lower_lr` first when the onset coincides with the LR peak (suggesting a peak LR 3-10x "
           "below the LR at onset), `warmup` when the blow-up comes early (first quarter of the run, or "
           "within twice the warmup) and there is no or a short warmup, `grad_clip` (threshold "
           "from the healthy grad norms) when a grad-norm surge came first, `check_data` above all when the "
           "first logged loss is already absurd (> 1e8), and `rollback` to the last step before the onset.")
    how = ("Trend models (constant, linear, exponential/power decay, exponential growth) are fitted on the "
           "log-binned, median-smoothed log loss and compared by AIC (Akaike 1974; Burnham & Anderson 2002); "
           "the onset is a change point on the log loss (Killick et al. 2012, PELT). Doubling time = ln 2 / r.")
    example = "loss grows x2 every 60 steps from step 840, as the LR reached its peak of 0.0005"
    Options = Options
    sources = ("Akaike 1974", "Killick, Fearnhead & Eckley 2012", "seed case study",
               "Wortsman et al. 2023, Small-scale proxies for large-scale Transformer training instabilities")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        cur = main_curve(ctx.analysis)
        if cur is None or cur.klass != "diverging" or ctx.analysis.evidence.get("gan_imbalance"):
            return []  # a GAN whose player wins is LC109's, not a learning-rate divergence
        onset = cur.onset_step
        unit = unit_word(ctx)
        oc = ctx.analysis.facts.at(onset)
        series = ctx.run.get(cur.role)
        total = ctx.run.data.meta.get("max_steps")
        growth = ""
        ev: dict[str, Any] = {"onset_step": onset}
        if cur.trend is not None and cur.trend.doubling_steps:
            growth = f"grows x2 every {cur.trend.doubling_steps:.3g} {unit}s"
            ev.update(rate_per_step=cur.trend.rate_per_step, doubling_steps=cur.trend.doubling_steps,
                      model=cur.trend.model, delta_aic=cur.trend.delta_aic)
        else:
            growth = "grows"
        msg = f"{cur.role.replace('_', ' ')} {growth}" + (f" from {unit} {onset}" if onset is not None else "")
        if oc.lr_at_onset is not None:
            msg += (f", as the LR reached its peak of {fmt(oc.lr_peak)}" if oc.at_peak and oc.lr_peak
                    else f", with the LR at {fmt(oc.lr_at_onset)}")
            ev.update(lr_at_onset=oc.lr_at_onset, lr_peak=oc.lr_peak, lr_at_peak=oc.at_peak)
        jump = oc.lr_jump
        if jump:
            msg += f" (the LR had just jumped x{jump:.3g})"
            ev["lr_jump"] = jump
        if oc.grad_lead:
            at = f" at {unit} {onset - oc.grad_lead}" if onset is not None else ""
            msg += f"; the grad norm had started rising{at} ({oc.grad_lead} {unit}s earlier)"
            ev["grad_norm_lead_steps"] = oc.grad_lead

        votes = []
        first = ctx.analysis.facts.first_value.get(cur.role) if series is not None else None
        if first is not None and abs(first) > cfg.absurd_first_loss:
            votes.append(RemedyVote("check_data", 1.2, f"the first logged loss is already {fmt(first)}: "
                                    "inputs or targets are not normalised, or records are corrupt"))
            ev["first_loss"] = first
        lr_w = 1.2 if jump else 1.0 if (oc.at_peak or oc.lr_at_onset is None) else 0.8
        if jump:
            votes.append(RemedyVote("lr_schedule", 0.7, f"a mid-run LR increase (x{jump:.3g}) started the growth"))
        votes.append(RemedyVote("lower_lr", lr_w, msg, lr_votes_settings(oc)))
        no_warmup = oc.warmup_steps is not None and (
            oc.warmup_steps == 0 or bool(onset and oc.warmup_steps < 0.5 * onset))
        if oc.warmup_steps is not None:
            ev["warmup_steps"] = oc.warmup_steps
        last = int(series.steps[-1]) if series is not None and len(series) else 0
        planned = total or last
        # a warmup protects the first updates: a run stable for most of its length that blows up
        # late does not need a longer one (the onset within the first quarter, or 2x a warmup)
        early = onset is not None and (onset <= 0.25 * planned
                                       or bool(oc.warmup_steps and onset <= 2 * oc.warmup_steps))
        if early:
            why = ("no LR warmup before the blow-up" if oc.warmup_steps == 0 else
                   f"warmup of {oc.warmup_steps} steps ended before the onset" if no_warmup else
                   "a longer warmup keeps early updates small")
            votes.append(RemedyVote("warmup", 0.75 if no_warmup else 0.45, why, warmup_settings(oc, total)))
        votes.append(RemedyVote("grad_clip", 0.8 if oc.grad_lead else 0.55,
                                f"the grad norm started rising {oc.grad_lead} {unit}s before the loss"
                                if oc.grad_lead else "clipping caps the updates that feed the growth",
                                {"max_grad_norm": oc.clip or 1.0}))
        if oc.rollback is not None:
            votes.append(RemedyVote("rollback", 0.5, f"last healthy {unit} before the onset is {oc.rollback}",
                                    {f"resume_before_{unit}": oc.rollback}))
        return [self.finding(msg, role=cur.role, step=onset, evidence=ev, remedies=votes)]


RULE = LossDiverging()

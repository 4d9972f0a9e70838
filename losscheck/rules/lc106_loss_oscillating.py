"""LC106 loss-oscillating."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from losscheck.model import RemedyVote
from losscheck.rules._evidence import lr_votes_settings, main_curve, unit_word
from losscheck.rules.interface import Rule, RuleContext, threshold

#: A period within this relative distance of the steps per epoch points at unshuffled data.
EPOCH_MATCH = 0.1


@dataclass(frozen=True)
class Options:
    """LC106's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    epoch_match: float = threshold(EPOCH_MATCH, unit='fraction, 0-1',
        doc='A period within this relative distance of the steps per epoch points at unshuffled data (a fixed data order).')


class LossOscillating(Rule[Options]):
    code = "LC106"
    name = "loss-oscillating"
    severity = "warning"
    summary = "The loss swings up and down with no downward progress."
    what = ("Large swings of the detrended loss with no significant trend, periodic (a peak in the "
            "autocorrelation/periodogram) or not; or a loss that still falls but repeats the same shape every "
            "P steps for 5+ cycles (autocorrelation >= 0.5 at P). Epoch staircases and warm-restart bumps are "
            "excluded.")
    why = ("Oscillation means the updates overshoot: an LR or momentum too high for the curvature, or data "
           "served in a fixed order so each epoch replays the same sequence of easy and hard batches.")
    fix = ("A period equal to the steps per epoch, or a pattern that repeats on top of a falling loss, ranks "
           "`shuffle_data` first; otherwise `lower_lr`, then `optimizer` (less momentum) and `lr_schedule`.")
    how = ("Autocorrelation and periodogram of the detrended log loss (Box & Jenkins 1976); the dominant "
           "period is reported with its autocorrelation; the coefficient of variation measures the swing.")
    example = "loss oscillates with a period of 50 steps (= 1 epoch), no downward trend"
    Options = Options
    sources = ("Box & Jenkins 1976", "Bottou 2012, Stochastic gradient descent tricks", "seed case study")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        cur = main_curve(ctx.analysis)
        if cur is None or cur.klass != "oscillating":
            return []
        o = cur.oscillation
        unit = unit_word(ctx)
        oc = ctx.analysis.facts.at(cur.onset_step)
        spe = ctx.run.data.meta.get("steps_per_epoch")
        ev: dict[str, Any] = {}
        msg = f"{cur.role.replace('_', ' ')} oscillates"
        epoch_period = False
        if o is not None:
            ev.update(period_steps=o.period_steps, strength=o.strength, cv=o.cv)
            if o.period_steps:
                msg += f" with a period of {o.period_steps:.3g} {unit}s"
                if spe and abs(o.period_steps - spe) <= cfg.epoch_match * spe:
                    epoch_period = True
                    msg += " (= 1 epoch)"
        periodic = bool(cur.evidence.get("osc_periodic_with_progress"))
        msg += (" on top of a falling trend: the same pattern every period" if periodic
                else ", with no downward trend")
        votes = []
        if periodic and not epoch_period and o is not None:
            votes.append(RemedyVote("shuffle_data", 1.3, "the loss falls but repeats the same shape every "
                                    f"{o.period_steps:.3g} steps: batches come in a fixed (e.g. class-sorted) order"))
        if epoch_period:
            votes.append(RemedyVote("shuffle_data", 1.2, "the loss repeats every epoch: the data order is fixed"))
        votes += [RemedyVote("lower_lr", 0.5 if (periodic or epoch_period) else 1.0,
                             "updates overshoot: lower the LR", lr_votes_settings(oc)),
                  RemedyVote("optimizer", 0.6, "high momentum makes SGD bounce: lower momentum (0.9 -> 0.5) or use Adam",
                             {"momentum": 0.5}),
                  RemedyVote("lr_schedule", 0.4, "decay the LR so late steps settle")]
        if o is not None and o.period_steps and not epoch_period and not periodic:
            votes.append(RemedyVote("shuffle_data", 0.5, f"a regular period ({o.period_steps:.3g} steps) can "
                                    "come from a fixed data order"))
        return [self.finding(msg, role=cur.role, step=cur.onset_step, evidence=ev, remedies=votes)]


RULE = LossOscillating()

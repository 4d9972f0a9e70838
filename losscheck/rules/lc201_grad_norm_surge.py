"""LC201 grad-norm-surge (the grad norm rose before the loss blew up)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.gradnorm import SurgeOptions
from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt, lr_votes_settings
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Defaults of the surge search (measured by :func:`losscheck.analysis.gradnorm.detect_surge`;
#: their sources are documented there and in this rule's text).
_D = SurgeOptions()
SURGE_RATIO = _D.surge_ratio
SUSTAIN_POINTS = _D.sustain_points
MIN_HEALTHY_POINTS = _D.min_healthy_points
MIN_LEAD_POINTS = _D.min_lead_points
MAX_LEAD_FRACTION = _D.max_lead_fraction


@dataclass(frozen=True)
class Options:
    """LC201's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    surge_ratio: float = threshold(SURGE_RATIO,
        doc='A grad norm this many times its healthy median is a surge (a healthy grad norm wanders within ~x2).')
    sustain_points: float = threshold(SUSTAIN_POINTS,
        doc="... for this many consecutive logged points (one outlier batch is LC103/LC104's business).")
    min_healthy_points: float = threshold(MIN_HEALTHY_POINTS,
        doc='Logged points needed before a candidate surge to call the earlier level healthy.')
    min_lead_points: float = threshold(MIN_LEAD_POINTS,
        doc='The surge starts at least this many logged grad-norm points before the loss event it precedes.')
    max_lead_fraction: float = threshold(MAX_LEAD_FRACTION,
        doc='... and within this share of the logged span before that event.')


class GradNormSurge(Rule[Options]):
    code = "LC201"
    name = "grad-norm-surge"
    severity = "warning"
    summary = "The grad norm surged (x3 over its healthy level, sustained) before the loss blew up."
    what = ("The gradient norm rises to at least `surge-ratio` (3) times its healthy level (the lowest "
            "5-point running median before it), and stays there for `sustain-points` (3) consecutive logged points, strictly "
            "before the onset of a loss divergence, a NaN loss or a loss spike. Reports the surge step, the "
            "lead time in steps, and the healthy level. It only fires together with such a loss event: a "
            "grad norm that falls, or is noisy, in a run whose loss is fine is not reported, and neither is one "
            "that the grad-norm curve analysis classes as healthy (converging, plateau, oscillating).")
    why = ("The grad norm is the early-warning signal of an instability: the update size grows before the "
           "loss does (Wortsman et al. 2023 track it as the precursor of loss spikes; Pascanu et al. 2013 "
           "show exploding gradients as sudden norm jumps). The lead time is how much earlier an alert on "
           "the grad norm (or a clip) would have acted, and it says the blow-up started in the optimizer "
           "updates, not in one bad batch.")
    fix = ("Ranks `grad_clip` with a threshold at the 90th percentile of the grad norms before the surge "
           "(`losscheck.analysis.evidence.clip_threshold`, measured once with the run's facts), and `lower_lr` slightly below it: the weights (0.8 and "
           "0.6) are chosen so that, together with LC101's votes, `lower_lr` stays first when the loss "
           "diverged as the LR peaked and `grad_clip` comes next. To act early, alert when the grad norm "
           "exceeds 3x its running median.")
    how = ("Measured once by the analysis (`losscheck.analysis.gradnorm.detect_surge`, stored in the run's "
           "facts as `grad_surge`); this rule only words it. Finite grad norms only. Candidates i lie in the last `max-lead-fraction` (50%) of the logged "
           "span before the loss event (grad norms drift up over healthy training: a level reached long "
           "before the blow-up is no precursor). The healthy level before i is the lowest trailing median of "
           "max(`min-healthy-points` (5), 10% of the points before the loss event) consecutive grad norms, "
           "over the windows that end between the start of that region and i (a robust level, Hampel 1974, taken at "
           "the floor because early grad norms are often high and fall first; a slow rise still crosses x3 "
           "that floor). The surge is the first i whose next "
           "`sustain-points` values (they may run past the loss event; fewer, but at least 2, only where the log ends) are all >= "
           "`surge-ratio` x that level, and so is the median of the next window of points, with at least `min-lead-points` (2) logged grad norms from i to before the loss onset (the change "
           "point of the loss curve analysis, or the first spike). Lead = loss onset - surge step. (LC101's "
           "'surged N steps earlier' counts from the grad norm's own change point, where the rise starts; "
           "this rule counts from where it crosses x3.)")
    example = ("grad norm above x3 its healthy level 0.0966 from step 38 (x4.96 by step 50), 12 steps "
               "before the loss diverged at step 50")
    Options = Options
    sources = ("Wortsman et al. 2023, Small-scale proxies for large-scale Transformer training instabilities",
               "Pascanu, Mikolov & Bengio 2013, On the difficulty of training RNNs",
               "Hampel 1974 (median as a robust level)")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        sg = ctx.analysis.facts.grad_surge  # losscheck.analysis.gradnorm.detect_surge
        if sg is None:
            return []
        ratio_min = cfg.surge_ratio
        step, event, lead, base, ratio = sg.step, sg.event, sg.lead, sg.healthy, sg.ratio
        what = {"diverging": "diverged", "nan": "went non-finite", "spiking": "spiked"}[sg.loss_class]
        msg = (f"grad norm above x{fmt(ratio_min)} its healthy level {fmt(base)} from step {step} "
               f"(x{ratio:.3g} by step {event}), {lead} steps before the {sg.role.replace('_', ' ')} "
               f"{what} at step {event}")
        clip = sg.clip
        oc = ctx.analysis.facts.at(event)
        ev = {"surge_step": step, "loss_event_step": event, "lead_steps": lead, "healthy_median": base,
              "ratio": ratio, "loss_class": sg.loss_class}
        votes = [RemedyVote("grad_clip", 0.8, f"the grad norm surged {lead} steps before the loss: a clip at "
                            f"{fmt(clip or 1.0)} would have capped those updates", {"max_grad_norm": clip or 1.0}),
                 RemedyVote("lower_lr", 0.6, "growing updates before the loss blew up: the LR is at the edge of "
                            "stability", lr_votes_settings(oc))]
        return [self.finding(msg, role="grad_norm", step=step, evidence=ev, remedies=votes)]


RULE = GradNormSurge()

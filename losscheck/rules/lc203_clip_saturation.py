"""LC203 clip-saturation (most steps are clipped: the clip acts as a fixed LR scaler)."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from losscheck.analysis.gradnorm import CEILING_SHARE, CLIP_MIN_POINTS as MIN_POINTS
from losscheck.model import RemedyVote
from losscheck.remedies import nice
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext, threshold

#: More than this share of logged steps at or above the clip threshold is "saturated".
CLIPPED_SHARE = 0.5


@dataclass(frozen=True)
class Options:
    """LC203's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    clipped_share: float = threshold(CLIPPED_SHARE,
        doc='More than this share of logged steps at or above the clip threshold is saturated: the clip acts as a fixed LR scaler.')
    min_points: float = threshold(MIN_POINTS,
        doc='Finite grad-norm points needed to judge a clipped share.')
    ceiling_share: float = threshold(CEILING_SHARE,
        doc='Without max_grad_norm in the log, a clip ceiling is inferred when at least this share of the grad norms sit exactly at their maximum.')


class ClipSaturation(Rule[Options]):
    code = "LC203"
    name = "clip-saturation"
    severity = "warning"
    summary = "More than half of the steps are clipped: the gradient clip acts as a fixed LR scaler."
    what = ("The share of logged steps whose grad norm is at or above the clipping threshold exceeds "
            "`clipped-share` (50%). The threshold is the configured `max_grad_norm` when the log states it; "
            "otherwise it is inferred when at least `ceiling-share` (20%) of the grad norms sit exactly at "
            "one ceiling value, their maximum (a log written after clipping). The HF Trainer and "
            "`torch.nn.utils.clip_grad_norm_` report the norm *before* clipping, so a value at or above "
            "the threshold means that step was clipped.")
    why = ("Clipping is meant to cap rare outliers (Pascanu et al. 2013). When most steps are clipped, "
           "every update is rescaled to length `max_grad_norm`: the optimizer runs normalised-gradient "
           "descent with an effective LR of lr x max_grad_norm / ||g||, and the configured LR and schedule "
           "no longer mean what they say. It usually hides an LR (or a loss scale) too high for the model, "
           "or a threshold set far below the model's natural grad-norm level (e.g. HF's default 1.0 for a "
           "model whose healthy grad norm is 5-10).")
    fix = ("Ranks `grad_clip` (raise the threshold to about the 90th percentile of the logged grad norms, so "
           "that only outliers are clipped; with a post-clip log, where the true norms are unknown, raise "
           "it 3-5x and watch the clipped share) and `lower_lr` (the saturation often hides an LR too high: "
           "if raising the threshold makes the loss unstable, lower the LR instead). `lower_lr` weighs "
           "more when more than 90% of the steps are clipped.")
    how = ("Exact count over the finite grad-norm values: clipped = value >= threshold x (1 - 1e-4). "
           "Inferred ceiling: the maximum value, when at least 20% of the values equal it within 1e-4 "
           "(relative) and there are at least 5 such values. Needs `min-points` (20) finite grad norms."
           "Measured once by the analysis (`losscheck.analysis.gradnorm.clip_stats`) and read from the run's facts.")
    example = ("grad norm at or above the clip threshold 1 (max_grad_norm) at 87% of 400 logged steps "
               "(median 2.6): clipping rescales most updates and acts as a fixed LR scaler")
    Options = Options
    sources = ("Pascanu, Mikolov & Bengio 2013, On the difficulty of training RNNs",
               "Zhang et al. 2020, Why gradient clipping accelerates training (clipped GD as normalised GD)",
               "HF transformers TrainingArguments.max_grad_norm; torch.nn.utils.clip_grad_norm_ docs "
               "(returns the total norm before clipping)")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        cs = ctx.analysis.facts.clip  # losscheck.analysis.gradnorm.clip_stats
        if cs is None:
            return []
        thr, source, share = cs.threshold, cs.source, cs.share
        if share <= cfg.clipped_share:
            return []
        med = cs.median
        how_known = "max_grad_norm" if source == "max_grad_norm" else "inferred: the values pile up at it"
        msg = (f"grad norm at or above the clip threshold {fmt(thr)} ({how_known}) at {share * 100:.3g}% of "
               f"{cs.points} logged steps")
        if source == "max_grad_norm":
            msg += f" (median {fmt(med)})"
        msg += ": clipping rescales most updates and acts as a fixed LR scaler"
        ev = {"threshold": thr, "threshold_source": source, "clipped_share": round(share, 4),
              "points": cs.points, "median_grad_norm": med}
        if source == "max_grad_norm":
            # pre-clip log: the real norms are known, so a threshold that clips only outliers is too
            target = nice(cs.p90)
            clip_set: dict[str, Any] = {"max_grad_norm": target if target > thr else nice(thr * 2)}
            clip_why = (f"raise max_grad_norm from {fmt(thr)} to about {fmt(clip_set['max_grad_norm'])} (90th "
                        "percentile of the logged norms) so that only outliers are clipped")
        else:
            clip_set = {"max_grad_norm": nice(thr * 3, 2), "range": [nice(thr * 3, 2), nice(thr * 5, 2)]}
            clip_why = (f"the log shows norms after clipping: raise the threshold 3-5x (from {fmt(thr)}) and "
                        "watch the clipped share")
        heavy = share > 0.9
        votes = [RemedyVote("grad_clip", 0.8, clip_why, clip_set),
                 RemedyVote("lower_lr", 0.7 if heavy else 0.5,
                            "a clip that fires on every step hides an LR too high for the model: if a higher "
                            "threshold destabilises the loss, lower the LR instead", {"factor": "2-3x lower"})]
        return [self.finding(msg, role="grad_norm", evidence=ev, remedies=votes)]


RULE = ClipSaturation()

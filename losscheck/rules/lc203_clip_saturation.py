"""LC203 clip-saturation (most steps are clipped: the clip acts as a fixed LR scaler)."""

from __future__ import annotations

import numpy as np

from losscheck.model import RemedyVote
from losscheck.remedies import nice
from losscheck.rules._evidence import finite_xy, fmt
from losscheck.rules.interface import Rule, RuleContext

#: More than this share of logged steps at or above the clip threshold is "saturated".
CLIPPED_SHARE = 0.5
#: Finite grad-norm points needed to judge a share.
MIN_POINTS = 20
#: Without ``max_grad_norm`` in the log, a ceiling is inferred when at least this share of the
#: grad norms sit exactly at their maximum (a post-clip log: clipped values equal the threshold).
CEILING_SHARE = 0.2
#: Relative tolerance of "at the threshold" (float32 logging rounds to ~1e-7; HF rounds
#: grad_norm in the log to ~6 significant digits in some versions).
TOL = 1e-4


class ClipSaturation(Rule):
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
           "(relative) and there are at least 5 such values. Needs `min-points` (20) finite grad norms.")
    example = ("grad norm at or above the clip threshold 1 (max_grad_norm) at 87% of 400 logged steps "
               "(median 2.6): clipping rescales most updates and acts as a fixed LR scaler")
    options = {"clipped-share": CLIPPED_SHARE, "min-points": MIN_POINTS, "ceiling-share": CEILING_SHARE}
    sources = ("Pascanu, Mikolov & Bengio 2013, On the difficulty of training RNNs",
               "Zhang et al. 2020, Why gradient clipping accelerates training (clipped GD as normalised GD)",
               "HF transformers TrainingArguments.max_grad_norm; torch.nn.utils.clip_grad_norm_ docs "
               "(returns the total norm before clipping)")

    def check(self, ctx: RuleContext) -> list:
        _, v = finite_xy(ctx.run.get("grad_norm"))
        v = v[v >= 0]
        if len(v) < max(1, int(self.opt(ctx, "min-points"))):
            return []
        thr, source = None, None
        meta_thr = ctx.run.data.meta.get("max_grad_norm")
        try:
            meta_thr = float(meta_thr) if meta_thr is not None else None
        except (TypeError, ValueError):
            meta_thr = None
        if meta_thr is not None and np.isfinite(meta_thr) and meta_thr > 0:
            thr, source = meta_thr, "max_grad_norm"
        else:
            top = float(np.max(v))
            at_top = int(np.sum(np.abs(v - top) <= TOL * top)) if top > 0 else 0
            if top > 0 and at_top >= 5 and at_top >= self.opt(ctx, "ceiling-share") * len(v):
                thr, source = top, "inferred"
        if thr is None:
            return []
        clipped = v >= thr * (1 - TOL)
        share = float(np.mean(clipped))
        if share <= self.opt(ctx, "clipped-share"):
            return []
        med = float(np.median(v))
        how_known = "max_grad_norm" if source == "max_grad_norm" else "inferred: the values pile up at it"
        msg = (f"grad norm at or above the clip threshold {fmt(thr)} ({how_known}) at {share * 100:.3g}% of "
               f"{len(v)} logged steps")
        if source == "max_grad_norm":
            msg += f" (median {fmt(med)})"
        msg += ": clipping rescales most updates and acts as a fixed LR scaler"
        ev = {"threshold": thr, "threshold_source": source, "clipped_share": round(share, 4),
              "points": int(len(v)), "median_grad_norm": med}
        if source == "max_grad_norm":
            # pre-clip log: the real norms are known, so a threshold that clips only outliers is too
            target = nice(float(np.percentile(v, 90)))
            clip_set = {"max_grad_norm": target if target > thr else nice(thr * 2)}
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

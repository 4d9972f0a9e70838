"""LC402 loss-suspiciously-low (exact zeros, a language-model loss near 0, an eval loss collapse)."""

from __future__ import annotations

from dataclasses import dataclass

import math

from losscheck.analysis.loss_levels import EVAL_COLLAPSE_RATIO, EVAL_NEAR_ZERO, FEW_EVALS
from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Logged losses exactly 0.0 at this many points (with a finite grad norm, or none logged).
ZERO_POINTS = 3
#: A language-model loss (token cross-entropy) below this at the end: perplexity e^0.05 = 1.05.
LM_NEAR_ZERO = 0.05
#: An eval collapse (EVAL_COLLAPSE_RATIO, EVAL_NEAR_ZERO, FEW_EVALS) is measured by
#: :func:`losscheck.analysis.loss_levels.eval_collapse`, where its thresholds are documented.


@dataclass(frozen=True)
class Options:
    """LC402's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    zero_points: float = threshold(ZERO_POINTS,
        doc='Logged losses of exactly 0.0 at this many points (with a finite grad norm, or none logged).')
    lm_near_zero: float = threshold(LM_NEAR_ZERO, unit='nats',
        doc='A language-model loss below this at the end (perplexity e^0.05 = 1.05) is suspicious.')
    eval_collapse_ratio: float = threshold(EVAL_COLLAPSE_RATIO, unit='share of the first eval loss',
        doc='An eval loss that falls below this share of its first value...')
    eval_near_zero: float = threshold(EVAL_NEAR_ZERO, unit='nats',
        doc='... to below this absolute value...')
    few_evals: float = threshold(FEW_EVALS,
        doc='... within this many evaluations, from a first eval loss of at least 1, is a collapse (leakage, masked labels).')


class LossSuspiciouslyLow(Rule[Options]):
    code = "LC402"
    name = "loss-suspiciously-low"
    severity = "warning"
    summary = "The loss is exactly 0, or near 0 too fast (a language model at perplexity ~1): leakage or masked labels."
    what = ("Any of: (a) the training or eval loss is logged as exactly 0.0 at `zero-points` (3) or more "
            "points where the grad norm is finite (or not logged) -- with a NaN grad norm at those steps it "
            "is the HF NaN filter, LC404; (b) a language model (a logged perplexity or token count) ends "
            "with a training or eval loss below `lm-near-zero` (0.05 nats: perplexity 1.05); (c) the eval "
            "loss falls from a first value >= 1 to below `eval-collapse-ratio` (10%) of it and below "
            "`eval-near-zero` (0.1) within `few-evals` (10) evaluations.")
    why = ("Real data has irreducible noise: natural-language token cross-entropy stays well above 1 nat "
           "for open text, and a held-out loss near 0 after a few epochs means the model can read the "
           "answer. Usual causes: train/eval overlap (duplicates, a split after augmentation), the label "
           "leaking into the input (the target column among the features, a causal-LM whose labels are not "
           "shifted or an attention mask that shows future tokens), or every label masked (-100) so the "
           "loss is computed over nothing.")
    fix = ("Ranks `check_data` (deduplicate train vs eval; check the split) first for an eval collapse and "
           "`check_labels` (shift, masking, label in the input) first for exact zeros and a "
           "language-model loss near 0; both are voted every time.")
    how = ("Exact comparison with 0.0 over every logged value; the grad norm at the same steps decides "
           "between this rule and LC404. Language model: a series tag containing 'perplexity', 'ppl' or "
           "'token'. End level: median of the last 5 finite points. Eval collapse: index of the first eval "
           "point below both thresholds. Measured once by the analysis "
           "(`losscheck.analysis.nonfinite.zero_loss`, `losscheck.analysis.loss_levels.eval_collapse`, "
           "`losscheck.analysis.loss_levels.end_levels`) and read from the run's facts.")
    example = ("eval loss fell from 6.6 to 0.0933 (1.4% of it) in 6 evals and ends at 0.0668 (a language "
               "model: eval perplexity 1.07): leakage or masked labels, the model can see the answer")
    Options = Options
    sources = ("Kaufman et al. 2012, Leakage in data mining: formulation, detection, and avoidance",
               "Karpathy 2019, A recipe for training neural networks",
               "HF transformers docs: labels set to -100 are ignored by the loss")

    def _zeros(self, ctx: RuleContext, role: str):
        """``(count, first_step)`` of exact 0.0 losses not explained by a non-finite grad norm
        (:func:`losscheck.analysis.nonfinite.zero_loss`)."""
        z = ctx.analysis.facts.zero_loss.get(role)
        if z is None or z.visible < self.opts(ctx).zero_points or z.visible_first is None:
            return None
        return z.visible, z.visible_first

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        reasons, votes_labels, votes_data = [], 0.0, 0.0
        ev: dict = {}
        step = None
        for role in ("loss", "eval_loss"):
            z = self._zeros(ctx, role)
            if z is not None:
                reasons.append(f"{role.replace('_', ' ')} is exactly 0.0 at {z[0]} logged points from step {z[1]}"
                               " with a finite grad norm")
                ev[f"{role}_zero_points"], ev[f"{role}_first_zero_step"] = z
                step = z[1] if step is None else min(step, z[1])
                votes_labels, votes_data = max(votes_labels, 1.0), max(votes_data, 0.7)
        facts = ctx.analysis.facts
        lm = facts.language_model
        if lm:
            for role in ("loss", "eval_loss"):
                if role not in facts.end_levels:
                    continue
                end, last = facts.end_levels[role]  # median of the last 5 finite values
                if 0 < end < cfg.lm_near_zero:
                    reasons.append(f"the language model's {role.replace('_', ' ')} ends at {fmt(end)} "
                                   f"(perplexity {math.exp(end):.3g})")
                    ev[f"{role}_end"] = end
                    step = last if step is None else step
                    votes_labels, votes_data = max(votes_labels, 1.0), max(votes_data, 0.8)
        col = facts.eval_collapse  # losscheck.analysis.loss_levels.eval_collapse
        if col is not None:
            k = col.evals
            r = (f"eval loss fell from {fmt(col.first)} to {fmt(col.low)} ({col.low / col.first * 100:.2g}% of it) "
                 f"in {k} evals")
            if col.end != col.low:
                r += f" and ends at {fmt(col.end)}"
            reasons.append(r)
            ev.update(eval_first=col.first, eval_low=col.low, evals_to_low=k, eval_low_step=col.low_step)
            step = col.low_step if step is None else min(step, col.low_step)
            votes_labels, votes_data = max(votes_labels, 0.8), max(votes_data, 1.0)
        if not reasons:
            return []
        msg = "; ".join(reasons)
        if lm and col is not None and "eval_low" in ev and not any("language model" in r for r in reasons):
            msg += f" (a language model: eval perplexity {math.exp(col.end):.3g})"
        msg += ": leakage or masked labels, the model can see the answer"
        ev["language_model"] = lm
        votes = [RemedyVote("check_labels", votes_labels, "check the labels: shifted for a causal LM, not masked "
                            "to -100 everywhere, not present in the inputs"),
                 RemedyVote("check_data", votes_data, "check train/eval overlap: deduplicate, split before "
                            "augmenting, no target column among the features")]
        return [self.finding(msg, role="eval_loss" if "eval_low" in ev else "loss", step=step, evidence=ev,
                             remedies=votes)]


RULE = LossSuspiciouslyLow()

"""LC202 grad-overflow-skipped (benign fp16 overflow steps)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.model import RemedyVote
from losscheck.rules.interface import Rule, RuleContext, threshold

#: More than this share of steps with a non-finite grad norm is "frequent" overflow.
FREQUENT = 0.05


@dataclass(frozen=True)
class Options:
    """LC202's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    frequent_overflow: float = threshold(FREQUENT, unit='fraction, 0-1',
        doc='More than this share of steps with a non-finite grad norm is frequent overflow (fp16 loss scaling skipping steps).')


class GradOverflowSkipped(Rule[Options]):
    code = "LC202"
    name = "grad-overflow-skipped"
    severity = "info"
    summary = "The grad norm is NaN/Inf at some steps while the loss stays finite (fp16 skipped steps)."
    what = ("Non-finite grad norms at scattered steps while the loss stays finite and keeps improving: "
            "dynamic loss scaling detected an overflow and skipped those optimizer steps.")
    why = ("A few skipped steps are how fp16 loss scaling is meant to work and are harmless; frequent ones "
           "waste steps and hint that the loss scale or the model's activations are too large.")
    fix = "Nothing for a few; when frequent (> 5% of steps), `mixed_precision` (bf16, or a lower initial scale)."
    how = "Exact count of non-finite grad-norm values while the loss stays finite."
    example = "grad norm non-finite at 2 of 40 steps (first 30) while the loss kept falling"
    Options = Options
    sources = ("Micikevicius et al. 2018, Mixed precision training", "PyTorch torch.amp.GradScaler docs")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        g = ctx.analysis.curves.get("grad_norm")
        loss = ctx.analysis.curves.get("loss")
        if g is None or g.nonfinite is None or (loss is not None and loss.klass == "nan"):
            return []
        nf = g.nonfinite
        n_bad = nf.nan + nf.inf
        share = n_bad / max(1, nf.total)
        frequent = share > cfg.frequent_overflow
        msg = (f"grad norm non-finite at {n_bad} of {nf.total} steps (first at step {nf.first_step}) while the "
               f"loss stayed finite: {'frequent ' if frequent else ''}fp16 overflow-skipped steps")
        votes = [RemedyVote("mixed_precision", 0.6 if frequent else 0.2, msg, {"precision": "bf16"})]
        return [self.finding(msg, role="grad_norm", step=nf.first_step, severity="warning" if frequent else None,
                             evidence={"nonfinite": n_bad, "points": nf.total, "share": round(share, 4)},
                             remedies=votes)]


RULE = GradOverflowSkipped()

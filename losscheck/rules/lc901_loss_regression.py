"""LC901 loss-regression (against ``--baseline``)."""

from __future__ import annotations

from dataclasses import dataclass

import math

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Relative worsening of the final or best loss tolerated against the baseline.
TOLERANCE = 0.02


@dataclass(frozen=True)
class Options:
    """LC901's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    baseline_tolerance: float = threshold(TOLERANCE, unit='fraction, 0-1',
        doc='Relative worsening of the final or best loss tolerated against the --baseline run.')


class LossRegression(Rule[Options]):
    code = "LC901"
    name = "loss-regression"
    severity = "error"
    summary = "The final or best eval loss is worse than the --baseline run's by more than the tolerance."
    what = ("With `--baseline`, compares the best and the final eval loss (the training loss when no eval "
            "loss is logged) with the baseline run's. Fires when either is worse by more than "
            "`baseline-tolerance` (relative, default 2%).")
    why = ("A change to the code, data or config that makes the trained model worse is a regression even "
           "when the curve looks healthy: this is the 'did my change break training' gate.")
    fix = "Ranks `rollback` (to the baseline's configuration) and `lr_schedule`; diff the two runs' configs."
    how = "best = minimum finite value; final = last finite value; worse when (new - old) / |old| > tolerance."
    example = "best eval loss 2.31 vs 2.10 in the baseline (+10%, tolerance 2%)"
    sources = ("Prechelt 1998 (best-checkpoint selection on the validation loss)",)
    Options = Options

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        base = ctx.baseline
        if base is None:
            return []
        tol = cfg.baseline_tolerance
        mine = ctx.summary
        role = "eval_loss" if "eval_loss" in mine and "eval_loss" in base.summary else "loss"
        a, b = mine.get(role), base.summary.get(role)
        if not a or not b:
            return []
        out = []
        for key in ("best", "final"):
            new, old = a.get(key), b.get(key)
            if new is None or old is None or not all(isinstance(x, (int, float)) for x in (new, old)):
                continue
            if not math.isfinite(old) or old == 0:
                continue
            rel = (new - old) / abs(old) if math.isfinite(new) else math.inf
            if rel > tol:
                label = role.replace("_", " ")
                msg = (f"{key} {label} {fmt(new)} vs {fmt(old)} in the baseline "
                       f"({rel * 100:+.3g}%, tolerance {tol * 100:.3g}%)")
                out.append(self.finding(msg, role=role, evidence={"which": key, "new": new, "baseline": old,
                                                                  "relative_change": rel, "tolerance": tol},
                                        remedies=[RemedyVote("rollback", 0.8, "the baseline configuration "
                                                             "trained a better model: diff the configs"),
                                                  RemedyVote("lr_schedule", 0.3, "compare the LR schedules "
                                                             "of the two runs")]))
        # one finding per run: the larger of the two regressions
        return sorted(out, key=lambda f: -f.evidence["relative_change"])[:1]


RULE = LossRegression()

"""LC108 insufficient-data."""

from __future__ import annotations

from losscheck.rules._evidence import main_curve
from losscheck.rules.interface import Rule, RuleContext


class InsufficientData(Rule):
    code = "LC108"
    name = "insufficient-data"
    severity = "info"
    summary = "Too few points to judge the curve's shape; only unmistakable failures are reported."
    what = "The loss has too few finite points for trend models, change points or spike statistics."
    why = "Guessing on four points produces false alarms; saying so is more useful."
    fix = "Log the loss more often (HF `logging_steps`, Lightning `log_every_n_steps`) or wait for more steps."
    how = "Counts finite points of the training (or eval) loss against the analysis minimum."
    example = "only 5 finite loss points: no trend verdict"
    sources = ("Burnham & Anderson 2002 (AICc needs n well above the parameter count)",)

    def check(self, ctx: RuleContext) -> list:
        cur = main_curve(ctx.analysis)
        if cur is None or cur.klass != "insufficient":
            return []
        return [self.finding(f"only {cur.finite} finite {cur.role.replace('_', ' ')} point(s): no trend verdict",
                             role=cur.role, evidence={"finite_points": cur.finite, "points": cur.points})]


RULE = InsufficientData()

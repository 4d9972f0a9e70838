"""LC108 insufficient-data."""

from __future__ import annotations

from losscheck.rules._evidence import main_curve
from losscheck.rules.interface import Rule, RuleContext


class InsufficientData(Rule):
    code = "LC108"
    name = "insufficient-data"
    severity = "info"
    summary = "Too few points for the full analysis: a short-log call with low confidence, or none below 3 points."
    what = ("The loss has too few finite points for trend models, change points or spike statistics. From 3 "
            "points on, the class is the short-log call (a jump, a Mann-Kendall trend, or no trend); below 3, "
            "only unmistakable failures are reported.")
    why = ("A verdict on four points is weaker than one on four hundred; saying so, beside the best call, is "
           "more useful than refusing the log a user pasted.")
    fix = "Log the loss more often (HF `logging_steps`, Lightning `log_every_n_steps`) or wait for more steps."
    how = ("Counts finite points of the training (or eval) loss against the analysis minimum; the call itself is "
           "`losscheck.analysis.short.classify_short`.")
    example = "only 5 finite loss points: a short-log call (converging) with low confidence"
    sources = ("Burnham & Anderson 2002 (AICc needs n well above the parameter count)",)

    def check(self, ctx: RuleContext) -> list:
        cur = main_curve(ctx.analysis)
        if cur is None:
            return []
        short = cur.evidence.get("short_points")
        if cur.klass != "insufficient" and (short is None or cur.klass == "nan"):
            return []  # a NaN/Inf loss is unmistakable on any number of points
        what = "no trend verdict" if cur.klass == "insufficient" else \
            f"a short-log call ({cur.klass}) with low confidence"
        return [self.finding(f"only {cur.finite} finite {cur.role.replace('_', ' ')} point(s): {what}",
                             role=cur.role, evidence={"finite_points": cur.finite, "points": cur.points})]


RULE = InsufficientData()

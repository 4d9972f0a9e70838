"""LC107 overfitting."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext, threshold


#: An eval loss this far (relative) above its minimum at the end makes overfitting an error: the
#: final model is much worse than the best checkpoint (Prechelt's GL of 50, ten times the GL_5
#: stopping criterion he studied).
ERROR_RISE = 0.5


@dataclass(frozen=True)
class Options:
    """LC107's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    error_rise: float = threshold(ERROR_RISE, unit='fraction, 0-1',
        doc="An eval loss this far (relative) above its minimum at the end makes overfitting an error (Prechelt 1998's generalisation loss GL of 50%).")


class Overfitting(Rule[Options]):
    code = "LC107"
    name = "overfitting"
    severity = "warning"
    summary = ("The eval loss turned up and stays up while the training loss keeps falling "
               "(an error when it ends 50% or more above its minimum).")
    what = ("The eval loss reaches a minimum and then rises for several consecutive evaluations, beyond "
            "its noise, while the training loss keeps falling (a growing generalisation gap).")
    why = ("Every step after the eval minimum makes the model worse on unseen data; the final checkpoint "
           "is not the best one.")
    fix = ("Ranks `early_stop` (keep the checkpoint at the raw eval-loss minimum, with its step or epoch), then "
           "`regularize` and `more_data`. A warning by default; an error when the final eval loss is "
           "`error-rise` (50%) or more above its minimum.")
    how = ("Prechelt's generalisation loss GL = 100 (E_va / E_opt - 1) with a persistence requirement "
           "(consecutive evals above the minimum), so one noisy eval does not count.")
    example = "eval loss min 2.146 at step 1250, then up 129% to 4.92 while train loss fell 92%"
    sources = ("Prechelt 1998, Early stopping - but when?", "Goodfellow, Bengio & Courville 2016, sec. 7.8")
    Options = Options

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        of = ctx.analysis.overfit
        if of is None or ctx.analysis.primary != "overfitting" and "overfitting" not in ctx.analysis.secondary:
            return []
        best_step, best = of.best_step, of.best  # the raw minimum (losscheck.analysis)
        e = ctx.run.get("eval_loss")
        unit = "epoch" if e is not None and e.step_unit == "epoch" else "step"
        msg = (f"eval loss min {fmt(best)} at {unit} {best_step}, then up {of.rise * 100:.3g}% to "
               f"{fmt(of.last)} by the end ({of.persistence} consecutive evals above its minimum) while the "
               f"train loss changed {of.train_change * 100:+.3g}%")
        ev = {"best_step": best_step, "best": best, "last": of.last, "rise": of.rise,
              "persistence": of.persistence, "train_change": of.train_change}
        severe = of.rise >= cfg.error_rise
        votes = [RemedyVote("early_stop", 1.0, f"the best eval loss was at {unit} {best_step}",
                            {f"best_{unit}": best_step, "patience_evals": 3}),
                 RemedyVote("regularize", 0.7, "the train/eval gap keeps growing",
                            {"weight_decay": 0.1, "dropout": 0.1}),
                 RemedyVote("more_data", 0.6, "the model memorises the training set")]
        return [self.finding(msg, role="eval_loss", step=best_step, evidence=ev, remedies=votes,
                             severity="error" if severe else None)]


RULE = Overfitting()

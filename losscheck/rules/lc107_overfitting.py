"""LC107 overfitting."""

from __future__ import annotations

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext


class Overfitting(Rule):
    code = "LC107"
    name = "overfitting"
    severity = "warning"
    summary = "The eval loss turned up and stays up while the training loss keeps falling."
    what = ("The eval loss reaches a minimum and then rises for several consecutive evaluations, beyond "
            "its noise, while the training loss keeps falling (a growing generalisation gap).")
    why = ("Every step after the eval minimum makes the model worse on unseen data; the final checkpoint "
           "is not the best one.")
    fix = ("Ranks `early_stop` (keep the best-eval checkpoint, with the step), then `regularize` and "
           "`more_data`.")
    how = ("Prechelt's generalisation loss GL = 100 (E_va / E_opt - 1) with a persistence requirement "
           "(consecutive evals above the minimum), so one noisy eval does not count.")
    example = "eval loss min 2.146 at step 1250, then up 129% to 4.92 while train loss fell 92%"
    sources = ("Prechelt 1998, Early stopping - but when?", "Goodfellow, Bengio & Courville 2016, sec. 7.8")

    def check(self, ctx: RuleContext) -> list:
        of = ctx.analysis.overfit
        if of is None or ctx.analysis.primary != "overfitting" and "overfitting" not in ctx.analysis.secondary:
            return []
        msg = (f"eval loss min {fmt(of.best)} at step {of.best_step}, then up {of.rise * 100:.3g}% to "
               f"{fmt(of.last)} over {of.persistence} evals while the train loss changed "
               f"{of.train_change * 100:+.3g}%")
        ev = {"best_step": of.best_step, "best": of.best, "last": of.last, "rise": of.rise,
              "persistence": of.persistence, "train_change": of.train_change}
        votes = [RemedyVote("early_stop", 1.0, f"the best eval loss was at step {of.best_step}",
                            {"best_step": of.best_step, "patience_evals": 3,
                             "load_best_model_at_end": True}),
                 RemedyVote("regularize", 0.7, "the train/eval gap keeps growing",
                            {"weight_decay": 0.1, "dropout": 0.1}),
                 RemedyVote("more_data", 0.6, "the model memorises the training set")]
        return [self.finding(msg, role="eval_loss", step=of.best_step, evidence=ev, remedies=votes)]


RULE = Overfitting()

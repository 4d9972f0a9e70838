"""LC403 eval-below-train (the eval loss stays below the training loss)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.loss_levels import MIN_GAP
from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext, threshold

#: A median gap above this (and persistent) is "large": named as such, and votes for check_data.
LARGE_GAP = 0.2
#: Share of the second-half evals that must be below the training loss.
PERSISTENT_SHARE = 0.8
#: Evals needed in the second half of the run.
MIN_EVALS = 3


@dataclass(frozen=True)
class Options:
    """LC403's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    min_gap: float = threshold(MIN_GAP, unit='fraction, 0-1',
        doc='Relative gap (train - eval) / train that counts as below at one evaluation.')
    large_gap: float = threshold(LARGE_GAP, unit='fraction, 0-1',
        doc='A persistent median gap above this is large (named so, and votes for check_data).')
    persistent_share: float = threshold(PERSISTENT_SHARE,
        doc='Share of the second-half evaluations that must be below the training loss.')
    min_evals: float = threshold(MIN_EVALS,
        doc='Evaluations needed in the second half of the run.')


class EvalBelowTrain(Rule[Options]):
    code = "LC403"
    name = "eval-below-train"
    severity = "info"
    summary = "The eval loss stays below the training loss (train-mode dropout/BatchNorm, an epoch-averaged train loss, label noise, or leakage)."
    what = ("At the evaluations of the second half of the run, the eval loss is at least `min-gap` (5%) below "
            "the training loss at `persistent-share` (80%) or more of them (at least `min-evals` (3)). Always info: "
            "a gap above `large-gap` (20%) is named large and votes for checking the data, but the curves "
            "alone cannot tell leakage from label noise (see below); LC402 raises a warning for the "
            "unmistakable case, an eval loss collapsing towards 0.")
    why = ("A model should not do better on data it has not seen. Three benign effects make the eval loss "
           "lower, and they are the first thing to rule out: (1) regularisation active only in training "
           "(dropout, stochastic depth, label smoothing, augmentation) raises the training loss; (2) "
           "BatchNorm uses batch statistics in train mode and running statistics in eval mode; (3) the "
           "logged training loss is often an average over the epoch or logging interval, taken while the "
           "model was still improving, while the eval runs on the model at its end (Keras, Lightning's "
           "`*_epoch` metrics, HF's averaged `loss`), so it trails by about half an interval. A large gap "
           "can still be benign: (4) noisy labels in the training set only (the training loss floors at the "
           "noise entropy while the clean eval set keeps falling; in our fault-injection corpus, 20-40% "
           "label noise gave 33-75% gaps on healthy runs). Otherwise a large, persistent gap means leakage "
           "(the eval set overlaps the training set) or an easier eval set (another distribution, shorter "
           "sequences).")
    fix = ("For a large gap only: ranks `check_data` (look for train/eval overlap, label noise and a "
           "distribution shift) and, weaker, `normalization` (compare the training loss in eval mode: "
           "`model.eval()` on a training batch; with BatchNorm and small batches, consider GroupNorm/"
           "LayerNorm). A small gap gets no remedy vote.")
    how = ("Train level at each eval step: the median of the training losses logged since the previous eval "
           "(the last training loss at or before it when none). Gap = (train - eval) / train at each eval of "
           "the second half of the eval steps; persistent when >= 80% of them exceed 5%; reported gap = "
           "median." + " Measured once by the analysis (`losscheck.analysis.loss_levels.eval_gap`) and read from the run's facts.")
    example = "eval loss below the training loss at 4 of 4 evals in the second half (median gap 48%, e.g. 0.0668 vs 0.154 at step 8)"
    Options = Options
    sources = ("Srivastava et al. 2014, Dropout (training-time noise raises the training loss)",
               "Ioffe & Szegedy 2015, Batch normalization (train vs inference statistics)",
               "Kaufman et al. 2012, Leakage in data mining",
               "Keras FAQ: why is my training loss much higher than my testing loss?")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        g = ctx.analysis.facts.eval_gap  # losscheck.analysis.loss_levels.eval_gap
        if g is None:
            return []
        n2 = g.compared
        if n2 < cfg.min_evals:
            return []
        if g.share < cfg.persistent_share:
            return []
        med = g.median
        below, first_step, last = g.below, g.first_step, (g.last_step, g.last_train, g.last_eval)
        msg = (f"eval loss below the training loss at {below} of {n2} evals in the second half "
               f"(median gap {med * 100:.3g}%, e.g. {fmt(last[2])} vs {fmt(last[1])} at step {last[0]})")
        large = med > cfg.large_gap
        if large:
            msg += (": too large for dropout or an epoch-averaged training loss; label noise in the training set "
                    "or train/eval overlap")
        else:
            msg += ": dropout/BatchNorm train mode or an epoch-averaged training loss can explain it"
        ev = {"evals_compared": n2, "evals_below": below, "median_gap": med}
        votes = []
        if large:
            votes = [RemedyVote("check_data", 0.8, "an eval loss persistently far below the training loss: check "
                                "train/eval overlap, label noise in the training set, and whether the eval set "
                                "is easier"),
                     RemedyVote("normalization", 0.4, "compare the training loss in eval mode: dropout and "
                                "BatchNorm behave differently in training")]
        return [self.finding(msg, role="eval_loss", step=first_step, evidence=ev, remedies=votes)]


RULE = EvalBelowTrain()

"""LC401 loss-at-chance (the loss sits at ln C: the model predicts the uniform distribution)."""

from __future__ import annotations

from dataclasses import dataclass

import math

from losscheck.analysis.loss_levels import CHANCE_MIN_SHARE as MIN_SHARE
from losscheck.analysis.loss_levels import CHANCE_TOL
from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt, main_curve
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Closer than this (relative) to ln(C), on the median, means identical logits for every class.
EXACT_TOL = 1e-3


@dataclass(frozen=True)
class Options:
    """LC401's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    chance_tolerance: float = threshold(CHANCE_TOL, unit='fraction, 0-1',
        doc='Relative distance to ln(C) that counts as at chance.')
    min_share: float = threshold(MIN_SHARE,
        doc='The at-chance stretch must cover at least this share of the logged points and end the log.')


class LossAtChance(Rule[Options]):
    code = "LC401"
    name = "loss-at-chance"
    severity = "error"
    summary = "The loss sits at ln(C), the cross-entropy of a uniform guess over C classes."
    what = ("With C known (`num_classes` in the log's metadata, or `--num-classes`/an evident ln C found by "
            "the plateau analysis), the training or eval loss (5-point running median) stays within "
            "`chance-tolerance` (2%) of ln(C) over a stretch that reaches the end of the log and covers at "
            "least `min-share` (50%) of its points. Error when it has been there from the first logged point "
            "(never learned), warning when it arrived there later (a collapse to the uniform prediction). "
            "LC105 reports the flatness; this rule adds the chance-level evidence: how close to ln(C) "
            "(identical logits when within 0.1%), on which curves, and the accuracy against 1/C.")
    why = ("ln(C) is what a model that outputs p = 1/C for every class scores: it has learned nothing about "
           "the inputs (Goodfellow et al. 2016, sec. 6.2.2; Karpathy 2019: 'verify loss @ init'). Starting "
           "there is expected; staying there means inputs and labels are not paired (shuffled or misaligned "
           "labels), the graph is detached or frozen, or the output layer is dead. A loss within 0.1% of "
           "ln(C) means constant, equal logits (a zeroed/dead classifier head, a saturated activation), "
           "while a model that learned only the class prior scores that prior's entropy, at or below "
           "ln(C). Falling back to ln(C) after learning is a collapse (an LR or fp16 blow-up that zeroed "
           "the head).")
    fix = ("Ranks `check_labels` (overfit one batch: if the loss cannot leave ln C, inputs and labels are "
           "not paired) and `check_model` (requires_grad, the optimizer's param groups, the output layer); "
           "`check_model` weighs as much as `check_labels` when the loss is ln(C) to 0.1% (identical "
           "logits).")
    how = ("C from meta `num_classes`, else the plateau analysis' `chance_classes` (which uses "
           "`--num-classes`, or finds ln C evident for C in 2-5, 10, 100, 1000). For the training and the "
           "eval loss: 5-point running medians of the finite values; the at-chance stretch is the longest "
           "suffix within 2% (relative) of ln(C). Accuracy (if logged): the median of the last quarter, "
           "against 1/C." + " Measured once by the analysis (`losscheck.analysis.loss_levels.at_chance`) and read from the run's facts.")
    example = ("loss 1.3895 and eval loss 1.3863 sit at ln(4) = 1.3863 (0.23% and 2.7e-07% off) from step 50 "
               "to the end (62 logs); eval accuracy 0.27 vs chance 0.25; the eval loss is ln(4) to within "
               "0.1%: the model gives the same uniform output for every input")
    Options = Options
    sources = ("Goodfellow, Bengio & Courville 2016, Deep Learning, sec. 6.2.2",
               "Karpathy 2019, A recipe for training neural networks (verify loss @ init, overfit one batch)")

    def check(self, ctx: RuleContext) -> list:
        ch = ctx.analysis.facts.chance  # losscheck.analysis.loss_levels.at_chance
        if ch is None:
            return []
        c = ch.classes
        level = math.log(c)
        hits = {r: (h.start, h.from_start, h.median, h.points) for r, h in ch.hits.items()}
        if not hits:
            return []
        cur = main_curve(ctx.analysis)
        role = cur.role if cur is not None and cur.role in hits else next(iter(hits))
        start, from_start, _, _ = hits[role]
        names = " and ".join(f"{r.replace('_', ' ')} {h[2]:.4f}" for r, h in hits.items())
        offs = {r: abs(h[2] - level) / level for r, h in hits.items()}
        off_txt = " and ".join(f"{o * 100:.2g}%" for o in offs.values())
        msg = (f"{names} {'sit' if len(hits) > 1 else 'sits'} at ln({c}) = {level:.4f} ({off_txt} off) "
               f"from step {start} to the end ({hits[role][3]} logs)")
        exact_role = min(offs, key=offs.__getitem__)
        exact = offs[exact_role] <= EXACT_TOL
        ev = {"num_classes": c, "chance_level": level, "from_step": start, "from_start": from_start,
              "levels": {r: h[2] for r, h in hits.items()}, "identical_logits": exact}
        if ch.accuracy_role is not None:
            arole, acc = ch.accuracy_role, ch.accuracy
            msg += f"; {arole.replace('_', ' ')} {fmt(acc)} vs chance {fmt(1 / c)}"
            ev[arole] = acc
        if exact:
            msg += (f"; the {exact_role.replace('_', ' ')} is ln({c}) to within 0.1%: the model gives the same "
                    "uniform output for every input")
        elif not from_start:
            msg += ": it learned, then collapsed to the uniform prediction"
        votes = [RemedyVote("check_labels", 0.9, f"the loss never leaves ln({c}): check that inputs and labels "
                            "are paired (overfit one batch)"),
                 RemedyVote("check_model", 0.9 if exact else 0.7,
                            f"the loss is ln({c}) to 0.1%: the model outputs equal logits (dead or zeroed output "
                            "layer, detached graph)" if exact else "frozen parameters, a detached graph or a "
                            "dead output layer also keep the loss at chance")]
        return [self.finding(msg, role=role, step=start, evidence=ev, remedies=votes,
                             severity="error" if from_start else "warning")]


RULE = LossAtChance()

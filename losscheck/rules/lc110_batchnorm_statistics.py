"""LC110 batchnorm-statistics (an eval-loss jump from BatchNorm's running statistics)."""

from __future__ import annotations

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt, unit_word
from losscheck.rules.interface import Rule, RuleContext


class BatchNormStatistics(Rule):
    code = "LC110"
    name = "batchnorm-statistics"
    severity = "error"
    summary = ("The eval loss jumped while the training loss stayed fine, in a net with BatchNorm: its running "
               "statistics no longer match the data (a warning when the eval loss came back).")
    what = ("In a run whose tags or paths name BatchNorm or a BatchNorm architecture (ResNet, YOLO, EfficientNet, "
            "MobileNet...), the eval loss jumps 3x or more above its level before (and 5 noise SDs) while the "
            "training loss stays where it was. The evidence for BatchNorm is quoted in the message.")
    why = ("A BatchNorm layer trains with each batch's own mean and variance but evaluates with the running "
           "averages it kept. One batch far out of range (a corrupted record, a shard in other units) drags "
           "those averages off, and small or non-i.i.d. batches make them differ for good: the model you would "
           "deploy (eval mode) is broken while the training loss looks healthy. Reading it as overfitting "
           "(stop early, regularise) does not fix it.")
    fix = ("Ranks `normalization` first: a larger batch (32 or more per BatchNorm), frozen BatchNorm statistics "
           "when fine-tuning (BN layers in eval mode, `requires_grad=False` on their affine parameters), SyncBN "
           "across devices, or GroupNorm/LayerNorm; then `check_data`: look for the batch that corrupted the "
           "running statistics between the eval before the jump and the jump (an out-of-range record). An "
           "error while the eval loss stays 2x or more above its level before the jump; a warning when it came "
           "back.")
    how = ("`losscheck.analysis.batchnorm`: BatchNorm evidence from tag names and path components only; the jump "
           "as the first eval >= `jump-ratio` (3) times the median of the evals before it and >= `z-jump` (5) "
           "times their point-to-point noise (MAD of differences); the training loss's median after the eval "
           "before the jump rises at most `train-tolerance` (1.5x) over its last 20 points before it, or at most a "
           "quarter of the eval jump in log terms. Thresholds are fitted on the tune split by "
           "`benchmarks/fit_batchnorm.py`; configure them as `batchnorm-jump-ratio`, `batchnorm-z-jump`, "
           "`batchnorm-train-tolerance`.")
    example = ("eval loss jumped x142 at step 516 (0.0132 -> 1.87) while the training loss changed +8%, in a net "
               "with BatchNorm (path bn): BatchNorm's running statistics; it ends at 1.3")
    sources = ("Ioffe & Szegedy 2015, Batch normalization, sec. 3.1 (batch vs population statistics)",
               "Wu & He 2018, Group normalization (batch-size independence)",
               "Wu & Johnson 2021, Rethinking 'batch' in BatchNorm (train/inference discrepancy)",
               "seed case study (BatchNorm instability: larger batch, lower momentum, frozen BN, LayerNorm/GroupNorm)")

    def check(self, ctx: RuleContext) -> list:
        bn = ctx.analysis.batchnorm
        if bn is None:
            return []
        unit = unit_word(ctx, "eval_loss")
        proof = "; ".join(bn.evidence)
        msg = (f"eval loss jumped x{bn.jump_ratio:.3g} at {unit} {bn.onset_step} ({fmt(bn.eval_before)} -> "
               f"{fmt(bn.eval_jump)}) while the training loss changed {bn.train_change * 100:+.3g}%, in a net with "
               f"BatchNorm ({proof}): BatchNorm's running statistics; it ends at {fmt(bn.eval_last)}")
        if not bn.persists:
            msg += ", back near its level before"
        ev = {"onset_step": bn.onset_step, "before_step": bn.before_step, "eval_before": bn.eval_before,
              "eval_jump": bn.eval_jump, "eval_last": bn.eval_last, "jump_ratio": bn.jump_ratio,
              "train_change": bn.train_change, "persists": bn.persists, "batchnorm_evidence": proof}
        # the cause is named, so its remedy outranks the generic votes of the spike rules (LC103/LC104
        # word the same jump as an instability: check_data, rollback, grad_clip)
        votes = [RemedyVote("normalization", 1.6, "eval-mode BatchNorm uses running statistics the training "
                            "batches no longer match", {"batch_size_per_bn": 32, "freeze_bn_stats": True,
                                                        "alternative": "GroupNorm(32) or LayerNorm"}),
                 RemedyVote("check_data", 0.5, f"a batch between {unit} {bn.before_step} and {bn.onset_step} may "
                            "hold out-of-range records that dragged the running mean/variance off",
                            {f"inspect_{unit}s": [bn.before_step, bn.onset_step]})]
        return [self.finding(msg, role="eval_loss", step=bn.onset_step, evidence=ev, remedies=votes,
                             severity=None if bn.persists else "warning")]


RULE = BatchNormStatistics()

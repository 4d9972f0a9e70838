"""LC303 lr-zero (the LR is zero while training goes on)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.lr import ZeroOptions
from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Defaults of the zero-stretch measurement (:func:`losscheck.analysis.lr.zero_stretch`, where
#: ``ZERO_REL`` is documented): the zero stretch at the end must hold at least
#: ``MIN_ZERO_POINTS`` logged LR points and ``MIN_ZERO_FRACTION`` of the logged steps (a linear
#: decay to 0 logs 0.0 only at its final step); the loss counts as flat when the median of the
#: second half of the stretch is within ``FLAT_TOL`` of the median of its first half.
MIN_ZERO_POINTS = ZeroOptions.min_zero_points
MIN_ZERO_FRACTION = ZeroOptions.min_zero_fraction
FLAT_TOL = ZeroOptions.flat_tolerance


@dataclass(frozen=True)
class Options:
    """LC303's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    min_zero_points: float = threshold(MIN_ZERO_POINTS,
        doc='Logged LR points at exactly 0 needed (a linear decay to 0 logs 0.0 only at its last step).')
    min_zero_fraction: float = threshold(MIN_ZERO_FRACTION,
        doc='... covering at least this share of the logged steps.')
    flat_tolerance: float = threshold(FLAT_TOL, unit='fraction, 0-1',
        doc="The loss is flat over the zero-LR stretch when the median of its second half is within this relative distance of its first half's.")


class LRZero(Rule[Options]):
    code = "LC303"
    name = "lr-zero"
    severity = "error"
    summary = "The LR is zero for the whole run, or from some step on while training continues."
    what = ("Either every logged LR is <= 0, or the LR falls to zero (<= 1e-9 x its peak) and stays there "
            "for at least `min-zero-points` (3) logged points covering at least `min-zero-fraction` (5%) of "
            "the logged steps while the loss keeps being logged. The last point of a linear decay to 0 (HF "
            "`linear` schedule: exactly 0.0 at max_steps) is normal and does not count. Error when the loss "
            "is flat over the zero stretch (nothing is learned: wasted steps), warning when it still moves "
            "(the logged LR may be one param group's, or the log misreports it).")
    why = ("With LR = 0 the optimizer step changes nothing: every step is wasted compute. The usual causes: a "
           "scheduler whose total steps is shorter than the training (num_training_steps computed per epoch, "
           "per device or before gradient accumulation), a scheduler stepped once per micro-batch, a warmup "
           "that starts at 0 and never ramps (warmup longer than the run), or an LR of 0 in the config.")
    fix = ("Ranks `increase_lr` (check the scheduler's total steps and the optimizer's LR) and, when the LR "
           "reached zero before the end of training, `lr_schedule` (set the schedule length to the real "
           "number of optimizer steps).")
    how = ("Exact scan of the finite LR values: the zero stretch is the longest suffix at <= 1e-9 x peak "
           "(or every value <= 0). Flat loss: main curve class `plateau`, or over the zero stretch the "
           "median of the second half of the loss points is >= (1 - `flat-tolerance` (2%)) x the median of "
           "the first half. Zeros that are a fixed-decimal print rounding a small LR down (every LR a whole number "
           "of units of one last printed place, some printed with two or more digits in it, the last non-zero "
           "one unit: `0.00001` then `0.00000` under `%.5f`) are not a zero LR." + " Measured once by the analysis (`losscheck.analysis.lr.zero_stretch`) and read from the run's facts.")
    example = "LR is 0 from step 4000 to the end (1000 steps, 20% of the run) while training goes on; the loss is flat at 2.31"
    Options = Options
    sources = ("HF transformers get_linear_schedule_with_warmup (decays to 0 at num_training_steps)",
               "PyTorch torch.optim.lr_scheduler docs (scheduler.step() once per optimizer step)")

    def check(self, ctx: RuleContext) -> list:
        z = ctx.analysis.facts.lr_zero  # losscheck.analysis.lr.zero_stretch
        if z is None:
            return []
        whole, start, flat, end = z.whole, z.start, z.flat, z.end
        if whole:
            msg = f"LR is {fmt(z.peak) if z.peak else '0'} at all {z.lr_points} logged points: the weights cannot move"
        else:
            share = (end - start) / max(1, end - z.first)
            msg = (f"LR is 0 from step {start} to the end ({end - start} steps, {share * 100:.3g}% of the run) "
                   "while training goes on")
        if z.level is not None:
            msg += f"; the loss is flat at {fmt(z.level)}"
        ev = {"zero_from_step": start, "zero_points": z.points, "whole_run": bool(whole), "loss_flat": bool(flat)}
        votes = [RemedyVote("increase_lr", 1.0, "the LR is zero: check the configured LR and the scheduler; "
                            "no update can change the weights")]
        if not whole:
            votes.append(RemedyVote("lr_schedule", 0.7, f"the schedule reached 0 at step {start}, before training "
                                    "ended: set its total steps to the real number of optimizer steps (per epoch x "
                                    "epochs / gradient accumulation) and step it once per optimizer step",
                                    {"num_training_steps": end}))
        return [self.finding(msg, role="lr", step=start, evidence=ev, remedies=votes,
                             severity="error" if flat else "warning")]


RULE = LRZero()

"""LC303 lr-zero (the LR is zero while training goes on)."""

from __future__ import annotations

import numpy as np

from losscheck.model import RemedyVote
from losscheck.rules._evidence import finite_xy, fmt, main_curve
from losscheck.rules.interface import Rule, RuleContext

#: An LR at or below this fraction of its peak counts as zero (a cosine schedule's last logged
#: values are ~1e-3..1e-7 of the peak, still non-zero; an exact 0.0 is what a broken schedule gives).
ZERO_REL = 1e-9
#: The zero stretch at the end must hold at least this many logged LR points...
MIN_ZERO_POINTS = 3
#: ... and this share of the logged steps: a linear decay to 0 logs 0.0 only at its final step.
MIN_ZERO_FRACTION = 0.05
#: The loss counts as flat when the median of the second half of a span is within this share
#: of the median of its first half.
FLAT_TOL = 0.02


class LRZero(Rule):
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
           "the first half.")
    example = "LR is 0 from step 4000 to the end (1000 steps, 20% of the run) while training goes on; the loss is flat at 2.31"
    options = {"min-zero-points": MIN_ZERO_POINTS, "min-zero-fraction": MIN_ZERO_FRACTION, "flat-tolerance": FLAT_TOL}
    sources = ("HF transformers get_linear_schedule_with_warmup (decays to 0 at num_training_steps)",
               "PyTorch torch.optim.lr_scheduler docs (scheduler.step() once per optimizer step)")

    def _flat(self, ctx, steps, values, from_step) -> bool | None:
        """Whether the loss is flat from ``from_step``; ``None`` with too few points."""
        sel = values[steps >= from_step]
        if len(sel) < 4:
            return None
        h = len(sel) // 2
        a, b = float(np.median(sel[:h])), float(np.median(sel[h:]))
        return bool(b >= (1 - self.opt(ctx, "flat-tolerance")) * a)

    def check(self, ctx: RuleContext) -> list:
        lr = ctx.run.get("lr")
        s, v = finite_xy(lr)
        if len(v) < self.opt(ctx, "min-zero-points"):
            return []
        ls, lv = finite_xy(ctx.run.get("loss") or ctx.run.get("eval_loss"))
        cur = main_curve(ctx.analysis)
        peak = float(np.max(v))
        whole = peak <= 0
        if whole:
            start = int(s[0])
            zero_n = len(v)
        else:
            nz = np.flatnonzero(v > ZERO_REL * peak)
            last_nz = int(nz[-1])
            zero_n = len(v) - 1 - last_nz
            if zero_n < self.opt(ctx, "min-zero-points"):
                return []
            start = int(s[last_nz + 1])
            end = max(int(s[-1]), int(ls[-1]) if len(ls) else 0)
            first = min(int(s[0]), int(ls[0]) if len(ls) else int(s[0]))
            if end <= first or (end - start) < self.opt(ctx, "min-zero-fraction") * (end - first):
                return []
            # training must go on: the loss is logged past the zero onset
            if len(ls) and int(np.sum(ls > start)) < 2:
                return []
        flat = (cur is not None and cur.klass == "plateau") if whole else False
        f = self._flat(ctx, ls, lv, start) if len(lv) else None
        flat = flat or bool(f)
        end = max(int(s[-1]), int(ls[-1]) if len(ls) else int(s[-1]))
        if whole:
            msg = f"LR is {fmt(peak) if peak else '0'} at all {len(v)} logged points: the weights cannot move"
        else:
            first = min(int(s[0]), int(ls[0]) if len(ls) else int(s[0]))
            share = (end - start) / max(1, end - first)
            msg = (f"LR is 0 from step {start} to the end ({end - start} steps, {share * 100:.3g}% of the run) "
                   "while training goes on")
        if flat and len(lv):
            lvl = float(np.median(lv[ls >= start])) if np.any(ls >= start) else float(np.median(lv))
            msg += f"; the loss is flat at {fmt(lvl)}"
        ev = {"zero_from_step": start, "zero_points": int(zero_n), "whole_run": bool(whole), "loss_flat": bool(flat)}
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

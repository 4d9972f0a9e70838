"""LC302 lr-never-decays (the LR stays at its peak for the whole run)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.lr import AT_PEAK_SHARE as _AT_PEAK_SHARE
from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Runs shorter than this many steps are not told to decay (a decay matters over long runs).
MIN_RUN_STEPS = 2000
#: ... and, for logs in epochs, shorter than this many epochs.
MIN_RUN_EPOCHS = 20
#: At least this share of the logged LR points must sit at >= 90% of the peak.
AT_PEAK_SHARE = _AT_PEAK_SHARE
#: LR points needed to read a schedule.
MIN_LR_POINTS = 10


@dataclass(frozen=True)
class Options:
    """LC302's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    min_run_steps: float = threshold(MIN_RUN_STEPS,
        doc='Runs shorter than this are not told to decay.')
    min_run_epochs: float = threshold(MIN_RUN_EPOCHS,
        doc='... and, for logs in epochs, runs shorter than this.')
    at_peak_share: float = threshold(AT_PEAK_SHARE,
        doc='At least this share of the logged LR points must sit at >= 90% of the peak.')
    min_lr_points: float = threshold(MIN_LR_POINTS,
        doc='Logged LR points needed to read a schedule.')


class LRNeverDecays(Rule[Options]):
    code = "LC302"
    name = "lr-never-decays"
    severity = "info"
    summary = "The LR stays at its peak for the whole (long) run: no decay."
    what = ("In a run of at least `min-run-steps` (2000) steps (or `min-run-epochs` (20) epochs when logged "
            "per epoch), at least `at-peak-share` (90%) of the logged LR values are at >= 90% of the peak, "
            "the last LR is too, and the LR never falls below 50% of its peak (LR context `decays` is "
            "false). Always info: a constant LR is a legitimate choice (GANs, RL, continual training, a "
            "run that will be resumed with a decay), and short runs are skipped.")
    why = ("Decaying the LR towards the end of training (step, cosine or linear decay) lets SGD-type "
           "optimizers settle into a minimum instead of bouncing around it at the noise level the LR "
           "sets; it usually gives a clearly lower final loss (Loshchilov & Hutter 2017; Bottou 2012). A "
           "schedule that silently never steps (the scheduler created but `scheduler.step()` never called) "
           "looks exactly like this. When the loss has levelled off, the message says so: that is where "
           "a decay pays.")
    fix = ("Ranks `lr_schedule` (weakly, info) when the loss has levelled off: add a cosine or linear decay "
           "to ~10% of the peak, or check that the scheduler is stepped. No remedy vote while the loss "
           "still falls at the constant LR.")
    how = ("From the LR series (at least `min-lr-points` (10) finite values): share of finite points >= 0.9 x peak, last point >= 0.9 x peak, LR context "
           "`decays` false. Loss levelled off: the median of the last quarter of the training loss is within "
           "2% of the median of the quarter before. Measured once by the analysis "
           "(`losscheck.analysis.lr.lr_finite`, `losscheck.analysis.lr.loss_quarters`) and read from the run's facts.")
    example = "LR stays at its peak (0.0003) for the whole 3956-step run (no decay); the loss has levelled off at 0.2"
    Options = Options
    sources = ("Loshchilov & Hutter 2017, SGDR: stochastic gradient descent with warm restarts",
               "Bottou 2012, Stochastic gradient descent tricks", "HF transformers get_scheduler docs")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        lrc = ctx.analysis.lr
        lr = ctx.run.get("lr")
        lf = ctx.analysis.facts.lr_finite
        if lrc is None or lr is None or lf is None or lf.points < cfg.min_lr_points or lrc.decays \
                or not lrc.peak > 0:
            return []
        last = max(ctx.analysis.facts.last_step or 0, lf.last_step)
        span = last - min(lf.first_step, 0) if lr.step_unit == "epoch" else last
        need = cfg.min_run_epochs if lr.step_unit == "epoch" else cfg.min_run_steps
        if span < need:
            return []
        share = lf.at_peak_share
        if share < cfg.at_peak_share or lf.last < 0.9 * lrc.peak:
            return []
        unit = "epoch" if lr.step_unit == "epoch" else "step"
        msg = f"LR stays at its peak ({fmt(lrc.peak)}) for the whole {last}-{unit} run (no decay)"
        ev = {"peak_lr": lrc.peak, "final_lr": lf.last, "at_peak_share": round(share, 4), "run_steps": last}
        lq = ctx.analysis.facts.loss_quarters  # medians of the last two quarters of the loss
        if lq is not None:
            a, b = lq
            if a > 0 and b >= 0.98 * a:
                msg += f"; the loss has levelled off at {fmt(b)}"
                ev["loss_levelled_off"] = True
        votes = []
        if ev.get("loss_levelled_off"):
            votes.append(RemedyVote("lr_schedule", 0.5, "the loss levelled off at a constant LR: decay the LR "
                                    "(cosine or linear, to ~10% of the peak) so the last steps settle into the "
                                    "minimum", {"schedule": "cosine", "final_lr_ratio": 0.1}))
        return [self.finding(msg, role="lr", evidence=ev, remedies=votes)]


RULE = LRNeverDecays()

"""LC301 lr-no-warmup (the LR starts at its peak)."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from losscheck.analysis.lr import EARLY_FRACTION
from losscheck.model import EarlyTrouble, RemedyVote, Severity
from losscheck.remedies import nice_steps
from losscheck.rules._evidence import fmt, main_curve
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Runs shorter than this (in steps) are not told to warm up unless they blow up early: a few
#: hundred steps of fine-tuning at a modest LR rarely need it.
MIN_RUN_STEPS = 1000
#: The first logged LR must come within this share of the run: a log that starts later (an
#: excerpt, a resumed run, a coarse logging interval) cannot show whether there was a warmup.
MAX_FIRST_STEP_FRACTION = 0.02
#: LR points needed to read a schedule.
MIN_LR_POINTS = 5
#: Suggested warmup length, as a share of the planned run (max_steps) or of the logged run.
WARMUP_FRACTION = 0.03


@dataclass(frozen=True)
class Options:
    """LC301's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    min_run_steps: float = threshold(MIN_RUN_STEPS,
        doc='Runs shorter than this are not told to warm up unless they blow up early.')
    max_first_step_fraction: float = threshold(MAX_FIRST_STEP_FRACTION,
        doc='The first logged LR must come within this share of the run (an excerpt or a resumed run cannot show a warmup).')
    min_lr_points: float = threshold(MIN_LR_POINTS,
        doc='Logged LR points needed to read a schedule.')
    warmup_fraction: float = threshold(WARMUP_FRACTION,
        doc='Suggested warmup length, as a share of the planned (max_steps) or logged run.')
    early_fraction: float = threshold(EARLY_FRACTION,
        doc='A blow-up within this share of the run (or the first 100 steps) is early (seed case study).')


class LRNoWarmup(Rule[Options]):
    code = "LC301"
    name = "lr-no-warmup"
    severity = "info"
    summary = "The LR is at its peak from the first logged step: no warmup (a warning when the loss blows up early)."
    what = ("The learning rate is already at >= 90% of its peak at the first logged step (LR context "
            "`warmup_steps == 0`, read from at least `min-lr-points` (5) LR values), the log starts within the "
            "first `max-first-step-fraction` (2%) of the run, and the run is at least "
            "`min-run-steps` (1000) steps long. Info by default; a warning when the loss diverges or goes "
            "NaN early (within the first 100 steps or `early-fraction` (10%) of the run), whatever the "
            "run's length. Runs logged per epoch are skipped (a warmup inside the first epoch is invisible "
            "at that resolution), and so are runs whose metadata states a `warmup_steps` > 0.")
    why = ("At initialisation the gradients are large and Adam's second-moment estimates are based on few "
           "samples, so full-size updates in the first steps can push the model into a bad region or blow "
           "it up; a linear warmup keeps early updates small (Goyal et al. 2017; Liu et al. 2020 on Adam's "
           "early variance). Whether the peak LR is 'high' depends on the optimizer (SGD at 0.1 vs AdamW at "
           "1e-4), so the rule does not judge the value, only the missing ramp. Many healthy runs (short "
           "fine-tunes, SGD with a step schedule) train fine without warmup, hence info.")
    fix = ("Ranks `warmup` with a length of `warmup-fraction` (3%, within the usual 2-5%) of `max_steps` "
           "when the log states it, else of the logged run, when the missing warmup shows: as a warning "
           "(early blow-up, weight 0.3 x 2) or as info when the loss spiked or its running median rose 20% "
           "above its starting level early in the run (weight 0.6 x 1). Both add the same score (0.6), so an early blow-up "
           "keeps `lower_lr` first from LC101/LC102, which already vote for warmup. A stable run without "
           "warmup gets the info line and no remedy vote.")
    how = ("From the LR context (`losscheck.analysis.lr`): warmup_steps = steps from the first logged point "
           "to the first at >= 90% of the peak. First-step check: first LR step <= 2% of the last logged "
           "step. Early blow-up: the main loss curve is `diverging` or `nan` with an onset <= max(100, 10% "
           "of the last step), counted from step 0.")
    example = "LR at its peak (5e-05) from the first logged step (5) of an 8710-step run: no warmup"
    Options = Options
    sources = ("Goyal et al. 2017, Accurate, large minibatch SGD (gradual warmup)",
               "Liu et al. 2020, On the variance of the adaptive learning rate and beyond (RAdam)",
               "HF transformers get_linear_schedule_with_warmup / warmup_ratio docs")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        lrc = ctx.analysis.lr
        lr = ctx.run.get("lr")
        lf = ctx.analysis.facts.lr_finite
        if lrc is None or lr is None or lf is None or lf.points < cfg.min_lr_points \
                or lr.step_unit == "epoch":
            return []
        if lrc.warmup_steps != 0 or not lrc.peak > 0 or lf.first < 0.9 * lrc.peak:
            return []
        meta_warmup = ctx.run.data.meta.get("warmup_steps")
        if isinstance(meta_warmup, (int, float)) and meta_warmup > 0:
            return []
        last = ctx.analysis.facts.last_step or lf.last_step
        last = max(last, lf.last_step)
        if last <= 0 or lf.first_step > cfg.max_first_step_fraction * last:
            return []
        cur = main_curve(ctx.analysis)
        early = (cur is not None and cur.klass in ("diverging", "nan") and cur.onset_step is not None
                 and cur.onset_step <= max(100, cfg.early_fraction * last))
        if not early and last < cfg.min_run_steps:
            return []
        total = ctx.run.data.meta.get("max_steps")
        total = total if isinstance(total, (int, float)) and total > 0 else last
        warm = nice_steps(cfg.warmup_fraction * total)
        msg = (f"LR at its peak ({fmt(lrc.peak)}) from the first logged step ({lf.first_step}) of a {last}-step run: "
               "no warmup")
        ev: dict[str, Any] = {"peak_lr": lrc.peak, "first_lr": lf.first, "first_step": lf.first_step, "run_steps": last,
              "early_blowup": bool(early)}
        severity: Severity | None = None
        if early and cur is not None:
            what = "diverges" if cur.klass == "diverging" else "goes non-finite"
            msg += f"; the {cur.role.replace('_', ' ')} {what} from step {cur.onset_step}, early in the run"
            ev["onset_step"] = cur.onset_step
            severity = "warning"
        unstable = None if early else _early_instability(ctx.analysis.facts.early_trouble)
        if unstable:
            msg += f"; {unstable}"
            ev["early_instability"] = unstable
        votes = []
        if early or unstable:
            votes.append(RemedyVote("warmup", 0.3 if early else 0.6,
                                    f"warm the LR up over the first ~{warm} steps "
                                    f"({cfg.warmup_fraction * 100:.3g}% of the run) instead of "
                                    "starting at the peak",
                                    {"warmup_steps": warm, "warmup_ratio": cfg.warmup_fraction}))
        return [self.finding(msg, role="lr", step=lf.first_step, evidence=ev, remedies=votes, severity=severity)]


def _early_instability(t: EarlyTrouble | None) -> str | None:
    """A sentence for the trouble the loss showed early on (measured by
    :func:`losscheck.analysis.lr.early_trouble`: a spike, or a running median 20% above its first
    window's), else ``None``."""
    if t is None:
        return None
    if t.spike_step is not None:
        return f"the loss spiked at step {t.spike_step}, early in the run"
    if t.rise_ratio is not None:
        return f"the loss rose to x{t.rise_ratio:.3g} its starting level by step {t.rise_step}"
    return None


RULE = LRNoWarmup()

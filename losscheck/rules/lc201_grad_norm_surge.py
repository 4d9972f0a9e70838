"""LC201 grad-norm-surge (the grad norm rose before the loss blew up)."""

from __future__ import annotations

import numpy as np

from losscheck.model import RemedyVote
from losscheck.remedies import clip_threshold
from losscheck.rules._evidence import finite_xy, fmt, lr_votes_settings, main_curve, onset_context
from losscheck.rules.interface import Rule, RuleContext

#: The grad norm counts as surging at this multiple of its healthy level: a healthy grad
#: norm wanders within ~x2 of its median in the logs we checked; x3 is outside that band.
SURGE_RATIO = 3.0
#: ... for this many consecutive logged points (one outlier batch is LC103/LC104's business).
SUSTAIN_POINTS = 3
#: Points needed before a candidate surge to call the level "healthy".
MIN_HEALTHY_POINTS = 5

#: The surge must start at least this many logged grad-norm points before the loss event: a
#: grad norm that jumps at the same logged step as the loss (one bad batch) is no precursor.
MIN_LEAD_POINTS = 2

#: The surge must start within this share of the logged span before the loss event (the last
#: half): per-step grad norms drift up over healthy training, and a level crossed long before the
#: blow-up explains nothing about it.
MAX_LEAD_FRACTION = 0.5

#: Loss classes that count as a blow-up the grad norm can precede.
BLOWUPS = ("diverging", "nan", "spiking")


class GradNormSurge(Rule):
    code = "LC201"
    name = "grad-norm-surge"
    severity = "warning"
    summary = "The grad norm surged (x3 over its healthy level, sustained) before the loss blew up."
    what = ("The gradient norm rises to at least `surge-ratio` (3) times its healthy level (the lowest "
            "5-point running median before it), and stays there for `sustain-points` (3) consecutive logged points, strictly "
            "before the onset of a loss divergence, a NaN loss or a loss spike. Reports the surge step, the "
            "lead time in steps, and the healthy level. It only fires together with such a loss event: a "
            "grad norm that falls, or is noisy, in a run whose loss is fine is not reported, and neither is one "
            "that the grad-norm curve analysis classes as healthy (converging, plateau, oscillating).")
    why = ("The grad norm is the early-warning signal of an instability: the update size grows before the "
           "loss does (Wortsman et al. 2023 track it as the precursor of loss spikes; Pascanu et al. 2013 "
           "show exploding gradients as sudden norm jumps). The lead time is how much earlier an alert on "
           "the grad norm (or a clip) would have acted, and it says the blow-up started in the optimizer "
           "updates, not in one bad batch.")
    fix = ("Ranks `grad_clip` with a threshold at the 90th percentile of the grad norms before the surge "
           "(`losscheck.remedies.clip_threshold`), and `lower_lr` slightly below it: the weights (0.8 and "
           "0.6) are chosen so that, together with LC101's votes, `lower_lr` stays first when the loss "
           "diverged as the LR peaked and `grad_clip` comes next. To act early, alert when the grad norm "
           "exceeds 3x its running median.")
    how = ("Finite grad norms only. Candidates i lie in the last `max-lead-fraction` (50%) of the logged "
           "span before the loss event (grad norms drift up over healthy training: a level reached long "
           "before the blow-up is no precursor). The healthy level before i is the lowest trailing median of "
           "max(`min-healthy-points` (5), 10% of the points before the loss event) consecutive grad norms, "
           "over the windows that end between the start of that region and i (a robust level, Hampel 1974, taken at "
           "the floor because early grad norms are often high and fall first; a slow rise still crosses x3 "
           "that floor). The surge is the first i whose next "
           "`sustain-points` values (they may run past the loss event; fewer, but at least 2, only where the log ends) are all >= "
           "`surge-ratio` x that level, and so is the median of the next window of points, with at least `min-lead-points` (2) logged grad norms from i to before the loss onset (the change "
           "point of the loss curve analysis, or the first spike). Lead = loss onset - surge step. (LC101's "
           "'surged N steps earlier' counts from the grad norm's own change point, where the rise starts; "
           "this rule counts from where it crosses x3.)")
    example = ("grad norm above x3 its healthy level 0.0966 from step 38 (x4.96 by step 50), 12 steps "
               "before the loss diverged at step 50")
    options = {"surge-ratio": SURGE_RATIO, "sustain-points": SUSTAIN_POINTS,
               "min-healthy-points": MIN_HEALTHY_POINTS, "min-lead-points": MIN_LEAD_POINTS,
               "max-lead-fraction": MAX_LEAD_FRACTION}
    sources = ("Wortsman et al. 2023, Small-scale proxies for large-scale Transformer training instabilities",
               "Pascanu, Mikolov & Bengio 2013, On the difficulty of training RNNs",
               "Hampel 1974 (median as a robust level)")

    def check(self, ctx: RuleContext) -> list:
        cur = main_curve(ctx.analysis)
        if cur is None or cur.klass not in BLOWUPS or cur.onset_step is None:
            return []
        event = int(cur.onset_step)
        if cur.klass == "spiking" and cur.spikes:
            event = min(event, min(s.step for s in cur.spikes))
        g = ctx.analysis.curves.get("grad_norm")
        if g is None or g.klass not in BLOWUPS:
            return []  # the grad-norm analysis sees a healthy (falling, noisy or flat) curve
        gs, gv = finite_xy(ctx.run.get("grad_norm"))
        gs, gv = gs[gv >= 0], gv[gv >= 0]
        ratio_min = self.opt(ctx, "surge-ratio")
        sustain = max(1, int(self.opt(ctx, "sustain-points")))
        min_pre = max(2, int(self.opt(ctx, "min-healthy-points")))
        min_lead = max(1, int(self.opt(ctx, "min-lead-points")))
        n_before = int(np.sum(gs < event))
        if n_before < min_pre + min_lead:
            return []
        # trailing medians over w points; the healthy level before point i is the lowest of them
        # (the grad norm's floor: early grad norms are often high and fall first)
        w = max(min_pre, n_before // 10)  # wider windows on long logs: per-step grad norms are noisy
        roll = np.array([np.median(gv[k - w + 1:k + 1]) for k in range(w - 1, n_before)])
        # the surge must start in the last `max-lead-fraction` of the span before the event, and
        # its healthy level is measured from just before that region: grad norms drift up over
        # healthy training, and a level reached long before the blow-up explains nothing about it
        region = event - self.opt(ctx, "max-lead-fraction") * max(1, event - int(gs[0]))
        i0 = max(w, int(np.searchsorted(gs, region, side="left")))
        lo = max(0, i0 - w)  # rolling medians ending at index >= i0 - 1
        surge = None
        for i in range(i0, n_before - min_lead + 1):
            base = float(np.min(roll[lo:i - w + 1]))
            if not base > 0:
                continue
            # sustained: the next `sustain` points (they may run past the loss event; only the
            # surge's start must precede it by `min-lead-points` logged points)
            window = gv[i:i + sustain]
            if len(window) < min(sustain, 2):
                continue
            # ... and at the smoothing scale: the median of the next w points too (noisy per-step
            # norms put 3 points in a row above x3 by chance on long logs)
            if np.all(window >= ratio_min * base) and float(np.median(gv[i:i + w])) >= ratio_min * base:
                surge = (i, base)
                break
        if surge is None:
            return []
        i, base = surge
        step = int(gs[i])
        lead = event - step
        peak_pre = float(np.max(gv[i:][gs[i:] <= event])) if np.any(gs[i:] <= event) else float(gv[i])
        ratio = peak_pre / base
        what = {"diverging": "diverged", "nan": "went non-finite", "spiking": "spiked"}[cur.klass]
        msg = (f"grad norm above x{fmt(ratio_min)} its healthy level {fmt(base)} from step {step} "
               f"(x{ratio:.3g} by step {event}), {lead} steps before the {cur.role.replace('_', ' ')} "
               f"{what} at step {event}")
        clip = clip_threshold(ctx.run.get("grad_norm"), step)
        oc = onset_context(ctx.run, ctx.analysis, event)
        ev = {"surge_step": step, "loss_event_step": event, "lead_steps": lead, "healthy_median": base,
              "ratio": ratio, "loss_class": cur.klass}
        votes = [RemedyVote("grad_clip", 0.8, f"the grad norm surged {lead} steps before the loss: a clip at "
                            f"{fmt(clip or 1.0)} would have capped those updates", {"max_grad_norm": clip or 1.0}),
                 RemedyVote("lower_lr", 0.6, "growing updates before the loss blew up: the LR is at the edge of "
                            "stability", lr_votes_settings(oc))]
        return [self.finding(msg, role="grad_norm", step=step, evidence=ev, remedies=votes)]


RULE = GradNormSurge()

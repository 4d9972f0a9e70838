"""LC304 lr-warm-restarts (SGDR-style LR restarts, which explain loss bumps)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.lr import BUMP_RATIO, BUMP_WINDOW
from losscheck.model import RemedyVote
from losscheck.rules.interface import Rule, RuleContext, threshold


@dataclass(frozen=True)
class Options:
    """LC304's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    bump_ratio: float = threshold(BUMP_RATIO, unit='ratio, x',
        doc='A loss median after a restart this many times the median before it is a bump.')
    bump_window: float = threshold(BUMP_WINDOW, unit='points',
        doc='Logged points on each side of a restart used for the bump medians.')


class LRWarmRestarts(Rule[Options]):
    code = "LC304"
    name = "lr-warm-restarts"
    severity = "info"
    summary = "The LR jumps back up after decaying (SGDR warm restarts): expect a loss bump after each."
    what = ("The learning rate decays below 50% of its running peak and then climbs back to more than twice "
            "its low and more than 50% of that peak: a warm restart (SGDR, cosine with restarts, one-cycle "
            "repeated, or a resumed run whose scheduler was reset). Lists the restart steps and whether the "
            "loss bumped up after them (median of the `bump-window` (3) points after >= `bump-ratio` (1.1) x "
            "the median of the points before).")
    why = ("A warm restart deliberately raises the LR, so the loss rises for a while before falling lower "
           "(Loshchilov & Hutter 2017): those bumps are not instabilities. Knowing where the restarts are "
           "explains spikes and sawtooth patterns in the loss. An *unintended* restart (a resumed run that "
           "re-created its scheduler, a scheduler stepped per epoch with the wrong period) costs progress.")
    fix = ("Nothing when restarts are intended. When the loss bumped after a restart, a weak `lr_schedule` "
           "vote: if the restarts are not intended, check the scheduler state on resume and its period.")
    how = ("Scan of the finite LR values with the same rule as the analysis' restart count "
           "(`losscheck.analysis.lr.restart_steps`, kept in the analysis' LR context): a climb to > 2x the running low and > 50% of the previous "
           "peak after the LR fell below 50% of that peak; a warmup from ~0 is not a restart. Loss bumps: "
           "medians of up to 3 finite loss points on each side of the restart step.")
    example = "3 LR warm restarts (at steps 2000, 6000, 14000); the loss bumped up after 2 of them (largest x1.4 at step 2000)"
    Options = Options
    sources = ("Loshchilov & Hutter 2017, SGDR: stochastic gradient descent with warm restarts",
               "PyTorch CosineAnnealingWarmRestarts docs")

    def check(self, ctx: RuleContext) -> list:
        rs = ctx.analysis.lr.restart_steps if ctx.analysis.lr is not None else []
        if not rs:
            return []
        bumps = ctx.analysis.facts.restart_bumps  # losscheck.analysis.lr.restart_bumps
        shown = ", ".join(str(r) for r in rs[:6]) + (", ..." if len(rs) > 6 else "")
        msg = f"{len(rs)} LR warm restart(s) (at step(s) {shown})"
        ev = {"restarts": len(rs), "restart_steps": rs[:50], "loss_bumps": len(bumps)}
        votes = []
        if bumps:
            top = max(bumps, key=lambda x: x[1])
            msg += f"; the loss bumped up after {len(bumps)} of them (largest x{top[1]:.3g} at step {top[0]})"
            ev["largest_bump"] = {"step": top[0], "ratio": top[1]}
            votes.append(RemedyVote("lr_schedule", 0.2, "loss bumps follow the LR restarts: if they are not "
                                    "intended, check the scheduler's period and its state on resume"))
        else:
            msg += "; the loss did not bump after them"
        return [self.finding(msg, role="lr", step=rs[0], evidence=ev, remedies=votes)]


RULE = LRWarmRestarts()

"""LC501 stalled-run (a long gap in wall-clock time between logged points)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.timing import GAP_FACTOR, MIN_GAP_SECONDS
from losscheck.analysis.timing import STALL_MIN_POINTS as MIN_POINTS
from losscheck.rules.interface import Rule, RuleContext, threshold

#: A single stall followed by at least this many logged points is "recovered" (info).
RESUMED_POINTS = 3


def _dur(sec: float) -> str:
    """``42 min``, ``3.5 h``."""
    if sec >= 5400:
        return f"{sec / 3600:.2g} h"
    return f"{sec / 60:.0f} min"


@dataclass(frozen=True)
class Options:
    """LC501's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    gap_factor: float = threshold(GAP_FACTOR,
        doc='A gap between logged points this many times the median gap is a stall...')
    min_gap_seconds: float = threshold(MIN_GAP_SECONDS,
        doc='... and at least this long (longer than a typical eval or checkpoint save).')
    min_points: float = threshold(MIN_POINTS,
        doc='Points with a wall time needed to have a median gap.')


class StalledRun(Rule[Options]):
    code = "LC501"
    name = "stalled-run"
    severity = "warning"
    summary = "Logging stopped for a long time mid-run (a hang, a dataloader stall or a preemption)."
    what = ("With wall-clock times logged, a gap between consecutive logged points of at least "
            "max(`gap-factor` (20) x the median gap, `min-gap-seconds` (600 s)). Info when it happened once "
            "and the run went on for at least 3 more logged points; a warning when it happened more than "
            "once, or when the log ends right after it (the run may still be hanging).")
    why = ("Time between log lines is training time: a stall of hours costs as much GPU time as that many "
           "hours of training and does not show in the loss curve at all. Causes: a deadlocked dataloader "
           "worker or NCCL collective, a slow or full filesystem at checkpoint time, a job preempted and "
           "resumed, an eval or checkpoint far slower than expected.")
    fix = ("No remedy from the catalogue (the loss is not at fault): check the job scheduler's events "
           "(preemption), the dataloader (num_workers, timeout=), NCCL_TIMEOUT / NCCL_DEBUG=INFO for hangs, "
           "and the checkpoint storage.")
    how = ("Wall times of the series with the most timestamps (training loss first), points whose clock "
           "goes backwards dropped; gaps = differences of consecutive wall times; median over all gaps. "
           "Needs `min-points` (10) timestamps. The first gap is ignored (start-up, compilation)."
           " Measured once by the analysis (`losscheck.analysis.timing.stalls`) and read from the run's facts.")
    example = "logging stopped for 3.1 h after step 4000 (median gap 12 s, x930); the run continued afterwards"
    Options = Options
    sources = ("PyTorch DataLoader docs (timeout, num_workers)", "NCCL environment variables docs (NCCL_TIMEOUT)")

    def check(self, ctx: RuleContext) -> list:
        st = ctx.analysis.facts.stalls  # losscheck.analysis.timing.stalls
        if st is None:
            return []
        n, after, med = len(st.steps), st.after, st.median
        resumed = n == 1 and after >= RESUMED_POINTS
        if n == 1:
            msg = (f"logging stopped for {_dur(st.longest)} after step {st.longest_step} (median gap "
                   f"{med:.3g} s, x{st.longest / med:.3g})")
        else:
            msg = (f"logging stopped {n} times for {_dur(st.lost)} in total (longest {_dur(st.longest)} "
                   f"after step {st.longest_step}; median gap {med:.3g} s)")
        msg += "; the run continued afterwards" if after >= RESUMED_POINTS else "; the log ends right after it"
        ev = {"stalls": n, "longest_seconds": st.longest, "after_step": st.longest_step,
              "median_gap_seconds": med, "lost_seconds": st.lost, "stall_steps": st.steps[:20]}
        return [self.finding(msg, step=st.longest_step, evidence=ev, severity="info" if resumed else None)]


RULE = StalledRun()

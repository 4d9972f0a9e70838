"""LC502 throughput-regression (steps get slower over the run)."""

from __future__ import annotations

from dataclasses import dataclass

from losscheck.analysis.timing import MIN_INTERVALS, SKIP_POINTS, STALL_FACTOR
from losscheck.rules._evidence import unit_word
from losscheck.rules.interface import Rule, RuleContext, threshold

#: Last-quarter seconds per step at least this many times the first quarter's is a regression.
SLOWDOWN = 1.5
#: SKIP_POINTS, MIN_INTERVALS and STALL_FACTOR are documented where the seconds per step are
#: measured (:mod:`losscheck.analysis.timing`).
__all__ = ["MIN_INTERVALS", "RULE", "SKIP_POINTS", "SLOWDOWN", "STALL_FACTOR"]


@dataclass(frozen=True)
class Options:
    """LC502's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    slowdown: float = threshold(SLOWDOWN, unit='ratio, x',
        doc="Last-quarter seconds per step at least this many times the first quarter's is a regression.")
    skip_points: float = threshold(SKIP_POINTS,
        doc='Logged points skipped at the start (compilation, autotuning, cache warm-up).')
    min_intervals: float = threshold(MIN_INTERVALS,
        doc='Timed intervals needed after the skipped points (3 per quarter at least).')


class ThroughputRegression(Rule[Options]):
    code = "LC502"
    name = "throughput-regression"
    severity = "warning"
    summary = "Training slowed down: seconds per step in the last quarter >= 1.5x the first quarter's."
    what = ("With wall-clock times logged, the median wall time per step over the last quarter of the "
            "logged intervals is at least `slowdown` (1.5) times the median over the first quarter, after "
            "skipping the first `skip-points` (3) points. Stalls (intervals >= 20x the median, LC501) are "
            "left out.")
    why = ("A run whose steps get steadily slower is usually leaking: host memory growing (tensors kept in "
           "a Python list, `loss` accumulated without `.item()`), GPU memory fragmentation forcing cache "
           "flushes, a dataloader that slows down (growing caches, a filesystem under load), or an eval/"
           "logging cost that grows with the run. It extends the run's cost and often ends in an OOM.")
    fix = ("No remedy from the catalogue (the loss is not at fault): profile a late step against an early "
           "one (torch.profiler), watch host and GPU memory over the run, accumulate metrics with .item() / "
           ".detach(), and check dataloader worker memory.")
    how = ("Wall times of the series with the most timestamps; per-interval seconds per step = "
           "Δwall / Δstep; intervals of >= 20x the median removed; the remaining intervals after the first "
           "3 points are split in quarters and their medians compared. Needs `min-intervals` (12)."
           " Measured once by the analysis (`losscheck.analysis.timing.throughput`) and read from the run's facts.")
    example = "seconds per step rose x2.1 from 0.35 s (first quarter) to 0.74 s (last quarter)"
    Options = Options
    sources = ("PyTorch FAQ: my model reports 'cuda runtime error(2): out of memory' (accumulating history)",
               "PyTorch torch.profiler docs")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        tp = ctx.analysis.facts.throughput  # losscheck.analysis.timing.throughput
        if tp is None:
            return []
        first, last = tp.first, tp.last
        if not first > 0 or last < cfg.slowdown * first:
            return []
        unit = unit_word(ctx.run)
        msg = (f"seconds per {unit} rose x{last / first:.3g} from {first:.3g} s (first quarter) to {last:.3g} s "
               "(last quarter)")
        ev = {"first_quarter_seconds_per_step": first, "last_quarter_seconds_per_step": last,
              "ratio": last / first, "intervals": tp.intervals}
        return [self.finding(msg, evidence=ev)]


RULE = ThroughputRegression()

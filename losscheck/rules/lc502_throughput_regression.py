"""LC502 throughput-regression (steps get slower over the run)."""

from __future__ import annotations

import numpy as np

from losscheck.rules._evidence import unit_word
from losscheck.rules.interface import Rule, RuleContext

#: Last-quarter seconds per step at least this many times the first quarter's is a regression.
SLOWDOWN = 1.5
#: Logged points skipped at the start (compilation, cudnn autotuning, cache warm-up).
SKIP_POINTS = 3
#: Timed intervals needed after the skipped points (3 per quarter at least).
MIN_INTERVALS = 12
#: Intervals this many times the median are stalls (LC501) and left out of the per-step times.
STALL_FACTOR = 20.0


class ThroughputRegression(Rule):
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
           "3 points are split in quarters and their medians compared. Needs `min-intervals` (12).")
    example = "seconds per step rose x2.1 from 0.35 s (first quarter) to 0.74 s (last quarter)"
    options = {"slowdown": SLOWDOWN, "skip-points": SKIP_POINTS, "min-intervals": MIN_INTERVALS}
    sources = ("PyTorch FAQ: my model reports 'cuda runtime error(2): out of memory' (accumulating history)",
               "PyTorch torch.profiler docs")

    def check(self, ctx: RuleContext) -> list:
        wc = ctx.wall_clock
        if wc is None:
            return []
        steps, w = wc
        k = max(0, int(self.opt(ctx, "skip-points")))
        steps, w = steps[k:], w[k:]
        if len(w) < 2:
            return []
        dt, ds = np.diff(w), np.diff(steps).astype(np.float64)
        ok = (ds > 0) & (dt >= 0)
        dt, ds = dt[ok], ds[ok]
        if len(dt) < self.opt(ctx, "min-intervals"):
            return []
        med = float(np.median(dt))
        keep = dt < STALL_FACTOR * med if med > 0 else np.ones(len(dt), dtype=bool)
        sps = (dt / ds)[keep]
        if len(sps) < self.opt(ctx, "min-intervals"):
            return []
        q = len(sps) // 4
        first, last = float(np.median(sps[:q])), float(np.median(sps[-q:]))
        if not first > 0 or last < self.opt(ctx, "slowdown") * first:
            return []
        unit = unit_word(ctx.run)
        msg = (f"seconds per {unit} rose x{last / first:.3g} from {first:.3g} s (first quarter) to {last:.3g} s "
               "(last quarter)")
        ev = {"first_quarter_seconds_per_step": first, "last_quarter_seconds_per_step": last,
              "ratio": last / first, "intervals": int(len(sps))}
        return [self.finding(msg, evidence=ev)]


RULE = ThroughputRegression()

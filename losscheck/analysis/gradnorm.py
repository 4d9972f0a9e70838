"""Grad-norm facts: a sustained surge before a loss blow-up (rule LC201) and the share of
clipped steps (rule LC203).

Surge (Wortsman et al. 2023 track the grad norm as the precursor of loss spikes; Pascanu et
al. 2013 show exploding gradients as sudden norm jumps). Finite, non-negative grad norms
``gs`` (int64 (n,), steps) and ``gv`` (float64 (n,)). Candidates i lie in the last
``max-lead-fraction`` (50%) of the logged span before the loss event (grad norms drift up
over healthy training: a level reached long before the blow-up is no precursor). The healthy
level before i is the lowest trailing median of w = max(``min-healthy-points`` (5), 10% of
the points before the event) consecutive grad norms (a robust level, Hampel 1974, taken at
the floor because early grad norms are often high and fall first). The surge is the first i
whose next ``sustain-points`` (3) values are all >= ``surge-ratio`` (3) x that level (a
healthy grad norm wanders within ~x2 of its median in the logs we checked; x3 is outside that
band), and so is the median of the next w points, with at least ``min-lead-points`` (2)
logged grad norms from i to before the event.

Clip saturation (Pascanu et al. 2013; Zhang et al. 2020, clipped GD as normalised GD): the
threshold is the log's ``max_grad_norm``, else the maximum when at least ``ceiling-share``
(20%, and 5) of the values equal it within :data:`CLIP_TOL` (a post-clip log).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from losscheck.analysis.evidence import clip_threshold, finite_xy
from losscheck.model import ClipStats, CurveAnalysis, GradSurge, ResolvedRun


@dataclass
class SurgeOptions:
    """Thresholds of :func:`detect_surge` (kebab-case names in LC201's ``options``)."""

    #: x3 the healthy level (a healthy grad norm wanders within ~x2 of its median)
    surge_ratio: float = 3.0
    #: ... for this many consecutive logged points (one outlier batch is LC103/LC104's business)
    sustain_points: float = 3
    #: points needed before a candidate surge to call the level "healthy"
    min_healthy_points: float = 5
    #: the surge starts at least this many logged grad-norm points before the loss event
    min_lead_points: float = 2
    #: ... and within this share of the logged span before it (the last half)
    max_lead_fraction: float = 0.5

    @classmethod
    def from_thresholds(cls, th: Mapping[str, float]) -> "SurgeOptions":
        """From the configured thresholds (kebab-case names), defaults for the others."""
        d = cls()
        return cls(th.get("surge-ratio", d.surge_ratio), th.get("sustain-points", d.sustain_points),
                   th.get("min-healthy-points", d.min_healthy_points), th.get("min-lead-points", d.min_lead_points),
                   th.get("max-lead-fraction", d.max_lead_fraction))


#: Loss classes that count as a blow-up the grad norm can precede.
BLOWUPS = ("diverging", "nan", "spiking")


def loss_event(cur: CurveAnalysis | None) -> int | None:
    """The loss event a grad-norm surge may precede: the onset of a diverging, NaN or spiking
    curve (for a spiking one, its first spike when earlier); ``None`` otherwise."""
    if cur is None or cur.klass not in BLOWUPS or cur.onset_step is None:
        return None
    event = int(cur.onset_step)
    if cur.klass == "spiking" and cur.spikes:
        event = min(event, min(s.step for s in cur.spikes))
    return event


def detect_surge(run: ResolvedRun, cur: CurveAnalysis | None, grad: CurveAnalysis | None,
                 opts: SurgeOptions) -> GradSurge | None:
    """The first sustained grad-norm surge before the loss event of ``cur`` (module doc), or
    ``None``. ``grad`` is the grad-norm curve's analysis: a curve it classes healthy
    (converging, plateau, oscillating) has no surge. Cost: O(n log w) for the trailing medians."""
    event = loss_event(cur)
    if cur is None or event is None or grad is None or grad.klass not in BLOWUPS:
        return None
    gs, gv = finite_xy(run.get("grad_norm"))
    gs, gv = gs[gv >= 0], gv[gv >= 0]
    ratio_min = opts.surge_ratio
    sustain = max(1, int(opts.sustain_points))
    min_pre = max(2, int(opts.min_healthy_points))
    min_lead = max(1, int(opts.min_lead_points))
    n_before = int(np.sum(gs < event))
    if n_before < min_pre + min_lead:
        return None
    # trailing medians over w points; the healthy level before point i is the lowest of them
    # (the grad norm's floor: early grad norms are often high and fall first)
    w = max(min_pre, n_before // 10)  # wider windows on long logs: per-step grad norms are noisy
    # (bottleneck's running median, O(n log w); a list of np.median calls was O(n w) = O(n^2 / 10),
    # 10 s at 76,000 points, which the live monitor of a long failing run pays at each analysis)
    import bottleneck as bn  # lazy: start-up time

    roll = bn.move_median(gv[:n_before], w)[w - 1:]
    # the surge must start in the last `max-lead-fraction` of the span before the event, and
    # its healthy level is measured from just before that region
    region = event - opts.max_lead_fraction * max(1, event - int(gs[0]))
    i0 = max(w, int(np.searchsorted(gs, region, side="left")))
    lo = max(0, i0 - w)  # rolling medians ending at index >= i0 - 1
    surge = None
    floor = np.minimum.accumulate(roll[lo:]) if lo < len(roll) else roll[:0]  # lowest median so far
    for i in range(i0, n_before - min_lead + 1):
        base = float(floor[i - w - lo])  # = min(roll[lo:i - w + 1])
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
        return None
    i, base = surge
    step = int(gs[i])
    peak_pre = float(np.max(gv[i:][gs[i:] <= event])) if np.any(gs[i:] <= event) else float(gv[i])
    return GradSurge(step=step, event=event, lead=event - step, healthy=base, ratio=peak_pre / base,
                     clip=clip_threshold(run.get("grad_norm"), step), loss_class=cur.klass, role=cur.role)


#: Relative tolerance of "at the threshold" (float32 logging rounds to ~1e-7; HF rounds
#: grad_norm in the log to ~6 significant digits in some versions).
CLIP_TOL = 1e-4
#: Finite grad-norm points needed to judge a clipped share.
CLIP_MIN_POINTS = 20
#: Without ``max_grad_norm`` in the log, a ceiling is inferred when at least this share of the
#: grad norms sit exactly at their maximum (a post-clip log: clipped values equal the threshold).
CEILING_SHARE = 0.2


def clip_stats(run: ResolvedRun, min_points: float = CLIP_MIN_POINTS,
               ceiling_share: float = CEILING_SHARE) -> ClipStats | None:
    """The grad norms against the clip threshold (module doc), or ``None`` (fewer than
    ``min_points`` finite grad norms, or no threshold known or inferred).

    The threshold is the log's ``max_grad_norm`` (a positive number), else a ceiling inferred
    when at least 5 values and ``ceiling_share`` of them sit at the maximum within
    :data:`CLIP_TOL`. Returns :class:`~losscheck.model.ClipStats`: the threshold and its source
    (``"max_grad_norm"`` or ``"inferred"``), the share of values at or above it, the number of
    finite values, their median and (with a logged threshold) 90th percentile, in grad-norm
    units. O(n log n) for the percentile. Never raises on odd data.
    """
    _, v = finite_xy(run.get("grad_norm"))
    v = v[v >= 0]
    if len(v) < max(1, int(min_points)):
        return None
    thr: float | None = None
    source = ""
    meta_thr = run.data.meta.get("max_grad_norm")
    try:
        meta_thr = float(meta_thr) if meta_thr is not None else None
    except (TypeError, ValueError):
        meta_thr = None
    if meta_thr is not None and np.isfinite(meta_thr) and meta_thr > 0:
        thr, source = meta_thr, "max_grad_norm"
    else:
        top = float(np.max(v))
        at_top = int(np.sum(np.abs(v - top) <= CLIP_TOL * top)) if top > 0 else 0
        if top > 0 and at_top >= 5 and at_top >= ceiling_share * len(v):
            thr, source = top, "inferred"
    if thr is None:
        return None
    share = float(np.mean(v >= thr * (1 - CLIP_TOL)))
    p90 = float(np.percentile(v, 90)) if source == "max_grad_norm" else float("nan")
    return ClipStats(threshold=thr, source=source, share=share, points=int(len(v)), median=float(np.median(v)),
                     p90=p90)

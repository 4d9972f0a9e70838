"""Run facts: every measurement a rule words or a remedy quotes, computed once per run.

:func:`run_facts` fills :class:`~losscheck.model.RunFacts` after the curves are classified;
rules (:mod:`losscheck.rules`) only read these fields and word findings, and the remedies
hold no series maths. Each fact is computed only where a rule can use it (e.g. the grad-norm
surge only when the judged loss curve blew up), so a run pays for the questions it raises.

The thresholds of a measurement are named as the rule that words it documents them
(``surge-ratio``, ``min-zero-points``...; defaults in the measuring modules:
:mod:`.gradnorm`, :mod:`.lr`, :mod:`.loss_levels`, :mod:`.timing`) and come from the
configured ``[thresholds]``, typed once into :class:`FactOptions`
(``AnalysisOptions.facts``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar

import numpy as np

from losscheck.analysis import evidence as E
from losscheck.analysis import gradnorm, loss_levels, lr as lrm, timing
from losscheck.analysis.nonfinite import zero_loss
from losscheck.model import OnsetFacts, PreNonFinite, ResolvedRun, RunAnalysis, RunFacts


@dataclass(frozen=True)
class FactOptions:
    """Thresholds of the run's facts, typed. Each field is read from the ``[thresholds]`` key
    its rule documents: the field name in kebab case, except where :data:`KEYS` says otherwise
    (two rules call their minimum ``min-points``). Defaults and sources live in the measuring
    modules (:mod:`.gradnorm`, :mod:`.lr`, :mod:`.loss_levels`, :mod:`.timing`).

    Attributes:
        surge: the grad-norm surge search (LC201), :class:`~losscheck.analysis.gradnorm.SurgeOptions`.
        lr_zero: the zero-LR stretch (LC303), :class:`~losscheck.analysis.lr.ZeroOptions`.
        clip_min_points, ceiling_share: finite grad norms needed, and the share at the maximum
            that infers a clip ceiling (LC203).
        early_fraction: how early in the run (share of the last step) a blow-up counts (LC301).
        at_peak_share: share of LR points at the peak from which the loss quarters are read (LC302).
        bump_ratio, bump_window: loss bump after an LR restart (LC304; window in logged points).
        chance_tolerance, chance_min_share: relative distance to ln C, share of the run (LC401).
        eval_collapse_ratio, eval_near_zero, few_evals: an eval loss collapsing (LC402).
        min_gap: relative train-eval gap (LC403).
        gap_factor, min_gap_seconds, stall_min_points: stalls (LC501; seconds, wall-time points).
        skip_points, min_intervals: throughput (LC502; logged points, step intervals).
    """

    surge: gradnorm.SurgeOptions = field(default_factory=gradnorm.SurgeOptions)
    lr_zero: lrm.ZeroOptions = field(default_factory=lrm.ZeroOptions)
    clip_min_points: float = gradnorm.CLIP_MIN_POINTS
    ceiling_share: float = gradnorm.CEILING_SHARE
    early_fraction: float = lrm.EARLY_FRACTION
    at_peak_share: float = lrm.AT_PEAK_SHARE
    bump_ratio: float = lrm.BUMP_RATIO
    bump_window: float = lrm.BUMP_WINDOW
    chance_tolerance: float = loss_levels.CHANCE_TOL
    chance_min_share: float = loss_levels.CHANCE_MIN_SHARE
    eval_collapse_ratio: float = loss_levels.EVAL_COLLAPSE_RATIO
    eval_near_zero: float = loss_levels.EVAL_NEAR_ZERO
    few_evals: float = loss_levels.FEW_EVALS
    min_gap: float = loss_levels.MIN_GAP
    gap_factor: float = timing.GAP_FACTOR
    min_gap_seconds: float = timing.MIN_GAP_SECONDS
    stall_min_points: float = timing.STALL_MIN_POINTS
    skip_points: float = timing.SKIP_POINTS
    min_intervals: float = timing.MIN_INTERVALS

    #: field -> its ``[thresholds]`` key, where that is not the field name in kebab case
    KEYS: ClassVar[dict[str, str]] = {"clip_min_points": "min-points", "chance_min_share": "min-share", "stall_min_points": "min-points"}

    @classmethod
    def from_thresholds(cls, th: Mapping[str, float]) -> "FactOptions":
        """From the configured thresholds (kebab-case name -> value); defaults for the others."""
        kw: dict[str, Any] = {"surge": gradnorm.SurgeOptions.from_thresholds(th),
                              "lr_zero": lrm.ZeroOptions.from_thresholds(th)}
        for f in fields(cls):
            key = cls.KEYS.get(f.name, f.name.replace("_", "-"))
            if f.name not in kw and key in th:
                kw[f.name] = th[key]
        return cls(**kw)


def _guard(fn: Callable[..., Any], *args, **kw) -> Any:
    """``fn(*args)``, or ``None`` when it raises on odd data: one faulty measurement costs the
    findings that need it, never the diagnosis (as a faulty rule does, see
    :func:`losscheck.rules.run_rules`); with ``LOSSCHECK_DEBUG`` set the exception propagates."""
    try:
        return fn(*args, **kw)
    except Exception:  # noqa: BLE001
        if os.environ.get("LOSSCHECK_DEBUG"):
            raise
        return None


def event_steps(run: ResolvedRun, analysis: RunAnalysis) -> list[int | None]:
    """The steps whose :class:`~losscheck.model.OnsetFacts` a rule may ask for: the judged
    curve's onset (diverging, oscillating), each NaN curve's onset, the largest recovered and
    the worst unrecovered spike, a GAN collapse's onset. (LC201's loss event is added by
    :func:`run_facts` when there is a surge.)"""
    out: list[int | None] = []
    cur = E.main_curve(analysis)
    if cur is not None:
        if cur.klass in ("diverging", "oscillating"):
            out.append(cur.onset_step)
        rec = [s for s in cur.spikes if not s.worse]
        if rec:
            out.append(max(rec, key=lambda s: s.ratio).step)
        worse = [s for s in cur.spikes if s.worse]
        if worse and cur.klass == "spiking":
            out.append(max(worse, key=lambda s: s.level_ratio).step)
    for role in ("loss", "eval_loss"):
        c = analysis.curves.get(role)
        if c is not None and c.klass == "nan":
            nf = c.nonfinite
            out.append(c.onset_step if c.onset_step is not None else (nf.first_step if nf else None))
    gan = analysis.evidence.get("gan_onset_step")
    if gan is not None:
        out.append(gan)
    return list(dict.fromkeys(out))


def _first_value(series) -> float | None:
    """The first value that is not NaN (an Inf counts: an absurd first loss)."""
    if series is None or len(series) == 0:
        return None
    ok = ~np.isnan(series.values)
    if not ok.any():
        return None
    return float(series.values[int(np.argmax(ok))])


def run_facts(run: ResolvedRun, analysis: RunAnalysis, opts: FactOptions | None = None) -> RunFacts:
    """Every fact of a run (see :class:`~losscheck.model.RunFacts`).

    Args:
        run: the resolved run; analysis: its classified analysis (curves, classes, LR context).
        opts: the facts' thresholds (:class:`FactOptions`; defaults when ``None``).
    Never raises on odd data (see :func:`_guard`); never prints.
    """
    o = opts if opts is not None else FactOptions()
    f = RunFacts()
    cur = E.main_curve(analysis)
    lrc = analysis.lr
    lr = run.get("lr")
    loss = run.get("loss") or run.get("eval_loss")
    f.last_step = E.last_step(run)
    for step in event_steps(run, analysis):
        f.onsets[step] = _guard(E.onset_facts, run, analysis, step) or OnsetFacts(step)
    grad = run.get("grad_norm")
    for role in ("loss", "eval_loss"):
        s = run.get(role)
        if s is None:
            continue
        z = _guard(zero_loss, s, grad)
        if z is not None:
            f.zero_loss[role] = z
        fv = _first_value(s)
        if fv is not None:
            f.first_value[role] = fv
        c = analysis.curves.get(role)
        if c is not None and c.klass == "nan":
            nf = c.nonfinite
            onset = c.onset_step if c.onset_step is not None else (nf.first_step if nf else None)
            g = _guard(E.pre_nonfinite_growth, run, role, onset)
            f.pre_nonfinite[role] = PreNonFinite(*g) if g is not None else PreNonFinite()
    if cur is not None and cur.klass == "plateau":
        f.grad_nonfinite_share = _guard(E.nonfinite_share, grad) or 0.0
        f.grad_norm_trend = _guard(E.grad_norm_trend, run)
        f.frozen[cur.role] = bool(_guard(E.frozen_level, run.get(cur.role)))
        ku = _guard(E.knocked_up, run.get(cur.role))
        if ku is not None:
            f.knocked_up[cur.role] = ku
        f.adam_peak_lr = _guard(E.adam_peak_lr, run, lrc.peak if lrc is not None else None)
    f.grad_surge = _guard(gradnorm.detect_surge, run, cur, analysis.curves.get("grad_norm"),
                          o.surge)
    if f.grad_surge is not None and f.grad_surge.event not in f.onsets:
        f.onsets[f.grad_surge.event] = _guard(E.onset_facts, run, analysis, f.grad_surge.event) \
            or OnsetFacts(f.grad_surge.event)
    f.clip = _guard(gradnorm.clip_stats, run, o.clip_min_points, o.ceiling_share)
    # learning rate
    f.lr_finite = _guard(lrm.lr_finite, lr)
    if lrc is not None and f.lr_finite is not None:
        if lrc.warmup_steps == 0 and cur is not None:
            last = max(f.last_step or f.lr_finite.last_step, f.lr_finite.last_step)
            f.early_trouble = _guard(lrm.early_trouble, cur, run.get(cur.role), last,
                                     o.early_fraction)
        lf = f.lr_finite
        if not lrc.decays and lf.at_peak_share >= o.at_peak_share \
                and lf.last >= 0.9 * lf.peak:  # an LR that never decays (LC302): has the loss levelled off?
            f.loss_quarters = _guard(lrm.loss_quarters, loss)
        if lrc.restart_steps:
            f.restart_bumps = _guard(lrm.restart_bumps, lrc.restart_steps, loss, o.bump_ratio, o.bump_window) or []
    f.lr_zero = _guard(lrm.zero_stretch, lr, loss, cur, o.lr_zero)
    # loss levels
    f.chance = _guard(loss_levels.at_chance, run, analysis, o.chance_tolerance, o.chance_min_share)
    f.language_model = bool(_guard(E.looks_like_language_model, run))
    if f.language_model:
        f.end_levels = _guard(loss_levels.end_levels, run) or {}
    f.eval_collapse = _guard(loss_levels.eval_collapse, run, o.eval_collapse_ratio, o.eval_near_zero, o.few_evals)
    f.eval_gap = _guard(loss_levels.eval_gap, run, o.min_gap)
    # wall clock
    wc = _guard(timing.wall_clock, run)
    f.stalls = _guard(timing.stalls, wc, o.gap_factor, o.min_gap_seconds, o.stall_min_points)
    f.throughput = _guard(timing.throughput, wc, o.skip_points, o.min_intervals)
    return f

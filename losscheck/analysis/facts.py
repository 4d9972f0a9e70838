"""Run facts: every measurement a rule words or a remedy quotes, computed once per run.

:func:`run_facts` fills :class:`~losscheck.model.RunFacts` after the curves are classified;
rules (:mod:`losscheck.rules`) only read these fields and word findings, and the remedies
hold no series maths. Each fact is computed only where a rule can use it (e.g. the grad-norm
surge only when the judged loss curve blew up), so a run pays for the questions it raises.

The thresholds of a measurement are named as the rule that words it documents them
(``surge-ratio``, ``min-zero-points``...; defaults in the measuring modules:
:mod:`.gradnorm`, :mod:`.lr`, :mod:`.loss_levels`, :mod:`.timing`) and come from the
configured ``[thresholds]`` (:attr:`AnalysisOptions.rule_thresholds`).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from losscheck.analysis import evidence as E
from losscheck.analysis import gradnorm, loss_levels, lr as lrm, timing
from losscheck.analysis.nonfinite import zero_loss
from losscheck.model import OnsetFacts, PreNonFinite, ResolvedRun, RunAnalysis, RunFacts


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


def run_facts(run: ResolvedRun, analysis: RunAnalysis, thresholds: dict | None = None) -> RunFacts:
    """Every fact of a run (see :class:`~losscheck.model.RunFacts`).

    Args:
        run: the resolved run; analysis: its classified analysis (curves, classes, LR context).
        thresholds: the configured thresholds, kebab-case name -> value (defaults otherwise).
    Never raises on odd data (see :func:`_guard`); never prints.
    """
    th = thresholds or {}
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
    f.grad_surge = _guard(gradnorm.detect_surge, run, cur, analysis.curves.get("grad_norm"),
                          gradnorm.SurgeOptions.from_thresholds(th))
    if f.grad_surge is not None and f.grad_surge.event not in f.onsets:
        f.onsets[f.grad_surge.event] = _guard(E.onset_facts, run, analysis, f.grad_surge.event) \
            or OnsetFacts(f.grad_surge.event)
    f.clip = _guard(gradnorm.clip_stats, run, th.get("min-points", gradnorm.CLIP_MIN_POINTS),
                    th.get("ceiling-share", gradnorm.CEILING_SHARE))
    # learning rate
    f.lr_finite = _guard(lrm.lr_finite, lr)
    if lrc is not None and f.lr_finite is not None:
        if lrc.warmup_steps == 0 and cur is not None:
            last = max(f.last_step or f.lr_finite.last_step, f.lr_finite.last_step)
            f.early_trouble = _guard(lrm.early_trouble, cur, run.get(cur.role), last,
                                     th.get("early-fraction", lrm.EARLY_FRACTION))
        lf = f.lr_finite
        if not lrc.decays and lf.at_peak_share >= th.get("at-peak-share", lrm.AT_PEAK_SHARE) \
                and lf.last >= 0.9 * lf.peak:  # an LR that never decays (LC302): has the loss levelled off?
            f.loss_quarters = _guard(lrm.loss_quarters, loss)
        if lrc.restart_steps:
            f.restart_bumps = _guard(lrm.restart_bumps, lrc.restart_steps, loss,
                                     th.get("bump-ratio", lrm.BUMP_RATIO),
                                     th.get("bump-window", lrm.BUMP_WINDOW)) or []
    f.lr_zero = _guard(lrm.zero_stretch, lr, loss, cur, lrm.ZeroOptions.from_thresholds(th))
    # loss levels
    f.chance = _guard(loss_levels.at_chance, run, analysis, th.get("chance-tolerance", loss_levels.CHANCE_TOL),
                      th.get("min-share", loss_levels.CHANCE_MIN_SHARE))
    f.language_model = bool(_guard(E.looks_like_language_model, run))
    if f.language_model:
        f.end_levels = _guard(loss_levels.end_levels, run) or {}
    f.eval_collapse = _guard(loss_levels.eval_collapse, run,
                             th.get("eval-collapse-ratio", loss_levels.EVAL_COLLAPSE_RATIO),
                             th.get("eval-near-zero", loss_levels.EVAL_NEAR_ZERO),
                             th.get("few-evals", loss_levels.FEW_EVALS))
    f.eval_gap = _guard(loss_levels.eval_gap, run, th.get("min-gap", loss_levels.MIN_GAP))
    # wall clock
    wc = _guard(timing.wall_clock, run)
    f.stalls = _guard(timing.stalls, wc, th.get("gap-factor", timing.GAP_FACTOR),
                      th.get("min-gap-seconds", timing.MIN_GAP_SECONDS), th.get("min-points", timing.STALL_MIN_POINTS))
    f.throughput = _guard(timing.throughput, wc, th.get("skip-points", timing.SKIP_POINTS),
                          th.get("min-intervals", timing.MIN_INTERVALS))
    return f

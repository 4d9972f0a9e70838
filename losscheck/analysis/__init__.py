"""Analysis: trend models and detectors per curve, combined into a :class:`RunAnalysis`.

Entry point: :func:`analyse`. One module per detector/estimator:

* :mod:`.trend` -- constant / linear / exp_decay / power_decay / exp_growth, AICc choice;
* :mod:`.changepoint` -- binary segmentation (linear pieces, BIC penalty): onsets;
* :mod:`.divergence` -- loss growing from its best level, exponential rate, doubling time;
* :mod:`.spikes` -- rolling-median / MAD robust z-scores; recovered or worse-level spikes;
* :mod:`.oscillation` -- ACF period / variance ratio of the detrended curve;
* :mod:`.plateau` -- Theil-Sen flatness, chance level ln C;
* :mod:`.nonfinite` -- NaN/Inf, which metric went first, benign fp16 overflow, HF NaN filter;
* :mod:`.overfit` -- Prechelt's generalisation loss with persistence;
* :mod:`.lr` -- LR schedule context (peak, warmup, restarts);
* :mod:`.classify` -- per-curve class and priority order.

Scale-free: positive losses are analysed as log(loss); every threshold is a ratio or a
multiple of a robust noise estimate. Long curves are median-binned (<= 2000 bins) before
any fit; the non-finite and spike scans are exact O(n) passes. Rolling medians come from
bottleneck (imported lazily); scipy is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from losscheck.analysis._util import py
from losscheck.analysis.classify import PRIORITY, analyse_curve, order, public
from losscheck.analysis.divergence import DivergenceOptions
from losscheck.analysis.lr import in_warmup, lr_context
from losscheck.analysis.nonfinite import verdict
from losscheck.analysis.oscillation import OscillationOptions
from losscheck.analysis.overfit import OverfitOptions, detect_overfit
from losscheck.analysis.plateau import PlateauOptions
from losscheck.analysis.spikes import SpikeOptions
from losscheck.model import ResolvedRun, RunAnalysis

__all__ = ["AnalysisOptions", "analyse"]


@dataclass
class AnalysisOptions:
    """Options of :func:`analyse`; every threshold's source is in its detector's module.

    Attributes:
        num_classes: C for the chance level ln C (else ``meta["num_classes"]``, else C is
            only recognised when the loss starts *and* ends at ln C, C in 2..5, 10, 100, 1000).
        min_points: fewer finite points than this -> cautious verdict (``insufficient``
            unless NaN or an explosion). Default 8.
        explosion_ratio: in a short log, a rise of at least this factor over the minimum is
            an unmistakable divergence. Default 100.
        max_bins: long curves are median-binned to at most this many bins for the
            detectors (change points, divergence, oscillation, plateau). Default 2000.
        trend_bins: the trend models are fitted to at most this many bin medians. Default
            512: on the 224 curves of the benchmark corpus, sample and real runs longer than
            512 points, 512 bins chose the same model as 2,000 except for 12 near-ties
            (delta AICc < 2) and the same doubling time within 0.2% on the diverging ones, in
            half the time (see :mod:`losscheck.analysis.trend`).
        spike, oscillation, plateau, overfit, divergence: per-detector thresholds.
        lr_restarts: set by :func:`analyse` from the LR series (SGDR restarts seen).
        rule_thresholds: the configured ``[thresholds]`` (kebab-case name -> value) for the
            measurements the rules word (:mod:`losscheck.analysis.facts`; names as the rules
            document them, e.g. ``surge-ratio``); set by the pipeline, empty = defaults.
    """

    #: fields set by the analysis itself or the pipeline, never one configuration key each
    INTERNAL = ("num_classes", "lr_restarts", "rule_thresholds")

    num_classes: int | None = None
    min_points: int = 8
    explosion_ratio: float = 100.0
    max_bins: int = 2000
    trend_bins: int = 512
    spike: SpikeOptions = field(default_factory=SpikeOptions)
    oscillation: OscillationOptions = field(default_factory=OscillationOptions)
    plateau: PlateauOptions = field(default_factory=PlateauOptions)
    overfit: OverfitOptions = field(default_factory=OverfitOptions)
    divergence: DivergenceOptions = field(default_factory=DivergenceOptions)
    lr_restarts: int = 0
    rule_thresholds: dict = field(default_factory=dict)


def _meta_num(meta: dict, key: str):
    v = meta.get(key) if meta else None
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def analyse(run: ResolvedRun, options: AnalysisOptions | None = None) -> RunAnalysis:
    """Analyse a resolved run: one :class:`CurveAnalysis` per loss / eval-loss / grad-norm
    curve, run-level NaN verdict, overfitting, LR context, primary and secondary classes.

    Args:
        run: a :class:`~losscheck.model.ResolvedRun` (``run.get(role)`` gives a Series).
        options: thresholds; defaults documented on :class:`AnalysisOptions`.
    Returns:
        a :class:`~losscheck.model.RunAnalysis`. ``primary`` follows the priority of
        :mod:`losscheck.analysis.classify`; ``secondary`` lists the other problem classes;
        ``onset_step`` is where the primary problem starts (``None`` when healthy).
    Never raises on odd data (empty, all-NaN, negative values); never prints.
    """
    # losses near 1e308 overflow intermediate sums: the detectors handle inf, numpy's warnings
    # would only reach the user's terminal
    from losscheck.analysis.facts import run_facts

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = _analyse(run, options)
        out.facts = run_facts(run, out, options.rule_thresholds if options is not None else None)
    return out


#: A GAN generator loss growing more than this factor (late fifth over early fifth, medians)
#: explodes, whatever the discriminator does.
GAN_EXPLOSION_RATIO = 10.0


def _adversarial(run: ResolvedRun, curves: dict, labels: dict, ev: dict, opts, is_nan: bool) -> None:
    """A GAN (``disc_loss`` role): analyse the discriminator's curve and judge the game
    (:mod:`.adversarial`). When one player wins, the generator's curve is ``diverging``
    from the collapse, with ``evidence["gan_imbalance"]`` naming the winner (rule LC109
    words it). Otherwise a generator loss that rises without exploding
    (< :data:`GAN_EXPLOSION_RATIO`) is the adversarial tug of war, not a divergence: it is
    called ``oscillating``. Mutates ``curves``, ``labels`` and ``ev``."""
    from losscheck.analysis.adversarial import detect_imbalance

    d = run.get("disc_loss")
    g = run.get("loss")
    if d is None or g is None or "loss" not in curves or len(d) == 0:
        return
    curves["disc_loss"], labels["disc_loss"] = analyse_curve(d, "disc_loss", opts)
    if is_nan or curves["loss"].klass == "nan":
        return
    imb = detect_imbalance(g, d)
    c = curves["loss"]
    if imb is not None:
        labels["loss"] = order(["diverging"] + [x for x in labels["loss"] if x not in ("converging", "diverging",
                                                                                      "insufficient", "plateau")])
        c.klass, c.onset_step = "diverging", imb.onset_step
        ev.update(gan_imbalance=imb.winner, gan_g_early=imb.g_early, gan_g_late=imb.g_late,
                  gan_d_early=imb.d_early, gan_d_late=imb.d_late, gan_onset_step=imb.onset_step)
    elif "diverging" in labels["loss"]:
        fin = g.values[np.isfinite(g.values)]
        k = max(2, fin.size // 5)
        if fin.size >= 2 and np.median(fin[-k:]) < GAN_EXPLOSION_RATIO * max(np.median(fin[:k]), 1e-12):
            labels["loss"] = order(["oscillating"] + [x for x in labels["loss"] if x != "diverging"])
            c.klass = public(labels["loss"][0])
            c.onset_step = None if c.klass == "converging" else c.onset_step
            c.notes.append("GAN: the generator loss rises as the discriminator improves, without "
                           "exploding or the discriminator collapsing: the adversarial game, not a divergence")
    c.evidence["classes"] = ",".join(dict.fromkeys(public(x) for x in labels["loss"]))


#: At most this many component losses (losses that fill no role: a detector's ``box_loss``,
#: ``cls_loss``; a PINN's residual terms) are analysed per run, in name order.
MAX_COMPONENTS = 16


def _components(run: ResolvedRun, curves: dict, opts) -> None:
    """Analyse every component loss as a curve of its own (role ``component``, keyed
    ``component:<tag>``), so a report can say which loss misbehaves; one that is NaN/Inf to
    its end is ``nan`` from its first non-finite step. They inform; the run's class stays
    that of its training and eval loss."""
    for s in run.components[:MAX_COMPONENTS]:
        ca, _ = analyse_curve(s, "component", opts)
        if ca.nonfinite is not None and not ca.nonfinite.recovered:
            ca.klass, ca.onset_step = "nan", ca.nonfinite.first_step  # NaN/Inf to the end
        curves[f"component:{s.tag}"] = ca


def _analyse(run: ResolvedRun, options: AnalysisOptions | None) -> RunAnalysis:
    from dataclasses import replace

    opts = replace(options) if options is not None else AnalysisOptions()
    meta = getattr(run.data, "meta", {}) or {}
    if opts.num_classes is None:
        nc = _meta_num(meta, "num_classes")
        opts.num_classes = int(nc) if nc and nc >= 2 else None
    lr = run.get("lr")
    lrc = lr_context(lr)
    warm = in_warmup(lr, _meta_num(meta, "learning_rate"))
    opts.lr_restarts = len(lrc.restart_steps) if lrc is not None else 0
    curves = {}
    labels: dict[str, list[str]] = {}
    for role in ("loss", "eval_loss", "grad_norm"):
        s = run.get(role)
        if s is None or len(s) == 0:
            continue
        ca, lab = analyse_curve(s, role, opts, warmup=warm and role != "grad_norm")
        curves[role], labels[role] = ca, lab
    ev: dict = {}
    if lrc is not None:
        ev.update({"lr_peak": lrc.peak, "lr_peak_step": lrc.peak_step, "lr_warmup_steps": lrc.warmup_steps})
        if warm:
            ev["lr_in_warmup"] = True
        if opts.lr_restarts:
            ev["lr_restarts"] = opts.lr_restarts
    main_role = "loss" if "loss" in curves else ("eval_loss" if "eval_loss" in curves else None)
    # grad_norm: its own class (non-finite / surge), not a run class by itself
    g = curves.get("grad_norm")
    if g is not None:
        gl = labels["grad_norm"]
        g.klass = "nan" if g.nonfinite is not None else (
            "diverging" if "diverging" in gl else ("spiking" if any(x.startswith("spiking") for x in gl)
                                                   else ("insufficient" if gl[0] == "insufficient" else "converging")))
    # run-level non-finite verdict
    nv = verdict(run.get(main_role) if main_role else None, run.get("grad_norm"))
    ev.update(nv.evidence)
    if main_role and nv.is_nan:
        c = curves[main_role]
        labels[main_role] = order(["nan"] + [x for x in labels[main_role] if x != "insufficient"])
        c.klass = "nan"
        c.onset_step = nv.onset_step
        c.notes.extend(nv.notes)
        c.evidence["classes"] = ",".join(dict.fromkeys(public(x) for x in labels[main_role]))
    elif nv.notes and g is not None:
        g.notes.extend(nv.notes)
    if "eval_loss" in curves and "loss" in curves and curves["eval_loss"].nonfinite is not None \
            and not nv.is_nan:
        en = curves["eval_loss"].nonfinite
        if not en.recovered:
            labels["eval_loss"] = order(["nan"] + labels["eval_loss"])
            curves["eval_loss"].klass = "nan"
            curves["eval_loss"].onset_step = en.first_step
    # an eval curve that is flat while the train loss learned: its first eval came after
    # the fast drop (converged floor), not "not learning" -- unless it sits at chance.
    e = curves.get("eval_loss")
    if e is not None and "plateau" in labels["eval_loss"] and "loss" in labels \
            and "plateau" not in labels["loss"] and e.plateau is not None and not e.plateau.chance_classes:
        labels["eval_loss"] = order([x for x in labels["eval_loss"] if x != "plateau"] or ["converging"])
        e.klass = public(labels["eval_loss"][0])
        e.onset_step = None if e.klass == "converging" else e.onset_step
        e.notes.append("eval loss flat from its first eval while the train loss learned: "
                       "already at its floor, not a plateau")
        e.evidence["classes"] = ",".join(dict.fromkeys(public(x) for x in labels["eval_loss"]))
    # overfitting
    of, oev = detect_overfit(run.get("loss"), run.get("eval_loss"), opts.overfit)
    es = run.get("eval_loss")
    if of is not None and es is not None and np.isfinite(es.values).any():
        # the detector decides on a smoothed curve; the checkpoint a user restores is the raw minimum
        i = int(np.nanargmin(np.where(np.isfinite(es.values), es.values, np.nan)))
        of.best_step, of.best = int(es.steps[i]), float(es.values[i])
        of.rise = of.last / of.best - 1 if of.best > 0 else of.rise
    if "eval_loss" in curves:
        curves["eval_loss"].evidence.update({"overfit_" + k: v for k, v in py(oev).items() if v is not None})
    if of is not None:
        ev.update({"overfit_gl_percent": oev.get("gl_percent"), "overfit_best_step": of.best_step})
        e = curves["eval_loss"]
        el = [x for x in labels["eval_loss"] if x not in ("diverging", "plateau", "converging", "insufficient")
              or (x == "diverging" and "diverging" in labels.get("loss", []))]
        labels["eval_loss"] = order(el + ["overfitting"])
        e.klass = public(labels["eval_loss"][0])
        if e.klass == "overfitting":
            e.onset_step = of.best_step
        e.evidence["classes"] = ",".join(dict.fromkeys(public(x) for x in labels["eval_loss"]))
    _adversarial(run, curves, labels, ev, opts, nv.is_nan)
    _components(run, curves, opts)
    # run classes
    pool = []
    for role in ("loss", "eval_loss"):
        if role in labels:
            pool += [(lab, role) for lab in labels[role]]
    if not pool:
        return RunAnalysis(curves=curves, primary="insufficient", secondary=[], onset_step=None,
                           overfit=of, lr=lrc, evidence=py({k: v for k, v in ev.items() if v is not None}))
    problems = [p for p in pool if p[0] not in ("converging", "insufficient")]
    if problems:
        problems.sort(key=lambda p: PRIORITY.index(p[0]))
        top_label, top_role = problems[0]
        primary = public(top_label)
        onset = of.best_step if top_label == "overfitting" and of is not None else curves[top_role].onset_step
    else:
        main_labels = labels.get(main_role, ["insufficient"])
        primary = "converging" if "converging" in main_labels else \
            ("converging" if any(p[0] == "converging" for p in pool) and main_labels[0] != "insufficient"
             else "insufficient")
        onset = None
    secondary = []
    for lab, _ in sorted(problems, key=lambda p: PRIORITY.index(p[0])):
        name = public(lab)
        if name != primary and name not in secondary:
            secondary.append(name)
    # evidence linking the onset to the LR schedule and the grad norm
    if primary == "diverging" and onset is not None:
        if lrc is not None:
            ev["divergence_after_lr_peak_steps"] = int(onset - lrc.peak_step)
        if g is not None and g.klass == "diverging" and g.onset_step is not None:
            ev["grad_norm_surge_lead_steps"] = int(onset - g.onset_step)
    ev["classes"] = ",".join([primary] + secondary)
    return RunAnalysis(curves=curves, primary=primary, secondary=secondary, onset_step=onset,
                       overfit=of, lr=lrc, evidence=py({k: v for k, v in ev.items() if v is not None}))

"""All labelling: a class per curve and per run, decided once.

Two stages, one module. :func:`analyse_curve` runs the detectors on one curve and proposes
its internal labels and onset from the curve's own evidence (:class:`Labelled`).
:func:`classify_run` then judges the run as a whole -- the run-level NaN verdict, an eval
curve that went NaN or sits at its floor, overfitting, a GAN's game -- by changing those
labels and onsets, and only then :func:`settle` writes each curve's ``klass``,
``onset_step`` and ``evidence["classes"]``, once; the run's primary and secondary classes
and its onset follow from the settled curves.

Priority when several classes apply (what a user wants to hear first):

1. ``nan`` -- the run is dead or its numbers cannot be trusted; nothing else matters.
2. ``diverging`` -- the loss grows: stop the run / lower the LR now.
3. ``spiking`` *to a worse level* -- an instability that cost progress (not recovered).
4. ``overfitting`` -- training works but the model no longer generalises: stop early.
5. ``oscillating`` -- no progress, large slow swings (LR / momentum / GAN balance).
6. ``plateau`` -- not learning at all (flat from the start, or at chance ln C).
7. ``spiking`` *recovered* -- worth knowing, the run survived.
8. ``converging`` -- healthy.

``insufficient`` is given only when a curve has fewer than 3 finite points and nothing
unmistakable (non-finite values, an explosion of >= ``explosion_ratio`` x100) shows; from 3
to ``min_points - 1`` points the main loss gets the short-log call of
:mod:`losscheck.analysis.short` (issue 14: refuse only below 3 points). A run flat while
its LR is still in warmup is a ``plateau`` that LC105 reports as info (it may be too early:
a preference/DPO loss at ln 2 with an LR of 1e-7 is expected, not a failure).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import numpy as np

from losscheck.analysis._util import py
from losscheck.analysis.detectors import detector, options_of, run_detectors
from losscheck.analysis.divergence import post_onset_growth
from losscheck.analysis.lr import in_warmup
from losscheck.analysis.options import AnalysisOptions
from losscheck.analysis.prepared import Detection, PreparedCurve, prepare
from losscheck.analysis.short import classify_short, mann_kendall
from losscheck.analysis.trend import fit_trend
from losscheck.model import CLASSES, CurveAnalysis, Plateau, ResolvedRun, RunAnalysis, RunClass, Series, Spike

#: Below this many finite points a curve's shape cannot be read at all: ``insufficient``
#: (issue 14: a verdict on every log of 3 points or more).
SHORT_MIN_POINTS = 3

#: Internal labels in priority order; ``spiking_worse`` is reported as ``spiking``.
PRIORITY = ("nan", "diverging", "spiking_worse", "overfitting", "oscillating", "plateau",
            "spiking", "converging", "insufficient")


def public(label: str) -> RunClass:
    """Map an internal label (one of :data:`PRIORITY`) to its :data:`losscheck.model.CLASSES`
    name. Raises ValueError for a label that is neither (a programming error)."""
    name = "spiking" if label == "spiking_worse" else label
    if name not in CLASSES:
        raise ValueError(f"not a class label: {label!r}")
    return cast(RunClass, name)  # checked against CLASSES just above


def order(labels) -> list[str]:
    """Sort internal labels by :data:`PRIORITY` and drop duplicates. Raises ValueError for a
    label outside :data:`PRIORITY`."""
    return sorted(set(labels), key=PRIORITY.index)


def _clean(d: dict) -> dict:
    """Flat, JSON-friendly evidence: drop ``None`` values, convert numpy scalars."""
    return {k: v for k, v in py(d).items() if v is not None and not isinstance(v, (dict, list))}


@dataclass
class Labelled:
    """A curve while its run is classified.

    Attributes:
        curve: its :class:`~losscheck.model.CurveAnalysis` (measurements, evidence, notes);
            ``klass``, ``onset_step`` and ``evidence["classes"]`` are written by :func:`settle`.
        labels: the internal labels that apply (:data:`PRIORITY` order, at least one).
        onset: the step where the top label's problem starts (``None`` when healthy).
        kind: ``"loss"`` (a loss-like curve: its class is its top label), ``"grad_norm"``
            (its own class, :func:`_grad_norm_class`) or ``"component"`` (a component loss:
            ``nan`` when NaN/Inf to its end).
        prepared: the curve as its detectors saw it (prepared once, reused by the run-level
            detectors).
    """

    curve: CurveAnalysis
    labels: list[str]
    onset: int | None
    kind: str = "loss"
    prepared: PreparedCurve | None = None


def _grad_norm_class(c: CurveAnalysis, labels: list[str]) -> RunClass:
    """A grad norm's class: non-finite values or a surge (divergence, spikes) -- not a run
    class by itself, and neither a plateau nor an oscillation."""
    if c.nonfinite is not None:
        return "nan"
    if "diverging" in labels:
        return "diverging"
    if any(x.startswith("spiking") for x in labels):
        return "spiking"
    return "insufficient" if labels[0] == "insufficient" else "converging"


def settle(lc: Labelled) -> CurveAnalysis:
    """Write a curve's class, onset (a step, ``None`` when healthy) and ``evidence["classes"]``
    from its final labels (once), and return the curve. Raises ValueError for a label outside
    :data:`PRIORITY` (a programming error)."""
    c = lc.curve
    if lc.kind == "grad_norm":
        klass, onset = _grad_norm_class(c, lc.labels), lc.onset
    elif lc.kind == "component" and c.nonfinite is not None and not c.nonfinite.recovered:
        klass, onset = "nan", c.nonfinite.first_step  # NaN/Inf to the end
    else:
        klass = public(lc.labels[0])
        onset = None if klass in ("converging", "insufficient") else lc.onset
    c.klass, c.onset_step = klass, onset
    c.evidence["classes"] = ",".join(dict.fromkeys(public(x) for x in lc.labels))
    return c


#: a jump that lands within this factor of the run's initial level (either way) returns it to
#: where it started (:func:`_restart`)
RESTART_LEVEL_RATIO = 1.5
#: ... after the loss had fallen at least this factor below that level, and is followed by a
#: fall of at least this factor again: the shape of training starting over
RESTART_FALL_RATIO = 2.0


def _restart(steps: np.ndarray, raw: np.ndarray, step: int) -> bool:
    """True when a jump at ``step`` is a **restart** of training, not an instability: the loss
    had fallen >= :data:`RESTART_FALL_RATIO` below its initial level (median of the first 3
    points), the jump lands back within :data:`RESTART_LEVEL_RATIO` of that level (median of
    the 5 points from ``step``), and from there it falls >= :data:`RESTART_FALL_RATIO` again
    (median of the last 5 points): a second run appended to the same log (``>>`` or append
    mode, a bare column of numbers with no step counter), or a run restarted from scratch.
    An instability that undoes all progress does not fall again like a fresh run; one that
    lands far above the start is a divergence. Arrays: ``steps`` int64 (m,), ``raw`` (m,)
    positive finite losses. Factors chosen as the fast-drop floor (ln 2) and the knocked-up
    ratio (1.5) of :mod:`losscheck.analysis.plateau`."""
    i = int(np.searchsorted(steps, step))
    if i < 3 or i + 5 > raw.shape[0]:
        return False
    init = float(np.median(raw[:3]))
    before = float(np.min(raw[:i]))
    at = float(np.median(raw[i:i + 5]))
    end = float(np.median(raw[-5:]))
    if min(init, before, at, end) <= 0:
        return False
    return (init / before >= RESTART_FALL_RATIO and max(at / init, init / at) <= RESTART_LEVEL_RATIO
            and at / end >= RESTART_FALL_RATIO)


def _restarted(ca: CurveAnalysis, ev: dict, sp, step: int) -> None:
    """Record a restart at ``step`` (:func:`_restart`): the jump at ``step`` is no spike, and no
    other spike of the curve counts as a jump to a worse level any more (they stay listed as
    spikes); a note and evidence say so. Changes ``ca``, ``ev`` and ``sp`` in place."""
    sp.spikes[:] = [s_ for s_ in sp.spikes if s_.step != step]  # the restart itself is no spike
    for s_ in sp.spikes:
        s_.worse = False
    sp.worse.clear()
    ev["restart_step"] = int(step)
    ca.notes.append(f"the loss went back to its initial level at step {step} and fell again: a restart "
                    "(a second run appended to the log?), not an instability")


def analyse_curve(series: Series, role: str, opts, warmup: bool = False, kind: str = "loss",
                  short_call: bool = False) -> Labelled:
    """Analyse one curve and propose its labels from its own evidence.

    Args:
        series: steps int64 (n,), values float64 (n,) (NaN/Inf allowed).
        role: the role it fills (``loss``, ``eval_loss``, ``grad_norm``...).
        opts: :class:`losscheck.analysis.AnalysisOptions`.
        warmup: the LR is still in warmup at the end of the log.
        kind: see :class:`Labelled`.
        short_call: a curve with ``SHORT_MIN_POINTS``..``min_points - 1`` finite points gets
            the short-log call of :mod:`losscheck.analysis.short` instead of ``insufficient``
            (the run's main loss; see :func:`classify_run`).
    Returns:
        a :class:`Labelled`: the curve's measurements and evidence, the internal labels that
        apply (priority order) and the onset of the top one. The run-level judgement and
        :func:`settle` decide the class.
    """
    curve = prepare(series, role, opts, kind)
    det = run_detectors(curve, opts)
    tr = curve.tr
    m = curve.finite
    ca = CurveAnalysis(role=role, tag=series.tag, points=len(series), finite=m, klass="insufficient",
                       nonfinite=det["nonfinite"].fact)
    ev: dict = {"domain": tr.domain}
    labels: list[str] = []
    if m < opts.min_points:
        onset = None
        ca.notes.append(f"only {m} finite point(s): cautious verdict (needs {opts.min_points})")
        if m >= 2:
            y = tr.y
            i_min = int(np.argmin(y[:-1]))
            jump = float(y[-1] - y[i_min]) if tr.domain == "log" else 0.0
            ev["max_rise_ratio"] = float(np.exp(jump))
            if jump >= np.log(opts.explosion_ratio):
                # first point after the minimum that is >= 10x above it
                up = np.flatnonzero(y[i_min + 1:] >= y[i_min] + np.log(10.0))
                j = i_min + 1 + int(up[0])
                onset = int(tr.steps[j])
                ev.update(post_onset_growth(tr.steps, y, onset))
                g = ev.get("growth_rate_per_step")
                labels.append("diverging")
                ca.notes.append(f"loss explodes x{np.exp(jump):.3g} from step {int(tr.steps[i_min])}")
                if g is not None and g <= 0:
                    ev.pop("doubling_steps", None)
        if not labels and short_call and m >= SHORT_MIN_POINTS:
            call = classify_short(tr.steps, tr.y, tr.raw, tr.domain, opts.short,
                                  chance_tol=opts.plateau.chance_exact_tol, num_classes=opts.num_classes)
            ev.update(call.evidence)
            ca.spikes = call.spikes
            ca.plateau = call.plateau
            labels.append(call.label)
            onset = call.onset
            ca.notes[-1] = f"only {m} finite points: a short-log call ({call.label.replace('_worse', '')})"
        if not labels:
            labels.append("insufficient")
        ca.evidence = _clean(ev)
        return Labelled(ca, labels, None if labels[0] in ("converging", "insufficient") else onset, kind, curve)

    first = curve.first
    ev["noise_log"] = curve.noise
    ev["bins"] = int(curve.yb.shape[0])
    ev["segments"] = len(curve.segments)
    # the grad norm's class (see _grad_norm_class) uses non-finite values, divergence (with
    # the oscillation check) and spikes: its trend and plateau are not fitted
    loss_like = curve.loss_like
    # the trend of the whole curve is fitted once it is known to be needed: a diverging
    # curve reports the fit after its onset instead (its evidence keys keep their place)
    trend_due = loss_like
    if loss_like:
        ev["trend_model"] = ev["trend_delta_aic"] = None  # (dropped by _clean when no fit)

    def whole_trend() -> None:
        ca.trend = fit_trend(tr.steps, tr.raw, max_bins=opts.trend_bins)
        if ca.trend is not None:
            ev["trend_model"] = ca.trend.model
            ev["trend_delta_aic"] = ca.trend.delta_aic

    # divergence
    div = det["divergence"].fact
    ev.update(det["divergence"].evidence)
    onset = None
    # spikes
    sp = det["spikes"].fact
    ca.spikes = sp.spikes
    ev.update(det["spikes"].evidence)
    # oscillation (detected before the divergence verdict: large slow swings can make the
    # end of a non-progressing curve sit well above its lowest block); a grad norm's class
    # only uses it to overrule a divergence
    osc_d = det.get("oscillation", Detection())
    osc, oev = osc_d.fact, osc_d.evidence
    ev.update(oev)
    if div.diverging and osc is not None and oev.get("osc_end_within_swings"):
        div.diverging = False
        ev["rise_explained_by_swings"] = True
    if div.diverging:
        onset_step = int(first[div.onset_idx]) if div.onset_idx is not None else int(tr.steps[0])
        growth = post_onset_growth(tr.steps, tr.y, onset_step) if tr.domain == "log" else {}
        ev.update(growth)
        ev["divergence_kind"] = div.kind
        span = float(tr.steps[-1] - onset_step)
        still_rising = growth.get("growth_rate_per_step", 0.0) * span >= np.log(1.5) \
            and growth.get("growth_r2", 0.0) >= 0.5
        jump_log = float(np.log(growth["jump_ratio"])) if growth.get("jump_ratio", 0) > 0 else 0.0
        sudden = jump_log >= 0.5 * div.rise_log
        explained = [s for s in sp.worse if s.step >= onset_step - max(0.05 * (tr.steps[-1] - tr.steps[0]), 1)]
        far_above_start = div.end_log - div.start_log >= np.log(opts.divergence.min_ratio)
        restart = (tr.domain == "log" and (explained or sudden) and div.kind == "rise"
                   and _restart(tr.steps, tr.raw, explained[0].step if explained else onset_step))
        if restart:
            div.diverging = False
            _restarted(ca, ev, sp, explained[0].step if explained else onset_step)
        elif (explained or sudden) and not far_above_start and not still_rising and div.kind == "rise":
            labels.append("spiking_worse")
            if explained:
                onset = explained[0].step
            else:
                onset = onset_step
                i = int(np.searchsorted(tr.steps, onset_step))
                jump_sp = Spike(step=onset_step, ratio=float(np.exp(jump_log)),
                                z=float(jump_log / max(sp.noise, 1e-3)), recover_steps=None,
                                level_ratio=float(np.exp(div.rise_log)), worse=True)
                ca.spikes = sorted(ca.spikes + [jump_sp], key=lambda s_: s_.step)
                sp.worse.append(jump_sp)
                ev["worse_level_step"] = int(tr.steps[i]) if i < m else onset_step
            ev["worse_level_ratio"] = float(np.exp(div.rise_log))
            ca.notes.append("the loss jumped to a worse level and stayed there (not far above its initial level)")
        else:
            labels.append("diverging")
            onset = onset_step
            sel = tr.steps >= onset_step
            post = fit_trend(tr.steps[sel], tr.raw[sel], max_bins=opts.trend_bins) if loss_like else None
            if post is not None:
                ca.trend = post
                ev["trend_model"] = post.model
                ev["trend_delta_aic"] = post.delta_aic
                trend_due = False
    if sp.worse and "spiking_worse" not in labels and "diverging" not in labels and tr.domain == "log" \
            and _restart(tr.steps, tr.raw, max(sp.worse, key=lambda s_: s_.level_ratio).step):
        _restarted(ca, ev, sp, max(sp.worse, key=lambda s_: s_.level_ratio).step)
    if sp.worse and "spiking_worse" not in labels and "diverging" not in labels:
        # a jump that lands far above where training started did not cost some progress, it
        # undid all of it and more: that is a (sudden) divergence, not a spike
        init = float(np.median(tr.raw[:3]))
        top = max(sp.worse, key=lambda s_: s_.level_ratio)
        i = int(np.searchsorted(tr.steps, top.step))
        after = float(np.median(tr.raw[i:i + 5])) if i < m else float("nan")
        if tr.domain == "log" and init > 0 and after >= opts.divergence.min_ratio * init:
            labels.append("diverging")
            ev["jump_far_above_start"] = after / init
            ca.notes.append(f"the loss jumped at step {top.step} to {after / init:.3g}x its initial level")
        else:
            labels.append("spiking_worse")
        if onset is None:
            onset = sp.worse[0].step
    # oscillation: restarts of the LR schedule explain periodic bumps
    if osc is not None and not div.diverging:
        if opts.lr_restarts >= 2:
            ca.notes.append(f"periodic bumps match {opts.lr_restarts} LR warm restarts: not an oscillation")
        else:
            ca.oscillation = osc
            labels.append("oscillating")
    # plateau
    pl_d = det.get("plateau", Detection())
    pl = pl_d.fact
    ev.update(pl_d.evidence)
    if pl is not None and not div.diverging and "oscillating" not in labels:
        ca.plateau = pl
        labels.append("plateau")
        if onset is None:
            onset = pl.start_step
        if warmup and pl.from_start:
            # flat while the LR is still warming up: a plateau (the best call on what is
            # there), which LC105 reports as info, not an error (it may be too early)
            ev["lr_in_warmup"] = True
            ca.notes.append("flat loss while the LR is still in warmup: it may be too early to judge")
        if pl.chance_classes:
            ca.notes.append(f"level {pl.level:.4g} = ln({pl.chance_classes}) = chance for "
                            f"{pl.chance_classes} classes")
    if sp.spikes and "spiking_worse" not in labels and "oscillating" not in labels:
        labels.append("spiking")
        if onset is None and not labels[:-1]:
            onset = sp.spikes[0].step
    if not labels:
        labels.append("converging")
    labels = order(labels)
    if labels[0] == "oscillating" and onset is None:
        onset = int(tr.steps[0])  # no downward progress (or a fixed data order) from the start
    if labels[0] in ("converging", "insufficient"):
        onset = None
    if trend_due:
        whole_trend()
    ca.evidence = _clean(ev)
    return Labelled(ca, labels, onset, kind, curve)


# --------------------------------------------------------------------------- the run


def _meta_num(meta: dict, key: str):
    v = meta.get(key) if meta else None
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


#: A GAN generator loss growing more than this factor (late fifth over early fifth, medians)
#: explodes, whatever the discriminator does.
GAN_EXPLOSION_RATIO = 10.0


def _adversarial(run: ResolvedRun, cur: dict[str, Labelled], ev: dict, opts, is_nan: bool) -> None:
    """A GAN (``disc_loss`` role): analyse the discriminator's curve and judge the game
    (:mod:`.adversarial`). When one player wins, the generator's curve is ``diverging``
    from the collapse, with ``evidence["gan_imbalance"]`` naming the winner (rule LC109
    words it). Otherwise a generator loss that rises without exploding
    (< :data:`GAN_EXPLOSION_RATIO`) is the adversarial tug of war, not a divergence: it is
    called ``oscillating``. Changes the labels in ``cur`` and ``ev``."""
    d = run.get("disc_loss")
    g = run.get("loss")
    if d is None or g is None or "loss" not in cur or len(d) == 0:
        return
    cur["disc_loss"] = analyse_curve(d, "disc_loss", opts)
    lc = cur["loss"]
    if is_nan or lc.labels[0] == "nan":
        return
    game = detector("adversarial")
    imb = game.module.detect(lc.prepared, options_of(game, opts), discriminator=cur["disc_loss"].prepared).fact
    if imb is not None:
        lc.labels = order(["diverging"] + [x for x in lc.labels if x not in ("converging", "diverging",
                                                                               "insufficient", "plateau")])
        lc.onset = imb.onset_step
        ev.update(gan_imbalance=imb.winner, gan_g_early=imb.g_early, gan_g_late=imb.g_late,
                  gan_d_early=imb.d_early, gan_d_late=imb.d_late, gan_onset_step=imb.onset_step)
    elif "diverging" in lc.labels:
        fin = g.values[np.isfinite(g.values)]
        k = max(2, fin.size // 5)
        if fin.size >= 2 and np.median(fin[-k:]) < GAN_EXPLOSION_RATIO * max(np.median(fin[:k]), 1e-12):
            lc.labels = order(["oscillating"] + [x for x in lc.labels if x != "diverging"])
            lc.curve.notes.append("GAN: the generator loss rises as the discriminator improves, without "
                                  "exploding or the discriminator collapsing: the adversarial game, not a "
                                  "divergence")


#: At most this many component losses (losses that fill no role: a detector's ``box_loss``,
#: ``cls_loss``; a PINN's residual terms) are analysed per run, in name order.
MAX_COMPONENTS = 16


def _components(run: ResolvedRun, cur: dict[str, Labelled], opts) -> None:
    """Analyse every component loss as a curve of its own (role ``component``, keyed
    ``component:<tag>``), so a report can say which loss misbehaves; one that is NaN/Inf to
    its end is ``nan`` from its first non-finite step (:func:`settle`). They inform; the run's
    class stays that of its training and eval loss."""
    for s in run.components[:MAX_COMPONENTS]:
        cur[f"component:{s.tag}"] = analyse_curve(s, "component", opts, kind="component")


def _prepared(run: ResolvedRun, cur: dict[str, Labelled], role: str, opts) -> PreparedCurve | None:
    """The prepared curve of ``role``: the one its detectors saw, else prepared now (a curve
    too short to be classified); ``None`` without the role."""
    if role in cur and cur[role].prepared is not None:
        return cur[role].prepared
    s = run.get(role)
    return prepare(s, role, opts) if s is not None else None


def _batchnorm(run: ResolvedRun, cur: dict[str, Labelled], ev: dict, opts):
    """The BatchNorm-statistics cause (issue 14, pattern 5; :mod:`losscheck.analysis.batchnorm`):
    in a net with BatchNorm evidence, an eval loss that *jumps* while the training loss stays
    fine is not overfitting nor an eval divergence but a jump of its own: the eval curve's
    ``overfitting``/``diverging``/``plateau``/``oscillating`` labels give way to ``spiking_worse``
    (the evals stay >= 2x above their level before the jump) or ``spiking`` (they come back),
    with the jump as onset. Not when the training loss diverges or the eval went NaN (those
    causes come first). Returns the :class:`~losscheck.model.BatchNormShift` or ``None``;
    changes ``cur["eval_loss"]`` and ``ev`` in place."""
    e, lc = cur.get("eval_loss"), cur.get("loss")
    if e is None or lc is None or "diverging" in lc.labels or "nan" in lc.labels or "nan" in e.labels:
        return None
    d = detector("batchnorm")
    found = d.module.detect(e.prepared, options_of(d, opts), run=run)
    bn = found.fact
    e.curve.evidence.update({k: v for k, v in py(found.evidence).items() if v is not None})
    if bn is None:
        return None
    keep = [x for x in e.labels if x not in ("overfitting", "diverging", "plateau", "oscillating", "converging",
                                              "insufficient", "spiking", "spiking_worse")]
    e.labels = order(keep + ["spiking_worse" if bn.persists else "spiking"])
    e.onset = bn.onset_step
    e.curve.notes.append(f"eval loss jumps x{bn.jump_ratio:.3g} at step {bn.onset_step} while the training loss "
                         f"stays fine ({bn.train_change:+.0%}), in a net with BatchNorm "
                         f"({'; '.join(bn.evidence)}): the running statistics, not overfitting")
    ev.update(bn_onset_step=bn.onset_step, bn_jump_ratio=bn.jump_ratio)
    return bn


def _creep_with_stuck_eval(cur: dict[str, Labelled], opts) -> None:
    """A train loss that only *creeps* down (learned by the plateau detector's short-window
    Mann-Kendall test alone, under its 5 % floor: ``plateau_creep``) beside an eval loss of
    3 points or more with no significant fall (one-sided exact Mann-Kendall ``p >=
    short.alpha`` or a fall under ``short.min_change``) is stuck, not converging: the run
    stopped generalising better while training still inches down (issue 14, pattern 1: "an
    eval curve that stopped improving while train still creeps"; Prechelt 1998 reads
    progress from the validation curve for the same reason). Changes ``cur["loss"]``'s
    labels and plateau in place."""
    lc, e = cur.get("loss"), cur.get("eval_loss")
    if lc is None or e is None or lc.labels[0] != "converging" or not lc.curve.evidence.get("plateau_creep"):
        return
    ep = e.prepared
    if ep is None or ep.finite < SHORT_MIN_POINTS or ep.tr.domain != "log":
        return
    y = ep.tr.y
    _, _, p_down = mann_kendall(y)
    k = max(1, y.shape[0] // 3)
    fall = float(np.median(y[:k]) - np.median(y[-k:]))
    if p_down < opts.short.alpha and fall >= opts.short.min_change:
        return
    ev = lc.curve.evidence
    steps = lc.prepared.tr.steps if lc.prepared is not None else None
    start = int(steps[0]) if steps is not None and steps.size else 0
    lc.curve.plateau = Plateau(start_step=start, level=float(ev.get("plateau_level_end", 0.0)), rel_slope=0.0,
                               from_start=True)
    lc.labels = order(["plateau"] + [x for x in lc.labels if x != "converging"])
    lc.onset = start
    lc.curve.notes.append(f"the train loss only creeps down ({ev.get('plateau_level_start', float('nan')):.4g} -> "
                          f"{ev.get('plateau_level_end', float('nan')):.4g}) while the eval loss does not improve: "
                          "stuck, not converging")


#: at most this many block medians enter a Mann-Kendall test on a long eval curve (the test
#: compares every pair: quadratic work; 60 is where it switches to the normal approximation)
_MK_MAX_BLOCKS = 60


def _eval_still_learning(cur: dict[str, Labelled], opts) -> bool:
    """True when the eval loss is still improving in its later half: at least
    ``plateau.eval_learning_min_points`` finite evals on the log scale, and the later half
    (>= 3 evals) falls by the one-sided exact Mann-Kendall test (``p_down <
    plateau.eval_learning_alpha``) by at least ``plateau.eval_learning_min_fall`` (log units:
    median of its first third minus median of its last third). A model whose loss on data it
    does not train on still falls is learning, whatever a noisy per-batch training loss or a
    frozen accuracy says (Prechelt 1998 reads progress from the validation curve; issue 14,
    pattern 1). Thresholds: :class:`~losscheck.analysis.plateau.PlateauOptions`, fitted by
    ``benchmarks/fit_eval_learning.py``."""
    e = cur.get("eval_loss")
    o = opts.plateau
    ep = e.prepared if e is not None else None
    if ep is None or ep.finite < o.eval_learning_min_points or ep.tr.domain != "log":
        return False
    y = ep.tr.y
    half = y[y.shape[0] // 2:]
    if half.shape[0] < SHORT_MIN_POINTS:
        return False
    if half.shape[0] > _MK_MAX_BLOCKS:  # block medians: the exact test's work stays bounded
        half = np.array([np.median(b) for b in np.array_split(half, _MK_MAX_BLOCKS)])
    _, _, p_down = mann_kendall(half)
    k = max(1, half.shape[0] // 3)
    fall = float(np.median(half[:k]) - np.median(half[-k:]))
    return p_down < o.eval_learning_alpha and fall >= o.eval_learning_min_fall


def _plateau_but_eval_learns(cur: dict[str, Labelled], opts) -> None:
    """A training loss labelled ``plateau`` (not at a chance level, not while the LR warms
    up) beside an eval loss still learning (:func:`_eval_still_learning`) is not stuck: its
    flatness is the noise of per-batch values or a floor the eval curve has not reached yet.
    The plateau label gives way (to ``converging`` when nothing else applies). Changes
    ``cur["loss"]`` in place."""
    lc = cur.get("loss")
    if lc is None or lc.labels[0] != "plateau" or lc.curve.plateau is None or lc.curve.plateau.chance_classes:
        return
    if lc.curve.evidence.get("lr_in_warmup") or not _eval_still_learning(cur, opts):
        return
    lc.labels = order([x for x in lc.labels if x != "plateau"] or ["converging"])
    lc.curve.plateau = None
    lc.onset = None if lc.labels[0] in ("converging", "insufficient") else lc.onset
    lc.curve.evidence["eval_still_learning"] = True
    lc.curve.notes.append("the training loss looks flat but the eval loss still falls in its later half: "
                          "learning, not a plateau")


def _frozen_accuracy(s: Series | None) -> float | None:
    """The value of an accuracy curve that never changes (>= 2 finite points, all equal),
    above 0 and below its scale's top (1, or 100 for a percentage), else ``None``. Exactly 0
    is left out: an exact-match (sequence) accuracy sits at 0 through a healthy early
    seq2seq run, while a constant classifier scores 1/C or the majority share."""
    if s is None:
        return None
    v = s.values[np.isfinite(s.values)]
    if v.size < 2 or float(np.ptp(v)) != 0.0:
        return None
    top = 1.0 if float(v[0]) <= 1.0 else 100.0
    return float(v[0]) if 0.0 < float(v[0]) < 0.99 * top else None


def _stuck_by_side_channel(run: ResolvedRun, cur: dict[str, Labelled], opts) -> None:
    """A main loss called ``converging`` is ``plateau`` when a side channel shows that the
    model does not change (issue 14, pattern 1):

    - an **accuracy that never changes** (training or eval accuracy: every logged value
      identical, above 0 and below 100 %): the predicted classes are the same at every evaluation,
      the signature of a constant (majority-class or chance) predictor, while the loss only
      recalibrates the output bias (He & Garcia 2009 on the majority-class floor; the
      accuracy stuck at 1/C or at the majority share). Accuracy is a step function of the
      weights, so exact repeats over a run that learns are implausible below 100 %. Not when
      the eval loss is still learning (:func:`_eval_still_learning`): a segmentation or
      multi-label "accuracy" can sit still while the predictions improve.
    - an **LR of exactly 0 at every logged point** (>= 3 points): an SGD/Adam update is
      ``lr * direction``, so the weights cannot move; a moving loss then comes from data
      order, running averages or normalisation statistics, not learning.

    Changes ``cur``'s main-loss labels, plateau and notes in place."""
    role = "loss" if "loss" in cur else ("eval_loss" if "eval_loss" in cur else None)
    if role is None or cur[role].labels[0] != "converging":
        return
    lc = cur[role]
    why = None
    acc = _frozen_accuracy(run.get("accuracy"))
    if acc is None:
        acc = _frozen_accuracy(run.get("eval_accuracy"))
    if acc is not None and _eval_still_learning(cur, opts):
        acc = None  # the eval loss still falls: the predictions change where the accuracy cannot show it
    if acc is not None:
        why = f"the accuracy never changes ({acc:.4g} at every logged point): the predictions do not change"
    lr = run.get("lr")
    if why is None and lr is not None:
        v = lr.values[np.isfinite(lr.values)]
        if v.size >= 3 and np.all(v == 0.0):
            why = "the LR is 0 at every logged point: the weights cannot move"
    if why is None:
        return
    tr = lc.prepared.tr if lc.prepared is not None else None
    start = int(tr.steps[0]) if tr is not None and tr.steps.size else 0
    level = float(np.median(tr.raw[-max(1, tr.raw.size // 5):])) if tr is not None and tr.raw.size else 0.0
    lc.curve.plateau = Plateau(start_step=start, level=level, rel_slope=0.0, from_start=True)
    lc.labels = order(["plateau"] + [x for x in lc.labels if x != "converging"])
    lc.onset = start
    lc.curve.evidence["stuck_side_channel"] = "accuracy" if acc is not None else "lr_zero"
    if acc is not None:
        lc.curve.evidence["stuck_accuracy"] = acc / (100.0 if acc > 1.0 else 1.0)
    lc.curve.notes.append(why + ": stuck, not converging")


def _eval_placeholders(s: Series, train: Series | None) -> tuple[Series, int]:
    """The eval loss without its placeholder zeros, and how many were left out.

    An eval loss of exactly 0.0 at >= 2 points with a positive eval loss logged *after* the
    first of them, beside a training loss that never reaches 0, is a placeholder: the
    evaluation did not run at those steps (Ultralytics writes its ``val/*_loss`` columns as
    0 when validation is off until the last epoch; a cross-entropy on held-out data is
    never exactly 0 and then positive again). Classifying those zeros as losses makes the
    first real eval a divergence from 0. Zeros only at the tail (an eval loss collapsing to
    0: leakage, LC402's case) are kept, and so is an all-zero eval loss. Returns
    ``(series, 0)`` unchanged otherwise."""
    v = s.values
    zero = v == 0.0
    nz = int(zero.sum())
    if nz < 2 or train is None:
        return s, 0
    tv = train.values[np.isfinite(train.values)]
    if tv.size == 0 or float(tv.min()) <= 0.0:
        return s, 0
    first = int(np.argmax(zero))
    after = v[first:]
    if not np.any(np.isfinite(after) & (after > 0.0)):
        return s, 0
    keep = ~zero
    return replace(s, steps=s.steps[keep], values=v[keep],
                   wall_time=s.wall_time[keep] if s.wall_time is not None else None), nz


def classify_run(run: ResolvedRun, options: AnalysisOptions | None = None) -> RunAnalysis:
    """Classify a run's curves and the run (module doc); :func:`losscheck.analysis.analyse`
    adds the facts. Call under ``np.errstate`` (values near 1e308 overflow sums)."""
    opts = replace(options) if options is not None else AnalysisOptions()
    meta = getattr(run.data, "meta", {}) or {}
    if opts.num_classes is None:
        nc = _meta_num(meta, "num_classes")
        opts.num_classes = int(nc) if nc and nc >= 2 else None
    lr = run.get("lr")
    lrd = detector("lr")
    lrc = lrd.module.detect(prepare(lr, "lr", opts, kind="lr") if lr is not None else None,
                            options_of(lrd, opts)).fact
    warm = in_warmup(lr, _meta_num(meta, "learning_rate"))
    opts.lr_restarts = len(lrc.restart_steps) if lrc is not None else 0
    cur: dict[str, Labelled] = {}
    train = run.get("loss")
    has_loss = train is not None and len(train) > 0
    placeholders = 0
    for role in ("loss", "eval_loss", "grad_norm"):
        s = run.get(role)
        if s is not None and role == "eval_loss":
            s, placeholders = _eval_placeholders(s, train)
        if s is None or len(s) == 0:
            continue
        # a short training loss gets the short-log call, and so does a short eval loss
        # when it is the run's only loss (a short eval beside a train loss informs only)
        cur[role] = analyse_curve(s, role, opts, warmup=warm and role != "grad_norm",
                                  kind="grad_norm" if role == "grad_norm" else "loss",
                                  short_call=role == "loss" or (role == "eval_loss" and not has_loss))
    ev: dict = {}
    if placeholders and "eval_loss" in cur:
        ev["eval_placeholder_zeros"] = placeholders
        cur["eval_loss"].curve.notes.append(f"{placeholders} eval loss value(s) of exactly 0 left out: "
                                            "placeholders of an evaluation that did not run")
    if lrc is not None:
        ev.update({"lr_peak": lrc.peak, "lr_peak_step": lrc.peak_step, "lr_warmup_steps": lrc.warmup_steps})
        if warm:
            ev["lr_in_warmup"] = True
        if opts.lr_restarts:
            ev["lr_restarts"] = opts.lr_restarts
    main_role = "loss" if "loss" in cur else ("eval_loss" if "eval_loss" in cur else None)
    # run-level non-finite verdict
    nvd = detector("nan_verdict")
    nv = nvd.module.detect(_prepared(run, cur, main_role, opts) if main_role else None, options_of(nvd, opts),
                           grad=_prepared(run, cur, "grad_norm", opts)).fact
    ev.update(nv.evidence)
    if main_role and nv.is_nan:
        lc = cur[main_role]
        lc.labels = order(["nan"] + [x for x in lc.labels if x != "insufficient"])
        lc.onset = nv.onset_step
        lc.curve.notes.extend(nv.notes)
    elif nv.notes and "grad_norm" in cur:
        cur["grad_norm"].curve.notes.extend(nv.notes)
    e = cur.get("eval_loss")
    if e is not None and "loss" in cur and e.curve.nonfinite is not None and not nv.is_nan:
        en = e.curve.nonfinite
        if not en.recovered:
            e.labels = order(["nan"] + e.labels)
            e.onset = en.first_step
    # an eval curve that is flat while the train loss learned: its first eval came after
    # the fast drop (converged floor), not "not learning" -- unless it sits at chance.
    if e is not None and "plateau" in e.labels and "loss" in cur and "plateau" not in cur["loss"].labels \
            and e.curve.plateau is not None and not e.curve.plateau.chance_classes:
        e.labels = order([x for x in e.labels if x != "plateau"] or ["converging"])
        e.curve.notes.append("eval loss flat from its first eval while the train loss learned: "
                             "already at its floor, not a plateau")
    _creep_with_stuck_eval(cur, opts)
    _plateau_but_eval_learns(cur, opts)
    _stuck_by_side_channel(run, cur, opts)
    # overfitting
    ofd = detector("overfit")
    found = ofd.module.detect(_prepared(run, cur, "eval_loss", opts), options_of(ofd, opts),
                              train=_prepared(run, cur, "loss", opts))
    of, oev = found.fact, found.evidence
    es = run.get("eval_loss")
    if of is not None and es is not None and np.isfinite(es.values).any():
        # the detector decides on a smoothed curve; the checkpoint a user restores is the raw minimum
        i = int(np.nanargmin(np.where(np.isfinite(es.values), es.values, np.nan)))
        of.best_step, of.best = int(es.steps[i]), float(es.values[i])
        of.rise = of.last / of.best - 1 if of.best > 0 else of.rise
    if of is not None:
        ev.update({"overfit_gl_percent": oev.get("overfit_gl_percent"), "overfit_best_step": of.best_step})
        e = cur["eval_loss"]
        el = [x for x in e.labels if x not in ("diverging", "plateau", "converging", "insufficient")
              or (x == "diverging" and "diverging" in (cur["loss"].labels if "loss" in cur else []))]
        e.labels = order(el + ["overfitting"])
        if e.labels[0] == "overfitting":
            e.onset = of.best_step
    bn = _batchnorm(run, cur, ev, opts)
    _adversarial(run, cur, ev, opts, nv.is_nan)
    _components(run, cur, opts)
    # every curve's class, onset and evidence["classes"], once
    curves = {key: settle(lc) for key, lc in cur.items()}
    if "eval_loss" in curves:
        curves["eval_loss"].evidence.update({k: v for k, v in py(oev).items() if v is not None})
    # run classes
    pool = []
    for role in ("loss", "eval_loss"):
        if role in cur:
            pool += [(lab, role) for lab in cur[role].labels]
    if not pool:
        return RunAnalysis(curves=curves, primary="insufficient", secondary=[], onset_step=None,
                           overfit=of, lr=lrc, evidence=py({k: v for k, v in ev.items() if v is not None}),
                           batchnorm=bn)
    problems = [p for p in pool if p[0] not in ("converging", "insufficient")]
    primary: RunClass
    if problems:
        problems.sort(key=lambda p: PRIORITY.index(p[0]))
        top_label, top_role = problems[0]
        primary = public(top_label)
        onset = of.best_step if top_label == "overfitting" and of is not None else curves[top_role].onset_step
    else:
        main_labels = cur[main_role].labels if main_role in cur else ["insufficient"]
        primary = "converging" if "converging" in main_labels else \
            ("converging" if any(p[0] == "converging" for p in pool) and main_labels[0] != "insufficient"
             else "insufficient")
        onset = None
    if bn is not None and primary == "spiking":
        onset = bn.onset_step  # the eval jump, not a training-loss blip beside it
    secondary: list[RunClass] = []
    for lab, _ in sorted(problems, key=lambda p: PRIORITY.index(p[0])):
        name = public(lab)
        if name != primary and name not in secondary:
            secondary.append(name)
    # evidence linking the onset to the LR schedule and the grad norm
    g = curves.get("grad_norm")
    if primary == "diverging" and onset is not None:
        if lrc is not None:
            ev["divergence_after_lr_peak_steps"] = int(onset - lrc.peak_step)
        if g is not None and g.klass == "diverging" and g.onset_step is not None:
            ev["grad_norm_surge_lead_steps"] = int(onset - g.onset_step)
    ev["classes"] = ",".join([primary] + secondary)
    return RunAnalysis(curves=curves, primary=primary, secondary=secondary, onset_step=onset,
                       overfit=of, lr=lrc, evidence=py({k: v for k, v in ev.items() if v is not None}),
                       batchnorm=bn)

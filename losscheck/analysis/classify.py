"""Combine the detectors into a class per curve and per run.

Priority when several classes apply (what a user wants to hear first):

1. ``nan`` -- the run is dead or its numbers cannot be trusted; nothing else matters.
2. ``diverging`` -- the loss grows: stop the run / lower the LR now.
3. ``spiking`` *to a worse level* -- an instability that cost progress (not recovered).
4. ``overfitting`` -- training works but the model no longer generalises: stop early.
5. ``oscillating`` -- no progress, large slow swings (LR / momentum / GAN balance).
6. ``plateau`` -- not learning at all (flat from the start, or at chance ln C).
7. ``spiking`` *recovered* -- worth knowing, the run survived.
8. ``converging`` -- healthy.

``insufficient`` is given when a curve has fewer than ``min_points`` (8) finite points and
nothing unmistakable (non-finite values, an explosion of >= ``explosion_ratio`` x100)
shows, and when a flat run is still in LR warmup (too early to judge: a preference/DPO
loss at ln 2 with an LR of 1e-7 is expected, not a failure).
"""

from __future__ import annotations

import numpy as np

from losscheck.analysis._util import bin_median, diff_noise, py, transform
from losscheck.analysis.changepoint import segment
from losscheck.analysis.divergence import detect_divergence, post_onset_growth
from losscheck.analysis.nonfinite import scan
from losscheck.analysis.oscillation import detect_oscillation
from losscheck.analysis.plateau import detect_plateau
from losscheck.analysis.spikes import detect_spikes
from losscheck.analysis.trend import fit_trend
from losscheck.model import CurveAnalysis, Series, Spike

#: Internal labels in priority order; ``spiking_worse`` is reported as ``spiking``.
PRIORITY = ("nan", "diverging", "spiking_worse", "overfitting", "oscillating", "plateau",
            "spiking", "converging", "insufficient")


def public(label: str) -> str:
    """Map an internal label to its :data:`losscheck.model.CLASSES` name."""
    return "spiking" if label == "spiking_worse" else label


def order(labels) -> list[str]:
    """Sort internal labels by :data:`PRIORITY` and drop duplicates."""
    return sorted(set(labels), key=PRIORITY.index)


def _clean(d: dict) -> dict:
    """Flat, JSON-friendly evidence: drop ``None`` values, convert numpy scalars."""
    return {k: v for k, v in py(d).items() if v is not None and not isinstance(v, (dict, list))}


def analyse_curve(series: Series, role: str, opts, warmup: bool = False) -> tuple[CurveAnalysis, list[str]]:
    """Analyse one curve.

    Args:
        series: steps int64 (n,), values float64 (n,) (NaN/Inf allowed).
        role: the role it fills (``loss``, ``eval_loss``, ``grad_norm``...).
        opts: :class:`losscheck.analysis.AnalysisOptions`.
        warmup: the LR is still in warmup at the end of the log.
    Returns:
        ``(curve, labels)``: the :class:`CurveAnalysis` (``klass`` set from the curve's own
        evidence; non-finite run-level logic is applied by the caller) and the internal
        labels that apply, in priority order.
    """
    nf = scan(series)
    tr = transform(series.steps, series.values)
    m = int(tr.y.shape[0])
    ca = CurveAnalysis(role=role, tag=series.tag, points=len(series), finite=m, klass="insufficient",
                       nonfinite=nf)
    ev: dict = {"domain": tr.domain}
    labels: list[str] = []
    if m < opts.min_points:
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
                ca.onset_step = int(tr.steps[j])
                ev.update(post_onset_growth(tr.steps, y, ca.onset_step))
                g = ev.get("growth_rate_per_step")
                labels.append("diverging")
                ca.notes.append(f"loss explodes x{np.exp(jump):.3g} from step {int(tr.steps[i_min])}")
                if g is not None and g <= 0:
                    ev.pop("doubling_steps", None)
        if not labels:
            labels.append("insufficient")
        ca.klass = public(labels[0])
        ca.evidence = _clean(ev)
        return ca, labels

    tb, yb, first = bin_median(tr.steps, tr.y, opts.max_bins)
    sigma = diff_noise(yb)
    ev["noise_log"] = sigma
    ev["bins"] = int(yb.shape[0])
    segs = segment(tb, yb, sigma)
    ev["segments"] = len(segs)
    # the grad norm's class (see losscheck.analysis.analyse) uses non-finite values,
    # divergence (with the oscillation check) and spikes: its trend and plateau are not fitted
    loss_like = role != "grad_norm"
    ca.trend = fit_trend(tr.steps, tr.raw, max_bins=opts.trend_bins) if loss_like else None
    if ca.trend is not None:
        ev["trend_model"] = ca.trend.model
        ev["trend_delta_aic"] = ca.trend.delta_aic

    # divergence
    div = detect_divergence(tb, yb, segs, opts.divergence)
    ev.update(div.evidence)
    onset = None
    # spikes
    sp = detect_spikes(tr, opts.spike)
    ca.spikes = sp.spikes
    ev["spike_threshold_z"] = sp.threshold_z
    if sp.spikes:
        big = max(sp.spikes, key=lambda s: s.ratio)
        ev.update({"spike_count": len(sp.spikes), "spike_max_ratio": big.ratio, "spike_max_z": big.z,
                   "spike_max_step": big.step, "spikes_worse_level": len(sp.worse)})
    # oscillation (computed before the divergence verdict: large slow swings can make the
    # end of a non-progressing curve sit well above its lowest block); a grad norm's class
    # only uses it to overrule a divergence
    osc, oev = detect_oscillation(tb, yb, max(div.progress_log, 0.0), opts.oscillation) \
        if loss_like or div.diverging else (None, {})
    ev.update({"osc_" + k: v for k, v in oev.items()})
    if div.diverging and osc is not None and oev.get("end_within_swings"):
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
        if (explained or sudden) and not far_above_start and not still_rising and div.kind == "rise":
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
    pl, pev = detect_plateau(tb, yb, tr.domain, tr.inverse, opts.num_classes, opts.plateau) \
        if loss_like else (None, {})
    ev.update({"plateau_" + k: v for k, v in pev.items()})
    if pl is not None and not div.diverging and "oscillating" not in labels:
        ca.plateau = pl
        if warmup and pl.from_start:
            labels.append("insufficient")
            ev["lr_in_warmup"] = True
            ca.notes.append("flat loss while the LR is still in warmup: too early to judge")
        else:
            labels.append("plateau")
            if onset is None:
                onset = pl.start_step
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
    ca.onset_step = onset
    ca.klass = public(labels[0])
    ev["classes"] = ",".join(dict.fromkeys(public(lab) for lab in labels))
    ca.evidence = _clean(ev)
    return ca, labels

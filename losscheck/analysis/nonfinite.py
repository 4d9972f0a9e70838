"""Non-finite values (NaN / Inf): where they start, which metric went first, and whether
they matter.

Facts used:

* fp16 mixed precision uses dynamic loss scaling: when the scaled gradients overflow, the
  step is *skipped* and the scale halved (Micikevicius et al. 2018, "Mixed precision
  training", sec. 3.2; PyTorch ``torch.cuda.amp.GradScaler``). Such runs log a NaN/Inf
  gradient norm at a few scattered steps while the loss stays finite and keeps falling:
  **benign overflow**, not a failed run.
* The Hugging Face ``Trainer`` hides NaN/Inf losses by default
  (``logging_nan_inf_filter=True``: a non-finite step loss is replaced by the average of
  the finite ones, and a window of only non-finite losses logs ``0.0``), so a logged loss of
  exactly ``0.0`` together with a NaN ``grad_norm`` is the signature of a NaN run
  (transformers ``TrainingArguments.logging_nan_inf_filter`` docs).
* A NaN in the loss that persists to the end of the log is a dead run (every later
  update is NaN). A couple of isolated non-finite losses that recover, with the loss
  back at its level, are reported but do not make the run ``nan``.

All scans are exact O(n) passes over every point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from losscheck.model import NonFinite, Series, ZeroLoss


def scan(series: Series) -> NonFinite | None:
    """Count NaN/Inf in one series.

    Args:
        series: any curve (``values`` float64 (n,), ``steps`` int64 (n,)).
    Returns:
        a :class:`~losscheck.model.NonFinite`, or ``None`` when every value is finite.
        ``recovered`` is True when a finite value follows the last non-finite one;
        ``last_finite_before`` is the last finite value before the first bad step.
    """
    v = series.values
    bad = ~np.isfinite(v)
    if not bad.any():
        return None
    idx = np.flatnonzero(bad)
    first, last = int(idx[0]), int(idx[-1])
    before = v[:first]
    lf = float(before[-1]) if before.size else None
    return NonFinite(first_step=int(series.steps[first]), nan=int(np.isnan(v).sum()),
                     inf=int(np.isinf(v).sum()), total=int(v.shape[0]),
                     recovered=bool(last < v.shape[0] - 1), last_finite_before=lf)


#: The detector has no configurable options.
Options = None


def detect(curve, opts=None):
    """Non-finite values of a prepared curve (:class:`~losscheck.analysis.prepared.PreparedCurve`):
    a :class:`~losscheck.analysis.prepared.Detection` with the
    :class:`~losscheck.model.NonFinite` counts (``None`` when every value is finite; exact
    scan of every raw point). No options (``opts`` is accepted for the common interface)."""
    from losscheck.analysis.prepared import Detection

    return Detection(scan(curve.series))


def zero_loss(loss: Series | None, grad: Series | None) -> ZeroLoss:
    """Logged losses of exactly 0.0, split by the grad norm at the same step: the HF Trainer's
    NaN-filter signature (module doc) where the grad norm is NaN/Inf, a suspiciously low loss
    (rule LC402) where it is finite or not logged. The one computation of the signature: the
    run's ``nan`` class (:func:`verdict`), LC102 and LC404 all read it.

    Args:
        loss: a loss curve (``steps`` int64 (n,), ``values`` float64 (n,)); grad: the grad norm.
    Returns:
        a :class:`~losscheck.model.ZeroLoss` (all counts 0 without a loss or without zeros).
    Cost: O(n log n) (set operations on the steps).
    """
    out = ZeroLoss()
    if loss is None or len(loss) == 0:
        return out
    z = loss.steps[loss.values == 0.0]
    if not len(z):
        return out
    if grad is not None and len(grad):
        bad = grad.steps[~np.isfinite(grad.values)]
        hit = np.intersect1d(z, bad)
        if len(hit):
            out.hidden, out.hidden_first = int(len(hit)), int(hit[0])
            out.steps_from_first = int(np.sum(loss.steps >= out.hidden_first))
            out.hidden_kind = "NaN" if np.any(np.isnan(grad.values[np.isin(grad.steps, hit)])) else "Inf"
        z = np.setdiff1d(z, bad)
    out.visible = int(len(z))
    out.visible_first = int(z[0]) if len(z) else None
    return out


@dataclass
class NanVerdict:
    """The run-level reading of non-finite values.

    Attributes:
        is_nan: the run belongs to class ``nan``.
        onset_step: the first bad step that matters, or ``None``.
        first_metric: ``"loss"``, ``"grad_norm"`` or ``None`` (which went non-finite first).
        benign_overflow: grad-norm NaN/Inf only, loss finite and not rising.
        hf_nan_filter: logged loss exactly 0.0 together with a non-finite grad norm.
        evidence: JSON-friendly numbers.
        notes: sentences for the user.
    """

    is_nan: bool = False
    onset_step: int | None = None
    first_metric: str | None = None
    benign_overflow: bool = False
    hf_nan_filter: bool = False
    evidence: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


#: Non-finite values in at least this share of a loss's points are never "isolated glitches"
#: (one print in ten; for logs of 30 points or more the 2-values / 1 % allowance is the
#: stricter one, so only short logs are affected).
GLITCH_MAX_SHARE = 0.1


def _loss_matters(loss: Series, nf: NonFinite) -> bool:
    """Whether non-finite loss values are more than a couple of recovered glitches.

    A glitch is rare: at most 2 values and 1 % of a long log, *and* under
    :data:`GLITCH_MAX_SHARE` of the points. The share matters on short logs (an excerpt
    pasted into a bug report), where "2 values" is the whole story: one NaN among 4 prints
    is a loss that is NaN at every fourth print, an intermittent fault (mmdetection's
    "loss is nan at some iterations"), not a skipped fp16 step."""
    if not nf.recovered:
        return True
    bad = ~np.isfinite(loss.values)
    if bad.sum() > max(2, 0.01 * bad.shape[0]) or bad.sum() >= GLITCH_MAX_SHARE * bad.shape[0]:
        return True
    # the loss must be back near its level after the last glitch
    i_first = int(np.flatnonzero(bad)[0])
    i_last = int(np.flatnonzero(bad)[-1])
    pre = loss.values[max(0, i_first - 5):i_first]
    post = loss.values[i_last + 1:i_last + 6]
    pre, post = pre[np.isfinite(pre)], post[np.isfinite(post)]
    if pre.size == 0 or post.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308
        return not (np.median(post) <= 1.2 * np.median(pre) + 1e-12 * abs(np.median(pre)))


def verdict(loss: Series | None, grad: Series | None) -> NanVerdict:
    """Decide whether non-finite values (or the HF NaN-filter signature) make a run ``nan``.

    Args:
        loss: the training loss series (or the eval loss when there is no train loss).
        grad: the gradient-norm series, or ``None``.
    """
    v = NanVerdict()
    lnf = scan(loss) if loss is not None else None
    gnf = scan(grad) if grad is not None else None
    if lnf is None and gnf is None:
        return v
    firsts = {k: nf.first_step for k, nf in (("loss", lnf), ("grad_norm", gnf)) if nf is not None}
    v.first_metric = min(firsts, key=lambda k: (firsts[k], k != "grad_norm"))
    if lnf is not None and gnf is not None:
        v.evidence["grad_norm_lead_steps"] = int(lnf.first_step - gnf.first_step)
    if lnf is not None:
        v.evidence.update({"loss_first_nonfinite_step": lnf.first_step, "loss_nonfinite": lnf.nan + lnf.inf,
                           "loss_recovered": lnf.recovered})
    if gnf is not None:
        v.evidence.update({"grad_norm_first_nonfinite_step": gnf.first_step,
                           "grad_norm_nonfinite": gnf.nan + gnf.inf, "grad_norm_recovered": gnf.recovered})
    v.evidence["first_nonfinite_metric"] = v.first_metric
    # HF Trainer NaN-filter signature: loss == 0.0 exactly where grad_norm is NaN/Inf.
    if gnf is not None and loss is not None:
        zero_steps = loss.steps[loss.values == 0.0]
        after = zero_steps[zero_steps >= gnf.first_step]
        if zero_loss(loss, grad).hidden or (after.size and zero_steps.size == after.size and after.size >= 1
                        and np.all(loss.values[loss.steps >= after[0]] == 0.0)):
            v.hf_nan_filter = True
            v.is_nan = True
            v.onset_step = int(min(gnf.first_step, int(after[0]) if after.size else gnf.first_step))
            v.evidence["hf_nan_filter"] = True
            v.evidence["zero_loss_steps"] = int(after.size)
            v.notes.append("logged loss is exactly 0.0 while grad_norm is NaN: the Hugging Face "
                           "Trainer hides NaN losses (logging_nan_inf_filter); the run is NaN")
            return v
    if loss is not None and lnf is not None and _loss_matters(loss, lnf):
        v.is_nan = True
        v.onset_step = int(lnf.first_step if gnf is None else min(lnf.first_step, gnf.first_step))
        return v
    if lnf is not None:
        v.notes.append(f"{lnf.nan + lnf.inf} isolated non-finite loss value(s) from step "
                       f"{lnf.first_step}; the loss recovered to its level")
        v.evidence["loss_nonfinite_benign"] = True
    if gnf is not None:
        # grad-norm only: benign fp16 overflow when the loss stays finite and is not rising.
        benign = True
        if loss is not None:
            fin = np.isfinite(loss.values)
            pre = loss.values[fin & (loss.steps < gnf.first_step)]
            post = loss.values[fin & (loss.steps >= gnf.first_step)]
            if post.size >= 1 and pre.size >= 1:
                pre_lvl = float(np.median(pre[-5:]))
                post_lvl = float(np.median(post[-5:]))
                if pre_lvl > 0 and post_lvl > 1.2 * pre_lvl:
                    benign = False
            frac = (gnf.nan + gnf.inf) / max(gnf.total, 1)
            if frac > 0.5 and gnf.total >= 8 and post.size and pre.size and \
                    float(np.median(post)) >= 0.98 * float(np.median(pre[-5:])):
                benign = False  # most updates skipped and the loss no longer falls
        else:
            benign = False
        if benign:
            v.benign_overflow = True
            v.evidence["benign_overflow"] = True
            v.notes.append(f"grad_norm is NaN/Inf at {gnf.nan + gnf.inf} step(s) from step "
                           f"{gnf.first_step} while the loss stays finite: skipped fp16 "
                           f"loss-scale overflow steps (benign)")
        else:
            v.is_nan = True
            v.onset_step = gnf.first_step
    return v

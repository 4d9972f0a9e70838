"""LC102 loss-nonfinite."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from losscheck.model import RemedyVote
from losscheck.model import PreNonFinite, ZeroLoss
from losscheck.rules._evidence import fmt, lr_votes_settings, unit_word
from losscheck.rules.interface import Rule, RuleContext, threshold

#: NaN within this share of the run (or within the first 100 steps) counts as "early": the
#: seed case study's rule of thumb is that NaN/explosion in the first ~100 iterations is
#: usually a too-high LR.
EARLY_FRACTION = 0.1

@dataclass(frozen=True)
class Options:
    """LC102's thresholds: field ``x_y`` is the ``[thresholds]`` key ``x-y``; defaults are the
    module constants above, their sources in the rule's "How it is computed" and the measuring
    module it names."""

    early_fraction: float = threshold(EARLY_FRACTION,
        doc='A NaN/Inf within this share of the run (or the first 100 steps) is early: usually a too-high LR (seed case study).')


class LossNonFinite(Rule[Options]):
    code = "LC102"
    name = "loss-nonfinite"
    severity = "error"
    summary = "The loss became NaN or Inf (also when the HF Trainer hid it as 0.0: LC404 explains that signature)."
    what = ("A non-finite training or eval loss that matters: NaN/Inf that does not recover, or that "
            "recurs. Reports the first bad step, which metric went non-finite first (grad norm or loss), "
            "and the last finite value before it.")
    why = ("Once the weights hold NaN every later step is wasted; optimizers do not recover. The cause "
           "decides the fix: an LR too high (loss or grad norm grows first), corrupt input (a sudden NaN "
           "from a stable loss), or fp16 overflow (overflow-skipped steps before the NaN).")
    fix = ("`lower_lr` first when the LR jumped just before, when the loss or grad norm grew first (last "
           "values >= 2x the loss minimum, or >= 10x the healthy grad norm), or when the NaN comes in the first "
           "steps of training out of an unsettled loss; `check_data` first when it comes suddenly out of a "
           "stable loss; `mixed_precision` first after fp16 overflow-skipped steps; always `rollback` to the "
           "last finite step.")
    how = ("Exact scan of every logged value (never sampled). Growth before the NaN: the median of the last "
           "3 finite losses over the lowest 5-point mean before them, and the largest of the last 3 grad "
           "norms over the 90th percentile of the earlier ones (measured once by the analysis, `losscheck.analysis.evidence.pre_nonfinite_growth`, and read from the run's facts). The HF NaN-filter signature is the one computed by `losscheck.analysis.nonfinite.zero_loss` (shared with LC404). 'Early' "
           "is within max(100 steps, or 1 epoch, `early-fraction` of the run) from step 0.")
    example = "loss is NaN from step 3451 (last finite 0.206); grad norm was finite until then"
    Options = Options
    sources = ("seed case study", "Micikevicius et al. 2018, Mixed precision training",
               "HF transformers Trainer docs (logging_nan_inf_filter)")

    def check(self, ctx: RuleContext) -> list:
        cfg = self.opts(ctx)
        out = []
        for role in ("loss", "eval_loss"):
            cur = ctx.analysis.curves.get(role)
            if cur is None or cur.klass != "nan":
                continue
            if role == "eval_loss" and "loss" in ctx.analysis.curves and ctx.analysis.curves["loss"].klass == "nan":
                continue
            nf = cur.nonfinite
            series = ctx.run.get(role)
            unit = unit_word(ctx.run, role)
            onset = cur.onset_step if cur.onset_step is not None else (nf.first_step if nf else None)
            oc = ctx.analysis.facts.at(onset)
            ev: dict[str, Any] = {"first_nonfinite_step": onset}
            if nf is not None:
                ev.update(nan=nf.nan, inf=nf.inf, points=nf.total, recovered=nf.recovered,
                          last_finite=nf.last_finite_before)
            # the HF NaN-filter signature (losscheck.analysis.nonfinite.zero_loss)
            hf_filter = bool(onset is not None and ctx.run.get("grad_norm") is not None
                             and ctx.analysis.facts.zero_loss.get(role, ZeroLoss()).hidden)
            ev["hf_nan_filter"] = hf_filter
            if nf is not None:
                what = "NaN" if nf.nan >= nf.inf else "Inf"
                msg = f"{role.replace('_', ' ')} is {what} from {unit} {onset}"
                if nf.last_finite_before is not None:
                    msg += f" (last finite {fmt(nf.last_finite_before)})"
            else:
                msg = f"{role.replace('_', ' ')} went non-finite at {unit} {onset}"
            if hf_filter:  # LC404 explains the signature; say only what LC102 adds
                msg = f"{role.replace('_', ' ')} is NaN from {unit} {onset}, hidden as 0.0 in the log (see LC404)"
            g = ctx.analysis.curves.get("grad_norm")
            gnf = g.nonfinite if g is not None else None
            grad_first = gnf if gnf is not None and onset is not None and gnf.first_step < onset else None
            overflow_signs = bool(grad_first is not None and grad_first.recovered) \
                or bool(ctx.run.data.meta.get("fp16"))
            if grad_first is not None:
                msg += f"; the grad norm went non-finite first, at {unit} {grad_first.first_step}"
                ev["grad_norm_first_nonfinite_step"] = grad_first.first_step
            # "early" counts from step 0, not from the first logged step: an excerpt that starts at
            # step 3442 comes from a run that had trained for 3442 steps
            last = int(series.steps[-1]) if series is not None and len(series) else 0
            # the seed's "first ~100 iterations" is in steps; in an epoch log, only the first epochs
            first_n = 100 if unit == "step" else 1
            early = onset is not None and onset <= max(first_n, cfg.early_fraction * last)
            pre = ctx.analysis.facts.pre_nonfinite.get(role, PreNonFinite())
            loss_ratio, grad_ratio = pre.loss_ratio, pre.grad_ratio
            grew = (loss_ratio is not None and loss_ratio >= 2) or (grad_ratio is not None and grad_ratio >= 10)
            stable = (loss_ratio is not None and loss_ratio < 1.5) and (grad_ratio is None or grad_ratio < 3)
            ev.update(pre_loss_ratio=loss_ratio, pre_grad_norm_ratio=grad_ratio)
            jump = oc.lr_jump
            if oc.lr_at_onset is not None:
                msg += f"; LR {fmt(oc.lr_at_onset)} at that {unit}"
                ev["lr_at_onset"] = oc.lr_at_onset
            if jump:
                msg += f" (it had just jumped x{jump:.3g})"
                ev["lr_jump"] = jump
            elif grew:
                msg += "; the " + ("loss" if loss_ratio is not None and loss_ratio >= 2 else "grad norm") + \
                    " was already growing"
            votes = []
            if overflow_signs:
                votes.append(RemedyVote("mixed_precision", 1.0, "grad norm overflowed (skipped steps) before the "
                                        "loss did: fp16 loss-scale overflow", {"precision": "bf16", "init_scale": 2 ** 10}))
            elif hf_filter:
                votes.append(RemedyVote("mixed_precision", 0.6, "a hidden NaN loss with a NaN grad norm is a common "
                                        "fp16 failure signature", {"precision": "bf16"}))
            if jump:
                votes.append(RemedyVote("lower_lr", 1.1, f"the LR jumped x{jump:.3g} just before the NaN: remove the "
                                        "bump or lower the LR", lr_votes_settings(oc)))
                votes.append(RemedyVote("lr_schedule", 0.7, "a mid-run LR increase destabilised the run"))
            elif grew or (early and not stable):
                bad = "Inf" if nf is not None and nf.inf > nf.nan else "NaN"
                votes.append(RemedyVote("lower_lr", 0.95, f"{bad} " + ("after the loss or grad norm grew" if grew
                                        else f"within the first {unit}s") + ": the LR is too high",
                                        lr_votes_settings(oc)))
                votes.append(RemedyVote("check_data", 0.6, "NaN input or labels also produce NaN losses"))
            else:
                votes.append(RemedyVote("check_data", 0.95, "a sudden NaN out of a stable loss points at a bad "
                                        "batch (NaN/Inf input, an out-of-range label, log(0))"))
                votes.append(RemedyVote("lower_lr", 0.5, "a smaller LR gives a margin against rare large updates",
                                        lr_votes_settings(oc)))
            votes.append(RemedyVote("grad_clip", 0.5, "clipping keeps one bad step from overflowing the weights",
                                    {"max_grad_norm": oc.clip or 1.0}))
            if oc.rollback is not None:
                votes.append(RemedyVote("rollback", 0.7, f"weights are NaN after {unit} {onset}: resume from a "
                                        f"checkpoint at or before {unit} {oc.rollback}",
                                        {f"resume_before_{unit}": oc.rollback}))
            out.append(self.finding(msg, role=role, step=onset, evidence=ev, remedies=votes))
        return out

RULE = LossNonFinite()

"""LC404 hf-nan-filter (a NaN loss hidden as 0.0 by the HF Trainer)."""

from __future__ import annotations

from losscheck.model import RemedyVote
from losscheck.rules.interface import Rule, RuleContext


class HfNanFilter(Rule):
    code = "LC404"
    name = "hf-nan-filter"
    severity = "error"
    summary = "The loss is logged as exactly 0.0 where the grad norm is NaN/Inf: the HF Trainer hides a NaN loss."
    what = ("The training loss is exactly 0.0 at one or more logged steps at which the grad norm is NaN or "
            "Inf. Reports how many such steps, the first one, and the share of the logged steps after it "
            "that are hidden this way. This is the dedicated finding for the signature; LC102 reports the "
            "run as NaN and refers to this code instead of repeating the explanation.")
    why = ("The Hugging Face Trainer's `logging_nan_inf_filter` (on by default) drops NaN/Inf step losses "
           "from the logged average; a logging window in which every step was NaN logs 0.0. A loss of "
           "exactly 0.0 next to a NaN grad norm therefore does not mean a perfect model: the weights are "
           "NaN (or every update is being skipped) and the run is dead. Dashboards that plot the loss show "
           "a healthy-looking drop to 0.")
    fix = ("Ranks `mixed_precision` (the usual cause is fp16 overflow: use bf16, keep the loss scaler on, "
           "compute softmax/normalisation in fp32; weight 1.0 when the log says fp16, else 0.5) and "
           "`check_data` (a NaN/Inf input or an empty label set also gives NaN losses; 0.6, or 0.5 with "
           "fp16). LC102 ranks the NaN itself; the signature alone does not say whether the cause is "
           "overflow or data, so without an fp16 flag this rule leans slightly to `check_data`. Re-run with "
           "`logging_nan_inf_filter=False` to see the real losses.")
    how = ("Exact comparison: steps where the logged `loss` == 0.0 intersected with the steps where "
           "`grad_norm` is NaN/Inf (transformers `TrainingArguments.logging_nan_inf_filter` docs), computed "
           "once by the analysis (`losscheck.analysis.nonfinite.zero_loss`) and read from the run's facts; "
           "the run's `nan` class (`losscheck.analysis.nonfinite.verdict`) and LC102 read the same "
           "signature.")
    example = ("loss logged as exactly 0.0 with a NaN grad norm at 2 of 3 logged steps (from step 1): the HF "
               "Trainer's logging_nan_inf_filter hides NaN losses; the run is NaN, not converged")
    sources = ("HF transformers TrainingArguments docs (logging_nan_inf_filter)",
               "Micikevicius et al. 2018, Mixed precision training")

    def check(self, ctx: RuleContext) -> list:
        z = ctx.analysis.facts.zero_loss.get("loss")  # losscheck.analysis.nonfinite.zero_loss
        if z is None or not z.hidden:
            return []
        first, after, what, hidden = z.hidden_first, z.steps_from_first, z.hidden_kind, z.hidden
        msg = (f"loss logged as exactly 0.0 with a {what} grad norm at {hidden} of {after} logged steps (from "
               f"step {first}): the HF Trainer's logging_nan_inf_filter hides NaN losses; the run is NaN, not "
               "converged")
        ev = {"hidden_steps": hidden, "first_step": first, "steps_from_first": after,
              "fp16": bool(ctx.run.data.meta.get("fp16"))}
        # the signature says the run is NaN, not why: only a logged fp16 flag makes overflow the lead
        fp16 = bool(ctx.run.data.meta.get("fp16"))
        votes = [RemedyVote("mixed_precision", 1.0 if fp16 else 0.5,
                            "fp16 is on: a NaN loss hidden as 0.0 with a NaN grad norm is the usual fp16 overflow "
                            "signature" if fp16 else "a NaN grad norm with a hidden NaN loss is often fp16 overflow",
                            {"precision": "bf16", "logging_nan_inf_filter": False}),
                 RemedyVote("check_data", 0.5 if fp16 else 0.6, "NaN/Inf inputs or a batch with every label "
                            "masked also give a NaN loss")]
        return [self.finding(msg, role="loss", step=first, evidence=ev, remedies=votes)]


RULE = HfNanFilter()

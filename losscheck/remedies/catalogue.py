"""The remedy catalogue: stable ids, titles, what to do, and where the advice comes from.

The starting point is the seed case study (``shared/seed-case-study.md``: a Qwen2.5-1.5B
fine-tune whose loss rose exponentially): lower the LR, clip gradients, warm up, check the
data pipeline, check label pairing (overfit one batch), rebalance, monitor with early stop
and roll back to a healthy checkpoint, change the model (residuals, init, LayerNorm /
GroupNorm instead of BatchNorm, frozen BN). Further sources are cited per remedy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemedyInfo:
    """One remedy: ``id`` (stable), ``title``, ``action`` (what to do), ``sources``."""

    id: str
    title: str
    action: str
    sources: tuple[str, ...]


SEED = "seed case study (Qwen2.5-1.5B fine-tune, exponential loss growth)"

CATALOGUE: dict[str, RemedyInfo] = {r.id: r for r in (
    RemedyInfo("lower_lr", "Lower the (peak) learning rate",
               "Cut the peak LR 3-10x (one order of magnitude when the loss blows up within the first "
               "hundred steps) and re-run from the last healthy checkpoint.",
               (SEED, "Goodfellow, Bengio & Courville 2016, Deep Learning, sec. 11.4.1",
                "Wortsman et al. 2023, Small-scale proxies for large-scale Transformer training instabilities")),
    RemedyInfo("grad_clip", "Clip the gradient norm",
               "Clip the global grad norm (torch.nn.utils.clip_grad_norm_ / HF max_grad_norm) at a "
               "threshold near the healthy grad-norm level, so one outlier batch cannot blow the weights up.",
               (SEED, "Pascanu, Mikolov & Bengio 2013, On the difficulty of training RNNs")),
    RemedyInfo("warmup", "Warm the learning rate up",
               "Ramp the LR linearly from ~0 to its peak over the first steps (HF warmup_steps / "
               "warmup_ratio) so early large updates do not destabilise the model.",
               (SEED, "Goyal et al. 2017, Accurate, large minibatch SGD",
                "Liu et al. 2020, On the variance of the adaptive learning rate and beyond (RAdam)")),
    RemedyInfo("lr_schedule", "Fix the learning-rate schedule",
               "Decay the LR after warmup (cosine or linear), remove mid-run LR bumps, and check that "
               "the scheduler steps once per optimizer step.",
               ("Loshchilov & Hutter 2017, SGDR", "HF transformers get_scheduler docs")),
    RemedyInfo("increase_lr", "Raise the learning rate (or unfreeze parameters)",
               "The LR is zero or too small to move the loss: check the schedule, the optimizer's param "
               "groups and requires_grad, then raise the LR 3-10x.",
               ("Smith 2017, Cyclical learning rates (LR range test)",)),
    RemedyInfo("check_data", "Check the data pipeline",
               "Scan the inputs and targets for NaN/Inf, out-of-range values, wrong normalisation and "
               "corrupted records (assert torch.isfinite on every batch; re-run with anomaly detection).",
               (SEED, "Karpathy 2019, A recipe for training neural networks")),
    RemedyInfo("check_labels", "Check label pairing: overfit one batch",
               "Train on a single batch: if the loss cannot go to ~0, inputs and labels are misaligned, "
               "labels are shuffled or masked, or the loss is wired wrong.",
               (SEED, "Karpathy 2019, A recipe for training neural networks")),
    RemedyInfo("rebalance", "Rebalance the classes",
               "Oversample minority classes, weight the loss by inverse class frequency, or use focal loss.",
               (SEED, "Lin et al. 2017, Focal loss for dense object detection")),
    RemedyInfo("shuffle_data", "Shuffle the training data",
               "The loss repeats with the epoch: shuffle every epoch (DataLoader(shuffle=True)) instead of "
               "iterating in a fixed, sorted order.",
               ("Bottou 2012, Stochastic gradient descent tricks",)),
    RemedyInfo("rollback", "Roll back to the last healthy checkpoint",
               "Resume from the last checkpoint saved before the onset, with the fix applied, instead of "
               "continuing from a damaged state.",
               (SEED, "Chowdhery et al. 2022, PaLM (restart ~100 steps before a spike, skip batches)")),
    RemedyInfo("early_stop", "Stop early and keep the best checkpoint",
               "Keep the checkpoint with the lowest eval loss (HF load_best_model_at_end, "
               "EarlyStoppingCallback) and stop once the eval loss has not improved for a few evals.",
               ("Prechelt 1998, Early stopping - but when?", SEED)),
    RemedyInfo("mixed_precision", "Fix mixed-precision overflow",
               "Use bf16 instead of fp16, or keep dynamic loss scaling on with a lower initial scale; keep "
               "softmax/normalisation in fp32.",
               ("Micikevicius et al. 2018, Mixed precision training",
                "PyTorch AMP docs (torch.amp.GradScaler)")),
    RemedyInfo("normalization", "Fix normalisation layers",
               "Replace BatchNorm with LayerNorm/GroupNorm for small batches, freeze pre-trained BN "
               "statistics when fine-tuning, or add normalisation to a deep plain network.",
               (SEED, "Wu & He 2018, Group normalization")),
    RemedyInfo("regularize", "Regularise",
               "Add weight decay, dropout or data augmentation; reduce the number of epochs.",
               ("Goodfellow, Bengio & Courville 2016, Deep Learning, ch. 7",)),
    RemedyInfo("more_data", "Get more (or less repetitive) training data",
               "The model memorises a small training set: add data, deduplicate, or train fewer epochs.",
               ("Goodfellow, Bengio & Courville 2016, Deep Learning, ch. 7",)),
    RemedyInfo("check_model", "Check the model and its initialisation",
               "Check that the parameters train (requires_grad, optimizer param groups), the "
               "initialisation (He/Xavier), residual connections for deep nets, and the output layer "
               "and loss match the task.",
               (SEED, "He et al. 2016, Deep residual learning", "Glorot & Bengio 2010")),
    RemedyInfo("gan_balance", "Rebalance the generator and the discriminator",
               "Slow the winning player down: give the discriminator an LR 2-4x below the generator's "
               "(two time-scale update rule), smooth its real labels to 0.9, add spectral normalisation or "
               "a gradient penalty (weight 10) to it, and take one discriminator step per generator step; "
               "when the generator wins instead, give the discriminator capacity or LR back.",
               ("Heusel et al. 2017, GANs trained by a two time-scale update rule",
                "Salimans et al. 2016, Improved techniques for training GANs",
                "Miyato et al. 2018, Spectral normalization for GANs",
                "Gulrajani et al. 2017, Improved training of Wasserstein GANs")),
    RemedyInfo("optimizer", "Retune the optimizer",
               "Lower momentum / Adam beta2 (e.g. 0.95), raise Adam epsilon, or switch from plain SGD to "
               "Adam(W) for this architecture.",
               ("Molybog et al. 2023, A theory on Adam instability in large-scale machine learning",
                "Wortsman et al. 2023")),
)}

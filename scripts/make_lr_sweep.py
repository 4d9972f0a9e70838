#!/usr/bin/env python
"""Generate a small *real* learning-rate sweep for the README's "Sweep triage" example.

Each run really trains a 2-layer MLP (hand-written backprop, :mod:`make_sample_runs`) on
Gaussian class blobs with mini-batch SGD (momentum 0.9, batch 64, 50-step linear warm-up,
then constant LR) for 600 steps, and is written as a Hugging Face Trainer output folder:
``trainer_state.json`` (log every 10 steps) and ``training_args.json`` (the arguments that
vary: ``learning_rate``, ``seed``; the rest fixed). The grid is 8 learning rates x 2 seeds;
nothing is injected: the high LRs blow up by themselves.

What each run did is printed from its own numbers (never by losscheck): the first and last
logged loss, the lowest, and whether the loss went non-finite or ended above its start.

Usage::

    python scripts/make_lr_sweep.py --out /tmp/lr-sweep
    losscheck diagnose /tmp/lr-sweep

Everything is seeded (``numpy.random.default_rng``), no wall clock is read.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from log_writers import write_hf_trainer_state  # noqa: E402
from make_sample_runs import (SGD, Trace, clip_grads, epoch_batches, hf_log_history, init_mlp,  # noqa: E402
                              lr_linear_warmup, make_blobs, mlp_forward_backward)

LRS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SEEDS = (1, 2)
STEPS, WARMUP, BATCH, LOG_EVERY = 600, 50, 64, 10


def train(lr: float, seed: int) -> Trace:
    """One run: the data set is the same for every run (seed 7), the init and batch order
    follow ``seed``."""
    data = np.random.default_rng(7)
    X, y, _ = make_blobs(data, 4096, 16, 8, sep=1.2)
    rng = np.random.default_rng(seed)
    p = init_mlp(rng, [16, 64, 8])
    opt = SGD(momentum=0.9)
    tr = Trace()
    batches = epoch_batches(rng, len(X), BATCH)
    spe = math.ceil(len(X) / BATCH)
    for step in range(1, STEPS + 1):
        epoch, j, idx = next(batches)
        cur = lr_linear_warmup(step - 1, lr, WARMUP, STEPS, decay="constant")
        loss, g = mlp_forward_backward(p, X[idx], y[idx])
        gn = clip_grads(g, None)
        opt.step(p, g, cur)
        tr.add(step, loss, gn, cur, lr_linear_warmup(step, lr, WARMUP, STEPS, decay="constant"),
               epoch + (j + 1) / spe)
    return tr


def main(argv: list[str] | None = None) -> int:
    """Write the sweep under ``--out`` (replaced) and print each run's check numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    np.seterr(all="ignore")  # overflow is what the high LRs do
    if args.out.exists():
        shutil.rmtree(args.out)
    for lr in LRS:
        for seed in SEEDS:
            name = f"lr{lr:g}-seed{seed}"
            run = args.out / name
            run.mkdir(parents=True)
            tr = train(lr, seed)
            hist = hf_log_history(tr, LOG_EVERY, sec_per_step=0.05, n_train=STEPS * BATCH)
            write_hf_trainer_state(run / "trainer_state.json", hist, global_step=STEPS, max_steps=STEPS,
                                   logging_steps=LOG_EVERY, eval_steps=STEPS, save_steps=STEPS,
                                   train_batch_size=BATCH, num_train_epochs=math.ceil(STEPS * BATCH / 4096),
                                   epoch=tr.epoch[-1], total_flos=1e9 * STEPS)
            (run / "training_args.json").write_text(json.dumps({
                "output_dir": f"out/{name}", "learning_rate": lr, "seed": seed, "per_device_train_batch_size": BATCH,
                "max_steps": STEPS, "warmup_steps": WARMUP, "lr_scheduler_type": "constant_with_warmup",
                "optim": "sgd", "logging_steps": LOG_EVERY}, indent=2, sort_keys=True) + "\n")
            logged = [e["loss"] for e in hist if "loss" in e]
            finite = [v for v in logged if math.isfinite(v)]
            bad = next((e["step"] for e in hist if "loss" in e and not math.isfinite(e["loss"])), None)
            print(f"{name}: first {logged[0]:.3f} last {logged[-1]:.4g} min {min(finite):.3f} "
                  f"non-finite from step {bad}" if bad else
                  f"{name}: first {logged[0]:.3f} last {logged[-1]:.4g} min {min(finite):.3f}"
                  + (" ENDS ABOVE START" if logged[-1] > logged[0] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Generate ``sample_runs/``: small *real* numpy training runs logged like real frameworks.

Every run in ``sample_runs/`` is produced by this script and nothing else. Each run really
trains a model (softmax regression, a hand-written-backprop MLP, or a tiny character-level
language model on the built-in text :data:`CORPUS`) with a real gradient step; the faults
(LR too high after warm-up, a NaN in the input, shuffled labels, parameters that never
update, a tiny train set, high-momentum SGD, corrupted batches...) are injected the way
they happen in practice, and the logs are written in the on-disk formats of the frameworks
(HF Trainer ``trainer_state.json``, LLaMA-Factory ``trainer_log.jsonl``, PyTorch Lightning
``CSVLogger``, Keras ``CSVLogger``, plain CSV / JSONL, TensorBoard event files written with
our own TFRecord writer and CRC32C). The file formats are written by ``scripts/log_writers.py``,
shared with ``benchmarks/make_corpus.py``; this script only turns its traces into rows.

Everything is seeded (``numpy.random.default_rng``) and no wall clock is read: times are a
fixed start plus simulated seconds per step, so running the script twice gives
byte-identical files (on the same machine / numpy build: BLAS rounding may differ across
CPUs in the last bits of float32 values).

Usage::

    python scripts/make_sample_runs.py            # (re)write sample_runs/
    python scripts/make_sample_runs.py -v         # ... and print per-run check numbers
    python scripts/make_sample_runs.py --out DIR  # write elsewhere

The check numbers printed with ``-v`` are computed here from the logged values (never by
losscheck): they are what ``benchmarks/sample_runs_labels.csv`` and ``sample_runs/README.md`` rely on.
"""

from __future__ import annotations

import argparse
import csv
import functools
import datetime as _dt
import fnmatch
import io
import math
import shutil
import sys
from pathlib import Path

import numpy as np

import log_writers  # beside this script: the frameworks' file formats, shared with benchmarks/make_corpus.py
from log_writers import (f32, keras_row, llamafactory_record, write_csv_rows, write_hf_trainer_state, write_jsonl,
                         write_lightning, write_tb_events, write_text)

# --------------------------------------------------------------------------------------
# Built-in text for the character-level language models (written for this project).
# --------------------------------------------------------------------------------------

CORPUS = """\
the lighthouse keeper wrote the same three lines every evening. wind from the west, sea
calm, lamp lit at dusk. on the nights when the wind came from the north he wrote more,
because the north wind brought the fog and the fog brought the ships too close to the
rocks. he kept the log in a green book with a cracked spine, and he kept the book on a
shelf above the stove so that the pages would stay dry.
in the spring the island filled with birds. they nested in the grass above the cliffs and
shouted at him whenever he walked to the well. he learned to walk slowly and to carry a
stick, not to strike them but to hold above his head, because the birds aimed for the
highest thing they could see. by june the chicks were loud and grey and always hungry.
by august they were gone, and the island was quiet again except for the sea.
a boat came once a month with oil, flour, tea, letters and news. the boatman was a short
man with a long beard who never stayed for more than an hour. he said that the town had a
new school, that the mill had burned and been rebuilt, that the price of fish was low.
the keeper listened and nodded and wrote none of it in the green book. the book was for
the wind, the sea and the lamp.
in winter the storms came one after another. the waves climbed the rocks and broke over
the wall of the yard, and the salt crusted the windows so thickly that he had to scrape
them every morning with a knife. he trimmed the wick, polished the lens, wound the clock
that turned the light, and climbed the hundred and twelve steps to the lamp room four
times each night. his knees ached. he did not mind. the light turned, and far out on the
water the ships saw it and turned too.
one evening a small boat came in out of the rain with two fishermen who had lost their
way. they were cold and frightened and very young. he gave them soup and dry blankets
and let them sleep by the stove. in the morning the sea was flat and bright, and they
rowed home laughing. that night, for the first time in eleven years, he wrote a fourth
line in the green book: two guests, both well.
"""

#: The fixed start of every simulated run (UTC), so event wall times are reproducible.
T0 = _dt.datetime(2024, 3, 14, 9, 12, 45, tzinfo=_dt.timezone.utc).timestamp()

#: Fake host name and process id used in event file names (as SummaryWriter would).
HOST = "trainbox"
PID = 48213


def tb_file_name(wall: float, uid: int = 0, tf2: bool = False) -> str:
    """The event file name SummaryWriter (``tf2=False``) or ``tf.summary`` (``.v2``) picks
    on :data:`HOST` as process :data:`PID`."""
    return log_writers.tb_file_name(wall, HOST, PID, uid=uid, tf2=tf2)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def char_vocab(text: str) -> tuple[list[str], dict[str, int]]:
    """Sorted character vocabulary of ``text``: ``(itos, stoi)``; V = len(itos)."""
    itos = sorted(set(text))
    return itos, {c: i for i, c in enumerate(itos)}


def char_windows(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All (context, next-char) pairs of a token id array.

    Args:
        ids: ``int64`` array, shape ``(n,)``.
        k: context length in characters.
    Returns: ``X`` int64 ``(n-k, k)`` and ``y`` int64 ``(n-k,)``.
    """
    n = len(ids) - k
    X = np.stack([ids[i:i + n] for i in range(k)], axis=1)
    return X.astype(np.int64), ids[k:].astype(np.int64)


def make_blobs(rng: np.random.Generator, n: int, d: int, c: int, sep: float,
               label_noise: float = 0.0, centers: np.ndarray | None = None,
               scale: np.ndarray | None = None):
    """Gaussian class blobs: a small tabular classification task.

    Args:
        n: examples; d: features; c: classes; sep: std of the class centres (unit noise).
        label_noise: fraction of labels replaced by a uniformly random class.
        centers: ``(c, d)`` centres to reuse (e.g. for a validation split); drawn if None.
        scale: optional ``(d,)`` per-feature scale (un-normalised features).
    Returns: ``X`` float32 ``(n, d)``, ``y`` int64 ``(n,)``, ``centers`` ``(c, d)``.
    """
    if centers is None:
        centers = rng.normal(0.0, sep, size=(c, d))
    y = rng.integers(0, c, size=n)
    X = centers[y] + rng.normal(0.0, 1.0, size=(n, d))
    if scale is not None:
        X = X * scale
    if label_noise > 0:
        flip = rng.random(n) < label_noise
        y = np.where(flip, rng.integers(0, c, size=n), y)
    return X.astype(np.float32), y.astype(np.int64), centers


# --------------------------------------------------------------------------------------
# Models with hand-written backprop. Params are dicts name -> float32 array.
# --------------------------------------------------------------------------------------


def softmax_xent(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient w.r.t. the logits.

    Args:
        logits: ``(B, C)``; y: int ``(B,)`` class ids.
    Returns: ``(loss, dlogits)`` with loss in nats (Python float, NaN if the input is) and
        ``dlogits = (softmax - onehot) / B`` of shape ``(B, C)``.
    """
    z = logits - logits.max(axis=1, keepdims=True)
    ez = np.exp(z)
    s = ez.sum(axis=1, keepdims=True)
    logp = z - np.log(s)
    B = logits.shape[0]
    loss = float(-logp[np.arange(B), y].mean())
    d = ez / s
    d[np.arange(B), y] -= 1.0
    return loss, d / B


def init_mlp(rng: np.random.Generator, sizes: list[int], scale: float = 1.0,
             bias: float = 0.0) -> dict:
    """He-style init of an MLP with layer widths ``sizes`` (``[d_in, h1, ..., d_out]``).

    Returns params ``W{i}`` ``(sizes[i], sizes[i+1])`` and ``b{i}`` ``(sizes[i+1],)``,
    float32; weights ~ N(0, scale * sqrt(2 / fan_in)), biases = ``bias``.
    """
    p = {}
    for i in range(len(sizes) - 1):
        std = scale * math.sqrt(2.0 / sizes[i])
        p[f"W{i}"] = rng.normal(0.0, std, size=(sizes[i], sizes[i + 1])).astype(np.float32)
        p[f"b{i}"] = np.full(sizes[i + 1], bias, dtype=np.float32)
    return p


def mlp_forward_backward(p: dict, X: np.ndarray, y: np.ndarray, loss: str = "xent",
                         act: str = "relu", need_grad: bool = True):
    """Forward and backward pass of an MLP.

    Args:
        p: params from :func:`init_mlp` (L layers: W0..W{L-1}).
        X: ``(B, d_in)`` inputs; y: ``(B,)`` int class ids (``loss="xent"``) or float
            targets (``loss="mse"``: output width 1, loss = ``mean((out - y)**2)`` as
            ``torch.nn.MSELoss``).
        act: hidden activation ``"relu"`` or ``"tanh"``.
    Returns: ``(loss, grads)``; grads is a dict like ``p`` (``None`` if not need_grad).
    """
    L = len(p) // 2
    hs = [X]
    h = X
    for i in range(L):
        z = h @ p[f"W{i}"] + p[f"b{i}"]
        if i < L - 1:
            h = np.maximum(z, 0.0) if act == "relu" else np.tanh(z)
        else:
            h = z
        hs.append(h)
    out = hs[-1]
    if loss == "xent":
        val, d = softmax_xent(out, y)
    else:
        diff = out[:, 0] - y
        val = float(np.mean(diff * diff))
        d = (2.0 * diff / len(y))[:, None].astype(out.dtype)
    if not need_grad:
        return val, None
    g = {}
    for i in range(L - 1, -1, -1):
        g[f"W{i}"] = hs[i].T @ d
        g[f"b{i}"] = d.sum(axis=0)
        if i > 0:
            d = d @ p[f"W{i}"].T
            d = d * (hs[i] > 0) if act == "relu" else d * (1.0 - hs[i] * hs[i])
    return val, g


def init_charlm(rng: np.random.Generator, V: int, k: int, d: int, H: int) -> dict:
    """Init a Bengio-style character MLP language model.

    Params: ``E`` ``(V, d)`` embeddings, ``W1`` ``(k*d, H)``, ``b1`` ``(H,)``,
    ``W2`` ``(H, V)``, ``b2`` ``(V,)``; float32.
    """
    return {
        "E": rng.normal(0, 1.0, size=(V, d)).astype(np.float32),
        "W1": rng.normal(0, 1.0 / math.sqrt(k * d), size=(k * d, H)).astype(np.float32),
        "b1": np.zeros(H, dtype=np.float32),
        "W2": rng.normal(0, 0.5 / math.sqrt(H), size=(H, V)).astype(np.float32),
        "b2": np.zeros(V, dtype=np.float32),
    }


def charlm_forward_backward(p: dict, X: np.ndarray, y: np.ndarray, need_grad: bool = True,
                            act: str = "tanh"):
    """Forward/backward of the char MLP LM: embed k chars, concat, hidden layer, softmax.

    Args:
        X: int ``(B, k)`` context ids; y: int ``(B,)`` next-char ids.
        act: hidden activation, ``"tanh"`` (bounded) or ``"relu"`` (unbounded).
    Returns: ``(loss_nats, grads or None)``.
    """
    B, k = X.shape
    emb = p["E"][X].reshape(B, -1)
    pre = emb @ p["W1"] + p["b1"]
    h = np.tanh(pre) if act == "tanh" else np.maximum(pre, 0.0)
    logits = h @ p["W2"] + p["b2"]
    loss, d = softmax_xent(logits, y)
    if not need_grad:
        return loss, None
    g = {"W2": h.T @ d, "b2": d.sum(0)}
    dh = d @ p["W2"].T
    dh = dh * (1.0 - h * h) if act == "tanh" else dh * (pre > 0)
    g["W1"] = emb.T @ dh
    g["b1"] = dh.sum(0)
    demb = (dh @ p["W1"].T).reshape(B, k, -1)
    dE = np.zeros_like(p["E"])
    np.add.at(dE, X, demb)
    g["E"] = dE
    return loss, g


# --------------------------------------------------------------------------------------
# Optimisers, clipping, schedules
# --------------------------------------------------------------------------------------


def global_norm(grads: dict) -> float:
    """Global L2 norm over all gradient arrays (Python float; NaN/Inf propagate)."""
    return float(math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values())))


def clip_grads(grads: dict, max_norm: float | None) -> float:
    """Clip ``grads`` in place to ``max_norm`` like ``torch.nn.utils.clip_grad_norm_``.

    Returns the total norm BEFORE clipping (what trainers log as ``grad_norm``). A
    non-finite norm makes the clip coefficient NaN, which poisons the gradients, as in torch.
    """
    total = global_norm(grads)
    if max_norm is None:
        return total
    coef = max_norm / (total + 1e-6) if math.isfinite(total) else float("nan")
    if not (coef >= 1.0):
        for key in grads:
            grads[key] *= np.float32(coef)
    return total


class SGD:
    """SGD with optional (heavy-ball) momentum and coupled weight decay, like torch.optim.SGD."""

    def __init__(self, momentum: float = 0.0, weight_decay: float = 0.0):
        """momentum in [0, 1); weight_decay added to the gradient (L2)."""
        self.momentum, self.wd, self.buf = momentum, weight_decay, {}

    def step(self, p: dict, g: dict, lr: float, only: set | None = None) -> None:
        """Update ``p`` in place from ``g`` with learning rate ``lr`` (keys in ``only`` if set)."""
        for k in g:
            if only is not None and k not in only:
                continue
            d = g[k] + self.wd * p[k] if self.wd else g[k]
            if self.momentum:
                b = self.buf.get(k)
                b = d.copy() if b is None else self.momentum * b + d
                self.buf[k] = b
                d = b
            p[k] -= np.float32(lr) * d


class AdamW:
    """Adam with decoupled weight decay (torch.optim.AdamW semantics, bias-corrected)."""

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        """Standard Adam hyper-parameters; weight_decay is decoupled (lr * wd * p)."""
        self.b1, self.b2, self.eps, self.wd = beta1, beta2, eps, weight_decay
        self.m, self.v, self.t = {}, {}, 0

    def step(self, p: dict, g: dict, lr: float, only: set | None = None) -> None:
        """One AdamW update of ``p`` in place (keys in ``only`` if set)."""
        self.t += 1
        c1 = 1.0 - self.b1 ** self.t
        c2 = 1.0 - self.b2 ** self.t
        for k in g:
            if only is not None and k not in only:
                continue
            m = self.m.get(k, np.zeros_like(g[k]))
            v = self.v.get(k, np.zeros_like(g[k]))
            m = self.b1 * m + (1 - self.b1) * g[k]
            v = self.b2 * v + (1 - self.b2) * g[k] * g[k]
            self.m[k], self.v[k] = m, v
            if self.wd:
                p[k] -= np.float32(lr * self.wd) * p[k]
            p[k] -= (np.float32(lr) * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(np.float32)


def lr_linear_warmup(step: int, peak: float, warmup: int, total: int,
                     decay: str = "linear") -> float:
    """LR at optimiser step ``step`` (0-based) for linear warm-up then decay.

    Mirrors ``transformers.get_linear_schedule_with_warmup`` / ``..._cosine_...``:
    ``peak * step / warmup`` while warming up, then linear (or cosine) decay to 0 at
    ``total``. ``decay="constant"`` keeps the peak.
    """
    if step < warmup:
        return peak * step / max(1, warmup)
    if decay == "constant":
        return peak
    frac = (step - warmup) / max(1, total - warmup)
    if decay == "cosine":
        return peak * 0.5 * (1.0 + math.cos(math.pi * frac))
    return peak * max(0.0, 1.0 - frac)


# --------------------------------------------------------------------------------------
# Training-loop helpers
# --------------------------------------------------------------------------------------


def epoch_batches(rng: np.random.Generator, n: int, bs: int):
    """Endless stream of mini-batch index arrays: a fresh permutation of ``range(n)`` per
    epoch, cut into batches of ``bs`` (last one shorter, like ``drop_last=False``).

    Yields ``(epoch, batch_in_epoch, idx)`` with ``idx`` int64 ``(<=bs,)``.
    """
    epoch = 0
    while True:
        perm = rng.permutation(n)
        for j, start in enumerate(range(0, n, bs)):
            yield epoch, j, perm[start:start + bs]
        epoch += 1


class Trace:
    """Per-optimiser-step record of one run (steps are 1-based global steps).

    Attributes: ``step``, ``loss`` (nats, the batch loss of that step), ``gn`` (global
    grad L2 norm before clipping), ``lr`` (LR used for the step's update), ``lr_next``
    (the scheduler's LR after the step, what HF logs), ``epoch`` (float epochs done), and
    ``evals``: list of ``(step, epoch, eval_loss, extra_dict)``.
    """

    def __init__(self):
        """Empty trace."""
        self.step, self.loss, self.gn, self.lr, self.lr_next, self.epoch = [], [], [], [], [], []
        self.evals = []

    def add(self, step: int, loss: float, gn: float, lr: float, lr_next: float,
            epoch: float) -> None:
        """Append one optimiser step."""
        self.step.append(step)
        self.loss.append(loss)
        self.gn.append(gn)
        self.lr.append(lr)
        self.lr_next.append(lr_next)
        self.epoch.append(epoch)

    def arr(self, name: str) -> np.ndarray:
        """The named per-step list as a float64 array (``step`` as int64)."""
        return np.asarray(getattr(self, name), dtype=np.int64 if name == "step" else np.float64)


def window_mean(values: list[float], end: int, width: int) -> float:
    """Mean of ``values[end-width:end]`` (NaN propagates, as an un-filtered HF tr_loss)."""
    chunk = values[max(0, end - width):end]
    return float(sum(chunk) / len(chunk))


def hf_log_history(tr: Trace, logging_steps: int, *, sec_per_step: float, n_train: int,
                   eval_batches: int = 1, n_eval: int = 0, eval_sec: float = 1.0,
                   flos_per_step: float = 1e12, nan_filter: bool = False) -> list[dict]:
    """Build HF Trainer ``log_history`` from a trace.

    Every ``logging_steps`` steps an entry ``{loss, grad_norm, learning_rate, epoch, step}``:
    ``loss`` is the mean of the batch losses since the last log rounded to 4 decimals,
    ``grad_norm`` the pre-clip norm of the last step, ``learning_rate`` the scheduler's LR
    after the step. With ``nan_filter`` (HF's ``logging_nan_inf_filter=True`` default) a
    NaN/Inf batch loss is replaced by the running average of the window, else it makes the
    logged mean NaN. Eval entries come from ``tr.evals``; the final summary entry carries
    ``train_runtime`` (s), ``train_loss`` (mean of all batch losses) etc.
    """
    hist = []
    evals = {e[0]: e for e in tr.evals}
    acc, last_logged = 0.0, 0
    total = 0.0
    for i, s in enumerate(tr.step):
        loss = tr.loss[i]
        if nan_filter and not math.isfinite(loss):
            acc = acc + acc / (s - last_logged)
        else:
            acc += loss
        if s % logging_steps == 0 or s == tr.step[-1]:
            n = s - last_logged
            hist.append({"epoch": tr.epoch[i], "grad_norm": f32(tr.gn[i]),
                         "learning_rate": tr.lr_next[i], "loss": round(acc / n, 4), "step": s})
            total += acc
            acc, last_logged = 0.0, s
        if s in evals:
            _, ep, el, extra = evals[s]
            entry = {"epoch": ep, "eval_loss": f32(el),
                     "eval_runtime": round(eval_sec, 4),
                     "eval_samples_per_second": round(n_eval / eval_sec, 3),
                     "eval_steps_per_second": round(eval_batches / eval_sec, 3), "step": s}
            entry.update(extra)
            hist.append(entry)
    steps = tr.step[-1]
    runtime = steps * sec_per_step + len(tr.evals) * eval_sec
    hist.append({"epoch": tr.epoch[-1], "step": steps, "total_flos": flos_per_step * steps,
                 "train_loss": total / steps, "train_runtime": round(runtime, 4),
                 "train_samples_per_second": round(n_train / runtime, 3),
                 "train_steps_per_second": round(steps / runtime, 3)})
    return hist


def check_line(name: str, **nums) -> str:
    """Format one verbose check line: ``name: k=v k=v`` with 4 significant digits."""
    parts = []
    for k, v in nums.items():
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return f"{name}: " + " ".join(parts)


def seg_median(steps: np.ndarray, vals: np.ndarray, lo: int, hi: int) -> float:
    """Median of the finite ``vals`` whose step is in ``[lo, hi)``."""
    m = (steps >= lo) & (steps < hi) & np.isfinite(vals)
    return float(np.median(vals[m])) if m.any() else float("nan")


# --------------------------------------------------------------------------------------
# The runs. Each returns a dict: class, onset_step, first_remedy, note, check (str).
# --------------------------------------------------------------------------------------


def corpus_ids() -> tuple[np.ndarray, int]:
    """The built-in corpus as int64 char ids ``(n_chars,)`` and the vocabulary size V."""
    itos, stoi = char_vocab(CORPUS)
    return np.array([stoi[c] for c in CORPUS], dtype=np.int64), len(itos)


def pretrain_charlm(seed: int, k: int = 4, d: int = 16, H: int = 128, steps: int = 400,
                    upto: int = 1500) -> dict:
    """A small "base model": the char MLP LM (tanh) pre-trained with AdamW on the first
    ``upto`` characters of the corpus for ``steps`` steps (batch 32, LR 2e-3, clip 1.0).

    Returns the params dict (see :func:`init_charlm`).
    """
    ids, V = corpus_ids()
    X, y = char_windows(ids[:upto], k)
    rng = np.random.default_rng(seed)
    p = init_charlm(rng, V, k, d, H)
    opt = AdamW()
    for _ in range(steps):
        b = rng.integers(0, len(X), 32)
        _, g = charlm_forward_backward(p, X[b], y[b])
        clip_grads(g, 1.0)
        opt.step(p, g, 2e-3)
    return p


def train_full_batch(p: dict, X: np.ndarray, y: np.ndarray, opt, total: int, lr: float,
                     loss: str = "xent") -> Trace:
    """``total`` full-batch steps at a constant ``lr`` (no clipping); one epoch per step.

    ``p`` is updated in place; returns the :class:`Trace` (steps 1..total)."""
    tr = Trace()
    for i in range(total):
        value, g = mlp_forward_backward(p, X, y, loss=loss)
        gn = clip_grads(g, None)
        opt.step(p, g, lr)
        tr.add(i + 1, value, gn, lr, lr, float(i + 1))
    return tr


def trace_scalars(tr: Trace, t0: float, seconds_per_step: float) -> list:
    """``train/loss``, ``train/grad_norm`` and ``train/lr`` of every step as TensorBoard
    scalars ``(wall_time, step, tag, value)``, wall time ``t0 + seconds_per_step * step``."""
    scal = []
    for i, s in enumerate(tr.step):
        t = t0 + seconds_per_step * s
        scal += [(t, s, "train/loss", tr.loss[i]), (t, s, "train/grad_norm", tr.gn[i]),
                 (t, s, "train/lr", tr.lr[i])]
    return scal


def run_qwen_style_diverge(out: Path) -> dict:
    """Seed case: LoRA fine-tune whose LR warms up linearly to a far-too-high peak.

    Base: :func:`pretrain_charlm`. Fine-tune: rank-8 LoRA (alpha/r = 0.5) on the output
    projection W2 ``(H, V)``, base frozen; SGD momentum 0.95, ``constant_with_warmup``
    schedule, 50 warm-up steps to a peak LR of 1.0, batch 64, 160 steps, no effective
    clipping. Once the LR is at its peak the LoRA factors A ``(H, r)`` and B ``(r, V)`` feed
    each other's gradient and grow geometrically: the grad norm rises first, then the loss
    grows exponentially. Written as HF Trainer ``trainer_state.json`` (logging_steps=2).
    """
    ids, V = corpus_ids()
    k = 4
    X, y = char_windows(ids, k)
    base = pretrain_charlm(seed=0, k=k)
    rng = np.random.default_rng(101)
    r, scale = 8, 0.5
    lora = {"A": rng.normal(0, 1 / math.sqrt(128), (128, r)).astype(np.float32),
            "B": np.zeros((r, V), np.float32)}
    opt = SGD(momentum=0.95)
    peak, warm, total, bs = 1.0, 50, 160, 64
    spe = math.ceil(len(X) / bs)
    tr = Trace()
    batches = epoch_batches(rng, len(X), bs)
    for i in range(total):
        ep, j, b = next(batches)
        Xb, yb = X[b], y[b]
        emb = base["E"][Xb].reshape(len(b), -1)
        h = np.tanh(emb @ base["W1"] + base["b1"])
        W = base["W2"] + np.float32(scale) * (lora["A"] @ lora["B"])
        loss, d = softmax_xent(h @ W + base["b2"], yb)
        gW = h.T @ d
        g = {"A": np.float32(scale) * (gW @ lora["B"].T), "B": np.float32(scale) * (lora["A"].T @ gW)}
        gn = clip_grads(g, 1e4)
        lr = lr_linear_warmup(i, peak, warm, total, "constant")
        opt.step(lora, g, lr)
        tr.add(i + 1, loss, gn, lr, lr_linear_warmup(i + 1, peak, warm, total, "constant"),
               ep + (j + 1) / spe)
    hist = hf_log_history(tr, 2, sec_per_step=0.42, n_train=total * bs, flos_per_step=3.1e11)
    write_hf_trainer_state(out / "trainer_state.json", hist, global_step=total, max_steps=total,
                           logging_steps=2, eval_steps=500, save_steps=500, train_batch_size=bs,
                           num_train_epochs=math.ceil(total / spe), epoch=tr.epoch[-1],
                           total_flos=3.1e11 * total)
    st, L, G = tr.arr("step"), tr.arr("loss"), tr.arr("gn")
    base_l = seg_median(st, L, 1, 41)
    base_g = seg_median(st, G, 1, 21)
    # onset: first step after which the 4-step median loss stays above 1.25x the early level
    med4 = np.array([np.median(L[max(0, i - 3):i + 1]) for i in range(len(L))])
    above = med4 > 1.25 * base_l
    onset = int(st[np.argmax([above[i:].all() for i in range(len(above))])])
    onset = 2 * math.ceil(onset / 2)          # the first logged step (logging_steps=2)
    gsurge = int(st[np.argmax(G > 3 * base_g)])
    late = (st >= onset + 20)
    rate = float(np.polyfit(st[late], np.log(L[late]), 1)[0])
    check = check_line("qwen-style-diverge", loss_early=base_l, loss_at_peak=seg_median(st, L, 48, 53),
                       loss_last=float(L[-1]), gn_early=base_g, gn_surge_step=gsurge,
                       onset=onset, growth_per_step=rate, doubling_steps=math.log(2) / rate,
                       lr_peak_step=warm)
    return {"class": "diverging", "onset_step": onset, "first_remedy": "lower_lr",
            "note": f"LoRA SGD-momentum fine-tune, LR warm-up to 1.0 at step {warm}; grad norm x3 by step {gsurge}; loss x{L[-1] / base_l:.0f} by step {total}",
            "check": check}


def run_nan_input(out: Path) -> dict:
    """MLP classifier (12-64-5, ReLU) on tabular blobs, AdamW 1e-3, batch 32, clip 1.0.

    At step 237 one batch carries a missing feature read as NaN: the loss is NaN, the grad
    norm NaN, the clip coefficient NaN, and every parameter becomes NaN: all later losses
    are NaN. HF ``trainer_state.json`` with ``logging_nan_inf_filter=False`` (so the NaN
    reaches the log as bare ``NaN`` tokens), logging_steps=10, eval every 100 steps.
    """
    rng = np.random.default_rng(202)
    Xtr, ytr, cen = make_blobs(rng, 3000, 12, 5, sep=1.0, label_noise=0.05)
    Xev, yev, _ = make_blobs(rng, 500, 12, 5, sep=1.0, label_noise=0.05, centers=cen)
    p = init_mlp(rng, [12, 64, 5])
    opt = AdamW(weight_decay=0.01)
    total, bs, bad_step = 400, 32, 237
    spe = math.ceil(len(Xtr) / bs)
    tr = Trace()
    batches = epoch_batches(rng, len(Xtr), bs)
    for i in range(total):
        ep, j, b = next(batches)
        Xb = Xtr[b].copy()
        if i + 1 == bad_step:
            Xb[5, 7] = np.nan
        loss, g = mlp_forward_backward(p, Xb, ytr[b])
        gn = clip_grads(g, 1.0)
        lr = lr_linear_warmup(i, 1e-3, 0, total, "linear")
        opt.step(p, g, lr)
        tr.add(i + 1, loss, gn, lr, lr_linear_warmup(i + 1, 1e-3, 0, total, "linear"),
               ep + (j + 1) / spe)
        if (i + 1) % 100 == 0:
            el, _ = mlp_forward_backward(p, Xev, yev, need_grad=False)
            tr.evals.append((i + 1, tr.epoch[-1], el, {}))
    hist = hf_log_history(tr, 10, sec_per_step=0.05, n_train=total * bs, n_eval=500,
                          eval_batches=63, eval_sec=0.9, flos_per_step=2.0e8)
    write_hf_trainer_state(out / "trainer_state.json", hist, global_step=total, max_steps=total,
                           logging_steps=10, eval_steps=100, save_steps=500,
                           train_batch_size=bs, num_train_epochs=math.ceil(total / spe),
                           epoch=tr.epoch[-1], total_flos=2.0e8 * total)
    st, L = tr.arr("step"), tr.arr("loss")
    first_nan = int(st[np.argmax(~np.isfinite(L))])
    check = check_line("nan-input-injected", loss_first=float(L[0]),
                       loss_before_nan=seg_median(st, L, 200, bad_step), first_nan_step=first_nan,
                       nan_steps=int((~np.isfinite(L)).sum()), evals=str([round(e[2], 3) for e in tr.evals]))
    return {"class": "nan", "onset_step": 10 * math.ceil(first_nan / 10), "first_remedy": "check_data",
            "note": f"one NaN feature in the batch of step {bad_step}; params NaN afterwards (logged window 240 is the first NaN entry)",
            "check": check}


def fit_softmax_optimum(X: np.ndarray, y: np.ndarray, steps: int = 400) -> dict:
    """Reference optimum of a linear softmax model (full-batch AdamW, LR 0.05): params dict
    ``W0 (d, C)``, ``b0 (C,)``; used only to print the best reachable loss in checks."""
    C = int(y.max()) + 1
    p = {"W0": np.zeros((X.shape[1], C), np.float32), "b0": np.zeros(C, np.float32)}
    opt = AdamW()
    for _ in range(steps):
        _, g = mlp_forward_backward(p, X, y)
        opt.step(p, g, 0.05)
    return p


def run_oscillate(out: Path) -> dict:
    """Softmax regression (8 features, 3 classes, 10% label noise, 4096 examples) trained
    full-batch with heavy-ball momentum 0.9 and a constant LR of 2.5: past the stability
    edge of momentum SGD for this curvature, so the weights keep swinging around the optimum
    (the saturating softmax bounds the swing instead of letting it blow up). 600 steps, every
    step logged; PyTorch ``SummaryWriter`` event file (``train/loss``, ``train/grad_norm``,
    ``train/lr``).
    """
    rng = np.random.default_rng(303)
    X, y, _ = make_blobs(rng, 4096, 8, 3, sep=1.2, label_noise=0.1)
    p = init_mlp(rng, [8, 3], scale=1.0)
    tr = train_full_batch(p, X, y, SGD(momentum=0.9), 600, 2.5)
    write_tb_events(out / "runs" / "Mar14_09-12-45_trainbox" / tb_file_name(T0 + 30.0),
                    trace_scalars(tr, T0 + 30.0, 0.11))
    st, L = tr.arr("step"), tr.arr("loss")
    half = L[100:]
    ac = np.correlate(half - half.mean(), half - half.mean(), "full")[len(half) - 1:]
    ac = ac / ac[0]
    lag = int(np.argmax(ac[5:80]) + 5)
    check = check_line("oscillate-momentum-high-lr", loss_first=float(L[0]), loss_min=float(L.min()),
                       median_2nd_half=float(np.median(half)), p10=float(np.percentile(half, 10)),
                       p90=float(np.percentile(half, 90)), acf_peak_lag=lag, acf_peak=float(ac[lag]),
                       slope_per_100=float(np.polyfit(np.arange(len(half)), half, 1)[0] * 100),
                       median_101_350=seg_median(st, L, 101, 351), median_351_600=seg_median(st, L, 351, 601),
                       optimum_loss=float(mlp_forward_backward(fit_softmax_optimum(X, y), X, y, need_grad=False)[0]))
    return {"class": "oscillating", "onset_step": 1, "first_remedy": "lower_lr",
            "note": "full-batch momentum 0.9 + LR 2.5 on softmax regression; loss swings 0.7-2.2 with no downward trend, never near the optimum",
            "check": check}


def run_diverge_unnormalized(out: Path) -> dict:
    """Linear regression (6 features, MSE) trained full-batch with plain SGD, where one
    feature was left un-normalised (std 8 instead of 1). That feature sets the top Hessian
    eigenvalue lambda_max (~132), so LR 0.0156 is just past the 2/lambda_max = 0.0152 limit:
    the loss first falls (the other directions converge) while the error along the top
    eigenvector grows by |1 - lr * lambda_max| ~ 1.06 per step, then the loss grows
    exponentially. 200 steps (stopped by hand), PyTorch ``SummaryWriter`` events.
    """
    rng = np.random.default_rng(404)
    N = 4096
    X = rng.normal(0, 1, (N, 6))
    X[:, 5] = rng.normal(0, 1, N) * 8.0
    w = np.array([1.0, -0.5, 0.8, 0.3, -1.2, 0.0])
    y = (X @ w + 0.3 * rng.normal(0, 1, N)).astype(np.float32)
    X = X.astype(np.float32)
    lam = float(np.linalg.eigvalsh((X.T @ X / N).astype(np.float64) * 2).max())
    p = {"W0": np.zeros((6, 1), np.float32), "b0": np.zeros(1, np.float32)}
    lr = 0.0156
    tr = train_full_batch(p, X, y, SGD(), 200, lr, loss="mse")
    write_tb_events(out / "runs" / "Mar14_09-12-57_trainbox" / tb_file_name(T0 + 12.0),
                    trace_scalars(tr, T0 + 12.0, 0.35))
    st, L = tr.arr("step"), tr.arr("loss")
    imin = int(np.argmin(L))
    late = st >= st[imin] + 30
    rate = float(np.polyfit(st[late], np.log(L[late]), 1)[0])
    check = check_line("diverge-unnormalized-feature", lambda_max=lam, lr_limit=2 / lam, lr=lr,
                       loss_first=float(L[0]), loss_min=float(L[imin]), min_step=int(st[imin]),
                       loss_last=float(L[-1]), growth_per_step=rate,
                       predicted_rate=2 * math.log(abs(1 - lr * lam)))
    return {"class": "diverging", "onset_step": int(st[imin]), "first_remedy": "check_data",
            "note": f"feature 6 has std 8: lambda_max={lam:.0f} so LR {lr} > 2/lambda_max={2 / lam:.4f}; loss min at step {int(st[imin])} then x{math.exp(rate):.2f}/step",
            "check": check}



def run_plateau_shuffled(out: Path) -> dict:
    """Linear softmax classifier (Keras ``Dense(10, softmax)``, glorot-uniform init) on
    standardised 20-feature blobs (12000 train / 2000 val) whose labels were shuffled
    independently of the inputs by a loader bug (train and val): no signal is left, so after
    the first epoch shed the random-init excess the loss sits at ln(10) = 2.3026. Adam 1e-2,
    batch 32 (375 steps/epoch), 30 epochs; Keras ``CSVLogger`` ``training.log`` (epoch, accuracy, loss,
    val_accuracy, val_loss).
    """
    rng = np.random.default_rng(505)
    Xtr, ytr, cen = make_blobs(rng, 12000, 20, 10, sep=1.0)
    Xva, yva, _ = make_blobs(rng, 2000, 20, 10, sep=1.0, centers=cen)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    Xtr, Xva = (Xtr - mu) / sd, (Xva - mu) / sd            # StandardScaler
    ytr = rng.permutation(ytr)
    yva = rng.permutation(yva)
    p = {"W0": (rng.normal(0, 1, (20, 10)) * math.sqrt(6 / 30) / math.sqrt(3)).astype(np.float32),
         "b0": np.zeros(10, np.float32)}
    opt = AdamW()
    rows = []
    batches = epoch_batches(rng, len(Xtr), 32)
    spe = math.ceil(len(Xtr) / 32)
    for ep in range(30):
        ls, acc = [], []
        for _ in range(spe):
            _, _, b = next(batches)
            loss, g = mlp_forward_backward(p, Xtr[b], ytr[b])
            logits = Xtr[b] @ p["W0"] + p["b0"]
            acc.append(float((logits.argmax(1) == ytr[b]).mean()))
            opt.step(p, g, 1e-2)
            ls.append(loss)
        vl, _ = mlp_forward_backward(p, Xva, yva, need_grad=False)
        va = float(((Xva @ p["W0"] + p["b0"]).argmax(1) == yva).mean())
        rows.append(keras_row(ep, {"accuracy": float(np.mean(acc)), "loss": float(np.mean(ls)),
                                   "val_accuracy": va, "val_loss": vl}))
    write_csv_rows(out / "training.log", ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"], rows)
    L = np.array([r["loss"] for r in rows])
    V = np.array([r["val_loss"] for r in rows])
    check = check_line("plateau-shuffled-labels", ln_C=math.log(10), loss_first=float(L[0]),
                       loss_last=float(L[-1]), loss_range=float(L.max() - L.min()),
                       val_first=float(V[0]), val_last=float(V[-1]),
                       acc_last=rows[-1]["accuracy"])
    return {"class": "plateau", "onset_step": 0, "first_remedy": "check_labels",
            "note": f"labels permuted independently of inputs; train loss {L[0]:.4f} -> {L[-1]:.4f} vs ln(10)=2.3026; epochs 0-29 (onset = epoch 0)",
            "check": check}


def run_plateau_frozen(out: Path) -> dict:
    """MLP classifier (16-64-64-4, ReLU) whose optimiser was built over the frozen backbone
    only (``AdamW(model.backbone.parameters())`` with ``requires_grad=False``): gradients
    are computed for the head (so a grad norm is logged) but nothing is ever updated, and the
    loss stays at its initial level (not the chance level ln 4) from step 1. Custom loop,
    JSONL ``metrics.jsonl`` every 5 steps: step, loss (that batch), grad_norm (pre-clip,
    trainable params), lr (warm-up + cosine), epoch.
    """
    rng = np.random.default_rng(606)
    X, y, _ = make_blobs(rng, 6000, 16, 4, sep=0.8)
    p = init_mlp(rng, [16, 64, 64, 4])
    head = {"W2", "b2"}
    opt = AdamW(weight_decay=0.01)
    total, bs = 1000, 64
    spe = math.ceil(len(X) / bs)
    recs = []
    L = []
    batches = epoch_batches(rng, len(X), bs)
    for i in range(total):
        ep, j, b = next(batches)
        loss, g = mlp_forward_backward(p, X[b], y[b])
        g_head = {k: v for k, v in g.items() if k in head}
        gn = clip_grads(g_head, 1.0)
        lr = lr_linear_warmup(i, 3e-4, 50, total, "cosine")
        opt.step(p, g_head, lr, only=set())       # the bug: no trainable param in the optimiser
        L.append(loss)
        if (i + 1) % 5 == 0:
            recs.append({"step": i + 1, "loss": round(loss, 6), "grad_norm": round(gn, 6),
                         "lr": lr, "epoch": round(ep + (j + 1) / spe, 4)})
    write_jsonl(out / "metrics.jsonl", recs)
    Lr = np.array([r["loss"] for r in recs])
    check = check_line("plateau-frozen-params", ln_C=math.log(4), loss_first=float(Lr[0]),
                       median_first_100=float(np.median(Lr[:20])), median_last_100=float(np.median(Lr[-20:])),
                       slope_per_1000=float(np.polyfit(np.arange(len(Lr)) * 5, Lr, 1)[0] * 1000),
                       gn_median=float(np.median([r["grad_norm"] for r in recs])))
    return {"class": "plateau", "onset_step": 5, "first_remedy": "check_model",
            "note": f"optimiser holds no trainable parameter: loss flat at ~{np.median(Lr):.2f} (ln 4 = 1.386) while grad_norm ~{np.median([r['grad_norm'] for r in recs]):.2f} is logged",
            "check": check}



def lightning_fit(rng: np.random.Generator, p: dict, Xtr, ytr, Xva, yva, *, epochs: int,
                  bs: int, lr_fn, log_every: int, opt, lr_monitor: bool) -> tuple[list[dict], Trace]:
    """Train an MLP the way a LightningModule + Trainer would and collect CSVLogger rows.

    Per batch with 0-based global index g: a ``train_loss_step`` row (and, with
    ``lr_monitor``, an ``lr-Adam`` row without epoch) when ``(g + 1) % log_every == 0``; at
    each epoch end a ``val_loss`` row then a ``train_loss_epoch`` row at step g_last.
    ``lr_fn(g)`` gives the LR of batch g. Returns ``(rows, trace)``.
    """
    rows, tr = [], Trace()
    n = len(Xtr)
    spe = math.ceil(n / bs)
    g = 0
    for ep in range(epochs):
        perm = rng.permutation(n)
        ls = []
        for start in range(0, n, bs):
            b = perm[start:start + bs]
            lr = lr_fn(g)
            if lr_monitor and (g + 1) % log_every == 0:
                rows.append({"lr-Adam": lr, "step": g})
            loss, grads = mlp_forward_backward(p, Xtr[b], ytr[b])
            gn = clip_grads(grads, None)
            opt.step(p, grads, lr)
            ls.append(loss)
            tr.add(g + 1, loss, gn, lr, lr_fn(g + 1), ep + len(ls) / spe)
            if (g + 1) % log_every == 0:
                rows.append({"epoch": ep, "step": g, "train_loss_step": f32(loss)})
            g += 1
        vl, _ = mlp_forward_backward(p, Xva, yva, need_grad=False)
        tr.evals.append((g, ep + 1.0, vl, {}))
        rows.append({"epoch": ep, "step": g - 1, "val_loss": f32(vl)})
        rows.append({"epoch": ep, "step": g - 1, "train_loss_epoch": f32(np.mean(ls))})
    return rows, tr


def run_overfit_tiny(out: Path) -> dict:
    """MLP (20-256-256-10, ReLU) trained on a tiny train set: 80 examples (15% label noise)
    vs 2000 validation examples. Adam 3e-4, batch 8 (10 steps/epoch), 60 epochs: the train
    loss falls towards 0 while the validation loss bottoms out after a few epochs and climbs.
    Lightning ``CSVLogger`` (log_every_n_steps=5, validation every epoch).
    """
    rng = np.random.default_rng(707)
    Xtr, ytr, cen = make_blobs(rng, 80, 20, 10, sep=0.6, label_noise=0.15)
    Xva, yva, _ = make_blobs(rng, 2000, 20, 10, sep=0.6, label_noise=0.15, centers=cen)
    p = init_mlp(rng, [20, 256, 256, 10])
    rows, tr = lightning_fit(rng, p, Xtr, ytr, Xva, yva, epochs=60, bs=8, lr_fn=lambda g: 3e-4,
                             log_every=5, opt=AdamW(), lr_monitor=False)
    write_lightning(out, rows, {"hidden": 256, "lr": 0.0003, "batch_size": 8, "n_train": 80})
    ev = np.array([e[2] for e in tr.evals])
    te = np.array([r["train_loss_epoch"] for r in rows if "train_loss_epoch" in r])
    best = int(np.argmin(ev))
    best_step = tr.evals[best][0] - 1
    check = check_line("overfit-tiny-trainset", val_first=float(ev[0]), val_best=float(ev[best]),
                       best_epoch=best, best_step=best_step, val_last=float(ev[-1]),
                       train_epoch_at_best=float(te[best]), train_epoch_last=float(te[-1]))
    return {"class": "overfitting", "onset_step": best_step, "first_remedy": "early_stop",
            "note": f"80 training examples; val_loss min {ev[best]:.3f} at epoch {best} (step {best_step}) then {ev[-1]:.3f} at the end while train_loss_epoch {te[best]:.3f} -> {te[-1]:.4f}",
            "check": check}


def run_healthy_lightning(out: Path) -> dict:
    """Healthy MLP (20-64-10, ReLU) on 4000/1000 blob examples, Adam with 1e-3 peak, one
    epoch of linear warm-up then cosine, batch 64, 15 epochs (63 steps each). Lightning
    ``CSVLogger`` with ``LearningRateMonitor`` (``lr-Adam``), log_every_n_steps=10.
    """
    rng = np.random.default_rng(808)
    Xtr, ytr, cen = make_blobs(rng, 4000, 20, 10, sep=0.7, label_noise=0.05)
    Xva, yva, _ = make_blobs(rng, 1000, 20, 10, sep=0.7, label_noise=0.05, centers=cen)
    p = init_mlp(rng, [20, 64, 10])
    total = 15 * 63
    rows, tr = lightning_fit(rng, p, Xtr, ytr, Xva, yva, epochs=15, bs=64,
                             lr_fn=lambda g: lr_linear_warmup(g, 1e-3, 63, total, "cosine"),
                             log_every=10, opt=AdamW(), lr_monitor=True)
    write_lightning(out, rows, {"hidden": 64, "lr": 0.001, "batch_size": 64, "max_epochs": 15})
    ev = np.array([e[2] for e in tr.evals])
    st, L = tr.arr("step"), tr.arr("loss")
    check = check_line("healthy-mlp-lightning", loss_first=float(L[0]), loss_last_epoch_median=seg_median(st, L, total - 62, total + 1),
                       val_first=float(ev[0]), val_min=float(ev.min()), val_last=float(ev[-1]),
                       val_argmin_epoch=int(np.argmin(ev)))
    return {"class": "converging", "onset_step": "", "first_remedy": "",
            "note": f"train loss {L[0]:.2f} -> {seg_median(st, L, total - 62, total + 1):.3f}; val_loss {ev[0]:.3f} -> {ev[-1]:.3f} (no upturn)",
            "check": check}


def write_llamafactory_log(path: Path, tr: Trace, logging_steps: int, sec_per_step: float,
                           eval_every: int = 0) -> None:
    """Write LLaMA-Factory's ``trainer_log.jsonl`` (its ``LogCallback``): one line per HF
    log event, keys ``current_steps, total_steps, loss, lr, epoch, percentage,
    elapsed_time, remaining_time`` (``eval_loss`` instead of ``loss`` on eval lines).
    ``loss`` is the HF window mean rounded to 4 decimals, ``epoch`` rounded to 2 (as HF <
    4.38 logged it), times are ``str(timedelta)`` of simulated seconds.
    """
    total = tr.step[-1]
    recs = []
    evals = {e[0]: e for e in tr.evals}
    last = 0
    for i, s in enumerate(tr.step):
        if s % logging_steps == 0 or s == total:
            loss = round(window_mean(tr.loss, i + 1, s - last), 4)
            last = s
            el = s * sec_per_step
            recs.append(llamafactory_record(s, total, el, el / s * (total - s), loss=loss, lr=tr.lr_next[i],
                                            epoch=round(tr.epoch[i], 2)))
        if s in evals:
            el = s * sec_per_step
            recs.append(llamafactory_record(s, total, el, el / s * (total - s), eval_loss=f32(evals[s][2]),
                                            epoch=round(evals[s][1], 2)))
    write_jsonl(path, recs)


def train_charlm(seed: int, X: np.ndarray, y: np.ndarray, V: int, *, k: int, d: int, H: int,
                 total: int, bs: int, peak: float, warm: int, decay: str, corrupt=None,
                 evalset=None, eval_every: int = 0) -> tuple[Trace, dict]:
    """Train the char MLP LM (tanh) from scratch with AdamW + clip 1.0 and a warm-up
    schedule; ``corrupt(step, Xb, yb, rng) -> (Xb, yb)`` may replace a batch (1-based
    step). ``evalset=(Xe, ye)`` is evaluated every ``eval_every`` steps into ``tr.evals``.
    Returns ``(trace, params)``.
    """
    rng = np.random.default_rng(seed)
    p = init_charlm(rng, V, k, d, H)
    opt = AdamW(weight_decay=0.0)
    spe = math.ceil(len(X) / bs)
    tr = Trace()
    batches = epoch_batches(rng, len(X), bs)
    for i in range(total):
        ep, j, b = next(batches)
        Xb, yb = X[b], y[b]
        if corrupt is not None:
            Xb, yb = corrupt(i + 1, Xb, yb, rng)
        loss, g = charlm_forward_backward(p, Xb, yb)
        gn = clip_grads(g, 1.0)
        lr = lr_linear_warmup(i, peak, warm, total, decay)
        opt.step(p, g, lr)
        tr.add(i + 1, loss, gn, lr, lr_linear_warmup(i + 1, peak, warm, total, decay),
               ep + (j + 1) / spe)
        if evalset is not None and eval_every and (i + 1) % eval_every == 0:
            el, _ = charlm_forward_backward(p, evalset[0], evalset[1], need_grad=False)
            tr.evals.append((i + 1, tr.epoch[-1], el, {}))
    return tr, p


def run_epoch_staircase(out: Path) -> dict:
    """Healthy multi-epoch fine-tune with the classic epoch staircase: a wide char MLP LM
    (context 6, embed 24, hidden 768) on the whole corpus for 4 epochs, batch 16
    (131 steps/epoch), AdamW 5e-3 with warm-up + cosine. Each epoch revisits the same
    windows, which the wide model partly memorised the first time, so the loss drops at
    every epoch boundary and stays roughly level inside an epoch. LLaMA-Factory
    ``trainer_log.jsonl`` (logging_steps=5).
    """
    ids, V = corpus_ids()
    X, y = char_windows(ids, 6)
    spe = math.ceil(len(X) / 16)
    tr, _ = train_charlm(1, X, y, V, k=6, d=24, H=768, total=4 * spe, bs=16, peak=5e-3,
                         warm=spe // 5, decay="cosine")
    write_llamafactory_log(out / "trainer_log.jsonl", tr, 5, sec_per_step=0.31)
    st, L = tr.arr("step"), tr.arr("loss")
    meds = [seg_median(st, L, e * spe + 1, (e + 1) * spe + 1) for e in range(4)]
    inner = [seg_median(st, L, e * spe + 1, e * spe + spe // 2) - seg_median(st, L, e * spe + spe // 2, (e + 1) * spe + 1) for e in range(1, 4)]
    check = check_line("healthy-epoch-staircase", steps_per_epoch=spe,
                       epoch_medians=str([round(m, 3) for m in meds]),
                       within_epoch_drop_1to3=str([round(v, 3) for v in inner]))
    return {"class": "converging", "onset_step": "", "first_remedy": "",
            "note": "epoch medians " + " / ".join(f"{m:.2f}" for m in meds) + f" (steps/epoch {spe}): drops at epoch boundaries, level within epochs",
            "check": check}


def run_spikes_corrupted(out: Path) -> dict:
    """Char MLP LM (context 4, embed 16, hidden 128) on the corpus, AdamW 3e-3 warm-up +
    cosine, batch 32, 600 steps. Three short runs of corrupted batches (a binary blob decoded
    as text: inputs and targets replaced by random characters) at steps 181-182, 331-333 and
    471-472: the loss jumps on those batches, the model is knocked off for a few steps, and
    it recovers. LLaMA-Factory ``trainer_log.jsonl`` (logging_steps=5).
    """
    ids, V = corpus_ids()
    X, y = char_windows(ids, 4)
    bad = {181, 182, 331, 332, 333, 471, 472}

    def corrupt(step, Xb, yb, rng):
        """Replace the batch of a corrupted step with uniform random characters."""
        if step in bad:
            return rng.integers(0, V, Xb.shape), rng.integers(0, V, yb.shape)
        return Xb, yb

    tr, _ = train_charlm(3, X, y, V, k=4, d=16, H=128, total=600, bs=32, peak=3e-3, warm=30,
                         decay="cosine", corrupt=corrupt)
    write_llamafactory_log(out / "trainer_log.jsonl", tr, 5, sec_per_step=0.27)
    st, L = tr.arr("step"), tr.arr("loss")
    lines = []
    for a in (181, 331, 471):
        before = seg_median(st, L, a - 30, a)
        peak_v = float(L[(st >= a) & (st < a + 3)].max())
        after10 = seg_median(st, L, a + 5, a + 15)
        after30 = seg_median(st, L, a + 20, a + 40)
        lines.append(f"{a}:{before:.2f}->{peak_v:.2f}->{after10:.2f}->{after30:.2f}")
    # what the 5-step logging windows show
    logged = [round(window_mean(tr.loss, s, 5), 3) for s in (175, 180, 185, 190, 195, 330, 335, 340, 470, 475, 480)]
    check = check_line("spikes-corrupted-batches", spikes=" ".join(lines), logged_windows=str(logged),
                       loss_last=seg_median(st, L, 560, 601))
    return {"class": "spiking", "onset_step": 185, "first_remedy": "check_data",
            "note": "corrupted batches at steps 181-182, 331-333, 471-472; logged 5-step windows 185/335/475 jump then recover within ~15 steps",
            "check": check}


def run_overfit_hf(out: Path) -> dict:
    """Char MLP LM (context 4, embed 16, hidden 256) "fine-tuned" for 24 epochs on a small
    slice of the corpus (first 800 characters) with a held-out slice (last 790 characters)
    evaluated every epoch (25 steps). AdamW 3e-3, warm-up 25 + linear decay, batch 32. The
    train loss keeps falling while eval_loss reaches its minimum early and then rises.
    HF ``trainer_state.json`` with eval entries and ``load_best_model_at_end`` (best_metric).
    """
    ids, V = corpus_ids()
    Xtr, ytr = char_windows(ids[:800], 4)
    Xev, yev = char_windows(ids[-790:], 4)
    spe = math.ceil(len(Xtr) / 32)
    total = 24 * spe
    tr, _ = train_charlm(5, Xtr, ytr, V, k=4, d=16, H=256, total=total, bs=32, peak=3e-3,
                         warm=spe, decay="linear", evalset=(Xev, yev), eval_every=spe)
    hist = hf_log_history(tr, 10, sec_per_step=0.12, n_train=total * 32, n_eval=len(Xev),
                          eval_batches=math.ceil(len(Xev) / 32), eval_sec=0.35,
                          flos_per_step=4.2e9)
    ev = np.array([e[2] for e in tr.evals])
    best = int(np.argmin(ev))
    best_step = tr.evals[best][0]
    write_hf_trainer_state(out / "trainer_state.json", hist, global_step=total, max_steps=total,
                           logging_steps=10, eval_steps=spe, save_steps=spe, train_batch_size=32,
                           num_train_epochs=24, epoch=tr.epoch[-1], total_flos=4.2e9 * total,
                           best_metric=f32(ev[best]),
                           best_model_checkpoint=f"saves/charlm-sft/checkpoint-{best_step}",
                           best_global_step=best_step)
    st, L = tr.arr("step"), tr.arr("loss")
    check = check_line("overfit-small-finetune", eval_first=float(ev[0]), eval_best=float(ev[best]),
                       best_step=best_step, eval_last=float(ev[-1]),
                       train_at_best=seg_median(st, L, best_step - 10, best_step + 1),
                       train_last=seg_median(st, L, total - 10, total + 1))
    return {"class": "overfitting", "onset_step": best_step, "first_remedy": "early_stop",
            "note": f"800-char train slice, 24 epochs; eval_loss min {ev[best]:.3f} at step {best_step} then {ev[-1]:.3f}; train {seg_median(st, L, best_step - 10, best_step + 1):.2f} -> {seg_median(st, L, total - 10, total + 1):.2f}",
            "check": check}


def run_spike_worse_level(out: Path) -> dict:
    """ReLU MLP (16-128-128-4) trained with SGD momentum 0.9, LR 0.05, batch 64, no gradient
    clipping, 800 steps. The batch of step 400 has its features in the wrong unit (x1000): a
    gradient ~1000 times the usual size takes one huge step that kills the second ReLU
    layer; the loss spikes and then settles at the chance level ln 4, far worse than before,
    and never comes back (dead units get no gradient). Plain CSV ``step,loss,grad_norm,lr`` every 2 steps.
    """
    rng = np.random.default_rng(909)
    X, y, _ = make_blobs(rng, 8000, 16, 4, sep=0.7)
    p = init_mlp(rng, [16, 128, 128, 4])
    opt = SGD(momentum=0.9)
    total, bs, lr, bad = 800, 64, 0.05, 400
    tr = Trace()
    batches = epoch_batches(rng, len(X), bs)
    for i in range(total):
        ep, j, b = next(batches)
        Xb = X[b] * (1000.0 if i + 1 == bad else 1.0)
        loss, g = mlp_forward_backward(p, Xb, y[b])
        gn = clip_grads(g, None)
        opt.step(p, g, lr)
        tr.add(i + 1, loss, gn, lr, lr, 0.0)
    rows = [{"step": s, "loss": f"{tr.loss[i]:.6f}", "grad_norm": f"{tr.gn[i]:.6f}", "lr": tr.lr[i]}
            for i, s in enumerate(tr.step) if s % 2 == 0]
    buf = "step,loss,grad_norm,lr\n" + "".join(f"{r['step']},{r['loss']},{r['grad_norm']},{r['lr']}\n" for r in rows)
    write_text(out / "train_log.csv", buf)
    st, L, G = tr.arr("step"), tr.arr("loss"), tr.arr("gn")
    h1 = np.maximum(X @ p["W0"] + p["b0"], 0)
    h2 = np.maximum(h1 @ p["W1"] + p["b1"], 0)
    dead = float(((h2 > 0).mean(0) == 0).mean())
    check = check_line("spike-to-worse-level", before=seg_median(st, L, 300, 400), gn_before=seg_median(st, G, 300, 400),
                       gn_at_bad=float(G[bad - 1]), peak_after=float(np.nanmax(L[bad - 1:bad + 10])),
                       after_100_200=seg_median(st, L, 500, 600), last_100=seg_median(st, L, 700, 801),
                       dead_units_layer2=dead)
    return {"class": "spiking", "onset_step": bad, "first_remedy": "grad_clip",
            "note": f"batch 400 in wrong units (x1000), no clipping: grad norm {G[bad - 1]:.3g} vs ~{seg_median(st, G, 300, 400):.2f}; loss {seg_median(st, L, 300, 400):.3f} before -> {seg_median(st, L, 700, 801):.3f} level after",
            "check": check}


def run_healthy_noisy(out: Path) -> dict:
    """Healthy but noisy: softmax regression (10 features, 3 classes) with batch size 4,
    SGD LR 0.05 with cosine decay, 1000 steps. The per-batch loss jumps around a lot (4
    examples per batch) while its trend falls steadily. Plain CSV ``step,loss,grad_norm,lr``
    every 2 steps.
    """
    rng = np.random.default_rng(1010)
    X, y, _ = make_blobs(rng, 5000, 10, 3, sep=0.5)
    p = init_mlp(rng, [10, 3], scale=0.3)
    opt = SGD()
    total = 1000
    tr = Trace()
    batches = epoch_batches(rng, len(X), 4)
    for i in range(total):
        ep, j, b = next(batches)
        loss, g = mlp_forward_backward(p, X[b], y[b])
        gn = clip_grads(g, None)
        lr = lr_linear_warmup(i, 0.05, 0, total, "cosine")
        opt.step(p, g, lr)
        tr.add(i + 1, loss, gn, lr, lr, 0.0)
    buf = "step,loss,grad_norm,lr\n" + "".join(
        f"{s},{tr.loss[i]:.6f},{tr.gn[i]:.6f},{tr.lr[i]:.8f}\n" for i, s in enumerate(tr.step) if s % 2 == 0)
    write_text(out / "loss.csv", buf)
    st, L = tr.arr("step"), tr.arr("loss")
    full, _ = mlp_forward_backward(p, X, y, need_grad=False)
    check = check_line("healthy-noisy-small-batch", median_1_100=seg_median(st, L, 1, 101),
                       median_900_1000=seg_median(st, L, 900, 1001), full_data_loss_end=full,
                       cv_last_200=float(np.std(L[-200:]) / np.mean(L[-200:])), max_last_200=float(L[-200:].max()))
    return {"class": "converging", "onset_step": "", "first_remedy": "",
            "note": f"batch 4: step-to-step CV {np.std(L[-200:]) / np.mean(L[-200:]):.2f} but median {seg_median(st, L, 1, 101):.2f} (steps 1-100) -> {seg_median(st, L, 900, 1001):.2f} (900-1000)",
            "check": check}


def run_converge_floor(out: Path) -> dict:
    """Healthy run that reaches its floor early and then stays flat: softmax regression
    (6 features, 4 classes, zero init so it starts at ln 4) on data with 30% of the labels
    re-drawn at random, so the best achievable loss is well above 0. Adam 3e-3 (constant),
    batch 128, 2000 steps; the loss is at its floor by a few hundred steps. TF2 ``tf.summary.scalar`` event file (tensor-encoded
    scalars): ``train/loss`` and ``train/learning_rate`` every 10 steps, ``eval/loss``
    every 100 steps.
    """
    rng = np.random.default_rng(1111)
    Xtr, ytr, cen = make_blobs(rng, 20000, 6, 4, sep=1.5, label_noise=0.3)
    Xev, yev, _ = make_blobs(rng, 2000, 6, 4, sep=1.5, label_noise=0.3, centers=cen)
    p = {"W0": np.zeros((6, 4), np.float32), "b0": np.zeros(4, np.float32)}
    opt = AdamW()
    total = 2000
    tr = Trace()
    batches = epoch_batches(rng, len(Xtr), 128)
    scal = []
    for i in range(total):
        ep, j, b = next(batches)
        loss, g = mlp_forward_backward(p, Xtr[b], ytr[b])
        gn = clip_grads(g, None)
        opt.step(p, g, 3e-3)
        tr.add(i + 1, loss, gn, 3e-3, 3e-3, 0.0)
        s = i + 1
        t = T0 + 5.0 + 0.02 * s
        if s % 10 == 0:
            scal += [(t, s, "train/loss", loss), (t, s, "train/learning_rate", 3e-3)]
        if s % 100 == 0:
            el, _ = mlp_forward_backward(p, Xev, yev, need_grad=False)
            tr.evals.append((s, 0.0, el, {}))
            scal.append((t + 0.3, s, "eval/loss", el))
    write_tb_events(out / "logs" / tb_file_name(T0 + 5.0, tf2=True), scal, style="tf2")
    st, L = tr.arr("step"), tr.arr("loss")
    ev = np.array([e[2] for e in tr.evals])
    check = check_line("healthy-converge-floor", loss_first=float(L[0]), median_1_50=seg_median(st, L, 1, 51),
                       median_250_350=seg_median(st, L, 250, 351), median_1900_2000=seg_median(st, L, 1900, 2001),
                       eval_first=float(ev[0]), eval_last=float(ev[-1]), eval_min=float(ev.min()))
    return {"class": "converging", "onset_step": "", "first_remedy": "",
            "note": f"label-noise floor: loss {L[0]:.3f} -> {seg_median(st, L, 250, 351):.3f} by step ~300, {seg_median(st, L, 1900, 2001):.3f} at the end; eval {ev[0]:.3f} -> {ev[-1]:.3f}",
            "check": check}


def run_overfit_keras_tensorboard(out: Path) -> dict:
    """Keras ``model.fit(callbacks=[TensorBoard("logs/fit/<date>")])`` layout: an MLP
    (20-256-256-10, ReLU) on 100 examples (15% label noise) vs 2000 validation examples,
    Adam 3e-4, batch 10, 40 epochs. Keras writes one TF2 event file (tensor scalars) per
    sub-folder: ``train/`` with ``epoch_loss`` (the epoch's mean batch loss) and
    ``epoch_learning_rate``, ``validation/`` with ``epoch_loss`` (the validation loss) and
    ``evaluation_loss_vs_iterations`` (the same value at the optimizer's iteration count),
    all at step = the 0-based epoch. Both sub-folders hold the tag ``epoch_loss``: merged
    as one series, validation values would overwrite training ones.
    """
    rng = np.random.default_rng(2024)
    Xtr, ytr, cen = make_blobs(rng, 100, 20, 10, sep=0.6, label_noise=0.15)
    Xva, yva, _ = make_blobs(rng, 2000, 20, 10, sep=0.6, label_noise=0.15, centers=cen)
    p = init_mlp(rng, [20, 256, 256, 10])
    rows, tr = lightning_fit(rng, p, Xtr, ytr, Xva, yva, epochs=40, bs=10, lr_fn=lambda g: 3e-4,
                             log_every=5, opt=AdamW(), lr_monitor=False)
    te = [r["train_loss_epoch"] for r in rows if "train_loss_epoch" in r]
    ev = [e[2] for e in tr.evals]
    spe = math.ceil(len(Xtr) / 10)
    date = "20240314-091245"
    train, val = [], []
    for e, (lt, lv) in enumerate(zip(te, ev)):
        t = T0 + 3.0 * (e + 1)
        train += [(t, e, "epoch_loss", lt), (t, e, "epoch_learning_rate", 3e-4)]
        val += [(t + 0.4, e, "epoch_loss", lv), (t + 0.4, (e + 1) * spe, "evaluation_loss_vs_iterations", lv)]
    base = out / "logs" / "fit" / date
    write_tb_events(base / "train" / tb_file_name(T0, tf2=True), train, style="tf2")
    write_tb_events(base / "validation" / tb_file_name(T0 + 0.1, uid=1, tf2=True), val, style="tf2")
    ev_a, te_a = np.array(ev), np.array(te)
    best = int(np.argmin(ev_a))
    check = check_line("overfit-keras-tensorboard", val_first=float(ev_a[0]), val_best=float(ev_a[best]),
                       best_epoch=best, val_last=float(ev_a[-1]), train_first=float(te_a[0]),
                       train_last=float(te_a[-1]))
    return {"class": "overfitting", "onset_step": best, "first_remedy": "early_stop",
            "note": f"Keras TensorBoard train/ + validation/ (both epoch_loss); val min {ev_a[best]:.3f} at epoch {best} then {ev_a[-1]:.3f}; train {te_a[0]:.3f} -> {te_a[-1]:.4f}",
            "check": check}


def run_gan_discriminator_wins(out: Path) -> dict:
    """A GAN whose discriminator wins, printed the way PyTorch-GAN scripts print it
    (``[Epoch e/E] [Batch b/B] [D loss: x] [G loss: y]``, every 10 batches).

    Data: 1-D ``N(4, 0.5)``. Generator ``G(z) = a z + b`` (z ~ N(0, 1)), discriminator
    ``D(x) = sigmoid(w1 x + w2 x^2 + c)``; BCE losses, non-saturating generator loss
    ``-log D(G(z))``; gradients written out by hand. The fault: the discriminator's LR is
    5000x the generator's (SGD 0.05 vs 1e-5), so it separates real from fake long before
    the generator can move: its loss falls towards 0 while the generator's rises. 60 epochs
    of 20 batches of 64.
    """
    rng = np.random.default_rng(4242)
    a, b = 1.0, 0.0
    w1, w2, c = 0.0, 0.0, 0.0
    lr_d, lr_g, k_d, bs, epochs, nb = 0.05, 1e-5, 1, 64, 60, 20

    def sig(t):
        return 1.0 / (1.0 + np.exp(-np.clip(t, -60, 60)))

    lines, dl, gl, steps = [], [], [], []
    for ep in range(epochs):
        for bi in range(nb):
            for _ in range(k_d):
                xr = rng.normal(4.0, 0.5, bs)
                xf = a * rng.normal(0, 1, bs) + b
                pr, pf = sig(w1 * xr + w2 * xr ** 2 + c), sig(w1 * xf + w2 * xf ** 2 + c)
                d_loss = float(-np.mean(np.log(pr + 1e-12)) - np.mean(np.log(1 - pf + 1e-12)))
                gr, gf = pr - 1.0, pf  # dL/dlogit for real (label 1) and fake (label 0)
                # features are scaled by 1/4 and 1/16 inside the gradient to keep SGD stable
                w1 -= lr_d * float(np.mean(gr * xr) + np.mean(gf * xf)) / 4
                w2 -= lr_d * float(np.mean(gr * xr ** 2) + np.mean(gf * xf ** 2)) / 16
                c -= lr_d * float(np.mean(gr) + np.mean(gf))
            z = rng.normal(0, 1, bs)
            xf = a * z + b
            pf = sig(w1 * xf + w2 * xf ** 2 + c)
            g_loss = float(-np.mean(np.log(pf + 1e-12)))
            dx = -(1 - pf) * (w1 + 2 * w2 * xf)  # d(-log D(x))/dx
            a -= lr_g * float(np.mean(dx * z))
            b -= lr_g * float(np.mean(dx))
            if (bi + 1) % 10 == 0:
                lines.append(f"[Epoch {ep}/{epochs}] [Batch {bi + 1}/{nb}] [D loss: {d_loss:.6f}] "
                             f"[G loss: {g_loss:.6f}]")
                dl.append(d_loss)
                gl.append(g_loss)
                steps.append(ep * nb + bi + 1)
    header = ["Namespace(n_epochs=60, batch_size=64, lr_d=0.05, lr_g=1e-05, n_critic=1, latent_dim=1)"]
    write_text(out / "train.log", "\n".join(header + lines) + "\n")
    d, g = np.array(dl), np.array(gl)
    k0, k = max(3, len(d) // 20), len(d) // 5  # the untrained start; the last fifth
    d0, d1, g0, g1 = (float(np.median(d[:k0])), float(np.median(d[-k:])), float(np.median(g[:k0])),
                      float(np.median(g[-k:])))
    # onset: the first printed point where the 5-point median D loss is below half its early level
    med = np.array([np.median(d[max(0, i - 2):i + 3]) for i in range(len(d))])
    onset = int(np.array(steps)[np.argmax(med < 0.5 * d0)])
    check = check_line("gan-discriminator-wins", d_early=d0, d_late=d1, g_early=g0, g_late=g1, onset=onset,
                       a=a, b=b)
    return {"class": "diverging", "onset_step": onset, "first_remedy": "gan_balance",
            "note": f"D at 5000x G's LR: D loss {d0:.3f} -> {d1:.4f}, G loss {g0:.3f} -> {g1:.3f}; generator barely moves (b={b:.2f} vs 4)",
            "check": check}


def run_diverge_custom_text(out: Path) -> dict:
    """A custom training loop printing through python ``logging``: an MLP (20-64-5, ReLU)
    on overlapping blobs (10% label noise), SGD momentum 0.9, LR warmed up linearly over 100
    steps to 1.4 (far too high for this model: at 0.15 it trains, noisily), batch 32, 400
    steps, no clipping. Once the LR passes what the curvature allows (around 0.5, step ~40),
    the loss grows exponentially. Lines::

        2024-03-14 09:12:46,113 - train - INFO - epoch 1 step 20 | loss 1.6094 | lr 4.00e-01 | grad_norm 1.2345
        2024-03-14 09:12:47,900 - train - INFO - epoch 1 step 50 | val_loss 1.2345 | val_acc 0.41

    every 10 steps for training, every 50 for validation.
    """
    rng = np.random.default_rng(3131)
    Xtr, ytr, cen = make_blobs(rng, 4000, 20, 5, sep=0.35, label_noise=0.1)
    Xva, yva, _ = make_blobs(rng, 1000, 20, 5, sep=0.35, label_noise=0.1, centers=cen)
    p = init_mlp(rng, [20, 64, 5])
    opt = SGD(momentum=0.9)
    total, warm, peak, bs = 400, 100, 1.4, 32
    spe = math.ceil(len(Xtr) / bs)
    batches = epoch_batches(rng, len(Xtr), bs)
    tr = Trace()
    lines = ["2024-03-14 09:12:45,000 - train - INFO - config: model=mlp(20,64,5) optimizer=SGD(momentum=0.9) "
             "peak_lr=1.4 warmup_steps=100 batch_size=32 max_steps=400"]
    for i in range(total):
        ep, j, bidx = next(batches)
        loss, g = mlp_forward_backward(p, Xtr[bidx], ytr[bidx])
        gn = clip_grads(g, None)
        lr = lr_linear_warmup(i, peak, warm, total, "constant")
        opt.step(p, g, lr)
        s = i + 1
        tr.add(s, loss, gn, lr, lr, ep + (j + 1) / spe)
        t = 1.0 + 0.05 * s
        stamp = _dt.datetime.fromtimestamp(T0 + t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        if s % 10 == 0:
            lines.append(f"{stamp} - train - INFO - epoch {ep + 1} step {s} | loss {loss:.4f} | lr {lr:.2e} | "
                         f"grad_norm {gn:.4f}")
        if s % 50 == 0:
            el, _ = mlp_forward_backward(p, Xva, yva, need_grad=False)
            tr.evals.append((s, ep, el, {}))
            lines.append(f"{stamp} - train - INFO - epoch {ep + 1} step {s} | val_loss {el:.4f}")
    write_text(out / "train.log", "\n".join(lines) + "\n")
    st, L = tr.arr("step"), tr.arr("loss")
    logged = st % 10 == 0
    sl, ll = st[logged], L[logged]
    base_l = float(np.nanmin(ll[:10]))
    fin = np.where(np.isfinite(ll), ll, np.inf)
    # onset: the first logged step after which the 3-point median loss stays above 2x the early best
    med3 = np.array([np.median(fin[max(0, i - 1):i + 2]) for i in range(len(fin))])
    above = med3 > 2 * base_l
    onset = int(sl[np.argmax([above[i:].all() for i in range(len(above))])])
    ev = np.array([e[2] for e in tr.evals])
    check = check_line("diverge-custom-text-log", loss_best_early=base_l, loss_last=float(ll[-1]), onset=onset,
                       lr_at_onset=float(lr_linear_warmup(onset - 1, peak, warm, total, "constant")),
                       eval_first=float(ev[0]), eval_last=float(ev[-1]))
    return {"class": "diverging", "onset_step": onset, "first_remedy": "lower_lr",
            "note": f"python-logging custom loop; SGD-momentum LR warmed to 1.4 by step 100; loss {base_l:.3f} early best -> {ll[-1]:.3g} at step {total}",
            "check": check}


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------

#: (folder, format, generator) for every run, in README order.
def run_lr_sweep(lr: float, seed: int, out: Path) -> dict:
    """One run of a seeded learning-rate sweep (``lr-sweep/``, the sweep-triage demo): the same
    MLP (20-64-10, ReLU) on the same 4000/500 blob examples, SGD with momentum 0.9 at a
    constant LR, batch 32 (125 steps/epoch), 3 epochs, init and batch order from ``seed``.
    Lightning ``CSVLogger`` (log_every_n_steps=5, validation each epoch) with the module's
    ``hparams.yaml``. The class comes from the numbers: a non-finite logged loss -> ``nan``
    (onset: its first logged step); a last-epoch median above 3x the first logged loss ->
    ``diverging`` (onset: the first logged step above 2x the first logged loss); a last-epoch
    median below 0.6x the first logged loss with the validation loss within 15% of its best
    at the end -> ``converging``; anything else stops the generator (to be labelled by hand).
    """
    rng = np.random.default_rng(1000 + seed)
    Xtr, ytr, cen = make_blobs(np.random.default_rng(900), 4000, 20, 10, sep=0.7, label_noise=0.05)
    Xva, yva, _ = make_blobs(np.random.default_rng(901), 500, 20, 10, sep=0.7, label_noise=0.05, centers=cen)
    p = init_mlp(rng, [20, 64, 10])
    rows, tr = lightning_fit(rng, p, Xtr, ytr, Xva, yva, epochs=3, bs=32, lr_fn=lambda g: lr,
                             log_every=5, opt=SGD(momentum=0.9), lr_monitor=False)
    write_lightning(out, rows, {"lr": lr, "optimizer": "SGD", "momentum": 0.9, "batch_size": 32,
                                "hidden": 64, "max_epochs": 3, "seed": seed})
    logged = [(r["step"], r["train_loss_step"]) for r in rows if "train_loss_step" in r]
    steps = np.array([st for st, _ in logged])
    L = np.array([x for _, x in logged], dtype=float)
    ev = np.array([e[2] for e in tr.evals], dtype=float)
    first, last = float(L[0]), float(np.median(L[-12:]))
    bad = ~np.isfinite(L)
    name = f"lr-sweep/lr-{lr:g}-s{seed}"
    check = check_line(name, loss_first=first, loss_last_epoch_median=last, nonfinite=int(bad.sum()),
                       val_best=float(np.nanmin(ev)) if np.isfinite(ev).any() else float("nan"),
                       val_last=float(ev[-1]))
    if bad.any():
        at = int(steps[np.argmax(bad)])
        return {"class": "nan", "onset_step": at, "first_remedy": "lower_lr",
                "note": f"SGD momentum 0.9 at LR {lr:g}: loss {first:.3f} -> non-finite from logged step {at} ({int(bad.sum())} of {len(L)} logged points)",
                "check": check}
    if last > 3 * first:
        at = int(steps[np.argmax(L > 2 * first)])
        return {"class": "diverging", "onset_step": at, "first_remedy": "lower_lr",
                "note": f"SGD momentum 0.9 at LR {lr:g}: loss {first:.3f} -> {last:.4g} (last-epoch median), above 2x its first value from logged step {at}",
                "check": check}
    if last < 0.6 * first and ev[-1] <= 1.15 * ev.min():
        return {"class": "converging", "onset_step": "", "first_remedy": "",
                "note": f"SGD momentum 0.9 at LR {lr:g}: loss {first:.3f} -> {last:.3f} (last-epoch median); val_loss {ev[0]:.3f} -> {ev[-1]:.3f} (best {ev.min():.3f})",
                "check": check}
    raise SystemExit(f"{name}: no class from the numbers ({check}): label it by hand")


#: the learning rates and seeds of ``lr-sweep/`` (0.003-0.1 train; 1 and 3 blow up; 0.3, at the
#: edge of stability, trains barely and unevenly: no class from the numbers, so it is left out)
SWEEP_LRS = (0.003, 0.01, 0.03, 0.1, 1.0, 3.0)
SWEEP_SEEDS = (1, 2)


RUNS = [
    ("qwen-style-diverge", "hf-trainer-state", run_qwen_style_diverge),
    ("diverge-unnormalized-feature", "tensorboard (pytorch)", run_diverge_unnormalized),
    ("nan-input-injected", "hf-trainer-state", run_nan_input),
    ("plateau-shuffled-labels", "keras-csvlogger", run_plateau_shuffled),
    ("plateau-frozen-params", "jsonl", run_plateau_frozen),
    ("overfit-tiny-trainset", "lightning-csv", run_overfit_tiny),
    ("overfit-small-finetune", "hf-trainer-state", run_overfit_hf),
    ("oscillate-momentum-high-lr", "tensorboard (pytorch)", run_oscillate),
    ("spikes-corrupted-batches", "llamafactory-jsonl", run_spikes_corrupted),
    ("spike-to-worse-level", "csv", run_spike_worse_level),
    ("healthy-noisy-small-batch", "csv", run_healthy_noisy),
    ("healthy-epoch-staircase", "llamafactory-jsonl", run_epoch_staircase),
    ("healthy-converge-floor", "tensorboard (tf2 tensors)", run_converge_floor),
    ("healthy-mlp-lightning", "lightning-csv", run_healthy_lightning),
    ("overfit-keras-tensorboard", "tensorboard (keras train/ + validation/)", run_overfit_keras_tensorboard),
    ("gan-discriminator-wins", "text log (PyTorch-GAN prints)", run_gan_discriminator_wins),
    ("diverge-custom-text-log", "text log (python logging, custom loop)", run_diverge_custom_text),
] + [(f"lr-sweep/lr-{lr:g}-s{seed}", "lightning-csv (+ hparams.yaml), LR sweep",
      functools.partial(run_lr_sweep, lr, seed)) for lr in SWEEP_LRS for seed in SWEEP_SEEDS]


def verify_event_files(run_dir: Path) -> list[str]:
    """Load every event file under ``run_dir`` with TensorBoard's ``EventAccumulator`` and
    return lines ``file: tag=count ...`` (scalars and tensors). Raises if a file is unreadable.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    lines = []
    for f in sorted(run_dir.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        tags = acc.Tags()
        counts = {t: len(acc.Scalars(t)) for t in tags["scalars"]}
        counts.update({t: len(acc.Tensors(t)) for t in tags["tensors"]})
        lines.append(f"  {f.relative_to(run_dir)}: " + " ".join(f"{t}={n}" for t, n in sorted(counts.items())))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Regenerate every run under ``--out`` (default ``sample_runs/`` beside ``scripts/``)
    and write ``benchmarks/sample_runs_labels.csv``; with ``-v`` print each run's check numbers and the event-file
    point counts. ``--only PATTERN`` regenerates the runs whose name matches the fnmatch
    pattern (``lr-sweep/*``) and replaces only their rows in the labels file (the other runs
    and rows are left as they are). Returns the process exit code.
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_runs")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--only", default=None)
    args = ap.parse_args(argv)
    np.seterr(all="ignore")       # overflow / NaN are the point of several runs
    labels = []
    for name, fmt, fn in RUNS:
        if args.only and not fnmatch.fnmatch(name, args.only):
            continue
        run_dir = args.out / name
        if run_dir.exists():
            shutil.rmtree(run_dir)
        res = fn(run_dir)
        labels.append({"run": name, "class": res["class"], "onset_step": res["onset_step"],
                       "first_remedy": res["first_remedy"], "note": res["note"]})
        if args.verbose:
            size = sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file())
            print(f"[{name}] format={fmt} class={res['class']} onset={res['onset_step']} "
                  f"remedy={res['first_remedy'] or '-'} bytes={size}")
            print("  " + res["check"])
            for line in verify_event_files(run_dir):
                print(line)
    labels_path = args.out.resolve().parent / "benchmarks" / "sample_runs_labels.csv"
    if args.only and labels_path.is_file():
        # keep every other run's row, in RUNS order
        with open(labels_path, newline="") as fh:
            old = {r["run"]: r for r in csv.DictReader(fh)}
        old.update({r["run"]: r for r in labels})
        labels = [old[name] for name, _, _ in RUNS if name in old]
    if labels:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["run", "class", "onset_step", "first_remedy", "note"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(labels)
        # beside the other label sets, not inside sample_runs/: a CSV there would be read as a log
        write_text(labels_path, buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())

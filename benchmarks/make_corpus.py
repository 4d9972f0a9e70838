#!/usr/bin/env python3
"""Seeded generator of the labelled fault-injection corpus in ``benchmarks/corpus/``.

Every run is a real (tiny) torch training run on the CPU: an MLP, a small CNN, a GRU / RNN or
a tiny Transformer LM on data this script makes itself, trained with SGD, SGD+momentum,
Adam or AdamW. Faults are injected at known steps; the per-step training loss, the global
L2 grad norm *before* clipping, the learning rate and (where it makes sense) an eval loss
are logged, then written in one of seven log formats, byte for byte as the framework
would write them (the frameworks are not imported; TensorBoard files are written with
``torch.utils.tensorboard.SummaryWriter``). The other formats are written by
``scripts/log_writers.py``, shared with ``scripts/make_sample_runs.py``.

Labels come from the injected cause *and* the numbers: for each run the script computes
summary statistics on the series exactly as written to the file and checks that the
expected symptom is there; when it is not, the run is labelled by what the curve shows.
losscheck itself is never used.

Usage:
    python benchmarks/make_corpus.py                 # everything (~5 min on one core)
    python benchmarks/make_corpus.py --only 'lr_*'   # some runs (fnmatch on run names)
    python benchmarks/make_corpus.py --list          # the run table

Requires torch (CPU), numpy and tensorboard (for SummaryWriter's protobufs).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
# the frameworks' file formats, shared with scripts/make_sample_runs.py (scripts/ is no package)
sys.path.insert(0, str(HERE.parent / "scripts"))
import log_writers as lw  # noqa: E402
from log_writers import csv_num, f32  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT = HERE / "corpus"
# per-run records, so that --only can rebuild labels.csv; outside the corpus, never committed
CACHE = Path(os.environ.get("CORPUS_CACHE", Path(tempfile.gettempdir()) / "losscheck-corpus-cache"))
T0 = 1_700_000_000.0            # fixed fake wall-clock start (2023-11-14T22:13:20Z)
FP16_MAX = 65504.0

# --------------------------------------------------------------------------------------
# data


TEXT = """\
the lighthouse keeper climbed the stairs every evening at dusk. there were one hundred and
twelve steps, and he counted each of them, because counting kept his mind from the wind.
at the top he wiped the glass, trimmed the wick and lit the lamp, and the beam swept out
across the water like a slow hand looking for something it had lost.
in the village below, the baker rose long before the sun. she mixed flour, water, salt and
a little of yesterday's dough, folded it, let it rest, and folded it again. by five the
ovens were hot and the street smelled of bread. the fishermen bought the first loaves and
ate them on the boats while the sky turned from black to grey to a pale and cold blue.
the school teacher walked to work along the harbour wall. she liked to watch the gulls
argue over scraps and the old men mend their nets. in her classroom the children learned
to add and subtract, to read the names of the rivers, and to draw the coast from memory.
one of them, a quiet boy with a red scarf, drew the lighthouse every single day.
when the storms came in winter the boats stayed in the harbour and the village grew quiet.
rain ran down the windows of the baker's shop, the teacher lit the stove in the classroom,
and the keeper sat at the top of his tower and listened to the sea throw itself against
the rocks. he was not afraid of storms. he had seen forty winters from that tower, and the
light had never once gone out.
in spring the ferry started again. it brought letters, tools, seeds for the gardens and
now and then a stranger with a suitcase and a map. the strangers always asked the same
questions: how far to the cliffs, where to find a room, whether the lighthouse was open
to visitors. the answers were always the same too: an hour on foot, above the baker's,
and no, but the keeper might show you the lamp if you brought him a loaf of bread.
the boy with the red scarf grew up and went away to study the stars. he wrote to the keeper
twice a year, long letters about telescopes and comets and the distance to the moon, and
the keeper read each letter three times before he folded it into the drawer of his desk.
years later, when the keeper grew too old for the stairs, the boy came home. he climbed
the one hundred and twelve steps at dusk, wiped the glass, trimmed the wick and lit the lamp.
"""


GRAMMAR = {
    "S": [["NP", "VP", "."], ["NP", "VP", "PP", "."], ["at", "TIME", "NP", "VP", "."]],
    "NP": [["the", "N"], ["the", "ADJ", "N"], ["a", "N"]],
    "VP": [["V", "NP"], ["V", "NP"], ["IV"]],
    "PP": [["P", "the", "N"]],
    "N": [["keeper"], ["baker"], ["teacher"], ["boy"], ["ferry"], ["lamp"], ["loaf"], ["gull"],
          ["net"], ["letter"], ["tower"], ["harbour"], ["stranger"], ["boat"]],
    "ADJ": [["old"], ["quiet"], ["red"], ["cold"], ["warm"], ["small"]],
    "V": [["lit"], ["mended"], ["baked"], ["read"], ["watched"], ["carried"], ["found"]],
    "IV": [["slept"], ["waited"], ["sang"], ["left"]],
    "P": [["near"], ["under"], ["beside"], ["above"]],
    "TIME": [["dusk"], ["dawn"], ["noon"]],
}


def grammar_text(rng, n_chars: int) -> str:
    """Sentences from a small seeded grammar over the story's words (an unbounded corpus)."""
    out, size = [], 0

    def expand(sym):
        if sym not in GRAMMAR:
            return [sym]
        rule = GRAMMAR[sym][rng.integers(len(GRAMMAR[sym]))]
        return [w for r in rule for w in expand(r)]
    while size < n_chars:
        words = expand("S")
        s = " ".join(words[:-1]) + ". "
        out.append(s)
        size += len(s)
    return "".join(out)


CHARS = sorted(set(TEXT) | set("abcdefghijklmnopqrstuvwxyz. "))


def text_ids(text: str = TEXT) -> tuple[np.ndarray, int]:
    idx = {c: i for i, c in enumerate(CHARS)}
    return np.array([idx[c] for c in text], dtype=np.int64), len(CHARS)


class Task:
    """Train/eval tensors plus how to batch them."""

    def __init__(self, kind, Xtr, Ytr, Xev=None, Yev=None, n_classes=None, lm=False):
        self.kind, self.Xtr, self.Ytr, self.Xev, self.Yev = kind, Xtr, Ytr, Xev, Yev
        self.n_classes, self.lm = n_classes, lm

    @property
    def n(self):
        return self.Xtr.shape[0]


def make_blobs(rng, n, d, c, sep, noise=1.0, centers=None, prior=None):
    if centers is None:
        centers = rng.standard_normal((c, d)) * sep
    y = rng.choice(c, size=n, p=prior) if prior is not None else rng.integers(0, c, n)
    x = centers[y] + noise * rng.standard_normal((n, d))
    return x.astype(np.float32), y.astype(np.int64), centers


def make_images(rng, n, c=4, size=16, noise=0.6):
    """Oriented bars / blob patterns with random phase plus pixel noise, 1 channel."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    y = rng.integers(0, c, n)
    X = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        ph = rng.uniform(0, 2 * np.pi)
        k = y[i]
        if k == 0:
            img = np.sin(xx * 0.8 + ph)
        elif k == 1:
            img = np.sin(yy * 0.8 + ph)
        elif k == 2:
            img = np.sin((xx + yy) * 0.6 + ph)
        else:
            cx, cy = rng.uniform(4, 12, 2)
            img = 2.0 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8.0) - 0.5
        X[i, 0] = img + noise * rng.standard_normal((size, size))
    return X, y.astype(np.int64)


def make_recall(rng, n, length=10, vocab=8):
    """Sequence task: one-hot tokens, the target is the first token (needs memory)."""
    toks = rng.integers(0, vocab, (n, length))
    X = np.eye(vocab, dtype=np.float32)[toks]
    return X, toks[:, 0].astype(np.int64)


def make_task(sp) -> Task:
    rng = np.random.default_rng(10_000 + sp.seed)
    kw = sp.task_kw
    if sp.task == "blobs":
        d, c = kw.get("d", 20), kw.get("c", 5)
        sep, noise = kw.get("sep", 0.6), kw.get("noise", 1.0)
        prior = kw.get("prior")
        n = kw.get("n", 4096)
        Xtr, Ytr, cen = make_blobs(rng, n, d, c, sep, noise, prior=prior)
        Xev, Yev, _ = make_blobs(rng, kw.get("n_eval", 1024), d, c, sep, noise, centers=cen, prior=prior)
        if kw.get("raw_scale"):          # unnormalised "raw counts" features
            s = np.float32(kw["raw_scale"])
            Xtr, Xev = Xtr * s + s, Xev * s + s
        return Task("clf", *map(torch.from_numpy, (Xtr, Ytr, Xev, Yev)), n_classes=c)
    if sp.task == "spiral":
        c, n = kw.get("c", 3), kw.get("n", 3000)

        def spiral(m):
            y = rng.integers(0, c, m)
            t = rng.uniform(0.05, 1, m)
            ang = y * 2 * np.pi / c + t * 3.5 + rng.standard_normal(m) * kw.get("jit", 0.15)
            x = np.stack([t * np.cos(ang), t * np.sin(ang)], 1) * 2
            return x.astype(np.float32), y.astype(np.int64)
        Xtr, Ytr = spiral(n)
        Xev, Yev = spiral(1000)
        return Task("clf", *map(torch.from_numpy, (Xtr, Ytr, Xev, Yev)), n_classes=c)
    if sp.task == "regress":         # y = smooth nonlinear function of x + noise, MSE
        n, d = kw.get("n", 4096), kw.get("d", 10)
        W = rng.standard_normal((d, 4)) / np.sqrt(d)

        def reg(m):
            x = rng.standard_normal((m, d)).astype(np.float32) * kw.get("x_scale", 1.0)
            if kw.get("linear"):
                y = (x @ W).sum(1) * 2 + kw.get("y_noise", 0.1) * rng.standard_normal(m)
            else:
                y = np.sin(x @ W * 2).sum(1) + kw.get("y_noise", 0.1) * rng.standard_normal(m)
            return x.astype(np.float32), (y * kw.get("y_scale", 1.0)).astype(np.float32)
        Xtr, Ytr = reg(n)
        Xev, Yev = reg(1024)
        return Task("reg", *map(torch.from_numpy, (Xtr, Ytr, Xev, Yev)), n_classes=1)
    if sp.task == "lookup":          # memorise key -> value associations
        n, d, c = kw.get("n", 512), kw.get("d", 32), kw.get("c", 10)
        Xtr = rng.standard_normal((n, d)).astype(np.float32)
        Ytr = rng.integers(0, c, n).astype(np.int64)
        return Task("clf", torch.from_numpy(Xtr), torch.from_numpy(Ytr), n_classes=c)
    if sp.task == "images":
        c = kw.get("c", 4)
        Xtr, Ytr = make_images(rng, kw.get("n", 2048), c, noise=kw.get("noise", 0.6))
        Xev, Yev = make_images(rng, kw.get("n_eval", 512), c, noise=kw.get("noise", 0.6))
        return Task("clf", *map(torch.from_numpy, (Xtr, Ytr, Xev, Yev)), n_classes=c)
    if sp.task == "recall":
        L, V = kw.get("length", 10), kw.get("vocab", 8)
        Xtr, Ytr = make_recall(rng, kw.get("n", 4096), L, V)
        Xev, Yev = make_recall(rng, 1024, L, V)
        return Task("clf", *map(torch.from_numpy, (Xtr, Ytr, Xev, Yev)), n_classes=V)
    if sp.task in ("text", "grammar"):
        ctx = kw.get("ctx", 32)
        if sp.task == "text":          # the built-in story; small, so a model overfits it
            ids, V = text_ids()
            cut = int(len(ids) * kw.get("train_frac", 0.85))
            tr, ev = ids[:cut], ids[cut:]
        else:                          # grammar sentences: fresh text for train and eval
            tr, V = text_ids(grammar_text(rng, kw.get("n_chars", 60_000)))
            ev, _ = text_ids(grammar_text(rng, 4_000))
        if kw.get("train_chars"):
            tr = tr[: kw["train_chars"]]

        def windows(a, stride):
            starts = np.arange(0, len(a) - ctx - 1, stride)
            X = np.stack([a[s:s + ctx] for s in starts])
            Y = np.stack([a[s + 1:s + ctx + 1] for s in starts])
            return torch.from_numpy(X), torch.from_numpy(Y)
        Xtr, Ytr = windows(tr, kw.get("stride", 4))
        Xev, Yev = windows(ev, ctx)
        return Task("lm", Xtr, Ytr, Xev, Yev, n_classes=V, lm=True)
    raise ValueError(sp.task)


# --------------------------------------------------------------------------------------
# models


class MLP(nn.Module):
    """A ReLU/sigmoid/tanh MLP; with ``bn_momentum``, a BatchNorm1d after every hidden Linear
    (Ioffe & Szegedy 2015). BatchNorm draws no random numbers, so the Linear weights are the
    same with and without it for one seed."""

    def __init__(self, din, dout, width=64, depth=2, act="relu", bn_momentum=None):
        super().__init__()
        acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
        layers, d = [], din
        for _ in range(depth):
            layers.append(nn.Linear(d, width))
            if bn_momentum is not None:
                layers.append(nn.BatchNorm1d(width, momentum=bn_momentum))
            layers.append(acts[act]())
            d = width
        layers.append(nn.Linear(d, dout))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x.flatten(1))


class CNN(nn.Module):
    """Two conv blocks and a linear head; with ``bn_momentum``, a BatchNorm2d after each conv."""

    def __init__(self, c, bn_momentum=None):
        super().__init__()
        layers = []
        for cin, cout in ((1, 8), (8, 16)):
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            if bn_momentum is not None:
                layers.append(nn.BatchNorm2d(cout, momentum=bn_momentum))
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
        self.f = nn.Sequential(*layers)
        self.head = nn.Linear(16 * 4 * 4, c)

    def forward(self, x):
        return self.head(self.f(x).flatten(1))


class SeqClf(nn.Module):
    def __init__(self, vin, c, hidden=32, cell="gru"):
        super().__init__()
        self.rnn = (nn.GRU if cell == "gru" else nn.RNN)(vin, hidden, batch_first=True)
        self.head = nn.Linear(hidden, c)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.head(h[-1])


class CharRNN(nn.Module):
    def __init__(self, V, d=32, hidden=64, cell="gru"):
        super().__init__()
        self.emb = nn.Embedding(V, d)
        self.rnn = (nn.GRU if cell == "gru" else nn.RNN)(d, hidden, batch_first=True)
        self.head = nn.Linear(hidden, V)

    def forward(self, x):
        o, _ = self.rnn(self.emb(x))
        return self.head(o)


class TinyLM(nn.Module):
    def __init__(self, V, d=48, layers=2, heads=4, ctx=32):
        super().__init__()
        self.emb = nn.Embedding(V, d)
        self.pos = nn.Parameter(torch.randn(ctx, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, 0.0, batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, V)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(ctx), persistent=False)

    def forward(self, x):
        T = x.shape[1]
        h = self.emb(x) + self.pos[:T]
        h = self.enc(h, mask=self.mask[:T, :T], is_causal=True)
        return self.head(self.ln(h))


def build_model(sp, task: Task) -> nn.Module:
    torch.manual_seed(sp.seed)
    kw = sp.model_kw
    c = task.n_classes
    if sp.arch == "mlp":
        return MLP(task.Xtr[0].numel(), c, kw.get("width", 64), kw.get("depth", 2), kw.get("act", "relu"))
    if sp.arch == "linear":
        return MLP(task.Xtr[0].numel(), c, depth=0)
    if sp.arch == "deep_sigmoid_mlp":
        return MLP(task.Xtr[0].numel(), c, kw.get("width", 32), kw.get("depth", 20), "sigmoid")
    if sp.arch == "cnn":
        return CNN(c)
    if sp.arch == "bn_mlp":
        return MLP(task.Xtr[0].numel(), c, kw.get("width", 64), kw.get("depth", 2), bn_momentum=kw.get("bn_momentum", 0.1))
    if sp.arch == "bn_cnn":
        return CNN(c, bn_momentum=kw.get("bn_momentum", 0.1))
    if sp.arch in ("gru", "rnn"):
        if task.lm:
            return CharRNN(c, hidden=kw.get("hidden", 64), cell=sp.arch)
        return SeqClf(task.Xtr.shape[-1], c, kw.get("hidden", 32), sp.arch)
    if sp.arch == "transformer":
        return TinyLM(c, kw.get("d", 48), kw.get("layers", 2), kw.get("heads", 4), task.Xtr.shape[1])
    raise ValueError(sp.arch)


# --------------------------------------------------------------------------------------
# run specification


@dataclass
class Spec:
    name: str
    fault: str
    arch: str
    task: str
    opt: str                   # sgd | sgdm | adam | adamw
    lr: float
    seed: int
    fmt: str                   # tensorboard | hf | llamafactory | lightning | keras | csv | jsonl
    steps: int = 600
    bs: int = 64
    sched: str = "const"       # const | cosine | warmup_cosine | warmup_linear | sgdr | warmup_const
    warmup: int = 0
    clip: float | None = None
    momentum: float = 0.9
    wd: float = 0.0
    eval_every: int | None = None
    log_every: int = 1
    task_kw: dict = field(default_factory=dict)
    model_kw: dict = field(default_factory=dict)
    fk: dict = field(default_factory=dict)      # fault parameters
    expect: str = "converging"
    remedy: str = ""
    onset_rule: str = ""       # how the onset step is read off the numbers
    sec_per_step: float = 0.05


# --------------------------------------------------------------------------------------
# training


def lr_at(sp: Spec, i: int) -> float:
    """Learning rate used for update i (1-based)."""
    base, W, N = sp.lr, sp.warmup, sp.steps
    fk = sp.fk
    if sp.sched == "sgdr":                       # CosineAnnealingWarmRestarts(T_0, T_mult=2)
        T, t = fk.get("T0", 100), i - 1
        while t >= T:
            t -= T
            T *= fk.get("Tmult", 2)
        lr = fk.get("eta_min", 0.0) + (base - fk.get("eta_min", 0.0)) * (1 + math.cos(math.pi * t / T)) / 2
    elif W and i <= W:
        lr = base * i / W
    elif sp.sched in ("cosine", "warmup_cosine"):
        p = (i - 1 - W) / max(1, N - W)
        lr = base * 0.5 * (1 + math.cos(math.pi * p))
    elif sp.sched == "warmup_linear":
        lr = base * max(0.0, (N - i + 1) / max(1, N - W))
    else:
        lr = base
    if "bump_at" in fk and i >= fk["bump_at"]:
        lr *= fk["bump_factor"]
    if fk.get("lr_zero"):
        lr = 0.0
    return lr


def make_opt(sp: Spec, params):
    if sp.opt == "sgd":
        return torch.optim.SGD(params, lr=sp.lr, weight_decay=sp.wd)
    if sp.opt == "sgdm":
        return torch.optim.SGD(params, lr=sp.lr, momentum=sp.momentum, weight_decay=sp.wd)
    if sp.opt == "adam":
        return torch.optim.Adam(params, lr=sp.lr, weight_decay=sp.wd)
    if sp.opt == "adamw":
        return torch.optim.AdamW(params, lr=sp.lr, weight_decay=sp.wd or 0.01)
    raise ValueError(sp.opt)


OPT_CLASS = {"sgd": "SGD", "sgdm": "SGD", "adam": "Adam", "adamw": "AdamW"}


def global_norm(params) -> float:
    gs = [p.grad.detach() for p in params if p.grad is not None]
    if not gs:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gs])))


@dataclass
class Trace:
    loss: list = field(default_factory=list)       # per update, 1-based step i -> loss[i-1]
    grad_norm: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    acc: list = field(default_factory=list)
    eval: list = field(default_factory=list)       # (step, eval_loss, eval_acc)
    steps_per_epoch: int = 1
    skipped: list = field(default_factory=list)    # fp16 skipped steps
    scale: list = field(default_factory=list)
    first_gn: list = field(default_factory=list)   # grad norm of the first parameter tensor
    info: dict = field(default_factory=dict)


def run(sp: Spec) -> Trace:
    torch.manual_seed(sp.seed)
    task = make_task(sp)
    fk = sp.fk
    model = build_model(sp, task)
    gen = torch.Generator().manual_seed(sp.seed)
    Ytr = task.Ytr.clone()
    if fk.get("shuffle_labels"):
        Ytr = Ytr[torch.randperm(len(Ytr), generator=gen)]
    if fk.get("label_noise"):
        flip = torch.rand(len(Ytr), generator=gen) < fk["label_noise"]
        Ytr[flip] = torch.randint(0, task.n_classes, (int(flip.sum()),), generator=gen)
    if fk.get("frozen") == "requires_grad":          # backbone never unfrozen, only the last bias trains
        for n_, p in model.named_parameters():
            p.requires_grad_(n_.endswith(fk.get("trainable", "bias")) and n_ == fk.get("trainable_name", n_))
    params = [p for p in model.parameters() if p.requires_grad]
    if fk.get("frozen") == "stale_copy":              # optimizer built on a copy of the model
        import copy
        opt = make_opt(sp, copy.deepcopy(model).parameters())
    else:
        opt = make_opt(sp, params)

    n = task.n
    spe = max(1, n // sp.bs)
    order = None
    tr = Trace(steps_per_epoch=spe)
    scaler = fk.get("scaler")       # dict(init, growth_interval, min_scale)
    scale = float(scaler["init"]) if scaler else None
    good = 0

    def loss_fn(out, y, reduce=True):
        if task.kind == "reg":
            return F.mse_loss(out.squeeze(-1), y)
        if task.lm:
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        return F.cross_entropy(out, y)

    for i in range(1, sp.steps + 1):
        e, b = divmod(i - 1, spe)
        if b == 0:
            if fk.get("sorted"):
                order = torch.argsort(Ytr, stable=True)
            else:
                order = torch.randperm(n, generator=gen)
        idx = order[b * sp.bs:(b + 1) * sp.bs]
        x, y = task.Xtr[idx].clone(), Ytr[idx].clone()

        # ---- data faults
        if fk.get("bad_record_from") and i >= fk["bad_record_from"] and bool((idx == 0).any()):
            # training record 0 corrupted from this step on (a new shard in the wrong units): the
            # batch that holds it drags BatchNorm's running mean/variance far off; model.train()
            # normalises with the batch's own statistics, model.eval() with the running ones
            j = int((idx == 0).nonzero()[0, 0])
            x[j] = x[j] * fk.get("bad_scale", 3000.0) + fk.get("bad_offset", 3000.0)
        if fk.get("nan_input_at") and i >= fk["nan_input_at"] and i < fk["nan_input_at"] + fk.get("nan_len", 1):
            x.view(x.shape[0], -1)[0, :3] = float(fk.get("nan_value", "nan"))
        if i in fk.get("corrupt_at", ()):
            if task.lm:                 # a garbage shard: random tokens, random targets
                x = torch.randint(0, task.n_classes, x.shape, generator=gen)
                y = torch.randint(0, task.n_classes, y.shape, generator=gen)
            else:
                x = x * fk.get("corrupt_scale", 25.0) + torch.randn(x.shape, generator=gen) * fk.get("corrupt_noise", 5.0)
            if task.kind == "clf":
                y = torch.randint(0, task.n_classes, y.shape, generator=gen)

        lr = lr_at(sp, i)
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        out = model(x)
        if fk.get("fp16_forward") and scaler is not None:
            # activations / logits beyond the float16 range become inf, as in an fp16 forward
            out = torch.where(out.abs() > FP16_MAX, out.sign() * float("inf"), out)
        if fk.get("bad_label_at") and i == fk["bad_label_at"]:
            # custom loss with a padding class whose logit is masked to -inf; one label is
            # the padding index -> -log(p)= -log(0) = inf
            pad = torch.full((out.shape[0], 1), float("-inf"))
            logits = torch.cat([out, pad], 1)
            y = y.clone()
            y[0] = task.n_classes
            logp = torch.log(torch.softmax(logits, 1))
            loss = -logp.gather(1, y[:, None]).mean()
        elif fk.get("custom_log_loss"):
            logp = torch.log(torch.softmax(out, 1))
            loss = -logp.gather(1, y[:, None]).mean()
        else:
            loss = loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        model.zero_grad(set_to_none=True)
        loss.backward()
        gn = global_norm(params)
        stepped = True
        if scaler is not None:
            gl = [p.grad.detach() for p in params if p.grad is not None]
            finite = math.isfinite(float(loss.detach())) and all(bool(torch.isfinite(g).all()) for g in gl)
            mx = max((float(g.abs().max()) for g in gl), default=0.0) if finite else float("inf")
            overflow = (not finite) or mx * scale > FP16_MAX
            if overflow:
                # the norm of the unscaled fp16 grads: inf (or nan when a grad is nan)
                gn = float("nan") if (not finite and (math.isnan(float(loss.detach())) or
                                                      any(bool(torch.isnan(g).any()) for g in gl))) \
                    else float(scaler.get("report", "inf"))
                stepped = False
                tr.skipped.append(i)
                if not scaler.get("static"):
                    new = scale * 0.5
                    scale = max(new, scaler.get("min_scale", 0.0)) if scaler.get("min_scale") else new
                good = 0
            else:
                good += 1
                if good == scaler.get("growth_interval") and not scaler.get("static"):
                    scale *= 2.0
                    good = 0
            tr.scale.append(scale)
        if stepped:
            if sp.clip is not None:
                torch.nn.utils.clip_grad_norm_(params, sp.clip)
            opt.step()
        lv = float(loss.detach())
        if fk.get("abort_on_nonfinite") and not math.isfinite(lv):
            # a `if not math.isfinite(loss): raise FloatingPointError` guard before logging
            tr.info["aborted_at"] = i
            break
        first = next((p for p in params if p.grad is not None), None)
        tr.first_gn.append(float(first.grad.norm()) if first is not None else 0.0)
        tr.loss.append(lv)
        tr.grad_norm.append(gn)
        tr.lr.append(lr)
        if task.kind == "clf":
            tr.acc.append(float((out.argmax(-1) == y).float().mean()))
        if sp.eval_every and (i % sp.eval_every == 0 or i == sp.steps) and task.Xev is not None:
            model.eval()
            with torch.no_grad():
                o = model(task.Xev)
                el = float(loss_fn(o, task.Yev))
                ea = float((o.argmax(-1) == task.Yev).float().mean()) if task.kind == "clf" else None
            tr.eval.append((i, el, ea))
        if fk.get("stop_after_nonfinite") is not None and not math.isfinite(lv):
            fk.setdefault("_nf", i)
            if i - fk["_nf"] >= fk["stop_after_nonfinite"]:
                tr.info["crashed_at"] = i
                break
    tr.info["steps_run"] = len(tr.loss)
    tr.info["prior"] = [1.0] if task.kind == "reg" else task.Ytr.flatten().bincount(minlength=task.n_classes).float().div(task.Ytr.numel()).tolist()
    return tr


# --------------------------------------------------------------------------------------
# writers. Each returns the series *as written*, in the file's own step units:
# {"unit": "step"|"epoch", "loss": [(s, v)], "grad_norm": [...], "lr": [...], "eval": [...]}


def wall(sp, i):
    return T0 + sp.seed * 3600 + i * sp.sec_per_step


def window_mean(vals):
    # mean of the last window; NaN/inf propagate, as a float32 running sum would
    return float(np.mean(np.asarray(vals, dtype=np.float64)))


def write_tensorboard(sp, tr, d: Path):
    from torch.utils.tensorboard import SummaryWriter
    tmp = d / "_tb_tmp"
    with mock.patch("time.time", return_value=wall(sp, 0)):
        w = SummaryWriter(log_dir=str(tmp), flush_secs=10_000)
    wr = {"unit": "step", "loss": [], "grad_norm": [], "lr": [], "eval": []}
    with mock.patch("time.time", return_value=wall(sp, 0)):
        for i in range(1, len(tr.loss) + 1):
            if i % sp.log_every and i != len(tr.loss) and i != 1:
                continue
            wt = wall(sp, i)
            w.add_scalar("train/loss", tr.loss[i - 1], i, walltime=wt)
            w.add_scalar("train/grad_norm", tr.grad_norm[i - 1], i, walltime=wt)
            w.add_scalar("train/lr", tr.lr[i - 1], i, walltime=wt)
            if tr.acc and sp.fk.get("log_acc"):
                w.add_scalar("train/accuracy", tr.acc[i - 1], i, walltime=wt)
            wr["loss"].append((i, f32(tr.loss[i - 1])))
            wr["grad_norm"].append((i, f32(tr.grad_norm[i - 1])))
            wr["lr"].append((i, f32(tr.lr[i - 1])))
        for s, el, ea in tr.eval:
            w.add_scalar("eval/loss", el, s, walltime=wall(sp, s) + 0.5)
            if ea is not None and sp.fk.get("log_acc"):
                w.add_scalar("eval/accuracy", ea, s, walltime=wall(sp, s) + 0.5)
            wr["eval"].append((s, f32(el)))
        w.close()
    files = list(tmp.glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    # fixed file name (real ones carry time.hostname.pid.counter)
    files[0].rename(d / lw.tb_file_name(wall(sp, 0), "corpus-host", 4000 + sp.seed))
    shutil.rmtree(tmp)
    return wr


def hf_log_entries(sp, tr):
    """HF Trainer log_history entries (and the series as written)."""
    L, spe = len(tr.loss), tr.steps_per_epoch
    nan_filter = sp.fk.get("hf_nan_filter", False)
    hist = []
    wr = {"unit": "step", "loss": [], "grad_norm": [], "lr": [], "eval": []}
    evals = {s: (el, ea) for s, el, ea in tr.eval}
    tr_loss, last = 0.0, 0
    for i in range(1, L + 1):
        lv = tr.loss[i - 1]
        if nan_filter and not math.isfinite(lv):
            # Trainer(logging_nan_inf_filter=True): a NaN/inf step counts as the running mean
            lv = tr_loss / (1 + i - 1 - last)
        tr_loss += f32(lv)
        ep = (i - 1) // spe + ((i - 1) % spe + 1) / spe
        if i % sp.log_every == 0 or i == L:
            loss = round(tr_loss / (i - last), 4)
            tr_loss, last = 0.0, i
            gn = tr.grad_norm[i - 1]
            hist.append({"epoch": ep, "grad_norm": f32(gn), "learning_rate": tr.lr[i - 1],
                         "loss": loss, "step": i})
            wr["loss"].append((i, loss))
            wr["grad_norm"].append((i, f32(gn)))
            wr["lr"].append((i, tr.lr[i - 1]))
        if i in evals:
            el, ea = evals[i]
            e = {"epoch": ep, "eval_loss": f32(el)}
            if ea is not None and sp.fk.get("log_acc"):
                e["eval_accuracy"] = ea
            n_ev = 1024
            rt = round(0.05 + n_ev * 0.0002, 4)
            e.update({"eval_runtime": rt, "eval_samples_per_second": round(n_ev / rt, 3),
                      "eval_steps_per_second": round(n_ev / 64 / rt, 3), "step": i})
            hist.append(e)
            wr["eval"].append((i, f32(el)))
    return hist, wr


def write_hf(sp, tr, d: Path):
    hist, wr = hf_log_entries(sp, tr)
    L, spe = len(tr.loss), tr.steps_per_epoch
    ep_end = (L - 1) // spe + ((L - 1) % spe + 1) / spe
    rt = round(L * sp.sec_per_step, 4)
    finite = [f32(v) for v in tr.loss if math.isfinite(v)]
    hist.append({"epoch": ep_end, "step": L, "total_flos": float(L * sp.bs * 12345),
                 "train_loss": float(np.mean([f32(v) for v in tr.loss])) if not sp.fk.get("hf_nan_filter")
                 else float(np.mean(finite)) if finite else 0.0,
                 "train_runtime": rt, "train_samples_per_second": round(L * sp.bs / rt, 3),
                 "train_steps_per_second": round(L / rt, 3)})
    lw.write_hf_trainer_state(d / "trainer_state.json", hist, global_step=L, max_steps=sp.steps,
                              logging_steps=sp.log_every, eval_steps=sp.eval_every or 500, save_steps=500,
                              train_batch_size=sp.bs, num_train_epochs=math.ceil(sp.steps / spe), epoch=ep_end,
                              total_flos=float(L * sp.bs * 12345))
    return wr


def write_llamafactory(sp, tr, d: Path):
    hist, wr = hf_log_entries(sp, tr)
    recs = []
    for h in hist:
        cur = h["step"]
        el = (cur) * sp.sec_per_step
        rem = (sp.steps - cur) * el / cur
        recs.append(lw.llamafactory_record(cur, sp.steps, el, rem, loss=h.get("loss"), eval_loss=h.get("eval_loss"),
                                           lr=h.get("learning_rate"), epoch=h.get("epoch")))
    lw.write_jsonl(d / "trainer_log.jsonl", recs)
    wr["grad_norm"] = []           # this format does not carry the grad norm
    return wr


def write_lightning(sp, tr, d: Path):
    """CSVLogger(save_dir=d) + LearningRateMonitor(logging_interval="step"),
    self.log("train_loss", on_step=True, on_epoch=True), self.log("grad_norm") in
    on_before_optimizer_step, self.log("val_loss") once per epoch."""
    L, spe = len(tr.loss), tr.steps_per_epoch
    lrkey = f"lr-{OPT_CLASS[sp.opt]}"
    rows = []
    wr = {"unit": "step", "loss": [], "grad_norm": [], "lr": [], "eval": []}
    evals = {s: el for s, el, _ in tr.eval}
    ep_losses = []
    for i in range(1, L + 1):
        e = (i - 1) // spe
        s = i - 1                                  # trainer's _batches_that_stepped before the update
        if i % sp.log_every == 0:
            rows.append({lrkey: tr.lr[i - 1], "step": s})
            rows.append({"epoch": e, "grad_norm": f32(tr.grad_norm[i - 1]),
                         "train_loss_step": f32(tr.loss[i - 1]), "step": s})
            wr["loss"].append((s, f32(tr.loss[i - 1])))
            wr["grad_norm"].append((s, f32(tr.grad_norm[i - 1])))
            wr["lr"].append((s, tr.lr[i - 1]))
        ep_losses.append(f32(tr.loss[i - 1]))
        if i in evals:                             # val_check_interval
            rows.append({"epoch": e, "step": s, "val_loss": f32(evals[i])})
            wr["eval"].append((s, f32(evals[i])))
        if i % spe == 0 or i == L:
            rows.append({"epoch": e, "step": s, "train_loss_epoch": f32(float(np.mean(ep_losses)))})
            ep_losses = []
    rows = [{k: (csv_num(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    hp = {"lr": sp.lr, "batch_size": sp.bs, "optimizer": OPT_CLASS[sp.opt], "max_steps": sp.steps, "seed": sp.seed}
    if sp.warmup:
        hp["warmup_steps"] = sp.warmup
    if sp.clip is not None:
        hp["gradient_clip_val"] = sp.clip
    lw.write_lightning(d, rows, hp)              # CSVLogger sorts its header
    return wr


def write_keras(sp, tr, d: Path):
    """keras.callbacks.CSVLogger('training.log'): one row per epoch, header epoch + sorted keys."""
    spe = tr.steps_per_epoch
    evals = {s: (el, ea) for s, el, ea in tr.eval}
    n_ep = len(tr.loss) // spe
    acc = sp.fk.get("log_acc") and bool(tr.acc)
    has_val = bool(tr.eval)
    keys = ["epoch"] + sorted((["accuracy"] if acc else []) + (["val_accuracy"] if acc and has_val else [])
                              + ["loss"] + (["val_loss"] if has_val else []))
    wr = {"unit": "epoch", "loss": [], "grad_norm": [], "lr": [], "eval": []}
    rows = []
    for e in range(n_ep):
        sl = slice(e * spe, (e + 1) * spe)
        row = {"epoch": e, "loss": f32(float(np.mean(tr.loss[sl])))}
        if acc:
            row["accuracy"] = f32(float(np.mean(tr.acc[sl])))
        if has_val:
            el, ea = evals[(e + 1) * spe]
            row["val_loss"] = f32(el)
            if acc:
                row["val_accuracy"] = f32(ea)
            wr["eval"].append((e, row["val_loss"]))
        rows.append({k: row[k] if k == "epoch" else csv_num(row[k]) for k in keys})
        wr["loss"].append((e, row["loss"]))
    lw.write_csv_rows(d / "training.log", keys, rows)
    return wr


def write_csv(sp, tr, d: Path):
    wr = {"unit": "step", "loss": [], "grad_norm": [], "lr": [], "eval": []}
    lines = ["step,loss,grad_norm,lr"]
    L = len(tr.loss)
    for i in range(1, L + 1):
        if i % sp.log_every and i != 1 and i != L:
            continue
        lv, gv = f32(tr.loss[i - 1]), f32(tr.grad_norm[i - 1])
        lines.append(f"{i},{csv_num(lv)},{csv_num(gv)},{tr.lr[i - 1]!r}")
        wr["loss"].append((i, lv))
        wr["grad_norm"].append((i, gv))
        wr["lr"].append((i, tr.lr[i - 1]))
    lw.write_text(d / "train_log.csv", "\n".join(lines) + "\n")
    return wr


def write_jsonl(sp, tr, d: Path):
    wr = {"unit": "step", "loss": [], "grad_norm": [], "lr": [], "eval": []}
    evals = {s: el for s, el, _ in tr.eval}
    recs = []
    L = len(tr.loss)
    for i in range(1, L + 1):
        if not (i % sp.log_every and i != 1 and i != L):
            lv, gv = f32(tr.loss[i - 1]), f32(tr.grad_norm[i - 1])
            recs.append({"step": i, "epoch": round(i / tr.steps_per_epoch, 4), "loss": lv,
                         "grad_norm": gv, "lr": tr.lr[i - 1], "time": round(wall(sp, i), 3)})
            wr["loss"].append((i, lv))
            wr["grad_norm"].append((i, gv))
            wr["lr"].append((i, tr.lr[i - 1]))
        if i in evals:
            recs.append({"step": i, "eval_loss": f32(evals[i]), "time": round(wall(sp, i) + 0.5, 3)})
            wr["eval"].append((i, f32(evals[i])))
    lw.write_jsonl(d / "metrics.jsonl", recs)
    return wr


WRITERS = {"tensorboard": write_tensorboard, "hf": write_hf, "llamafactory": write_llamafactory,
           "lightning": write_lightning, "keras": write_keras, "csv": write_csv, "jsonl": write_jsonl}
FORMAT_NAMES = {"tensorboard": "tensorboard", "hf": "hf-trainer-state", "llamafactory": "llamafactory",
                "lightning": "lightning-csv", "keras": "keras-csv", "csv": "csv", "jsonl": "jsonl"}


def file_step(sp, tr, i: int) -> int:
    """Internal 1-based update index -> the step (or epoch) number the format writes."""
    if sp.fmt == "lightning":
        return i - 1
    if sp.fmt == "keras":
        return (i - 1) // tr.steps_per_epoch
    return i


# --------------------------------------------------------------------------------------
# statistics on the series as written, and labels


def rolling_median(v, w):
    v = np.asarray(v, float)
    out = np.empty_like(v)
    for k in range(len(v)):
        lo = max(0, k - w + 1)
        seg = v[lo:k + 1]
        seg = seg[np.isfinite(seg)]
        out[k] = np.median(seg) if len(seg) else np.nan
    return out


def stats(sp, tr, wr) -> dict:
    s = np.array([p[0] for p in wr["loss"]], np.int64)
    v = np.array([p[1] for p in wr["loss"]], float)
    st = {"n_points": int(len(v)), "unit": wr["unit"], "first_step": int(s[0]), "last_step": int(s[-1])}
    fin = np.isfinite(v)
    st["n_nonfinite"] = int((~fin).sum())
    st["first_nonfinite_step"] = int(s[~fin][0]) if (~fin).any() else None
    gn = np.array([p[1] for p in wr["grad_norm"]], float) if wr["grad_norm"] else np.array([])
    gs = np.array([p[0] for p in wr["grad_norm"]], np.int64) if wr["grad_norm"] else np.array([], np.int64)
    st["grad_nonfinite"] = int((~np.isfinite(gn)).sum()) if len(gn) else None
    st["first_grad_nonfinite_step"] = int(gs[~np.isfinite(gn)][0]) if len(gn) and (~np.isfinite(gn)).any() else None
    if len(gn) and np.isfinite(gn).any():
        st["grad_norm_median"] = float(np.median(gn[np.isfinite(gn)]))
    st["zero_loss_points"] = int((v == 0).sum())
    n = len(v)
    w = max(3, min(25, n // 20))
    rm = rolling_median(v, w)
    vf = v[fin]
    sf = s[fin]
    if len(vf) >= 2:
        k = max(1, len(vf) // 10)
        kh = max(3, len(vf) // 20)
        head, tail = float(np.median(vf[:kh])), float(np.median(vf[-k:]))
        st["loss_first"] = float(vf[0])
        st["loss_start"] = float(np.median(vf[:3]))
        st["loss_head_med"] = head
        st["loss_tail_med"] = tail
        st["loss_min"] = float(vf.min())
        st["loss_min_step"] = int(sf[np.argmin(vf)])
        rmf = rm[np.isfinite(rm)]
        rsf = s[np.isfinite(rm)]
        st["smooth_min"] = float(rmf.min())
        st["smooth_min_step"] = int(rsf[np.argmin(rmf)])
        st["smooth_max_after_min"] = float(rmf[np.argmin(rmf):].max())
        st["tail_over_head"] = tail / head if head else float("inf")
        st["tail_over_smooth_min"] = tail / st["smooth_min"] if st["smooth_min"] > 0 else float("inf")
        st["loss_max"] = float(vf.max())
        st["loss_max_step"] = int(sf[np.argmax(vf)])
        # spikes: a point > 3x the median of the previous w finite points that comes back
        # within 20 points to < 1.5x that median
        spikes, big = [], []
        for j in range(w, len(vf)):
            base = np.median(vf[max(0, j - w):j])
            if base > 0 and vf[j] > 3 * base and vf[j] - base > 0.05:
                after = vf[j + 1:j + 51]
                rec = [np.median(after[a:a + 5]) for a in range(0, max(1, len(after) - 4))]
                if len(after) and min(rec) < 2 * base:
                    if not spikes or sf[j] - spikes[-1] > 3 * max(1, sf[1] - sf[0]):
                        spikes.append(int(sf[j]))
                        if vf[j] > 5 * base:
                            big.append(int(sf[j]))
        st["spikes"] = spikes
        st["big_spikes"] = big
        # oscillation: spread of the second half relative to its median, and the
        # autocorrelation at one epoch (in points)
        half = vf[len(vf) // 2:]
        st["tail_spread"] = float((np.percentile(half, 90) - np.percentile(half, 10)) / max(np.median(half), 1e-12))
        # detrended: each point over a centred rolling median of ~1/10 of the run
        wl = max(11, len(vf) // 10) | 1
        pad = np.pad(vf, wl // 2, mode="edge")
        trend = np.array([np.median(pad[j:j + wl]) for j in range(len(vf))])
        r = (vf / np.maximum(trend, 1e-30))[len(vf) // 2:]
        st["detrended_spread"] = float(np.percentile(r, 90) - np.percentile(r, 10))
        rc = r - r.mean()
        acf = []
        for lag in range(2, max(3, len(rc) // 4)):
            if rc[:-lag].std() > 0 and rc[lag:].std() > 0:
                acf.append((float(np.corrcoef(rc[:-lag], rc[lag:])[0, 1]), lag))
        if acf:
            st["acf_max"], st["acf_max_lag"] = max(acf)
        hs = half - half.mean()
        per = tr.steps_per_epoch // sp.log_every if wr["unit"] == "step" else 0
        if per and 2 <= per < len(hs) // 2 and hs.std() > 0:
            st["acf_epoch"] = float(np.corrcoef(hs[:-per], hs[per:])[0, 1])
        # the largest jump of one point over the median of the 20 before it, in the last half
        jumps = [(vf[j] / np.median(vf[j - 20:j]), int(sf[j])) for j in range(max(20, len(vf) // 2), len(vf))
                 if np.median(vf[j - 20:j]) > 0]
        if jumps:
            st["late_jump_ratio"], st["late_jump_step"] = max(jumps)
            st["late_jump_ratio"] = float(st["late_jump_ratio"])
    if wr["eval"]:
        es = np.array([p[0] for p in wr["eval"]], np.int64)
        ev = np.array([p[1] for p in wr["eval"]], float)
        ef = np.isfinite(ev)
        if ef.sum() >= 2:
            st["eval_n"] = int(ef.sum())
            st["eval_min"] = float(ev[ef].min())
            st["eval_min_step"] = int(es[ef][np.argmin(ev[ef])])
            st["eval_last"] = float(ev[ef][-1])
            st["eval_last_over_min"] = st["eval_last"] / st["eval_min"] if st["eval_min"] > 0 else float("inf")
            st["eval_first"] = float(ev[ef][0])
    spe = tr.steps_per_epoch
    if sp.fault == "epoch_staircase" and wr["unit"] == "step" and sp.log_every == 1 and spe >= 8:
        ne = len(tr.loss) // spe
        E = np.asarray(tr.loss[:ne * spe]).reshape(ne, spe)
        q = spe // 4
        within = E[:, :q].mean(1) / E[:, -q:].mean(1)           # ~1: flat inside an epoch
        across = E[:-1, -q:].mean(1) / E[1:, :q].mean(1)        # >1: drop at the boundary
        st["staircase"] = (f"{spe} steps/epoch: median in-epoch first/last-quarter ratio "
                           f"{np.median(within):.2f}, median drop across epoch boundaries {np.median(across):.2f}x")
    if tr.first_gn:
        st["first_layer_grad_norm_median"] = float(np.median(np.asarray(tr.first_gn)[np.isfinite(tr.first_gn)])) \
            if np.isfinite(tr.first_gn).any() else None
    if tr.info.get("aborted_at"):
        st["aborted_before_step"] = file_step(sp, tr, tr.info["aborted_at"])
    if tr.skipped:
        st["fp16_skipped_steps"] = len(tr.skipped)
        st["fp16_final_scale"] = tr.scale[-1]
    if tr.info.get("crashed_at"):
        st["crashed_at_step"] = file_step(sp, tr, tr.info["crashed_at"])
    st["prior_entropy"] = float(-sum(p * math.log(p) for p in tr.info["prior"] if p > 0))
    st["uniform_entropy"] = math.log(len(tr.info["prior"]))
    return st


def first_logged_at_or_after(wr, step):
    for s, _ in wr["loss"]:
        if s >= step:
            return s
    return wr["loss"][-1][0]


def check(sp, tr, wr, st) -> tuple[str, str | None, str, bool]:
    """(class, onset, why, symptom_seen) for the expected class; falls back to the curve."""
    exp = sp.expect
    ok, onset, why = False, None, ""
    nf = st["first_nonfinite_step"]
    if exp == "nan":
        if nf is not None:
            ok, onset, why = True, nf, f"first non-finite loss at step {nf} ({st['n_nonfinite']} of {st['n_points']} points)"
        elif sp.fk.get("hf_nan_filter") and st["first_grad_nonfinite_step"] is not None:
            g = st["first_grad_nonfinite_step"]
            ok, onset = True, g
            why = (f"HF logging_nan_inf_filter hides the NaN loss: grad_norm non-finite from step {g}, "
                   f"loss logged as 0.0 at {st['zero_loss_points']} points")
    elif exp == "diverging":
        if nf is None and rose(st):
            ok = True
        if ok:
            onset = (first_logged_at_or_after(wr, file_step(sp, tr, sp.fk["bump_at"]))
                     if "bump_at" in sp.fk else st["smooth_min_step"])
            why = (f"smoothed loss min {st['smooth_min']:.3g} at step {st['smooth_min_step']}, "
                   f"tail median {st['loss_tail_med']:.3g} ({st['tail_over_smooth_min']:.3g}x), max {st['loss_max']:.3g}")
            if st.get("aborted_before_step"):
                why += f"; run stopped by a finite-loss guard before step {st['aborted_before_step']}"
    elif exp == "spiking":
        if nf is None and st["big_spikes"] and st["tail_over_smooth_min"] < 3:
            ok, onset = True, st["big_spikes"][0]
            why = (f"{len(st['big_spikes'])} spike(s) >5x the running median that come back down, at steps "
                   f"{st['big_spikes'][:8]} (max {st['loss_max']:.3g} at {st['loss_max_step']}); "
                   f"tail median {st['loss_tail_med']:.3g} vs min {st['smooth_min']:.3g}")
    elif exp == "overfitting":
        if nf is None and st.get("eval_n") and st["eval_last_over_min"] > 1.2 and \
                st["eval_min_step"] < st["last_step"] * 0.75 and st["loss_tail_med"] < st["loss_head_med"]:
            ok, onset = True, st["eval_min_step"]
            why = (f"eval min {st['eval_min']:.3g} at step {st['eval_min_step']}, last eval {st['eval_last']:.3g} "
                   f"({st['eval_last_over_min']:.2f}x); train loss {st['loss_head_med']:.3g} -> {st['loss_tail_med']:.3g}")
    elif exp == "plateau":
        ref = sp.fk.get("plateau_ref", "head")
        if nf is None:
            if ref == "prior":
                H = st["prior_entropy"]
                if abs(st["loss_tail_med"] - H) < 0.25 * H:
                    ok = True
                    why = (f"loss settles at {st['loss_tail_med']:.3g}, the class-prior entropy "
                           f"{H:.3g} (majority-class predictor)")
            elif ref == "uniform":
                H = st["uniform_entropy"]
                if st["loss_tail_med"] > 0.9 * H:
                    ok = True
                    why = (f"loss {st['loss_head_med']:.3g} -> {st['loss_tail_med']:.3g}, chance level ln(C)={H:.3g}")
            elif st["loss_tail_med"] > 0.85 * st["loss_head_med"]:
                ok = True
                why = f"loss {st['loss_head_med']:.3g} -> {st['loss_tail_med']:.3g} (tail/head {st['tail_over_head']:.3f})"
            if ok:
                onset = st["first_step"]
                if sp.fk.get("onset_at"):
                    onset = first_logged_at_or_after(wr, file_step(sp, tr, sp.fk["onset_at"]))
                if "grad_norm_median" in st:
                    why += f"; median grad norm {st['grad_norm_median']:.3g}"
                if sp.fault == "vanishing_gradients" and st.get("first_layer_grad_norm_median") is not None:
                    why += f", first-layer weight grad norm {st['first_layer_grad_norm_median']:.2g}"
                if st.get("grad_nonfinite"):
                    why += f"; grad_norm non-finite at {st['grad_nonfinite']} logged steps"
    elif exp == "oscillating":
        periodic = st.get("acf_epoch", 0) > 0.5 or st.get("acf_max", 0) > 0.3
        if nf is None and st["detrended_spread"] > 0.3 and periodic and not rose(st):
            ok, onset = True, st["first_step"]
            why = (f"second-half loss / rolling median: p90-p10 {st['detrended_spread']:.2f}, "
                   f"max autocorrelation {st.get('acf_max', 0):.2f} at lag {st.get('acf_max_lag')}")
            if "acf_epoch" in st:
                why += f", autocorrelation at one epoch ({tr.steps_per_epoch} steps) {st['acf_epoch']:.2f}"
            why += f"; tail/head {st['tail_over_head']:.2f}"
    elif exp == "converging":
        eval_ok = not st.get("eval_n") or not (st["eval_last_over_min"] > 1.2 and
                                               st["eval_min_step"] < 0.75 * st["last_step"])
        if nf is None and st["loss_tail_med"] < 0.8 * st["loss_start"] and not rose(st) and eval_ok:
            ok = True
            why = (f"loss {st['loss_start']:.3g} -> {st['loss_tail_med']:.3g} (min {st['loss_min']:.3g}); "
                   f"tail/smoothed-min {st['tail_over_smooth_min']:.2f}")
            if st.get("eval_n"):
                why += f"; eval {st['eval_first']:.3g} -> {st['eval_last']:.3g} (last/min {st['eval_last_over_min']:.2f})"
            if st.get("grad_nonfinite"):
                why += f"; grad_norm non-finite at {st['grad_nonfinite']} logged steps (skipped fp16 steps)"
            if st["big_spikes"]:
                why += f"; {len(st['big_spikes'])} transient bump(s) >5x the running median"
            if sp.fault == "tiny_late_loss" and "late_jump_ratio" in st:
                why += (f"; late loss jumps {st['late_jump_ratio']:.1f}x over the previous 20-point median "
                        f"at step {st['late_jump_step']}")
            if sp.fault == "epoch_staircase" and "staircase" in st:
                why += "; " + st["staircase"]
    if sp.fault == "corrupt_record":
        ok, onset, why = bn_eval_jump(wr)
    inj = injected(sp, tr)
    if ok:
        return exp, onset, (inj + "; " if inj else "") + why, True
    cls, onset, why = curve_class(sp, tr, wr, st)
    return cls, onset, (inj + "; " if inj else "") + f"expected {exp} not seen, labelled by the curve: " + why, False


def bn_eval_jump(wr) -> tuple[bool, int | None, str]:
    """The BatchNorm running-statistics symptom, read off the series as written: an eval loss
    >= 3x the median of the evals before it (at least 2 of them) while the training loss stays
    where it was: the median of its points after the jump over the median of the 20 before is at
    most 1.5x, or rises by at most a quarter of the eval jump in log terms (a train loss at 4e-4
    that doubles beside an eval loss up 10,000x is fine).
    The onset is that eval's step; the class is ``spiking`` (a jump, to a worse level when the
    evals stay up)."""
    es = [s for s, _ in wr["eval"]]
    ev = np.array([v for _, v in wr["eval"]], float)
    ls = np.array([s for s, _ in wr["loss"]])
    lv = np.array([v for _, v in wr["loss"]], float)
    for k in range(2, len(ev)):
        base = float(np.median(ev[:k]))
        if not (np.isfinite(ev[k]) and base > 0 and ev[k] >= 3 * base):
            continue
        before = lv[ls <= es[k - 1]][-20:]
        after = lv[ls > es[k - 1]]
        tb, ta = float(np.median(before)), float(np.median(after)) if after.size else float("nan")
        if not (ta <= 1.5 * tb or (tb > 0 and np.log(ta / tb) <= 0.25 * np.log(ev[k] / base))):
            return False, None, f"eval jump x{ev[k] / base:.3g} at {es[k]} but train {tb:.3g} -> {ta:.3g}"
        return True, es[k], (f"eval loss median {base:.3g} over the {k} evals before step {es[k]}, then "
                             f"{ev[k]:.3g} (x{ev[k] / base:.3g}); evals after: max {np.nanmax(ev[k:]):.3g}, last "
                             f"{ev[-1]:.3g}; train loss median {tb:.3g} before, {ta:.3g} after")
    return False, None, "no eval jump >= 3x"


def injected(sp, tr) -> str:
    """Where the fault was injected, in the file's step units."""
    fk, fs = sp.fk, (lambda i: file_step(sp, tr, i))
    if "nan_input_at" in fk:
        return f"{fk.get('nan_value', 'nan')} input injected at step {fs(fk['nan_input_at'])}"
    if "bad_label_at" in fk:
        return f"bad label (masked class, p=0) at step {fs(fk['bad_label_at'])}"
    if "bump_at" in fk:
        return f"LR x{fk['bump_factor']} from step {fs(fk['bump_at'])}"
    if "bad_record_from" in fk:
        return (f"training record 0 scaled x{fk.get('bad_scale', 3000.0):g} + {fk.get('bad_offset', 3000.0):g} from "
                f"step {fs(fk['bad_record_from'])} (BatchNorm running statistics)")
    if "corrupt_at" in fk:
        return "corrupted batches at steps " + ", ".join(str(fs(c)) for c in fk["corrupt_at"])
    if sp.fault in ("lr_too_high", "lr_too_high_warmup", "warmup_past_stability"):
        w = f" after {sp.warmup} warmup steps" if sp.warmup else " from step 1, no warmup"
        return f"peak LR {sp.lr:g}{w}"
    if fk.get("scaler") and sp.fault == "fp16_overflow":
        sc = fk["scaler"]
        kind = "static" if sc.get("static") else "dynamic"
        return f"{kind} loss scale {sc['init']:g}, {len(tr.skipped)} of {len(tr.loss)} steps skipped"
    if fk.get("scaler"):
        return f"dynamic loss scale, {len(tr.skipped)} of {len(tr.loss)} steps skipped (overflow)"
    if sp.fault == "momentum_bounce":
        return f"SGD momentum {sp.momentum}, LR {sp.lr:g}, batch {sp.bs}"
    return ""


def rose(st) -> bool:
    """The loss ends well above its smoothed minimum, at a level that matters."""
    r = st["tail_over_smooth_min"]
    return (r > 2.0 and st["loss_tail_med"] > 0.3 * st["loss_head_med"]) or \
        (r > 1.3 and st["loss_tail_med"] > 1.2 * st["loss_head_med"])


def curve_class(sp, tr, wr, st):
    """What the curve alone shows (a plain rule set of this script, not losscheck)."""
    if st["first_nonfinite_step"] is not None:
        return "nan", st["first_nonfinite_step"], (f"finite loss peaks at {st['loss_max']:.3g} (step {st['loss_max_step']}), "
                                                   f"first non-finite loss at step {st['first_nonfinite_step']} "
                                                   f"({st['n_nonfinite']} of {st['n_points']} points)")
    if rose(st):
        return "diverging", st["smooth_min_step"], (f"smoothed loss min {st['smooth_min']:.3g} at step "
                                                     f"{st['smooth_min_step']}, tail median {st['loss_tail_med']:.3g}")
    if st.get("eval_n") and st["eval_last_over_min"] > 1.2 and st["eval_min_step"] < 0.75 * st["last_step"] \
            and st["loss_tail_med"] < 0.8 * st["loss_head_med"] and st["tail_over_smooth_min"] < 1.3:
        return "overfitting", st["eval_min_step"], f"eval min {st['eval_min']:.3g} at {st['eval_min_step']}, last {st['eval_last']:.3g}"
    if st["detrended_spread"] > 0.5 and (st.get("acf_epoch", 0) > 0.5 or st.get("acf_max", 0) > 0.4):
        return "oscillating", st["first_step"], (f"detrended spread {st['detrended_spread']:.2f}, "
                                                 f"max autocorrelation {st.get('acf_max', 0):.2f}")
    if st["tail_over_head"] > 0.85:
        return "plateau", st["first_step"], (f"head median {st['loss_head_med']:.3g} -> tail median "
                                             f"{st['loss_tail_med']:.3g} (smoothed min {st['smooth_min']:.3g} at step "
                                             f"{st['smooth_min_step']}, max {st['loss_max']:.3g} at step {st['loss_max_step']})")
    if st["big_spikes"]:
        return "spiking", st["big_spikes"][0], f"spikes >5x the running median at {st['big_spikes'][:5]}"
    return "converging", None, (f"loss {st['loss_head_med']:.3g} -> {st['loss_tail_med']:.3g} "
                                f"(tail/head {st['tail_over_head']:.2f})")


# --------------------------------------------------------------------------------------
# the run table


REMEDY = {
    "lr_too_high": "lower_lr", "lr_too_high_warmup": "lower_lr", "warmup_past_stability": "lower_lr",
    "lr_bump": "lower_lr", "nan_input": "check_data", "inf_input": "check_data",
    "bad_label_log0": "check_data", "shuffled_labels": "check_labels", "lr_zero": "increase_lr",
    "frozen_params": "check_model", "vanishing_gradients": "check_model", "sorted_by_class": "shuffle_data",
    "momentum_bounce": "lower_lr", "corrupted_batches": "check_data", "tiny_train_set": "early_stop",
    "class_imbalance": "rebalance", "fp16_overflow": "mixed_precision", "corrupt_record": "normalization",
}
EXPECT = {
    "lr_too_high": "diverging", "lr_too_high_warmup": "diverging", "warmup_past_stability": "diverging",
    "lr_bump": "diverging", "nan_input": "nan", "inf_input": "nan", "bad_label_log0": "nan",
    "shuffled_labels": "plateau", "lr_zero": "plateau", "frozen_params": "plateau",
    "vanishing_gradients": "plateau", "sorted_by_class": "oscillating", "momentum_bounce": "oscillating",
    "corrupted_batches": "spiking", "tiny_train_set": "overfitting", "class_imbalance": "plateau",
    "fp16_overflow": "plateau", "corrupt_record": "spiking",
}
ARCH_SEC = {"bn_mlp": 0.025, "bn_cnn": 0.07, "mlp": 0.02, "linear": 0.01, "deep_sigmoid_mlp": 0.04, "cnn": 0.06, "gru": 0.05, "rnn": 0.04,
            "transformer": 0.12}


def S(fault, arch, opt, seed, fmt, task, lr, **kw) -> Spec:
    """One run; the name is <fault>-<arch>-<optimizer>-s<seed>."""
    name = f"{fault}-{arch}-{opt}-s{seed}"
    expect = kw.pop("expect", EXPECT.get(fault, "converging"))
    return Spec(name=name, fault=fault, arch=arch, task=task, opt=opt, lr=lr, seed=seed, fmt=fmt,
                expect=expect, remedy=REMEDY.get(fault, ""), sec_per_step=ARCH_SEC[arch], **kw)


def keras_run(fault, arch, opt, seed, task, lr, n, bs, epochs, **kw) -> Spec:
    """An epoch-level Keras run: validation at every epoch end."""
    spe = n // bs
    tk = dict(kw.pop("task_kw", {}), n=n)
    return S(fault, arch, opt, seed, "keras", task, lr, steps=spe * epochs, bs=bs, eval_every=spe,
             task_kw=tk, **kw)


FP16_DYNAMIC = dict(init=65536.0, growth_interval=50)
GRAMMAR_LM = dict(bs=16, sched="warmup_cosine", warmup=50, clip=1.0)

SPECS: list[Spec] = [
    # ------------------------------------------------------------------ LR far too high, no warmup
    S("lr_too_high", "mlp", "sgd", 1, "csv", "blobs", 5.0, steps=300),
    S("lr_too_high", "linear", "sgd", 2, "tensorboard", "regress", 1.02, steps=400,
      fk=dict(abort_on_nonfinite=True)),
    S("lr_too_high", "transformer", "adamw", 3, "hf", "grammar", 0.1, steps=500, bs=16, log_every=5,
      eval_every=100),
    S("lr_too_high", "cnn", "adam", 4, "lightning", "images", 0.3, steps=500, bs=32, log_every=5,
      task_kw=dict(noise=2.0)),
    S("lr_too_high", "gru", "sgd", 5, "jsonl", "grammar", 30.0, steps=500, bs=16),
    keras_run("lr_too_high", "mlp", "adam", 6, "spiral", 1.0, n=2048, bs=64, epochs=30),
    # ------------------------------------------------------------------ LR far too high, with warmup
    S("lr_too_high_warmup", "transformer", "adamw", 1, "hf", "grammar", 0.3, steps=600, bs=16,
      sched="warmup_const", warmup=100, log_every=2, eval_every=100),
    S("lr_too_high_warmup", "mlp", "sgdm", 2, "lightning", "blobs", 3.0, steps=600, sched="warmup_const",
      warmup=100, log_every=5, eval_every=64),
    S("lr_too_high_warmup", "mlp", "sgd", 3, "jsonl", "regress", 2.0, steps=400, sched="warmup_const",
      warmup=100, model_kw=dict(act="tanh")),
    # ------------------------------------------------------------------ warmup ramping past stability
    S("warmup_past_stability", "mlp", "sgdm", 3, "tensorboard", "blobs", 3.0, steps=800,
      sched="warmup_const", warmup=800, eval_every=50),
    S("warmup_past_stability", "transformer", "adamw", 4, "llamafactory", "grammar", 0.3, steps=600, bs=16,
      sched="warmup_const", warmup=400, log_every=5, eval_every=100),
    S("warmup_past_stability", "mlp", "sgd", 5, "csv", "regress", 2.0, steps=1000, sched="warmup_const",
      warmup=1000, model_kw=dict(act="tanh"), fk=dict(abort_on_nonfinite=True)),
    # ------------------------------------------------------------------ LR bump mid-run
    S("lr_bump", "mlp", "adam", 2, "hf", "blobs", 2e-3, steps=800, eval_every=100,
      fk=dict(bump_at=400, bump_factor=100)),
    S("lr_bump", "mlp", "sgd", 3, "csv", "blobs", 0.1, steps=800, fk=dict(bump_at=400, bump_factor=30)),
    S("lr_bump", "transformer", "adamw", 4, "tensorboard", "grammar", 3e-3, steps=700, bs=16, clip=1.0,
      eval_every=50, fk=dict(bump_at=350, bump_factor=30)),
    S("lr_bump", "gru", "adam", 5, "lightning", "grammar", 3e-3, steps=800, bs=16, log_every=5,
      eval_every=100, fk=dict(bump_at=400, bump_factor=200)),
    S("lr_bump", "cnn", "sgdm", 6, "jsonl", "images", 0.02, steps=700, bs=32, task_kw=dict(noise=2.0),
      fk=dict(bump_at=350, bump_factor=20)),
    # ------------------------------------------------------------------ NaN / Inf in the input
    S("nan_input", "mlp", "adam", 1, "hf", "blobs", 1e-3, steps=600, log_every=5, eval_every=100,
      fk=dict(nan_input_at=300)),
    S("inf_input", "cnn", "sgdm", 2, "tensorboard", "images", 0.02, steps=500, bs=32,
      task_kw=dict(noise=2.0), fk=dict(nan_input_at=250, nan_value="inf")),
    S("nan_input", "gru", "adam", 3, "lightning", "recall", 3e-3, steps=900, bs=32, log_every=5,
      eval_every=128, fk=dict(nan_input_at=700)),
    keras_run("nan_input", "mlp", "sgd", 4, "blobs", 0.1, n=2048, bs=64, epochs=25,
              fk=dict(nan_input_at=32 * 12 + 7)),
    S("nan_input", "cnn", "adam", 5, "hf", "images", 1e-3, steps=500, bs=32, eval_every=100,
      task_kw=dict(noise=2.0), fk=dict(nan_input_at=260, hf_nan_filter=True)),
    S("inf_input", "mlp", "adamw", 6, "jsonl", "spiral", 3e-3, steps=600,
      fk=dict(nan_input_at=420, nan_value="inf", stop_after_nonfinite=3)),
    # ------------------------------------------------------------------ log(0) from a bad label
    S("bad_label_log0", "mlp", "sgd", 1, "csv", "spiral", 0.3, steps=500,
      fk=dict(bad_label_at=200, custom_log_loss=True)),
    S("bad_label_log0", "cnn", "adam", 2, "llamafactory", "images", 1e-3, steps=600, bs=32, log_every=5,
      eval_every=100, task_kw=dict(noise=2.0), fk=dict(bad_label_at=300, custom_log_loss=True)),
    S("bad_label_log0", "gru", "sgdm", 3, "tensorboard", "recall", 0.05, steps=800, bs=32,
      fk=dict(bad_label_at=350, custom_log_loss=True)),
    # ------------------------------------------------------------------ shuffled labels
    S("shuffled_labels", "mlp", "adam", 1, "hf", "blobs", 1e-3, steps=800, log_every=5, eval_every=100,
      fk=dict(shuffle_labels=True, plateau_ref="uniform")),
    S("shuffled_labels", "cnn", "sgdm", 2, "jsonl", "images", 0.02, steps=800, bs=32, eval_every=100,
      task_kw=dict(n=4096), fk=dict(shuffle_labels=True, plateau_ref="uniform")),
    S("shuffled_labels", "gru", "adam", 3, "lightning", "recall", 3e-3, steps=800, bs=32, log_every=5,
      eval_every=128, fk=dict(shuffle_labels=True, plateau_ref="uniform")),
    keras_run("shuffled_labels", "mlp", "sgd", 4, "blobs", 0.05, n=4096, bs=128, epochs=25,
              fk=dict(shuffle_labels=True, plateau_ref="uniform", log_acc=True)),
    # ------------------------------------------------------------------ LR = 0 (scheduler bug)
    S("lr_zero", "transformer", "adamw", 1, "csv", "grammar", 3e-3, steps=300, bs=16, fk=dict(lr_zero=True)),
    keras_run("lr_zero", "cnn", "sgdm", 2, "images", 0.02, n=1024, bs=32, epochs=15, fk=dict(lr_zero=True),
              task_kw=dict(noise=2.0)),
    S("lr_zero", "gru", "adam", 3, "tensorboard", "recall", 3e-3, steps=500, bs=32, fk=dict(lr_zero=True)),
    # ------------------------------------------------------------------ frozen parameters
    S("frozen_params", "mlp", "adam", 1, "llamafactory", "blobs", 1e-3, steps=500, log_every=5,
      fk=dict(frozen="stale_copy")),
    S("frozen_params", "cnn", "sgdm", 2, "hf", "images", 0.02, steps=500, bs=32, log_every=5,
      task_kw=dict(noise=2.0), fk=dict(frozen="requires_grad", trainable_name="head.bias")),
    S("frozen_params", "transformer", "adamw", 3, "jsonl", "grammar", 3e-3, steps=300, bs=16,
      fk=dict(frozen="requires_grad", trainable_name="head.bias")),
    # ------------------------------------------------------------------ vanishing gradients
    S("vanishing_gradients", "deep_sigmoid_mlp", "sgd", 1, "tensorboard", "blobs", 0.1, steps=800),
    S("vanishing_gradients", "deep_sigmoid_mlp", "sgdm", 2, "csv", "spiral", 0.05, steps=800),
    keras_run("vanishing_gradients", "deep_sigmoid_mlp", "sgd", 3, "blobs", 0.1, n=2048, bs=64, epochs=25),
    S("vanishing_gradients", "rnn", "sgd", 4, "lightning", "recall", 0.05, steps=800, bs=32, log_every=5,
      eval_every=128, task_kw=dict(length=40), fk=dict(plateau_ref="uniform")),
    # ------------------------------------------------------------------ data sorted by class
    S("sorted_by_class", "mlp", "adam", 1, "tensorboard", "blobs", 1e-3, steps=640, fk=dict(sorted=True)),
    S("sorted_by_class", "cnn", "adam", 2, "jsonl", "images", 1e-3, steps=640, bs=32,
      task_kw=dict(n=1024, noise=2.0), fk=dict(sorted=True)),
    S("sorted_by_class", "mlp", "sgdm", 3, "lightning", "blobs", 0.01, steps=960, bs=32, log_every=2,
      fk=dict(sorted=True)),
    S("sorted_by_class", "gru", "adam", 4, "hf", "recall", 1e-3, steps=768, bs=32, fk=dict(sorted=True),
      task_kw=dict(n=2048, length=5)),
    # ------------------------------------------------------------------ high-momentum SGD bouncing
    S("momentum_bounce", "linear", "sgdm", 1, "csv", "regress", 0.01, steps=800, bs=1024, momentum=0.999,
      task_kw=dict(n=1024, linear=True)),
    S("momentum_bounce", "linear", "sgdm", 2, "tensorboard", "regress", 0.03, steps=800, bs=1024,
      momentum=0.999, task_kw=dict(n=1024, linear=True)),
    S("momentum_bounce", "linear", "sgdm", 3, "jsonl", "regress", 0.01, steps=800, bs=64, momentum=0.999,
      task_kw=dict(n=1024, linear=True)),
    S("momentum_bounce", "mlp", "sgdm", 4, "hf", "regress", 0.01, steps=800, momentum=0.99,
      model_kw=dict(act="tanh")),
    # ------------------------------------------------------------------ corrupted batches (spikes)
    S("corrupted_batches", "mlp", "adam", 1, "csv", "blobs", 1e-3, steps=800, fk=dict(corrupt_at=(300, 500, 650))),
    S("corrupted_batches", "transformer", "adamw", 2, "tensorboard", "grammar", 3e-3, steps=600,
      eval_every=50, fk=dict(corrupt_at=(250, 400)), **GRAMMAR_LM),
    S("corrupted_batches", "cnn", "sgdm", 3, "hf", "images", 0.02, steps=600, bs=32, clip=1.0,
      task_kw=dict(noise=2.0), fk=dict(corrupt_at=(200, 350, 480))),
    S("corrupted_batches", "gru", "adam", 4, "lightning", "grammar", 3e-3, steps=700, bs=16, clip=1.0,
      log_every=1, fk=dict(corrupt_at=(300, 520))),
    S("corrupted_batches", "mlp", "sgd", 5, "jsonl", "spiral", 0.3, steps=700, clip=1.0,
      fk=dict(corrupt_at=(250, 400, 600))),
    # ------------------------------------------------------------------ tiny train set (overfitting)
    S("tiny_train_set", "mlp", "adam", 1, "hf", "blobs", 1e-3, steps=600, bs=16, eval_every=10,
      task_kw=dict(n=48, noise=1.5), model_kw=dict(width=128)),
    keras_run("tiny_train_set", "cnn", "adam", 2, "images", 1e-3, n=48, bs=16, epochs=150,
              task_kw=dict(noise=2.5)),
    S("tiny_train_set", "transformer", "adamw", 3, "tensorboard", "text", 3e-3, steps=600, bs=16,
      eval_every=25),
    S("tiny_train_set", "gru", "adam", 4, "llamafactory", "text", 3e-3, steps=800, bs=16, log_every=5,
      eval_every=25, clip=1.0),
    S("tiny_train_set", "mlp", "sgdm", 5, "lightning", "spiral", 0.05, steps=1000, bs=16, eval_every=20,
      log_every=5, task_kw=dict(n=64, jit=0.4), model_kw=dict(width=256, depth=3)),
    # ------------------------------------------------------------------ 95/5 class imbalance
    keras_run("class_imbalance", "mlp", "adam", 1, "blobs", 1e-3, n=4096, bs=64, epochs=12,
              task_kw=dict(c=2, prior=[0.95, 0.05], sep=0.15), fk=dict(plateau_ref="prior", log_acc=True)),
    S("class_imbalance", "mlp", "sgd", 2, "tensorboard", "blobs", 0.05, steps=800, eval_every=50,
      task_kw=dict(c=2, prior=[0.95, 0.05], sep=0.15), fk=dict(plateau_ref="prior", log_acc=True)),
    S("class_imbalance", "cnn", "adam", 3, "hf", "images", 1e-3, steps=600, bs=32, eval_every=100,
      task_kw=dict(c=2, prior=[0.95, 0.05], noise=4.0), fk=dict(plateau_ref="prior", log_acc=True)),
    # ------------------------------------------------------------------ fp16 overflow (loss scaling)
    S("fp16_overflow", "transformer", "adamw", 1, "hf", "grammar", 3e-3, steps=400, bs=16, log_every=2,
      fk=dict(scaler=dict(init=2.0 ** 20, static=True))),
    S("fp16_overflow", "mlp", "adam", 2, "tensorboard", "blobs", 1e-3, steps=500,
      fk=dict(scaler=dict(init=2.0 ** 22, static=True))),
    S("fp16_overflow", "mlp", "sgd", 3, "jsonl", "blobs", 0.01, steps=500, expect="nan",
      task_kw=dict(raw_scale=3000.0), fk=dict(scaler=dict(init=65536.0, growth_interval=100), fp16_forward=True)),

    # ================================================================== healthy
    # ------------------------------------------------------------------ BatchNorm nets (issue 14, pattern 5):
    # a corrupted record enters the training set mid-run; its batch drags the running statistics
    # off, so the eval loss (model.eval(), running statistics) jumps while the training loss
    # (batch statistics) stays fine. With clean BN controls. Both families go wholly to tune.
    S("corrupt_record", "bn_mlp", "adam", 1, "tensorboard", "blobs", 1e-3, steps=800, eval_every=50,
      fk=dict(bad_record_from=400, bad_scale=1e4, bad_offset=1e4)),
    S("corrupt_record", "bn_cnn", "sgdm", 2, "hf", "images", 0.02, steps=700, bs=32, eval_every=50, log_every=5,
      fk=dict(bad_record_from=350)),
    S("corrupt_record", "bn_mlp", "sgdm", 3, "lightning", "spiral", 0.05, steps=800, eval_every=47, log_every=5,
      fk=dict(bad_record_from=500)),
    keras_run("corrupt_record", "bn_mlp", "adam", 4, "blobs", 1e-3, n=2048, bs=64, epochs=20,
              fk=dict(bad_record_from=320)),
    S("corrupt_record", "bn_cnn", "adam", 5, "jsonl", "images", 1e-3, steps=600, bs=32, eval_every=40,
      fk=dict(bad_record_from=300, bad_scale=100.0, bad_offset=100.0)),
    S("control", "bn_mlp", "adam", 1, "hf", "blobs", 1e-3, steps=800, eval_every=50, log_every=5),
    S("control", "bn_cnn", "sgdm", 2, "tensorboard", "images", 0.02, steps=700, bs=32, eval_every=50),
    keras_run("control", "bn_mlp", "sgdm", 3, "spiral", 0.05, n=2048, bs=64, epochs=20),
    S("none", "mlp", "adam", 1, "hf", "blobs", 1e-3, steps=800, log_every=5, eval_every=100),
    S("none", "cnn", "sgdm", 2, "tensorboard", "images", 0.02, steps=700, bs=32, eval_every=50,
      task_kw=dict(noise=2.0)),
    S("none", "gru", "adam", 3, "csv", "recall", 3e-3, steps=900, bs=32),
    S("none", "transformer", "adamw", 4, "llamafactory", "grammar", 3e-3, steps=800, log_every=5,
      eval_every=100, **GRAMMAR_LM),
    S("none", "mlp", "sgd", 5, "lightning", "spiral", 0.3, steps=900, bs=32, log_every=5, eval_every=93),
    S("none", "gru", "adamw", 6, "jsonl", "grammar", 3e-3, steps=800, bs=16, clip=1.0, eval_every=100),
    keras_run("none", "cnn", "adam", 7, "images", 1e-3, n=2048, bs=64, epochs=20, task_kw=dict(noise=2.0),
              fk=dict(log_acc=True)),
    S("none", "transformer", "adam", 8, "hf", "grammar", 1e-3, steps=800, log_every=10, eval_every=200,
      bs=16, clip=1.0),
    S("none", "rnn", "adam", 9, "llamafactory", "recall", 3e-3, steps=800, bs=32, eval_every=100, log_every=4,
      task_kw=dict(length=5)),
    S("none", "linear", "sgd", 10, "csv", "regress", 0.05, steps=500, task_kw=dict(linear=True)),
    # small batches: loud per-step noise
    S("small_batch", "mlp", "sgd", 1, "csv", "blobs", 0.02, steps=1500, bs=4),
    S("small_batch", "cnn", "adam", 2, "tensorboard", "images", 5e-4, steps=1200, bs=8, task_kw=dict(noise=2.0)),
    S("small_batch", "gru", "sgdm", 3, "jsonl", "recall", 0.02, steps=1500, bs=8, task_kw=dict(length=6)),
    S("small_batch", "transformer", "adamw", 4, "lightning", "grammar", 1e-3, steps=1000, bs=4, log_every=2,
      sched="warmup_cosine", warmup=50, clip=1.0, eval_every=250),
    S("small_batch", "mlp", "adam", 5, "llamafactory", "spiral", 1e-3, steps=1500, bs=4, log_every=5),
    # label noise: a high floor
    S("label_noise", "mlp", "adam", 1, "hf", "blobs", 1e-3, steps=800, log_every=5, eval_every=100,
      fk=dict(label_noise=0.3)),
    keras_run("label_noise", "cnn", "sgdm", 2, "images", 0.01, n=2048, bs=64, epochs=10,
              task_kw=dict(noise=2.0), fk=dict(label_noise=0.2)),
    S("label_noise", "gru", "adam", 3, "llamafactory", "recall", 3e-3, steps=900, bs=32, eval_every=100, log_every=5,
      task_kw=dict(length=6), fk=dict(label_noise=0.2)),
    S("label_noise", "mlp", "sgd", 4, "csv", "spiral", 0.3, steps=800, bs=32, fk=dict(label_noise=0.4)),
    # cosine annealing with warm restarts (SGDR, T_0=100, T_mult=2)
    S("sgdr", "mlp", "sgdm", 1, "tensorboard", "spiral", 0.3, steps=700, bs=32, sched="sgdr", eval_every=50,
      fk=dict(T0=100, Tmult=2)),
    S("sgdr", "cnn", "sgdm", 2, "csv", "images", 0.02, steps=700, bs=32, sched="sgdr",
      task_kw=dict(noise=2.0), fk=dict(T0=100, Tmult=2)),
    S("sgdr", "transformer", "adamw", 3, "jsonl", "grammar", 3e-3, steps=700, bs=16, clip=1.0, sched="sgdr",
      eval_every=50, fk=dict(T0=100, Tmult=2)),
    S("sgdr", "gru", "sgdm", 4, "lightning", "grammar", 1.0, steps=700, bs=16, clip=1.0, sched="sgdr",
      log_every=5, eval_every=100, fk=dict(T0=100, Tmult=2)),
    # converges to a floor within ~40 steps, then flat
    S("fast_floor", "mlp", "adam", 1, "csv", "blobs", 1e-2, steps=1000, task_kw=dict(sep=1.5),
      fk=dict(label_noise=0.2)),
    S("fast_floor", "linear", "sgd", 2, "tensorboard", "regress", 0.2, steps=800,
      task_kw=dict(linear=True, y_noise=0.5), eval_every=50),
    S("fast_floor", "cnn", "adam", 3, "llamafactory", "images", 3e-3, steps=800, bs=32, log_every=5,
      task_kw=dict(noise=2.5), fk=dict(label_noise=0.2)),
    S("fast_floor", "mlp", "adamw", 4, "hf", "blobs", 5e-3, steps=1000, log_every=5, eval_every=100,
      task_kw=dict(sep=1.5), fk=dict(label_noise=0.3)),
    # benign fp16 dynamic loss scaling: a few skipped steps with inf/nan grad norm
    S("fp16_benign", "transformer", "adamw", 1, "hf", "grammar", 3e-3, steps=600, eval_every=100,
      fk=dict(scaler=FP16_DYNAMIC), **GRAMMAR_LM),
    S("fp16_benign", "mlp", "adam", 2, "tensorboard", "blobs", 1e-3, steps=600, fk=dict(scaler=FP16_DYNAMIC)),
    S("fp16_benign", "cnn", "sgdm", 3, "jsonl", "images", 0.02, steps=600, bs=32, task_kw=dict(noise=2.0),
      fk=dict(scaler=dict(FP16_DYNAMIC, report="nan"))),
    S("fp16_benign", "gru", "adamw", 4, "csv", "grammar", 3e-3, steps=600, bs=16, clip=1.0,
      fk=dict(scaler=FP16_DYNAMIC)),
    # tiny late losses with 10x relative jumps
    S("tiny_late_loss", "mlp", "adam", 1, "tensorboard", "blobs", 1e-3, steps=1500, bs=16, task_kw=dict(sep=2.0)),
    S("tiny_late_loss", "mlp", "sgd", 2, "csv", "blobs", 0.1, steps=1500, bs=16, task_kw=dict(sep=2.0)),
    S("tiny_late_loss", "mlp", "adamw", 3, "jsonl", "blobs", 1e-3, steps=1500, bs=16, task_kw=dict(sep=2.0)),
    S("tiny_late_loss", "mlp", "sgdm", 4, "lightning", "spiral", 0.1, steps=1500, bs=32, log_every=1),
    # epoch staircase: memorising a small set, loss drops at each epoch boundary
    S("epoch_staircase", "mlp", "adam", 1, "tensorboard", "lookup", 3e-3, steps=384, bs=32,
      model_kw=dict(width=512), task_kw=dict(n=1024, d=64)),
    S("epoch_staircase", "mlp", "adamw", 2, "hf", "lookup", 3e-3, steps=384, bs=32,
      model_kw=dict(width=512), task_kw=dict(n=1024, d=64)),
    keras_run("epoch_staircase", "mlp", "adam", 3, "lookup", 3e-3, n=1024, bs=32, epochs=12,
              model_kw=dict(width=512), task_kw=dict(d=64)),
    S("epoch_staircase", "mlp", "adam", 4, "llamafactory", "lookup", 2e-3, steps=768, bs=32, log_every=4,
      model_kw=dict(width=1024), task_kw=dict(n=2048, d=64)),
]


# --------------------------------------------------------------------------------------


#: fault families added after the first split, each wholly in one split (a family split by run
#: would put near-twins on both sides): the BatchNorm families of issue 14, pattern 5, are tune
#: (the detector was built on them; its held-out evidence is the public runs)
FAMILY_SPLIT = {"corrupt_record": "tune", "control": "tune"}


def split_of(runs_by_class: dict[str, list[str]], family: dict[str, str] | None = None) -> dict[str, str]:
    """Within each class, order runs by sha256(run name); alternate tune / heldout. Runs of a
    family in :data:`FAMILY_SPLIT` (``family``: run -> fault) take their family's split and do not
    take part in the alternation, so adding a family moves no older run."""
    family = family or {}
    out = {}
    for cls, names in runs_by_class.items():
        rest = []
        for nm in names:
            if family.get(nm) in FAMILY_SPLIT:
                out[nm] = FAMILY_SPLIT[family[nm]]
            else:
                rest.append(nm)
        for k, nm in enumerate(sorted(rest, key=lambda r: hashlib.sha256(r.encode()).hexdigest())):
            out[nm] = "tune" if k % 2 == 0 else "heldout"
    return out


LABEL_COLS = ["run", "class", "onset_step", "first_remedy", "fault", "arch", "optimizer", "format",
              "seed", "split", "note"]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=None, help="fnmatch pattern on run names")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="train and print stats only")
    a = ap.parse_args(argv)
    table = SPECS
    names = [s.name for s in table]
    assert len(names) == len(set(names)), "duplicate run names"
    if a.list:
        for s in table:
            print(f"{s.name:55s} {s.fmt:12s} {s.expect:12s} {s.steps}")
        print(len(table), "runs")
        return
    sel = [s for s in table if a.only is None or fnmatch.fnmatch(s.name, a.only)]
    OUT.mkdir(parents=True, exist_ok=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    t_all = time.time()
    for sp in sel:
        t0 = time.time()
        tr = run(sp)
        d = OUT / sp.name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        wr = WRITERS[sp.fmt](sp, tr, d)
        st = stats(sp, tr, wr)
        cls, onset, why, seen = check(sp, tr, wr, st)
        if a.no_write:
            shutil.rmtree(d)
        remedy = sp.remedy if cls != "converging" else ""
        if not seen and cls != "converging" and not remedy:
            remedy = {"diverging": "lower_lr", "nan": "check_data", "plateau": "increase_lr",
                      "oscillating": "lower_lr", "spiking": "check_data", "overfitting": "early_stop"}[cls]
        rec = {"run": sp.name, "class": cls, "onset_step": "" if cls == "converging" or onset is None else onset,
               "first_remedy": remedy, "fault": sp.fault, "arch": sp.arch, "optimizer": sp.opt,
               "format": FORMAT_NAMES[sp.fmt], "seed": sp.seed, "note": why, "seen": seen,
               "seconds": round(time.time() - t0, 2), "stats": st}
        (CACHE / f"{sp.name}.json").write_text(json.dumps(rec, indent=1, default=float))
        print(f"[{time.time() - t_all:7.1f}s] {sp.name:50s} {cls:11s} {'ok ' if seen else 'MISS'} "
              f"onset={rec['onset_step']!s:6s} {why}", flush=True)
    # labels.csv from every cached record of the current table
    recs = []
    old = {}
    if (OUT / "labels.csv").is_file():           # rows of runs not rebuilt here (no cache record)
        with open(OUT / "labels.csv", newline="") as f:
            old = {r["run"]: dict(r, seen=True) for r in csv.DictReader(f)}
    for s in table:
        p = CACHE / f"{s.name}.json"
        if p.exists():
            recs.append(json.loads(p.read_text()))
        elif s.name in old:
            recs.append(old[s.name])
    by_cls: dict[str, list[str]] = {}
    for r in recs:
        by_cls.setdefault(r["class"], []).append(r["run"])
    split = split_of(by_cls, {r["run"]: r["fault"] for r in recs})
    with open(OUT / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LABEL_COLS, lineterminator="\n")
        w.writeheader()
        for r in recs:
            w.writerow({**{k: r[k] for k in LABEL_COLS if k in r}, "split": split[r["run"]]})
    misses = [r["run"] for r in recs if not r["seen"]]
    print(f"done: {len(sel)} run(s) in {time.time() - t_all:.1f}s; labels.csv has {len(recs)} rows; "
          f"symptom not seen: {misses}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

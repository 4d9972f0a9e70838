"""BatchNorm statistics: an eval loss that jumps while the training loss stays fine, in a net
that has BatchNorm (issue 14, pattern 5; the seed case study names "BatchNorm instability" as a
cause of its own: small batches, shifting data, unstable running mean/variance estimates).

Why the two curves part: in training a BatchNorm layer normalises each batch with that batch's
own mean and variance, at evaluation (``model.eval()``) with the running averages it kept
(Ioffe & Szegedy 2015, "Batch normalization", sec. 3.1). One batch far out of range (a corrupted
record, a new shard in other units) drags the running statistics off while the training loss,
normalised per batch, hardly notices; small or non-i.i.d. batches make the two statistics
differ for good (Wu & Johnson 2021, "Rethinking 'batch' in BatchNorm", sec. 3-4: the
train/inference discrepancy). The fingerprint is an abrupt *jump* of the eval loss, not the
gradual rise of overfitting (:mod:`.overfit`).

Measured here, conservatively:

* **BatchNorm evidence** (:func:`batchnorm_evidence`), needed before anything else: a logged tag
  named for BatchNorm (a token ``bn``/``bn1``..., ``batchnorm``, ``batch_norm``,
  ``running_mean``/``running_var``, ``syncbn``), or a path component of the run (its folder, its
  parents, its files) naming a BatchNorm architecture (ResNet/ResNeXt, YOLO, EfficientNet,
  MobileNet, DenseNet, VGG-BN, Inception, RegNet, Darknet/CSPDarknet) or ``bn``. The evidence is
  reported word for word; without it nothing is measured (an eval jump alone has other causes).
* **The jump**: the first eval ``k >= min_before`` whose log value exceeds the median of the
  evals before it by ``log(jump_ratio)`` (3x) *and* by ``z_jump`` (5) times their
  point-to-point noise (:func:`losscheck.analysis._util.diff_noise`), so a noisy validation
  curve (a detector's val losses) is not a jump.
* **The training loss stays fine**: the median of the training loss after the eval before the
  jump, over the median of its last ``train_window`` (20) points before it, rises by at most
  ``log(train_tolerance)`` (1.5x) or a quarter of the eval jump in log terms (a train loss at
  4e-4 that doubles beside an eval loss up 10,000x is fine).

Thresholds: 3x and 1.5x were fitted on the tune split by ``benchmarks/fit_batchnorm.py`` (a
grid over the jump ratio, the noise multiple and the train tolerance, scored by tune runs
right, ties to fewest healthy alarms); see that script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from losscheck.analysis._util import diff_noise
from losscheck.model import BatchNormShift, ResolvedRun

#: a tag token naming BatchNorm (tokens split on anything but letters and digits)
_TAG = re.compile(r"^(bn\d*|batchnorm\d*[a-z]*|batch_?norm|running_(mean|var)|syncbn|sync_bn)$")
#: a path token naming BatchNorm or an architecture built with it (torchvision / timm /
#: ultralytics names; ConvNeXt and ViT use LayerNorm and are left out)
_PATH = re.compile(r"^(bn\d*|batchnorm|syncbn|resnet\d*[a-z]*|resnext\d*[a-z0-9]*|wide_?resnet\d*|"
                   r"yolo(v?\d+[a-z]*)?|efficientnet[a-z0-9]*|mobilenet(v\d+)?[a-z0-9]*|densenet\d*|"
                   r"vgg\d+bn|inception(v\d)?|regnet[a-z0-9]*|c?s?p?darknet\d*)$")


@dataclass
class BatchNormOptions:
    """Thresholds of :func:`detect_batchnorm` (sources in the module doc)."""

    #: the jumping eval is at least this many times the median of the evals before it (ratio)
    jump_ratio: float = 3.0
    #: ... and at least this many times their point-to-point noise (MAD of differences)
    z_jump: float = 5.0
    #: evals (logged points) needed before the jump to have a level
    min_before: int = 2
    #: the training loss rises at most this factor over its level before the jump (ratio)
    train_tolerance: float = 1.5
    #: training-loss points (logged points, not steps) forming that level
    train_window: int = 20


def _tokens(text: str) -> list[str]:
    """Lower-case tokens of a name: split on ``/ . - space`` and digits-to-letters borders are
    kept (``resnet18`` stays one token); underscores split too, except in ``batch_norm`` and
    ``running_mean``-style pairs, which are rejoined."""
    low = text.lower()
    out = []
    for part in re.split(r"[^a-z0-9_]+", low):
        bits = [b for b in part.split("_") if b]
        out += bits
        out += [f"{a}_{b}" for a, b in zip(bits, bits[1:])]  # batch_norm, running_var, wide_resnet50
        out += [a + b for a, b in zip(bits, bits[1:])]        # vgg16_bn -> vgg16bn
    return out


def batchnorm_evidence(run: ResolvedRun) -> list[str]:
    """What says the run's net has BatchNorm, at most 3 items (``"tag bn1/running_var"``,
    ``"path resnet18"``); ``[]`` when nothing does. Reads tag names and path components only
    (never a file's content)."""
    found: list[str] = []
    for tag in sorted(run.data.series):
        if any(_TAG.match(t) for t in _tokens(tag)):
            found.append(f"tag {tag}")
            break
    seen = set()
    for path in [run.data.path, *run.data.files]:
        for comp in re.split(r"[\\/]", str(path)):
            for t in _tokens(comp):
                if _PATH.match(t) and t not in seen:
                    seen.add(t)
                    found.append(f"path {t}")
    return found[:3]


def detect_batchnorm(run: ResolvedRun, opts: BatchNormOptions | None = None) -> tuple[BatchNormShift | None, dict]:
    """Detect an eval-loss jump beside a training loss that stays fine, in a BatchNorm net.

    Args:
        run: the resolved run (its ``loss`` and ``eval_loss``: steps int64 (n,), values
            float64 (n,); tag names and paths for the BatchNorm evidence).
        opts: thresholds (:class:`BatchNormOptions`).
    Returns:
        ``(BatchNormShift or None, evidence)``; evidence keys ``bn_*``. Units: steps of the
        eval curve; ratios. Never raises on odd data (NaN/Inf and non-positive evals are
        skipped).
    """
    o = opts or BatchNormOptions()
    ev: dict = {}
    train, eval_ = run.get("loss"), run.get("eval_loss")
    if train is None or eval_ is None:
        return None, ev
    proof = batchnorm_evidence(run)
    if not proof:
        return None, ev
    ev["bn_evidence"] = "; ".join(proof)
    ok = np.isfinite(eval_.values) & (eval_.values > 0)
    es, ey = eval_.steps[ok], np.log(eval_.values[ok])
    tok = np.isfinite(train.values) & (train.values > 0)
    ts, ty = train.steps[tok], np.log(train.values[tok])
    if ey.shape[0] < o.min_before + 1 or ty.shape[0] < 2:
        return None, ev
    # the median of the evals before k is at least their minimum, so an eval less than
    # ``jump_ratio`` above the running minimum cannot jump: only the others are examined
    # (the exact test below, O(k log k) each, then runs on a few candidates, not every eval)
    floor = np.minimum.accumulate(ey)
    ks = np.arange(o.min_before, ey.shape[0])
    candidates = ks[ey[ks] - floor[ks - 1] >= np.log(o.jump_ratio)]
    for k in candidates.tolist():
        base = float(np.median(ey[:k]))
        noise = diff_noise(ey[:k]) if k >= 3 else 0.0
        jump = float(ey[k] - base)
        if jump < np.log(o.jump_ratio) or jump < o.z_jump * noise:
            continue
        before = ty[ts <= es[k - 1]][-o.train_window:]
        after = ty[ts > es[k - 1]]
        if before.size == 0 or after.size == 0:
            return None, ev
        tchange = float(np.median(after) - np.median(before))
        ev.update({"bn_jump_ratio": float(np.exp(jump)), "bn_jump_step": int(es[k]),
                   "bn_train_change_log": tchange, "bn_eval_noise_log": float(noise)})
        if tchange > max(np.log(o.train_tolerance), 0.25 * jump):
            return None, ev
        last = float(np.exp(ey[-1]))
        return BatchNormShift(onset_step=int(es[k]), before_step=int(es[k - 1]), eval_before=float(np.exp(base)),
                              eval_jump=float(np.exp(ey[k])), eval_last=last, jump_ratio=float(np.exp(jump)),
                              train_change=float(np.exp(tchange) - 1.0), persists=last >= 2.0 * np.exp(base),
                              evidence=proof), ev
    return None, ev


#: The options of :func:`detect` (the detector interface of :mod:`losscheck.analysis.prepared`).
Options = BatchNormOptions


def detect(curve, opts: BatchNormOptions | None = None, *, run: ResolvedRun | None = None):
    """The run-level detector entry point: ``curve`` (the prepared eval curve) is unused, the
    run carries both curves and the names the evidence is read from. A
    :class:`~losscheck.analysis.prepared.Detection` with the
    :class:`~losscheck.model.BatchNormShift` (or ``None``) and the ``bn_*`` evidence."""
    from losscheck.analysis.prepared import Detection

    if run is None:
        return Detection(None, {})
    fact, ev = detect_batchnorm(run, opts)
    return Detection(fact, ev)

"""Resolve metric roles: which series is the training loss, eval loss, grad norm, LR.

Names come from what frameworks write (HF Trainer ``loss``/``eval_loss``/``grad_norm``/
``learning_rate``; LLaMA-Factory ``lr``; Lightning ``train_loss_step``, ``val_loss``,
``lr-AdamW``, ``grad_2.0_norm_total``; Keras ``loss``/``val_loss``/``epoch_loss``; YOLOv5
``train/box_loss``, ``x/lr0``; detectron2 ``total_loss``; nanoGPT ``train/loss``,
``val/loss``; build-nanogpt / llm.c ``norm`` (the grad norm, printed beside ``loss`` and ``lr``); darknet ``avg loss``; OpenNMT-py ``xent``). Exact names are tried first in
priority order, then token rules (camelCase split: ``ValLoss`` is an eval loss; Chinese words
read in English: ``验证损失`` is a validation loss, ``学习率`` a learning rate; ``Current Learning
Rate`` is an LR; a validation split before a test split; an objective before a
regularisation term such as a VAE's ``loss_kl``; among equals the series logged first; an
eval series that is one part of a loss whose total only the training prints, YOLOv5's
``val/box_loss``, is no eval loss). A
``--loss TAG``-style override always wins. Losses that fill no role are kept as
``components`` and may be analysed too.
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from losscheck.errors import NoLossMetric, UsageError
from losscheck.model import ResolvedRun, RoleAssignment, RunData, Series

EXACT: dict[str, tuple[str, ...]] = {
    "loss": ("loss", "train/loss", "train_loss", "train_loss_step", "training_loss", "train/loss_step",
             "loss/train", "Loss/train", "train/total_loss", "total_loss", "train/loss_epoch",
             "train_loss_epoch", "epoch_loss", "train/epoch_loss", "train_loss_local", "Train Loss",
             "Generator_loss", "avg loss"),
    "eval_loss": ("eval_loss", "eval/loss", "val_loss", "val/loss", "validation/epoch_loss",
                  "val/epoch_loss", "Loss/val", "Loss/validation", "Loss/test", "validation/loss", "valid_loss",
                  "valid/loss", "loss/val", "Loss/val", "loss/validation", "val_loss_epoch",
                  "epoch_val_loss", "validation_loss", "Valid Loss", "dev_loss", "test_loss",
                  "test/loss", "evaluation/loss"),
    "grad_norm": ("grad_norm", "train/grad_norm", "grad_2.0_norm_total", "gradient_norm",
                  "grad-norm", "train/gradient_norm", "total_grad_norm", "grad_norm/total", "grad",
                  "train/grad", "norm"),
    "lr": ("lr", "learning_rate", "train/learning_rate", "train/lr", "lr-AdamW", "lr-Adam", "lr-SGD",
           "x/lr0", "lr_0", "lr/group_0", "learning-rate", "learningrate", "epoch_learning_rate",
           "train/epoch_learning_rate"),
    "accuracy": ("accuracy", "acc", "train/accuracy", "train/acc", "train_acc", "train_accuracy",
                 "epoch_accuracy", "train/epoch_accuracy"),
    "eval_accuracy": ("eval_accuracy", "val_accuracy", "val_acc", "eval/accuracy", "val/accuracy",
                      "validation/accuracy", "valid_acc", "epoch_val_accuracy", "test_acc",
                      "validation/epoch_accuracy"),
}

#: name tokens of a regularisation / auxiliary term, never the objective itself when another
#: loss is logged: KL divergence (VAE), MMD (WAE), penalties, auxiliary heads
_TERMS = frozenset({"kl", "kld", "kldiv", "mmd", "reg", "penalty", "aux"})

#: names of loss functions printed as the metric's name when no "loss" word is printed
#: (MXNet's ``Train-SmoothL1``, DCRNN's ``train_mae``, OpenNMT-py's ``xent``, ``nll``, a
#: classifier's ``ce``; cuda-convnet's ``logprob`` cost, the negative log-probability of the
#: labels, see its LogregCostLayer): a second tier, used only when no name says "loss"
LOSS_FUNCTIONS = frozenset({"xent", "nll", "mse", "mae", "rmse", "smoothl1", "huber", "bce", "ce", "ctc",
                            "logloss", "crossentropy", "nllloss", "logprob", "cost"})

#: name tokens that make ``cost`` a duration, not an objective (``Time cost=106.6``, ``cost
#: time: 790.9``, ``cost 0.6 seconds``): ``cost`` is the objective's name in Theano / TF1-era
#: trainers (``Epoch 0 Update 100 Cost 528.1``; blind7 text-log set) but also a word for time
_COST_OF_TIME = frozenset({"time", "times", "sec", "secs", "second", "seconds", "s", "ms", "min", "elapsed",
                           "speed", "memory", "mem"})

#: name tokens of a total (the sum of the components printed beside it); ``batch_loss`` beside
#: ``classify loss`` / ``iou loss`` is the batch's whole objective (an EAST-style trainer prints
#: the terms, then ``batch_loss``; blind5 text-log set), not one more term
_TOTAL = frozenset({"total", "sum", "overall", "all", "tot", "batch"})

_EVAL = re.compile(r"(^|[/_\-. ])(eval|val|vali|valid|validate|validated|validating|validation|dev|test|testing|evaluate|evaluated|evaluating|evaluation)([/_\-. ]|$)", re.I)
_TOKEN = re.compile(r"[/_\-. ]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


#: "loss" in Chinese (``训练损失`` train loss): the word the text readers look for beside ``loss``
LOSS_ZH = "损失"
#: Chinese metric words (logs printed in Chinese: ``训练损失`` train loss, ``验证损失`` validation
#: loss, ``学习率`` learning rate) -> the English words the rules below look for
_CJK = (("学习率", " learning_rate "), ("训练", " train "), ("验证", " val "), ("测试", " test "),
        ("评估", " eval "), (LOSS_ZH, " loss "), ("准确率", " accuracy "), ("梯度范数", " grad norm "))


def _words(tag: str) -> str:
    """``tag`` with a separator at each lower-to-upper case change (``ValLoss`` -> ``Val Loss``)
    and Chinese metric words in English (``验证损失`` -> `` val  loss ``)."""
    if not tag.isascii():
        for zh, en in _CJK:
            tag = tag.replace(zh, en)
    return _CAMEL.sub(" ", tag)


def _tokens(tag: str) -> list[str]:
    return [t for t in _TOKEN.split(_words(tag).lower()) if t]


def _is_eval(tag: str) -> bool:
    return bool(_EVAL.search(_words(tag)))


def loss_function_name(tag: str) -> bool:
    """Whether ``tag`` names a loss function without the word "loss" (a token of it, split at
    separators or at case changes, is in :data:`LOSS_FUNCTIONS`: ``Train-SmoothL1``,
    ``train_mae``, ``val-nll``, ``xent``, ``Cost`` but not a time cost; or it spells cross
    entropy with separators, ``Train-cross-entropy``)."""
    low = tag.lower()
    words = set(_TOKEN.split(low)) | set(_tokens(tag))
    if "cost" in words and _COST_OF_TIME.intersection(words):
        return False  # a time cost (``Time cost``, ``cost time``), not an objective
    return bool(LOSS_FUNCTIONS.intersection(words)
                or "crossentropy" in _TOKEN.sub("", low))  # (``Train-cross-entropy``, ``cross_entropy``)


def is_loss_name(name: str) -> bool:
    """Whether a metric name looks like a loss (``loss`` or :data:`LOSS_ZH` in it, or a loss
    function's name as a word, :func:`loss_function_name`: OpenNMT-py's ``xent``, MXNet's
    ``Train-SmoothL1``, ``train_mae``, ``nll``; but not a loss scale). Never raises."""
    low = name.lower()
    if "scale" in low:
        return False
    return "loss" in low or LOSS_ZH in name or loss_function_name(name)


def _fuzzy(role: str, tag: str, tier: int = 1) -> bool:
    toks = _tokens(tag)
    t = "_".join(toks) if not tag.isascii() else tag.lower()
    is_eval = _is_eval(tag)
    if role in ("loss", "eval_loss"):
        if "scale" in toks or "scaler" in t:
            return False
        if tier == 1:  # "loss" in the name, or OpenNMT-py's / TensorFlow's "xent" (cross-entropy)
            if "loss" not in t and "xent" not in toks:
                return False
        elif not loss_function_name(tag):  # tier 2: a loss function's name (SmoothL1, mae, nll)
            return False
        return is_eval if role == "eval_loss" else not is_eval
    if role == "grad_norm":
        return ("grad" in t and "norm" in t) and "square" not in t and "clip" not in toks
    if role == "lr":
        # (``Current Learning Rate``, ``learning-rate``, ``LearningRate``: the words in a row)
        return ("learning_rate" in t or "learning_rate" in "_".join(toks) or "lr" in toks
                or any(x.startswith("lr") and x[2:].isdigit() for x in toks))
    if role in ("accuracy", "eval_accuracy"):
        if not ("acc" in toks or "accuracy" in toks):
            return False
        return is_eval if role == "eval_accuracy" else not is_eval
    return False


def is_eval_name(tag: str) -> bool:
    """Whether ``tag`` names an evaluation split (``val_loss``, ``loss val``, ``Test Acc``,
    ``验证损失``): the eval-loss side of the resolver. Never raises."""
    return _is_eval(tag)


def names_other_role(tag: str) -> bool:
    """Whether the resolver would place ``tag`` by its name in a role other than a loss
    (learning rate, grad norm, accuracy). Never raises."""
    return any(_fuzzy(role, tag) or tag.lower() in (n.lower() for n in EXACT[role])
               for role in ("lr", "grad_norm", "accuracy", "eval_accuracy"))


def _pick(role: str, series: dict[str, Series], taken: set[str]) -> Series | None:
    free = {k: v for k, v in series.items() if k not in taken}
    lower = {k.lower(): k for k in free}
    exact = []
    for name in EXACT[role]:
        if name in free:
            exact.append(free[name])
        elif name.lower() in lower:
            exact.append(free[lower[name.lower()]])
    if exact:
        # the highest-priority name, unless a stray short file (3 points of "loss") would hide
        # the run's real series: then the one with 10x more points wins
        most = max(exact, key=len)
        return most if len(most) >= 10 * max(1, len(exact[0])) else exact[0]
    cands = [s for k, s in free.items() if _fuzzy(role, k)]
    if cands and role in ("loss", "eval_loss"):
        cands += _bare_totals(role, free)
    if not cands and role in ("loss", "eval_loss"):
        # no name says "loss": a loss function's name (MXNet's Train-SmoothL1, train_mae)
        cands = [s for k, s in free.items() if _fuzzy(role, k, tier=2)]
    if not cands:
        return None
    # prefer per-step series over epoch aggregates, a validation split over a test split (the
    # held-out set watched while training), an objective over a regularisation term (a VAE's
    # ``loss_kl`` / ``loss_mmd`` beside its ``loss_vae``), then more points, then a total over
    # its components (:func:`_is_total`), then the one logged first (with no total printed,
    # ``loss_l, loss_c`` or ``Loss Discriminator, Loss Encoder``: the first term)
    # (the other roles keep the shortest name before the order of logging)
    order = {k: i for i, k in enumerate(free)}
    toks = {s.tag: _tokens(s.tag) for s in cands}
    lossy = role in ("loss", "eval_loss")
    return sorted(cands, key=lambda s: ("epoch" in s.tag.lower(), "test" in toks[s.tag],
                                        bool(_TERMS.intersection(toks[s.tag])), -len(s),
                                        not _is_total(toks[s.tag], toks.values()) if lossy else len(s.tag),
                                        order.get(s.tag, 0), s.tag))[0]


def _split_free(tag: str) -> tuple[str, ...]:
    """The tokens of ``tag`` without its split words (``val/box_loss`` -> ``("box", "loss")``)."""
    return tuple(t for t in _tokens(tag) if t not in ("train", "training") and not _EVAL.fullmatch(t))


def _eval_part(series: Mapping[str, Series], loss: str, ev: str) -> bool:
    """Whether the eval loss ``ev`` (picked by its name's tokens, not an exact name) is one part
    of a loss whose total only the training side prints: at least two eval loss series, each
    named as a loss and the twin of a training series but for the split word (``val/box_loss``, ``val/obj_loss``,
    ``val/cls_loss`` beside ``train/box_loss``...), while the training loss ``loss``
    (``train/loss``, their sum) has no eval twin. Comparing one part with a total would make a
    gap or a trend of different quantities. Source: the headerless ``results.txt`` of YOLOv5 /
    YOLOv7 (train box/obj/cls and their total, val box/obj/cls only; blind and blind8 text-log
    sets)."""
    if ev.lower() in (n.lower() for n in EXACT["eval_loss"]):
        return False
    evals = {_split_free(k) for k in series if _fuzzy("eval_loss", k)}
    trains = {_split_free(k) for k in series if not _is_eval(k)}
    return len(evals) >= 2 and evals <= trains and _split_free(loss) not in evals


def _bare_totals(role: str, free: dict[str, Series]) -> list[Series]:
    """Series named only ``total`` (``tot``, ``sum``; with a train or eval prefix at most:
    ``total``, ``val/total``) on the side of ``role``, candidates for a loss only when other
    loss-named series are logged beside them: mmdet-style heads that print ``d0.cls``,
    ``trans_loss`` ... and their sum as ``total``. A count (every value a whole number:
    ``total: 5000`` samples) is not taken. Source: losscheck's blind3 text-log set (the
    StreamMapNet log), generalised to any ``total`` beside loss terms."""
    out = []
    for k, s in free.items():
        toks = [t for t in _tokens(k) if t not in ("train", "training") and not _EVAL.fullmatch(t)]
        if len(toks) != 1 or toks[0] not in ("total", "tot", "sum") or len(s) == 0:
            continue
        if _is_eval(k) != (role == "eval_loss"):
            continue
        vals = np.asarray(s.values, dtype=float)
        if bool(np.all(np.isfinite(vals))) and bool(np.all(vals == np.round(vals))):
            continue
        out.append(s)
    return out


def _is_total(toks: list[str], others) -> bool:
    """Whether a name (its tokens) is a total among the candidate names ``others`` (token
    lists): it says so (``total``, ``sum``, ``overall``, ``tot``), or it is the stem of another
    candidate's name (``Loss`` beside ``Loss_u`` and ``Loss_v``; ``D_loss`` beside
    ``D_loss_real``), as frameworks name the parts of a loss after it. The plural stem counts
    too: ``losses`` beside ``loss_mn``, ``loss_c`` (the sum of the losses; blind6 text-log set,
    generalised to any ``<stem>es``/``<stem>s`` beside ``<stem>_<part>`` names)."""
    if _TOTAL.intersection(toks):
        return True
    n = len(toks)
    if any(len(o) > n and o[:n] == toks for o in others):
        return True
    if not n or not toks[-1].endswith("s"):
        return False
    # the plural of a stem: "losses" -> "loss", "G_losses" -> "G_loss"
    singular = [toks[:-1] + [toks[-1][:-k]] for k in (2, 1) if len(toks[-1]) > k + 1]
    return any(len(o) > n and o[:n] in singular for o in others)


# A generator / discriminator loss: the G or D mark as its own token next to "loss"/"err"
# (G_loss, loss_D, "G loss", errG, lossD, netG_loss), or the words themselves
# (Generator_loss, disc_loss, critic_loss).
_G_MARK = re.compile(r"(?:^|[/_\-. ])(?:g|gen|generator|netg)(?:[/_\-. ]|$)|(?:loss|err)_?g$|^g(?:loss|err)",
                     re.IGNORECASE)
_D_MARK = re.compile(r"(?:^|[/_\-. ])(?:d|disc|discriminator|critic|netd)(?:[/_\-. ]|$)|(?:loss|err)_?d$"
                     r"|^d(?:loss|err)", re.IGNORECASE)
_LOSSY = re.compile(r"loss|err", re.IGNORECASE)


def gan_pair(series: dict[str, Series]) -> tuple[str, str] | None:
    """The generator and discriminator loss tags of a GAN run, or ``None``.

    Both must be present and loss-like (``loss`` or ``err`` in the name, not an eval
    metric); among several (``D_loss_real``, ``D_loss_fake``, ``D_loss``) the shortest name
    is the total. Args: tag -> series. Returns ``(generator_tag, discriminator_tag)``.
    """
    gs, ds = [], []
    for tag, s in series.items():
        if not _LOSSY.search(tag) or _is_eval(tag) or len(s) == 0:
            continue
        words = tag.lower().replace("generator", " g ").replace("discriminator", " d ")
        is_g, is_d = bool(_G_MARK.search(tag) or " g " in words), bool(_D_MARK.search(tag) or " d " in words)
        if is_g and not is_d:
            gs.append(tag)
        elif is_d and not is_g:
            ds.append(tag)
    if not gs or not ds:
        return None
    pick = lambda tags: sorted(tags, key=lambda t: (len(t), t))[0]  # noqa: E731
    return pick(gs), pick(ds)


def resolve(data: RunData, overrides: dict[str, str] | None = None,
            origins: Mapping[str, str] | None = None) -> ResolvedRun:
    """Assign roles to the series of a run.

    Args:
        data: the run's series by tag.
        overrides: role -> tag from ``--loss``, ``--eval-loss``, ``--grad-norm``, ``--lr``
            or the configuration's ``[metrics]``.
        origins: role -> what set its override, as the user wrote it, named when the tag is
            missing (default: the flag, ``--loss 'tag'``).
    Returns:
        A :class:`ResolvedRun`. When there is no training loss but an eval loss, the eval loss
        is still analysed (``loss`` stays empty). A GAN (:func:`gan_pair`) gets its generator
        loss as ``loss`` and its discriminator loss as ``disc_loss``.
    Raises:
        UsageError: an override names a tag the run does not have.
        NoLossMetric: no series can serve as a training or eval loss.
    """
    roles: dict[str, RoleAssignment] = {}
    taken: set[str] = set()
    for role, tag in (overrides or {}).items():
        if not tag:
            continue
        if tag not in data.series:
            avail = ", ".join(sorted(data.series)[:20])
            said = (origins or {}).get(role) or f"--{role.replace('_', '-')} {tag!r}"
            raise UsageError(data.path, f"{said}: no such metric (have: {avail})")
        roles[role] = RoleAssignment(role, data.series[tag], "flag")
        taken.add(tag)
    pair = gan_pair(data.series)
    if pair is not None and "loss" not in roles and pair[1] not in taken:
        # a GAN: the generator's loss is the training loss, the discriminator's its adversary
        roles["loss"] = RoleAssignment("loss", data.series[pair[0]], "name")
        roles["disc_loss"] = RoleAssignment("disc_loss", data.series[pair[1]], "name")
        taken.update(pair)
    for role in EXACT:
        if role in roles:
            continue
        s = _pick(role, data.series, taken)
        if s is not None:
            roles[role] = RoleAssignment(role, s, "name")
            taken.add(s.tag)
    if ("loss" in roles and "eval_loss" in roles and roles["eval_loss"].reason == "name"
            and _eval_part(data.series, roles["loss"].series.tag, roles["eval_loss"].series.tag)):
        # the evaluation prints only the parts of a loss whose total the training prints: a
        # part is not the eval loss (it stays a component)
        taken.discard(roles.pop("eval_loss").series.tag)
    if "loss" not in roles and "eval_loss" not in roles:
        avail = ", ".join(sorted(data.series)[:12]) or "none"
        raise NoLossMetric(data.path, f"no training or eval loss among the metrics (have: {avail}); "
                           "name one with --loss TAG")
    components = [s for k, s in sorted(data.series.items())
                  if k not in taken and "loss" in k.lower() and len(s) > 0
                  and np.isfinite(s.values).any()]
    return ResolvedRun(data, roles, components)

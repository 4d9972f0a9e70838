"""Generic key/value extraction from plain-text training-log lines (a helper of
:mod:`losscheck.readers.text_logs`, which tries its fixed layouts first and hands every
line they do not use to :class:`KVExtractor`).

On each line the extractor looks for

- a **counter**: ``epoch``/``Epoch``/``EPOCH``/``ep=``, ``step``, ``global_step``,
  ``global step``, ``iteration``, ``iterations:``, ``iter``, ``iters:``, ``it=``, ``update``, ``num_updates``,
  ``batch``, followed by an integer, optionally ``N/M``, ``[N/M]`` or ``N of M`` (the name may
  carry its own label, ``epoch/epochs:6/10``, ``step/total_step: 5/60``, or an index suffix, ``batch_id``/``batch_idx``;
  it may follow a banner of dashes, ``-----Iteration: 3000-----``, and end a sentence,
  ``Batch 10. loss: ..``); an epoch's position after spaces (``epoch 010  2000 / 8223``); the bracket forms ``Epoch [2][400/556]``,
  ``Epoch(val) [2][500]``, ``Iter [400/10000]``, ``Epoch: [3][100/5005]``; timm's
  ``Train: 3 [ 100/1251 (8%)]`` / ``Test: [ 50/196]``; Swin's ``Train: [29/300][2670/2859]``;
  fairseq's ``epoch 001:    100 / 1234``; OpenNMT-py's ``Epoch  1, 12850/37527;``; DCGAN's
  ``[3/5][100/1583]``; ESPnet2's ``15epoch:train:751-1125batch:`` (the end of the batch
  range is the position in the epoch) and ``15epoch results: [train] .. [valid] ..``;
  and, when nothing else counts on the line, a bare number right
  before its metrics: ``[21500] | loss 7.6`` or ``[ 3/100] loss: ..`` (a step), ``33 154 Loss=0.3`` (one integer: a
  step; two: an epoch and a step or batch index);
- **metric pairs**: ``name: value``, ``name=value`` (also ``name=[value]``), and
  ``name value`` inside ``|``- or tab-separated fields, or when the name is a known metric
  word (``loss``, ``*loss*``, ``acc*``, ``lr``, ``ppl``, ``gnorm``...; ``train loss 2.1``);
  ``name is value`` when a word of the name is a known metric word (PaddlePaddle examples'
  ``avg loss so far is 0.11``, ``current lr is 0.001``; a leading ``the``/``and`` is
  dropped); a learning-rate change ``learning rate 0.0002 -> 0.0001`` (the new value); a
  counted line of comma-separated fields, a name field then a number field (``epoch 1, step 10,
  loss_train, 0.838``); a line that is a comma-separated list of ``name value`` items, a ``label:`` naming the group
  after it (``64: nGT 42, recall 1, loss: x 27.0, y 28.6, total 1711906.1``: ``loss_x``,
  ``loss_y``, ``total_loss``; see :func:`_comma_list`).
  Names may have up to 4 words (6 inside ``|`` fields: Megatron's ``elapsed time per
  iteration (ms)``), may be written in Chinese (``训练损失``, ``验证损失``: the role
  resolver knows those words); they are stripped and their spaces collapsed, and leading log-level
  words (``INFO``) are dropped. A value followed by a parenthesised running mean
  (``Loss: 6.12 (6.45)``) gives the first number. A value with a unit (``5s``, ``2.1G``,
  ``92%``) is kept under its name, except for a loss-like name (then it is dropped).
  A ``N/M`` fraction is never a value. Counter names, ``eta``, ``pid``, ``rank``... are not
  metrics. Dates, clock times and durations (``2023-05-01 12:00:01,123``, ``eta: 1:23:45``),
  glog headers (``I0501 12:00:01.123 4242``, thread id included), ``file.py:123`` and
  ``(module:123)`` locations
  and version / IP strings are masked before anything is read, so they never become a step
  or a metric; PaddlePaddle's padded ``nanxxx`` / ``infxxx`` (its ``{:x<6f}`` format) are
  read as ``nan`` / ``inf``. When the same names come a second time on one line (CenterNet's
  logger: ``epoch: 35 |loss 0.30 | hm_loss 0.47 | ... | loss 0.18 | hm_loss 1.50 |``), the
  second group is an evaluation pass (at least two names repeated): ``val/`` (or the mode
  word printed before it, ``test: loss: ..`` -> ``test/``). In pytorch-CycleGAN-and-pix2pix's
  (and pix2pixHD's, SPADE's) ``(epoch: 3, iters: 100, time: 0.12, data: 0.01) D_A: 0.2 G_A:
  0.5 cycle_A: 1.1 ...`` every name after the parenthesised group is a loss: it gets the
  model's attribute name ``loss_D_A``, ``loss_G_A``... (so that the resolver finds the
  generator and discriminator). Lines of wandb's own console output (``wandb: ...``, its
  end-of-run summary of last values) are not read.
- whole-line layouts: darknet ``1: 800.2, 800.2 avg loss, 0.001 rate, 1.2 seconds, 64 images``
  (also ``... avg, ...``; tags ``batch loss``, ``avg loss``, ``lr``, ``seconds``, ``images``:
  the smoothed ``avg loss`` is the loss darknet's users watch, its README's "the lower, the
  better", and fills the training-loss role); whitespace tables (a header row of names whose
  first name is a counter, ``Epoch GPU_mem box_loss ...``, then rows of as many numbers, the
  first possibly ``N/M``, a tqdm tail after ``:`` allowed; rows above the first header, an
  excerpt cut under a header it does not show, are read with the first header; the rows of
  one table print their counter one way, so under YOLOv5's ``3/299`` epochs a row opening with
  a bare number, a per-class validation row of a class named ``40``, is not a row), and the
  ultralytics / YOLOv5 validation row ``all 500 2345 0.61 0.53 0.57 0.39`` under a
  ``Class Images Instances Box(P R mAP50 mAP50-95)`` header (tags
  ``metrics/precision(B)``, ``metrics/recall(B)``, ``metrics/mAP50(B)``,
  ``metrics/mAP50-95(B)``; YOLOv5: ``metrics/precision``, ``metrics/mAP_0.5``...); the
  headerless rows of YOLOv5's (< v6) / YOLOv7's ``results.txt`` (15 cells, ``3/149  13.5G``
  first: see :meth:`KVExtractor._results_row`; tags as YOLOv5's ``results.csv``,
  ``train/box_loss``... ``val/cls_loss``, the total loss ``train/loss``); a header of
  tab-separated names without a counter column (``total loss<TAB>score loss<TAB>...``) and
  rows of as many numbers: the n-th row is step n (from 0, with a note).

More forms (issue 11's second blind collection): ``'loss': '0.80'`` quoted pairs; possessive
data-set names (LightGBM's ``valid_1's binary_logloss``); lines of only ``nan`` values; a
labelled bracket group that repeats the line's names (``loss[loss=..], tot_loss[loss=..]``)
is that group's (``tot_loss/loss``), not an evaluation pass; tab-separated or markdown tables
with a header row and a counter column anywhere (``| Training Loss | Epoch | Step | ..``,
empty ``No log`` cells), a duration cell (fastai's ``00:12``) skipped in a whitespace table;
key/value boxes (stable-baselines3: a dashed frame, ``| train/ |`` sections, ``| loss |
0.01 |`` rows; one record per box, step = its ``total_timesteps`` row); a short section title
without numbers or metric words (``Test Error:``, ``Evaluation Results:``, ``testing in eval
mode``, ``Eval epoch: 4``) makes the metric lines right under it (within 3 lines) evaluation
values, until a counted line follows them or a training title (``Training epoch: 5``);
evaluation names that differ only in case and separators are one tag. A log without any
counter whose lines are bare ``name: value`` pairs is claimed once a loss name opens such a
line twice.

More forms (the eighth blind collection): a learning rate named by two words before its value
or in a sentence (``Learning Rate 7.000e-05``, ``Learning rate is 0.01``); a value ending a
sentence (``trained with loss: 0.0196. The running time ..``; ``1.09e-05.`` keeps its
exponent); Chinese prints with full-width punctuation (``训练次数：100, Loss：1.98``: the step
count, ``迭代次数`` the iteration count and ``第 N 轮`` round N are counters); and a loss
whose epoch is printed again on a later line with another value is counted
(:attr:`KVResult.reprinted`: the later value is kept, the reader warns).

Renamed names (so that the role resolver finds them): ``learning rate`` -> ``learning_rate``,
``total loss`` -> ``total_loss`` (else, with no ``loss`` printed, the shortest component name
would be taken for the training loss),
``gnorm`` -> ``grad_norm``, darknet ``rate`` -> ``lr``, YOLOv5 console ``box``/``obj``/``cls``
(under a ``gpu_mem`` header) -> ``box_loss``/``obj_loss``/``cls_loss``, Megatron's
``lm loss value`` / ``lm loss PPL`` -> ``lm loss`` / ``lm ppl``.

Evaluation lines get a prefix on names that carry no train/eval word of their own:
``Epoch(val)``/``Iter(val)`` -> ``val/``; timm ``Test:`` -> ``test/`` (the value in
parentheses, the running mean, is used: the last line of a pass gives the pass average);
fairseq ``valid on 'valid' subset`` -> ``valid/``; a line starting with ``Validation``,
``Val``, ``Valid``, ``Test``, ``Eval``, ``Dev`` (before any counter or metric) -> ``val/``,
``val/``, ``valid/``, ``test/``, ``eval/``, ``dev/``. A fairseq end-of-epoch training summary
(an epoch, ``num_updates`` and no ``i / n``) from its ``train`` logger (fairseq >= 0.10, where
``train_inner`` lines average only the last interval) gets ``train/``; a legacy summary
(``| epoch 008 | loss 6.3 | ...``, no logger name) is the last value of the running epoch mean
its inner lines print, and joins their series. A Caffe test pass whose loss outputs carry
their weighted contribution (``loss_c = 3.28 (* 1 = 3.28 loss)``, two or more of them, none
named ``loss``) also gets ``test/loss``, the sum of the contributions: the test net's total,
which Caffe does not print, defined as the training loss it prints (with a note).

Steps (resolved when the file has been read, :meth:`KVExtractor.finish`):

- an explicit global counter (``step``, ``global_step``, ``iteration``, ``num_updates``...)
  is the step (``iteration 100/10000``: 100);
- an epoch with a within-epoch ``i/n`` (``Epoch [2][400/556]``, ``[Batch 100/938]``, fairseq,
  timm, DCGAN) gives ``(epoch - offset) * n + i`` where ``offset`` is 0 when the smallest
  epoch printed is 0, else 1; when ``n`` is never printed it is estimated as the largest
  ``i`` + 1 (with a note); a line printing another ``n`` than the file's largest is placed
  with the largest, after the epoch's previous line. An epoch with a ``step``/``iter`` counter is read as global unless
  that counter starts again when the epoch changes (then it is the within-epoch ``i``);
- a ``batch`` counter without an epoch is chained across restarts like tqdm bars;
- a counter alone on a line is a header for the lines under it when it is capitalised,
  ``N/M``, or ends with a colon (``Epoch 3/10``, ``epoch 3:``); a progress line without a
  counter right under an epoch header (a percentage beside a drawn bar or the word
  ``progress``: ``| Progress [####    ][22.41%] | Loss 7.4 |``) is a line of that epoch;
- epoch-only lines give ``step_unit="epoch"`` (step = the epoch as printed); when the same
  metric is printed on several lines per epoch, the line order is used instead (unit
  ``step``, with a note). In a file that also has step counters, an epoch-only line is put
  at the end of that epoch (``(epoch - offset + 1) * n``, or the last step seen), and a
  training metric that also exists per step gets the suffix ``_epoch``;
- evaluation lines are put at the end of the current epoch (or at the last step);
- a line without a counter takes the position of the last counter line (only once a counted
  metric line, an epoch header or a counter line announcing an evaluation, Caffe's
  ``Iteration 800, Testing net (#0)``, was seen, and only with an evaluation prefix or a
  loss/accuracy-like name), unless all its metrics were printed on the counted lines of that
  position, same value under the same name but for case and separators (a note restating
  them: ``saving best model (val_loss=3.2508)`` under
  ``Epoch 1/100 - Train Loss: 4.05, Val Loss: 3.2508``); the sniff counts such a loss line
  under a header line, or at most 3 lines under a counter line when its loss name comes back
  with another value (``End of epoch 3 / 100 | Time Taken: 5 sec`` / ``Generator Loss:
  2985.5``); a file without any counter numbers its groups of metric lines 0, 1, 2... (a
  group: lines that print no name twice, from the first loss line on)
  (the sniff counts such lines when a date-time stamp opens them and their loss name comes
  back: python-logging output, not a logged config dump);
- points of one tag that land on the same step one after the other keep the last value
  (the last ``\\r``-overwritten progress state of an epoch is the epoch's value).

Every regular expression here is linear in the line length: quantified name parts are
capped and anchored with look-behinds, and no quantified group can match the same text in
two ways.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from losscheck.roles import LOSS_FUNCTIONS, LOSS_ZH, is_loss_name

NUM = r"(?:[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[Nn][Aa][Nn]|[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?))"
_UNIT = r"(?:%|[A-Za-z]{1,12}(?:/[A-Za-z]{1,12})?)"
_W = (r"[A-Za-z_\u4e00-\u9fff][\w.@%\-/]{0,80}"  # (a name may be in Chinese: 训练损失)
      r"(?:\([\w.@%\-/]{0,40}(?:\([\w.@%\-/]{0,40}\)[\w.@%\-/]{0,40})?\))?")
#: a name's words are one space apart, or two after a split word (``Train  Loss: 0.55``, a
#: format string padded to line up with ``Valid Loss``; blind7 text-log set)
_GAP = r"(?: |(?:(?<=[Tt]rain)|(?<=TRAIN)|(?<=[Vv]al)|(?<=VAL)|(?<=[Tt]est)|(?<=TEST)|(?<=[Vv]alid)|(?<=[Ee]val))  )"
_NAME = rf"{_W}(?:{_GAP}(?:{_W}|\({_W}\))){{0,5}}"
_NB = r"(?<![\w.@%\-/])"  # a name starts at a word boundary
_MEAN = rf"(?:\s{{0,8}}\(\s{{0,8}}(?P<m>{NUM})\s{{0,8}}\))?"

# ----------------------------------------------------------------------------- cleaning

#: an ANSI colour (SGR) code without its ESC byte, as issue pastes leave them: ``[1m``, ``[0m``, ``[1;32m``
_ORPHAN_SGR = re.compile(r"(?<!\x1b)\[(?:\d{1,3};){0,4}\d{1,3}m")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)?|\x1b[@-_]?")
_COMMENT = re.compile(r"\s(?:#\s|<-|//\s)")
# a python ``warnings`` message (``/path/x.py:238: UserWarning: ...``) that stderr wrote into a
# line stdout had not ended yet (``iter 10 || Loss: 2.3 || /path/aug.py:238: VisibleDeprecation...``)
_PYWARN = re.compile(r"(?<!\S)\S{0,300}?\.py:\d{1,7}: [A-Za-z_][\w.]{0,80}?Warning:")

# what never is a step or a metric: dates and clock times / durations; glog headers;
# ``file.py:123`` locations; version and IP strings; tqdm bars (each gated by a substring test)
_MASK_DT = re.compile(
    r"(?<![\w.])\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"(?:[T_ ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}(?!\d))?(?!\d)"
    r"|(?<![\w.@:])\d{1,3}:\d{2}(?::\d{2})?(?:[.,]\d{1,9})?(?!\d)(?:\s?[AaPp][Mm](?![A-Za-z]))?")
_MASK_GLOG = re.compile(r"(?<!\w)[IWEF]\d{4}(?:[ \t]{1,4}\d{1,2}:\d{2}:\d{2}(?:\.\d{1,9})?[ \t]{1,20}\d{1,20})?"
                        r"(?=[ \t])")
# PaddlePaddle's ``{:x<6f}`` fill: ``nan``/``inf`` padded with ``x`` to the field width (``nanxxx``)
_MASK_PAD = re.compile(r"(?<![\w.])(?:[Nn][Aa][Nn]|[Ii][Nn][Ff])(?P<x>x{1,8})(?![\w.])")
# a date-time stamp opening a line (python logging, loguru...): such a line is a log line
_STAMP = re.compile(r"\s{0,8}\[?\s{0,4}\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[T_ ]\d{1,2}:\d{2}")
_MASK_FILE = re.compile(
    r"(?<![\w.\-])[\w.\-]{1,100}\.(?:py|pyx|cc|cpp|cxx|c|h|hpp|cu|java|go|rs|js|ts|lua|scala|jl)"
    r"(?::\d{1,7}){1,2}(?::[\w<>]{1,60})?\]?")
# python logging's "(%(module)s:%(lineno)d)" location (ESPnet: "(trainer:486) INFO:")
_MASK_MODLINE = re.compile(r"\((?P<n>[A-Za-z_][\w.]{0,60}):\d{1,7}\)")
_MASK_VER = re.compile(r"(?<![\w.])\d{1,5}(?:\.\d{1,5}){2,}(?![\d.])")
_MASK_BAR = re.compile(r"\d{1,3}%\|[^|]{0,400}\|")
# quoted pairs (``'loss': '0.80'``, ``"lr"=0.1``; PaddleDetection 0.x prints its losses as a
# dict's items): the quotes around a name before ``:``/``=`` and around a number after it
_QUOTED_KEY = re.compile(r"(?P<q>['\"])[A-Za-z_][\w.@/\-]{0,80}(?P=q)(?=\s{0,5}[:=])")
_QUOTED_VALUE = re.compile(rf"[:=]\s{{0,5}}(?P<q>['\"]){NUM}(?P=q)")


_POSSESSIVE = re.compile(r"(?<=[A-Za-z0-9_])'s(?= [A-Za-z_])")


def _backspaces(s: str) -> str:
    """Apply ``\\b`` like a terminal: the cursor moves back and later characters overwrite."""
    buf: list[str] = []
    cur = 0
    for ch in s:
        if ch == "\x08":
            cur = max(0, cur - 1)
        elif cur < len(buf):
            buf[cur] = ch
            cur += 1
        else:
            buf.append(ch)
            cur += 1
    return "".join(buf)


def _unquote(s: str) -> str:
    """``s`` without a leading markdown / e-mail quote mark (``> ``, ``>> ``, ``> > ``), as
    logs pasted into issue threads are quoted; a ``>`` followed by anything but a space,
    another ``>`` or the line end (``>0.5``) is kept."""
    i = j = len(s) - len(s.lstrip(" "))
    if i > 3:
        return s
    while s[j:j + 1] == ">":
        if s[j + 1:j + 2] not in (" ", ">", ""):
            return s
        j += 1
        if s[j:j + 1] == " ":
            j += 1
    return s[j:]


#: full-width punctuation of Chinese / Japanese text (``Loss：1.98``, ``训练次数：100，``) -> ASCII
_FULLWIDTH = str.maketrans({"\uff1a": ": ", "\uff0c": ", ", "\uff1b": "; ", "\uff1d": "=", "\uff08": "(",
                            "\uff09": ")", "\uff5c": "|"})
#: Chinese counter words (``训练次数：100`` training step count, ``迭代次数`` iteration count,
#: ``第 3 轮`` round/epoch 3) -> the English counter the grammar knows
_CJK_COUNTERS = (("训练次数", "step"), ("迭代次数", "iteration"), ("训练步数", "step"))
_CJK_EPOCH = re.compile(r"第\s{0,3}(\d{1,9})\s{0,3}(?:轮|个epoch|个 epoch)")


def _cjk(part: str) -> str:
    """``part`` with full-width punctuation in ASCII and Chinese counter words in English
    (``训练次数：100, Loss：1.98`` -> ``step: 100, Loss: 1.98``; ``第 1 轮训练开始`` -> ``epoch 1
    训练开始``). Source: blind8 text-log set (a Chinese PyTorch tutorial's prints)."""
    part = part.translate(_FULLWIDTH)
    for zh, en in _CJK_COUNTERS:
        if zh in part:
            part = part.replace(zh, f" {en}")
    if "第" in part:
        part = _CJK_EPOCH.sub(r" epoch \1 ", part)
    return part


def clean_line(part: str) -> str:
    """One display line as a terminal would show it, ready for parsing.

    ``part`` is a piece of a physical line between carriage returns (the caller splits on
    ``\\r``). A leading quote mark (``> ``) is dropped, ANSI escape sequences are removed (and
    colour codes that lost their escape byte in a paste, two or more on the line: ``[1m..[0m``),
    backspaces applied, a python warning that stderr wrote into the line
    (``... || /path/x.py:238: UserWarning: ...``) and a trailing comment or
    annotation (``  # after resume``, ``  <-- spike``, ``  // note``) cut off, and a
    possessive ``'s`` between two names dropped (LightGBM's ``valid_1's binary_logloss``).
    Never raises.
    """
    if not part.isascii():
        part = _cjk(part)
    if ">" in part[:8]:
        part = _unquote(part)
    if "\x1b" in part:
        part = _ANSI.sub("", part)
    if "m" in part and "[" in part:
        # colour codes whose escape byte a paste lost (``[36m05-07 ..[0m``, ``[1mValid Summary``):
        # removed when the line has two or more (a colour and its reset), so a lone ``[5m`` is kept
        found = _ORPHAN_SGR.findall(part)
        if len(found) >= 2:
            part = _ORPHAN_SGR.sub("", part)
    if "\x08" in part:
        part = _backspaces(part)
    if "Warning:" in part and ".py:" in part:
        m = _PYWARN.search(part)
        if m:
            part = part[:m.start()]
    if "#" in part or "<-" in part or "//" in part:
        m = _COMMENT.search(part)
        if m:
            part = part[:m.start()]
    if "'s " in part:  # a possessive data-set name (LightGBM's "valid_1's binary_logloss: 0.6")
        part = _POSSESSIVE.sub("", part)
    if "arn" in part:  # a warning tag glued after the metrics ("..Loss: 27.9][Warning] Skip
        # this batch! (Loss: 101.5)"): its message restates or reports values, not training points
        m = _MIDWARN.search(part)
        if m and part[:m.start()].strip():
            part = part[:m.start()]
    if "]:" in part:  # bracketed keys ("[epoch]: 3, [batch]: 200, [loss]: 4.9"): plain keys
        part = _BRACKET_KEY.sub(r"\g<k>:", part)
    if "/" in part and _TRAIN_VAL.search(part):
        # one name for two splits and two values (``train/val loss: 0.91 / 1.02``,
        # ``Loss(train/val) 0.91/1.02``): a pair per split, not the first value under a name
        # that says "val" (the training loss would be taken for the validation loss)
        part = _TRAIN_VAL.sub(_split_values, part)
    if "oss" in part and _BARE_SPLIT.search(part):
        # a bare split word right after a loss value (``loss: 0.91 (val 1.02)``, ``loss 0.91 --
        # val 1.02``, ``loss: 0.91  val: 1.02``): that split's loss, named so
        part = _BARE_SPLIT.sub(_bare_split, part)
    if "," in part:
        m = _THOUSANDS.search(part)
        if m and any(c.isalpha() for c in part):
            # thousands separators in a console line ("step 12,000 | tokens 1,234,567"): one
            # number each, not a list of small ones (a row of bare numbers is left alone)
            part = _THOUSANDS.sub(lambda t: t.group().replace(",", ""), part)
    return part


#: a loss-named value, then (only separators between) a bare evaluation split word and a
#: value: ``loss: 0.91 (val 1.02)``, ``Loss 0.91 -- test 1.02``, ``train loss: 0.91  val: 1.02``
_BARE_SPLIT = re.compile(
    rf"(?<![\w/.\-])(?P<k>[A-Za-z][\w]{{0,30}}(?:[ _](?:loss|Loss|LOSS))?)(?P<sep1>[ \t]{{0,3}}[:=]?[ \t]{{0,3}})"
    rf"(?P<v1>{NUM})(?P<mid>[ \t]{{0,4}}[,;|(\-]{{0,2}}[ \t]{{0,4}})"
    rf"(?P<w>validation|valid|val|testing|test|eval|dev)(?P<sep2>[ \t]{{0,3}}[:=]?[ \t]{{0,3}})"
    rf"(?P<v2>{NUM})(?![\w.])", re.I)


def _bare_split(m: re.Match) -> str:
    """The :data:`_BARE_SPLIT` match ``m`` with the split word named as the split's loss
    (``val loss: 1.02``), when the first name is a loss (left as printed otherwise)."""
    k = m.group("k")
    if not is_loss_name(k) or not m.group("mid").strip(" \t") and not m.group("sep2").strip():
        return m.group()
    words = k.replace("_", " ").split()
    base = " ".join(w for w in words if w.lower() not in ("train", "training", "trn", "tr")) or "loss"
    return (f"{k}{m.group('sep1')}{m.group('v1')}{m.group('mid')}{m.group('w')} {base}: {m.group('v2')}")


#: a name for two splits followed by two values: ``train/val loss: 0.9 / 1.0``, ``Loss
#: (train/val): 0.9/1.0``, ``loss train/test 0.9/1.0`` (the name before or after the splits)
_TRAIN_VAL = re.compile(
    rf"(?<![\w/])(?:(?P<pre>[A-Za-z][\w]{{0,30}})[ \t]{{0,3}}[(\[]?[ \t]{{0,3}})?"
    rf"(?P<a>train(?:ing)?|trn)[ \t]{{0,2}}/[ \t]{{0,2}}(?P<b>val(?:id(?:ation)?)?|test|eval|dev)[)\]]?"
    rf"(?:[ \t]{{1,3}}(?P<post>[A-Za-z][\w]{{0,30}}))?[ \t]{{0,3}}[:=]?[ \t]{{0,3}}"
    rf"(?P<v1>{NUM})[ \t]{{0,3}}/[ \t]{{0,3}}(?P<v2>{NUM})(?![\w./])", re.I)


def _split_values(m: re.Match) -> str:
    """The :data:`_TRAIN_VAL` match ``m`` as two pairs (``train loss: 0.9, val loss: 1.0``); left
    as printed when no name is there (``train/val: 0.9/1.0``)."""
    base = m.group("pre") or m.group("post")
    if not base:
        return m.group()
    return f"{m.group('a')} {base}: {m.group('v1')}, {m.group('b')} {base}: {m.group('v2')}"


#: a number written with thousands separators (``12,000``, ``1,234,567.5``): groups of exactly
#: three digits after each comma, no space, and no word, digit, comma, point or colon around it
#: (``12:00:01,123``: a clock time's milliseconds)
_THOUSANDS = re.compile(r"(?<![\w.,:])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w,.:])")


#: a bracketed warning tag (``[Warning]``, ``[WARN]``) after other text on a line
_MIDWARN = re.compile(r"\[(?:warning|warn)\]", re.I)

#: a key written in square brackets right before its colon (``[loss]: 4.9``); the name must
#: start with a letter, so a counter group (``[3/10]:``) or an index (``[0]:``) is left alone
_BRACKET_KEY = re.compile(r"\[(?P<k>[A-Za-z][A-Za-z0-9_ ]{0,40})\]:")


# ----------------------------------------------------------------------------- vocabulary

_EPOCH_WORDS = {"epoch", "ep"}
_GLOBAL_WORDS = {"global_step", "global step", "num_updates"}
#: (an RL log's ``Episode 50`` is its step: one point per printed episode)
_STEP_WORDS = {"step", "steps", "iter", "iteration", "update", "it", "episode"}
_BATCH_WORDS = {"batch"}
_NEEDS_SEP = {"ep", "it", "steps", "iters", "iterations"}

_LEVELS = {"info", "debug", "warning", "warn", "error", "critical", "trace", "notice"}
_SKIP = ({"eta", "pid", "tid", "ppid", "rank", "local_rank", "global_rank", "node_rank", "world_size",
          "world size", "node", "gpu", "gpus", "device", "port", "ip", "line", "lineno", "thread",
          "process", "worker", "workers", "num_workers", "v_num", "seed", "date", "version",
          "epochs", "num_epochs", "n_epochs", "max_epochs", "total_steps", "max_steps", "iters",
          "iterations", "batches"}
         | _EPOCH_WORDS | _GLOBAL_WORDS | _STEP_WORDS | _BATCH_WORDS)
_RENAME = {"learning rate": "learning_rate", "gnorm": "grad_norm", "total loss": "total_loss"}
_KNOWN = {"xent", "acc", "accuracy", "top1", "top5", "lr", "learning_rate", "ppl", "perplexity", "gnorm",
          "grad_norm", "gradnorm", "wps", "ups", "wpb", "bsz", "bleu", "wer", "cer", "f1", "auc",
          "map", "miou", "iou", "psnr", "ssim", "cost"}  # (``Cost 528.1``: a Theano-era objective)
_QUALIFIERS = {"train", "training", "val", "valid", "validation", "test", "eval", "dev", "avg",
               "average", "mean", "total", "running", "epoch", "batch", "smoothed"}
_MODE_TOKENS = {"train", "training", "val", "valid", "validation", "eval", "evaluation", "test",
                "testing", "dev"}
_MODE_PREFIX = {"validation": "val/", "validating": "val/", "val": "val/", "valid": "valid/",
                "test": "test/", "testing": "test/", "eval": "eval/", "evaluation": "eval/",
                "evaluating": "eval/", "dev": "dev/", "train": "", "training": ""}
_TOK = re.compile(r"[/_\-. ()@]+")


def _known_word(word: str) -> bool:
    low = word.lower()
    return "loss" in low or low in _KNOWN or low.startswith("acc")


def _has_mode_token(name: str) -> bool:
    return any(t in _MODE_TOKENS for t in _TOK.split(name.lower()))


# ----------------------------------------------------------------------------- counters

# A counter: its word may follow a banner of dashes (``-----Iteration: 3000-----``; one dash
# before it is a compound, ``pre-epoch``), carry an index suffix (``batch_id: 500``,
# ``batch_idx``), be followed by ``N/M``, ``[N/M]`` or ``N of M`` (``EPOCH 3 of 30``), and
# end with a sentence's period (``Batch   10. loss: 2.3``; ``step 1.5`` is no counter).
_CTR = re.compile(
    r"(?<![\w.@%/])(?:(?<=--)|(?<!-))"
    r"(?P<k>global[_ ]step|num_updates|iterations|iteration|iters|iter|steps|step|update|episode|epoch|batch"
    r"|ep|it)"
    r"(?:/(?:total[_ ]|max[_ ]|num[_ ]|all[_ ])?(?P=k)(?:e?s)?)?(?:_(?:id|idx|index|no))?(?![\w(])(?:\s{0,20}(?P<sep>[:=#]))?\s{0,40}"
    r"(?:\[\s{0,20}(?P<a>\d{1,12})\s{0,20}(?:/\s{0,20}(?P<b>\d{1,12})\s{0,20})?\]"
    r"|(?P<c>\d{1,12})(?:\s{0,20}(?:/|(?<=\s)of(?=\s))\s{0,20}(?P<d>\d{1,12}))?)(?![\d\w]|\.\d)", re.I)
# the within-epoch position after an epoch counter: ``[400/556]``, ``[12800/45000 (28%)]``,
# ``: 100/1234``, or ``  2000 / 8223`` after spaces only (legacy fairseq ``| epoch 010  2000 / 8223``)
_WITHIN = re.compile(
    r"\s{0,20}(?:\[\s{0,20}(?P<i>\d{1,12})\s{0,20}(?:/\s{0,20}(?P<n>\d{1,12})\s{0,20})?"
    r"(?:\(\s{0,5}\d{1,3}(?:\.\d{1,3})?%\s{0,5}\)\s{0,5})?\]"
    r"|(?:[:,]\s{0,40}|(?<=\s))(?P<i2>\d{1,12})\s{0,20}/\s{0,20}(?P<n2>\d{1,12})(?![\d.\w]))")
_MMC = re.compile(
    _NB + r"(?P<k>Epoch|Iter|Iteration|Step)(?:\s{0,20}\((?P<mode>[A-Za-z]{1,12})\))?(?:\s{0,20}:)?"
    r"\s{0,20}\[\s{0,20}(?P<a>\d{1,12})\s{0,20}(?:/\s{0,20}(?P<b>\d{1,12})\s{0,20})?\]"
    r"(?:\s{0,20}\[\s{0,20}(?P<i>\d{1,12})\s{0,20}(?:/\s{0,20}(?P<n>\d{1,12})\s{0,20})?\])?", re.I)
_TIMM = re.compile(
    _NB + r"(?P<mode>Train|Test|Eval|Val|Valid|Validation)(?:\s{0,20}\([^()\[\]:]{0,30}\))?"
    r"\s{0,20}:\s{0,20}(?:(?P<ep>\d{1,9})\s{0,20})?\[\s{0,20}(?P<i>\d{1,12})\s{0,20}/"
    r"\s{0,20}(?P<n>\d{1,12})(?:\s{0,20}\]\s{0,20}\[\s{0,20}(?P<i2>\d{1,12})\s{0,20}/\s{0,20}"
    r"(?P<n2>\d{1,12}))?", re.I)
# a bare counter opening the message: ``[21500] | loss 7.6`` (a step), ``333 154 Loss=nan``
# (one integer: a step; two: an epoch and a step / batch index)
_LEADCTR = re.compile(r"(?:\[\s{0,5}(?P<s>\d{1,12})\s{0,5}(?:/\s{0,5}\d{1,12}\s{0,5})?\]"
                      r"|(?P<x>\d{1,12})(?:[ \t]{1,20}(?P<y>\d{1,12}))?)"
                      r"(?=[ \t|:,-]{0,20}[A-Za-z])")
_DCGAN = re.compile(
    r"(?<![\w\]])\[\s{0,20}(?P<ep>\d{1,9})\s{0,20}/\s{0,20}\d{1,9}\s{0,20}\]\s{0,20}"
    r"\[\s{0,20}(?P<i>\d{1,12})\s{0,20}/\s{0,20}(?P<n>\d{1,12})\s{0,20}\]")
# ESPnet2's trainer: "15epoch:train:751-1125batch: loss=1.3, ..." (the epoch, then the range of
# batches of that epoch the values average: its end is the position) and its epoch summary
# "15epoch results: [train] loss=1.3, ... [valid] loss=1.2, ..."
_ESPNET2 = re.compile(r"(?<![\w.])(?P<ep>\d{1,9})epoch(?::(?P<mode>[A-Za-z]{1,12}):\d{1,12}-(?P<b>\d{1,12})batch:?"
                      r"| results:)")
_CAFFE_WEIGHTED = re.compile(rf"\(\*\s{{0,5}}{NUM}\s{{0,5}}=\s{{0,5}}(?P<c>{NUM})\s{{0,5}}loss\)")
_DARKNET = re.compile(
    rf"\s*(?P<s>\d{{1,12}})\s*:\s*(?P<l>{NUM})\s*,\s*(?P<a>{NUM})\s+avg(?: loss)?\s*,"
    rf"\s*(?P<r>{NUM})\s+rate\s*,\s*(?P<t>{NUM})\s+seconds?\s*,\s*(?P<im>\d{{1,12}})\s+images")
_SUBSET = re.compile(r"\bvalid on '(?P<s>[\w./-]{1,40})' subset")
_LEAD = re.compile(r"(?<![\w/.\-])(?P<w>validation|validating|valid|val|testing|test|evaluation|"
                   r"evaluating|eval|dev|training|train)(?![\w/.\-])", re.I)

# ----------------------------------------------------------------------------- pairs

#: where a value ends: not inside a word, a path or a longer number; a sentence's full stop may
#: follow it (``trained with loss: 0.0196. The running time is ..``: the line was not read, and
#: ``dice: 1.09e-05.`` was read as 1.09 with the unit ``e``)
_END = r"(?![\w@/]|\.(?![ \t]|$))"
_PAIR = re.compile(
    _NB + rf"(?P<k>{_NAME})\s{{0,20}}[:=]\s{{0,20}}\[?(?P<v>{NUM})(?P<u>{_UNIT})?{_END}" + _MEAN)
_FIELD = re.compile(rf"\s*(?P<k>{_NAME})\s{{1,40}}(?P<v>{NUM})(?P<u>{_UNIT})?(?![\w.@/])" + _MEAN + r"\s*")
# "name is value" (a sentence-like print: "Epoch 3, Step 25, avg loss so far is 0.11"); a
# sentence's final period may follow the value
_IS_PAIR = re.compile(_NB + rf"(?P<k>{_W}(?: {_W}){{0,3}}) is (?P<v>{NUM})(?P<u>{_UNIT})?(?!\.?[\w@/])" + _MEAN)
_ARTICLES = frozenset({"the", "a", "an", "and", "our", "my", "its", "so"})
# pytorch-CycleGAN-and-pix2pix's print_current_losses group (the losses follow it)
_VISUALIZER = re.compile(rf"\(epoch: \d{{1,9}}, iters: \d{{1,12}}, time: {NUM}(?:, data: {NUM})?\)")
# a learning-rate change (pytorch-CycleGAN-and-pix2pix: "learning rate 0.0002000 -> 0.0001000")
_LR_ARROW = re.compile(_NB + rf"(?P<k>learning[ _]rate|lr)\s{{0,5}}[:=]?\s{{0,5}}{NUM}\s{{0,5}}-{{1,2}}>\s{{0,5}}"
                       rf"(?P<v>{NUM})(?![\w.])", re.I)
_SPACE_PAIR = re.compile(
    _NB + rf"(?P<k>{_W}(?: {_W})?)\s{{1,20}}(?P<v>{NUM})(?P<u>{_UNIT})?{_END}" + _MEAN)
_DIGIT = re.compile(r"\d")
_NANINF = re.compile(r"(?<![A-Za-z])(?:nan|inf)", re.I)
_HINT_WORDS = ("loss", "xent", "acc", "lr", "learning", "ppl", "perplex", "norm", "wps", "ups", "wpb", "bsz", "bleu", "wer",
               "cer", "f1", "auc", "map", "iou", "psnr", "ssim", "top1", "top5", "cost")
_CTR_WORDS = ("epoch", "step", "iter", "batch", "update", "episode")
_TABLE_FIRST = frozenset({"epoch", "step", "iter", "iteration", "global_step", "class"})
_TABLE_CELL = re.compile(rf"(?P<v>{NUM})(?P<u>[A-Za-z%]{{0,3}})")
_TABLE_NAME = re.compile(r"[A-Za-z_][\w.@%\-/()]{0,60}")
_TABLE_CTR = re.compile(r"(?P<a>\d{1,12})(?:/(?P<b>\d{1,12}))?")
#: the 13 cells after ``epoch/last`` and GPU memory in a YOLOv5 (< v6) / YOLOv7 ``results.txt``
#: row, named as YOLOv5's ``results.csv`` names them (the total loss: ``train/loss``; the label
#: count and image size are not metrics)
_RESULTS_TXT = ("train/box_loss", "train/obj_loss", "train/cls_loss", "train/loss", "", "",
                "metrics/precision", "metrics/recall", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95",
                "val/box_loss", "val/obj_loss", "val/cls_loss")
_NUMBER = re.compile(NUM)
# a row of a key/value box: "|    loss        | 0.0123      |", "| train/      |             |"
_BOX_ROW = re.compile(r"\|(?P<k>[^|]{1,80})\|(?P<v>[^|]{0,40})\|")
#: rows of a key/value box that give its step, in order of preference
_BOX_COUNTERS = ("total_timesteps", "timesteps", "global_step", "step", "steps", "n_updates", "iterations")
_TIME_UNITS = frozenset({"s", "ms", "us", "sec", "min", "h", "hrs"})
_CLOCK_CELL = re.compile(r"\d{1,4}:\d{2}(?::\d{2})?")
_MD_RULE = re.compile(r":?-{2,}:?")
_EMPTY_CELLS = frozenset({"", "-", "--", "—", "no log", "n/a", "na", "none", "null"})
#: counter column names of a table with a header row
_GRID_COUNTERS = frozenset({"step", "steps", "global_step", "global step", "iteration", "iterations", "iter",
                            "iters", "epoch", "epochs", "update", "updates"})
_TSV_NAME = re.compile(r"[A-Za-z_\u4e00-\u9fff][\w.@%\-/() ]{0,80}")
_TQDM_TAIL = re.compile(r":?\s{1,40}\d{1,3}%\|")
_EARLY_ROWS = 64  # table rows kept before the first header


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each ``(start, end)`` span replaced by spaces (positions kept)."""
    if not spans:
        return text
    if len(spans) == 1:
        a, b = spans[0]
        return text[:a] + " " * max(0, b - a) + text[b:]
    out, last = [], 0
    for a, b in sorted(spans):
        if a < last:
            a = last
        out.append(text[last:a])
        out.append(" " * max(0, b - a))
        last = max(last, b)
    out.append(text[last:])
    return "".join(out)


@dataclass(slots=True)
class _Ctr:
    """The counters of one line (all ``None`` when there are none)."""

    ep: int | None = None
    idx: int | None = None  # within-epoch index
    n: int | None = None  # within-epoch total
    gs: int | None = None  # global step
    amb: int | None = None  # a step/iter counter beside an epoch: global or within-epoch
    amb_n: int | None = None
    bi: int | None = None  # a batch counter without an epoch
    bn: int | None = None
    mode: str | None = None  # eval prefix from the counter form (``val/``), "" for train
    use_mean: bool = False
    header: bool = False  # capitalised / N-of-M counter: an epoch header when alone on a line
    updates: bool = False  # fairseq's num_updates was the global step
    lead: int | None = None  # end of a bare leading counter (``[21500] |``, ``333 154``)
    start: int = 10 ** 9  # position of the first counter in the line

    def any(self) -> bool:
        return self.ep is not None or self.gs is not None or self.amb is not None or self.bi is not None


@dataclass(slots=True)
class _Rec:
    """One line's counters and metric pairs, in file order (resolved in ``finish``)."""

    line: int
    ctr: _Ctr
    pairs: list[tuple[str, float]]
    eval: bool = False
    table: bool = False
    kind: str = "none"
    step: float | None = None
    weighted: tuple[str, float] | None = None  # (eval prefix, Caffe's "(* w = c loss)" contribution c)
    indent: int = -1  # leading spaces of a free-text metric line (-1: not measured)


@dataclass
class KVResult:
    """What :meth:`KVExtractor.finish` found.

    Attributes:
        points: tag -> ``(steps, values)`` lists in file order (steps are global steps, or
            epochs for tags whose unit is ``"epoch"``).
        units: tag -> ``"step"`` or ``"epoch"``.
        notes: info messages (how steps were derived where they had to be guessed).
        used_lines: physical line numbers (0-based) that gave at least one point, or a
            counter / table header that positioned later lines.
    """

    points: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    used_lines: set[int] = field(default_factory=set)
    #: loss tag -> epochs whose epoch-only training line was followed by another line of the
    #: same epoch with a different value (the later one is kept: the earlier print is dropped)
    reprinted: dict[str, int] = field(default_factory=dict)


class KVExtractor:
    """Collects counters and ``name: value`` pairs from log lines; resolves steps at the end.

    Usage: :meth:`feed` every line a fixed layout did not use, :meth:`position` every line it
    did use (its counters still position later lines), then :meth:`finish` once. Units:
    steps are global optimisation steps unless the whole file counts only epochs (see the
    module docstring). Nothing here raises on any input text.

    Attributes:
        loss_lines: number of distinct physical lines so far with a counter and a loss-like
            metric (what the sniff counts).
        layout_lines: how many of those are lines of a known layout read here (the
            ``(epoch: N, iters: N, time: T)`` losses of pytorch-CycleGAN-and-pix2pix), which the
            sniff counts like the fixed layouts' lines.
    """

    @property
    def table_headers(self) -> int:
        """How many lines so far were whitespace-table headers (``Epoch gpu_mem box obj ..``,
        ``Class Images Labels P R ..``): each belongs to the rows under it."""
        return self._table_headers

    def __init__(self) -> None:
        self.recs: list[_Rec] = []
        self.loss_lines = 0
        self.layout_lines = 0  # of those, lines of a known layout (CycleGAN's print_current_losses)
        self._loss_line_last = -1
        self._table: tuple[list[str], int] | None = None  # (names, counter column kind)
        # whether the rows of the current table print their counter as ``N/M`` (None: no row
        # yet); kept while the same header is printed again (YOLOv5 repeats it every epoch)
        self._table_slash: bool | None = None
        self._table_indexed = False  # the header is indented over an index column (pandas)
        self._yolo_val: list[tuple[int, str]] | None = None  # (cell index, tag)
        self._header_lines: set[int] = set()  # generic header / counter-only lines
        self._table_headers = 0  # whitespace-table header lines
        self._started = False  # a counted metric line or a header line was seen
        self._stamp_names: dict[str, float] = {}  # loss name -> last value, stamped lines without a counter
        self._again_names: dict[str, float] = {}  # loss name -> last value, lines without a counter
        self._bare_names: dict[str, float] = {}  # loss name -> last value, lines of bare pairs
        self._section: str | None = None  # the eval prefix announced for the lines that follow
        self._box: list[tuple[int, str, float]] = []  # the open key/value box's rows (line, name, value)
        self._box_section = ""  # its current section ("train/")
        self._box_open = False
        self._box_n = 0  # boxes closed (the step of a box without a counter row)
        self._section_line = -10  # the announcement's line, then the section's last metric line
        self._section_taken = False  # a metric line was read in the section
        self._train_at: tuple[int | None, int | None] = (None, None)  # last training (epoch, step) printed
        self._ctr_line = -10  # the last physical line with a counter
        self._tsv: list[str] | None = None  # names of a tab-separated / markdown table header
        self._tsv_ctr: tuple[int, str] | None = None  # its counter column (index, "gs" or "ep"), or None
        self._tsv_skip: set[int] = set()  # its counter columns (not metrics)
        self._tsv_n = 0  # rows read under it (their step)
        self._tsv_rows = False
        self._header_ep: int | None = None  # the epoch of the last epoch header line (progress lines under it)
        self._early_rows: list[tuple[str, int]] | None = []  # N/M rows before any table header
        self.calls = 0  # lines examined (for the linear-work test)
        # counted lines of 3 metrics or more, a learning rate or grad norm among them, but no
        # loss (a trainer's step line when the loss is not printed: sniff evidence of a log)
        self.optimiser_lines = 0
        self.split_lines = 0  # counted lines of values named by a split word alone (no loss named)
        self.wordy_lines = 0  # metric lines without a counter that read like a sentence (sniff evidence)

    def _sparse_counters(self, recs: list[_Rec], notes: list[str]) -> None:
        """Drop counters that can place no metric line: when no line with a counter holds a
        metric, none of them is an epoch/step header, and the loss lines without a counter
        are at least three times as many as the counter lines (``current self-play batch: 50``
        every 50 updates of a ``kl:..,loss:..`` line), the counters are progress notes. Placing
        each loss line at the last counter would stack dozens of points on one step and keep
        only the last, and not placing them reads nothing; the file is read as one without
        counters instead (the n-th group of lines is step n), with a note."""
        ctr_recs = [r for r in recs if r.kind != "none"]
        if not ctr_recs or any(r.line in self._header_lines for r in ctr_recs):
            return
        restating = any(r.pairs for r in ctr_recs)
        if restating and not _restate_neighbours(recs):
            return
        loss_recs = sum(1 for r in recs if r.kind == "none" and not r.eval
                        and any(is_loss_name(k) for k, _ in r.pairs))
        if loss_recs < 3 * len(ctr_recs):
            return
        for r in ctr_recs:
            r.ctr = _Ctr()
            r.kind = "none"
            r.pairs = []
        if restating:
            notes.append(f"{len(ctr_recs)} counter line(s) only restate a value of the {loss_recs} loss lines "
                         "without a counter printed next to them (a per-epoch echo of a per-batch print): "
                         "the loss lines are read in order, the counter lines not used")
        else:
            notes.append(f"{len(ctr_recs)} counter line(s) print no metric and are far fewer than the "
                         f"{loss_recs} loss lines: they are not used as steps")

    # ------------------------------------------------------------------ line level

    def feed(self, line: str, line_no: int) -> int:
        """Read one cleaned display line (see :func:`clean_line`) of physical line ``line_no``.

        Returns 2 when the line held metrics with a counter (a training-log line), 1 when it
        held metrics without a counter, a counter only, or a table header, 0 otherwise.
        Never raises.
        """
        self.calls += 1
        got = self._feed(line, line_no)
        if got == 0 and self._table is None and self._early_rows is not None \
                and len(self._early_rows) < _EARLY_ROWS and (line[:1].isspace() or line[:1].isdigit()) \
                and _TABLE_CTR.fullmatch((line.split(None, 1) or [""])[0]):
            self._early_rows.append((line, line_no))  # a table row whose header comes later
        return got

    def _feed(self, line: str, line_no: int) -> int:
        low = line.lower()
        first = low.split(None, 1)[0] if low.strip() else ""
        if first == "wandb:":  # wandb's own console lines: status, and the run's final summary
            return 0
        if first[:1] in ("|", "-") or self._box:
            got = self._box_line(line, line_no)
            if got >= 0:
                return got
        if first[:1].isdigit():  # darknet prints no "loss" word ("75: 625.19, 517.63 avg, ...")
            m = _DARKNET.match(line)
            if m:
                return self._darknet(m, line_no)
            if self._table is None and "/" in first:
                got = self._results_row(line, line_no)
                if got:
                    return got
        if not self._started and first not in _TABLE_FIRST and not _lossy_text(low) and "[" not in low \
                and not _maybe_counter(low) and not self._bare_names:
            # before any counted line, only a loss line can matter (files without counters; once
            # a line of bare pairs with a loss was seen, bare pairs without one are of its group)
            return 0
        if _config_like(line):
            return 0
        digit = _DIGIT.search(line)
        if first in _TABLE_FIRST and (not digit or first == "class" or not any(
                _NUMBER.fullmatch(t) for t in line.split())) and self._table_header(line, line_no):
            # (a digit inside a column name, ``f2_opt``, ``top1``, leaves a header a header; a
            # number of its own makes the line a row)
            return 1
        if ("\t" in line or " | " in line or line.lstrip().startswith("|")) and self._tsv_header(line, line_no):
            return 1
        if not digit and not _NANINF.search(line):
            # (a line of only nan / inf values has no digit: "loss: nan  loss_cls: nan"); a
            # section title without digits ("Test Error:") announces the lines under it
            if "test" in low or "val" in low or "eval" in low or "train" in low:
                lm = _LEAD.search(line)
                if lm is not None and _announcement(mask(line)):
                    self._announce(lm, line_no)
            return 0
        if self._tsv is not None:
            got = self._tsv_row(line, line_no)
            if got:
                return got
        got = self._table_row(line, line_no)
        if got is not None:
            return got
        ctr, text = _counters(mask(line))
        at = _progress(text) if not ctr.any() and self._header_ep is not None and "%" in text else -1
        if at >= 0:
            # a progress line under an epoch header (``| Progress [####    ][22.41%] | Loss 7.4 |``):
            # that epoch's, one of several per epoch (placed in line order, see _repeats_per_epoch)
            ctr.ep, ctr.start = self._header_ep, at
        bare_group = False
        if not ctr.any() and not self._started and not _lossy_text(text.lower()):
            if not self._bare_names:
                return 0  # before any counted line only a loss line can matter (files without counters)
            bare_group = True
        mode = ctr.mode
        sub = _SUBSET.search(text) if "subset" in text else None
        if sub:
            mode = sub.group("s") + "/"
            text = text[:sub.start()] + " " * (sub.end() - sub.start()) + text[sub.end():]
        pairs, first_pair, rest, again = _pairs(text, use_mean=ctr.use_mean, ctr_start=ctr.start)
        if not pairs and ctr.any() and "," in text:
            got = _comma_pairs(text)
            if got is not None:
                pairs, first_pair, rest = got
        if not pairs and ctr.any():
            got = _value_first(text)
            if got is not None:
                pairs, first_pair, rest = got
        if pairs and _prose(rest, len(pairs)):
            return 0  # a sentence that mentions a loss, not a log line
        if bare_group and (not pairs or any(ch.isalnum() for ch in rest)):
            return 0  # (only bare pairs join the group of a bare loss line)
        if ctr.lead is not None and (len(pairs) < 2 or text[ctr.lead:first_pair].strip(" \t|:,-")):
            ctr = _Ctr()  # a bare leading number is a counter only right before two metrics or more
        if pairs and not ctr.any() and _prose(rest, len(pairs), 4):
            self.wordy_lines += 1  # (read, but not evidence enough for the sniff: a quoted reply)
        lm = _LEAD.search(text) if pairs or "test" in low or "val" in low or "eval" in low or "train" in low \
            else None
        if mode is None and pairs and lm and lm.start() < ctr.start and lm.start() <= first_pair:
            mode = _MODE_PREFIX[lm.group("w").lower()]
        if mode is None and len(pairs) >= 2:
            mode = _eval_led(pairs)
        if pairs and self._section is not None:
            mode = self._in_section(mode, ctr, line_no)
        is_eval = bool(mode) and mode != "train/"
        if not is_eval and ctr.ep is not None and ctr.updates and ctr.idx is None and lm is not None \
                and lm.start() < ctr.start and not _MODE_PREFIX[lm.group("w").lower()]:
            # fairseq's end-of-epoch summary from its "train" logger (fairseq >= 0.10, whose
            # train_inner lines average only the last log interval); a legacy summary
            # ("| epoch 008 | loss 6.3 |") is the last value of the running epoch mean its
            # inner lines print, so it stays in their series
            mode = "train/"
        if is_eval:  # an eval loop's own i/n is not a training position
            ctr.idx = ctr.n = ctr.bi = ctr.bn = None
            if ctr.amb is not None:
                ctr.amb = ctr.amb_n = None
        if pairs and "iters:" in low and _VISUALIZER.search(line):
            # pytorch-CycleGAN-and-pix2pix / pix2pixHD / SPADE's print_current_losses: every name
            # after the "(epoch: .., iters: .., time: ..)" group is a loss (the model's loss_<name>)
            pairs = [(k if k in ("time", "data") or is_loss_name(k) else "loss_" + k, v) for k, v in pairs]
            if ctr.any():
                self.layout_lines += 1
        if mode:
            pairs = [(_prefixed(k, mode), v) for k, v in pairs]
        rec = _Rec(line_no, ctr, pairs, eval=is_eval, indent=len(line) - len(line.lstrip(" \t")))
        if is_eval and len(pairs) == 1 and "loss)" in text:
            wm = _CAFFE_WEIGHTED.search(text)
            if wm:  # Caffe's test net output "loss_c = 3.28 (* 1 = 3.28 loss)"
                rec.weighted = (mode, float(wm.group("c")))
        if ctr.any():
            self._ctr_line = line_no
        if not pairs:
            if lm is not None and lm.start() < ctr.start and _announcement(text):
                self._announce(lm, line_no)
            elif ctr.any() and self._section_taken:
                self._section = None
            if ctr.any():
                self.recs.append(rec)
                # a counter alone ("Epoch 3/10", "epoch 3:", "Training epoch: 3"), or announcing an
                # evaluation (Caffe's "Iteration 800, Testing net (#0)"): later lines without a
                # counter take its place
                if ((ctr.header or text.rstrip().endswith(":") or (lm is not None and lm.start() < ctr.start)
                     or (not text.strip(_FRAME) and ctr.ep is not None and ctr.gs is None and ctr.idx is None))
                        and _alone(text)) \
                        or (lm is not None and _MODE_PREFIX[lm.group("w").lower()] and lm.start() > ctr.start):
                    self._header_lines.add(line_no)
                    self._started = True
                    self._header_ep = ctr.ep if not is_eval and ctr.idx is None and ctr.gs is None else None
                return 1
            return 0
        self.recs.append(rec)
        if not is_eval and ctr.any():
            self._train_at = (ctr.ep if ctr.ep is not None else self._train_at[0],
                              ctr.gs if ctr.gs is not None else self._train_at[1])
        if again and not is_eval:  # the same names again on the line: an evaluation pass's values
            ectr = _Ctr(ep=ctr.ep, gs=ctr.gs, start=ctr.start)  # (placed like any evaluation line)
            self.recs.append(_Rec(line_no, ectr, again, eval=True))
        lossy = any(is_loss_name(k) for k, _ in pairs)
        if not ctr.any() and lossy and (self._header_lines or self._stamped(line, pairs)
                                        or (line_no - self._ctr_line <= 3 and self._again(pairs))
                                        or self._bare(rest, pairs)):
            if line_no != self._loss_line_last:  # a loss under an ``Epoch 3/10`` header line
                self.loss_lines += 1
                self._loss_line_last = line_no
            return 1
        if ctr.any():
            self._started = True
            if ctr.ep != self._header_ep:
                self._header_ep = None  # progress lines count under an epoch header only
            if not lossy and not is_eval and len(pairs) >= 3 and any(_optimiser_name(k) for k, _ in pairs):
                self.optimiser_lines += 1
            elif not lossy and len(pairs) >= 2 and any(k.lower() in _MODE_TOKENS for k, _ in pairs):
                # a counted line whose values are named by the split alone (Demucs' ``Epoch 3:
                # train=0.149 valid=0.216 best=0.216``): a training summary that never says loss
                self.split_lines += 1
            if lossy and line_no != self._loss_line_last:
                self.loss_lines += 1
                self._loss_line_last = line_no
            return 2
        return 1

    def _stamped(self, line: str, pairs: list[tuple[str, float]]) -> bool:
        """Whether a loss line without a counter is a logging line (a date-time stamp opens
        it) whose loss was already on such a line with another value: a log without counters
        (``2018-03-23 15:29:33,355:INFO: train loss:1.1``), not a config dump or a setting
        logged again."""
        if not _STAMP.match(line):
            return False
        name, x = next((k, v) for k, v in pairs if is_loss_name(k))
        before = self._stamp_names.get(name)
        if before is not None or len(self._stamp_names) < 64:
            self._stamp_names[name] = x
        return before is not None and before != x

    def _box_line(self, line: str, line_no: int) -> int:
        """A line of a key/value box (stable-baselines3's logger: a dashed rule, ``| train/ |  |``
        section rows, ``|    loss        | 0.0123 |`` value rows; also a markdown table of
        ``| name | value |`` rows): the rows between two rules are one record, its names
        prefixed with their section (``train/loss``, as the library logs them elsewhere), its
        step the ``total_timesteps`` (else ``timesteps``, ``global_step``, ``step``,
        ``n_updates``, ``iterations``) row, or the box's number when it has none. Returns 2 when
        a record with a loss was closed, 1 for another box line, -1 for a line of no box (which
        also closes an open box)."""
        t = line.strip()
        m = _BOX_ROW.fullmatch(t) if t[:1] == "|" else None
        if m is None:
            got = self._box_flush() if self._box or self._box_open else 0
            if len(t) >= 8 and not t.strip("-+=|"):
                return max(got, 1)  # a rule: the box's frame
            return -1  # (a line of no box: read as any other line)
        name, value = m.group("k").strip(), m.group("v").strip()
        if not value:
            if name.endswith("/"):
                self._box_section = name
                self._box_open = True
                return 1
            return -1
        vm = _TABLE_CELL.fullmatch(value)
        if not vm or vm.group("u") or _NUMBER.fullmatch(name):
            return -1
        self._box.append((line_no, self._box_section + name, float(vm.group("v"))))
        self._box_open = True
        return 1

    def _box_flush(self) -> int:
        rows, self._box = self._box, []
        self._box_section = ""
        self._box_open = False
        pairs = [(k, v) for _, k, v in rows]
        base = {k.rsplit("/", 1)[-1].lower(): v for k, v in pairs}
        key = next((c for c in _BOX_COUNTERS if c in base), None)
        step = base[key] if key is not None else float(self._box_n)
        self._box_n += 1
        if not math.isfinite(step) or not float(step).is_integer():
            return 0
        metrics = [(k, v) for k, v in pairs if k.rsplit("/", 1)[-1].lower() not in _BOX_COUNTERS]
        if not metrics:
            return 0
        line_no = rows[0][0]
        self.recs.append(_Rec(line_no, _Ctr(gs=int(step), start=0), metrics, table=True))
        self._started = True
        if any(is_loss_name(k) for k, _ in metrics) and line_no != self._loss_line_last:
            self.loss_lines += 1
            self.layout_lines += 1  # a box is a layout of its own: claimed like the fixed layouts' lines
            self._loss_line_last = line_no
            return 2
        return 1

    def _announce(self, lm: re.Match, line_no: int) -> None:
        """A section title (``Test Error:``, ``Evaluation Results:``, ``testing in eval mode``,
        ``Eval epoch: 4``; mode word ``lm``): the metric lines right under it are that pass's
        (:meth:`_in_section`); a training title (``Training epoch: 5``, ``Now continue
        training``) ends such a section."""
        self._section = _MODE_PREFIX[lm.group("w").lower()] or None
        self._section_line, self._section_taken = line_no, False

    def _in_section(self, mode: str | None, ctr: _Ctr, line_no: int) -> str | None:
        """The mode of a metric line under a section announcement (:func:`_announcement`): the
        section's when the line names none itself and comes within 3 lines of the announcement
        or of the section's last line, before a counted line that follows the section's lines
        or counts past the last training line (the next training line); a counted line taken
        ends the section (one pass printed on one line, like the training lines: ``epoch: 3,
        loss is: 0.5``)."""
        if mode is not None:
            return mode
        ahead = (ctr.ep is not None and self._train_at[0] is not None and ctr.ep > self._train_at[0]) \
            or (ctr.gs is not None and self._train_at[1] is not None and ctr.gs > self._train_at[1])
        if line_no - self._section_line > 3 or (ctr.any() and (self._section_taken or ahead)):
            # (an evaluation does not move the training counter on: a line under the title that
            # counts past the last training line is the next training line)
            self._section = None
            return None
        mode = self._section
        self._section_line, self._section_taken = line_no, True
        if ctr.any():
            self._section = None
        return mode

    def _bare(self, rest: str, pairs: list[tuple[str, float]]) -> bool:
        """Whether a loss line without a counter is nothing but ``name: value`` pairs (what is
        left once they are blanked is separators) and its loss name already opened such a line
        with another value (``nan`` is never equal): a log printed without any counter
        (``loss:0.0074, accuracy:0.997, recall:0.98`` on every line), not a setting printed
        once or repeated (``loss_weight: 1.0`` under several heads of a config)."""
        if any(ch.isalnum() for ch in rest):
            return False
        name, x = next((k, v) for k, v in pairs if is_loss_name(k))
        before = self._bare_names.get(name)
        if before is not None or len(self._bare_names) < 64:
            self._bare_names[name] = x
        return before is not None and before != x  # (a setting repeated, loss_weight: 1.0, is no log)

    def _again(self, pairs: list[tuple[str, float]]) -> bool:
        """Whether a loss line without a counter, a few lines under a counter line, prints a
        loss that an earlier such line printed with another value: a per-epoch summary under
        its counter (``End of epoch 3 / 100 | Time Taken: 5 sec`` then ``Generator Loss:
        2985.5``), not a setting or a note printed once."""
        name, x = next((k, v) for k, v in pairs if is_loss_name(k))
        before = self._again_names.get(name)
        if before is not None or len(self._again_names) < 64:
            self._again_names[name] = x
        return before is not None and before != x

    def position(self, line: str, line_no: int) -> None:
        """Note the counters of a line a fixed layout used (no metrics are taken from it), so
        that later generic lines (evaluation summaries, counter-less lines) are placed after
        it. Never raises."""
        self.calls += 1
        if not _DIGIT.search(line) or _config_like(line):
            return
        ctr, _ = _counters(mask(line))
        if ctr.any():
            self.recs.append(_Rec(line_no, ctr, [], eval=bool(ctr.mode)))

    def _darknet(self, m: re.Match, line_no: int) -> int:
        ctr = _Ctr(gs=int(m.group("s")), start=0)
        pairs = []
        # the smoothed "avg loss" is the loss darknet users watch (its README: "avg - average
        # loss (error) - the lower, the better"; chart.png plots it): it fills the training-loss
        # role; the current batch's loss is kept beside it as "batch loss"
        for key, grp in (("batch loss", "l"), ("avg loss", "a"), ("lr", "r"), ("seconds", "t"), ("images", "im")):
            pairs.append((key, float(m.group(grp))))
        self.recs.append(_Rec(line_no, ctr, pairs))
        self._started = True
        if line_no != self._loss_line_last:
            self.loss_lines += 1
            self._loss_line_last = line_no
        return 2

    def _results_row(self, line: str, line_no: int) -> int:
        """A headerless row of YOLOv5's (before v6) / YOLOv7's ``results.txt``: 15 cells,
        ``epoch/last_epoch``, GPU memory (``13.5G``), the mean box, objectness, class and total
        losses, the label count, the image size, then P, R, mAP@.5, mAP@.5:.95 and the
        validation box, objectness and class losses (their ``train.py``, which writes the
        console row and the validation results on one line). Returns 2 (a row was read) or 0.
        """
        toks = line.split()
        if len(toks) != len(_RESULTS_TXT) + 2:
            return 0
        cm = _TABLE_CTR.fullmatch(toks[0])
        mem = _TABLE_CELL.fullmatch(toks[1])
        if not cm or cm.group("b") is None or not mem or mem.group("u") not in ("", "G", "M", "GB", "MB"):
            return 0
        vals = []
        for tok in toks[2:]:
            vm = _TABLE_CELL.fullmatch(tok)
            if not vm or vm.group("u"):
                return 0
            vals.append(float(vm.group("v")))
        pairs = [(name, x) for name, x in zip(_RESULTS_TXT, vals) if name]
        if mem.group("u") in ("G", "GB", ""):
            pairs.insert(0, ("gpu_mem", float(mem.group("v"))))
        self.recs.append(_Rec(line_no, _Ctr(ep=int(cm.group("a")), start=0), pairs, table=True))
        self._started = True
        if line_no != self._loss_line_last:
            self.loss_lines += 1
            self.layout_lines += 1  # a known layout: claimed like the fixed layouts' lines
            self._loss_line_last = line_no
        return 2

    @staticmethod
    def _weighted_total(recs: list[_Rec], out: dict[str, tuple[list[float], list[float]]],
                        notes: list[str]) -> None:
        """Add Caffe's test-net loss, which it does not print: in a test pass whose outputs
        carry their weighted contribution to the net's loss (``loss_c = 3.28 (* 1 = 3.28
        loss)``), the sum of the contributions, as Caffe sums them into the training loss it
        prints (``Iteration 800, loss = 8.1``; ``Net::ForwardBackward``). Only for passes with
        2 or more loss outputs and no output named ``loss``; the tag is the pass prefix +
        ``loss`` (``test/loss``), the same quantity as the training loss."""
        sums: dict[tuple[str, float], list[float]] = {}
        names: dict[tuple[str, float], set[str]] = {}
        mixed = set()  # passes where an output name comes twice (two test nets at one step)
        for r in recs:
            if r.weighted is not None and r.step is not None:
                key = (r.weighted[0], r.step)
                sums.setdefault(key, []).append(r.weighted[1])
                if r.pairs[0][0] in names.setdefault(key, set()):
                    mixed.add(key)
                names[key].add(r.pairs[0][0])
        added = set()
        for (mode, step), parts in sorted(sums.items(), key=lambda kv: kv[0][1]):
            tag = mode + "loss"
            if len(parts) < 2 or (mode, step) in mixed or (tag in out and tag not in added):
                continue
            st, va = out.setdefault(tag, ([], []))
            added.add(tag)
            st.append(step)
            va.append(sum(parts))
        for tag in sorted(added):
            notes.append(f"{tag}: the test net prints no total loss; the sum of its outputs' weighted "
                         "contributions ('(* w = c loss)') is used, as Caffe sums them into the training loss")

    def _tsv_header(self, line: str, line_no: int) -> bool:
        """A header row of metric names, tab-separated or a markdown table row (``| Training Loss
        | Epoch | Step | Validation Loss |``, the training-results table of a model card or a
        notebook): at least 2 names, one loss-like. A counter column (``Step``, ``Epoch``,
        ``Iteration``... anywhere in the row; a step before an epoch) gives each row's step;
        without one (``total loss<TAB>score loss<TAB>...``, a script's table of per-epoch
        averages) the rows (:meth:`_tsv_row`) are numbered 0, 1, 2... (A ``.log``/``.txt`` file
        that is such a table from its first line is the CSV reader's: the text reader's sniff
        leaves it.)"""
        cells = _grid_cells(line)
        if cells is None or len(cells) < 2 or len(cells) > 64:
            return False
        names = []
        for c in cells:
            c = " ".join(c.split())
            if not c or not _TSV_NAME.fullmatch(c) or any(_NUMBER.fullmatch(w) for w in c.split()):
                return False
            names.append(_RENAME.get(c.lower(), c))
        ctrs = [(i, n.lower()) for i, n in enumerate(names) if n.lower() in _GRID_COUNTERS]
        ctr = None
        if ctrs:
            step = [i for i, n in ctrs if n not in _EPOCH_WORDS | {"epochs"}]
            ctr = (step[0], "gs") if step else (ctrs[0][0], "ep")
        metrics = [n for i, n in enumerate(names) if all(i != k for k, _ in ctrs)]
        low = {n.lower() for n in metrics}
        if not any(is_loss_name(n) for n in metrics) or low & (_SKIP - {"date", "version"}) \
                or len(low) < len(metrics):
            return False
        self._tsv = names
        self._tsv_ctr = ctr
        self._tsv_skip = {i for i, _ in ctrs}
        self._tsv_n = 0
        self._header_lines.add(line_no)
        self._started = True
        return True

    def _tsv_row(self, line: str, line_no: int) -> int:
        """A row of :meth:`_tsv_header`'s table: as many cells, numbers or empty (``No log``,
        ``-``, ``N/A``: no point), the counter cell an integer; 2 when read, 1 for a markdown
        rule row (``|:---:|---|``), else 0."""
        names = self._tsv
        cells = _grid_cells(line)
        if names is None or cells is None or len(cells) != len(names):
            return 0
        if all(_MD_RULE.fullmatch(c.strip()) for c in cells):
            return 1
        ctr = _Ctr(gs=self._tsv_n, start=0)
        if self._tsv_ctr is not None:
            i, kind = self._tsv_ctr
            vm = _TABLE_CELL.fullmatch(cells[i].strip())
            x = float(vm.group("v")) if vm and not vm.group("u") else math.nan
            if not (math.isfinite(x) and x.is_integer() and abs(x) < 1e12):
                return 0
            ctr = _Ctr(gs=int(x), start=0) if kind == "gs" else _Ctr(ep=int(x), start=0)
        pairs = []
        for j, (name, c) in enumerate(zip(names, cells)):
            if j in self._tsv_skip:
                continue
            c = c.strip()
            if c.lower() in _EMPTY_CELLS:
                continue
            vm = _TABLE_CELL.fullmatch(c)
            if not vm and _CLOCK_CELL.fullmatch(c):
                continue  # a duration cell (fastai's "time" column pasted as tabs, ``00:03``)
            if vm and vm.group("u").lower() in _TIME_UNITS:
                continue  # a duration with its unit (Turi Create's "Elapsed Time" cells, ``1.36s``)
            if not vm or vm.group("u"):
                return 0
            pairs.append((name, float(vm.group("v"))))
        if not pairs:
            return 0
        self.recs.append(_Rec(line_no, ctr, pairs, table=True))
        self._tsv_n += 1
        self._tsv_rows = self._tsv_rows or self._tsv_ctr is None
        if line_no != self._loss_line_last and any(is_loss_name(n) for n, _ in pairs):
            self.loss_lines += 1
            self._loss_line_last = line_no
        return 2

    def _table_header(self, line: str, line_no: int) -> bool:
        """A whitespace-table header (``Epoch GPU_mem box_loss ...``) or an ultralytics /
        YOLOv5 validation header (``Class Images Instances Box(P R mAP50 mAP50-95)``)."""
        tail = _TQDM_TAIL.search(line)
        head = line[:tail.start()] if tail else line.rstrip().rstrip(":")
        if "=" in head or "," in head or "\t" in head:
            return False
        toks = head.split()
        if len(toks) < 2 or len(toks) > 40:
            return False
        if any(t.lower() in _MODE_TOKENS for t in toks[1:]):
            # a split word and the metric after it are one column (fastai's table copied from a
            # notebook: ``epoch train loss valid loss accuracy``; blind7 text-log set)
            merged: list[str] = []
            for t in toks:
                if merged and merged[-1].lower() in _MODE_TOKENS and len(merged) > 1 and _known_word(t):
                    merged[-1] += " " + t
                else:
                    merged.append(t)
            toks = merged
        if toks[0] == "Class" and len(toks) >= 4 and toks[1] == "Images":
            self._yolo_val = _yolo_val_columns(toks)
            self._header_lines.add(line_no)
            self._table_headers += 1
            return True
        if ":" in head or not all(_TABLE_NAME.fullmatch(t) or _TABLE_NAME.fullmatch(t.replace(" ", "_"))
                                  for t in toks):
            return False
        first = toks[0].lower()
        if first not in _EPOCH_WORDS | _STEP_WORDS | {"global_step"} or first in _NEEDS_SEP:
            return False
        low = [t.lower() for t in toks[1:]]
        yolov5 = "gpu_mem" in low
        names = [toks[0]] + [(t + "_loss" if yolov5 and t in ("box", "obj", "cls") else
                              "loss" if yolov5 and t == "total" else t)
                             for t in toks[1:]]
        if not any(is_loss_name(t) or _known_word(t) for t in names[1:]):
            return False
        table = (names, 0 if first in _EPOCH_WORDS else 1)
        if table != self._table:
            self._table_slash = None
        self._table = table
        # a pandas DataFrame printed: the header is indented over the index column, and each
        # row opens with its index (``   epoch  train_loss`` / ``0      1    0.52``)
        self._table_indexed = line[:1].isspace()
        self._header_lines.add(line_no)
        self._table_headers += 1
        self._started = True
        early, self._early_rows = self._early_rows, None
        if early and [got for got in (self._table_row(row, no) for row, no in early) if got]:
            # an excerpt that starts under a header it does not show: the rows read with the
            # first header that follows, when they have its shape
            self.recs.sort(key=lambda r: r.line)
        return True

    def _table_row(self, line: str, line_no: int) -> int | None:
        if self._table is None and self._yolo_val is None:
            return None
        toks = line.split()
        if not toks:
            return None
        if self._yolo_val is not None and toks[0] == "all":
            pairs = []
            for i, tag in self._yolo_val:
                if i < len(toks):
                    cm = _TABLE_CELL.fullmatch(toks[i].rstrip(":"))
                    if cm and not cm.group("u"):
                        pairs.append((tag, float(cm.group("v"))))
            if pairs:
                self.recs.append(_Rec(line_no, _Ctr(), pairs, eval=True, table=True))
                return 1
            return None
        if self._table is None:
            return None
        names, kind = self._table
        k = len(names)
        if len(toks) == k + 1 and self._table_indexed and toks[0].isdigit() and not line[:1].isspace():
            toks = toks[1:]  # the DataFrame's index
        if len(toks) < k or (len(toks) > k and not toks[k - 1].endswith(":")):
            return None
        cm = _TABLE_CTR.fullmatch(toks[0])
        if not cm:
            return None
        slash = cm.group("b") is not None
        if self._table_slash is not None and slash != self._table_slash:
            # the rows of one table print their counter one way: under YOLOv5's ``3/299``
            # epochs, a row opening with a bare number is another table's (a per-class
            # validation row whose class name is a number: ``40  30  10  0.967 ...``)
            return None
        pairs = []
        for j in range(1, k):
            name, tok = names[j], toks[j]
            vm = _TABLE_CELL.fullmatch(tok[:-1] if j == k - 1 and tok.endswith(":") else tok)
            if not vm:
                if _CLOCK_CELL.fullmatch(tok):
                    continue  # a duration cell (fastai's "time" column, ``00:10``): no metric
                return None
            if vm.group("u") and is_loss_name(name):
                continue
            pairs.append((name, float(vm.group("v"))))
        a = int(cm.group("a"))
        ctr = _Ctr(ep=a, start=0) if kind == 0 else _Ctr(gs=a, start=0)
        self.recs.append(_Rec(line_no, ctr, pairs, table=True))
        self._table_slash = slash
        self._started = True
        if any(is_loss_name(n) for n, _ in pairs) and line_no != self._loss_line_last:
            self.loss_lines += 1
            self._loss_line_last = line_no
        return 2

    # ------------------------------------------------------------------ resolution

    def finish(self, uncounted: bool = True) -> KVResult:
        """Resolve every line's step (see the module docstring) and return the points.

        Args:
            uncounted: whether a file without any counter may number its loss lines 0, 1,
                2... (the caller passes False when a fixed layout already read the file).
        Returns a :class:`KVResult`; steps are global steps (unit ``"step"``) or epochs
        (unit ``"epoch"``) as described there. The line records are released: call it once.
        Never raises.
        """
        if self._box:
            self._box_flush()
        res = KVResult()
        recs = self.recs
        res.used_lines |= self._header_lines
        if not any(r.pairs for r in recs):
            return res
        _indented_evals(recs, res.notes)
        _classify(recs, res.notes)
        self._sparse_counters(recs, res.notes)
        _sections_of_lines(recs, res.notes)
        _one_spelling(recs)
        has_steps = any(r.kind in ("gs", "ei", "bi") for r in recs)
        counted = any(r.kind != "none" for r in recs)
        if not counted and not uncounted:
            return res
        eps = [r.ctr.ep for r in recs if r.kind == "ei"]
        n_ei = max((r.ctr.n or 0 for r in recs if r.kind == "ei"), default=0)  # the largest epoch size
        ei_last: tuple[int, float] | None = None  # (epoch, step) of the last training epoch/index line
        off = 0 if eps and min(eps) == 0 else 1
        step_tags = {k for r in recs if r.kind in ("gs", "ei", "bi") and not r.eval for k, _ in r.pairs}
        ordinal = (not has_steps) and counted and _repeats_per_epoch(recs)
        unit = "step" if (has_steps or ordinal or not counted) else "epoch"

        pos: float | None = None
        cur_ep: int | None = None
        cur_n: int | None = None
        started = False
        ordn, last_line = -1, None
        group: set[str] = set()  # the names of the current line group (files without counters)
        bi_off, bi_last, bi_max = 0, -1, 0
        here: tuple[float | None, set[tuple[str, float]]] = (None, set())  # the last counted step, its names and values
        out: dict[str, tuple[list[float], list[float]]] = {}
        ahead = _restated_ahead(recs)
        early: list[_Rec] = []  # eval records before the first counted line
        point_line: dict[str, int] = {}  # tag -> physical line of its last point

        gs_per_ep = None if eps else _steps_per_epoch(recs)
        gs_off = 0 if any(r.kind == "gs" and r.ctr.ep == 0 for r in recs) else 1

        def end_of_epoch(ep: int | None) -> float | None:
            if ep is not None and cur_n:
                return float((ep - off + 1) * cur_n)
            return pos

        for r in recs:
            c = r.ctr
            s: float | None = None
            rename_epoch = False
            if not counted:
                # no counter anywhere: one step per group of lines, from the first loss line on;
                # a line that prints a name of the current group again opens the next group
                # ("loss: .. / acc: .." pairs of lines, or one line per step)
                if r.line != last_line:
                    names = {k for k, _ in r.pairs}
                    if ordn < 0:
                        if not any(is_loss_name(k) for k in names):
                            continue
                        ordn, group = 0, names
                    elif names & group:
                        ordn, group = ordn + 1, names
                    else:
                        group |= names
                    last_line = r.line
                s = float(ordn)
            elif r.kind == "gs":
                s = float(c.gs)
            elif r.kind == "ei":
                if c.n != n_ei and n_ei:
                    # a line printing another epoch size than the others (the PyTorch MNIST
                    # example's last batch: "[5600/5640 (99%)]" after "[8320/9024 (92%)]") is
                    # placed with the file's largest size, after the epoch's previous line
                    s = float((c.ep - off) * n_ei + c.idx)
                    if ei_last is not None and ei_last[0] == c.ep and s <= ei_last[1]:
                        s = ei_last[1] + 1
                else:
                    s = float((c.ep - off) * c.n + c.idx)
                cur_n = n_ei or c.n
                if not r.eval:
                    ei_last = (c.ep, s)
            elif r.kind == "bi":
                if c.bi < bi_last:
                    bi_off += max(c.bn or 0, bi_max + 1)
                    bi_max = 0
                bi_last = c.bi
                bi_max = max(bi_max, c.bi)
                s = float(bi_off + c.bi)
            elif r.kind == "e":
                if ordinal:
                    if r.eval:
                        s = float(max(ordn, 0))
                    else:
                        if r.line != last_line:
                            ordn += 1
                            last_line = r.line
                        s = float(ordn)
                elif has_steps:
                    s = end_of_epoch(c.ep)
                    if s is None:
                        s = 0.0
                    if gs_per_ep and not cur_n and not r.eval and c.ep is not None:
                        # an epoch summary between global-step lines that also print the
                        # epoch: at its epoch's estimated end, not at the last printed step
                        # (epochs that end before the next step print would share a step)
                        s = max(s, float(round((c.ep - gs_off + 1) * gs_per_ep)))
                    rename_epoch = not r.eval
                else:
                    s = float(c.ep)
            else:  # no counter: the position of the last counter line
                if not started and r.eval and r.pairs and len(early) < _EARLY_EVALS:
                    early.append(r)  # an evaluation before training: placed if the run starts at 0/1
                if not started or not r.pairs:
                    continue
                if not r.eval and not any(is_loss_name(k) or _known_word(k.split(" ")[-1].split("/")[-1])
                                          for k, _ in r.pairs):
                    continue
                if not r.eval:  # never over a counted value (Caffe's "Train net output" vs
                    # its "Iteration N, loss = x" line at the same step)
                    r.pairs = [(k, v) for k, v in r.pairs if k not in step_tags]
                    if not r.pairs:
                        continue
                if ordinal:
                    s = float(max(ordn, 0))
                elif has_steps:
                    s = end_of_epoch(cur_ep) if r.eval else pos
                else:
                    s = None if cur_ep is None else float(cur_ep)
                if s is None:
                    continue
                if not r.eval and s == here[0] and all((_spelling(k), v) in here[1] for k, v in r.pairs):
                    continue  # a note restating values of the counted line ("saving best model (val_loss=3.25)")
                if id(r) in ahead:
                    continue  # the same note printed before the counted line it restates
            r.step = s
            if r.kind != "none" and r.pairs:
                if s != here[0]:
                    here = (s, set())
                here[1].update((_spelling(k), v) for k, v in r.pairs)
            if r.kind != "none" and not r.eval:
                pos = s
                if c.ep is not None:
                    cur_ep = c.ep
            if r.kind != "none" and (r.pairs or r.line in self._header_lines):
                if not started and early and not r.eval and s is not None and s <= 1:
                    # eval lines printed before the first counted line of a run that starts at
                    # step 0 or 1 are the evaluation before training (nanoGPT-style loops
                    # evaluate, then step): they belong to that first step, not dropped. A
                    # resumed log (first step larger) keeps dropping them: they may be the
                    # previous run's summary.
                    for e in early:
                        res.used_lines.add(e.line)
                        for tag, v in e.pairs:
                            st, va = out.setdefault(tag, ([], []))
                            st.append(s)
                            va.append(v)
                early = []
                started = True  # (positions from fixed-layout lines never start it)
            if not r.pairs:
                continue
            res.used_lines.add(r.line)
            for tag, v in r.pairs:
                if rename_epoch and tag in step_tags:
                    tag = tag + "_epoch"
                st, va = out.setdefault(tag, ([], []))
                if st and st[-1] == s:
                    if (r.kind == "e" and not (r.eval or r.table or ordinal) and point_line.get(tag, r.line) != r.line
                            and not (va[-1] == v or (v != v and va[-1] != va[-1])) and is_loss_name(tag)):
                        res.reprinted[tag] = res.reprinted.get(tag, 0) + 1
                    va[-1] = v
                else:
                    st.append(s)
                    va.append(v)
                point_line[tag] = r.line
        self._weighted_total(recs, out, res.notes)
        self.recs = recs = []  # the records are done with: freed before the caller copies the points
        res.points = out
        res.units = {t: unit for t in out}
        if out and ordinal:
            res.notes.append("the epoch counter repeats on several lines per epoch: the order of "
                             "those lines is used as the step")
        if out and not counted:
            res.notes.append("no step or epoch counter: the n-th group of metric lines (a line, or lines "
                             "that print no name twice) is used as step n")
        if out and self._tsv_rows:
            res.notes.append("a tab-separated table without a step or epoch column: its n-th row is used "
                             "as step n (from 0)")
        if not out:
            res.notes = []
        return res


# ----------------------------------------------------------------------------- helpers


def _steps_per_epoch(recs: list[_Rec]) -> float | None:
    """Global steps per epoch estimated from the training lines that print both a global step
    and an epoch (JoeyNMT's ``Epoch   2 Step:      200 Batch Loss: ..``): the steps over the
    epochs between the first and the last such line, when both rise; ``None`` with fewer than
    two such epochs. Used to place an epoch summary (``Epoch   3: total training loss ..``) at
    the end of its epoch. Source: blind9 text-log set (epochs shorter than the step print
    interval put several summaries on one step)."""
    pts = [(r.ctr.ep, r.ctr.gs) for r in recs if r.kind == "gs" and not r.eval
           and r.ctr.ep is not None and r.ctr.gs is not None]
    if len(pts) < 2:
        return None
    (e0, g0), (e1, g1) = pts[0], pts[-1]
    if e1 <= e0 or g1 <= g0:
        return None
    return (g1 - g0) / (e1 - e0)


_EARLY_EVALS = 16  # eval lines kept before the first counted line (an evaluation before training)
_AHEAD_LINES = 3  # how far (physical lines) a note may come before the counted line it restates


def _restated_ahead(recs: list[_Rec]) -> set[int]:
    """``id()`` of the records without a counter whose every value is printed again, under the
    same name but for case and separators, by the next counted metric line at most
    :data:`_AHEAD_LINES` lines further on (``saving best model, val loss: 5.96`` printed just
    before ``Epoch 17 | train loss: 4.59 | val loss: 5.96``): a note, not a point of its own.
    One backward pass over ``recs`` (file order)."""
    out: set[int] = set()
    nxt: tuple[int, set[tuple[str, float]]] | None = None  # (line, names and values) of the next counted line
    for r in reversed(recs):
        if r.kind != "none":
            if r.pairs:
                nxt = (r.line, {(_spelling(k), v) for k, v in r.pairs})
            continue
        if r.pairs and nxt is not None and 0 < nxt[0] - r.line <= _AHEAD_LINES \
                and all((_spelling(k), v) in nxt[1] for k, v in r.pairs):
            out.add(id(r))
    return out


def mask(line: str) -> str:
    """``line`` with dates, clock times, durations, glog headers, ``file.py:123`` locations,
    version / IP strings and tqdm bars replaced by spaces (positions kept), and the ``x``
    padding of PaddlePaddle's ``nanxxx`` / ``infxxx`` and the quotes of quoted pairs
    (``'loss': '0.80'``); bracket variants of the grammar made plain (:func:`_canonical`).
    Never raises."""
    spans: list[tuple[int, int]] = []
    if ":" in line or "-" in line or "/" in line:
        spans.extend(m.span() for m in _MASK_DT.finditer(line))
        if ":" in line and "." in line:
            spans.extend(m.span() for m in _MASK_FILE.finditer(line))
        if ":" in line and "(" in line:
            spans.extend(m.span() for m in _MASK_MODLINE.finditer(line)
                         if not (_known_word(m.group("n")) or _maybe_counter(m.group("n").lower())))
    head = line[:48]
    if "0" in head or "1" in head:  # glog: I0501 / W1231 at the start
        m = _MASK_GLOG.search(head)
        if m:
            spans.append(m.span())
    if line.count(".") >= 2:
        spans.extend(m.span() for m in _MASK_VER.finditer(line))
    if "%|" in line:
        spans.extend(m.span() for m in _MASK_BAR.finditer(line))
    low = line.lower()
    if "nanx" in low or "infx" in low:
        spans.extend(m.span("x") for m in _MASK_PAD.finditer(line))
    if "'" in line or '"' in line:
        for pat in (_QUOTED_KEY, _QUOTED_VALUE):
            for m in pat.finditer(line):
                spans += [(m.start("q"), m.start("q") + 1), (m.end() - 1, m.end())]
    return _canonical(_blank(line, spans))


#: a counter word with its number in parentheses: ``Batch(0/1879)``, ``Iter(200)``
_PAREN_CTR = re.compile(r"(?<![\w.])(?:epoch|step|iter|iteration|batch|update)(?P<o>\()\s{0,5}\d{1,12}"
                        r"\s{0,5}(?:/\s{0,5}\d{1,12}\s{0,5})?(?P<c>\))", re.I)
#: a name in brackets before its value: ``[Loss] 0.52``, ``[step]    89`` (loguru-style tables)
_BRACKET_NAME = re.compile(rf"(?<![\w\]])(?P<o>\[)[A-Za-z][\w.\-/]{{0,40}}(?P<c>\])(?=[ \t]{{1,20}}{NUM}(?![\w.]))")
#: a value in angle brackets after its separator: ``Loss: <1.57>``
_ANGLE_VALUE = re.compile(rf"[:=]\s{{0,5}}(?P<o><){NUM}(?P<c>>)")


def _canonical(line: str) -> str:
    """``line`` with bracket variants of the ``name <sep> value`` grammar rewritten to its
    plain forms, positions kept (one character for one): ``Batch(0/1879)`` -> ``Batch[0/1879]``
    (a counter), ``[Loss] 0.52`` -> `` Loss: 0.52``, ``Loss: <1.57>`` -> ``Loss:  1.57 ``.
    Never raises."""
    if "(" not in line and "[" not in line and "<" not in line:
        return line
    chars: list[str] | None = None
    for pat, o, c in ((_PAREN_CTR, "[", "]"), (_BRACKET_NAME, " ", ":"), (_ANGLE_VALUE, " ", " ")):
        if pat is _PAREN_CTR and "(" not in line or pat is _BRACKET_NAME and "[" not in line \
                or pat is _ANGLE_VALUE and "<" not in line:
            continue
        for m in pat.finditer(line):
            if chars is None:
                chars = list(line)
            chars[m.start("o")] = o
            chars[m.start("c")] = c
    return line if chars is None else "".join(chars)


_PCT = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,4})?\s{0,3}%")
_BAR = re.compile(r"\[[#=>.\- ]{2,200}\]")


def _progress(text: str) -> int:
    """Where the progress mark of a line without a counter starts, or -1: a percentage beside
    a drawn bar (``[####    ]``) or the word ``progress`` (``| Progress [##  ][22.41%] | Loss
    7.4 |``)."""
    m = _PCT.search(text)
    if m is None:
        return -1
    low = text.lower()
    if "progress" in low:
        return min(m.start(), low.find("progress"))
    b = _BAR.search(text)
    return -1 if b is None else min(m.start(), b.start())


#: a loss function's name as a word (:data:`losscheck.roles.LOSS_FUNCTIONS`, the one list; longest
#: first so that ``nllloss`` is not cut at ``nll``), or cross entropy spelled with a separator
_LOSS_FN_WORD = re.compile(r"(?<![a-z0-9])(?:" + "|".join(sorted(LOSS_FUNCTIONS, key=lambda w: (-len(w), w)))
                           + r"|cross[_\-]entropy)(?![a-z0-9])")


_COMMA_NAME = re.compile(r"[A-Za-z_][\w./\-]{0,60}")
_COMMA_VALUE = re.compile(NUM)


def _comma_pairs(text: str) -> tuple[list[tuple[str, float]], int, str] | None:
    """``name, value`` with the comma as the separator, on a counted line whose fields are
    comma-separated (``epoch 1, phase train, step 10, loss_train, 0.838``; counters already
    blanked): a field that is one name followed by a field that is one number is a pair.
    Returns ``(pairs, start of the first name, "")`` or None when no such pair is there."""
    fields = text.split(",")
    if len(fields) > 64:
        return None
    pairs: list[tuple[str, float]] = []
    first, at = -1, 0
    for i, f in enumerate(fields):
        name = f.strip()
        if i + 1 < len(fields) and _COMMA_NAME.fullmatch(name) and _COMMA_VALUE.fullmatch(fields[i + 1].strip()):
            if first < 0:
                first = at + f.find(name)
            pairs.append((name, float(fields[i + 1])))
        at += len(f) + 1
    return (pairs, first, "") if pairs else None


_VALUE_FIRST = re.compile(rf"[\s@:|=>-]{{0,40}}?(?P<v>{NUM})(?P<u>%)?[ \t]{{1,5}}"
                          r"(?P<k>[A-Za-z][A-Za-z0-9_.()\-]{0,40}(?: [A-Za-z][A-Za-z0-9_.()\-]{0,40}){0,3})\s*")


def _value_first(text: str) -> tuple[list[tuple[str, float]], int, str] | None:
    """``value name`` fields, the number before its name, on a counted line (counters already
    blanked): ``Epoch 3 @ 10:27 PM : 0.98 C.E. Loss, 94.3% Accuracy`` gives ``C.E. Loss``
    0.98 and ``Accuracy`` 94.3. Every comma-separated field must have that shape and one name
    must be a loss's (:func:`is_loss_name`); returns ``(pairs, start of the first field, "")``
    or None."""
    fields = text.split(",")
    if len(fields) > 16:
        return None
    pairs: list[tuple[str, float]] = []
    for f in fields:
        m = _VALUE_FIRST.fullmatch(f)
        if m is None:
            return None
        name = m.group("k").strip()
        if m.group("u") and is_loss_name(name):
            return None
        pairs.append((name, float(m.group("v"))))
    if not any(is_loss_name(k) for k, _ in pairs):
        return None
    return pairs, len(text) - len(text.lstrip()), ""


def _lossy_text(low: str) -> bool:
    """Whether lower-cased ``low`` may hold a loss: the word ``loss`` or ``损失``, or a loss
    function's name as a word (``target/train_xent: 7.3``, ``Train-cross-entropy=6.9``)."""
    return "loss" in low or LOSS_ZH in low or _LOSS_FN_WORD.search(low) is not None


def _named_before(text: str) -> bool:
    """Whether ``text`` (what comes before a counter word on its line) ends with a word that
    belongs to the counter's name (``number of skipped``), not a separator or a log level."""
    t = text.rstrip()
    if t[-1:] in ("", "|", ",", ";", "[", "(", ":", "-", "]"):
        return False
    last = t.rsplit(None, 1)[-1]
    return last.lower() not in _LEVELS


def _maybe_counter(low: str) -> bool:
    """Whether lower-cased text may hold a named counter (a cheap test before ``_CTR``)."""
    return any(w in low for w in _CTR_WORDS) or (("ep" in low or "it" in low) and (":" in low or "=" in low))


_NOT_ALNUM = re.compile(r"[\W_]+")


@lru_cache(maxsize=4096)
def _spelling(name: str) -> str:
    """``name`` without case and separators: ``Val Loss``, ``val_loss``, ``val-loss`` are one
    (what ``str.isalnum`` keeps: ``\\w`` but the underscore; cached, names repeat on every line)."""
    return _NOT_ALNUM.sub("", name.lower())


def _config_like(line: str) -> bool:
    """A config dump line (``dict(``, ``Namespace(``) or a JSON object line (the JSON-lines
    reader's): never a generic metric line."""
    return "dict(" in line or "Namespace(" in line or line.lstrip().startswith('{"')


_ANN_WORD = re.compile(r"[A-Za-z][A-Za-z_]{0,40}")


def _announcement(text: str) -> bool:
    """Whether masked ``text`` (a line without metrics, counters blanked) can be a section
    title (``Test Error:``, ``Evaluation Results:``, ``testing in eval mode``): at most 6 words
    besides log-level words, no number left and no metric word (``Validation loss decreased
    (0.14 --> 0.13)`` is a note about a metric, not a title)."""
    if _DIGIT.search(text):
        return False
    n = 0
    for m in _ANN_WORD.finditer(text):
        w = m.group()
        if w.lower() not in _LEVELS:
            n += 1
            if n > 6 or _known_word(w):
                return False
    return True


#: what may frame an epoch counter printed alone on its line (``epoch:  0``, ``==== epoch 3 ====``):
#: such a line opens a section whatever its case (a lone ``steps: 5000`` is a setting, not one)
_FRAME = " \t:|-=#*[]()<>~."


def _alone(text: str) -> bool:
    """Whether masked ``text`` (counters blanked) holds nothing but separators, log-level
    words and at most one logger name."""
    # (an ellipsis is punctuation, not a word: ``Train Epoch: 1/70 ...`` is a counter alone)
    words = [w for w in re.findall(r"[A-Za-z0-9_.]+", text) if w.lower() not in _LEVELS and w.strip(".")]
    return len(words) <= 1 and not any(w[:1].isdigit() for w in words)


def _name_mode(name: str) -> str | None:
    """The mode prefix a metric name's own words give (``eval_accuracy`` -> ``eval/``,
    ``test acc`` -> ``test/``, ``train_loss`` -> ``""``), or None when it names no mode."""
    for tok in _TOK.split(name.lower()):
        if tok in _MODE_PREFIX:
            return _MODE_PREFIX[tok]
    return None


def _eval_led(pairs: list[tuple[str, float]]) -> str | None:
    """The eval prefix of a line whose first metric is named as an evaluation's and which
    also holds a loss named without any mode (``test acc: 76.8%, loss: 0.68``; TF
    Estimator's ``eval_accuracy = .., eval_loss = .., loss = ..``): that loss is the
    evaluation's too, not a training point. None when any name on the line says ``train``
    or no unnamed loss is there (the line is then read as before)."""
    lead = _name_mode(pairs[0][0])
    if not lead:
        return None
    modes = [_name_mode(k) for k, _ in pairs]
    if "" in modes or not any(m is None and is_loss_name(k) for (k, _), m in zip(pairs, modes)):
        return None
    return lead


#: a split word ending the text before a name, with only separators after it
_SPLIT_BEFORE = re.compile(r"(?<![\w/.\-])(?P<w>validation|valid|val|testing|test|evaluation|eval|dev)"
                           r"[\])]?[ \t]{0,4}[:=\-|]?[ \t]{0,4}\Z", re.I)


def _split_before(text: str, start: int) -> str | None:
    """The mode prefix (``val/``, ``test/``...) of an evaluation split word printed right before
    the name that starts at ``start`` in ``text`` (``validation average loss``, ``Valid: loss``,
    ``[val] loss=``), or ``None``."""
    m = _SPLIT_BEFORE.search(text, max(0, start - 16), start)
    return _MODE_PREFIX[m.group("w").lower()] if m else None


def _prefixed(name: str, mode: str) -> str:
    if mode == "train/":  # fairseq's epoch summary: every name (``train_wall`` too)
        return name if name.startswith(mode) else mode + name
    return name if _has_mode_token(name) else mode + name


def _counters(text: str) -> tuple[_Ctr, str]:
    """The counters of a masked line, and the line with their text blanked."""
    ctr = _Ctr()
    spans: list[tuple[int, int]] = []
    bounded_gs = False  # the step came from ``Iter [N/M]`` (a count within a bound)
    if "[" in text:
        m = _TIMM.search(text)
        if m:
            mode = m.group("mode").lower()
            ctr.mode = _MODE_PREFIX.get(mode, "")
            if not ctr.mode:
                ctr.mode = None
            if m.group("ep") is not None:
                ctr.ep = int(m.group("ep"))
            ctr.idx, ctr.n = int(m.group("i")), int(m.group("n"))
            if m.group("i2") is not None:  # Swin: Train: [epoch/epochs][i/n]
                if ctr.ep is None:
                    ctr.ep = ctr.idx
                ctr.idx, ctr.n = int(m.group("i2")), int(m.group("n2"))
            ctr.use_mean = mode != "train"
            ctr.start = m.start()
            end = text.find("]", m.end())
            spans.append((m.start(), end + 1 if 0 <= end - m.end() < 40 else m.end()))
        m = _MMC.search(text) if ctr.ep is None and ctr.idx is None else None
        if m:
            k, mode = m.group("k").lower(), (m.group("mode") or "").lower()
            a, b = int(m.group("a")), m.group("b")
            if mode and mode != "train":
                ctr.mode = _MODE_PREFIX.get(mode, mode + "/")
            if k == "epoch":
                ctr.ep = a
                if m.group("i") is not None:
                    ctr.idx = int(m.group("i"))
                    ctr.n = int(m.group("n")) if m.group("n") else None
            elif not ctr.mode:  # Iter(val) [500]: the eval loop's own count, not a step
                ctr.gs = a
                bounded_gs = b is not None
            ctr.header = True
            ctr.start = min(ctr.start, m.start())
            spans.append((m.start(), m.end()))
        if ctr.ep is None and ctr.idx is None and ctr.gs is None:
            m = _DCGAN.search(text)
            if m:
                ctr.ep, ctr.idx, ctr.n = int(m.group("ep")), int(m.group("i")), int(m.group("n"))
                ctr.start = m.start()
                spans.append((m.start(), m.end()))
    if "epoch" in text and ctr.ep is None and ctr.idx is None:
        m = _ESPNET2.search(text)
        if m:
            ctr.ep = int(m.group("ep"))
            if m.group("b") is not None:
                ctr.idx = int(m.group("b"))
            mode = (m.group("mode") or "").lower()
            if mode and mode != "train":
                ctr.mode = _MODE_PREFIX.get(mode, mode + "/")
            ctr.start = min(ctr.start, m.start())
            spans.append((m.start(), m.end()))
    rest = _blank(text, spans)
    step_like: tuple[int, int | None] | None = None
    for m in (_CTR.finditer(rest) if _maybe_counter(rest.lower()) else ()):
        k = m.group("k").lower().replace(" ", "_")
        if k in _NEEDS_SEP and not m.group("sep"):
            continue
        if k in ("iterations", "steps", "iters") and _named_before(rest[:m.start()]):
            # a count named with more words ("number of skipped iterations: 0", "Total
            # prediction steps = 5"), not a counter
            continue
        a = m.group("a") or m.group("c")
        b = m.group("b") or m.group("d")
        val, tot = int(a), (int(b) if b else None)
        spans.append((m.start(), m.end()))
        ctr.start = min(ctr.start, m.start())
        if m.group("k")[0].isupper() or tot is not None:
            ctr.header = True
        if k in _EPOCH_WORDS:
            if ctr.ep is not None:
                continue
            ctr.ep = val
            w = _WITHIN.match(rest, m.end())
            if w and ctr.idx is None:
                i = w.group("i") or w.group("i2")
                n = w.group("n") or w.group("n2")
                ctr.idx, ctr.n = int(i), (int(n) if n else None)
                spans.append((w.start(), w.end()))
        elif k in ("global_step", "num_updates"):
            ctr.gs = val
            ctr.updates = ctr.updates or k == "num_updates"
        elif k in _BATCH_WORDS:
            if ctr.bi is None:
                ctr.bi, ctr.bn = val, tot
        elif step_like is None or (step_like[1] is not None and tot is None):
            # (of two step-like counters, ``iter[14/15] ... [step] 89``, the one with a total
            # counts within something, an epoch or a log interval; the open one is the step)
            step_like = (val, tot)
    if step_like is not None and bounded_gs and step_like[1] is None:
        ctr.gs = None  # ``iter[14/15] ... step: 89``: the open counter is the step (see above)
    if step_like is not None and ctr.gs is None:
        if ctr.ep is not None and ctr.idx is None:
            ctr.amb, ctr.amb_n = step_like
        else:
            ctr.gs = step_like[0]
    if ctr.ep is not None and ctr.idx is None and ctr.bi is not None:
        ctr.idx, ctr.n = ctr.bi, ctr.bn
        ctr.bi = ctr.bn = None
    if not ctr.any() and ctr.idx is None:
        body = text.lstrip()
        m = _LEADCTR.match(body) if body[:1].isdigit() or body[:1] == "[" else None
        if m:
            at = len(text) - len(body)
            if m.group("s") is not None:
                ctr.gs = int(m.group("s"))
            elif m.group("y") is not None:
                ctr.ep, ctr.amb = int(m.group("x")), int(m.group("y"))
            else:
                ctr.gs = int(m.group("x"))
            ctr.lead = at + m.end()
            ctr.start = at
            spans.append((at, at + m.end()))
    return ctr, _blank(text, spans)


def _pairs(text: str, use_mean: bool = False, ctr_start: int = 10 ** 9
           ) -> tuple[list[tuple[str, float]], int, str, list[tuple[str, float]]]:
    """Metric pairs of a masked line whose counters are blanked (``name: value`` anywhere;
    ``name value`` in ``|``/tab fields, or for a known metric word before ``ctr_start``, where
    the line's first counter is: ``loss 2.3 at step 5`` is a sentence); where the first pair
    began; the line with counters and pairs blanked; and a second group of the same names
    (CenterNet-style ``epoch: 5 |loss 0.3 | hm_loss 0.4 | ... | loss 0.2 | hm_loss 0.5 |``,
    the evaluation pass printed after the training values), prefixed ``val/`` (or by the mode
    word before it), empty when no two names repeat."""
    pipe = "|" in text or "\t" in text
    found: list[tuple[int, str, str, str | None, str | None]] = []
    spans = []
    listed = _comma_list(text) if text.count(",") >= 2 else None
    if listed is not None:  # "nGT 42, recall 1, loss: x 27.0, y 28.6, ..., total 1711906.1"
        found, spans = listed
        text = _blank(text, spans)
    if ">" in text:  # a learning-rate change: "learning rate 0.0002000 -> 0.0001000" (the new value)
        for m in _LR_ARROW.finditer(text):
            found.append((m.start(), m.group("k"), m.group("v"), None, None))
            spans.append((m.start(), m.end()))
    if ":" in text or "=" in text:
        for m in _PAIR.finditer(_blank(text, spans)):
            found.append((m.start(), m.group("k"), m.group("v"), m.group("u"), m.group("m")))
            spans.append((m.start(), m.end()))
    rest = _blank(text, spans)
    if " is " in rest:  # "avg loss so far is 0.11", "current lr is 0.001": for a known metric word
        for m in _IS_PAIR.finditer(rest):
            words = m.group("k").split(" ")
            while len(words) > 1 and words[0].lower() in _ARTICLES:
                words.pop(0)
            if any(_known_word(w) for w in words) or _optimiser_name(" ".join(words[-2:])):
                # (``Learning rate is 0.01``: the two words name the learning rate)
                name = " ".join(words)
                found.append((m.end("k") - len(name), name, m.group("v"), m.group("u"), m.group("m")))
                spans.append((m.start(), m.end()))
        rest = _blank(text, spans)
    if pipe:
        pos = 0
        for fieldtxt in re.split(r"[|\t]", rest):
            if fieldtxt.strip():
                fm = _FIELD.fullmatch(fieldtxt)
                if fm:
                    found.append((pos + fm.start("k"), fm.group("k"), fm.group("v"), fm.group("u"), fm.group("m")))
                    spans.append((pos, pos + len(fieldtxt)))
            pos += len(fieldtxt) + 1
        rest = _blank(text, spans)
    low = rest.lower()
    for m in (_SPACE_PAIR.finditer(rest) if any(w in low for w in _HINT_WORDS) else ()):
        words = m.group("k").split(" ")
        # (``Learning Rate 7.000e-05``, ``grad norm 1.2``: two words naming an optimiser metric)
        phrase = len(words) == 2 and _optimiser_name(m.group("k"))
        if not (_known_word(words[-1]) or phrase) or (ctr_start < 10 ** 9 and m.start() < ctr_start):
            continue
        name = m.group("k") if len(words) == 2 and (words[0].lower() in _QUALIFIERS or phrase) else words[-1]
        start = m.start() if name == m.group("k") else m.start("k") + len(m.group("k")) - len(name)
        found.append((start, name, m.group("v"), m.group("u"), m.group("m")))
    rest = _blank(text, spans + [(f[0], f[0] + len(f[1])) for f in found if f[0] >= 0])
    found.sort(key=lambda f: f[0])
    vals: list[tuple[int, str, float]] = []
    for start, raw, val, unit, mean in found:
        name = _norm_name(raw, pipe)
        if name is None or (unit and is_loss_name(name)):
            continue
        try:
            vals.append((start, name, float(mean) if (use_mean and mean is not None) else float(val)))
        except ValueError:
            continue
    out: list[tuple[str, float]] = []
    again: list[tuple[str, float]] = []
    first = 10 ** 9
    seen: set[str] = set()
    split = None  # index in vals where the same names start again
    names = [v[1] for v in vals]
    if len(names) >= 4 and len(set(names)) < len(names):
        for i, name in enumerate(names):
            if name in seen:
                split = i
                break
            seen.add(name)
        if split is not None and len(set(names[split:]) & seen) < 2:
            split = None
        seen = set()
    if split is not None and "[" in text:
        vals, split = _bracket_groups(text, vals, split)
    lead_mode = None  # the split a name starting with a split word opened ("Val acc: .." -> val/)
    scoped: set[tuple[str, str]] = set()
    for i, (start, name, x) in enumerate(vals):
        if split is not None and i >= split:
            break
        wm = _LEAD.match(name)
        if wm and wm.end() < len(name) and name[wm.end()] == " ":
            lead_mode = _MODE_PREFIX[wm.group("w").lower()]
        if name in seen:
            word = _split_before(text, start) if split is None else None
            if word is not None and word != "" and (word, name) not in scoped:
                # "average loss 0.9, validation average loss 1.0", "Train: loss 0.9 Valid: loss
                # 1.0": a name printed again right after a split word (only separators between)
                # is that split's value, not a copy to drop
                scoped.add((word, name))
                again.append((_prefixed(name, word), x))
                continue
            if split is None and lead_mode and " " not in name and (lead_mode, name) not in scoped:
                # "Train acc: .. loss: ..  Val acc: .. loss: .." (each split named once, on the
                # first of its names): a bare name printed again after a split word's name is
                # that split's value, not a copy to drop
                scoped.add((lead_mode, name))
                again.append((_prefixed(name, lead_mode), x))
            continue
        seen.add(name)
        out.append((name, x))
        first = min(first, start)
    if split is not None:
        mode = "val/"
        for lm in _LEAD.finditer(rest, vals[split - 1][0], vals[split][0]):
            mode = _MODE_PREFIX[lm.group("w").lower()] or mode
        done: set[str] = set()
        for _, name, x in vals[split:]:
            if name not in done:
                done.add(name)
                again.append((_prefixed(name, mode), x))
    return out, first, rest, again


# a labelled bracket group: ``tot_loss[loss=0.74, simple_loss=1.49, over 31213.18 frames.]``
_GROUP = re.compile(r"(?<![\w.\-])(?P<g>[A-Za-z_][\w.\-]{0,40})\[(?P<body>[^\[\]]*)\]")


def _bracket_groups(text: str, vals: list[tuple[int, str, float]], split: int
                    ) -> tuple[list[tuple[int, str, float]], int | None]:
    """Names printed again on a line inside a labelled bracket group (icefall's ``loss[loss=0.60,
    ...], tot_loss[loss=0.74, ...]``: this batch's values, then the running totals) are that
    group's, not an evaluation pass's: each group but the first one's names get its label
    (``tot_loss/loss``) and no split is made. A group labelled with a mode word
    (``valid[...]``), or names repeated outside groups, keep the split. Returns ``(vals,
    split)``."""
    groups = [(m.start("body"), m.end("body"), m.group("g")) for m in _GROUP.finditer(text)]
    labels: list[str | None] = []
    j = 0
    for at, _, _ in vals:  # (both in line order: one walk, linear in the line)
        while j < len(groups) and groups[j][1] <= at:
            j += 1
        labels.append(groups[j][2] if j < len(groups) and groups[j][0] <= at else None)
    again = labels[split]
    if again is None or again.lower() in _MODE_PREFIX:
        return vals, split
    first = labels[0]
    return [(at, f"{g}/{name}" if g is not None and g != first else name, x)
            for (at, name, x), g in zip(vals, labels)], None


_LIST_ITEM = re.compile(rf"\s{{0,20}}(?:(?P<g>[A-Za-z][\w]{{0,30}})\s{{0,3}}:\s{{0,3}})?"
                        rf"(?P<k>[A-Za-z_][\w.@/\-]{{0,40}})\s{{1,20}}(?P<v>{NUM})\s{{0,20}}")
_TOTAL_WORDS = frozenset({"total", "sum", "all", "overall"})


def _comma_list(text: str) -> tuple[list[tuple[int, str, str, None, None]], list[tuple[int, int]]] | None:
    """The items of a line that is a comma-separated list of ``name value`` items (3 or more,
    every item one, a trailing comma allowed), where a ``label:`` names a group of the items
    after it: ``nGT 42, recall 1, loss: x 27.0, y 28.6, total 1711906.1`` (a YOLO-region
    loss printout). In a group the items are ``label_name`` (``loss_x``), a total
    (``total``/``sum``/``all``/``overall``) is ``total_label`` (``total_loss``, the name the
    role resolver knows). At least one item must be loss-like. Returns ``(found, spans)`` in
    the form :func:`_pairs` collects, or ``None``."""
    at = 0
    while at < len(text) and text[at] in " \t|:,-":
        at += 1
    comma = text.find(",", at)
    if comma < 0 or _LIST_ITEM.fullmatch(text, at, comma) is None:
        return None  # (the first item decides: most lines are not such lists)
    items, spans = [], []
    group = None
    pos = at
    for part in text[at:].split(","):
        if not part.strip():
            pos += len(part) + 1
            continue
        m = _LIST_ITEM.fullmatch(part)
        if m is None:
            return None
        if m.group("g"):
            group = m.group("g")
        k = m.group("k")
        if group is not None:
            k = f"total_{group}" if k.lower() in _TOTAL_WORDS else f"{group}_{k}"
        items.append((pos + m.start("k"), k, m.group("v"), None, None))
        spans.append((pos, pos + len(part)))
        pos += len(part) + 1
    if len(items) < 3 or not any(is_loss_name(k) for _, k, _, _, _ in items):
        return None
    return items, spans


_WORD = re.compile(r"(?<![\w.@%/\-])[A-Za-z][A-Za-z'\-]{1,40}(?![\w.@%/\-])")


def _prose(rest: str, n_pairs: int, base: int = 8) -> bool:
    """Whether what is left of a line once its counters and metric pairs are blanked is
    running text (more plain words, ``base + 2 * n_pairs``, than a log line's prefix and
    labels: a sentence or a table of notes that mentions a loss)."""
    words = 0
    for m in _WORD.finditer(rest):
        if m.group().lower() not in _LEVELS:
            words += 1
            if words > base + 2 * n_pairs:
                return True
    return False


@lru_cache(maxsize=4096)
def _norm_name(raw: str, pipe: bool) -> str | None:
    words = raw.split()
    for i in range(len(words) - 1, 0, -1):
        w = words[i - 1]
        if len(w) >= 5 and w.endswith(".") and w[:-1].isalpha() and w[:-1].islower():
            # a sentence ends before the name: "Batch [0/9] done. Loss: 6.3" (a lower-case word of
            # 4 letters or more: abbreviations, "Avg. Loss", stay in the name)
            words = words[i:]
            break
    while words and words[0].lower() in _LEVELS:
        words.pop(0)
    if not words:
        return None
    words = words[-(6 if pipe else 4):]
    name = " ".join(words)
    low = name.lower()
    if low in _SKIP or low.endswith("copypaste"):
        return None
    if low.endswith(" loss value"):  # Megatron's validation line: "lm loss value", "lm loss PPL"
        name = name[:-6]
    elif low.endswith(" loss ppl"):
        name = name[:-8] + "ppl"
    return _RENAME.get(name.lower(), name)


def _yolo_val_columns(toks: list[str]) -> list[tuple[int, str]]:
    """Cell index -> tag for an ultralytics (v8: ``Box(P R mAP50 mAP50-95)``) or YOLOv5
    (``P R mAP@.5 mAP@.5:.95``) validation header."""
    out = []
    group = ""
    v8 = any("(" in t for t in toks)
    for i, t in enumerate(toks):
        if "(" in t:
            g, _, t = t.partition("(")
            group = g[:1].upper()
        t = t.rstrip(")").rstrip(":")
        base = {"p": "precision", "r": "recall"}.get(t.lower())
        if base is None and t.lower().startswith("map"):
            base = t.replace("@.5:.95", "_0.5:0.95").replace("@.5", "_0.5") if not v8 else t
        if base is None:
            continue
        out.append((i, f"metrics/{base}({group})" if v8 and group else f"metrics/{base}"))
    return out


def _optimiser_name(name: str) -> bool:
    """Whether ``name`` is a learning rate or a grad norm (``learning rate``, ``lr``,
    ``grad norm``, ``grad_norm``, ``gnorm``): a metric only a training loop prints."""
    toks = [t for t in _TOK.split(name.lower()) if t]
    return ("lr" in toks or ("learning" in toks and "rate" in toks) or "gnorm" in toks
            or ("grad" in toks and "norm" in toks))


def _restate_neighbours(recs: list[_Rec]) -> bool:
    """Whether every metric of every counted line is printed again, same value under the same
    name but for case and separators, by a line without a counter at most
    :data:`_AHEAD_LINES` physical lines before or after it (``loss: 0.2834`` then ``Train
    Epoch:1  Percent:[0/6751 (0%)]  Loss:0.2834``: the epoch line echoes the batch print)."""
    free = [r for r in recs if r.kind == "none" and not r.eval and r.pairs]
    lines = [r.line for r in free]
    for r in recs:
        if r.kind == "none" or not r.pairs:
            continue
        i = bisect.bisect_left(lines, r.line - _AHEAD_LINES)
        near: set[tuple[str, float]] = set()
        while i < len(free) and free[i].line <= r.line + _AHEAD_LINES:
            near.update((_spelling(k), v) for k, v in free[i].pairs)
            i += 1
        if not all((_spelling(k), v) in near for k, v in r.pairs):
            return False
    return True


_INDENT_GAP = 4  # leading spaces that set a second kind of line apart (not a right-aligned number)


def _indented_evals(recs: list[_Rec], notes: list[str]) -> None:
    """Counted lines of the same form at two indentation levels, the deeper ones an
    evaluation pass (Marvin prints its test lines ``Epoch 0  Iteration 200 loss = 0.34`` far
    right of the training lines ``Epoch 0  Iteration 200  learning_rate = .. loss = 0.29``,
    with no word saying so): read as one series, the two overwrite each other at the steps
    they share. The deeper lines become evaluation lines (``eval/`` names) when the counted
    metric lines have exactly two indentation levels at least :data:`_INDENT_GAP` spaces
    apart, the deeper ones are at least 2 and no more than the others, print no name the
    others do not print, one of them a loss, and at least one of them prints a name at a
    counter a shallower line also prints it at (the collision that loses a value). With a
    note. Source: blind6 text-log set (a Marvin console log), generalised to any counted layout."""
    cand = [r for r in recs if r.indent >= 0 and not r.eval and r.pairs and r.ctr.any()]
    levels = sorted({r.indent for r in cand})
    if len(levels) != 2 or levels[1] - levels[0] < _INDENT_GAP:
        return
    flat = [r for r in cand if r.indent == levels[0]]
    deep = [r for r in cand if r.indent == levels[1]]
    if len(deep) < 2 or len(deep) > len(flat):
        return
    flat_names = {k for r in flat for k, _ in r.pairs}
    deep_names = {k for r in deep for k, _ in r.pairs}
    if not deep_names <= flat_names or not any(is_loss_name(k) for k in deep_names):
        return

    def at(r: _Rec) -> tuple:
        c = r.ctr
        return c.ep, c.idx, c.gs, c.amb, c.bi

    taken = {(at(r), k) for r in flat for k, _ in r.pairs}
    if not any((at(r), k) in taken for r in deep for k, _ in r.pairs):
        return
    for r in deep:
        r.eval = True
        # (every name, even one with a mode word: it is a training line's name here)
        r.pairs = [("eval/" + k, v) for k, v in r.pairs]
    notes.append(f"{len(deep)} counted line(s) indented by {levels[1]} spaces print the names of the "
                 f"{len(flat)} other line(s) at the same counters: read as an evaluation pass (eval/ names)")


def _classify(recs: list[_Rec], notes: list[str]) -> None:
    """Set each record's ``kind``: ``gs`` global step, ``ei`` epoch + within-epoch index,
    ``bi`` chained batch counter, ``e`` epoch only, ``none``."""
    amb = [r for r in recs if r.ctr.amb is not None]
    within = False
    prev = None
    for r in amb:
        if prev is not None and r.ctr.ep > prev.ctr.ep and r.ctr.amb <= prev.ctr.amb:
            # (starts again, or stays: ``epoch:3 iter:0/18`` prints each epoch's first
            # iteration only; a global step would have moved on with the epoch)
            within = True
            break
        prev = r
    for r in amb:
        c = r.ctr
        if within:
            c.idx, c.n = c.amb, c.amb_n
        else:
            c.gs = c.amb
        c.amb = c.amb_n = None
    need = [r for r in recs if r.ctr.ep is not None and r.ctr.idx is not None and r.ctr.gs is None]
    if any(r.ctr.n is None for r in need):
        est = max(r.ctr.idx for r in need) + 1
        for r in need:
            if r.ctr.n is None:
                r.ctr.n = est
        notes.append(f"batches per epoch are not printed: estimated as {est} (the largest batch "
                     "index + 1) to place epoch/batch counters on one step axis")
    for r in recs:
        c = r.ctr
        if c.gs is not None:
            r.kind = "gs"
        elif c.ep is not None and c.idx is not None:
            r.kind = "ei"
        elif c.bi is not None:
            r.kind = "bi"
        elif c.ep is not None:
            r.kind = "e"
        else:
            r.kind = "none"
    _constant_steps(recs, notes)


def _sections_of_lines(recs: list[_Rec], notes: list[str]) -> None:
    """Epoch headers over several metric lines each (``Epoch 2 starts`` then lines without a
    counter, ``train_xent: 6.78`` every few seconds): placing each line at its header's epoch
    stacks the lines of an epoch on one step and keeps only the last. When the only counters
    are such headers (lines printing an epoch and no metric), no line has a step counter, and
    a name comes back within one section, the headers are dropped and the file is read as
    one without counters (the n-th group of metric lines is step n, lines above the first
    header included), with a note."""
    if any(r.kind in ("gs", "ei", "bi") or (r.kind == "e" and r.pairs) for r in recs):
        return
    heads = [r for r in recs if r.kind == "e"]
    if not heads:
        return
    names: set[str] = set()
    repeated = False
    for r in recs:
        if r.kind == "e":
            names = set()
        elif r.pairs and not r.eval:
            now = {k for k, _ in r.pairs}
            if now & names:
                repeated = True
                break
            names |= now
    if not repeated:
        return
    for r in heads:
        r.ctr = _Ctr()
        r.kind = "none"
    notes.append(f"{len(heads)} epoch header line(s) each hold several metric lines without a counter: "
                 "the n-th group of metric lines is used as the step (the epochs are not)")


def _constant_steps(recs: list[_Rec], notes: list[str]) -> None:
    """Demote a step counter that never moves while the epoch does: a setting printed once
    per epoch (``batch = 405`` under ``Epoch 3/69``) or once in a command line (``--batch 20``
    above a table of epochs), not a position. Applies when every step-only line (kind ``gs`` or
    ``bi`` without an epoch) prints one same value, on three lines or more or on lines that hold
    no metric, and the epoch-only lines print two epochs or more; those lines then count as
    lines without a counter (placed at the current epoch). Without this, every epoch line is
    placed at that one step and only the last survives. A real step counter moves between its
    prints, so no read with a moving step changes."""
    fixed = [r for r in recs if r.kind in ("gs", "bi") and r.ctr.ep is None and not r.eval]
    if not fixed or (len(fixed) < 3 and any(r.pairs for r in fixed)):
        return
    vals = {r.ctr.gs if r.kind == "gs" else r.ctr.bi for r in fixed}
    if len(vals) != 1 or len({r.ctr.ep for r in recs if r.kind == "e"}) < 2:
        return
    for r in fixed:
        r.ctr.gs = r.ctr.bi = r.ctr.bn = None
        r.kind = "none"
    notes.append(f"a step counter printed {len(fixed)} time(s) with the same value "
                 f"({next(iter(vals))}) while the epoch advances is read as a setting, not a step")


def _grid_cells(line: str) -> list[str] | None:
    """The cells of a table row: a markdown row (``| a | b |``, outer pipes dropped), a
    tab-separated row, or a row whose cells are parted by spaced pipes without outer ones
    (``Epoch | Train Loss | Val Loss``, a script's own table under a ``------+------`` rule);
    ``None`` for any other line."""
    t = line.strip()
    if len(t) > 2 and t[0] == "|" and t[-1] == "|":
        return t[1:-1].split("|")
    if "\t" in t:
        return t.split("\t")
    if " | " in t:
        return t.split("|")
    return None


def _one_spelling(recs: list[_Rec]) -> None:
    """Give the evaluation names that differ only in case and separators one tag (the first
    spelling met): a pass's progress line (``valid on 'valid' subset 1000 / 1311 loss=1.60``,
    read as ``valid/loss``) and its summary (``| valid loss 1.94 |``) are one metric, whose
    last value at the pass's step is the summary's."""
    canon: dict[str, str] = {}
    for r in recs:
        if r.eval and r.pairs:
            r.pairs = [(canon.setdefault(_spelling(k), k), v) for k, v in r.pairs]


def _repeats_per_epoch(recs: list[_Rec]) -> bool:
    """Whether some metric is printed on several lines of the same epoch (per-batch prints
    with only an epoch counter), judged on free-text epoch lines (not table rows).

    Lines of one epoch are counted while that epoch lasts: a numbering that starts again (a
    second run or section printing epochs 1, 2... again) is not a repeat."""
    lines: dict[str, int] = {}
    runs: dict[str, int] = {}
    last: dict[str, tuple[int, int]] = {}  # name -> (epoch, line) of its last print
    for r in recs:
        if r.kind != "e" or r.eval or r.table or not r.pairs:
            continue
        for k, _ in r.pairs:
            before = last.get(k)
            if before == (r.ctr.ep, r.line):
                continue
            lines[k] = lines.get(k, 0) + 1
            if before is None or before[0] != r.ctr.ep:
                runs[k] = runs.get(k, 0) + 1
            last[k] = (r.ctr.ep, r.line)
    return any(lines[k] >= 3 and lines[k] >= 1.5 * runs[k] for k in lines)

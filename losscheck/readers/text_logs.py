"""Plain-text console logs: common training printouts recognised line by line.

Each line is first tried against the fixed layouts below (in this order; their behaviour is
unchanged); a line none of them uses goes to the generic key/value extractor
(:mod:`losscheck.readers._textkv`), which finds a step or epoch counter and ``name: value``
/ ``name=value`` / ``name value`` pairs on any line (mmdetection 2.x, fairseq, timm, Caffe,
darknet, Megatron/DeepSpeed, GAN loops, YOLOv8/ultralytics whitespace tables, python-logging,
glog and timestamp prefixes...: its docstring lists the forms, the names it emits and how
steps and units are resolved).

Fixed formats (learned from each project's public printing code / documentation, matched by
regular expressions written here):

- Hugging Face ``Trainer`` console dicts: ``{'loss': 0.2051, 'grad_norm': nan,
  'learning_rate': 9.7e-06, 'epoch': 0.53}`` (Python dict syntax; newer versions quote the
  numbers, ``{'loss': '3.412', ...}``, read as numbers). They carry no step: the
  n-th training dict gets step n (from 0); an ``eval_*`` dict takes the step of the last
  training dict; the final ``train_runtime`` summary is ignored.
- TF Object Detection / ``tf.contrib.slim`` ``learning.py``:
  ``INFO:tensorflow:global step 438: loss = 5.4e19 (0.403 sec/step)`` (also with absl
  prefixes ``I0422 07:10:04.98 ... learning.py:507]``); tags ``loss`` and ``sec/step``.
- mmengine ``LoggerHook``: ``Iter(train) [10/100]  lr: 1e-4 ... loss: 2.75 grad_norm: nan``
  or ``Epoch(train) [1][200/735] ...`` (global step = (epoch-1)*iters_per_epoch + iter).
- PyTorch ``examples/word_language_model`` ``main.py``: ``| epoch 1 | 200/ 2983 batches |
  lr 20.00 | ms/batch 11.77 | loss 5.21 | ppl 183.4`` (global step =
  (epoch-1)*batches_per_epoch + batch) and ``| end of epoch 1 | time: 36.35s | valid loss
  5.61 | valid ppl 273.43`` (at step epoch*batches_per_epoch); tags ``loss``, ``ppl``,
  ``lr``, ``ms/batch``, ``valid_loss``, ``valid_ppl``.
- flashlight / wav2letter ``Train.cpp`` epoch summaries: ``epoch: 84 | lr: 0.1 | ... |
  loss: inf | train-TER: 52.35 | ...`` (step = epoch; not when a step counter comes before
  ``epoch:``, TSLib's ``iters: 100, epoch: 10 | loss: ..``, or after it, ``epoch:0 || iter:10
  ||``, nor when a mode word comes before it, ``test epoch:3 || Loss:``: those are read by the
  generic extractor).
- cuda-convnet (Krizhevsky's ``convnet.py``): ``1.12... logprob:  0.473, 0.094 (1.409 sec)``
  (epoch.batch, the cost layer's name, its outputs: the first is the cost) read as the cost
  under its layer's name (``logprob``) and ``sec/batch``, the n-th such line being step n
  (the batch numbers are data-batch ids); the cost line right under a ``===Test output===``
  banner is ``test/<name>`` at the last training step; its per-batch test prints
  (``batch 871: ({'logprob': [58.2, 10.0]}, 128)``, sums over a batch, not means) are not read.
- nanoGPT ``train.py``: ``step 250: train loss 2.1, val loss 2.2`` (tags ``train/loss``,
  ``val/loss``, as nanoGPT logs them to W&B) and ``iter 10: loss 3.2, time ...`` (``loss``).
- Keras ``fit(verbose=1|2)``: an ``Epoch 3/15`` line followed by a progress line
  ``... - loss: 0.74 - val_loss: 0.80`` (a progress line above the first header, an excerpt
  that starts with an epoch's last line, is epoch N-1 of that header's N); and similar
  custom epoch blocks (``Epoch: 3/30``
  then lines ``Train Loss: 4.2 - Train Perplexity: 69.7`` / ``Valid Loss: 5.0``): every
  ``Name: number`` after an epoch header belongs to that epoch (last value wins; step =
  the epoch number as printed, ``step_unit="epoch"``).
- Bare ``epoch: 3442 loss: 0.21`` lines (step = epoch; a line printing a name twice, or a
  step / iter / batch counter after the epoch, ``epoch:0 || iter:10 || Loss:``, goes to the
  generic extractor).
- tqdm progress bars whose description or postfix holds metrics
  (``D Loss: 0.34 G Loss: 10.6:   0%|...| 2/400 [00:08<28:12, loss=0.5]``): step = the bar
  counter; when the counter starts again (one bar per epoch), or an epoch named in the
  description changes (``Train Epoch: 2 Loss: 4.5: 100%|..| 500/500``: a log that kept each
  bar's final state only; that epoch is not a metric; also ``Epoch 2: 100%|..``, the epoch
  ending the description), the bars are chained (step = bars_before * total + counter), with
  a note. A postfix key may hold spaces (``Val Loss=0.61``); a ``unit_scale`` count below
  100 is printed with decimals (``1.00/171``). A key the script also prints on its own
  lines at least 3 times (an epoch summary beside per-batch bars) is read from those lines
  only: a bar's rounded display is never merged into the same series (info note).
  A bar without metrics followed by a glued dict (``..| 1/900 [00:10<..]{'loss':
  nan}``) gives the dict to the HF-dict layout.

``nan``, ``inf``, ``-inf`` are kept as values. Hyper-parameters printed before training
(``lr: 0.0001`` lines, ``Namespace(lr=20, epochs=12, ...)``) go to meta when recognised.
A cut last line cannot be told from a complete one in text; it is read as printed.

Records glued on one line (``[010] train_loss: .. | .. [011] train_loss: ..``: a print whose
newline comes only on some epochs) are split at each bracketed counter that rises and is
followed by the line's first name. Before any layout sees it, a physical line is split at carriage returns (each ``\\r``
piece is a progress state; the last state of a Keras epoch is the epoch's value) and at
cursor-up escapes (``ESC[A``: a record printed after a parked tqdm bar is its own line), and each
piece has a leading markdown / e-mail quote mark (``> ``, a log pasted into an issue
thread) dropped, its ANSI escape codes removed, backspaces applied, a python warning that
stderr wrote into an unfinished stdout line (``iter 10 || Loss: 2.3 || /x/aug.py:238:
UserWarning: ...``) and a trailing comment or annotation (``  # after resume``,
``  <-- spike``) cut off. A line nothing can use is counted
(an info note gives how many non-blank lines were not used), never an error.

Warned reads (the report shows the note; the roles are the resolver's): a loss series most of
whose prints fell on steps already taken (a counter not found); only an eval loss named
beside unknown names; one training loss printed at two rates; a loss printed beside a twin
with a one-letter split prefix (``loss`` and ``v_loss``) and no eval loss named; an epoch of
a loss printed again on a later line with another value (the later one kept).

Sniff: a ``.log``/``.txt``/``.out``/``.md`` file is claimed (0.3) when 3 lines of the 64 KB
head (2 in a file under 10 lines; when the head has none, of the last or else the middle 64 KB
of a longer file) hold metrics of a fixed layout (or of pytorch-CycleGAN's
``(epoch: N, iters: N, time: T)`` losses, read by the generic extractor), or when enough lines hold
a loss-like metric with a counter for the generic extractor: 10, or 3 that are at least a
tenth of the non-blank lines (a README quoting a few log lines is not claimed; lines are
counted between ``\n``s, the carriage-return states of a progress bar being one line; a
rule of dashes, ``--`` or ``+----+``, is not counted). A window that is mostly tqdm bars
printing no metric is claimed too, so the user is told that no metric is printed, and so is
a file of at most 3 lines (a whitespace table's header line counted with its rows) with one
loss line.

Every regular expression is linear in the line length (no nested or adjacent quantifiers
that can match the same text in two ways; unbounded name parts are capped), so the work
grows linearly with the log.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name, read_text, wide_bom
from losscheck.readers.interface import BINARY_SUFFIXES, SNIFF
from losscheck.roles import is_eval_name, is_loss_name, names_other_role

_NUM = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[Nn]a[Nn]|nan|[Ii]nf(?:inity)?)"
_TEXT_EXT = (".log", ".txt", ".md", ".out")
#: names never claimed on content alone: formats other readers own, configs, notebooks, markup,
#: scripts, and every binary discovery skips (:data:`~losscheck.readers.interface.BINARY_SUFFIXES`)
_NOT_TEXT_EXT = (".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".yaml", ".yml", ".toml", ".ini", ".cfg",
                 ".parquet", ".db", ".sqlite", ".svg", ".html", ".ipynb", ".wandb", ".xml", ".sh", ".whl",
                 ".mp4") + BINARY_SUFFIXES
#: words of a console capture's file name (``training_log.txt``, ``train.out``, ``stdout.txt``)
_LOGGY = re.compile(r"log|train|out|console|run|nohup")
#: names never read as header-less numbers (a ``.csv``/``.tsv`` without a header may be)
_NOT_NUMERIC_EXT = tuple(e for e in _NOT_TEXT_EXT if e not in (".csv", ".tsv"))
_SNIFF_ENOUGH = 10  # generic loss lines with a counter that make a file a log whatever else it holds

#: CatBoost's ``verbose`` line (``catboost/libs/logging``: ``0:\tlearn: 0.6569860\ttest:
#: 0.6570642\tbest: 0.6570642 (0)\ttotal: 70.1ms\tremaining: 1m 10s``): the iteration, the
#: objective on the learn set and (with an eval set) on the test set, then timings.
#: Source: CatBoost's documentation of ``verbose`` / ``metric_period`` output.
_CATBOOST = re.compile(rf"\s{{0,8}}(?P<i>\d{{1,12}}):\s{{1,8}}learn:\s{{0,8}}(?P<learn>{_NUM})"
                       rf"(?:\s{{1,8}}test:\s{{0,8}}(?P<test>{_NUM}))?(?:\s{{1,8}}best:\s{{0,8}}{_NUM}\s{{0,8}}\(\d{{1,12}}\))?"
                       r"\s{1,8}total:")
_TF_OD = re.compile(rf"global step (\d+):\s*loss = ({_NUM})(?:\s*\(({_NUM}) sec/step\))?")
_MM_ITER = re.compile(r"Iter\(train\)\s*\[\s*(\d+)\s*/\s*(\d+)\s*\](.*)")
_MM_EPOCH = re.compile(r"Epoch\(train\)\s*\[\s*(\d+)\s*\]\s*\[\s*(\d+)\s*/\s*(\d+)\s*\](.*)")
_MM_PAIR = re.compile(rf"([A-Za-z_][\w./-]{{0,100}}):\s+({_NUM})(?=\s|$)")
_WLM = re.compile(r"^\s*\|\s*epoch\s+(\d+)\s*\|\s*(\d+)\s*/\s*(\d+) batches\s*\|(.*)$")
_WLM_END = re.compile(r"^\s*\|\s*end of epoch\s+(\d+)\s*\|(.*)$")
_WLM_NAME = re.compile(r"[A-Za-z][\w/ ]*")
_WLM_VALUE = re.compile(rf"({_NUM})s?")
_FLASHLIGHT = re.compile(r"(?:^|\s)epoch:\s*(\d+)\s*\|(.*)$")
_PIPE_PAIR = re.compile(rf"^\s*([^:|]+?):\s*({_NUM})\s*$")
_NANO_STEP = re.compile(rf"\bstep (\d+): train loss ({_NUM})\b[^,]*,\s*val loss ({_NUM})")
_NANO_ITER = re.compile(rf"\biter (\d+): loss ({_NUM})")
_HF_DICT = re.compile(r"^\s*\{'[\w/.-]+':.*\}\s*$")
_PREFIXED_DICT = re.compile(r"\{'[\w/.-]+':[^{}]*\}\s*$")
#: the split a prefixed dict belongs to, named right before it (``val: {'epoch': 0, ...}``)
_DICT_SPLIT = re.compile(r"(?:^|[\s\]|:-])(train|training|val|valid|validation|eval|test|dev)\s*[:=-]?\s*$", re.I)
#: a printed torch tensor: its number (``tensor(2.3000, device='cuda:0', grad_fn=<...>)``)
#: a metric named in a sentence with its counters between the name and the value: ``Loss at
#: epoch 3 and iteration 500 is 0.21`` (read as ``epoch: 3, iteration: 500, Loss: 0.21``)
_AT_COUNTER = re.compile(rf"\s{{0,20}}(?P<k>[A-Za-z][\w-]{{0,40}}(?: [A-Za-z][\w-]{{0,40}}){{0,3}}) at "
                         rf"(?P<c1>epoch|step|iteration|iter|batch) (?P<n1>\d{{1,12}})"
                         rf"(?:,? and (?P<c2>step|iteration|iter|batch) (?P<n2>\d{{1,12}}))? is "
                         rf"(?P<v>{_NUM})\s{{0,20}}\.?\s{{0,20}}", re.IGNORECASE)
_TENSOR = re.compile(r"\btensor\(\s*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))\b[^)]{0,300}\)")
#: dict keys that are the step of a python dict line (instead of its position)
_DICT_STEP_KEYS = ("global_step", "step", "iteration", "iter", "it")
_NUM_TEXT = re.compile(_NUM)
_HF_TOKEN = re.compile(r"(?<![\w'\"])(-?inf|nan)(?![\w'\"])")
_BARE_EPOCH = re.compile(r"^\s*epoch:?\s*(\d+)(?:\s*[,|]\s+|\s+)(\S.*\bloss\b.*)$", re.IGNORECASE)
# a mode word before "epoch:" (``test epoch:3 || Loss:``): an evaluation line, the generic extractor's
_MODE_BEFORE = re.compile(r"(?<![\w/.-])(?:validation|valid|val|testing|test|evaluation|eval|dev)(?![\w/.-])",
                          re.IGNORECASE)
# a step / iteration / batch counter after the epoch (``epoch:0 || iter:120 || Loss:``,
# ``Epoch 11, step/total_step: 5/60``,
# ``Epoch: 16 | Batch: 920/ 1330 |``): a per-step line, the generic extractor's
_STEP_AFTER = re.compile(r"(?<![\w/.-])(?:global[_ ]step|iteration|iters?|steps?|batch)(?:/[A-Za-z_]{1,20})?"
                         r"\s{0,5}[:=#]?\s{0,5}\[?\s{0,5}\d", re.IGNORECASE)
_EQ_PAIR = re.compile(rf"([A-Za-z_][\w/.-]{{0,100}})\s*[:=]\s*({_NUM})(?=[\s,;|]|$)")
_LISTED_VALUE = re.compile(r"[:=]\s{0,4}\[\s{0,4}[-+.\d]")
_MULTIWORD = re.compile(rf"[A-Za-z)] [A-Za-z_][\w/.-]{{0,100}}\s*[:=]\s*{_NUM}")
_EPOCH_HEADER = re.compile(r"^\s*Epoch:?\s*(\d+)(?:\s*/\s*(\d+))?\s*$", re.IGNORECASE)
_BLOCK_PAIR = re.compile(rf"^\s*([A-Za-z][\w /]*?):\s*({_NUM})[a-zA-Z%]*\s*$")
#: the rest of a tqdm bar after ``%``: ``|bar| n/total [postfix]``; with ``unit_scale`` tqdm
#: prints a count below 100 with three significant digits (``1.00/171``, ``10.0/171``)
_TQDM_REST = re.compile(r"%\|[^|]*\|\s*(\d+(?:\.\d{1,3})?)/(\d+)\s*(?:\[([^\]]*)\])?")
_DESC_PAIR = re.compile(rf"([A-Za-z][A-Za-z_ /]{{0,60}}?)\s*[:=]\s*({_NUM})(?=[\s,;:]|$)")
#: an epoch closing a bar's description without a colon before its number: "Epoch 3", "Epoch 3/10"
_DESC_EPOCH = re.compile(r"(?<![\w])[Ee]poch\s{0,5}(\d{1,9})(?:\s{0,5}/\s{0,5}\d{1,9})?\s{0,5}:?$")
#: one ``key=value`` item of a tqdm postfix (items are separated by ``, ``): the key may hold
#: spaces (``set_postfix(**{"Val Loss": x})`` prints ``Val Loss=0.61``), so a key runs from the
#: item's start, not from the last word before ``=`` (which read ``Val Loss`` as ``Loss``); a
#: postfix string of space-separated items (``loss=0.5 acc=0.9``) is read item by item too
_POSTFIX_PAIR = re.compile(rf"(?:^|,|(?<=\s))\s{{0,8}}([A-Za-z_][\w/.-]{{0,100}}(?: [A-Za-z_][\w/.-]{{0,100}}){{0,4}})"
                           rf"=({_NUM})(?=[,\s]|$)")
_CFG_LINE = re.compile(rf"^\s*([A-Za-z_]\w*)\s*:\s*({_NUM})\s*$")
_NS_PAIR = re.compile(rf"(?<!\w)(\w+)=({_NUM})(?=[,)]|$)")
_KERAS_SEG = re.compile(r"\s*(?:\d{1,12}/\d{1,12}\s{0,5}\[[=>.]{0,400}\]|ETA:\s{0,5}[\d:]{1,12}s?"
                        r"|\d{1,7}(?:\.\d{1,3})?[mu]?s(?:\s{1,3}\d{1,7}(?:\.\d{1,3})?[mu]?s/(?:step|sample))?)\s*")
#: the last segment of a bar refresh cut by the next one glued to it (``- regre``)
_CUT_KEY = re.compile(r"\s{0,3}[A-Za-z_]{1,60}\s{0,8}")
#: where a Keras bar refresh starts (``  3/10000 [....``): a second one on a line was glued on
_KERAS_AT = re.compile(r"(?<![\w/.])\d{1,12}/\d{1,12}\s{0,5}\[[=>.]")
#: a Keras progress bar's counter: ``1875/1875 [====`` (finished when both numbers are equal)
_KERAS_DONE = re.compile(r"\s{0,20}(\d{1,12})/(\d{1,12})\s{0,5}\[[=>.]")
_SEGMENTS = re.compile(r"(?<!\s)\s+-\s+|\t|(?<!\s)\s{3,}")
#: a metric name ending in a number after a space (``Validation loss 6312``): a counter in the name?
_COUNTED_NAME = re.compile(r"(?P<stem>[A-Za-z][\w /.-]{0,100}?[A-Za-z)])\s{1,8}(?P<n>\d{1,12})")
#: cuda-convnet (Krizhevsky's convnet.py): ``1.12... logprob:  0.473, 0.094 (1.409 sec)`` (epoch.batch,
#: then each cost layer's outputs, the first the cost) and its ``===Test output===`` block
_CONVNET = re.compile(rf"^\s*(\d{{1,9}})\.(\d{{1,9}})\.\.\.\s+([A-Za-z_][\w.-]{{0,60}}):\s+({_NUM})"
                      rf"(?:,\s*{_NUM}){{0,8}}\s+\(({_NUM})\s*sec\)\s*$")
_CONVNET_SUMS = re.compile(r"^\s*batch \d{1,12}: \(\{")
_CONVNET_TEST = re.compile(r"^\s*=+\s*Test output\s*=+\s*$")
_CONVNET_COST = re.compile(rf"^\s*([A-Za-z_][\w.-]{{0,60}}):\s+({_NUM})(?:,\s*{_NUM}){{0,8}}\s*$")
_BLOCK_STEP_NAMES = frozenset({"step", "iter", "iteration", "global_step", "global step", "batch"})

#: printed hyper-parameter name -> (meta key, converter)
_META = {"lr": ("learning_rate", float), "learning_rate": ("learning_rate", float),
         "epochs": ("epochs", int), "num_epochs": ("epochs", int), "batch_size": ("batch_size", int),
         "grad_clip": ("max_grad_norm", float), "clip": ("max_grad_norm", float),
         "max_grad_norm": ("max_grad_norm", float), "warmup_steps": ("warmup_steps", int),
         "max_steps": ("max_steps", int), "max_iters": ("max_steps", int)}


def _num(text: str) -> float:
    """A printed number; ``nan``/``inf``/``-inf`` spellings included."""
    return float(text)


def _wlm_pair(field: str) -> tuple[str, str] | None:
    """``name value`` of one ``|`` field of word_language_model (``lr 20.00``,
    ``valid loss 5.61``, ``ms/batch 11.77``); the value may end in ``s``."""
    parts = field.rstrip().rsplit(None, 1)
    if len(parts) != 2:
        return None
    name, value = parts[0].strip(), parts[1]
    vm = _WLM_VALUE.fullmatch(value)
    if not vm or not _WLM_NAME.fullmatch(name):
        return None
    return name, vm.group(1)


def _pipe_pair(field: str) -> tuple[str, str] | None:
    """``name: value`` of one ``|`` field (flashlight)."""
    pm = _PIPE_PAIR.match(field)
    return (pm.group(1), pm.group(2)) if pm else None


def _keras_line(line: str) -> list[tuple[str, float]]:
    """The ``name: value`` pairs of a Keras progress / verbose=2 line (``500/500 [=====] -
    1486s - loss: 0.14 - val_loss: 0.14``, `` - 498s - loss: 1.57``): every ``-``-separated
    segment is a pair, a progress bar or a duration, and a loss is among the pairs; else
    ``[]``."""
    if " - " not in line or "loss" not in line:
        return []
    pairs = []
    segs = _SEGMENTS.split(line)
    for i, seg in enumerate(segs):
        if not seg.strip() or _KERAS_SEG.fullmatch(seg):
            continue
        pm = _BLOCK_PAIR.match(seg)
        if not pm:
            if pairs and _CUT_KEY.fullmatch(seg) and not "".join(segs[i + 1:]).strip():
                break  # a key cut where the next refresh was glued on ("- loss: nan - regre")
            return []
        try:
            pairs.append((pm.group(1).strip(), _num(pm.group(2))))
        except ValueError:
            return []
    return pairs if any("loss" in k.lower() for k, _ in pairs) else []


def _tqdm(line: str):
    """A tqdm bar line: ``(description, counter, total, postfix)`` or ``None``.

    Same result as matching ``^(.*?)\\s*\\d+%\\|[^|]*\\|\\s*(\\d+)/(\\d+)\\s*(?:\\[([^\\]]*)\\])?``
    (with ASCII digits before the ``%``), in time linear in the line length: each ``%|`` is
    tried once, leftmost first, where the regex retried every start position."""
    i = line.find("%|")
    while i >= 0:
        j = i
        while j > 0 and line[j - 1].isdigit() and line[j - 1].isascii():
            j -= 1
        if j < i:
            m = _TQDM_REST.match(line, i)
            if m:
                k = j
                while k > 0 and line[k - 1].isspace():
                    k -= 1
                return line[:k], m.group(1), m.group(2), m.group(3)
        i = line.find("%|", i + 1)
    return None


class _Parser:
    """Line-by-line state machine: the fixed layouts first, then the generic key/value
    extractor (:class:`~losscheck.readers._textkv.KVExtractor`) for lines they do not use."""

    def __init__(self) -> None:
        self.col = Collector()
        self.units: dict[str, str] = {}
        self.epoch: int | None = None  # current epoch block (Keras / custom)
        self.block: dict[int, dict[str, float]] = {}
        # tag -> values an epoch block overwrote with a value from another physical line (lines
        # printed per batch under an "Epoch N/M" header keep only the epoch's last value)
        self.stacked: dict[str, int] = {}
        self.reprinted: dict[str, int] = {}  # loss tag -> epochs printed again (see KVResult.reprinted)
        self._block_line: dict[tuple[int, str], int] = {}  # (epoch, tag) -> line of the kept value
        self._line_no = 0
        self.wlm_batches: int | None = None
        self.hf_train = -1
        self.dict_steps = False  # a dict line carried its own step (iter, step...)
        self.meta: dict = {}
        self.seen_metrics = False
        # (counter, total, pairs, epoch named in the description or None)
        self.tqdm: list[tuple[int, int, list[tuple[str, float]], int | None]] = []
        from losscheck.readers._textkv import KVExtractor  # lazy: see TextLogReader._sniff

        self.kv = KVExtractor()
        self.keras_early: tuple[int, list[tuple[str, float]]] | None = None
        self.convnet_step = -1  # cuda-convnet training lines read
        self.convnet_test = False  # the line after cuda-convnet's "Test output" banner
        self.keras_loose: list[tuple[int, list[tuple[str, float]]]] = []  # finished bars, no header
        # every bar line with a loss while no header was seen: (line, counter, total, pairs)
        self.keras_bars: list[tuple[int, int, int, list[tuple[str, float]]]] = []
        self.bare_bars = 0  # tqdm bar lines without any metric (a console of progress only)
        self.hits = 0  # display lines a fixed layout took metrics from
        self.used: set[int] = set()  # physical lines that gave metrics

    def add(self, tag: str, step: float, value: float, unit: str = "step") -> None:
        self.col.add(tag, step, value)
        self.units.setdefault(tag, unit)

    def _config(self, line: str) -> None:
        i, j = line.find("Namespace("), line.rfind(")")
        pairs = _NS_PAIR.findall(line[i + 10:j]) if 0 <= i and i + 10 <= j else []
        m2 = _CFG_LINE.match(line)
        if m2:
            pairs.append((m2.group(1), m2.group(2)))
        for key, val in pairs:
            spec = _META.get(key.lower())
            if spec is None or spec[0] in self.meta:
                continue
            try:
                x = float(val)
                if math.isfinite(x) and (spec[1] is float or x.is_integer()):
                    self.meta[spec[0]] = spec[1](x)
            except ValueError:
                pass

    def feed(self, line: str, line_no: int = 0) -> bool:
        """Read one cleaned display line of physical line ``line_no``; True when a fixed
        layout or the generic extractor took metrics (with a counter) from it. A printed
        torch tensor (``tensor(2.3000, device='cuda:0', grad_fn=<...>)``) counts as its number."""
        if "tensor(" in line:
            line = _TENSOR.sub(r"\1", line)
        if " at " in line and " is " in line:
            am = _AT_COUNTER.fullmatch(line)
            if am:
                counters = f"{am.group('c1')}: {am.group('n1')}, "
                if am.group("c2"):
                    counters += f"{am.group('c2')}: {am.group('n2')}, "
                line = f"{counters}{am.group('k')}: {am.group('v')}"
        self._line_no = line_no
        if self.convnet_step >= 0 and _CONVNET_SUMS.match(line):
            return False  # cuda-convnet's per-batch test outputs: sums over the batch, not costs
        hit = self._feed(line)
        if hit:
            self.hits += 1
            self.used.add(line_no)
            self.kv.position(line, line_no)
        else:
            hit = self.kv.feed(line, line_no) == 2
            if not hit and self.epoch is None:
                pairs = _keras_line(line)
                if pairs and not self.seen_metrics:  # an excerpt that starts with an epoch's last line
                    self.keras_early = (line_no, pairs)
                dm = _KERAS_DONE.match(line) if pairs else None
                if dm and len(self.keras_bars) < 1_000_000:
                    self.keras_bars.append((line_no, int(dm.group(1)), int(dm.group(2)), pairs))
                if dm and dm.group(1) == dm.group(2) and len(self.keras_loose) < 1_000_000:
                    # a finished Keras bar (``1875/1875 [====] - 5s - loss: ..``) with no
                    # ``Epoch N/M`` header so far: an epoch's last line, pasted without headers
                    self.keras_loose.append((line_no, pairs))
        if hit:
            self.seen_metrics = True
            self.keras_early = None
        elif not self.seen_metrics:
            self._config(line)
        return hit

    def _convnet(self, line: str) -> bool:
        """cuda-convnet's training line (the n-th one is step n, in print order: its batch
        numbers are data-batch ids) and the cost line of its test block (``test/<cost>`` at
        the last training step)."""
        m = _CONVNET.match(line)
        if m:
            self.convnet_step += 1
            self.convnet_test = False
            self.add(m.group(3), float(self.convnet_step), _num(m.group(4)))
            self.add("sec/batch", float(self.convnet_step), _num(m.group(5)))
            return True
        if _CONVNET_TEST.match(line):
            self.convnet_test = self.convnet_step >= 0
            return False
        if self.convnet_test:
            self.convnet_test = False
            cm = _CONVNET_COST.match(line)
            if cm:
                self.add("test/" + cm.group(1), float(self.convnet_step), _num(cm.group(2)))
                return True
        return False

    def _feed(self, line: str) -> bool:
        if ("..." in line or self.convnet_test or "Test output" in line) and self._convnet(line):
            return True
        if "learn:" in line:
            m = _CATBOOST.match(line)
            if m:
                # CatBoost's verbose line: the objective on the training set (``learn``) and on
                # the eval set (``test``); ``best`` restates the best test value so far
                step = float(m.group("i"))
                self.add("learn/loss", step, _num(m.group("learn")))
                if m.group("test") is not None:
                    self.add("test/loss", step, _num(m.group("test")))
                return True
        m = _TF_OD.search(line)
        if m:
            step = float(m.group(1))
            self.add("loss", step, _num(m.group(2)))
            if m.group(3):
                self.add("sec/step", step, _num(m.group(3)))
            return True
        m = _MM_EPOCH.search(line)
        if m:
            ep, it, n = int(m.group(1)), int(m.group(2)), int(m.group(3))
            return self._pairs(_MM_PAIR.findall(m.group(4)), (ep - 1) * n + it, skip={"eta", "epoch"})
        m = _MM_ITER.search(line)
        if m:
            return self._pairs(_MM_PAIR.findall(m.group(3)), int(m.group(1)), skip={"eta", "iter"})
        m = _WLM.match(line)
        if m:
            ep, b, n = int(m.group(1)), int(m.group(2)), int(m.group(3))
            self.wlm_batches = n
            return self._pipe_pairs(m.group(4), (ep - 1) * n + b, _wlm_pair, {})
        m = _WLM_END.match(line)
        if m:
            ep = int(m.group(1))
            step = ep * self.wlm_batches if self.wlm_batches else ep
            rename = {"valid loss": "valid_loss", "valid ppl": "valid_ppl"}
            return self._pipe_pairs(m.group(2), step, _wlm_pair, rename, skip={"time:"})
        m = _FLASHLIGHT.search(line)
        if m and not any(w in line[:m.start()].lower() for w in ("iter", "step", "batch", "update")) \
                and not _STEP_AFTER.search(m.group(2)) and not _MODE_BEFORE.search(line, 0, m.start()):
            # (a step counter before "epoch:" is a per-step line: TSLib's "iters: 100, epoch: 10 |";
            # so is one after it: "epoch:0 || iter:10 || Loss:"; a mode word before it, "test
            # epoch:3 | Loss:", is an evaluation line: all go to the generic extractor)
            return self._pipe_pairs(m.group(2), int(m.group(1)), _pipe_pair, {}, unit="epoch")
        m = _NANO_STEP.search(line)
        if m:
            step = float(m.group(1))
            self.add("train/loss", step, _num(m.group(2)))
            self.add("val/loss", step, _num(m.group(3)))
            return True
        m = _NANO_ITER.search(line)
        if m:
            self.add("loss", float(m.group(1)), _num(m.group(2)))
            return True
        m = _tqdm(line) if "%|" in line else None
        if m:
            pairs, epoch = [], None
            for key, val in _DESC_PAIR.findall(m[0]) + _POSTFIX_PAIR.findall(m[3] or ""):
                key = key.strip()
                if key.rsplit(None, 1)[-1].lower() == "epoch" and epoch is None and val.isdigit():
                    epoch = int(val)  # "Train Epoch: 3 Loss: 2.1: 100%|..": the bar's epoch, not a metric
                    continue
                try:
                    pairs.append((key, _num(val)))
                except ValueError:
                    continue
            if epoch is None and m[0][-40:].lower().rfind("epoch") >= 0:
                em = _DESC_EPOCH.search(m[0][-40:])
                if em:  # Lightning's "Epoch 3: 100%|..| 100/100 [.., loss=0.5]": the bar's epoch
                    epoch = int(em.group(1))
            if pairs:
                self.tqdm.append((int(float(m[1])), int(m[2]), pairs, epoch))
                return True
            if "{'" not in line:
                self.bare_bars += 1
                return False
            # a bar without metrics with the next print glued to its end (a dict written before
            # the bar's newline: "  0%|   | 1/13000 [00:10<36:34, 10.13s/it]{'loss': nan, ...}")
        if _HF_DICT.match(line):
            return self._hf_dict(line)
        m = _PREFIXED_DICT.search(line) if "{'" in line else None
        if m:  # a python dict behind a logging prefix: INFO:root:{'iter': 0, 'train_loss': 2.3}
            sm = _DICT_SPLIT.search(line[:m.start()])
            split = sm.group(1).lower() if sm else None
            return self._hf_dict(line[m.start():], None if split in (None, "train", "training") else split)
        m = _BARE_EPOCH.match(line)
        if m and not _EPOCH_HEADER.match(line) and not _MULTIWORD.search(m.group(2)) \
                and not _STEP_AFTER.search(m.group(2)) and not _LISTED_VALUE.search(m.group(2)):
            # multi-word names (``Train Loss: .., Val Loss: ..``), names printed twice
            # (``loss: .. test: loss: ..``, a second pass), a step counter after the epoch
            # (``epoch:0 || iter:10 || Loss:``) and a value in brackets (``lr=[0.001]``, a
            # scheduler's list, which this layout's pairs would drop) go to the generic extractor
            pairs = _EQ_PAIR.findall(m.group(2))
            # (the line says "loss" but no pair is named so: the loss is printed another way,
            # ``Epoch 0 @ 10:27 PM : 0.98 C.E. Loss``, the generic extractor's)
            if len({k for k, _ in pairs}) == len(pairs) and any(is_loss_name(k) for k, _ in pairs):
                return self._pairs(pairs, int(m.group(1)), unit="epoch")
        m = _EPOCH_HEADER.match(line)
        if m:
            if self.epoch is None and self.keras_early is not None and int(m.group(1)) >= 2:
                # Keras prints "Epoch N/M" before an epoch's lines: a progress line above the
                # first header is the last line of epoch N-1
                no, pairs = self.keras_early
                self.block[int(m.group(1)) - 1] = dict(pairs)
                self.used.add(no)
            self.keras_early = None
            self.epoch = int(m.group(1))
            return False
        if self.epoch is not None:
            got = []
            for seg in _SEGMENTS.split(line):
                pm = _BLOCK_PAIR.match(seg)
                if pm and pm.group(1).strip().lower() not in ("eta", "epoch"):
                    if pm.group(1).strip().lower() in _BLOCK_STEP_NAMES:
                        return False  # a per-step line inside an epoch: the generic extractor's
                    got.append((pm.group(1).strip(), pm.group(2)))
            found = False
            for key, val in got:
                try:
                    x = _num(val)
                except ValueError:
                    continue
                block = self.block.setdefault(self.epoch, {})
                prev = self._block_line.get((self.epoch, key))
                if key in block and prev is not None and prev != self._line_no:
                    # a carriage-return redraw shares its physical line; another line is a
                    # value printed on its own that the epoch block now hides
                    self.stacked[key] = self.stacked.get(key, 0) + 1
                block[key] = x
                self._block_line[(self.epoch, key)] = self._line_no
                found = True
            return found
        return False

    def _pairs(self, pairs, step: float, skip=frozenset(), unit: str = "step") -> bool:
        found = False
        for key, val in pairs:
            if key.lower() in skip:
                continue
            try:
                self.add(key, float(step), _num(val), unit)
                found = True
            except ValueError:
                continue
        return found

    def _pipe_pairs(self, rest: str, step: float, pat, rename, skip=frozenset(), unit="step") -> bool:
        found = False
        for part in rest.split("|"):
            pm = pat(part)
            if not pm:
                continue
            key = pm[0].strip()
            if key.lower() in skip:
                continue
            try:
                self.add(rename.get(key, key), float(step), _num(pm[1]), unit)
                found = True
            except ValueError:
                continue
        return found

    def _hf_dict(self, line: str, split: str | None = None) -> bool:
        """Read one printed python dict; ``split`` is an eval split named just before it
        (``val: {'epoch': 0, 'loss': ..}``, GraphGPS-style loggers print one dict per split):
        its names get ``split/`` in front and it stays on the last training dict's step."""
        text = _HF_TOKEN.sub(lambda m: f"'__{m.group(1)}__'", line.strip())
        try:
            d = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
        if not isinstance(d, dict) or "train_runtime" in d:
            return False
        special = {"'__nan__'": math.nan, "__nan__": math.nan, "__inf__": math.inf, "__-inf__": -math.inf}
        is_eval = split is not None or (any(str(k).startswith("eval_") for k in d) and "loss" not in d)
        step_key = next((k for k in _DICT_STEP_KEYS if isinstance(d.get(k), int) and not isinstance(d.get(k), bool)),
                        None)
        if step_key is not None:  # the dict says its step: {'iter': 100, 'train_loss': ...}
            step = float(d[step_key])
            self.dict_steps = True
        else:
            if not is_eval:
                self.hf_train += 1
            step = float(max(self.hf_train, 0))
        found = False
        for k, v in d.items():
            k = str(k)
            if k == "epoch" or k == step_key or k.endswith(("_runtime", "_per_second")):
                continue
            if isinstance(v, str) and v in special:
                v = special[v]
            elif isinstance(v, str) and _NUM_TEXT.fullmatch(v.strip()):
                v = _num(v.strip())  # newer transformers print the values as strings ('3.412')
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            self.add(f"{split}/{k}" if split else str(k), step, float(v))
            found = True
        return found

    def finish(self) -> list[str]:
        """Flush buffered epoch blocks, tqdm points and the generic extractor's points;
        returns info messages."""
        info = []
        bars, offset, last, last_ep = 0, 0, -1, None
        bar_pts: list[tuple[str, float, float]] = []
        for n, total, pairs, ep in self.tqdm:
            if n < last or (ep is not None and last_ep is not None and ep != last_ep):
                # the counter starts again, or the description names another epoch (a log that
                # kept only each bar's final state: "Epoch: 2 ...: 100%|..| 500/500" after 500/500)
                bars += 1
                offset += max(total, last)
            last, last_ep = n, ep
            for key, v in pairs:
                bar_pts.append((key, float(offset + n), v))
        self.tqdm = []
        # what the other layouts printed, before anything is added (the bars came first)
        elsewhere: dict[str, int] = {t: len(self.col.values(t)) for t in self.col.tags()}
        for vals in self.block.values():
            for key in vals:
                elsewhere[key] = elsewhere.get(key, 0) + 1
        have = bool(elsewhere) or bool(bar_pts)
        loose = self.epoch is None and len(self.keras_loose) >= 2 and not have
        bare = self.epoch is None and bool(self.keras_bars) and not have and not loose
        kv = self.kv.finish(uncounted=not (have or loose or bare))
        for tag, (steps, _) in kv.points.items():
            elsewhere[tag] = elsewhere.get(tag, 0) + len(steps)
        # a bar's postfix is a live display (rounded, often a running value) of what a script
        # may also print on its own lines (an epoch summary): a key printed at least 3 times
        # elsewhere keeps those prints only; the two kinds are never merged into one series
        hidden = sorted({k for k, _, _ in bar_pts if elsewhere.get(k, 0) >= 3})
        for key, step, v in bar_pts:
            if key not in hidden:
                self.add(key, step, v)
        if bars and any(k not in hidden for k, _, _ in bar_pts):
            info.append(f"tqdm counters restarted {bars} time(s); bars were chained into one step axis")
        if hidden:
            info.append(f"{', '.join(repr(k) for k in hidden[:6])} printed on their own lines and in progress-bar "
                        "postfixes: the lines are read, the bars' display values are not")
        for ep, vals in self.block.items():
            for key, v in vals.items():
                self.add(key, float(ep), v, "epoch")
        self.block = {}
        if loose:
            # finished Keras bars and never an "Epoch N/M" header: one epoch each, in order
            for ep, (no, pairs) in enumerate(self.keras_loose, 1):
                for key, v in pairs:
                    self.add(key, float(ep), v, "epoch")
                self.used.add(no)
            info.append("Keras progress lines without 'Epoch N/M' headers: the n-th finished bar is "
                        "used as epoch n")
        elif bare:
            # unfinished Keras bars and never a header (a run that failed within its first
            # epoch, pasted as refreshes): the bar counter is the step, chained when it restarts
            offset, last = 0, -1
            for no, n, total, pairs in self.keras_bars:
                if n < last:
                    offset += max(total, last)
                last = n
                for key, v in pairs:
                    self.add(key, float(offset + n), v)
                self.used.add(no)
            info.append("Keras progress lines without 'Epoch N/M' headers: the bar counter is used as the step")
        self.keras_loose = []
        self.keras_bars = []
        for tag, (steps, values) in kv.points.items():
            unit = kv.units.get(tag, "step")
            for st, v in zip(steps, values):
                self.add(tag, st, v, unit)
        self.used |= {n for n in kv.used_lines}
        self.reprinted = kv.reprinted
        info.extend(kv.notes)
        info.extend(self._counted_names())
        return info

    def _counted_names(self) -> list[str]:
        """Merge the one-point tags whose names differ only by a trailing number that moves
        (``Validation loss 6312: 0.15`` / ``Validation loss 6838: 0.147``: a trainer printing
        the iteration between the name and the colon): at least 3 such tags, one point each,
        the numbers rising with the points' steps, are one series named by the stem (its
        unit kept). A name whose number stays (``top 5``) or that has several points is left
        alone. Returns info messages. Source: blind6 text-log set, generalised to any name."""
        groups: dict[str, list[tuple[int, str]]] = {}
        for tag in self.col.tags():
            m = _COUNTED_NAME.fullmatch(tag)
            if m and len(self.col.values(tag)) == 1:
                groups.setdefault(m.group("stem"), []).append((int(m.group("n")), tag))
        info = []
        for stem, members in groups.items():
            if len(members) < 3 or stem in self.col.tags():
                continue
            by_step = sorted(members, key=lambda nt: float(self.col.steps(nt[1])[0]))
            nums = [n for n, _ in by_step]
            if any(b <= a for a, b in zip(nums, nums[1:])):
                continue
            unit = self.units.get(by_step[0][1], "step")
            self.col.merge([t for _, t in by_step], stem)
            self.units[stem] = unit
            info.append(f"{len(members)} names '{stem} N' with a rising number N were read as one "
                        f"series '{stem}' (the number is a counter printed in the name)")
        return info


#: a series whose counter goes back is read as launches chained in file order only when each
#: launch but the last printed at least this many points (fewer: interleaved writers or
#: out-of-order prints, left to :func:`losscheck.series.normalize`)
_LAUNCH_MIN = 3


def _level(values: list[float], log: bool) -> float:
    """The median of finite ``values`` (on a log scale when ``log``); NaN when none is finite."""
    vs = sorted(math.log(v) if log else v for v in values if math.isfinite(v) and (v > 0 or not log))
    return vs[len(vs) // 2] if vs else math.nan


def _fresh_start(values: list[float], starts: list[int]) -> bool | None:
    """Whether some launch of a loss series starts afresh: its first values lie nearer the
    first launch's opening level than the previous launch's closing level, by more than the
    previous launch's own print-to-print noise (levels: medians of up to 5 prints, on a log
    scale when every value is positive). ``None`` when a level cannot be measured (no finite
    value at a boundary). Work: O(points)."""
    fin = [v for v in values if math.isfinite(v)]
    log = bool(fin) and min(fin) > 0
    ends = starts[1:] + [len(values)]
    k0 = max(1, min(5, (ends[0] - starts[0]) // 3))
    opening = _level(values[:k0], log)
    for b, e, pb in zip(starts[1:], ends[1:], starts[:-1]):
        k = max(1, min(5, (e - b) // 3, (b - pb) // 3))
        closing, new = _level(values[b - k:b], log), _level(values[b:b + k], log)
        if not (math.isfinite(opening) and math.isfinite(closing) and math.isfinite(new)):
            return None
        prev = [math.log(v) if log else v for v in values[pb:b] if math.isfinite(v) and (v > 0 or not log)]
        steps = sorted(abs(y - x) for x, y in zip(prev, prev[1:]))
        noise = 3 * steps[len(steps) // 2] if steps else 0.0
        if abs(new - opening) < abs(new - closing) and abs(new - closing) > noise:
            return True
    return False


def _launches(st: list) -> list[int] | None:
    """The first index of each launch of a series whose step counter goes back (at least two
    launches, every one but the last of :data:`_LAUNCH_MIN` points or more, no step repeated
    in a row), or ``None``."""
    if len(st) < _LAUNCH_MIN + 1 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in st):
        return None
    starts = [0] + [i + 1 for i in range(len(st) - 1) if st[i + 1] < st[i]]
    if len(starts) == 1 or any(st[i + 1] == st[i] for i in range(len(st) - 1)):
        return None
    ends = starts[1:] + [len(st)]
    if any(e - b < _LAUNCH_MIN for b, e in zip(starts[:-1], ends[:-1])):
        return None
    return starts


def _chain_launches(col: Collector) -> list[str]:
    """Chain the launches of a text log that carries one run across them: a series whose step
    counter goes back (a run resumed in a new session, ``model.fit`` called again, a second
    phase numbered from 1) keeps every print in file order, each launch placed after the one
    before (its steps shifted to start one stride after the previous launch's last step),
    instead of the later launch replacing the earlier points. A text log is a record of what
    was printed, in order, and dropping the earlier launch (the TensorBoard purge, right for
    event files whose writer restarts) would judge such a run on its last launch only.

    Applied to the whole file or not at all, so the roles stay aligned: only when every
    loss-named series that goes back carries on from where its previous launch ended
    (:func:`_fresh_start` is False: no launch jumps back to the opening level, which is runs
    appended to one file, each trained from scratch; those keep the normalizer's restart rule
    and its warning, the verdict then covering the last launch), and only series whose
    counter never repeats a step in a row and whose launches but the last printed at least
    :data:`_LAUNCH_MIN` points (interleaved writers ``1,1,2,2`` / ``1,2,1,2`` keep the
    normalizer's semantics). Returns one warning per chained series. Work: O(points).
    Source: the labelling convention of the text-log collections (``benchmarks/text_logs_blind6``
    to ``blind9``: restarts and resumes inside a labelled piece are counted as printed, in file
    order), generalised to any series."""
    found = {tag: st for tag in col.tags() if (st := _launches(col.steps(tag))) is not None}
    losses = [tag for tag in found if is_loss_name(tag)]
    if not losses or any(_fresh_start(col.values(tag), found[tag]) is not False for tag in losses):
        return []
    out = []
    for tag, starts in found.items():
        st = col.steps(tag)
        ends = starts[1:] + [len(st)]
        new = list(st[:ends[0]])
        for b, e in zip(starts[1:], ends[1:]):
            gaps = sorted(new[i + 1] - new[i] for i in range(max(0, len(new) - 8), len(new) - 1))
            shift = new[-1] + (gaps[len(gaps) // 2] if gaps else 1) - st[b]
            new.extend(x + shift for x in st[b:e])
        col.restep(tag, new)
        back = ", ".join(f"{st[b - 1]:g} -> {st[b]:g}" for b in starts[1:4])
        out.append(f"{tag}: the step counter went back {len(starts) - 1} time(s) ({back}) and the values "
                   "carry on from where they were (a run resumed or continued in a new launch): every "
                   "print is kept, the launches chained in file order")
    return out


def _doubtful(series, printed: dict[str, int]) -> list[str]:
    """Warnings for loss-named series whose read is doubtful: at least 3 printed values and
    more than half of them gone because they landed on a step already taken (``printed``: tag
    -> values read). Lines stacked on one step are the sign of a counter the reader did not
    find (values printed per batch under an epoch it took for the step): the series it keeps
    may not be the one the log printed, so the report says so instead of judging it silently."""
    out = []
    for s in series:
        n = printed.get(s.tag, 0)
        if is_loss_name(s.tag) and n >= 3 and 2 * len(s.values) < n:
            out.append(f"{s.tag}: {n} printed values fell on {len(s.values)} step(s); the step counter of "
                       "these lines may not have been found, so this series is a doubtful read")
    return out


#: a record's leading counter: ``[011] `` (a bracketed number) followed by the record's first name
_GLUED_CTR = re.compile(r"\[\s{0,3}(\d{1,9})\s{0,3}\][ \t]{0,5}([A-Za-z_][\w./-]{0,60})")


def _glued_records(line: str) -> list[str] | None:
    """The records of a line that holds several, each starting with a bracketed counter and
    the same first name (``[010] train_loss: 0.30 | .. [011] train_loss: 0.27 | ..``: a script
    that ends its print with a newline only on some epochs glues the others on one line), or
    ``None``. The line must start with such a counter, the counter must rise from record to
    record and every record must start with the same name; otherwise the line is one record
    (a bracketed number inside a message, ``[3] Fixed loss: ..``, is not a record start).
    Source: blind7 text-log set (epochs glued where ``>>> save models!`` was not printed)."""
    head = _GLUED_CTR.match(line.lstrip())
    if not head:
        return None
    off = len(line) - len(line.lstrip())
    starts, last = [off], int(head.group(1))
    for m in _GLUED_CTR.finditer(line, off + head.end()):
        if m.group(2) != head.group(2) or int(m.group(1)) <= last:
            continue
        starts.append(m.start())
        last = int(m.group(1))
    if len(starts) < 2:
        return None
    return [line[a:b] for a, b in zip(starts, starts[1:] + [len(line)])]


#: words of metric names that are not a loss (scores, speeds, sizes): never the training loss
#: hidden under an unknown name
_NOT_LOSS_WORDS = frozenset({"f1", "auc", "map", "iou", "miou", "dice", "bleu", "rouge", "meteor", "cider",
                             "psnr", "ssim", "ppl", "perplexity", "time", "speed", "sec", "secs", "seconds",
                             "recall", "precision", "score", "wer", "cer", "top1", "top5", "epoch", "step",
                             "it", "samples", "lr", "memory", "mem", "best", "eta", "auroc", "return",
                             "reward", "fps"})
_NAME_WORD = re.compile(r"[a-z0-9]+")


def _eval_loss_only(series) -> list[str]:
    """A warning when a loss is named only for evaluation (``loss val``, ``val_loss``) while
    other series printed at exactly its steps have names that neither say loss nor belong to
    another role or a known score (``Epoch 3: Cos eeg: 6.1, Cos img: 6.1, loss val: 6.3``):
    the resolver then analyses the eval loss alone, and one of those series may be the
    training loss under a name losscheck does not know, so the user is told (and can pick it
    with ``--loss``). Source: blind7 text-log set (contrastive terms printed as ``Cos ..``)."""
    losses = [s for s in series if is_loss_name(s.tag)]
    if not losses or not all(is_eval_name(s.tag) for s in losses):
        return []
    out = []
    for ev in losses:
        steps = ev.steps.tolist()
        unknown = [s.tag for s in series
                   if s.tag != ev.tag and not is_loss_name(s.tag) and s.steps.tolist() == steps
                   and not is_eval_name(s.tag) and not names_other_role(s.tag)
                   and not _NOT_LOSS_WORDS.intersection(_NAME_WORD.findall(s.tag.lower()))]
        if unknown and len(steps) >= 2:
            shown = ", ".join(repr(t) for t in unknown[:4]) + (" ..." if len(unknown) > 4 else "")
            out.append(f"only an evaluation loss is named ({ev.tag!r}); {shown}, printed on the same lines, "
                       "may be the training loss under a name not known as a loss (pick it with --loss TAG)")
            break
    return out


def _reprinted(series, reprinted: dict[str, int]) -> list[str]:
    """A warning for each loss series one of whose epochs was printed on two lines with two
    values (``Saved model at epoch 1 with loss: 1.77`` then ``.. epoch 1 with loss: 1.62``): one
    point per epoch keeps the later value, so the earlier print is not analysed and a reader
    counting every print in file order would see another first value or trend.
    ``reprinted``: tag -> such epochs. Source: blind8 text-log set (a save log written on
    every improvement, twice within one epoch)."""
    out = []
    for s in series:
        n = reprinted.get(s.tag, 0)
        if n and s.step_unit == "epoch":
            out.append(f"{s.tag}: {n} epoch(s) printed again on a later line with another value; one point per "
                       "epoch keeps the later value, so the earlier print is not analysed")
    return out


def _letter_split(series) -> list[str]:
    """A warning when no evaluation loss is named but a loss is printed beside a twin whose
    name is its own with a one-letter split prefix, at exactly its steps (``loss 5.36  v_loss
    4.59`` per epoch, ``t_loss``): the prefix may abbreviate validation / test, and the
    resolver would then analyse the training loss alone with no eval loss; the user is told
    and can name it with ``--eval-loss``. Not a role change: ``v_loss`` is also a value loss
    in reinforcement learning. Source: blind8 text-log set (Lightning + Rich epoch lines with
    ``v_`` twins of every metric)."""
    tags = {s.tag: s for s in series}
    if any(is_loss_name(t) and is_eval_name(t) for t in tags):
        return []
    for s in series:
        if not is_loss_name(s.tag) or len(s.values) < 2:
            continue
        for p in ("v_", "t_", "V_", "T_"):
            twin = tags.get(p + s.tag)
            if twin is not None and twin.steps.tolist() == s.steps.tolist():
                return [f"{twin.tag!r} is printed beside {s.tag!r} on the same lines: its prefix may mean "
                        f"validation or test, and no other eval loss is named (name it with --eval-loss {twin.tag!r})"]
    return []


_TRAIN_WORDS = frozenset({"train", "training"})


def _train_twin(series) -> list[str]:
    """A warning when no evaluation loss is named, the loss's name says ``train`` (``Train
    Loss``) and exactly one other loss, at exactly its steps, carries no split word (``True
    Loss`` per epoch beside ``Train Loss``): a name that says train is there to tell it from
    another split, so the other loss may be measured on held-out data (a monitoring loss); the
    resolver reads it as neither, and the user is told and can name it with ``--eval-loss``.
    Not a role change: the second loss may as well be a part of the training objective.
    Source: blind9 text-log set (a semi-supervised run's ``True Loss`` on a watch loader)."""
    if any(is_loss_name(s.tag) and is_eval_name(s.tag) for s in series):
        return []
    losses = [s for s in series if is_loss_name(s.tag) and len(s.values) >= 2]
    trains = [s for s in losses if _TRAIN_WORDS & set(_NAME_TOKENS.findall(s.tag.lower()))]
    if len(trains) != 1:
        return []
    train = trains[0]
    steps = train.steps.tolist()
    twins = [s for s in losses if s is not train and s.steps.tolist() == steps]
    if len(twins) != 1 or twins[0].values.tolist() == train.values.tolist():
        # (the same values under a second name are a duplicate print, not another split)
        return []
    return [f"{twins[0].tag!r} is printed beside {train.tag!r} at the same steps with no split word while "
            f"{train.tag!r} says train: it may be measured on held-out data, and no other eval loss is named "
            f"(name it with --eval-loss {twins[0].tag!r})"]


#: name words that say how a value is aggregated or which split, not what it measures (not
#: ``epoch``: a ``<name>_epoch`` series is the reader's own split of an epoch summary printed
#: under its per-step name, a deliberate read)
_RATE_WORDS = frozenset({"train", "training", "avg", "average", "mean", "running"})
_NAME_TOKENS = re.compile(r"[^\W_]+")


def _two_rates(series) -> list[str]:
    """A warning when a training loss is printed at two rates under names that differ only
    by a split or aggregate word (``loss`` per batch and ``Train Loss`` per epoch; MXNet's
    Speedometer ``M0_BboxLoss`` per batch and ``Train-M0_BboxLoss`` at each epoch end): the
    resolver analyses one of them by its rules (the finer, per-step one) while the log's own
    record may be the other, so the user is told both exist and how to pick the other
    (``--loss``). Both need at least 3 points and one at least 3 times as many as the other.
    Source: blind7 text-log set (labellers took the epoch summaries)."""
    losses = [s for s in series if is_loss_name(s.tag) and not is_eval_name(s.tag) and len(s.values) >= 3]
    keyed: dict[str, list] = {}
    for s in losses:
        key = "".join(t for t in _NAME_TOKENS.findall(s.tag.lower()) if t not in _RATE_WORDS)
        keyed.setdefault(key, []).append(s)
    pairs = []
    for group in keyed.values():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda s: -len(s.values))
        fine, coarse = group[0], group[-1]
        if len(fine.values) >= 3 * len(coarse.values):
            pairs.append((fine, coarse))
    if not pairs:
        return []
    shown = "; ".join(f"{f.tag!r} ({len(f.values)} values) and {c.tag!r} ({len(c.values)})" for f, c in pairs[:3])
    return [f"a training loss is printed at two rates: {shown}{' ...' if len(pairs) > 3 else ''}; the report "
            "analyses one (its loss role), the other is the log's coarser record and can be picked with --loss"]


#: a cursor-up escape (``ESC[A``, ``ESC[2A``, ``ESC[F``): what follows is drawn on another line
_CURSOR_UP = re.compile(r"\x1b\[\d{0,4}[AF]")


def _display_lines(text: str):
    """``(physical line number, cleaned display line)`` for every non-blank piece of
    ``text``: physical lines split at ``\\n``, then at carriage returns (and the other
    breaks ``str.splitlines`` knows) and cursor-up escapes, each cleaned by :func:`clean_line`."""
    from losscheck.readers._textkv import clean_line

    for no, physical in enumerate(text.split("\n")):
        pieces = physical.splitlines()
        if "\x1b[" in physical:
            # a cursor moved up (``ESC[A``: tqdm parks a nested bar so) ends what was drawn on
            # that line: a log record printed next is a display line of its own, not the bar's
            pieces = [q for piece in pieces for q in _CURSOR_UP.split(piece)]
        for part in pieces:
            if not part.strip():
                continue
            line = clean_line(part)
            if not line.strip():
                continue
            if line.count("[") > 1:
                records = _glued_records(line)
                if records:
                    # several records glued on one line: each is a display line of its own
                    yield from ((no, r) for r in records if r.strip())
                    continue
            if "/" in line and "[" in line:
                starts = [m.start() for m in _KERAS_AT.finditer(line)]
                if len(starts) > 1:
                    # Keras bar refreshes glued on one line (carriage returns lost in a copy):
                    # each refresh is a display line of its own
                    for a, b in zip([0] + starts[1:], starts[1:] + [len(line)]):
                        if line[a:b].strip():
                            yield no, line[a:b]
                    continue
            yield no, line


def _parse(text: str, stop_at: int | None = None, finish: bool = True) -> tuple[_Parser, int, list[str]]:
    """Feed every display line of ``text`` to a :class:`_Parser` and finish it.

    Returns ``(parser, hits, info)``: ``hits`` counts display lines a fixed layout took
    metrics from plus physical lines where the generic extractor found a loss with a counter
    (the sniff's measure). With ``stop_at``, reading stops (unfinished: ``info`` is empty)
    as soon as ``hits`` reaches it; with ``finish=False`` the parser is not finished."""
    p = _Parser()
    for no, line in _display_lines(text):
        p.feed(line, no)
        if stop_at is not None and p.hits + p.kv.loss_lines >= stop_at:
            return p, p.hits + p.kv.loss_lines, []
    hits = p.hits + p.kv.loss_lines
    info = p.finish() if finish else []
    return p, hits, info


#: a file of at most this many non-blank lines is claimed with one counted loss line
_ONE_LINE_LOG = 3
#: a console of at most this many non-blank lines whose loss lines are all table rows (one row
#: per table header) is claimed: a start-up preamble and an epoch table cut at its first rows
_SHORT_CONSOLE = 40


def _loss_series_enough(p: _Parser, nonblank: int) -> bool:
    """Whether the finished parser ``p`` of a sniff window of ``nonblank`` non-blank lines
    holds a loss-named series (:func:`~losscheck.roles.is_loss_name`) of at least 3
    points with at least 2 distinct values (``nan`` is one), not all whole numbers, and as many points as the counted-line rule asks:
    10, or a tenth of the non-blank lines (a config dump names each loss once; a README
    quoting three log lines is a small share of its lines), most of them not worded like a
    sentence (a quoted discussion, ``I think the loss is 0.3 because ...``)."""
    for tag in p.col.tags():
        if not is_loss_name(tag):
            continue
        values = p.col.values(tag)
        n = len(values)
        if n < 3 or len({repr(v) for v in values}) < 2 or all(v.is_integer() for v in values):
            continue  # (whole numbers only: an index or a count named like a loss, ``[3] Fixed loss: 3.0``)
        if 2 * p.kv.wordy_lines > n:
            continue  # (sentences that mention a loss: a quoted discussion)
        if n >= _SNIFF_ENOUGH or 10 * n >= nonblank:
            return True
    return False


def _csv_table(head: bytes) -> bool:
    """Whether ``head`` opens with a header of several fields, one a step key, and a numeric
    row: the CSV reader claims such a ``.log``/``.txt`` file (``csv_generic``'s text rule)."""
    from losscheck.readers._tabular import text_table

    return text_table(head)


def _tail(path: Path, n: int, middle: bool = False) -> bytes:
    """The last ``n`` bytes of a plain file on disk, or with ``middle`` the ``n`` bytes at its
    middle (``b""`` for a ``.gz`` file, a file held in memory, a file the head already held,
    or any error): read through the non-blocking open of :func:`open_regular`."""
    import os

    from losscheck.readers._common import in_memory, open_regular

    if path.name.endswith(".gz") or in_memory(path):
        return b""
    try:
        fd = open_regular(path)
    except Exception:  # noqa: BLE001 - a sniff never raises
        return b""
    try:
        size = os.fstat(fd).st_size
        if size <= n or (middle and size <= 3 * n):
            return b""  # the head (and the tail) held all of it
        os.lseek(fd, (size - n) // 2 if middle else size - n, os.SEEK_SET)
        return os.read(fd, n)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _names_loss(name: str) -> bool:
    """:func:`losscheck.readers._numlines.names_loss` (imported when called)."""
    from losscheck.readers._numlines import names_loss

    return names_loss(name)


def _numbers_log_name(name: str) -> bool:
    """Whether a lower-case file name says console log (``log.txt``, ``train.log``, ``nohup.out``:
    :data:`_LOGGY` and a text suffix) so that a file of header-less rows of numbers only is read
    as one when its rows open with an index column (a script's ``print(step, loss, avg)`` to
    its log; blind9's Tacotron-2 excerpt). Nothing names the loss there: the read warns."""
    return name.endswith((".log", ".txt", ".out")) and _LOGGY.search(name) is not None


def _opens_with_numbers(head: bytes) -> bool:
    """Whether the first non-blank line of ``head`` opens with a number or ``array(`` (a cheap
    test before the header-less numbers grammar is imported for a file named like a log)."""
    first = head.lstrip()[:8]
    return (first[:1] != b"" and first[:1] in b"0123456789+-.") or first.startswith(b"array(")


class TextLogReader(BaseReader):
    """Console logs (``.log``, ``.txt``, ``.md``, ``.out``) with recognised metric lines.

    ``read`` returns one series per metric found (see the module docstring for the formats,
    their step rules and units) and meta from printed hyper-parameters.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: never for text (an unrecognised file yields no series and a note).
    """

    name = "text-log"
    description = ("console logs: HF dicts, TF Object Detection, mmengine, word_language_model, "
                   "flashlight, nanoGPT, Keras verbose, epoch blocks; any other printout with a "
                   "step/epoch counter and name: value pairs (mmdet, fairseq, timm, Megatron, "
                   "darknet, YOLO tables...)")

    def _sniff(self, path: Path, head: bytes) -> float:
        # the text grammar (readers._numlines, readers._textkv: hundreds of regexes) is imported
        # only for a name and head these checks let through: a YAML file or an event file
        # beside a run's logs never loads it
        name = base_name(path).lower()
        numeric = not name.endswith(_NOT_NUMERIC_EXT) and b"\x00" not in head[:4096]
        loss_named = numeric and _names_loss(name)
        if numeric and (loss_named or (_numbers_log_name(name) and _opens_with_numbers(head))):
            # ``loss_log.txt``, ``train_loss.csv``: header-less numbers (a table with a header
            # is the CSV reader's, and fails this test on its header line); ``log.txt`` of
            # indexed rows of numbers only (:func:`_numbers_log_name`)
            from losscheck.readers._numlines import read_numeric

            lines = [ln for ln in head.decode("utf-8", errors="replace").splitlines() if ln.strip()]
            if lines and read_numeric(lines, loss_named) is not None:
                return SNIFF["text-log"]["metric-lines"]
        named = name.endswith(_TEXT_EXT)
        if not named and (name.endswith(_NOT_TEXT_EXT) or b"\x00" in head[:4096] or name.startswith("events.out.")):
            return 0.0
        if name.endswith((".log", ".txt", ".out")) and _csv_table(head):
            return 0.0  # a table with a step column from the first line on: the CSV reader's
        score = self._sniff_window(head)
        if score == 0.0 and len(head) >= 65536:
            # a long preamble (NCCL INFO lines, a printed model, a config) can fill the first
            # 64 KiB: the metric lines come later, so the last 64 KiB are looked at too, and
            # the middle 64 KiB (a long epilogue, an evaluation dump or prose, can fill the tail)
            for middle in (False, True):
                window = _tail(path, 65536, middle)
                if window:
                    score = self._sniff_window(window.split(b"\n", 1)[-1])
                if score:
                    break
        if score == 0.0 and named and _LOGGY.search(name) and wide_bom(path):
            # a console capture PowerShell wrote (``python train.py > training_log.txt``: UTF-16
            # with a byte-order mark, decoded as it is read) without a metric line, such as a
            # run that crashed before its first print: read, so the user is told no loss was
            # printed, not that the file is not a log; below every other reader
            return SNIFF["text-log"]["other-name"]
        if score and not named:
            # another name (``log``, ``R50-FPN_log.py``, ``run.b``, ``nohup``): claimed on its
            # content alone, below every specific and generic reader (any of them wins)
            return SNIFF["text-log"]["other-name"]
        return score

    def _sniff_window(self, head: bytes) -> float:
        """The sniff score of one window of the file (at most 64 KiB; its last line may be cut)."""
        text = head.decode("utf-8", errors="replace")
        lines = text.splitlines()
        if len(head) >= 65536 and lines:
            lines = lines[:-1]
        p, _, _ = _parse("\n".join(lines), stop_at=_SNIFF_ENOUGH, finish=False)
        # physical lines: a progress bar's carriage-return states are one line, not hundreds
        physical = text.split("\n")
        if len(head) >= 65536 and len(physical) > 1:
            physical = physical[:-1]
        # (a rule of dashes or pluses framing a block, ``--``, ``+----+``, holds nothing)
        nonblank = sum(1 for ln in physical if ln.strip() and any(c.isalnum() for c in ln))
        bars = len(p.keras_bars) if p.epoch is None else 0
        known = p.hits + p.kv.layout_lines + max(len(p.keras_loose), bars)
        generic = p.kv.loss_lines - p.kv.layout_lines
        if known >= 3 or (known >= 2 and nonblank < 10):
            return 0.3
        # generic lines: a loss with a counter on enough lines, and not a few lines quoted in
        # a long document (a README with a log excerpt, a config dump)
        total = known + generic
        if total >= _SNIFF_ENOUGH or (total >= 3 and 10 * total >= nonblank) or (total >= 2 and nonblank < 10):
            return 0.3
        if p.kv.split_lines >= 3 and 2 * p.kv.split_lines >= nonblank:
            # counted lines of values named by the split alone (``train=0.149 valid=0.216``), most
            # of the file: read, so the user is told no name says loss and which names there are
            return 0.3
        if p.kv.optimiser_lines >= 3 and 2 * p.kv.optimiser_lines >= nonblank:
            # counted step lines with a learning rate or grad norm and no loss (a trainer whose
            # loss print is missing: Megatron's ``iteration 5/100 | learning rate: .. | grad
            # norm: nan |``), most of the file: read, so the user is told that no loss is printed
            return 0.3
        if p.bare_bars >= 3 and 2 * p.bare_bars >= nonblank:
            # a console of tqdm bars that print no metric (``[train]:  0%|  | 1974/3000000
            # [08:35<218:49:50, 3.81it/s]``, most of the window): read, so the user is told that
            # no loss is printed, not that the file is not a log
            return 0.3
        if total >= 1 and nonblank - p.kv.table_headers <= _ONE_LINE_LOG:
            # a log cut to its one metric line (a run that diverged at its first print, a
            # one-line excerpt): read, so the verdict says "too little data" instead of
            # "not a log"; a table's header line belongs to its row (YOLOv5's epoch header,
            # one epoch row, the validation header and its ``all`` row: one epoch)
            return 0.3
        if p.kv.table_headers and 1 <= total <= p.kv.table_headers and nonblank <= _SHORT_CONSOLE:
            # the same, after the trainer's start-up preamble (YOLOv5's weight transfer,
            # dataset scan and autoanchor lines, then its epoch header and the one row of a
            # run that was NaN from its first epoch): every loss line is a row under a table
            # header that names a counter and the losses, in a short console, not a long
            # document quoting a table
            return 0.3
        # lines without a counter (``训练损失: 32.1`` per epoch, ``0/10105 in 0 epoch ..., Loss is
        # 2.64``): the window is read as the reader would read it, and a loss-named series of
        # changing values with as many points as the counted lines above would need is claimed
        p.finish()
        return 0.3 if _loss_series_enough(p, nonblank) else 0.0

    def _read(self, path: Path) -> ReadResult:
        from losscheck.readers._common import decode_text, drop_long_lines, read_data

        src = str(path)
        data, notes = read_data(path)
        data, more = drop_long_lines(data, path)  # one line of hundreds of MB: skipped, counted
        notes += more
        text, more = decode_text(data, path)
        notes += more
        del data
        from losscheck.readers._numlines import names_loss, read_numeric

        loss_named = names_loss(base_name(path))
        if loss_named or _numbers_log_name(base_name(path).lower()):
            got = read_numeric([ln for ln in text.splitlines() if ln.strip()], loss_named)
            if got is not None:
                return self._numeric(src, got, notes)
        p, hits, info = _parse(text)
        printed = {tag: len(p.col.values(tag)) + p.stacked.get(tag, 0) for tag in p.col.tags()}
        notes.extend(ReadNote(src, m, "warning") for m in _chain_launches(p.col))
        series, n = p.col.build(src, "step", p.units)
        notes.extend(n)
        notes.extend(ReadNote(src, m, "warning") for m in _doubtful(series, printed) + _eval_loss_only(series)
                     + _two_rates(series) + _letter_split(series) + _train_twin(series)
                     + _reprinted(series, p.reprinted))
        notes.extend(ReadNote(src, m, "info") for m in info)
        if not series:
            enc = next((n.message.split(" encoded as ", 1)[1].split(" (", 1)[0].split(" without", 1)[0]
                        for n in notes if n.message.startswith("text encoded as ")), None)
            notes.append(ReadNote(src, "no recognised metric lines in this text log (no loss or other metric found)"
                                  + (f"; it was decoded from {enc}" if enc else ""), "warning"))
        else:
            physical = [ln for ln in text.split("\n") if ln.strip()]
            unused = len(physical) - len(p.used)
            if unused > 0:
                notes.append(ReadNote(src, f"{unused} of {len(physical)} non-blank line(s) held no "
                                           "metric this reader could use", "info"))
        if series and p.hf_train >= 0:
            notes.append(ReadNote(src, "HF console dicts carry no step: the n-th logged dict is used as "
                                       "step n", "info"))
        return ReadResult(series, notes, p.meta)

    @staticmethod
    def _numeric(src: str, got, notes: list[ReadNote]) -> ReadResult:
        """The read of a header-less numeric file named after the loss (:mod:`._numlines`)."""
        points, unit, info = got
        col = Collector()
        for tag, (steps, values) in points.items():
            for st, v in zip(steps, values):
                col.add(tag, int(st) if float(st).is_integer() else st, v)
        series, n = col.build(src, unit)
        notes.extend(n)
        notes.extend(ReadNote(src, m, sev) for sev, m in info)
        return ReadResult(series, notes, {})


READER = TextLogReader()

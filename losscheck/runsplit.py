"""Several runs' files in one folder: tell them apart instead of merging them (read stage).

Discovery makes one run of each folder (:mod:`losscheck.discovery`), and the read stage merges
the series of its files by step (:func:`losscheck.series.merge`). That is right for the files
of one run (a CSV and the console log of the same run, ``train.csv`` + ``eval.csv``, one file
per rank, a job resumed into a second log), and wrong for a folder of CSV exports of a sweep
(``lr1e-4.csv``, ``lr1e-3.csv``...): merged, they make one curve that no run had.

The rule (:func:`separate_runs`), checked on the files once read:

1. Only a flat folder is considered: every file sits in the run folder itself (no layout
   sub-folder: Keras ``train/``, HF ``checkpoint-N/`` copies) and is read by a reader of
   single-file logs (:data:`SPLIT_READERS`: generic CSV, JSON lines, console logs, Keras and
   W&B CSV exports). TensorBoard event files are never split: a restarted or resumed job
   writes a new event file into the same folder, and its overlapping steps are meant to
   replace the earlier ones (later file wins).
2. Two files are the *same run* when their names differ only by a role word (``train``,
   ``eval``, ``val``, ``test``...) or a rank/worker number (``rank0``, ``gpu1``, ``worker_2``)
   -- whatever their values -- or when one of their loss curves (a tag with ``loss`` in its
   name) agrees at most shared steps: equal to float32 precision, or within half a unit in the
   last printed place of the coarser copy (a console log printing ``2.3457`` of a CSV's
   ``2.345678``).
3. Two files *conflict* when they are not the same run and a loss tag they share is a full
   curve in both: the same first step, at least :data:`MIN_SHARED` shared steps covering at
   least half of the shorter curve, and at least :data:`CONFLICT_SHARE` of the shared steps
   holding different values. A job resumed from a checkpoint into a second log starts at a
   later step, so it never conflicts; it stays one run with its first log.
4. Each file joins the run of a file it is the same as, or starts a run when it conflicts
   with every run so far. When every file is placed this way and there are two runs or
   more, each is diagnosed on its own, named by its first file (``folder/lr1e-4.csv``).
   When a file cannot be placed (one with data but no loss curve, one neither the same as
   nor in conflict with a run, one the same as two runs, more than :data:`MAX_RUNS` runs)
   and two files were found in conflict, the folder is one error (:class:`Tangle`), never
   a verdict on a merged curve; with no conflict it stays one run (the merge's warning
   about steps with different values in several files stays, when there are some).

Files that cannot be read do not prevent a split: each becomes a run of its own (that run's
error). Cost: per file, one comparison with the first file of each run found so far, each on
at most :data:`MAX_COMPARED` steps (binary searches): linear in the files for a bounded
number of runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from losscheck.model import Series
from losscheck.series import printed_agree

#: Readers of logs that hold one run in one file under any name the user gives it.
SPLIT_READERS = frozenset({"csv", "jsonl", "text-log", "keras-csv", "wandb-csv"})
#: The reader name of a file that could not be read (:class:`losscheck.discovery.FailedReader`).
FAILED_READER = "unreadable"
#: Shared steps needed before two curves are compared.
MIN_SHARED = 3
#: Share of the shared steps whose values must differ for two full curves to be two runs.
CONFLICT_SHARE = 0.5
#: Steps compared at most per pair of curves (evenly spaced): the shares are estimated.
MAX_COMPARED = 64
#: A folder splits into at most this many runs (it costs one comparison per file and run).
MAX_RUNS = 64

_SUFFIX = re.compile(r"(\.[a-z]+)+$")
_ROLE_WORD = re.compile(r"(?<![a-z])(train|training|eval|evaluation|val|valid|validation|test|testing)(?![a-z])")
_RANK_WORD = re.compile(r"(?<![a-z])(local_?rank|rank|gpu|worker|node|proc|process|device|host)[-_]?\d+(?![0-9])")


def name_key(name: str) -> str:
    """A file name without its suffixes (``.csv``, ``.log.gz``), role words and rank numbers,
    lower-cased: files of one run whose names differ only by these get the same key
    (``train.csv`` / ``eval.csv`` -> ``""``; ``log_rank0.txt`` / ``log_rank1.txt`` -> ``log``)."""
    key = _SUFFIX.sub("", name.lower())
    key = _RANK_WORD.sub("", _ROLE_WORD.sub("", key))
    return re.sub(r"[-_. ]+", "", key)


@dataclass
class FileCurves:
    """One file of a folder, as :func:`separate_runs` sees it.

    Attributes:
        name: the file's name (no folder).
        reader: the name of the reader chosen for it (:data:`FAILED_READER` when unreadable).
        subdir: its folder relative to the run folder (``""``: the run folder itself).
        series: the series read from it (``None``: it could not be read).
    """

    name: str
    reader: str
    subdir: str
    series: list[Series] | None


@dataclass
class Split:
    """The runs a folder's files make (:func:`separate_runs`).

    Attributes:
        groups: lists of indices into the files given, one per run, each sorted, ordered by
            their first index.
        shared: steps shared by the loss curves of the pairs found in conflict (summed, estimated).
        differ: of these, the estimated number holding different values.
    """

    groups: list[list[int]]
    shared: int
    differ: int


def _loss_curves(f: FileCurves) -> dict[str, Series]:
    return {s.tag: s for s in (f.series or []) if "loss" in s.tag.lower() and len(s) >= MIN_SHARED}


def _compare(a: Series, b: Series) -> tuple[int, int, bool]:
    """``(shared, differ, full)`` of two curves of one tag, estimated from at most
    :data:`MAX_COMPARED` evenly spaced steps of ``a`` looked up in ``b`` (a binary search
    each): the shared steps, how many of them hold different values, and whether both are
    full curves of one span (same first step, the shared steps at least half the shorter)."""
    k = min(len(a), MAX_COMPARED)
    pick = np.arange(k, dtype=np.int64) * (len(a) - 1) // max(k - 1, 1)  # increasing, first and last
    at = a.steps[pick]
    pos = np.minimum(np.searchsorted(b.steps, at), len(b) - 1)
    hit = b.steps[pos] == at
    if int(hit.sum()) < MIN_SHARED:
        return int(hit.sum()), 0, False
    scale = len(a) / pick.size
    n = int(round(hit.sum() * scale))
    agree = printed_agree(a.values[pick[hit]], b.values[pos[hit]])
    differ = int(round((~agree).sum() * scale))
    full = a.steps[0] == b.steps[0] and 2 * n >= min(len(a), len(b))
    return n, differ, bool(full)


def _relation(a: dict[str, Series], b: dict[str, Series]) -> tuple[str, int, int]:
    """``("same" | "conflict" | "unknown", shared, differ)`` of two files' loss curves (by the
    rule of the module doc; names aside)."""
    clash = None
    for tag in sorted(a.keys() & b.keys()):
        n, d, full = _compare(a[tag], b[tag])
        if n >= MIN_SHARED and d < CONFLICT_SHARE * n:
            return "same", n, d
        if full and d >= CONFLICT_SHARE * n and clash is None:
            clash = (n, d)
    return ("conflict", *clash) if clash is not None else ("unknown", 0, 0)


@dataclass
class Tangle:
    """Files of one folder that hold several runs but cannot be split into them (a file that
    conflicts with one run and cannot be placed, more than :data:`MAX_RUNS` runs, a file
    without a loss curve beside several runs): merged, they would make a curve no run had.

    Attributes:
        first, second: indices of two files found in conflict.
        shared, differ: their estimated shared loss steps, and how many hold different values.
        why: why the files cannot be split (a phrase).
    """

    first: int
    second: int
    shared: int
    differ: int
    why: str


def separate_runs(files: list[FileCurves]) -> Split | Tangle | None:
    """Whether the files of one folder are several runs, by the rule of the module doc.

    Each file is compared with the first file of each run found so far (a file whose name key
    another run's file has joins that run): it joins the run it is the same as, or starts a
    new one when it conflicts with them all. A file neither the same as nor in conflict with
    a run, or the same as two runs, or a file with data but no loss curve, cannot be placed:
    the folder is then one run when no two files conflict, and a :class:`Tangle` when some
    do. Files without a single point (and unreadable ones) are runs of their own in a split.
    Work: at most ``files x`` :data:`MAX_RUNS` comparisons of :data:`MAX_COMPARED` points
    each; a folder of more runs than :data:`MAX_RUNS` is a :class:`Tangle`.

    Args:
        files: the run's files, in the run's order.
    Returns:
        The :class:`Split` (two groups or more), a :class:`Tangle`, or ``None``: the files
        are one run.
    """
    if len(files) < 2 or any(f.subdir for f in files):
        return None
    if any(f.reader not in SPLIT_READERS and f.reader != FAILED_READER for f in files):
        return None
    # files with points; the others (unreadable, or no point at all) are runs of their own
    live = [i for i, f in enumerate(files) if f.series is not None and any(len(x) for x in f.series)]
    if len(live) < 2:
        return None
    curves = {i: _loss_curves(files[i]) for i in live}
    placed = [i for i in live if curves[i]]
    groups: list[list[int]] = []
    by_key: dict[str, int] = {}  # name key -> the group holding a file of that key
    shared_sum = differ_sum = 0
    clash: tuple[int, int, int, int] | None = None  # the first pair found in conflict

    def tangle(why: str) -> Tangle | None:
        return None if clash is None else Tangle(*clash, why)

    for i in placed:
        key = name_key(files[i].name)
        if key in by_key:
            groups[by_key[key]].append(i)
            continue
        joins: list[int] = []
        clashes: list[tuple[int, int]] = []
        unknown = False
        for g, members in enumerate(groups):
            rel, n, d = _relation(curves[members[0]], curves[i])
            if rel == "same":
                joins.append(g)
            elif rel == "conflict":
                clashes.append((n, d))
                if clash is None:
                    clash = (members[0], i, n, d)
            else:
                unknown = True
        name = files[i].name
        if unknown:
            return tangle(f"{name} is neither the same run as the others nor a full curve beside them")
        if len(joins) > 1:
            return tangle(f"{name} matches two runs that differ")
        if joins:
            groups[joins[0]].append(i)
            by_key[key] = joins[0]
            continue
        if len(groups) >= MAX_RUNS:
            return tangle(f"more than {MAX_RUNS} runs")
        shared_sum += sum(n for n, _ in clashes)
        differ_sum += sum(d for _, d in clashes)
        by_key[key] = len(groups)
        groups.append([i])
    if len(groups) < 2:
        return None
    lost = [files[i].name for i in live if not curves[i]]
    if lost:
        return tangle(f"{lost[0]} holds no loss curve to tell which run it belongs to")
    out = [sorted(g) for g in groups] + [[i] for i in range(len(files)) if i not in live]
    return Split(sorted(out), shared_sum, differ_sum)

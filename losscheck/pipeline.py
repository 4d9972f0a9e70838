"""The diagnose pipeline: read -> resolve metrics -> analyse -> rule -> report.

:func:`diagnose` is the library entry point the CLI calls; it never prints. Problems with
one run (unreadable files, no loss metric) become :class:`~losscheck.model.RunError` entries
and the other runs are still diagnosed.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, cast

import numpy as np

from losscheck import __version__
from losscheck.config import Settings
from losscheck.discovery import LogFile, RunFiles, discover
from losscheck.errors import LosscheckError, NoLogsFound, NoLossMetric, ParseError, TooLittleData
from losscheck.model import (DIGEST_BINS, NOTE_NO_VALUES, Finding, MetricInfo, ReadNote, ReadResult, Report, RunData,
                             RunError, RunReport, Series, Status, run_fails)
from losscheck.series import merge, values_agree


#: The settings of one diagnosis: :class:`losscheck.config.Settings` (the former name).
Options = Settings


def read_run(run: RunFiles, strict: bool = False) -> RunData:
    """Read every log file of a run and merge series with the same tag.

    Args:
        run: the run's files with their chosen readers.
        strict: re-raise the first unreadable/unparseable file instead of noting it.
    Returns:
        A :class:`RunData`; series of one tag from several files are merged by step (the
        files are always one run here: :func:`read_runs` also tells separate runs apart).
    Raises:
        LosscheckError: when no file of the run could be read (the last file's error), or
            any file fails and ``strict`` is set.
    """
    from losscheck.readers._common import memory_files

    if run.remote:
        run = _fetched(run)
    with memory_files(run.memory):
        return _assemble(run, _read_files(run, strict), str(run.root))


def read_runs(run: RunFiles, strict: bool = False) -> list[tuple[str, RunData | LosscheckError]]:
    """Read a folder's files as :func:`read_run` does, as several runs when they are several
    runs' files (:func:`losscheck.runsplit.separate_runs`: a flat folder of CSV exports of a
    sweep, ``lr1e-4.csv`` and ``lr1e-3.csv``, whose loss curves disagree at most steps).

    Args:
        run: the folder's files with their chosen readers.
        strict: re-raise the first unreadable/unparseable file instead of noting it.
    Returns:
        ``[(name, data or error)]``: one item named ``run.root`` when the files are one run
        (the error, if any, is raised instead); else one per run, named by its first file
        (``folder/lr1e-4.csv``), each holding its :class:`RunData` or the
        :class:`LosscheckError` that stopped it (a run of one unreadable file), and a note
        naming the other runs the folder was split into.
    Raises:
        LosscheckError: as :func:`read_run`, when the files are one run.
    """
    from losscheck.readers._common import memory_files
    from losscheck.runsplit import FileCurves, Tangle, separate_runs

    if run.remote:
        run = _fetched(run)
    with memory_files(run.memory):
        results = _read_files(run, strict)
        split = separate_runs([FileCurves(lf.path.name, lf.reader.name, lf.subdir,
                                          None if isinstance(res, LosscheckError) else res.series)
                               for lf, res in results])
        if split is None:
            return [(str(run.root), _assemble(run, results, str(run.root)))]
        if isinstance(split, Tangle):
            a, b = run.files[split.first].path.name, run.files[split.second].path.name
            raise ParseError(run.root, f"holds several runs' files that cannot be told apart ({split.why}): "
                                       f"{a} and {b} hold different loss values at {split.differ} of {split.shared} "
                                       "shared step(s), so merged they would make a curve no run had; put each "
                                       "run in its own folder, or name the files (losscheck diagnose "
                                       f"'{run.root}/*{Path(a).suffix}': each file named is a run)")
        names = [" + ".join(run.files[i].path.name for i in g) for g in split.groups]
        note = ReadNote(str(run.root), f"this folder holds {len(split.groups)} runs (their loss curves differ "
                        f"at {split.differ} of {split.shared} shared step(s)), diagnosed apart: {'; '.join(names)}",
                        "warning")
        out: list[tuple[str, RunData | LosscheckError]] = []
        for g in split.groups:
            name = str(run.files[g[0]].path)
            try:
                data = _assemble(run, [results[i] for i in g], name)
            except LosscheckError as exc:
                out.append((name, exc))
                continue
            data.notes.insert(0, note)
            out.append((name, data))
        return out


def _fetched(run: RunFiles) -> RunFiles:
    """``run`` with the content of its remote files in ``memory`` (fetched here, where the run
    is read: a worker process or a dask worker); a file that cannot be fetched keeps its place
    as a :class:`~losscheck.discovery.FailedReader` (a note, or the run's failure under
    ``--strict``)."""
    from losscheck.discovery import FailedReader
    from losscheck.errors import UnreadableFile
    from losscheck.sources import fetch_remote

    contents, problems = fetch_remote(run.remote)
    files = [lf if str(lf.path) not in problems else
             LogFile(lf.path, FailedReader(UnreadableFile(run.remote[str(lf.path)].url, problems[str(lf.path)])),
                     lf.subdir) for lf in run.files]
    return dataclasses.replace(run, files=files, memory={**run.memory, **contents}, remote={})


def _read_files(run: RunFiles, strict: bool) -> list[tuple[LogFile, ReadResult | LosscheckError]]:
    """Each file of ``run`` with what its reader gave: a result, or the error it raised.

    Raises:
        LosscheckError: the first file's error, with ``strict``."""
    out: list[tuple[LogFile, ReadResult | LosscheckError]] = []
    for lf in run.files:
        try:
            res = run.preread.get(str(lf.path)) or lf.reader.read(lf.path)
        except LosscheckError as exc:
            if strict:
                raise
            out.append((lf, exc))
            continue
        out.append((lf, res))
    return out


def _assemble(run: RunFiles, results: list, name: str) -> RunData:
    """The run that the files ``results`` (from :func:`_read_files`) make, named ``name``.

    Raises:
        LosscheckError: no file could be read (the last file's error), or none holds a point."""
    by_tag: dict[str, list[Series]] = {}
    mine = {str(lf.path) for lf, _ in results}
    others = {str(lf.path) for lf in run.files} - mine
    # discovery's notes: those of these files, and those of the folder's other entries (a FIFO)
    notes: list[ReadNote] = [n for n in run.notes if n.path not in others]
    meta: dict = {}
    last_err: LosscheckError | None = None
    read_ok = 0
    for lf, res in results:
        if isinstance(res, LosscheckError):
            last_err = res
            notes.append(ReadNote(str(lf.path), res.problem, "warning"))
            continue
        read_ok += 1
        notes.extend(res.notes)
        for k, v in res.meta.items():
            meta.setdefault(k, v)
        for s in res.series:
            if len(s):
                s = in_run(s, lf.subdir)
                by_tag.setdefault(s.tag, []).append(s)
    if read_ok == 0 and last_err is not None:
        raise last_err
    from losscheck.readers._hparams import read_hparams

    # configuration files beside the logs: on disk, or (a URL's run, an archive's, standard
    # input) among the run's contents in memory
    hparams = read_hparams(run.root, [lf.path for lf in run.files],
                           list(run.memory) if (run.memory or run.scheme) else None)
    if hparams:
        meta["hparams"] = hparams
    files = [lf for lf, _ in results]
    # a one-file run split off a folder is named by that file: its "why empty" needs no file prefix
    alone = len(files) == 1 and name == str(files[0].path)
    part = dataclasses.replace(run, root=Path(name) if alone else run.root, files=files)
    return assemble_run(name, [str(f.path) for f in files], by_tag, notes, meta,
                        lambda: _why_empty(part, notes))


def assemble_run(path: str, files: list[str], by_tag: dict[str, list[Series]], notes: list[ReadNote],
                 meta: dict, why_empty: Callable[[], str] = lambda: "no metric values") -> RunData:
    """The run that series read (or received live, :class:`losscheck.live.Monitor`) make:
    series of one tag merged by step (:func:`losscheck.series.merge`), then other loggers'
    copies folded (:func:`fold_copies`). One code path for files and live points.

    Args:
        path: the run's name (its folder, or the live run's name).
        files: the files read, for the report.
        by_tag: tag -> the non-empty series holding that tag (each normalised).
        notes: the readers' notes; the merge's notes are added to it.
        meta: hyperparameters the logs or the caller gave (``max_steps``, ``learning_rate``...).
        why_empty: the explanation used when no series holds a point.
    Raises:
        TooLittleData: when ``by_tag`` is empty.
    """
    series: dict[str, Series] = {}
    for tag, group in by_tag.items():
        merged, mnotes = merge(group)
        series[tag] = merged
        notes.extend(mnotes)
    if not series:
        raise TooLittleData(path, f"no data points: {why_empty()}")
    series, fnotes = fold_copies(series)
    notes.extend(fnotes)
    return RunData(path, files, series, notes, meta)


def in_run(s: Series, subdir: str) -> Series:
    """A series as its run names it: renamed by the sub-folder it was read from
    (:func:`losscheck.discovery.context_tag`)."""
    from losscheck.discovery import context_tag

    tag = context_tag(s.tag, subdir)
    return s if tag == s.tag else dataclasses.replace(s, tag=tag)


#: Two series of one run from different files are copies of one metric when at least this
#: many steps are shared and every shared step holds the same value (to float32 precision:
#: TensorBoard stores float32).
MIN_SHARED_STEPS = 3


def fold_copies(series: dict[str, Series]) -> tuple[dict[str, Series], list[ReadNote]]:
    """Fold copies of one metric written by two loggers under two names into one series.

    The HF Trainer writes the same numbers to ``trainer_state.json`` (``loss``,
    ``eval_loss``, ``learning_rate``, ``grad_norm``) and to TensorBoard (``train/loss``,
    ``eval/loss``...); kept apart, the run's loss would be counted twice (once as a
    component loss). Two series from different files are copies when they share at least
    :data:`MIN_SHARED_STEPS` steps, every shared step holds the same value (relative
    difference below 1e-6, NaN equal to NaN), and their first three points match. The
    copy kept is the one not read from an event file (float64 rather than float32), then
    the one with more points; steps only the other holds are added to it. Cost: one pass
    to fingerprint every series, comparisons only within a fingerprint.

    Args:
        series: tag -> series of one run (each normalised: steps increasing).
    Returns:
        ``(series, notes)``: the folded mapping (a copy) and one info note per fold.
    """
    groups: dict[tuple, list[str]] = {}
    for tag, s in series.items():
        if len(s) < MIN_SHARED_STEPS:
            continue
        with np.errstate(over="ignore"):
            head = np.asarray(s.values[:3], dtype=np.float32)
        key = (s.step_unit, tuple(int(x) for x in s.steps[:3]),
               tuple("nan" if x != x else float(x) for x in head.tolist()))
        groups.setdefault(key, []).append(tag)
    out = dict(series)
    notes: list[ReadNote] = []
    for tags in groups.values():
        if len(tags) < 2:
            continue
        ranked = sorted(tags, key=lambda t: ("tfevents" in series[t].source, -len(series[t]), len(t), t))
        keep = ranked[0]
        for other in ranked[1:]:
            a, b = out[keep], series[other]
            if a.source == b.source or not _same_values(a, b):
                continue
            extra = np.setdiff1d(b.steps, a.steps, assume_unique=True)
            if extra.size:
                a, _ = merge([dataclasses.replace(b, tag=a.tag, source=a.source), a])
            out[keep] = a
            del out[other]
            notes.append(ReadNote(b.source, f"{other}: the same values as {keep} (another logger's copy); "
                                  f"counted once as {keep}", "info"))
    return out, notes


def _same_values(a: Series, b: Series) -> bool:
    """Whether ``a`` and ``b`` share at least :data:`MIN_SHARED_STEPS` steps with equal values."""
    common, ia, ib = np.intersect1d(a.steps, b.steps, assume_unique=True, return_indices=True)
    if common.size < MIN_SHARED_STEPS:
        return False
    return bool(values_agree(a.values[ia], b.values[ib]).all())


def _why_empty(run: RunFiles, notes: list[ReadNote]) -> str:
    """Why a run gave no point, naming its files (relative to the run): their warnings, or
    that they are empty, or that they hold no metric values."""
    def named(p, text: str) -> str:  # the run itself is one file: its path leads the line
        try:
            rel = str(Path(p).relative_to(run.root))
        except ValueError:
            rel = str(p)
        return text if rel == "." else f"{rel}: {text}"

    why = [named(n.path, n.message) for n in notes if n.severity == "warning"]
    for lf in run.files:
        if not any(n.path == str(lf.path) for n in notes if n.severity == "warning"):
            try:
                empty = lf.path.stat().st_size == 0
            except OSError:
                empty = False
            why.append(named(lf.path, "empty file (0 bytes)" if empty else "no metric values"))
    return "; ".join(dict.fromkeys(why)) or "no metric values"


#: Roles whose curve a report's digest holds.
DIGEST_ROLES = ("loss", "eval_loss", "grad_norm", "lr", "disc_loss")


def curve_digest(s: Series, width: int = DIGEST_BINS) -> list[float | None]:
    """Up to ``width`` medians of equal step bins of a series (non-finite values ignored).

    Returns a list of length <= ``width``: the median per bin, NaN for a bin whose values are
    all non-finite, ``None`` for a bin with no logged point.
    """
    if len(s) == 0:
        return []
    edges = np.linspace(s.steps[0], s.steps[-1] + 1, min(width, len(s)) + 1)
    nb = len(edges) - 1
    # bin k holds the steps in [edges[k], edges[k + 1]); steps increase, so it is a slice
    bounds = np.searchsorted(s.steps, edges, side="left")
    out: list[float | None] = []
    for k in range(nb):
        v = s.values[bounds[k]: bounds[k + 1]]
        if v.size == 0:
            out.append(None)  # no point was logged in this bin
            continue
        v = v[np.isfinite(v)]
        c = v.size
        if c == 0:
            out.append(float("nan"))  # the bin's points are all non-finite
            continue
        part = np.partition(v, [(c - 1) // 2, c // 2])
        lo, hi = part[(c - 1) // 2], part[c // 2]
        out.append(float(lo if c % 2 else (lo + hi) / 2.0))  # as np.median
    return out


def _status(findings: list[Finding]) -> Status:
    sev = {f.severity for f in findings}
    if "error" in sev:
        return "failing"
    if "warning" in sev:
        return "warning"
    return "healthy"


def loss_summary(series: Series) -> dict:
    """``first`` (first finite value), ``final`` (last logged value, NaN/Inf kept), ``best``
    (minimum finite value), ``best_step``, ``final_step``."""
    fin = np.isfinite(series.values)
    if not fin.any():
        return {"first": None, "final": None, "best": None, "best_step": None,
                "final_step": int(series.steps[-1])}
    v, st = series.values[fin], series.steps[fin]
    i = int(np.argmin(v))
    # "final" is the last value logged, NaN included: a run that ends in NaN did not end at its
    # last finite loss
    return {"first": float(v[0]), "final": float(series.values[-1]), "best": float(v[i]), "best_step": int(st[i]),
            "final_step": int(series.steps[-1])}


def diagnose_run(data: RunData, options: Settings, baseline=None, plots: bool = False) -> RunReport:
    """Resolve, analyse, rule and rank one run that has been read.

    Args:
        data: the run's series.
        options: this run's options.
        baseline: the matching :class:`losscheck.baseline.BaselineRun`, or ``None``; findings
            whose code it already had are moved to ``RunReport.baselined``.
        plots: also make the plot digests (``RunReport.plot``, :func:`losscheck.digest.run_plot`)
            for a format that draws curves; off, ``plot`` is ``None`` (a large sweep then holds
            no per-bin lists it will not draw).
    Raises:
        NoLossMetric, UsageError: from role resolution.
    """
    from losscheck.analysis import analyse
    from losscheck.analysis.triage import run_params
    from losscheck.digest import run_plot
    from losscheck.catalogue import analysis_options, rule_options
    from losscheck.remedies import rank
    from losscheck.roles import resolve
    from losscheck.rules import RuleContext, run_rules, selected

    meta_classes = data.meta.get("num_classes")
    try:
        resolved = resolve(data, dict(options.metrics), dict(options.metric_origins))
    except NoLossMetric as exc:
        # a loss key the reader saw but that never held a value: say so, not "no loss metric"
        why = [n.message for n in data.notes
               if n.kind == NOTE_NO_VALUES and any("loss" in t.lower() for t in n.tags)]
        if why:
            raise TooLittleData(data.path, f"no loss values: {why[0]}") from exc
        raise
    ropts = rule_options(options)
    aopts = analysis_options(options, meta_classes)
    analysis = analyse(resolved, aopts)
    rules = selected(None if options.select is None else list(options.select),
                     None if options.ignore is None else list(options.ignore))
    summary: dict[str, dict] = {role: loss_summary(resolved.roles[role].series) for role in ("loss", "eval_loss")
               if role in resolved.roles}
    findings = run_rules(RuleContext(resolved, analysis, ropts, baseline, summary), rules,
                         dict(options.severity))
    baselined = []
    if baseline is not None:
        old = baseline.codes - {"LC901"}
        baselined = [f for f in findings if f.code in old]
        findings = [f for f in findings if f.code not in old]
    remedies = rank(findings)
    metrics = {}
    for role, a in resolved.roles.items():
        s = a.series
        metrics[role] = MetricInfo(role, s.tag, s.source, len(s), int(s.steps[0]) if len(s) else 0,
                                   int(s.steps[-1]) if len(s) else 0, int((~np.isfinite(s.values)).sum()),
                                   s.step_unit)
    digest = {role: curve_digest(a.series) for role, a in resolved.roles.items() if role in DIGEST_ROLES}
    plot = (run_plot({role: a.series for role, a in resolved.roles.items()}, analysis.curves, analysis, baseline)
            if plots else None)
    return RunReport(run=data.path, status=_status(findings), primary=analysis.primary,
                     secondary=list(analysis.secondary), onset_step=analysis.onset_step, metrics=metrics,
                     curves=list(analysis.curves.values()), findings=findings, remedies=remedies,
                     notes=list(data.notes), digest=digest, summary=summary, baselined=baselined,
                     confidence=analysis.confidence, plot=plot,
                     hparams=run_params(data.meta, analysis.lr.peak if analysis.lr is not None else None))


def _internal_error(root, why: str) -> RunError:
    """The :class:`RunError` (kind ``internal``) of a run that a bug or a dead worker stopped:
    ``"<root>: <why>"``."""
    return RunError(str(root), f"{root}: {why}", "internal")


def _bug(root, exc: BaseException) -> RunError:
    """The internal error of a run whose reading or diagnosis raised ``exc`` (a bug)."""
    return _internal_error(root, f"internal error ({type(exc).__name__}: {exc})")


class _Results:
    """Where the results of ``n`` tasks go, whichever executor made them: kept in task order
    (``items``), or each handed to ``sink`` at once (then ``items`` stays all ``None``); after
    each result or batch, ``progress(done, n)``."""

    def __init__(self, n: int, progress: Callable[[int, int], None] | None,
                 sink: Callable[[RunReport | RunError], None] | None, packed: bool = False) -> None:
        self.n, self.progress, self.sink, self.packed = n, progress, sink, packed
        self.items: list = [None] * n if sink is None else []
        self.done = 0

    def finish(self, pairs: Iterable[tuple[int, Any]]) -> None:
        """Deliver each ``(task index, result)`` to the sink or keep it (packed, when ``packed``:
        :mod:`losscheck.packed`; a worker's result may come packed already; a folder split into
        several runs gives a list), then report progress once."""
        k = 0
        for i, res in pairs:
            if self.sink is None:
                if self.packed:
                    res = _pack_reports(res)
                self.items[i] = res
            else:
                for one in res if isinstance(res, list) else [res]:  # a folder of several runs
                    self.sink(one)
            k += 1
        self.done += k
        if self.progress:
            self.progress(self.done, self.n)


def _read_and_diagnose(run: RunFiles, run_opts: Settings, base, plots: bool = False
                       ) -> RunReport | RunError | list[RunReport | RunError]:
    """Read and diagnose one run (top level so that worker processes can run it). The result
    of a run read from a URL names it by its URL (:func:`losscheck.sources.restore_urls`).

    ``base``: the :class:`~losscheck.baseline.BaselineRun` of the run, ``None``, or a dict
    from run names (the folder, its files) to theirs, for a folder that may hold several
    runs (:func:`read_runs`). Returns one result, or a list of them when the folder's files
    are several runs."""
    try:
        parts = read_runs(run, run_opts.strict)
    except LosscheckError as exc:
        parts = [(str(run.root), exc)]
    out: list[RunReport | RunError] = []
    for name, data in parts:
        res: RunReport | RunError
        one = base.get(name) if isinstance(base, dict) else base
        try:
            if isinstance(data, LosscheckError):
                raise data
            res = diagnose_run(data, run_opts, one, plots)
        except LosscheckError as exc:
            res = RunError(exc.path or name, exc.one_line(), exc.kind)
        if run.scheme:
            from losscheck.sources import restore_urls

            res = restore_urls(res, run.scheme)
        out.append(res)
    return out[0] if len(out) == 1 else out


def _read_and_pack(run: RunFiles, run_opts: Settings, base, plots: bool = False):
    """:func:`_read_and_diagnose` with the report packed where it was made
    (:func:`losscheck.packed.pack`): what a worker of a large kept sweep sends back."""
    return _pack_reports(_read_and_diagnose(run, run_opts, base, plots))


def _pack_reports(res):
    """``res`` with each :class:`RunReport` in it packed (:func:`losscheck.packed.pack`): one
    result, or the list of a folder split into several runs; errors and packed runs as they are."""
    from losscheck.packed import pack

    if isinstance(res, list):
        return [pack(r) if isinstance(r, RunReport) else r for r in res]
    return pack(res) if isinstance(res, RunReport) else res


def _worker_init(limits: tuple | None = None) -> None:
    """Sweep workers leave Ctrl-C to the parent, which stops them (:func:`_diagnose_parallel`),
    and read with the parent's gzip limits (``limits``: :meth:`InflateLimits.as_tuple`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if limits is not None:
        from losscheck.readers._common import set_inflate_limits

        set_inflate_limits(*limits)


def _diagnose_parallel(tasks: list[tuple], jobs: int, progress: Callable[[int, int], None] | None,
                       sink: Callable[[RunReport | RunError], None] | None = None, packed: bool = False) -> list:
    """Read and diagnose ``tasks`` in ``jobs`` worker processes; results in task order.

    At most ``jobs`` runs are in flight at a time, so the parent holds no queue of pickled
    runs and knows which runs a dead worker could have been reading. When a worker dies
    (killed by the OOM killer, a segfault in a library), the pool breaks: each run that was in
    flight is tried again alone in a fresh one-worker pool, and the one that kills its worker
    again becomes that run's :class:`RunError`; every other run is still diagnosed. An
    exception a run raises (a bug) is that run's error too. On Ctrl-C (KeyboardInterrupt in
    the parent; workers ignore SIGINT) the workers are killed at once and the interrupt goes
    on to the caller. With ``packed``, each worker packs its report
    (:class:`losscheck.packed.PackedRun`) and the results hold those.
    """
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    n = len(tasks)
    out = _Results(n, progress, sink, packed)
    work = _read_and_pack if packed else _read_and_diagnose

    def finish(i: int, res) -> None:
        out.finish([(i, res)])

    def alone(i: int) -> None:
        with _pool(1) as pool:
            try:
                finish(i, pool.submit(work, *tasks[i]).result())
            except BrokenProcessPool:
                finish(i, _internal_error(tasks[i][0].root,
                                          "the worker process reading this run died (killed, or out of memory?)"))
            except Exception as exc:  # noqa: BLE001 - a bug in one run is that run's error
                finish(i, _bug(tasks[i][0].root, exc))

    queue = list(range(n - 1, -1, -1))  # popped from the end: task order
    while queue:
        suspects: list[int] = []
        with _pool(jobs) as pool:
            flight: dict = {}
            while queue or flight:
                while queue and len(flight) < jobs:
                    i = queue.pop()
                    flight[pool.submit(work, *tasks[i])] = i
                ready, _ = wait(flight, return_when=FIRST_COMPLETED)
                broken = False
                for fut in ready:
                    i = flight.pop(fut)
                    try:
                        finish(i, fut.result())
                    except BrokenProcessPool:
                        suspects.append(i)
                        broken = True
                    except Exception as exc:  # noqa: BLE001
                        finish(i, _bug(tasks[i][0].root, exc))
                if broken:
                    suspects.extend(flight.values())
                    break
        for i in sorted(suspects):
            alone(i)
    return out.items


class _pool:
    """A process pool that, on leaving by an exception (Ctrl-C above all), kills its workers
    instead of waiting for their runs, and cancels what was not started."""

    def __init__(self, workers: int) -> None:
        from concurrent.futures import ProcessPoolExecutor

        from losscheck.readers._common import INFLATE

        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                        initargs=(INFLATE.as_tuple(),))

    def __enter__(self):
        return self.pool

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.pool.shutdown(wait=True)
            return
        for proc in list((getattr(self.pool, "_processes", None) or {}).values()):
            try:
                proc.kill()
            except (OSError, AttributeError):
                pass
        self.pool.shutdown(wait=True, cancel_futures=True)


#: Executors of a sweep (``--executor``): ``local`` (this process, or a process pool with
#: ``jobs`` > 1) and ``dask`` (a ``dask.distributed`` cluster: :func:`_diagnose_dask`).
EXECUTORS = ("local", "dask")


def diagnose(path: str | Path | Sequence[str | Path], options: Settings | None = None,
             progress: Callable[[int, int], None] | None = None, config=None, baseline=None,
             jobs: int | None = 1, follow_symlinks: bool = False, executor: str = "local",
             scheduler: str | None = None, sink: Callable[[RunReport | RunError], None] | None = None,
             plots: bool = False) -> Report:
    """Diagnose every run under ``path``.

    Args:
        path: a log file, a run directory or a tree of runs; a URL of any fsspec protocol
            (``s3://bucket/runs/``, ``memory://``, ``https://``...; ``file://`` is a local path);
            a glob (``runs/lr-*``, ``s3://b/sweep/*/``); or a sequence of these (each is
            discovered in turn; a run found twice is diagnosed once). A URL must be a ``str``
            (``pathlib`` collapses ``s3://`` to ``s3:/``).
        options: the :class:`~losscheck.config.Settings` of every run (used when ``config``
            is ``None``; default settings when both are).
        progress: called as ``progress(done, total)`` after each run (for a progress bar).
        config: a :class:`losscheck.config.Config`; each run gets its own settings from it
            (:meth:`~losscheck.config.Config.for_run`).
        baseline: a :class:`losscheck.baseline.Baseline` to compare against (``--baseline``).
        jobs: worker processes for a sweep (``None``: one per CPU core); with ``executor="dask"``
            and no ``scheduler``, the workers of the local cluster. Each worker reads and
            diagnoses one run at a time; with 1 job or a single run everything happens in
            this process. The report is the same either way.
        follow_symlinks: also read what symlinks below ``path`` that lead out of it point to
            (see :func:`losscheck.discovery.discover`).
        plots: make each run's plot digests (:func:`diagnose_run`), for a format that draws
            curves (``Format.draws_curves``).
        executor: ``"local"`` or ``"dask"`` (:data:`EXECUTORS`; needs ``losscheck[dask]``).
        scheduler: a dask scheduler address (``tcp://HOST:PORT``); ``None``: a
            ``LocalCluster`` started for this call and closed after it.
        sink: stream the results: each run's :class:`RunReport` or :class:`RunError` (those of
            discovery first) is handed to ``sink`` as soon as it is ready, in completion order,
            and none is kept: this process then holds, per run, beyond the runs' list of files,
            only a compact triage record (:class:`~losscheck.model.TriageRow`: status, class,
            onset, error codes and the run's hyperparameters, at most
            :data:`losscheck.readers._hparams.MAX_PARAMS` scalars) for the sweep triage
            (``--format jsonl``).
    Returns:
        A :class:`Report` (runs sorted by path; errors per path); when streamed, without runs
        or errors, with :attr:`Report.counts` and :attr:`Report.streamed_failing`. When
        :data:`losscheck.packed.PACK_MIN_RUNS` runs or more are kept, ``runs`` is a read-only
        :class:`losscheck.packed.PackedRuns` (each run unpacked as it is read). With 2 runs
        or more, :attr:`Report.triage` (:func:`losscheck.analysis.triage.sweep_triage`).
    Raises:
        LosscheckError: when ``path`` itself cannot be used (missing, FIFO, no logs at all);
            with several paths, only when none of them can (the others' problems are errors
            of the report).
        UsageError: an unknown executor, or dask missing for ``executor="dask"``.
    """
    from losscheck.errors import UsageError
    from losscheck.sources import expand_paths

    if executor not in EXECUTORS:
        raise UsageError(None, f"--executor {executor!r}: unknown (choose from {', '.join(EXECUTORS)})")
    options = options or (config.settings if config else Settings())
    given = [path] if isinstance(path, (str, Path)) else list(path)
    paths = expand_paths(given)
    shown = " ".join(str(p) for p in given)
    report = Report([], [], __version__, options.fail_on, shown, roots=[str(p) for p in paths])
    tasks: list[tuple] = []
    roots: set[str] = set()
    for one in paths:
        try:
            found = discover(one, follow_symlinks=follow_symlinks)
        except LosscheckError as exc:
            if len(paths) == 1:
                raise
            report.errors.append(RunError(exc.path or str(one), exc.one_line(), exc.kind))
            continue
        for err in found.errors:
            report.errors.append(RunError(err.path or str(one), err.one_line(), err.kind))
        report.without_logs += [str(d) for d in found.without_logs]
        report.links_not_followed += [str(d) for d in found.links_not_followed]
        for run in found.runs:
            key = str(run.root)
            if key in roots:
                continue  # matched by two patterns: diagnosed once
            roots.add(key)
            tasks.append((run, config.for_run(run.root) if config else options,
                          _baseline_of(baseline, run, str(one)), plots))
    total = len(tasks)
    deliver = None
    # a streamed sweep keeps one compact triage record per run (status, class, onset, error codes,
    # hyperparameters: TriageRow), not its report
    triage_rows: list = []
    if sink is not None:
        from losscheck.analysis.triage import triage_row

        def deliver(res: RunReport | RunError) -> None:
            key = "errors" if isinstance(res, RunError) else res.status
            report.counts[key] = report.counts.get(key, 0) + 1
            if isinstance(res, RunReport):
                if run_fails(res.status, report.fail_on, res.confidence):
                    report.streamed_failing = True
                triage_rows.append(triage_row(res))
            sink(res)

        for found_error in report.errors:
            deliver(found_error)
        report.errors = []
    # a large sweep whose results are kept holds each run's report packed (losscheck.packed)
    from losscheck.packed import PACK_MIN_RUNS, PackedRuns

    packed = sink is None and total >= PACK_MIN_RUNS
    if executor == "dask" and total:
        results = _diagnose_dask(tasks, scheduler, jobs, progress, deliver, packed)
    else:
        jobs = min(jobs or os.cpu_count() or 1, max(total, 1))
        if jobs <= 1:
            serial = _Results(total, progress, deliver, packed)
            for i, task in enumerate(tasks):
                serial.finish([(i, _read_and_diagnose(*task))])
            results = serial.items
        else:
            results = _diagnose_parallel(tasks, jobs, progress, deliver, packed)
    del tasks  # the runs' file lists are not needed past here
    flat = [one for res in results for one in (res if isinstance(res, list) else [res])]
    del results
    for res in flat:  # in discovery order, whatever the completion order
        if isinstance(res, RunError):
            report.errors.append(res)
        else:
            report.runs.append(res)
    del flat
    if not report.run_count and not report.error_count:
        raise NoLogsFound(shown, "no supported log found")
    report.runs.sort(key=lambda r: r.run)
    rows: list = []
    if packed:
        rows = [cast(Any, p).triage for p in report.runs]  # (PackedRun records until wrapped below)
        report.runs = cast(list, PackedRuns(cast(list, report.runs)))  # read-only, unpacked as read
    if report.run_count >= 2:
        from losscheck.analysis.triage import sweep_triage, triage_row

        report.triage = sweep_triage(triage_rows or (rows if packed else [triage_row(r) for r in report.runs]))
    return report


def _baseline_of(baseline, run: RunFiles, root: str):
    """The baseline run(s) a task needs: ``None`` without a baseline; the run's match; or, for
    a folder of several files in one place (which :func:`read_runs` may split), a dict from the
    folder and each of its files to their matches."""
    if baseline is None:
        return None
    key = str(run.root)
    if len(run.files) < 2 or any(lf.subdir for lf in run.files):
        return baseline.match(key, root)
    return {name: baseline.match(name, root) for name in [key, *(str(lf.path) for lf in run.files)]}


def _diagnose_batch(tasks: list[tuple], limits: tuple) -> list[RunReport | RunError | list[RunReport | RunError]]:
    """Read and diagnose a partition of runs on a dask worker, with the caller's gzip limits;
    only these small per-run results travel back (the logs are read where the worker is; a
    folder split into several runs gives a list)."""
    from losscheck.readers._common import set_inflate_limits

    set_inflate_limits(*limits)
    out: list[RunReport | RunError | list[RunReport | RunError]] = []
    for task in tasks:
        try:
            out.append(_read_and_diagnose(*task))
        except Exception as exc:  # noqa: BLE001 - a bug in one run is that run's error
            out.append(_bug(task[0].root, exc))
    return out


#: Runs per dask task: enough that scheduling costs little per run, few enough that a sweep
#: spreads over every worker.
DASK_BATCH = 16


def _diagnose_dask(tasks: list[tuple], scheduler: str | None, jobs: int | None,
                   progress: Callable[[int, int], None] | None,
                   sink: Callable[[RunReport | RunError], None] | None = None, packed: bool = False) -> list:
    """Diagnose ``tasks`` on a ``dask.distributed`` cluster (``scheduler``, or a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes made for this call):
    partitions of at most :data:`DASK_BATCH` runs are submitted as :func:`_diagnose_batch`
    tasks; results come back in task order (with ``sink``: handed to it as each partition
    completes, and the list returned is empty). https://distributed.dask.org/en/stable/client.html

    Raises:
        UsageError: ``distributed`` is not installed (``pip install 'losscheck[dask]'``), or
            the scheduler cannot be reached.
    """
    from losscheck.errors import UsageError
    from losscheck.readers._common import INFLATE

    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError(None, "--executor dask needs pip install 'losscheck[dask]'") from None
    n = len(tasks)
    out = _Results(n, progress, sink, packed)
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="20s")
        else:
            cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=":0")
            client = Client(cluster)
    except OSError as exc:
        raise UsageError(None, f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        workers = len(client.scheduler_info().get("workers", {})) or jobs or 1
        size = max(1, min(DASK_BATCH, -(-n // (4 * workers))))  # about 4 partitions per worker at least
        parts = [list(range(a, min(a + size, n))) for a in range(0, n, size)]
        futures = {client.submit(_diagnose_batch, [tasks[i] for i in part], INFLATE.as_tuple(), pure=False): part
                   for part in parts}
        for fut in as_completed(futures):
            out.finish(zip(futures[fut], fut.result()))
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return out.items

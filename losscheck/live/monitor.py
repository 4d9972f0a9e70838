"""The live engine: the same diagnosis as ``losscheck diagnose``, fed one point at a time.

:class:`Monitor` keeps every point it is given (per metric tag, in growable arrays) and, when a
cheap trigger fires, runs the diagnosis pipeline itself on what it holds:
:func:`losscheck.pipeline.assemble_run` (merge, fold copies) then
:func:`losscheck.pipeline.diagnose_run` (resolve -> analyse -> rules -> remedies). There is no
second implementation of any detector or rule: a verdict computed at step ``t`` is, by
construction, the diagnosis of the log cut at step ``t`` (tests/live/test_monitor.py checks
this against ``diagnose`` of cut log files of the corpus).

Cost. A full analysis costs O(n) for n points held, so it cannot run at every update. Between
analyses an update costs O(1) amortised: appending to the arrays and, per tag, comparing the
value with the median and the median absolute deviation (MAD) of the previous block of
``window`` values (recomputed once per block: O(1) amortised). A full analysis runs when:

1. a value is non-finite (NaN/Inf) and that tag's previous value was finite (at once: the
   fastest failure to catch, and the one that poisons checkpoints);
2. a value lies more than ``sigmas`` robust standard deviations (1.4826 x MAD) from its
   block's median -- a spike -- or, for a loss or a grad norm, that far above the lowest block
   median so far (measured with that block's MAD) -- the run leaving its best level, which a
   smooth exponential rise does without ever being an outlier of its own block -- and at least
   ``n_last / outlier_gap`` points came since the last analysis (``n_last``: the point count
   then), so a long excursion costs O(log n) analyses, not one per point;
3. the point count has grown by the factor ``growth`` since the last analysis (1, 2, 4, ... by
   default): slow changes (a plateau, overfitting, a slow divergence without outliers) are seen
   within a factor ``growth`` of the run's length;
4. :meth:`Monitor.analyse` is called (e.g. at an evaluation, at the end of the run).

On a healthy run without outliers that is ``log_growth(n)`` analyses, each O(n), so O(n)
work in all: amortised O(1) per update. The trade-off, stated plainly: the verdict returned
between analyses is the last analysis' verdict (its ``analysed_step`` says which), so it
equals ``diagnose`` of the log cut at the current step only at analysis points; a failure
that shows neither as a non-finite value nor as an outlier (a slow exponential divergence
from a noisy level, or overfitting) is reported at the next doubling, which is why the
callbacks also analyse at each evaluation. The robust z-score is the usual modified z-score
(Iglewicz & Hoaglin, "How to Detect and Handle Outliers", 1993: ``0.6745 (x - median) /
MAD``); the default of 8 sigmas is loose on purpose: it only decides when to look, the
detectors decide what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from losscheck.analysis._util import MAD_TO_SD
from losscheck.config import Settings
from losscheck.errors import LosscheckError
from losscheck.model import Finding, Remedy, RunData, RunReport, Series, run_fails
from losscheck.roles import is_loss_name

#: The keyword names of :meth:`Monitor.update` and the tags they are stored under (the names
#: the HF Trainer logs, which role resolution knows).
KEYWORD_TAGS = {"loss": "loss", "eval_loss": "eval_loss", "grad_norm": "grad_norm", "lr": "learning_rate"}

#: Failing findings that stop a live run at once (``stop_on="urgent"``): the loss diverging
#: (LC101), NaN/Inf (LC102), HF's NaN filter hiding NaN (LC404): each only gets worse with
#: more steps and poisons the checkpoints saved after it. The other failing findings are judged
#: on the run so far, which live is only the start of the run: an offline "flat from the
#: start" (LC105) on the first points of a slow run, or a spike that has not recovered *yet*
#: (LC104, three points after the jump) is no reason to kill it. They are reported
#: (``failing``) and stop the run with ``stop_on="failing"``. Replays of the labelled corpus
#: (benchmarks/monitor_replay.py) stopped healthy runs on LC104 and on short-log LC101 calls
#: before these choices.
URGENT_CODES = frozenset({"LC101", "LC102", "LC404"})
#: Codes that stop at any point count (a non-finite loss needs no history to be a failure).
IMMEDIATE_CODES = frozenset({"LC102", "LC404"})



@dataclass
class Verdict:
    """The monitor's current judgement of the run.

    Attributes:
        step: the last step given to :meth:`Monitor.update` (``None`` before any).
        points: update calls that carried at least one value so far.
        analysed_step: the step of the last full analysis (the verdict is as of that step).
        analyses: full analyses run so far.
        status: ``"healthy"``, ``"warning"``, ``"failing"`` (as ``diagnose``), or
            ``"unknown"`` while the diagnosis cannot be made (too few points, no loss yet).
        failing: whether the status fails the gate at the monitor's ``fail_on`` level (what
            ``diagnose``'s exit code would say of the log so far).
        stop: whether a live run should stop now: ``failing`` and, with ``stop_on="urgent"``
            (the default), an error finding among :data:`URGENT_CODES` (a divergence only once
            ``min_points`` points are held: a 3-point "diverging" call is the start of a run).
        primary, secondary: the run's class(es) (``converging``, ``diverging``, ``nan``...).
        onset_step: the step the primary problem began, when known.
        findings: the coded findings (:class:`losscheck.model.Finding`).
        remedies: the ranked remedies (:class:`losscheck.model.Remedy`).
        error: why there is no diagnosis yet (``status == "unknown"``), one line.
        changed: whether this update's verdict differs in status or codes from the previous.
        report: the full :class:`~losscheck.model.RunReport` of the last analysis (for the
            output formats), or ``None``.
    """

    step: int | None = None
    points: int = 0
    analysed_step: int | None = None
    analyses: int = 0
    status: str = "unknown"
    failing: bool = False
    stop: bool = False
    primary: str | None = None
    secondary: list[str] = field(default_factory=list)
    onset_step: int | None = None
    findings: list[Finding] = field(default_factory=list)
    remedies: list[Remedy] = field(default_factory=list)
    error: str | None = None
    changed: bool = False
    report: RunReport | None = None

    @property
    def codes(self) -> list[str]:
        """The findings' rule codes, in report order."""
        return [f.code for f in self.findings]

    def line(self) -> str:
        """One status line: ``step 120: failing (diverging) LC101 LC201 onset 66``."""
        head = f"step {self.step}: {self.status}"
        if self.primary:
            head += f" ({self.primary})"
        if self.findings:
            head += " " + " ".join(self.codes)
        if self.onset_step is not None and self.status != "healthy":
            head += f" onset {self.onset_step}"
        if self.error and self.status == "unknown":
            head += f" - {self.error}"
        return head


def points_by_step(series: Iterable[tuple[str, Series]], after: Mapping[str, int] | None = None
                   ) -> tuple[dict[int, dict[str, float]], dict[int, float]]:
    """Turn series into what :meth:`Monitor.add` takes: the values logged at each step.

    Args:
        series: ``(tag, series)`` pairs (``RunData.series.items()``, or the series of one
            file with their run tags).
        after: ``{tag: step}``: only that tag's points with a larger step are taken (the
            points already given to a monitor are skipped). Any step order is allowed.
    Returns:
        ``(rows, walls)``: ``rows`` maps each global step (or epoch, in the series' unit)
        to ``{tag: value}``; ``walls`` maps a step to the first finite wall time (seconds since
        the Unix epoch) a series holds for it. Insertion order is not sorted by step.

    Cost: one vectorised comparison per series, then Python work only for the points taken
    (a poll that re-reads a whole file pays for its new points only, not for all of them).
    """
    rows: dict[int, dict[str, float]] = {}
    walls: dict[int, float] = {}
    for tag, s in series:
        steps, values, wall = s.steps, s.values, s.wall_time
        last = None if after is None else after.get(tag)
        if last is not None:
            keep = np.flatnonzero(steps > last)
            steps, values = steps[keep], values[keep]
            wall = None if wall is None else wall[keep]
        for st, v in zip(steps.tolist(), values.tolist()):
            rows.setdefault(st, {})[tag] = v
        if wall is not None:
            for st, w in zip(steps.tolist(), wall.tolist()):
                if w == w:
                    walls.setdefault(st, w)
    return rows, walls


def _rising_is_bad(tag: str) -> bool:
    """A loss (:func:`losscheck.roles.is_loss_name`: ``loss``, ``xent``, ``nll``, ``损失``...;
    not a loss scale, which rises by design), a GAN's ``errD``/``errG``, or a grad norm: a
    value far above its best level so far is worth a look."""
    t = tag.lower()
    return is_loss_name(tag) or "grad_norm" in t or "gradnorm" in t or t.startswith("err")


def _median_sorted(v: list[float]) -> float:
    """The median of a sorted, non-empty list: with :data:`MAD_TO_SD`, a plain-Python copy of
    :func:`losscheck.analysis._util.robust_sd` for the monitor's blocks of <= ``window`` floats,
    where numpy's per-call overhead costs more than the sort (same values)."""
    k = len(v) // 2
    return v[k] if len(v) % 2 else 0.5 * (v[k - 1] + v[k])


class _Track:
    """One tag's points in growable arrays, with the robust statistics of its last block."""

    __slots__ = ("steps", "values", "wall", "n", "block", "median", "scale", "last_finite", "rising_is_bad",
                 "best_median", "best_scale")

    def __init__(self, capacity: int = 64, rising_is_bad: bool = False) -> None:
        self.steps = np.empty(capacity, dtype=np.int64)
        self.values = np.empty(capacity, dtype=np.float64)
        self.wall: np.ndarray | None = None
        self.n = 0
        self.block = 0  # points since the last block boundary
        self.median = math.nan  # of the previous block's finite values
        self.scale = math.nan  # 1.4826 x MAD of the previous block (robust sigma)
        self.last_finite = True
        self.rising_is_bad = rising_is_bad  # a loss or a grad norm: far above its best level is news
        self.best_median = math.inf  # the lowest block median so far, and that block's robust sigma
        self.best_scale = math.inf

    def append(self, step: int, value: float, wall: float | None) -> None:
        if self.n and step <= self.steps[self.n - 1]:
            # a resumed run logs from its checkpoint again: later writes win, as the readers
            # keep them (losscheck.series.normalize keeps a point only if every later step is larger)
            self.n = int(np.searchsorted(self.steps[:self.n], step, side="left"))
            self.block = min(self.block, self.n)
        if self.n == self.steps.shape[0]:
            cap = 2 * self.n
            self.steps = np.resize(self.steps, cap)
            self.values = np.resize(self.values, cap)
            if self.wall is not None:
                self.wall = np.resize(self.wall, cap)
        if wall is not None and self.wall is None:
            self.wall = np.full(self.steps.shape[0], np.nan)
        self.steps[self.n] = step
        self.values[self.n] = value
        if self.wall is not None:
            self.wall[self.n] = math.nan if wall is None else wall
        self.n += 1

    def refresh(self, window: int) -> None:
        """Recompute the block median and robust sigma from the last ``window`` values."""
        # plain Python on <= 64 floats: cheaper than numpy's per-call overhead at this size
        v = sorted(x for x in self.values[max(0, self.n - window):self.n].tolist() if math.isfinite(x))
        if len(v) >= 8:
            med = _median_sorted(v)
            self.median = med
            self.scale = MAD_TO_SD * _median_sorted(sorted(abs(x - med) for x in v))
            if med < self.best_median:
                self.best_median, self.best_scale = med, max(self.scale, 1e-12 * abs(med))
        self.block = 0

    def series(self, tag: str, source: str, step_unit: str) -> Series:
        wall = None
        if self.wall is not None:
            wall = self.wall[:self.n].copy()
        return Series(tag, self.steps[:self.n].copy(), self.values[:self.n].copy(), source, wall, step_unit)


class Monitor:
    """Diagnose a run while it trains, one logged point at a time.

    Example::

        mon = losscheck.Monitor()
        for step, batch in enumerate(loader):
            loss = train_step(batch)
            v = mon.update(step, loss=loss, lr=sched.get_last_lr()[0])
            if v.failing:
                break  # v.findings / v.remedies say why and what to change

    Args:
        options: the :class:`~losscheck.config.Settings` of the diagnosis (``fail_on``,
            ``select``/``ignore``, thresholds, metric roles), as ``diagnose`` takes them.
        meta: what the trainer knows ahead of its logs, as the readers record it:
            ``max_steps``, ``warmup_steps``, ``learning_rate`` (the configured peak LR),
            ``max_grad_norm``, ``fp16``, ``num_classes``, ``steps_per_epoch``.
        name: the run's name in reports.
        step_unit: ``"step"`` (global step) or ``"epoch"``.
        window: values per block of the outlier statistics (>= 8). Default 64: chosen, not
            fitted: enough values for a stable block median and MAD (the block needs 8 finite
            ones), few enough that the plain-Python sort of each block stays cheaper than numpy.
        sigmas: an outlier is this many robust standard deviations from the block median.
        growth: analyse when the point count has grown by this factor (> 1) since the last.
        outlier_gap: an outlier triggers an analysis only after ``n_last / outlier_gap`` new
            points (``n_last``: the count at the last analysis), at least 1. Default 16: chosen,
            not fitted: a long excursion then costs O(log n) analyses of at most 1/16 of the
            run's length apart.
        stop_on: ``"urgent"`` (stop on :data:`URGENT_CODES` only) or ``"failing"`` (stop on
            whatever fails the gate, as the offline exit code).
        min_points: with ``stop_on="urgent"``, a divergence stops the run only once this many
            points are held (NaN/Inf stop at once). Default 16: set with ``confirm`` on the
            healthy-run replays of ``benchmarks/monitor_replay.py`` (false stops 5 of 44 -> 2 of
            44, commit da03b63), not fitted to one run; below it a short-log LC101 call stopped
            healthy runs.
        confirm: with ``stop_on="urgent"``, a divergence stops the run only when the analysis
            ``max(4, n/32)`` points later still finds it (one forced analysis; NaN/Inf stop at
            once). Replays of healthy corpus runs with warm restarts stopped without it.
    Raises:
        ValueError: for a ``step_unit``, ``window``, ``growth``, ``outlier_gap`` or ``stop_on``
            out of range, or a malformed ``fail_on``.
    """

    def __init__(self, options: Settings | None = None, *, meta: Mapping[str, Any] | None = None,
                 name: str = "live", step_unit: str = "step", window: int = 64, sigmas: float = 8.0,
                 growth: float = 2.0, outlier_gap: float = 16.0, stop_on: str = "urgent",
                 min_points: int = 16, confirm: bool = True) -> None:
        from losscheck.errors import parse_fail_on

        if step_unit not in ("step", "epoch"):
            raise ValueError(f"step_unit must be 'step' or 'epoch', not {step_unit!r}")
        if window < 8 or growth <= 1.0 or outlier_gap <= 0:
            raise ValueError("window >= 8, growth > 1 and outlier_gap > 0 are required")
        if stop_on not in ("urgent", "failing"):
            raise ValueError(f"stop_on must be 'urgent' or 'failing', not {stop_on!r}")
        self.stop_on = stop_on
        self.min_points = int(min_points)
        self.confirm = bool(confirm)
        self._confirm_at: int | None = None
        self._skip_wait = False  # a non-finite stop is waiting on a possible fp16 skip
        self.options = options or Settings()
        parse_fail_on(self.options.fail_on)
        self.meta = dict(meta or {})
        #: source file -> (reader name, sub-folder), set by ``losscheck watch``: a folder of
        #: several runs' files is refused rather than judged as one run (:mod:`losscheck.runsplit`)
        self.file_readers: dict[str, tuple[str, str]] = {}
        self.name = name
        self.step_unit = step_unit
        self.window = int(window)
        self.sigmas = float(sigmas)
        self.growth = float(growth)
        self.outlier_gap = float(outlier_gap)
        self._tracks: dict[Any, _Track] = {}  # tag, or (tag, source)
        self._points = 0
        self._next_growth = 1
        self._last_n = 0
        self._pending = False
        self.analyses = 0
        self.verdict = Verdict()

    @property
    def points(self) -> int:
        """Update calls that carried at least one value so far."""
        return self._points

    # --- feeding -------------------------------------------------------------------------

    def update(self, step: int, loss: float | None = None, eval_loss: float | None = None,
               grad_norm: float | None = None, lr: float | None = None, *, wall_time: float | None = None,
               **other: float | None) -> Verdict:
        """Add the values logged at ``step`` and return the current verdict.

        Args:
            step: the global step (an int; a step not above the last one of a tag drops that
                tag's points from ``step`` on, as a resumed run's log is read).
            loss, eval_loss, grad_norm, lr: the usual metrics (stored as ``loss``,
                ``eval_loss``, ``grad_norm``, ``learning_rate``); ``None`` = not logged now.
            wall_time: seconds since the Unix epoch of this point, for the timing rules.
            other: any other metric by its log name (``train/acc=0.9``, ``d_loss=...``);
                non-numeric values are ignored.
        Returns:
            The :class:`Verdict` (the last analysis' verdict when no trigger fired).
        """
        values = {KEYWORD_TAGS["loss"]: loss, KEYWORD_TAGS["eval_loss"]: eval_loss,
                  KEYWORD_TAGS["grad_norm"]: grad_norm, KEYWORD_TAGS["lr"]: lr}
        values.update(other)
        return self.add(step, values, wall_time=wall_time)

    def add(self, step: int, values: Mapping[str, Any], *, wall_time: float | None = None,
            source: str | None = None) -> Verdict:
        """Add the values logged at ``step`` under their log names (tag -> value; ``None`` and
        non-numeric values are skipped) and return the current verdict, as :meth:`update`.

        ``source`` names the file the values were read from (``losscheck watch``): series of
        one tag from different sources are merged, and copies of one metric written by two
        loggers folded, as :func:`losscheck.pipeline.read_run` does for files.
        """
        step = int(step)
        fired = False
        added = False
        for key, value in values.items():
            if value is None:
                continue
            try:
                x = float(value)
            except (TypeError, ValueError):
                continue
            added = True
            fired |= self._add(key if source is None else (key, source), step, x, wall_time)
        self.verdict.step = step
        self.verdict.changed = False
        if not added:
            return self.verdict
        self._points += 1
        self.verdict.points = self._points
        if self._points >= self._next_growth:
            fired = True
        if fired or self._pending:
            self._analyse()
        return self.verdict

    def _add(self, key, step: int, x: float, wall: float | None) -> bool:
        tr = self._tracks.get(key)
        if tr is None:
            tag = key if isinstance(key, str) else key[0]
            tr = self._tracks[key] = _Track(rising_is_bad=_rising_is_bad(tag))
        tr.append(step, x, wall)
        tr.block += 1
        fire = False
        if not math.isfinite(x):
            # the first non-finite after finite values; while a non-finite stop waits on a
            # possible fp16 skip (see _overflow_skip), the second in a row too
            fire = tr.last_finite or (self._skip_wait and tr.n >= 2 and not math.isfinite(float(tr.values[tr.n - 2])))
            tr.last_finite = False
        else:
            tr.last_finite = True
            if tr.scale == tr.scale and (abs(x - tr.median) > self.sigmas * max(tr.scale, 1e-12 * abs(tr.median))
                                         or (tr.rising_is_bad and x > tr.best_median + self.sigmas * tr.best_scale)):
                # an outlier: look, but at most once per n_last / outlier_gap new points
                if self._points + 1 - self._last_n >= max(1.0, self._last_n / self.outlier_gap):
                    fire = True
        if tr.block >= self.window or (8 <= tr.n < self.window and tr.n & (tr.n - 1) == 0):
            tr.refresh(self.window)  # every block, and at 8, 16, 32 points: short runs get statistics too
        return fire

    # --- judging -------------------------------------------------------------------------

    def analyse(self) -> Verdict:
        """Run the full diagnosis on every point held now and return its verdict (an
        evaluation, the end of training, or a caller that wants the exact verdict)."""
        if self._points:
            self._analyse()
        return self.verdict

    def run_data(self) -> RunData:
        """The :class:`~losscheck.model.RunData` the points make, as a reader's would.

        Raises:
            TooLittleData: no point yet.
        """
        from losscheck.pipeline import assemble_run

        by_tag: dict[str, list[Series]] = {}
        files: dict[str, list[Series]] = {}
        for key, tr in self._tracks.items():
            if tr.n:
                tag, src = (key, self.name) if isinstance(key, str) else key
                s = tr.series(tag, src, self.step_unit)
                by_tag.setdefault(tag, []).append(s)
                files.setdefault(src, []).append(s)
        if len(files) > 1 and self.file_readers:
            self._refuse_several_runs(files)
        return assemble_run(self.name, list(files), by_tag, [], dict(self.meta))

    def _refuse_several_runs(self, files: dict[str, list[Series]]) -> None:
        """Raise :class:`~losscheck.errors.ParseError` when the followed files are several runs'
        (:func:`losscheck.runsplit.separate_runs`): merged, they would be judged as a curve no
        run had, and ``watch`` follows one run per folder."""
        from pathlib import Path

        from losscheck.errors import ParseError
        from losscheck.runsplit import FileCurves, separate_runs

        found = separate_runs([FileCurves(Path(src).name, *self.file_readers.get(src, ("", "")), series)
                               for src, series in files.items()])
        if found is not None:
            raise ParseError(self.name, "holds several runs' files (their loss curves differ at the same steps): "
                                        "watch follows one run; watch each file, or diagnose the folder, which "
                                        "tells its runs apart")

    def _analyse(self) -> None:
        from losscheck.pipeline import diagnose_run

        self.analyses += 1
        self._last_n = self._points
        while self._next_growth <= self._points:
            self._next_growth = max(self._next_growth + 1, math.ceil(self._next_growth * self.growth))
        self._pending = False
        old = self.verdict
        v = Verdict(step=old.step, points=self._points, analysed_step=old.step, analyses=self.analyses)
        try:
            rep = diagnose_run(self.run_data(), self.options)
        except LosscheckError as exc:
            v.error = exc.problem
        else:
            v.status, v.primary, v.secondary = rep.status, rep.primary, list(rep.secondary)
            v.onset_step, v.findings, v.remedies, v.report = rep.onset_step, rep.findings, rep.remedies, rep
            v.failing = run_fails(rep.status, self.options.fail_on, rep.confidence)
            urgent = {f.code for f in rep.findings if f.severity == "error"} & URGENT_CODES
            if self._points < self.min_points:
                urgent &= IMMEDIATE_CODES
            wait = 0  # points a stop must wait for, re-analysing then (0: stop now)
            if urgent and not urgent & IMMEDIATE_CODES and self.confirm:
                # a divergence must still be there after max(4, n/32) more points: a prefix
                # cut inside a transient excursion reads as diverging
                wait = max(4, math.ceil(self._points / 32))
                held = self._restart_hold(rep)
                if held:
                    # inside a warm restart's high-LR phase: the hold ends when it does
                    self._confirm_at = None
                    wait = held
            elif urgent == {"LC102"} and self.confirm and self._overflow_skip(rep):
                wait = max(4, math.ceil(self._points / 32))
            self._skip_wait = bool(wait) and urgent == {"LC102"}
            if wait:
                if self._confirm_at is None:
                    self._confirm_at = self._points + wait
                if self._points < self._confirm_at:
                    # the re-check is due at confirm_at (also after a resume from state_dict)
                    self._next_growth = min(self._next_growth, self._confirm_at)
                    urgent = set()
            else:
                self._confirm_at = None
            v.stop = v.failing and (self.stop_on == "failing" or bool(urgent))
        v.changed = (v.status, v.codes) != (old.status, old.codes)
        self.verdict = v

    def _track_of(self, rep: RunReport, role: str) -> _Track | None:
        """The track that filled ``role`` in the report (``None`` when no series did)."""
        info = rep.metrics.get(role)
        if info is None:
            return None
        return self._tracks.get(info.tag) or self._tracks.get((info.tag, info.source))

    def _restart_hold(self, rep: RunReport) -> int:
        """Points a divergence stop waits because the LR was just raised by a warm restart.

        SGDR (Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
        ICLR 2017, https://arxiv.org/abs/1608.03983) raises the LR back to its peak at each
        restart on purpose; the loss rises for a while and falls lower as the LR decays again
        (rule LC304). A divergence call made in that phase is the restart's transient, not yet
        evidence. The phase is taken to last while the LR stays above half the peak it reached
        since the last restart (the 50 % the restart detector,
        :func:`losscheck.analysis.lr.restart_steps`, uses to call a decay) and at most the
        previous cycle's length in points (a restart to a constant LR must not hold for
        ever). Returns 0 when there is no restart or the phase is over, else the points left
        (at least 1). Cost O(n) in the LR points (run only when a divergence is reported).
        """
        from losscheck.analysis.lr import restart_steps

        tr = self._track_of(rep, "lr")
        if tr is None or tr.n < 3:
            return 0
        lr = tr.series("lr", "live", self.step_unit)
        rs = restart_steps(lr)
        if not rs:
            return 0
        steps, vals = tr.steps[:tr.n], tr.values[:tr.n]
        at = int(np.searchsorted(steps, rs[-1], side="left"))
        prev = int(np.searchsorted(steps, rs[-2], side="left")) if len(rs) > 1 else 0
        cycle = at - prev
        since = tr.n - at
        seg = vals[at:tr.n]
        seg = seg[np.isfinite(seg)]
        if not seg.size or since >= cycle or seg[-1] <= 0.5 * float(seg.max()):
            return 0
        return max(1, min(cycle - since, max(4, math.ceil(self._points / 32))))

    def _overflow_skip(self, rep: RunReport) -> bool:
        """Whether a non-finite call may be the fp16 dynamic loss scaler skipping a step.

        With loss scaling (Micikevicius et al., "Mixed Precision Training", ICLR 2018,
        https://arxiv.org/abs/1710.03740) an overflow of the *scaled* gradients makes the grad
        norm Inf/NaN for one step; the scaler skips that update, lowers the scale and goes on,
        while the (unscaled) loss stays finite. ``diagnose`` calls such a run healthy on the
        whole log (LC202, :func:`losscheck.analysis.nonfinite.verdict`) but a cut right at a
        skip can read as NaN before the loss has shown it is back at its level. True when the
        loss is finite at its last point and not far above its best level (within ``sigmas``
        robust standard deviations of its lowest block median), neither the loss nor the grad
        norm is non-finite at two points in a row (a second overflow in a row: the lowered
        scale did not help), and either the non-finite values are the grad norm's only, or
        the loss's earlier non-finite points were each followed by a finite value (isolated
        skips); while it waits, a second non-finite value in a row triggers an analysis at
        once (and stops). The stop otherwise waits for the re-analysis a few points later (the
        run is stopped if ``diagnose`` still calls it NaN then: no recovery).
        """
        loss = self._track_of(rep, "loss")
        if loss is None or not loss.n or not math.isfinite(float(loss.values[loss.n - 1])):
            return False
        last = float(loss.values[loss.n - 1])
        if not math.isfinite(loss.best_median) or last > loss.best_median + self.sigmas * loss.best_scale:
            return False  # no level yet, or the loss is far above its best level: not a benign skip
        for tr in (loss, self._track_of(rep, "grad_norm")):
            if tr is not None and tr.n >= 2 and not math.isfinite(float(tr.values[tr.n - 1])) \
                    and not math.isfinite(float(tr.values[tr.n - 2])):
                return False  # two skips in a row: the scaler is not recovering
        v = loss.values[:loss.n]
        bad = ~np.isfinite(v)
        if not bad.any():
            return True  # grad-norm only: the scaler's signature
        # isolated: no two non-finite loss values in a row
        return not bool(np.any(bad[1:] & bad[:-1]))

    # --- checkpointing -------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything needed to resume: ``{"tags": {tag: {"steps": [...], "values": [...]}}, ...}``
        (plain lists and numbers: JSON- and pickle-safe, for a trainer's checkpoint), with the
        state of a stop waiting for its confirmation (``confirm_at``: the point count at which
        the pending divergence or NaN call is re-checked; ``skip_wait``: the wait is for a
        possible fp16 skip), so a run resumed inside the wait stops where it would have."""
        tags = {}
        for key, tr in self._tracks.items():
            d: dict[str, Any] = {"steps": tr.steps[:tr.n].tolist(), "values": tr.values[:tr.n].tolist()}
            if tr.wall is not None:
                d["wall"] = tr.wall[:tr.n].tolist()
            if isinstance(key, str):
                tags[key] = d
            else:
                d["source"] = key[1]
                tags[f"{key[0]}\x00{key[1]}"] = d
        return {"version": 1, "points": self._points, "tags": tags, "meta": dict(self.meta),
                # a stop waiting for its confirmation: a resumed run must not restart the wait
                "confirm_at": self._confirm_at, "skip_wait": self._skip_wait}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s points (the next update analyses).

        Raises:
            ValueError: ``state`` is not a monitor state.
        """
        if not isinstance(state, Mapping) or state.get("version") != 1:
            raise ValueError("not a losscheck Monitor state (version 1)")
        self._tracks = {}
        for tag, d in state["tags"].items():
            tag = str(tag).split("\x00")[0]
            tr = _Track(max(64, len(d["steps"])), rising_is_bad=_rising_is_bad(tag))
            n = len(d["steps"])
            tr.steps[:n] = d["steps"]
            tr.values[:n] = d["values"]
            if "wall" in d:
                tr.wall = np.full(tr.steps.shape[0], np.nan)
                tr.wall[:n] = d["wall"]
            tr.n = n
            if n >= self.window:
                tr.refresh(self.window)
            self._tracks[(tag, str(d["source"])) if "source" in d else tag] = tr
        self.meta.update(state.get("meta") or {})
        self._points = int(state.get("points", 0))
        confirm_at = state.get("confirm_at")  # absent in states saved before it was kept
        self._confirm_at = int(confirm_at) if confirm_at is not None else None
        self._skip_wait = bool(state.get("skip_wait", False))
        self._pending = True

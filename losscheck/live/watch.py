"""The loop behind ``losscheck watch``: poll a run folder until a run must stop or the logs
go idle. It never prints: it hands each status line and report to the caller's callbacks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from losscheck import __version__
from losscheck.config import Settings
from losscheck.live.follow import Follower
from losscheck.live.monitor import Verdict
from losscheck.model import Report


@dataclass
class WatchResult:
    """How a watch ended.

    Attributes:
        outcome: ``"stop"`` (a run must stop: an urgent failure, or any failure with
            ``stop_on="failing"``), ``"idle"`` (no new point for ``idle`` seconds; the final
            verdict is the full diagnosis of everything read), or ``"nothing"`` (idle without
            a single diagnosable run).
        failing: whether the gate fails (``outcome == "stop"``, or a failing final verdict).
        report: the :class:`~losscheck.model.Report` of the runs as last analysed.
        step: the last step read of the run that decided (``None`` when none did).
        polls: polls made.
        errors: with ``"nothing"``, why each run followed could not be diagnosed
            (``"<run>: <problem>"``), when a diagnosis said why.
    """

    outcome: str
    failing: bool
    report: Report
    step: int | None
    polls: int
    errors: list[str] = field(default_factory=list)


def _report(follower: Follower, path: Path, options: Settings) -> Report:
    rep = Report([], [], __version__, options.fail_on, str(path))
    for v in (m.verdict for m in follower.monitors.values()):
        if v.report is not None:
            rep.runs.append(v.report)
    rep.runs.sort(key=lambda r: r.run)
    return rep


def watch(path: str | Path, options: Settings | None = None, *, interval: float = 2.0, idle: float = 300.0,
          stop_on: str = "urgent", on_line: Callable[[str, Verdict], None] | None = None,
          on_change: Callable[[Report], None] | None = None, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep, max_polls: int | None = None) -> WatchResult:
    """Follow ``path`` (:class:`~losscheck.live.follow.Follower`) until a run must stop or no
    file has grown for ``idle`` seconds.

    Args:
        path: a run folder, a tree of runs, or one log file (it may appear later).
        options: the diagnosis settings (``fail_on`` decides the final gate).
        interval: seconds between polls.
        idle: seconds without a new point after which the watch ends with the full diagnosis.
        stop_on: ``"urgent"`` (default: stop at once on divergence, NaN/Inf, an unrecovered
            spike) or ``"failing"`` (on anything that fails the gate).
        on_line: called with ``(run, verdict)`` each time a run's status or codes change.
        on_change: called with the run's report when its status changes (the full diagnosis).
        clock, sleep: time sources (tests pass their own).
        max_polls: stop after this many polls (``outcome`` ``"idle"``), a guard for tests.
    Returns:
        A :class:`WatchResult`.
    """
    path = Path(path)
    options = options or Settings()
    follower = Follower(path, options, stop_on=stop_on)
    last_new = clock()
    polls = 0
    statuses: dict[str, str] = {}
    while True:
        events = follower.poll()
        polls += 1
        if events:
            last_new = clock()
        for run, v, changed in events:
            if changed and on_line:
                on_line(run, v)
            if v.report is not None and statuses.get(run) != v.status:
                statuses[run] = v.status
                if on_change:
                    on_change(Report([v.report], [], __version__, options.fail_on, str(path)))
            if v.stop:
                return WatchResult("stop", True, _report(follower, path, options), v.step, polls)
        if clock() - last_new >= idle or (max_polls is not None and polls >= max_polls):
            for run, mon in follower.monitors.items():
                before = (mon.verdict.status, mon.verdict.codes)
                v = mon.analyse()
                if on_line and (v.status, v.codes) != before:
                    on_line(run, v)
            rep = _report(follower, path, options)
            if not rep.runs:
                why = [f"{run}: {m.verdict.error}" for run, m in follower.monitors.items() if m.verdict.error]
                return WatchResult("nothing", False, rep, None, polls, why)
            step = max((m.verdict.step for m in follower.monitors.values() if m.verdict.step is not None),
                       default=None)
            return WatchResult("idle", rep.failing, rep, step, polls)
        sleep(interval)

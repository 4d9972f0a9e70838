"""Replay labelled runs through the live Monitor: how soon does it stop a failing run, and does
it ever stop a healthy one? Compared with two framework rules re-implemented from their
documented thresholds on the same replays.

Runs: ``benchmarks/corpus`` (labels.csv) and ``sample_runs`` (sample_runs_labels.csv), every
run whose log losscheck reads. Each run's points (as the readers see them) are given to a
:class:`losscheck.Monitor` in step order, one ``update`` per logged step, with the run's
``max_steps`` when its log says it.

- failing runs: labelled ``diverging`` or ``nan`` (the failures a live stop is for). Delay =
  steps from the labelled onset to the first step at which a rule asks to stop (a stop before
  the onset counts as delay 0 and is listed as early); "missed" when no stop came.
- healthy runs: labelled ``converging``. A false stop is any stop.

Rules compared (their own documentation's thresholds, re-implemented here, no code copied):

- llm-foundry ``KillLossSpike``: a loss above ``outlier_multiplier`` (2) times the mean of the
  last ``window_size`` (100) losses counts as a spike; more than ``patience`` (4) consecutive
  spikes stop; so does a running mean above ``loss_cap`` (10) once the window is full.
- Lightning ``EarlyStopping(monitor="train_loss", check_finite=True)``: stop at the first
  non-finite loss (its ``divergence_threshold`` has no default, so it is off).

Usage::

    .venv/bin/python benchmarks/monitor_replay.py
"""

from __future__ import annotations

import csv
import math
import statistics
import sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from losscheck import Monitor  # noqa: E402
from losscheck.discovery import discover  # noqa: E402
from losscheck.errors import LosscheckError  # noqa: E402
from losscheck.live.monitor import points_by_step  # noqa: E402
from losscheck.pipeline import read_run  # noqa: E402
from losscheck.roles import resolve  # noqa: E402


class KillLossSpike:
    """llm-foundry's documented rule (window 100, x2, patience 4, loss cap 10)."""

    def __init__(self, window: int = 100, mult: float = 2.0, patience: int = 4, cap: float = 10.0) -> None:
        self.win: deque[float] = deque(maxlen=window)
        self.mult, self.patience, self.cap, self.run = mult, patience, cap, 0

    def update(self, loss: float) -> bool:
        stop = False
        if len(self.win) == self.win.maxlen:
            mean = sum(self.win) / len(self.win)
            self.run = self.run + 1 if loss > self.mult * mean else 0
            stop = self.run > self.patience or mean > self.cap
        if math.isfinite(loss):
            self.win.append(loss)
        return stop


def check_finite(loss: float) -> bool:
    """Lightning EarlyStopping(check_finite=True)."""
    return not math.isfinite(loss)


def runs():
    for labels, base in ((ROOT / "benchmarks/corpus/labels.csv", ROOT / "benchmarks/corpus"),
                         (ROOT / "benchmarks/sample_runs_labels.csv", ROOT / "sample_runs")):
        with open(labels, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                yield base / row["run"], row["class"], int(float(row["onset_step"] or 0))


def replay(path: Path):
    data = read_run(discover(path).runs[0])
    loss_tag = resolve(data, {}).roles["loss"].series.tag
    by_step, _ = points_by_step(data.series.items())
    mon = Monitor(meta={k: v for k, v in data.meta.items() if k == "max_steps"},
                  step_unit=data.series[loss_tag].step_unit)
    kls = KillLossSpike()
    first = {"losscheck": None, "llm-foundry KillLossSpike": None, "Lightning check_finite": None}
    for st in sorted(by_step):
        vals = by_step[st]
        v = mon.update(st, **vals)
        if v.stop and first["losscheck"] is None:
            first["losscheck"] = st
        if loss_tag in vals:
            x = vals[loss_tag]
            if kls.update(x) and first["llm-foundry KillLossSpike"] is None:
                first["llm-foundry KillLossSpike"] = st
            if check_finite(x) and first["Lightning check_finite"] is None:
                first["Lightning check_finite"] = st
    return first, mon.analyses, len(by_step)


def main() -> None:
    delays: dict[str, list[int]] = {}
    missed: dict[str, list[str]] = {}
    early: dict[str, list[str]] = {}
    false_stops: dict[str, list[str]] = {}
    n_fail = n_ok = 0
    for path, cls, onset in runs():
        try:
            first, _, _ = replay(path)
        except LosscheckError as exc:
            print(f"skipped {path.name}: {exc.one_line()}")
            continue
        if cls in ("diverging", "nan"):
            n_fail += 1
            for rule, st in first.items():
                if st is None:
                    missed.setdefault(rule, []).append(path.name)
                else:
                    delays.setdefault(rule, []).append(max(0, st - onset))
                    if st < onset:
                        early.setdefault(rule, []).append(path.name)
        elif cls == "converging":
            n_ok += 1
            for rule, st in first.items():
                if st is not None:
                    false_stops.setdefault(rule, []).append(f"{path.name}@{st}")
    print(f"{n_fail} failing runs (diverging or nan), {n_ok} healthy (converging)")
    for rule in ("losscheck", "llm-foundry KillLossSpike", "Lightning check_finite"):
        d = sorted(delays.get(rule, []))
        p90 = d[min(len(d) - 1, math.ceil(0.9 * len(d)) - 1)] if d else None
        print(f"{rule}: stopped {len(d)}/{n_fail} failing runs; delay from the labelled onset median "
              f"{statistics.median(d) if d else None} steps, p90 {p90}; stopped before the onset "
              f"{len(early.get(rule, []))}; false stops {len(false_stops.get(rule, []))}/{n_ok} "
              f"{false_stops.get(rule, [])[:6]}; missed {missed.get(rule, [])[:6]}")


if __name__ == "__main__":
    main()

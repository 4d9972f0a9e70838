"""Weights & Biases CSV exports: a run's history table, or a chart panel's "Export CSV".

Sources: W&B docs, "Export data" (Public API ``Run.history`` / ``Run.scan_history``,
https://docs.wandb.ai/models/track/public-api-guide) and "Why are steps missing from a CSV
metric?" (https://docs.wandb.ai/support/models/articles/why-are-steps-missing-from-a-csv-metric-:
export limits can cut a CSV short; the full history is the run's ``wandb-history`` Parquet
artifact, not read here), and panel exports published on GitHub (file names
``wandb_export_<ISO time>.csv``). The W&B server was not reachable here: the test fixtures
are written by pandas and by hand (``scripts/make_store_fixtures.py``).

**History export** (``run.history().to_csv(path)``, ``pd.DataFrame(run.scan_history())``):
one row per ``wandb.log`` call; columns ``_step`` (W&B's step: it counts log calls unless
the script passes ``step=``), ``_runtime`` (seconds since the run started), ``_timestamp``
(wall time, seconds since the Unix epoch), then the logged keys (``train/loss``...); a cell
is empty where a row did not log that key. ``to_csv`` writes the DataFrame index as a first
column with an empty name: it is not a metric. Columns starting with ``_`` are W&B's own,
not series. The step is ``_step``, except when every row with a metric also logs an
explicit training-step key (``trainer/global_step``, ``train/global_step``, ``global_step``,
``step``, ``iter``...) that never decreases: it is then used (as :mod:`wandb_binary` does).
``run.history()`` returns a 500-row sample by default; a file of exactly 500 rows gets a note.
With that training step and an epoch column (``train/epoch``, ``epoch``), meta gets
``steps_per_epoch``.

**Chart panel export** (the "..." menu of a line plot, "Export panel" -> CSV): a quoted
header ``"Step","<run> - <metric>","<run> - <metric>__MIN","<run> - <metric>__MAX",...``;
the first column is the chart's x-axis (``Step`` = ``_step``; or a custom axis such as
``epoch``, ``Relative Time (Process)``); each plotted run contributes one column per metric
plus ``__MIN``/``__MAX``, the range of the points the chart merged into that value when it
downsampled (not read: the plain column is the curve). Cells are empty where a run has no
point. With a custom x-axis, a ``<run> - _step`` column, when present, gives the steps. The
header is split at the first `` - ``. A panel may plot several runs, and a reader returns one
result per file: the first run of the header is read, and a warning names the others.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name, steps_per_epoch
from losscheck.readers._tabular import Table, header_fields, integral, load_table, wall_seconds
# the same training-step keys as the .wandb reader, so both read a run on the same axis
from losscheck.readers.wandb_binary import TRAINING_STEP_KEYS
from losscheck.readers.interface import SNIFF

_PANEL = re.compile(r"^(?P<run>.+?) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")
_STEP_AXES = ("step", "_step")
_HISTORY_MARKS = ("_runtime", "_timestamp")


def _is_panel(fields: list[str]) -> bool:
    """A panel export header: an x-axis column, then ``<run> - <metric>`` columns, with the
    ``__MIN``/``__MAX`` pairs W&B writes (or, without them, an x-axis named ``Step``)."""
    if len(fields) < 2:
        return False
    rest = [f for f in fields[1:] if f]
    named = [f for f in rest if _PANEL.match(f)]
    if not named:
        return False
    plain = set(named)
    if any(f.endswith(("__MIN", "__MAX")) and f[:-5] in plain for f in named):
        return True
    return fields[0] == "Step" and len(named) == len(rest)


def _is_history(fields: list[str]) -> bool:
    return "_step" in fields and any(m in fields for m in _HISTORY_MARKS)


class WandbCsvReader(BaseReader):
    """A W&B history CSV or chart panel CSV export.

    ``read`` returns one series per metric (see the module docstring for the step and
    the columns left out).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: empty file, or neither layout.
    """

    name = "wandb-csv"
    description = ("W&B CSV exports: run history (_step, _runtime, _timestamp...) or a chart panel "
                   "('<run> - <metric>')")

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        name = base_name(path).lower()
        if not name.endswith(".csv"):
            return 0.0
        fields = header_fields(head)
        if _is_panel(fields):
            return conf["panel-named"] if name.startswith("wandb_export") else conf["panel"]
        if _is_history(fields):
            return conf["history"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        table = load_table(path)
        if _is_panel(table.columns):
            return self._panel(path, table)
        if "_step" in table.values:
            return self._history(path, table)
        raise ParseError(path, "not a W&B CSV export: no '_step' column (history) and no '<run> - <metric>' "
                               "columns (chart panel)")

    # ------------------------------------------------------------------ history

    def _history(self, path: Path, table: Table) -> ReadResult:
        src = str(path)
        notes = list(table.notes)
        skip = {c for c in table.columns if c.startswith("_")}
        first = table.columns[0]
        if first == "column 1" and first in table.values and np.array_equal(
                table.values[first], np.arange(table.nrows, dtype=np.float64)):
            skip.add(first)
            notes.append(ReadNote(src, "the unnamed first column (the index pandas' to_csv writes) is not a "
                                       "metric", "info"))
        metrics = [c for c in table.columns if c in table.values and c not in skip]
        any_metric = np.zeros(table.nrows, dtype=bool)
        for c in metrics:
            any_metric |= ~table.missing[c]
        step_col = "_step"
        for key in TRAINING_STEP_KEYS:
            if key not in table.values:
                continue
            v = table.values[key][any_metric]
            if (table.missing[key][any_metric].any() or not v.size or not np.all(np.isfinite(v))
                    or not integral(v) or np.any(np.diff(v) < 0) or not v[-1] > v[0]):
                continue
            step_col = key
            notes.append(ReadNote(src, f"steps taken from the logged {key!r} column (W&B's _step only counts "
                                       "log calls)", "info"))
            break
        if table.nrows == 500:
            notes.append(ReadNote(src, "exactly 500 rows: run.history() returns a 500-row sample by default "
                                       "(run.scan_history() gives every row)", "info"))
        _, wall = wall_seconds(table)
        steps = table.steps(step_col)  # exact integers beyond 2**53 too
        col = Collector()
        for c in metrics:
            if c == step_col:
                continue
            keep = ~table.missing[c]
            if keep.any():
                w = None if wall is None else wall[keep]
                col.set_points(c, steps[keep], table.values[c][keep],
                               w if w is not None else np.full(int(keep.sum()), np.nan),
                               w is not None and bool(np.all(np.isfinite(w))))
        series, n = col.build(src)
        meta = {}
        epoch = next((e for e in ("train/epoch", "epoch") if e in table.values), None)
        if step_col != "_step" and epoch is not None:
            both = ~table.missing[epoch] & ~table.missing[step_col]
            spe = steps_per_epoch(table.values[step_col][both], table.values[epoch][both])
            if spe:
                meta["steps_per_epoch"] = spe
        return ReadResult(series, notes + n, meta)

    # ------------------------------------------------------------------ panel

    def _panel(self, path: Path, table: Table) -> ReadResult:
        src = str(path)
        notes = list(table.notes)
        x = table.columns[0]
        runs: dict[str, dict[str, str]] = {}
        aggs = 0
        for c in table.columns[1:]:
            m = _PANEL.match(c)
            if m is None:
                continue
            if m.group("agg"):
                aggs += 1
                continue
            runs.setdefault(m.group("run"), {})[m.group("metric")] = c
        if not runs:
            raise ParseError(path, "W&B panel export without a '<run> - <metric>' column")
        run, *others = list(runs)
        cols = runs[run]
        notes.append(ReadNote(src, f"W&B chart export: run {run!r}", "info"))
        if others:
            shown = ", ".join(repr(o) for o in others[:10])
            more = f" and {len(others) - 10} more" if len(others) > 10 else ""
            notes.append(ReadNote(src, f"this chart export holds {len(runs)} runs; only the first, {run!r}, was "
                                       f"read; not read: {shown}{more}", "warning"))
        if aggs:
            notes.append(ReadNote(src, f"{aggs} __MIN/__MAX column(s) (the range of points the chart merged) "
                                       "not read", "info"))
        unit = "step"
        step_src = cols.get("_step")
        if step_src is not None and step_src in table.values:
            steps, have = table.steps(step_src), ~table.missing[step_src]
            if x.lower() not in _STEP_AXES:
                notes.append(ReadNote(src, f"x-axis {x!r}: steps taken from the {step_src!r} column", "info"))
        elif x in table.values and x.lower() in _STEP_AXES + ("epoch",) and integral(table.values[x]):
            steps, have = table.steps(x), ~table.missing[x]
            unit = "epoch" if x.lower() == "epoch" else "step"
        else:
            steps, have = np.arange(table.nrows, dtype=np.float64), np.ones(table.nrows, dtype=bool)
            notes.append(ReadNote(src, f"x-axis {x!r} is not a step and no '{run} - _step' column: the row "
                                       "index is used as the step", "warning"))
        col = Collector()
        no_step = 0
        for metric, c in cols.items():
            if metric.startswith("_") or c not in table.values:
                continue
            keep = ~table.missing[c]
            no_step += int((keep & ~have).sum())
            keep &= have
            if keep.any():
                col.set_points(metric, steps[keep], table.values[c][keep], np.full(int(keep.sum()), np.nan),
                               False)
        if no_step:
            notes.append(ReadNote(src, f"{no_step} point(s) without a step value skipped", "warning"))
        series, n = col.build(src, unit)
        return ReadResult(series, notes + n, {})


READER = WandbCsvReader()

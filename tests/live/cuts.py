"""Logs cut at a step, as they stood on disk when that step was logged (for the live tests).

A cut keeps the records whose step is <= t, in file order, in the file's own format, so that
``diagnose`` of the cut file is the offline answer the live monitor must give at step t.
Formats: JSON lines (``current_steps`` or ``step``), CSV with a ``step`` column,
``trainer_state.json`` (``log_history`` entries). Only logs whose steps never go back are
used (a cut by step is then a prefix of the file).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from losscheck.discovery import discover
from losscheck.live.monitor import points_by_step
from losscheck.pipeline import read_run

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "benchmarks" / "corpus"
SAMPLES = REPO / "sample_runs"


def _jsonl_step(rec: dict):
    return rec.get("current_steps", rec.get("step"))


def log_file(run_dir: Path) -> Path | None:
    """The one cuttable log file of ``run_dir``, or ``None``."""
    files = [p for p in run_dir.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".csv", ".json")]
    return files[0] if len(files) == 1 else None


def records(path: Path) -> tuple[str, list, list[int]]:
    """``(kind, records, steps)`` of a cuttable log (``kind``: jsonl, csv, state)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        recs = [json.loads(line) for line in text.splitlines() if line.strip()]
        return "jsonl", recs, [int(_jsonl_step(r)) for r in recs]
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        head = rows[0]
        i = head.index("step")
        return "csv", rows, [int(float(r[i])) for r in rows[1:]]
    state = json.loads(text)
    return "state", state, [int(e["step"]) for e in state["log_history"]]


def write_cut(path: Path, out: Path, t: int) -> Path:
    """Write ``path`` cut at step ``t`` to ``out`` (same file name); returns the file."""
    kind, recs, steps = records(path)
    out.mkdir(parents=True, exist_ok=True)
    dest = out / path.name
    if kind == "jsonl":
        dest.write_text("".join(json.dumps(r) + "\n" for r, s in zip(recs, steps) if s <= t), encoding="utf-8")
    elif kind == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(recs[0])
        w.writerows(r for r, s in zip(recs[1:], steps) if s <= t)
        dest.write_text(buf.getvalue(), encoding="utf-8")
    else:
        state = dict(recs)
        state["log_history"] = [e for e, s in zip(recs["log_history"], steps) if s <= t]
        dest.write_text(json.dumps(state), encoding="utf-8")
    return dest


def cuttable_runs() -> list[Path]:
    """Corpus and sample runs with one cuttable log whose steps never go back and whose
    series share one step unit."""
    out = []
    for d in sorted([*CORPUS.iterdir(), *SAMPLES.iterdir()]):
        f = d.is_dir() and log_file(d)
        if not f:
            continue
        try:
            _, _, steps = records(f)
        except (ValueError, KeyError, json.JSONDecodeError):
            continue
        if any(b < a for a, b in zip(steps, steps[1:])):
            continue
        out.append(d)
    return out


def points(run_dir: Path):
    """``(meta, step_unit, [(step, {tag: value})...])`` of a run as its readers see it."""
    found = discover(run_dir)
    data = read_run(found.runs[0])
    units = {s.step_unit for s in data.series.values()}
    by_step, _ = points_by_step(data.series.items())
    return data.meta, (units.pop() if len(units) == 1 else None), sorted(by_step.items())

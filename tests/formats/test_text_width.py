"""The text report fits where it lands: the sweep table at 60-200 columns, piped output at
``COLUMNS`` (default 100)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from losscheck.formats import get_format
from losscheck.formats.text import PIPED_WIDTH, middle_ellipsis
from losscheck.model import Finding, Remedy, Report, RunReport

ROOT = Path(__file__).resolve().parents[2]


def sweep() -> Report:
    runs = []
    for i in range(12):
        name = f"sweeps/2024-06-01/lr-sweep-{i:02d}-" + "warmup-cosine-" * (i % 6) + "seed-1"
        status = ("failing", "warning", "healthy")[i % 3]
        onset = None if status == "healthy" else 1_234_567_890 + i
        f = [Finding("LC101", "loss-diverging", "error", "loss", onset, "grows")] if onset else []
        rem = [Remedy(1, "lower_learning_rate_and_warm_up", "Lower the LR", "because")] if onset else []
        runs.append(RunReport(name, status, "diverging" if onset else "converging", [], onset, {}, [], f, rem,
                              confidence=0.9))
    return Report(runs, [], "0.1.0", root="")


def _table(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Summary"))
    return [ln for ln in lines[start + 4:] if ln.startswith("│")]


@pytest.mark.parametrize("width", [60, 72, 80, 100, 120, 160, 200])
def test_sweep_table_fits_every_width_and_never_loses_a_name_or_an_onset(width):
    rep = sweep()
    text = get_format("text").render(rep, width)
    assert max(len(ln) for ln in text.splitlines()) <= width
    rows = _table(text)
    assert len(rows) == len(rep.runs)
    for r in rep.runs:
        if r.onset_step is not None:
            assert any(f" {r.onset_step} " in row for row in rows), r.onset_step  # never cut
    for row in rows:
        name = row.split("│")[1].strip()
        assert len(name) >= 10  # never squeezed to nothing
        assert not name.endswith("…")  # shortened in the middle: the end names the run
    if width >= 160:  # wide: everything, names in full
        assert all("lower_learning_rate_and_warm_up" in row for row in rows if "failing" in row)
        assert all(r.run in text for r in rep.runs)


def test_middle_ellipsis():
    assert middle_ellipsis("abcdef", 6) == "abcdef"
    cut = middle_ellipsis("runs/very-long-name/lr=1e-4", 12)
    assert len(cut) == 12 and "…" in cut[1:-1] and cut.endswith("lr=1e-4"[-7:])


@pytest.mark.parametrize("columns,limit", [("70", 70), ("", PIPED_WIDTH), ("junk", PIPED_WIDTH)])
def test_piped_output_honours_columns(columns, limit):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns:
        env["COLUMNS"] = columns
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-m", "losscheck", "diagnose", str(ROOT / "sample_runs"), "-j", "1"],
                         capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    lines = out.stdout.splitlines()
    assert lines and max(len(ln) for ln in lines) == limit

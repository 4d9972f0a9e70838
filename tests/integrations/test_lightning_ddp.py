"""Lightning with two real DDP processes (CPU, gloo): a NaN on one rank stops both ranks at
the same global step, nobody hangs waiting for the other, and the report written is the
failing rank's verdict (the other rank's own verdict is healthy at that step). A run with no
fault trains to its last step on both ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning.pytorch")

SCRIPT = Path(__file__).with_name("_lightning_ddp_run.py")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # s: a hang (one rank waiting in a collective for ever) fails here, never blocks CI


def run_ddp(out: Path, nan_step: int, nan_rank: int) -> dict[int, dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    try:
        proc = subprocess.run([sys.executable, str(SCRIPT), str(out), str(nan_step), str(nan_rank)],
                              capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=out.parent)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the two-rank training did not end within {TIMEOUT} s: a rank hung")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {r: json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)}


def test_a_nan_on_one_rank_stops_both_at_the_same_step_with_that_ranks_report(tmp_path):
    ranks = run_ddp(tmp_path / "nan", nan_step=30, nan_rank=1)
    assert ranks[0]["stopped_at"] == ranks[1]["stopped_at"] == 31, ranks
    assert ranks[0]["global_step"] == ranks[1]["global_step"] < 120
    assert ranks[1]["status"] == "failing" and ranks[0]["status"] == "healthy"  # rank 0 never saw the NaN
    rep = json.loads((tmp_path / "nan" / "out" / "losscheck-report.json").read_text())
    assert rep["runs"][0]["status"] == "failing" and rep["runs"][0]["diagnosis"]["class"] == "nan"
    assert rep["live"]["rank"] == 1 and rep["live"]["stop"] is True


def test_no_fault_trains_to_the_end_on_both_ranks(tmp_path):
    ranks = run_ddp(tmp_path / "ok", nan_step=-1, nan_rank=-1)
    assert ranks[0]["stopped_at"] is None and ranks[1]["stopped_at"] is None
    assert ranks[0]["global_step"] == ranks[1]["global_step"] == 120

"""Streamed sweeps (issue 17): ``diagnose(..., sink=...)`` and ``--format jsonl`` hand each run's
result on as it completes and keep none. Memory is asserted by counting the results alive, not
by timing or measuring bytes."""

from __future__ import annotations

import gc
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.model import RunError, RunReport
from losscheck.pipeline import diagnose
from tests.conftest import SAMPLE_RUNS


def _sweep(root, n: int):
    rng = np.random.default_rng(3)
    for k in range(n):
        d = root / f"run-{k:03d}"
        d.mkdir(parents=True)
        steps = np.arange(200)
        loss = 2.0 * np.exp(-steps / 50) + 0.1 + 0.01 * rng.standard_normal(200)
        if k % 3 == 0:
            loss[100:] *= np.exp(np.linspace(0, 4, 100))  # diverges
        (d / "metrics.csv").write_text("step,loss\n" + "".join(f"{s},{float(v)!r}\n" for s, v in zip(steps, loss)))
    (root / "broken").mkdir()
    (root / "broken" / "metrics.csv").write_text("step,loss\n")
    return root


def _alive() -> int:
    """Results alive now; garbage (of earlier tests too) collected first, so that the count does
    not fall when a collection happens mid-test."""
    gc.collect()
    return sum(isinstance(o, (RunReport, RunError)) for o in gc.get_objects())


@pytest.mark.parametrize("jobs", [1, 2])
def test_streamed_sweep_keeps_no_result(tmp_path, jobs):
    root = _sweep(tmp_path / "sweep", 24)
    base = _alive()
    peak = 0
    seen = []

    def sink(res):
        nonlocal peak
        seen.append((res.run if isinstance(res, RunReport) else res.path,
                     res.status if isinstance(res, RunReport) else "error"))
        peak = max(peak, _alive() - base)

    streamed = diagnose(root, sink=sink, jobs=jobs)
    after = _alive() - base
    kept = diagnose(root, jobs=jobs)
    # the same results, and counts instead of lists
    assert sorted(seen) == sorted([(r.run, r.status) for r in kept.runs] + [(e.path, "error") for e in kept.errors])
    assert not streamed.runs and not streamed.errors
    assert streamed.run_count == len(kept.runs) == 24 and streamed.error_count == len(kept.errors) == 1
    assert streamed.failing == kept.failing is True
    assert {k: v for k, v in streamed.counts.items() if k != "errors"} == \
        {s: sum(r.status == s for r in kept.runs) for s in {r.status for r in kept.runs}}
    # O(1) results alive while streaming (the one being handed on, one more at most), none after;
    # a kept report holds every one (so the count can fail)
    assert peak <= 2 and after == 0
    assert _alive() - base >= 25


def test_jsonl_streams_the_json_report_line_by_line():
    runner = CliRunner()
    lines = runner.invoke(app, ["diagnose", str(SAMPLE_RUNS), "--format", "jsonl"]).stdout.splitlines()
    docs = [json.loads(x) for x in lines]
    whole = json.loads(runner.invoke(app, ["diagnose", str(SAMPLE_RUNS), "--format", "json"]).stdout)
    assert [d["type"] for d in docs] == ["run"] * len(whole["runs"]) + ["summary"]
    assert sorted((json.dumps({k: v for k, v in d.items() if k != "type"}, sort_keys=True) for d in docs[:-1])) == \
        sorted(json.dumps(r, sort_keys=True) for r in whole["runs"])
    summary = docs[-1]
    assert summary["runs"] == len(whole["runs"]) and summary["gate"] == "fail"
    assert summary["failing"] == sum(r["status"] == "failing" for r in whole["runs"])


def test_jsonl_to_a_file_is_the_same_lines(tmp_path):
    runner = CliRunner()
    out = tmp_path / "report.jsonl"
    res = runner.invoke(app, ["diagnose", str(SAMPLE_RUNS / "qwen-style-diverge"), "-f", "jsonl", "-o", str(out)])
    streamed = runner.invoke(app, ["diagnose", str(SAMPLE_RUNS / "qwen-style-diverge"), "-f", "jsonl"])
    assert res.exit_code == streamed.exit_code == 1
    assert out.read_text() == streamed.stdout

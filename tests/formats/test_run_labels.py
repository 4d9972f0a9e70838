"""Run names in reports of several diagnosed paths: each run is named relative to the path that
holds it, in every report for people (text sweep table, HTML overview), never as ``../..``."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.formats._common import run_label
from tests.conftest import SAMPLE_RUNS


def test_run_label_is_relative_to_the_deepest_root_holding_the_run():
    roots = ["sweeps/a", "sweeps/a/lr-1", "other"]
    assert run_label("sweeps/a/lr-2/seed-0", roots) == "lr-2/seed-0"
    assert run_label("sweeps/a/lr-1/seed-0", roots) == "seed-0"
    assert run_label("other", roots) == "other"          # a root that is a run: its own name
    assert run_label("elsewhere/run", roots) == "elsewhere/run"
    assert run_label("s3://b/runs/x", ["s3://b/runs"]) == "x"


def test_two_paths_name_runs_without_dot_dot_in_text_and_html(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for sweep in ("sweep-a", "sweep-b"):
        for name in ("qwen-style-diverge", "healthy-converge-floor"):
            if (SAMPLE_RUNS / name).exists():
                shutil.copytree(SAMPLE_RUNS / name, tmp_path / sweep / name)
    assert any((tmp_path / "sweep-a").iterdir())
    res = CliRunner().invoke(app, ["diagnose", "sweep-a", "sweep-b", "-f", "text", "-f", "html:r.html"],
                             env={"COLUMNS": "160"})
    assert res.exit_code == 1, res.output
    assert ".." not in res.stdout.split("Summary")[-1]
    assert "qwen-style-diverge" in res.stdout.split("Summary")[-1]
    html = (tmp_path / "r.html").read_text()
    assert "../" not in html and "qwen-style-diverge" in html

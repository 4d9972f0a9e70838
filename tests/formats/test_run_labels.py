"""Run names in reports of several diagnosed paths: each run is named relative to the path that
holds it, in every report for people (text sweep table, HTML overview), never as ``../..``."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.formats._common import run_label
from losscheck.pipeline import diagnose
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


def test_a_sweep_whose_runs_share_trailing_folders_is_named_by_what_differs(tmp_path):
    """Lightning sweeps: ``<run>/lightning_logs/version_0`` for every run. Cut in the middle to
    fit the table, the names all read ``lr-0.0…gs/version_0``; the shared tail is said once in
    the title and each row shows the part that differs."""
    from losscheck.formats.text import TextFormat, common_tail

    assert common_tail(["a/lightning_logs/version_0", "bb/lightning_logs/version_0"]) == "/lightning_logs/version_0"
    assert common_tail(["a/x", "b/y"]) == "" and common_tail(["same", "same"]) == "" and common_tail(["a/v"]) == ""
    for lr in ("0.001", "0.003", "0.01", "0.03"):
        d = tmp_path / "sweep" / f"lr-{lr}-seed-1" / "lightning_logs" / "version_0"
        d.mkdir(parents=True)
        rows = "".join(f"0,{i},{2.0 * 0.99 ** i:.5f}\n" for i in range(0, 300, 5))
        (d / "metrics.csv").write_text("epoch,step,train_loss_step\n" + rows)
    out = TextFormat().render(diagnose(tmp_path / "sweep"), width=80)
    table = out[out.index("Summary"):]
    assert "every run's name ends in /lightning_logs/version_0" in table
    for lr in ("0.001", "0.003", "0.01", "0.03"):
        assert f"lr-{lr}-seed-1 " in table, table

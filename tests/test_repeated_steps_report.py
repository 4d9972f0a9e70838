"""Repeated steps collapsed to one point are said in the report, and a run with no verdict
claims no confidence there (try-user finding 6: 99 rows at step 5 read "HEALTHY insufficient
(confidence 0.80)" with no note)."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.series import normalize


def test_repeats_in_a_row_with_different_values_are_a_warning():
    _, notes = normalize("loss", np.full(99, 5), np.linspace(2.0, 1.0, 99), "f.csv")
    (note,) = notes
    assert note.severity == "warning" and "98 of 99 point(s) replaced" in note.message
    assert "98 repeated value(s) differ" in note.message


def test_identical_repeats_stay_an_info_note():
    _, notes = normalize("loss", np.array([1, 2, 2, 3]), np.array([3.0, 2.0, 2.0, 1.0]), "f.csv")
    assert [n.severity for n in notes] == ["info"]


def test_the_report_says_so_and_shows_no_confidence_without_a_verdict(tmp_path):
    path = tmp_path / "dupstep.csv"
    path.write_text("step,loss\n" + "".join(f"5,{2 - i / 100:.2f}\n" for i in range(99)))
    res = CliRunner().invoke(app, ["diagnose", str(path), "--color", "never"])
    assert res.exit_code == 0
    assert "insufficient" in res.stdout and "confidence" not in res.stdout
    assert "98 of 99 point(s) replaced" in " ".join(res.stdout.replace("\u2502", " ").split())
    data = json.loads(CliRunner().invoke(app, ["diagnose", str(path), "-f", "json"]).stdout)
    (run,) = data["runs"]
    assert run["diagnosis"]["class"] == "insufficient"
    assert any(n["severity"] == "warning" and "replaced" in n["message"] for n in run["notes"])

"""``--baseline`` wording (try-user finding 12): a run not failing only because the baseline
had the same findings says so in its header and in the summary line (before: "HEALTHY
diverging (confidence 0.91)" and "1 healthy"), and a JSON file that is neither a report nor a
log is named as such (before: "not a supported log file")."""

from __future__ import annotations

from typer.testing import CliRunner

from losscheck.cli import app
from tests.conftest import SAMPLE_RUNS

DEMO = SAMPLE_RUNS / "qwen-style-diverge"


def run(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def test_a_run_passing_only_against_its_baseline_says_so(tmp_path):
    base = tmp_path / "base.json"
    code, _, _ = run("diagnose", DEMO, "-f", f"json:{base}", "-q")
    assert code == 1
    code, out, _ = run("diagnose", DEMO, "--baseline", base, "--color", "never")
    assert code == 0
    assert "HEALTHY against the baseline  diverging" in out
    assert out.strip().splitlines()[-1] == "1 run(s): 0 failing, 0 warning, 1 healthy (1 not failing only against the baseline)"
    code, out, _ = run("diagnose", DEMO, "--color", "never")
    assert code == 1 and "against the baseline" not in out


def test_a_json_that_is_no_report_nor_log_as_baseline(tmp_path):
    bogus = tmp_path / "x.json"
    bogus.write_text('{"x": 1}\n')
    code, out, err = run("diagnose", DEMO, "--baseline", bogus)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "x.json: baseline is neither a losscheck JSON report" in line and "not a supported log file" not in line

"""Every threshold a configuration may set is range-checked before anything is read
(try-user finding 2): a value outside what the threshold accepts is one line naming the file,
the key and the range, exit 2, never an internal error after the logs were read."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from losscheck.catalogue import threshold_ranges, vocabulary
from losscheck.cli import app
from losscheck.config import load_config
from losscheck.errors import UsageError
from losscheck.ranges import Range, range_of
from tests.conftest import SAMPLE_RUNS

DEMO = SAMPLE_RUNS / "qwen-style-diverge"


def _diagnose(tmp_path, table: str, *paths):
    (tmp_path / "pyproject.toml").write_text(f"[tool.losscheck.thresholds]\n{table}\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = CliRunner().invoke(app, ["diagnose", *(str(p) for p in paths or [DEMO])])
    finally:
        os.chdir(cwd)
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize("table,key,allowed", [
    ("divergence-blocks = 0", "divergence-blocks", "an integer >= 1"),   # was ZeroDivisionError
    ("max-bins = 0", "max-bins", "an integer >= 1"),
    ("trend-bins = -1", "trend-bins", "an integer >= 1"),                # was ValueError
    ("max-bins = 2.5", "max-bins", "an integer >= 1"),
    ("bump-ratio = -5", "bump-ratio", "a number >= 1"),                  # was accepted
    ("spike-progress-frac = 1.5", "spike-progress-frac", "a number from 0 to 1"),
    ("min-points = -1", "min-points", "an integer >= 0"),
    ("explosion-ratio = 0", "explosion-ratio", "a number >= 1"),          # was IndexError
    ("overfit-min-after = 0", "overfit-min-after", "an integer >= 1"),    # was ZeroDivisionError
])
def test_out_of_range_threshold_is_one_usage_line_before_reading(tmp_path, table, key, allowed):
    missing = tmp_path / "no-such-run"  # nothing is read: the config error comes first
    code, out, err = _diagnose(tmp_path, table, missing)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "pyproject.toml" in line and f"thresholds.{key} must be {allowed}" in line
    assert "internal error" not in line and "no-such-run" not in line


def test_in_range_values_are_accepted_and_a_whole_float_is_a_count(tmp_path):
    (tmp_path / "losscheck.toml").write_text("[thresholds]\ndivergence-blocks = 1\nbump-window = 3.0\n"
                                             "spike-progress-frac = 1\n")
    got = load_config(tmp_path, vocabulary=vocabulary()).settings.thresholds
    assert got["divergence-blocks"] == 1 and got["bump-window"] == 3 and isinstance(got["bump-window"], int)


def test_lowest_allowed_count_runs_without_internal_error(tmp_path):
    code, _, err = _diagnose(tmp_path, "divergence-blocks = 1\nmax-bins = 1\ntrend-bins = 1")
    assert code in (0, 1) and "internal error" not in err


def test_every_threshold_has_a_range_and_none_allows_a_negative_value():
    ranges = threshold_ranges()
    assert set(vocabulary().thresholds) <= set(ranges) | {"baseline-tolerance"}
    for name, r in ranges.items():
        assert not r.allows(-1), name
        assert r.allows(vocabulary().thresholds[name]), (name, "its own default is out of range")


def test_ranges_are_derived_from_declared_metadata():
    assert range_of("progress_frac", 0.3) == Range(0, 1)
    assert range_of("min_gap", 0.05, {"unit": "fraction, 0-1"}) == Range(0, 1)
    assert range_of("slowdown", 1.5, {"unit": "ratio, x"}) == Range(1)
    assert range_of("skip_points", 3) == Range(0, integer=True)
    assert range_of("blocks", 20, {"range": Range(1, integer=True)}) == Range(1, integer=True)
    assert (Range(0, integer=True) & Range(1, 5)) == Range(1, 5, integer=True)


def test_per_path_thresholds_are_checked_too(tmp_path):
    (tmp_path / "losscheck.toml").write_text("[[per-path]]\npath = 'x/*'\n[per-path.thresholds]\nmax-bins = 0\n")
    with pytest.raises(UsageError, match=r"per-path\[0\]\.thresholds\.max-bins must be an integer >= 1"):
        load_config(tmp_path, vocabulary=vocabulary())


def test_losscheck_config_shows_what_each_threshold_accepts():
    res = CliRunner().invoke(app, ["config", "--isolated"])
    assert res.exit_code == 0
    lines = {ln.split(" = ")[0]: ln for ln in res.stdout.splitlines() if " = " in ln}
    assert lines["divergence-blocks"].endswith("# (default); an integer >= 1")
    assert lines["spike-progress-frac"].endswith("; a number from 0 to 1")

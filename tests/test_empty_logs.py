"""An empty log is that run's error, named as an empty file (try-user finding 5): before, an
empty ``trainer_state.json`` in a sweep counted as a folder without logs (not in the errors,
not failing ``--strict``), and named directly it was "not a supported log file"."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.errors import ParseError
from losscheck.pipeline import diagnose
from tests.conftest import SAMPLE_RUNS
from tests.test_sources import make_tar

DEMO = SAMPLE_RUNS / "qwen-style-diverge"


@pytest.fixture
def sweep(tmp_path):
    shutil.copytree(DEMO, tmp_path / "sweep" / "a")
    (tmp_path / "sweep" / "b").mkdir()
    (tmp_path / "sweep" / "b" / "trainer_state.json").write_bytes(b"")
    (tmp_path / "sweep" / "c").mkdir()
    (tmp_path / "sweep" / "c" / "notes.txt").write_bytes(b"")  # no log: stays a folder without logs
    return tmp_path / "sweep"


def test_an_empty_log_in_a_sweep_is_that_runs_error(sweep):
    report = diagnose(sweep)
    assert [r.run for r in report.runs] == [str(sweep / "a")]
    assert [(e.path, e.message.endswith("trainer_state.json: empty file")) for e in report.errors] == [
        (str(sweep / "b" / "trainer_state.json"), True)]
    assert [str(p) for p in report.without_logs] == [str(sweep / "c")]


def test_strict_counts_an_empty_log(sweep):
    res = CliRunner().invoke(app, ["diagnose", str(sweep / "a"), str(sweep / "b"), "-q"])
    strict = CliRunner().invoke(app, ["diagnose", str(sweep / "a"), str(sweep / "b"), "-q", "--strict",
                                      "--fail-on", "never"])
    assert "empty file" in res.stderr
    assert strict.exit_code == 1 and "empty file" in strict.stderr


@pytest.mark.parametrize("content,said", [(b"", "empty file"), (b"  \n", "empty file (only whitespace)")])
def test_an_empty_log_named_directly_says_empty_file(tmp_path, content, said):
    path = tmp_path / "trainer_state.json"
    path.write_bytes(content)
    with pytest.raises(ParseError) as exc:
        diagnose(path)
    assert exc.value.problem == said
    res = CliRunner().invoke(app, ["diagnose", str(tmp_path)])
    assert res.exit_code == 2 and f"trainer_state.json: {said}" in res.stderr


def test_an_empty_log_in_an_archive_is_that_members_error(tmp_path):
    archive = make_tar(tmp_path / "s.tar.gz", {"a/trainer_state.json": (DEMO / "trainer_state.json").read_bytes(),
                                               "b/trainer_state.json": b""})
    report = diagnose(archive)
    assert [r.run for r in report.runs] == [f"{archive}/a"]
    assert [e.path for e in report.errors] == [f"{archive}/b/trainer_state.json"]
    assert "empty file" in report.errors[0].message

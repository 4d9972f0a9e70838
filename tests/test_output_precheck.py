"""Every output destination is checked before anything is read (try-user finding 13): a
report path in a missing folder, or a folder given as the report file, was found only after the
whole diagnosis, which a large sweep then threw away."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import losscheck.pipeline
from losscheck.cli import app
from tests.conftest import SAMPLE_RUNS

DEMO = SAMPLE_RUNS / "qwen-style-diverge"


@pytest.fixture
def reads(monkeypatch):
    """The paths the pipeline was asked to diagnose (none when the CLI stops first)."""
    calls: list = []
    real = losscheck.pipeline.diagnose

    def spy(paths, *args, **kwargs):
        calls.append(paths)
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(losscheck.pipeline, "diagnose", spy)
    return calls


@pytest.mark.parametrize("args,said", [
    (["-f", "json:{tmp}/missing/dir/r.json"], "the folder {tmp}/missing/dir does not exist"),
    (["-o", "{tmp}/missing/r.txt"], "the folder {tmp}/missing does not exist"),
    (["-o", "{tmp}"], "it is a folder, not a file"),
    (["-f", "json:{tmp}/missing/x.json", "-f", "html:{tmp}/ok.html"], "the folder {tmp}/missing does not exist"),
])
def test_a_bad_output_path_stops_before_any_read(tmp_path, reads, args, said):
    res = CliRunner().invoke(app, ["diagnose", str(DEMO), *(a.format(tmp=tmp_path) for a in args)])
    assert res.exit_code == 2 and res.stdout == ""
    (line,) = res.stderr.strip().splitlines()
    assert f"cannot write the report: {said.format(tmp=tmp_path)}" in line
    assert reads == []  # nothing was diagnosed
    assert not (tmp_path / "ok.html").exists()  # and no other output was half-made


def test_good_outputs_are_still_written(tmp_path, reads):
    res = CliRunner().invoke(app, ["diagnose", str(DEMO), "-q", "-o", str(tmp_path / "r.txt"),
                                   "-f", "text", "-f", f"json:{tmp_path / 'r.json'}"])
    assert res.exit_code == 1 and len(reads) == 1
    assert (tmp_path / "r.txt").stat().st_size > 0 and (tmp_path / "r.json").stat().st_size > 0

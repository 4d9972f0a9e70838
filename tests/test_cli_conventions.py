"""The command line follows the conventions of ruff, pytest and pip-audit (issue 16): ``-h``,
``-q``/``-v``, ``--color`` with ``NO_COLOR``/``FORCE_COLOR``, help without type artefacts,
"did you mean" for misspelled configuration keys, errors naming what the user wrote, rule
metadata as JSON and each rule's thresholds in ``explain``."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from tests.conftest import SAMPLE_RUNS

runner = CliRunner()
DEMO = SAMPLE_RUNS / "qwen-style-diverge"
ANSI = "\x1b["
COMMANDS = ["diagnose", "config", "rules", "explain"]


def run(*args, env=None, cwd=None):
    res = runner.invoke(app, [str(a) for a in args], env=env)
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize("cmd", [[], *[[c] for c in COMMANDS]])
def test_short_help_is_the_long_help(cmd):
    code_h, out_h, _ = run(*cmd, "-h")
    code_l, out_l, _ = run(*cmd, "--help")
    assert code_h == code_l == 0
    assert out_h == out_l and "Usage:" in out_h and "-h, --help" in out_h


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_has_no_type_artefacts(cmd):
    _, out, _ = run(cmd, "--help", env={"COLUMNS": "100"})
    assert not re.search(r"<(bool|str|int|path|float|list\[str\])[^>]*>", out), out
    assert "{" not in out.splitlines()[0], out.splitlines()[0]


def test_diagnose_usage_line_names_paths_plainly():
    _, out, _ = run("diagnose", "--help")
    assert re.search(r"diagnose \[OPTIONS\] PATH\.\.\.\s*$", out.splitlines()[0])
    assert re.search(r"--format FORMAT", out) and "--quiet" in out and "--verbose" in out and "--color WHEN" in out


def test_quiet_prints_only_the_summary_and_keeps_the_exit_code():
    code, full, _ = run("diagnose", DEMO)
    code_q, out_q, _ = run("diagnose", DEMO, "-q")
    code_qq, out_qq, _ = run("diagnose", DEMO, "--quiet", "--quiet")
    assert code == code_q == code_qq == 1
    assert len(full.splitlines()) > 5
    assert out_q.strip().splitlines() == [full.strip().splitlines()[-1]]
    assert "failing" in out_q
    assert out_qq == ""


def test_verbose_lists_folders_without_logs(tmp_path):
    import shutil

    shutil.copytree(DEMO, tmp_path / "sweep" / "a")
    (tmp_path / "sweep" / "empty").mkdir()
    (tmp_path / "sweep" / "empty" / "notes.txt").write_text("nothing here\n")
    _, _, err = run("diagnose", tmp_path / "sweep", "-q")
    _, _, err_v = run("diagnose", tmp_path / "sweep", "-v", "-q")
    assert "empty" not in err
    assert "empty" in err_v and "no log found" in err_v


@pytest.mark.parametrize("env,args,coloured", [
    ({}, [], False),                                   # piped: plain
    ({"FORCE_COLOR": "1"}, [], True),                  # FORCE_COLOR colours piped output
    ({"FORCE_COLOR": "0"}, [], True),                  # any non-empty value forces
    ({"FORCE_COLOR": ""}, [], False),                  # empty means unset
    ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, [], False),
    ({"NO_COLOR": "1"}, ["--color", "always"], True),  # the flag beats the variables
    ({"FORCE_COLOR": "1"}, ["--color", "never"], False),
    ({}, ["--color", "always"], True),
])
def test_color_flag_and_environment(env, args, coloured):
    base = {"NO_COLOR": None, "FORCE_COLOR": None, "TERM": "xterm"}
    code, out, _ = run("diagnose", DEMO, *args, env={**base, **env})
    assert code == 1
    assert (ANSI in out) is coloured
    assert "FAILING" in out


def test_bad_color_value_is_a_usage_error():
    code, out, err = run("diagnose", DEMO, "--color", "sometimes")
    assert code == 2 and out == ""
    assert "--color 'sometimes'" in err and "auto, always, never" in err

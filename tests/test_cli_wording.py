"""Help and usage-error wording a new user met (try-user cosmetic items): the exit code 130 in
``--help``, no RST literal quotes in ``config --help``, a missing option value points at the
subcommand's help, and "Possible options" only lists options that resemble the unknown one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "losscheck", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_top_help_lists_every_exit_code():
    out = " ".join(cli("--help").stdout.split())
    assert "2 = usage or input error, 130 = interrupted" in out


def test_config_help_has_no_rst_quotes():
    res = cli("config", "--help")
    assert res.returncode == 0 and "``" not in res.stdout and "as diagnose finds it" in " ".join(res.stdout.split())


@pytest.mark.parametrize("cmd,opt", [("diagnose", "--fail-on"), ("watch", "--interval")])
def test_a_missing_option_value_points_at_the_subcommands_help(tmp_path, cmd, opt):
    res = cli(cmd, str(tmp_path), opt)
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert f"'{opt}' requires an argument" in line and f"(see `losscheck {cmd} --help`)" in line


@pytest.mark.parametrize("typed,suggested", [("--bogus", None), ("--lose", "--loss"), ("--strct", "--strict")])
def test_possible_options_only_resemble_the_unknown_one(tmp_path, typed, suggested):
    res = cli("diagnose", str(tmp_path), typed)
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert f"No such option: {typed}" in line
    if suggested is None:
        assert "Possible options" not in line
    else:
        assert f"(Possible options: {suggested})" in line

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


def test_small_items_read_cleanly(tmp_path):
    """``explain ''`` named nothing (": no such rule"); ``--isolated --config`` was accepted
    silently though they exclude each other; negative step spans read "-99--5"."""
    res = cli("explain", "")
    assert res.returncode == 2 and res.stderr.startswith("losscheck: '': no such rule")
    res = cli("diagnose", str(tmp_path), "--isolated", "--config", str(tmp_path / "x.toml"))
    assert res.returncode == 2 and "--config and --isolated exclude each other" in res.stderr
    (tmp_path / "neg.csv").write_text("step,loss\n" + "".join(f"{s},{2 + s / 100}\n" for s in range(-99, -79)))
    out = cli("diagnose", str(tmp_path / "neg.csv"), "--color", "never").stdout
    assert "-99 to -80" in out and "-99--80" not in out

"""Issue 12, what was still broken: closed standard streams, symlinks leading out of the
diagnosed tree, real file types over names, bounded gzip, exact steps in every reader.

Each test reproduces one report of the issue; the docstring says what happened before.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from losscheck.pipeline import diagnose

REPO = Path(__file__).resolve().parent.parent


def write_csv(path: Path, n: int = 80, k: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("step,loss\n" + "".join(f"{i},{2 * math.exp(-i / 20) + 0.3 + 0.01 * ((i + k) % 3)}\n"
                                            for i in range(n)))
    return path


def shell(cmd: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``cmd`` in sh with ``$PY`` set to this interpreter and ``$1..`` to ``args``."""
    bash = shutil.which("sh") or "/bin/sh"
    env = dict(os.environ, PY=sys.executable)
    return subprocess.run([bash, "-c", cmd, "sh", *args], capture_output=True, timeout=timeout, cwd=REPO, env=env)


# ---------------------------------------------------------------- closed standard streams

@pytest.mark.parametrize("args", [["diagnose", "{csv}"], ["--help"], ["rules"], ["--version"],
                                  ["diagnose", "{csv}", "-f", "json"]])
def test_a_closed_stdout_is_exit_2_with_one_line(tmp_path, args):
    """Before: ``losscheck diagnose run >&-`` died with a traceback (``sys.stdout`` is None)
    and exit 1 ("a run is failing"); ``--help >&-`` the same."""
    csv = write_csv(tmp_path / "m.csv")
    res = shell('"$PY" -m losscheck "$@" >&-', *[a.format(csv=csv) for a in args])
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "standard output" in err


def test_a_closed_stdout_does_not_matter_when_the_report_goes_to_a_file(tmp_path):
    csv = write_csv(tmp_path / "m.csv")
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    res = shell('"$PY" -m losscheck diagnose "$1" -f json -o "$2" >&-', str(csv), str(out))
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text())["runs"][0]["status"] == "healthy"


def test_a_closed_stderr_keeps_the_report_and_the_exit_code(tmp_path):
    csv = write_csv(tmp_path / "m.csv")
    res = shell('"$PY" -m losscheck diagnose "$1" -f json 2>&-', str(csv))
    assert res.returncode == 0
    assert json.loads(res.stdout)["runs"]
    missing = shell('"$PY" -m losscheck diagnose "$1" 2>&-', str(tmp_path / "missing"))
    assert missing.returncode == 2


def test_a_closed_stdout_never_lands_in_a_file_opened_later(tmp_path):
    """With descriptor 1 closed, the next file opened gets number 1; a report written to
    "stdout" would then go into it. The report file must hold the report only."""
    csv = write_csv(tmp_path / "m.csv")
    before = csv.read_bytes()
    res = shell('"$PY" -m losscheck diagnose "$1" >&-', str(csv))
    assert res.returncode == 2
    assert csv.read_bytes() == before


# ---------------------------------------------------------------- symlinks out of the tree

def test_symlinks_leading_out_of_the_tree_are_not_followed_unless_asked(tmp_path):
    """Before: a folder symlink to another place (``/etc``, another user's home) was followed,
    and cells of its files were quoted in error messages."""
    write_csv(tmp_path / "elsewhere" / "secret" / "metrics.csv")
    (tmp_path / "elsewhere" / "private.csv").write_text("step,loss\n1,top-secret-value\n2,x\n")
    sweep = tmp_path / "sweep"
    write_csv(sweep / "r1" / "metrics.csv")
    (sweep / "r2").symlink_to(tmp_path / "elsewhere" / "secret")
    (sweep / "r1" / "other.csv").symlink_to(tmp_path / "elsewhere" / "private.csv")
    write_csv(sweep / "r3" / "metrics.csv")
    (sweep / "r4").symlink_to(sweep / "r3")  # inside the tree: a second name, walked once

    report = diagnose(sweep)
    assert [Path(r.run).name for r in report.runs] == ["r1", "r3"]
    assert sorted(Path(p).name for p in report.links_not_followed) == ["other.csv", "r2"]
    assert "top-secret" not in json.dumps([n.message for r in report.runs for n in r.notes])

    followed = diagnose(sweep, follow_symlinks=True)
    assert [Path(r.run).name for r in followed.runs] == ["r1", "r2", "r3"]
    assert not followed.links_not_followed

    res = shell('"$PY" -m losscheck diagnose "$1" -f json', str(sweep))
    assert res.returncode == 0 and b"--follow-symlinks" in res.stderr


def test_a_sweep_whose_runs_all_lead_out_is_exit_2_with_a_hint(tmp_path):
    write_csv(tmp_path / "elsewhere" / "run1" / "metrics.csv")
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "run1").symlink_to(tmp_path / "elsewhere" / "run1")
    res = shell('"$PY" -m losscheck diagnose "$1"', str(tmp_path / "sweep"))
    err = res.stderr.decode()
    assert res.returncode == 2 and "--follow-symlinks" in err and "empty directory tree" not in err
    res = shell('"$PY" -m losscheck diagnose "$1" --follow-symlinks -f json', str(tmp_path / "sweep"))
    assert res.returncode == 0 and len(json.loads(res.stdout)["runs"]) == 1


def test_the_named_path_may_itself_be_a_symlink(tmp_path):
    write_csv(tmp_path / "real" / "metrics.csv")
    (tmp_path / "named").symlink_to(tmp_path / "real")
    assert len(diagnose(tmp_path / "named").runs) == 1

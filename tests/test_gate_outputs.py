"""Outputs and the gate (issue 12): losscheck never writes into what it reads, writes reports
atomically, turns a broken stdout into exit 2 with one line, takes its configuration from the
project (never from the data it judges), reports a malformed or non-regular configuration file
as a configuration error, and escapes control characters in every output format."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.catalogue import vocabulary
from losscheck.config import load_config
from tests.conftest import REPO, SAMPLE_RUNS

runner = CliRunner()
DIVERGING = SAMPLE_RUNS / "qwen-style-diverge"  # one failing run (LC101): exit 1
HOSTILE = "\x1b[2J\x1b[31mFAKE PASS"
#: Control characters that must never reach an output raw (tab and LF are layout).
RAW_CONTROLS = [chr(c) for c in [*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0)]] + [
    "\u202e", "\u2066", "\u2028"]


def run(*args):
    """The CLI in process: (exit code, stdout, stderr)."""
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def run_process(*args, timeout=120, cwd=REPO, **kw):
    """The CLI as a real process (``python -m losscheck``), always with a timeout; output is
    captured unless ``stdout`` is given."""
    if "stdout" not in kw:
        kw["capture_output"] = True
    return subprocess.run([sys.executable, "-m", "losscheck", *map(str, args)], timeout=timeout, cwd=cwd, **kw)


def one_line(err: str) -> str:
    """The single stderr line (asserting there is exactly one, and no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def diverging_run(folder: Path) -> Path:
    """A copy of the failing sample run at ``folder``."""
    shutil.copytree(DIVERGING, folder)
    return folder


def csv_run(folder: Path) -> Path:
    """A failing run logged as ``metrics.csv`` (a loss that explodes) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["step,loss"] + [f"{s},{(2.0 if s < 100 else 2.0 * 1.08 ** (s - 100))!r}" for s in range(0, 300, 2)]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    return folder / "metrics.csv"


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- 1. never write into inputs


def test_output_over_the_diagnosed_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = csv_run(tmp_path / "o")
    before = log.read_bytes()
    code, out, err = run("diagnose", "o/metrics.csv", "-o", "o/metrics.csv")
    assert code == 2 and "refusing" in one_line(err) and "o/metrics.csv" in err
    assert log.read_bytes() == before


@pytest.mark.parametrize("target", ["o/report.json", "o/./sub/../report.json", "link/report.json", "o"])
def test_output_inside_a_diagnosed_folder_is_refused(tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    csv_run(tmp_path / "o")
    (tmp_path / "o" / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "o")
    before = snapshot(tmp_path / "o")
    code, _, err = run("diagnose", "o", "-f", "json", "-o", target)
    assert code == 2 and "refusing" in one_line(err) and "--force" in err
    assert snapshot(tmp_path / "o") == before


@pytest.mark.parametrize("given", ["runs/lr-*", "runs/*", "file://{tmp}/runs/lr-1", "runs/lr-2 runs/lr-*"])
def test_output_inside_a_run_named_by_a_glob_or_url_is_refused(tmp_path, monkeypatch, given):
    # the pipeline expands globs and file:// URLs; the guard must see the same paths
    monkeypatch.chdir(tmp_path)
    for name in ("lr-1", "lr-2"):
        csv_run(tmp_path / "runs" / name)
    before = snapshot(tmp_path / "runs")
    code, _, err = run("diagnose", *given.format(tmp=tmp_path).split(), "-f", "json", "-o", "runs/lr-1/report.json")
    assert code == 2 and "refusing" in one_line(err)
    assert snapshot(tmp_path / "runs") == before


def test_output_over_a_hard_link_the_baseline_or_the_config_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = csv_run(tmp_path / "o")
    os.link(log, tmp_path / "hard.csv")
    code, _, err = run("diagnose", "o/metrics.csv", "-o", "hard.csv")
    assert code == 2 and "refusing" in one_line(err)
    base = tmp_path / "base.json"
    assert run("diagnose", "o", "-f", "json", "-o", base)[0] == 1
    saved = base.read_bytes()
    code, _, err = run("diagnose", "o", "-f", "json", "--baseline", base, "-o", base)
    assert code == 2 and "refusing" in one_line(err) and base.read_bytes() == saved
    (tmp_path / "cfg.toml").write_text('fail-on = "error"\n')
    code, _, err = run("diagnose", "o", "--config", "cfg.toml", "-o", "cfg.toml")
    assert code == 2 and "refusing" in one_line(err)
    assert (tmp_path / "cfg.toml").read_text() == 'fail-on = "error"\n'


def test_force_writes_inside_the_tree_and_plain_outputs_still_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv_run(tmp_path / "o")
    code, _, err = run("diagnose", "o", "-f", "json", "-o", "o/report.json", "--force")
    assert code == 1 and json.loads((tmp_path / "o" / "report.json").read_text())["runs"]
    (tmp_path / "o" / "report.json").unlink()
    assert run("diagnose", "o", "-f", "json", "-o", "report.json")[0] == 1
    assert json.loads((tmp_path / "report.json").read_text())["runs"]
    mode = stat.S_IMODE((tmp_path / "report.json").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not the 0600 of a temporary file


def test_report_is_written_atomically_and_a_failed_write_leaves_the_old_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    diverging_run(tmp_path / "run")
    out = tmp_path / "reports" / "report.json"
    out.parent.mkdir()
    out.write_text("previous report\n")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    code, _, err = run("diagnose", "run", "-f", "json", "-o", out)
    assert code == 2 and "cannot write the report" in one_line(err) and "No space left" in err
    assert out.read_text() == "previous report\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.json"]  # no temporary file left


def test_atomic_write_removes_its_temporary_file_on_interrupt_and_on_a_directory(tmp_path, monkeypatch):
    from losscheck.cli import write_report

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(tmp_path / "r.txt", b"x" * 100)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    (tmp_path / "adir").mkdir()
    with pytest.raises(OSError):
        write_report(tmp_path / "adir", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]


def test_output_to_a_device_is_written_in_place_never_replaced(tmp_path):
    r = run_process("diagnose", DIVERGING, "-f", "json", "-o", "/dev/null")
    assert r.returncode == 1, r.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    r = run_process("diagnose", DIVERGING, "-f", "json", "-o", "/dev/stdout")  # a pipe: as named
    assert r.returncode == 1 and json.loads(r.stdout)["runs"], r.stderr


# --------------------------------------------------------------------------- 2. broken stdout


@pytest.mark.parametrize("args", [["diagnose", DIVERGING], ["diagnose", DIVERGING, "-f", "json"],
                                  ["rules"], ["--version"], ["diagnose", "--help"]])
def test_stdout_to_dev_full_is_exit_2_with_one_line(args):
    with open("/dev/full", "wb") as full:
        r = run_process(*args, stdout=full, stderr=subprocess.PIPE)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    line = one_line(err)
    assert "standard output" in line and "No space left on device" in line and "Exception ignored" not in err


@pytest.mark.parametrize("args", [["diagnose", DIVERGING], ["diagnose", DIVERGING, "-f", "sarif"],
                                  ["rules"], ["explain", "LC101"], ["diagnose", "--help"]])
def test_stdout_to_a_closed_pipe_is_exit_2_with_one_line_and_no_noise(args):
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the process starts: every write gets EPIPE
    try:
        r = run_process(*args, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "pipe" in one_line(err) and "Exception ignored" not in err and "BrokenPipe" not in err


def test_a_closed_pipe_after_the_first_line_is_still_exit_2():
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    # the SARIF report (~90 kB) is larger than a pipe buffer: its write fails once head has gone
    shell = f"'{sys.executable}' -m losscheck diagnose '{DIVERGING}' -f sarif | head -c 1 >/dev/null; " \
            'echo "rc=${PIPESTATUS[0]}" >&2'
    r = subprocess.run([bash, "-c", shell], capture_output=True, timeout=120, cwd=REPO)
    err = r.stderr.decode()
    assert "rc=2" in err and "Traceback" not in err and "Exception ignored" not in err, err


# --------------------------------------------------------------------------- 3. configuration from the project


def test_a_config_planted_in_the_diagnosed_run_does_not_switch_the_gate_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = diverging_run(tmp_path / "o" / "run")
    (run_dir / "losscheck.toml").write_text('fail-on = "never"\n')
    code, _, err = run("diagnose", "o/run")
    assert code == 1
    assert "note: o/run/losscheck.toml: ignored" in err
    code, _, err = run("diagnose", "o")  # the whole artifacts folder: never consulted either
    assert code == 1
    (tmp_path / "o" / "losscheck.toml").write_text('fail-on = "never"\n')
    code, _, err = run("diagnose", "o")
    assert code == 1 and "o/losscheck.toml: ignored" in err


def test_a_planted_pyproject_and_a_working_directory_inside_the_data_are_ignored(tmp_path, monkeypatch):
    run_dir = diverging_run(tmp_path / "o" / "run")
    (run_dir / "pyproject.toml").write_text('[tool.losscheck]\nfail-on = "never"\n')
    monkeypatch.chdir(run_dir)  # the working directory is itself the data being judged
    code, _, err = run("diagnose", ".")
    assert code == 1 and "pyproject.toml: ignored" in err
    monkeypatch.chdir(tmp_path)
    code, _, err = run("diagnose", str(run_dir / "trainer_state.json"))
    assert code == 1  # the file next to a diagnosed file is not the project's either
    assert "not used" in err


def test_project_config_from_the_working_directory_upward_and_explicit_config_apply(tmp_path, monkeypatch):
    diverging_run(tmp_path / "o" / "run")
    (tmp_path / "losscheck.toml").write_text('fail-on = "never"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    code, _, err = run("diagnose", tmp_path / "o" / "run")
    assert code == 0 and err == ""
    (tmp_path / "losscheck.toml").unlink()
    inside = tmp_path / "o" / "run" / "losscheck.toml"
    inside.write_text('fail-on = "never"\n')
    assert run("diagnose", tmp_path / "o" / "run", "--config", inside)[0] == 0  # named explicitly: used


def test_per_path_entries_still_match_run_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    diverging_run(tmp_path / "o" / "gan-1")
    diverging_run(tmp_path / "o" / "mlp-1")
    (tmp_path / "losscheck.toml").write_text('[[per-path]]\npath = "o/gan-*"\nignore = ["LC1", "LC2"]\n')
    code, out, _ = run("diagnose", "o", "-f", "json")
    status = {r["run"]: r["status"] for r in json.loads(out)["runs"]}
    assert code == 1 and status == {"o/gan-1": "healthy", "o/mlp-1": "failing"}


def test_config_command_finds_what_diagnose_finds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = diverging_run(tmp_path / "o" / "run")
    (run_dir / "losscheck.toml").write_text('fail-on = "never"\n')
    code, out, err = run("config", "o/run")
    assert code == 0 and "none (defaults)" in out and 'fail-on = "error"' in out and "ignored" in err
    cfg = load_config(tmp_path, data=[run_dir], vocabulary=vocabulary())
    assert cfg.file is None and cfg.settings.fail_on == "error" and len(cfg.notes) == 1


# --------------------------------------------------------------------------- 4. malformed config files


@pytest.mark.parametrize("text,problem", [
    ("x = " + "[" * 100_000 + "\n", "nested too deeply"),
    ("x = " + "{a = " * 100_000 + "\n", "nested too deeply"),
    ("num-classes = " + "9" * 5000 + "\n", "too many digits"),
    ("[thresholds]\nmin-points = " + "9" * 5000 + "\n", "too many digits"),
    ("num-classes = " + "9" * 400 + "\n", "num-classes must be an integer"),
    ("[thresholds]\nmin-points = nan\n", "must be a finite number"),
    ("baseline-tolerance = inf\n", "must be a finite number"),
    ("fail-on = \"never\"\n\xff\n", "not UTF-8"),
])
def test_a_malformed_config_is_a_config_error_naming_the_file(tmp_path, monkeypatch, text, problem):
    monkeypatch.chdir(tmp_path)
    diverging_run(tmp_path / "o" / "run")
    cfg = tmp_path / "losscheck.toml"
    cfg.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    for extra in ([], ["--config", cfg]):
        code, _, err = run("diagnose", "o/run", *extra)
        line = one_line(err)
        assert code == 2 and str(cfg.name) in line and problem in line and "o/run:" not in line, line
        assert len(line) < 300


def test_a_pyproject_whose_tool_is_not_a_table_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    diverging_run(tmp_path / "o" / "run")
    (tmp_path / "pyproject.toml").write_text('tool = 3\n')
    code, _, err = run("diagnose", "o/run", "--config", tmp_path / "pyproject.toml")
    assert code == 1 and err == ""  # no [tool.losscheck]: the defaults
    (tmp_path / "pyproject.toml").write_text('[tool]\nlosscheck = 3\n')
    code, _, err = run("diagnose", "o/run")
    assert code == 2 and "must be a table" in one_line(err)


# --------------------------------------------------------------------------- 5. control characters in names


@pytest.fixture
def hostile_sweep(tmp_path, monkeypatch):
    """A sweep whose run folders are named with ANSI escapes, C1 controls, bidi overrides and
    rich markup, plus an undiagnosable folder named with an escape."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "sweep"
    diverging_run(root / HOSTILE)
    diverging_run(root / "b\u202eevil\x9b2J[/]\rOK")
    bad = root / "bad\x1b[31m"
    bad.mkdir()
    (bad / "metrics.csv").write_text("step,loss\nx,y\n")
    return Path("sweep")


def assert_no_raw_controls(text: str) -> None:
    raw = sorted({c for c in text if c in RAW_CONTROLS})
    assert not raw, [hex(ord(c)) for c in raw]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "github", "junit", "sarif"])
def test_control_characters_in_names_are_escaped_in_every_format(hostile_sweep, fmt):
    code, out, err = run("diagnose", hostile_sweep, "-f", fmt)
    assert code == 1, err
    assert_no_raw_controls(out)
    assert_no_raw_controls(err)
    if fmt == "json":
        doc = json.loads(out)
        assert HOSTILE in {Path(r["run"]).name for r in doc["runs"]}  # JSON keeps the real name, escaped
    elif fmt == "sarif":
        doc = json.loads(out)
        uris = [loc["physicalLocation"]["artifactLocation"]["uri"]
                for res in doc["runs"][0]["results"] for loc in res["locations"]]
        assert any("%1B%5B2J%1B%5B31mFAKE%20PASS" in u for u in uris)
        assert "\\x1b[2J\\x1b[31mFAKE PASS" in doc["runs"][0]["results"][0]["properties"]["run"] + \
            doc["runs"][0]["results"][-1]["properties"]["run"]
    elif fmt == "junit":
        names = [c.get("name") for c in ET.fromstring(out.encode()).iter("testcase")]
        assert any("FAKE PASS" in n for n in names) and any("\\x9b2J" in n for n in names)
    elif fmt == "markdown":  # backslashes and brackets escaped for GFM: it renders as \x1b[2J...
        assert "\\\\x1b\\[2J\\\\x1b\\[31mFAKE PASS" in out and "\\\\u202eevil\\\\x9b2J" in out
    else:
        assert "\\x1b[2J\\x1b[31mFAKE PASS" in out and "\\u202eevil\\x9b2J" in out


def test_the_terminal_report_never_emits_the_names_escapes(hostile_sweep):
    from rich.console import Console

    from losscheck.formats import get_format
    from losscheck.pipeline import diagnose

    report = diagnose(hostile_sweep, jobs=1)
    fmt = get_format("text")
    console = Console(force_terminal=True, color_system="standard", width=120, record=True,
                      file=open(os.devnull, "w"))
    for item in fmt.renderables(report, 120):
        console.print(item)
    shown = console.export_text(styles=True)
    assert "\x1b[2J" not in shown and "\x9b" not in shown and "\u202e" not in shown and "\r" not in shown
    assert "\\x1b[2J\\x1b[31mFAKE PASS" in shown and "[/]" in shown


def test_error_lines_on_stderr_are_escaped_when_nothing_could_be_diagnosed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / HOSTILE
    bad.mkdir()
    (bad / "metrics.csv").write_text("step,loss\nx,y\n")
    code, out, err = run("diagnose", HOSTILE)
    assert code == 2 and "\\x1b[2J" in err
    assert_no_raw_controls(err)
    assert_no_raw_controls(out)


# --------------------------------------------------------------------------- 6. non-regular --config


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_config_that_is_not_a_regular_file_is_refused_without_hanging(tmp_path, kind):
    if kind == "fifo":
        cfg = tmp_path / "losscheck.toml"
        os.mkfifo(cfg)
    elif kind == "device":
        cfg = Path("/dev/zero")
    else:
        cfg = tmp_path / "conf.d"
        cfg.mkdir()
    for args in (["diagnose", DIVERGING, "--config", cfg], ["config", "--config", cfg]):
        r = run_process(*args, timeout=30)
        err = r.stderr.decode()
        assert r.returncode == 2 and "not a regular file" in one_line(err) and str(cfg) in err, err


def test_a_fifo_found_as_the_project_config_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "losscheck.toml")
    r = run_process("diagnose", DIVERGING, timeout=30, cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 2 and "losscheck.toml" in err and "not a regular file" in one_line(err), err


def test_debug_shows_the_traceback_but_keeps_the_exit_code(tmp_path):
    """--debug turned every input error into a traceback with exit 1 ('a run is failing')."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "losscheck", "diagnose", str(tmp_path / "missing"), "--debug"],
                         capture_output=True, timeout=60)
    assert res.returncode == 2
    assert b"Traceback" in res.stderr and b"no such file or directory" in res.stderr.splitlines()[-1]

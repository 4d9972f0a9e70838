"""``losscheck watch`` against a log that another process is writing: exit 1 while a
diverging run is still being written (before its writer finishes), exit 0 once a healthy run
goes idle, ``--on-fail`` runs with the report's path. No timing is asserted: the writer is
slow and long enough that a stop must come before its end, and a hang guard ends the test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD = 120  # seconds; the watches below end within a few seconds


def writer(path: Path, n: int, diverge_at: int | None, pause: float) -> subprocess.Popen:
    """A process that appends one LLaMA-Factory line per ``pause`` seconds, like a trainer."""
    code = textwrap.dedent(f"""
        import json, math, random, time
        random.seed(0)
        with open({str(path)!r}, "a") as fh:
            for i in range(1, {n} + 1):
                loss = 2.4 * math.exp(-i / {n / 4}) + 0.6 + 0.03 * random.gauss(0, 1)
                if {diverge_at!r} is not None and i > {diverge_at!r}:
                    loss *= 1.04 ** (i - {diverge_at!r})
                fh.write(json.dumps({{"current_steps": i, "total_steps": {n}, "loss": loss, "lr": 1e-3}}) + "\\n")
                fh.flush()
                time.sleep({pause})
    """)
    return subprocess.Popen([sys.executable, "-c", code])


def watch(run: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "losscheck", "watch", str(run), "--isolated", *args],
                          capture_output=True, text=True, timeout=HANG_GUARD, env=env)


def stopped_at(stderr: str) -> int:
    return int(re.search(r"at step (\d+)", stderr).group(1))


def test_exits_1_while_a_diverging_run_is_written(tmp_path):
    log = tmp_path / "trainer_log.jsonl"
    proc = writer(log, 20000, 200, 0.002)
    try:
        res = watch(tmp_path, "--interval", "0.05", "--idle", "30", "--report", str(tmp_path.parent / "r.json"),
                    "--on-fail", f"{sys.executable} -c \"import os,shutil; shutil.copy(os.environ['LOSSCHECK_REPORT'], "
                    f"{str(tmp_path.parent / 'copied.json')!r})\"")
        alive = proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    assert res.returncode == 1, res.stderr
    step = stopped_at(res.stderr)
    assert alive and 200 < step < 20000, (step, res.stderr)
    assert "diverging" in res.stdout and "LC101" in res.stdout
    report = json.loads((tmp_path.parent / "copied.json").read_text())
    assert report["runs"][0]["status"] == "failing"


def test_exits_0_when_a_healthy_run_goes_idle(tmp_path):
    log = tmp_path / "trainer_log.jsonl"
    proc = writer(log, 400, None, 0.001)
    try:
        proc.wait(timeout=HANG_GUARD)  # the whole run is on disk before the watch starts: idle is idle
        res = watch(tmp_path, "--interval", "0.05", "--idle", "1")
    finally:
        proc.kill()
        proc.wait()
    assert res.returncode == 0, res.stderr + res.stdout
    assert stopped_at(res.stderr) == 400
    assert "healthy" in res.stdout


def test_a_folder_that_never_gets_a_log_is_an_error(tmp_path):
    res = watch(tmp_path, "--interval", "0.05", "--idle", "0.3")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "no diagnosable run" in res.stderr


def test_quiet_and_color_follow_the_diagnose_conventions(tmp_path):
    """Issue 16's CLI conventions on ``watch`` too: ``-q`` drops the line per change (the full
    diagnosis stays), ``-qq`` leaves standard output empty, ``--color always`` colours the
    diagnosis even when piped; the exit code and the closing stderr line never change."""
    run = tmp_path / "run"
    run.mkdir()
    proc = writer(run / "trainer_log.jsonl", 400, None, 0.0)
    proc.wait(timeout=HANG_GUARD)
    plain = watch(run, "--interval", "0.05", "--idle", "0.5")
    quiet = watch(run, "--interval", "0.05", "--idle", "0.5", "-q")
    silent = watch(run, "--interval", "0.05", "--idle", "0.5", "-qq")
    coloured = watch(run, "--interval", "0.05", "--idle", "0.5", "--color", "always")
    for res in (plain, quiet, silent, coloured):
        assert res.returncode == 0 and stopped_at(res.stderr) == 400, res.stderr
    per_change = [ln for ln in plain.stdout.splitlines() if ln.startswith(f"{run}: ")]
    assert per_change and "\x1b[" not in plain.stdout
    assert not [ln for ln in quiet.stdout.splitlines() if ln.startswith(f"{run}: ")]
    assert "healthy" in quiet.stdout
    assert silent.stdout == ""
    assert "\x1b[" in coloured.stdout and "healthy" in coloured.stdout
    bad = watch(run, "--idle", "0.1", "--color", "sometimes")
    assert bad.returncode == 2 and "--color 'sometimes'" in bad.stderr


def test_a_path_that_does_not_exist_yet_is_said_at_once(tmp_path):
    """Before: ``watch typo-path`` was silent until --idle ran out (300 s by default)."""
    res = watch(tmp_path / "typo-path", "--idle", "0.2", "--interval", "0.05")
    assert res.returncode == 2
    first = res.stderr.splitlines()[0]
    assert f"waiting for {tmp_path / 'typo-path'} to appear" in first and "0.2 s" in first


def test_a_device_is_refused_as_diagnose_refuses_it():
    """Before: ``watch /dev/zero`` waited --idle seconds, then 'no diagnosable run'."""
    res = watch(Path(os.devnull), "--idle", "30")
    assert res.returncode == 2
    (line,) = res.stderr.splitlines()
    assert "not a regular file or directory (FIFO, socket or device)" in line


def test_a_report_inside_the_run_suggests_only_flags_watch_has(tmp_path):
    (tmp_path / "run").mkdir()
    res = watch(tmp_path / "run", "--report", str(tmp_path / "run" / "r.json"), "--idle", "0")
    assert res.returncode == 2
    assert "refusing to write the report inside" in res.stderr
    assert "--force" not in res.stderr and "--output" not in res.stderr and "--report" in res.stderr


def test_a_folder_of_several_runs_files_is_an_error_not_a_verdict_on_their_merge(tmp_path):
    """lr1e-4.csv beside lr1e-2.csv: watch judged their merged curve as one run ('failing
    diverging'); diagnose splits such a folder, watch follows one run, so it says so."""
    import math

    for name, rate in (("lr1e-4.csv", -0.02), ("lr1e-2.csv", 0.05)):
        (tmp_path / name).write_text("step,loss\n" + "".join(f"{s},{2 * math.exp(rate * s):.6f}\n"
                                                             for s in range(1, 201)))
    res = watch(tmp_path, "--interval", "0.05", "--idle", "0.5")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr + res.stdout
    assert "several runs' files" in res.stderr and "FAILING" not in res.stdout

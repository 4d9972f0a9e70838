"""A sweep survives its runs: a worker that dies or a run that raises is that run's error,
and Ctrl-C stops a parallel sweep at once (issue 12)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import losscheck.pipeline as pipeline
from losscheck.model import RunError
from tests.conftest import sigint_as_at_a_terminal


def make_sweep(root: Path, n: int, points: int = 60) -> list[Path]:
    runs = []
    for k in range(n):
        d = root / f"run{k:04d}"
        d.mkdir(parents=True)
        (d / "metrics.csv").write_text("step,loss\n" + "".join(
            f"{i},{2 * math.exp(-i / 20) + 0.3 + 0.01 * ((i * 7 + k) % 5)}\n" for i in range(points)))
        runs.append(d)
    return runs


REAL = pipeline._read_and_diagnose


def deadly(run, *args):
    """Module level, so worker processes can unpickle it by name."""
    if run.root.name == "run0005":
        os._exit(9)  # the worker process dies at once, like kill -9
    return REAL(run, *args)


def buggy(run, *args):
    if run.root.name == "run0002":
        raise ZeroDivisionError("a bug")
    return REAL(run, *args)


def test_a_worker_killed_mid_run_loses_only_that_run(tmp_path, monkeypatch):
    """One worker dying (what the OOM killer does: kill -9) broke the pool and lost every
    result ('BrokenProcessPool')."""
    make_sweep(tmp_path, 12)
    monkeypatch.setattr(pipeline, "_read_and_diagnose", deadly)
    report = pipeline.diagnose(tmp_path, jobs=2)
    assert len(report.runs) == 11
    (err,) = report.errors
    assert err.path.endswith("run0005") and "worker process reading this run died" in err.message


def test_a_run_that_raises_in_a_worker_is_that_runs_error(tmp_path, monkeypatch):
    make_sweep(tmp_path, 6)
    monkeypatch.setattr(pipeline, "_read_and_diagnose", buggy)
    report = pipeline.diagnose(tmp_path, jobs=2)
    assert len(report.runs) == 5
    assert isinstance(report.errors[0], RunError) and "ZeroDivisionError: a bug" in report.errors[0].message


def test_parallel_report_equals_serial_report(tmp_path):
    make_sweep(tmp_path, 9)
    one, two = pipeline.diagnose(tmp_path, jobs=1), pipeline.diagnose(tmp_path, jobs=2)
    assert [(r.run, r.status, r.primary) for r in one.runs] == [(r.run, r.status, r.primary) for r in two.runs]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_ctrl_c_stops_a_parallel_sweep_at_once(tmp_path):
    """Before: Ctrl-C waited for the sweep to finish (15-36 s) and deadlocked 2 times in 10."""
    make_sweep(tmp_path, 1500, points=400)
    proc = subprocess.Popen([sys.executable, "-m", "losscheck", "diagnose", str(tmp_path), "-j", "2",
                             "-f", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=sigint_as_at_a_terminal)
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # the workers are up: the sweep is running
        workers = _children(proc.pid)
        assert workers, "the sweep never started its workers"
        time.sleep(1.0)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        stopped = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode()
    assert code == 130 and "Traceback" not in err, err
    assert stopped < 5, f"took {stopped:.1f} s to stop"
    time.sleep(0.2)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()
                and "zombie" not in Path(f"/proc/{w}/status").read_text().lower()], "a worker outlived the sweep"


@pytest.mark.skipif(not Path("/proc/kmsg").exists(), reason="needs /proc/kmsg")
def test_a_symlink_to_a_kernel_pseudo_file_is_refused_not_read(tmp_path):
    """/proc/kmsg says 'regular file' to stat and its read never returns: before, a symlink
    to it in a run folder (or --baseline /proc/kmsg) hung losscheck forever."""
    run = make_sweep(tmp_path, 1)[0]
    (run / "kernel.log").symlink_to("/proc/kmsg")
    res = subprocess.run([sys.executable, "-m", "losscheck", "diagnose", str(tmp_path), "-f", "json",
                          "--follow-symlinks"], capture_output=True, timeout=60)
    assert res.returncode == 0 and b"kernel pseudo-file" in res.stdout
    res = subprocess.run([sys.executable, "-m", "losscheck", "diagnose", str(run), "--baseline", "/proc/kmsg"],
                         capture_output=True, timeout=60)
    assert res.returncode == 2 and b"/proc/kmsg: a kernel pseudo-file" in res.stderr


def test_a_folder_the_walk_cannot_enter_is_an_error_not_silence(tmp_path, monkeypatch):
    """A run inside a folder without search permission was dropped with exit 0 and no word
    (simulated: the tests run as root, whom permissions do not stop)."""
    make_sweep(tmp_path, 2)
    locked = tmp_path / "locked"
    make_sweep(locked, 1)
    real_stat = Path.stat

    def stat(self, *a, **k):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *a, **k)

    monkeypatch.setattr(Path, "stat", stat)
    report = pipeline.diagnose(tmp_path)
    assert len(report.runs) == 2
    (err,) = report.errors
    assert err.path == str(locked) and "cannot access folder: Permission denied" in err.message

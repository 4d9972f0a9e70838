"""Issue 12, what was still broken: closed standard streams, symlinks leading out of the
diagnosed tree, real file types over names, bounded gzip, exact steps in every reader.

Each test reproduces one report of the issue; the docstring says what happened before.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from losscheck.pipeline import diagnose
from tests.conftest import sigint_as_at_a_terminal
from tests.test_sweep_robust import _children

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


# ---------------------------------------------------------------- short, escaped excerpts

def test_excerpt_is_short_escaped_and_says_how_long_the_text_was():
    from losscheck.errors import excerpt

    assert excerpt("loss") == "'loss'"
    long = excerpt("\x1b[31m" + "x" * 5000)
    assert "\x1b" not in long and "\\x1b" in long and "5,005 chars" in long and len(long) < 80


def test_a_huge_column_name_is_quoted_as_a_short_excerpt(tmp_path):
    """Before: a 5,000-character column name (here with an ANSI escape) was quoted whole in
    the note about it."""
    name = "x" * 5000 + "\x1b[31m"
    f = tmp_path / "m.csv"
    f.write_text(f"step,loss,{name}\n" + "".join(f"{i},{3 - i * 0.01},\n" for i in range(50)))
    report = diagnose(f)
    notes = [n.message for r in report.runs for n in r.notes]
    assert any("no values" in m for m in notes)
    assert max(len(m) for m in notes) < 300 and not any("\x1b" in m for m in notes)


# ---------------------------------------------------------------- the content decides, not the name

def _lines(n: int = 60) -> str:
    return "step,loss\n" + "".join(f"{i},{3 * math.exp(-i / 30) + 0.2}\n" for i in range(n))


def _messages(report) -> str:
    return " | ".join([n.message for r in report.runs for n in r.notes] + [e.message for e in report.errors])


def test_gzip_content_under_a_plain_name_is_decompressed(tmp_path):
    """Before: a gzip-compressed ``metrics.csv`` was "empty file (no header line)"."""
    import gzip

    f = tmp_path / "metrics.csv"
    f.write_bytes(gzip.compress(_lines().encode()))
    report = diagnose(f)
    assert len(report.runs) == 1 and report.runs[0].metrics["loss"].points == 60
    assert "gzip-compressed although its name does not end in .gz" in _messages(report)


def test_a_zip_named_gz_says_what_it_is_or_is_read_as_a_zip(tmp_path):
    import zipfile

    run = tmp_path / "run"
    (run).mkdir()
    (run / "metrics.csv").write_text(_lines())
    with zipfile.ZipFile(run / "old.csv.gz", "w") as z:
        z.writestr("m.csv", _lines())
    report = diagnose(run)
    assert "named .gz but holds a zip archive, not gzip" in _messages(report)
    alone = diagnose(run / "old.csv.gz")  # named on its own: read as the zip archive it is
    assert len(alone.runs) == 1 and not alone.errors


def test_bare_cr_line_ends_are_read_as_line_breaks(tmp_path):
    """Before: a CSV with classic Mac OS line ends was "empty file (no header line)"."""
    f = tmp_path / "metrics.csv"
    f.write_bytes(_lines().replace("\n", "\r").encode())
    report = diagnose(f)
    assert report.runs[0].metrics["loss"].points == 60 and "bare CR" in _messages(report)


@pytest.mark.parametrize("codec", ["utf-32-le", "utf-32-be", "utf-16-be"])
def test_bomless_utf32_and_utf16_are_read(tmp_path, codec):
    """Before: UTF-32 without a byte-order mark gave a message full of ``\\x00``."""
    f = tmp_path / "metrics.csv"
    f.write_bytes(_lines().encode(codec))
    report = diagnose(f)
    assert report.runs[0].metrics["loss"].points == 60
    assert codec.upper().replace("-LE", " LE").replace("-BE", " BE") in _messages(report)


# ---------------------------------------------------------------- gzip limits

def _bomb(path: Path, inflated: int) -> Path:
    import gzip

    path.write_bytes(gzip.compress(b"step,loss\n1,2\n2,1\n" + b"\n" * inflated, 9))
    return path


def test_a_gzip_bomb_is_refused_by_its_ratio_while_streaming(tmp_path, monkeypatch):
    """Before: a 1 MB ``.gz`` inflated whole, needing 2.1 GB. Now inflation is streamed in
    bounded steps and stops at the ratio limit; the memory held never passes the limit
    plus one step (counted: the bytes zlib was allowed to return)."""
    from losscheck.readers import _common

    monkeypatch.setattr(_common, "INFLATE", _common.InflateLimits(ratio_floor=1 << 20, step_bytes=1 << 18))
    f = _bomb(tmp_path / "m.csv.gz", 40 << 20)
    asked: list[int] = []
    real = _common.zlib.decompressobj

    class Spy:
        def __init__(self, *a):
            self.d = real(*a)

        def decompress(self, data, max_length=0):
            asked.append(max_length)
            return self.d.decompress(data, max_length)

        def __getattr__(self, name):
            return getattr(self.d, name)

    monkeypatch.setattr(_common.zlib, "decompressobj", Spy)
    report = diagnose(f)
    assert not report.runs and "times its compressed size" in report.errors[0].message
    assert asked and max(asked) <= 1 << 18 and 0 not in asked
    assert sum(asked) < 3 << 20  # stopped soon after the 1 MiB floor, not after 40 MiB


def test_gzip_limits_are_options_that_reach_sweep_workers(tmp_path):
    import gzip

    for k in range(2):
        d = tmp_path / f"run{k}"
        d.mkdir()
        (d / "metrics.csv.gz").write_bytes(gzip.compress(_lines(20000).encode(), 9))
    res = shell('"$PY" -m losscheck diagnose "$1" -f json -j 2', str(tmp_path))
    assert res.returncode in (0, 1) and len(json.loads(res.stdout)["runs"]) == 2
    res = shell('"$PY" -m losscheck diagnose "$1" -f json -j 2 --max-inflated 64KiB', str(tmp_path))
    doc = json.loads(res.stdout)
    assert res.returncode == 2 and not doc["runs"] and len(doc["errors"]) == 2
    assert all("--max-inflated" in e["message"] for e in doc["errors"])
    res = shell('"$PY" -m losscheck diagnose "$1" --max-inflated lots', str(tmp_path))
    assert res.returncode == 2 and b"not a size" in res.stderr


def test_parse_size():
    from losscheck.cli import parse_size

    assert parse_size("512MiB") == 512 << 20 and parse_size("2GiB") == 2 << 30
    assert parse_size("100MB") == 100_000_000 and parse_size("64k") == 64 << 10 and parse_size("77") == 77
    for bad in ("", "0", "12x", "-5"):
        with pytest.raises(ValueError):
            parse_size(bad)


# ---------------------------------------------------------------- exact steps, named columns

def _mlflow_run(root: Path, lines: list[str]) -> Path:
    (root / "metrics").mkdir(parents=True)
    (root / "metrics" / "loss").write_text("".join(lines))
    return root


def test_mlflow_file_store_steps_are_exact_beyond_2_53(tmp_path):
    """Before: the MLflow file-store reader took steps through ``float``: 2**53+1 and 2**53+3
    became one step, blamed on duplicate writers."""
    big = 2 ** 53
    run = _mlflow_run(tmp_path / "r", [f"{1700000000000 + i} {3 - i * 0.01} {big + 2 * i + 1}\n" for i in range(60)])
    report = diagnose(run)
    info = report.runs[0].metrics["loss"]
    assert (info.points, info.first_step, info.last_step) == (60, big + 1, big + 119)


def test_an_mlflow_metric_line_with_text_names_the_bad_column(tmp_path):
    """Before: "could not convert string to float" (or a bare "not an MLflow metric line")."""
    lines = [f"{1700000000000 + i} {3 - i * 0.01} {i}\n" for i in range(60)]
    lines[40] = "1700000000040 abc 40\n"
    report = diagnose(_mlflow_run(tmp_path / "a", lines))
    assert "column 2 (value) is not a number: 'abc'" in report.errors[0].message
    lines[40] = "1700000000040 0.5 forty\n"
    report = diagnose(_mlflow_run(tmp_path / "b", lines))
    assert "column 3 (step) is not an integer: 'forty'" in report.errors[0].message


def _events(steps: list[int]) -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from losscheck.readers import _tfrecord

    events = [event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")]
    for i, step in enumerate(steps):
        summ = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=3.0 / (1 + i / 10))])
        events.append(event_pb2.Event(wall_time=1.7e9 + i, step=step, summary=summ))
    return b"".join(_tfrecord.frame(e.SerializeToString()) for e in events)


@pytest.mark.parametrize("name", ["events.out.tfevents.1.host", "events.out.tfevents.1.host.gz"])
def test_tensorboard_steps_near_2_62_are_exact_end_to_end_and_gzip_is_read(tmp_path, name):
    """Steps just below the step range's end (2**62) reach the report exact, in every
    format that prints them; a gzip-compressed event file is read whether or not its name
    ends in .gz (before: without .gz it was "corrupt")."""
    import gzip

    pytest.importorskip("tensorboard")
    base = 2 ** 62 - 1000
    steps = [base + 2 * i + 1 for i in range(200)]
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_bytes(gzip.compress(_events(steps)))
    report = diagnose(run)
    info = report.runs[0].metrics["loss"]
    assert (info.points, info.first_step, info.last_step) == (200, steps[0], steps[-1])
    res = shell('"$PY" -m losscheck diagnose "$1" -f json', str(run))
    doc = json.loads(res.stdout)
    assert doc["runs"][0]["metrics"]["loss"]["last_step"] == steps[-1]
    assert str(steps[-1]).encode() in res.stdout


def test_tensorboard_steps_past_the_range_are_a_clear_error(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.out.tfevents.1.host").write_bytes(_events([2 ** 62 + i for i in range(50)]))
    report = diagnose(run)
    assert not report.runs and "outside the supported range" in report.errors[0].message


# ---------------------------------------------------------------- interrupts


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_a_double_ctrl_c_still_exits_130_and_leaves_no_worker(tmp_path):
    """Before: a second Ctrl-C while the first was being handled killed losscheck by the
    signal (exit -2 / 130 from the shell, workers and "Exception ignored" noise) 2 times in
    2. Now the second is ignored while the first stops the sweep: exit 130, no worker left,
    no temporary report file."""
    import signal
    import time

    sweep = tmp_path / "sweep"
    for k in range(1200):
        write_csv(sweep / f"run{k:04d}" / "metrics.csv", n=400, k=k)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "losscheck", "diagnose", str(sweep), "-j", "2", "-f", "json",
                             "-o", str(out / "report.json")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=sigint_as_at_a_terminal)
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert workers, "the sweep never started its workers"
        time.sleep(0.5)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode()
    assert code == 130 and "Traceback" not in err, (code, err)
    time.sleep(0.2)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()
                and "zombie" not in Path(f"/proc/{w}/status").read_text().lower()]
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------- permissions, as a user they stop

def _as_nobody(fn, *args) -> dict:
    """Run ``fn(*args)`` in a forked child with uid/gid 65534 (``nobody``) and return what it
    returns (a JSON-able dict). The tests run as root, whom permissions do not stop; the
    interpreter's own files may be unreadable to nobody (under /root), so every module is
    imported before the fork."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            out = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            out = {"exception": f"{type(exc).__name__}: {exc}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def _sweep_as_seen(top: Path, jobs: int) -> dict:
    rep = diagnose(top, jobs=jobs)
    return {"runs": sorted(Path(r.run).name for r in rep.runs), "errors": [e.message for e in rep.errors]}


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to become nobody")
@pytest.mark.parametrize("jobs", [1, 2])
def test_unreadable_folders_are_their_runs_errors_and_the_rest_is_diagnosed(jobs):
    """Before: one folder of mode 444 (listable, not searchable) aborted the whole sweep with
    "internal error (PermissionError)"; a run inside a folder that cannot be listed was
    dropped with exit 0 and no word. Run as ``nobody``, for real (no simulated errors)."""
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="losscheck-perm-"))
    try:
        os.chmod(top, 0o755)
        for name in ("ok1", "ok2", "r444", "r000", "nolist/inner", "badfile"):
            write_csv(top / name / "metrics.csv")
        for p in [top, *top.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(top / "r444", 0o444)
        os.chmod(top / "r000", 0o000)
        os.chmod(top / "nolist", 0o311)
        os.chmod(top / "badfile" / "metrics.csv", 0o000)
        _sweep_as_seen(top / "ok1", jobs)  # every import done as root
        if jobs > 1:
            _sweep_as_seen(top, jobs)
        seen = _as_nobody(_sweep_as_seen, top, jobs)
    finally:
        for p in [top, *top.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        shutil.rmtree(top)
    assert "exception" not in seen, seen
    assert seen["runs"] == ["ok1", "ok2"]
    errors = " | ".join(seen["errors"])
    for name in ("r444", "r000", "nolist", "badfile"):
        assert f"{name}" in errors, (name, errors)
    assert "internal error" not in errors


# ---------------------------------------------------------------- found by the gallery

def test_standard_input_that_never_ends_is_refused_at_the_gzip_limit():
    """Before: ``losscheck diagnose - < /dev/zero`` held 2 GiB of zeros in memory."""
    import io

    from losscheck.errors import UnreadableFile
    from losscheck.readers import _common
    from losscheck.sources import read_stdin

    class Endless(io.RawIOBase):
        def __init__(self):
            self.given = 0

        def readable(self):
            return True

        def readinto(self, b):
            b[:] = b"\0" * len(b)
            self.given += len(b)
            return len(b)

    endless = Endless()
    old = _common.INFLATE.max_bytes
    _common.set_inflate_limits(max_bytes=1 << 20)
    try:
        with pytest.raises(UnreadableFile, match="--max-inflated"):
            read_stdin(io.BufferedReader(endless))
    finally:
        _common.set_inflate_limits(max_bytes=old)
    assert endless.given <= (1 << 20) + (1 << 17)


def test_a_jsonl_whose_first_record_is_longer_than_the_sniff_head_is_read(tmp_path):
    """Before: a JSON-lines log of 5,000 metrics per record was "no supported log found"
    (its first line did not fit in the 64 KiB the readers sniff)."""
    rows = []
    for i in range(30):
        rec = {"step": i, "loss": 2.0 / (i + 1)}
        rec.update({f"metric_{k}": float(k) for k in range(5000)})
        rows.append(json.dumps(rec))
    f = tmp_path / "run" / "metrics.jsonl"
    f.parent.mkdir()
    f.write_text("\n".join(rows) + "\n")
    report = diagnose(tmp_path / "run")
    assert report.runs and report.runs[0].metrics["loss"].points == 30


def test_a_log_deeper_than_path_max_is_an_error_line_not_an_empty_tree(tmp_path):
    """Before (issue 12): "empty directory tree". The deep folder is an error line; the
    shallow run is still diagnosed."""
    write_csv(tmp_path / "t" / "shallow" / "metrics.csv")
    fd = os.open(tmp_path / "t", os.O_RDONLY)
    try:
        for _ in range(24):  # 24 x 251 bytes: past Linux's PATH_MAX of 4096
            os.mkdir("d" * 250, dir_fd=fd)
            nfd = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        out = os.open("metrics.csv", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, b"step,loss\n1,2\n2,1\n3,0.5\n")
        os.close(out)
    finally:
        os.close(fd)
    report = diagnose(tmp_path / "t")
    assert [Path(r.run).name for r in report.runs] == ["shallow"]
    assert report.errors and "empty directory tree" not in report.errors[0].message
    assert "too long" in report.errors[0].message
    # remove it by descriptors: rmtree cannot name the deepest folders
    fd = os.open(tmp_path / "t", os.O_RDONLY)
    chain = [fd]
    for _ in range(24):
        chain.append(os.open("d" * 250, os.O_RDONLY, dir_fd=chain[-1]))
    os.unlink("metrics.csv", dir_fd=chain[-1])
    for k in range(24, 0, -1):
        os.close(chain[k])
        os.rmdir("d" * 250, dir_fd=chain[k - 1])
    os.close(chain[0])


def _calls_during(fn) -> int:
    """Python-level calls (every function and generator step, any module) made by ``fn()``:
    a count of work that does not depend on the machine's speed or load."""
    count = 0

    def prof(frame, event, arg):
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def test_discovery_work_grows_linearly_with_the_number_of_runs(tmp_path):
    """Issue 12: 5,000 runs ``runN/{metrics.csv,checkpoints/config.yaml}`` took > 300 s in
    discovery (each folder was compared with every run). 10x the runs must cost about 10x
    the calls, not 100x."""
    from losscheck.discovery import discover

    def make(root: Path, n: int) -> Path:
        for k in range(n):
            d = root / f"run{k}"
            (d / "checkpoints").mkdir(parents=True)
            (d / "metrics.csv").write_text("step,loss\n1,2\n2,1\n")
            (d / "checkpoints" / "config.yaml").write_text("lr: 0.1\n")
        return root

    small, big = make(tmp_path / "s", 60), make(tmp_path / "b", 600)
    discover(small)  # imports and caches warmed
    c_small = _calls_during(lambda: discover(small))
    c_big = _calls_during(lambda: discover(big))
    assert len(discover(big).runs) == 600
    assert c_big < 13 * c_small, (c_small, c_big)


# ---------------------------------------------------------------- archive bombs

def _bomb_payload(mib: int) -> bytes:
    return b"step,loss\n1,2\n2,1\n" + b"\n" * (mib << 20)


@pytest.mark.parametrize("kind", ["tar.gz", "zip", "tar-in-gz"])
def test_an_archive_bomb_is_refused_by_the_gzip_limits(tmp_path, kind):
    """Before: a 1.5 MB ``.tar.gz`` or ``.zip`` holding 1.5 GB of blank lines took 24 GB of
    memory and was killed by the OOM killer. Members are now read at most up to what their
    compressed size may inflate to (``--max-inflated``, ``--max-ratio``), and a tar stream
    that inflates past the ratio is refused before it is walked."""
    import io
    import tarfile
    import tracemalloc
    import zipfile

    data = _bomb_payload(200)
    if kind == "zip":
        f = tmp_path / "bomb.zip"
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("run/metrics.csv", data)
    else:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("run/metrics.csv")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        import gzip

        f = tmp_path / ("bomb.tar.gz" if kind == "tar.gz" else "logs.gz")
        f.write_bytes(gzip.compress(buf.getvalue(), 9))
    del data
    tracemalloc.start()
    try:
        from losscheck.errors import LosscheckError

        try:
            report = diagnose(f)
            messages = _messages(report)
            assert not report.runs
        except LosscheckError as exc:
            messages = str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "--max-ratio" in messages, messages
    assert peak < 100 << 20, peak  # not the 200 MiB the bomb holds


def test_a_legitimate_archive_is_still_read(tmp_path):
    import zipfile

    f = tmp_path / "runs.zip"
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        for k in range(3):
            z.writestr(f"run{k}/metrics.csv", _lines(2000))
    report = diagnose(f)
    assert len(report.runs) == 3 and not report.errors


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_many_small_members_cannot_add_up_past_the_archive_limit(tmp_path, kind):
    """Before: each member was held to the gzip limits alone, so an archive of many members,
    each under the ratio, could hold gigabytes from a few megabytes. Now the claimed logs of
    one archive together stay within --max-inflated, or --max-ratio times the archive's size.
    Shown with small limits: 40 run folders whose CSVs pass one by one but not together: the
    runs held before the limit is reached are diagnosed, the archive's error names the limit."""
    import tarfile
    import zipfile

    from losscheck.readers import _common

    body = "step,loss\n" + "".join(f"{s},{2.0 / (s + 1):.6f}\n" for s in range(400))
    files = {f"run{i:02d}/metrics.csv": body.encode() for i in range(40)}
    path = tmp_path / f"sweep.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as tf:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    total = sum(len(d) for d in files.values())
    old = _common.INFLATE.as_tuple()
    # one member (~6 KB) passes alone; 40 of them (~250 KB) exceed 50 KB and 1x the archive
    _common.set_inflate_limits(max_bytes=50_000, max_ratio=1.0, ratio_floor=1 << 20)
    try:
        assert path.stat().st_size < total and len(body) < 50_000
        cut = diagnose(path)
        # the members read before the limit are diagnosed (never more than it allows); the
        # archive's error says why the rest are not
        (err,) = cut.errors
        assert "together" in err.message and "before that point are diagnosed" in err.message
        assert 0 < len(cut.runs) < 40 and len(cut.runs) * len(body) <= max(50_000, path.stat().st_size)
    finally:
        _common.set_inflate_limits(*old)
    report = diagnose(path)  # the default limits read the same sweep
    assert len(report.runs) == 40 and not report.errors

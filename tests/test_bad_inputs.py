"""Bad input never crashes losscheck, and no data is silently lost.

The gallery ``tests/bad_inputs/`` holds one small file or folder per damaged-input case and
``cases.toml`` says what losscheck must answer for each (exit code, message, notes, point
and non-finite counts). Cases that cannot live in git (FIFOs, symlink loops, non-UTF-8 file
names, 10,000 files, unreadable files) are built here in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.errors import UnreadableFile
from losscheck.readers import choose, read_head
from losscheck.readers._common import read_data

GALLERY = Path(__file__).resolve().parent / "bad_inputs"
CASES = tomllib.loads((GALLERY / "cases.toml").read_text(encoding="utf-8"))["case"]
runner = CliRunner()
LOSSCHECK = [sys.executable, "-m", "losscheck"]


def run_cli(path, *extra):
    """``losscheck diagnose PATH --format json --isolated``: (code, json doc or None, stderr)."""
    res = runner.invoke(app, ["diagnose", str(path), "--format", "json", "--isolated", *map(str, extra)])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.stdout and "Traceback" not in res.stderr
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        doc = None
    return res.exit_code, doc, res.stderr


def all_notes(doc) -> list[str]:
    return [n["message"] for r in doc["runs"] for n in r.get("notes", [])]


def test_every_gallery_entry_has_a_case_and_every_case_a_file():
    listed = {c["path"] for c in CASES}
    on_disk = {p.name for p in GALLERY.iterdir() if p.name != "cases.toml"}
    assert listed == on_disk


@pytest.mark.parametrize("case", CASES, ids=[c["path"] for c in CASES])
def test_gallery_case(case, monkeypatch):
    monkeypatch.chdir(GALLERY)  # messages name the path as given: keep them short
    code, doc, err = run_cli(case["path"])
    if case["exit"] == "diagnosed":
        assert code in (0, 1), err
        assert doc is not None and doc["runs"], err
    else:
        assert code == case["exit"], err
    if "message" in case:
        errors = [e["message"] for e in doc["errors"]] if doc else []
        assert any(case["message"] in m for m in [err, *errors]), (err, errors)
        assert all("\n" not in m.strip() for m in errors)  # one line each
    for needle in case.get("notes", []):
        assert any(needle in n for n in all_notes(doc)), (needle, all_notes(doc))
    if "loss_points" in case:
        loss = doc["runs"][0]["metrics"]["loss"]
        assert loss["points"] == case["loss_points"]
        assert loss["nonfinite"] == case.get("loss_nonfinite", 0)
    if "reader_notes" in case:
        p = GALLERY / case["path"]
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        notes = []
        for f in files:
            reader = choose(f)
            assert reader is not None, f
            notes += [n.message for n in reader.read(f).notes]
        for needle in case["reader_notes"]:
            assert any(needle in n for n in notes), (needle, notes)


@pytest.mark.parametrize("name", ["csv_header_only.csv", "hf_empty_log_history", "jsonl_all_null_loss.jsonl"])
def test_runs_without_a_single_point_say_too_little_data(name, monkeypatch):
    monkeypatch.chdir(GALLERY)
    code, doc, err = run_cli(name)
    assert code == 2 and doc["errors"][0]["kind"] == "too-little-data"


# ----------------------------------------------------------------------------- strict mode


def test_strict_turns_an_unreadable_file_into_a_failure_of_its_run():
    code, doc, _ = run_cli(GALLERY / "run_one_bad_file")
    assert code in (0, 1) and len(doc["runs"]) == 1
    code, doc, err = run_cli(GALLERY / "run_one_bad_file", "--strict")
    assert code == 2 and not doc["runs"]
    assert "trainer_state.json: 'log_history' is a number" in err
    assert doc["errors"][0]["kind"] == "parse"


def test_strict_sweep_keeps_diagnosing_the_other_runs(tmp_path):
    shutil.copytree(GALLERY / "run_one_bad_file", tmp_path / "bad")
    shutil.copytree(GALLERY / "gz_csv", tmp_path / "good")
    code, doc, _ = run_cli(tmp_path, "--strict")
    assert code in (0, 1)
    assert [Path(r["run"]).name for r in doc["runs"]] == ["good"]
    assert [Path(e["path"]).name for e in doc["errors"]] == ["trainer_state.json"]


# ----------------------------------------------------------------------------- files and folders


def write_csv(path: Path, n: int = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("step,loss\n" + "".join(f"{i},{2 / (i + 1)!r}\n" for i in range(n)))
    return path


def test_empty_folder_is_exit_2_naming_it(tmp_path):
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    code, _, err = run_cli(tmp_path / "empty")
    assert code == 2 and f"{tmp_path / 'empty'}: no supported log found" in err


def test_missing_path_is_exit_2(tmp_path):
    code, _, err = run_cli(tmp_path / "nope")
    assert code == 2 and "no such file or directory" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_passed_directly_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "metrics.csv"
    os.mkfifo(fifo)
    # a subprocess with a timeout: a blocking open() would hang the test, not fail it
    res = subprocess.run([*LOSSCHECK, "diagnose", str(fifo), "--isolated"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and "FIFO" in res.stderr and "Traceback" not in res.stderr
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_data(fifo)
    with pytest.raises(UnreadableFile):
        read_head(fifo)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_inside_a_run_directory_is_skipped_without_hanging(tmp_path):
    write_csv(tmp_path / "run" / "real.csv")
    os.mkfifo(tmp_path / "run" / "metrics.csv")
    os.mkfifo(tmp_path / "run" / "trainer_state.json")
    res = subprocess.run([*LOSSCHECK, "diagnose", str(tmp_path / "run"), "--format", "json", "--isolated"],
                         capture_output=True, text=True, timeout=60)
    doc = json.loads(res.stdout)
    assert res.returncode in (0, 1) and doc["runs"][0]["metrics"]["loss"]["points"] == 20


def test_device_file_is_refused(tmp_path):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    code, _, err = run_cli("/dev/null")
    assert code == 2 and "not a regular file" in err
    with pytest.raises(UnreadableFile):
        read_data(Path("/dev/zero"))  # would never end if it were read


def test_symlink_loops_end_and_a_file_is_read_once(tmp_path):
    run = tmp_path / "run"
    write_csv(run / "metrics.csv")
    (run / "self").symlink_to(".")
    (run / "up").symlink_to("..")
    (run / "alias.csv").symlink_to("metrics.csv")
    os.link(run / "metrics.csv", run / "hardlink.csv")
    (run / "dangling.csv").symlink_to("nowhere.csv")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    code, doc, err = run_cli(tmp_path)
    assert code in (0, 1), err
    assert len(doc["runs"]) == 1 and doc["runs"][0]["metrics"]["loss"]["points"] == 20
    # one file read, not three: no "merged from N files" note
    assert not any("merged from" in n for n in all_notes(doc)), all_notes(doc)


def test_symlinked_run_directory_is_followed(tmp_path):
    write_csv(tmp_path / "elsewhere" / "run1" / "metrics.csv")
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "run1").symlink_to(tmp_path / "elsewhere" / "run1")
    code, _, err = run_cli(tmp_path / "sweep")  # it leads out of the tree: not followed unless asked
    assert code == 2 and "--follow-symlinks" in err
    code, doc, _ = run_cli(tmp_path / "sweep", "--follow-symlinks")
    assert code in (0, 1) and [Path(r["run"]).name for r in doc["runs"]] == ["run1"]


@pytest.mark.skipif(sys.platform != "linux", reason="bytes file names are a Linux matter")
def test_non_utf8_file_names(tmp_path):
    d = os.path.join(os.fsencode(tmp_path), b"run\xff")
    os.mkdir(d)
    with open(os.path.join(d, b"metrics\xfe.csv"), "wb") as fh:
        fh.write(b"step,loss\n" + b"".join(b"%d,%r\n" % (i, 2 / (i + 1)) for i in range(20)))
    code, doc, err = run_cli(tmp_path)
    assert code in (0, 1), err
    assert doc["runs"][0]["metrics"]["loss"]["points"] == 20


def _many_files(d: Path, n: int) -> Path:
    """``n`` files in one folder: half metric CSVs, half console files without metrics."""
    d.mkdir()
    body = "step,loss\n0,1.0\n1,0.5\n2,0.25\n"
    for i in range(n):
        name = f"m{i:05d}.csv" if i % 2 else f"stdout{i:05d}.txt"
        (d / name).write_text(body if i % 2 else "hello\n")
    return d


def _python_calls(fn) -> int:
    """Python function calls made while ``fn()`` runs (work counted, not timed)."""
    box = [0]

    def prof(frame, event, arg):
        if event == "call":
            box[0] += 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return box[0]


def test_many_files_in_one_folder_take_linear_work(tmp_path):
    """10x the files in one folder costs at most ~10x the Python calls (no per-file rescan of
    the folder); the 10,000-file case itself is read right through the CLI."""
    from losscheck.pipeline import Options, diagnose

    small = _many_files(tmp_path / "small", 300)
    large = _many_files(tmp_path / "large", 3000)
    work = [_python_calls(lambda d=d: diagnose(d, Options())) for d in (small, large)]
    assert work[1] <= 12 * work[0], f"{work} Python calls for 300 and 3,000 files"
    code, doc, err = run_cli(_many_files(tmp_path / "many", 10_000))
    assert code in (0, 1), err
    assert doc["runs"][0]["metrics"]["loss"]["points"] == 3


def test_unreadable_file_via_permission_error(tmp_path, monkeypatch):
    """Simulated with a patched ``os.open`` (tests run as root, where chmod 000 reads fine)."""
    write_csv(tmp_path / "ok" / "metrics.csv")
    write_csv(tmp_path / "locked" / "metrics.csv")
    write_csv(tmp_path / "half" / "metrics.csv")
    write_csv(tmp_path / "half" / "extra.csv")
    real_open = os.open
    locked = {str(tmp_path / "locked" / "metrics.csv"), str(tmp_path / "half" / "extra.csv")}

    def fake_open(path, flags, *args, **kwargs):
        if str(path) in locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    import losscheck.readers._common as common

    monkeypatch.setattr(common.os, "open", fake_open)
    code, doc, err = run_cli(tmp_path)
    assert code in (0, 1), err
    assert sorted(Path(r["run"]).name for r in doc["runs"]) == ["half", "ok"]
    msgs = [e["message"] for e in doc["errors"]]
    assert any("locked/metrics.csv: cannot open: Permission denied" in m for m in msgs), msgs
    # the run with one readable file is diagnosed, the unreadable one is a warning note of it
    half = next(r for r in doc["runs"] if Path(r["run"]).name == "half")
    assert any("cannot open: Permission denied" in n["message"] and n["severity"] == "warning"
               and n["path"].endswith("extra.csv") for n in half["notes"]), half["notes"]
    # --strict: the run with one unreadable file fails as a whole
    code, doc, err = run_cli(tmp_path, "--strict")
    assert sorted(Path(r["run"]).name for r in doc["runs"]) == ["ok"]
    msgs = sorted(e["message"] for e in doc["errors"])
    assert any("half/extra.csv: cannot open: Permission denied" in m for m in msgs), msgs


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root reads files whatever their mode")
def test_unreadable_file_by_mode(tmp_path):
    f = write_csv(tmp_path / "run" / "metrics.csv")
    f.chmod(0)
    try:
        code, _, err = run_cli(tmp_path / "run")
        assert code == 2 and "Permission denied" in err
    finally:
        f.chmod(0o644)


def test_truncated_gzip_head_still_sniffs(tmp_path):
    import gzip

    data = gzip.compress(("step,loss\n" + "".join(f"{i},{1 / (i + 1)!r}\n" for i in range(5000))).encode())
    f = tmp_path / "metrics.csv.gz"
    f.write_bytes(data[: len(data) // 3])
    head = read_head(f)
    assert head.startswith(b"step,loss\n") and len(head) > 1000
    body, notes = read_data(f)
    assert body.startswith(head) and "ends early" in notes[0].message

"""Logs that are not plain files on disk: archives, standard input, UTF-16/32 text.

Archives are built here with the standard library's ``tarfile``/``zipfile`` (as ``tar``
and ``zip`` lay them out); nothing is ever extracted: the tests check that the folder
holding the archive is unchanged after a diagnosis.
"""

from __future__ import annotations

import gzip
import io
import math
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from losscheck.errors import NoLogsFound, UnreadableFile
from losscheck.pipeline import diagnose
from losscheck.sources import MAX_INFLATED_BYTES

REPO = Path(__file__).resolve().parents[1]


def curve_csv(diverge: bool, n: int = 200) -> bytes:
    rows = ["step,loss"]
    for i in range(n):
        v = 2 * math.exp(-i / 30) + 0.3
        if diverge and i > 100:
            v *= 2 ** ((i - 100) / 15)
        rows.append(f"{i},{v:.6f}")
    return ("\n".join(rows) + "\n").encode()


SWEEP = {"sweep/a/metrics.csv": curve_csv(False), "sweep/b/metrics.csv": curve_csv(True),
         "sweep/c/logs/metrics.csv.gz": gzip.compress(curve_csv(True)),
         "sweep/c/model.pt": b"\x00" * 1000, "sweep/README.md": b"# a sweep\n"}


def make_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("name,maker", [("sweep.tar.gz", make_tar), ("sweep.tgz", make_tar),
                                        ("sweep.tar", lambda p, f: make_tar(p, f, "w")),
                                        ("sweep.tar.xz", lambda p, f: make_tar(p, f, "w:xz")),
                                        ("sweep.zip", make_zip)])
def test_an_archive_is_read_as_the_tree_it_holds(tmp_path, name, maker):
    """Before: a .tar.gz of three runs was '1 run(s)', exit 0, two failing runs dropped."""
    archive = maker(tmp_path / name, SWEEP)
    before = snapshot(tmp_path)
    report = diagnose(archive)
    assert snapshot(tmp_path) == before  # nothing extracted or written
    got = {r.run: r.status for r in report.runs}
    assert got == {f"{archive}/sweep/a": "healthy", f"{archive}/sweep/b": "failing",
                   f"{archive}/sweep/c": "failing"}
    assert not report.errors
    assert report.runs[2].metrics["loss"].points == 200


def test_an_archive_in_worker_processes_gives_the_same_report(tmp_path):
    archive = make_tar(tmp_path / "s.tar.gz", SWEEP)
    one = diagnose(archive, jobs=1)
    two = diagnose(archive, jobs=2)
    assert [(r.run, r.status, r.onset_step) for r in one.runs] == [(r.run, r.status, r.onset_step)
                                                                   for r in two.runs]


@pytest.mark.parametrize("name", ["fake.tar.gz", "fake.zip", "fake.tar"])
def test_a_file_that_is_not_the_archive_its_name_says_is_a_clear_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"step,loss\n1,2\n" * 40)
    with pytest.raises(UnreadableFile, match="not a readable (tar|zip) archive"):
        diagnose(path)


def test_a_truncated_archive_is_a_clear_error(tmp_path):
    archive = make_tar(tmp_path / "s.tar.gz", {"r/metrics.csv": curve_csv(False, 5000)})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFile, match="corrupt or truncated tar archive"):
        diagnose(archive)


def test_archive_members_outside_the_archive_or_linked_are_skipped(tmp_path):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tf:
        for name in ("../escape/metrics.csv", "/abs/metrics.csv"):
            info = tarfile.TarInfo(name)
            data = curve_csv(True)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("run/metrics.csv")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
        info = tarfile.TarInfo("ok/metrics.csv")
        data = curve_csv(False)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    report = diagnose(archive)
    # the absolute name is kept inside the archive (abs/), '..' is refused, the link skipped
    assert sorted(r.run for r in report.runs) == [f"{archive}/abs", f"{archive}/ok"]
    # ... and the refused log is named, never dropped silently (try-user finding 4)
    (err,) = report.errors
    assert err.path == f"{archive}/../escape/metrics.csv" and "outside the archive" in err.message


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_a_log_refused_for_its_dotdot_path_is_named(tmp_path, maker):
    """Before: a valid run stored as ``../up/metrics.csv`` was in no error, note or count."""
    archive = maker(tmp_path / ("a.tar.gz" if maker is make_tar else "a.zip"),
                    {"ok/metrics.csv": curve_csv(False), "../up/metrics.csv": curve_csv(True),
                     "../notes.txt": b"not a log\n"})
    report = diagnose(archive)
    assert [r.run for r in report.runs] == [f"{archive}/ok"]
    assert [(e.path, "outside the archive" in e.message) for e in report.errors] == [
        (f"{archive}/../up/metrics.csv", True)]  # the non-log member is not worth a line
    only = maker(tmp_path / ("b.tar.gz" if maker is make_tar else "b.zip"), {"../up/metrics.csv": curve_csv(True)})
    with pytest.raises(NoLogsFound, match=r"'\.\./up/metrics\.csv' refused: not read: its path leads outside"):
        diagnose(only)


def test_an_archive_with_no_log_says_so(tmp_path):
    archive = make_zip(tmp_path / "code.zip", {"src/train.py": b"print(1)\n"})
    with pytest.raises(NoLogsFound, match="no supported log found in the archive"):
        diagnose(archive)


def test_a_member_over_the_size_limit_is_that_files_problem_and_other_members_are_not_read_whole(
        tmp_path, monkeypatch):
    """A log member over the limit is its run's error; a big member no reader claims (a
    dataset shard) is sniffed from its first 64 KiB and skipped, not held against the archive."""
    import losscheck.sources as sources

    monkeypatch.setattr(sources, "MAX_INFLATED_BYTES", 100_000)
    archive = make_zip(tmp_path / "big.zip", {"big/metrics.csv": curve_csv(False, 20_000),
                                              "ok/metrics.csv": curve_csv(True),
                                              "ok/data/shard-0.arrow": b"\x01" * 300_000})
    report = diagnose(archive)
    assert [r.run for r in report.runs] == [f"{archive}/ok"] and report.runs[0].status == "failing"
    (err,) = report.errors
    assert err.path.endswith("big/metrics.csv") and "limit" in err.message
    assert MAX_INFLATED_BYTES == 2 << 30


def test_a_damaged_header_mid_tar_is_an_error_not_a_silent_end(tmp_path):
    """tarfile ends a stream quietly at a damaged header: the runs after it were lost, exit 0.
    Now the archive's error says so (the run before the damage is still diagnosed)."""
    archive = make_tar(tmp_path / "s.tar", {"a/metrics.csv": curve_csv(False), "b/metrics.csv": curve_csv(True)},
                       mode="w")
    blob = bytearray(archive.read_bytes())
    second = 512 + -(-len(curve_csv(False)) // 512) * 512
    blob[second:second + 512] = b"X" * 512
    archive.write_bytes(bytes(blob))
    report = diagnose(archive)
    assert [Path(r.run).name for r in report.runs] == ["a"]  # the run before the damage is kept
    (err,) = report.errors
    assert "corrupt tar archive: a damaged header" in err.message and "any after it are not" in err.message


def test_a_corrupt_gz_member_is_that_files_problem_with_its_note(tmp_path):
    """A cut .gz member was silently dropped (and its 'stream ends early' note lost)."""
    whole = gzip.compress(curve_csv(True, 3000))
    archive = make_tar(tmp_path / "s.tar.gz", {"a/metrics.csv.gz": whole[: len(whole) // 2],
                                               "b/metrics.csv": curve_csv(False)})
    report = diagnose(archive)
    runs = {r.run.rsplit("/", 1)[-1]: r for r in report.runs}
    assert set(runs) == {"a", "b"}
    assert any("gzip stream ends early" in n.message and n.severity == "warning" for n in runs["a"].notes)


def test_a_tar_inside_a_plain_gz_is_read_as_a_tree(tmp_path):
    """logs.gz holding a tar: before, the HF reader salvaged one log_history from the bytes."""
    tar = make_tar(tmp_path / "x.tar", SWEEP, mode="w")
    gz = tmp_path / "logs.gz"
    gz.write_bytes(gzip.compress(tar.read_bytes()))
    tar.unlink()
    got = {r.run.rsplit("/", 1)[-1]: r.status for r in diagnose(gz).runs}
    assert got == {"a": "healthy", "b": "failing", "c": "failing"}


def test_wandb_latest_run_zipped_by_following_the_symlink_is_not_a_second_run(tmp_path):
    files = {"wandb/run-20241204_1-abc/files/metrics.csv": curve_csv(True),
             "wandb/latest-run/files/metrics.csv": curve_csv(True)}
    report = diagnose(make_zip(tmp_path / "w.zip", files))
    assert [r.run.rsplit("/", 1)[-1] for r in report.runs] == ["run-20241204_1-abc"]


def _cli(args, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "losscheck", *args], input=stdin, capture_output=True,
                          timeout=120, cwd=REPO)


def test_standard_input_is_sniffed_from_its_content():
    data = (REPO / "sample_runs" / "qwen-style-diverge" / "trainer_state.json").read_bytes()
    for payload in (data, gzip.compress(data)):
        res = _cli(["diagnose", "-", "-f", "json"], payload)
        assert res.returncode == 1, res.stderr
        import json

        (run,) = json.loads(res.stdout)["runs"]
        assert run["run"] == "<stdin>" and run["diagnosis"]["class"] == "diverging"
        assert run["metrics"]["loss"]["source"] == "<stdin>/trainer_state.json"


def test_a_tar_on_standard_input_is_read_as_a_tree(tmp_path):
    """Before: read as one trainer_state.json salvaged from the tar bytes, the other runs
    dropped, exit 0."""
    import json

    tar = make_tar(tmp_path / "s.tgz", SWEEP)
    res = _cli(["diagnose", "-", "-f", "json"], tar.read_bytes())
    assert res.returncode == 1, res.stderr
    runs = {r["run"]: r["status"] for r in json.loads(res.stdout)["runs"]}
    assert runs == {"<stdin>/sweep/a": "healthy", "<stdin>/sweep/b": "failing", "<stdin>/sweep/c": "failing"}


def test_utf16_on_standard_input_is_read():
    res = _cli(["diagnose", "-", "-f", "json"], ("\ufeff" + curve_csv(True).decode()).encode("utf-16-le"))
    assert res.returncode == 1 and b'"diverging"' in res.stdout, res.stderr


def test_standard_input_csv_and_text_logs():
    res = _cli(["diagnose", "-", "-f", "json"], curve_csv(True))
    assert res.returncode == 1 and b'"diverging"' in res.stdout
    res = _cli(["diagnose", "-"], b"")
    assert res.returncode == 2 and b"standard input is empty" in res.stderr
    assert b"Traceback" not in res.stderr
    res = _cli(["diagnose", "-"], b"\x1f\x8b\x08\x00" + b"\xff" * 40)
    assert res.returncode == 2 and b"cannot be decompressed" in res.stderr
    res = _cli(["diagnose", "-"], b"hello\nworld\n")
    assert res.returncode == 2 and b"standard input is not a supported log" in res.stderr


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path, codec):
    """What PowerShell's '>' writes: UTF-16 LE with a BOM."""
    text = curve_csv(True).decode()
    bom = {"utf-16-be": "\ufeff", "utf-32-be": "\ufeff"}.get(codec, "")
    path = tmp_path / "run" / "metrics.csv"
    path.parent.mkdir()
    path.write_bytes((bom + text).encode(codec))
    (r,) = diagnose(path.parent).runs
    assert r.metrics["loss"].points == 200 and r.primary == "diverging"
    assert any("byte-order mark" in n.message for n in r.notes)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read(tmp_path, codec):
    """Before: in a sweep such logs became 'folders without logs' (a failing run hidden),
    and a single CSV was 'empty file (no header line)' (new-user pass)."""
    path = tmp_path / "run" / "metrics.csv"
    path.parent.mkdir()
    path.write_bytes(curve_csv(True).decode().encode(codec))
    (r,) = diagnose(tmp_path).runs
    assert r.metrics["loss"].points == 200 and r.primary == "diverging"
    assert any("without a byte-order mark" in n.message for n in r.notes)


def test_a_binary_file_starting_like_a_bom_is_not_transcoded():
    from losscheck.readers._common import transcode_bom

    blob = b"\xff\xfe" + bytes(range(256)) * 4 + b"\x00\xd8" * 50  # lone surrogates: not text
    assert transcode_bom(blob, Path("x"))[0] == blob
    # a TensorBoard record header: NUL-heavy, but not text in either byte lane
    events = (b"\x18\x00\x00\x00\x00\x00\x00\x00\xa3\x7f\x4b\x22" + bytes(range(1, 200))) * 8
    assert transcode_bom(events, Path("events.out.tfevents.1"))[0] == events


def test_standard_input_is_parsed_once(monkeypatch):
    """The read that picks stdin's reader is the run's read (it was read twice: 2x the time)."""
    import types

    import losscheck.pipeline as pipeline
    from losscheck.readers import csv_generic

    payload = curve_csv(True)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(payload), isatty=lambda: False))
    calls = []
    real = csv_generic.READER.__class__.read

    def counting(self, path):
        calls.append(str(path))
        return real(self, path)

    monkeypatch.setattr(csv_generic.READER.__class__, "read", counting)
    report = pipeline.diagnose("-")
    assert report.runs[0].primary == "diverging"
    assert len(calls) == 1


def test_a_tar_holding_a_name_twice_reads_the_last_copy(tmp_path):
    """tar appends: the later copy of a name is the file (GNU tar extracts it last)."""
    archive = tmp_path / "twice.tar"
    with tarfile.open(archive, "w") as tf:
        for data in (curve_csv(False), curve_csv(True)):
            info = tarfile.TarInfo("r/metrics.csv")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (r,) = diagnose(archive).runs
    assert r.primary == "diverging" and r.metrics["loss"].points == 200


def test_a_gz_member_corrupt_from_its_first_byte_does_not_fail_the_archive(tmp_path):
    archive = make_tar(tmp_path / "s.tar", {"a/metrics.csv.gz": b"\x1f\x8b\x08\x00" + b"\xff" * 100,
                                            "b/metrics.csv": curve_csv(True)}, mode="w")
    report = diagnose(archive)
    assert [r.run.rsplit("/", 1)[-1] for r in report.runs] == ["b"]


def test_utf16_without_a_bom_on_standard_input_is_read():
    res = _cli(["diagnose", "-", "-f", "json"], curve_csv(True).decode().encode("utf-16-le"))
    assert res.returncode == 1 and b'"diverging"' in res.stdout, res.stderr

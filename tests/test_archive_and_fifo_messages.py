"""Archive corner cases and FIFOs in a run folder (new-user trial #14, #15): every run that can
be read is read, and what is not read is named, with the real cause."""

from __future__ import annotations

import gzip
import io
import math
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from losscheck.errors import LosscheckError
from losscheck.pipeline import diagnose


def _csv(seed: int, rows: int = 200) -> bytes:
    return ("step,loss\n" + "".join(f"{s},{2 * math.exp(-s / 40) + 0.4 + 0.01 * ((s * 7 + seed) % 5)}\n"
                                    for s in range(1, rows + 1))).encode()


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def test_a_tar_cut_short_keeps_the_runs_before_the_cut(tmp_path):
    """A truncated download lost every run ('corrupt or truncated tar archive')."""
    raw = _tar([("runA/metrics.csv", _csv(1)), ("runB/metrics.csv", _csv(2)), ("runC/metrics.csv", _csv(3) * 60)])
    p = tmp_path / "cut.tar.gz"
    p.write_bytes(raw[: int(len(raw) * 0.8)])
    report = diagnose(p)
    assert sorted(Path(r.run).name for r in report.runs) == ["runA", "runB"]
    (err,) = report.errors
    assert "truncated" in err.message and "2 run(s) before that point are diagnosed" in err.message


def _one_error(path: Path) -> str:
    """The one error line diagnosing ``path`` gives (raised, or the report's only error)."""
    try:
        report = diagnose(path)
    except LosscheckError as exc:
        return exc.one_line()
    assert not report.runs
    (err,) = report.errors
    return err.message


def test_a_tar_cut_inside_its_first_member_is_still_one_error(tmp_path):
    raw = _tar([("runA/metrics.csv", _csv(1) * 60)])
    p = tmp_path / "cut.tar.gz"
    p.write_bytes(raw[:400])
    line = _one_error(p)
    assert "truncated" in line and "\n" not in line


def test_a_zip_member_stored_twice_is_named(tmp_path):
    p = tmp_path / "dup.zip"
    with zipfile.ZipFile(p, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("run/metrics.csv", _csv(1))
        zf.writestr("run/metrics.csv", _csv(2))
    (run,) = diagnose(p).runs
    assert any("more than once" in n.message and n.path.endswith("run/metrics.csv") for n in run.notes)


def test_fifos_in_a_run_folder_are_named_in_its_notes(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_bytes(_csv(1))
    os.mkfifo(run / "train.log")
    (rep,) = diagnose(tmp_path).runs
    (note,) = [n for n in rep.notes if "FIFO" in n.message]
    assert note.path.endswith("train.log") and note.severity == "warning"


@pytest.mark.parametrize("content, words", [
    (b"\x00\x00\x00", "only NUL bytes"),
    (b'step,loss\n1,"2\n', "no data row can be read"),
    (gzip.compress(gzip.compress(_csv(1))), "gzip-compressed twice"),
], ids=["nul-bytes", "every-row-malformed", "gzip-in-gzip"])
def test_a_bad_csv_gets_its_real_cause_not_header_only(tmp_path, content, words):
    """These said 'header only, no data rows' (after 'decoded as Latin-1' for the gzip, or
    after '1 of 1 data row(s) skipped'), which is not what is wrong."""
    p = tmp_path / ("m.csv.gz" if words.startswith("gzip") else "m.csv")
    p.write_bytes(content)
    line = _one_error(p)
    assert words in line and "header only" not in line and "\n" not in line

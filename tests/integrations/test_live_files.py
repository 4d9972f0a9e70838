"""The report files a training callback writes (:meth:`LiveCheck.write`): atomic, through the
one writer the CLI uses, and the same JSON document ``--format json`` gives plus ``live``."""

from __future__ import annotations

import json
import math

import pytest

from losscheck.integrations._live import REPORT_JSON, REPORT_TEXT, LiveCheck


def _check() -> tuple[LiveCheck, object]:
    check = LiveCheck(action="warn")
    for i in range(200):
        check.observe(i, {"loss": 2.0 * math.exp(-i / 50) + 0.1, "learning_rate": 1e-3})
    return check, check.monitor.analyse()


def test_write_makes_both_files_and_leaves_no_temporary_file(tmp_path):
    check, v = _check()
    paths = check.write(tmp_path / "out", v)
    assert paths == (tmp_path / "out" / REPORT_JSON, tmp_path / "out" / REPORT_TEXT)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([REPORT_JSON, REPORT_TEXT])
    doc = json.loads(paths[0].read_text())
    assert doc["live"]["action"] == "warn" and doc["runs"][0]["status"] == v.status


def test_a_failed_write_keeps_the_previous_report_and_no_temporary_file(tmp_path, monkeypatch):
    check, v = _check()
    out = tmp_path / "out"
    check.write(out, v)
    before = (out / REPORT_JSON).read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)
    with pytest.raises(OSError):
        check.write(out, v)
    assert (out / REPORT_JSON).read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == sorted([REPORT_JSON, REPORT_TEXT])

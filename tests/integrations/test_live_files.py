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


def test_the_report_file_is_the_json_format_document_plus_live(tmp_path):
    """The callback's JSON file holds exactly what ``--format json`` prints (parsed) and
    ``live``: built from the format's dict, not printed and parsed back; NaN stays strict."""
    from losscheck import __version__
    from losscheck.formats.json import JsonFormat
    from losscheck.model import Report

    check = LiveCheck(action="warn")
    for i in range(100):
        check.observe(i, {"loss": 2.0 * math.exp(-i / 50) + 0.1 if i < 80 else float("nan")})
    v = check.monitor.analyse()
    path, _ = check.write(tmp_path, v)
    doc = json.loads(path.read_text())
    live = doc.pop("live")
    rep = Report([v.report], [], __version__, check.monitor.options.fail_on, str(tmp_path))
    assert doc == json.loads(JsonFormat().render(rep))
    assert JsonFormat().document(rep) == json.loads(JsonFormat().render(rep))
    # byte for byte what rendering, parsing back and adding ``live`` wrote before
    assert path.read_text() == json.dumps({**json.loads(JsonFormat().render(rep)), "live": live},
                                          indent=2, default=str) + "\n"
    assert live["step"] == v.step and live["stop"] == v.stop

    def bare(name):
        raise AssertionError(f"bare {name} in the report file")

    json.loads(path.read_text(), parse_constant=bare)  # strict JSON: NaN as the string "NaN"

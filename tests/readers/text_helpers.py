"""Helpers shared by the text-log layout tests: read a synthetic log through the text reader,
or through the whole read + resolve path, and compare values with NaN equal to NaN."""

from __future__ import annotations

import math

import pytest

from losscheck.readers import choose, text_logs
from losscheck.roles import resolve

R = text_logs.READER


def read_result(tmp_path, name, text):
    """The text reader's :class:`ReadResult` of ``text`` written to ``tmp_path/name``; the text
    reader must be the one :func:`choose` picks (an assertion names the file otherwise)."""
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    assert choose(p) is R, name
    return R.read(p)


def read(tmp_path, name, text):
    """Tag -> series of ``text`` read as ``tmp_path/name`` by the text reader."""
    return {s.tag: s for s in read_result(tmp_path, name, text).series}


def read_with_notes(tmp_path, name, text):
    """Tag -> series, and the read notes' ``(severity, message)``, of ``text`` read as
    ``tmp_path/name`` by the text reader."""
    res = read_result(tmp_path, name, text)
    return {s.tag: s for s in res.series}, [(n.severity, n.message) for n in res.notes]


def roles_of(tmp_path, name, text):
    """Role -> series of ``text`` read as ``tmp_path/name`` (the whole read + resolve path)."""
    from losscheck.discovery import discover
    from losscheck.pipeline import read_run

    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    resolved = resolve(read_run(discover(p).runs[0]))
    return {r: a.series for r, a in resolved.roles.items()}


def same(a, b):
    """``a == b`` within pytest's default tolerance, NaN equal to NaN."""
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def read_a_long_line(tmp_path, line: str) -> None:
    """Sniff and read a log of three ``step N loss: x`` lines, ``line`` (about 100k characters)
    and one more step line. The sniff must give 0.0 or 0.3 (not claimed, or weakly: some long
    lines hide the step lines around them from it), and the read must end with the loss of the
    first step line kept (what comes before the long line is read whatever it holds; later
    steps may be taken into the long line's context). 30 s is a hang guard (a quadratic regex
    takes many minutes here), not a speed figure; linear work is checked by each layout file's
    work-counting test."""
    import time

    text = "".join(f"step {s} loss: {1 / s:.3f}\n" for s in (1, 2, 3)) + line + "\n" + "step 4 loss: 0.25\n"
    p = tmp_path / "long.log"
    p.write_text(text)
    t0 = time.perf_counter()
    assert R.sniff(p, p.read_bytes()[:65536]) in (0.0, 0.3)  # (the sniff ends; the read below is checked)
    series = {s.tag: s for s in R.read(p).series}
    assert time.perf_counter() - t0 < 30
    assert "loss" in series, sorted(series)
    got = dict(zip(series["loss"].steps.tolist(), series["loss"].values.tolist()))
    assert got.get(1) == 1.0, got

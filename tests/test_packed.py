"""Packed results of a large kept sweep (issue 17: the parent of a 100k-run sweep in 1 GB):
each run's report is held compressed (:mod:`losscheck.packed`) and the whole-set formats render
exactly what they render from the reports themselves. Memory is asserted by counting the
reports alive, not by measuring bytes."""

from __future__ import annotations

import gc
import json

import pytest

import losscheck.packed as packed
from losscheck.formats import get_format
from losscheck.model import RunReport
from losscheck.pipeline import diagnose
from tests.test_streaming import _sweep

FORMATS = ("json", "text", "markdown", "junit", "sarif", "html", "github", "jsonl")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same 9-run sweep (3 diverging, one unreadable) diagnosed kept whole and packed."""
    root = _sweep(tmp_path_factory.mktemp("sweep"), 9)
    plain = diagnose(root, jobs=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(packed, "PACK_MIN_RUNS", 0)
        small = diagnose(root, jobs=2)
        serial = diagnose(root, jobs=1)
    return plain, small, serial


def test_a_large_sweep_holds_its_runs_packed(both):
    plain, small, serial = both
    assert isinstance(plain.runs, list)
    for rep in (small, serial):
        assert isinstance(rep.runs, packed.PackedRuns) and len(rep.runs) == len(plain.runs) == 9
        assert all(isinstance(p, packed.PackedRun) for p in rep.runs.summaries())
        assert [p.run for p in rep.runs.summaries()] == [r.run for r in plain.runs]


@pytest.mark.parametrize("name", FORMATS)
def test_packed_reports_render_the_same(both, name):
    plain, small, serial = both
    fmt = get_format(name)
    want = fmt.render(plain)
    assert fmt.render(small) == want
    assert fmt.render(serial) == want
    assert "".join(fmt.chunks(small)) == want


def test_packed_totals_gate_and_triage_are_the_same(both):
    plain, small, _ = both
    assert small.failing == plain.failing and small.status_counts == plain.status_counts
    assert small.run_count == plain.run_count and small.error_count == plain.error_count
    assert small.triage == plain.triage
    assert small.runs[0] == plain.runs[0] and small.runs[-2:] == plain.runs[-2:]


def test_json_chunks_are_the_whole_document(both):
    """The streamed JSON text is json.dumps of the whole document (indent 2), piece by piece,
    one piece per run between the frame's two."""
    plain, _, _ = both
    fmt = get_format("json")
    pieces = list(fmt.chunks(plain))
    assert len(pieces) == len(plain.runs) + 2
    assert "".join(pieces) == json.dumps(fmt.document(plain), indent=2, allow_nan=False) + "\n"
    plain.runs, keep = [], plain.runs  # no run: "runs": [] in place
    try:
        assert fmt.render(plain) == json.dumps(fmt.document(plain), indent=2, allow_nan=False) + "\n"
    finally:
        plain.runs = keep


def test_a_packed_report_keeps_no_run_report_alive(tmp_path, monkeypatch):
    """Counted, not measured: after a packed sweep no RunReport object is alive, and rendering
    its JSON holds one at a time (the pieces are consumed as they come)."""
    root = _sweep(tmp_path, 6)
    monkeypatch.setattr(packed, "PACK_MIN_RUNS", 0)
    gc.collect()
    before = sum(isinstance(o, RunReport) for o in gc.get_objects())
    rep = diagnose(root, jobs=1)
    gc.collect()
    assert sum(isinstance(o, RunReport) for o in gc.get_objects()) == before
    most = 0
    for _ in get_format("json").chunks(rep):
        gc.collect()
        most = max(most, sum(isinstance(o, RunReport) for o in gc.get_objects()) - before)
    assert most <= 1

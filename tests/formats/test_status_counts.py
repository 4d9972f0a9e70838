"""Runs per status are counted once (:attr:`Report.status_counts`), kept and streamed alike:
the summary line, the JSONL summary and the HTML filters agree on a streamed report."""

from __future__ import annotations

import json

from losscheck.formats._common import summary_line
from losscheck.formats.jsonl import JsonLinesFormat
from losscheck.model import Report


def _streamed() -> Report:
    """A report as ``diagnose(..., sink=...)`` leaves it: no runs kept, only counts."""
    return Report([], [], "0.1.0", counts={"failing": 2, "warning": 1, "healthy": 4, "errors": 3},
                  streamed_failing=True)


def test_status_counts_joins_kept_and_streamed_runs():
    rep = _streamed()
    assert rep.status_counts == {"failing": 2, "warning": 1, "healthy": 4}
    assert rep.run_count == 7 and rep.error_count == 3


def test_summary_line_of_a_streamed_report_counts_the_streamed_runs():
    line = summary_line(_streamed())
    assert line.startswith("7 run(s): 2 failing, 1 warning, 4 healthy"), line
    assert "3 path(s) not diagnosed" in line


def test_jsonl_summary_of_a_streamed_report():
    doc = json.loads(JsonLinesFormat().end(_streamed()))
    assert (doc["runs"], doc["failing"], doc["warning"], doc["healthy"], doc["errors"]) == (7, 2, 1, 4, 3)

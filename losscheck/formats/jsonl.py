"""``--format jsonl``: JSON Lines, one line per run (or per path that could not be diagnosed)
written as soon as that run is diagnosed, then one summary line: a sweep of 100,000 runs is
read as it goes, and losscheck keeps no result in memory (https://jsonlines.org).

Lines (strict JSON, ASCII, no bare NaN):

- ``{"type": "run", ...}``: the run, as in ``--format json`` (:func:`run_document`);
- ``{"type": "error", "path": ..., "kind": ..., "message": ...}``;
- last, ``{"type": "summary", "runs": N, "failing": a, "warning": b, "healthy": c, "errors": k,
  "gate": "fail"|"pass", "fail_on": ..., "sweep": ...}``; ``sweep`` is the sweep triage as in
  ``--format json`` without its ``table`` (each run line has the run's ``hparams``), or null.

Runs come in completion order (with ``--jobs`` or ``--executor dask``, not sorted by path).
"""

from __future__ import annotations

import json as _json

from losscheck.formats._common import jsonable, run_document, triage_document
from losscheck.formats.interface import Format
from losscheck.model import Report, RunError, RunReport


class JsonLinesFormat(Format):
    """One JSON line per run as it completes, then a summary line."""

    name = "jsonl"
    description = "JSON Lines: one line per run as soon as it is diagnosed (streamed), then a summary line."
    streams = True

    def item(self, result: RunReport | RunError) -> str:
        """One line for a run (``"type": "run"``) or an error (``"type": "error"``)."""
        if isinstance(result, RunError):
            doc = {"type": "error", "path": result.path, "kind": result.kind, "message": result.message}
        else:
            doc = {"type": "run", **run_document(result)}
        return _json.dumps(jsonable(doc), allow_nan=False) + "\n"

    def end(self, report: Report) -> str:
        """The summary line, from the report's kept runs and its streamed counts."""
        counts = report.status_counts
        doc = {"type": "summary", "runs": report.run_count, "failing": counts.get("failing", 0),
               "warning": counts.get("warning", 0), "healthy": counts.get("healthy", 0),
               "errors": report.error_count, "gate": "fail" if report.failing else "pass",
               "fail_on": report.fail_on, "tool": {"name": "losscheck", "version": report.tool_version},
               "sweep": triage_document(report, table=False)}
        return _json.dumps(doc, allow_nan=False) + "\n"

    def render(self, report: Report) -> str:
        """A whole report at once: its runs (sorted by path), its errors, the summary line."""
        return "".join([*(self.item(r) for r in report.runs), *(self.item(e) for e in report.errors),
                        self.end(report)])


FORMAT = JsonLinesFormat()

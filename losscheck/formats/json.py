"""``--format json``: one strict-JSON document (schema version 1) for the whole call.

Its keys, types and vocabularies are published as JSON Schema (draft 2020-12) in
``docs/report.schema.json``; a key added or renamed here is added or renamed there (the
tests in ``tests/formats/test_json_schema.py`` fail until it is)."""

from __future__ import annotations

import json as _json
from collections.abc import Iterator

from losscheck.formats._common import jsonable, run_document, triage_document
from losscheck.formats.interface import Format
from losscheck.model import Report

SCHEMA_VERSION = 1


class JsonFormat(Format):
    """The machine-readable report: strict JSON (no bare NaN), ``schema_version`` 1."""

    name = "json"
    description = "One JSON document: runs with status, diagnosis, metrics, curves, findings, remedies; errors."

    def document(self, report: Report) -> dict:
        """The whole report as the JSON document's plain, JSON-safe dict (what :meth:`render`
        prints; a caller that adds keys, such as a training callback's ``live``, starts here)."""
        return jsonable(self._frame(report, [run_document(r) for r in report.runs]))

    @staticmethod
    def _frame(report: Report, runs: list) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "losscheck", "version": report.tool_version},
            "root": report.root,
            "fail_on": report.fail_on,
            "runs": runs,
            "errors": [{"path": e.path, "kind": e.kind, "message": e.message} for e in report.errors],
            "folders_without_logs": list(report.without_logs),
            # the sweep triage (hyperparameters against outcomes; null for one run or no varying params)
            "sweep": triage_document(report),
        }

    def render(self, report: Report) -> str:
        """The whole report as one indented JSON document, newline-terminated.

        Values are the report's own (paths exactly as on disk); JSON escapes control
        characters (``\\u001b``) and, ASCII-only, everything past ASCII, so the document is
        valid JSON and safe to print whatever the file names hold.
        """
        return "".join(self.chunks(report))

    def chunks(self, report: Report) -> Iterator[str]:
        """:meth:`render`'s text in pieces, one run at a time: the text ``json.dumps(doc,
        indent=2)`` gives, without holding the whole document or its text (a sweep's report
        is written as it is made; a packed sweep, :mod:`losscheck.packed`, then holds one
        unpacked run at a time). Each run's object is dumped alone and indented to its place
        in the ``runs`` list (JSON text has no raw newline inside a string, so every newline
        is the layout's)."""
        frame = _json.dumps(jsonable(self._frame(report, [])), indent=2, allow_nan=False) + "\n"
        at = frame.index(_RUNS)  # the top-level key: its text cannot occur inside a string
        yield frame[:at] + '\n  "runs": ['
        sep = "\n    "
        for r in report.runs:
            yield sep + _json.dumps(jsonable(run_document(r)), indent=2, allow_nan=False).replace("\n", "\n    ")
            sep = ",\n    "
        yield ("]," if sep == "\n    " else "\n  ],") + frame[at + len(_RUNS):]


#: The empty run list's line in the frame of :meth:`JsonFormat.chunks`.
_RUNS = '\n  "runs": [],'


FORMAT = JsonFormat()

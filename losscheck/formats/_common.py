"""Helpers shared by output formats: JSON-safe conversion of report dataclasses, and small
text helpers (paths, remedies, summary) for the CI formats."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from losscheck.errors import escape_controls


def jsonable(x: Any) -> Any:
    """Convert dataclasses, numpy scalars/arrays and non-finite floats to JSON-safe values.

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so the
    output is strict JSON (RFC 8259 has no NaN).
    """
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        f = float(x)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def run_document(r) -> dict:
    """One run of the JSON report (schema version 1), as a plain dict."""
    return {
        "run": r.run,
        "status": r.status,
        "diagnosis": {"class": r.primary, "secondary": list(r.secondary), "onset_step": r.onset_step,
                      "confidence": r.confidence},
        "metrics": {role: {"tag": m.tag, "source": m.source, "points": m.points, "first_step": m.first_step,
                           "last_step": m.last_step, "nonfinite": m.nonfinite, "step_unit": m.step_unit}
                    for role, m in r.metrics.items()},
        "curves": [{"role": c.role, "tag": c.tag, "class": c.klass, "onset_step": c.onset_step,
                    "points": c.points, "finite": c.finite,
                    "evidence": jsonable(_curve_evidence(c)), "notes": list(c.notes)} for c in r.curves],
        "findings": [{"code": f.code, "name": f.name, "severity": f.severity, "role": f.role, "step": f.step,
                      "message": f.message, "evidence": jsonable(f.evidence)} for f in r.findings],
        "remedies": [{"rank": m.rank, "id": m.id, "title": m.title, "evidence": m.evidence,
                      "settings": jsonable(m.settings), "score": m.score} for m in r.remedies],
        "notes": [{"path": n.path, "severity": n.severity, "message": n.message} for n in r.notes],
        "summary": jsonable(r.summary),
        "baselined": [{"code": f.code, "name": f.name, "severity": f.severity, "role": f.role, "step": f.step,
                       "message": f.message} for f in r.baselined],
        "hparams": jsonable(getattr(r, "hparams", {}) or {}),
    }


def _curve_evidence(c) -> dict:
    ev = dict(c.evidence)
    if c.trend is not None:
        ev.setdefault("trend", dataclasses.asdict(c.trend))
    if c.nonfinite is not None:
        ev.setdefault("nonfinite", dataclasses.asdict(c.nonfinite))
    if c.spikes:
        ev.setdefault("spikes", [dataclasses.asdict(s) for s in c.spikes[:20]])
    if c.oscillation is not None:
        ev.setdefault("oscillation", dataclasses.asdict(c.oscillation))
    if c.plateau is not None:
        ev.setdefault("plateau", dataclasses.asdict(c.plateau))
    return ev


# --------------------------------------------------------------------------- CI-format helpers
# Shared by the markdown, github, junit and sarif formats. All pure functions of the report
# (plus the working directory, for relative paths), so output is deterministic.

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(s: Any) -> str:
    """``str(s)`` made safe to write and to show.

    Lone surrogates (undecodable file-name bytes) become U+FFFD: they cannot be encoded as
    UTF-8, so they would make writing the report fail. Control characters (ANSI escapes,
    C1 controls, bidirectional overrides) are escaped as ``\\x1b``/``\\u202e``
    (:func:`losscheck.errors.escape_controls`), so a folder named ``"\\x1b[2J FAKE PASS"``
    cannot clear a terminal or fake a line of output; tab, LF and CR are kept, for each
    format escapes line breaks in its own syntax.
    """
    return escape_controls(_SURROGATE.sub("\ufffd", "" if s is None else str(s)), keep="\t\n\r")


def run_label(run: str, roots: list[str]) -> str:
    """The name a report shows for ``run``: its path relative to the diagnosed root that holds
    it (the deepest, when roots nest), or its folder name when it is a root itself; a run
    under none of the roots is shown by :func:`display_path`. Not escaped (callers escape
    for their syntax)."""
    from pathlib import PurePath

    for root in sorted((r for r in roots if r), key=len, reverse=True):
        try:
            rel = PurePath(run).relative_to(PurePath(root)).as_posix()
        except ValueError:
            continue
        return rel if rel not in ("", ".") else PurePath(run).name or run
    return display_path(run, escape=False)


def display_path(p: str, escape: bool = True) -> str:
    """``p`` with forward slashes, relative to the working directory when it lies inside it.

    CI systems (GitHub annotations, code scanning) resolve paths against the checkout root,
    which is normally the working directory of the CI step. Paths outside it stay absolute.
    With ``escape`` (the default) the result goes through :func:`clean_text`; without, only
    lone surrogates are replaced (for URIs, which percent-encode the rest).
    """
    raw = "" if p is None else str(p)
    if not raw:
        return raw
    try:
        path = Path(raw)
        if path.is_absolute():
            try:
                path = path.relative_to(Path.cwd())
            except ValueError:
                pass
        out = path.as_posix()
    except (OSError, ValueError):
        out = raw.replace("\\", "/")
    return clean_text(out) if escape else _SURROGATE.sub("\ufffd", out)


def finding_sources(run, finding) -> list[str]:
    """The files a finding is about: its role's metric ``source``, else ``[run path]``.

    A series merged from several files has those sources joined with ``", "``
    (:func:`losscheck.series.merge`); they are split again, unless the joined string is
    itself an existing path (a file name containing ``", "``).
    """
    m = run.metrics.get(finding.role) if finding.role else None
    src = m.source if m is not None else ""
    if not src:
        return [run.run]
    if ", " in src and not os.path.exists(src):
        return [p for p in src.split(", ") if p] or [run.run]
    return [src]


def finding_source(run, finding) -> str:
    """The first file a finding is about (see :func:`finding_sources`)."""
    return finding_sources(run, finding)[0]


def finding_remedy(run, finding):
    """The best-ranked run remedy that ``finding`` voted for, else the run's top remedy, else None."""
    voted = {v.id for v in finding.remedies}
    for m in sorted(run.remedies, key=lambda m: m.rank):
        if m.id in voted:
            return m
    return top_remedy(run)


def top_remedy(run):
    """The run's rank-1 remedy (lowest rank number), or ``None``."""
    return min(run.remedies, key=lambda m: m.rank) if run.remedies else None


def settings_text(settings: dict) -> str:
    """``k=v, k=v`` for a remedy's settings, floats in ``%g`` form, lists bracketed."""
    def one(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return f"{float(v):g}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(one(x) for x in v) + "]"
        return clean_text(v)
    return ", ".join(f"{clean_text(k)}={one(v)}" for k, v in settings.items())


def diagnosis_text(run) -> str:
    """``class`` or ``class (also: a, b)``."""
    out = clean_text(run.primary)
    if run.secondary:
        out += " (also: " + ", ".join(clean_text(s) for s in run.secondary) + ")"
    return out


#: Classes that are no verdict: a report for people shows no confidence beside them (a
#: "HEALTHY insufficient (confidence 0.80)" header read as a sure pass on one point). The
#: machine formats (JSON, SARIF) keep the calibrated number: the probability that the run
#: indeed has too little data.
NO_VERDICT = frozenset({"insufficient"})


def shown_confidence(run) -> float | None:
    """The confidence a report for people shows: the run's, or ``None`` when it has none or
    its class is no verdict (:data:`NO_VERDICT`)."""
    c = getattr(run, "confidence", None)
    return None if c is None or getattr(run, "primary", None) in NO_VERDICT else float(c)


def confidence_text(run) -> str:
    """`` (confidence 0.83)`` for a run with a confidence (:mod:`losscheck.analysis.confidence`)
    and a verdict, else ``""`` (:func:`shown_confidence`)."""
    c = shown_confidence(run)
    return "" if c is None else f" (confidence {c:.2f})"


_STATUS_RANK = {"failing": 0, "warning": 1, "healthy": 2}


def failing_first(runs: list) -> list:
    """``runs`` sorted failing first, then warning, then healthy; the most confident first
    within a status, then by path (the order every report for people lists runs in)."""
    return sorted(runs, key=lambda r: (_STATUS_RANK.get(r.status, 3), -(r.confidence or 0.0), r.run))


def summary_line(report) -> str:
    """``N run(s): a failing, b warning, c healthy; k path(s) not diagnosed; m folder(s)
    without logs skipped``, counting kept and streamed results (:attr:`Report.status_counts`,
    :attr:`Report.run_count`, :attr:`Report.error_count`)."""
    counts = report.status_counts
    n_fail, n_warn = counts.get("failing", 0), counts.get("warning", 0)
    out = (f"{report.run_count} run(s): {n_fail} failing, {n_warn} warning, "
           f"{report.run_count - n_fail - n_warn} healthy")
    passed = sum(1 for r in report.runs if r.baselined and r.status != "failing")
    if passed:  # not failing only because --baseline had the same findings
        out += f" ({passed} not failing only against the baseline)"
    if report.error_count:
        out += f"; {report.error_count} path(s) not diagnosed"
    if report.without_logs:
        out += (f"; {len(report.without_logs)} folder(s) without logs skipped"
                " (--debug lists them)")
    return out


# --------------------------------------------------------------------------- sweep triage
# What the formats for people show of :attr:`Report.triage` (the JSON document holds it all).

#: Most runs (rows) and hyperparameters (columns) of the triage table a format for people shows.
TRIAGE_ROWS = 40
TRIAGE_COLUMNS = 8


#: Longest hyperparameter value shown in a triage table cell (characters; cut with an ellipsis).
TRIAGE_CELL = 40


def triage_value(v: Any) -> str:
    """A hyperparameter value for a table cell: floats in ``%g`` form, ``—`` when absent, at
    most :data:`TRIAGE_CELL` characters. Not escaped."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:g}"
    s = str(v)
    return s if len(s) <= TRIAGE_CELL else s[:TRIAGE_CELL - 1] + "…"


def triage_table(report) -> tuple[list[str], list[list[str]], list[str]]:
    """The triage table as plain text cells (not escaped): ``(header, rows, cut)``, ``header``
    = run, status, class, onset, then up to :data:`TRIAGE_COLUMNS` varying hyperparameters
    (separating ones first); ``rows``: up to :data:`TRIAGE_ROWS` runs (ordered by the first
    separating one); ``cut``: sentences saying what was left out."""
    t = report.triage
    roots = report.roots or [report.root]
    params = t.params[:TRIAGE_COLUMNS]
    header = ["run", "status", "class", "onset", *params]
    rows = [[run_label(r.run, roots), r.status, r.klass,
             "" if r.onset is None else f"{r.onset:.0%}", *(triage_value(r.params.get(p)) for p in params)]
            for r in t.rows[:TRIAGE_ROWS]]
    cut = []
    if len(t.rows) > TRIAGE_ROWS:
        cut.append(f"{len(t.rows) - TRIAGE_ROWS} more run(s) not listed (--format json has them all)")
    if len(t.params) > TRIAGE_COLUMNS:
        cut.append(f"{len(t.params) - TRIAGE_COLUMNS} more varying hyperparameter(s) not shown: "
                   + ", ".join(t.params[TRIAGE_COLUMNS:TRIAGE_COLUMNS + 10])
                   + (", ..." if len(t.params) > TRIAGE_COLUMNS + 10 else ""))
    return header, rows, cut


def triage_headline(t) -> str:
    """``N runs with hyperparameters, k failing; P vary``."""
    return (f"{t.runs} run(s) with hyperparameters, {t.failing} failing; {len(t.params)} hyperparameter(s) vary")


def group_text(g, roots: list[str]) -> str:
    """One failure group for people: ``12 run(s): diverging, early onset, LC101 (e.g. a, b)``.
    Not escaped."""
    onset = "no onset" if g.onset == "none" else f"{g.onset} onset"
    codes = "+".join(g.codes) if g.codes else "no error code"
    ex = ", ".join(run_label(r, roots) for r in g.examples)
    return f"{g.count} run(s): {g.klass}, {onset}, {codes} (e.g. {ex})"


def triage_document(report, table: bool = True) -> dict | None:
    """The JSON document's ``sweep`` object (``None`` without a triage): counts, the varying
    ``params``, the ``table`` (one row per run: run, status, class, ``onset_fraction``,
    ``codes``, ``params``; left out with ``table=False``, for the JSON Lines summary, whose run
    lines hold each run's ``hparams``), the ``separations`` and the failure ``groups``."""
    t = report.triage
    if t is None:
        return None
    doc = jsonable({
        "runs": t.runs, "failing": t.failing, "without_params": t.without_params, "params": list(t.params),
        "table": [{"run": r.run, "status": r.status, "class": r.klass, "onset_fraction": r.onset,
                   "codes": list(r.codes), "params": dict(r.params)} for r in t.rows],
        "separations": [{"param": s.param, "kind": s.kind, "fail_side": s.fail_side, "fail_bound": s.fail_bound,
                         "pass_bound": s.pass_bound, "fail_runs": s.fail_runs, "fail_failing": s.fail_failing,
                         "pass_runs": s.pass_runs, "pass_passing": s.pass_passing, "exceptions": list(s.exceptions), "wrong_side": s.wrong_side,
                         "fail_classes": dict(s.fail_classes), "pass_classes": dict(s.pass_classes),
                         "p_value": s.p_value, "strong": s.strong, "missing": s.missing, "text": s.text,
                         "outcome": s.outcome}
                        for s in t.separations],
        "groups": [{"class": g.klass, "onset": g.onset, "codes": list(g.codes), "count": g.count,
                    "examples": list(g.examples)} for g in t.groups],
        "notes": list(t.notes),
    })
    if not table:
        del doc["table"]
    return doc

"""``--format sarif``: SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format) for code scanning.

Follows the OASIS SARIF 2.1.0 standard (https://docs.oasis-open.org/sarif/sarif/v2.1.0/) and the
subset GitHub code scanning ingests:

- ``runs[0].tool.driver``: name ``losscheck``, ``version``/``semanticVersion`` from the report,
  ``informationUri`` (the package's declared documentation URL, left out when it declares none), and ``rules``: one ``reportingDescriptor`` per rule of the catalogue
  (``id`` = code, ``name`` = the kebab name in PascalCase, short/full descriptions, ``help``
  from the rule's what/why/fix, ``defaultConfiguration.level``). A finding whose code is not
  in the catalogue gets a minimal descriptor appended, so every ``ruleIndex`` resolves.
- ``results``: one per finding: ``ruleId``, ``ruleIndex``, ``level`` (error/warning/note),
  ``message.text`` (with the top remedy), one location (the log file the finding is about,
  (the first file when the series was merged from several, the others as
  ``relatedLocations``), ``region.startLine`` 1 because code scanning requires a line and a training curve has
  none), ``partialFingerprints`` (stable across re-runs: code + run + role), and
  ``properties`` (run, status, class, step, role, remedies).
- findings already in a ``--baseline`` (``run.baselined``) are not results: code scanning
  would reopen them as alerts; they do not count towards the run's status either.
- ``invocations[0]``: ``executionSuccessful`` is false only when no run could be diagnosed;
  each undiagnosed path is a ``toolExecutionNotifications`` entry of level ``error``.

URIs: a path inside the working directory becomes a relative, percent-encoded POSIX URI
with ``uriBaseId`` ``%SRCROOT%`` (the checkout root, as code scanning expects); any other
absolute path becomes a ``file://`` URI.
Text (messages, run names, properties) has its control characters escaped as
``\\x1b``/``\\u202e`` (:func:`~losscheck.formats._common.clean_text`); URIs percent-encode them
(``%1B``), so they still name the real file.
"""

from __future__ import annotations

import hashlib
import json as _json
import re
from pathlib import PurePosixPath
from urllib.parse import quote

from losscheck.formats._common import (clean_text, display_path, finding_remedy, finding_sources,
                                       jsonable)
from losscheck.formats.interface import Format
from losscheck.model import Report, RunReport

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
def information_uri() -> str | None:
    """Where users learn about the tool: the installed package's ``Documentation`` (else
    ``Homepage``) project URL from its metadata (``[project.urls]``), or ``None`` when it declares
    none; the SARIF field is optional and is left out rather than pointed at a page that does
    not exist (it once named a package index page that was never published)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("losscheck").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    found = dict(u.split(", ", 1) for u in urls if ", " in u)
    for key in ("Documentation", "Homepage"):
        if found.get(key, "").startswith("https://"):
            return found[key]
    return None


#: losscheck severity -> SARIF ``level``.
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
#: How many ranked remedies a result carries in ``properties.remedies``.
TOP_REMEDIES = 3


def pascal_case(name: str) -> str:
    """``loss-diverging`` -> ``LossDiverging`` (SARIF suggests identifier-like rule names)."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", name) if p)


def artifact_location(path: str) -> dict:
    """A SARIF ``artifactLocation`` for a file path (see the module docstring for the rules)."""
    p = display_path(path, escape=False)  # percent-encoding escapes control characters
    if p.startswith("/"):
        return {"uri": "file://" + quote(p, safe="/")}
    if re.match(r"^[A-Za-z]:/", p):  # a Windows drive path outside the working directory
        return {"uri": "file:///" + quote(p, safe="/:")}
    return {"uri": quote(PurePosixPath(p).as_posix() if p else ".", safe="/"), "uriBaseId": "%SRCROOT%"}


def rule_descriptor(rule) -> dict:
    """A ``reportingDescriptor`` for a catalogue rule (code, name, descriptions, help, level)."""
    text = f"What it detects: {rule.what}\n\nWhy it matters: {rule.why}\n\nWhat to do: {rule.fix}"
    md = (f"**{rule.code} {rule.name}**: {rule.summary}\n\n### What it detects\n\n{rule.what}\n\n"
          f"### Why it matters\n\n{rule.why}\n\n### What to do\n\n{rule.fix}\n")
    props = {"tags": ["training", "deep-learning"], "kebabName": rule.name}
    if rule.sources:
        props["sources"] = list(rule.sources)
    return {"id": rule.code, "name": pascal_case(rule.name),
            "shortDescription": {"text": rule.summary}, "fullDescription": {"text": rule.what},
            "help": {"text": text, "markdown": md},
            "defaultConfiguration": {"level": LEVELS.get(rule.severity, "warning")},
            "properties": props}


def _ad_hoc_descriptor(finding) -> dict:
    return {"id": clean_text(finding.code), "name": pascal_case(clean_text(finding.name)) or clean_text(finding.code),
            "shortDescription": {"text": f"{clean_text(finding.code)} {clean_text(finding.name)}"},
            "defaultConfiguration": {"level": LEVELS.get(finding.severity, "warning")}}


def _fingerprint(r: RunReport, f) -> str:
    key = "\x1f".join(clean_text(x) for x in (f.code, display_path(r.run), f.role or ""))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class SarifFormat(Format):
    """Renders a :class:`~losscheck.model.Report` as one SARIF 2.1.0 log with one run.

    Every finding of every run is a result; every error is a tool-execution notification.
    Output is strict JSON (non-finite numbers become strings), keys in a fixed order.
    """

    name = "sarif"
    description = "SARIF 2.1.0 for code scanning: every rule as a descriptor, one result per finding."

    def render(self, report: Report) -> str:
        """The SARIF log as indented JSON, newline-terminated."""
        from losscheck.rules import all_rules

        rules = [rule_descriptor(r) for r in all_rules()]
        index = {d["id"]: i for i, d in enumerate(rules)}
        results = []
        for r in report.runs:
            for f in r.findings:
                code = clean_text(f.code)
                if code not in index:
                    index[code] = len(rules)
                    rules.append(_ad_hoc_descriptor(f))
                results.append(self._result(r, f, code, index[code]))
        notifications = [{"level": "error", "message": {"text": clean_text(e.message)},
                          "locations": [{"physicalLocation": {"artifactLocation": artifact_location(e.path)}}],
                          "properties": {"kind": clean_text(e.kind), "path": clean_text(e.path)}}
                         for e in report.errors]
        invocation = {"executionSuccessful": bool(report.runs), "toolExecutionNotifications": notifications,
                      "properties": {"failOn": report.fail_on, "gateFailed": report.failing}}
        doc = {
            "$schema": SCHEMA,
            "version": SARIF_VERSION,
            "runs": [{
                "tool": {"driver": {"name": "losscheck", "version": clean_text(report.tool_version),
                                    "semanticVersion": clean_text(report.tool_version),
                                    **({"informationUri": uri} if (uri := information_uri()) else {}),
                                    "rules": rules}},
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }],
        }
        return _json.dumps(jsonable(doc), indent=2, ensure_ascii=False, allow_nan=False,
                            default=lambda o: clean_text(o)) + "\n"

    def _result(self, r: RunReport, f, code: str, rule_index: int) -> dict:
        """One SARIF ``result`` for finding ``f`` of run ``r``."""
        text = clean_text(f.message).rstrip()
        top = finding_remedy(r, f)
        if top is not None:  # its own sentence: the message may end without a full stop
            if text and text[-1] not in ".!?":
                text += "."
            text += f" Top remedy: {clean_text(top.title)} ({clean_text(top.id)})."
        remedies = [{"rank": m.rank, "id": m.id, "title": m.title, "evidence": m.evidence,
                     "settings": m.settings}
                    for m in sorted(r.remedies, key=lambda m: m.rank)[:TOP_REMEDIES]]
        metric = r.metrics.get(f.role) if f.role else None
        sources = finding_sources(r, f)
        props = {"run": clean_text(r.run), "status": r.status, "class": r.primary, "confidence": r.confidence,
                 "secondary": list(r.secondary), "step": f.step, "role": f.role,
                 "tag": metric.tag if metric else None,
                 "topRemedy": top.id if top is not None else None, "remedies": remedies,
                 "evidence": f.evidence}
        return {
            "ruleId": code,
            "ruleIndex": rule_index,
            "level": LEVELS.get(f.severity, "warning"),
            "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": artifact_location(sources[0]),
                                                "region": {"startLine": 1}}}],
            **({"relatedLocations": [{"id": i, "message": {"text": "also merged into this series"},
                                      "physicalLocation": {"artifactLocation": artifact_location(p)}}
                                     for i, p in enumerate(sources[1:], 1)]} if len(sources) > 1 else {}),
            "partialFingerprints": {"losscheckFinding/v1": _fingerprint(r, f)},
            "properties": _clean_strings(jsonable(props)),
        }


def _clean_strings(x):
    """Recursively replace lone surrogates in strings (they cannot be written as UTF-8)."""
    if isinstance(x, str):
        return clean_text(x)
    if isinstance(x, dict):
        return {clean_text(k): _clean_strings(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean_strings(v) for v in x]
    return x


FORMAT = SarifFormat()

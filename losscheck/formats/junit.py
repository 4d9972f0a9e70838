"""``--format junit``: JUnit XML, as read by Jenkins (junit plugin), GitLab CI and Azure/GitHub test reporters.

Follows the de-facto JUnit XML schema those tools use (the Ant/Jenkins ``junit.xsd``):
``<testsuites>`` > ``<testsuite>`` > ``<testcase>`` with ``<failure>``, ``<error>``,
``<skipped>``, ``<system-out>`` children, and ``tests``/``failures``/``errors``/``skipped``
counts on both the suite and the suites element.

Mapping:

- one ``<testsuite name="losscheck">``; one ``<testcase classname="losscheck" name="<run path>">``
  per run;
- a run that fails the ``--fail-on`` gate (:func:`losscheck.model.run_fails`) gets
  ``<failure type="<top finding code>" message="<class>: <top finding>">`` whose text lists
  every finding and the ranked remedies;
- a run that passes the gate but has findings (a warning run under ``--fail-on error``, any
  run under ``--fail-on never``) passes, and its findings and remedies go to
  ``<system-out>``: test reporters show that output without turning the build red, which is
  what the gate asked for;
- a path that could not be diagnosed is a testcase (named by that path) with
  ``<error type="<kind>" message="...">``, whatever ``--fail-on`` says: the check could not
  run, which is what JUnit errors mean.

No ``time`` or ``timestamp`` attributes: losscheck does not time runs, and the output stays
deterministic. Characters XML 1.0 forbids (control characters, lone surrogates) are replaced
by U+FFFD, other control characters (CR, DEL, C1, bidirectional overrides) are escaped as
``\\r``/``\\x9b``/``\\u202e``; ElementTree escapes ``<``, ``&``, ``>``, quotes and newlines in attributes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from losscheck.errors import escape_controls
from losscheck.formats._common import clean_text, diagnosis_text, settings_text
from losscheck.formats.interface import Format
from losscheck.model import Report, RunReport, run_fails

SUITE = "losscheck"

#: Code points outside the XML 1.0 ``Char`` production (tab, LF, CR are allowed).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(s) -> str:
    """``s`` with characters XML 1.0 cannot carry (C0 controls such as ESC, lone surrogates)
    replaced by U+FFFD, and the other control characters (CR, DEL, C1, bidirectional
    overrides) escaped as ``\\r``/``\\x9b``/``\\u202e``: XML would carry them, but a
    terminal showing the file would obey them."""
    return escape_controls(clean_text(_XML_ILLEGAL.sub("\ufffd", "" if s is None else str(s))), keep="\t\n")


def run_details(r: RunReport) -> str:
    """Plain-text body for a run: verdict, every finding, the ranked remedies, warning notes."""
    lines = [f"{r.run}: {r.status}, {diagnosis_text(r)}"
             + (f", onset at step {r.onset_step}" if r.onset_step is not None else "")]
    if r.findings:
        lines.append("Findings:")
        for f in r.findings:
            at = f" (step {f.step})" if f.step is not None else ""
            lines.append(f"  {f.code} {f.name} [{f.severity}]{at}: {f.message}")
    else:
        lines.append("No findings.")
    if r.baselined:
        lines.append("Already in the baseline (not counted): "
                     + ", ".join(f"{f.code} {f.name}" for f in r.baselined))
    if r.remedies:
        lines.append("Remedies:")
        for m in sorted(r.remedies, key=lambda m: m.rank):
            lines.append(f"  {m.rank}. {m.title} [{m.id}]: {m.evidence}")
            if m.settings:
                lines.append(f"     try: {settings_text(m.settings)}")
    for n in r.notes:
        if n.severity == "warning":
            lines.append(f"note: {n.path}: {n.message}")
    return xml_text("\n".join(lines) + "\n")


def _counts(el: ET.Element, tests: int, failures: int, errors: int) -> None:
    el.set("tests", str(tests))
    el.set("failures", str(failures))
    el.set("errors", str(errors))
    el.set("skipped", "0")


class JunitFormat(Format):
    """Renders a :class:`~losscheck.model.Report` as JUnit XML (Jenkins/GitLab flavour).

    One testcase per run and per undiagnosed path; ``report.fail_on`` decides which runs are
    failures (see the module docstring for the mapping).
    """

    name = "junit"
    description = "JUnit XML: one test case per run (failing runs fail, per --fail-on), errors as test errors."

    def render(self, report: Report) -> str:
        """The XML document (with declaration), UTF-8, newline-terminated."""
        suites = ET.Element("testsuites", {"name": SUITE})
        suite = ET.SubElement(suites, "testsuite", {"name": SUITE})
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "losscheck.version", "value": xml_text(report.tool_version)})
        ET.SubElement(props, "property", {"name": "fail_on", "value": xml_text(report.fail_on)})
        failures = 0
        for r in report.runs:
            case = ET.SubElement(suite, "testcase", {"classname": SUITE, "name": xml_text(r.run)})
            details = run_details(r)
            if run_fails(r.status, report.fail_on, r.confidence):
                failures += 1
                top = r.findings[0] if r.findings else None
                if top is not None:
                    attrs = {"type": xml_text(top.code),
                             "message": xml_text(f"{diagnosis_text(r)}: {top.code} {top.name}: {top.message}")}
                else:
                    attrs = {"type": xml_text(r.primary), "message": xml_text(f"{diagnosis_text(r)}: {r.status}")}
                ET.SubElement(case, "failure", attrs).text = details
            elif r.findings or r.remedies or r.baselined:
                ET.SubElement(case, "system-out").text = details
        for e in report.errors:
            case = ET.SubElement(suite, "testcase", {"classname": SUITE, "name": xml_text(e.path)})
            ET.SubElement(case, "error", {"type": xml_text(e.kind), "message": xml_text(e.message)}).text = \
                xml_text(f"{e.path}: {e.message}\n")
        n = len(report.runs) + len(report.errors)
        _counts(suite, n, failures, len(report.errors))
        _counts(suites, n, failures, len(report.errors))
        ET.indent(suites, space="  ")
        body = ET.tostring(suites, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


FORMAT = JunitFormat()

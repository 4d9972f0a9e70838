"""``--format github``: GitHub Actions workflow commands, which the runner turns into annotations.

Follows "Workflow commands for GitHub Actions" (docs.github.com, ``::error``/``::warning``/
``::notice`` with ``file`` and ``title`` properties). One line per finding, one per error, and
a final ``::notice::`` summary. Escaping, as the runner decodes it:

- message (data): ``%`` -> ``%25``, ``\\r`` -> ``%0D``, ``\\n`` -> ``%0A``;
- property values: the same plus ``:`` -> ``%3A`` and ``,`` -> ``%2C``.

Before that, control characters other than CR, LF and tab (ANSI escapes, C1 controls,
bidirectional overrides) are escaped as ``\\x1b``/``\\u202e``: the runner's log viewer renders
ANSI sequences, so a folder name must not be able to colour or fake a log line.

``file`` is the log file the finding is about (the metric's source for the finding's role,
the first file when a series was merged from several; else the run path), relative to the working directory when inside it, so annotations attach
to the checked-out file. Annotations never fail a step by themselves: the exit code
(``--fail-on``) does, so the severity shown is the finding's own.
Findings already present in a ``--baseline`` (``run.baselined``) are not annotated: they
were accepted before and would only repeat.

GitHub shows at most 10 annotations of each level (error, warning, notice) per step and 50
per job, and drops the rest silently (the limits are listed in actions/toolkit,
``docs/problem-matchers.md``, "Limitations"). So at most :data:`MAX_PER_LEVEL` lines of each level are written, the
worst first (failing runs, then warning runs, then by confidence), 9 notices so that the
closing summary notice is always the 10th; what was left out is counted in the summary line.
When ``GITHUB_STEP_SUMMARY`` names a file, the whole report is appended to it as Markdown
(:meth:`GithubFormat.appendices`), so nothing left out is lost.
"""

from __future__ import annotations

from losscheck.formats._common import (clean_text, diagnosis_text, display_path, failing_first, finding_remedy,
                                       finding_source, summary_line)
from losscheck.formats.interface import Format
from losscheck.model import Report, RunReport

#: Finding severity -> workflow command.
COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}

#: Annotations GitHub shows per level and step; the rest are dropped by GitHub.
MAX_PER_LEVEL = 10


def escape_data(s) -> str:
    """Escape a workflow-command message: ``%``, CR and LF (``%`` first)."""
    return clean_text(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s) -> str:
    """Escape a workflow-command property value: as data, plus ``:`` and ``,``."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def command(cmd: str, message: str, **props: str) -> str:
    """One workflow command line ``::cmd k=v,k=v::message`` (properties in the given order)."""
    p = ",".join(f"{k}={escape_property(v)}" for k, v in props.items() if v is not None and v != "")
    return f"::{cmd}{' ' + p if p else ''}::{escape_data(message)}"


def finding_message(r: RunReport, f) -> str:
    """The annotation text of one finding: run, class, step, message and its top remedy."""
    msg = f"{clean_text(r.run)} [{r.status}, {diagnosis_text(r)}]"
    if f.step is not None:
        msg += f" at step {f.step}"
    msg += f": {clean_text(f.message)}"
    m = finding_remedy(r, f)
    if m is not None:
        msg += f" | Top remedy: {clean_text(m.title)} ({clean_text(m.id)}): {clean_text(m.evidence)}"
    return msg


class GithubFormat(Format):
    """Renders a :class:`~losscheck.model.Report` as GitHub Actions workflow commands.

    Lines: one ``::error``/``::warning``/``::notice`` per finding (by severity), one
    ``::error`` per path that could not be diagnosed, then one ``::notice::`` summary.
    A healthy run without findings produces no line of its own; it is counted in the summary.
    """

    name = "github"
    description = "GitHub Actions workflow commands: one annotation per finding and error, plus a summary notice."

    def render(self, report: Report) -> str:
        """All workflow-command lines, newline-terminated: at most :data:`MAX_PER_LEVEL` per
        level (the summary notice included), the worst first."""
        by_level: dict[str, list[str]] = {"error": [], "warning": [], "notice": []}
        runs = failing_first(report.runs)
        for r in runs:
            for f in r.findings:
                cmd = COMMANDS.get(f.severity, "warning")
                by_level[cmd].append(command(cmd, finding_message(r, f), file=display_path(finding_source(r, f)),
                                             title=f"{clean_text(f.code)} {clean_text(f.name)}"))
        for e in report.errors:
            by_level["error"].append(command("error", f"{clean_text(e.kind)}: {clean_text(e.message)}",
                                             file=display_path(e.path)))
        caps = {"error": MAX_PER_LEVEL, "warning": MAX_PER_LEVEL, "notice": MAX_PER_LEVEL - 1}
        lines, left = [], []
        for level in ("error", "warning", "notice"):
            lines += by_level[level][:caps[level]]
            if len(by_level[level]) > caps[level]:
                left.append(f"{len(by_level[level]) - caps[level]} {level}(s)")
        summary = f"losscheck {clean_text(report.tool_version)}: {summary_line(report)}"
        if report.fail_on != "never":
            summary += f" (--fail-on {report.fail_on}: {'FAIL' if report.failing else 'pass'})"
        if left:
            summary += (f"; not annotated (GitHub shows {MAX_PER_LEVEL} per level): " + ", ".join(left)
                        + "; the full report is in the step summary")
        lines.append(command("notice", summary))
        return "\n".join(lines) + "\n"

    def appendices(self, report: Report, environ) -> list[tuple[str, str]]:
        """``[(GITHUB_STEP_SUMMARY, the Markdown report)]`` when that variable names a file
        (GitHub renders it on the run's page), else ``[]``."""
        path = environ.get("GITHUB_STEP_SUMMARY")
        if not path:
            return []
        from losscheck.formats.markdown import FORMAT as MARKDOWN

        return [(path, MARKDOWN.render(report))]


FORMAT = GithubFormat()

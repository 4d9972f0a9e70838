"""``--format markdown``: GitHub-Flavored Markdown for PR comments and ``$GITHUB_STEP_SUMMARY``.

Layout: a heading, a one-line summary with the gate verdict, a table with one row per run
(run, status, class, onset, top remedy), failing runs first, then one section per failing or
warning run with its findings table, its ranked remedies (settings as a nested item) and its
read notes (a healthy run is its table row), then a section listing the paths that could not be
diagnosed. The document stays under :data:`MAX_CHARS` characters (GitHub rejects a comment over
65,536): rows and sections that would pass it are left out and counted in an "N more" line.

Text from the report (paths, messages, evidence) is escaped for GFM
(https://github.github.com/gfm/): ASCII punctuation that could start markup gets a backslash,
``|`` becomes ``\\|`` (GFM tables split cells on unescaped pipes) and line breaks become
``<br>`` (a table row is one line); other control characters (ANSI escapes, C1 controls,
bidirectional overrides) are shown as ``\\x1b``/``\\u202e``, never written raw. No emoji, no
timestamps: the output depends only on the report.
"""

from __future__ import annotations

import re

from losscheck.formats._common import (clean_text, confidence_text, diagnosis_text, display_path, failing_first,
                                       group_text, settings_text, summary_line, top_remedy, triage_headline,
                                       triage_table)
from losscheck.formats.interface import Format
from losscheck.model import Report, RunReport, run_fails

#: Characters escaped with a backslash in inline text: enough to keep report text from
#: becoming emphasis, links, code, HTML, entities, strikethrough or a table-cell break.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~])")
_NEWLINES = re.compile(r"\r\n|\r|\n")

#: The most characters a Markdown report holds: GitHub's comment limit (65,536) less room for
#: what a CI step adds around it.
MAX_CHARS = 60_000


def md_text(s) -> str:
    """``s`` escaped for inline GFM (also safe inside a table cell): one line, no markup."""
    s = _MD_SPECIAL.sub(r"\\\1", clean_text(s))
    return _NEWLINES.sub("<br>", s)


def md_code(s) -> str:
    """``s`` as an inline code span (fence longer than any backtick run), for ids and settings.

    Not for table cells: GFM keeps ``\\|`` inside code spans in tables but shows the backslash
    elsewhere, so table cells use :func:`md_text` instead.
    """
    s = _NEWLINES.sub(" ", clean_text(s))
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _row(cells: list) -> str:
    return "| " + " | ".join(cells) + " |"


def _gate(report: Report) -> str:
    if report.fail_on == "never":
        return "gate disabled (`--fail-on never`)"
    verdict = "FAIL" if report.failing else "pass"
    return f"gate `--fail-on {md_text(report.fail_on)}`: **{verdict}**"


class MarkdownFormat(Format):
    """Renders a :class:`~losscheck.model.Report` as GitHub-Flavored Markdown (GFM spec 0.29).

    Every run appears once in the summary table and once as a section; every error appears in
    the "Not diagnosed" section. Remedies are listed in rank order with their evidence and
    settings; findings in report order (most severe first).
    """

    name = "markdown"
    description = "GitHub-Flavored Markdown: summary table of runs, findings and remedies per run (PR comments, step summaries)."

    def render(self, report: Report, max_chars: int = MAX_CHARS) -> str:
        """The whole report as one GFM document ending in a newline, at most ``max_chars``
        characters (runs and errors past it are counted, not shown)."""
        out = [f"## losscheck {md_text(report.tool_version)}", "",
               f"**{md_text(summary_line(report))}** — {_gate(report)}", ""]
        runs = failing_first(report.runs)
        budget = max_chars - 400  # room for the "more" lines and the errors' heading
        size = sum(len(x) + 1 for x in out)
        if runs:
            table = [_row(["run", "status", "class", "onset (step/epoch)", "top remedy"]), "|---|---|---|---|---|"]
            size += sum(len(x) + 1 for x in table)
            shown = 0
            for r in runs:
                top = top_remedy(r)
                status = r.status + (" (gate)" if run_fails(r.status, report.fail_on, r.confidence) else "")
                row = _row([md_text(display_path(r.run)), md_text(status), md_text(diagnosis_text(r) + confidence_text(r)),
                            "" if r.onset_step is None else str(r.onset_step),
                            md_text(f"{top.title} ({top.id})") if top else "—"])
                if size + len(row) + 1 > budget // 2:  # the table takes at most half
                    break
                table.append(row)
                size += len(row) + 1
                shown += 1
            out += table + [""]
            if shown < len(runs):
                out += [f"{len(runs) - shown} more run(s) not listed (the report's size limit); "
                        "`--format html` or `--format json` has them all.", ""]
        if report.triage is not None:
            sec = self._triage(report)
            if size + sum(len(x) + 1 for x in sec) > budget:  # its table left out: the findings stay
                sec = self._triage(report, table=False)
            out += sec
            size += sum(len(x) + 1 for x in sec)
        left = 0
        for r in runs:
            if r.status == "healthy":
                continue
            sec = self._run(r)
            n = sum(len(x) + 1 for x in sec)
            if left or size + n > budget:
                left += 1
                continue
            out += sec
            size += n
        if left:
            out += [f"{left} more run section(s) not shown (the report's size limit).", ""]
        if report.errors:
            out += ["### Not diagnosed", ""]
            size += 20
            for i, e in enumerate(report.errors):
                line = f"- **{md_text(display_path(e.path))}** ({md_text(e.kind)}): {md_text(e.message)}"
                if size + len(line) + 1 > max_chars - 200:
                    out.append(f"- {len(report.errors) - i} more path(s) not diagnosed")
                    break
                out.append(line)
                size += len(line) + 1
            out.append("")
        return "\n".join(out).rstrip("\n") + "\n"

    def _triage(self, report: Report, table: bool = True) -> list[str]:
        """The sweep triage section: the varying hyperparameters against each run's outcome
        (at most :data:`~losscheck.formats._common.TRIAGE_ROWS` rows; none without ``table``),
        the separations, the failure groups. Bounded whatever the sweep's size."""
        t = report.triage
        assert t is not None
        roots = report.roots or [report.root]
        header, rows, cut = triage_table(report)
        out = ["### Sweep triage", "", md_text(triage_headline(t)) + ".", ""]
        if table:
            out += [_row([md_text(c) for c in header]), "|" + "---|" * len(header)]
            out += [_row([md_text(c) for c in row]) for row in rows]
            out.append("")
        else:
            cut = ["the table of runs is left out (the report's size limit); `--format json` has it"]
        if cut:
            out += [md_text(c) + "." for c in cut] + [""]
        if t.separations:
            out += ["#### What separates failing runs", ""]
            out += [f"- {md_text(s.text)}" for s in t.separations[:20]]
            out.append("")
        if t.notes:
            out += [md_text(n) + "." for n in t.notes] + [""]
        if t.groups:
            out += [f"#### Failures by signature ({sum(g.count for g in t.groups)} failing runs, "
                    f"{len(t.groups)} group(s))", ""]
            out += [f"- {md_text(group_text(g, roots))}" for g in t.groups[:20]]
            if len(t.groups) > 20:
                out.append(f"- {len(t.groups) - 20} more group(s) (`--format json` has them all)")
            out.append("")
        return out

    def _run(self, r: RunReport) -> list[str]:
        """One run's section: verdict line, findings table, ranked remedies, warning notes."""
        out = [f"### {md_text(display_path(r.run))}", ""]
        head = f"**{md_text(r.status)}**: {md_text(diagnosis_text(r))}{confidence_text(r)}"
        if r.onset_step is not None:
            m = r.metrics.get("loss") or r.metrics.get("eval_loss")
            head += f", onset at {'epoch' if m is not None and m.step_unit == 'epoch' else 'step'} {r.onset_step}"
        out += [head + ".", ""]
        if r.metrics:
            out.append("Metrics: " + "; ".join(
                f"{md_text(role)} = {md_text(m.tag)} ({m.points} points"
                + (f", {m.nonfinite} non-finite" if m.nonfinite else "") + ")"
                for role, m in r.metrics.items()) + ".")
            out.append("")
        if r.findings:
            out += ["#### Findings", "", _row(["code", "name", "severity", "step", "message"]),
                    "|---|---|---|---|---|"]
            for f in r.findings:
                out.append(_row([md_text(f.code), md_text(f.name), md_text(f.severity),
                                 "" if f.step is None else str(f.step), md_text(f.message)]))
            out.append("")
        else:
            out += ["No findings.", ""]
        if r.baselined:
            out += ["Already in the baseline (not counted): " + "; ".join(
                f"{md_text(f.code)} {md_text(f.name)}" for f in r.baselined) + ".", ""]
        if r.remedies:
            out += ["#### Remedies", ""]
            for rem in sorted(r.remedies, key=lambda x: x.rank):
                out.append(f"{rem.rank}. **{md_text(rem.title)}** ({md_code(rem.id)}): {md_text(rem.evidence)}")
                if rem.settings:  # a nested item: an indented plain line would join the paragraph above
                    indent = " " * len(f"{rem.rank}. ")
                    out.append(f"{indent}- Settings: {md_code(settings_text(rem.settings))}")
            out.append("")
        warn = [n for n in r.notes if n.severity == "warning"]
        if warn:
            out += ["#### Notes", ""]
            out += [f"- {md_text(display_path(n.path))}: {md_text(n.message)}" for n in warn]
            out.append("")
        return out


FORMAT = MarkdownFormat()

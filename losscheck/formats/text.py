"""``--format text`` (default): a rich terminal report per run.

Per run: the verdict (status and class, onset), each role's tag, points and sparkline, the
findings with their codes, and the ranked remedies with their evidence and settings.

Text from the report (paths, tags, messages) is never read as rich markup (a folder named
``[/]`` is shown as such) and has its control characters escaped (a folder named
``"\\x1b[2J FAKE PASS"`` is shown as ``\\x1b[2J FAKE PASS``, never obeyed by the terminal).
"""

from __future__ import annotations

import io
import math

from losscheck.errors import escape_controls
from losscheck.formats._common import (clean_text, confidence_text, failing_first, group_text, run_label,
                                       shown_confidence, summary_line, triage_headline, triage_table)
from losscheck.formats.interface import Format
from losscheck.model import Report, RunReport

BARS = "▁▂▃▄▅▆▇█"
STATUS_STYLE = {"failing": "bold red", "warning": "bold yellow", "healthy": "bold green"}
SEV_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def sparkline(values: list[float | None]) -> str:
    """A unicode sparkline of ``values`` (log scale when all finite values are positive).

    Non-finite entries render as ``×``, ``None`` (no point logged) as a space. Returns ``""``
    for an empty list.
    """
    fin = [v for v in values if v is not None and math.isfinite(v)]
    if not fin:
        return "×" * len(values)
    log = all(v > 0 for v in fin)
    tr = [math.log(v) if log else v for v in fin]
    lo, hi = min(tr), max(tr)
    out = []
    for v in values:
        if v is None:  # nothing logged in this stretch
            out.append(" ")
            continue
        if not math.isfinite(v):
            out.append("×")
            continue
        t = math.log(v) if log else v
        k = 0 if hi == lo else int(round((t - lo) / (hi - lo) * (len(BARS) - 1)))
        out.append(BARS[k])
    return "".join(out)


def _fit(values: list[float | None], n: int) -> list[float | None]:
    """``values`` reduced to at most ``n`` points by medians of consecutive groups."""
    import statistics

    if len(values) <= n:
        return values
    out: list[float | None] = []
    for i in range(n):
        group = values[i * len(values) // n:(i + 1) * len(values) // n]
        chunk = [v for v in group if v is not None and math.isfinite(v)]
        if chunk:
            out.append(statistics.median(chunk))
        else:
            out.append(float("nan") if any(v is not None for v in group) else None)
    return out


def _name(s) -> str:
    """A name (path, tag, code) for one line of the terminal: every control character escaped,
    line breaks included."""
    return escape_controls(clean_text(s))


def _msg(s) -> str:
    """A message for the terminal: control characters escaped, except line breaks and tabs."""
    return escape_controls(clean_text(s), keep="\n\t")


def _num(x: float) -> str:
    """A compact number for the summary line (3 significant figures)."""
    return f"{x:.3g}"


def _settings(st: dict) -> str:
    parts = []
    for k, v in st.items():
        if isinstance(v, float):
            v = f"{v:g}"
        elif isinstance(v, list):
            v = "[" + ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v) + "]"
        parts.append(f"{k}={v}")
    return _name(", ".join(parts))


def _step_span(first, last) -> str:
    """``2-160``; ``-99 to -5`` when a step is negative (``-99--5`` reads as a typo)."""
    if isinstance(first, (int, float)) and isinstance(last, (int, float)) and min(first, last) < 0:
        return f"{first} to {last}"
    return f"{first}-{last}"


class TextFormat(Format):
    """The terminal report (rich): one panel per run, a summary table for sweeps."""

    name = "text"
    for_people = True
    description = "Human-readable terminal report (colour when attached to a terminal)."

    def draw(self, report: Report, console) -> bool:
        """Print :meth:`renderables` on ``console`` (colour, fitted to its width)."""
        for item in self.renderables(report, console.width):
            console.print(item)
        return True

    def brief(self, report: Report, quiet: int) -> str | None:
        """``-q``: the verdict summary line alone; ``-qq``: nothing (the exit code says it;
        the errors are on stderr)."""
        return summary_line(report) + "\n" if quiet == 1 else ""

    def renderables(self, report: Report, width: int = 110) -> list:
        """Rich renderables for the whole report (the CLI prints these with colour).

        ``width`` is the console width in characters; sparklines shrink to fit it.
        """
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        out = []
        for r in report.runs:
            out.append(self._run(r, Panel, Table, Text, spark=max(12, min(40, width - 72))))
        for e in report.errors:
            out.append(Text.assemble(("error ", "bold red"), (_msg(e.message), "")))
        if len(report.runs) > 1:
            out.append(self._sweep_table(report, Table, width))
        if report.triage is not None:
            out += self._triage(report, Table, Text)
        out.append(Text(summary_line(report), style="bold"))
        return out

    def _triage(self, report: Report, Table, Text) -> list:
        """The sweep triage: the varying hyperparameters against each run's outcome, the ones
        that separate failing runs from the others, and the failures grouped by signature."""
        t = report.triage
        assert t is not None
        roots = report.roots or [report.root]
        header, rows, cut = triage_table(report)
        table = Table(show_lines=False)
        for col in header:
            table.add_column(_name(col), overflow="fold")
        for row in rows:
            table.add_row(*(Text(_name(c), style=STATUS_STYLE.get(c, "") if i == 1 else "")
                            for i, c in enumerate(row)))
        out: list = [Text("Sweep triage: " + _msg(triage_headline(t)), style="bold"), table]
        out += [Text(_msg(c), style="dim") for c in cut]
        if t.separations:
            out.append(Text("What separates failing runs", style="bold"))
            out += [Text("  " + _msg(s.text)) for s in t.separations]
        out += [Text(_msg(n), style="dim") for n in t.notes]
        if t.groups:
            out.append(Text(f"Failures by signature ({sum(g.count for g in t.groups)} failing runs, "
                            f"{len(t.groups)} group(s))", style="bold"))
            out += [Text("  " + _msg(group_text(g, roots))) for g in t.groups[:20]]
            if len(t.groups) > 20:
                out.append(Text(f"  {len(t.groups) - 20} more group(s) (--format json has them all)", style="dim"))
        return out

    def _sweep_table(self, report: Report, Table, width: int = 110):
        """One row per run, failing first: run, status, class, confidence, onset, top finding, top
        remedy (for sweeps), fitted to ``width`` columns: the run, status, class and onset are
        always shown in full width (a run name longer than its column is shortened in the middle
        with an ellipsis, never to nothing); confidence, the finding's name and the remedy are
        dropped, in that order from the last, when they do not fit."""
        from rich.text import Text

        runs = failing_first(report.runs)
        names = [_name(run_label(r.run, report.roots or [report.root])) for r in runs]
        cells = {
            "status": [_name(r.status) for r in runs],
            "class": [_name(r.primary) for r in runs],
            "onset": ["" if r.onset_step is None else str(r.onset_step) for r in runs],
            "conf.": ["" if (c := shown_confidence(r)) is None else f"{c:.2f}" for r in runs],
            "top finding": [_name(f"{r.findings[0].code} {r.findings[0].name}") if r.findings else "" for r in runs],
            "code": [_name(r.findings[0].code) if r.findings else "" for r in runs],
            "top remedy": [_name(r.remedies[0].id) if r.remedies else "" for r in runs],
        }
        need = {k: max([len(k)] + [len(v) for v in vals]) for k, vals in cells.items()}
        tail = common_tail(names)
        full = width - 1 - 3 * 7 - sum(need[c] for c in ("status", "class", "onset", "conf.", "top finding", "top remedy"))
        if tail and max(len(n) for n in names) > full:
            # every run ends in the same folders (lightning_logs/version_0): the part that
            # tells them apart is before it, so that part is shown and the tail said once
            names = [n[:len(n) - len(tail)] for n in names]
        else:
            tail = ""
        run_need = max([3] + [len(n) for n in names])
        run_min = min(run_need, 16)
        shown = ["status", "class", "onset"]

        def room(cols: list[str]) -> int:  # width left for the run column (rich: 3 per column + 1)
            return width - 1 - 3 * (len(cols) + 1) - sum(need[c] for c in cols)

        for extra in ("conf.", "top finding", "top remedy"):
            trial = shown + [extra]
            if room(trial) >= run_min:
                shown = trial
            elif extra == "top finding" and room(shown + ["code"]) >= run_min:
                shown = shown + ["code"]
        run_w = max(3, min(run_need, room(shown)))
        title = f"Summary ({_name(report.root)})" + (f"; every run's name ends in {_name(tail)}" if tail else "")
        t = Table(title=Text(title), title_justify="left", show_lines=False)
        t.add_column("run", no_wrap=True, width=run_w)
        for col in shown:
            t.add_column(col, no_wrap=True, width=need[col])
        for i, r in enumerate(runs):
            row = [Text(middle_ellipsis(names[i], run_w))]
            for col in shown:
                row.append(Text(cells[col][i], style=STATUS_STYLE.get(r.status, "") if col == "status" else ""))
            t.add_row(*row)
        return t

    def _run(self, r: RunReport, Panel, Table, Text, spark: int = 40):
        from rich.console import Group

        main = r.metrics.get("loss") or r.metrics.get("eval_loss")
        unit = "epoch" if main is not None and main.step_unit == "epoch" else "step"
        head = Text.assemble((_name(r.status.upper()), STATUS_STYLE.get(r.status, "")))
        if r.baselined and r.status != "failing":
            # "HEALTHY diverging" alone reads as a contradiction: the class's findings are the baseline's
            head.append(" against the baseline", style=STATUS_STYLE.get(r.status, ""))
        head.append("  ")
        head.append(_name(r.primary), style="bold")
        if shown_confidence(r) is not None:
            head.append(confidence_text(r), style="dim")
        if r.secondary:
            head.append(f" (also: {', '.join(_name(x) for x in r.secondary)})")
        if r.onset_step is not None:
            head.append(f"  onset at {unit} {r.onset_step}")
        parts = [head]
        for role in ("loss", "eval_loss"):
            sm = r.summary.get(role) or {}
            m = r.metrics.get(role)
            u = "epoch" if m is not None and m.step_unit == "epoch" else "step"
            if sm.get("first") is not None:
                parts.append(Text(f"{role.replace('_', ' ')} {_num(sm['first'])} -> {_num(sm['final'])} "
                                  f"(best {_num(sm['best'])} at {u} {sm['best_step']})", style="dim"))
        mt = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
        for col in ("role", "tag", "points", "steps"):
            mt.add_column(col, overflow="fold")
        mt.add_column("curve", no_wrap=True)
        mt.add_column("class")
        klass = {c.role: c.klass for c in r.curves}
        for role, m in r.metrics.items():
            mt.add_row(Text(_name(role)), Text(_name(m.tag)),
                       str(m.points) + (f" ({m.nonfinite} non-finite)" if m.nonfinite else ""),
                       _step_span(m.first_step, m.last_step) + (" ep" if m.step_unit == "epoch" else ""),
                       Text(sparkline(_fit(r.digest.get(role, []), spark))), Text(_name(klass.get(role, ""))))
        parts.append(mt)
        comps = [c for c in r.curves if c.role == "component"]
        if comps:
            parts.append(Text("other losses: " + ", ".join(f"{_name(c.tag)} {_name(c.klass)}" for c in comps),
                              style="dim"))
        if r.findings:
            parts.append(Text("Findings", style="bold"))
            ft = Table.grid(padding=(0, 1))
            ft.add_column(no_wrap=True)
            ft.add_column(ratio=1)
            for f in r.findings:
                ft.add_row(Text("  " + _name(f.code), style=SEV_STYLE.get(f.severity, "")),
                           Text.assemble((_name(f.name), "bold"), ": ", _msg(f.message)))
            parts.append(ft)
        if r.remedies:
            parts.append(Text("Remedies", style="bold"))
            rt = Table.grid(padding=(0, 1))
            rt.add_column(no_wrap=True, justify="right")
            rt.add_column(ratio=1)
            for rem in r.remedies[:6]:
                body = Text.assemble((_msg(rem.title), "bold"), f" [{_name(rem.id)}]\n", ("why: ", "dim"),
                                     _msg(rem.evidence))
                if rem.settings:
                    body.append("\n")
                    body.append("try: " + _settings(rem.settings), style="green")
                rt.add_row(f"  {rem.rank}.", body)
            parts.append(rt)
        if r.baselined:
            parts.append(Text(f"{len(r.baselined)} finding(s) already in the baseline, not counted: "
                              + ", ".join(dict.fromkeys(_name(f.code) for f in r.baselined)), style="dim"))
        warn_notes = [n for n in r.notes if n.severity == "warning"]
        for n in warn_notes[:5]:
            parts.append(Text(f"note: {_name(n.path)}: {_msg(n.message)}", style="dim"))
        return Panel(Group(*parts), title=Text(_name(r.run)), title_align="left",
                     border_style=STATUS_STYLE.get(r.status, "").replace("bold ", ""))

    def render(self, report: Report, width: int | None = None) -> str:
        """The report as plain text (no colour), ``width`` columns wide (default:
        :func:`piped_width`, i.e. ``COLUMNS`` or 100)."""
        from rich.console import Console

        width = width or piped_width()
        buf = io.StringIO()
        console = Console(file=buf, width=width, color_system=None, force_terminal=False, soft_wrap=False)
        for item in self.renderables(report, width):
            console.print(item)
        return buf.getvalue()


#: Width of text written to a pipe or a file when ``COLUMNS`` does not say (pytest, ruff and
#: less all honour ``COLUMNS``).
PIPED_WIDTH = 100


def piped_width() -> int:
    """The width of text not written to a terminal: ``COLUMNS`` when it is a whole number in
    20..1000, else :data:`PIPED_WIDTH`."""
    import os

    raw = os.environ.get("COLUMNS", "").strip()
    return int(raw) if raw.isdigit() and 20 <= int(raw) <= 1000 else PIPED_WIDTH


def common_tail(names: list[str]) -> str:
    """The trailing path components every one of ``names`` (two or more ``/``-separated run
    labels) shares, leaving each at least its first component, as ``"/a/b"``; ``""`` when
    there is none. ``["x/lightning_logs/version_0", "y/lightning_logs/version_0"]`` ->
    ``"/lightning_logs/version_0"``."""
    parts = [n.split("/") for n in names]
    if len(parts) < 2:
        return ""
    k = 0
    while all(len(p) > k + 1 for p in parts) and len({p[-1 - k] for p in parts}) == 1:
        k += 1
    return "/" + "/".join(parts[0][len(parts[0]) - k:]) if k else ""


def middle_ellipsis(s: str, width: int) -> str:
    """``s`` cut to ``width`` characters by an ellipsis in its middle (the end of a run's path
    names it, so the tail keeps two thirds); ``s`` itself when it fits."""
    if len(s) <= width:
        return s
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 3
    return s[:head] + "…" + s[len(s) - (width - 1 - head):]


FORMAT = TextFormat()

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
from losscheck.formats._common import clean_text, confidence_text, summary_line
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
            out.append(self._sweep_table(report, Table))
        out.append(Text(summary_line(report), style="bold"))
        return out

    def _sweep_table(self, report: Report, Table):
        """One row per run: status, class, confidence, onset, top finding, top remedy (for sweeps)."""
        import os

        from rich.text import Text

        t = Table(title=Text(f"Summary ({_name(report.root)})"), title_justify="left", show_lines=False)
        t.add_column("run", overflow="fold", ratio=3)
        for col in ("status", "class", "conf.", "onset", "top finding", "top remedy"):
            t.add_column(col, no_wrap=True)
        order = {"failing": 0, "warning": 1, "healthy": 2}
        for r in sorted(report.runs, key=lambda r: (order.get(r.status, 3), r.run)):
            f = r.findings[0] if r.findings else None
            try:
                name = os.path.relpath(r.run, report.root) if report.root else r.run
            except ValueError:
                name = r.run
            t.add_row(Text(_name(name)), Text(_name(r.status), style=STATUS_STYLE.get(r.status, "")),
                      Text(_name(r.primary)), "" if r.confidence is None else f"{r.confidence:.2f}",
                      "" if r.onset_step is None else str(r.onset_step),
                      Text(_name(f"{f.code} {f.name}") if f else ""),
                      Text(_name(r.remedies[0].id) if r.remedies else ""))
        return t

    def _run(self, r: RunReport, Panel, Table, Text, spark: int = 40):
        from rich.console import Group

        main = r.metrics.get("loss") or r.metrics.get("eval_loss")
        unit = "epoch" if main is not None and main.step_unit == "epoch" else "step"
        head = Text.assemble((_name(r.status.upper()), STATUS_STYLE.get(r.status, "")), "  ",
                             (_name(r.primary), "bold"))
        if r.confidence is not None:
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
                       f"{m.first_step}-{m.last_step}" + (" ep" if m.step_unit == "epoch" else ""),
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

    def render(self, report: Report) -> str:
        """The report as plain text (no colour), 110 columns wide."""
        from rich.console import Console

        buf = io.StringIO()
        console = Console(file=buf, width=110, color_system=None, force_terminal=False, soft_wrap=False)
        for item in self.renderables(report):
            console.print(item)
        return buf.getvalue()


FORMAT = TextFormat()

"""``--format html``: one self-contained HTML file with the curves drawn, for people.

Per run: the training loss (with the eval loss and a GAN's discriminator loss on the same
axes), the grad norm and the learning rate in panels that share one step axis; each curve's
raw points as a faded band behind its smoothed line (the debiased EMA TensorBoard draws, see
:mod:`losscheck.digest`; the LR, a schedule, and a curve of fewer than
:data:`SMOOTH_MIN_POINTS` points are drawn as logged); NaN/Inf points as red ticks along the top, counted, never dropped;
the fitted trend over its span (dashed); the onset, each spike, the plateau level, the chance
level ln(C), the overfitting point (the eval-loss minimum), the last healthy step before the
onset, and the ``--baseline`` run's final and best loss. Beside the picture: the findings and
the ranked remedies, each code linked to its rule's text at the end of the page. For a sweep,
an overview comes first: the summary, status filters, and one small loss chart per run,
failing runs first; then one section per run in the same order.

Everything drawn comes from the report: the curves from :attr:`RunReport.plot` (at most
:data:`~losscheck.model.PLOT_BINS` bins per curve, the min and max of each pixel column, so a
1M-point curve costs what a 400-point one does), the marks from the curves' analysis.

Self-contained: inline SVG and CSS, no script, no font, image, style sheet or link fetched;
a Content-Security-Policy ``default-src 'none'`` forbids the browser to fetch anything even
if report text tried to. The status filter works without JavaScript (CSS ``:target``). Text
from the report is HTML-escaped (:func:`html.escape`) after its control characters are
escaped (:func:`losscheck.formats._common.clean_text`).

Size: a run whose three curves (loss, grad norm, LR) are noisy enough to fill all 400 bins
takes about 18 KB whatever its length (a 1M-point run: 22.2 KB alone, 18.1 KB per run in a
sweep); a 200-run sweep of such runs is 3.6 MB. ``tests/formats/test_html.py`` counts the
bytes of that sweep against :data:`SWEEP_BYTES_PER_RUN` per run plus :data:`SWEEP_BYTES_FIXED`
(4.9 MB for 200 runs). Smooth curves cost less (the 43 real runs of the test corpus: 350 KB,
8.1 KB per run).
"""

from __future__ import annotations

import math
from html import escape

from losscheck.formats._common import (clean_text, confidence_text, diagnosis_text, display_path, failing_first,
                                       group_text, run_label, settings_text, summary_line, triage_headline,
                                       triage_table)
from losscheck.formats._marks import (ROLE_LABEL, SMOOTH_MIN_POINTS, as_logged, hlines, legend, log_scale, num,
                                      panel_values, panels, vlines)
from losscheck.formats.interface import Format
from losscheck.model import STATUSES, CurveDigest, Report, RunReport, run_fails

#: The documented size bound of a report (bytes): at most this much per run ...
SWEEP_BYTES_PER_RUN = 24_000
#: ... plus this much for the page itself (style, rule texts of the codes that fired).
SWEEP_BYTES_FIXED = 120_000

#: Colours: one per role, and one per mark (the Chromium test looks for ``ONSET``'s pixels).
ROLE_COLOUR = {"loss": "#1565c0", "eval_loss": "#2e7d32", "disc_loss": "#6a1b9a", "grad_norm": "#00838f",
               "lr": "#6d4c41"}
ONSET = "#e6007e"
SPIKE = "#ff8f00"
NONFINITE = "#d50000"
TREND = "#212121"
PLATEAU = "#546e7a"
CHANCE = "#9e9e9e"
OVERFIT = "#8e24aa"
ROLLBACK = "#43a047"
BASELINE = "#795548"
STATUS_COLOUR = {"failing": "#c62828", "warning": "#ef6c00", "healthy": "#2e7d32"}
#: The colour of each kind of mark (:mod:`losscheck.formats._marks`); the png format uses them too.
MARK_COLOUR = {"onset": ONSET, "spike": SPIKE, "nonfinite": NONFINITE, "trend": TREND, "plateau": PLATEAU,
               "chance": CHANCE, "overfit": OVERFIT, "rollback": ROLLBACK, "baseline": BASELINE, "raw": "#bbb"}
#: The dash pattern of each kind of reference line (SVG ``stroke-dasharray``, in user units).
MARK_DASH = {"plateau": "6 3", "chance": "2 3", "baseline": "8 2 2 2", "rollback": "5 3", "overfit": "5 3"}

# Geometry of a run's figure, in SVG user units (the SVG scales to its box).
W_FIG, LEFT, RIGHT = 660, 62, 14
W_PLOT = W_FIG - LEFT - RIGHT
H_LOSS, H_OTHER, GAP, TOP, BOTTOM = 180, 90, 22, 14, 26
# A small multiple of the overview.
W_SMALL, H_SMALL = 160, 48


def h(s) -> str:
    """``s`` safe as HTML text or attribute value."""
    return escape(clean_text(s), quote=True)


class _Y:
    """Value -> y (SVG units, down) for one panel: log10 when every value is positive and they
    span more than a factor of 20, else linear."""

    def __init__(self, values: list[float], top: float, height: float) -> None:
        fin = [v for v in values if v is not None and math.isfinite(v)]
        lo, hi = (min(fin), max(fin)) if fin else (0.0, 1.0)
        self.log = log_scale(fin)
        if self.log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi <= lo:
            pad = abs(lo) * 0.05 or 0.5
            lo, hi = lo - pad, hi + pad
        pad = (hi - lo) * 0.04
        self.lo, self.hi, self.top, self.height = lo - pad, hi + pad, top, height

    def t(self, v: float) -> float:
        return math.log10(v) if self.log else v

    def __call__(self, v: float) -> int:
        if self.log and v <= 0:
            return round(self.top + self.height)
        f = (self.t(v) - self.lo) / (self.hi - self.lo)
        return round(self.top + self.height * (1.0 - min(max(f, -0.02), 1.02)))

    def ticks(self) -> list[float]:
        """3-6 round values inside the range."""
        if self.log:
            a, b = math.floor(self.lo), math.ceil(self.hi)
            if b - a > 3:  # decades only
                step = max(1, math.ceil((b - a + 1) / 5))
                return [10.0 ** e for e in range(a, b + 1, step) if self.lo <= e <= self.hi]
            out = [m * 10.0 ** e for e in range(a, b + 1) for m in (1, 2, 5)]
            out = [v for v in out if self.lo <= math.log10(v) <= self.hi]
            if len(out) >= 2:
                return out
            return [v for v in _nice(10.0 ** self.lo, 10.0 ** self.hi, 3) if v > 0]
        return _nice(self.lo, self.hi)


def _nice(lo: float, hi: float, n: int = 4) -> list[float]:
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return [lo]
    raw = span / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out: list[float] = []
    v = first
    while v <= hi + 1e-12 * abs(hi) and len(out) < 12:
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


class _X:
    """Step -> x (SVG units) shared by the panels of one run."""

    def __init__(self, lo: int, hi: int, left: float, width: float) -> None:
        self.lo, self.hi = lo, (hi if hi > lo else lo + 1)
        self.left, self.width = left, width

    def __call__(self, step: float) -> int:
        return round(self.left + self.width * (step - self.lo) / (self.hi - self.lo))


def _path(points: list[tuple[int, int]]) -> str:
    """A polyline as compact path data: one ``M`` then relative ``l`` moves (integers)."""
    if not points:
        return ""
    x0, y0 = points[0]
    out = [f"M{x0} {y0}"]
    rel = []
    for x, y in points[1:]:
        dx, dy = x - x0, y - y0
        rel.append(f"{dx}{dy:+d}".replace("+", " "))
        x0, y0 = x, y
    if rel:
        out.append("l" + " ".join(rel).replace(" -", "-"))
    return "".join(out)


def _columns(d: CurveDigest, x: _X) -> list[tuple[int, float | None, float | None, float | None]]:
    """The digest's bins merged per x column: ``(x, low, high, smooth)`` (``None``: no finite
    value), so nothing finer than a unit is drawn."""
    cols: dict[int, list] = {}
    for st, lo, hi, sm in zip(d.steps, d.low, d.high, d.smooth):
        c = cols.get(px := x(st))
        if c is None:
            cols[px] = [px, lo, hi, sm]
            continue
        if lo is not None:
            c[1] = lo if c[1] is None else min(c[1], lo)
            c[2] = hi if c[2] is None else max(c[2], hi)
        if sm is not None:
            c[3] = sm
    return [(c[0], c[1], c[2], c[3]) for c in cols.values()]


def _band(cols, y: _Y) -> str:
    """The raw points' band: per column a vertical stroke from its lowest to its highest
    finite value, joined to the next column (a min/max decimation of the raw line)."""
    parts = []
    prev = None
    for px, lo, hi, _ in cols:
        if lo is None:
            prev = None
            continue
        ylo, yhi = y(lo), y(hi)
        if prev is None:
            parts.append(f"M{px} {ylo}")
        else:
            dx, dy = px - prev[0], ylo - prev[1]
            parts.append(f"l{dx} {dy}")
        parts.append(f"v{yhi - ylo}" if yhi != ylo else "h0")
        prev = (px, yhi)
    return "".join(parts).replace(" -", "-")


def _smooth(cols, y: _Y) -> str:
    """The smoothed line, broken where a column has no finite value."""
    segs: list[list[tuple[int, int]]] = []
    cur: list[tuple[int, int]] = []
    for px, _, _, sm in cols:
        if sm is None:
            if cur:
                segs.append(cur)
            cur = []
            continue
        cur.append((px, y(sm)))
    if cur:
        segs.append(cur)
    return "".join(_path(s) + ("h0" if len(s) == 1 else "") for s in segs)


def _vline(px: int, top: int, bottom: int, colour: str, label: str, dash: str = "", width: float = 2,
           row: int = 0, left: bool = False) -> str:
    """A vertical mark across a panel, its label in label row ``row`` (below the NaN/Inf tick
    strip), to the right of the line, or to its left with ``left`` or near the right edge."""
    d = f' stroke-dasharray="{dash}"' if dash else ""
    lx, anchor = px + 3, ""
    if (left and px > LEFT + 110) or px > W_FIG - RIGHT - 110:
        lx, anchor = px - 3, ' text-anchor="end"'
    text = f'<text x="{lx}" y="{top + 31 + 11 * row}" fill="{colour}"{anchor}>{h(label)}</text>' if label else ""
    return f'<path d="M{px} {top}V{bottom}" stroke="{colour}" stroke-width="{width}"{d}/>' + text


def _hlines(lines: list[tuple[int, int, str, str, str]], top: int, bottom: int) -> str:
    """Horizontal reference lines ``(x0, y, colour, label, dash)`` to the panel's right edge,
    their labels right-aligned there and pushed apart (11 units at least) so none overlap."""
    out, last = [], -1e9
    x1 = LEFT + W_PLOT
    for x0, py, colour, label, dash in sorted(lines, key=lambda t: t[1]):
        ly = max(py - 3, last + 11, top + 10)
        last = ly
        out.append(f'<path d="M{x0} {py}H{x1}" stroke="{colour}" stroke-width="1.3" stroke-dasharray="{dash}"/>'
                   f'<text x="{x1 - 3}" y="{min(ly, bottom - 2)}" fill="{colour}" text-anchor="end">{h(label)}</text>')
    return "".join(out)


def _panel(run: RunReport, roles: list[str], x: _X, top: int, height: int, unit: str, first: bool) -> str:
    """One panel: axes, the roles' bands and lines, their non-finite ticks, spikes, trend,
    and the marks that belong on it."""
    plot = run.plot
    assert plot is not None
    digests = [plot.curves[r] for r in roles]
    values = panel_values(run, roles)
    y = _Y(values, top, height)
    bottom = top + height
    out = [f'<rect x="{LEFT}" y="{top}" width="{W_PLOT}" height="{height}" class="bg"/>']
    hl: list[tuple[int, int, str, str, str]] = []
    bad: list[str] = []  # NaN/Inf counts, curves with no finite value
    late: list[str] = []  # drawn last (spike marks)
    for t in (y.ticks() if values else []):  # no finite value: no scale to show
        py = y(t)
        out.append(f'<path d="M{LEFT} {py}H{LEFT + W_PLOT}" class="grid"/>'
                   f'<text x="{LEFT - 4}" y="{py + 3}" text-anchor="end">{num(t)}</text>')
    names = ", ".join(ROLE_LABEL.get(r, r) for r in roles) + (" (log scale)" if y.log else "")
    out.append(f'<text x="{LEFT + 4}" y="{top - 3}" class="pt">{h(names)}</text>')
    for d in digests:
        col = ROLE_COLOUR.get(d.role, "#333")
        cols = _columns(d, x)
        band = _band(cols, y)
        if as_logged(d):  # a schedule, or too few points to average
            out.append(f'<path d="{band}" stroke="{col}" class="ema"/>' if band else "")
            cols = []
        elif band:
            out.append(f'<path d="{band}" stroke="{col}" class="raw"/>')
        sm = _smooth(cols, y)
        if sm:
            out.append(f'<path d="{sm}" stroke="{col}" class="ema"><title>{h(d.tag)}: EMA weight '
                       f'{d.smoothing:.4g}</title></path>')
        if d.nonfinite:
            ticks = "".join(f"M{x(m.step)} {top}v9" for m in d.nonfinite)
            kinds = "/".join(sorted({m.kind for m in d.nonfinite}))
            out.append(f'<path d="{ticks}" stroke="{NONFINITE}" stroke-width="2"/>')
            bad.append(f"{sum(m.count for m in d.nonfinite)} {kinds} ({ROLE_LABEL.get(d.role, d.role)})")
        if d.trend:
            pts = [(x(s), y(v)) for s, v in d.trend]
            out.append(f'<path d="{_path(pts)}" stroke="{TREND}" class="trend"><title>fitted trend: '
                       f'{h(d.trend_model)}</title></path>')
        if d.spikes:  # triangles on the bottom edge, drawn over the vertical marks
            marks = "".join(f"M{x(s) - 5} {bottom}l5-9 5 9z" for s in d.spikes)
            late.append(f'<path d="{marks}" fill="{SPIKE}" style="fill:{SPIKE}"><title>{d.spike_count} '
                        f'spike(s) of the {h(ROLE_LABEL.get(d.role, d.role))}</title></path>')
        if not any(v is not None for v in d.low):
            bad.append(f"{ROLE_LABEL.get(d.role, d.role)}: no finite value")
    for line in hlines(run, roles):
        hl.append((LEFT if line.start_step is None else x(line.start_step), y(line.value), MARK_COLOUR[line.kind],
                   line.label, MARK_DASH[line.kind]))
    out.append(_hlines(hl, top, bottom))
    if bad:  # NaN/Inf counts under the tick strip, at the right
        out.append(f'<text x="{LEFT + W_PLOT - 3}" y="{top + 20}" fill="{NONFINITE}" text-anchor="end">'
                   f'{h("; ".join(bad))}</text>')
    # vertical marks span this panel; labels only on the first panel
    for mark in vlines(run, first):
        out.append(_vline(x(mark.step), top, bottom, MARK_COLOUR[mark.kind], mark.label, MARK_DASH.get(mark.kind, ""),
                          2.5 if mark.kind == "onset" else 1.5, row=mark.row, left=mark.kind == "rollback"))
    out += late
    out.append(f'<rect x="{LEFT}" y="{top}" width="{W_PLOT}" height="{height}" class="frame"/>')
    return "".join(out)


def figure(run: RunReport) -> str:
    """The run's SVG figure (an empty string when the run has no plot digest)."""
    plot = run.plot
    if plot is None or not plot.curves:
        return ""
    steps = [s for d in plot.curves.values() for s in d.steps]
    if not steps:
        return ""
    x = _X(min(steps), max(steps), LEFT, W_PLOT)
    first = next(iter(plot.curves.values()))
    unit = first.step_unit
    out, top = [], TOP
    for i, roles in enumerate(panels(plot)):
        height = H_LOSS if i == 0 else H_OTHER
        out.append(_panel(run, roles, x, top, height, unit, i == 0))
        top += height + GAP
    bottom = top - GAP
    for t in _nice(x.lo, x.hi, 5):
        if t == int(t):
            out.append(f'<text x="{x(t)}" y="{bottom + 13}" text-anchor="middle">{int(t)}</text>')
    out.append(f'<text x="{LEFT + W_PLOT}" y="{bottom + 24}" text-anchor="end">{h(unit)}</text>')
    hgt = bottom + BOTTOM
    label = f"curves of {display_path(run.run)}"
    return (f'<svg class="fig" viewBox="0 0 {W_FIG} {hgt}" role="img" aria-label="{h(label)}">'
            + "".join(out) + "</svg>")


def small_multiple(run: RunReport) -> str:
    """The overview's chart of a run: its loss's smoothed line, NaN/Inf ticks and onset."""
    plot = run.plot
    d = plot.curves.get("loss") or next(iter(plot.curves.values()), None) if plot else None
    if d is None or not d.steps:
        return f'<svg viewBox="0 0 {W_SMALL} {H_SMALL}" class="sm"></svg>'
    x = _X(d.steps[0], d.steps[-1], 2, W_SMALL - 4)
    y = _Y([v for v in (d.low + d.high if d.points < SMOOTH_MIN_POINTS else d.smooth) if v is not None],
           3, H_SMALL - 6)
    cols = _columns(d, x)
    line = _band(cols, y) if d.points < SMOOTH_MIN_POINTS else _smooth(cols, y)
    out = [f'<svg viewBox="0 0 {W_SMALL} {H_SMALL}" class="sm" aria-hidden="true">',
           f'<path d="{line}" stroke="{ROLE_COLOUR["loss"]}" class="ema"/>']
    if d.nonfinite:
        out.append(f'<path d="{"".join(f"M{x(m.step)} 0v7" for m in d.nonfinite)}" stroke="{NONFINITE}" '
                   'stroke-width="2"/>')
    if run.onset_step is not None and d.steps[0] <= run.onset_step <= d.steps[-1]:
        out.append(f'<path d="M{x(run.onset_step)} 0V{H_SMALL}" stroke="{ONSET}" stroke-width="2"/>')
    out.append("</svg>")
    return "".join(out)


def ordered(runs: list[RunReport]) -> list[RunReport]:
    """Failing runs first, then warning, then healthy (:func:`losscheck.formats._common.failing_first`)."""
    return failing_first(runs)


def _rule_link(code: str) -> str:
    return f'<a href="#rule-{h(code)}">{h(code)}</a>'


def _run_section(run: RunReport, idx: int, fail_on: str) -> str:
    gate = " (fails the gate)" if run_fails(run.status, fail_on, run.confidence) else ""
    head = f"{h(diagnosis_text(run))}{h(confidence_text(run))}"
    if run.onset_step is not None:
        head += f", onset at {h(run.plot.curves['loss'].step_unit if run.plot and 'loss' in run.plot.curves else 'step')} {run.onset_step}"
    out = [f'<section class="run {run.status}" id="run-{idx}">',
           f'<h2><span class="badge {run.status}">{h(run.status)}</span> {h(display_path(run.run))}</h2>',
           f"<p>{head}{h(gate)}.</p>", '<div class="cols"><div class="pic">', figure(run), _legend(run), "</div>",
           '<div class="side">']
    if run.findings:
        out.append("<h3>Findings</h3><ul class=\"findings\">")
        for f in run.findings:
            step = "" if f.step is None else f" <span class=\"step\">at {f.step}</span>"
            out.append(f'<li class="{h(f.severity)}">{_rule_link(f.code)} <b>{h(f.name)}</b> '
                       f'<i>{h(f.severity)}</i>{step}<br>{h(f.message)}</li>')
        out.append("</ul>")
    else:
        out.append("<p>No findings.</p>")
    if run.baselined:
        out.append("<p>Already in the baseline (not counted): "
                   + ", ".join(f"{_rule_link(f.code)} {h(f.name)}" for f in run.baselined) + "</p>")
    if run.remedies:
        out.append("<h3>Remedies</h3><ol class=\"remedies\">")
        for rem in sorted(run.remedies, key=lambda m: m.rank):
            voters = [f.code for f in run.findings if any(v.id == rem.id for v in f.remedies)]
            via = (" (" + ", ".join(_rule_link(c) for c in dict.fromkeys(voters)) + ")") if voters else ""
            sets = f'<br><code>{h(settings_text(rem.settings))}</code>' if rem.settings else ""
            out.append(f"<li><b>{h(rem.title)}</b>{via}: {h(rem.evidence)}{sets}</li>")
        out.append("</ol>")
    if run.metrics:
        out.append("<h3>Metrics</h3><ul class=\"metrics\">" + "".join(
            f"<li>{h(ROLE_LABEL.get(role, role))}: <code>{h(m.tag)}</code>, {m.points} points"
            + (f", {m.nonfinite} non-finite" if m.nonfinite else "") + "</li>" for role, m in run.metrics.items())
            + "</ul>")
    warn = [n for n in run.notes if n.severity == "warning"]
    if warn:
        out.append("<h3>Read notes</h3><ul>" + "".join(
            f"<li>{h(display_path(n.path))}: {h(n.message)}</li>" for n in warn[:20]) + "</ul>")
        if len(warn) > 20:
            out.append(f"<p>{len(warn) - 20} more note(s).</p>")
    out.append("</div></div></section>")
    return "".join(out)


def _legend(run: RunReport) -> str:
    entries = legend(run)
    if not entries:
        return "<p>No curve to draw.</p>"
    items = [(MARK_COLOUR.get(key) or ROLE_COLOUR.get(key, "#333"), text) for key, text in entries]
    return '<p class="legend">' + " ".join(
        f'<span><i style="background:{c}"></i>{h(t)}</span>' for c, t in items) + "</p>"


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1280px;padding:12px 20px;color:#212121;background:#fff}
h1{font-size:20px;margin:6px 0}h2{font-size:16px;margin:18px 0 4px;border-top:1px solid #ddd;padding-top:12px}h3{font-size:14px;margin:10px 0 4px}
.badge{color:#fff;border-radius:3px;padding:0 6px;font-size:12px;text-transform:uppercase}
.badge.failing{background:#c62828}.badge.warning{background:#ef6c00}.badge.healthy{background:#2e7d32}
.cols{display:flex;flex-wrap:wrap;gap:16px}.pic{flex:1 1 620px;min-width:320px;max-width:760px}.side{flex:1 1 300px;min-width:260px}
svg.fig{width:100%;height:auto;font-size:10px;fill:#424242}
svg text{stroke:none}svg path{fill:none}
.bg{fill:#fafafa}.frame{fill:none;stroke:#bdbdbd}.grid{stroke:#e0e0e0}.pt{font-weight:600}
.raw{stroke-width:1;opacity:.28;stroke-linecap:round}.ema{stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
.trend{stroke-width:1.5;stroke-dasharray:6 4}
.legend{font-size:12px;margin:2px 0}.legend span{margin-right:10px;white-space:nowrap}.legend i{display:inline-block;width:12px;height:4px;margin-right:4px;vertical-align:middle}
ul.findings{padding-left:18px}ul.findings li{margin-bottom:6px}li.error i{color:#c62828}li.warning i{color:#ef6c00}li.info i{color:#0277bd}
.step{color:#616161}code{font-size:12px;background:#f5f5f5;padding:0 3px;word-break:break-word}
nav a{margin-right:12px}.grid-runs{display:grid;grid-template-columns:repeat(auto-fill,minmax(176px,1fr));gap:8px;margin:8px 0}
.card{display:block;border:1px solid #e0e0e0;border-left:4px solid #9e9e9e;padding:4px;color:inherit;text-decoration:none;font-size:12px;overflow:hidden}
.card.failing{border-left-color:#c62828}.card.warning{border-left-color:#ef6c00}.card.healthy{border-left-color:#2e7d32}
.card span{display:block;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}svg.sm{width:100%;height:auto;display:block}
.rule{border-top:1px solid #eee}.rule h3{font-size:14px}
table.triage{border-collapse:collapse;font-size:12px}table.triage th,table.triage td{border:1px solid #e0e0e0;padding:2px 6px;text-align:left}
tr.failing td:nth-child(2){color:#c62828;font-weight:600}tr.warning td:nth-child(2){color:#ef6c00}tr.healthy td:nth-child(2){color:#2e7d32}
.flt:target~.grid-runs .card,.flt:target~.runs .run{display:none}
#only-failing:target~.grid-runs .card.failing,#only-failing:target~.runs .run.failing,
#only-warning:target~.grid-runs .card.warning,#only-warning:target~.runs .run.warning,
#only-healthy:target~.grid-runs .card.healthy,#only-healthy:target~.runs .run.healthy{display:block}
"""


def _triage_section(report: Report) -> str:
    """The sweep triage: a table of the varying hyperparameters against each run's outcome
    (at most :data:`~losscheck.formats._common.TRIAGE_ROWS` rows), the separations and the
    failure groups."""
    t = report.triage
    assert t is not None
    roots = report.roots or [report.root]
    header, rows, cut = triage_table(report)
    out = ['<section id="triage"><h2>Sweep triage</h2>', f"<p>{h(triage_headline(t))}.</p>",
           '<table class="triage"><thead><tr>' + "".join(f"<th>{h(c)}</th>" for c in header) + "</tr></thead><tbody>"]
    for row in rows:
        out.append(f'<tr class="{h(row[1])}">' + "".join(f"<td>{h(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    out += [f"<p>{h(c)}.</p>" for c in cut]
    if t.separations:
        out.append("<h3>What separates failing runs</h3><ul>"
                   + "".join(f"<li>{h(s.text)}</li>" for s in t.separations[:20]) + "</ul>")
    out += [f"<p>{h(n)}.</p>" for n in t.notes]
    if t.groups:
        out.append(f"<h3>Failures by signature ({sum(g.count for g in t.groups)} failing runs, "
                   f"{len(t.groups)} group(s))</h3><ul>"
                   + "".join(f"<li>{h(group_text(g, roots))}</li>" for g in t.groups[:50]) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def _rules_section(report: Report) -> str:
    codes = sorted({f.code for r in report.runs for f in r.findings + r.baselined})
    if not codes:
        return ""
    from losscheck.rules import all_rules

    by_code = {r.code: r for r in all_rules()}
    out = ['<section id="rules"><h2>Rules</h2>']
    for code in codes:
        rule = by_code.get(code)
        if rule is None:
            out.append(f'<div class="rule" id="rule-{h(code)}"><h3>{h(code)}</h3></div>')
            continue
        srcs = "".join(f"<li>{h(s)}</li>" for s in rule.sources)
        out.append(f'<div class="rule" id="rule-{h(code)}"><h3>{h(code)} {h(rule.name)} '
                   f'<i>({h(rule.severity)})</i></h3><p>{h(rule.summary)}</p>'
                   f"<p><b>What it detects.</b> {h(rule.what)}</p><p><b>Why it matters.</b> {h(rule.why)}</p>"
                   f"<p><b>What to do.</b> {h(rule.fix)}</p><p><b>How it is computed.</b> {h(rule.how)}</p>"
                   + (f"<p><b>Sources.</b></p><ul>{srcs}</ul>" if srcs else "") + "</div>")
    out.append("</section>")
    return "".join(out)


class HtmlFormat(Format):
    """Renders a :class:`~losscheck.model.Report` as one self-contained HTML page (see the
    module doc). Every run appears once in the overview (sweeps) and once as a section; every
    error in the "Not diagnosed" list."""

    name = "html"
    description = "One self-contained HTML page: each run's curves drawn with its marks, findings and remedies."
    for_people = True
    draws_curves = True

    def render(self, report: Report) -> str:
        """The whole page, ending in a newline."""
        runs = ordered(report.runs)
        title = f"losscheck {report.tool_version}: {summary_line(report)}"
        gate = ("gate disabled (--fail-on never)" if report.fail_on == "never" else
                f"gate --fail-on {report.fail_on}: {'FAIL' if report.failing else 'pass'}")
        out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "style-src 'unsafe-inline'; img-src data:\">",
               '<meta name="viewport" content="width=device-width,initial-scale=1">',
               '<link rel="icon" href="data:,">',
               f"<title>{h(title)}</title><style>{_CSS}</style></head><body>",
               f"<h1>losscheck {h(report.tool_version)}</h1>",
               f"<p><b>{h(summary_line(report))}</b>. {h(gate)}.</p>"]
        if len(runs) > 1:
            counts = {s: report.status_counts.get(s, 0) for s in STATUSES}
            out.append('<nav>Show: <a href="#all">all ' + str(len(runs)) + "</a>"
                       + "".join(f'<a href="#only-{s}">{s} {counts[s]}</a>' for s in STATUSES if counts[s])
                       + "</nav>")
        out.append("<main>")
        out += ['<i id="all"></i>'] + [f'<i class="flt" id="only-{s}"></i>' for s in STATUSES]
        if len(runs) > 1:
            out.append('<div class="grid-runs">')
            for i, r in enumerate(runs):
                out.append(f'<a class="card {r.status}" href="#run-{i}">{small_multiple(r)}'
                           f'<span title="{h(display_path(r.run))}">{h(run_label(r.run, report.roots or [report.root]))}</span><span>{h(r.status)}: {h(diagnosis_text(r))}'
                           + (f" @ {r.onset_step}" if r.onset_step is not None else "") + "</span></a>")
            out.append("</div>")
        if report.triage is not None:
            out.append(_triage_section(report))
        out.append('<div class="runs">')
        out += [_run_section(r, i, report.fail_on) for i, r in enumerate(runs)]
        out.append("</div></main>")
        if report.errors:
            out.append('<section id="errors"><h2>Not diagnosed</h2><ul>' + "".join(
                f"<li><b>{h(display_path(e.path))}</b> ({h(e.kind)}): {h(e.message)}</li>" for e in report.errors)
                + "</ul></section>")
        out.append(_rules_section(report))
        out.append("</body></html>")
        return "\n".join(out) + "\n"


FORMAT = HtmlFormat()

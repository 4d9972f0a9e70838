"""``--format png:PLACE``: one PNG image per run, for places that take images only (a chat
message, an issue, a wiki page, a notebook cell). Needs matplotlib: ``pip install
'losscheck[plot]'``.

The image is the HTML report's figure of the run (:mod:`losscheck.formats.html`), drawn with
matplotlib from the same data and with the same colours: the panels (the loss with the eval
loss and a GAN's discriminator loss, then the grad norm and the learning rate on one step
axis), each curve's raw points faded behind its debiased EMA (the LR and curves of fewer
than 30 points as logged), NaN/Inf points as red ticks along the top (counted), the fitted
trend dashed, spikes as triangles on the bottom edge, and the lines of
:mod:`losscheck.formats._marks`: the onset, the last healthy step, the overfitting point, each
plateau's level, the chance level ln(C) and the ``--baseline`` run's losses. A title names the
run, its status, its class, its confidence and its onset; a legend lists what is drawn.

Where the images go (``PLACE`` after the colon; ``-f png`` without one is a usage error, exit
2, for an image is not written to standard output):

- ``PLACE`` ending in ``.png``: a single run's image is that file; with several runs, one image
  per run beside it, named ``<stem>-<run>.png``;
- otherwise ``PLACE`` is a folder (made when missing): one ``<run>.png`` per run.

``<run>`` is the run's name in the report (its path relative to the diagnosed folder,
:func:`losscheck.formats._common.run_label`) with ``/`` written ``__`` and any character other
than letters, digits, ``.``, ``_`` and ``-`` written ``_`` (at most 120 characters); two runs
whose names end up equal (ignoring case) get ``-2``, ``-3``... in path order. Each image is
written atomically; one that is already there is replaced.

Size: :data:`WIDTH_PX` pixels wide; :func:`image_height` pixels high (a loss panel, plus a
shorter one per other curve). matplotlib is imported only when images are drawn (the CLI's
start-up and the other formats never load it); without it, ``-f png:...`` stops before
anything is read: one line, exit 2 (:meth:`PngFormat.check`).
"""

from __future__ import annotations

import math
import re
from io import BytesIO
from pathlib import Path
from typing import Any, Iterator

from losscheck.errors import UsageError
from losscheck.formats._common import clean_text, confidence_text, diagnosis_text, run_label
from losscheck.formats._marks import (as_logged, hlines, legend, log_scale, panel_values, panels, role_label,
                                      vlines)
from losscheck.formats.interface import Format
from losscheck.model import Report, RunReport

#: Pixels per inch of the images (matplotlib's ``dpi``).
DPI = 100
#: Image width, pixels.
WIDTH_PX = 1200
#: Heights, pixels: the loss panel, each other panel, and what is around them (title, step
#: axis, legend).
LOSS_PANEL_PX, OTHER_PANEL_PX, FRAME_PX = 330, 170, 160
#: Longest ``<run>`` part of a file name, characters.
MAX_NAME = 120
#: What ``-f png`` needs, and how to get it (the one-line error when it is missing).
MISSING = "--format png needs matplotlib, which is not installed: pip install 'losscheck[plot]'"


def image_height(n_panels: int) -> int:
    """The height in pixels of a run's image with ``n_panels`` panels (at least one: a run
    without a curve to draw gets a one-panel image saying so)."""
    n = max(n_panels, 1)
    return FRAME_PX + LOSS_PANEL_PX + OTHER_PANEL_PX * (n - 1)


def safe_name(label: str) -> str:
    """A run's name as a file name (no folder, no character a file system or a shell trips
    on): ``/`` and ``\\`` become ``__``, anything but letters, digits, ``.``, ``_``, ``-``
    becomes ``_``; no leading dot; at most :data:`MAX_NAME` characters; ``run`` when nothing
    is left."""
    s = re.sub(r"[/\\]+", "__", label)
    s = re.sub(r"[^A-Za-z0-9._-]", "_", s).lstrip(".")
    return s[:MAX_NAME] or "run"


def image_paths(report: Report, where: Path) -> list[tuple[RunReport, Path]]:
    """Each run (sorted by path) and the file its image goes to (see the module doc)."""
    runs = sorted(report.runs, key=lambda r: r.run)
    roots = report.roots or [report.root]
    if where.suffix.lower() == ".png" and len(runs) == 1:
        return [(runs[0], where)]
    if where.suffix.lower() == ".png":
        folder, prefix = where.parent, where.stem + "-"
    else:
        folder, prefix = where, ""
    out, seen = [], set()
    for r in runs:
        base = prefix + safe_name(run_label(r.run, roots))
        name, k = base, 1
        while name.lower() in seen:
            k += 1
            name = f"{base}-{k}"
        seen.add(name.lower())
        out.append((r, folder / f"{name}.png"))
    return out


def _import_matplotlib() -> tuple[Any, Any]:
    """matplotlib's ``Figure`` and Agg canvas (no pyplot: no global state, no GUI backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return Figure, FigureCanvasAgg


def _dash(svg_dash: str) -> Any:
    """An SVG ``stroke-dasharray`` ("6 3") as a matplotlib line style."""
    return (0, tuple(float(v) for v in svg_dash.split())) if svg_dash else "-"


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


def _band_xy(steps: list[int], low: list, high: list) -> tuple[list[float], list[float]]:
    """The raw points' band as one polyline: per bin a vertical stroke from its lowest to its
    highest finite value, joined to the next bin; broken (NaN) where a bin has none."""
    xs: list[float] = []
    ys: list[float] = []
    for s, lo, hi in zip(steps, low, high):
        if lo is None:
            xs.append(math.nan)
            ys.append(math.nan)
            continue
        xs += [s, s]
        ys += [lo, hi]
    return xs, ys


def draw_run(run: RunReport, label: str) -> bytes:
    """One run's image as PNG bytes (:data:`WIDTH_PX` x :func:`image_height` pixels).

    Raises:
        ImportError: matplotlib is missing (:meth:`PngFormat.check` says so first)."""
    from losscheck.formats.html import MARK_COLOUR, MARK_DASH, ROLE_COLOUR

    Figure, Canvas = _import_matplotlib()
    plot = run.plot
    roles_per_panel = panels(plot) if plot is not None and plot.curves else []
    heights = [LOSS_PANEL_PX] + [OTHER_PANEL_PX] * (len(roles_per_panel) - 1)
    h_px = image_height(len(roles_per_panel))
    fig = Figure(figsize=(WIDTH_PX / DPI, h_px / DPI), dpi=DPI)
    Canvas(fig)
    head = f"{clean_text(label)}: {run.status}, {diagnosis_text(run)}{confidence_text(run)}"
    if run.onset_step is not None:
        unit = next(iter(plot.curves.values())).step_unit if plot is not None and plot.curves else "step"
        head += f", onset at {unit} {run.onset_step}"
    fig.text(0.01, 1 - 10 / h_px, head, ha="left", va="top", fontsize=12, weight="bold")
    if not roles_per_panel or plot is None:
        fig.text(0.5, 0.5, "No curve to draw.", ha="center", va="center", fontsize=12)
        return _png(fig)
    top, bottom = 1 - 52 / h_px, 105 / h_px  # title above; step axis and legend below
    gs = fig.add_gridspec(len(heights), 1, height_ratios=heights, left=0.075, right=0.985, top=top, bottom=bottom,
                          hspace=0.28)
    steps = [s for d in plot.curves.values() for s in d.steps]
    lo_x, hi_x = min(steps), max(steps)
    if hi_x <= lo_x:
        hi_x = lo_x + 1
    axes: list[Any] = []
    for i, roles in enumerate(roles_per_panel):
        ax = fig.add_subplot(gs[i], sharex=axes[0] if axes else None)
        axes.append(ax)
        ax.set_xlim(lo_x, hi_x)
        _panel(ax, run, roles, i == 0, ROLE_COLOUR, MARK_COLOUR, MARK_DASH)
        if i < len(roles_per_panel) - 1:
            ax.tick_params(labelbottom=False)
    unit = next(iter(plot.curves.values())).step_unit
    axes[-1].set_xlabel(unit, fontsize=10)
    entries = legend(run)
    handles = []
    from matplotlib.lines import Line2D

    for key, text in entries:
        colour = MARK_COLOUR.get(key) or ROLE_COLOUR.get(key, "#333333")
        handles.append(Line2D([], [], color=colour, lw=4, label=text))
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.005), ncol=4, fontsize=8.5,
               frameon=False, handlelength=1.2, columnspacing=1.2)
    return _png(fig)


def _panel(ax: Any, run: RunReport, roles: list[str], first: bool, role_colour: dict, mark_colour: dict,
           mark_dash: dict) -> None:
    """One panel: the roles' bands and lines, NaN/Inf ticks, trends, spikes, the reference
    lines and the vertical marks (labels on the first panel only)."""
    plot = run.plot
    assert plot is not None
    values = panel_values(run, roles)
    fin = [v for v in values if math.isfinite(v)]
    is_log = log_scale(fin)
    if is_log:
        ax.set_yscale("log")
    if fin:  # the HTML report's value range: the data plus 4% on either side (in log10 when log)
        t = [math.log10(v) for v in fin] if is_log else fin
        lo, hi = min(t), max(t)
        if hi <= lo:
            pad = abs(lo) * 0.05 or 0.5
            lo, hi = lo - pad, hi + pad
        pad = (hi - lo) * 0.04
        lo, hi = lo - pad, hi + pad
        ax.set_ylim((10 ** lo, 10 ** hi) if is_log else (lo, hi))
    ax.set_facecolor("#fafafa")
    ax.grid(True, axis="y", color="#e0e0e0", lw=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_color("#bdbdbd")
    ax.tick_params(labelsize=8.5, colors="#424242")
    names = ", ".join(role_label(r) for r in roles) + (" (log scale)" if is_log else "")
    ax.set_title(names, loc="left", fontsize=10, weight="bold", pad=3)
    xaxis = ax.get_xaxis_transform()  # x in steps, y in axes fractions (0 bottom, 1 top)
    bad = []
    for d in (plot.curves[r] for r in roles):
        col = role_colour.get(d.role, "#333333")
        bx, by = _band_xy(d.steps, d.low, d.high)
        if as_logged(d):
            ax.plot(bx, by, color=col, lw=1.8, solid_joinstyle="round", solid_capstyle="round")
        else:
            ax.plot(bx, by, color=col, lw=1, alpha=0.28)
            ax.plot(d.steps, [_nan(v) for v in d.smooth], color=col, lw=1.8, solid_joinstyle="round")
        if d.nonfinite:
            ax.vlines([m.step for m in d.nonfinite], 0.94, 1.0, transform=xaxis, color=mark_colour["nonfinite"],
                      lw=2, zorder=6)
            kinds = "/".join(sorted({m.kind for m in d.nonfinite}))
            bad.append(f"{sum(m.count for m in d.nonfinite)} {kinds} ({role_label(d.role)})")
        if d.trend:
            ax.plot([s for s, _ in d.trend], [v for _, v in d.trend], color=mark_colour["trend"], lw=1.5,
                    linestyle=(0, (6, 4)))
        if d.spikes:
            ax.scatter(d.spikes, [0.0] * len(d.spikes), marker="^", s=70, color=mark_colour["spike"],
                       transform=xaxis, clip_on=False, zorder=7, linewidths=0)
        if not any(v is not None for v in d.low):
            bad.append(f"{role_label(d.role)}: no finite value")
    x0, x1 = ax.get_xlim()
    # labels at the right edge, pushed apart (11 pixels at least, top down) so none overlap, as
    # the HTML report places them
    to_axes = ax.transAxes.inverted()
    (_, ax_top), = ax.transAxes.transform([(0, 1)])
    last = math.inf
    for line in sorted(hlines(run, roles), key=lambda ln: -ax.transData.transform((x0, ln.value))[1]):
        col = mark_colour[line.kind]
        start = x0 if line.start_step is None else line.start_step
        ax.plot([start, x1], [line.value, line.value], color=col, lw=1.3, linestyle=_dash(mark_dash[line.kind]),
                scalex=False, scaley=False)
        y_px = ax.transData.transform((x0, line.value))[1]
        last = min(y_px + 3, last - 12, ax_top - 12)
        ax.text(0.997, to_axes.transform((0, last))[1], line.label, transform=ax.transAxes, ha="right",
                va="bottom", fontsize=8, color=col, clip_on=False, bbox=_LABEL_BOX, zorder=8)
    if bad:
        ax.text(0.995, 0.9, "; ".join(bad), transform=ax.transAxes, ha="right", va="top", fontsize=8.5,
                color=mark_colour["nonfinite"])
    for mark in vlines(run, first):
        col = mark_colour[mark.kind]
        ax.axvline(mark.step, color=col, lw=2.5 if mark.kind == "onset" else 1.5,
                   linestyle=_dash(mark_dash.get(mark.kind, "")), zorder=5)
        if mark.label:
            right = mark.kind == "rollback" or ax.transLimits.transform((mark.step, 0))[0] > 0.85
            ax.annotate(mark.label, (mark.step, 0.86 - 0.075 * mark.row), xycoords=xaxis,
                        xytext=(-4 if right else 4, 0), textcoords="offset points",
                        ha="right" if right else "left", va="center", fontsize=8.5, color=col, bbox=_LABEL_BOX,
                        zorder=8)


#: Behind a mark's label: the panel's background, so a label stays readable over the curves.
_LABEL_BOX = {"facecolor": "#fafafa", "alpha": 0.85, "edgecolor": "none", "pad": 0.6}


def _png(fig: Any) -> bytes:
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


class PngFormat(Format):
    """One PNG image per run (see the module doc): ``-f png:FOLDER`` or ``-f png:FILE.png``."""

    name = "png"
    description = "One PNG image per run with the HTML report's curves and marks (-f png:FOLDER; losscheck[plot])."
    draws_curves = True
    writes_files = True

    def check(self) -> None:
        """Stop before anything is read when matplotlib is missing.

        Raises:
            UsageError: matplotlib cannot be found (:data:`MISSING`: exit 2)."""
        import importlib.util

        try:
            found = importlib.util.find_spec("matplotlib") is not None
        except (ImportError, ValueError):  # a module set to None (blocked), or a broken package
            found = False
        if not found:
            raise UsageError(None, MISSING)

    def files(self, report: Report, where: Path) -> Iterator[tuple[Path, bytes]]:
        """Each run's image path (:func:`image_paths`) and its PNG bytes, drawn one at a time as
        the caller asks (a sweep's images are never all in memory).

        Raises:
            ImportError: matplotlib is missing (:meth:`check` first)."""
        roots = report.roots or [report.root]
        for r, path in image_paths(report, where):
            yield path, draw_run(r, run_label(r.run, roots))

    def render(self, report: Report) -> str:
        """Images are not text: the names of the images :meth:`files` writes into a folder,
        one per line (no matplotlib needed)."""
        return "".join(f"{p.name}\n" for _, p in image_paths(report, Path(".")))


FORMAT = PngFormat()

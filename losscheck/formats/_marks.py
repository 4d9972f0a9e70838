"""What a format that draws a run's curves puts on them, read from the report (never analysed
again): shared by ``--format html`` and ``--format png``, so both draw the same marks from the
same data.

Where each mark comes from:

- the curves: :attr:`RunReport.plot` (:class:`~losscheck.model.RunPlot`): per role a
  :class:`~losscheck.model.CurveDigest`, whose raw points are drawn faded (min and max per
  bin) behind the debiased EMA (:mod:`losscheck.digest`), its NaN/Inf points as ticks along
  the top (:attr:`CurveDigest.nonfinite`), its fitted trend dashed (:attr:`CurveDigest.trend`)
  and its spikes as triangles on the bottom edge (:attr:`CurveDigest.spikes`);
- vertical lines (:func:`vlines`): the run's onset (:attr:`RunReport.onset_step`), the last
  healthy step before it (:attr:`RunPlot.rollback_step`) and the overfitting point (the
  eval-loss minimum, :attr:`RunPlot.overfit_step`);
- horizontal lines (:func:`hlines`): each curve's plateau level from the step it starts
  (:attr:`CurveAnalysis.plateau`), the chance level ln(C) and the ``--baseline`` run's final
  and best loss (:attr:`RunPlot.chance_level`, :attr:`RunPlot.baseline`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from losscheck.model import CurveDigest, RunPlot, RunReport

ROLE_LABEL = {"loss": "loss", "eval_loss": "eval loss", "disc_loss": "discriminator loss", "grad_norm": "grad norm",
              "lr": "learning rate"}
#: Curves with fewer points are drawn as logged, not smoothed.
SMOOTH_MIN_POINTS = 30
#: Roles drawn in the first panel, on the loss's axes.
LOSS_PANEL = ("loss", "eval_loss", "disc_loss")
#: A panel's value axis is logarithmic when every value is positive and the largest is more
#: than this many times the smallest.
LOG_SPAN = 20


def num(v: float | None) -> str:
    """A number for people: 4 significant digits, NaN/Inf spelled."""
    if v is None:
        return "-"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.4g}"


def role_label(role: str) -> str:
    """A role's name for people (``eval loss``, ``grad norm``)."""
    return ROLE_LABEL.get(role, role)


@dataclass(frozen=True)
class HLine:
    """A horizontal reference line: ``value`` (the metric's units) from ``start_step`` (``None``:
    the panel's left edge) to the right edge; ``kind`` is ``"plateau"``, ``"chance"`` or
    ``"baseline"``."""

    kind: str
    value: float
    start_step: int | None
    label: str


@dataclass(frozen=True)
class VLine:
    """A vertical mark at ``step`` across a panel; ``kind`` is ``"onset"``, ``"rollback"`` or
    ``"overfit"``; ``label`` empty when the mark is not labelled on this panel; ``row``: the
    label row (0, 1, 2 below the NaN/Inf strip), so the labels of close marks do not overlap."""

    kind: str
    step: int
    label: str
    row: int = 0


def panels(plot: RunPlot) -> list[list[str]]:
    """The roles of each panel, top to bottom: the loss panel (training loss, eval loss,
    discriminator loss, those present), then one panel per other curve, in the plot's order."""
    out: list[list[str]] = []
    loss_roles = [r for r in LOSS_PANEL if r in plot.curves]
    if loss_roles:
        out.append(loss_roles)
    out += [[r] for r in plot.curves if r not in LOSS_PANEL]
    return out


def as_logged(d: CurveDigest) -> bool:
    """The curve is drawn as logged (no EMA): a learning rate (a schedule), or fewer than
    :data:`SMOOTH_MIN_POINTS` points (an EMA of 3 points draws a trend that is not there)."""
    return d.role == "lr" or d.points < SMOOTH_MIN_POINTS


def panel_values(run: RunReport, roles: list[str]) -> list[float]:
    """The finite values a panel's value axis must show: every bin's low and high, the trend
    where it stays within a quarter of the data's span of it (an extrapolated fit is clipped),
    and, on the loss panel, the chance level and the baseline's losses."""
    plot = run.plot
    assert plot is not None
    values: list[float] = []
    for d in (plot.curves[r] for r in roles):
        lows = [v for v in d.low if v is not None]
        highs = [v for v in d.high if v is not None]
        values += lows + highs
        if lows:
            lo, hi = min(lows), max(highs)
            span = hi - lo
            values += [v for _, v in d.trend if lo - span / 4 <= v <= hi + span / 4]
    if roles and roles[0] in LOSS_PANEL:
        if plot.chance_level is not None:
            values.append(plot.chance_level)
        for b in plot.baseline.values():
            values += [v for v in b.values() if v is not None and math.isfinite(v)]
    return values


def log_scale(values: list[float]) -> bool:
    """Whether a panel showing ``values`` uses a log10 axis (every finite value positive, spanning
    more than :data:`LOG_SPAN` times)."""
    fin = [v for v in values if v is not None and math.isfinite(v)]
    return bool(fin) and min(fin) > 0 and max(fin) / min(fin) > LOG_SPAN


def hlines(run: RunReport, roles: list[str]) -> list[HLine]:
    """The horizontal lines of the panel showing ``roles``: each role's plateau level, then, on
    the loss panel, the chance level ln(C) and the baseline's final/best loss (finite ones)."""
    plot = run.plot
    assert plot is not None
    out = []
    for role in roles:
        c = next((c for c in run.curves if c.role == role), None)
        if c is not None and c.plateau is not None:
            out.append(HLine("plateau", c.plateau.level, c.plateau.start_step,
                             f"{role_label(role)} plateau {num(c.plateau.level)} from {c.plateau.start_step}"))
    if roles and roles[0] in LOSS_PANEL:
        if plot.chance_level is not None:
            out.append(HLine("chance", plot.chance_level, None,
                             f"chance ln({plot.chance_classes}) = {num(plot.chance_level)}"))
        for role, b in plot.baseline.items():
            for k, v in b.items():
                if v is not None and math.isfinite(v):
                    out.append(HLine("baseline", v, None, f"baseline {k} {role_label(role)} {num(v)}"))
    return out


def vlines(run: RunReport, first: bool) -> list[VLine]:
    """The vertical marks of a panel: the onset on every panel (labelled on the first only);
    on the first panel also the last healthy step (when it is not the onset) and the
    overfitting point."""
    plot = run.plot
    assert plot is not None
    out = []
    onset = run.onset_step
    if onset is not None:
        out.append(VLine("onset", onset, f"onset {onset}" if first else ""))
    if first and plot.rollback_step is not None and plot.rollback_step != onset:
        out.append(VLine("rollback", plot.rollback_step, f"last healthy {plot.rollback_step}", row=1))
    if first and plot.overfit_step is not None:
        out.append(VLine("overfit", plot.overfit_step, f"eval min {plot.overfit_step} (overfitting)", row=2))
    return out


def legend(run: RunReport) -> list[tuple[str, str]]:
    """The legend's entries ``(key, text)``: one per role drawn (``key`` the role), then one per
    kind of mark present (``key``: ``"raw"``, ``"trend"``, ``"onset"``, ``"spike"``,
    ``"nonfinite"``, ``"plateau"``, ``"chance"``, ``"overfit"``, ``"rollback"``,
    ``"baseline"``)."""
    plot = run.plot
    if plot is None or not plot.curves:
        return []
    items = [(r, role_label(r)) for r in plot.curves]
    items.append(("raw", "faded: raw points (min-max per pixel); line: debiased EMA"
                  + ("; learning rate and short curves as logged" if any(as_logged(d) for d in plot.curves.values())
                     else "")))
    if any(d.trend for d in plot.curves.values()):
        items.append(("trend", "dashed: fitted trend"))
    if run.onset_step is not None:
        items.append(("onset", "onset"))
    if any(d.spikes for d in plot.curves.values()):
        items.append(("spike", "spikes"))
    if any(d.nonfinite for d in plot.curves.values()):
        items.append(("nonfinite", "NaN/Inf points"))
    if any(c.plateau for c in run.curves):
        items.append(("plateau", "plateau level"))
    if plot.chance_level is not None:
        items.append(("chance", "chance level ln(C)"))
    if plot.overfit_step is not None:
        items.append(("overfit", "overfitting point"))
    if plot.rollback_step is not None:
        items.append(("rollback", "last healthy step"))
    if plot.baseline:
        items.append(("baseline", "baseline"))
    return items

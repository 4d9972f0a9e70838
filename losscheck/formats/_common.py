"""Helpers shared by output formats: JSON-safe conversion of report dataclasses."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


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
        "diagnosis": {"class": r.primary, "secondary": list(r.secondary), "onset_step": r.onset_step},
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

"""Rank remedies from the votes that findings carry, and derive concrete settings.

Each :class:`~losscheck.model.Finding` votes for remedies with a weight in (0, 1]. A remedy's
score is the sum over findings of ``weight x severity factor`` (error 3, warning 2, info 1),
so the remedies backed by the most severe and most specific evidence come first. Within one
finding, several votes for the same remedy (two reasons the same rule gives) count once, at
the strongest: a finding is one piece of evidence, and summing its reasons would let a rule
that lists more reasons for one remedy outvote its own stronger, more specific vote. The
evidence and settings shown are those of the strongest vote; settings of weaker votes fill
keys the strongest did not set. The numbers the settings quote (a clip threshold, the LR at an
onset, a rollback step) are measured by the analysis (:class:`~losscheck.model.OnsetFacts`):
this package holds no series maths.
"""

from __future__ import annotations

import math
from typing import Any

from losscheck.model import Finding, Remedy, Severity
from losscheck.remedies.catalogue import CATALOGUE

SEVERITY_FACTOR: dict[Severity, float] = {"error": 3.0, "warning": 2.0, "info": 1.0}


def rank(findings: list[Finding]) -> list[Remedy]:
    """Aggregate the findings' remedy votes into a ranked list (rank 1 first).

    Args:
        findings: the findings kept after configuration (ignored rules removed).
    Returns:
        Remedies sorted by descending score; ties broken by catalogue order.
    Raises:
        KeyError: a vote names an id missing from the catalogue (a programming error).
    """
    scores: dict[str, float] = {}
    best: dict[str, tuple[float, Any]] = {}
    settings: dict[str, dict[str, Any]] = {}
    for f in findings:
        factor = SEVERITY_FACTOR.get(f.severity, 1.0)
        strongest: dict[str, float] = {}  # this finding's vote per remedy: its strongest
        for v in f.remedies:
            CATALOGUE[v.id]  # fail loudly on typos
            strongest[v.id] = max(strongest.get(v.id, 0.0), v.weight * factor)
        for rid, s in strongest.items():
            scores[rid] = scores.get(rid, 0.0) + s
        for v in f.remedies:
            s = v.weight * factor
            if v.id not in best or s > best[v.id][0]:
                best[v.id] = (s, v)
            merged = settings.setdefault(v.id, {})
            for k, val in v.settings.items():
                merged.setdefault(k, val)
    order = list(CATALOGUE)
    ids = sorted(scores, key=lambda i: (-scores[i], order.index(i)))
    out = []
    for n, rid in enumerate(ids, 1):
        vote = best[rid][1]
        # the strongest vote's settings take precedence
        st = dict(settings[rid])
        st.update(vote.settings)
        info = CATALOGUE[rid]
        out.append(Remedy(n, rid, info.title, vote.evidence, st, round(scores[rid], 3), list(info.sources)))
    return out


# --------------------------------------------------------------------------- settings helpers


def nice(x: float, digits: int = 1) -> float:
    """Round ``x`` to ``digits`` significant figures (``nice(0.000437) == 0.0004``)."""
    if not math.isfinite(x) or x == 0:
        return x
    return float(f"{x:.{digits}g}")


def nice_steps(n: float) -> int:
    """Round a step count to a readable number (two significant figures, at least 10)."""
    if not math.isfinite(n) or n <= 0:
        return 10
    return int(max(10, nice(n, 2)))

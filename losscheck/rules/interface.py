"""The rule interface: one rule per code, one module per rule.

A rule turns the analysis of a run into zero or more coded
:class:`~losscheck.model.Finding` objects, each carrying remedy votes. Every rule documents
*what it detects*, *why it matters*, *what to do*, and *how it is computed* (with sources),
in the style of ruff's and sqlfluff's rule pages; ``losscheck explain CODE`` and
``docs/rules.md`` render exactly these fields.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from losscheck.model import Finding, RemedyVote, ResolvedRun, RunAnalysis, Severity


@dataclass
class RuleContext:
    """What a rule sees: the resolved run, its analysis, rule options (thresholds), the
    ``--baseline`` run when one is given (see :mod:`losscheck.baseline`), and this run's loss
    summary (role -> ``first``/``final``/``best``/``best_step``, from
    :func:`losscheck.pipeline.loss_summary`)."""

    run: ResolvedRun
    analysis: RunAnalysis
    options: dict[str, Any] = field(default_factory=dict)
    baseline: Any = None
    summary: dict[str, Any] = field(default_factory=dict)


class Rule(ABC):
    """A coded check. Subclasses set the class attributes and implement :meth:`check`.

    Class attributes:
        code: stable code, ``LC`` + 3 digits (``LC101``).
        name: stable kebab-case name (``loss-diverging``).
        severity: default severity, ``error``, ``warning`` or ``info``.
        summary: one line.
        what, why, fix, how: documentation paragraphs (markdown).
        example: a sample message.
        sources: citations for the method and thresholds.
        options: configurable thresholds with their defaults.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    what: ClassVar[str]
    why: ClassVar[str]
    fix: ClassVar[str]
    how: ClassVar[str]
    example: ClassVar[str] = ""
    sources: ClassVar[tuple[str, ...]] = ()
    #: Thresholds this rule reads, kebab-case name -> default; set in ``[thresholds]``.
    options: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kw) -> None:
        """Give every rule class a docstring built from its documentation attributes, so
        ``help(rule)`` shows the same text as ``losscheck explain``."""
        super().__init_subclass__(**kw)
        if not cls.__dict__.get("__doc__") and getattr(cls, "code", None):
            cls.__doc__ = (f"{cls.code} {cls.name} (default severity {cls.severity}): {cls.summary}\n\n"
                           f"What it detects: {cls.what}\n\nWhy it matters: {cls.why}\n\n"
                           f"What to do: {cls.fix}\n\nHow it is computed: {cls.how}\n\n"
                           f"Sources: {'; '.join(cls.sources)}")

    def opt(self, ctx: "RuleContext", name: str) -> float:
        """The threshold ``name`` from the configuration, else this rule's default."""
        return ctx.options.get(name, self.options[name])

    @abstractmethod
    def check(self, ctx: RuleContext) -> list[Finding]:
        """Return the findings for this run (empty when the rule does not fire). Never raises."""

    def finding(self, message: str, *, role: str | None = None, step: int | None = None,
                evidence: dict[str, Any] | None = None, remedies: list[RemedyVote] | None = None,
                severity: Severity | None = None) -> Finding:
        """Build a :class:`Finding` stamped with this rule's code, name and severity."""
        return Finding(self.code, self.name, severity or self.severity, role, step, message,
                       evidence or {}, remedies or [])

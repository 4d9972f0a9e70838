"""The rule interface: one rule per code, one module per rule.

A rule turns the analysis of a run into zero or more coded
:class:`~losscheck.model.Finding` objects, each carrying remedy votes. Every rule documents
*what it detects*, *why it matters*, *what to do*, and *how it is computed* (with sources),
in the style of ruff's and sqlfluff's rule pages; ``losscheck explain CODE`` and
``docs/rules.md`` render exactly these fields.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Generic, TypeVar

from losscheck.model import Finding, RemedyVote, ResolvedRun, RunAnalysis, Severity
from losscheck.ranges import Range


@dataclass(frozen=True)
class NoOptions:
    """The options of a rule without thresholds."""


def threshold(default: float, *, doc: str, unit: str | None = None, range: Range | None = None) -> Any:
    """A field of a rule's ``Options`` dataclass: a threshold with its ``default``, a one-line
    ``doc`` (what it bounds, and its source when it has one) and its ``unit`` when the field's
    name does not say it (names ending ``_steps``, ``_points``, ``_seconds``, ``_fraction``...
    do; :func:`losscheck.rules.docs.rule_thresholds` reads both for ``losscheck explain``).
    ``range`` is the values a configuration may set (:class:`~losscheck.ranges.Range`); without
    it they are derived from the unit, name and default (:func:`losscheck.ranges.range_of`)."""
    meta: dict[str, Any] = {"doc": doc}
    if unit:
        meta["unit"] = unit
    if range is not None:
        meta["range"] = range
    return field(default=default, metadata=meta)


def option_names(options: type) -> dict[str, float]:
    """The ``[thresholds]`` names of an ``Options`` dataclass, kebab case (field ``min_points``
    is ``min-points``), with their defaults. Raises TypeError for a field without a numeric
    default (a programming error: every threshold has one)."""
    out: dict[str, float] = {}
    for f in fields(options):
        if isinstance(f.default, bool) or not isinstance(f.default, (int, float)):
            raise TypeError(f"{options.__name__}.{f.name}: a threshold needs a numeric default")
        out[f.name.replace("_", "-")] = f.default
    return out


@dataclass
class RuleContext:
    """What a rule sees: the resolved run, its analysis, the rules' options (rule code -> that
    rule's ``Options`` instance, built from the configuration by
    :func:`losscheck.catalogue.rule_options`; a rule missing here uses its defaults), the
    ``--baseline`` run when one is given (see :mod:`losscheck.baseline`), and this run's loss
    summary (role -> ``first``/``final``/``best``/``best_step``, from
    :func:`losscheck.pipeline.loss_summary`)."""

    run: ResolvedRun
    analysis: RunAnalysis
    options: dict[str, Any] = field(default_factory=dict)
    baseline: Any = None
    summary: dict[str, Any] = field(default_factory=dict)


#: A rule's options type (its module's ``Options`` dataclass).
OptionsT = TypeVar("OptionsT")


class Rule(ABC, Generic[OptionsT]):
    """A coded check. Subclasses set the class attributes and implement :meth:`check`;
    a rule with thresholds subclasses ``Rule[Options]`` and sets ``Options``.

    Class attributes:
        code: stable code, ``LC`` + 3 digits (``LC101``).
        name: stable kebab-case name (``loss-diverging``).
        severity: default severity, ``error``, ``warning`` or ``info``.
        summary: one line.
        what, why, fix, how: documentation paragraphs (markdown).
        example: a sample message.
        sources: citations for the method and thresholds.
        Options: a frozen dataclass of the rule's thresholds, exported by its module: field
            ``x_y`` is the ``[thresholds]`` key ``x-y``, its default the rule's default
            (:class:`NoOptions` for a rule without thresholds).
        options: the same as kebab-case name -> default (set from ``Options``; what
            ``losscheck config`` and the configuration check list).
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
    Options: ClassVar[type] = NoOptions
    #: Thresholds this rule reads, kebab-case name -> default; set in ``[thresholds]``.
    options: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kw) -> None:
        """Give every rule class a docstring built from its documentation attributes, so
        ``help(rule)`` shows the same text as ``losscheck explain``."""
        super().__init_subclass__(**kw)
        cls.options = option_names(cls.Options)
        if not cls.__dict__.get("__doc__") and getattr(cls, "code", None):
            cls.__doc__ = (f"{cls.code} {cls.name} (default severity {cls.severity}): {cls.summary}\n\n"
                           f"What it detects: {cls.what}\n\nWhy it matters: {cls.why}\n\n"
                           f"What to do: {cls.fix}\n\nHow it is computed: {cls.how}\n\n"
                           f"Sources: {'; '.join(cls.sources)}")

    def opts(self, ctx: RuleContext) -> OptionsT:
        """This rule's options: the configured ones in ``ctx.options``, else its defaults."""
        got = ctx.options.get(self.code)
        return got if got is not None else self.Options()

    @abstractmethod
    def check(self, ctx: RuleContext) -> list[Finding]:
        """Return the findings for this run (empty when the rule does not fire). Never raises."""

    def finding(self, message: str, *, role: str | None = None, step: int | None = None,
                evidence: dict[str, Any] | None = None, remedies: list[RemedyVote] | None = None,
                severity: Severity | None = None) -> Finding:
        """Build a :class:`Finding` stamped with this rule's code, name and severity."""
        return Finding(self.code, self.name, severity or self.severity, role, step, message,
                       evidence or {}, remedies or [])

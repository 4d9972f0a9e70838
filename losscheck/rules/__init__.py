"""The rule catalogue: every module ``lcNNN_*.py`` in this package defines one rule.

A new rule is one new module defining a :class:`~losscheck.rules.interface.Rule` subclass
instance as ``RULE`` (and, when it has thresholds, an ``Options`` dataclass: their names,
defaults and ``[thresholds]`` keys come from its fields; nothing else to register).
:func:`run_rules` applies the selected rules to an analysed run.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Mapping
from functools import lru_cache

from losscheck.model import SEVERITIES, Finding, Severity
from losscheck.rules.interface import Rule, RuleContext


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    """Every rule, sorted by code: the ``RULE`` of each ``lcNNN_*.py`` module of this package
    (imported once, then cached). An import error in a rule module propagates."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("lc"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        rule = getattr(mod, "RULE", None)
        if isinstance(rule, Rule):
            found.append(rule)
    return tuple(sorted(found, key=lambda r: r.code))


def find_rule(code_or_name: str) -> Rule | None:
    """The rule whose code (case-insensitive) or name matches, or ``None``."""
    key = code_or_name.strip().lower()
    for r in all_rules():
        if r.code.lower() == key or r.name == key:
            return r
    return None


def selected(select: list[str] | None, ignore: list[str] | None) -> list[Rule]:
    """Rules after ``select`` / ``ignore`` (codes, code prefixes such as ``LC1``, names, or
    ``ALL``; case-insensitive codes), in code order. ``None`` or empty: no filter. Never raises;
    a pattern that matches nothing selects nothing."""
    def match(rule: Rule, pats: list[str]) -> bool:
        return any(rule.code.lower().startswith(p.lower()) or rule.name == p.lower() or p.upper() == "ALL"
                   for p in pats)
    rules = list(all_rules())
    if select:
        rules = [r for r in rules if match(r, select)]
    if ignore:
        rules = [r for r in rules if not match(r, ignore)]
    return rules


def run_rules(ctx: RuleContext, rules: list[Rule] | None = None,
              severity_overrides: Mapping[str, Severity] | None = None) -> list[Finding]:
    """Apply ``rules`` (default: all) and return the findings, most severe first.

    ``severity_overrides`` maps a code or name to ``error``/``warning``/``info``. A rule that
    raises is skipped, so one faulty rule never breaks a diagnosis; with the environment
    variable ``LOSSCHECK_DEBUG`` set (the test suite sets it) the exception propagates.
    """
    out: list[Finding] = []
    for rule in rules if rules is not None else all_rules():
        try:
            found = rule.check(ctx)
        except Exception:  # noqa: BLE001 - one faulty rule must never break a diagnosis
            if os.environ.get("LOSSCHECK_DEBUG"):
                raise
            continue
        for f in found:
            if severity_overrides:
                sev = severity_overrides.get(rule.code) or severity_overrides.get(rule.name)
                if sev:
                    f.severity = sev
            out.append(f)
    out.sort(key=lambda f: (SEVERITIES.index(f.severity), f.code))
    return out

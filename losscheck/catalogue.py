"""What the analysis and the rules let a configuration name, and their options built from
:class:`~losscheck.config.Settings`.

:mod:`losscheck.config` imports neither ``analysis`` nor ``rules``: it checks a file against
the :class:`~losscheck.config.Vocabulary` built here (every threshold with its default, every
rule code and name), and the pipeline turns the typed settings into each layer's options
here. Thresholds are the analysis' (``min-points``, ``spike-z-thresh``: the fields of
:class:`~losscheck.analysis.AnalysisOptions`, a detector's own named ``<detector>-<option>``)
and the rules' (``Rule.options``); a name both use sets both.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from losscheck.config import Settings, Vocabulary
from losscheck.ranges import Range, combine, range_of

#: :class:`~losscheck.analysis.AnalysisOptions` fields the analysis sets itself (or that
#: :class:`~losscheck.config.Settings` carries under its own name), never thresholds; ``facts``
#: holds the thresholds of the rules' measurements, named as the rules name them.
_NOT_THRESHOLDS = frozenset({"num_classes", "lr_restarts", "facts"})


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@lru_cache(maxsize=1)
def analysis_thresholds() -> dict[str, tuple[str | None, str, Any]]:
    """Kebab-case name -> ``(group, field, default)`` of every numeric analysis threshold:
    ``group`` is ``None`` for a field of ``AnalysisOptions`` itself (``min-points``), else the
    field holding a detector's options (``spike`` for ``spike-z-thresh``)."""
    from losscheck.analysis import AnalysisOptions

    out: dict[str, tuple[str | None, str, Any]] = {}
    for f in dataclasses.fields(AnalysisOptions):
        if f.name in _NOT_THRESHOLDS:
            continue
        if f.default_factory is not dataclasses.MISSING:  # a detector's options dataclass
            sub = f.default_factory()
            if dataclasses.is_dataclass(sub):
                for g in dataclasses.fields(sub):
                    v = getattr(sub, g.name)
                    if _number(v):
                        out[f"{f.name}-{g.name}".replace("_", "-")] = (f.name, g.name, v)
        elif _number(f.default):
            out[f.name.replace("_", "-")] = (None, f.name, f.default)
    return out


@lru_cache(maxsize=1)
def threshold_ranges() -> dict[str, Range]:
    """Kebab-case name -> the values it accepts (:class:`~losscheck.ranges.Range`), for every
    threshold of the analysis and the rules, from each field's declared ``range`` or, without
    one, derived from its unit, name and default (:func:`losscheck.ranges.range_of`). A name
    several thresholds share (``min-points``) gets the values all of them accept."""
    from losscheck.analysis import AnalysisOptions
    from losscheck.rules import all_rules

    found: dict[str, list[Range]] = {}
    top = AnalysisOptions()
    for name, (group, field_name, default) in analysis_thresholds().items():
        owner = top if group is None else getattr(top, group)
        f = next(g for g in dataclasses.fields(owner) if g.name == field_name)
        found.setdefault(name, []).append(range_of(field_name, default, f.metadata))
    for r in all_rules():
        for f in dataclasses.fields(r.Options):
            found.setdefault(f.name.replace("_", "-"), []).append(range_of(f.name, f.default, f.metadata))
    return {k: combine(v) for k, v in found.items()}


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """Every threshold (analysis, then rules: a rule's default is shown for a shared name)
    with the values it accepts, and every rule ``(code, name)``."""
    from losscheck.rules import all_rules

    thresholds: dict[str, float] = {k: v[2] for k, v in analysis_thresholds().items()}
    for r in all_rules():
        thresholds.update(getattr(r, "options", {}))
    return Vocabulary(thresholds=thresholds, rules=tuple((r.code, r.name) for r in all_rules()),
                      ranges=threshold_ranges())


def analysis_options(settings: Settings, meta_classes: int | None = None):
    """The :class:`~losscheck.analysis.AnalysisOptions` of one run: the configured analysis
    thresholds on top of the defaults, the thresholds of the rules' measurements
    (:class:`~losscheck.analysis.facts.FactOptions`), and C from the settings, else from the
    run's meta."""
    from losscheck.analysis import AnalysisOptions
    from losscheck.analysis.facts import FactOptions

    known = analysis_thresholds()
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in settings.thresholds.items():
        where = known.get(name)
        if where is None:
            continue  # a rule's threshold
        group, field_name, _ = where
        if group is None:
            top[field_name] = value
        else:
            nested.setdefault(group, {})[field_name] = value
    opts = AnalysisOptions(**top)
    for group, kw in nested.items():
        setattr(opts, group, dataclasses.replace(getattr(opts, group), **kw))
    opts.num_classes = settings.num_classes or meta_classes
    opts.facts = FactOptions.from_thresholds(settings.thresholds)
    return opts


def rule_options(settings: Settings) -> dict[str, Any]:
    """The options every rule sees (``RuleContext.options``): rule code -> that rule's
    ``Options`` (its module's dataclass), each field set from the threshold of the same
    kebab-case name when configured (``baseline-tolerance`` from its top-level key), else
    left at the rule's default. A name two rules use (``min-points``) sets both."""
    from losscheck.rules import all_rules

    configured = dict(settings.thresholds)
    if settings.baseline_tolerance is not None:
        configured["baseline-tolerance"] = settings.baseline_tolerance
    out: dict[str, Any] = {}
    for r in all_rules():
        kw = {f.name: configured[k] for f in dataclasses.fields(r.Options)
              if (k := f.name.replace("_", "-")) in configured}
        out[r.code] = r.Options(**kw)
    return out

"""The allowed values of a threshold, declared once beside it and checked by the configuration.

A threshold (a field of a rule's ``Options`` or of an analysis options dataclass) may carry
``metadata={"range": Range(...)}`` (rules: ``threshold(..., range=...)``); when it does not,
:func:`range_of` derives its range from what it already declares:

* a ``unit`` that says ``0-1``, or a name ending ``_share``, ``_fraction`` or ``_frac``: a
  share, a number from 0 to 1;
* the unit ``ratio, x`` ("this many times"): a number >= 1;
* an integer default (a count of points, steps, bins or evaluations): an integer >= 0;
* anything else (a ratio, a z-score, a loss level, seconds): a number >= 0.

No threshold of losscheck means anything below 0. A threshold that divides by its value or
sizes an array with it (``max-bins``, ``trend-bins``, ``divergence-blocks``) declares
``Range(1, integer=True)`` itself. :mod:`losscheck.config` checks every configured value
against its range before anything is read (a value out of range is a usage error, exit 2,
naming the file, the key and the range).

This module imports nothing of losscheck: the configuration, the analysis and the rules all
use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional


@dataclass(frozen=True)
class Range:
    """The values a threshold accepts: ``low <= value <= high``, a whole number when ``integer``.

    Attributes:
        low: the smallest value allowed (inclusive).
        high: the largest value allowed (inclusive), ``None`` for no upper bound.
        integer: only whole numbers (a float such as ``3.0`` is accepted as ``3``).
    """

    low: float = 0.0
    high: Optional[float] = None
    integer: bool = False

    def allows(self, value: Any) -> bool:
        """Whether ``value`` (an int or a finite float, not a bool) is in this range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if isinstance(value, float):
            if not math.isfinite(value):
                return False
            if self.integer and not value.is_integer():
                return False
        return value >= self.low and (self.high is None or value <= self.high)

    def describe(self) -> str:
        """The range in words, to follow "must be": ``an integer >= 1``, ``a number from 0 to 1``."""
        what = "an integer" if self.integer else "a number"
        low = _num(self.low)
        if self.high is None:
            return f"{what} >= {low}"
        return f"{what} from {low} to {_num(self.high)}"

    def __and__(self, other: "Range") -> "Range":
        """The values both ranges allow (a name two thresholds share must suit both)."""
        highs = [h for h in (self.high, other.high) if h is not None]
        return Range(max(self.low, other.low), min(highs) if highs else None,
                     self.integer or other.integer)


def _num(x: float) -> str:
    """``1`` for 1.0, ``0.5`` for 0.5."""
    return str(int(x)) if float(x).is_integer() else repr(x)


#: A share: a number from 0 to 1.
SHARE = Range(0.0, 1.0)
#: "This many times": a number >= 1.
TIMES = Range(1.0)
#: A count that divides or sizes an array: an integer >= 1.
POSITIVE_COUNT = Range(1.0, integer=True)

_SHARE_SUFFIXES = ("_share", "_fraction", "_frac")


def range_of(name: str, default: Any, metadata: Mapping[str, Any] | None = None) -> Range:
    """The range of one threshold: its declared ``metadata["range"]``, else derived from its
    ``unit``, name and default (rules in the module docstring).

    Args:
        name: the field name (snake case, ``progress_frac``).
        default: its default value (an int default makes it an integer).
        metadata: the field's metadata (``range``, ``unit``), if any.
    """
    meta = metadata or {}
    declared = meta.get("range")
    if isinstance(declared, Range):
        return declared
    unit = str(meta.get("unit") or "")
    if "0-1" in unit or name.endswith(_SHARE_SUFFIXES):
        return SHARE
    if unit.startswith("ratio, x"):
        return TIMES
    if isinstance(default, int) and not isinstance(default, bool):
        return Range(0.0, integer=True)
    return Range(0.0)


def combine(ranges: Iterable[Range]) -> Range:
    """The intersection of ``ranges`` (:meth:`Range.__and__`); ``Range()`` for none."""
    out: Range | None = None
    for r in ranges:
        out = r if out is None else out & r
    return out if out is not None else Range()

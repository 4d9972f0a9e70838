"""Output formats: every module here (not ``interface``, not ``_*``) defines ``FORMAT``.

A new output format is one new module.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from losscheck.formats.interface import Format


@lru_cache(maxsize=1)
def all_formats() -> dict[str, Format]:
    """Format name -> format, for every module in this package."""
    out = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "interface":
            continue
        fmt = getattr(importlib.import_module(f"{__name__}.{info.name}"), "FORMAT", None)
        if isinstance(fmt, Format):
            out[fmt.name] = fmt
    return out


def get_format(name: str) -> Format | None:
    """The format called ``name``, or ``None``."""
    return all_formats().get(name)

"""Output formats: every module here (not ``interface``, not ``_*``) defines ``FORMAT``,
whose name is the module's name.

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


def format_names() -> list[str]:
    """Every format's name, in module order, without importing any format (the CLI's help
    lists them at start-up)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name != "interface")


def get_format(name: str) -> Format | None:
    """The format called ``name``, or ``None``. Only that format's module is imported when it
    is named after the format (all of them are: ``format_names``); any other name looks
    through every format."""
    if name in format_names():
        fmt = getattr(importlib.import_module(f"{__name__}.{name}"), "FORMAT", None)
        if isinstance(fmt, Format) and fmt.name == name:
            return fmt
    return all_formats().get(name)

"""Run the losscheck CLI with ``importlib.import_module`` routed through the import statement,
so that ``python -X importtime`` also logs the modules the registries load (readers, formats,
rules: ``import_module`` bypasses the log, and their cost would otherwise be hidden).

    python -X importtime benchmarks/importtime_driver.py diagnose RUN -f json -o out.json 2> imports.txt
"""

import importlib
import importlib.util
import sys


def _import_module(name, package=None):
    if name.startswith("."):
        name = importlib.util.resolve_name(name, package)
    __import__(name)
    return sys.modules[name]


importlib.import_module = _import_module

from losscheck.cli import main  # noqa: E402 - after the patch, so the registries use it

sys.argv = ["losscheck"] + sys.argv[1:]
main()

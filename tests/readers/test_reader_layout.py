"""How the readers package is put together: every sniff confidence comes from the one table
in ``readers/interface.py``, and no module of the package imports another module's private
names (a helper shared by two modules is public in the module that owns it)."""

from __future__ import annotations

import ast
from pathlib import Path

from losscheck.readers import all_readers
from losscheck.readers.interface import SNIFF

PKG = Path(__file__).resolve().parents[2] / "losscheck"


def test_sniff_table_names_every_reader_and_nothing_else():
    names = {r.name for r in all_readers()}
    assert set(SNIFF) == names
    for name, cases in SNIFF.items():
        assert cases and all(0.0 < v <= 1.0 for v in cases.values()), name


def test_no_private_cross_imports():
    bad = []
    for f in sorted(PKG.rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("losscheck"):
                for alias in node.names:
                    sub = PKG.parent.joinpath(*node.module.split("."), alias.name + ".py")
                    if alias.name.startswith("_") and not alias.name.startswith("__") and not sub.exists():
                        bad.append(f"{f.relative_to(PKG)}: from {node.module} import {alias.name}")
    assert not bad, bad


def test_no_module_global_fast_switch():
    for f in sorted((PKG / "readers").glob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                assert "_FAST" not in names, f

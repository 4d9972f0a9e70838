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


def test_reader_modules_table_names_each_module_reader():
    """``choose`` skips a module by this table: it must say what each module's READER is."""
    import importlib

    from losscheck.readers import reader_modules
    from losscheck.readers.interface import READER_MODULES

    assert set(READER_MODULES) == set(reader_modules())
    for module, name in READER_MODULES.items():
        assert importlib.import_module(f"losscheck.readers.{module}").READER.name == name, module


def _repo_files():
    root = PKG.parent
    for sub in ("tests", "sample_runs", "benchmarks"):
        for f in sorted((root / sub).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.stat().st_size < 50_000_000:
                yield f


def test_choose_equals_asking_every_reader_and_no_sniff_exceeds_its_table_row():
    """``choose`` leaves out a reader whose highest table confidence cannot beat the claim so
    far; on every file of the repository it picks what asking every reader picks, and no
    reader ever answers above its row of SNIFF (the bound the skip relies on)."""
    from losscheck.readers import choose, read_head
    from losscheck.readers.interface import SNIFF

    checked = 0
    for f in _repo_files():
        try:
            head = read_head(f)
        except Exception:  # noqa: BLE001 - an unreadable fixture: choose raises the same way
            continue
        best, best_score = None, 0.0
        for reader in all_readers():
            score = reader.sniff(f, head)
            assert score <= max(SNIFF[reader.name].values()), (reader.name, f, score)
            if score > best_score:
                best, best_score = reader, score
        assert choose(f, head) is best, f
        checked += 1
    assert checked > 500

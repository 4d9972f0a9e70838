"""Layering checks (issue 13): rules only word facts, remedies only rank votes.

Every measurement a rule or a remedy needs is computed in :mod:`losscheck.analysis` and stored
in the run's :class:`~losscheck.model.RunFacts`; so no module under ``losscheck/rules/`` or
``losscheck/remedies/`` imports numpy (imports parsed with :mod:`ast`, lazy ones included).
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "losscheck"


def _imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, anywhere in the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", ["rules", "remedies"])
def test_rules_and_remedies_do_no_series_maths(package):
    files = sorted((PKG / package).glob("*.py"))
    assert files
    offenders = [f.name for f in files if {"numpy", "bottleneck", "scipy", "pandas"} & _imports(f)]
    assert offenders == [], f"series maths belongs in losscheck/analysis, not in {package}/: {offenders}"


def test_rules_read_no_private_analysis_helpers():
    """Rules use the analysis' facts and public names, not its private numerics (``_util``)."""
    for f in sorted((PKG / "rules").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("losscheck.analysis._"), (f.name, node.module)

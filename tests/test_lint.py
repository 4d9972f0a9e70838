"""Lint: ``ruff check`` and ``mypy`` (configured in pyproject.toml's ``[tool.ruff]`` and
``[tool.mypy]``) pass. CI installs ``.[test]``, which brings both; without one, its test is
skipped."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed (pip install '.[test]')")
def test_ruff_check_passes():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install '.[test]')")
def test_mypy_passes(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy")], cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_version_is_written_once():
    """pyproject.toml reads the version from losscheck.__version__ (setuptools' dynamic attr)."""
    import re

    import losscheck

    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project and not re.search(r"(?m)^version\s*=", project)
    assert 'version = { attr = "losscheck.__version__" }' in text and re.fullmatch(r"\d+\.\d+\.\d+.*",
                                                                                 losscheck.__version__)

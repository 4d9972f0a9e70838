"""Lint: ``ruff check`` (configured in pyproject.toml's ``[tool.ruff]``) passes on the whole
repository. CI installs ``.[test]``, which brings ruff; without it the test is skipped."""

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


def test_the_version_is_written_once():
    """pyproject.toml reads the version from losscheck.__version__ (setuptools' dynamic attr)."""
    import re

    import losscheck

    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project and not re.search(r"(?m)^version\s*=", project)
    assert 'version = { attr = "losscheck.__version__" }' in text and re.fullmatch(r"\d+\.\d+\.\d+.*",
                                                                                 losscheck.__version__)

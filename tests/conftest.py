"""Shared test helpers: paths to sample runs and the optional ../shared/real_runs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RUNS = REPO / "sample_runs"
REAL_RUNS = REPO.parent / "shared" / "real_runs"


@pytest.fixture
def real_runs() -> Path:
    """../shared/real_runs, or skip when this checkout has no shared folder beside it."""
    if not REAL_RUNS.is_dir():
        pytest.skip("../shared/real_runs is not beside this checkout")
    return REAL_RUNS


@pytest.fixture(autouse=True)
def _rules_raise(monkeypatch):
    """Rules that raise are skipped in production; in tests they must fail loudly."""
    monkeypatch.setenv("LOSSCHECK_DEBUG", "1")


@pytest.fixture(autouse=True)
def _sigint_restored():
    """Give SIGINT back its handler after every test: a framework under test (the real trainers
    of tests/integrations) may leave it ignored, and a child process inherits an ignored SIGINT,
    so the Ctrl-C tests' losscheck would then rightly keep ignoring it (exit 0, not 130)."""
    import signal

    before = signal.getsignal(signal.SIGINT)
    yield
    if signal.getsignal(signal.SIGINT) is not before and before is not None:
        signal.signal(signal.SIGINT, before)

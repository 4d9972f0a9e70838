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


def sigint_as_at_a_terminal() -> None:
    """``preexec_fn`` for a child the Ctrl-C tests interrupt: SIGINT at its default, as a shell
    at a terminal starts a command. A test runner started in the background by a
    non-interactive shell (``bash .ci/run &``) has SIGINT ignored, its children inherit that,
    and losscheck rightly keeps an inherited SIG_IGN (as ``nohup`` asks): then the test would
    measure the launcher, not losscheck (it exited 0 instead of 130)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)

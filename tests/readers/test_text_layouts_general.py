"""Plain-text log layouts made general for logs nobody anticipated (issue 11, branch i11j).

Each test builds a *synthetic* log for one cause (no public log's text is copied) and
asserts what is read from it; where a rule could turn a right reading wrong, the case it
must leave alone is checked too.
"""

from __future__ import annotations

import pytest

from tests.readers.text_helpers import read, read_with_notes, roles_of


# ------------------------------------------------- launches of one run, chained in file order

def _epochs(first: int, last: int, start: float, rate: float, total: int) -> list[str]:
    return [f"Epoch {e}/{total} - loss: {start * rate ** (e - first):.4f} - val_loss: {1.1 * start * rate ** (e - first):.4f}"
            for e in range(first, last + 1)]


def test_a_run_resumed_in_a_new_launch_keeps_every_print_in_file_order(tmp_path):
    """A run trained for epochs 1-5, then launched again (its counter back at 1) carrying on
    from where it was: both launches are one run; every print is kept, the second launch
    after the first, with a warning that says so."""
    lines = ["Training started"] + _epochs(1, 5, 2.0, 0.8, 5) + ["Training started"] + _epochs(1, 5, 2.0 * 0.8 ** 5, 0.8, 5)
    t, notes = read_with_notes(tmp_path, "train.log", "\n".join(lines) + "\n")
    loss = t["loss"]
    assert loss.steps.tolist() == list(range(1, 11))
    assert loss.values[0] == pytest.approx(2.0) and loss.values[-1] == pytest.approx(2.0 * 0.8 ** 9, rel=1e-3)
    assert t["val_loss"].steps.tolist() == list(range(1, 11))
    assert any(sev == "warning" and "chained in file order" in m for sev, m in notes)
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(roles["loss"]) == 10 and len(roles["eval_loss"]) == 10


def test_a_step_counter_that_restarts_each_phase_is_chained_with_its_stride(tmp_path):
    """``[P1] step 0 .. step 90`` then ``[P2] step 0 ..``: the per-phase step counter restarts;
    the values carry on, so the phases are laid one after the other, 10 steps apart."""
    lines, v = [], 3.0
    for phase in (1, 2, 3):
        for s in range(0, 100, 10):
            lines.append(f"[P{phase}] step {s} loss {v:.4f}")
            v *= 0.97
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    steps = t["loss"].steps.tolist()
    assert len(steps) == 30 and steps == sorted(steps) and len(set(steps)) == 30
    assert steps[10] - steps[9] == 10 and t["loss"].values[0] == pytest.approx(3.0)


def test_runs_appended_from_scratch_are_not_chained(tmp_path):
    """Two runs trained from scratch, appended to one file: the second opens at the first's
    opening level (a fresh start). Chaining them would show a jump the run never made, so the
    collector's restart rule stays: the later run replaces the earlier points, with a warning."""
    lines = _epochs(1, 6, 2.0, 0.6, 6) + _epochs(1, 6, 2.05, 0.6, 6)
    t, notes = read_with_notes(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(t["loss"]) == 6 and t["loss"].values[0] == pytest.approx(2.05)
    assert not any("chained in file order" in m for _, m in notes)
    assert any(sev == "warning" and "went back" in m for sev, m in notes)


def test_interleaved_writers_are_not_read_as_launches(tmp_path):
    """Two ranks printing the same steps in turn (``1,2,1,2``) are duplicate writers, not
    launches: no chaining (the normalizer keeps one value per step)."""
    lines = []
    for s in range(1, 9, 2):
        for rank in (0, 1):
            lines.append(f"rank {rank} step {s} loss {2.0 - 0.1 * s:.3f}")
            lines.append(f"rank {rank} step {s + 1} loss {1.95 - 0.1 * s:.3f}")
    t, notes = read_with_notes(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(t["loss"]) <= 8
    assert not any("chained in file order" in m for _, m in notes)

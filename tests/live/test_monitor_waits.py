"""The two waits of a live stop (issue 15): a divergence call inside a warm restart's high-LR
phase (SGDR) and a NaN call that may be the fp16 loss scaler skipping a step. Each is checked
both ways on the simulated corpus: with the wait, the healthy runs of that family run to the
end; without it (the wait replaced by "no wait"), at least one of them is stopped, so the test
fails if the wait stops doing its job. A resumed monitor keeps a pending wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from losscheck import Monitor
from tests.live.cuts import points

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "corpus"


def replay(run: Path, **patch) -> int | None:
    """The step at which a default Monitor stops ``run`` (``None``: it runs to the end);
    ``patch`` replaces Monitor methods on the instance (to switch a wait off)."""
    meta, unit, pts = points(run)
    mon = Monitor(meta=meta, step_unit=unit)
    for name, fn in patch.items():
        setattr(mon, name, fn)
    for step, vals in pts:
        if mon.update(step, **vals).stop:
            return step
    return None


def family(name: str) -> list[Path]:
    runs = sorted(CORPUS.glob(f"{name}-*"))
    if not runs:
        pytest.skip(f"no {name} runs in the corpus")
    return runs


def test_warm_restarts_hold_a_divergence_stop_until_the_high_lr_phase_ends():
    runs = family("sgdr")  # all labelled converging: SGDR's restarts raise the loss on purpose
    assert [replay(r) for r in runs] == [None] * len(runs)
    without = [replay(r, _restart_hold=lambda rep: 0) for r in runs]
    assert any(s is not None for s in without), "no SGDR run needs the hold: the test checks nothing"


def test_a_benign_fp16_skip_does_not_stop_the_run_but_a_real_overflow_does():
    runs = family("fp16_benign")  # dynamic loss scale, a few skipped steps: converging
    assert [replay(r) for r in runs] == [None] * len(runs)
    without = [replay(r, _overflow_skip=lambda rep: False) for r in runs]
    assert any(s is not None for s in without), "no benign fp16 run needs the wait: the test checks nothing"
    # a scaler that never recovers (499 of 500 steps skipped, labelled NaN at step 12) is stopped
    nan_run = CORPUS / "fp16_overflow-mlp-sgd-s3"
    if nan_run.is_dir():
        assert replay(nan_run) is not None


def test_a_monitor_resumed_inside_a_confirmation_wait_stops_where_it_would_have():
    runs = [r for r in sorted(CORPUS.glob("lr_too_high-*")) if replay(r) is not None]
    if not runs:
        pytest.skip("no lr_too_high run is stopped")
    checked = 0
    for run in runs:
        meta, unit, pts = points(run)
        whole = replay(run)
        mon = Monitor(meta=meta, step_unit=unit)
        for i, (step, vals) in enumerate(pts):
            mon.update(step, **vals)
            if mon._confirm_at is not None and not mon.verdict.stop:
                break  # a stop is waiting: checkpoint here
        else:
            continue
        state = mon.state_dict()
        assert state["confirm_at"] == mon._confirm_at
        resumed = Monitor(meta=meta, step_unit=unit)
        resumed.load_state_dict(state)
        stop = None
        for step, vals in pts[i + 1:]:
            if resumed.update(step, **vals).stop:
                stop = step
                break
        assert stop == whole, (run.name, stop, whole)
        checked += 1
    if not checked:
        pytest.skip("no stop waited for a confirmation")

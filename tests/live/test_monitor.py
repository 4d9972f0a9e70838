"""The live monitor gives the offline diagnosis: at step t, the verdict of ``diagnose`` on the
log cut at t (issue 15). Checked at the monitor's own analysis points and at an analysis forced
at a random step, over the corpus and the sample runs whose logs can be cut by step."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck import Monitor
from losscheck.pipeline import diagnose
from tests.live.cuts import cuttable_runs, log_file, points, write_cut

RUNS = [r for r in cuttable_runs() if points(r)[1] is not None]


def offline(run_dir: Path, t: int, tmp: Path) -> tuple:
    """The verdict ``diagnose`` gives for ``run_dir``'s log cut at step ``t``."""
    cut = write_cut(log_file(run_dir), tmp / f"cut{t}", t)
    rep = diagnose(cut.parent)
    if rep.errors:
        return ("unknown", rep.errors[0].message)
    return key(rep.runs[0])


def key(r) -> tuple:
    """What a verdict says: status, classes, onset, findings, remedies."""
    return (r.status, r.primary, list(r.secondary), r.onset_step,
            [(f.code, f.severity, f.role, f.step) for f in r.findings],
            [(m.id, m.settings) for m in r.remedies])


def live(v) -> tuple:
    if v.status == "unknown":
        return ("unknown", v.error)
    return key(v)


def test_there_are_runs_to_replay():
    assert len(RUNS) >= 50, [r.name for r in RUNS]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=st.sampled_from(RUNS), frac=st.floats(0, 1), growth=st.sampled_from([2.0, 1.3]),
       sigmas=st.sampled_from([3.0, 8.0]))
def test_verdict_equals_diagnose_of_the_cut_log(run, frac, growth, sigmas):
    meta, unit, pts = points(run)
    upto = max(1, math.ceil(frac * len(pts)))
    mon = Monitor(meta=meta, step_unit=unit, growth=growth, sigmas=sigmas)
    checked = []  # (step, live verdict) at the monitor's own analysis points
    for step, vals in pts[:upto]:
        v = mon.update(step, **vals)
        if v.analysed_step == step and v.analyses > len(checked):
            checked.append((step, live(v)))
    t = pts[upto - 1][0]
    forced = live(mon.analyse())
    with tempfile.TemporaryDirectory() as tmp:
        assert forced[0] == "unknown" or forced == offline(run, t, Path(tmp)), (run.name, t)
        if forced[0] == "unknown":
            assert offline(run, t, Path(tmp))[0] == "unknown"
        # the last automatic analysis point, and one drawn from the rest
        for step, verdict in {c[0]: c for c in checked[-1:] + checked[len(checked) // 2:][:1]}.values():
            want = offline(run, step, Path(tmp))
            assert verdict == want or (verdict[0] == want[0] == "unknown"), (run.name, step)


def healthy_run(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    return 2.5 * np.exp(-steps / (n / 5)) + 0.4 + 0.05 * rng.standard_normal(n)


@pytest.mark.parametrize("n", [1_000, 30_000])
def test_healthy_run_costs_logarithmically_many_analyses(n):
    """Work is counted, not timed: a healthy run is analysed at the doublings of its point
    count (plus the rare outlier), so O(log n) times."""
    mon = Monitor()
    for i, x in enumerate(healthy_run(n).tolist()):
        v = mon.update(i, loss=x, lr=1e-3)
    assert v.status in ("healthy", "warning")
    assert mon.analyses <= 2 * math.log2(n) + 4, mon.analyses


def test_nan_is_seen_at_the_step_it_appears():
    mon = Monitor()
    loss = healthy_run(5_000).tolist()
    for i, x in enumerate(loss[:3000]):
        assert not mon.update(i, loss=x).stop
    v = mon.update(3000, loss=float("nan"))
    assert v.stop and v.analysed_step == 3000 and "LC102" in v.codes


def test_divergence_is_seen_long_before_the_next_doubling():
    """An exponential rise from step 3000 triggers the outlier check; without it the next
    analysis would wait for point 4096."""
    mon = Monitor()
    loss = healthy_run(3000).tolist() + [0.8 * 1.01 ** k for k in range(1, 1000)]
    stop = None
    for i, x in enumerate(loss):
        if mon.update(i, loss=x).stop:
            stop = i
            break
    assert stop is not None and stop < 3400, stop


def test_a_constant_excursion_costs_log_many_analyses():
    """Every point an outlier (a loss far above its old level, forever): analyses stay
    logarithmic thanks to the gap rule."""
    mon = Monitor(Monitor().options)
    for i in range(2000):
        mon.update(i, loss=1.0 + 0.01 * (i % 7))
    before = mon.analyses
    for i in range(2000, 20000):
        mon.update(i, loss=50.0 + i)  # each value beyond the previous block
    assert mon.analyses - before <= 17 * math.log(20000 / 2000) + 8, mon.analyses - before


def test_state_round_trip_resumes_the_history():
    loss = healthy_run(600).tolist()
    a = Monitor()
    for i, x in enumerate(loss[:400]):
        a.update(i, loss=x)
    b = Monitor()
    b.load_state_dict(a.state_dict())
    for i, x in enumerate(loss[400:], 400):
        a.update(i, loss=x)
        b.update(i, loss=x)
    assert live(a.analyse()) == live(b.analyse())
    with pytest.raises(ValueError):
        b.load_state_dict({"version": 99})


def test_a_rewound_step_drops_the_later_points():
    mon = Monitor()
    for i in range(100):
        mon.update(i, loss=1.0 / (i + 1))
    mon.update(50, loss=0.5)
    data = mon.run_data()
    assert data.series["loss"].steps.tolist() == list(range(51))


class _CountingArray(np.ndarray):
    """An array that counts the elements it converts to Python (``tolist``)."""

    converted = 0

    def tolist(self):
        _CountingArray.converted += self.size
        return super().tolist()


def test_points_by_step_skips_fed_points_without_visiting_them():
    """Points at or below a tag's fed step are left out, and only the points taken are
    converted to Python: re-reading a whole file costs its new points, not all of them."""
    from losscheck.live.monitor import points_by_step
    from losscheck.model import Series

    n, fed = 1000, 990
    s = Series("loss", np.arange(1, n + 1), np.linspace(3.0, 1.0, n), "f", np.arange(n, dtype=float) + 1e9)
    s.steps, s.values, s.wall_time = (a.view(_CountingArray) for a in (s.steps, s.values, s.wall_time))
    lr = Series("lr", np.arange(1, n + 1, 10), np.full(n // 10, 1e-3), "f")
    _CountingArray.converted = 0
    rows, walls = points_by_step([("loss", s), ("lr", lr)], {"loss": fed})
    assert sorted(st for st, r in rows.items() if "loss" in r) == list(range(fed + 1, n + 1))
    assert sum("lr" in r for r in rows.values()) == n // 10  # no mark for lr: all its points
    assert walls == {st: st - 1 + 1e9 for st in range(fed + 1, n + 1)}
    assert _CountingArray.converted <= 4 * (n - fed)  # steps (twice: values, walls), values, walls

"""Tests for ``--format html`` and the plot digest it draws from (no browser here; the
headless-Chromium test is ``test_html_chromium.py``)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from losscheck.digest import debiased_ema, ema_weight, plot_digest
from losscheck.formats import get_format
from losscheck.formats import html as html_mod
from losscheck.formats._common import display_path
from losscheck.formats.html import NONFINITE, ONSET, SWEEP_BYTES_FIXED, SWEEP_BYTES_PER_RUN
from losscheck.model import PLOT_BINS, Report, RunData, Series
from losscheck.pipeline import Options, diagnose, diagnose_run

ROOT = Path(__file__).resolve().parents[2]
HTML = get_format("html")


def _run_data(n: int, seed: int = 0, nan_at: int | None = None, name: str = "run") -> RunData:
    """A noisy decaying loss, a noisy grad norm and a warmup LR over ``n`` steps."""
    rng = np.random.default_rng(seed)
    st = np.arange(n, dtype=np.int64)
    loss = 2.0 * np.exp(-st / (n / 5)) + 0.3 + 0.2 * rng.standard_normal(n) ** 2
    if nan_at is not None:
        loss[nan_at:nan_at + 10] = np.nan
    gn = 1 + rng.random(n)
    lr = np.minimum(st / max(n / 100, 1), 1.0) * 3e-4
    src = f"{name}/metrics.csv"
    return RunData(name, [src], {"loss": Series("loss", st, loss, src),
                                 "grad_norm": Series("grad_norm", st, gn, src),
                                 "learning_rate": Series("learning_rate", st, lr, src)})


# --------------------------------------------------------------------------- the digest


def test_ema_is_tensorboards_debiased_average():
    """Against a plain loop of TensorBoard's resmoothDataset: last = w*last + (1-w)*x over the
    finite values, divided by 1 - w**k; NaN stays NaN and does not reset the average."""
    rng = np.random.default_rng(1)
    v = rng.random(300) * 5
    v[[10, 11, 200]] = [np.nan, np.inf, np.nan]
    w = 0.9
    got = debiased_ema(v, w)
    last, k = 0.0, 0
    for x, g in zip(v, got):
        if not math.isfinite(x):
            assert math.isnan(g)
            continue
        last, k = last * w + (1 - w) * x, k + 1
        assert g == pytest.approx(last / (1 - w ** k), rel=1e-9)
    assert debiased_ema(np.full(5, 3.0), w).tolist() == [3.0] * 5  # the constant case
    assert ema_weight(100) == 0.6 and ema_weight(10_000) == pytest.approx(0.99)


def test_digest_is_min_max_per_bin_and_counts_nonfinite():
    rng = np.random.default_rng(2)
    n = 5_003
    st = np.cumsum(rng.integers(1, 4, n)).astype(np.int64)
    v = rng.standard_normal(n)
    v[rng.choice(n, 40, replace=False)] = np.nan
    v[7] = np.inf
    v[8] = -np.inf
    d = plot_digest(Series("x", st, v, "f"), "loss", bins=50)
    assert len(d.steps) <= 50 and d.steps == sorted(d.steps)
    # brute force: each bin's lowest/highest finite value
    edges = np.linspace(st[0], st[-1] + 1, 51)
    for k, (s0, lo, hi) in enumerate(zip(d.steps, d.low, d.high)):
        b = int(np.searchsorted(edges, s0, side="right") - 1)
        sel = v[(st >= edges[b]) & (st < edges[b + 1])]
        sel = sel[np.isfinite(sel)]
        assert lo == pytest.approx(sel.min()) and hi == pytest.approx(sel.max())
    assert sum(m.count for m in d.nonfinite) == 42  # none dropped
    assert {m.kind for m in d.nonfinite} == {"NaN", "+Inf", "-Inf"}


def test_a_long_curve_is_bounded_by_the_bins():
    d = plot_digest(Series("loss", np.arange(300_000), np.linspace(5, 1, 300_000), "f"), "loss")
    assert len(d.steps) == len(d.low) == len(d.smooth) == PLOT_BINS
    assert d.points == 300_000


def test_trend_is_drawn_from_the_fit_over_its_span():
    """The sampled trend of a clean exponential decay lies on the curve (the fit's parameters
    evaluated by :func:`losscheck.analysis.trend.trend_values`)."""
    n = 2_000
    st = np.arange(n, dtype=np.int64)
    loss = 0.5 + 3.0 * np.exp(-st / 300.0)
    r = diagnose_run(RunData("r", ["f"], {"loss": Series("loss", st, loss, "f")}), Options(), plots=True)
    d = r.plot.curves["loss"]
    assert d.trend, "no trend sampled"
    for s, v in d.trend:
        assert v == pytest.approx(0.5 + 3.0 * math.exp(-s / 300.0), rel=0.05)


# --------------------------------------------------------------------------- the page


def test_page_is_self_contained_and_escaped():
    data = _run_data(3_000, nan_at=1500, name="runs/<script>alert(1)</script>")
    r = diagnose_run(data, Options(), plots=True)
    html = HTML.render(Report([r], [], "0.1.0"))
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    assert "default-src 'none'" in html  # the browser may fetch nothing
    # no attribute points outside the page (anchors and data: only), no CSS url()
    for m in re.finditer(r'\b(?:src|href|xlink:href|action|poster)\s*=\s*"([^"]*)"', html):
        assert m.group(1).startswith(("#", "data:")), m.group(0)
    assert "url(" not in html and "@import" not in html
    assert html.count("<svg") == 1
    assert f'stroke="{NONFINITE}"' in html and "10 NaN" in html  # the NaN points are marked


def test_marks_come_from_the_report():
    rep = diagnose(ROOT / "sample_runs" / "qwen-style-diverge", plots=True)
    r = rep.runs[0]
    html = HTML.render(rep)
    assert r.onset_step is not None and f"onset {r.onset_step}" in html and ONSET in html
    assert f"last healthy {r.plot.rollback_step}" in html
    assert 'class="trend"' in html
    for f in r.findings:  # each finding links to its rule text on the page
        assert f'href="#rule-{f.code}"' in html and f'id="rule-{f.code}"' in html


def test_sweep_overview_failing_first_with_status_filters():
    rep = diagnose(ROOT / "sample_runs", plots=True)
    html = HTML.render(rep)
    cards = re.findall(r'<a class="card (\w+)" href="#run-(\d+)"', html)
    assert len(cards) == len(rep.runs) > 1
    order = [s for s, _ in cards]
    rank = {"failing": 0, "warning": 1, "healthy": 2}
    assert order == sorted(order, key=rank.__getitem__)
    # the order spelled out: status (failing, warning, healthy), most confident first, then path
    want = sorted(rep.runs, key=lambda r: (rank[r.status], -(r.confidence or 0.0), r.run))
    titles = re.findall(r'<a class="card \w+" href="#run-\d+">.*?<span title="([^"]*)">', html, re.S)
    assert titles == [html_mod.h(display_path(r.run)) for r in want]
    for i in range(len(rep.runs)):
        assert f'id="run-{i}"' in html
    for s in set(order):  # a filter per status present, working by :target (no script)
        assert f'href="#only-{s}"' in html and f'id="only-{s}"' in html
        assert f"#only-{s}:target" in html


def test_200_run_sweep_of_million_point_runs_stays_under_the_documented_size():
    """Bytes, not time: a 1M-point run reduced to the digest, drawn 200 times (a sweep)."""
    r = diagnose_run(_run_data(1_000_000, nan_at=500_000), Options(), plots=True)
    assert all(len(d.steps) == PLOT_BINS for d in r.plot.curves.values())  # every bin filled
    statuses = ["failing", "warning", "healthy"]
    runs = [dataclasses.replace(r, run=f"sweep/lr-{i:03d}", status=statuses[i % 3]) for i in range(200)]
    size = len(HTML.render(Report(runs, [], "0.1.0")).encode("utf-8"))
    assert size <= 200 * SWEEP_BYTES_PER_RUN + SWEEP_BYTES_FIXED, size
    one = len(HTML.render(Report([r], [], "0.1.0")).encode("utf-8"))
    assert one <= SWEEP_BYTES_PER_RUN + SWEEP_BYTES_FIXED


def test_spikes_overfitting_chance_and_baseline_are_marked():
    """Each mark the analysis or the baseline supplies is drawn, and only then."""
    from losscheck.baseline import BaselineRun
    from losscheck.formats.html import BASELINE, CHANCE, OVERFIT, SPIKE

    n = 3_000
    rng = np.random.default_rng(5)
    st = np.arange(n, dtype=np.int64)
    loss = 0.4 + 2.0 * np.exp(-st / 400.0) + 0.02 * rng.standard_normal(n)
    for k in (900, 1700, 2500):  # short, recovered spikes
        loss[k:k + 4] *= 4.0
    ev_st = np.arange(0, n, 100, dtype=np.int64)
    ev = 1.0 + 1.5 * np.exp(-ev_st / 300.0) + np.where(ev_st > 1200, (ev_st - 1200) / 1500.0, 0.0)
    data = RunData("r", ["f"], {"loss": Series("loss", st, loss, "f"), "eval_loss": Series("eval_loss", ev_st, ev, "f")})
    base = BaselineRun("b", set(), {"loss": {"final": 0.45, "best": 0.41}})
    r = diagnose_run(data, Options(), base, plots=True)
    html = HTML.render(Report([r], [], "0.1.0"))
    spikes = r.plot.curves["loss"].spikes
    assert spikes and html.count("l5-9 5 9z") == len(spikes) and f'fill="{SPIKE}"' in html
    assert r.plot.overfit_step is not None and f'stroke="{OVERFIT}"' in html
    assert f"eval min {r.plot.overfit_step}" in html
    assert "baseline final loss 0.45" in html and f'stroke="{BASELINE}"' in html
    assert f'stroke="{CHANCE}"' not in html  # no class count, no chance line
    # a loss sitting at ln(10) with --num-classes 10: the chance level is drawn
    flat = np.log(10) + 0.01 * rng.standard_normal(n)
    r2 = diagnose_run(RunData("c", ["f"], {"loss": Series("loss", st, flat, "f")}), Options(num_classes=10), plots=True)
    assert r2.plot.chance_level == pytest.approx(np.log(10))
    html2 = HTML.render(Report([r2], [], "0.1.0"))
    assert f'stroke="{CHANCE}"' in html2 and "chance ln(10)" in html2


def test_plot_digests_are_made_only_for_a_format_that_draws():
    """A sweep diagnosed for text/JSON holds no per-bin lists; the HTML format asks for them."""
    data = _run_data(2_000)
    assert diagnose_run(data, Options()).plot is None
    assert diagnose_run(data, Options(), plots=True).plot is not None
    assert HTML.draws_curves and not get_format("text").draws_curves

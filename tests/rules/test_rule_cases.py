"""Table-driven rule cases: ``tests/rules/cases/<CODE>.toml``, one file per rule code.

Each ``[[case]]`` describes a small synthetic run declaratively (curves built from a few
primitives below, with a seeded noise), the settings, and what the rule must answer. The run is
written as a generic CSV (``step`` + one column per metric; an empty cell where a metric is not
logged at that step) in ``tmp_path`` and diagnosed through the real pipeline
(:func:`losscheck.pipeline.diagnose`: read -> resolve -> analyse -> rules).

Case keys:
    name        what the case shows (the test id).
    steps       logged steps 1..steps (default 1000).
    expect      ``"fires"`` or ``"quiet"``: whether the file's rule reports a finding.
    severity    with ``fires``: the finding's severity.
    step        with ``fires``: ``[lo, hi]``, the finding's step lies in it (inclusive).
    message     with ``fires``: substrings the message must contain.
    evidence    with ``fires``: key -> value the finding's evidence must hold.
    options     :class:`losscheck.config.Settings` fields (``num_classes``, ``thresholds``...).
    columns     column name -> curve (below); ``baseline``: columns of a ``--baseline`` run.

A curve is a table; ``base`` primitives are summed, then factors multiply, then overrides:
    const = v | decay = [start, floor, tau] | linear = [start, slope per step] |
    points = [v1, v2, ...] (at the logged steps, in order)
    every = k        logged at steps divisible by k (step 1 too when ``first = true``)
    ramp = W         x min(1, t / W) (a linear warmup)
    cosine = P       x (1 + cos(pi * ((t - 1) mod P) / P)) / 2 (restarts every P steps)
    sine = [amp, P]  x (1 + amp * sin(2 pi t / P))
    growth = [from, doubling]      x 2 ** ((t - from) / doubling) for t >= from
    scale = [[from, factor], ...]  x factor for t >= from
    spikes = [[at, factor, width], ...]  x factor for at <= t < at + width
    noise = [sd, seed]   x exp(N(0, sd)) (seeded numpy generator)
    cap = c          min(value, c) (a logged value clipped at c)
    set = [[step, value], ...]  exact values ("nan", "inf" allowed), after all the above
    clock = [start, seconds per step]  wall time: cumulative; with ``pauses`` = [[at, seconds]]
                     (added from ``at`` on) and ``slow`` = [from, factor] (seconds per step x factor)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from losscheck.baseline import load_baseline
from losscheck.config import Settings
from losscheck.pipeline import diagnose
from losscheck.rules import all_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli is a core dependency there)
    import tomli as tomllib

CASES = Path(__file__).resolve().parent / "cases"
KEYS = {"name", "steps", "expect", "severity", "step", "message", "evidence", "options", "columns", "baseline"}
CURVE_KEYS = {"const", "decay", "linear", "points", "every", "first", "ramp", "cosine", "sine", "growth", "scale",
              "spikes", "noise", "cap", "set", "clock", "pauses", "slow"}


def _num(v) -> float:
    return float(v) if not isinstance(v, str) else {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[v]


def curve(spec: dict, steps: int) -> dict[int, float]:
    """The logged points ``{step: value}`` of one column described by ``spec`` (keys above)."""
    unknown = set(spec) - CURVE_KEYS
    assert not unknown, f"unknown curve keys {unknown}"
    every = int(spec.get("every", 1))
    at = [t for t in range(1, steps + 1) if t % every == 0 or (t == 1 and spec.get("first"))]
    t = np.array(at, dtype=float)
    if "clock" in spec:
        start, per = spec["clock"]
        dt = np.full(steps, float(per))
        if "slow" in spec:
            frm, factor = spec["slow"]
            dt[int(frm) - 1:] *= factor
        wall = start + np.cumsum(dt) - dt[0]
        for p_at, seconds in spec.get("pauses", []):
            wall[int(p_at) - 1:] += seconds
        return {s: float(wall[s - 1]) for s in at}
    v = np.zeros(len(t))
    if "const" in spec:
        v += spec["const"]
    if "decay" in spec:
        a, floor, tau = spec["decay"]
        v += floor + (a - floor) * np.exp(-(t - 1) / tau)
    if "linear" in spec:
        a, slope = spec["linear"]
        v += a + slope * (t - 1)
    if "points" in spec:
        pts = [_num(p) for p in spec["points"]]
        assert len(pts) == len(t), f"{len(pts)} points for {len(t)} logged steps"
        v += np.array(pts)
    if "ramp" in spec:
        v *= np.minimum(1.0, t / spec["ramp"])
    if "cosine" in spec:
        p = spec["cosine"]
        v *= (1 + np.cos(np.pi * ((t - 1) % p) / p)) / 2
    if "sine" in spec:
        amp, p = spec["sine"]
        v *= 1 + amp * np.sin(2 * np.pi * t / p)
    if "growth" in spec:
        frm, doubling = spec["growth"]
        v *= np.where(t >= frm, 2.0 ** ((t - frm) / doubling), 1.0)
    for frm, factor in spec.get("scale", []):
        v *= np.where(t >= frm, _num(factor), 1.0)
    for s_at, factor, width in spec.get("spikes", []):
        v *= np.where((t >= s_at) & (t < s_at + width), _num(factor), 1.0)
    if "noise" in spec:
        sd, seed = spec["noise"]
        v *= np.exp(np.random.default_rng(seed).normal(0.0, sd, len(t)))
    if "cap" in spec:
        v = np.minimum(v, spec["cap"])
    out = {s: float(x) for s, x in zip(at, v)}
    for s, x in spec.get("set", []):
        assert s in out, f"set: step {s} is not logged"
        out[s] = _num(x)
    return out


def write_run(folder: Path, columns: dict, steps: int) -> Path:
    """Write ``folder/metrics.csv``: ``step`` and one column per curve (empty cell: not logged)."""
    cols = {name: curve(spec, steps) for name, spec in columns.items()}
    logged = sorted(set().union(*cols.values()))
    lines = ["step," + ",".join(cols)]
    for s in logged:
        lines.append(f"{s}," + ",".join(repr(c[s]) if s in c else "" for c in cols.values()))
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _load() -> list:
    out = []
    for path in sorted(CASES.glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        for i, case in enumerate(doc.get("case", [])):
            out.append(pytest.param(path.stem, case, id=f"{path.stem}-{i}-{case.get('name', '?')}"))
    return out


ALL = _load()


@pytest.mark.parametrize("code,case", ALL)
def test_rule_case(code, case, tmp_path):
    assert set(case) <= KEYS, f"unknown case keys {set(case) - KEYS}"
    assert case["expect"] in ("fires", "quiet")
    steps = int(case.get("steps", 1000))
    run = write_run(tmp_path / "run", case["columns"], steps)
    opts = dict(case.get("options", {}))
    settings = Settings(**opts)
    baseline = None
    if "baseline" in case:
        baseline = load_baseline(write_run(tmp_path / "baseline", case["baseline"], steps))
    (report,) = diagnose(run, settings, baseline=baseline).runs
    found = [f for f in report.findings + report.baselined if f.code == code]
    seen = [f"{f.code} {f.severity} @{f.step}: {f.message}" for f in report.findings]
    if case["expect"] == "quiet":
        assert found == [], f"{code} fired on a case it must stay quiet on: {seen}"
        return
    assert found, f"{code} did not fire; findings: {seen}; class {report.primary}"
    f = found[0]
    if "severity" in case:
        assert f.severity == case["severity"], seen
    if "step" in case:
        lo, hi = case["step"]
        assert f.step is not None and lo <= f.step <= hi, f"{code} at step {f.step}, expected {lo}..{hi}: {seen}"
    for sub in case.get("message", []):
        assert sub in f.message, f"{sub!r} not in {f.message!r}"
    for k, v in case.get("evidence", {}).items():
        assert f.evidence.get(k) == v, f"evidence {k}={f.evidence.get(k)!r}, expected {v!r}"


#: Rules without a case where the rule cannot fire on a synthetic run (code -> why). Empty:
#: every rule has cases.
NO_FIRING_CASE: dict[str, str] = {}


def test_every_rule_has_a_firing_and_a_quiet_case():
    by_code: dict[str, set[str]] = {}
    for p in ALL:
        code, case = p.values
        by_code.setdefault(code, set()).add(case["expect"])
    codes = {r.code for r in all_rules()}
    assert set(by_code) <= codes, f"case files for unknown codes: {set(by_code) - codes}"
    for code in sorted(codes):
        want = {"quiet"} if code in NO_FIRING_CASE else {"fires", "quiet"}
        assert want <= by_code.get(code, set()), f"{code}: cases {sorted(by_code.get(code, set()))}, need {want}"

"""LC105 ranks ``lower_lr`` first when the facts say the LR was far too high (issue 14, pattern 7),
and keeps its label/model remedies first otherwise: an Adam-family LR far above its 1e-3 default,
or a flat loss sitting well above a level the run had already reached (knocked off it)."""

from __future__ import annotations

import numpy as np

from losscheck.analysis.evidence import knocked_up
from losscheck.model import Series
from losscheck.pipeline import diagnose


def _write(tmp_path, cols: dict[str, np.ndarray]) -> str:
    n = len(next(iter(cols.values())))
    lines = ["step," + ",".join(cols)]
    lines += [f"{i + 1}," + ",".join(f"{cols[k][i]:.6g}" for k in cols) for i in range(n)]
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    return str(tmp_path)


def _remedies(path: str) -> tuple[str, list[str]]:
    r = diagnose(path).runs[0]
    return r.primary, [m.id for m in r.remedies]


def test_adam_lr_far_too_high_ranks_lower_lr_first(tmp_path):
    rng = np.random.default_rng(0)
    flat = 1.386 * np.exp(rng.normal(0, 0.02, 400))
    primary, ids = _remedies(_write(tmp_path, {"loss": flat, "lr-Adam": np.full(400, 0.3)}))
    assert primary == "plateau"
    assert ids[0] == "lower_lr", ids


def test_adam_at_its_default_lr_keeps_the_label_and_model_remedies_first(tmp_path):
    rng = np.random.default_rng(0)
    flat = 1.386 * np.exp(rng.normal(0, 0.02, 400))
    primary, ids = _remedies(_write(tmp_path, {"loss": flat, "lr-Adam": np.full(400, 1e-3)}))
    assert primary == "plateau"
    assert ids[0] in ("check_labels", "check_model"), ids


def test_knocked_up_measures_the_level_above_the_earlier_floor():
    steps = np.arange(1, 301)
    v = np.concatenate([np.full(100, 0.55), np.full(200, 0.95)])
    rng = np.random.default_rng(0)
    v = v * np.exp(rng.normal(0, 0.01, 300))
    ratio, z = knocked_up(Series("loss", steps, v, "test"))
    assert 1.6 < ratio < 1.8 and z > 20
    noisy = Series("loss", steps, 0.7 * np.exp(rng.normal(0, 0.5, 300)), "test")
    assert knocked_up(noisy)[1] < 5
    flat = Series("loss", steps, np.full(300, 1.39), "test")
    assert knocked_up(flat) == (1.0, 0.0)
    assert knocked_up(Series("loss", steps[:5], np.ones(5), "test")) is None

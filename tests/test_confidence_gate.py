"""The confidence in the reports (JSON ``diagnosis.confidence``, text, markdown, SARIF), the
``--fail-on LEVEL:FLOOR`` gate, and the calibration figures of ``benchmarks/accuracy.py``."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from losscheck.errors import parse_fail_on
from losscheck.model import run_fails
from tests.conftest import REPO
from tests.test_gate_outputs import DIVERGING, run

spec = importlib.util.spec_from_file_location("lc_accuracy_cal", REPO / "benchmarks" / "accuracy.py")
accuracy = importlib.util.module_from_spec(spec)
sys.modules["lc_accuracy_cal"] = accuracy  # dataclasses look their module up by name
spec.loader.exec_module(accuracy)


def _confidence() -> float:
    code, out, _ = run("diagnose", DIVERGING, "--format", "json", "--fail-on", "never")
    assert code == 0
    diag = json.loads(out)["runs"][0]["diagnosis"]
    assert set(diag) == {"class", "secondary", "onset_step", "confidence"}
    c = diag["confidence"]
    assert isinstance(c, float) and 0.0 <= c <= 1.0
    return c


def test_json_text_markdown_and_sarif_carry_the_confidence():
    c = _confidence()
    _, text, _ = run("diagnose", DIVERGING, "--fail-on", "never")
    assert f"confidence {c:.2f}" in text
    _, md, _ = run("diagnose", DIVERGING, "--format", "markdown", "--fail-on", "never")
    assert f"(confidence {c:.2f})" in md
    _, sarif, _ = run("diagnose", DIVERGING, "--format", "sarif", "--fail-on", "never")
    props = [r["properties"] for r in json.loads(sarif)["runs"][0]["results"]]
    assert props and all(p["confidence"] == c for p in props)


def test_a_failing_verdict_below_the_floor_is_reported_but_passes_the_gate():
    c = _confidence()
    assert 0.01 < c < 0.99
    below, above = f"error:{c + 0.01:.3f}", f"error:{c - 0.01:.3f}"
    code, out, _ = run("diagnose", DIVERGING, "--format", "json", "--fail-on", below)
    assert code == 0
    doc = json.loads(out)
    assert doc["runs"][0]["status"] == "failing" and doc["fail_on"] == below
    assert run("diagnose", DIVERGING, "--fail-on", above)[0] == 1
    assert run("diagnose", DIVERGING, "--fail-on", "error")[0] == 1


def test_the_floor_in_the_configuration_file(tmp_path):
    c = _confidence()
    cfg = tmp_path / "losscheck.toml"
    cfg.write_text(f'fail-on = "error:{min(1.0, c + 0.01):.3f}"\n')
    assert run("diagnose", DIVERGING, "--config", cfg)[0] == 0
    cfg.write_text('fail-on = "error:1.5"\n')
    code, _, err = run("diagnose", DIVERGING, "--config", cfg)
    assert code == 2 and "losscheck.toml" in err and "[0, 1]" in err


@pytest.mark.parametrize("spec_, expected", [("error", ("error", None)), ("warning:0.8", ("warning", 0.8)),
                                             ("error:0", ("error", 0.0)), ("error:1", ("error", 1.0))])
def test_parse_fail_on(spec_, expected):
    assert parse_fail_on(spec_) == expected


@pytest.mark.parametrize("bad", ["sometimes", "error:", "error:x", "error:1.2", "error:-0.1", "never:0.5",
                                 "error:nan", 3])
def test_parse_fail_on_rejects(bad):
    with pytest.raises(ValueError):
        parse_fail_on(bad)
    code, _, err = run("diagnose", DIVERGING, "--fail-on", bad)
    assert code == 2 and "--fail-on" in err


def test_run_fails_with_a_floor():
    assert run_fails("failing", "error:0.8", 0.9)
    assert not run_fails("failing", "error:0.8", 0.7)
    assert run_fails("failing", "error:0.8", None)  # no confidence: judged on the status
    assert not run_fails("warning", "error:0.1", 0.9)
    assert run_fails("warning", "warning:0.5", 0.5)
    assert not run_fails("failing", "never", 1.0)


def _case(pred: str, label: str, conf: float):
    return accuracy.Case("t", "r", "heldout", label, None, None, predicted=pred, confidence=conf)


def test_ece_on_a_hand_made_example():
    # bin [0.9, 1.0]: 0.95, 0.95 (1 right, 1 wrong) -> claimed 0.95, observed 0.5
    # bin [0.6, 0.7): 0.6 x3 (3 right) -> claimed 0.6, observed 1.0
    cases = [_case("nan", "nan", 0.95), _case("nan", "diverging", 0.95), *[_case("plateau", "plateau", 0.6)] * 3]
    cal = accuracy.calibration(cases)
    assert cal.n == 5
    assert [(b["lo"], b["count"]) for b in cal.bins] == [(0.6, 3), (0.9, 2)]
    assert cal.bins[1]["claimed"] == pytest.approx(0.95) and cal.bins[1]["observed"] == pytest.approx(0.5)
    assert cal.ece == pytest.approx(2 / 5 * 0.45 + 3 / 5 * 0.4)
    assert cal.observed == pytest.approx(0.8) and cal.mean_claimed == pytest.approx((1.9 + 1.8) / 5)
    # right 0.95, 0.6 x3 vs wrong 0.95: one tie (0.5) and three losses, over 4 pairs
    assert cal.auroc == pytest.approx(0.5 / 4)
    text = accuracy.render_calibration("t", cal)
    assert f"{cal.ece:.3f}" in text and "NOT met" in text


def test_ece_is_zero_when_claims_match_and_a_confidence_of_one_is_binned():
    cases = [_case("nan", "nan", 1.0)] * 4 + [_case("nan", "nan", 0.5), _case("nan", "x", 0.5)]
    cal = accuracy.calibration(cases)
    assert cal.ece == pytest.approx(0.0)
    assert [b["count"] for b in cal.bins] == [2, 4]
    assert accuracy.calibration([]).ece is None
    assert accuracy.calibration([_case("nan", "nan", 0.9)]).auroc is None


def _fit_module():
    s = importlib.util.spec_from_file_location("lc_fit_confidence", REPO / "benchmarks" / "fit_confidence.py")
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


def test_the_fit_is_deterministic_keeps_the_signs_and_stays_finite_on_separable_data():
    import numpy as np

    from losscheck.analysis.confidence import FEATURES, SIGNS

    fit = _fit_module().fit
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, len(FEATURES)))
    # right exactly when the margin is high (separable), and more often when "noise" is HIGH:
    # the noise weight would come out positive, which its sign constraint forbids
    right = (x[:, 0] > 0.3) | (x[:, 3] > 0.9)
    classes = ["diverging"] * 20 + ["plateau"] * 20
    a = fit(classes, x, right, SIGNS, iterations=3000)
    b = fit(classes, x, right, SIGNS, iterations=3000)
    assert a == b
    w = a["weights"]
    assert w["margin"] > 0 and w["noise"] <= 0
    assert all(np.isfinite(v) for v in [a["intercept"], *w.values(), *a["class_offset"].values()])
    assert set(a["class_offset"]) == {"diverging", "plateau"}
    with pytest.raises(ValueError):
        fit([], np.zeros((0, len(FEATURES))), np.zeros(0, dtype=bool), SIGNS)


def test_source_groups_join_a_fault_family_and_a_project_across_forks_and_threads():
    mod = _fit_module()
    assert mod._repo_name(" open-mmlab/mmdetection#5911 ") == "mmdetection"
    assert mod._repo_name("[2014Vee/ssd-pytorch](https://github.com/2014Vee/ssd-pytorch)") == "ssdpytorch"
    assert mod._repo_name(" CloneNOX/Bi-LSTM-CN-Language-model `train_log.txt` @ `9178e5a` ") == "bilstmcnlanguagemodel"
    assert mod._repo_name(" a page with no repository ") is None
    src = {"iss-caffe-2731-flat": "caffe", "iss-caffe-yjxiong-2-stuck": "caffe"}
    g = [mod.source_group("text_logs", r, None, src) for r in src]
    assert g[0] == g[1] == "repo:caffe"
    assert (mod.source_group("corpus", "lr_bump-mlp-adam-s2", "lr_bump", {})
            == mod.source_group("corpus", "lr_bump-mlp-sgd-s3", "lr_bump", {}))
    assert mod.source_group("samples", "a", None, {}) == mod.source_group("samples", "b", None, {})
    assert mod.source_group("real", "x", None, {}) != mod.source_group("real", "y", None, {})


def test_out_of_source_predictions_never_see_their_own_group():
    import numpy as np

    from losscheck.analysis.confidence import FEATURES, SIGNS

    mod = _fit_module()
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(30, len(FEATURES)))
    right = x[:, 0] > 0.4
    classes = ["nan"] * 30
    groups = [f"g{i // 10}" for i in range(30)]
    z = mod.out_of_source(classes, x, right, groups, SIGNS, 1.0)
    flipped = right.copy()
    flipped[:10] = ~flipped[:10]  # change group g0's outcomes only
    z2 = mod.out_of_source(classes, x, flipped, groups, SIGNS, 1.0)
    assert np.allclose(z[:10], z2[:10])  # g0's predictions come from g1, g2 only
    assert not np.allclose(z[10:], z2[10:])  # the others did learn from g0
    with pytest.raises(ValueError):
        mod.out_of_source(classes, x, right, ["one"] * 30, SIGNS, 1.0)


def test_temperature_and_platt_maps_undo_an_overconfident_logit():
    import numpy as np

    mod = _fit_module()
    rng = np.random.default_rng(2)
    true = rng.normal(0.5, 1.5, size=4000)
    right = rng.uniform(size=4000) < 1 / (1 + np.exp(-true))
    z = 3.0 * true  # three times too sure
    a, c = mod.fit_map("temperature", z, right)
    assert c == 0.0 and a == pytest.approx(1 / 3, rel=0.15)
    a2, c2 = mod.fit_map("platt", z - 1.0, right)  # also shifted: Platt takes the shift back
    assert a2 == pytest.approx(1 / 3, rel=0.15) and c2 == pytest.approx(1 / 3, abs=0.2)
    assert mod.fit_map("identity", z, right) == (1.0, 0.0)
    # a map never reverses the order: the scale is bounded at 0 even for anti-correlated logits
    assert mod.fit_map("temperature", -z, right)[0] >= 0.0
    assert mod.log_loss(a * z, right) < mod.log_loss(z, right)
    with pytest.raises(ValueError):
        mod.fit_map("isotonic", z, right)


def test_the_sweep_summary_table_has_a_confidence_column(tmp_path):
    import shutil

    for name in ("qwen-style-diverge", "healthy-epoch-staircase"):
        shutil.copytree(REPO / "sample_runs" / name, tmp_path / name)
    code, out, _ = run("diagnose", tmp_path, "--format", "json", "--fail-on", "never")
    confs = {r["run"].rsplit("/", 1)[-1]: r["diagnosis"]["confidence"] for r in json.loads(out)["runs"]}
    _, text, _ = run("diagnose", tmp_path, "--fail-on", "never")
    assert "conf." in text
    for c in confs.values():
        assert f"{c:.2f}" in text


@pytest.mark.parametrize("given, shown", [("ERROR", "error"), ("Warning:0.5", "warning:0.5")])
def test_fail_on_takes_any_case_as_format_does(tmp_path, given, shown):
    """-f JSON was taken but --fail-on ERROR refused (new-user trial #16); the report spells
    the level as the schema does, whichever case was given."""
    code, out, err = run("diagnose", DIVERGING, "--fail-on", given, "-f", "json")
    assert code == 1 and json.loads(out)["fail_on"] == shown, err
    cfg = tmp_path / "losscheck.toml"
    cfg.write_text(f'fail-on = "{given}"\n')
    code, out, err = run("diagnose", DIVERGING, "--config", cfg, "-f", "json")
    assert code == 1 and json.loads(out)["fail_on"] == shown, err

"""BatchNorm evidence (issue 14, pattern 5): read from tag names and path components, by whole
tokens, conservatively (LayerNorm architectures and look-alike words are not evidence)."""

from __future__ import annotations

import numpy as np
import pytest

from losscheck.analysis.batchnorm import BatchNormOptions, batchnorm_evidence, detect_batchnorm
from losscheck.model import ResolvedRun, RoleAssignment, RunData, Series


def _run(path: str, tags=("loss",), eval_values=None, train_values=None) -> ResolvedRun:
    steps = np.arange(1, 201)
    train = Series("loss", steps, np.asarray(train_values if train_values is not None else
                                             np.linspace(1.0, 0.5, 200)), "t")
    series = {t: train for t in tags}
    roles = {"loss": RoleAssignment("loss", train)}
    if eval_values is not None:
        ev = Series("eval_loss", steps[19::20], np.asarray(eval_values, float), "t")
        series["eval_loss"] = ev
        roles["eval_loss"] = RoleAssignment("eval_loss", ev)
    return ResolvedRun(RunData(path, [path + "/log.csv"], series), roles)


@pytest.mark.parametrize("path,tags,found", [
    ("/exp/resnet18_cifar/run1", ("loss",), "path resnet18"),
    ("/exp/yolov5s/exp3", ("loss",), "path yolov5s"),
    ("/exp/vgg16_bn", ("loss",), "path vgg16bn"),
    ("/exp/run1", ("loss", "model/bn1/running_var"), "tag model/bn1/running_var"),
    ("/exp/run1", ("loss", "batch_norm_momentum"), "tag batch_norm_momentum"),
])
def test_evidence_found(path, tags, found):
    assert found in batchnorm_evidence(_run(path, tags))


@pytest.mark.parametrize("path,tags", [
    ("/exp/convnext_tiny/run", ("loss",)),          # LayerNorm
    ("/exp/vit_b16/run", ("loss",)),
    ("/exp/abnormal_data/run", ("loss", "bnb_loss")),   # tokens, not substrings
    ("/exp/run1", ("loss", "eval_loss")),
])
def test_no_evidence(path, tags):
    assert batchnorm_evidence(_run(path, tags)) == []


def test_a_jump_beyond_the_noise_with_train_fine_is_detected_and_wiggle_is_not():
    calm = [0.9, 0.7, 0.6, 0.55, 0.52, 0.5, 0.49, 0.48, 0.48, 0.47]
    jumped = calm[:6] + [6.0, 5.5, 5.8, 6.1]
    bn, ev = detect_batchnorm(_run("/exp/resnet50/r", eval_values=jumped))
    assert bn is not None and bn.onset_step == 140 and bn.persists, ev
    rng = np.random.default_rng(1)
    wiggle = list(0.5 * np.exp(rng.normal(0, 0.3, 10)))
    assert detect_batchnorm(_run("/exp/resnet50/r", eval_values=wiggle))[0] is None
    # the same jump without evidence, or with the training loss jumping too: not this cause
    assert detect_batchnorm(_run("/exp/mlp/r", eval_values=jumped))[0] is None
    train = np.concatenate([np.linspace(1.0, 0.5, 130), np.full(70, 8.0)])
    assert detect_batchnorm(_run("/exp/resnet50/r", eval_values=jumped, train_values=train),
                            BatchNormOptions())[0] is None


@pytest.mark.parametrize("n_evals", [100, 1000])
def test_only_candidate_jumps_pay_for_a_median(monkeypatch, n_evals):
    # work counted, not timed: a long eval curve that never jumps costs no median of its
    # prefix (it used to cost one per eval: quadratic in the evals at every analysis)
    import losscheck.analysis.batchnorm as B

    calls = []
    real = np.median
    monkeypatch.setattr(B.np, "median", lambda a, *k, **kw: calls.append(len(a)) or real(a, *k, **kw))
    steps = np.arange(1, 20 * n_evals + 1)
    train = Series("loss", steps, np.linspace(1.0, 0.5, steps.size), "t")
    ev = Series("eval_loss", steps[19::20], 0.6 * np.exp(np.random.default_rng(0).normal(0, 0.05, n_evals)), "t")
    run = ResolvedRun(RunData("/exp/resnet50/r", ["/exp/resnet50/r/log.csv"], {"loss": train, "eval_loss": ev}),
                      {"loss": RoleAssignment("loss", train), "eval_loss": RoleAssignment("eval_loss", ev)})
    assert detect_batchnorm(run)[0] is None
    assert calls == []
    # a real jump late in the curve is still found, with medians paid only there
    ev.values[-5:] *= 10
    bn, _ = detect_batchnorm(run)
    assert bn is not None and bn.onset_step == int(ev.steps[-5])
    assert len(calls) <= 5  # the jump's base, and the training loss before and after it

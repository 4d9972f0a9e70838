"""Which tags the live monitor watches for "far above its best level" (the shared loss-name
test of :mod:`losscheck.roles`, not a copy of it)."""

from __future__ import annotations

import pytest

from losscheck.live.monitor import _rising_is_bad


@pytest.mark.parametrize("tag", ["loss", "eval_loss", "train/xent", "val-nll", "Train-SmoothL1", "训练损失",
                                 "grad_norm", "train/gradnorm", "errD"])
def test_losses_and_grad_norms_are_watched_for_rising(tag):
    assert _rising_is_bad(tag)


@pytest.mark.parametrize("tag", ["learning_rate", "accuracy", "loss_scale", "throughput"])
def test_other_tags_are_not(tag):
    assert not _rising_is_bad(tag)

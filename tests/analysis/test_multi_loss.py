"""Multi-loss runs. GANs: the generator's loss is the training loss, the discriminator's is analysed
beside it, and a game lost by one player is LC109 (not an LR divergence, LC101)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscheck.analysis.adversarial import detect_imbalance
from losscheck.model import Series
from losscheck.pipeline import diagnose
from losscheck.roles import gan_pair


def write_gan(path, d_collapse_at: int | None, n: int = 60, g_name="G_loss", d_name="D_loss", seed=1):
    rng = np.random.default_rng(seed)
    rows = [f"epoch,{d_name},{g_name}"]
    for ep in range(1, n + 1):
        if d_collapse_at is not None and ep >= d_collapse_at:
            d = 0.69 * math.exp(-(ep - d_collapse_at) / 4) + 0.002
            g = 0.8 + 0.12 * (ep - d_collapse_at) + rng.normal(0, 0.1)
        else:
            d = 1.2 + 0.3 * math.sin(ep / 2) + rng.normal(0, 0.1)
            g = 1.5 + 0.6 * math.sin(ep / 2 + 1) + rng.normal(0, 0.2)
        rows.append(f"{ep},{abs(d):.5f},{abs(g):.5f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("tags,pair", [
    (["G_loss", "D_loss"], ("G_loss", "D_loss")),
    (["loss_G", "loss_D", "D_loss_real"], ("loss_G", "loss_D")),
    (["Generator_loss", "Discriminator_loss"], ("Generator_loss", "Discriminator_loss")),
    (["D loss", "G loss"], ("G loss", "D loss")),
    (["errG", "errD"], ("errG", "errD")),
    (["gen_loss", "disc_loss", "val_loss"], ("gen_loss", "disc_loss")),
    (["loss", "grad_norm"], None),
    (["box_loss", "cls_loss", "dfl_loss"], None),       # a detector's components are not a GAN
    (["loss_dice", "loss_ce"], None),
    (["G_loss"], None),                                  # one player alone is not a pair
])
def test_gan_pair_names(tags, pair):
    assert gan_pair({t: Series(t, [1, 2], [1.0, 2.0], "x") for t in tags}) == pair


def test_a_discriminator_that_wins_is_lc109_not_a_divergence(tmp_path):
    path = write_gan(tmp_path / "gan" / "losses.csv", d_collapse_at=15)
    (r,) = diagnose(path.parent).runs
    assert r.metrics["loss"].tag == "G_loss" and r.metrics["disc_loss"].tag == "D_loss"
    codes = [f.code for f in r.findings]
    assert "LC109" in codes and "LC101" not in codes
    f = next(f for f in r.findings if f.code == "LC109")
    assert f.evidence["winner"] == "discriminator" and "D_loss" in f.message and "G_loss" in f.message
    assert 15 <= f.step <= 20  # D halves about 3 epochs after the collapse starts
    assert r.remedies[0].id == "gan_balance" and r.status == "failing"
    assert {c.role for c in r.curves} >= {"loss", "disc_loss"}


def test_a_balanced_gan_is_not_called_diverging(tmp_path):
    path = write_gan(tmp_path / "gan" / "losses.csv", d_collapse_at=None)
    (r,) = diagnose(path.parent).runs
    assert r.primary != "diverging"
    assert not any(f.code in ("LC101", "LC109") for f in r.findings)


def test_a_generator_that_wins_is_detected_and_a_wgan_critic_is_not_judged():
    st = np.arange(40)
    g = Series("G", st, np.r_[np.full(20, 0.7), 0.7 * np.exp(-np.arange(20) / 2) + 0.001], "x")
    d = Series("D", st, np.r_[np.full(20, 0.7), np.linspace(0.8, 2.0, 20)], "x")
    imb = detect_imbalance(g, d)
    assert imb is not None and imb.winner == "generator" and 20 <= imb.onset_step <= 22
    critic = Series("D", st, np.linspace(-5, -0.01, 40), "x")
    assert detect_imbalance(g, critic) is None
    assert detect_imbalance(g, Series("D", st[:5], np.ones(5), "x")) is None


def test_every_component_loss_is_analysed_and_named(tmp_path):
    """A detector's total loss with its components: each component gets its own curve and
    class (a NaN box loss is named), while the run's class stays that of the total."""
    rows = ["step,loss,box_loss,cls_loss,dfl_loss"]
    for i in range(100):
        box = 1.0 * math.exp(-i / 30) + 0.2 if i < 70 else float("nan")
        rows.append(f"{i},{2.5 * math.exp(-i / 30) + 0.5},{box},{0.8 * math.exp(-i / 25) + 0.1},0.9")
    path = tmp_path / "det" / "results_log.csv"
    path.parent.mkdir()
    path.write_text("\n".join(rows) + "\n")
    (r,) = diagnose(path.parent).runs
    comps = {c.tag: c.klass for c in r.curves if c.role == "component"}
    assert set(comps) == {"box_loss", "cls_loss", "dfl_loss"}
    assert comps["box_loss"] == "nan" and comps["cls_loss"] == "converging"
    assert r.metrics["loss"].tag == "loss" and r.primary == "converging"


def test_a_csv_with_epoch_first_and_a_finer_step_column_keeps_every_row(tmp_path):
    """'epoch,iter,G_loss,D_loss' was taken for a Keras CSVLogger file (one row per epoch):
    190 of 200 points were lost."""
    rows = ["epoch,iter,G_loss,D_loss"]
    rng = np.random.default_rng(0)
    for i in range(200):
        rows.append(f"{i // 20},{i},{1.2 + 0.1 * rng.normal():.4f},{0.69 + 0.05 * rng.normal():.4f}")
    path = tmp_path / "gan_log.csv"
    path.write_text("\n".join(rows) + "\n")
    (r,) = diagnose(path).runs
    assert r.metrics["loss"].points == 200 and r.metrics["loss"].step_unit == "step"
    assert r.metrics["disc_loss"].points == 200

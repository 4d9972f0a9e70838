import numpy as np
import pytest

from losscheck.errors import NoLossMetric, UsageError
from losscheck.model import RunData, Series
from losscheck.roles import resolve


def run_with(*tags):
    return RunData("r", [], {t: Series(t, np.arange(5), np.ones(5), "f") for t in tags})


@pytest.mark.parametrize("tags,expect", [
    (("loss", "eval_loss", "grad_norm", "learning_rate", "epoch_dummy_loss"),
     {"loss": "loss", "eval_loss": "eval_loss", "grad_norm": "grad_norm", "lr": "learning_rate"}),
    (("train_loss_step", "train_loss_epoch", "val_loss", "lr-AdamW", "grad_2.0_norm_total"),
     {"loss": "train_loss_step", "eval_loss": "val_loss", "lr": "lr-AdamW", "grad_norm": "grad_2.0_norm_total"}),
    (("train/loss", "val/loss", "lr"), {"loss": "train/loss", "eval_loss": "val/loss", "lr": "lr"}),
    (("train/box_loss", "val/box_loss", "x/lr0", "x/lr1"), {"loss": "train/box_loss", "eval_loss": "val/box_loss",
                                                           "lr": "x/lr0"}),
    (("total_loss", "loss_cls", "lr"), {"loss": "total_loss", "lr": "lr"}),
    (("validation/loss", "Loss/train"), {"loss": "Loss/train", "eval_loss": "validation/loss"}),
])
def test_framework_names_fill_roles(tags, expect):
    r = resolve(run_with(*tags))
    got = {role: a.series.tag for role, a in r.roles.items() if role in expect}
    assert got == expect


def test_unassigned_losses_are_components():
    r = resolve(run_with("total_loss", "loss_cls", "loss_box_reg"))
    assert [s.tag for s in r.components] == ["loss_box_reg", "loss_cls"]


def test_override_wins_and_bad_override_names_the_tags():
    r = resolve(run_with("loss", "my_metric"), {"loss": "my_metric"})
    assert r.get("loss").tag == "my_metric" and r.roles["loss"].reason == "flag"
    with pytest.raises(UsageError, match="no such metric"):
        resolve(run_with("loss"), {"loss": "nope"})


def test_no_loss_is_a_clear_error():
    with pytest.raises(NoLossMetric, match="have: accuracy"):
        resolve(run_with("accuracy"))


def test_eval_loss_not_taken_as_train_loss():
    r = resolve(run_with("eval_loss"))
    assert "loss" not in r.roles and r.get("eval_loss").tag == "eval_loss"


def test_a_stray_short_file_does_not_hide_the_real_loss():
    data = RunData("r", [], {"loss": Series("loss", np.arange(3), np.ones(3), "extra.jsonl"),
                             "train/loss": Series("train/loss", np.arange(200), np.ones(200), "events")})
    assert resolve(data).get("loss").tag == "train/loss"
    data.series["loss"] = Series("loss", np.arange(50), np.ones(50), "log.jsonl")
    assert resolve(data).get("loss").tag == "loss"  # comparable lengths: the name's priority decides


@pytest.mark.parametrize("tags,expect", [
    # camelCase names: ValLoss is an eval loss, lossScale no loss
    (("Loss", "ValLoss", "lossScale"), {"loss": "Loss", "eval_loss": "ValLoss"}),
    # OpenNMT-py / TensorFlow cross-entropy "xent"
    (("acc", "ppl", "xent"), {"loss": "xent"}),
    (("train/xent", "valid/xent"), {"loss": "train/xent", "eval_loss": "valid/xent"}),
    # Time-Series-Library's "Vali Loss" is the validation loss, preferred to the test split's
    (("loss", "Train Loss", "Test Loss", "Vali Loss"), {"loss": "loss", "eval_loss": "Vali Loss"}),
    (("train_loss", "test/loss_x", "val/loss_x"), {"loss": "train_loss", "eval_loss": "val/loss_x"}),
    # darknet: the smoothed "avg loss" is the one its users watch, the batch's loss a component
    (("batch loss", "avg loss", "lr"), {"loss": "avg loss", "lr": "lr"}),
    (("loss", "avg loss"), {"loss": "loss"}),  # a plain "loss" still comes first
])
def test_more_framework_names(tags, expect):
    r = resolve(run_with(*tags))
    got = {role: a.series.tag for role, a in r.roles.items() if role in expect}
    assert got == expect


def test_no_total_loss_the_first_printed_term_wins():
    # equally long component names with as many points: the one logged first, not the
    # alphabetically first
    assert resolve(run_with("loss_l", "loss_c")).get("loss").tag == "loss_l"
    assert resolve(run_with("loss_c", "loss_l")).get("loss").tag == "loss_c"
    # more points still decide first; then the order of logging, not the shorter name
    # (issue 11: "Loss Discriminator, Loss Encoder, Loss Decoder", no total printed)
    data = RunData("r", [], {"loss_zz": Series("loss_zz", np.arange(9), np.ones(9), "f"),
                             "loss_a": Series("loss_a", np.arange(5), np.ones(5), "f"),
                             "loss_b": Series("loss_b", np.arange(9), np.ones(9), "f")})
    assert resolve(data).get("loss").tag == "loss_zz"
    assert resolve(run_with("Loss Discriminator", "Loss Encoder")).get("loss").tag == "Loss Discriminator"


@pytest.mark.parametrize("tags,expect", [
    (("rec_loss_u", "rec_loss_v", "rec_loss"), "rec_loss"),  # the stem of the components' names
    (("box_loss", "cls_loss", "loss_sum"), "loss_sum"),  # a name that says it is the sum
    (("loss_a", "tot loss"), "tot loss"),
    (("d_loss_real", "d_loss_fake"), "d_loss_real"),  # no total: the first logged
])
def test_a_total_before_its_components(tags, expect):
    assert resolve(run_with(*tags)).get("loss").tag == expect


@pytest.mark.parametrize("tags,expect", [
    (("Train-SmoothL1", "Train-Acc"), {"loss": "Train-SmoothL1"}),
    (("train_mae", "val_mae", "lr"), {"loss": "train_mae", "eval_loss": "val_mae"}),
    (("nll", "acc"), {"loss": "nll"}),
    (("xent_sum", "ce_head"), {"loss": "xent_sum"}),
    # a name saying "loss" comes first: a loss function's name is only the second tier
    (("mse", "loss"), {"loss": "loss"}),
    (("val_mse", "train_loss"), {"loss": "train_loss", "eval_loss": "val_mse"}),
])
def test_loss_function_names_when_no_name_says_loss(tags, expect):
    r = resolve(run_with(*tags))
    assert {role: a.series.tag for role, a in r.roles.items() if role in expect} == expect


def test_grad_alone_is_the_grad_norm():
    assert resolve(run_with("loss", "Grad")).get("grad_norm").tag == "Grad"


@pytest.mark.parametrize("tags,expect", [
    # the learning rate spelled out in words, with spaces or in camelCase
    (("Loss", "Current Learning Rate"), {"loss": "Loss", "lr": "Current Learning Rate"}),
    (("loss", "LearningRate"), {"loss": "loss", "lr": "LearningRate"}),
    (("loss", "learning-rate"), {"loss": "loss", "lr": "learning-rate"}),
    # Chinese names: 训练损失 train loss, 验证损失 validation loss, 学习率 learning rate
    (("训练损失", "验证损失", "学习率"), {"loss": "训练损失", "eval_loss": "验证损失", "lr": "学习率"}),
    (("Loss", "测试损失"), {"loss": "Loss", "eval_loss": "测试损失"}),
])
def test_spelled_out_and_chinese_names(tags, expect):
    r = resolve(run_with(*tags))
    got = {role: a.series.tag for role, a in r.roles.items() if role in ("loss", "eval_loss", "lr")}
    assert {k: v for k, v in got.items() if k in expect} == expect


def test_a_regularisation_term_is_not_the_objective():
    # a VAE / WAE prints its objective with its terms; the KL / MMD term is shorter but only a term
    r = resolve(run_with("loss_vae", "loss_recon", "loss_kl", "loss_mmd"))
    assert r.get("loss").tag == "loss_vae"
    assert {s.tag for s in r.components} == {"loss_recon", "loss_kl", "loss_mmd"}
    assert resolve(run_with("kld_loss", "rec_loss")).get("loss").tag == "rec_loss"
    assert resolve(run_with("loss_aux", "loss_main")).get("loss").tag == "loss_main"
    # a term alone is still the loss
    assert resolve(run_with("loss_kl")).get("loss").tag == "loss_kl"


def test_text_reader_loss_words_are_the_roles_list():
    """The text reader's quick "may hold a loss" test knows every loss-function name roles
    resolves (one list, :data:`losscheck.roles.LOSS_FUNCTIONS`), and the Chinese word for loss."""
    from losscheck.readers._textkv import _lossy_text
    from losscheck.roles import LOSS_FUNCTIONS, LOSS_ZH

    for word in sorted(LOSS_FUNCTIONS):
        assert _lossy_text(f"step 3 train_{word}: 0.5"), word
        assert "loss" in word or not _lossy_text(f"step 3 x{word}y: 0.5"), word  # a word, not a part
    assert _lossy_text("train-cross-entropy=6.9") and _lossy_text(f"训练{LOSS_ZH}: 1.2")

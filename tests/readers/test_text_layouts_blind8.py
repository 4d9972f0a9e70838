"""Plain-text log layouts generalised by cause for the eighth blind collection.

``benchmarks/text_logs_blind8/`` (40 public logs gathered blind, measured once: 25 of 40 with
10 silent misreads, then used as a tune set) showed silent misreads and unread layouts. Each
test below is a *synthetic* log written here for one cause (no public log's text is copied)
and asserts what is read from it; where a cause could turn a right read wrong, the old
layout is checked to read the same.
"""

from __future__ import annotations

from tests.readers.text_helpers import roles_of, read_with_notes as read


# ------------------------------------------------------- "Learning Rate 1e-4" as two words

def test_a_learning_rate_named_by_two_words_before_its_value_is_read(tmp_path):
    """``Step 10: Train loss 2.1, Learning Rate 2.000e-05, Speed 3.1`` (comma-separated
    ``name value`` items): the learning rate's name is two words, neither a metric word on
    its own, so it was dropped and the LR role stayed empty."""
    lines = [f"Step {10 * i}: Train loss {3 - i / 10:.3f}, Learning Rate {2e-5 * (1 - i / 40):.3e}, "
             f"Speed {3.1 + i / 100:.2f}" for i in range(1, 21)]
    text = "\n".join(lines) + "\n"
    t, _ = read(tmp_path, "train.log", text)
    assert len(t["learning_rate"]) == 20
    assert abs(float(t["learning_rate"].values[-1]) - 1e-5) < 1e-12
    assert "Speed" not in t  # a name that is no metric word is still not read this way
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["lr"].tag == "learning_rate" and roles["loss"].tag == "Train loss"


def test_a_learning_rate_sentence_is_read(tmp_path):
    """``Epoch[3] Learning rate is 0.01`` (a sentence-like print, one line per epoch beside
    the loss line): the LR is a metric of that epoch."""
    lines = []
    for ep in range(6):
        lines += [f"Epoch[{ep}] Learning rate is {0.01 / (ep + 1):.5f}",
                  f"Epoch[{ep}] Elapsed time 30.1 seconds",
                  f"Epoch[{ep}] Evaluation metric 'epoch_loss'={1 - ep / 10:.6f}"]
    text = "\n".join(lines) + "\n"
    t, _ = read(tmp_path, "train.log", text)
    assert t["learning_rate"].steps.tolist() == list(range(6))
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["lr"].tag == "learning_rate" and roles["loss"].tag == "epoch_loss"


def test_two_words_that_name_no_optimiser_metric_stay_unread(tmp_path):
    """``Frame rate 30`` beside a loss is not taken for a learning rate."""
    lines = [f"Step {i}: Train loss {3 - i / 10:.3f}, Frame rate {30 + i}" for i in range(1, 21)]
    t, _ = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert "learning_rate" not in t and not any("rate" in k.lower() for k in t)


# ------------------------------------------------------- an eval part beside a training total

def _parts(with_val_total: bool) -> str:
    lines = []
    for ep in range(8):
        a, b = 0.5 - 0.02 * ep, 0.3 - 0.01 * ep
        line = (f"epoch {ep}: train/a_loss: {a:.4f} train/b_loss: {b:.4f} train/loss: {a + b:.4f} "
                f"val/a_loss: {a + 0.1:.4f} val/b_loss: {b + 0.1:.4f}")
        if with_val_total:
            line += f" val/loss: {a + b + 0.2:.4f}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_an_eval_part_is_not_the_eval_loss_beside_a_training_total(tmp_path):
    """The validation prints only the parts (``val/a_loss``, ``val/b_loss``) of a loss whose
    total only the training prints (``train/loss``; YOLOv5's ``results.txt``): the eval-loss
    role took the first part, so a gap and trends of a sum and one of its parts were compared.
    The parts stay components."""
    from losscheck.discovery import discover
    from losscheck.pipeline import read_run
    from losscheck.roles import resolve

    p = tmp_path / "train.log"
    p.write_text(_parts(False), encoding="utf-8")
    run = resolve(read_run(discover(p).runs[0]))
    assert run.roles["loss"].series.tag == "train/loss" and "eval_loss" not in run.roles
    assert {"val/a_loss", "val/b_loss"} <= {s.tag for s in run.components}


def test_an_eval_total_beside_its_parts_is_the_eval_loss(tmp_path):
    roles = roles_of(tmp_path, "train.log", _parts(True))
    assert roles["eval_loss"].tag == "val/loss" and roles["loss"].tag == "train/loss"


def test_one_eval_loss_beside_a_training_aggregate_stays_the_eval_loss(tmp_path):
    """One eval loss series (``val loss_avg`` beside ``train loss_avg`` and a per-step ``loss``)
    is not a part of anything: it stays the eval loss."""
    lines = []
    for ep in range(1, 9):
        lines.append(f"epoch {ep} step {ep * 10}: loss: {1 / ep:.4f}")
        lines.append(f"epoch {ep}: train loss_avg: {1.1 / ep:.4f}, val loss_avg: {1.2 / ep + 0.1:.4f}")
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["eval_loss"].tag == "val loss_avg"


# ------------------------------------------------------- a record drawn after a cursor-up escape

def _rich_epochs(prefix: str) -> str:
    lines = ["Training started", "Training: |          | 0/? [00:00<?, ?it/s]"]
    for ep in range(10):
        lines.append(f"Validation: |          | 0/? [00:00<?, ?it/s]\x1b[A[12/09/24 14:03:31] INFO   "
                     f"Epoch {ep}: loss {3 / (ep + 1):.3e}  {prefix}loss {2 + ep / 10:.3e}  lr 1.0e-04")
        lines.append("")
    return "\n".join(lines) + "\n"


def test_a_record_after_a_cursor_up_escape_is_its_own_line(tmp_path):
    """A log record glued after a metric-less ``Validation:`` bar and the ``ESC[A`` tqdm moves
    the cursor up with: the bar's description made every name of the record an evaluation
    name (``val/loss``), so the training loss was analysed as an eval loss."""
    t, _ = read(tmp_path, "train.out", _rich_epochs("val_"))
    assert "loss" in t and "val/loss" not in t
    roles = roles_of(tmp_path, "train.out", _rich_epochs("val_"))
    assert roles["loss"].tag == "loss" and roles["eval_loss"].tag == "val_loss"
    assert float(roles["loss"].values[-1]) == 0.3


def test_a_one_letter_split_twin_of_the_loss_is_a_warned_read(tmp_path):
    """``v_loss`` printed beside ``loss`` on every line, no other eval loss named: the prefix may
    mean validation (the read was a confident train-only verdict); the user is told to name
    it with --eval-loss. The roles are not changed (``v_loss`` is a value loss in RL)."""
    _, notes = read(tmp_path, "train.out", _rich_epochs("v_"))
    warned = [m for sev, m in notes if sev == "warning"]
    assert any("'v_loss'" in m and "--eval-loss" in m for m in warned)
    roles = roles_of(tmp_path, "train.out", _rich_epochs("v_"))
    assert roles["loss"].tag == "loss" and "eval_loss" not in roles


def test_no_letter_split_warning_when_an_eval_loss_is_named(tmp_path):
    text = _rich_epochs("v_").replace("  lr ", "  val_loss 1.0  lr ")
    _, notes = read(tmp_path, "train.out", text)
    assert not any("--eval-loss" in m for _, m in notes)


# ------------------------------------------------------- a value ending a sentence

def _sentences() -> str:
    lines = ["Training samples 1000 and val samples 200"]
    for ep in range(8):
        lines.append(f"Epoch {ep} trained with loss: {0.02 / (ep + 1)!r}. The running time is {4000 + ep}.5.")
        lines.append(f"Epoch {ep} evaluated with loss: {0.0003 + ep * 1e-5!r}, dice score: {1.5e-05 + ep * 1e-7:.6e}. "
                     "The running time is 700.1.")
        lines.append(f"Best model saved at epoch: {ep}")
    return "\n".join(lines) + "\n"


def test_a_value_followed_by_a_full_stop_is_read(tmp_path):
    """``Epoch 0 trained with loss: 0.0196. The running time is ..``: a sentence's full stop
    after the value made the line unread (only the evaluation line was, and taken for the
    training loss), and ``dice score: 1.09e-05.`` was read as 1.09 with a unit ``e``."""
    t, _ = read(tmp_path, "train.out", _sentences())
    assert len(t["trained with loss"]) == 8 and float(t["trained with loss"].values[0]) == 0.02
    assert abs(float(t["dice score"].values[0]) - 1.5e-05) < 1e-12
    roles = roles_of(tmp_path, "train.out", _sentences())
    assert roles["loss"].tag == "trained with loss"
    assert roles["eval_loss"].tag == "evaluated with loss"  # ("evaluated": an evaluation split)


def test_a_dotted_number_is_still_not_a_value():
    """A value is still not cut out of a longer dotted token (``loss: 0.5.3`` is no 0.5)."""
    from losscheck.readers._textkv import _PAIR

    assert _PAIR.search("loss: 0.5.3 next") is None
    assert _PAIR.search("loss: 0.25. next").group("v") == "0.25"
    assert _PAIR.search("loss: 0.25.").group("v") == "0.25"


# ------------------------------------------------------- Chinese counters and full-width colons

def _chinese(fullwidth: bool) -> str:
    colon, comma = ("：", "，") if fullwidth else (": ", ", ")
    lines = ["训练数据集的长度为：50000"]
    step = 0
    for ep in (1, 2):
        lines.append(f"-------第 {ep} 轮训练开始------")
        for _ in range(6):
            step += 50
            lines.append(f"训练次数{colon}{step}{comma}Loss{colon}{2.0 - step / 1000:.6f}")
        lines.append(f"整体测试集上的Loss: {300 - 20 * ep:.4f}")
        lines.append("模型已保存")
    return "\n".join(lines) + "\n"


def test_a_chinese_step_count_with_full_width_colons_is_read(tmp_path):
    """``训练次数：100, Loss：1.98`` (training step count; full-width colons): the log was not
    claimed. The count is the step, ``第 N 轮`` the epoch; the test loss printed after each
    epoch is the eval loss."""
    for fullwidth in (True, False):
        roles = roles_of(tmp_path, f"log{fullwidth}.txt", _chinese(fullwidth))
        assert roles["loss"].tag == "Loss" and roles["loss"].steps.tolist() == list(range(50, 650, 50))
        assert roles["eval_loss"].tag == "整体测试集上的Loss"
        assert roles["eval_loss"].values.tolist() == [280.0, 260.0]


# ------------------------------------------------------- a one-epoch table with its headers

def test_a_one_row_table_under_its_header_is_a_one_line_log(tmp_path):
    """A YOLOv5 console cut to one epoch: its header, one row (losses ``nan``), the validation
    header and its ``all`` row. The headers belong to their rows, so this is a one-line log
    (read, so that the ``nan`` is reported) rather than 'not a supported log file'."""
    text = ("     Epoch   gpu_mem       box       obj       cls    labels  img_size\n"
            "      1/99     2.64G       nan       nan       nan         4       416: 100%|##########| 7/7 [00:15<00:00]\n"
            "               Class     Images     Labels          P          R     mAP@.5 mAP@.5:.95: 100%|#####| 1/1\n"
            "                 all         14          0          0          0          0          0\n")
    t, _ = read(tmp_path, "log.txt", text)
    assert t["box_loss"].values.size == 1 and t["box_loss"].values[0] != t["box_loss"].values[0]


def test_a_counter_header_is_still_counted_as_a_line(tmp_path):
    """Only table headers are folded into their rows: an ``Epoch 1/10`` line over one glued
    progress line and a message is still a four-line file that is not claimed on one loss."""
    from losscheck.readers import choose

    p = tmp_path / "log.txt"
    p.write_text("WARNING: something is deprecated\nEpoch 1/10\n"
                 "  3/234 [......] - ETA: 33:37 - loss: 44.4110Batch 3: Invalid loss, terminating\n"
                 "  4/234 [......] - ETA: 25:09 - loss: inf \n", encoding="utf-8")
    assert choose(p) is None


# ------------------------------------------------------- an epoch printed again with another value

def _saves(again: bool) -> str:
    lines = []
    for ep in range(1, 13):
        if ep == 1 and again:
            lines.append("Saved model at epoch 1 with loss: 2.5")
        lines.append(f"Saved model at epoch {ep} with loss: {2 / ep:.4f}")
    return "\n".join(lines) + "\n"


def test_an_epoch_printed_again_with_another_value_is_a_warned_read(tmp_path):
    """``Saved model at epoch 1 with loss: 2.5`` then ``.. epoch 1 with loss: 2.0``: one point
    per epoch keeps the later value; the dropped first print was silent."""
    t, notes = read(tmp_path, "loss_log.txt", _saves(True))
    assert len(t["with loss"]) == 12 and float(t["with loss"].values[0]) == 2.0
    assert any(sev == "warning" and "printed again" in m for sev, m in notes)


def test_no_warning_when_every_epoch_is_printed_once(tmp_path):
    _, notes = read(tmp_path, "loss_log.txt", _saves(False))
    assert not any("printed again" in m for _, m in notes)

"""Plain-text log layouts generalised by cause for the seventh blind collection.

``benchmarks/text_logs_blind7/`` (40 public logs gathered blind, measured once: 20 of 40 with
7 silent misreads, then used as a tune set) showed silent misreads and unread layouts. Each
test below is a *synthetic* log written here for one cause (no public log's text is copied)
and asserts what is read from it; where a cause could turn a right read wrong, the old
layout is checked to read the same.
"""

from __future__ import annotations

from tests.readers.text_helpers import roles_of, read_with_notes as read


# ------------------------------------------------------- a tqdm postfix key with a space

def _bars(val_key: str) -> str:
    lines = []
    for ep in range(12):
        lines.append(f"Train Epoch {ep}: 100%|##########| 20/20 [00:03<00:00,  6.1it/s, "
                     f"Loss={0.9 / (ep + 1):.4f}, Dice={0.1 + ep / 20:.3f}, LR=1.00e-04]")
        if ep % 3 == 0:
            lines.append(f"Validate: 100%|##########| 5/5 [00:00<00:00, 15.2it/s, "
                         f"{val_key}={0.5 + ep / 10:.4f}, Val Dice=0.300]")
    return "\n".join(lines) + "\n"


def test_a_postfix_key_with_a_space_keeps_its_first_word(tmp_path):
    """``Val Loss=0.61`` in a tqdm postfix is the key ``Val Loss``, not ``Loss``: the
    validation bars' values were merged into the training loss (a rising validation loss
    hidden inside a falling training one)."""
    text = _bars("Val Loss")
    t, _ = read(tmp_path, "train.log", text)
    assert len(t["Loss"]) == 12 and len(t["Val Loss"]) == 4
    assert float(t["Loss"].values[-1]) == 0.075
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["loss"].tag == "Loss" and roles["eval_loss"].tag == "Val Loss"
    assert float(roles["eval_loss"].values[-1]) == 1.4


def test_postfix_keys_without_spaces_read_as_before(tmp_path):
    """One-word keys (``val_loss=``) are read as they were."""
    t, _ = read(tmp_path, "train.log", _bars("val_loss"))
    assert len(t["val_loss"]) == 4 and len(t["Loss"]) == 12


# ------------------------------------------------------- records glued on one line

def _glued(glue: bool) -> str:
    lines, cur = [], ""
    for ep in range(1, 21):
        rec = f"[{ep:03d}] train_loss: {1 / ep:.3f} | dev_loss: {0.5 + ep / 50:.3f} | micro f1 on dev: 0.8"
        if not glue or ep % 4 == 0:
            lines.append(cur + rec + " >>> saved")
            cur = ""
        else:
            cur += rec + " "
    return "----\n" + "\n".join(lines) + "\n" + cur + "----\n"


def test_records_glued_on_one_line_are_each_read(tmp_path):
    """``[005] train_loss: .. | dev_loss: .. [006] train_loss: ..`` (a newline printed only on
    some epochs): every record is an epoch, not the first of each line only (which dropped
    the last epochs and with them a rising dev loss)."""
    t, _ = read(tmp_path, "train.log", _glued(True))
    assert len(t["train_loss"]) == 20 and len(t["dev_loss"]) == 20
    assert t["dev_loss"].steps.tolist() == list(range(1, 21))
    assert float(t["dev_loss"].values[-1]) == 0.9


def test_one_record_per_line_reads_as_before(tmp_path):
    t, _ = read(tmp_path, "train.log", _glued(False))
    assert len(t["train_loss"]) == 20


def test_a_bracketed_number_inside_a_message_does_not_split_it(tmp_path):
    """A bracket that does not start the line, or a counter that does not rise, is no record
    start: ``[3] loss: 0.5 [3] loss: 0.4`` stays one line (read as before)."""
    from losscheck.readers.text_logs import _glued_records

    assert _glued_records("[3] loss: 0.5 | [3] loss: 0.4") is None
    assert _glued_records("epoch 3 [1] loss: 0.5 [2] loss: 0.4") is None
    assert _glued_records("[1] loss: 0.5 | [2] acc: 0.4") is None
    assert _glued_records("[1] loss: 0.5 | [2] loss: 0.4") == ["[1] loss: 0.5 | ", "[2] loss: 0.4"]


# ------------------------------------------------------- "Cost" as the objective's name

def test_a_cost_printed_as_name_value_is_the_training_loss(tmp_path):
    """``Epoch 0 Update 100 Cost 52.1 PD 0.3 UD 5.2`` (Theano-era trainers call the objective
    the cost): ``Cost`` is read and is the loss when no name says "loss" (only the validation
    loss was found, the training cost was dropped)."""
    lines = []
    for u in range(1, 13):
        lines.append(f"Epoch {u // 5} Update {100 * u} Cost {60 - 2 * u:.6f} PD 0.31 UD 5.17")
        if u % 4 == 0:
            lines.append(f"validation loss: {163 - u:.4f}, validation perp: 383.2")
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "Cost" and len(roles["loss"]) == 12
    assert roles["eval_loss"].tag == "validation loss"


def test_a_time_cost_is_not_a_loss():
    """``Time cost=106.6`` (MXNet's epoch time), ``cost time: 790`` are durations."""
    from losscheck.roles import is_loss_name

    assert is_loss_name("Cost") and is_loss_name("train_cost")
    assert not is_loss_name("Time cost") and not is_loss_name("cost time") and not is_loss_name("cost_ms")


def test_a_time_cost_beside_a_loss_leaves_the_loss_alone(tmp_path):
    lines = [f"Epoch[{e}] Batch [{b}]\tSpeed: 25.1 samples/sec\tTrain-SmoothL1={1 / (e + b + 1):.5f}"
             for e in range(4) for b in (20, 40)]
    lines += [f"Epoch[{e}] Time cost={100 + e:.3f}" for e in range(4)]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "Train-SmoothL1"


# ------------------------------------------------------- an eval loss beside unknown names

def _eval_beside(names: tuple[str, ...]) -> str:
    return "\n".join(f"Epoch {e}: " + ", ".join(f"{n}: {6.6 - e / 10 + i / 100:.4f}" for i, n in enumerate(names))
                     + f", loss val: {6.5 - e / 12:.4f}" for e in range(10)) + "\n"


def test_an_eval_loss_beside_unknown_names_is_read_with_a_warning(tmp_path):
    """``Epoch 3: Cos eeg: 6.1, Cos img: 6.1, loss val: 6.3``: the only loss-named series is
    an evaluation one, so it is analysed alone; the user is told that the other names on its
    lines may be the training loss (the read was silent)."""
    _, notes = read(tmp_path, "log.txt", _eval_beside(("Cos eeg", "Cos img")))
    warn = [m for sev, m in notes if sev == "warning"]
    assert len(warn) == 1 and "'Cos eeg'" in warn[0] and "--loss" in warn[0]


def test_no_warning_when_the_other_names_are_known_scores_or_a_loss(tmp_path):
    """Known scores (accuracy, F1, lr) beside an eval loss, or a training loss printed too:
    nothing is doubtful."""
    for names in (("acc", "f1"), ("lr", "Dice"), ("train loss", "Cos img")):
        _, notes = read(tmp_path, "log.txt", _eval_beside(names))
        assert not [m for sev, m in notes if sev == "warning"], names


# ------------------------------------------------------- bar postfixes beside epoch summaries

def _bars_and_summaries(summaries: bool) -> str:
    """Per-batch tqdm refreshes through python logging (``unit_scale`` counts: ``1.00/40``
    below 100) and, with ``summaries``, an epoch summary block on its own lines."""
    lines, pre = [], "2024-01-02 10:00:00,000 - INFO - "
    for ep in range(1, 7):
        for b in range(1, 41):
            cnt = f"{b:.2f}" if b < 10 else f"{b:.1f}" if b < 100 else str(b)
            lines.append(pre + f"{100 * b // 40}%|#####     | {cnt}/40 [00:01<00:01, 7.1batch/s, "
                               f"accuracy={0.1 * ep:.3g}, loss={5 - ep / 2 + (40 - b) / 100:.3g}]")
            lines.append(pre + "\x1b[A")
        if summaries:
            lines += [pre + f"Epoch {ep}: ", pre + f"loss={5 - ep / 2:.4f}, accuracy={0.1 * ep:.4f}, ",
                      pre + f"val_loss={4 + (ep - 3) ** 2 / 10:.4f}, val_accuracy=0.3000"]
    return "\n".join(lines) + "\n"


def test_epoch_summaries_are_not_merged_with_the_bar_display(tmp_path):
    """A key printed in per-batch bar postfixes (a rounded running display) and on its own
    summary lines: the summary lines are the series (the two were merged into one series,
    whose first value was a bar's)."""
    t, notes = read(tmp_path, "train_log.txt", _bars_and_summaries(True))
    assert len(t["loss"]) == 6 and float(t["loss"].values[0]) == 4.5 and float(t["loss"].values[-1]) == 2.0
    assert len(t["val_loss"]) == 6
    assert any("progress-bar postfixes" in m for _, m in notes)


def test_bars_alone_are_still_read_with_decimal_counters(tmp_path):
    """Without summary lines the bars are the series, every refresh (``1.00/40`` counts too:
    they were left to the generic extractor, on another step axis)."""
    t, notes = read(tmp_path, "train_log.txt", _bars_and_summaries(False))
    assert len(t["loss"]) == 240
    assert t["loss"].steps.tolist() == list(range(1, 241))  # the bar counter, chained per epoch
    assert not any("no step or epoch counter" in m for _, m in notes)


# ------------------------------------------------------- one loss printed at two rates

def _two_rate_log(summary: str) -> str:
    lines = []
    for ep in range(1, 9):
        for b in (100, 200, 300, 400):
            lines.append(f"2024-01-01 10:00:00,000\troot\tINFO\tloss: {2 / ep + b / 4000:.6f}  accuracy: 50.0 [{b:5d}/400]")
        lines.append(f"2024-01-01 10:00:00,000\troot\tINFO\t{summary}: {2 / ep:.6f} accuracy: 60.0% ")
        lines.append(f"2024-01-01 10:00:00,000\troot\tINFO\tVal loss: {1 / ep:.6f} Val accuracy: 70.0%")
    return "\n".join(lines) + "\n"


def test_a_split_word_padded_with_two_spaces_stays_in_the_name(tmp_path):
    """``Train  Loss: 0.55`` (padded to line up with ``Valid Loss``) is ``Train Loss``, not a
    second series ``Loss`` beside the per-batch ``loss``."""
    t, _ = read(tmp_path, "train.log", _two_rate_log("Train  Loss"))
    assert "Train Loss" in t and "Loss" not in t and len(t["Train Loss"]) == 8


def test_a_loss_printed_per_batch_and_as_a_train_summary_is_a_warned_read(tmp_path):
    """``loss`` per batch and ``Train Loss`` per epoch: the report analyses one, and the read
    says that both exist (labellers took the epoch summary where the resolver takes the
    per-batch prints); a ``<name>_epoch`` split made by the reader is not such a pair."""
    _, notes = read(tmp_path, "train.log", _two_rate_log("Train  Loss"))
    warn = [m for sev, m in notes if sev == "warning"]
    assert len(warn) == 1 and "two rates" in warn[0] and "'Train Loss'" in warn[0]
    _, notes = read(tmp_path, "train.log", _two_rate_log("Train acc"))
    assert not [m for sev, m in notes if sev == "warning"]


# ------------------------------------------------------- unread layouts

def test_a_boxed_table_with_duration_cells_is_read(tmp_path):
    """A table framed by ``+----+`` rules with ``| cells |`` and a duration column (``1.36s``):
    a cell with a time unit is a duration, skipped, not a reason to drop the row (the file
    was "not a supported log file")."""
    rule = "+-----------+-----------+--------------+"
    rows = [f"| {i:<9} | {5 + i / 10:<9.5g} | {0.9 * i:.2f}s{'':<8} |" for i in (1, 2, 3, 4, 6, 10)]
    text = "\n".join([rule, "| Iteration | Loss      | Elapsed Time |", rule, *rows, rule]) + "\n"
    roles = roles_of(tmp_path, "log.txt", text)
    assert roles["loss"].steps.tolist() == [1, 2, 3, 4, 6, 10]
    assert float(roles["loss"].values[-1]) == 6.0


def test_a_one_step_block_framed_by_rules_is_read(tmp_path):
    """One progress block between ``--`` rules (a run stopped after its first step): the rules
    are not content, so the file is a one-line log and is read (too little data follows), not
    refused as "not a supported log file"."""
    text = ("--\nTraining Step: 1  | time: 12.3s\n"
            "| Adam | epoch: 001 | loss: 0.00000 - acc: 0.0000 | val_loss: 0.61 - val_acc: 0.12 -- iter: 16/16\n--\n")
    roles = roles_of(tmp_path, "log.txt", text)
    assert roles["loss"].values.tolist() == [0.0] and roles["eval_loss"].values.tolist() == [0.61]


def test_a_console_of_bars_without_metrics_is_read_and_says_so(tmp_path):
    """tqdm refreshes that print no metric (a training console whose loss is not printed):
    claimed and read, so the user is told no metric is there instead of "not a log"."""
    from losscheck.readers import choose
    from losscheck.readers.text_logs import READER

    text = "".join(f"[train]:   0%|          | {s}/3000000 [08:{s % 60:02d}<218:49:50,  3.81it/s]\n"
                   for s in range(1974, 1990))
    p = tmp_path / "log.txt"
    p.write_text(text)
    assert choose(p) is READER
    res = READER.read(p)
    assert not res.series
    assert any("no recognised metric" in n.message for n in res.notes)


def _spaced_table(rows: int) -> str:
    return ("epoch train loss valid loss accuracy top1_opt\n"
            + "".join(f"{e} {1 / (e + 1):.4f} {1.2 / (e + 1):.4f} 0.9{e} 0.5\n" for e in range(rows)))


def test_a_table_header_with_split_words_before_loss_is_read(tmp_path):
    """``epoch train loss valid loss accuracy top1_opt`` (a results table copied with its names'
    underscores turned into spaces; a digit inside a name): ``train loss`` and ``valid loss``
    are one column each, so the rows' cells line up (the file was refused)."""
    roles = roles_of(tmp_path, "log.txt", _spaced_table(5))
    assert roles["loss"].tag == "train loss" and roles["eval_loss"].tag == "valid loss"
    assert len(roles["loss"]) == 5 and float(roles["eval_loss"].values[-1]) == 0.24


def test_a_one_row_table_with_nan_is_read(tmp_path):
    """One row (the run went nan in its first epoch): read, the nan kept."""
    import math

    text = "epoch train loss valid loss accuracy\n0 nan nan 0.99\n"
    roles = roles_of(tmp_path, "log.txt", text)
    assert math.isnan(roles["loss"].values[0]) and math.isnan(roles["eval_loss"].values[0])


def test_a_row_is_not_taken_for_a_header():
    """A line with a number of its own stays a row, digits inside names or not."""
    from losscheck.readers._textkv import KVExtractor

    kv = KVExtractor()
    kv.feed("epoch train_loss valid_loss top1", 0)
    assert kv.feed("epoch 3 train_loss 0.5", 1) != 1  # (not a new header)


def test_values_named_by_the_split_alone_are_read_and_the_user_told_no_loss_is_named(tmp_path):
    """``Epoch 003: train=0.149 valid=0.216 best=0.216 duration=0.48 hrs``: no name says loss;
    the file is read (it was "not a supported log file") and the refusal names the metrics,
    so ``--loss train`` can pick one."""
    import pytest

    from losscheck.discovery import discover
    from losscheck.errors import NoLossMetric
    from losscheck.pipeline import read_run
    from losscheck.roles import resolve

    text = "".join(f"Epoch {e:03d}: train={0.18 - e / 100:.8f} valid={0.23 - e / 200:.8f} best=0.2 "
                   f"duration=0.48 hrs\n" for e in range(8))
    p = tmp_path / "log.txt"
    p.write_text(text)
    data = read_run(discover(p).runs[0])
    assert len(data.series["train"]) == 8 and len(data.series["valid"]) == 8
    with pytest.raises(NoLossMetric, match="train"):
        resolve(data)
    roles = resolve(data, {"loss": "train", "eval_loss": "valid"}).roles
    assert roles["loss"].series.tag == "train"


def test_postfix_items_split_by_spaces_are_each_read():
    """A postfix string of space-separated items (``set_postfix_str("loss=0.5 acc=0.9")``)
    gives every item, as before the key-with-a-space rule."""
    from losscheck.readers.text_logs import _POSTFIX_PAIR

    assert _POSTFIX_PAIR.findall("00:01, 3it/s, loss=0.5 acc=0.9") == [("loss", "0.5"), ("acc", "0.9")]
    assert _POSTFIX_PAIR.findall("00:01, 3it/s, Val Loss=0.61") == [("Val Loss", "0.61")]

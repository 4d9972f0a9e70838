"""Plain-text log layouts generalised by cause for the sixth blind collection.

``benchmarks/text_logs_blind6/`` (40 public logs gathered blind, measured once: 22 of 40, then
used as a tune set) showed silent misreads and unread layouts. Each test below is a
*synthetic* log written here for one cause (no public log's text is copied) and asserts what
is read from it; where a cause could turn a right read wrong, the old layout is checked to
read the same.
"""

from __future__ import annotations

import math

from tests.readers.text_helpers import roles_of, same, read_with_notes as read


# ------------------------------------------------------- a plural total beside its parts

def test_a_plural_total_beside_its_parts_is_the_training_loss(tmp_path):
    """``losses`` printed after ``loss_a``, ``loss_bc``... is their sum: the loss role takes it,
    not the first part (which can stay flat while the total diverges)."""
    lines = [f"it {100 * i}  lr: 0.001 loss_a: 0.0020 loss_bc: {0.5 + i / 100:.4f} "
             f"losses: {0.502 + i / 100 + (0 if i < 6 else math.inf):.4f}" for i in range(8)]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "losses"
    assert math.isinf(roles["loss"].values[-1])


def test_parts_without_a_total_still_give_the_first_part(tmp_path):
    """Without a plural (or any) total, the first part is still the loss (unchanged)."""
    lines = [f"it {100 * i}  loss_a: {1 - i / 20:.3f} loss_b: {0.5 + i / 100:.4f}" for i in range(8)]
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "loss_a"


# ------------------------------------------------------- a counter printed inside the name

def test_a_rising_number_between_name_and_colon_is_a_counter_not_a_name(tmp_path):
    """``Eval loss 5200:  0.41`` under each ``Epoch: N`` header, the number the iteration: one
    series ``Eval loss`` of every epoch's value, not one one-point series per iteration (of
    which the resolver took the first and judged a single point)."""
    vals = [0.41, 0.40, 0.405, 0.39, 1.7]
    lines = []
    for i, v in enumerate(vals):
        lines += [f"Epoch: {i + 3}", f"Eval loss {5200 + 480 * i}:  {v}  ", "Saving checkpoint",
                  f"Epoch {i + 3} time 31.2 lr 0.001"]
    t, _ = read(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert [float(v) for v in t["Eval loss"].values] == vals
    assert not any(k.startswith("Eval loss ") for k in t)
    roles = roles_of(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert roles["eval_loss"].tag == "Eval loss" and len(roles["eval_loss"]) == len(vals)


def test_a_number_that_stays_in_a_name_is_kept(tmp_path):
    """A name with a fixed number (``Acc top 5`` in every epoch block) is not a counter: left
    as printed, one series of every epoch."""
    lines = []
    for i in range(5):
        lines += [f"Epoch: {i + 1}", f"Train loss: {1 - i / 10:.2f}", f"Acc top 5: {0.5 + i / 100:.2f}"]
    t, _ = read(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert len(t["Acc top 5"]) == 5 and len(t["Train loss"]) == 5


# ------------------------------------------------------- indented evaluation lines

def _two_level_log(indent: int) -> str:
    lines = []
    for it in range(0, 1100, 100):
        if it % 200 == 0:
            lines.append(" " * indent + f"Epoch 0  Iteration {it} loss = {0.5 + 1 / (it + 1):.4f} * 1  acc = 0.9")
        lines.append(f"Epoch 0  Iteration {it}  lr = 0.01 loss = {0.3 + 1 / (it + 2):.4f} * 1  acc = 0.91")
    return "\n".join(lines) + "\n"


def test_deeper_indented_lines_of_the_same_form_are_the_evaluation(tmp_path):
    """Test lines printed with the training lines' form, counter and names, but indented far
    right and without the lr: the evaluation pass (``eval/loss``), not points of the training
    loss that overwrite it at the steps both print."""
    t, notes = read(tmp_path, "train_output.txt", _two_level_log(40))
    assert len(t["loss"]) == 11 and same(t["loss"].values[0], 0.3 + 1 / 2)
    assert len(t["eval/loss"]) == 6 and same(t["eval/loss"].values[0], 1.5)
    assert any("indented" in m for _, m in notes)
    roles = roles_of(tmp_path, "train_output.txt", _two_level_log(40))
    assert roles["loss"].tag == "loss" and roles["eval_loss"].tag == "eval/loss"


def test_a_small_indent_difference_is_not_an_evaluation(tmp_path):
    """Two leading spaces more (a right-aligned number, a sloppy print) set nothing apart."""
    t, _ = read(tmp_path, "train_output.txt", _two_level_log(2))
    assert "eval/loss" not in t


# ------------------------------------------------------- a per-epoch echo of a per-batch print

def _echo_log(echo_shift: float = 0.0) -> tuple[str, list[float]]:
    lines, vals = [], []
    for ep in range(1, 6):
        for b in range(30):
            v = round(1.0 / (ep + b / 30), 6)
            vals.append(v)
            lines.append(f"loss: {v}")
            if b == 0:
                lines.append(f"Train Epoch:{ep}\tPercent:[0/900 (0%)]\tLoss:{v + echo_shift}")
    return "\n".join(lines) + "\n", vals


def test_an_epoch_line_echoing_a_batch_print_leaves_every_batch_print(tmp_path):
    """A bare ``loss:`` printed every batch, and once per epoch a counted line whose ``Loss:``
    repeats that batch's value: the batch prints are the series (in order), not one value per
    epoch (the last batch's) that the epoch counter would keep."""
    text, vals = _echo_log()
    t, notes = read(tmp_path, "loss_log.txt", text)
    assert [float(v) for v in t["loss"].values] == vals
    assert "Loss" not in t
    assert any("restate" in m for _, m in notes)


def test_an_epoch_line_with_its_own_value_is_not_an_echo(tmp_path):
    """When the counted line's value is not printed next to it, the counter lines stay."""
    text, _ = _echo_log(echo_shift=0.5)
    t, _ = read(tmp_path, "loss_log.txt", text)
    assert "Loss" in t and len(t["Loss"]) == 5


# ------------------------------------------------------- a UTF-16 console capture without metrics

_CRASH = ("=" * 40 + "\r\nLoading data...\r\nCreated 5000 samples\r\nTraceback (most recent call last):\r\n"
          '  File "train.py", line 9, in <module>\r\nUnicodeEncodeError: \'charmap\' codec can\'t encode\r\n')


def test_a_utf16_capture_of_a_crashed_run_is_read_and_says_no_metric(tmp_path):
    """What PowerShell's ``>`` writes (UTF-16 LE with a byte-order mark) from a run that died
    before its first print: claimed by the text reader (the user learns no loss was printed
    and the encoding it was decoded from), not "not a supported log file"."""
    from losscheck.readers import choose, text_logs

    p = tmp_path / "training_log.txt"
    p.write_bytes(b"\xff\xfe" + _CRASH.encode("utf-16-le"))
    assert choose(p) is text_logs.READER
    res = text_logs.READER.read(p)
    assert not res.series
    assert any(n.severity == "warning" and "UTF-16 LE" in n.message for n in res.notes)


def test_a_utf16_capture_with_metric_lines_is_read(tmp_path):
    p = tmp_path / "train.log"
    p.write_bytes(b"\xff\xfe" + "".join(f"step {i} loss: {1 / (i + 1):.4f}\r\n" for i in range(12))
                  .encode("utf-16-le"))
    from losscheck.readers import text_logs

    t = {s.tag: s for s in text_logs.READER.read(p).series}
    assert len(t["loss"]) == 12


def test_a_utf16_text_without_a_log_name_or_metrics_is_not_claimed(tmp_path):
    from losscheck.readers import choose

    p = tmp_path / "notes.txt"
    p.write_bytes(b"\xff\xfe" + "shopping list\r\nmilk\r\n".encode("utf-16-le"))
    assert choose(p) is None


# ------------------------------------------------------- step lines without a loss

def _step_line(i: int, gn: str) -> str:
    return (f" iteration {i:>8}/ 100000 | consumed samples: {8 * i:>10} | learning rate: 3.000E-04 | "
            f"loss scale: 1.0 | grad norm: {gn} | samples per second: 1.9 |")


def test_counted_step_lines_with_an_lr_and_no_loss_are_read_and_name_no_loss(tmp_path):
    """A trainer's step lines that print the learning rate and grad norm but no loss: read
    (their grad norm and LR are found) and the resolver says no loss is there, instead of
    "not a supported log file"."""
    import pytest

    from losscheck.errors import NoLossMetric

    text = "\n".join(_step_line(i, "nan") for i in range(700, 704)) + "\n"
    t, _ = read(tmp_path, "log.txt", text)
    assert "learning_rate" in t and "grad norm" in t
    with pytest.raises(NoLossMetric):
        roles_of(tmp_path, "log.txt", text)


def test_a_document_quoting_two_step_lines_is_not_claimed(tmp_path):
    from losscheck.readers import choose

    text = "\n".join(["Some notes about the run."] * 10 + [_step_line(i, "1.2") for i in (1, 2)]) + "\n"
    p = tmp_path / "notes.txt"
    p.write_text(text)
    assert choose(p) is None


# ------------------------------------------------------- header-less numbers named after the loss

def _roles_and_notes(tmp_path, name, text):
    from losscheck.discovery import discover
    from losscheck.pipeline import read_run
    from losscheck.roles import resolve

    p = tmp_path / name
    p.write_text(text)
    data = read_run(discover(p).runs[0])
    return {r: a.series for r, a in resolve(data).roles.items()}, data.notes


def test_bare_numbers_in_a_file_named_after_the_loss_are_the_loss(tmp_path):
    vals = [2.5, 2.1, 1.9, 1.95, 1.7]
    roles, _ = _roles_and_notes(tmp_path, "losses.txt", "\n".join(map(str, vals)) + "\n")
    assert [float(v) for v in roles["loss"].values] == vals
    assert [int(s) for s in roles["loss"].steps] == list(range(5))


def test_an_index_column_and_a_value_give_step_and_loss(tmp_path):
    rows = [(i, 3.0 - i / 10) for i in range(1, 9)]
    roles, _ = _roles_and_notes(tmp_path, "train_loss.csv", "".join(f"{i},{v:.2f}\n" for i, v in rows))
    assert [int(s) for s in roles["loss"].steps] == [i for i, _ in rows]
    assert same(roles["loss"].values[-1], rows[-1][1])


def test_a_restarting_index_is_a_restart_as_for_any_step(tmp_path):
    """The index going back to 1 is handled as every step that goes back: later points kept,
    with the reader's restart warning."""
    text = "".join(f"{i} {5 - i / 10:.2f}\n" for i in range(1, 6)) + "".join(f"{i} {4 - i / 10:.2f}\n"
                                                                        for i in range(1, 9))
    roles, notes = _roles_and_notes(tmp_path, "loss_log.txt", text)
    assert len(roles["loss"]) == 8
    assert any(n.severity == "warning" and "went back" in n.message for n in notes)


def test_counter_word_lines_without_a_name_give_the_epochs(tmp_path):
    vals = [2.05, 1.92, 1.91, 1.9]
    text = "".join(f"Epoch {i}: {v}\n" for i, v in enumerate(vals, 1))
    roles, _ = _roles_and_notes(tmp_path, "loss_log.txt", text)
    assert [float(v) for v in roles["loss"].values] == vals
    assert roles["loss"].step_unit == "epoch"


def test_several_unnamed_columns_take_the_first_with_a_warning_naming_the_choice(tmp_path):
    text = "".join(f"{10 / i:.2f},{-200 + i:.2f},{i * 3}\n" for i in range(1, 12))
    roles, notes = _roles_and_notes(tmp_path, "loss_log.txt", text)
    assert same(roles["loss"].values[0], 10.0)
    warn = [n.message for n in notes if n.severity == "warning" and "column 1 of 3" in n.message]
    assert warn and "--loss column_N" in warn[0] and "column_2" in warn[0]


def test_numbers_in_a_file_not_named_after_a_loss_are_not_claimed(tmp_path):
    """A list of numbers says nothing about what it holds unless its name does."""
    from losscheck.readers import choose

    p = tmp_path / "log.txt"
    p.write_text("".join(f"{9 - i / 7:.2f}\n" for i in range(15)))
    assert choose(p) is None


def test_a_loss_named_file_with_prose_is_not_read_as_numbers(tmp_path):
    from losscheck.readers import choose

    p = tmp_path / "loss_notes.txt"
    p.write_text("The loss went down:\n2.1\n1.9\n1.7\n")
    assert choose(p) is None


# ------------------------------------------------------- a CSV header whose counter is named otherwise

def test_a_csv_with_a_numiters_header_is_read_as_csv_whatever_its_suffix(tmp_path):
    """Caffe's ``parse_log.py`` output (``NumIters,Seconds,LearningRate,accuracy,softmax_loss``)
    saved as ``.txt``: the CSV reader reads it, ``NumIters`` is the step."""
    from losscheck.readers import choose, csv_generic

    text = "NumIters,Seconds,LearningRate,accuracy,softmax_loss\n" + "".join(
        f"{1000.0 * i},{30.5 * i:.3f},0.01,0.9,{5 - i / 10:.4f}\n" for i in range(8))
    p = tmp_path / "train.txt"
    p.write_text(text)
    assert choose(p) is csv_generic.READER
    t = {s.tag: s for s in csv_generic.READER.read(p).series}
    assert [int(s) for s in t["softmax_loss"].steps] == [1000 * i for i in range(8)]
    assert "NumIters" not in t


# ------------------------------------------------------- Keras bar refreshes without a header

def _refresh(k: int, loss: str, more: str = "") -> str:
    return f"{k:>5}/10000 [{'.' * 30}] - ETA: 30:00:{k:02d} - loss: {loss}{more}"


def test_glued_keras_refreshes_without_a_header_are_read_at_their_counters(tmp_path):
    """Two refreshes of an unfinished bar on one line (the carriage return lost in a copy), the
    first cut mid-key: each is a point at its bar counter, so a nan from the first batches
    is seen instead of "not a supported log file"."""
    line = _refresh(2, "nan", " - regre") + " " + _refresh(3, "nan", " - box_loss: nan - cls_loss: nan")
    t, _ = read(tmp_path, "log.txt", line + "\n")
    assert [int(s) for s in t["loss"].steps] == [2, 3]
    assert all(math.isnan(v) for v in t["loss"].values)


def test_unfinished_bars_restarting_are_chained(tmp_path):
    lines = [_refresh(k, f"{2 - k / 100:.3f}") for k in (10, 20, 30)] + [_refresh(k, f"{1.5 - k / 100:.3f}")
                                                                         for k in (10, 20)]
    t, _ = read(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert [int(s) for s in t["loss"].steps] == [10, 20, 30, 10010, 10020]


# ------------------------------------------------------- the value before its name

def test_a_value_printed_before_its_name_is_read_and_a_12_hour_clock_is_not_a_metric(tmp_path):
    """``Epoch 3 @ 10:27 PM : 0.98 C.E. Loss, 94.3% Accuracy``: the loss is the number before
    the name ``C.E. Loss``; ``PM`` is a clock's, never a metric."""
    vals = [0.98 - i / 100 for i in range(6)]
    lines = [f"Epoch {i} @ {(9 + i) % 12 + 1:02d}:{7 * i % 60:02d} {'AM' if i % 2 else 'PM'} : {v:.4f} C.E. Loss, "
             f"{94 + i / 2:.2f}% Accuracy" for i, v in enumerate(vals)]
    t, _ = read(tmp_path, "train.out", "\n".join(lines) + "\n")
    assert "PM" not in t and "AM" not in t
    assert [round(float(v), 4) for v in t["C.E. Loss"].values] == [round(v, 4) for v in vals]
    assert t["C.E. Loss"].step_unit == "epoch"
    roles = roles_of(tmp_path, "train.out", "\n".join(lines) + "\n")
    assert roles["loss"].tag == "C.E. Loss"


def test_value_first_needs_a_loss_name(tmp_path):
    """Numbers before words without a loss among them (``Epoch 3: 120 images, 4 batches``) are
    not metrics."""
    lines = [f"step {i} : {120 + i} images, {4 + i} batches" for i in range(12)]
    p = tmp_path / "train.out"
    p.write_text("\n".join(lines) + "\n")
    from losscheck.readers import choose

    assert choose(p) is None


# ------------------------------------------------------- cuda-convnet's console

def _convnet_log() -> tuple[str, list[float]]:
    lines, costs = ["Initialized logistic regression cost 'logprob'"], []
    for k in range(1, 21):
        c = 0.5 + (k % 3) / 100
        costs.append(c)
        lines.append(f"1.{k}... logprob:  {c:.6f}, 0.100000 (1.4{k % 10} sec)")
        if k % 10 == 0:
            lines += ["Testing all batches"] + [f"batch {800 + b}: ({{'logprob': [60.{b}, 10.0]}}, 128)"
                                                for b in range(3)]
            lines += ["", "=" * 20 + "Test output" + "=" * 20, "logprob:  0.498673, 0.107910 ", "-" * 40,
                      "Layer 'conv1' weights[0]: 7.9e-03 [0.000000e+00] "]
    return "\n".join(lines) + "\n", costs


def test_cuda_convnet_costs_are_the_loss_and_its_test_block_the_eval(tmp_path):
    """cuda-convnet prints its cost layer's outputs after ``epoch.batch...``; the first is the
    cost (``logprob``, a negative log-probability: the loss), the test block's cost line is
    the eval loss, and the per-batch test dicts (sums, not means) are not read."""
    text, costs = _convnet_log()
    t, _ = read(tmp_path, "train_output.txt", text)
    assert [round(float(v), 6) for v in t["logprob"].values] == [round(c, 6) for c in costs]
    assert len(t["test/logprob"]) == 2 and same(t["test/logprob"].values[0], 0.498673)
    roles = roles_of(tmp_path, "train_output.txt", text)
    assert roles["loss"].tag == "logprob" and roles["eval_loss"].tag == "test/logprob"

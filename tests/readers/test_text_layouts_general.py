"""Plain-text log layouts made general for logs nobody anticipated (issue 11, branch i11j).

Each test builds a *synthetic* log for one cause (no public log's text is copied) and
asserts what is read from it; where a rule could turn a right reading wrong, the case it
must leave alone is checked too.
"""

from __future__ import annotations

import pytest

from tests.readers.text_helpers import read, read_with_notes, roles_of


# ------------------------------------------------- launches of one run, chained in file order

def _epochs(first: int, last: int, start: float, rate: float, total: int) -> list[str]:
    return [f"Epoch {e}/{total} - loss: {start * rate ** (e - first):.4f} - val_loss: {1.1 * start * rate ** (e - first):.4f}"
            for e in range(first, last + 1)]


def test_a_run_resumed_in_a_new_launch_keeps_every_print_in_file_order(tmp_path):
    """A run trained for epochs 1-5, then launched again (its counter back at 1) carrying on
    from where it was: both launches are one run; every print is kept, the second launch
    after the first, with a warning that says so."""
    lines = ["Training started"] + _epochs(1, 5, 2.0, 0.8, 5) + ["Training started"] + _epochs(1, 5, 2.0 * 0.8 ** 5, 0.8, 5)
    t, notes = read_with_notes(tmp_path, "train.log", "\n".join(lines) + "\n")
    loss = t["loss"]
    assert loss.steps.tolist() == list(range(1, 11))
    assert loss.values[0] == pytest.approx(2.0) and loss.values[-1] == pytest.approx(2.0 * 0.8 ** 9, rel=1e-3)
    assert t["val_loss"].steps.tolist() == list(range(1, 11))
    assert any(sev == "warning" and "chained in file order" in m for sev, m in notes)
    roles = roles_of(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(roles["loss"]) == 10 and len(roles["eval_loss"]) == 10


def test_a_step_counter_that_restarts_each_phase_is_chained_with_its_stride(tmp_path):
    """``[P1] step 0 .. step 90`` then ``[P2] step 0 ..``: the per-phase step counter restarts;
    the values carry on, so the phases are laid one after the other, 10 steps apart."""
    lines, v = [], 3.0
    for phase in (1, 2, 3):
        for s in range(0, 100, 10):
            lines.append(f"[P{phase}] step {s} loss {v:.4f}")
            v *= 0.97
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    steps = t["loss"].steps.tolist()
    assert len(steps) == 30 and steps == sorted(steps) and len(set(steps)) == 30
    assert steps[10] - steps[9] == 10 and t["loss"].values[0] == pytest.approx(3.0)


def test_runs_appended_from_scratch_are_not_chained(tmp_path):
    """Two runs trained from scratch, appended to one file: the second opens at the first's
    opening level (a fresh start). Chaining them would show a jump the run never made, so the
    collector's restart rule stays: the later run replaces the earlier points, with a warning."""
    lines = _epochs(1, 6, 2.0, 0.6, 6) + _epochs(1, 6, 2.05, 0.6, 6)
    t, notes = read_with_notes(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(t["loss"]) == 6 and t["loss"].values[0] == pytest.approx(2.05)
    assert not any("chained in file order" in m for _, m in notes)
    assert any(sev == "warning" and "went back" in m for sev, m in notes)


def test_interleaved_writers_are_not_read_as_launches(tmp_path):
    """Two ranks printing the same steps in turn (``1,2,1,2``) are duplicate writers, not
    launches: no chaining (the normalizer keeps one value per step)."""
    lines = []
    for s in range(1, 9, 2):
        for rank in (0, 1):
            lines.append(f"rank {rank} step {s} loss {2.0 - 0.1 * s:.3f}")
            lines.append(f"rank {rank} step {s + 1} loss {1.95 - 0.1 * s:.3f}")
    t, notes = read_with_notes(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert len(t["loss"]) <= 8
    assert not any("chained in file order" in m for _, m in notes)


# ------------------------------------------------- thousands separators

def test_counters_and_values_with_thousands_separators_are_one_number(tmp_path):
    """``step 12,000 | loss 2.31 | tokens/s 1,234,567``: the commas group digits. The line was
    taken for a CSV row (``345`` a column) or the step read as 12; each is one number."""
    lines = [f"step {s * 1000:,} | loss {3 - 0.1 * s:.3f} | tokens/s {1_234_567 + s:,}" for s in range(1, 9)]
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["loss"].steps.tolist() == [s * 1000 for s in range(1, 9)]
    assert t["tokens/s"].values[0] == 1_234_568


def test_a_clock_time_with_milliseconds_is_not_a_thousands_number(tmp_path):
    """``12:00:01,123`` (python logging's milliseconds) stays a clock time: the step is the
    printed counter, not a number made of the time."""
    lines = [f"2024-01-01 12:00:{s:02d},123 INFO step {s}: loss={2 - 0.1 * s:.3f}" for s in range(1, 9)]
    t = read(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert t["loss"].steps.tolist() == list(range(1, 9))


def test_a_real_csv_log_with_a_step_column_is_still_the_csv_readers(tmp_path):
    """A ``.log`` that is a CSV table (a header of names, one a counter) keeps going to the CSV
    reader: only a header field that is a bare number marks a console line."""
    from losscheck.readers import choose
    from losscheck.readers.csv_generic import READER as CSV

    p = tmp_path / "metrics.log"
    p.write_text("step,loss,lr\n" + "".join(f"{s},{1 / s:.3f},0.001\n" for s in range(1, 6)))
    assert choose(p) is CSV


# ------------------------------------------------- a split word before a repeated name

@pytest.mark.parametrize("fmt", [
    "Epoch {e}: average loss {a:.4f}, validation average loss {b:.4f}",
    "Epoch {e}: mean loss {a:.4f}, val mean loss {b:.4f}",
    "Epoch {e} Train: loss {a:.4f} Valid: loss {b:.4f}",
])
def test_a_name_printed_again_after_a_split_word_is_that_splits_value(tmp_path, fmt):
    """The same name twice on a line, the second right after a split word (only separators
    between): the second is the evaluation value. It was dropped as a copy, so the run had
    no eval loss."""
    text = "\n".join(fmt.format(e=e, a=1 - 0.1 * e, b=1.1 - 0.1 * e) for e in range(1, 8)) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["loss"].values[0] == pytest.approx(0.9)
    assert roles["eval_loss"].values[0] == pytest.approx(1.0) and len(roles["eval_loss"]) == 7


def test_a_repeated_name_without_a_split_word_is_not_made_an_eval_value(tmp_path):
    """``loss 0.9 ... loss 0.9`` (a name printed twice, nothing between saying a split): no
    evaluation series is made up."""
    text = "\n".join(f"Epoch {e}: loss {1 - 0.1 * e:.4f} time 3s, loss {1 - 0.1 * e:.4f}" for e in range(1, 8)) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert "eval_loss" not in roles and len(roles["loss"]) == 7


# ------------------------------------------------- one name for two splits, two values

@pytest.mark.parametrize("fmt", [
    "epoch {e} train/val loss: {a:.4f} / {b:.4f}",
    "Epoch {e}, Loss(train/val) {a:.4f}/{b:.4f}",
    "epoch {e} | loss (train/test): {a:.4f}/{b:.4f} | lr 0.001",
])
def test_train_slash_val_values_fill_both_roles(tmp_path, fmt):
    """``train/val loss: 0.9 / 1.0``: one name for both splits, then both values. The first
    value was read under a name that says "val", so the training loss filled the eval-loss
    role (a silent misread); each split now gets its value."""
    text = "\n".join(fmt.format(e=e, a=1 - 0.1 * e, b=1.1 - 0.1 * e) for e in range(1, 8)) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["loss"].values.tolist() == pytest.approx([1 - 0.1 * e for e in range(1, 8)])
    assert roles["eval_loss"].values.tolist() == pytest.approx([1.1 - 0.1 * e for e in range(1, 8)])


# ------------------------------------------------- a bare split word after a loss value

@pytest.mark.parametrize("fmt", [
    "[{e:03d}] loss: {a:.4f}  val: {b:.4f}",
    "Epoch {e}: loss {a:.4f} (val {b:.4f})",
    "epoch {e} -- train_loss {a:.4f} -- test {b:.4f}",
])
def test_a_bare_split_word_after_a_loss_value_is_that_splits_loss(tmp_path, fmt):
    """``loss: 0.91 (val 1.02)``: the split word alone names the evaluation value of the loss
    printed just before it. It was an unknown metric ``val`` (or not read), so the run had no
    eval loss."""
    text = "\n".join(fmt.format(e=e, a=1 - 0.1 * e, b=1.1 - 0.1 * e) for e in range(1, 8)) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["loss"].values[0] == pytest.approx(0.9)
    assert roles["eval_loss"].values.tolist() == pytest.approx([1.1 - 0.1 * e for e in range(1, 8)])


def test_a_bare_split_word_after_another_metric_is_not_a_loss(tmp_path):
    """``acc: 0.71 (val 0.65)``: the split word follows an accuracy, so no eval loss is made up."""
    text = "\n".join(f"Epoch {e}: loss {1 - 0.1 * e:.4f} acc: 0.{e}1 (val 0.{e}0)" for e in range(1, 8)) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert "eval_loss" not in roles and len(roles["loss"]) == 7


# ------------------------------------------------- CatBoost's verbose lines

def test_catboost_learn_and_test_lines_fill_loss_and_eval_loss(tmp_path):
    """``0:<TAB>learn: 0.657<TAB>test: 0.658<TAB>best: 0.658 (0)<TAB>total: 70ms<TAB>remaining: 1m``:
    ``learn``/``test`` never say loss (the file was 'not a log'); they are the objective on
    the learn and eval sets, at the printed iteration."""
    lines = [f"{i * 100}:\tlearn: {0.7 - 0.05 * i:.7f}\ttest: {0.71 - 0.04 * i:.7f}\tbest: {0.71 - 0.04 * i:.7f} ({i * 100})"
             f"\ttotal: {i + 1}.2s\tremaining: {30 - i}s" for i in range(7)]
    roles = roles_of(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert roles["loss"].steps.tolist() == [i * 100 for i in range(7)]
    assert roles["loss"].values[0] == pytest.approx(0.7) and roles["eval_loss"].values[-1] == pytest.approx(0.47)


def test_catboost_without_an_eval_set_has_no_eval_loss(tmp_path):
    """Without an eval set CatBoost prints ``learn`` only: the loss, and no eval loss."""
    lines = [f"{i}:\tlearn: {0.7 - 0.05 * i:.7f}\ttotal: {i + 1}ms\tremaining: {30 - i}s" for i in range(7)]
    roles = roles_of(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert len(roles["loss"]) == 7 and "eval_loss" not in roles


# ------------------------------------------------- more console forms

def test_a_bracketed_split_word_before_a_repeated_name(tmp_path):
    """``[3/8] [train] loss=1.7 [val] loss=1.8``: the split word in brackets names the second
    ``loss``; it was dropped as a copy."""
    text = "\n".join(f"[{e}/8] [train] loss={2 - 0.1 * e:.3f} [val] loss={2.1 - 0.1 * e:.3f}" for e in range(1, 8)) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["eval_loss"].values[0] == pytest.approx(2.0) and roles["loss"].values[0] == pytest.approx(1.9)


def test_a_pipe_table_without_outer_pipes_under_a_rule(tmp_path):
    """A script's own table: ``Epoch | Train Loss | Val Loss | Time``, a ``-----+-----`` rule,
    then ``    1 |     1.9000 |   2.0000 | 3.2s`` rows (no outer pipes). It was not a log."""
    rows = [f"{e:5d} | {2 - 0.1 * e:10.4f} | {2.1 - 0.1 * e:8.4f} | 3.2s" for e in range(1, 8)]
    text = "\n".join(["Epoch | Train Loss | Val Loss | Time", "------+------------+----------+-----"] + rows) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["loss"].steps.tolist() == list(range(1, 8))
    assert roles["eval_loss"].values[-1] == pytest.approx(1.4)



def test_a_bracketed_value_on_an_epoch_line_is_read(tmp_path):
    """``Epoch 3 lr=[0.001] loss=1.7``: a scheduler's ``get_last_lr()`` list printed as is.
    The bare ``epoch N .. loss`` layout dropped the LR; the LR role is filled now."""
    text = "\n".join(f"Epoch {e} lr=[{0.001 / e:.6f}] loss={2 - 0.1 * e:.3f}" for e in range(1, 8)) + "\n"
    roles = roles_of(tmp_path, "train.log", text)
    assert roles["lr"].values[1] == pytest.approx(0.0005) and len(roles["loss"]) == 7


def test_a_csv_table_without_a_step_column_in_a_text_file(tmp_path):
    """``loss,val_loss`` then rows of numbers only, written to ``train_log.txt``: the row index
    is the step. It was 'not a log' (the CSV reader wanted a step column in a .txt)."""
    from losscheck.readers import choose
    from losscheck.readers.csv_generic import READER as CSV

    text = "loss,val_loss\n" + "".join(f"{2 - 0.1 * e:.3f},{2.1 - 0.1 * e:.3f}\n" for e in range(1, 8))
    p = tmp_path / "train_log.txt"
    p.write_text(text)
    assert choose(p) is CSV
    roles = roles_of(tmp_path, "train_log.txt", text)
    assert len(roles["loss"]) == 7 and roles["eval_loss"].values[0] == pytest.approx(2.0)


def test_a_text_file_of_prose_with_commas_is_not_a_csv_table(tmp_path):
    """A header naming a loss over a row of words (a notes file) is no table."""
    from losscheck.readers.csv_generic import READER as CSV

    p = tmp_path / "notes.txt"
    p.write_text("loss,comment\n0.5,it went down, then up\n")
    assert CSV.sniff(p, p.read_bytes()) == 0.0

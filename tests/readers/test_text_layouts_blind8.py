"""Plain-text log layouts generalised by cause for the eighth blind collection.

``benchmarks/text_logs_blind8/`` (40 public logs gathered blind, measured once: 25 of 40 with
10 silent misreads, then used as a tune set) showed silent misreads and unread layouts. Each
test below is a *synthetic* log written here for one cause (no public log's text is copied)
and asserts what is read from it; where a cause could turn a right read wrong, the old
layout is checked to read the same.
"""

from __future__ import annotations

from tests.readers.text_helpers import read_result, roles_of


def read(tmp_path, name, text):
    """Tag -> series, and the notes' ``(severity, message)``, of ``text`` read by the text reader."""
    res = read_result(tmp_path, name, text)
    return {s.tag: s for s in res.series}, [(n.severity, n.message) for n in res.notes]


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

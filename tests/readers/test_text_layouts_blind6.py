"""Plain-text log layouts generalised by cause for the sixth blind collection.

``benchmarks/text_logs_blind6/`` (40 public logs gathered blind, measured once: 22 of 40, then
used as a tune set) showed silent misreads and unread layouts. Each test below is a
*synthetic* log written here for one cause (no public log's text is copied) and asserts what
is read from it; where a cause could turn a right read wrong, the old layout is checked to
read the same.
"""

from __future__ import annotations

import math

from tests.readers.text_helpers import read_result, roles_of


def read(tmp_path, name, text):
    """Tag -> series, and the notes' ``(severity, message)``, of ``text`` read by the text reader."""
    res = read_result(tmp_path, name, text)
    return {s.tag: s for s in res.series}, [(n.severity, n.message) for n in res.notes]


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

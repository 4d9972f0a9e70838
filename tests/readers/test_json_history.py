"""JSON documents of a training history (losscheck/readers/json_history.py): each layout is
written here the way the tool that makes it writes it (``json.dump``), never copied from a
public log."""

from __future__ import annotations

import json
import math

import pytest

from losscheck.errors import ParseError
from losscheck.readers import choose
from losscheck.readers.json_history import READER


def _series(path):
    return {s.tag: s for s in READER.read(path).series}


def test_a_keras_history_dict_is_read_one_value_per_epoch(tmp_path):
    """``json.dump(history.history, f)``: lists of per-epoch values; the n-th is epoch n."""
    hist = {"loss": [0.9, 0.7, 0.6, float("nan")], "val_loss": [1.0, 0.8, 0.75, 0.9],
            "accuracy": [0.5, 0.6, 0.7, 0.72]}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(hist))
    assert choose(p) is READER
    t = _series(p)
    assert t["loss"].steps.tolist() == [1, 2, 3, 4] and t["loss"].step_unit == "epoch"
    assert math.isnan(t["loss"].values[-1]) and t["val_loss"].values.tolist() == hist["val_loss"]


def test_a_step_list_in_the_dict_gives_the_steps(tmp_path):
    p = tmp_path / "metrics.json"
    p.write_text(json.dumps({"step": [100, 200, 300], "train_loss": [2.0, 1.5, 1.2]}))
    t = _series(p)
    assert t["train_loss"].steps.tolist() == [100, 200, 300] and "step" not in t


def test_a_pretty_printed_list_of_records_without_an_extension_is_read(tmp_path):
    """A LogReport-style file named ``log``: an indented JSON array of records with
    ``epoch``, ``iteration`` and the losses; the iteration is the step. The text reader took
    it and found no metric line."""
    recs = [{"epoch": i // 3, "elapsed_time": 10.0 * i, "loss_gen": 1.5 - 0.01 * i, "iteration": 100 * (i + 1),
             "loss_dis": 0.9 + 0.01 * i} for i in range(9)]
    p = tmp_path / "log"
    p.write_text(json.dumps(recs, indent=4))
    assert choose(p) is READER
    t = _series(p)
    assert t["loss_gen"].steps.tolist() == [100 * (i + 1) for i in range(9)]
    assert t["loss_dis"].values[0] == pytest.approx(0.9)


def test_a_wrapped_history_list_is_read(tmp_path):
    p = tmp_path / "train_history.json"
    p.write_text(json.dumps({"history": [{"epoch": e, "loss": 1 / e} for e in range(1, 6)], "best": 0.2}, indent=2))
    assert choose(p) is READER
    assert _series(p)["loss"].steps.tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("doc", [
    [{"id": 1, "text": "a cat", "label": 0}, {"id": 2, "text": "a dog", "label": 1}],  # a data set
    {"hidden_sizes": [256, 256], "loss": "mse", "lr": 0.001},  # a config naming its loss
    {"values": [1, 2, 3]},  # numbers, no loss
])
def test_json_that_is_not_a_history_is_not_claimed(tmp_path, doc):
    p = tmp_path / "data.json"
    p.write_text(json.dumps(doc, indent=2))
    assert READER.sniff(p, p.read_bytes()) == 0.0


def test_a_cut_document_is_a_one_line_parse_error(tmp_path):
    p = tmp_path / "history.json"
    p.write_text(json.dumps({"loss": [0.9, 0.8, 0.7], "val_loss": [1.0, 0.9, 0.8]})[:-8])
    assert choose(p) is READER
    with pytest.raises(ParseError) as exc:
        READER.read(p)
    assert "history.json" in str(exc.value) and "\n" not in str(exc.value)

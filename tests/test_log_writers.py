"""The frameworks' log writers shared by the two data generators (``scripts/log_writers.py``):
files they write read back with the frameworks' own tools (TensorBoard's ``EventAccumulator``
and CRC, ``json``, ``csv``), and neither generator re-implements a writer the module holds."""

from __future__ import annotations

import ast
import csv
import json
import math
import sys

import numpy as np
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import log_writers as lw  # noqa: E402


def test_crc32c_check_value_and_tensorboard_masking():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    assert lw.crc32c(b"123456789") == 0xE3069283
    for data in (b"", b"a", bytes(range(256)), b"\x00" * 1000):
        assert lw.masked_crc32c(data) == masked_crc32c(data)


@pytest.mark.parametrize("style", ["pytorch", "tf2"])
def test_event_files_read_back_with_tensorboard(tmp_path, style):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = [(1.7e9 + s, s, tag, 1.0 / s + (0.5 if tag == "eval/loss" else 0.0))
               for s in range(1, 40) for tag in ("train/loss", "eval/loss") if tag == "train/loss" or s % 10 == 0]
    path = tmp_path / lw.tb_file_name(1.7e9, "host", 7, tf2=style == "tf2")
    lw.write_tb_events(path, scalars, style=style)
    assert path.name == "events.out.tfevents.1700000000.host.7.0" + (".v2" if style == "tf2" else "")
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    for tag in ("train/loss", "eval/loss"):
        want = [(w, s, v) for w, s, t, v in scalars if t == tag]
        if style == "pytorch":
            got = [(e.wall_time, e.step, e.value) for e in acc.Scalars(tag)]
        else:
            got = [(e.wall_time, e.step, float(np.frombuffer(e.tensor_proto.tensor_content, "<f4")[0]))
                   for e in acc.Tensors(tag)]
        assert [(w, s) for w, s, _ in got] == [(w, s) for w, s, _ in want]
        assert [v for *_, v in got] == [float(np.float32(v)) for *_, v in want]
    with pytest.raises(ValueError):
        lw.write_tb_events(tmp_path / "empty", [])


def test_hf_trainer_state_is_sorted_json_with_bare_nan(tmp_path):
    hist = [{"step": 2, "loss": math.nan, "epoch": 0.5}, {"step": 4, "loss": 1.25, "epoch": 1.0}]
    path = tmp_path / "out" / "trainer_state.json"
    lw.write_hf_trainer_state(path, hist, global_step=4, max_steps=4, logging_steps=2, eval_steps=500,
                              save_steps=500, train_batch_size=8, num_train_epochs=1, epoch=1.0, total_flos=1.0)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and '"loss": NaN' in text and text.startswith('{\n  "best_global_step": null')
    doc = json.loads(text)
    assert list(doc) == sorted(doc) and list(doc["log_history"][0]) == ["epoch", "loss", "step"]
    assert doc["global_step"] == 4 and doc["log_history"][1]["loss"] == 1.25


def test_lightning_and_keras_csv(tmp_path):
    rows = [{"step": 0, "lr-Adam": 0.001}, {"step": 0, "epoch": 0, "train_loss_step": 2.5},
            {"step": 9, "epoch": 0, "val_loss": lw.csv_num(np.float64(2.25))}]
    lw.write_lightning(tmp_path, rows, {"lr": 0.001, "seed": 3})
    vdir = tmp_path / "lightning_logs" / "version_0"
    raw = (vdir / "metrics.csv").read_bytes()
    assert raw.count(b"\r\n") == 4 and raw.startswith(b"epoch,lr-Adam,step,train_loss_step,val_loss\r\n")
    table = list(csv.DictReader(raw.decode().splitlines()))
    assert table[0] == {"epoch": "", "lr-Adam": "0.001", "step": "0", "train_loss_step": "", "val_loss": ""}
    assert table[2]["val_loss"] == "2.25"   # a numpy scalar formatted as Python's csv writes a float
    assert (vdir / "hparams.yaml").read_text() == "lr: 0.001\nseed: 3\n"
    row = lw.keras_row(0, {"loss": 0.1})
    assert row == {"epoch": 0, "loss": float(np.float32(0.1))} and row["loss"] != 0.1


def test_llamafactory_record_order_and_times():
    rec = lw.llamafactory_record(50, 200, 65.9, 197.7, loss=1.5, eval_loss=None, lr=1e-4, epoch=0.25)
    assert list(rec) == ["current_steps", "total_steps", "loss", "lr", "epoch", "percentage", "elapsed_time",
                         "remaining_time"]
    assert rec["percentage"] == 25.0 and rec["elapsed_time"] == "0:01:05" and rec["remaining_time"] == "0:03:17"


@pytest.mark.parametrize("script", ["scripts/make_sample_runs.py", "benchmarks/make_corpus.py"])
def test_generators_take_their_writers_from_the_shared_module(script):
    """Neither generator defines a function or constant the writers module provides (a second
    copy would drift); both import the module."""
    tree = ast.parse((REPO / script).read_text(encoding="utf-8"))
    shared = {n.name for n in ast.parse((REPO / "scripts" / "log_writers.py").read_text(encoding="utf-8")).body
              if isinstance(n, ast.FunctionDef)}
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    # the generators' own helpers that take a trace/spec and call the shared writers
    assert defined & shared <= {"write_lightning", "write_jsonl", "tb_file_name"}
    imports = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
               for a in n.names} | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "log_writers" in imports
    copies = {"crc32c", "masked_crc32c", "tfrecord", "f32", "hms", "csv_num", "write_hf_trainer_state",
              "write_csv_rows", "keras_row", "llamafactory_record"}
    assert not defined & copies, f"{script} re-implements {defined & copies}"

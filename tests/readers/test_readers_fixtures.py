"""Reader tests on small hand-made fixtures and generated TensorBoard files.

Fixtures live in tests/fixtures/readers/; TensorBoard files are written in each test with
TensorBoard's own ``EventFileWriter`` (an independent writer) or with TFRecord framing
built here using TensorBoard's pure-Python masked CRC (not the reader's).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from losscheck.errors import LosscheckError, ParseError, UnreadableFile
from losscheck.readers import all_readers, choose
from losscheck.readers import csv_generic, detectron2, hf_trainer_state, jsonl_generic, keras_csv
from losscheck.readers import lightning, llamafactory, mlflow, tensorboard, yolov5

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "readers"


def by_tag(result):
    return {s.tag: s for s in result.series}


def messages(result):
    return " | ".join(n.message for n in result.notes)


# --------------------------------------------------------------------------- TensorBoard helpers


def _masked_crc(data: bytes) -> int:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    return masked_crc32c(data)


def tf_record(payload: bytes) -> bytes:
    """Frame one record with TensorBoard's own CRC implementation (independent of the reader)."""
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", _masked_crc(header)) + payload + struct.pack("<I", _masked_crc(payload))


def scalar_event(step, tag, value, wall=1000.0):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    return event_pb2.Event(step=step, wall_time=wall + step, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]))


def tensor_event(step, tag, tensor, plugin="scalars", wall=1000.0):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    v = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if plugin is not None:
        v.metadata.plugin_data.plugin_name = plugin
    return event_pb2.Event(step=step, wall_time=wall + step, summary=summary_pb2.Summary(value=[v]))


def write_events(path: Path, events) -> list[int]:
    """Write events with our framing; returns the byte offset of each record."""
    from tensorboard.compat.proto import event_pb2
    offsets, blob = [], b""
    first = event_pb2.Event(wall_time=999.0, file_version="brain.Event:2")
    for ev in [first, *events]:
        offsets.append(len(blob))
        blob += tf_record(ev.SerializeToString())
    path.write_bytes(blob)
    return offsets[1:]


# --------------------------------------------------------------------------- TensorBoard


def test_tensorboard_reads_file_from_tensorboard_event_writer(tmp_path):
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    w = EventFileWriter(str(tmp_path))
    for s in range(5):
        w.add_event(scalar_event(s * 10, "train/loss", 2.0 / (s + 1)))
    w.add_event(scalar_event(50, "train/loss", float("nan")))
    w.close()
    (f,) = list(tmp_path.iterdir())
    assert choose(f) is tensorboard.READER
    res = tensorboard.READER.read(f)
    s = by_tag(res)["train/loss"]
    assert s.steps.tolist() == [0, 10, 20, 30, 40, 50]
    np.testing.assert_allclose(s.values[:5], [2.0, 1.0, 2 / 3, 0.5, 0.4], rtol=1e-6)
    assert math.isnan(s.values[5])
    np.testing.assert_allclose(s.wall_time, 1000.0 + s.steps)
    assert not res.notes


def test_tensorboard_tensor_scalars_all_encodings(tmp_path):
    from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2
    scalar_shape = tensor_shape_pb2.TensorShapeProto()
    evs = [
        tensor_event(0, "epoch_loss", tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.5],
                                                             tensor_shape=scalar_shape)),
        tensor_event(1, "epoch_loss", tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT,
                                                             tensor_content=np.float32(1.25).tobytes())),
        tensor_event(2, "epoch_loss", tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE,
                                                             tensor_content=np.float64(1.125).tobytes())),
        tensor_event(3, "epoch_loss", tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, double_val=[1.0])),
        tensor_event(4, "epoch_loss", tensor_pb2.TensorProto(
            dtype=types_pb2.DT_HALF, half_val=[int(np.float16(0.5).view(np.uint16))])),
        # no plugin name at all is accepted for a float scalar
        tensor_event(5, "epoch_loss", tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[0.25]),
                     plugin=None),
        # ignored: another plugin, a non-scalar shape, a string tensor
        tensor_event(6, "epoch_loss", tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[9.0]),
                     plugin="histograms"),
        tensor_event(6, "vec", tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT, float_val=[1.0, 2.0],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2)]))),
        tensor_event(6, "text", tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[b"hi"]),
                     plugin="text"),
    ]
    f = tmp_path / "events.out.tfevents.123.host.v2"
    write_events(f, evs)
    res = tensorboard.READER.read(f)
    assert set(by_tag(res)) == {"epoch_loss"}
    s = by_tag(res)["epoch_loss"]
    assert s.steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert s.values.tolist() == [1.5, 1.25, 1.125, 1.0, 0.5, 0.25]


def test_tensorboard_truncated_last_record_keeps_earlier_points(tmp_path):
    f = tmp_path / "events.out.tfevents.1.host"
    offsets = write_events(f, [scalar_event(s, "loss", 1.0 + s) for s in range(4)])
    data = f.read_bytes()
    f.write_bytes(data[:-5])  # cut inside the last record's data CRC
    res = tensorboard.READER.read(f)
    s = by_tag(res)["loss"]
    assert s.steps.tolist() == [0, 1, 2]
    warn = [n for n in res.notes if n.severity == "warning"]
    assert len(warn) == 1 and f"byte {offsets[-1]}" in warn[0].message


def test_tensorboard_truncated_header_is_a_warning(tmp_path):
    f = tmp_path / "events.out.tfevents.1.host"
    write_events(f, [scalar_event(s, "loss", 1.0) for s in range(2)])
    size = f.stat().st_size
    with open(f, "ab") as fh:
        fh.write(b"\x10\x00\x00")  # 3 bytes of a next header
    res = tensorboard.READER.read(f)
    assert len(by_tag(res)["loss"]) == 2
    assert any(f"byte {size}" in n.message and n.severity == "warning" for n in res.notes)


def test_tensorboard_restart_and_session_start(tmp_path):
    from tensorboard.compat.proto import event_pb2
    f = tmp_path / "events.out.tfevents.1.host"
    evs = [scalar_event(s, "loss", 10.0 + s) for s in range(6)]
    evs += [scalar_event(s, "loss", 20.0 + s) for s in range(3, 8)]  # restart from step 3
    write_events(f, evs)
    s = by_tag(tensorboard.READER.read(f))["loss"]
    assert s.steps.tolist() == list(range(8))
    assert s.values.tolist() == [10, 11, 12, 23, 24, 25, 26, 27]

    g = tmp_path / "events.out.tfevents.2.host"
    start = event_pb2.Event(step=4, wall_time=5.0, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START))
    write_events(g, [scalar_event(s, "acc", 1.0 * s) for s in range(8)] + [start, scalar_event(6, "acc", 60.0)])
    res = tensorboard.READER.read(g)
    s = by_tag(res)["acc"]
    assert s.steps.tolist() == [0, 1, 2, 3, 6]
    assert s.values[-1] == 60.0
    assert "SessionLog.START" in messages(res)


def test_tensorboard_garbage_is_parse_error(tmp_path):
    f = tmp_path / "events.out.tfevents.1.host"
    f.write_bytes(b"this is not a tfrecord file at all, just text\n" * 3)
    with pytest.raises(ParseError) as ei:
        tensorboard.READER.read(f)
    assert str(f) in str(ei.value) and "byte 0" in str(ei.value)


def test_tensorboard_corrupt_header_midfile_is_warning(tmp_path):
    f = tmp_path / "events.out.tfevents.1.host"
    offsets = write_events(f, [scalar_event(s, "loss", 1.0) for s in range(3)])
    data = bytearray(f.read_bytes())
    data[offsets[2] + 9] ^= 0xFF  # break the length CRC of the 3rd scalar record
    f.write_bytes(bytes(data))
    res = tensorboard.READER.read(f)
    assert by_tag(res)["loss"].steps.tolist() == [0, 1]
    assert any(f"byte {offsets[2]}" in n.message for n in res.notes)


def test_tensorboard_sniff_renamed_file(tmp_path):
    f = tmp_path / "renamed.bin"
    write_events(f, [scalar_event(0, "loss", 1.0)])
    assert tensorboard.READER.sniff(f, f.read_bytes()) == pytest.approx(0.8)
    assert choose(f) is tensorboard.READER
    assert tensorboard.READER.sniff(tmp_path / "x.csv", b"step,loss\n1,2\n") == 0.0


# --------------------------------------------------------------------------- CSV family


def test_csv_bom_and_crlf():
    f = FIX / "bom_crlf.csv"
    assert choose(f) is csv_generic.READER
    res = csv_generic.READER.read(f)
    t = by_tag(res)
    assert set(t) == {"loss", "acc"}  # header has no BOM residue, step is not a series
    assert t["loss"].steps.tolist() == [0, 10, 20]
    assert t["loss"].values.tolist() == [1.5, 1.25, 1.0]


def test_csv_nan_inf_cells_are_values_missing_cells_are_not():
    res = csv_generic.READER.read(FIX / "cells.csv")
    t = by_tag(res)
    assert "note" not in t and "iteration" not in t
    loss = t["loss"]
    assert loss.steps.tolist() == [1, 2, 3, 4, 6]  # row 5 is empty: no point
    assert loss.values[0] == 2.0 and math.isnan(loss.values[1])
    assert loss.values[2] == math.inf and loss.values[3] == math.inf
    g = t["grad_norm"]
    assert g.steps.tolist() == [1, 2, 3, 5, 6]  # 'null' is missing
    assert math.isnan(g.values[1]) and g.values[2] == -math.inf and g.values[4] == 2.5
    lr = t["lr"]
    assert lr.steps.tolist() == [1, 5, 6]  # '', None, NULL missing


def test_csv_ragged_row_skipped_with_line_number():
    res = csv_generic.READER.read(FIX / "ragged.csv")
    s = by_tag(res)["loss"]
    assert s.steps.tolist() == [1, 3, 4, 5]
    assert any("line 3" in n.message and n.severity == "warning" for n in res.notes)


def test_csv_truncated_last_line_dropped():
    res = csv_generic.READER.read(FIX / "truncated.csv")
    assert by_tag(res)["loss"].steps.tolist() == [1, 2]
    assert any("line 4" in n.message and "incomplete" in n.message for n in res.notes)


def test_csv_tensorboard_export(tmp_path):
    f = tmp_path / "run_train-tag-loss.csv"
    f.write_text("Wall time,Step,Value\n1600000000.5,1,0.9\n1600000001.5,2,0.8\n")
    s = by_tag(csv_generic.READER.read(f))["run_train-tag-loss"]
    assert s.steps.tolist() == [1, 2] and s.values.tolist() == [0.9, 0.8]
    assert s.wall_time.tolist() == [1600000000.5, 1600000001.5]


def test_csv_without_step_column_uses_row_index(tmp_path):
    f = tmp_path / "losses.csv"
    f.write_text("loss,acc\n3,0.1\n2,0.2\n1,0.3\n")
    res = csv_generic.READER.read(f)
    assert by_tag(res)["loss"].steps.tolist() == [0, 1, 2]
    assert "row index" in messages(res)


def test_lightning_sparse_rows():
    f = FIX / "metrics.csv"
    assert choose(f) is lightning.READER
    t = by_tag(lightning.READER.read(f))
    assert "epoch" not in t and "step" not in t
    assert t["train_loss_step"].steps.tolist() == [9, 19, 29, 39]
    assert math.isnan(t["train_loss_step"].values[-1])
    assert t["val_loss"].steps.tolist() == [19, 39] and t["val_loss"].values.tolist() == [2.4, 2.1]
    assert t["train_loss_epoch"].values.tolist() == [2.375, 2.1]
    assert t["lr-Adam"].values.tolist() == [0.001, 0.001, 0.0005, 0.0005]


def test_keras_csvlogger():
    f = FIX / "training.log"
    assert choose(f) is keras_csv.READER
    t = by_tag(keras_csv.READER.read(f))
    assert set(t) == {"accuracy", "loss", "lr", "val_accuracy", "val_loss"}
    assert t["val_loss"].steps.tolist() == [0, 1, 2] and t["val_loss"].step_unit == "epoch"
    assert t["val_loss"].values[1] == 7.41


def test_yolo_padded_headers():
    f = FIX / "results.csv"
    assert choose(f) is yolov5.READER
    t = by_tag(yolov5.READER.read(f))
    assert set(t) == {"train/box_loss", "train/cls_loss", "metrics/mAP_0.5", "val/box_loss"}
    assert t["train/box_loss"].values.tolist() == [0.12278, 0.11844, 0.11366]
    assert t["train/cls_loss"].values.tolist() == [0, 0, 0]
    assert t["val/box_loss"].step_unit == "epoch"


# --------------------------------------------------------------------------- JSON lines


def test_jsonl_tokens_nulls_garbage_and_partial_last_line():
    f = FIX / "partial_last.jsonl"
    assert choose(f) is jsonl_generic.READER
    res = jsonl_generic.READER.read(f)
    t = by_tag(res)
    assert set(t) == {"loss", "acc", "extra/gpu_mem"}  # strings and booleans are not series
    loss = t["loss"]
    assert loss.steps.tolist() == [1, 2, 3, 4]
    assert math.isnan(loss.values[1]) and loss.values[2] == math.inf and loss.values[3] == -math.inf
    assert t["acc"].steps.tolist() == [1, 3, 4]  # null = missing
    warn = [n.message for n in res.notes if n.severity == "warning"]
    assert any("line 5" in m for m in warn)  # the garbage line in the middle
    assert any("last line (7)" in m for m in warn)  # the cut last line


def test_jsonl_epoch_step_and_no_step(tmp_path):
    f = tmp_path / "log.jsonl"
    f.write_text('{"epoch": 0, "loss": 1.0}\n{"epoch": 1, "loss": 0.5}\n')
    s = by_tag(jsonl_generic.READER.read(f))["loss"]
    assert s.step_unit == "epoch" and s.steps.tolist() == [0, 1]
    g = tmp_path / "log2.jsonl"
    g.write_text('{"loss": 1.0}\n{"loss": 0.5}\n{"loss": 0.25}\n')
    s = by_tag(jsonl_generic.READER.read(g))["loss"]
    assert s.steps.tolist() == [0, 1, 2]


def test_jsonl_only_garbage_is_parse_error(tmp_path):
    f = tmp_path / "log.jsonl"
    f.write_text("not json\nstill not\n")
    with pytest.raises(ParseError) as ei:
        jsonl_generic.READER.read(f)
    assert ":1" in str(ei.value)


def test_llamafactory_fixture():
    f = FIX / "trainer_log.jsonl"
    assert choose(f) is llamafactory.READER
    res = llamafactory.READER.read(f)
    t = by_tag(res)
    assert set(t) == {"loss", "learning_rate", "throughput", "total_tokens", "eval_loss"}
    assert t["loss"].steps.tolist() == [10, 20]
    assert t["loss"].values[0] == 2.4999  # the later duplicate wins
    assert t["throughput"].values.tolist() == [12.5, 12.25]
    assert t["eval_loss"].steps.tolist() == [20]
    assert res.meta["max_steps"] == 40
    assert "duplicate" in messages(res)


def test_detectron2_restart_keeps_second_run():
    f = FIX / "metrics.json"
    assert choose(f) is detectron2.READER
    t = by_tag(detectron2.READER.read(f))
    assert t["total_loss"].steps.tolist() == [19, 39, 59]
    assert t["total_loss"].values[0] == 2.1527
    assert t["bbox/AP"].steps.tolist() == [59]


# --------------------------------------------------------------------------- HF trainer state


def test_hf_trainer_state_nan_survives_and_summary_dropped():
    f = FIX / "trainer_state.json"
    assert choose(f) is hf_trainer_state.READER
    res = hf_trainer_state.READER.read(f)
    t = by_tag(res)
    assert set(t) == {"loss", "grad_norm", "learning_rate", "eval_loss", "eval_accuracy"}
    assert t["loss"].steps.tolist() == [1, 2, 3, 4]
    assert math.isnan(t["loss"].values[1])
    assert math.isnan(t["grad_norm"].values[1]) and t["grad_norm"].values[2] == math.inf
    assert t["eval_loss"].steps.tolist() == [2, 4]
    assert res.meta == {"max_steps": 4, "logging_steps": 1, "eval_steps": 2, "num_train_epochs": 1.0,
                        "epochs": 1, "batch_size": 8, "final_train_loss": 2.0, "steps_per_epoch": 4}


def test_hf_trainer_state_invalid_json(tmp_path):
    f = tmp_path / "trainer_state.json"
    f.write_text('{"log_history": [ {"step": 1, "lo')
    with pytest.raises(ParseError) as ei:
        hf_trainer_state.READER.read(f)
    assert str(f) in str(ei.value)


def test_hf_trainer_state_cut_short_keeps_complete_entries_with_a_warning(tmp_path):
    f = tmp_path / "trainer_state.json"
    f.write_text('{"max_steps": 40, "log_history": [ {"step": 1, "loss": 1.0}, {"step": 2, "loss": NaN}, \n')
    res = hf_trainer_state.READER.read(f)
    s = by_tag(res)["loss"]
    assert s.steps.tolist() == [1, 2] and np.isnan(s.values[1])
    assert res.meta["max_steps"] == 40
    assert any("cut short" in n.message and n.severity == "warning" for n in res.notes)


def test_summary_files_not_claimed():
    assert choose(FIX / "all_results.json") is None


# --------------------------------------------------------------------------- MLflow


def test_mlflow_nested_tag_params_and_nonfinite():
    f = FIX / "mlruns" / "1" / "0123abcd" / "metrics" / "train" / "loss"
    assert choose(f) is mlflow.READER
    res = mlflow.READER.read(f)
    (s,) = res.series
    assert s.tag == "train/loss"
    assert s.steps.tolist() == [0, 1, 2, 3]
    assert s.values[0] == 3.5 and math.isnan(s.values[1]) and s.values[3] == math.inf
    assert s.wall_time[0] == pytest.approx(1628697792.090)
    # batch_size "None" and epochs "abc" are ignored, not fatal
    assert res.meta == {"learning_rate": 0.01, "max_grad_norm": 1.0, "optimizer": "Adam"}


def test_mlflow_not_claimed_outside_metrics_dir(tmp_path):
    f = tmp_path / "loss"
    f.write_text("1628697792090 3.5 0\n")
    assert mlflow.READER.sniff(f, f.read_bytes()) == 0.0


def test_mlflow_bad_middle_line(tmp_path):
    d = tmp_path / "metrics"
    d.mkdir()
    f = d / "loss"
    f.write_text("1 2.0 0\nhello\n3 1.0 2\n")
    with pytest.raises(ParseError) as ei:
        mlflow.READER.read(f)
    assert ":2" in str(ei.value)


# --------------------------------------------------------------------------- robustness


READERS = list(all_readers())


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_missing_file_and_directory_are_unreadable(reader, tmp_path):
    with pytest.raises(UnreadableFile):
        reader.read(tmp_path / "nope.csv")
    with pytest.raises(UnreadableFile):
        reader.read(tmp_path)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_sniff_never_raises(reader, tmp_path):
    for head in (b"", b"\x00\xff" * 40, b"{", b"epoch,step\n", "é,ü\n1,2".encode("latin-1")):
        score = reader.sniff(tmp_path / "metrics" / "x", head)
        assert 0.0 <= score <= 1.0


_NAMES = ["events.out.tfevents.1.h", "data.csv", "metrics.csv", "training.log", "results.csv",
          "log.jsonl", "trainer_log.jsonl", "metrics.json", "trainer_state.json"]


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_random_bytes_only_raise_documented_errors(reader, tmp_path):
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    d = tmp_path / "metrics"
    d.mkdir()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.one_of(st.binary(max_size=300),
                          st.text(alphabet="0123456789.,-+eE naifNIF{}[]\":\n\r\t", max_size=300)
                          .map(lambda s: s.encode())),
           name=st.sampled_from(_NAMES))
    def run(data, name):
        f = d / name
        f.write_bytes(data)
        try:
            res = reader.read(f)
        except (ParseError, UnreadableFile) as exc:
            assert "\n" not in str(exc) and str(f) in str(exc)
            return
        for s in res.series:
            assert s.steps.dtype == np.int64 and s.values.dtype == np.float64
            assert np.all(np.diff(s.steps) > 0)

    run()
    assert hypothesis


def test_gzipped_csv(tmp_path):
    import gzip
    f = tmp_path / "metrics.csv.gz"
    with gzip.open(f, "wb") as fh:
        fh.write((FIX / "metrics.csv").read_bytes())
    assert choose(f) is lightning.READER
    assert len(by_tag(lightning.READER.read(f))["val_loss"]) == 2


def test_each_fixture_picks_one_specific_reader():
    expect = {"bom_crlf.csv": csv_generic, "cells.csv": csv_generic, "metrics.csv": lightning,
              "training.log": keras_csv, "results.csv": yolov5, "partial_last.jsonl": jsonl_generic,
              "trainer_log.jsonl": llamafactory, "metrics.json": detectron2,
              "trainer_state.json": hf_trainer_state}
    for name, mod in expect.items():
        assert choose(FIX / name) is mod.READER, name
        # the specific reader outscores the generic ones on its file
        head = (FIX / name).read_bytes()
        generic = max(csv_generic.READER.sniff(FIX / name, head), jsonl_generic.READER.sniff(FIX / name, head))
        if mod not in (csv_generic, jsonl_generic):
            assert mod.READER.sniff(FIX / name, head) > generic


def test_reading_fixtures_writes_nothing():
    # readers never write: reading every fixture leaves the tree unchanged
    before = sorted((p.relative_to(FIX).as_posix(), p.stat().st_mtime_ns) for p in FIX.rglob("*"))
    for p in FIX.rglob("*"):
        if p.is_file() and choose(p) is not None:
            try:
                choose(p).read(p)
            except LosscheckError:
                pass
    after = sorted((p.relative_to(FIX).as_posix(), p.stat().st_mtime_ns) for p in FIX.rglob("*"))
    assert before == after


def test_jsonl_single_cut_line_is_a_warning(tmp_path):
    f = tmp_path / "log.jsonl"
    f.write_text('{"step": 1, "lo')
    res = jsonl_generic.READER.read(f)
    assert res.series == [] and any(n.severity == "warning" for n in res.notes)


def test_text_log_odd_python_dicts_do_not_escape(tmp_path):
    from losscheck.readers import text_logs
    f = tmp_path / "train.log"
    f.write_text("{'loss': 1.0, 2: 3.0}\n{'loss': [1], {1}: 2}\n{'loss': 0.5, 'x': 'y'}\n")
    res = text_logs.READER.read(f)
    assert {s.tag: s for s in res.series}["loss"].values.tolist() == [1.0, 0.5]

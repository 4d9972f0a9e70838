"""The frameworks' log writers shared by the two data generators.

``scripts/make_sample_runs.py`` (the bundled ``sample_runs/``) and ``benchmarks/make_corpus.py``
(the labelled corpus) both write training logs byte for byte as the frameworks lay them out on
disk. The file formats live here once; each generator keeps only how it turns its own training
trace into rows. Nothing here imports losscheck (the generators must not depend on the program
they test) or any framework: the formats are written from the frameworks' documented behaviour,
quoted in each docstring.

Importing: ``scripts/`` is not a package. ``make_sample_runs.py`` sits beside this file, so
``python scripts/make_sample_runs.py`` finds it on ``sys.path[0]``; ``make_corpus.py`` puts
``scripts/`` on ``sys.path`` before importing it. Both scripts run from a plain checkout, with no
install step.

Dependencies: numpy (float32 rounding) and, for :func:`write_tb_events` only, tensorboard's
protobuf classes (imported when called).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------
# Numbers as the frameworks print them
# --------------------------------------------------------------------------------------


def f32(x: float) -> float:
    """Round ``x`` to float32 and return it as a Python float (how ``tensor.item()`` logs)."""
    return float(np.float32(x))


def hms(seconds: float) -> str:
    """Format seconds like ``str(datetime.timedelta(seconds=int(s)))``: ``"0:01:05"``."""
    return str(_dt.timedelta(seconds=int(seconds)))


def csv_num(v: float) -> str:
    """A float cell as Python's ``csv`` module writes a Python float: ``repr`` (``nan``,
    ``inf``, ``-inf`` for the non-finite values). Converting first makes numpy scalars
    (whose ``repr`` is ``np.float64(...)`` under numpy 2) come out the same."""
    return repr(float(v)) if math.isfinite(v) else str(float(v))


# --------------------------------------------------------------------------------------
# Plain files
# --------------------------------------------------------------------------------------


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8, ``\\n`` newlines), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_csv_rows(path: Path, header: list[str], rows: list[dict]) -> None:
    """Write ``rows`` (dicts; missing keys left empty) as CSV like ``csv.DictWriter`` does.

    Uses ``\\r\\n`` line ends, as Python's csv module (and so Lightning / Keras) writes them.
    Values are written as given (format floats with :func:`csv_num` first where they may be
    numpy scalars).
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write one ``json.dumps(record)`` per line (NaN written as the bare token ``NaN``)."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


# --------------------------------------------------------------------------------------
# HF Trainer, LLaMA-Factory, Lightning, Keras
# --------------------------------------------------------------------------------------


def write_hf_trainer_state(path: Path, log_history: list[dict], *, global_step: int,
                           max_steps: int, logging_steps: int, eval_steps: int,
                           save_steps: int, train_batch_size: int, num_train_epochs: int,
                           epoch: float, total_flos: float, best_metric=None,
                           best_model_checkpoint=None, best_global_step=None) -> None:
    """Write an HF Trainer ``trainer_state.json`` (``TrainerState.save_to_json``).

    Like transformers: ``json.dumps(asdict(state), indent=2, sort_keys=True) + "\\n"``, so
    every dict (log_history entries included) has sorted keys, and NaN / Inf floats come
    out as the bare tokens ``NaN`` / ``Infinity``.
    """
    state = {
        "best_global_step": best_global_step,
        "best_metric": best_metric,
        "best_model_checkpoint": best_model_checkpoint,
        "epoch": epoch,
        "eval_steps": eval_steps,
        "global_step": global_step,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": log_history,
        "logging_steps": logging_steps,
        "max_steps": max_steps,
        "num_input_tokens_seen": 0,
        "num_train_epochs": num_train_epochs,
        "save_steps": save_steps,
        "stateful_callbacks": {
            "TrainerControl": {
                "args": {"should_epoch_stop": False, "should_evaluate": False,
                         "should_log": False, "should_save": True,
                         "should_training_stop": True},
                "attributes": {},
            }
        },
        "total_flos": total_flos,
        "train_batch_size": train_batch_size,
        "trial_name": None,
        "trial_params": None,
    }
    write_text(path, json.dumps(state, indent=2, sort_keys=True) + "\n")


def llamafactory_record(current: int, total: int, elapsed_s: float, remaining_s: float,
                        **logs: Any) -> dict:
    """One line of LLaMA-Factory's ``trainer_log.jsonl`` (its ``LogCallback``): keys
    ``current_steps, total_steps``, then ``logs`` in the order given (``loss``/``eval_loss``,
    ``lr``, ``epoch``; ``None`` values dropped), then ``percentage`` (2 decimals),
    ``elapsed_time`` and ``remaining_time`` as ``str(timedelta)`` of whole seconds.
    Write the records with :func:`write_jsonl`."""
    rec: dict[str, Any] = {"current_steps": current, "total_steps": total}
    rec.update({k: v for k, v in logs.items() if v is not None})
    rec.update({"percentage": round(current / total * 100, 2), "elapsed_time": hms(elapsed_s),
                "remaining_time": hms(remaining_s)})
    return rec


def write_lightning(run_dir: Path, rows: list[dict], hparams: dict) -> None:
    """Write ``lightning_logs/version_0/{metrics.csv,hparams.yaml}`` like Lightning 2.x
    ``CSVLogger``: one sparse row per ``log_metrics`` call, header = sorted union of keys.

    ``rows``: dicts with ``step`` and any logged key (``epoch``, ``train_loss_step``,
    ``val_loss``, ``train_loss_epoch``, ``lr-Adam``, ``grad_norm``...), values as logged by
    ``tensor.item()``. ``hparams``: written one ``key: value`` line each, in order.
    """
    vdir = run_dir / "lightning_logs" / "version_0"
    keys = sorted(set().union(*rows))
    write_csv_rows(vdir / "metrics.csv", keys, rows)
    write_text(vdir / "hparams.yaml", "".join(f"{k}: {v}\n" for k, v in hparams.items()))


def keras_row(epoch: int, logs: dict) -> dict:
    """One Keras ``CSVLogger`` row: ``epoch`` then the float32 metric values as Python floats.
    Write the rows with :func:`write_csv_rows` (header ``epoch`` + the sorted metric names)."""
    row = {"epoch": epoch}
    row.update({k: f32(v) for k, v in logs.items()})
    return row


# --------------------------------------------------------------------------------------
# TensorBoard: CRC32C, TFRecord framing, event files
# --------------------------------------------------------------------------------------


def _crc32c_table() -> list[int]:
    """Build the 256-entry lookup table of the reflected CRC32C polynomial 0x82F63B78.

    Returns: list of 256 ints in [0, 2**32).
    """
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C of ``data`` (bytes, any length). Returns an int in [0, 2**32).

    Check value: ``crc32c(b"123456789") == 0xE3069283``.
    """
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The TFRecord-masked CRC32C of ``data``: rotate right by 15, add 0xA282EAD8, mod 2**32."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(payload: bytes) -> bytes:
    """Frame one record: uint64 length, masked CRC of the length, payload, masked CRC of it.

    All integers little-endian. Returns the framed bytes (len(payload) + 16 bytes).
    """
    header = struct.pack("<Q", len(payload))
    return (header + struct.pack("<I", masked_crc32c(header)) + payload
            + struct.pack("<I", masked_crc32c(payload)))


def write_tb_events(path: Path, scalars: list[tuple[float, int, str, float]],
                    style: str = "pytorch") -> None:
    """Write a TensorBoard event file of scalars.

    Args:
        path: the ``events.out.tfevents...`` file to create.
        scalars: ``(wall_time_s, step, tag, value)`` tuples, in write order; at least one.
        style: ``"pytorch"`` (``torch.utils.tensorboard.SummaryWriter``: one event per
            ``add_scalar`` with ``simple_value``) or ``"tf2"`` (``tf.summary.scalar``: a
            rank-0 ``DT_FLOAT`` tensor in ``tensor_content`` plus ``plugin_name="scalars"``
            metadata).
    The first record is the ``file_version: "brain.Event:2"`` event, stamped with the wall
    time of the first scalar.

    Raises:
        ValueError: ``scalars`` is empty (there is no wall time to stamp the header with).
    """
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.compat.proto import tensor_shape_pb2

    if not scalars:
        raise ValueError(f"{path}: no scalars to write")
    out = bytearray()
    head = event_pb2.Event(wall_time=scalars[0][0], step=0, file_version="brain.Event:2")
    out += tfrecord(head.SerializeToString())
    for wall, step, tag, value in scalars:
        if style == "pytorch":
            val = summary_pb2.Summary.Value(tag=tag, simple_value=value)
        else:
            tensor = tensor_pb2.TensorProto(
                dtype=types_pb2.DT_FLOAT, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                tensor_content=struct.pack("<f", value))
            meta = summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
            val = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=meta)
        ev = event_pb2.Event(wall_time=wall, step=step, summary=summary_pb2.Summary(value=[val]))
        out += tfrecord(ev.SerializeToString())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))


def tb_file_name(wall: float, host: str, pid: int, uid: int = 0, tf2: bool = False) -> str:
    """The event file name SummaryWriter (``tf2=False``) or ``tf.summary`` (``.v2``) picks:
    ``events.out.tfevents.<10-digit seconds>.<host>.<pid>.<uid>``."""
    name = f"events.out.tfevents.{int(wall):010d}.{host}.{pid}.{uid}"
    return name + ".v2" if tf2 else name

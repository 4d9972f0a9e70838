"""Fuzz tests: no reader lets anything but UnreadableFile/ParseError escape, the CLI never
shows a traceback, and a series written in every supported format reads back identical.

Inputs: random bytes under each reader's file name; real logs from ``../shared/real_runs``
(skipped when that folder is absent) truncated at random offsets, with bytes flipped, lines
inserted or duplicated. Examples are bounded so the file runs in well under a minute.
"""

from __future__ import annotations

import gzip
import json
import math
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.errors import ParseError, UnreadableFile
from losscheck.model import ReadResult
from losscheck.readers import all_readers, choose

REAL_RUNS = Path(__file__).resolve().parents[1].parent / "shared" / "real_runs"
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: reader name -> a file name (relative path) it is meant for
FILE_NAMES = {
    "csv": "log.csv", "detectron2": "metrics.json", "hf-trainer-state": "trainer_state.json",
    "jsonl": "log.jsonl", "keras-csv": "training.log", "lightning-csv": "metrics.csv",
    "llamafactory": "trainer_log.jsonl", "mlflow": "metrics/loss",
    "tensorboard": "events.out.tfevents.1.host", "text-log": "train.log", "wandb": "run-x.wandb",
    "yolo-results": "results.csv", "trackio": "demo.db", "mlflow-sqlite": "mlflow.db",
    "neptune-parquet": "run-abc_part_0.parquet", "wandb-csv": "wandb_export_2025.csv",
    "json-history": "history.json",
}
READERS = {r.name: r for r in all_readers()}


def test_every_reader_is_fuzzed():
    assert set(READERS) <= set(FILE_NAMES), set(READERS) - set(FILE_NAMES)


def check_result(res: ReadResult) -> None:
    """A reader's result is well formed: strictly increasing int64 steps, float64 values."""
    assert isinstance(res, ReadResult)
    for s in res.series:
        assert s.steps.dtype == np.int64 and s.values.dtype == np.float64
        assert s.steps.shape == s.values.shape
        assert len(s) == 0 or bool(np.all(np.diff(s.steps) > 0))
    for n in res.notes:
        assert n.severity in ("info", "warning") and "\n" not in n.message


def read_safely(reader, path: Path) -> None:
    """Read; only UnreadableFile / ParseError may escape, each one line naming the file."""
    try:
        res = reader.read(path)
    except (UnreadableFile, ParseError) as exc:
        msg = exc.one_line()
        assert "\n" not in msg and msg.startswith(str(path))
        return
    check_result(res)


def write(root: Path, rel: str, data: bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


# ----------------------------------------------------------------------------- random bytes

# bytes that look a little like logs more often than uniform noise would
TOKENS = [b"step", b"loss", b",", b"\n", b"\r\n", b"{", b"}", b"[", b"]", b'"', b":", b"NaN", b"nan",
          b"Infinity", b"-inf", b"null", b"None", b"1e308", b"-1", b"0.5", b"\x00", b"\xff", b"\xef\xbb\xbf",
          b"#", b"log_history", b"current_steps", b"iteration", b"epoch", b":W&B", b"\t", b" ", b";"]
noise = st.one_of(st.binary(max_size=400),
                  st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)), max_size=80).map(b"".join))


@pytest.mark.parametrize("name", sorted(FILE_NAMES))
@SETTINGS
@given(data=noise, gz=st.booleans())
def test_random_bytes_never_escape_read(name, data, gz):
    if name not in READERS:
        pytest.skip(f"no reader {name}")
    rel = FILE_NAMES[name] + (".gz" if gz and name != "mlflow" else "")
    with tempfile.TemporaryDirectory() as d:
        payload = gzip.compress(data) if rel.endswith(".gz") else data
        read_safely(READERS[name], write(Path(d), rel, payload))


@SETTINGS
@given(data=noise, name=st.sampled_from(sorted(FILE_NAMES)))
def test_random_bytes_through_the_cli(data, name):
    with tempfile.TemporaryDirectory() as d:
        write(Path(d), "run/" + FILE_NAMES[name], data)
        cli_ok(Path(d) / "run")


def cli_ok(path: Path) -> None:
    res = CliRunner().invoke(app, ["diagnose", str(path), "--format", "json", "--isolated"])
    assert res.exit_code in (0, 1, 2), (res.exit_code, res.stderr, repr(res.exception))
    assert "Traceback" not in res.stdout + res.stderr
    assert "internal error" not in res.stderr, res.stderr
    if res.exit_code in (0, 1):
        json.loads(res.stdout)


# ----------------------------------------------------------------------------- mutated real files


def real_files() -> list[Path]:
    if not REAL_RUNS.is_dir():
        return []
    out = []
    for p in sorted(REAL_RUNS.rglob("*")):
        if p.is_file() and p.stat().st_size < 4_000_000 and choose(p) is not None:
            out.append(p)
    return out


REAL = real_files()
needs_real = pytest.mark.skipif(not REAL, reason="../shared/real_runs is not beside this checkout")


@st.composite
def mutation(draw):
    """A list of edits, applied in order: ("cut", frac), ("flip", frac, byte),
    ("insert", frac, line), ("dup", frac)."""
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "flip", "flip", "insert", "dup"]))
        frac = draw(st.floats(0, 1))
        if kind == "flip":
            ops.append((kind, frac, draw(st.integers(0, 255))))
        elif kind == "insert":
            ops.append((kind, frac, draw(st.sampled_from(
                [b"\n", b"garbage line\n", b"step,loss\n", b'{"step": 1e999}\n', b"NaN,NaN\n",
                 b"\x00\x00\x00\x00", b'{"loss": NaN, "step": -5}\n', b"# comment\n"]))))
        else:
            ops.append((kind, frac))
    return ops


def mutate(data: bytes, ops) -> bytes:
    for op in ops:
        i = int(op[1] * len(data))
        if op[0] == "cut":
            data = data[:i]
        elif op[0] == "flip" and data:
            i = min(i, len(data) - 1)
            data = data[:i] + bytes([data[i] ^ (op[2] or 1)]) + data[i + 1:]
        elif op[0] == "insert":
            j = data.rfind(b"\n", 0, i) + 1  # at a line start, where a line can be inserted
            data = data[:j] + op[2] + data[j:]
        elif op[0] == "dup":
            j = data.rfind(b"\n", 0, i) + 1
            k = data.find(b"\n", i)
            k = len(data) if k < 0 else k + 1
            data = data[:k] + data[j:k] + data[k:]
    return data


@needs_real
@SETTINGS
@given(idx=st.integers(0, 10_000), ops=mutation())
def test_mutated_real_files_never_escape_read(idx, ops):
    src = REAL[idx % len(REAL)]
    reader = choose(src)
    rel = src.relative_to(REAL_RUNS)
    with tempfile.TemporaryDirectory() as d:
        # keep the layout (mlflow needs metrics/, readers look at names)
        p = write(Path(d), str(rel), mutate(src.read_bytes(), ops))
        read_safely(reader, p)


@needs_real
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(idx=st.integers(0, 10_000), ops=mutation())
def test_mutated_real_files_through_the_cli(idx, ops):
    src = REAL[idx % len(REAL)]
    rel = src.relative_to(REAL_RUNS)
    with tempfile.TemporaryDirectory() as d:
        write(Path(d), str(rel), mutate(src.read_bytes(), ops))
        cli_ok(Path(d) / rel.parts[0])


# ----------------------------------------------------------------------------- round trip

special = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def series(draw, width=64):
    """(steps, values): strictly increasing int steps >= 1, float values with NaN/Inf."""
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n))
    steps = np.cumsum(gaps).tolist()
    val = st.one_of(st.floats(width=width, allow_nan=False, allow_infinity=False), special)
    values = draw(st.lists(val, min_size=n, max_size=n))
    return steps, values


def _masked_crc(data: bytes) -> int:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    return masked_crc32c(data)


def tfrecords(payloads) -> bytes:
    out = b""
    for p in payloads:
        header = struct.pack("<Q", len(p))
        out += header + struct.pack("<I", _masked_crc(header)) + p + struct.pack("<I", _masked_crc(p))
    return out


def write_format(fmt: str, root: Path, steps, values) -> Path:
    if fmt == "csv":
        return write(root, "log.csv", ("step,loss\n" + "".join(
            f"{s},{v!r}\n" for s, v in zip(steps, values))).encode())
    if fmt == "jsonl":
        return write(root, "log.jsonl", "".join(json.dumps({"step": s, "loss": v}) + "\n"
                                                for s, v in zip(steps, values)).encode())
    if fmt == "json-history":
        return write(root, "history.json", json.dumps(
            [{"step": s, "loss": v} for s, v in zip(steps, values)], indent=2).encode())
    if fmt == "hf":
        hist = [{"loss": v, "learning_rate": 1e-4, "epoch": 0.1, "step": s} for s, v in zip(steps, values)]
        return write(root, "trainer_state.json", json.dumps(
            {"global_step": steps[-1], "max_steps": steps[-1], "log_history": hist}, indent=2).encode())
    if fmt == "llamafactory":
        return write(root, "trainer_log.jsonl", "".join(json.dumps(
            {"current_steps": s, "total_steps": steps[-1], "loss": v, "lr": 1e-4, "epoch": 0.1,
             "percentage": 1.0, "elapsed_time": "0:00:01", "remaining_time": "0:00:01"}) + "\n"
            for s, v in zip(steps, values)).encode())
    if fmt == "lightning":
        # sparse rows: a val_loss row every third step, train rows in between
        rows = []
        for i, (s, v) in enumerate(zip(steps, values)):
            rows.append(f"0,{s},{v!r},,")
            if i % 3 == 0:
                rows.append(f"0,{s},,1.5,")
        return write(root, "metrics.csv", ("epoch,step,train_loss_step,val_loss,lr-Adam\n"
                                           + "\n".join(rows) + "\n").encode())
    if fmt == "tensorboard":
        from tensorboard.compat.proto import event_pb2, summary_pb2

        evs = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2")]
        evs += [event_pb2.Event(step=s, wall_time=1000.0 + s, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="loss", simple_value=v)])) for s, v in zip(steps, values)]
        return write(root, "events.out.tfevents.1.host", tfrecords(e.SerializeToString() for e in evs))
    raise ValueError(fmt)


LOSS_TAG = {"csv": "loss", "jsonl": "loss", "json-history": "loss", "hf": "loss", "llamafactory": "loss",
            "lightning": "train_loss_step", "tensorboard": "loss"}


@pytest.mark.parametrize("fmt", sorted(LOSS_TAG))
@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), gz=st.booleans())
def test_round_trip_every_format_keeps_every_value(fmt, data, gz):
    steps, values = data.draw(series(width=32 if fmt == "tensorboard" else 64))
    with tempfile.TemporaryDirectory() as d:
        p = write_format(fmt, Path(d), steps, values)
        if gz and fmt != "tensorboard":
            gzp = p.with_name(p.name + ".gz")
            gzp.write_bytes(gzip.compress(p.read_bytes()))
            p.unlink()
            p = gzp
        reader = choose(p)
        assert reader is not None, p
        res = reader.read(p)
        got = {s.tag: s for s in res.series}[LOSS_TAG[fmt]]
        assert got.steps.tolist() == steps
        np.testing.assert_array_equal(got.values, np.array(values, dtype=np.float64))
        assert not any(n.severity == "warning" for n in res.notes), res.notes

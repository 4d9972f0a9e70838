"""Tests of the W&B binary reader: files built here (framing + protobuf encoded by hand,
following the format description in the reader's docstring) and the real run files."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from losscheck.errors import ParseError
from losscheck.readers import choose, wandb_binary

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real_runs"
R = wandb_binary.READER
BLOCK = 32768


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field_bytes(num: int, data: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def history_record(items: dict, num: int = 1) -> bytes:
    hist = b""
    for k, v in items.items():
        item = _field_bytes(1, k.encode()) + _field_bytes(16, json.dumps(v).encode())
        hist += _field_bytes(1, item)
    return _varint(1 << 3 | 0) + _varint(num) + _field_bytes(2, hist)


def other_record() -> bytes:
    return _varint(1 << 3 | 0) + _varint(7) + _field_bytes(5, b"\x0a\x03abc")  # not a history


def write_log(records: list[bytes]) -> tuple[bytes, list[int]]:
    """LevelDB-style framing written from the format description; returns (bytes, offsets)."""
    out = bytearray(b":W&B" + b"\xe1\xbe" + b"\x00")
    offsets = []
    for rec in records:
        offsets.append(len(out))
        first = True
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < 7:
                out += b"\x00" * left
                left = BLOCK
            room = left - 7
            part, rec = rec[:room], rec[room:]
            last = not rec
            ctype = 1 if first and last else 2 if first else 4 if last else 3
            out += struct.pack("<IHB", zlib.crc32(bytes([ctype]) + part), len(part), ctype) + part
            first = False
            if last:
                break
    return bytes(out), offsets


def test_synthetic_history_with_spanning_records(tmp_path):
    big = "x" * 70000  # a string value spanning three blocks: FIRST/MIDDLE/LAST chunks
    recs = [history_record({"_step": 0, "_timestamp": 1700000000.5, "loss": 2.0, "acc": 0.1})]
    recs.append(other_record())
    recs.append(history_record({"_step": 1, "_timestamp": 1700000001.5, "loss": float("nan"), "caption": big}))
    recs.append(history_record({"_step": 2, "_timestamp": 1700000002.5, "loss": float("inf"),
                                "media": {"_type": "image"}}))
    data, _ = write_log(recs)
    f = tmp_path / "run-abc123.wandb"
    f.write_bytes(data)
    assert choose(f) is R
    res = R.read(f)
    t = {s.tag: s for s in res.series}
    assert set(t) == {"loss", "acc"}
    assert t["loss"].steps.tolist() == [0, 1, 2]
    assert math.isnan(t["loss"].values[1]) and t["loss"].values[2] == math.inf
    assert t["loss"].wall_time.tolist() == [1700000000.5, 1700000001.5, 1700000002.5]
    assert not [n for n in res.notes if n.severity == "warning"]


def test_truncated_tail_and_bad_crc(tmp_path):
    recs = [history_record({"_step": i, "loss": 1.0 / (i + 1)}) for i in range(5)]
    data, offsets = write_log(recs)
    f = tmp_path / "run-x.wandb"
    f.write_bytes(data[:-3])
    res = R.read(f)
    assert res.series[0].steps.tolist() == [0, 1, 2, 3]
    assert any(f"byte {offsets[4]}" in n.message and n.severity == "warning" for n in res.notes)

    broken = bytearray(data)
    broken[offsets[2] + 7 + 2] ^= 0xFF  # corrupt the payload of record 2: CRC mismatch
    f.write_bytes(bytes(broken))
    res = R.read(f)
    # the rest of that block is skipped (LevelDB recovery rule): records 2-4 share block 0
    assert res.series[0].steps.tolist() == [0, 1]
    assert any("checksum" in n.message for n in res.notes)


def test_not_a_wandb_file(tmp_path):
    f = tmp_path / "run-x.wandb"
    f.write_bytes(b"hello")
    assert R.sniff(f, b"hello") == 0.0
    with pytest.raises(ParseError):
        R.read(f)


def test_explicit_step_key_preferred(tmp_path):
    recs = [history_record({"_step": i, "iter": 250 * i, "train/loss": 3.0 - i}) for i in range(3)]
    f = tmp_path / "run-y.wandb"
    f.write_bytes(write_log(recs)[0])
    res = R.read(f)
    (s,) = res.series
    assert s.tag == "train/loss" and s.steps.tolist() == [0, 250, 500]
    assert any("'iter'" in n.message for n in res.notes)


# --------------------------------------------------------------------------- real files


def real(rel):
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"{p} missing")
    assert choose(p) is R
    return R.read(p)


def test_wandb_imdb_truncated_binary():
    res = real("wandb-imdb-sgd-stuck-chance/run-mpfhuxis.wandb")
    t = {s.tag: s for s in res.series}
    assert set(t) == {"lr", "train_loss_local", "grad_norm_square"}
    assert len(t["train_loss_local"]) == 4042 and t["train_loss_local"].steps[0] == 0
    assert any("truncated" in n.message and n.severity == "warning" for n in res.notes)
    assert len({s.tag: s for s in real("wandb-imdb-noisy-learning/run-r8mtbfdx.wandb").series}["lr"]) == 3957


def test_wandb_gan_alternating_steps():
    t = {s.tag: s for s in real("wandb-gan-oscillating/run-ef6y0znc.wandb").series}
    g, d = t["Generator_loss"], t["Discriminator_loss"]
    assert len(g) == len(d) == 400
    assert np.all(g.steps % 2 == 0) and np.all(d.steps % 2 == 1)
    summary = json.loads((REAL / "wandb-gan-oscillating/wandb-summary.json").read_text())
    assert g.values[-1] == summary["Generator_loss"] and d.steps[-1] == summary["_step"]


def test_wandb_nanogpt_matches_output_log():
    t = {s.tag: s for s in real("wandb-nanogpt-shakespeare-overfit/run-kt2awly2.wandb").series}
    v = t["val/loss"]
    assert len(v) == 21 and v.steps[-1] == 5000
    assert v.values[-1] == pytest.approx(4.92210054397583)
    from losscheck.readers import text_logs
    out = {s.tag: s for s in text_logs.READER.read(REAL / "wandb-nanogpt-shakespeare-overfit/output.log").series}
    assert out["val/loss"].steps.tolist() == v.steps.tolist()
    np.testing.assert_allclose(out["val/loss"].values, v.values, atol=6e-5)  # console rounds to 4 places

"""The bulk TensorBoard reader gives exactly what per-record protobuf decoding gives.

Event files are built here with TensorBoard's own protobuf classes and framed with
TensorBoard's pure-Python masked CRC (independent of the reader's numpy CRC); each is read
with ``_tfevents.read_fast`` (bulk framing + numpy decoding) and ``_tfevents.read_reference``
(every record through ``Event.FromString``, points gathered by ``Collector``) and the results are
compared field by field: series order, tags, steps, values (NaN-aware, bit-exact), wall
times, sources and every note. No timings here: speed is measured by benchmarks/speed.py.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.readers import _tfevents, _tfrecord
from losscheck.readers.tensorboard import READER, step_unit

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real_runs"  # ../shared beside the clone


def _masked_crc(data: bytes) -> int:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    return masked_crc32c(data)


def tf_record(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", _masked_crc(header)) + payload + struct.pack("<I", _masked_crc(payload))


def pb():
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    return event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2


def simple(step, tag, value, wall):
    event_pb2, summary_pb2, *_ = pb()
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]))


def tensor(step, tag, value, wall, enc, meta):
    """A TF2-style scalar: ``enc`` picks the TensorProto encoding, ``meta`` the metadata."""
    event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2 = pb()
    shape = tensor_shape_pb2.TensorShapeProto()
    if enc == "content32":
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape,
                                   tensor_content=np.float32(value).tobytes())
    elif enc == "val32":
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=[value])
    elif enc == "noshape32":
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value])
    elif enc == "content64":
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, tensor_shape=shape,
                                   tensor_content=np.float64(value).tobytes())
    elif enc == "val64":
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, tensor_shape=shape, double_val=[value])
    elif enc == "half":
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_HALF, tensor_shape=shape,
                                   half_val=[int(np.float16(value).view(np.uint16))])
    elif enc == "vector":
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value, value], tensor_shape=(
            tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2)])))
    else:  # string
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[b"x"])
    v = summary_pb2.Summary.Value(tag=tag, tensor=t)
    if meta == "scalars":
        v.metadata.plugin_data.plugin_name = "scalars"
    elif meta == "scalars+class":
        v.metadata.plugin_data.plugin_name = "scalars"
        v.metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
    elif meta == "histograms":
        v.metadata.plugin_data.plugin_name = "histograms"
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(value=[v]))


def multi(step, tags, value, wall):
    event_pb2, summary_pb2, *_ = pb()
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=t, simple_value=value + i) for i, t in enumerate(tags)]))


def histo(step, tag, wall):
    event_pb2, summary_pb2, *_ = pb()
    from tensorboard.compat.proto import summary_pb2 as s2
    h = s2.HistogramProto(min=0.0, max=1.0, num=3, sum=1.5, bucket_limit=[0.5, 1.0], bucket=[1.0, 2.0])
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, histo=h)]))


def image(step, tag, wall, size):
    event_pb2, summary_pb2, *_ = pb()
    img = summary_pb2.Summary.Image(height=1, width=1, colorspace=3, encoded_image_string=b"\x89PNG" * size)
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, image=img)]))


def session(step, wall, status="START"):
    event_pb2, *_ = pb()
    return event_pb2.Event(step=step, wall_time=wall,
                           session_log=event_pb2.SessionLog(status=getattr(event_pb2.SessionLog, status)))


def node_name_only(step, name, value, wall):
    event_pb2, summary_pb2, *_ = pb()
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(node_name=name, simple_value=value)]))


def file_version():
    event_pb2, *_ = pb()
    return event_pb2.Event(wall_time=999.0, file_version="brain.Event:2")


def write(path: Path, events, first=True) -> bytes:
    blob = b"".join(tf_record(e.SerializeToString()) for e in ([file_version()] if first else []) + list(events))
    path.write_bytes(blob)
    return blob


def assert_same(path: Path):
    """Fast and reference readers agree exactly (or both raise the same error)."""
    try:
        ref = _tfevents.read_reference(path, step_unit)
    except Exception as exc:
        with pytest.raises(type(exc)) as ei:
            _tfevents.read_fast(path, step_unit)
        assert str(ei.value) == str(exc)
        return None
    got = _tfevents.read_fast(path, step_unit)
    assert [s.tag for s in got.series] == [s.tag for s in ref.series]
    for a, b in zip(got.series, ref.series):
        assert a.steps.dtype == b.steps.dtype and np.array_equal(a.steps, b.steps)
        assert a.values.dtype == b.values.dtype
        assert np.array_equal(a.values.view(np.uint64), b.values.view(np.uint64)) or \
            np.array_equal(a.values, b.values, equal_nan=True)
        assert (a.wall_time is None) == (b.wall_time is None)
        if a.wall_time is not None:
            assert np.array_equal(a.wall_time, b.wall_time, equal_nan=True)
        assert (a.source, a.step_unit) == (b.source, b.step_unit)
    assert got.notes == ref.notes
    assert got.meta == ref.meta
    return got


# --------------------------------------------------------------------------- hypothesis

TAGS = ["loss", "train/loss", "eval/accuracy", "lr", "a" * 60, "t\u00e9st/\u4e2d", "x"]
FLOATS = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -0.0, 1.5, 1e-30, 3e38]))
STEPS = st.one_of(st.integers(0, 130), st.integers(0, 3_000_000), st.integers(-5, 5),
                  st.sampled_from([2**40, 2**63 - 1, -(2**63)]))
WALLS = st.one_of(st.floats(1e9, 2e9), st.just(0.0), st.just(float("nan")), st.just(float("inf")))
ENCODINGS = ["content32", "val32", "noshape32", "content64", "val64", "half", "vector", "string"]
METAS = ["none", "scalars", "scalars+class", "histograms"]


@st.composite
def events(draw):
    kind = draw(st.sampled_from(["simple"] * 6 + ["tensor"] * 3 + ["multi", "histo", "image", "start",
                                                                   "stop", "node", "version"]))
    step, wall = draw(STEPS), draw(WALLS)
    tag = draw(st.sampled_from(TAGS))
    if kind == "simple":
        return simple(step, tag, draw(FLOATS), wall)
    if kind == "tensor":
        enc = draw(st.sampled_from(ENCODINGS))
        narrow = enc.endswith("32") or enc in ("vector", "half")
        value = draw(FLOATS if narrow else st.floats(allow_nan=True, allow_infinity=True, width=64))
        if enc == "half" and np.isfinite(value) and abs(value) > 65504:
            value = 1.0
        return tensor(step, tag, value, wall, enc, draw(st.sampled_from(METAS)))
    if kind == "multi":
        return multi(step, draw(st.lists(st.sampled_from(TAGS), min_size=0, max_size=3)), 1.0, wall)
    if kind == "histo":
        return histo(step, tag, wall)
    if kind == "image":
        return image(step, tag, wall, draw(st.sampled_from([1, 200])))
    if kind in ("start", "stop"):
        return session(step, wall, kind.upper())
    if kind == "node":
        return node_name_only(step, tag, draw(FLOATS), wall)
    return file_version()


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@contextlib.contextmanager
def read_block(size):
    """Read event files in blocks of ``size`` bytes (``None``: the default), so that records
    cut by a block's end, carried over and longer than a block are all exercised."""
    saved = _tfevents.READ_BLOCK
    _tfevents.READ_BLOCK = size or saved
    try:
        yield
    finally:
        _tfevents.READ_BLOCK = saved


BLOCKS = st.sampled_from([None, 1, 13, 64, 257, 4096])


@SETTINGS
@given(evs=st.lists(events(), max_size=40), repeat=st.integers(1, 40), block=BLOCKS)
def test_mixed_records_same_as_protobuf(tmp_path, evs, repeat, block):
    # repeating the list makes periodic stretches, so the bulk framer's jumps are exercised
    f = tmp_path / "events.out.tfevents.1.host"
    write(f, evs * repeat)
    with read_block(block):
        assert_same(f)


@SETTINGS
@given(evs=st.lists(events(), min_size=1, max_size=25), repeat=st.integers(1, 20),
       damage=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=3),
       cut=st.one_of(st.none(), st.floats(0, 1)), block=BLOCKS)
def test_damaged_files_same_as_protobuf(tmp_path, evs, repeat, damage, cut, block):
    f = tmp_path / "events.out.tfevents.1.host"
    blob = bytearray(write(f, evs * repeat))
    for where, xor in damage:
        blob[int(where * len(blob))] ^= xor
    if cut is not None:
        blob = blob[:int(cut * len(blob))]
    f.write_bytes(bytes(blob))
    with read_block(block):
        assert_same(f)
    # same policy without the native CRC package (long records' data CRC then unchecked)
    saved = _tfrecord._native_crc32c
    _tfrecord._native_crc32c = None
    try:
        with read_block(block):
            assert_same(f)
    finally:
        _tfrecord._native_crc32c = saved


# --------------------------------------------------------------------------- targeted cases

def test_long_periodic_file_with_breaks(tmp_path):
    """Interleaved tags across varint widths (steps 0..20000), a stray histogram, a restart."""
    evs = []
    for s in range(0, 20000, 3):
        evs.append(simple(s, "train/loss", 1.0 / (s + 1), 1e9 + s))
        evs.append(simple(s, "lr", 0.1, 1e9 + s))
        if s % 999 == 0:
            evs.append(histo(s, "w", 1e9 + s))
        evs.append(tensor(s, "epoch_loss", 2.0 / (s + 1), 1e9 + s, "content32", "scalars"))
    evs.append(session(5000, 2e9))
    evs += [simple(s, "train/loss", 0.5, 2e9 + s) for s in range(5000, 5100)]
    f = tmp_path / "events.out.tfevents.1.host"
    write(f, evs)
    res = assert_same(f)
    tags = {s.tag: s for s in res.series}
    assert list(tags) == ["train/loss", "lr", "epoch_loss"]
    assert tags["train/loss"].steps[-1] == 5099 and tags["lr"].steps[-1] < 5000
    assert any("SessionLog.START" in n.message for n in res.notes)


def test_tf2_float_and_double_scalars_decoded_in_bulk(tmp_path):
    evs = [tensor(s, "epoch_loss", 1.0 + s, 1e9 + s, enc, meta)
           for s in range(300) for enc, meta in (("content32", "scalars+class"), ("val64", "none"))]
    f = tmp_path / "events.out.tfevents.1.host.v2"
    write(f, evs)
    res = assert_same(f)
    (s,) = res.series
    assert s.steps.tolist() == list(range(300)) and s.values.tolist() == [1.0 + i for i in range(300)]


def test_non_utf8_tag_is_left_to_protobuf(tmp_path):
    """A hand-encoded simple_value event with an invalid UTF-8 tag: protobuf rejects it, so
    the fast path must not decode it either."""
    def raw(step, tag: bytes, value):
        val = b"\x0a" + bytes([len(tag)]) + tag + b"\x15" + struct.pack("<f", value)
        summ = b"\x0a" + bytes([len(val)]) + val
        return (b"\x09" + struct.pack("<d", 1e9) + b"\x10" + bytes([step]) + b"\x2a"
                + bytes([len(summ)]) + summ)
    blob = tf_record(file_version().SerializeToString())
    blob += b"".join(tf_record(raw(s, b"ok", 1.0)) for s in range(1, 50))
    blob += tf_record(raw(60, b"\xff\xfe", 2.0)) + tf_record(raw(61, b"ok", 3.0))
    f = tmp_path / "events.out.tfevents.1.host"
    f.write_bytes(blob)
    res = assert_same(f)
    assert [s.tag for s in res.series] == ["ok"]
    assert any("could not be decoded" in n.message for n in res.notes)


def test_data_checksum_mismatch_skips_the_record(tmp_path):
    f = tmp_path / "events.out.tfevents.1.host"
    blob = bytearray(write(f, [simple(s, "loss", float(s), 1e9) for s in range(1, 6)]))
    rec = len(tf_record(file_version().SerializeToString()))
    size = len(tf_record(simple(1, "loss", 1.0, 1e9).SerializeToString()))
    blob[rec + 2 * size + 12 + 20] ^= 0x01  # a byte inside the 3rd scalar's payload
    f.write_bytes(bytes(blob))
    res = assert_same(f)
    assert res.series[0].steps.tolist() == [1, 2, 4, 5]
    assert any(f"first at byte {rec + 2 * size}" in n.message and "checksum" in n.message for n in res.notes)


def test_reader_entry_point_uses_fast_path(tmp_path):
    f = tmp_path / "events.out.tfevents.1.host"
    write(f, [simple(s, "loss", 1.0, 1e9) for s in range(100)])
    assert [len(s) for s in READER.read(f).series] == [100]


# --------------------------------------------------------------------------- framing and CRC

@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(0, 70), max_size=60), repeat=st.integers(1, 60),
       tail=st.binary(max_size=20))
def test_bulk_framing_equals_record_walk(sizes, repeat, tail):
    blob = b"".join(tf_record(bytes([i % 251]) * n) for i, n in enumerate(sizes * repeat)) + tail
    starts, lens, problem = _tfrecord.frame_records(blob)
    recs, problem2 = _tfrecord.iter_records(blob)
    assert starts.tolist() == [o for o, _ in recs]
    assert lens.tolist() == [len(p) for _, p in recs]
    assert problem == problem2


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(1, 5000), width=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
def test_vectorised_crc_equals_tensorboard_crc(rows, width, seed):
    data = np.random.default_rng(seed).integers(0, 256, (rows, width), dtype=np.uint8)
    got = _tfrecord.mask_crc(_tfrecord.crc32c_rows(data))
    for i in np.linspace(0, rows - 1, min(rows, 20)).astype(int):
        assert int(got[i]) == _masked_crc(data[i].tobytes())


def test_crc_known_answer():
    assert _tfrecord._py_crc32c(b"123456789") == 0xE3069283  # CRC-32C check value
    assert _tfrecord.crc32c(b"123456789") == 0xE3069283


# --------------------------------------------------------------------------- real files

REAL_FILES = sorted(REAL.glob("*/**/events.out.tfevents.*")) if REAL.is_dir() else []


@pytest.mark.skipif(not REAL_FILES, reason="no real event files in ../shared/real_runs")
@pytest.mark.parametrize("block", [None, 1000])
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.parent.name)
def test_real_event_files_same_as_protobuf(path, block):
    with read_block(block):
        res = assert_same(path)
    assert res.series


@pytest.mark.parametrize("step", [0, 1, 300, 2 ** 40])
@pytest.mark.parametrize("version", ["brain.Event:2", "brain.Event:1", "not.brain"])
def test_file_version_record_recognised_like_protobuf(step, version):
    from losscheck.readers._tfevents import is_file_version as _is_file_version

    event_pb2 = pb()[0]
    payload = event_pb2.Event(wall_time=1.7e9, step=step, file_version=version).SerializeToString()
    assert _is_file_version(payload, 0, len(payload)) == version.startswith("brain.Event:")
    # anything more (or else) in the record is left to protobuf
    for other in (event_pb2.Event(wall_time=1.7e9, step=step, file_version=version, source_metadata=
                                  event_pb2.SourceMetadata(writer="x")),
                  simple(step, "loss", 1.0, 1.7e9), event_pb2.Event(wall_time=1.7e9, step=step)):
        data = b"xx" + other.SerializeToString()
        assert not _is_file_version(data, 2, len(data) - 2)
    assert not _is_file_version(payload[:-1], 0, len(payload) - 1)


def test_plain_scalar_file_reads_without_protobuf_or_native_crc(tmp_path):
    import subprocess
    import sys

    event_pb2 = pb()[0]
    f = tmp_path / "events.out.tfevents.1.host"
    f.write_bytes(tf_record(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())
                  + b"".join(tf_record(simple(s, "loss", 1.0 / (s + 1), 1.0 + s).SerializeToString())
                             for s in range(50)))
    code = ("import sys\nfrom pathlib import Path\nfrom losscheck.readers.tensorboard import read_events\n"
            f"r = read_events(Path({str(f)!r}))\nassert len(r.series[0]) == 50 and not r.notes, r.notes\n"
            "print('google.protobuf' in sys.modules, 'crc32c' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"  # no protobuf, and no native CRC for short records


@pytest.mark.parametrize("block", [1, 7, 12, 4096])
def test_damaged_length_across_block_ends(tmp_path, block):
    """A corrupt length field seen in pieces (the header cut by a block's end) stops reading
    there, exactly as the record walk does; it is never taken as a size to read."""
    f = tmp_path / "events.out.tfevents.1.host"
    blob = bytearray(write(f, [simple(i, "loss", 1.0 / (i + 1), 1.7e9 + i) for i in range(30)]))
    recs, _ = _tfrecord.iter_records(bytes(blob))
    blob[recs[5][0] + 7] ^= 0xFF  # the high byte of record 5's length
    f.write_bytes(bytes(blob))
    with read_block(block):
        got = assert_same(f)
    assert got is not None and len(got.series[0]) == 4 and got.notes


@pytest.mark.parametrize("block", [1, 64, None])
def test_truncated_record_claiming_a_terabyte(tmp_path, block):
    """A last record whose intact header claims 1 TB is reported as cut short, without an
    attempt to read (or allocate) a terabyte."""
    f = tmp_path / "events.out.tfevents.1.host"
    blob = write(f, [simple(i, "loss", 1.0, 1.7e9 + i) for i in range(10)])
    head = struct.pack("<Q", 2 ** 40)
    f.write_bytes(blob + head + struct.pack("<I", _masked_crc(head)) + b"\x09" * 20)
    with read_block(block):
        got = assert_same(f)
    assert len(got.series[0]) == 10 and "truncated" in got.notes[0].message


@pytest.mark.parametrize("first", [True, False])
def test_file_version_that_is_not_utf8_is_left_to_protobuf(tmp_path, first):
    """protobuf rejects a file_version string that is not UTF-8: the fast reader must not
    take that record for a file_version (first record: not an event file; later: a note)."""
    bad = bytearray(file_version().SerializeToString())
    bad[-1] = 0xB2  # the last byte of "brain.Event:2"
    scalars = [tf_record(simple(i, "loss", 1.0, 1.7e9 + i).SerializeToString()) for i in range(3)]
    blob = tf_record(bytes(bad)) + b"".join(scalars) if first else \
        tf_record(file_version().SerializeToString()) + scalars[0] + tf_record(bytes(bad)) + b"".join(scalars[1:])
    f = tmp_path / "events.out.tfevents.1.host"
    f.write_bytes(blob)
    got = assert_same(f)
    assert (got is None) == first

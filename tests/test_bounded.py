"""Bounded time and memory, and exact data, on hostile inputs (issue 12): LC301's early scan and
LC403's train level at each eval are O(n log n) (operation counts, not wall time, as the input
grows 10x); a file is read up to the size it had when the read began; lines have a maximum
length; one deeply nested line never rejects a file; steps are exact int64 integers."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc

import numpy as np
import pytest

from losscheck.model import Series
from losscheck.readers import _common, _jsonl, _numscan, _tabular, choose
from losscheck.series import normalize
from tests.rules.test_rules_extra import ctx_for, decaying, fire


# --------------------------------------------------------------------------- counting numpy work


class Counted(np.ndarray):
    """An array that adds to :data:`WORK` the elements each numpy operation reads from it
    (ufuncs, and array functions such as ``np.median`` or ``np.searchsorted``): the work of
    an algorithm on these inputs, whatever the machine's speed."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        WORK[0] += _elements(inputs)
        inputs = tuple(x.view(np.ndarray) if isinstance(x, Counted) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Counted) else o for o in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        WORK[0] += _elements(args) + _elements(tuple(kwargs.values()))
        return super().__array_function__(func, types, args, kwargs)


WORK = [0]


def _elements(objs) -> int:
    n = 0
    for x in objs:
        if isinstance(x, np.ndarray):
            n += x.size
        elif isinstance(x, (list, tuple)):
            n += _elements(x)
    return n


def _counted_finite_xy(series):
    from losscheck.analysis.evidence import finite_xy

    s, v = finite_xy(series)
    return np.asarray(s).view(Counted), np.asarray(v).view(Counted)


def _growth(work_of, n: int) -> float:
    """How many times more work ``work_of(10 n)`` takes than ``work_of(n)``."""
    return work_of(10 * n) / work_of(n)


# --------------------------------------------------------------------------- 1. LC301 early scan


def _lc301_ctx(n: int):
    steps = np.arange(n, dtype=np.int64)
    loss = decaying(steps.astype(float), 2.0, 0.5, noise=0.01, seed=1)
    loss[n // 40: n // 20] *= 1.5  # the loss rises early: the scan finds it
    return ctx_for({"loss": Series("loss", steps, loss, "log"),
                    "lr": Series("lr", steps, np.full(n, 1e-3), "log")})


def test_lc301_early_scan_work_grows_linearly_with_a_constant_lr(monkeypatch):
    """A constant LR sends LC301 to its running-median scan; with a median per window (windows
    of 2% of the points over the first 10%) the work grew 100x for 10x the points (27 s for 1M
    rows, 110 s for 2M). The elements handed to median routines now grow ~10x."""
    import bottleneck

    import losscheck.analysis.lr as lc301  # LC301's early scan is measured there

    monkeypatch.setattr(lc301, "finite_xy", _counted_finite_xy)
    real_mm = bottleneck.move_median

    def move_median(a, *args, **kwargs):
        WORK[0] += np.size(a)  # one running median: O(m log w) in C
        return real_mm(np.asarray(a).view(np.ndarray), *args, **kwargs)

    monkeypatch.setattr(bottleneck, "move_median", move_median)
    messages = []

    def work(n):
        WORK[0] = 0
        f = fire("LC301", _lc301_ctx(n))
        messages.append(f[0].message)
        return WORK[0]

    assert _growth(work, 5000) < 15
    assert all("; the loss rose to x1." in m for m in messages), messages


@pytest.mark.parametrize("seed", range(8))
def test_lc301_window_medians_equal_a_median_per_window(seed):
    from losscheck.analysis.lr import window_medians

    rng = np.random.default_rng(seed)
    for _ in range(40):
        m = int(rng.integers(1, 400))
        w = int(rng.integers(1, m + 1))
        x = rng.normal(size=m)
        if seed % 2:
            x = np.round(x, 1)  # ties
        ref = np.array([np.median(x[k:k + w]) for k in range(m - w + 1)])
        assert np.array_equal(window_medians(x, w), ref)
    with pytest.raises(ValueError):
        window_medians(np.ones(3), 4)


# --------------------------------------------------------------------------- 2. LC403 evals x points


def _lc403_ctx(n: int, every: int):
    ts = np.arange(n, dtype=np.int64)
    es = np.arange(every - 1, n, every, dtype=np.int64)
    tl = decaying(ts.astype(float), 3.0, 1.0, noise=0.02, seed=2)
    return ctx_for({"loss": Series("loss", ts, tl, "log"),
                    "eval_loss": Series("eval_loss", es, 0.7 * tl[es], "log")})


@pytest.mark.parametrize("every", [10, 1])
def test_lc403_work_grows_linearly_in_evals_and_points(monkeypatch, every):
    """LC403 masked every training point at every eval: the work grew 100x for 10x the rows
    (a Lightning metrics.csv of 1M sparse rows: > 120 s; an eval on every row, 300k rows:
    56 s). Now each eval's window is a binary search and the windows are sorted at once."""
    import losscheck.analysis.loss_levels as lc403  # LC403's train levels are measured there

    monkeypatch.setattr(lc403, "finite_xy", _counted_finite_xy)
    messages = []

    def work(n):
        WORK[0] = 0
        f = fire("LC403", _lc403_ctx(n, every))
        messages.append(f[0].message)
        return WORK[0]

    assert _growth(work, 2000) < 15
    assert all("eval loss below the training loss" in m for m in messages)


@pytest.mark.parametrize("seed", range(6))
def test_lc403_train_levels_equal_the_per_eval_masks(seed):
    from losscheck.analysis.loss_levels import _train_at_evals_loop, train_at_evals

    rng = np.random.default_rng(seed)
    for t in range(150):
        ts = np.unique(rng.integers(0, 1000, int(rng.integers(1, 300)))).astype(np.int64)
        es = np.unique(rng.integers(-50, 1100, int(rng.integers(1, 60)))).astype(np.int64)
        tv = rng.lognormal(size=len(ts))
        if t % 3 == 0:
            tv = np.round(tv, 1)  # ties inside windows
        ev = rng.lognormal(size=len(es))
        got, ref = train_at_evals(ts, tv, es, ev), _train_at_evals_loop(ts, tv, es, ev)
        for a, b in zip(got, ref):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_segment_medians_equal_numpy():
    from losscheck.analysis.loss_levels import segment_medians

    rng = np.random.default_rng(4)
    v = np.round(rng.normal(size=500), 1)
    cuts = np.sort(rng.integers(0, 501, 41))
    lo, hi = cuts[:-1], cuts[1:]
    got = segment_medians(v, lo, hi)
    for k in range(len(lo)):
        if lo[k] == hi[k]:
            assert np.isnan(got[k])
        else:
            assert got[k] == np.median(v[lo[k]:hi[k]])


# --------------------------------------------------------------------------- 3. growing files


@pytest.fixture
def grows_after_open(monkeypatch):
    """Every file opened by losscheck gets ``extra[path]`` appended right after it is opened,
    as a running job would write more while losscheck reads."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to name an open descriptor's file")
    extra: dict[str, bytes] = {}
    real = os.fdopen

    def fdopen(fd, *args, **kwargs):
        fh = real(fd, *args, **kwargs)
        path = os.readlink(f"/proc/self/fd/{fd}") if isinstance(fd, int) else None
        if path in extra:
            with open(path, "ab") as w:
                w.write(extra.pop(path))
        return fh

    monkeypatch.setattr(os, "fdopen", fdopen)
    return extra


def test_a_growing_file_is_read_as_it_was_when_the_read_began(tmp_path, grows_after_open):
    p = tmp_path / "metrics.csv"
    body = "step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(100))
    p.write_text(body)
    grows_after_open[str(p.resolve())] = "".join(f"{i},0.5\n" for i in range(100, 10100)).encode()
    data, notes = _common.read_data(p)
    assert data == body.encode()
    assert any("grew by" in n.message and f"({len(body)} bytes)" in n.message for n in notes)
    # through a reader, the note reaches the result
    p.write_text(body)
    reader = choose(p)
    grows_after_open[str(p.resolve())] = b"99999,0.1\n"
    res = reader.read(p)
    assert res.series[0].steps.tolist() == list(range(100))
    assert any("grew by" in n.message for n in res.notes)


def _tb_record(payload: bytes) -> bytes:
    from losscheck.readers._tfrecord import masked_crc32c

    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


def _tb_events(steps) -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    out = _tb_record(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())
    for s in steps:
        ev = event_pb2.Event(step=s, wall_time=1.0 + s, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (s + 1))]))
        out += _tb_record(ev.SerializeToString())
    return out


def test_a_growing_event_file_is_read_up_to_its_size_at_open(tmp_path, grows_after_open):
    pytest.importorskip("tensorboard")
    from losscheck.readers.tensorboard import read_events

    p = tmp_path / "events.out.tfevents.1.host"
    p.write_bytes(_tb_events(range(50)))
    grows_after_open[str(p.resolve())] = _tb_events(range(50, 5000))[len(_tb_events([])):]
    res = read_events(p)
    assert res.series[0].steps.tolist() == list(range(50))
    assert any("grew by" in n.message for n in res.notes)


def test_bounded_file_never_reads_past_its_size(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 1000)
    with _common.open_bounded(p) as fh:
        with open(p, "ab") as w:
            w.write(b"y" * 5000)
        assert fh.read(600) == b"x" * 600 and fh.remaining() == 400
        assert fh.read() == b"x" * 400 and fh.read() == b"" and fh.read(10) == b""
        assert fh.grown() == 5000


# --------------------------------------------------------------------------- 4. line length


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_blank_lines_in_a_csv_cost_no_memory_per_line(tmp_path):
    """1 MiB of blank lines took ~130 MB (a csv row and line number per blank line; 10 MiB took
    1.5 GB and 21 s): now well under 32 bytes per byte of file."""
    p = tmp_path / "metrics.csv"
    p.write_text("step,loss\n0,1.0\n" + "\n" * (1 << 20) + "1,0.9\n2,0.8\n")
    out = {}
    peak = _peak(lambda: out.setdefault("t", _tabular.load_table(p)))
    assert out["t"].nrows == 3 and out["t"].values["loss"].tolist() == [1.0, 0.9, 0.8]
    assert peak < 32 << 20, peak
    # line numbers still count the blank lines
    p.write_text("step,loss\n0,1.0\n" + "\n" * 1000 + '1,"x\n2,0.8\n')
    notes = " ".join(n.message for n in _tabular.load_table(p).notes)
    assert "line 1003" in notes


def test_a_line_longer_than_the_maximum_is_skipped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "MAX_LINE_BYTES", 4096, raising=False)
    p = tmp_path / "metrics.jsonl"
    huge = json.dumps({"step": 1, "loss": 0.5, "hist": list(range(3000))})
    lines = [json.dumps({"step": 0, "loss": 1.0}), huge, json.dumps({"step": 2, "loss": 0.25}), huge]
    p.write_text("\n".join(lines) + "\n")
    res = choose(p).read(p)
    loss = {s.tag: s for s in res.series}["loss"]
    assert loss.steps.tolist() == [0, 2]
    msgs = [n.message for n in res.notes]
    assert any("2 line(s) longer than 4 KiB (the maximum line length) skipped: line 2, 4" in m for m in msgs), msgs
    # CSV: the same, the other rows read
    c = tmp_path / "metrics.csv"
    c.write_text("step,loss\n0,1.0\n1," + "9" * 5000 + "\n2,0.5\n")
    t = _tabular.load_table(c)
    assert t.values["step"].tolist() == [0.0, 2.0]
    assert any("1 line(s) longer than 4 KiB" in n.message and "line 3" in n.message for n in t.notes)


def test_a_huge_jsonl_line_is_never_parsed(tmp_path, monkeypatch):
    """A line above the maximum is dropped before decoding: json never sees it, and the memory
    of the read stays a small multiple of the file (parsing it would take ~10x)."""
    line = '{"step": 1, "hist": [' + "0," * (9 << 20) + '0]}'  # 18 MiB: above 16 MiB
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 0, "loss": 1.0}\n' + line + '\n{"step": 2, "loss": 0.5}\n')
    size = p.stat().st_size
    del line
    seen = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: seen.append(len(s)) or real(s, *a, **k))
    out = {}
    peak = _peak(lambda: out.setdefault("r", _jsonl.load_json_lines(p)))
    records, notes = out["r"]
    assert [r["step"] for _, r in records] == [0, 2]
    assert any("longer than 16 MiB" in n.message and "line 2" in n.message for n in notes)
    assert max(seen) < 1000
    assert peak < 3 * size, (peak, size)


def test_long_lines_finds_every_span():
    data = b"ab\n" + b"x" * 10 + b"\r\n" + b"y" * 11 + b"\n\n" + b"z" * 12
    assert _common.long_lines(data, 10) == [(15, 26), (28, 40)]
    assert _common.long_lines(data, 100) == []
    assert _common.long_lines(b"q" * 50, 10) == [(0, 50)]
    rng = np.random.default_rng(9)
    for t in range(500):  # against a byte-by-byte reference (the quick test, then the scan)
        alphabet = np.frombuffer(b"ab\n\r\x0b" if t % 2 else b"aaaaaaaaab\n", dtype=np.uint8)
        d = rng.choice(alphabet, int(rng.integers(0, 300))).tobytes()
        lim = int(rng.integers(1, 40))
        ref, start = [], 0
        for i in range(len(d) + 1):
            if i == len(d) or d[i] in b"\n\r\x0b\x0c\x1c\x1d\x1e":
                if i - start > lim:
                    ref.append((start, i))
                start = i + 1
        assert _common.long_lines(d, lim) == ref


# --------------------------------------------------------------------------- 5. deep nesting


def test_a_deeply_nested_jsonl_line_is_one_bad_line(tmp_path):
    p = tmp_path / "metrics.jsonl"
    deep = '{"step": 5, "x": ' + "[" * 20000 + "]" * 20000 + "}"  # first, and within the sniff head
    deep_obj = '{"step": 6, "loss": 0.1, "x": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    good = [json.dumps({"step": i, "loss": 1.0 / (i + 1)}) for i in range(5)]
    p.write_text("\n".join([deep] + good + [deep_obj] + good[:0]) + "\n" + json.dumps({"step": 7, "loss": 0.1}) + "\n")
    reader = choose(p)
    assert reader is not None and reader.name == "jsonl"
    res = reader.read(p)
    loss = {s.tag: s for s in res.series}["loss"]
    assert loss.steps.tolist() == [0, 1, 2, 3, 4, 7]
    assert any("2 line(s) that are not JSON objects were skipped: line 1, 7" in n.message for n in res.notes)


def test_flatten_is_not_recursive():
    obj: dict = {"leaf": 1}
    for _ in range(5000):
        obj = {"a": obj, "b": 2}
    flat = _jsonl.flatten(obj)
    assert flat["a/" * 5000 + "leaf"] == 1 and len(flat) == 5001
    assert list(_jsonl.flatten({"x": {"y": 1, "z": {"w": 2}}, "v": 3})) == ["x/y", "x/z/w", "v"]


def test_a_deeply_nested_wandb_value_is_skipped_and_counted(tmp_path):
    from tests.readers.test_readers_wandb import _field_bytes, _varint, write_log

    def record(items: dict[str, str], num: int) -> bytes:
        hist = b"".join(_field_bytes(1, _field_bytes(1, k.encode()) + _field_bytes(16, v.encode()))
                        for k, v in items.items())
        return _varint(1 << 3 | 0) + _varint(num) + _field_bytes(2, hist)

    recs = [record({"_step": str(i), "loss": repr(1.0 / (i + 1))}, i + 1) for i in range(4)]
    recs.append(record({"_step": "9", "loss": "0.5", "weird": "[" * 100000 + "]" * 100000}, 9))
    data, _ = write_log(recs)
    f = tmp_path / "run-abc.wandb"
    f.write_bytes(data)
    res = choose(f).read(f)
    assert {s.tag: s for s in res.series}["loss"].steps.tolist() == [0, 1, 2, 3, 9]
    assert any("1 history value(s) that are not JSON (or are nested too deeply to parse) skipped" in n.message
               for n in res.notes)


# --------------------------------------------------------------------------- 6. exact steps


BIG = 2 ** 53


def test_steps_beyond_2_53_stay_distinct():
    steps = [BIG + i for i in range(6)]
    s, notes = normalize("loss", steps, np.arange(6.0), "f")
    assert s.steps.tolist() == steps and notes == []
    s, notes = normalize("loss", np.array(steps, dtype=np.int64), np.arange(6.0), "f")
    assert s.steps.tolist() == steps and notes == []
    # mixed with floats (a JSON float step among ints): the ints stay exact
    s, notes = normalize("loss", [0.0, 1.5] + steps, np.arange(8.0), "f")
    assert s.steps.tolist()[2:] == steps


def test_steps_outside_the_step_range_are_a_clear_warning():
    """Steps are int64 of magnitude below 2**62 (headroom: a span or ``last + 1`` never
    overflows); outside, the point is skipped with a warning naming the range and the step."""
    top = 2 ** 62 - 1
    s, notes = normalize("loss", [0, 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, 2 ** 62, top], np.arange(7.0), "f")
    assert s.steps.tolist() == [0, 1, top]
    msg = notes[0].message
    assert notes[0].severity == "warning" and "4 point(s)" in msg and "outside the supported range" in msg
    assert "below 2**62" in msg and "first: 9223372036854775808" in msg
    s, notes = normalize("loss", np.array([0.0, 1e19, np.nan]), np.arange(3.0), "f")
    assert s.steps.tolist() == [0] and len(notes) == 2
    s, notes = normalize("loss", np.array([0, 2 ** 62, -(2 ** 62)], dtype=np.int64), np.arange(3.0), "f")
    assert s.steps.tolist() == [0] and "2 point(s)" in notes[0].message


def _big_rows(n=50):
    return [(BIG + i, 1.0 / (i + 1)) for i in range(n)]


@pytest.mark.parametrize("pandas", [False, True])
def test_csv_steps_beyond_2_53_are_exact(tmp_path, monkeypatch, pandas):
    monkeypatch.setattr(_tabular, "PANDAS_MIN_CHARS", 10 if pandas else 10 ** 12)
    monkeypatch.setattr(_numscan, "SMALL_MAX_BYTES", 0 if pandas else 10 ** 12)
    p = tmp_path / "metrics.csv"
    p.write_text("step,loss\n" + "".join(f"{s},{v}\n" for s, v in _big_rows()))
    res = choose(p).read(p)
    loss = {s.tag: s for s in res.series}["loss"]
    assert loss.steps.tolist() == [s for s, _ in _big_rows()]
    assert not any("writers" in n.message or "replaced" in n.message for n in res.notes)


def test_lightning_steps_beyond_2_53_are_exact(tmp_path):
    p = tmp_path / "lightning_logs" / "version_0" / "metrics.csv"
    p.parent.mkdir(parents=True)
    rows = "".join(f"0,{s},{v},\n" + (f"0,{s},,{v * 0.9}\n" if i % 10 == 9 else "")
                   for i, (s, v) in enumerate(_big_rows()))
    p.write_text("epoch,step,train_loss,val_loss\n" + rows)
    res = choose(p).read(p)
    t = {s.tag: s for s in res.series}
    assert t["train_loss"].steps.tolist() == [s for s, _ in _big_rows()]
    assert t["val_loss"].steps.tolist() == [s for s, _ in _big_rows()][9::10]


@pytest.mark.parametrize("columns", [False, True])
def test_jsonl_steps_beyond_2_53_are_exact(tmp_path, monkeypatch, columns):
    monkeypatch.setattr(_jsonl, "COLUMNS_MIN_BYTES", 0 if columns else 10 ** 12)
    monkeypatch.setattr(_numscan, "SMALL_MAX_BYTES", 0 if columns else 10 ** 12)
    p = tmp_path / "metrics.jsonl"
    p.write_text("".join(json.dumps({"step": s, "loss": v}) + "\n" for s, v in _big_rows()))
    res = choose(p).read(p)
    loss = {s.tag: s for s in res.series}["loss"]
    assert loss.steps.tolist() == [s for s, _ in _big_rows()]
    assert not any("writers" in n.message or "replaced" in n.message for n in res.notes)
    # with a missing value on one line (the per-record path)
    p.write_text("".join(json.dumps({"step": s, "loss": v if i != 3 else None}) + "\n"
                         for i, (s, v) in enumerate(_big_rows())))
    loss = {s.tag: s for s in choose(p).read(p).series}["loss"]
    assert loss.steps.tolist() == [s for i, (s, _) in enumerate(_big_rows()) if i != 3]


def test_json_number_keeps_big_integers_exact():
    assert _common.json_number(BIG + 1) == BIG + 1 and isinstance(_common.json_number(BIG + 1), int)
    assert isinstance(_common.json_number(5), float)
    assert _common.json_number(2 ** 64) == float(2 ** 64)
    assert _common.json_number(10 ** 400) == float("inf")


def test_wandb_steps_beyond_2_53_are_exact(tmp_path):
    from tests.readers.test_readers_wandb import history_record, write_log

    recs = [history_record({"_step": s, "loss": v}, i + 1) for i, (s, v) in enumerate(_big_rows(10))]
    data, _ = write_log(recs)
    f = tmp_path / "run-abc.wandb"
    f.write_bytes(data)
    loss = {s.tag: s for s in choose(f).read(f).series}["loss"]
    assert loss.steps.tolist() == [s for s, _ in _big_rows(10)]


def test_a_text_log_with_a_line_over_the_limit_skips_that_line_only(tmp_path):
    from losscheck.readers import text_logs
    from losscheck.readers._common import MAX_LINE_BYTES

    path = tmp_path / "train.log"
    path.write_bytes(b"step 1 loss 2.0\nstep 2 loss 1.5\n" + b"x" * (MAX_LINE_BYTES + 10)
                     + b"\nstep 3 loss 1.0\nstep 4 loss 0.8\n")
    res = text_logs.READER.read(path)
    loss = {s.tag: s for s in res.series}["loss"]
    assert loss.steps.tolist() == [1, 2, 3, 4]
    assert any("longer than 16 MiB" in n.message and "line 3" in n.message for n in res.notes)

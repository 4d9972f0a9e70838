"""``losscheck watch``'s follower: a log written in pieces (cut anywhere, mid-line and
mid-record too) and polled after each piece gives the monitor the same points, and the same
final verdict, as reading the finished file; appended formats are read from their last offset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from losscheck.discovery import discover
from losscheck.live.follow import Follower
from losscheck.pipeline import diagnose, read_run
from tests.live.test_monitor import key, live
from tests.readers.test_readers_fixtures import scalar_event, tf_record


def curve(n: int, diverge_at: int | None = None) -> list[float]:
    rng = np.random.default_rng(1)
    t = np.arange(n)
    y = 2.4 * np.exp(-t / (n / 4)) + 0.6 + 0.03 * rng.standard_normal(n)
    if diverge_at is not None:
        y[diverge_at:] *= 1.04 ** np.arange(n - diverge_at)
    return y.tolist()


def jsonl(n, div=None) -> bytes:
    return "".join(json.dumps({"current_steps": i + 1, "total_steps": n, "loss": v, "lr": 1e-3}) + "\n"
                   for i, v in enumerate(curve(n, div))).encode()


def csv(n, div=None) -> bytes:
    return ("step,loss,grad_norm,lr\n" + "".join(f"{i + 1},{v:.6f},{1 + v / 10:.5f},0.001\n"
                                                 for i, v in enumerate(curve(n, div)))).encode()


def tfevents(n, div=None) -> bytes:
    from tensorboard.compat.proto import event_pb2

    blob = tf_record(event_pb2.Event(wall_time=999.0, file_version="brain.Event:2").SerializeToString())
    for i, v in enumerate(curve(n, div)):
        blob += tf_record(scalar_event(i + 1, "train/loss", v).SerializeToString())
        blob += tf_record(scalar_event(i + 1, "train/lr", 1e-3).SerializeToString())
    return blob


def text(n, div=None) -> bytes:
    return "".join(f"step {i + 1} | loss {v:.5f} | lr 0.001\n" for i, v in enumerate(curve(n, div))).encode()


FORMATS = {"trainer_log.jsonl": jsonl, "train_log.csv": csv, "events.out.tfevents.1.host": tfevents,
           "train.log": text}


def pieces(blob: bytes, k: int, seed: int) -> list[bytes]:
    cuts = sorted(np.random.default_rng(seed).choice(np.arange(1, len(blob)), size=k - 1, replace=False).tolist())
    return [blob[a:b] for a, b in zip([0, *cuts], [*cuts, len(blob)])]


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("div", [None, 150])
def test_written_in_pieces_equals_the_finished_file(tmp_path, name, div):
    blob = FORMATS[name](300, div)
    path = tmp_path / "run" / name
    path.parent.mkdir()
    fol = Follower(path.parent)
    with open(path, "wb") as fh:
        for piece in pieces(blob, 37, seed=len(name)):
            fh.write(piece)
            fh.flush()
            fol.poll()
    (mon,) = fol.monitors.values()
    full = read_run(discover(path.parent).runs[0])
    got = mon.run_data().series
    assert sorted(got) == sorted(full.series)
    for tag, s in full.series.items():
        assert got[tag].steps.tolist() == s.steps.tolist()
        np.testing.assert_array_equal(got[tag].values, s.values)
    tail = fol.tails[str(path)]
    if tail.kind != "whole":
        assert tail.offset == len(blob)  # every byte consumed once, from the last offset
    assert live(mon.analyse()) == key(diagnose(path.parent).runs[0])


def test_trainer_state_rewrites_are_followed(tmp_path):
    """The HF Trainer rewrites trainer_state.json at each save: read again on change, and only
    the new steps are fed."""
    ys = curve(200, 120)
    path = tmp_path / "trainer_state.json"
    fol = Follower(tmp_path)
    fed = []
    for upto in range(20, 201, 20):
        hist = [{"step": i + 1, "loss": y, "learning_rate": 1e-3, "grad_norm": 1.0} for i, y in enumerate(ys[:upto])]
        path.write_text(json.dumps({"global_step": upto, "max_steps": 200, "log_history": hist}))
        for _run, v, _changed in fol.poll():
            fed.append(v.points)
    (mon,) = fol.monitors.values()
    assert mon.points == 200 and fed == sorted(fed)
    assert live(mon.analyse()) == key(diagnose(tmp_path).runs[0])
    assert mon.verdict.status == "failing"


@pytest.mark.parametrize("name", ["train_log.csv", "trainer_log.jsonl", "train.log"])
def test_a_truncated_file_is_read_again(tmp_path, name):
    """A run restarted into the same file (truncated, rewritten from step 1): its points are
    fed, and the monitor's series hold the new run from step 1 on."""
    path = tmp_path / name
    blob = FORMATS[name](100)
    path.write_bytes(blob)
    fol = Follower(tmp_path)
    fol.poll()
    (mon,) = fol.monitors.values()
    assert mon.run_data().series["loss"].steps.tolist() == list(range(1, 101))
    restart = FORMATS[name](3)
    path.write_bytes(restart)
    assert len(restart) < len(blob)
    (event,) = fol.poll()
    assert event[1].step == 3
    got = mon.run_data().series["loss"]
    assert got.steps.tolist() == [1, 2, 3]
    np.testing.assert_allclose(got.values, read_run(discover(tmp_path).runs[0]).series["loss"].values)
    assert fol.tails[str(path)].offset == len(restart)


def test_nothing_to_follow_yet(tmp_path):
    fol = Follower(tmp_path / "not-yet")
    assert fol.poll() == [] and fol.monitors == {}


class _Count:
    """Wraps a function and counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *a, **k):
        self.calls += 1
        return self.fn(*a, **k)


def _settle(*paths):
    """Date folders an hour back: a walk right after a change walks again (RACY_NS)."""
    import os
    import time

    past = time.time_ns() - 3600 * 10**9
    for p in paths:
        os.utime(p, ns=(past, past))


def test_idle_polls_neither_walk_nor_sniff(tmp_path, monkeypatch):
    """Polls of a folder where only the followed file grows cost no walk and no sniff; a new
    file means one walk that sniffs that file only; an unclaimed file that grows into a log is
    claimed at the next poll."""
    from losscheck import discovery
    from losscheck.live import follow

    walks = _Count(discovery.discover)
    sniffs = _Count(discovery._sniff)
    monkeypatch.setattr(discovery, "discover", walks)
    monkeypatch.setattr(discovery, "_sniff", sniffs)
    monkeypatch.setattr(follow, "REDISCOVER_EVERY", 10**9)  # the periodic walk: the next test
    run = tmp_path / "run"
    (run / "checkpoint-10").mkdir(parents=True)
    (run / "checkpoint-10" / "config.json").write_text('{"hidden_size": 8}')
    (run / "checkpoint-10" / "model.safetensors").write_bytes(b"\0" * 64)
    (run / "notes.txt").write_text("a note, no metrics\n")
    blob = jsonl(200)
    lines = blob.splitlines(keepends=True)
    log = run / "trainer_log.jsonl"
    log.write_bytes(b"".join(lines[:50]))
    _settle(tmp_path, run, run / "checkpoint-10")
    fol = Follower(tmp_path)
    fol.poll()
    assert walks.calls == 1 and sniffs.calls == 3  # the log, config.json, notes.txt
    for k in range(20):
        fol.poll()  # idle
    with open(log, "ab") as fh:
        for line in lines[50:]:
            fh.write(line)
            fh.flush()
            fol.poll()
    assert walks.calls == 1 and sniffs.calls == 3
    (mon,) = fol.monitors.values()
    assert mon.points == 200 and fol.polls == 171
    # a new file: one walk (and more while the folder's time is within RACY_NS), one sniff
    (run / "train.log").write_text("loading config\nbuilding model\n")  # not a log yet
    fol.poll()
    assert walks.calls >= 2 and sniffs.calls == 4
    _settle(run)
    fol.poll()
    n = walks.calls
    for _ in range(10):
        fol.poll()
    assert walks.calls == n and sniffs.calls == 4
    with open(run / "train.log", "ab") as fh:
        fh.write(text(20))  # it grows into a console log: sniffed again, claimed
    fol.poll()
    assert walks.calls == n + 1 and sniffs.calls == 5
    assert str(run / "train.log") in fol.tails


def test_a_long_unclaimed_file_is_looked_at_every_n_polls(tmp_path, monkeypatch):
    """An unclaimed file past the sniffed head that keeps growing (a stderr dump) is sniffed
    again at the periodic walk only, not at every poll."""
    from losscheck import discovery
    from losscheck.live import follow

    walks = _Count(discovery.discover)
    monkeypatch.setattr(discovery, "discover", walks)
    (tmp_path / "trainer_log.jsonl").write_bytes(jsonl(20))
    dump = tmp_path / "stderr.txt"
    dump.write_bytes(b"warning: something\n" * 5000)  # > 64 KiB, no metrics
    _settle(tmp_path)
    fol = Follower(tmp_path)
    polls = 3 * follow.REDISCOVER_EVERY
    for _ in range(polls):
        with open(dump, "ab") as fh:
            fh.write(b"warning: more\n")
        fol.poll()
    assert walks.calls == polls // follow.REDISCOVER_EVERY

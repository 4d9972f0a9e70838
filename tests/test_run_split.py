"""A folder of several runs' files is diagnosed run by run, never as one merged curve
(new-user trial #3), while the files of one run stay one run (losscheck.runsplit)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from losscheck.pipeline import diagnose

STEPS = range(1, 201)


def _curve(kind: str, seed: int = 0) -> list[float]:
    """A loss curve: 'down' converges, 'up' grows from step 1 (a diverging run)."""
    rng = np.random.default_rng(seed)
    noise = 1 + 0.02 * rng.standard_normal(len(STEPS))
    if kind == "up":
        return [2.0 * math.exp(0.05 * s) * n for s, n in zip(STEPS, noise)]
    return [(2.0 * math.exp(-s / 40) + 0.4) * n for s, n in zip(STEPS, noise)]


def _csv(path: Path, values, steps=STEPS, fmt: str = "{:.6f}") -> None:
    path.write_text("step,loss\n" + "".join(f"{s},{fmt.format(v)}\n" for s, v in zip(steps, values)))


def _console(path: Path, values, steps=STEPS, fmt: str = "{:.4f}") -> None:
    path.write_text("".join(f"step {s} loss {fmt.format(v)}\n" for s, v in zip(steps, values)))


def _runs(report) -> dict[str, str]:
    return {Path(r.run).name: r.status for r in report.runs}


def test_a_flat_folder_of_separate_runs_is_diagnosed_run_by_run(tmp_path):
    """lr1e-4.csv, lr1e-3.csv, lr1e-2.csv and two console logs copying two of them: before,
    one run 'FAILING diverging' about a curve no run had, the healthy runs not diagnosed."""
    flat = tmp_path / "flat"
    flat.mkdir()
    a, b, c = _curve("down", 1), _curve("down", 2), _curve("up", 3)
    _csv(flat / "lr1e-4.csv", a)
    _csv(flat / "lr1e-3.csv", b)
    _csv(flat / "lr1e-2.csv", c)
    _console(flat / "train_a.log", a)  # the console log of the lr1e-4 run (4 decimals)
    _console(flat / "train_b.log", c)
    report = diagnose(flat)
    assert _runs(report) == {"lr1e-4.csv": "healthy", "lr1e-3.csv": "healthy", "lr1e-2.csv": "failing"}
    files = {Path(r.run).name: sorted(Path(f).name for f in r.metrics["loss"].source.split(", "))
             for r in report.runs}
    assert files["lr1e-4.csv"] == ["lr1e-4.csv", "train_a.log"]
    assert files["lr1e-2.csv"] == ["lr1e-2.csv", "train_b.log"]
    for r in report.runs:
        assert any("this folder holds 3 runs" in n.message for n in r.notes)
        assert not any("two runs in one folder" in n.message for n in r.notes)


def test_an_unreadable_file_of_a_split_folder_is_its_own_error(tmp_path):
    _csv(tmp_path / "seed1.csv", _curve("down", 1))
    _csv(tmp_path / "seed2.csv", _curve("down", 2))
    (tmp_path / "seed3.csv").write_text("")
    report = diagnose(tmp_path)
    assert _runs(report) == {"seed1.csv": "healthy", "seed2.csv": "healthy"}
    (err,) = report.errors
    assert err.path.endswith("seed3.csv") and "empty" in err.message


def test_separate_runs_get_their_own_baseline(tmp_path):
    from losscheck.baseline import load_baseline
    from losscheck.formats import get_format

    _csv(tmp_path / "lr1e-3.csv", _curve("down", 1))
    _csv(tmp_path / "lr1e-2.csv", _curve("up", 2))
    first = diagnose(tmp_path)
    base_file = tmp_path.parent / "base.json"
    base_file.write_text(get_format("json").render(first))
    again = diagnose(tmp_path, baseline=load_baseline(base_file))
    by = {Path(r.run).name: r for r in again.runs}
    assert by["lr1e-2.csv"].status == "healthy" and by["lr1e-2.csv"].baselined


# ----------------------------------------------------------------- one run's files stay one run


def _one_run(path: Path) -> None:
    report = diagnose(path)
    assert [r.run for r in report.runs] == [str(path)], [r.run for r in report.runs]
    assert not report.errors


def test_train_and_eval_files_of_one_run_stay_one_run(tmp_path):
    _csv(tmp_path / "train.csv", _curve("down", 1))
    _csv(tmp_path / "eval.csv", [v * 1.3 for v in _curve("down", 2)])
    _one_run(tmp_path)


def test_one_file_per_rank_stays_one_run(tmp_path):
    for k in range(4):
        _console(tmp_path / f"log_rank{k}.txt", _curve("down", k))
    _one_run(tmp_path)


def test_a_csv_and_the_console_log_of_the_same_run_stay_one_run(tmp_path):
    a = _curve("down", 1)
    _csv(tmp_path / "metrics.csv", a)
    _console(tmp_path / "stdout.log", a, fmt="{:.3f}")  # printed to 3 decimals
    _one_run(tmp_path)


def test_a_job_resumed_into_a_second_log_stays_one_run(tmp_path):
    """Resumed from the checkpoint at step 100 after a crash at 150: steps 100-150 are logged
    twice with different values (another data order); the later log wins."""
    first, second = _curve("down", 1), _curve("down", 2)
    _console(tmp_path / "slurm-1001.out", first[:150], steps=range(1, 151))
    _console(tmp_path / "slurm-1002.out", second[99:], steps=range(100, 201))
    _one_run(tmp_path)


def _events(path: Path, steps, values) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from losscheck.readers import _tfrecord

    events = [event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")]
    for s, v in zip(steps, values):
        summ = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="train/loss", simple_value=v)])
        events.append(event_pb2.Event(wall_time=1.7e9 + s, step=s, summary=summ))
    path.write_bytes(b"".join(_tfrecord.frame(e.SerializeToString()) for e in events))


def test_tensorboard_event_files_of_a_restarted_run_stay_one_run(tmp_path):
    """A restart from scratch writes a second event file over the same steps with other
    values: one run (TensorBoard keeps the later file's points), never split."""
    pytest.importorskip("tensorboard")
    _events(tmp_path / "events.out.tfevents.1700000000.host.1.0", STEPS, _curve("up", 1))
    _events(tmp_path / "events.out.tfevents.1700009999.host.2.0", STEPS, _curve("down", 2))
    _one_run(tmp_path)
    (run,) = diagnose(tmp_path).runs
    assert run.status == "healthy"  # the later file's points kept
    (note,) = [n for n in run.notes if "merged from" in n.message]
    assert "restarted or resumed run" in note.message and "two runs in one folder" not in note.message


def test_hf_checkpoint_copies_stay_one_run(tmp_path):
    def state(n: int, seed: int) -> str:
        vals = _curve("down", seed)[:n]
        return json.dumps({"global_step": n, "log_history": [{"step": s, "loss": v} for s, v in zip(STEPS, vals)]})

    (tmp_path / "trainer_state.json").write_text(state(200, 1))
    for n in (100, 150):
        (tmp_path / f"checkpoint-{n}").mkdir()
        (tmp_path / f"checkpoint-{n}" / "trainer_state.json").write_text(state(n, n))
    _one_run(tmp_path)


def test_lightning_version_folders_are_runs_by_folder(tmp_path):
    for k in range(2):
        d = tmp_path / "lightning_logs" / f"version_{k}"
        d.mkdir(parents=True)
        _csv(d / "metrics.csv", _curve("down", k))
        (d / "hparams.yaml").write_text("lr: 0.001\n")
    report = diagnose(tmp_path)
    assert sorted(Path(r.run).name for r in report.runs) == ["version_0", "version_1"]


# ----------------------------------------------------------------- the rule's parts


@pytest.mark.parametrize("a, b, same", [
    ("train.csv", "eval.csv", True), ("log_rank0.txt", "log_rank1.txt", True),
    ("train_loss.csv", "val_loss.csv", True), ("worker-0.log", "worker-1.log", True),
    ("lr1e-4.csv", "lr1e-3.csv", False), ("train_a.log", "train_b.log", False),
    ("seed1.csv", "seed2.csv", False),
])
def test_names_that_differ_only_by_role_or_rank_share_a_key(a, b, same):
    from losscheck.runsplit import name_key

    assert (name_key(a) == name_key(b)) is same


def test_printed_agree_allows_the_coarser_print_only():
    from losscheck.series import printed_agree

    a = np.array([2.345678, 0.012345, 1234.56, 2.5, float("nan")])
    b = np.array([2.3457, 0.01, 1235.0, 2.6, float("nan")])
    assert printed_agree(a, b).tolist() == [True, True, True, False, True]


def test_a_file_without_points_does_not_stop_the_split(tmp_path):
    """A header-only CSV beside two runs' CSVs kept the folder one run (a made-up curve)."""
    _csv(tmp_path / "a.csv", _curve("down", 1))
    _csv(tmp_path / "b.csv", _curve("up", 2))
    (tmp_path / "c.csv").write_text("step,loss\n")
    report = diagnose(tmp_path)
    assert _runs(report) == {"a.csv": "healthy", "b.csv": "failing"}
    (err,) = report.errors
    assert err.path.endswith("c.csv") and "header only" in err.message and "c.csv: header" not in err.message


def test_runs_that_cannot_be_told_apart_are_an_error_not_a_verdict(tmp_path):
    """Two runs' CSVs and a file with data but no loss curve (which run is it?): merged, the
    two curves made one no run had; now the folder is one error line, never a verdict."""
    _csv(tmp_path / "a.csv", _curve("down", 1))
    _csv(tmp_path / "b.csv", _curve("up", 2))
    (tmp_path / "gpu.csv").write_text("step,gpu_util\n" + "".join(f"{s},{50 + s % 7}\n" for s in STEPS))
    report = diagnose(tmp_path)
    assert not report.runs
    (err,) = report.errors
    assert "cannot be told apart" in err.message and "gpu.csv" in err.message and "\n" not in err.message


def test_an_infinite_loss_does_not_agree_with_a_finite_one():
    """values_agree held |inf - 2| <= 1e-6 * inf, so a run with inf losses 'agreed' with any
    other run (and +inf with -inf, values beyond float32 with each other)."""
    from losscheck.series import printed_agree, values_agree

    a = np.array([np.inf, np.inf, 1e308, 1e39, np.nan, 2.0])
    b = np.array([2.0, -np.inf, -1e308, 1e39 * (1 + 1e-9), np.nan, 2.0])
    assert values_agree(a, b).tolist() == [False, False, False, True, True, True]
    assert printed_agree(a, b).tolist() == [False, False, False, True, True, True]


@pytest.mark.parametrize("claimed", [True, False], ids=["a-reader-claims-it", "no-reader-claims-it"])
def test_a_binary_file_named_csv_in_a_tree_is_an_error_not_a_folder_without_logs(tmp_path, claimed):
    """Binary bytes named metrics.csv: unclaimed, the folder was counted among 'folders
    without logs'; claimed by the CSV reader, it was 'decoded as Latin-1; header only'."""
    from losscheck.readers import choose

    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    _csv(good / "metrics.csv", _curve("down", 1))
    if claimed:
        blob = b"\x00\x01\x02\xff" * 1000
    else:  # the first seeded blob that no reader claims (its 'header' is not a metrics header)
        blob = next(b for b in (np.random.default_rng(k).bytes(5000) for k in range(200))
                    if b"\x00" in b[:4096] and choose(bad / "metrics.csv", b) is None)
    (bad / "metrics.csv").write_bytes(blob)
    assert (choose(bad / "metrics.csv") is not None) is claimed
    report = diagnose(tmp_path)
    assert [Path(r.run).name for r in report.runs] == ["good"]
    (err,) = report.errors
    assert err.path.endswith("metrics.csv") and "binary content" in err.message and "Latin-1" not in err.message
    assert not report.without_logs


def test_the_split_compares_each_file_with_a_bounded_number_of_runs(monkeypatch):
    """Work is counted, not timed: at most one comparison per file and run found so far, and a
    folder of more than MAX_RUNS runs stops there (it is a Tangle, an error line)."""
    from losscheck import runsplit
    from losscheck.model import Series

    calls = [0]
    real = runsplit._compare

    def counted(a, b):
        calls[0] += 1
        return real(a, b)

    monkeypatch.setattr(runsplit, "_compare", counted)
    steps = np.arange(1, 101)

    def files(n: int, distinct: bool) -> list:
        return [runsplit.FileCurves(f"r{k}.csv", "csv", "",
                                    [Series("loss", steps, (k + 1 if distinct else 1) / steps, f"r{k}.csv")])
                for k in range(n)]

    for n in (20, 200):
        calls[0] = 0
        assert runsplit.separate_runs(files(n, False)) is None
        assert calls[0] == n - 1  # copies: each joins the first run at once
    calls[0] = 0
    out = runsplit.separate_runs(files(40, True))
    assert len(out.groups) == 40 and calls[0] == 40 * 39 // 2
    calls[0] = 0
    out = runsplit.separate_runs(files(10 * runsplit.MAX_RUNS, True))
    assert isinstance(out, runsplit.Tangle) and calls[0] <= (runsplit.MAX_RUNS + 1) ** 2

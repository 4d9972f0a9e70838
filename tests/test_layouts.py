"""Layouts frameworks write on disk, built here the way each framework lays them out.

Each case was a silent wrong verdict or a split run before (issue 11): the test builds the
layout, diagnoses it, and asserts how many runs there are, which tag filled each role, and
the verdict. TensorBoard files are written with TensorBoard's own ``EventFileWriter``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from losscheck.discovery import context_tag, discover
from losscheck.pipeline import Options, diagnose

# --------------------------------------------------------------------------- helpers


def write_scalars(folder: Path, scalars: dict[str, list[tuple[int, float]]], wall0: float = 1.7e9) -> Path:
    """One event file in ``folder`` with the given tag -> [(step, value)] (TensorBoard's writer)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder.mkdir(parents=True, exist_ok=True)
    w = EventFileWriter(str(folder))
    for tag, points in scalars.items():
        for step, value in points:
            w.add_event(event_pb2.Event(step=step, wall_time=wall0 + step, summary=summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])))
    w.close()
    (f,) = [p for p in folder.iterdir() if p.name.startswith("events.out.tfevents")]
    return f


def overfit_curves(n: int = 30):
    """Train loss falling all along; eval loss falling to a minimum at n/3, then rising 2x."""
    train = [(e, 1.2 * math.exp(-e / 8) + 0.05) for e in range(n)]
    best = n // 3
    ev = [(e, 0.9 * math.exp(-e / 6) + 0.35 if e <= best else
           0.9 * math.exp(-best / 6) + 0.35 + 0.05 * (e - best)) for e in range(n)]
    return train, ev


def roles(run) -> dict[str, str]:
    return {role: m.tag for role, m in run.metrics.items()}


# --------------------------------------------------------------------------- tag naming rules


@pytest.mark.parametrize("tag,subdir,expected", [
    ("epoch_loss", "train", "train/epoch_loss"),
    ("epoch_loss", "validation", "validation/epoch_loss"),
    ("evaluation_loss_vs_iterations", "validation", "evaluation_loss_vs_iterations"),
    ("Loss", "Loss_train", "Loss/train"),
    ("Loss", "Loss_val", "Loss/val"),
    ("train/loss", "Loss_val", "train/loss"),           # not an add_scalars folder of this tag
    ("Loss/total", "Loss_total_val", "Loss/total/val"),  # add_scalars of a nested main tag
    ("epoch_loss", "", "epoch_loss"),
    ("val_loss", "train", "val_loss"),                   # already names its role
    ("epoch_loss", "runs/Dec04_10-00-00_host", "epoch_loss"),
])
def test_context_tag(tag, subdir, expected):
    assert context_tag(tag, subdir) == expected


# --------------------------------------------------------------------------- silent wrong verdicts


def test_keras_tensorboard_train_and_validation_folders_are_one_run(tmp_path):
    """model.fit(callbacks=[TensorBoard("logs/fit/<date>")]): train/ and validation/ hold
    the same tag epoch_loss. Before: merged into one series (validation overwrote training)
    and an overfitting run was reported healthy."""
    run = tmp_path / "logs" / "fit" / "20241204-101500"
    train, ev = overfit_curves()
    write_scalars(run / "train", {"epoch_loss": train, "epoch_accuracy": [(e, 0.5 + e / 70) for e, _ in train],
                                  "epoch_learning_rate": [(e, 1e-3) for e, _ in train]})
    write_scalars(run / "validation", {"epoch_loss": ev,
                                       "evaluation_loss_vs_iterations": [(e * 100, v) for e, v in ev]})
    report = diagnose(tmp_path / "logs")
    assert [r.run for r in report.runs] == [str(run)] and not report.errors
    (r,) = report.runs
    got = roles(r)
    assert got["loss"] == "train/epoch_loss" and got["eval_loss"] == "validation/epoch_loss"
    assert r.metrics["loss"].points == 30 and r.metrics["loss"].step_unit == "epoch"
    np.testing.assert_allclose(r.summary["loss"]["first"], train[0][1], rtol=1e-6)
    np.testing.assert_allclose(r.summary["eval_loss"]["best"], min(v for _, v in ev), rtol=1e-6)
    assert r.primary == "overfitting" and r.status != "healthy"


def test_pytorch_add_scalars_folders_are_one_run(tmp_path):
    """writer.add_scalars("Loss", {"train": .., "val": ..}) writes <run>/Loss_train/ and
    <run>/Loss_val/ (tag "Loss") beside the writer's own file. Before: three runs, one an
    error, and the validation curve judged as a training loss."""
    run = tmp_path / "runs" / "exp1"
    train, ev = overfit_curves(40)
    write_scalars(run, {"lr": [(e, 0.01) for e, _ in train]})
    write_scalars(run / "Loss_train", {"Loss": train})
    write_scalars(run / "Loss_val", {"Loss": ev})
    report = diagnose(tmp_path / "runs")
    assert [r.run for r in report.runs] == [str(run)] and not report.errors
    assert report.without_logs == []  # Loss_train/ and Loss_val/ were read: not "without logs"
    (r,) = report.runs
    got = roles(r)
    assert got["loss"] == "Loss/train" and got["eval_loss"] == "Loss/val" and got["lr"] == "lr"
    assert r.primary == "overfitting"


def _hf_state(folder: Path, n: int = 60, eval_every: int = 10, diverge_at: int | None = None) -> list[dict]:
    """A trainer_state.json with per-step loss/grad_norm/learning_rate and eval_loss."""
    hist = []
    for step in range(1, n + 1):
        loss = 2.0 * math.exp(-step / 20) + 0.3
        if diverge_at is not None and step > diverge_at:
            loss = loss * 2 ** ((step - diverge_at) / 5)
        hist.append({"epoch": step / n, "grad_norm": 1.0 + 0.01 * step, "learning_rate": 5e-5,
                     "loss": round(loss, 4), "step": step})
        if step % eval_every == 0:
            hist.append({"epoch": step / n, "eval_loss": round(loss + 0.05, 4), "step": step})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": n, "log_history": hist}))
    return hist


def _hf_tensorboard(logdir: Path, hist: list[dict]) -> None:
    """What the Trainer's TensorBoardCallback writes for the same log_history."""
    scal: dict[str, list] = {}
    for h in hist:
        for key, tag in (("loss", "train/loss"), ("grad_norm", "train/grad_norm"),
                         ("learning_rate", "train/learning_rate"), ("epoch", "train/epoch"),
                         ("eval_loss", "eval/loss")):
            if key in h:
                scal.setdefault(tag, []).append((h["step"], h[key]))
    write_scalars(logdir, scal)


def test_hf_output_folder_with_runs_logging_dir_is_one_run(tmp_path):
    """The Trainer's default logging_dir is output_dir/runs/<date_host>/. Before: two runs
    (output_dir and runs/...), the failure and its annotations doubled."""
    out = tmp_path / "qwen-sft"
    hist = _hf_state(out, diverge_at=35)
    _hf_tensorboard(out / "runs" / "Dec04_10-00-00_gpu-node-3", hist)
    report = diagnose(out)
    assert [r.run for r in report.runs] == [str(out)] and not report.errors
    assert report.without_logs == []
    (r,) = report.runs
    assert roles(r)["loss"] == "loss" and roles(r)["eval_loss"] == "eval_loss"
    # the TensorBoard copies are folded into the trainer_state series, not extra losses
    assert r.metrics["loss"].points == 60
    assert not any(c.tag in ("train/loss", "eval/loss") for c in r.curves if c.role not in r.metrics)
    assert any("another logger's copy" in n.message for n in r.notes)
    assert r.primary == "diverging" and r.status == "failing"
    assert sum(f.code == "LC101" for f in r.findings) == 1


def test_hf_tensorboard_longer_than_the_last_checkpoint_is_folded_with_its_tail(tmp_path):
    """checkpoint-40/trainer_state.json covers steps 1-40; TensorBoard goes on to step 60."""
    out = tmp_path / "out"
    hist = _hf_state(out / "checkpoint-40", n=60)
    state = json.loads((out / "checkpoint-40" / "trainer_state.json").read_text())
    state["log_history"] = [h for h in state["log_history"] if h["step"] <= 40]
    (out / "checkpoint-40" / "trainer_state.json").write_text(json.dumps(state))
    _hf_tensorboard(out / "runs" / "Dec04_host", hist)
    (r,) = diagnose(out).runs
    assert r.run == str(out)
    assert roles(r)["loss"] == "loss" and r.metrics["loss"].points == 60


def test_llamafactory_output_folder_with_runs_is_one_run(tmp_path):
    out = tmp_path / "saves" / "qwen" / "lora" / "sft"
    out.mkdir(parents=True)
    lines = [{"current_steps": s, "total_steps": 50, "loss": round(2.0 * math.exp(-s / 15) + 0.4, 4),
              "lr": 1e-4, "epoch": s / 50, "percentage": 2 * s} for s in range(1, 51)]
    (out / "trainer_log.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    write_scalars(out / "runs" / "Dec04_host", {"train/loss": [(x["current_steps"], x["loss"]) for x in lines]})
    report = diagnose(tmp_path / "saves")
    assert [r.run for r in report.runs] == [str(out)]


def test_runs_folder_is_not_merged_into_a_plain_sweep_folder(tmp_path):
    """Only a fine-tune's output folder owns runs/<date>: a sweep folder with a summary CSV
    and runs/a, runs/b keeps three runs."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "summary.csv").write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(20)))
    for name in ("a", "b"):
        write_scalars(sweep / "runs" / name, {"loss": [(i, 1 / (i + 1)) for i in range(20)]})
    assert len(diagnose(sweep).runs) == 3


def test_wandb_latest_run_symlink_is_named_by_its_target(tmp_path):
    wb = tmp_path / "wandb"
    real = wb / "run-20241204_101500-abc123"
    (real / "files").mkdir(parents=True)
    (real / "files" / "metrics.csv").write_text("step,loss\n" + "".join(f"{i},{2 / (i + 1)}\n" for i in range(30)))
    os.symlink(real.name, wb / "latest-run")
    report = diagnose(tmp_path)
    assert [r.run for r in report.runs] == [str(real)]
    # pointed at the symlink itself: still named by its target
    assert [r.run for r in diagnose(wb / "latest-run").runs] == [str(real)]


def test_ordinary_subfolders_are_neither_runs_nor_errors(tmp_path):
    """checkpoints/, src/, data/, notebooks/ beside a Lightning log: one run, no error, and
    --strict does not fail it; the folders are counted in one summary figure."""
    run = tmp_path / "proj"
    log = run / "lightning_logs" / "version_0"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text("epoch,step,train_loss\n" + "".join(
        f"{i // 10},{i},{2 * math.exp(-i / 30) + 0.1}\n" for i in range(100)))
    (log / "hparams.yaml").write_text("lr: 0.001\n")
    for sub, name in (("src", "train.py"), ("data", "train.jsonl.md5"), ("notebooks", "explore.ipynb"),
                      ("checkpoints", "last.ckpt")):
        (run / sub).mkdir()
        (run / sub / name).write_text("x\n")
    # a data set is not a log (before: 'data: no training or eval loss', and --strict failed)
    (run / "data" / "train.csv").write_text("id,text,label\n1,good film,1\n2,bad film,0\n3,so so,1\n")
    found = discover(run)
    assert [str(r.root) for r in found.runs] == [str(log)] and not found.errors
    assert sorted(p.name for p in found.without_logs) == ["checkpoints", "data", "notebooks", "src"]
    report = diagnose(run, Options(strict=True))
    assert len(report.runs) == 1 and not report.errors and report.runs[0].status == "healthy"
    assert len(report.without_logs) == 4


def test_cli_counts_folders_without_logs_once_and_debug_lists_them(tmp_path):
    from typer.testing import CliRunner

    from losscheck.cli import app

    run = tmp_path / "proj"
    run.mkdir()
    (run / "metrics.csv").write_text("step,loss\n" + "".join(f"{i},{2 / (i + 1)}\n" for i in range(40)))
    (run / "src").mkdir()
    (run / "src" / "model.py").write_text("pass\n")
    res = CliRunner().invoke(app, ["diagnose", str(run), "--strict"])
    assert res.exit_code == 0, res.output
    assert "1 folder(s) without logs skipped" in res.output
    res = CliRunner().invoke(app, ["diagnose", str(run), "--debug"])
    assert f"{run / 'src'}: no log found" in res.output


def _diverging_csv(path: Path, n: int = 300) -> list[str]:
    lines = ["epoch,step,train_loss,lr"]
    for i in range(n):
        loss = 2.0 * math.exp(-i / 40) + 0.3 if i < 150 else (2.0 * math.exp(-150 / 40) + 0.3) * 2 ** ((i - 150) / 20)
        lines.append(f"{i // 50},{i},{loss:.6f},0.001")
    path.parent.mkdir(parents=True, exist_ok=True)
    return lines


def test_a_stray_quote_in_a_csv_loses_one_row_not_the_rest(tmp_path):
    """One '"' added to one row of a diverging run's metrics.csv. Before: the csv module
    read the rest of the file as one field (99 of 300 points) and the run was HEALTHY."""
    path = tmp_path / "run" / "metrics.csv"
    lines = _diverging_csv(path)
    lines[100] = lines[100].replace(",0.001", ',"0.001')
    path.write_text("\n".join(lines) + "\n")
    (r,) = diagnose(path.parent).runs
    assert r.metrics["loss"].points == 299
    assert r.primary == "diverging" and r.status == "failing"
    (note,) = [n.message for n in r.notes if "unclosed quote" in n.message]
    assert "1 of 300 data row(s) skipped" in note and "line 101" in note


def test_a_csv_with_too_many_malformed_rows_is_a_read_error(tmp_path):
    from losscheck.errors import ParseError
    from losscheck.readers import choose

    path = tmp_path / "run" / "metrics.csv"
    lines = _diverging_csv(path, 20)
    for k in range(1, 8):
        lines[k] += ',"x'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError, match=r"7 of 20 data rows cannot be read.*first at line 2"):
        choose(path).read(path)

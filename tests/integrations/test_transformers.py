"""The HF ``Trainer`` with ``LosscheckCallback``, for real (CPU, a tiny GPT-2 built from a
config: nothing downloaded). A peak LR far too high (1.0 after a 40-step warmup, no clipping)
must be stopped within :data:`MAX_DELAY` steps of the onset the report names, with the report
naming the last checkpoint saved before it; the same training at a sane LR runs to its end."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from losscheck.integrations.transformers import STATE_FILE, LosscheckCallback, train_with_rollback  # noqa: E402

#: Steps from the reported onset to the stop, at most: the monitor looks when a loss leaves its
#: best level by 8 robust sigmas, at most every n/16 logged points (logging every 2 steps), or
#: at the next doubling of the point count; the exponential rise of this run trips the first.
MAX_DELAY = 40
V, L = 32, 16


class Shifts(torch.utils.data.Dataset):
    """Sequences (s, s+1, s+2, ...) mod V: a pattern a 2-layer model learns in ~100 steps."""

    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = (torch.randint(0, V, (n, 1), generator=g) + torch.arange(L)) % V

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.x[i]}


def train(out, lr: float, steps: int = 160, action: str = "stop", resume: str | None = None, warmup: int = 80,
          rollbacks: int | None = None):
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=L, n_embd=32, n_layer=2, n_head=2,
                                       bos_token_id=0, eos_token_id=0))
    args = TrainingArguments(str(out), max_steps=steps, per_device_train_batch_size=16, learning_rate=lr,
                             logging_steps=2, save_steps=10, report_to=[], use_cpu=True, warmup_steps=warmup,
                             lr_scheduler_type="constant_with_warmup", max_grad_norm=0.0, disable_tqdm=True,
                             seed=0)
    cb = LosscheckCallback(action=action)
    trainer = Trainer(model=model, args=args, train_dataset=Shifts(2000), callbacks=[cb])
    if rollbacks is None:
        trainer.train(resume_from_checkpoint=resume)
    else:
        train_with_rollback(trainer, max_rollbacks=rollbacks)
    return cb, trainer


def test_a_far_too_high_peak_lr_is_stopped_and_the_checkpoint_named(tmp_path):
    cb, trainer = train(tmp_path, lr=1.0)
    rep = json.loads((tmp_path / "losscheck-report.json").read_text())
    run = rep["runs"][0]
    onset = run["diagnosis"]["onset_step"] if "diagnosis" in run else None
    assert cb.stopped_at is not None and trainer.state.global_step == cb.stopped_at < 160
    assert run["status"] == "failing" and "LC101" in [f["code"] for f in run["findings"]]
    onset = onset if onset is not None else min(f["step"] for f in run["findings"] if f["step"] is not None)
    assert 0 < cb.stopped_at - onset <= MAX_DELAY, (onset, cb.stopped_at)
    ck = rep["live"]["last_healthy_checkpoint"]
    assert ck is not None and ck["step"] < onset and ck["path"].endswith(f"checkpoint-{ck['step']}")
    assert (tmp_path / f"checkpoint-{ck['step']}").is_dir()
    assert rep["live"]["resume_settings"]["peak_lr"] < 1.0
    assert "losscheck" in (tmp_path / "losscheck-report.txt").read_text()


def test_a_sane_lr_runs_to_the_end_untouched(tmp_path):
    cb, trainer = train(tmp_path, lr=5e-3)
    assert cb.stopped_at is None and trainer.state.global_step == 160
    rep = json.loads((tmp_path / "losscheck-report.json").read_text())
    assert rep["runs"][0]["status"] != "failing"


def test_warn_only_never_stops(tmp_path):
    cb, trainer = train(tmp_path, lr=1.0, steps=80, action="warn")
    assert cb.stopped_at is None and trainer.state.global_step == 80
    assert json.loads((tmp_path / "losscheck-report.json").read_text())["runs"][0]["status"] == "failing"


def test_a_resumed_run_keeps_its_history(tmp_path):
    train(tmp_path, lr=5e-3, steps=60)
    assert (tmp_path / "checkpoint-60" / STATE_FILE).is_file()
    cb, trainer = train(tmp_path, lr=5e-3, steps=80, resume=str(tmp_path / "checkpoint-60"))
    held = cb.check.monitor.run_data().series["loss"]
    assert held.steps[0] == 2 and held.steps[-1] == 80  # steps 2..60 came from the checkpoint


def test_rollback_resumes_from_the_healthy_checkpoint_at_the_lower_peak_lr(tmp_path):
    """``action="rollback"``: the far-too-high LR run is stopped, resumed from the checkpoint
    saved before the onset with the peak LR the remedy names (every LR the optimizer and the
    scheduler restored from the checkpoint scaled to it), at most twice."""
    cb, trainer = train(tmp_path, lr=1.0, action="rollback", rollbacks=2)
    done = cb.check.rollbacks
    assert 1 <= len(done) <= 2
    first = done[0]
    assert first["checkpoint_step"] < first["from_step"] and first["checkpoint"].endswith(
        f"checkpoint-{first['checkpoint_step']}")
    assert first["peak_lr"]["from"] == pytest.approx(1.0) and first["peak_lr"]["to"] < 0.5
    # the logged LR after the resume is at the new peak's schedule, never the old one
    after = [e["learning_rate"] for e in trainer.state.log_history
             if "learning_rate" in e and e["step"] > done[-1]["checkpoint_step"]]
    assert after and max(after) <= done[-1]["peak_lr"]["to"] * 1.0001
    rep = json.loads((tmp_path / "losscheck-report.json").read_text())
    assert len(rep["live"]["rollbacks"]) == len(done)
    try:
        import jsonschema
    except ImportError:
        pass
    else:  # the report, with its live section, is what docs/report.schema.json describes
        from pathlib import Path

        schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report.schema.json").read_text())
        jsonschema.validate(rep, schema)
    if len(done) == 1:  # the lower LR was enough: the run went on to its end
        assert trainer.state.global_step == 160 and cb.stopped_at is None


def test_rollback_is_refused_where_the_framework_cannot_resume_cleanly():
    with pytest.raises(ValueError, match="rollback"):
        train_with_rollback(type("T", (), {"callback_handler": type("H", (), {"callbacks": []})()})())
    assert LosscheckCallback(action="rollback").check.action == "rollback"

"""A Lightning ``Trainer`` with ``LosscheckCallback``, for real (CPU): a tiny GPT-style model
whose peak LR is far too high (SGD with momentum, LR warmed up to 10) is stopped within
:data:`MAX_DELAY` steps of the reported onset, naming the ``ModelCheckpoint`` file saved
before it; the same module at a sane LR trains to its last step; the monitor's history is
saved in the checkpoint and restored with it."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from losscheck.integrations.lightning import LosscheckCallback  # noqa: E402

MAX_DELAY = 40  # as for the HF Trainer (tests/integrations/test_transformers.py)
V, L = 32, 16


def data(n: int = 2000):
    g = torch.Generator().manual_seed(0)
    x = (torch.randint(0, V, (n, 1), generator=g) + torch.arange(L)) % V
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=16, shuffle=True,
                                       generator=torch.Generator().manual_seed(0))


class TinyLM(pl.LightningModule):
    """Embedding -> one transformer encoder layer (causal mask) -> logits."""

    def __init__(self, lr: float, warmup: int = 80) -> None:
        super().__init__()
        self.lr, self.warmup = lr, warmup
        self.emb = torch.nn.Embedding(V, 32)
        self.pos = torch.nn.Parameter(torch.zeros(L, 32))
        self.block = torch.nn.TransformerEncoderLayer(32, 2, 64, dropout=0.0, batch_first=True)
        self.head = torch.nn.Linear(32, V)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        h = self.emb(x[:, :-1]) + self.pos[:L - 1]
        mask = torch.nn.Transformer.generate_square_subsequent_mask(L - 1)
        logits = self.head(self.block(h, src_mask=mask, is_causal=True))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), x[:, 1:].reshape(-1))
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / self.warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def fit(tmp_path, lr: float, steps: int = 160, ckpt_path=None, cb=None):
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    cb = cb or LosscheckCallback()
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=10, save_top_k=-1)
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", devices=1, callbacks=[cb, ckpt], logger=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(TinyLM(lr), data(), ckpt_path=ckpt_path)
    return cb, trainer


def test_a_far_too_high_peak_lr_is_stopped_and_the_checkpoint_named(tmp_path):
    cb, trainer = fit(tmp_path, lr=10.0)
    rep = json.loads((tmp_path / "losscheck-report.json").read_text())
    run = rep["runs"][0]
    assert cb.stopped_at is not None and trainer.global_step < 160, trainer.global_step
    assert run["status"] == "failing"
    onset = run["diagnosis"]["onset_step"]
    assert 0 < cb.stopped_at - onset <= MAX_DELAY, (onset, cb.stopped_at)
    ck = rep["live"]["last_healthy_checkpoint"]
    assert ck is not None and ck["step"] < onset and f"step={ck['step']}" in ck["path"]


def test_a_sane_lr_runs_to_the_end_untouched(tmp_path):
    cb, trainer = fit(tmp_path, lr=0.05)
    assert cb.stopped_at is None and trainer.global_step == 160
    assert json.loads((tmp_path / "losscheck-report.json").read_text())["runs"][0]["status"] != "failing"


def test_the_history_is_saved_in_the_checkpoint(tmp_path):
    fit(tmp_path, lr=0.05, steps=40)
    (ck,) = [p for p in (tmp_path / "ckpt").iterdir() if "step=40" in p.name]
    cb = LosscheckCallback()
    fit(tmp_path, lr=0.05, steps=60, ckpt_path=str(ck), cb=cb)
    held = cb.check.monitor.run_data().series["loss"].steps
    assert held[0] <= 1 and held[-1] >= 59 and len(held) >= 59  # steps before 40 came from the checkpoint


def test_rollback_is_not_offered_here():
    """Only the HF Trainer resumes cleanly from a checkpoint with new settings
    (train_with_rollback); here action="rollback" is refused, not silently taken as stop."""
    with pytest.raises(ValueError, match="rollback"):
        LosscheckCallback(action="rollback")

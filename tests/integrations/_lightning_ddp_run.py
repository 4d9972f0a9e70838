"""A two-process Lightning DDP training on the CPU (gloo) with ``LosscheckCallback``, run by
``tests/integrations/test_lightning_ddp.py`` as ``python _lightning_ddp_run.py OUT NAN_STEP
NAN_RANK`` (Lightning's DDP launcher starts rank 1 by running this file again). On rank
``NAN_RANK`` (-1: none) the loss of global step ``NAN_STEP`` is made NaN, as one bad batch on
one rank would. Each rank writes ``OUT/rank<R>.json`` with where it stopped."""

import json
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch

from losscheck.integrations.lightning import LosscheckCallback

OUT, NAN_STEP, NAN_RANK = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
V, L = 32, 16


class TinyLM(pl.LightningModule):
    """Embedding -> linear head, next-token loss."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(V, 32)
        self.head = torch.nn.Linear(32, V)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        logits = self.head(self.emb(x[:, :-1]))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), x[:, 1:].reshape(-1))
        if self.global_rank == NAN_RANK and self.global_step == NAN_STEP:
            loss = loss * float("nan")
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    x = (torch.randint(0, V, (4000, 1), generator=torch.Generator().manual_seed(0)) + torch.arange(L)) % V
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=16)
    cb = LosscheckCallback(output_dir=str(OUT / "out"))
    trainer = pl.Trainer(max_steps=120, accelerator="cpu", devices=2, strategy="ddp", callbacks=[cb], logger=False,
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                         default_root_dir=str(OUT))
    trainer.fit(TinyLM(), data)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"rank{trainer.global_rank}.json").write_text(json.dumps(
        {"global_step": trainer.global_step, "stopped_at": cb.stopped_at,
         "status": cb.check.monitor.verdict.status}))

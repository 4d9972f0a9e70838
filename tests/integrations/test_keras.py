"""Keras 3 (torch backend) ``Model.fit`` with ``LosscheckCallback``, for real (CPU): a small
classifier trained by SGD warmed up to an LR far too high is stopped within :data:`MAX_DELAY` batches
of the reported onset, naming the checkpoint saved before it; at a sane LR it runs to its end.
"""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # keras was imported earlier with another backend
    pytest.skip("keras is not on the torch backend", allow_module_level=True)

from losscheck.integrations.keras import LosscheckCallback  # noqa: E402

MAX_DELAY = 40  # batches, as for the HF Trainer (tests/integrations/test_transformers.py)


def fit(tmp_path, lr: float, epochs: int = 4):
    import numpy as np

    torch.set_num_threads(1)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1600, 20)).astype("float32")
    y = (x[:, :5].sum(axis=1) > 0).astype("int64") + 2 * (x[:, 5] > 0)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(4)])
    # a linear warmup over 60 batches to the peak LR, then a slow cosine decay
    sched = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=2000, warmup_target=lr, warmup_steps=60)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=sched, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ckdir = tmp_path / "ckpt"
    ckdir.mkdir()
    cb = LosscheckCallback(output_dir=str(tmp_path), checkpoint_dir=str(ckdir))
    saver = keras.callbacks.ModelCheckpoint(str(ckdir / "model-{epoch:02d}-{batch:03d}.weights.h5"), save_weights_only=True,
                                            save_freq=10)
    hist = model.fit(x[:1280], y[:1280], validation_data=(x[1280:], y[1280:]), batch_size=16, epochs=epochs,
                     callbacks=[saver, cb], verbose=0)
    return cb, hist


def test_a_far_too_high_lr_is_stopped(tmp_path):
    pytest.importorskip("h5py")
    cb, hist = fit(tmp_path, lr=3.0)
    rep = json.loads((tmp_path / "losscheck-report.json").read_text())
    run = rep["runs"][0]
    assert cb.stopped_at is not None and cb.stopped_at < 4 * 80, cb.stopped_at
    assert run["status"] == "failing"
    onset = run["diagnosis"]["onset_step"]
    assert 0 <= cb.stopped_at - onset <= MAX_DELAY, (onset, cb.stopped_at)
    ck = rep["live"]["last_healthy_checkpoint"]
    assert ck is not None and ck["step"] < onset and ck["path"].endswith(".weights.h5")


def test_a_sane_lr_runs_to_the_end_untouched(tmp_path):
    pytest.importorskip("h5py")
    cb, hist = fit(tmp_path, lr=0.01)
    assert cb.stopped_at is None and len(hist.history["loss"]) == 4
    assert json.loads((tmp_path / "losscheck-report.json").read_text())["runs"][0]["status"] != "failing"


def test_the_checkpoint_folder_is_listed_when_it_changes(tmp_path, monkeypatch):
    """Batches that save nothing cost one ``stat`` of the folder, no listing; a new file is
    recorded at the batch that follows its save; a file saved over in place (the folder's
    time unchanged) is seen at the epoch's end."""
    import time

    ckdir = tmp_path / "ckpt"
    ckdir.mkdir()
    (ckdir / "model-00.weights.h5").write_bytes(b"0")
    past = time.time_ns() - 3600 * 10**9

    def settle():  # dated back: a listing within RACY_NS of a change lists again
        os.utime(ckdir, ns=(past, past))

    settle()
    listed = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: listed.append(p) or real(p))
    cb = LosscheckCallback(output_dir=str(tmp_path), checkpoint_dir=str(ckdir))
    for b in range(100):
        cb.on_train_batch_end(b, {"loss": 2.0 - b / 100})
    assert len(listed) == 1 and cb.check.checkpoints == [(1, str(ckdir / "model-00.weights.h5"))]
    (ckdir / "model-01.weights.h5").write_bytes(b"1")
    cb.on_train_batch_end(100, {"loss": 1.0})
    assert cb.check.checkpoints[-1] == (101, str(ckdir / "model-01.weights.h5"))
    settle()
    cb.on_train_batch_end(101, {"loss": 1.0})
    n = len(listed)
    for b in range(102, 150):
        cb.on_train_batch_end(b, {"loss": 1.0})
    assert len(listed) == n
    old = ckdir / "model-00.weights.h5"
    old.write_bytes(b"00")  # saved over in place
    os.utime(old, ns=(past + 10**9, past + 10**9))
    settle()
    for b in range(150, 160):
        cb.on_train_batch_end(b, {"loss": 1.0})
    assert len(listed) == n
    cb.on_epoch_end(0, {})
    assert len(listed) == n + 1 and cb.check.checkpoints[-1] == (160, str(old))


def test_rollback_is_not_offered_here():
    """Only the HF Trainer resumes cleanly from a checkpoint with new settings
    (train_with_rollback); here action="rollback" is refused, not silently taken as stop."""
    with pytest.raises(ValueError, match="rollback"):
        LosscheckCallback(action="rollback")

"""Write the reader fixtures of tests/readers/test_readers_stores.py with the tools themselves.

Run it in a throwaway virtual environment OUTSIDE the repository (it needs the tools, which
losscheck never depends on)::

    python3 -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install trackio==0.43.0 mlflow==3.17.2 pyarrow==25.0.1 pandas
    /tmp/fixvenv/bin/python scripts/make_store_fixtures.py

Versions used for the committed fixtures: Python 3.11.7, trackio 0.43.0, mlflow 3.17.2
(SQLAlchemy 2.1.9, alembic 1.20.1), pyarrow 25.0.1, pandas 3.1.1.

What each fixture is, and who wrote it:

- ``tests/fixtures/readers/trackio/demo.db``: written by trackio itself (``trackio.init`` /
  ``trackio.log`` / ``trackio.finish``, local store in ``TRACKIO_DIR``); two runs. Then
  ``VACUUM``-ed with a 1 KiB page size (content unchanged; trackio's 4 KiB pages make a
  220 KiB file) and left in WAL mode, as trackio leaves it.
  ``demo.parquet`` and ``demo_configs.parquet``: written by trackio's own Parquet export
  (``SQLiteStorage.export_to_parquet``, what a sync to a Hugging Face dataset uploads).
- ``tests/fixtures/readers/mlflow_sqlite/mlflow.db``: written by MLflow's SQLAlchemy store
  (``mlflow.set_tracking_uri("sqlite:///...")``, ``log_metric``/``log_param``); three runs,
  one of them deleted. Then trimmed so the file stays under 200 KiB: the ~57 tables MLflow
  creates for other features (tracing, model registry, webhooks, jobs...), all empty, are
  dropped (the tracking tables ``alembic_version``, ``experiments``, ``experiment_tags``,
  ``runs``, ``tags``, ``params``, ``metrics``, ``latest_metrics`` and ``workspaces`` are kept
  as MLflow wrote them), and the file is ``VACUUM``-ed with a 1 KiB page size.
- ``tests/fixtures/readers/neptune_parquet/<project dir>/<run>_part_0.parquet``: NOT written
  by neptune-exporter (it needs a Neptune workspace and an API token). Written here with
  pyarrow from the exporter's documented schema (``README.md`` "Parquet schema" and
  ``src/neptune_exporter/model.py::SCHEMA`` of https://github.com/neptune-ai/neptune-exporter,
  read 2026): columns ``project_id``, ``run_id``, ``attribute_path``, ``attribute_type``,
  ``step`` decimal(18,6), ``timestamp`` timestamp(ms, UTC), typed value columns; one file per
  run part named ``<sanitized run id>_part_<n>.parquet`` (Snappy) in a directory per project,
  names sanitised to ``[A-Za-z0-9_-]`` plus ``-`` and a 16-hex-digit BLAKE2b digest.
- ``tests/fixtures/readers/wandb_csv/``: NOT written by W&B (the UI export needs the W&B
  server). ``history.csv`` is what ``run.history().to_csv(path)`` gives: pandas ``to_csv`` of
  a DataFrame built from history rows (``_step``, ``_runtime``, ``_timestamp`` and the logged
  keys; the index written as an unnamed first column). ``wandb_export_panel.csv`` follows a
  chart panel's "Export CSV" layout as seen in exported files published on GitHub: a quoted
  header ``"Step","<run> - <metric>","<run> - <metric>__MIN","<run> - <metric>__MAX",...``.

All values are deterministic (seeded); only wall-clock times and MLflow/trackio run ids
change from one generation to the next.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "readers"

N = 50          # training points per run
EVERY = 10      # steps between training points
EVAL_EVERY = 50  # steps between evaluations


def fresh_dir(d: Path) -> None:
    """Empty ``d`` (created if needed), keeping its README.md."""
    d.mkdir(parents=True, exist_ok=True)
    for p in d.iterdir():
        if p.name == "README.md":
            continue
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def curves(seed: int, n: int = N, peak_lr: float = 3e-4):
    """``(step, loss, lr)`` every EVERY steps and ``(step, eval_loss)`` every EVAL_EVERY steps."""
    rng = random.Random(seed)
    train = []
    for i in range(1, n + 1):
        s = i * EVERY
        loss = 2.5 * math.exp(-s / 150) + 0.3 + rng.uniform(-0.03, 0.03)
        warm = 5 * EVERY
        if s <= warm:
            lr = peak_lr * s / warm
        else:
            lr = peak_lr * 0.5 * (1 + math.cos(math.pi * (s - warm) / (n * EVERY - warm)))
        train.append((s, round(loss, 6), lr))
    evals = [(s, round(2.5 * math.exp(-s / 160) + 0.38 + rng.uniform(-0.01, 0.01), 6))
             for s in range(EVAL_EVERY, n * EVERY + 1, EVAL_EVERY)]
    return train, evals


# ----------------------------------------------------------------------------- trackio


def make_trackio() -> None:
    out = OUT / "trackio"
    store = Path(tempfile.mkdtemp(prefix="trackio-store-"))
    os.environ["TRACKIO_DIR"] = str(store)
    import trackio  # after TRACKIO_DIR is set: trackio reads it at import time
    from trackio.sqlite_storage import SQLiteStorage

    # an older, shorter run, then the run the reader must pick (the most recent)
    train, evals = curves(1, n=20)
    trackio.init(project="demo", name="baseline-1", config={"learning_rate": 1e-4, "batch_size": 16})
    for s, loss, lr in train:
        trackio.log({"train/loss": loss, "train/learning_rate": lr}, step=s)
    trackio.finish()

    train, evals = curves(2)
    ev = dict(evals)
    trackio.init(project="demo", name="lr-3e-4",
                 config={"learning_rate": 3e-4, "batch_size": 32, "num_train_epochs": 3, "optim": "adamw_torch"})
    for s, loss, lr in train:
        row = {"train/loss": loss, "train/learning_rate": lr,
               "train/grad_norm": float("nan") if s == 250 else 1.0 + s / 1000}
        trackio.log(row, step=s)
        if s in ev:
            trackio.log({"eval/loss": ev[s]}, step=s)
    trackio.finish()

    # trackio's own Parquet export (what a sync to a Hugging Face dataset uploads)
    SQLiteStorage._dataset_import_attempted = True
    SQLiteStorage.export_to_parquet()

    fresh_dir(out)
    for name in ("demo.db", "demo.parquet", "demo_configs.parquet"):
        shutil.copy2(store / name, out / name)
    # trackio's ~40 tables and indexes take a 4 KiB page each (220 KiB): re-pack with 1 KiB
    # pages (same content), then back to WAL mode as trackio leaves its databases
    con = sqlite3.connect(out / "demo.db")
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA page_size=1024")
    con.execute("VACUUM")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    print("trackio", trackio.__version__, sorted(p.name for p in store.iterdir()))


# ----------------------------------------------------------------------------- MLflow


#: The tracking tables kept in the MLflow fixture. MLflow 3.17 creates ~65 tables (tracing,
#: model registry, webhooks, jobs, gateway...) with ~150 indexes; one page each makes a file
#: of 215 KiB or more even with 512-byte pages. The others are empty here and dropped.
_MLFLOW_KEEP = ("alembic_version", "experiments", "experiment_tags", "runs", "tags", "params",
                "metrics", "latest_metrics", "workspaces")


def make_mlflow() -> None:
    import mlflow

    out = OUT / "mlflow_sqlite"
    work = Path(tempfile.mkdtemp(prefix="mlflow-store-"))
    db = work / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.set_experiment("demo")

    train, evals = curves(3, n=20)
    with mlflow.start_run(run_name="baseline-1"):
        mlflow.log_params({"learning_rate": 1e-4, "batch_size": 16})
        for s, loss, lr in train:
            mlflow.log_metric("loss", loss, step=s)
    with mlflow.start_run(run_name="deleted-run") as run:
        mlflow.log_metric("loss", 9.0, step=1)
    mlflow.delete_run(run.info.run_id)

    train, evals = curves(4)
    ev = dict(evals)
    with mlflow.start_run(run_name="lr-3e-4"):
        mlflow.log_params({"learning_rate": 3e-4, "batch_size": 32, "epochs": 3, "optimizer": "adamw"})
        for s, loss, lr in train:
            mlflow.log_metrics({"loss": loss, "lr": lr}, step=s)
            if s == 250:
                mlflow.log_metric("grad_norm", float("nan"), step=s)
            elif s == 260:
                mlflow.log_metric("grad_norm", float("inf"), step=s)
            else:
                mlflow.log_metric("grad_norm", 1.0 + s / 1000, step=s)
            if s in ev:
                mlflow.log_metric("eval_loss", ev[s], step=s)

    fresh_dir(out)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for t in tables:
        if t in _MLFLOW_KEEP or t.startswith("sqlite_"):
            continue
        n = con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
        if n:
            raise SystemExit(f"mlflow table {t} is not empty ({n} rows): not dropping it")
        con.execute(f'DROP TABLE "{t}"')
    con.commit()
    con.execute("PRAGMA page_size=1024")
    con.execute("VACUUM")
    con.close()
    shutil.copy2(db, out / "mlflow.db")
    print("mlflow", mlflow.__version__)


# ----------------------------------------------------------------------------- Neptune exporter


def _sanitize(part: str) -> str:
    """neptune-exporter's path-part naming: [A-Za-z0-9_-] kept, others '_', then '-' and a
    16-hex-digit BLAKE2b (8-byte) digest of the original string (its README says a digest is
    added; src/neptune_exporter/utils.py which one)."""
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in part)
    return safe + "-" + hashlib.blake2b(part.encode("utf-8"), digest_size=8).hexdigest()


def make_neptune() -> None:
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("project_id", pa.string()), ("run_id", pa.string()), ("attribute_path", pa.string()),
        ("attribute_type", pa.string()), ("step", pa.decimal128(18, 6)),
        ("timestamp", pa.timestamp("ms", tz="UTC")), ("int_value", pa.int64()),
        ("float_value", pa.float64()), ("string_value", pa.string()), ("bool_value", pa.bool_()),
        ("datetime_value", pa.timestamp("ms", tz="UTC")), ("string_set_value", pa.list_(pa.string())),
        ("file_value", pa.struct([("path", pa.string())])),
        ("histogram_value", pa.struct([("type", pa.string()), ("edges", pa.list_(pa.float64())),
                                       ("values", pa.list_(pa.float64()))])),
    ])
    project, run_id = "demo-ws/demo-proj", "DEM-7"
    t0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    rows = []

    def row(path, typ, **kw):
        base = {c: None for c in schema.names}
        base.update(project_id=project, run_id=run_id, attribute_path=path, attribute_type=typ)
        base.update(kw)
        rows.append(base)

    # parameters first (step and timestamp null), as the exporter writes them
    row("sys/name", "string", string_value="lr-sweep")
    row("sys/custom_run_id", "string", string_value=run_id)
    row("sys/creation_time", "datetime", datetime_value=t0)
    row("parameters/learning_rate", "float", float_value=3e-4)
    row("parameters/batch_size", "int", int_value=32)
    row("parameters/optimizer", "string", string_value="AdamW")
    row("parameters/use_amp", "bool", bool_value=True)
    row("sys/tags", "string_set", string_set_value=["baseline"])
    # float series: steps are Neptune decimals (whole numbers here)
    train, evals = curves(5)
    for s, loss, lr in train:
        ts = t0 + dt.timedelta(seconds=s)
        row("train/loss", "float_series", step=Decimal(s), timestamp=ts,
            float_value=float("nan") if s == 250 else loss)
        row("train/lr", "float_series", step=Decimal(s), timestamp=ts, float_value=lr)
    for s, v in evals:
        row("eval/loss", "float_series", step=Decimal(s),
            timestamp=t0 + dt.timedelta(seconds=s + 1), float_value=v)
    for s in (10, 20):
        row("monitoring/stdout", "string_series", step=Decimal(s), timestamp=t0 + dt.timedelta(seconds=s),
            string_value=f"step {s}")
    row("source_code/files", "file", file_value={"path": "source_code/files/source.zip"})

    d = OUT / "neptune_parquet"
    fresh_dir(d)
    proj_dir = d / _sanitize(project)
    proj_dir.mkdir(parents=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, proj_dir / f"{_sanitize(run_id)}_part_0.parquet", compression="snappy")
    print("neptune parquet (pyarrow", pa.__version__ + ")", proj_dir.name)


# ----------------------------------------------------------------------------- W&B CSV


def make_wandb_csv() -> None:
    import pandas as pd

    d = OUT / "wandb_csv"
    fresh_dir(d)
    train, evals = curves(6)
    ev = dict(evals)
    t0 = 1_740_830_400.0
    # run.history(): one dict per wandb.log call; _step counts the calls (HF Trainer logs the
    # eval metrics in a call of their own), train/global_step is the optimizer step
    rows, k = [], 0
    for s, loss, lr in train:
        rows.append({"_step": k, "_runtime": 2.0 * s, "_timestamp": t0 + 2.0 * s, "train/loss": loss,
                     "train/learning_rate": lr, "train/global_step": s, "train/epoch": s / 200})
        k += 1
        if s in ev:
            rows.append({"_step": k, "_runtime": 2.0 * s + 1, "_timestamp": t0 + 2.0 * s + 1,
                         "eval/loss": ev[s], "train/global_step": s, "train/epoch": s / 200})
            k += 1
    pd.DataFrame.from_records(rows).to_csv(d / "history.csv")

    # chart panel export of two runs: x-axis Step (= _step), each metric with __MIN/__MAX
    runs = {"lr-3e-4": curves(7)[0], "lr-1e-3": curves(8, n=30)[0]}
    steps = sorted({s for tr in runs.values() for s, _, _ in tr})
    cols = ['"Step"']
    for name in runs:
        cols += [f'"{name} - train/loss"', f'"{name} - train/loss__MIN"', f'"{name} - train/loss__MAX"']
    lines = [",".join(cols)]
    for s in steps:
        cells = [str(s)]
        for tr in runs.values():
            v = dict((a, b) for a, b, _ in tr).get(s)
            cells += ["", "", ""] if v is None else [repr(v)] * 3
        lines.append(",".join(cells))
    (d / "wandb_export_panel.csv").write_text("\n".join(lines) + "\n")
    print("wandb csv (pandas", pd.__version__ + ")")


def main() -> int:
    make_trackio()
    make_mlflow()
    make_neptune()
    make_wandb_csv()
    for p in sorted(OUT.glob("*/**/*")):
        if p.is_file() and p.name != "README.md" and p.relative_to(OUT).parts[0] in (
                "trackio", "mlflow_sqlite", "neptune_parquet", "wandb_csv"):
            kb = p.stat().st_size / 1024
            print(f"{kb:8.1f} KiB  {p.relative_to(REPO)}")
            if kb >= 200:
                print("  too large for a fixture (>= 200 KiB)", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

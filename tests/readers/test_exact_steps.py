"""Steps are exact int64 end to end, in every reader that takes steps from a typed store:
steps such as 2**53+1 and 2**53+3, which a double rounds to one value, stay two distinct steps.

One test per reader whose steps once went through ``float64``: TensorBoard (bulk decoder and
protobuf reference), W&B CSV exports (history and chart panels), MLflow's SQLite store and
neptune-exporter Parquet parts.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

BIG = 2 ** 53
STEPS = [BIG + 1, BIG + 3, BIG + 5]
VALUES = [3.0, 2.0, 1.0]


def _only(res, tag: str):
    got = {s.tag: s for s in res.series}
    s = got[tag]
    assert s.steps.dtype == np.int64
    return s


def test_tensorboard_steps_exact(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from losscheck.readers import _tfevents, _tfrecord
    from losscheck.readers.tensorboard import READER, step_unit

    events = [event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")]
    for i, (step, v) in enumerate(zip(STEPS, VALUES)):
        summ = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=v)])
        events.append(event_pb2.Event(wall_time=1.7e9 + i, step=step, summary=summ))
    f = tmp_path / "events.out.tfevents.1.host"
    f.write_bytes(b"".join(_tfrecord.frame(e.SerializeToString()) for e in events))
    for res in (READER.read(f), _tfevents.read_reference(f, step_unit)):
        s = _only(res, "loss")
        assert s.steps.tolist() == STEPS and s.values.tolist() == VALUES


def test_wandb_csv_history_steps_exact(tmp_path):
    from losscheck.readers import wandb_csv

    f = tmp_path / "wandb_export_history.csv"
    f.write_text("_step,_runtime,_timestamp,loss\n"
                 + "".join(f"{s},{i},{1.7e9 + i},{v}\n" for i, (s, v) in enumerate(zip(STEPS, VALUES))))
    s = _only(wandb_csv.READER.read(f), "loss")
    assert s.steps.tolist() == STEPS and s.values.tolist() == VALUES


def test_wandb_csv_panel_steps_exact(tmp_path):
    from losscheck.readers import wandb_csv

    f = tmp_path / "wandb_export_2024.csv"
    f.write_text("Step,run-1 - loss,run-1 - loss__MIN,run-1 - loss__MAX\n"
                 + "".join(f"{s},{v},{v},{v}\n" for s, v in zip(STEPS, VALUES)))
    s = _only(wandb_csv.READER.read(f), "loss")
    assert s.steps.tolist() == STEPS and s.values.tolist() == VALUES


def test_mlflow_sqlite_steps_exact(tmp_path):
    from losscheck.readers import mlflow_sqlite

    db = tmp_path / "mlflow.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, name TEXT, start_time BIGINT, "
                "lifecycle_stage TEXT, experiment_id INTEGER)")
    con.execute("CREATE TABLE metrics (key TEXT, value FLOAT, timestamp BIGINT, run_uuid TEXT, step BIGINT, "
                "is_nan BOOLEAN)")
    con.execute("INSERT INTO runs VALUES ('u1', 'r', 1000, 'active', 0)")
    con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                    [("loss", v, 1000 + i, "u1", s, 0) for i, (s, v) in enumerate(zip(STEPS, VALUES))])
    con.commit()
    con.close()
    s = _only(mlflow_sqlite.READER.read(db), "loss")
    assert s.steps.tolist() == STEPS and s.values.tolist() == VALUES


@pytest.mark.parametrize("step_type", ["decimal", "int64"])
def test_neptune_parquet_steps_exact(tmp_path, step_type):
    pa = pytest.importorskip("pyarrow")
    import datetime as dt
    from decimal import Decimal

    import pyarrow.parquet as pq

    from losscheck.readers import neptune_parquet

    step_pa = pa.decimal128(38, 6) if step_type == "decimal" else pa.int64()
    schema = pa.schema([("project_id", pa.string()), ("run_id", pa.string()), ("attribute_path", pa.string()),
                        ("attribute_type", pa.string()), ("step", step_pa),
                        ("timestamp", pa.timestamp("ms", tz="UTC")), ("float_value", pa.float64())])
    t0 = dt.datetime.fromtimestamp(1.7e9, dt.timezone.utc)
    rows = [dict(project_id="w/p", run_id="R-1", attribute_path="train/loss", attribute_type="float_series",
                 step=Decimal(s) if step_type == "decimal" else s, timestamp=t0 + dt.timedelta(seconds=i),
                 float_value=v)
            for i, (s, v) in enumerate(zip(STEPS, VALUES))]
    f = tmp_path / "R-1_part_0.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), f)
    s = _only(neptune_parquet.READER.read(f), "train/loss")
    assert s.steps.tolist() == STEPS and s.values.tolist() == VALUES


def test_neptune_fractional_big_steps_scaled_exactly():
    from decimal import Decimal

    from losscheck.readers.neptune_parquet import _whole_steps, _whole_steps_exact

    whole, k = _whole_steps_exact([Decimal(BIG) + Decimal("0.5"), Decimal(BIG + 1)])
    assert k == 10 and whole.tolist() == [BIG * 10 + 5, (BIG + 1) * 10]
    # below the float-safe bound both agree
    cells = [Decimal("0.5"), Decimal("1.25"), Decimal("3")]
    fast = _whole_steps(np.array([float(c) for c in cells]))
    ref = _whole_steps_exact(cells)
    assert fast is not None and fast[1] == ref[1] and fast[0].tolist() == ref[0].tolist()

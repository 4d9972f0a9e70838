"""Readers of tracking stores: Trackio (SQLite and Parquet), MLflow SQLite, neptune-exporter
Parquet, W&B CSV exports.

Fixtures in tests/fixtures/readers/{trackio,mlflow_sqlite,neptune_parquet,wandb_csv}/ come
from scripts/make_store_fixtures.py (Trackio and MLflow files written by the tools
themselves; see that script for versions and for how the other two were made). Parquet
tests need the optional pyarrow and are skipped without it; without it, a Parquet file
must give one line saying how to install it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.errors import LosscheckError, ParseError, UnreadableFile
from losscheck.readers import _stores, choose
from losscheck.readers import csv_generic, mlflow_sqlite, neptune_parquet, trackio_store, wandb_csv

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
TRACKIO_DB = FIX / "trackio" / "demo.db"
TRACKIO_PQ = FIX / "trackio" / "demo.parquet"
MLFLOW_DB = FIX / "mlflow_sqlite" / "mlflow.db"
(NEPTUNE_PQ,) = sorted((FIX / "neptune_parquet").rglob("*_part_0.parquet"))
WANDB_HISTORY = FIX / "wandb_csv" / "history.csv"
WANDB_PANEL = FIX / "wandb_csv" / "wandb_export_panel.csv"

INSTALL = "pip install 'losscheck[parquet]'"


def by_tag(result):
    return {s.tag: s for s in result.series}


def messages(result, severity=None):
    return [n.message for n in result.notes if severity is None or n.severity == severity]


def snapshot(root: Path) -> list[tuple[str, int, int]]:
    """Every file under ``root`` with its size and mtime (readers must change nothing)."""
    return sorted((p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in root.rglob("*"))


def read_via_choose(path: Path, expect: str):
    reader = choose(path)
    assert reader is not None, path
    assert reader.name == expect
    return reader.read(path)


def one_line_error(exc: LosscheckError, path: Path) -> str:
    msg = exc.one_line()
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


def no_pyarrow(monkeypatch):
    """Make ``import pyarrow`` fail, as on an install without the parquet extra."""
    for mod in list(sys.modules):
        if mod == "pyarrow" or mod.startswith("pyarrow."):
            monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    _stores._parquet_columns_cached.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_sniff_caches():
    _stores._parquet_columns_cached.cache_clear()
    _stores._sqlite_tables_cached.cache_clear()
    yield
    _stores._parquet_columns_cached.cache_clear()
    _stores._sqlite_tables_cached.cache_clear()


# --------------------------------------------------------------------------- Trackio


def check_trackio_run(res):
    t = by_tag(res)
    assert set(t) == {"train/loss", "train/learning_rate", "train/grad_norm", "eval/loss"}
    tags = ("train/loss", "train/learning_rate", "train/grad_norm", "eval/loss")
    assert [len(t[k]) for k in tags] == [50, 50, 50, 10]
    loss = t["train/loss"]
    assert loss.steps.tolist() == list(range(10, 501, 10))
    assert loss.values[0] == pytest.approx(2.66613) and loss.values[-1] == pytest.approx(0.391006)
    assert t["eval/loss"].steps.tolist() == list(range(50, 501, 50))
    assert t["eval/loss"].values[0] == pytest.approx(2.208839)
    assert t["eval/loss"].values[-1] == pytest.approx(0.498249)
    lr = t["train/learning_rate"]
    assert lr.values[0] == pytest.approx(6e-05) and lr.values[4] == pytest.approx(3e-4) and lr.values[-1] == 0.0
    # trackio writes NaN as the JSON string "NaN": read back as a NaN point at step 250
    gn = t["train/grad_norm"]
    assert np.flatnonzero(np.isnan(gn.values)).tolist() == [24] and gn.steps[24] == 250
    assert loss.wall_time is not None and loss.wall_time[0] > 1.7e9  # ISO timestamps, in seconds
    warn = " ".join(messages(res, "warning"))
    assert "2 runs" in warn and "'lr-3e-4', was read" in warn and "not read: 'baseline-1'" in warn
    assert res.meta == {"learning_rate": 3e-4, "batch_size": 32, "epochs": 3, "optimizer": "adamw_torch"}


def test_trackio_db_reads_the_most_recent_run():
    before = snapshot(TRACKIO_DB.parent)
    res = read_via_choose(TRACKIO_DB, "trackio")
    check_trackio_run(res)
    direct = trackio_store.READER.read(TRACKIO_DB)
    assert [s.tag for s in direct.series] == [s.tag for s in res.series]
    assert snapshot(TRACKIO_DB.parent) == before  # no -wal, -shm or -journal file appeared


def test_trackio_parquet_export_reads_like_the_database():
    pytest.importorskip("pyarrow")
    before = snapshot(TRACKIO_PQ.parent)
    res = read_via_choose(TRACKIO_PQ, "trackio")
    check_trackio_run(res)  # meta comes from demo_configs.parquet beside it
    db = by_tag(trackio_store.READER.read(TRACKIO_DB))
    for tag, s in by_tag(res).items():
        assert s.steps.tolist() == db[tag].steps.tolist()
        np.testing.assert_array_equal(s.values, db[tag].values)
        np.testing.assert_allclose(s.wall_time, db[tag].wall_time)
    assert snapshot(TRACKIO_PQ.parent) == before


def test_trackio_side_files_are_not_claimed():
    pytest.importorskip("pyarrow")
    # the configs export has no step column: not a metrics file
    assert choose(FIX / "trackio" / "demo_configs.parquet") is None


def test_trackio_live_run_is_read_with_its_wal_from_a_private_copy(tmp_path):
    """A live run keeps its newest points in the -wal (Trackio's WAL mode): read without them,
    a run diverging right now was reported healthy (new-user pass)."""
    db = tmp_path / "demo.db"
    shutil.copy(TRACKIO_DB, db)
    writer = sqlite3.connect(db)  # the fixture is in WAL mode, as trackio leaves it
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        run_id, run_name = writer.execute(
            "SELECT run_id, run_name FROM metrics WHERE run_name = 'lr-3e-4' LIMIT 1").fetchone()
        writer.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
                       (run_id, "2030-01-01T00:00:00+00:00", run_name, 510, b'{"train/loss": 0.1}'))
        writer.commit()
        assert (tmp_path / "demo.db-wal").stat().st_size > 0
        before = snapshot(tmp_path)
        res = trackio_store.READER.read(db)
        loss = by_tag(res)["train/loss"]
        assert len(loss) == 51 and loss.steps[-1] == 510 and loss.values[-1] == 0.1  # the WAL's point too
        assert any("demo.db-wal" in m and "private copy" in m for m in messages(res, "info"))
        assert snapshot(tmp_path) == before  # nothing written beside the user's file
    finally:
        writer.close()


def test_trackio_database_still_all_in_its_wal_is_read_from_a_private_copy(tmp_path):
    db = tmp_path / "live.db"
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, timestamp TEXT, "
                       "run_name TEXT, step INTEGER, metrics TEXT)")
        for step in range(1, 6):
            writer.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                           "VALUES ('r', '', 'r', ?, ?)", (step, f'{{"loss": {1.0 / step}}}'))
        writer.commit()
        before = snapshot(tmp_path)
        assert choose(db) is trackio_store.READER
        loss = by_tag(trackio_store.READER.read(db))["loss"]
        assert loss.steps.tolist() == [1, 2, 3, 4, 5]
        assert snapshot(tmp_path) == before
    finally:
        writer.close()


def trackio_schema_db(path: Path, rows=(), run_ids: bool = True) -> Path:
    """A database in trackio's schema (``run_ids=False``: the schema before trackio had run
    ids, rows without one)."""
    rid = "run_id TEXT NOT NULL, " if run_ids else ""
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, {rid}"
                "timestamp TEXT NOT NULL, run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL)")
    con.execute(f"CREATE TABLE configs (id INTEGER PRIMARY KEY AUTOINCREMENT, {rid}"
                "run_name TEXT NOT NULL, config TEXT NOT NULL, created_at TEXT NOT NULL)")
    cols = ("run_id, " if run_ids else "") + "timestamp, run_name, step, metrics"
    marks = ", ".join("?" * (5 if run_ids else 4))
    con.executemany(f"INSERT INTO metrics ({cols}) VALUES ({marks})", rows)
    con.commit()
    con.close()
    return path


def test_trackio_values_json_specials_media_and_old_schema(tmp_path):
    rows = [(f"2025-01-01T00:00:0{i}+00:00", "run-a", i,
             json.dumps({"loss": v, "img": {"_type": "trackio.image", "file_path": "x.png"}, "note": "text"}))
            for i, v in enumerate([1.0, "Infinity", "-Infinity", "NaN", 0.5])]
    rows.append(("2025-01-01T00:00:09+00:00", "run-a", 9, b"not json"))
    db = trackio_schema_db(tmp_path / "p.db", rows, run_ids=False)  # runs are their names
    con = sqlite3.connect(db)
    con.execute("INSERT INTO configs (run_name, config, created_at) VALUES ('run-a', ?, '')",
                (json.dumps({"lr": 0.01, "max_grad_norm": 1.0, "_Username": "me"}),))
    con.commit()
    con.close()
    res = trackio_store.READER.read(db)
    loss = by_tag(res)["loss"]
    assert set(by_tag(res)) == {"loss"}
    assert loss.values[0] == 1.0 and loss.values[1] == math.inf and loss.values[2] == -math.inf
    assert math.isnan(loss.values[3]) and loss.values[4] == 0.5
    assert loss.wall_time.tolist() == [1735689600.0 + i for i in range(5)]
    assert any("'img'" in m and "'note'" in m for m in messages(res, "info"))
    # a single run: no other-runs warning; the row that is not JSON is skipped and said so
    assert messages(res, "warning") == [
        "1 metrics row(s) of run 'run-a' without a JSON object or a step were skipped"]
    assert res.meta == {"learning_rate": 0.01, "max_grad_norm": 1.0}


def test_trackio_empty_metrics_table_is_one_clear_line(tmp_path):
    db = trackio_schema_db(tmp_path / "empty.db")
    assert choose(db) is trackio_store.READER
    res = trackio_store.READER.read(db)
    assert res.series == []
    assert messages(res, "warning") == ["the metrics table is empty: no run has logged a metric yet"]
    out = CliRunner().invoke(app, ["diagnose", str(db), "--isolated"])
    assert out.exit_code == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(db) in lines[0] and "no run has logged a metric yet" in lines[0]


# --------------------------------------------------------------------------- MLflow SQLite


def test_mlflow_sqlite_reads_the_most_recent_active_run():
    before = snapshot(MLFLOW_DB.parent)
    res = read_via_choose(MLFLOW_DB, "mlflow-sqlite")
    t = by_tag(res)
    assert set(t) == {"loss", "lr", "grad_norm", "eval_loss"}
    assert [len(t[k]) for k in ("loss", "lr", "grad_norm", "eval_loss")] == [50, 50, 50, 10]
    assert t["loss"].steps.tolist() == list(range(10, 501, 10))
    assert t["loss"].values[0] == pytest.approx(2.62293) and t["loss"].values[-1] == pytest.approx(0.396766)
    assert t["eval_loss"].steps.tolist() == list(range(50, 501, 50))
    assert t["eval_loss"].values[-1] == pytest.approx(0.485368)
    assert t["lr"].values[4] == pytest.approx(3e-4)  # warmup peak at step 50
    # NaN stored as value 0 / is_nan 1, +Inf as DBL_MAX: both come back as what was logged
    gn = t["grad_norm"]
    assert gn.steps[24] == 250 and math.isnan(gn.values[24])
    assert gn.steps[25] == 260 and gn.values[25] == math.inf
    assert np.isfinite(gn.values[[0, 23, 26, 49]]).all()
    # wall time = timestamp (ms) / 1000, within the run's own start and end times
    con = sqlite3.connect(f"file:{MLFLOW_DB}?mode=ro&immutable=1", uri=True)
    start, end = con.execute("SELECT start_time, end_time FROM runs WHERE name = 'lr-3e-4'").fetchone()
    con.close()
    assert start / 1000 <= t["loss"].wall_time[0] <= t["loss"].wall_time[-1] <= end / 1000
    warn = " ".join(messages(res, "warning"))
    assert "'lr-3e-4', was read" in warn and "'baseline-1'" in warn and "deleted-run" not in warn
    assert any("1 deleted run(s)" in m for m in messages(res, "info"))
    assert any("experiment 'demo'" in m for m in messages(res, "info"))
    assert res.meta == {"learning_rate": 3e-4, "batch_size": 32, "epochs": 3, "optimizer": "adamw"}
    assert mlflow_sqlite.READER.read(MLFLOW_DB).meta == res.meta
    assert snapshot(MLFLOW_DB.parent) == before


def mlflow_schema_db(path: Path, metrics=(), runs=()) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, name TEXT, start_time BIGINT, "
                "lifecycle_stage TEXT, experiment_id INTEGER)")
    con.execute("CREATE TABLE metrics (key TEXT, value FLOAT, timestamp BIGINT, run_uuid TEXT, step BIGINT, "
                "is_nan BOOLEAN)")
    con.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?)", runs)
    con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", metrics)
    con.commit()
    con.close()
    return path


def test_mlflow_sqlite_resumed_steps_later_value_wins(tmp_path):
    # logged in time order 1, 2, 3, then 2 again (a resumed job): the later value of step 2 wins
    m = [("loss", v, ts, "u1", step, 0) for v, ts, step in [(1.0, 1000, 1), (0.9, 2000, 2), (0.8, 3000, 3),
                                                           (0.7, 4000, 2)]]
    db = mlflow_schema_db(tmp_path / "mlflow.db", m, [("u1", "r", 1000, "active", 0)])
    loss = by_tag(mlflow_sqlite.READER.read(db))["loss"]
    assert loss.steps.tolist() == [1, 2] and loss.values.tolist() == [1.0, 0.7]


def test_mlflow_sqlite_empty_metrics_table_is_one_clear_line(tmp_path):
    db = mlflow_schema_db(tmp_path / "mlflow.db")
    assert choose(db) is mlflow_sqlite.READER
    res = mlflow_sqlite.READER.read(db)
    assert res.series == []
    assert messages(res, "warning") == ["the metrics table is empty: no run has logged a metric yet"]
    out = CliRunner().invoke(app, ["diagnose", str(db), "--isolated"])
    assert out.exit_code == 2 and f"{db}: " in out.stderr and "no run has logged a metric yet" in out.stderr


def test_mlflow_sqlite_only_deleted_runs_reads_nothing(tmp_path):
    db = mlflow_schema_db(tmp_path / "mlflow.db", [("loss", 1.0, 1, "u1", 0, 0)],
                          [("u1", "gone", 1, "deleted", 0)])
    res = mlflow_sqlite.READER.read(db)
    assert res.series == [] and any("every run with metrics is deleted ('gone')" in m for m in messages(res))


# --------------------------------------------------------------------------- SQLite bad inputs


@pytest.mark.parametrize("reader", [trackio_store.READER, mlflow_sqlite.READER], ids=lambda r: r.name)
def test_db_file_that_is_not_sqlite(reader, tmp_path):
    bad = tmp_path / "mlflow.db"
    bad.write_bytes(b"step,loss\n1,2.0\n" * 20)
    with pytest.raises(ParseError) as ei:
        reader.read(bad)
    assert one_line_error(ei.value, bad).endswith("not an SQLite database (no 'SQLite format 3' header)")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(ParseError) as ei:
        reader.read(empty)
    assert one_line_error(ei.value, empty).endswith(": an empty file")


def test_mlflow_db_name_that_is_not_sqlite_is_claimed_to_say_so(tmp_path):
    bad = tmp_path / "mlflow.db"
    bad.write_bytes(b"\x00\x01binary junk" * 10)
    assert choose(bad) is mlflow_sqlite.READER
    other = tmp_path / "other.db"
    other.write_bytes(b"\x00\x01binary junk" * 10)
    assert choose(other) is None  # any other .db that is not SQLite is not ours


@pytest.mark.parametrize("reader, what", [(trackio_store.READER, "a Trackio project database"),
                                          (mlflow_sqlite.READER, "an MLflow tracking store")],
                         ids=["trackio", "mlflow-sqlite"])
def test_sqlite_file_with_other_tables(reader, what, tmp_path):
    db = tmp_path / "app.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    con.execute("CREATE TABLE orders (id INTEGER)")
    con.commit()
    con.close()
    assert choose(db) is None
    with pytest.raises(ParseError) as ei:
        reader.read(db)
    assert one_line_error(ei.value, db).endswith(f"no 'metrics' table: not {what} (tables: orders, users)")


def test_truncated_sqlite_is_a_parse_error(tmp_path):
    data = MLFLOW_DB.read_bytes()
    db = tmp_path / "mlflow.db"
    db.write_bytes(data[: len(data) // 3])
    reader = choose(db)
    assert reader is mlflow_sqlite.READER
    with pytest.raises(ParseError) as ei:
        reader.read(db)
    assert "corrupt or truncated SQLite database" in one_line_error(ei.value, db)


def test_sqlite_readers_refuse_a_fifo_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "mlflow.db"
    os.mkfifo(fifo)
    for reader in (trackio_store.READER, mlflow_sqlite.READER):
        with pytest.raises(UnreadableFile) as ei:
            reader.read(fifo)
        assert "not a regular file" in one_line_error(ei.value, fifo)


# --------------------------------------------------------------------------- neptune-exporter Parquet


def test_neptune_parquet_run_part():
    pytest.importorskip("pyarrow")
    before = snapshot(FIX / "neptune_parquet")
    res = read_via_choose(NEPTUNE_PQ, "neptune-parquet")
    t = by_tag(res)
    assert set(t) == {"train/loss", "train/lr", "eval/loss"}  # string_series, file, params: not series
    assert [len(t[k]) for k in ("train/loss", "train/lr", "eval/loss")] == [50, 50, 10]
    loss = t["train/loss"]
    assert loss.steps.tolist() == list(range(10, 501, 10))
    assert loss.values[0] == pytest.approx(2.646142) and loss.values[-1] == pytest.approx(0.399861)
    assert np.flatnonzero(np.isnan(loss.values)).tolist() == [24]
    assert t["eval/loss"].steps.tolist() == list(range(50, 501, 50))
    assert t["eval/loss"].values[-1] == pytest.approx(0.4803)
    # timestamp(ms, UTC) -> seconds: 2025-03-01T12:00:00Z + step seconds
    assert loss.wall_time[0] == 1740830400.0 + 10 and loss.wall_time[-1] == 1740830400.0 + 500
    assert res.meta == {"learning_rate": 3e-4, "batch_size": 32, "optimizer": "AdamW"}
    assert any("Neptune run 'DEM-7' of project 'demo-ws/demo-proj'" == m for m in messages(res, "info"))
    assert any("string_series (2 row(s))" in m for m in messages(res, "info"))
    assert not messages(res, "warning")
    assert snapshot(FIX / "neptune_parquet") == before


def neptune_rows(run_id, created, points, tag="train/loss"):
    import datetime as dt
    from decimal import Decimal

    t0 = dt.datetime.fromtimestamp(created, dt.timezone.utc)
    rows = [dict(project_id="w/p", run_id=run_id, attribute_path="sys/creation_time", attribute_type="datetime",
                 datetime_value=t0)]
    for i, (step, v) in enumerate(points):
        rows.append(dict(project_id="w/p", run_id=run_id, attribute_path=tag, attribute_type="float_series",
                         step=Decimal(step), timestamp=t0 + dt.timedelta(seconds=i), float_value=v))
    return rows


def write_neptune(path: Path, rows) -> Path:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    schema = pa.schema([("project_id", pa.string()), ("run_id", pa.string()), ("attribute_path", pa.string()),
                        ("attribute_type", pa.string()), ("step", pa.decimal128(18, 6)),
                        ("timestamp", pa.timestamp("ms", tz="UTC")), ("float_value", pa.float64()),
                        ("datetime_value", pa.timestamp("ms", tz="UTC"))])
    full = [{name: r.get(name) for name in schema.names} for r in rows]
    pq.write_table(pa.Table.from_pylist(full, schema=schema), path)
    return path


def test_neptune_fractional_steps_are_scaled_to_whole_steps(tmp_path):
    f = write_neptune(tmp_path / "R-1_part_0.parquet",
                      neptune_rows("R-1", 1.7e9, [("0.5", 3.0), ("1.0", 2.0), ("1.25", 1.5), ("2", 1.0)]))
    res = neptune_parquet.READER.read(f)
    loss = by_tag(res)["train/loss"]
    assert loss.steps.tolist() == [50, 100, 125, 200] and loss.values.tolist() == [3.0, 2.0, 1.5, 1.0]
    assert any("multiplied by 100" in m for m in messages(res, "info"))


def test_neptune_file_with_two_runs_reads_the_one_created_last(tmp_path):
    rows = (neptune_rows("NEW-2", 1.8e9, [("1", 5.0), ("2", 4.0)])
            + neptune_rows("OLD-1", 1.7e9, [("1", 9.0), ("2", 8.0), ("3", 7.0)]))
    f = write_neptune(tmp_path / "mixed_part_0.parquet", rows)
    res = neptune_parquet.READER.read(f)
    assert by_tag(res)["train/loss"].values.tolist() == [5.0, 4.0]
    assert any("'NEW-2', was read; not read: 'OLD-1'" in m for m in messages(res, "warning"))


def test_neptune_run_parts_are_named(tmp_path):
    write_neptune(tmp_path / "R-1_part_0.parquet", neptune_rows("R-1", 1.7e9, [("1", 2.0)]))
    f = write_neptune(tmp_path / "R-1_part_1.parquet", neptune_rows("R-1", 1.7e9, [("2", 1.0)]))
    res = neptune_parquet.READER.read(f)
    assert by_tag(res)["train/loss"].steps.tolist() == [2]
    assert "part 1 of 2 part files of this run: each part holds some of its points" in messages(res, "info")


# --------------------------------------------------------------------------- Parquet bad inputs


@pytest.mark.parametrize("src, reader", [(TRACKIO_PQ, trackio_store.READER), (NEPTUNE_PQ, neptune_parquet.READER)],
                         ids=["trackio", "neptune-parquet"])
def test_truncated_parquet_is_one_clear_line(src, reader, tmp_path):
    pytest.importorskip("pyarrow")
    data = src.read_bytes()
    f = tmp_path / src.name
    f.write_bytes(data[: len(data) // 2])
    assert choose(f) is reader  # the footer is gone: claimed on its name and magic, to say why
    with pytest.raises(ParseError) as ei:
        reader.read(f)
    assert "truncated or not a Parquet file" in one_line_error(ei.value, f)


def test_parquet_named_file_that_is_not_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    f = tmp_path / "demo.parquet"
    f.write_text("step,loss\n1,2\n")
    with pytest.raises(ParseError) as ei:
        trackio_store.READER.read(f)
    assert "truncated or not a Parquet file" in one_line_error(ei.value, f)


@pytest.mark.parametrize("src, reader", [(TRACKIO_PQ, trackio_store.READER), (NEPTUNE_PQ, neptune_parquet.READER)],
                         ids=["trackio", "neptune-parquet"])
def test_parquet_without_pyarrow_says_what_to_install(src, reader, monkeypatch):
    no_pyarrow(monkeypatch)
    assert not _stores.have_pyarrow()
    assert choose(src) is reader  # still claimed (on name and magic), so the user is told
    with pytest.raises(UnreadableFile) as ei:
        reader.read(src)
    msg = one_line_error(ei.value, src)
    assert msg == f"{src}: reading Parquet files needs pyarrow: {INSTALL}"


def test_parquet_without_pyarrow_through_the_cli(monkeypatch):
    from losscheck import discovery

    no_pyarrow(monkeypatch)
    out = CliRunner().invoke(app, ["diagnose", str(NEPTUNE_PQ), "--isolated"])
    assert out.exit_code == 2 and "Traceback" not in out.stdout + out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(NEPTUNE_PQ) in lines[0]
    if ".parquet" in discovery.SKIP_SUFFIXES:  # discovery does not even look at Parquet files yet
        assert "not a supported log file" in lines[0]
    else:
        assert lines[0].endswith(INSTALL)


# --------------------------------------------------------------------------- W&B CSV


def test_wandb_history_csv():
    res = read_via_choose(WANDB_HISTORY, "wandb-csv")
    assert csv_generic.READER.sniff(WANDB_HISTORY, WANDB_HISTORY.read_bytes()) < wandb_csv.READER.sniff(
        WANDB_HISTORY, WANDB_HISTORY.read_bytes())
    t = by_tag(res)
    # no pandas index column, no W&B _-columns, the step column is the axis, not a series
    assert set(t) == {"train/loss", "train/learning_rate", "train/epoch", "eval/loss"}
    loss, ev = t["train/loss"], t["eval/loss"]
    assert len(loss) == 50 and len(ev) == 10
    # steps from train/global_step: eval rows line up with the train rows of the same step
    assert loss.steps.tolist() == list(range(10, 501, 10)) and ev.steps.tolist() == list(range(50, 501, 50))
    assert loss.values[0] == pytest.approx(2.656368) and loss.values[-1] == pytest.approx(0.364566)
    assert ev.values[0] == pytest.approx(2.216641) and ev.values[-1] == pytest.approx(0.497153)
    assert loss.wall_time[0] == 1740830420.0 and ev.wall_time[0] == 1740830501.0  # _timestamp, seconds
    assert res.meta == {"steps_per_epoch": 200}
    assert any("'train/global_step'" in m for m in messages(res, "info"))


def test_wandb_history_without_training_step_uses_step_column(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("_step,_runtime,loss\n0,1.0,2.0\n1,2.0,1.5\n2,3.0,1.0\n")
    res = read_via_choose(f, "wandb-csv")
    assert set(by_tag(res)) == {"loss"} and by_tag(res)["loss"].steps.tolist() == [0, 1, 2]


def test_wandb_panel_export_reads_the_first_run_without_prefix():
    res = read_via_choose(WANDB_PANEL, "wandb-csv")
    t = by_tag(res)
    assert list(t) == ["train/loss"]  # not '<run> - train/loss', no __MIN/__MAX series
    loss = t["train/loss"]
    assert len(loss) == 50 and loss.steps.tolist() == list(range(10, 501, 10))
    assert loss.values[0] == pytest.approx(2.628197) and loss.values[-1] == pytest.approx(0.376461)
    assert any("'lr-3e-4', was read; not read: 'lr-1e-3'" in m for m in messages(res, "warning"))
    # end to end: the run name 'lr-...' no longer makes a loss column look like a learning rate
    out = CliRunner().invoke(app, ["diagnose", str(WANDB_PANEL), "--format", "json", "--isolated"])
    doc = json.loads(out.stdout)
    assert doc["runs"][0]["metrics"]["loss"]["tag"] == "train/loss" and "lr" not in doc["runs"][0]["metrics"]


def test_wandb_panel_custom_x_axis_uses_the_runs_step_column(tmp_path):
    f = tmp_path / "wandb_export_2025-01-01T00_00_00.000+00_00.csv"
    f.write_text('epoch,"r1 - _step","r1 - _step__MIN","r1 - _step__MAX","r1 - train/loss","r1 - train/loss__MIN",'
                 '"r1 - train/loss__MAX"\n0,100,100,100,2.0,2.0,2.0\n1,200,200,200,1.0,1.0,1.0\n2,,,,,,\n')
    res = read_via_choose(f, "wandb-csv")
    loss = by_tag(res)["train/loss"]
    assert set(by_tag(res)) == {"train/loss"}
    assert loss.steps.tolist() == [100, 200] and loss.values.tolist() == [2.0, 1.0] and loss.step_unit == "step"
    assert any("x-axis 'epoch': steps taken from the 'r1 - _step' column" in m for m in messages(res))


def test_wandb_panel_time_axis_falls_back_to_row_index(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text('"Wall Time","r - loss","r - loss__MIN","r - loss__MAX"\n1.5,3,3,3\n2.5,2,2,2\n')
    res = read_via_choose(f, "wandb-csv")
    assert by_tag(res)["loss"].steps.tolist() == [0, 1]
    assert any("x-axis 'Wall Time' is not a step" in m for m in messages(res, "warning"))


def test_plain_csv_is_not_claimed_by_the_wandb_reader():
    head = (FIX / "metrics.csv").read_bytes()
    assert wandb_csv.READER.sniff(FIX / "metrics.csv", head) == 0.0
    assert wandb_csv.READER.sniff(Path("run - a.csv"), b"step,a - b\n1,2\n") == 0.0


def test_wandb_csv_reader_on_a_csv_of_neither_layout(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("step,loss\n1,2\n")
    with pytest.raises(ParseError) as ei:
        wandb_csv.READER.read(f)
    assert "not a W&B CSV export" in one_line_error(ei.value, f)


# --------------------------------------------------------------------------- every store reader


STORE_READERS = [trackio_store.READER, mlflow_sqlite.READER, neptune_parquet.READER, wandb_csv.READER]
NAMES = {"trackio": "demo.db", "mlflow-sqlite": "mlflow.db", "neptune-parquet": "R-1_part_0.parquet",
         "wandb-csv": "wandb_export_x.csv"}


@pytest.mark.parametrize("reader", STORE_READERS, ids=lambda r: r.name)
def test_random_bytes_only_raise_documented_errors(reader, tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    prefixes = st.sampled_from([b"", _stores.SQLITE_MAGIC, _stores.PARQUET_MAGIC, b"_step,_runtime,loss\n",
                                b'"Step","r - loss","r - loss__MIN"\n'])

    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(prefix=prefixes, data=st.binary(max_size=600))
    def run(prefix, data):
        f = tmp_path / NAMES[reader.name]
        f.write_bytes(prefix + data)
        _stores._sqlite_tables_cached.cache_clear()
        _stores._parquet_columns_cached.cache_clear()
        assert 0.0 <= reader.sniff(f, prefix + data) <= 1.0
        try:
            res = reader.read(f)
        except (ParseError, UnreadableFile) as exc:
            one_line_error(exc, f)
            return
        for s in res.series:
            assert s.steps.dtype == np.int64 and np.all(np.diff(s.steps) > 0)

    run()
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAMES[reader.name]]  # nothing written beside it


def test_two_stores_in_one_folder_are_two_runs_never_merged(tmp_path):
    """A Trackio folder holds one <project>.db per project: each is a run of its own (merged
    by step they would interleave two projects' curves); a project's .db and its .parquet
    export are one run."""
    import shutil

    from losscheck.discovery import discover

    src = Path(__file__).resolve().parents[1] / "fixtures" / "readers" / "trackio"
    shutil.copy(src / "demo.db", tmp_path / "demo.db")
    shutil.copy(src / "demo.db", tmp_path / "other.db")
    found = discover(tmp_path)
    assert sorted(r.root.name for r in found.runs) == ["demo", "other"]
    assert all(len(r.files) == 1 for r in found.runs)
    found = discover(src)
    (run,) = found.runs
    assert run.root.name == "demo" and sorted(f.path.name for f in run.files) == ["demo.db", "demo.parquet"]

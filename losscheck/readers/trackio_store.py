"""Trackio project stores: the local SQLite database ``<project>.db`` and the Parquet file
``<project>.parquet`` Trackio exports from it when it syncs.

Source: Trackio's "Storage Schema and Direct Queries" page
(https://huggingface.co/docs/trackio/storage_schema) and ``trackio/sqlite_storage.py``
(checked against trackio 0.43.0, whose writer made the test fixtures).

SQLite, one file per project in ``TRACKIO_DIR`` (default ``~/.cache/huggingface/trackio``),
WAL journal mode. Table ``metrics``, one row per ``trackio.log`` call:

- ``id`` INTEGER autoincrement (insertion order); ``run_id`` TEXT (absent before trackio
  added run ids: the run is then ``run_name``); ``run_name`` TEXT; ``step`` INTEGER (the
  ``step=`` given to ``trackio.log``, else the previous step + 1); ``timestamp`` TEXT,
  ISO-8601 UTC (``2025-03-01T12:00:00.123456+00:00``: wall time, seconds);
- ``metrics``: a JSON object (stored as a BLOB by recent versions) of the logged keys.
  Non-finite floats are written as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
  and read back as values; numbers become points; objects (images, histograms, tables) and
  text are not series.

Table ``configs``: ``run_id``, ``run_name``, ``config`` (JSON object of ``trackio.init(config=)``
plus ``_Username``, ``_Created``, ``_Group``): hyperparameters for meta.

Parquet (``<project>.parquet``, written by ``SQLiteStorage.export_to_parquet``): the
``metrics`` table with its JSON column flattened: columns ``id``, ``run_id``, ``timestamp``,
``run_name``, ``step``, ``log_id``, ``space_id``, then one column per logged key (null where
a row did not log it; NaN/Inf as float values). ``<project>_configs.parquet`` beside it holds
the configs the same way (read for meta when present); ``<project>_system.parquet`` (system
metrics, no step column) is not claimed.

A project holds several runs, and a reader returns one result per file: the most recent run
(latest first timestamp; insertion order on ties) is read, and a warning names the others.
Requires ``pyarrow`` for Parquet only (``pip install 'losscheck[parquet]'``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name, json_number, read_data, safe_call
from losscheck.readers._stores import (PARQUET_MAGIC, SQLITE_MAGIC, column_floats, column_seconds,
                                       is_numeric_type, iso_seconds, no_table_message, other_runs_note,
                                       read_parquet, sniff_parquet_columns, sniff_sqlite_tables,
                                       standard_meta, tables, wal_note, with_readonly)
from losscheck.readers.interface import SNIFF

if TYPE_CHECKING:  # opened through readers._stores, which imports sqlite3 when a database is read
    import sqlite3

#: How trackio spells non-finite floats inside its JSON (``trackio.utils.serialize_values``).
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

#: Columns of the flattened Parquet export that are not metrics.
_STRUCTURAL = frozenset({"id", "run_id", "timestamp", "run_name", "step", "log_id", "space_id"})

_NEEDED = frozenset({"run_name", "step", "metrics"})


def _value(v: Any) -> float | None:
    if isinstance(v, str):
        return _SPECIAL.get(v)
    return json_number(v)


def _decode(blob: Any) -> dict | None:
    if isinstance(blob, memoryview):
        blob = blob.tobytes()
    if blob is None:
        return None
    obj = json.loads(blob)
    return obj if isinstance(obj, dict) else None


def _pick(runs: list[tuple[str, str, float | None, int]]) -> tuple[tuple[str, str, float | None, int], list[str]]:
    """The most recent of ``(key, name, first_seconds, first_id)`` runs, and the others'
    display names. Start times are compared only when every run has one."""
    timed = all(r[2] is not None for r in runs)
    order = sorted(runs, key=lambda r: ((r[2] if timed else 0.0), r[3]))
    chosen = order[-1]
    names = [r[1] for r in runs]
    shown = [f"{r[1]} ({r[0][:8]})" if names.count(r[1]) > 1 else r[1] for r in order[:-1]]
    return chosen, list(reversed(shown))


class TrackioReader(BaseReader):
    """A Trackio project: ``<project>.db`` (SQLite) or its ``<project>.parquet`` export.

    ``read`` returns one series per numeric key of the most recent run (steps as logged,
    wall time from ``timestamp`` in seconds), meta from its config, and a warning naming
    the runs not read.

    Raises:
        UnreadableFile: the file cannot be opened; Parquet without ``pyarrow``.
        ParseError: not SQLite/Parquet, no Trackio ``metrics`` table or columns, corrupt file.
    """

    name = "trackio"
    description = "Trackio project store: <project>.db (SQLite) or its <project>.parquet export"

    def run_key(self, path: Path) -> str | None:
        """One run per project store: ``<project>.db`` and its ``<project>.parquet`` export
        are one run, named ``<project>``."""
        name = base_name(path)
        return name.rsplit(".", 1)[0] if "." in name else name

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        if head.startswith(SQLITE_MAGIC):
            tabs = sniff_sqlite_tables(path, head)
            dbname = base_name(path).lower().endswith((".db", ".sqlite", ".sqlite3"))
            if tabs is None:  # a schema SQLite cannot read (truncated, corrupt): read() says so
                return conf["sqlite-unchecked"] if dbname else 0.0
            if not tabs and dbname and wal_note(path) is not None:
                return conf["sqlite-unchecked"]  # everything still in the write-ahead log: read() says so
            cols = tabs.get("metrics")
            if cols is None or not _NEEDED <= cols or "key" in cols:
                return 0.0
            return conf["sqlite-schema"] if "configs" in tabs else conf["sqlite-metrics"]
        if not head.startswith(PARQUET_MAGIC):
            return 0.0
        pq_cols = sniff_parquet_columns(path, head)
        if pq_cols is None:  # no pyarrow, or a footer that cannot be read: read() says which
            return conf["parquet-unchecked"] if base_name(path).lower().endswith(".parquet") else 0.0
        names = set(pq_cols)
        if {"run_name", "step", "timestamp"} <= names and "attribute_path" not in names:
            return conf["parquet-schema"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        head = read_data(path, len(PARQUET_MAGIC))[0]  # also refuses FIFOs, directories...
        if head == PARQUET_MAGIC or base_name(path).lower().endswith(".parquet"):
            return self._read_parquet(path)
        return self._read_sqlite(path)

    # ------------------------------------------------------------------ SQLite

    def _read_sqlite(self, path: Path) -> ReadResult:
        return with_readonly(path, self._query)

    def _query(self, path: Path, con: sqlite3.Connection) -> ReadResult:
        src = str(path)
        tabs = tables(con)
        cols = tabs.get("metrics")
        if cols is None:
            raise ParseError(path, no_table_message(path, tabs, "metrics", "a Trackio project database"))
        missing = sorted(_NEEDED - cols)
        if missing:
            raise ParseError(path, f"the 'metrics' table has no {', '.join(missing)} column: not a Trackio "
                                   "project database")
        notes: list[ReadNote] = []
        wal = wal_note(path)
        if wal is not None:
            notes.append(wal)
        # a run is its run_id (its name in databases from before trackio had run ids)
        key_col = "COALESCE(run_id, run_name)" if "run_id" in cols else "run_name"
        ts = "MIN(timestamp)" if "timestamp" in cols else "NULL"
        rows = con.execute(f"SELECT {key_col} AS run_key, MAX(run_name), {ts}, MIN(rowid) FROM metrics "
                           "GROUP BY run_key").fetchall()
        if not rows:
            notes.append(ReadNote(src, "the metrics table is empty: no run has logged a metric yet",
                                  "warning"))
            return ReadResult([], notes, {})
        runs = [(str(k), str(n), iso_seconds(t), int(i if i is not None else 0)) for k, n, t, i in rows]
        (key, run_name, _, _), others = _pick(runs)
        ts_col = "timestamp" if "timestamp" in cols else "NULL"
        col = Collector()
        skipped: set[str] = set()
        bad_rows = 0
        for step, stamp, blob in con.execute(
                f"SELECT step, {ts_col}, metrics FROM metrics WHERE {key_col} = ? ORDER BY rowid", (key,)):
            try:
                obj = _decode(blob)
            except (ValueError, TypeError):  # not JSON text (UnicodeDecodeError is a ValueError)
                obj = None
            s = json_number(step)
            if obj is None or s is None:
                bad_rows += 1
                continue
            wall = iso_seconds(stamp)
            for k, v in obj.items():
                x = _value(v)
                if x is None:
                    skipped.add(str(k))
                    continue
                col.add(str(k), s, x, wall)
        notes += self._run_notes(path, run_name, others, bad_rows, skipped - set(col.tags()))
        series, n = col.build(src)
        meta = {}
        cfg_cols = tabs.get("configs", set())
        if {"config", "run_name"} <= cfg_cols:
            cfg_key = "COALESCE(run_id, run_name)" if "run_id" in cfg_cols else "run_name"
            got = con.execute(f"SELECT config FROM configs WHERE {cfg_key} = ? ORDER BY rowid DESC LIMIT 1",
                              (key,)).fetchone()
            cfg = safe_call(lambda: _decode(got[0])) if got else None
            if cfg:
                meta = standard_meta({k: v for k, v in cfg.items() if not str(k).startswith("_")})
        return ReadResult(series, notes + n, meta)

    @staticmethod
    def _run_notes(path: Path, run_name: str, others: list[str], bad_rows: int,
                   skipped: set[str]) -> list[ReadNote]:
        src = str(path)
        notes = [ReadNote(src, f"Trackio run {run_name!r}", "info")]
        other = other_runs_note(path, run_name, others, "this Trackio project")
        if other is not None:
            notes.append(other)
        if bad_rows:
            notes.append(ReadNote(src, f"{bad_rows} metrics row(s) of run {run_name!r} without a JSON object "
                                       "or a step were skipped", "warning"))
        if skipped:
            shown = ", ".join(repr(k) for k in sorted(skipped)[:5])
            notes.append(ReadNote(src, f"key(s) {shown} hold no numbers (media, tables, histograms or text): "
                                       "not series", "info"))
        return notes

    # ------------------------------------------------------------------ Parquet

    def _read_parquet(self, path: Path) -> ReadResult:
        src = str(path)
        table = read_parquet(path)
        names = set(table.column_names)
        if not {"run_name", "step"} <= names:
            raise ParseError(path, "Parquet file without 'run_name' and 'step' columns: not a Trackio "
                                   "metrics export")
        notes: list[ReadNote] = []
        if table.num_rows == 0:
            notes.append(ReadNote(src, "no rows: no run has logged a metric yet", "warning"))
            return ReadResult([], notes, {})
        key_col = "run_id" if "run_id" in names and table.column("run_id").null_count == 0 else "run_name"
        keys = [str(k) for k in table.column(key_col).to_pylist()]
        run_names = [str(k) for k in table.column("run_name").to_pylist()]
        walls = (column_seconds(table, "timestamp") if "timestamp" in names
                 else np.full(len(keys), np.nan, dtype=np.float64))
        first: dict[str, tuple[str, float | None, int]] = {}
        for i, k in enumerate(keys):
            w = None if np.isnan(walls[i]) else float(walls[i])
            if k not in first:
                first[k] = (run_names[i], w, i)
            else:
                name, w0, i0 = first[k]
                if w is not None and (w0 is None or w < w0):
                    first[k] = (name, w, i0)
        runs = [(k, v[0], v[1], v[2]) for k, v in first.items()]
        (key, run_name, _, _), others = _pick(runs)
        rows = np.array([k == key for k in keys], dtype=bool)
        steps, present_step = column_floats(table, "step")
        ok = rows & present_step
        has_wall = bool(np.all(~np.isnan(walls[ok])))
        col = Collector()
        skipped: set[str] = set()
        for name in table.column_names:
            if name in _STRUCTURAL:
                continue
            if not is_numeric_type(table.schema.field(name).type):
                if table.column(name).null_count < table.num_rows:
                    skipped.add(name)
                continue
            vals, present = column_floats(table, name)
            m = ok & present
            if m.any():
                col.set_points(name, steps[m], vals[m], walls[m], has_wall)
        bad = int((rows & ~present_step).sum())
        notes += self._run_notes(path, run_name, others, bad, skipped)
        series, n = col.build(src)
        meta = safe_call(lambda: self._parquet_meta(path, key_col, key), {}) or {}
        return ReadResult(series, notes + n, meta)

    @staticmethod
    def _parquet_meta(path: Path, key_col: str, key: str) -> dict:
        """Standard meta from ``<project>_configs.parquet`` beside ``path`` (best effort)."""
        stem = base_name(path)[: -len(".parquet")]
        cfg_path = path.with_name(f"{stem}_configs.parquet")
        if not cfg_path.is_file():
            return {}
        cfg = read_parquet(cfg_path)
        if key_col not in cfg.column_names:
            return {}
        for row in reversed(cfg.to_pylist()):
            if str(row.get(key_col)) == key:
                params = {k: v for k, v in row.items()
                          if k not in ("id", "run_id", "run_name", "created_at") and not str(k).startswith("_")}
                return standard_meta(params)
        return {}


READER = TrackioReader()

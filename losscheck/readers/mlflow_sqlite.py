"""MLflow SQLite tracking stores (``mlflow.db``: ``mlflow.set_tracking_uri("sqlite:///mlflow.db")``,
``mlflow server --backend-store-uri sqlite:///...``; recent MLflow creates ``sqlite:///mlflow.db``
in the working directory by default).

Sources: "Backend Stores", https://mlflow.org/docs/latest/self-hosting/architecture/backend-store,
and MLflow's SQLAlchemy store, ``mlflow/store/tracking/dbmodels/models.py`` and
``sqlalchemy_store.py`` (checked against MLflow 3.17.2, whose writer made the test fixture).
Tables read:

- ``metrics``: ``key`` (metric name), ``value`` (float64), ``timestamp`` (BIGINT,
  milliseconds since the Unix epoch), ``step`` (BIGINT), ``run_uuid``, ``is_nan`` (boolean).
  MLflow stores NaN as ``value = 0, is_nan = 1`` (read back as NaN) and +-Inf as
  ``+-1.7976931348623157e308`` (``sys.float_info.max``, read back as +-Inf here, with a
  note). Rows are read in logging order (``timestamp``, then ``step``, then insertion), so a
  resumed run's repeated steps are handled like any other log's (later values win).
- ``runs``: ``run_uuid``, ``name`` (the run name; the ``mlflow.runName`` tag of ``tags``
  when empty), ``start_time`` (ms), ``lifecycle_stage`` (``active`` / ``deleted``),
  ``experiment_id``; ``experiments``: ``experiment_id``, ``name``.
- ``params``: ``key``, ``value`` (text), ``run_uuid``: hyperparameters for meta
  (``learning_rate``/``lr``, ``max_grad_norm``, ``epochs``, ``batch_size``, ``optimizer``...).

A store holds many runs, and a reader returns one result per file: the most recent run
with metrics (latest ``start_time``) that is not deleted is read; a warning names the
others (deleted runs are never read).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name
from losscheck.readers._stores import (no_table_message, other_runs_note, sniff_sqlite_tables,
                                       standard_meta, tables, wal_note, with_readonly)
from losscheck.readers.interface import SNIFF

if TYPE_CHECKING:  # opened through readers._stores, which imports sqlite3 when a database is read
    import sqlite3

#: MLflow's stand-in for +-Inf (``sys.float_info.max``; ``SqlAlchemyStore.sanitize_metric_value``).
_DBL_MAX = 1.7976931348623157e308

_METRIC_COLS = frozenset({"key", "value", "step", "run_uuid"})


class MlflowSqliteReader(BaseReader):
    """An MLflow SQLite tracking store: every metric of its most recent active run.

    ``read`` returns one series per metric key (steps as logged; wall time = ``timestamp``
    / 1000, seconds), meta from the run's params, and notes naming the run and the runs
    not read.

    Raises:
        UnreadableFile: the file cannot be opened.
        ParseError: not an SQLite database, no MLflow ``metrics`` table, corrupt file.
    """

    name = "mlflow-sqlite"
    description = "MLflow SQLite tracking store (mlflow.db: metrics, runs, params tables)"

    def run_key(self, path: Path) -> str | None:
        """A tracking database is a store of its own: one run named by the file."""
        return base_name(path)

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        tabs = sniff_sqlite_tables(path, head)
        if tabs is None:
            # named like MLflow's store but not SQLite, or unreadable: read() says why
            return conf["named-only"] if base_name(path) == "mlflow.db" else 0.0
        cols = tabs.get("metrics")
        if cols is None or not _METRIC_COLS <= cols:
            return conf["named-only"] if base_name(path) == "mlflow.db" else 0.0
        return conf["schema"] if "runs" in tabs else conf["metrics-table"]

    def _read(self, path: Path) -> ReadResult:
        return with_readonly(path, self._query)

    def _query(self, path: Path, con: sqlite3.Connection) -> ReadResult:
        src = str(path)
        tabs = tables(con)
        cols = tabs.get("metrics")
        if cols is None:
            raise ParseError(path, no_table_message(path, tabs, "metrics", "an MLflow tracking store"))
        if not _METRIC_COLS <= cols:
            raise ParseError(path, "a 'metrics' table without key/value/step/run_uuid columns: not an MLflow "
                                   "tracking store")
        notes: list[ReadNote] = []
        wal = wal_note(path)
        if wal is not None:
            notes.append(wal)
        has_ts = "timestamp" in cols
        counts = {str(r): (int(n), t) for r, n, t in con.execute(
            f"SELECT run_uuid, COUNT(*), {'MIN(timestamp)' if has_ts else 'NULL'} FROM metrics GROUP BY run_uuid")}
        if not counts:
            notes.append(ReadNote(src, "the metrics table is empty: no run has logged a metric yet", "warning"))
            return ReadResult([], notes, {})
        runs = self._runs(con, tabs)
        cands: list = []
        deleted: list = []
        for uuid, (_, first_ts) in counts.items():
            info = runs.get(uuid, {})
            name = info.get("name") or uuid[:8]
            start = info.get("start_time")
            key = (start if start is not None else (first_ts or 0), first_ts or 0)
            (deleted if info.get("lifecycle_stage") == "deleted" else cands).append((key, uuid, name))
        if not cands:
            gone = ", ".join(repr(c[2]) for c in deleted[:10])
            notes.append(ReadNote(src, f"every run with metrics is deleted ({gone}): nothing read", "warning"))
            return ReadResult([], notes, {})
        cands.sort()
        _, uuid, name = cands[-1]
        exp = runs.get(uuid, {}).get("experiment")
        notes.append(ReadNote(src, f"MLflow run {name!r} ({uuid})" + (f" of experiment {exp!r}" if exp else ""),
                              "info"))
        other = other_runs_note(path, name, [c[2] for c in reversed(cands[:-1])], "this MLflow store")
        if other is not None:
            notes.append(other)
        if deleted:
            notes.append(ReadNote(src, f"{len(deleted)} deleted run(s) with metrics not read", "info"))
        nan_col = "is_nan" if "is_nan" in cols else "0"
        order = "timestamp, step, rowid" if has_ts else "step, rowid"
        col = Collector()
        inf = 0
        for key, value, step, ts, is_nan in con.execute(
                f"SELECT key, value, step, {'timestamp' if has_ts else 'NULL'}, {nan_col} FROM metrics "
                f"WHERE run_uuid = ? ORDER BY {order}", (uuid,)):
            if step is None or value is None:
                continue
            v = float(value)
            if is_nan:
                v = float("nan")
            elif abs(v) == _DBL_MAX:
                v = float("inf") if v > 0 else float("-inf")
                inf += 1
            step = step if isinstance(step, int) else float(step)  # a BIGINT step stays exact (int64)
            col.add(str(key), step, v, None if ts is None else float(ts) / 1000.0)
        if inf:
            notes.append(ReadNote(src, f"{inf} value(s) stored as +-1.7976931348623157e308 (MLflow's encoding "
                                       "of +-Inf) read as +-Inf", "info"))
        series, n = col.build(src)
        meta = {}
        if "params" in tabs and {"key", "value", "run_uuid"} <= tabs["params"]:
            params = {str(k): v for k, v in con.execute("SELECT key, value FROM params WHERE run_uuid = ?",
                                                        (uuid,))}
            meta = standard_meta(params)
        return ReadResult(series, notes + n, meta)

    @staticmethod
    def _runs(con: sqlite3.Connection, tabs: dict[str, set[str]]) -> dict[str, dict]:
        """run_uuid -> name, start_time (ms), lifecycle_stage, experiment (name), as present."""
        rcols = tabs.get("runs", set())
        if "run_uuid" not in rcols:
            return {}
        want = [c for c in ("name", "start_time", "lifecycle_stage", "experiment_id") if c in rcols]
        out: dict[str, dict] = {}
        for row in con.execute(f"SELECT run_uuid{''.join(', ' + c for c in want)} FROM runs"):
            out[str(row[0])] = dict(zip(want, row[1:]))
        if "tags" in tabs and {"key", "value", "run_uuid"} <= tabs["tags"]:
            for uuid, value in con.execute("SELECT run_uuid, value FROM tags WHERE key = 'mlflow.runName'"):
                info = out.setdefault(str(uuid), {})
                if not info.get("name") and value:
                    info["name"] = str(value)
        if "experiments" in tabs and {"experiment_id", "name"} <= tabs["experiments"]:
            names = {e: n for e, n in con.execute("SELECT experiment_id, name FROM experiments")}
            for info in out.values():
                if info.get("experiment_id") in names:
                    info["experiment"] = str(names[info["experiment_id"]])
        return out


READER = MlflowSqliteReader()

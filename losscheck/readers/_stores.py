"""Helpers shared by the readers of tracking *stores*: SQLite databases opened read-only,
Parquet files read with the optional ``pyarrow``, one run picked out of several, standard
hyperparameters from a store's config/params.

Nothing here is a reader (the module name starts with ``_``, so the registry skips it).

Safety: nothing is ever written next to the user's file.

- SQLite: the file is first opened with :func:`~losscheck.readers._common.open_regular`
  (a FIFO, device or directory is refused without blocking) and its 16-byte header checked,
  then opened by SQLite through the URI ``file:<path>?mode=ro&immutable=1``: read-only, no
  locks, no rollback journal, no ``-wal``/``-shm`` file created (SQLite docs, "URI
  Filenames", https://www.sqlite.org/uri.html). ``immutable`` also means a write-ahead log
  beside the database (``<name>-wal``: points a live writer has not checkpointed yet) would
  not be read: when one is there, the database and its log are copied to a private
  temporary folder and read from the copy (:func:`with_readonly`); :func:`wal_note` says so.
- Parquet: opened through the same non-blocking descriptor and handed to ``pyarrow`` as a
  file object. ``pyarrow`` is optional (``pip install 'losscheck[parquet]'``); without it a
  Parquet file gives one :class:`~losscheck.errors.UnreadableFile` line saying so.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from losscheck.errors import ParseError, UnreadableFile
from losscheck.model import ReadNote
from losscheck.readers._common import memory_content, open_regular

if TYPE_CHECKING:  # sqlite3 is imported where a database is opened: only MLflow's and Trackio's stores need it
    import sqlite3

#: The first 16 bytes of every SQLite 3 database (https://www.sqlite.org/fileformat.html, 1.3).
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Parquet files start (and end) with these 4 bytes (Apache Parquet format spec).
PARQUET_MAGIC = b"PAR1"
#: What to install for Parquet support.
PARQUET_INSTALL = "pip install 'losscheck[parquet]'"

# --------------------------------------------------------------------------- SQLite


def connect_readonly(path: Path, immutable: bool = True) -> sqlite3.Connection:
    """An SQLite connection to ``path`` that can neither write nor block (``immutable``: SQLite
    takes no lock and reads no ``-wal``; ``False`` only for a private copy, see
    :func:`with_readonly`).

    A file served from memory (an archive member, a file fetched from a URL:
    :func:`~losscheck.readers._common.memory_files`) is loaded into an in-memory database
    (``sqlite3.Connection.deserialize``, Python 3.11+; on 3.10 a private temporary copy).

    Raises:
        UnreadableFile: missing, not a regular file, permission denied.
        ParseError: the file is not an SQLite 3 database (checked on its header).
    """
    data = memory_content(path)
    if data is not None:
        return _connect_bytes(path, data)
    fd = open_regular(path)
    try:
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    if head != SQLITE_MAGIC:
        what = "an empty file" if not head else "not an SQLite database (no 'SQLite format 3' header)"
        raise ParseError(path, what)
    import sqlite3

    uri = Path(path).absolute().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    try:
        con = sqlite3.connect(uri, uri=True)
        con.execute("PRAGMA query_only = 1")
    except sqlite3.Error as exc:
        raise UnreadableFile(path, f"SQLite cannot open it: {exc}") from None
    return con


def _connect_bytes(path: Path, data: bytes) -> sqlite3.Connection:
    """:func:`connect_readonly` for a database held in memory (nothing is written anywhere but
    a private temporary folder on Python 3.10)."""
    if not data.startswith(SQLITE_MAGIC):
        what = "an empty file" if not data else "not an SQLite database (no 'SQLite format 3' header)"
        raise ParseError(path, what)
    if data[18:20] == b"\x02\x02":
        # a database in WAL mode (header bytes 18-19, https://www.sqlite.org/fileformat.html,
        # 1.3.3): marked as a rollback-journal database, since an in-memory copy has no -wal
        data = data[:18] + b"\x01\x01" + data[20:]
    import sqlite3

    try:
        if hasattr(sqlite3.Connection, "deserialize"):
            con = sqlite3.connect(":memory:")
            getattr(con, "deserialize")(data)  # Python 3.11+ (mypy checks against 3.10)
        else:  # pragma: no cover - Python 3.10
            import tempfile

            tmp = tempfile.TemporaryDirectory(prefix="losscheck-sqlite-")
            copy = Path(tmp.name) / "store.db"
            copy.write_bytes(data)
            con = sqlite3.connect(copy.absolute().as_uri() + "?mode=ro", uri=True)
            con._losscheck_tmp = tmp  # type: ignore[attr-defined]  # removed with the connection
        con.execute("PRAGMA query_only = 1")
    except sqlite3.Error as exc:
        raise UnreadableFile(path, f"SQLite cannot open it: {exc}") from None
    return con


def sqlite_error(path: Path, exc: sqlite3.Error) -> ParseError:
    """A one-line :class:`ParseError` for an SQLite error met while querying ``path``."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if "malformed" in msg or "not a database" in msg:
        return ParseError(path, f"corrupt or truncated SQLite database ({msg})")
    return ParseError(path, f"SQLite query failed ({msg})")


def _wal_size(path: Path) -> int:
    """Bytes in ``<path>-wal`` (0 when there is none)."""
    try:
        return max(0, Path(str(path) + "-wal").stat().st_size)
    except OSError:
        return 0


def _wal_readable(path: Path) -> bool:
    """Whether a live ``-wal`` is read with the database: it is non-empty, and database and
    log together fit the inflation limit (they are copied to a private temporary folder)."""
    from losscheck.readers._common import MAX_INFLATED_BYTES

    wal = _wal_size(path)
    if wal <= 0:
        return False
    try:
        return Path(path).stat().st_size + wal <= MAX_INFLATED_BYTES
    except OSError:
        return False


def with_readonly(path: Path, query):
    """``query(path, con)`` on a read-only connection to ``path``, closed afterwards; SQLite
    errors become one-line :class:`~losscheck.errors.ParseError` naming the file
    (:func:`sqlite_error`).

    A database in WAL mode that a run is still writing (Trackio's and MLflow's default) keeps
    its newest points in ``<path>-wal``; an immutable connection would not see them (a live
    run read as healthy while it diverges). So when a non-empty ``-wal`` sits beside it, the
    database and its log are copied to a private temporary folder and read there (SQLite
    replays the log into the copy); nothing is ever written beside the user's file. Past
    :data:`~losscheck.readers._common.MAX_INFLATED_BYTES` the database alone is read, with
    the warning of :func:`wal_note`.
    """
    if _wal_readable(path):
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="losscheck-sqlite-") as tmp:
            copy = Path(tmp) / "store.db"
            try:
                shutil.copyfile(path, copy)
                shutil.copyfile(str(path) + "-wal", str(copy) + "-wal")
            except OSError as exc:
                raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
            return _query_on(path, copy, query, immutable=False)
    return _query_on(path, path, query, immutable=True)


def _query_on(path: Path, target: Path, query, immutable: bool):
    import sqlite3

    con = connect_readonly(target, immutable) if target != path else connect_readonly(path)
    try:
        try:
            return query(path, con)
        except sqlite3.Error as exc:
            raise sqlite_error(path, exc) from None
    finally:
        con.close()


def tables(con: sqlite3.Connection) -> dict[str, set[str]]:
    """Table name -> its column names."""
    out: dict[str, set[str]] = {}
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        cols = {row[1] for row in con.execute(f'PRAGMA table_info("{name}")').fetchall()}
        out[str(name)] = cols
    return out


def _stat_key(path: Path) -> tuple[str, int, int] | None:
    data = memory_content(path)
    if data is not None:  # served from memory: its length and checksum stand for size and mtime
        import zlib

        return str(path), len(data), zlib.crc32(data)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return str(Path(path).absolute()), st.st_size, st.st_mtime_ns


@lru_cache(maxsize=8)
def _sqlite_tables_cached(key: tuple[str, int, int]) -> dict[str, frozenset[str]] | None:
    try:
        con = connect_readonly(Path(key[0]))
    except Exception:
        return None
    try:
        return {k: frozenset(v) for k, v in tables(con).items()}
    except Exception:
        return None
    finally:
        con.close()


def sniff_sqlite_tables(path: Path, head: bytes) -> dict[str, frozenset[str]] | None:
    """For a sniff: the tables and columns of an SQLite file (``None`` when ``head`` is not an
    SQLite header or the schema cannot be read). Cached on path, size and mtime, so every
    store reader's sniff opens the file once."""
    if not head.startswith(SQLITE_MAGIC):
        return None
    key = _stat_key(path)
    return None if key is None else _sqlite_tables_cached(key)


def wal_note(path: Path) -> ReadNote | None:
    """A note when a non-empty ``<path>-wal`` sits beside the database (a run still writing,
    or a writer that was killed): read with it (info), or, past the size limit, not read
    (a warning)."""
    wal = Path(str(path) + "-wal")
    size = _wal_size(path)
    if size <= 0:
        return None
    if _wal_readable(path):
        return ReadNote(str(path), f"read together with its write-ahead log {wal.name} ({size} bytes: a run "
                                   "still writing?), from a private copy", "info")
    return ReadNote(str(path), f"a write-ahead log {wal.name} ({size} bytes) sits beside the database: "
                               "points not yet checkpointed into the database (a run still writing?) "
                               "are not read", "warning")


def no_table_message(path: Path, tabs: dict, table: str, what: str) -> str:
    """The problem text for an SQLite file without ``table``: its tables, or, when it has
    none and a write-ahead log sits beside it, that everything is still in the log."""
    wal = Path(str(path) + "-wal")
    try:
        wal_size = wal.stat().st_size
    except OSError:
        wal_size = 0
    if not tabs and wal_size > 0:
        return (f"no tables in the database file itself: everything is still in its write-ahead log "
                f"{wal.name} ({wal_size} bytes; a writer still running?), which is not read (nothing is "
                "written beside your files); read it again once the writer has closed the database")
    listed = ", ".join(sorted(tabs)[:8]) + (", ..." if len(tabs) > 8 else "") if tabs else "none"
    return f"no {table!r} table: not {what} (tables: {listed})"


# --------------------------------------------------------------------------- Parquet


def pyarrow_parquet(path: Path):
    """The ``pyarrow.parquet`` module.

    Raises:
        UnreadableFile: ``pyarrow`` is not installed (one line with the install command).
    """
    try:
        import pyarrow.parquet as pq  # optional dependency: the "parquet" extra
    except Exception as exc:
        if isinstance(exc, ImportError) and not _installed("pyarrow"):
            raise UnreadableFile(path, f"reading Parquet files needs pyarrow: {PARQUET_INSTALL}") from None
        # e.g. a pyarrow built for NumPy 1 under NumPy 2 (AttributeError, then ImportError)
        msg = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise UnreadableFile(path, f"pyarrow is installed but cannot be imported ({type(exc).__name__}: {msg}); "
                                   "upgrade it: pip install -U 'losscheck[parquet]'") from None
    return pq


def _installed(name: str) -> bool:
    """Whether a top-level package ``name`` can be found (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ValueError, ImportError):  # sys.modules[name] is None or has no spec
        return False


def have_pyarrow() -> bool:
    """Whether ``pyarrow`` can be imported."""
    try:
        import pyarrow.parquet  # noqa: F401
    except Exception:
        return False
    return True


def parquet_error(path: Path, exc: Exception) -> ParseError:
    """A one-line :class:`ParseError` for a ``pyarrow`` failure on ``path``."""
    msg = " ".join(str(exc).split())[:200] or type(exc).__name__
    low = msg.lower()
    if "magic" in low or "footer" in low or "size is" in low or "file size" in low:
        return ParseError(path, f"truncated or not a Parquet file ({msg})")
    return ParseError(path, f"cannot read the Parquet file ({type(exc).__name__}: {msg})")


def read_parquet(path: Path, columns: list[str] | None = None):
    """The Parquet file ``path`` as a ``pyarrow.Table``: only those of ``columns`` that the
    file has, when ``columns`` is given (nested payload columns are then never decoded).

    Raises:
        UnreadableFile: cannot be opened, or ``pyarrow`` is missing.
        ParseError: truncated or corrupt Parquet.
    """
    pq = pyarrow_parquet(path)
    data = memory_content(path)
    if data is not None:  # an archive member, a file fetched from a URL
        import io

        opened: Any = io.BytesIO(data)
    else:
        opened = os.fdopen(open_regular(path), "rb")
    with opened as fh:
        try:
            pf = pq.ParquetFile(fh)
            if columns is not None:
                have = set(pf.schema_arrow.names)
                columns = [c for c in columns if c in have]
            return pf.read(columns=columns)
        except Exception as exc:  # pyarrow.ArrowInvalid (a ValueError), ArrowIOError (an OSError)...
            raise parquet_error(path, exc) from None


@lru_cache(maxsize=8)
def _parquet_columns_cached(key: tuple[str, int, int]) -> tuple[str, ...] | None:
    try:
        pq = pyarrow_parquet(Path(key[0]))
        data = memory_content(Path(key[0]))
        if data is not None:
            import io

            return tuple(pq.read_schema(io.BytesIO(data)).names)
        fd = open_regular(Path(key[0]))
        with os.fdopen(fd, "rb") as fh:
            return tuple(pq.read_schema(fh).names)
    except Exception:
        return None


def sniff_parquet_columns(path: Path, head: bytes) -> tuple[str, ...] | None:
    """For a sniff: the column names of a Parquet file, from its footer; ``None`` when the
    head is not Parquet, ``pyarrow`` is missing, or the footer cannot be read (truncated).
    Cached on path, size and mtime."""
    if not head.startswith(PARQUET_MAGIC):
        return None
    key = _stat_key(path)
    return None if key is None else _parquet_columns_cached(key)


def column_floats(table, name: str):
    """``(values float64, present bool)`` arrays of shape ``(nrows,)`` for a numeric column:
    nulls are missing cells (``present`` False), NaN stays a value."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    present = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)
    vals = pc.cast(col, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return np.asarray(vals, dtype=np.float64), present


def column_seconds(table, name: str):
    """A timestamp (or ISO-text) column as ``float64`` seconds since the Unix epoch, shape
    ``(nrows,)``, NaN where null or unparsable."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pt

    col = table.column(name)
    if pt.is_timestamp(col.type):
        scale = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[col.type.unit]
        ints = pc.cast(col, pa.int64())
        out = np.asarray(pc.cast(ints, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        return out / scale
    return np.array([np.nan if (w := iso_seconds(t)) is None else w for t in col.to_pylist()],
                    dtype=np.float64)


def is_numeric_type(t) -> bool:
    """Whether a ``pyarrow`` type holds plain numbers (integers, floats, decimals; not bool)."""
    import pyarrow.types as pt

    return bool(pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t))


# --------------------------------------------------------------------------- runs and meta


def iso_seconds(text: Any) -> float | None:
    """Seconds since the Unix epoch of an ISO-8601 time (``2025-03-01T12:00:00.5+00:00``;
    naive times are taken as UTC), else ``None``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str) or not text:
        return None
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    try:
        d = datetime.fromisoformat(t)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def other_runs_note(path: Path, chosen: str, others: list[str], store: str) -> ReadNote | None:
    """The warning for a store holding several runs: which one was read, which were not."""
    if not others:
        return None
    shown = ", ".join(repr(o) for o in others[:10])
    more = f" and {len(others) - 10} more" if len(others) > 10 else ""
    return ReadNote(str(path), f"{store} holds {len(others) + 1} runs; only the most recent, {chosen!r}, "
                               f"was read; not read: {shown}{more}", "warning")


#: Hyperparameter names (lower case; the last ``/``- or ``.``-separated part of a key is
#: compared) -> (standard meta key, converter). The first present name wins for a key.
META_NAMES = (
    ("learning_rate", "learning_rate", float), ("lr", "learning_rate", float),
    ("opt_learning_rate", "learning_rate", float),
    ("max_grad_norm", "max_grad_norm", float), ("gradient_clip_val", "max_grad_norm", float),
    ("clip_grad_norm", "max_grad_norm", float), ("opt_clipnorm", "max_grad_norm", float),
    ("max_steps", "max_steps", int), ("warmup_steps", "warmup_steps", int),
    ("num_train_epochs", "epochs", int), ("epochs", "epochs", int), ("num_epochs", "epochs", int),
    ("max_epochs", "epochs", int),
    ("per_device_train_batch_size", "batch_size", int), ("batch_size", "batch_size", int),
    ("train_batch_size", "batch_size", int),
    ("optim", "optimizer", str), ("optimizer", "optimizer", str), ("opt_name", "optimizer", str),
    ("fp16", "fp16", bool), ("bf16", "bf16", bool), ("num_classes", "num_classes", int),
)


def _convert(value: Any, conv):
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if conv is str:
        if not isinstance(value, str) or not value.strip() or value.strip().lower() == "none":
            raise ValueError(value)
        return value.strip()
    if conv is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(value)
    if isinstance(value, bool) or value is None:
        raise ValueError(value)
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(value)
    if conv is int:
        if not x.is_integer() or x < 0:
            raise ValueError(value)
        return int(x)
    return x


def standard_meta(params: dict[str, Any]) -> dict[str, Any]:
    """Standard :class:`~losscheck.model.ReadResult` meta keys from a run's hyperparameters
    (``params``: name -> value, numbers or text). Values that do not convert are ignored;
    never raises."""
    by_name: dict[str, Any] = {}
    for key, value in params.items():
        short = str(key).replace(".", "/").rsplit("/", 1)[-1].lower()
        by_name.setdefault(short, value)
    meta: dict[str, Any] = {}
    for name, key, conv in META_NAMES:
        if key in meta or name not in by_name:
            continue
        try:
            meta[key] = _convert(by_name[name], conv)
        except (ValueError, TypeError, OverflowError):
            continue
    return meta

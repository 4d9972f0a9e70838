"""neptune-exporter Parquet files: a Neptune run's attributes and series exported to disk.

Source: neptune-exporter's README ("Data layout on disk", "Parquet schema") and
``src/neptune_exporter/model.py::SCHEMA``, https://github.com/neptune-ai/neptune-exporter
(read early 2026). The tool could not be run here (it needs a Neptune workspace), so the
test fixture is written from that documented schema with pyarrow
(``scripts/make_store_fixtures.py``).

Layout: one directory per project (``<sanitized project id>-<digest>/``), each run in one
or more parts ``<sanitized run id>-<digest>_part_<n>.parquet`` (Snappy, ~50 MB each);
``.parquet.tmp`` files are parts still being written (never claimed). One row per attribute
value, columns:

- ``project_id``, ``run_id`` (Neptune 3.x ``sys/custom_run_id``, Neptune 2.x ``sys/id``),
  ``attribute_path`` (``train/loss``, ``parameters/lr``...), ``attribute_type`` (``float``,
  ``int``, ``string``, ``bool``, ``datetime``, ``string_set``, ``float_series``,
  ``string_series``, ``histogram_series``, ``file``, ``file_series``);
- ``step``: decimal(18, 6), per series point (null for parameters);
- ``timestamp``: timestamp(ms, UTC) of a series point (wall time, read in seconds);
- typed payloads ``int_value``, ``float_value``, ``string_value``, ``bool_value``,
  ``datetime_value``, ``string_set_value``, ``file_value``, ``histogram_value``.

Series are the ``float_series`` rows (``float_value``; NaN/Inf kept, null skipped), named by
``attribute_path``. Neptune steps are decimals: when some are fractional, every step of the
file is multiplied by the smallest power of ten (at most 10**6) that makes them all whole,
with a note (the exporter's own loaders need the same ``--step-multiplier``). Parameters
(``float``/``int``/``string``/``bool`` rows) give meta, matched on the last path part
(``parameters/learning_rate`` -> ``learning_rate``). A file normally holds one run; if it
holds several, the one created last (``sys/creation_time``, else its first timestamp) is
read, with a warning. Requires ``pyarrow`` (``pip install 'losscheck[parquet]'``).
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import numpy as np

from losscheck.errors import ParseError
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, Collector, base_name
from losscheck.readers._stores import (PARQUET_MAGIC, column_floats, column_seconds, other_runs_note,
                                       read_parquet, sniff_parquet_columns, standard_meta)
from losscheck.readers.interface import SNIFF

_PART = re.compile(r"^(?P<run>.+)_part_(?P<n>\d+)\.parquet$")
_NEEDED = ("attribute_path", "attribute_type", "step", "float_value")
_COLUMNS = ["project_id", "run_id", "attribute_path", "attribute_type", "step", "timestamp", "int_value",
            "float_value", "string_value", "bool_value", "datetime_value"]
_PARAM_TYPES = {"float": "float_value", "int": "int_value", "string": "string_value", "bool": "bool_value"}
_MICRO = 10 ** 6


#: Below this magnitude, ``step * 10**6`` is an exact double: :func:`_whole_steps` may work in
#: ``float64``; at or above it, :func:`_whole_steps_exact` takes the stored decimals as they are.
_FLOAT_SAFE = 2 ** 53 // _MICRO


def _whole_steps(steps: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Decimal steps (``float64``, shape ``(n,)``, finite) as whole numbers: ``(steps * k, k)``
    with ``k`` the smallest power of ten up to 10**6 making every step whole (decimal(18, 6)
    has 6 fraction digits); ``int64`` steps. ``None`` when a step is too large for doubles to
    hold it exactly (:data:`_FLOAT_SAFE`): :func:`_whole_steps_exact` then gives the answer."""
    if steps.size and float(np.max(np.abs(steps))) >= _FLOAT_SAFE:
        return None
    micro = np.rint(steps * _MICRO).astype(np.int64)
    k = 1
    while k < _MICRO and np.any(micro % (_MICRO // k)):
        k *= 10
    return micro // (_MICRO // k), k


def _whole_steps_exact(cells: list) -> tuple[np.ndarray, int]:
    """The reference of :func:`_whole_steps`, from the stored cells (``Decimal``, ``int`` or
    ``float``, as ``pyarrow`` gives them), exact at any magnitude: ``(object array of ints, k)``."""
    from decimal import Decimal

    dec = [c if isinstance(c, (int, Decimal)) else Decimal(c) for c in cells]
    k = 1
    while k < _MICRO and any((d * k) % 1 for d in dec):
        k *= 10
    whole = np.empty(len(dec), dtype=object)
    whole[:] = [round(d * k) for d in dec]  # d * k is whole, or rounded half to even (as np.rint)
    return whole, k


class NeptuneParquetReader(BaseReader):
    """A neptune-exporter run part: every ``float_series`` of the run, meta from its parameters.

    Raises:
        UnreadableFile: the file cannot be opened, or ``pyarrow`` is missing.
        ParseError: truncated or corrupt Parquet, or not the neptune-exporter schema.
    """

    name = "neptune-parquet"
    description = "neptune-exporter Parquet run parts (<run>_part_<n>.parquet: attribute rows)"

    def run_key(self, path: Path) -> str | None:
        """The parts ``<run>_part_<n>.parquet`` of one run are one run, named ``<run>``."""
        m = _PART.match(base_name(path))
        return m.group("run") if m else None

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        if not head.startswith(PARQUET_MAGIC):
            return 0.0
        named = _PART.match(base_name(path)) is not None
        cols = sniff_parquet_columns(path, head)
        if cols is None:  # no pyarrow, or a footer that cannot be read: read() says which
            return conf["named-only"] if named else 0.0
        if set(_NEEDED) <= set(cols):
            return conf["schema"]
        return 0.0

    def _read(self, path: Path) -> ReadResult:
        src = str(path)
        table = read_parquet(path, _COLUMNS)
        missing = [c for c in _NEEDED if c not in table.column_names]
        if missing:
            raise ParseError(path, f"Parquet file without column(s) {', '.join(missing)}: not a neptune-exporter "
                                   "export")
        notes: list[ReadNote] = []
        n = table.num_rows
        if n == 0:
            notes.append(ReadNote(src, "no rows: the export holds no attribute", "warning"))
            return ReadResult([], notes, {})
        types = np.array(table.column("attribute_type").to_pylist(), dtype=object)
        paths = np.array(table.column("attribute_path").to_pylist(), dtype=object)
        runs = (np.array([str(r) for r in table.column("run_id").to_pylist()], dtype=object)
                if "run_id" in table.column_names else np.full(n, "?", dtype=object))
        walls = (column_seconds(table, "timestamp") if "timestamp" in table.column_names
                 else np.full(n, np.nan, dtype=np.float64))
        run, others = self._pick(table, runs, paths, walls)
        mine = runs == run
        series_rows = mine & (types == "float_series")
        steps, has_step = column_floats(table, "step")
        values, has_value = column_floats(table, "float_value")
        ok = series_rows & has_step & has_value & np.isfinite(steps)
        dropped = int((series_rows & ~ok).sum())
        mult = 1
        if ok.any():
            fast = _whole_steps(steps[ok])
            if fast is None:  # steps beyond 2**53 / 10**6: from the stored decimals, exactly
                cells = table.column("step").to_pylist()
                fast = _whole_steps_exact([cells[i] for i in np.flatnonzero(ok).tolist()])
            whole, mult = fast
            steps = np.zeros(n, dtype=whole.dtype)  # rows not ok are never read
            steps[ok] = whole
        col = Collector()
        for tag in dict.fromkeys(paths[ok].tolist()):
            m = ok & (paths == tag)
            w = walls[m]
            col.set_points(str(tag), steps[m], values[m], w, bool(np.all(np.isfinite(w))))
        notes += self._notes(path, table, run, others, types[mine], paths, mine, dropped, mult)
        series, more = col.build(src)
        return ReadResult(series, notes + more, self._meta(table, types, paths, mine))

    @staticmethod
    def _pick(table, runs, paths, walls) -> tuple[str, list[str]]:
        ids = list(dict.fromkeys(runs.tolist()))
        if len(ids) == 1:
            return ids[0], []
        created = {}
        dt = (column_seconds(table, "datetime_value") if "datetime_value" in table.column_names
              else np.full(len(runs), np.nan))
        for r in ids:
            m = runs == r
            c = dt[m & (paths == "sys/creation_time")]
            c = c[np.isfinite(c)]
            w = walls[m]
            w = w[np.isfinite(w)]
            created[r] = float(c[0]) if c.size else (float(w.min()) if w.size else -np.inf)
        order = sorted(ids, key=lambda r: created[r])
        return order[-1], list(reversed(order[:-1]))

    @staticmethod
    def _notes(path, table, run, others, types, paths, mine, dropped, mult) -> list[ReadNote]:
        src = str(path)
        where = ""
        if "project_id" in table.column_names:
            proj = table.column("project_id").to_pylist()
            idx = int(np.flatnonzero(mine)[0])
            where = f" of project {proj[idx]!r}" if proj[idx] else ""
        notes = [ReadNote(src, f"Neptune run {run!r}{where}", "info")]
        m = _PART.match(base_name(path))
        if m is not None:
            parts = sorted(p.name for p in path.parent.glob(f"{glob.escape(m.group('run'))}_part_*.parquet"))
            if len(parts) > 1:
                notes.append(ReadNote(src, f"part {m.group('n')} of {len(parts)} part files of this run: each "
                                           "part holds some of its points", "info"))
        other = other_runs_note(path, run, others, "this Parquet file")
        if other is not None:
            notes.append(other)
        if dropped:
            notes.append(ReadNote(src, f"{dropped} float_series row(s) without a step or a value skipped",
                                  "warning"))
        if mult > 1:
            notes.append(ReadNote(src, f"Neptune steps are fractional: every step multiplied by {mult} to make "
                                       "whole steps", "info"))
        kinds: dict = {}
        for t in types.tolist():
            if t in ("string_series", "histogram_series", "file_series"):
                kinds[t] = kinds.get(t, 0) + 1
        if kinds:
            shown = ", ".join(f"{k} ({v} row(s))" for k, v in sorted(kinds.items()))
            notes.append(ReadNote(src, f"not metrics, not read: {shown}", "info"))
        return notes

    @staticmethod
    def _meta(table, types, paths, mine) -> dict:
        params: dict = {}
        cols = {name: table.column(name).to_pylist() for name in set(_PARAM_TYPES.values())
                if name in table.column_names}
        for i in np.flatnonzero(mine & np.isin(types, list(_PARAM_TYPES))).tolist():
            vcol = cols.get(_PARAM_TYPES[types[i]])
            if vcol is not None and vcol[i] is not None:
                params.setdefault(str(paths[i]), vcol[i])
        return standard_meta(params)


READER = NeptuneParquetReader()

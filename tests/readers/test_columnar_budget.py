"""When CSV and JSON-lines files take pandas' C parser (issue 17): a file large enough to pay
for pandas' import on its own, or, in a process that already read a few MB of tables per line
(a sweep's worker), any file from ``SMALL_MAX_BYTES`` on. Counted, never timed: which path each
file took, whether pandas was imported, and that the tables are the same either way."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from losscheck.readers import _jsonl, _numscan, _tabular, choose
from losscheck.readers._numscan import ColumnarBudget

MB = 1_000_000


@pytest.fixture
def no_pandas(monkeypatch):
    """As in a fresh process: pandas not imported (the budget only looks it up)."""
    monkeypatch.delitem(sys.modules, "pandas", raising=False)


def test_small_files_stay_per_line_and_are_not_counted(no_pandas):
    b = ColumnarBudget()
    for _ in range(10_000):
        assert not b.columnar(_numscan.SMALL_MAX_BYTES - 1, 5 * MB)
    assert b.per_line_bytes == 0 and b.columnar_files == 0


def test_the_import_is_bought_once_the_per_line_bytes_reach_its_price(no_pandas):
    b = ColumnarBudget()
    taken = [b.columnar(MB, 5 * MB) for _ in range(8)]
    # four files read per line (4 MB), the fifth would bring the count to 5 MB: C path from it on
    assert taken == [False] * 4 + [True] * 4
    assert b.per_line_bytes == 4 * MB and b.columnar_files == 4


def test_a_file_that_pays_alone_takes_the_c_path_at_once(no_pandas):
    b = ColumnarBudget()
    assert b.columnar(5 * MB, 5 * MB)
    assert b.per_line_bytes == 0


def test_once_pandas_is_loaded_any_file_from_the_small_size_on_takes_it():
    import pandas  # noqa: F401 - loaded, as after a first large file

    b = ColumnarBudget()
    assert b.columnar(_numscan.SMALL_MAX_BYTES, 5 * MB)
    assert not b.columnar(_numscan.SMALL_MAX_BYTES - 1, 5 * MB)
    assert b.per_line_bytes == 0 and b.columnar_files == 1


def _write_runs(root: Path, n: int, rows: int) -> list[Path]:
    rng = np.random.default_rng(5)
    files = []
    for k in range(n):
        st = np.arange(rows)
        loss = 2.0 * np.exp(-4 * st / rows) + 0.05 * rng.standard_normal(rows)
        if k == 3:
            loss[rows // 3] = np.nan  # a NaN value among the numbers
        p = root / f"run{k}" / ("metrics.csv" if k % 2 else "metrics.jsonl")
        p.parent.mkdir(parents=True)
        if k % 2:
            body = "".join(f"{s},{v!r},{1e-3 * (1 + s % 7)}\n" if s != 11 else f"{s},,0.1\n"
                           for s, v in zip(st.tolist(), loss.tolist()))
            p.write_text("step,loss,lr\n" + body)
        else:
            p.write_text("".join(json.dumps({"step": s, "loss": v, "lr": 1e-3}) + "\n"
                                 for s, v in zip(st.tolist(), loss.tolist())))
        files.append(p)
    return files


def _digest(res) -> str:
    h = hashlib.sha256()
    for s in sorted(res.series, key=lambda s: s.tag):
        h.update(s.tag.encode())
        h.update(np.asarray(s.steps, dtype=np.float64).tobytes())
        h.update(np.asarray(s.values, dtype=np.float64).tobytes())
    h.update(repr(sorted((n.message, n.level) for n in res.notes)).encode())
    return h.hexdigest()


_SWEEP = """
import hashlib, json, sys
from pathlib import Path
import numpy as np
from losscheck.readers import _numscan, choose
from tests.readers.test_columnar_budget import _digest
out = []
for f in sys.argv[1:]:
    p = Path(f)
    res = choose(p).read(p)
    out.append(dict(pandas="pandas" in sys.modules, columnar=_numscan.BUDGET.columnar_files, digest=_digest(res)))
print(json.dumps(out))
"""


def test_a_sweep_buys_pandas_after_a_few_files_and_reads_the_same_tables(tmp_path, monkeypatch):
    """A fresh process reading a sweep of 25,000-row files (~0.6-1.1 MB each): the first ones per
    line without pandas, the rest through the C paths once the per-line bytes reached the price;
    every table equal to the per-line reading of the same file."""
    files = _write_runs(tmp_path, 14, 25_000)
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", _SWEEP, *map(str, files)], capture_output=True, text=True,
                         cwd=root, timeout=600)
    assert res.returncode == 0, res.stderr
    steps = json.loads(res.stdout.strip().splitlines()[-1])
    assert not steps[0]["pandas"] and steps[0]["columnar"] == 0  # the first file: per line, no import
    assert steps[-1]["pandas"]
    first = next(i for i, s in enumerate(steps) if s["columnar"])
    sizes = [f.stat().st_size for f in files]
    # bought as soon as the bytes read per line plus the file reach the price, not later
    assert sum(sizes[:first]) < _jsonl.COLUMNS_MIN_BYTES <= sum(sizes[:first + 1])
    assert steps[-1]["columnar"] == len(files) - first
    # the same tables as the per-line reading, file by file
    monkeypatch.setattr(_tabular, "PANDAS_MIN_CHARS", 10**12)
    monkeypatch.setattr(_jsonl, "COLUMNS_MIN_BYTES", 10**12)
    monkeypatch.setattr(_numscan, "SMALL_MAX_BYTES", 10**12)
    calls = []
    real = _numscan.pandas_float_columns
    monkeypatch.setattr(_numscan, "pandas_float_columns", lambda *a, **k: calls.append(1) or real(*a, **k))
    for f, s in zip(files, steps):
        assert _digest(choose(f).read(f)) == s["digest"], f
    assert not calls  # the reference really was the per-line path

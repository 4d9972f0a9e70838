"""MLflow file-store metric files (``mlruns/<exp>/<run>/metrics/<name>``).

Format (MLflow ``FileStore``, ``mlflow/store/tracking/file_store.py``; one file per
metric): each line is ``<timestamp_ms> <value> <step>`` separated by spaces (files from
MLflow before 1.0 have no step column: the line index is used). Values are Python float
text (``nan``, ``inf``, ``-inf`` allowed). Metric names containing ``/`` are stored in
sub-directories: ``metrics/train/loss`` is the tag ``train/loss``.

Meta comes from the sibling ``params/`` directory (one value per file), best effort:
``opt_learning_rate``/``learning_rate``/``lr`` -> ``learning_rate``,
``opt_clipnorm``/``max_grad_norm`` -> ``max_grad_norm``, ``epochs``, ``batch_size``,
``opt_name``/``optimizer`` -> ``optimizer``. A param that does not parse is ignored.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from losscheck.errors import ParseError, excerpt
from losscheck.model import ReadNote, ReadResult
from losscheck.readers._common import BaseReader, first_lines, parse_cell, read_data, read_text, safe_call
from losscheck.readers.interface import SNIFF
from losscheck.series import normalize

#: params file name -> (meta key, converter); the first present name wins for a key.
_PARAMS = (
    ("opt_learning_rate", "learning_rate", float), ("learning_rate", "learning_rate", float),
    ("lr", "learning_rate", float),
    ("opt_clipnorm", "max_grad_norm", float), ("max_grad_norm", "max_grad_norm", float),
    ("epochs", "epochs", int), ("num_epochs", "epochs", int),
    ("batch_size", "batch_size", int),
    ("opt_name", "optimizer", str), ("optimizer", "optimizer", str),
)


def _metrics_root(path: Path) -> Path | None:
    """The nearest ancestor directory named ``metrics`` (``None`` if there is none)."""
    for parent in path.parents:
        if parent.name == "metrics":
            return parent
    return None


def _as_int(text: str) -> int:
    x = float(text)
    if not x.is_integer():
        raise ValueError(text)
    return int(x)


def _param(text: str, conv):
    text = text.strip()
    if conv is str:
        if not text or text.lower() == "none":
            raise ValueError(text)
        return text
    if conv is int:
        return _as_int(text)
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(text)
    return x


def read_params(run_dir: Path) -> dict:
    """Standard meta from ``run_dir/params/*``; never raises (bad values are ignored)."""
    meta: dict = {}
    pdir = run_dir / "params"
    for fname, key, conv in _PARAMS:
        if key in meta:
            continue
        f = pdir / fname
        # read_data never blocks on a FIFO and reads at most 4 KiB of a param file
        value = safe_call(lambda: _param(read_data(f, 4096)[0].decode("utf-8", errors="replace"), conv))
        if value is not None:
            meta[key] = value
    return meta


_FIELDS = ("timestamp", "value", "step")


def _fields(parts: list[str]) -> tuple[float, float, int | None]:
    """``(timestamp ms, value, step or None)`` of one split metric line; the step is an
    exact Python integer (MLflow steps are int64: no rounding through a double).

    Raises:
        ValueError: with a message naming the bad column and quoting a short excerpt of it.
    """
    if len(parts) not in (2, 3):
        raise ValueError(f"{len(parts)} field(s) instead of 3")
    value = 0.0
    for k, text in enumerate(parts):
        if k == 1:
            try:
                v = parse_cell(text)
            except ValueError:
                v = None
            if v is None:
                raise ValueError(f"column 2 ({_FIELDS[k]}) is not a number: {excerpt(text)}")
            value = v
            continue
        try:
            int(text)
        except ValueError:
            raise ValueError(f"column {k + 1} ({_FIELDS[k]}) is not an integer: {excerpt(text)}") from None
    return float(int(parts[0])), value, (int(parts[2]) if len(parts) == 3 else None)


class MlflowMetricReader(BaseReader):
    """One MLflow file-store metric file: ``timestamp value step`` lines.

    ``read`` returns one series (tag = path below ``metrics/``; steps as logged; wall time
    = timestamp / 1000, seconds) and meta from ``../params``.

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: a line in the middle is not ``timestamp value [step]``; the message names
            the bad column (a bad last line is skipped with a warning instead).
    """

    name = "mlflow"
    description = "MLflow file store metric files (metrics/<name>: 'timestamp value step' lines)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        if _metrics_root(path) is None:
            return 0.0
        lines = first_lines(head, 20)
        if not lines:
            return 0.0
        for ln in lines:
            parts = ln.split()
            if len(parts) not in (2, 3):
                return 0.0
            int(parts[0])
            parse_cell(parts[1])
            if len(parts) == 3:
                int(parts[2])
        return conf["content"]

    def _read(self, path: Path) -> ReadResult:
        src = str(path)
        root = _metrics_root(path)
        tag = path.relative_to(root).as_posix() if root is not None else path.name
        text, notes = read_text(path)
        lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        ts: list[float] = []
        vals: list[float] = []
        steps: list[int] = []
        no_step = False
        for k, (i, ln) in enumerate(lines):
            parts = ln.split()
            try:
                t, v, s = _fields(parts)
            except ValueError as exc:
                if k == len(lines) - 1:
                    notes.append(ReadNote(src, f"last line ({i}) is incomplete and was skipped", "warning"))
                    break
                raise ParseError(path, f"not an MLflow metric line (expected 'timestamp value step'): {exc}",
                                 line=i) from None
            if s is None:
                no_step = True
                s = len(steps)
            ts.append(t / 1000.0)
            vals.append(v)
            steps.append(s)
        if no_step:
            notes.append(ReadNote(src, "lines without a step (MLflow < 1.0): the line index is used",
                                  "info"))
        series = []
        if steps:
            s_obj, n = normalize(tag, steps, np.array(vals), src, np.array(ts), "step")
            series.append(s_obj)
            notes.extend(n)
        meta = read_params(root.parent) if root is not None else {}
        return ReadResult(series, notes, meta)


READER = MlflowMetricReader()

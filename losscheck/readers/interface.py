"""The reader interface: one module per log format, each exposing ``READER``.

A reader never writes anything and never guesses from the user: it is chosen by file name
and content (:meth:`Reader.sniff`). Readers keep every point (no reservoir sampling) and
every non-finite value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from losscheck.model import ReadResult

#: How many leading bytes :func:`losscheck.readers.choose` reads once and hands to ``sniff``.
HEAD_BYTES = 65536

#: File name endings of binaries no reader owns (checkpoints, arrays, images, archives,
#: compiled code): discovery never sniffs them (:data:`losscheck.discovery.SKIP_SUFFIXES`) and
#: the text-log reader never claims them on content.
BINARY_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".h5", ".pkl", ".npy", ".npz",
                   ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".pyc", ".so", ".zip", ".tar",
                   ".onnx", ".msgpack", ".model", ".tflite", ".parquet.tmp", ".tar.gz", ".tgz", ".tar.bz2",
                   ".tbz2", ".tar.xz", ".txz")

#: Every sniff confidence, in one table: reader name -> case -> confidence (0 to 1; a file
#: goes to the reader with the highest, ties to the first reader in module-name order, and
#: 0 is "not mine"). Readers return these, never literals, so the order between readers can
#: be read here at a glance. The scale:
#:
#: ======  ===========================================================================
#: 0.95    the format's own file name *and* its content (or a binary magic plus schema)
#: 0.8-0.9 the content alone says so (renamed file), or the name with weaker content
#: 0.5-0.7 a specific CSV/JSON layout recognised by its header, or the name only
#: 0.2-0.4 generic readers (any CSV, any JSON lines, text logs): any specific reader wins
#: 0.1-0.3 a store named like the format whose content cannot be checked here (``read``
#:         then says why: a truncated database, pyarrow missing)
#: ======  ===========================================================================
SNIFF: dict[str, dict[str, float]] = {
    "tensorboard": {"named": 0.95, "content": 0.8},
    "wandb": {"named": 0.95, "content": 0.9},
    "hf-trainer-state": {"named": 0.95, "content": 0.9, "named-only": 0.6},
    "llamafactory": {"content": 0.95, "named-empty": 0.5},
    "mlflow-sqlite": {"schema": 0.95, "metrics-table": 0.8, "named-only": 0.3},
    "neptune-parquet": {"schema": 0.95, "named-only": 0.3},
    "trackio": {"sqlite-schema": 0.95, "sqlite-metrics": 0.9, "parquet-schema": 0.9,
                "sqlite-unchecked": 0.1, "parquet-unchecked": 0.15},
    "yolo-results": {"named": 0.95, "content": 0.85},
    "detectron2": {"named": 0.9, "content": 0.8},
    "mlflow": {"content": 0.9},
    "lightning-csv": {"named": 0.9, "content": 0.7},
    "keras-csv": {"log": 0.85, "csv": 0.6},
    "wandb-csv": {"panel-named": 0.65, "panel": 0.6, "history": 0.5},
    "jsonl": {"jsonl": 0.4, "json": 0.35, "text": 0.25},
    # a JSON document of a history (json_history.py): by content; above the text reader on a
    # non-.json name (Chainer's ``log``), below the JSON-lines reader on a .json name
    "json-history": {"json": 0.3, "other": 0.35},
    "csv": {"table": 0.3, "text": 0.2, "one-column": 0.1},
    # text_logs.py (owned elsewhere) returns 0.3 for a window of recognised metric lines, 0.15
    # when the name is not a text-log name (``log``, ``R50-FPN_log.py``, ``run.b``)
    "text-log": {"metric-lines": 0.3, "other-name": 0.15},
}

#: Reader module -> the name of its ``READER`` (its row of :data:`SNIFF`). With it
#: :func:`losscheck.readers.choose` imports and asks a reader only while its highest confidence
#: could still beat the best claim so far (a tie goes to the earlier module), so a CSV run never
#: loads the text-log grammar. A module missing here is always imported and asked.
READER_MODULES = {
    "csv_generic": "csv", "detectron2": "detectron2", "hf_trainer_state": "hf-trainer-state",
    "json_history": "json-history", "jsonl_generic": "jsonl", "keras_csv": "keras-csv", "lightning": "lightning-csv",
    "llamafactory": "llamafactory", "mlflow": "mlflow", "mlflow_sqlite": "mlflow-sqlite",
    "neptune_parquet": "neptune-parquet", "tensorboard": "tensorboard", "text_logs": "text-log",
    "trackio_store": "trackio", "wandb_binary": "wandb", "wandb_csv": "wandb-csv", "yolov5": "yolo-results",
}


class Reader(ABC):
    """One log format.

    Class attributes:
        name: short identifier shown in reports (``"tensorboard"``, ``"hf-trainer-state"``).
        description: one line for ``losscheck formats`` and docs.
    """

    name: str = ""
    description: str = ""

    @abstractmethod
    def sniff(self, path: Path, head: bytes) -> float:
        """How sure this reader is that it reads ``path``: 0 (not mine) to 1.

        Args:
            path: the file.
            head: its first :data:`HEAD_BYTES` bytes (fewer for small files; the gzip
                layer, if any, already removed).
        Must not raise.
        """

    def run_key(self, path: Path) -> str | None:
        """The run a file stands for inside its folder, for stores that keep several runs
        side by side (a Trackio ``<project>.db`` per project, ``mlflow.db``, neptune-exporter
        ``<run>_part_<n>.parquet`` parts): discovery makes ``<folder>/<key>`` its own run,
        so two stores in one folder are never merged. ``None`` (the default): the file
        belongs to the run of its folder."""
        return None

    @abstractmethod
    def read(self, path: Path) -> ReadResult:
        """Read every scalar series in ``path``.

        Raises:
            losscheck.errors.UnreadableFile: the file cannot be opened or read.
            losscheck.errors.ParseError: the content cannot be parsed (message names the
                line or byte offset where known).
        Partial damage (a truncated last line or record) is not an error: read what is
        there and add a warning :class:`~losscheck.model.ReadNote`.
        """

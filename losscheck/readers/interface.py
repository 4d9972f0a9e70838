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

"""Log readers, one module per format; this module finds them and picks one per file.

A new format is one new module in this package that defines ``READER = MyReader()``
(a :class:`~losscheck.readers.interface.Reader`). Modules whose names start with ``_``
and ``interface`` are helpers, not readers.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path

from losscheck.readers.interface import HEAD_BYTES, READER_MODULES, SNIFF, Reader


@lru_cache(maxsize=1)
def reader_modules() -> tuple[str, ...]:
    """The names of this package's reader modules, in name order, without importing any."""
    return tuple(sorted(info.name for info in pkgutil.iter_modules(__path__)
                        if not info.name.startswith("_") and info.name != "interface"))


def _module_reader(module: str) -> Reader | None:
    """The ``READER`` of reader module ``module`` (imported here), or ``None``."""
    reader = getattr(importlib.import_module(f"{__name__}.{module}"), "READER", None)
    return reader if isinstance(reader, Reader) else None


def _highest(module: str) -> float:
    """The highest confidence the reader of ``module`` can give (its :data:`SNIFF` row; 1
    for a module :data:`READER_MODULES` does not list)."""
    row = SNIFF.get(READER_MODULES.get(module, ""))
    return max(row.values()) if row else 1.0


@lru_cache(maxsize=1)
def all_readers() -> tuple[Reader, ...]:
    """Every reader in this package, in module-name order (imports every reader module)."""
    return tuple(r for r in map(_module_reader, reader_modules()) if r is not None)


def read_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    """The first ``n`` bytes of ``path`` (decompressed when it ends in ``.gz``).

    Never blocks (a FIFO is refused, not opened for a blocking read). A truncated ``.gz``
    gives what could be decompressed.

    Raises:
        UnreadableFile: not a regular file, permission denied, I/O error, or a ``.gz`` file
            of which nothing can be decompressed.
    """
    from losscheck.readers._common import read_data

    return read_data(Path(path), n)[0]


def choose(path: Path, head: bytes | None = None) -> Reader | None:
    """The reader most sure it reads ``path``, or ``None`` when none claims it.

    Raises:
        UnreadableFile: when the head of the file cannot be read.
    """
    if head is None:
        head = read_head(path)
    best, best_score = None, 0.0
    for module in reader_modules():
        if best_score >= _highest(module):
            continue  # it cannot win (a tie goes to the earlier reader): not imported, not asked
        reader = _module_reader(module)
        if reader is None:
            continue
        try:
            score = float(reader.sniff(path, head))
        except Exception:  # a sniff must never take the whole run down
            score = 0.0
        if score > best_score:
            best, best_score = reader, score
    return best

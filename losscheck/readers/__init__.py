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

from losscheck.readers.interface import HEAD_BYTES, Reader


@lru_cache(maxsize=1)
def all_readers() -> tuple[Reader, ...]:
    """Every reader in this package, in module-name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "interface":
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        reader = getattr(mod, "READER", None)
        if isinstance(reader, Reader):
            found.append(reader)
    return tuple(found)


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
    for reader in all_readers():
        try:
            score = float(reader.sniff(path, head))
        except Exception:  # a sniff must never take the whole run down
            score = 0.0
        if score > best_score:
            best, best_score = reader, score
    return best

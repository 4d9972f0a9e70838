"""File writing shared by the CLI and the training callbacks (no printing, no CLI errors)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomic(output: str | os.PathLike, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (bytes, or pieces of them written in turn) to ``output`` atomically.

    The bytes go to a temporary file in the target's folder, are flushed to disk, and the
    file is renamed over the target, so a reader never sees half a report and a failure
    leaves the previous file as it was; the temporary file is removed on any failure
    (``KeyboardInterrupt`` included). A symlink is written through (its target is replaced);
    a new file gets the usual ``0666 & ~umask`` mode, an existing one keeps its mode. A
    target that is not a regular file (``/dev/null``, a FIFO) is written in place: there is
    nothing to replace.

    Raises:
        OSError: the folder is missing or not writable, the disk is full, the target is a
            directory, ...
    """
    try:
        st = os.stat(output)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        with open(output, "wb") as fh:  # /dev/stdout, /dev/null, a FIFO: as named
            _write(fh, data)
        return
    target = Path(os.path.realpath(output))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        if st is not None and stat.S_ISREG(st.st_mode):
            mode = stat.S_IMODE(st.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write(fh, data: bytes | Iterable[bytes]) -> None:
    if isinstance(data, (bytes, bytearray, memoryview)):
        fh.write(data)
        return
    for piece in data:
        fh.write(piece)

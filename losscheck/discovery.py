"""Find log files under a path and group them into runs (the read stage's front door).

A path may be one file, one run directory, or a tree of many runs (a sweep). Each
directory that holds recognised logs is one run, except directories whose names mark them
as part of an enclosing run's layout (:data:`NESTED_DIRS`: MLflow's ``metrics/``,
Keras' ``train/`` and ``validation/`` TensorBoard sub-folders, W&B's ``files/``, HF
``checkpoint-N/`` copies...), which are merged into the nearest enclosing directory.

Directories with regular files of their own but no recognised log, and no run inside them,
are reported as "no supported log found" (unless one of their files already has an error of
its own). Nothing is ever written. Symlinked directories are followed, but each directory and
each file is visited once (by device and inode), so symlink loops end and a file reachable
by two names (a symlink or hard link beside its target) is not read twice. FIFOs, devices
and sockets are never opened (checked with ``stat`` before sniffing, and again with
``fstat`` on a non-blocking descriptor when read: :func:`losscheck.readers._common.open_regular`).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from losscheck.errors import LosscheckError, NoLogsFound, UnreadableFile
from losscheck.readers import choose, read_head
from losscheck.readers.interface import Reader

#: Directory names that belong to an enclosing run rather than being runs themselves.
NESTED_DIRS = re.compile(
    r"^(metrics|params|tags|artifacts|train|training|validation|valid|val|eval|evaluation|test|"
    r"tensorboard|tensorboard_logs|tb|tb_logs|logs|files|plugins|profile|checkpoint-\d+|"
    r"checkpoint_\d+|ckpt-\d+)$", re.IGNORECASE)

#: File names never worth sniffing (large binaries, checkpoints, code).
SKIP_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".h5", ".pkl", ".npy", ".npz",
                 ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".py", ".pyc", ".so", ".zip", ".tar",
                 ".onnx", ".msgpack", ".model", ".tflite", ".parquet")


class FailedReader(Reader):
    """Stands for a file that could not even be sniffed (permission denied, I/O error):
    it stays in its run, and :meth:`read` raises the original error, so the pipeline treats
    it like any other unreadable file (a note, or a failure of the run under ``--strict``)."""

    name = "unreadable"
    description = "a file that could not be read during discovery"

    def __init__(self, error: LosscheckError) -> None:
        self.error = error

    def sniff(self, path: Path, head: bytes) -> float:
        """Never chosen for anything: 0."""
        return 0.0

    def read(self, path: Path):
        """Raises the error met during discovery (:class:`UnreadableFile` usually)."""
        raise self.error


@dataclass
class LogFile:
    """A recognised log file and the reader chosen for it."""

    path: Path
    reader: Reader


@dataclass
class RunFiles:
    """The log files of one run (``root`` is the run directory, or the file itself)."""

    root: Path
    files: list[LogFile] = field(default_factory=list)


@dataclass
class Discovery:
    """Runs found under a path, plus per-path problems (``errors``: path -> error)."""

    runs: list[RunFiles]
    errors: list[LosscheckError]


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name in ("__pycache__", "node_modules")


def _run_root(file_dir: Path, top: Path) -> Path:
    """Climb out of nested layout folders (never above ``top``)."""
    d = file_dir
    while d != top and NESTED_DIRS.match(d.name) and top in d.parents:
        d = d.parent
    return d


def _sniff(path: Path) -> Reader | None:
    if path.name.endswith(SKIP_SUFFIXES):
        return None
    return choose(path, read_head(path))


def discover(path: str | os.PathLike) -> Discovery:
    """Find runs under ``path``.

    Args:
        path: a log file, a run directory, or a directory tree of runs.
    Returns:
        A :class:`Discovery`; runs are sorted by path. A directory that cannot be listed is
        in ``errors``; a file that cannot be read stays in its run with a
        :class:`FailedReader` (so ``--strict`` fails that run), and the walk goes on.
    Raises:
        NoLogsFound: ``path`` does not exist, or holds no recognised log at all and no
            other error explains why.
        UnreadableFile: ``path`` itself is a FIFO/device, or cannot be read.
    """
    top = Path(path)
    try:
        st = top.stat()
    except FileNotFoundError:
        raise NoLogsFound(top, "no such file or directory") from None
    except OSError as exc:
        raise UnreadableFile(top, f"cannot access: {exc.strerror or exc}") from None

    if stat.S_ISREG(st.st_mode):
        reader = _sniff(top)
        if reader is None:
            raise NoLogsFound(top, "not a supported log file (no reader recognises its name and content)")
        return Discovery([RunFiles(top, [LogFile(top, reader)])], [])
    if not stat.S_ISDIR(st.st_mode):
        raise UnreadableFile(top, "not a regular file or directory (FIFO, socket or device): not read")

    runs: dict[Path, RunFiles] = {}
    errors: list[LosscheckError] = []
    dirs_with_files: list[Path] = []
    dirs_with_errors: set[Path] = set()
    seen_dirs: set[tuple[int, int]] = {(st.st_dev, st.st_ino)}
    seen_files: set[tuple[int, int]] = set()

    def onerror(exc: OSError) -> None:
        errors.append(UnreadableFile(exc.filename or top, f"cannot list directory: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=True):
        here = Path(dirpath)
        keep_dirs = []
        for d in sorted(dirnames):
            if _is_hidden(d):
                continue
            try:
                dst = (here / d).stat()
            except OSError:
                continue  # dangling or looping symlink
            key = (dst.st_dev, dst.st_ino)
            if key in seen_dirs:
                continue  # already walked (a symlink loop, or a second name for it)
            seen_dirs.add(key)
            keep_dirs.append(d)
        dirnames[:] = keep_dirs
        regular = False
        for name in sorted(filenames):
            if _is_hidden(name):
                continue
            fp = here / name
            try:
                fst = fp.stat()
            except OSError as exc:
                if not fp.is_symlink():
                    errors.append(UnreadableFile(fp, f"cannot stat: {exc.strerror or exc}"))
                continue  # a dangling symlink: nothing to read
            if not stat.S_ISREG(fst.st_mode):
                continue  # FIFO, socket, device: never opened
            regular = True
            key = (fst.st_dev, fst.st_ino)
            if key in seen_files:
                continue  # the same file under another name (symlink / hard link)
            seen_files.add(key)
            try:
                reader = _sniff(fp)
            except LosscheckError as exc:
                # kept in its run: read_run notes it, or fails the run under --strict
                reader = FailedReader(exc)
                dirs_with_errors.add(here)
            if reader is None:
                continue
            root = _run_root(here, top)
            runs.setdefault(root, RunFiles(root)).files.append(LogFile(fp, reader))
        if regular and not NESTED_DIRS.match(here.name):
            dirs_with_files.append(here)

    run_roots = set(runs)
    for d in dirs_with_files:
        if d in run_roots or d in dirs_with_errors:
            continue
        # an ancestor of a run (a sweep folder with a README) is not a run without logs
        if any(d in r.parents for r in run_roots):
            continue
        errors.append(NoLogsFound(d, "no supported log found"))

    if not runs and not errors:
        raise NoLogsFound(top, "no supported log found (empty directory tree)")
    return Discovery([runs[k] for k in sorted(runs)], errors)

"""Where bytes come from when they are not files on disk: archives and standard input.

``losscheck diagnose sweep.tar.gz`` reads the tree the archive holds, and
``cat trainer_state.json | losscheck diagnose -`` reads standard input; neither is ever
written to disk. Their files are held in memory as ``{virtual path: content}`` and read
through :class:`losscheck.readers._common.memory_files`, so every reader works on them
unchanged. A virtual path is the archive's path joined with the member's name
(``sweep.tar.gz/run1/metrics.csv``), or ``<stdin>/<name>`` where ``<name>`` is the file name
whose reader recognised the content (``<stdin>/trainer_state.json``).

Limits (documented in README): a member, or standard input, may inflate to at most
:data:`~losscheck.readers._common.MAX_INFLATED_BYTES`; the recognised logs of one archive
may total at most :data:`MAX_ARCHIVE_BYTES` (they are held in memory). Past either, the
archive is an :class:`~losscheck.errors.UnreadableFile`.
"""

from __future__ import annotations

import io
import lzma
import os
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

from losscheck.errors import UnreadableFile
from losscheck.readers._common import MAX_INFLATED_BYTES, _gunzip, open_regular

#: Names read as archives when given on the command line (inside a tree they are skipped:
#: a run folder's ``dataset.zip`` is not a log).
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
ARCHIVE_SUFFIXES = TAR_SUFFIXES + ZIP_SUFFIXES

#: The recognised logs of one archive are held in memory: at most this many bytes in all.
MAX_ARCHIVE_BYTES = 4 << 30

#: The virtual folder that standard input's one file sits in.
STDIN_ROOT = "<stdin>"

#: File names tried, in order, to find the reader of content that came without a name
#: (standard input): each reader recognises its own file names and content.
STDIN_NAMES = ("trainer_state.json", "trainer_log.jsonl", "metrics.json", "metrics.csv", "results.csv",
               "training.log", "stdin.jsonl", "stdin.csv", "stdin.log", "stdin.json")

#: The same for binary content (a NUL byte among the first 8 bytes, as TFRecord and W&B
#: files have and no text log does).
STDIN_BINARY_NAMES = ("events.out.tfevents.0.stdin", "run-stdin.wandb")


def is_archive(path: Path) -> bool:
    """Whether ``path`` is named like a tar or zip archive."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_name(name: str) -> str | None:
    """A member name as a relative POSIX path inside the archive, or ``None`` for names
    that point outside it (absolute, ``..``) or into hidden folders."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", ".")]
    if not parts or any(p == ".." for p in parts) or any(p.startswith(".") or p == "__pycache__" for p in parts):
        return None
    return "/".join(parts)


def _bounded(fh: BinaryIO, path: Path, member: str) -> bytes:
    """At most :data:`MAX_INFLATED_BYTES` of ``fh``; more is an error naming the member."""
    data = fh.read(MAX_INFLATED_BYTES + 1)
    if len(data) > MAX_INFLATED_BYTES:
        raise UnreadableFile(path, f"member {member} inflates to more than {MAX_INFLATED_BYTES >> 30} GiB "
                                   "(a decompression bomb?): not read")
    return data


def _inflate(data: bytes, path: Path, name: str) -> bytes:
    """A ``.gz`` member's content gunzipped (as much as can be: a cut stream gives what it
    holds), within :data:`MAX_INFLATED_BYTES`; other members unchanged."""
    if not (name.endswith(".gz") and data[:2] == b"\x1f\x8b"):
        return data
    data, _ = _gunzip(io.BytesIO(data), MAX_INFLATED_BYTES + 1)
    if len(data) > MAX_INFLATED_BYTES:
        raise UnreadableFile(path, f"member {name} inflates to more than {MAX_INFLATED_BYTES >> 30} GiB "
                                   "(a decompression bomb?): not read")
    return data


def archive_members(path: Path, wanted) -> Iterator[tuple[str, bytes]]:
    """The regular files of a tar or zip archive, streamed once, never written to disk.

    Args:
        path: the archive (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip``).
        wanted: ``wanted(name) -> bool``; members it refuses are skipped without being
            inflated where the format allows (zip) or read past (tar streams).
    Yields:
        ``(name, content)``: the member's relative POSIX name and its bytes. Links, devices,
        folders, names outside the archive (absolute or ``..``) and hidden files are skipped.
    Raises:
        UnreadableFile: the file is not the archive its name says, is corrupt or cut short,
            or a member is larger than the limits in the module docstring.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        if path.name.lower().endswith(ZIP_SUFFIXES):
            yield from _zip_members(fh, path, wanted)
        else:
            yield from _tar_members(fh, path, wanted)


def _tar_members(fh: BinaryIO, path: Path, wanted) -> Iterator[tuple[str, bytes]]:
    try:
        tf = tarfile.open(fileobj=fh, mode="r|*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnreadableFile(path, f"not a readable tar archive, though named like one ({exc})") from None
    total = 0
    try:
        for member in tf:
            name = _safe_name(member.name)
            if name is None or not member.isreg() or not wanted(name):
                continue
            if member.size > MAX_INFLATED_BYTES:
                raise UnreadableFile(path, f"member {name} is {member.size} bytes, over the "
                                           f"{MAX_INFLATED_BYTES >> 30} GiB limit: not read")
            src = tf.extractfile(member)
            if src is None:
                continue
            data = _inflate(_bounded(src, path, name), path, name)
            total += len(data)
            if total > MAX_ARCHIVE_BYTES:
                raise UnreadableFile(path, f"its logs hold more than {MAX_ARCHIVE_BYTES >> 30} GiB: "
                                           "extract it and diagnose the folder")
            yield name, data
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise UnreadableFile(path, f"corrupt or truncated tar archive ({exc})") from None
    finally:
        tf.close()


def _zip_members(fh: BinaryIO, path: Path, wanted) -> Iterator[tuple[str, bytes]]:
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnreadableFile(path, f"not a readable zip archive, though named like one ({exc})") from None
    total = 0
    with zf:
        for info in zf.infolist():
            name = _safe_name(info.filename)
            if name is None or info.is_dir() or not wanted(name):
                continue
            mode = (info.external_attr >> 16) & 0o170000
            if mode and mode != 0o100000:
                continue  # a symlink or device stored in the zip
            if info.file_size > MAX_INFLATED_BYTES:
                raise UnreadableFile(path, f"member {name} inflates to {info.file_size} bytes, over the "
                                           f"{MAX_INFLATED_BYTES >> 30} GiB limit: not read")
            try:
                with zf.open(info) as src:
                    data = _inflate(_bounded(src, path, name), path, name)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                raise UnreadableFile(path, f"member {name} cannot be read ({exc})") from None
            total += len(data)
            if total > MAX_ARCHIVE_BYTES:
                raise UnreadableFile(path, f"its logs hold more than {MAX_ARCHIVE_BYTES >> 30} GiB: "
                                           "extract it and diagnose the folder")
            yield name, data


def read_stdin(stream: BinaryIO | None = None) -> bytes:
    """All of standard input (gunzipped when it is gzip data), at most
    :data:`MAX_INFLATED_BYTES`.

    Raises:
        UnreadableFile: standard input is a terminal (nothing piped in: reading would wait
            for typing), or larger than the limit.
    """
    if stream is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UnreadableFile(Path("-"), "standard input is a terminal: pipe a log in "
                                            "(cat trainer_state.json | losscheck diagnose -)")
        stream = sys.stdin.buffer
    data = stream.read(MAX_INFLATED_BYTES + 1)
    if data[:2] == b"\x1f\x8b":
        data, _ = _gunzip(io.BytesIO(data), MAX_INFLATED_BYTES + 1)
    if len(data) > MAX_INFLATED_BYTES:
        raise UnreadableFile(Path("-"), f"standard input holds more than {MAX_INFLATED_BYTES >> 30} GiB: "
                                        "save it to a file")
    return data

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
may total at most the gzip limits applied to the whole archive (``--max-inflated``, or
``--max-ratio`` times the archive's size when more; :func:`_archive_limit`) and never more
than :data:`MAX_ARCHIVE_BYTES` (they are held in memory). Past either, the archive is an
:class:`~losscheck.errors.UnreadableFile`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, Iterator

from losscheck.errors import UnreadableFile
from losscheck.readers._common import INFLATE, MAX_INFLATED_BYTES, gunzip, open_regular, size_text

#: Names read as archives when given on the command line (inside a tree they are skipped:
#: a run folder's ``dataset.zip`` is not a log).
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
ARCHIVE_SUFFIXES = TAR_SUFFIXES + ZIP_SUFFIXES

#: The recognised logs of one archive are held in memory: at most this many bytes in all.
MAX_ARCHIVE_BYTES = 4 << 30

#: A member is first read this far (inflated) to be sniffed; only a member a reader claims is
#: read whole (so a 3 GiB dataset shard beside the logs costs 64 KiB, not the limit).
SNIFF_BYTES = 65536

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


def _outside(name: str) -> str | None:
    """For a member name with a ``..`` part (a path leading outside the archive), the name
    with those parts dropped (what a reader sniffs it as), else ``None``."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", ".")]
    if ".." not in parts:
        return None
    kept = [p for p in parts if p != ".."]
    if not kept or any(p.startswith(".") or p == "__pycache__" for p in kept):
        return None
    return "/".join(kept)


def _refuse(src: IO[bytes], name: str, claim, refused: list[str] | None) -> None:
    """Append ``name`` to ``refused`` when its member (``src``, a ``..`` path) is a log a
    reader would claim; the member itself is never read further."""
    shown = _outside(name)
    if refused is None or shown is None:
        return
    head = src.read(SNIFF_BYTES)
    if shown.endswith(".gz") and head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
        except zlib.error:
            head = b""
    if claim(shown, head, probe=True):
        refused.append(name)


def _safe_name(name: str) -> str | None:
    """A member name as a relative POSIX path inside the archive, or ``None`` for names
    that point outside it (absolute, ``..``) or into hidden folders."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", ".")]
    if not parts or any(p == ".." for p in parts) or any(p.startswith(".") or p == "__pycache__" for p in parts):
        return None
    return "/".join(parts)


def archive_kind(head: bytes) -> str | None:
    """``"tar"`` or ``"zip"`` when ``head`` (the first bytes of a stream, already gunzipped)
    starts like one, else ``None``: tar's ``ustar`` magic at byte 257, zip's local header."""
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def archive_members(path: Path, claim, data: bytes | None = None, refused: list[str] | None = None,
                    stopped: list[UnreadableFile] | None = None) -> Iterator[tuple[str, bytes | None, str | None]]:
    """The regular files of a tar or zip archive, streamed once, never written to disk.

    Args:
        path: the archive (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip``), or
            the name to report for ``data``.
        claim: ``claim(name, head) -> bool``: whether a reader takes the member, from its name
            and its first :data:`SNIFF_BYTES` (inflated when it is a ``.gz``). Members it refuses
            are not read further.
        data: the archive's bytes when they are not in a file (standard input, a ``.gz`` that
            holds a tar); the kind is then told from the content.
        refused: when given, the name (as stored) of each regular member that a reader would
            claim but whose path leads outside the archive (``..``) is appended to it: it is
            never read, and the caller names it instead of losing a run silently.
        stopped: when given, an archive that turns out corrupt, cut short or past the gzip
            limits part-way ends the iteration and its :class:`UnreadableFile` is appended
            here instead of raised: the members yielded before it are kept (a truncated
            download loses only the runs after the cut).
    Yields:
        ``(name, content, problem)``: the member's relative POSIX name, its bytes (a ``.gz``
        member as stored: :func:`losscheck.readers._common.read_data` inflates it) and
        ``None``; or ``(name, None, problem)`` for a claimed member that cannot be read (over
        the size limit, corrupt), which is that file's problem only. A name that occurs twice
        (tar appends) is yielded twice, in archive order.
        Links, devices, folders, names outside the archive (absolute or ``..``) and hidden files
        are skipped; so is W&B's ``latest-run/`` folder when a ``run-*`` folder sits beside it
        (``zip -r`` follows the symlink: the same run twice).
    Raises:
        UnreadableFile: the file is not the archive its name says, or is corrupt or cut short
            (a damaged header mid-archive included: members after it would be lost); without
            ``stopped``.
    """
    opened: contextlib.AbstractContextManager[IO[bytes]]
    if data is not None:
        zipped = archive_kind(data[:512]) == "zip"
        opened = contextlib.nullcontext(io.BytesIO(data))
    else:
        zipped = path.name.lower().endswith(ZIP_SUFFIXES)
        opened = os.fdopen(open_regular(path), "rb")
    with opened as fh:
        members = (_zip_members if zipped else _tar_members)(fh, path, claim, refused)
        yield from _skip_latest_run(members if stopped is None else _until_broken(members, stopped))


def _until_broken(members: Iterator[tuple[str, bytes | None, str | None]], stopped: list[UnreadableFile]
                  ) -> Iterator[tuple[str, bytes | None, str | None]]:
    """``members`` up to the :class:`UnreadableFile` that ends them, which goes to ``stopped``."""
    try:
        yield from members
    except UnreadableFile as exc:
        stopped.append(exc)


def _skip_latest_run(members: Iterator[tuple[str, bytes | None, str | None]]
                     ) -> Iterator[tuple[str, bytes | None, str | None]]:
    """Drop ``.../latest-run/...`` members when ``.../run-*`` folders sit beside them."""
    kept = list(members)
    parents: set[str] = set()  # folders that hold a run-* folder
    for name, _, _ in kept:
        parts = name.split("/")[:-1]
        parents.update("/".join(parts[:k]) for k, part in enumerate(parts) if part.startswith("run-"))
    for name, data, problem in kept:
        parts = name.split("/")[:-1]
        if "latest-run" in parts and "/".join(parts[:parts.index("latest-run")]) in parents:
            continue
        yield name, data, problem


def _read_member(src: IO[bytes], path: Path, name: str, size: int | None, claim, compressed: int
                 ) -> tuple[bytes | None, str | None] | None:
    """Sniff a member from its first bytes, and read it whole only when claimed, at most
    what ``compressed`` bytes (the member's compressed size in a zip, the whole archive's in a
    tar) may inflate to under the gzip limits (:meth:`InflateLimits.allowed`): an archive
    bomb costs that much memory, not the machine's. ``None`` when not claimed; else
    ``(content, None)`` or ``(None, problem)``."""
    raw_head = src.read(SNIFF_BYTES)
    head = raw_head
    if name.endswith(".gz") and raw_head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw_head, SNIFF_BYTES)
        except zlib.error:
            head = b""  # corrupt from its start: claimed by name or not at all; read_data says why
    if not claim(name, head):
        return None
    limit = min(MAX_INFLATED_BYTES, INFLATE.allowed(compressed))
    why = (f"more than {size_text(limit)} from {size_text(compressed)} compressed (the gzip limits "
           "--max-inflated and --max-ratio apply to archive members too): not read")
    if size is not None and size > limit:
        return None, f"{size} bytes, {why}"
    rest = src.read(limit + 1 - len(raw_head))
    data = raw_head + rest
    if len(data) > limit:
        return None, f"inflates to {why}"
    # a .gz member is kept compressed: the readers inflate it (read_data), with the same
    # limit, and a cut or corrupt stream becomes that file's note or error
    return data, None


def _archive_limit(packed: int) -> int:
    """The most bytes the logs of one archive of ``packed`` bytes may hold in memory together:
    the gzip limits applied to the archive as a whole (``--max-inflated``, or ``--max-ratio``
    times its size when that is more), and never more than :data:`MAX_ARCHIVE_BYTES`. Each
    member is also held to the limits alone (:func:`_read_member`); without this bound, many
    small members each under the ratio could add up to gigabytes from a few megabytes."""
    return int(min(MAX_ARCHIVE_BYTES, max(INFLATE.max_bytes, INFLATE.max_ratio * packed)))


def _held(total: int, content: bytes | None, path: Path, limit: int = MAX_ARCHIVE_BYTES) -> int:
    """The bytes of logs held in memory so far, with ``content``; past ``limit`` (see
    :func:`_archive_limit`) the archive is an :class:`UnreadableFile`."""
    total += len(content or b"")
    if total > limit:
        raise UnreadableFile(path, f"its logs inflate to more than {size_text(limit)} together (--max-inflated, "
                                   "--max-ratio): a decompression bomb? Or extract it and diagnose the folder")
    return total


def _packed_size(fh: IO[bytes]) -> int:
    """The size of the archive ``fh`` holds (on disk or in memory), at least 1."""
    try:
        return max(os.fstat(fh.fileno()).st_size, 1)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass
    try:
        return max(len(fh.getbuffer()), 1)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return 1 << 30


def _compressed(path: Path, fh: IO[bytes]) -> bool:
    """Whether the tar stream in ``fh`` is compressed (gzip, bzip2, xz), told from its first
    bytes (a plain tar inflates nothing: no ratio to judge)."""
    try:
        pos = fh.tell()
        fh.seek(0)
        head = fh.read(6)
        fh.seek(pos)
    except (OSError, ValueError, io.UnsupportedOperation):
        return path.name.lower().endswith((".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz"))
    return head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00"


def _tar_members(fh: IO[bytes], path: Path, claim, refused: list[str] | None = None
                 ) -> Iterator[tuple[str, bytes | None, str | None]]:
    import lzma  # (archive modules are imported when an archive is read: start-up time)
    import tarfile

    packed = _packed_size(fh)
    try:
        tf = tarfile.open(fileobj=fh, mode="r|*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnreadableFile(path, f"not a readable tar archive, though named like one ({exc})") from None
    total, held_limit = 0, _archive_limit(packed)
    try:
        # the whole stream within the gzip ratio too: skipping an unclaimed member still
        # inflates it, so a bomb would cost minutes of CPU though no memory
        stream_limit = max(INFLATE.ratio_floor, INFLATE.max_ratio * packed) if packed < (1 << 30) else None
        for member in tf:
            if stream_limit is not None and member.offset_data + member.size > stream_limit and _compressed(path, fh):
                raise UnreadableFile(path, f"inflates to more than {INFLATE.max_ratio:g} times its size "
                                           f"({size_text(member.offset_data + member.size)} from "
                                           f"{size_text(packed)}; --max-ratio): a decompression bomb?")
            name = _safe_name(member.name)
            if name is None or not member.isreg():
                if member.isreg() and (src := tf.extractfile(member)) is not None:
                    _refuse(src, member.name, claim, refused)
                continue
            src = tf.extractfile(member)
            if src is None:
                continue
            got = _read_member(src, path, name, member.size, claim, packed)
            if got is None:
                continue
            total = _held(total, got[0], path, held_limit)
            yield (name, *got)
        # tarfile ends a stream quietly at a damaged header: whatever follows the end of
        # the archive must be the zero padding of its last blocks
        while True:
            tail = tf.fileobj.read(1 << 20)
            if not tail:
                break
            if tail.strip(b"\x00"):
                raise UnreadableFile(path, f"corrupt tar archive: a damaged header after byte {tf.offset}; "
                                           "the members after it cannot be read")
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise UnreadableFile(path, f"corrupt or truncated tar archive ({exc})") from None
    finally:
        tf.close()


def _zip_members(fh: IO[bytes], path: Path, claim, refused: list[str] | None = None
                 ) -> Iterator[tuple[str, bytes | None, str | None]]:
    import zipfile

    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnreadableFile(path, f"not a readable zip archive, though named like one ({exc})") from None
    total, held_limit = 0, _archive_limit(_packed_size(fh))
    with zf:
        for info in zf.infolist():
            name = _safe_name(info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if mode and mode != 0o100000:
                continue  # a symlink or device stored in the zip
            if name is None and not info.is_dir() and refused is not None and _outside(info.filename):
                try:
                    with zf.open(info) as src:
                        _refuse(src, info.filename, claim, refused)
                except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error):
                    refused.append(info.filename)  # cannot even be sniffed: named all the same
            if name is None or info.is_dir():
                continue
            try:
                with zf.open(info) as src:
                    got = _read_member(src, path, name, info.file_size, claim, max(info.compress_size, 1))
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
                    zlib.error) as exc:
                why = "encrypted" if "encrypted" in str(exc) else " ".join(str(exc).split())[:120]
                got = (None, f"cannot be read ({why})")
            if got is None:
                continue
            total = _held(total, got[0], path, held_limit)
            yield (name, *got)


def read_stdin(stream: BinaryIO | None = None) -> bytes:
    """All of standard input (gunzipped when it is gzip data), at most
    :data:`MAX_INFLATED_BYTES` and at most the gzip limit ``--max-inflated``
    (:data:`losscheck.readers._common.INFLATE`, 512 MiB by default): a stream that never
    ends (``< /dev/zero``) costs that much memory at most, then is refused.

    Raises:
        UnreadableFile: standard input is a terminal (nothing piped in: reading would wait
            for typing), larger than the limit, or gzip data past the gzip limits.
    """
    from losscheck.readers._common import InflateLimitError

    if stream is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UnreadableFile(Path("-"), "standard input is a terminal: pipe a log in "
                                            "(cat trainer_state.json | losscheck diagnose -)")
        stream = sys.stdin.buffer
    limit = min(MAX_INFLATED_BYTES, INFLATE.max_bytes)
    data = stream.read(limit + 1)
    if data[:2] == b"\x1f\x8b":
        try:
            data, problem = gunzip(io.BytesIO(data), None, INFLATE)
        except InflateLimitError as exc:
            raise UnreadableFile(Path("-"), f"standard input {exc}: save it to a file") from None
        if problem is not None and not data:
            raise UnreadableFile(Path("-"), f"standard input is gzip data that cannot be decompressed: {problem}")
    if len(data) > limit:
        raise UnreadableFile(Path("-"), f"standard input holds more than {size_text(limit)} (--max-inflated): "
                                        "save it to a file")
    return data


# --------------------------------------------------------------------------- URLs (fsspec)
#
# ``losscheck diagnose s3://bucket/runs/`` (or ``gs://``, ``az://``, ``hf://``, ``https://``,
# ``memory://``...) reads through fsspec (https://filesystem-spec.readthedocs.io). A URL never
# goes through ``pathlib`` as a URL: pathlib turns ``s3://b`` into ``s3:/b``. Inside the read
# stage a remote file is named by that collapsed form (a *virtual path*, as archive members
# are), its bytes are served from memory (:class:`losscheck.readers._common.memory_files`), and
# every string of the run's result is given its URL back (:func:`restore_urls`).
#
# Cost: the prefix is listed once (``fs.find``: one paginated listing on S3); the first
# :data:`SNIFF_BYTES` of every candidate file are fetched together (``fs.cat_ranges``: concurrent
# on S3, GCS, Azure) to choose its reader; a file no larger than that is then never fetched
# again (its sniff buffer is its content), a larger one is fetched whole once by the worker that
# reads its run. Nothing is ever written to the store.

#: A URL: a scheme, ``://``, then anything (fsspec chains such as ``simplecache::s3://`` too).
URL_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*::)*([A-Za-z][A-Za-z0-9+.\-]*)://")

#: Protocols whose fsspec implementation is a separate package, with the losscheck extra that
#: installs it.
URL_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure",
              "abfss": "azure", "adl": "azure"}

#: Glob characters (``fnmatch``); ``**`` spans folders.
GLOB_CHARS = frozenset("*?[")


def is_url(text: object) -> bool:
    """Whether ``text`` is a URL (``s3://...``) rather than a local path; ``file://`` URLs
    count too (:func:`local_path` turns them into paths)."""
    return isinstance(text, str) and URL_RE.match(text) is not None


def url_scheme(text: str) -> str:
    """The innermost scheme of URL ``text`` (``s3`` for ``simplecache::s3://b/k``)."""
    m = URL_RE.match(text)
    return m.group(1).lower() if m else ""


def local_path(text: str) -> str | None:
    """The local path a ``file://`` URL names (read by the local fast path), else ``None``."""
    if url_scheme(text) != "file" or "::" in text:
        return None
    from urllib.parse import unquote, urlparse

    parsed = urlparse(text)
    return unquote(parsed.path) or "/"


def collapsed(url: str) -> str:
    """The string ``pathlib`` makes of ``url`` (``s3://b//k`` -> ``s3:/b/k``): the name of a
    remote file inside the read stage."""
    return str(PurePosixPath(url))


def restore_urls(obj, scheme: str):
    """``obj`` (a result dataclass, list, dict, string...) with every collapsed URL of
    ``scheme`` (``s3:/b/k``) given its ``//`` back (``s3://b/k``), in place where it is a
    mutable container or dataclass; returns the result. Other values are left as they are."""
    pattern = re.compile(r"(?<![\w/.+-])(" + re.escape(scheme) + r"):/(?=[^/])")
    seen: set[int] = set()

    def fix(x):
        if isinstance(x, str):
            return pattern.sub(r"\1://", x) if ":/" in x else x
        if id(x) in seen or x is None or isinstance(x, (int, float, bool, bytes)):
            return x
        if isinstance(x, list):
            seen.add(id(x))
            x[:] = [fix(v) for v in x]
            return x
        if isinstance(x, tuple):
            return type(x)(*(fix(v) for v in x)) if hasattr(x, "_fields") else tuple(fix(v) for v in x)
        if isinstance(x, dict):
            seen.add(id(x))
            items = [(fix(k), fix(v)) for k, v in x.items()]
            x.clear()
            x.update(items)
            return x
        fields = getattr(x, "__dataclass_fields__", None)
        if fields is not None:
            seen.add(id(x))
            for name in fields:
                value = getattr(x, name, None)
                new = fix(value)
                if new is not value:
                    object.__setattr__(x, name, new)
            return x
        return x

    return fix(obj)


def open_fs(url: str):
    """``(filesystem, path)`` for ``url``, by ``fsspec.core.url_to_fs`` (credentials and
    endpoints come from the usual places of each backend: ``AWS_*`` variables and
    ``~/.aws`` for S3, ``AWS_ENDPOINT_URL`` for an S3-compatible store...).

    Raises:
        UsageError: fsspec, or the backend of this protocol, is not installed (one line with
            the extra to install: ``s3:// needs pip install 'losscheck[s3]'``), or the protocol
            is unknown.
        UnreadableFile: a backend that connects when made cannot connect (a network error,
            :func:`network_problem`).
    """
    from losscheck.errors import UsageError

    scheme = url_scheme(url)
    extra = URL_EXTRAS.get(scheme)
    try:
        import fsspec.core
    except ImportError:
        raise UsageError(url, "reading URLs needs fsspec: pip install fsspec") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        said = " ".join(str(exc).split())[:120].rstrip(".")
        if extra:
            raise UsageError(url, f"{scheme}:// needs pip install 'losscheck[{extra}]' ({said})") from None
        raise UsageError(url, f"{scheme}:// needs an fsspec backend that is not installed "
                              f"(fsspec says: {said})") from None
    except ValueError as exc:
        raise UsageError(url, f"cannot open this URL ({' '.join(str(exc).split())[:160]})") from None
    except OSError as exc:  # a backend that connects when made (ftp://, sftp://)
        raise UnreadableFile(url, network_problem(exc) or f"cannot open ({type(exc).__name__}: "
                                                          f"{' '.join(str(exc).split())[:160]})") from None


def network_problem(exc: BaseException) -> str | None:
    """A one-line problem when ``exc`` or an exception it was raised from (``__cause__``,
    ``__context__``: fsspec's HTTP backend turns a failed connection into
    ``FileNotFoundError``) is a network failure: the host name does not resolve (DNS), the
    connection is refused, the network or host is unreachable, or it timed out. ``None``
    otherwise. Never raises."""
    import errno
    import socket

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        name = type(e).__name__
        text = " ".join(str(e).split())
        low = text.lower()
        num = getattr(e, "errno", None)
        if isinstance(e, socket.gaierror) or "DNS" in name or "name or service not known" in low \
                or "nodename nor servname" in low or "name resolution" in low:
            return "network error: the host name does not resolve (DNS); check the URL and the network"
        if isinstance(e, ConnectionRefusedError) or num == errno.ECONNREFUSED or "connection refused" in low:
            return "network error: connection refused (nothing listens at this host and port)"
        if num in (errno.ENETUNREACH, errno.EHOSTUNREACH) or "unreachable" in low:
            return "network error: the network or host is unreachable"
        if isinstance(e, TimeoutError) or "timeout" in name.lower() or "timed out" in low:
            return "network error: the connection timed out"
        if name.startswith("ClientConnector") or isinstance(e, ConnectionError):
            return f"network error: cannot connect ({text[:160] or name})"
        e = e.__cause__ or e.__context__
    return None


def remote_problem(exc: BaseException) -> str:
    """A one-line problem for an exception a filesystem raised (missing bucket or key, access
    denied, no credentials, network)."""
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    name = type(exc).__name__
    low = text.lower()
    network = network_problem(exc)
    if network is not None:
        return network
    if isinstance(exc, FileNotFoundError) or "nosuchbucket" in low or "nosuchkey" in low:
        return "no such bucket, key or prefix"
    if isinstance(exc, PermissionError) or "accessdenied" in low or "forbidden" in low or "403" in low:
        return f"access denied: check the credentials for this store ({text})"
    if name in ("NoCredentialsError", "PartialCredentialsError") or "credentials" in low:
        return f"no usable credentials for this store ({text})"
    return f"cannot read ({name}: {text})"


@dataclass(frozen=True)
class RemoteFile:
    """A file of a run that lives behind a URL.

    Attributes:
        url: its full URL (``s3://bucket/runs/a/metrics.csv``).
        size: its size in bytes, from the listing.
        content: its whole content when it fitted in the sniff buffer (so it is never fetched
            again), else ``None`` (fetched whole by :func:`fetch_remote`).
    """

    url: str
    size: int
    content: bytes | None = None


def remote_entries(url: str) -> tuple[object, str, list[tuple[str, int]], bool]:
    """List ``url`` once: ``(fs, root, [(url of each file, size)], root_is_file)``, files
    sorted by URL. A glob (``s3://b/sweep/lr-*``) lists the matches.

    Raises:
        UsageError: see :func:`open_fs`.
        NoLogsFound: no such bucket, key or prefix (or a glob that matches nothing).
        UnreadableFile: access denied, no credentials, network errors.
    """
    from losscheck.errors import NoLogsFound

    fs, root = open_fs(url)
    root = root.rstrip("/") or root
    try:
        if GLOB_CHARS & set(root):
            infos = fs.glob(root, detail=True)
            if not infos:
                raise NoLogsFound(url, "no file or folder matches this pattern")
            files: dict[str, int] = {}
            for p, info in sorted(infos.items()):
                if info.get("type") == "directory":
                    files.update({q: int(i.get("size") or 0) for q, i in fs.find(p, detail=True).items()})
                else:
                    files[p] = int(info.get("size") or 0)
            is_file = False
        else:
            # one listing of the prefix; only when it is empty, one look-up of the name itself
            # (a file, a missing key, an empty folder)
            listed = {p: i for p, i in fs.find(root, detail=True).items() if i.get("type") != "directory"}
            is_file = False
            if not listed or set(listed) == {root}:
                info = listed.get(root) or fs.info(root)
                is_file = info.get("type") != "directory"
                listed = {root: info} if is_file else {}
            files = {p: int(i.get("size") or 0) for p, i in listed.items()}
    except (NoLogsFound, KeyboardInterrupt):
        raise
    except FileNotFoundError as exc:
        network = network_problem(exc)  # fsspec's HTTP backend says "not found" for a failed connection
        if network is not None:
            raise UnreadableFile(url, network) from None
        status = getattr(exc.__cause__ or exc.__context__, "status", None)  # an HTTP server's answer
        raise NoLogsFound(url, f"not found (HTTP {status})" if isinstance(status, int)
                          else "no such bucket, key or prefix") from None
    except Exception as exc:  # noqa: BLE001 - botocore, aiohttp, azure: one line whatever the backend
        problem = remote_problem(exc)
        if problem.startswith("no such"):
            raise NoLogsFound(url, problem) from None
        raise UnreadableFile(url, problem) from None
    unstrip = fs.unstrip_protocol
    if "::" in url:
        prefix = url[:url.rindex("::") + 2]
        unstrip = (lambda p, _u=fs.unstrip_protocol: prefix + _u(p))  # noqa: E731
    return fs, root, sorted((unstrip(p), size) for p, size in files.items()), is_file


def fetch_heads(fs, urls: list[tuple[str, int]], n: int = SNIFF_BYTES) -> list[bytes | BaseException]:
    """The first ``n`` bytes of each ``(url, size)``, fetched together (``fs.cat_ranges``:
    concurrent requests on async stores); an exception in place of a file that could not be
    read."""
    if not urls:
        return []
    paths = [fs._strip_protocol(u) for u, _ in urls]
    ends = [min(size, n) for _, size in urls]
    try:
        got = fs.cat_ranges(paths, [0] * len(paths), ends, on_error="return")
    except Exception:  # noqa: BLE001 - a backend without batched ranges: one at a time
        got = []
        for p, end in zip(paths, ends):
            try:
                got.append(fs.cat_file(p, start=0, end=end))
            except Exception as exc:  # noqa: BLE001
                got.append(exc)
    return list(got)


def fetch_remote(files: dict[str, RemoteFile]) -> tuple[dict[str, bytes], dict[str, str]]:
    """The contents of a run's remote files, by virtual path: those already held (small files)
    as they are, the others fetched whole, together (``fs.cat_ranges``), each at most
    :data:`MAX_INFLATED_BYTES`.

    Returns:
        ``(contents, problems)``: virtual path -> bytes, and virtual path -> a one-line problem
        for each file that could not be fetched.
    """
    contents: dict[str, bytes] = {}
    problems: dict[str, str] = {}
    wanted: list[tuple[str, RemoteFile]] = []
    for key, rf in files.items():
        if rf.content is not None:
            contents[key] = rf.content
        elif rf.size > MAX_INFLATED_BYTES:
            problems[key] = f"{size_text(rf.size)}: more than {size_text(MAX_INFLATED_BYTES)}, not read"
        else:
            wanted.append((key, rf))
    by_fs: dict[str, list[tuple[str, RemoteFile]]] = {}
    for key, rf in wanted:
        by_fs.setdefault(url_scheme(rf.url) + "|" + rf.url.split("://", 1)[1].split("/", 1)[0], []).append((key, rf))
    for group in by_fs.values():
        try:
            fs, _ = open_fs(group[0][1].url)
        except Exception as exc:  # noqa: BLE001
            for key, _rf in group:
                problems[key] = getattr(exc, "problem", None) or str(exc)
            continue
        got = fetch_heads(fs, [(rf.url, rf.size) for _, rf in group], n=MAX_INFLATED_BYTES + 1)
        for (key, _rf), data in zip(group, got):
            if isinstance(data, BaseException):
                problems[key] = remote_problem(data)
            else:
                contents[key] = bytes(data)
    return contents, problems


def expand_paths(given: list) -> list:
    """The paths to discover for the arguments ``given`` (``str`` or ``Path``), in order:
    a local glob (``runs/lr-*``, ``**`` spanning folders) becomes its matches, sorted (a
    pattern that matches nothing, or a name that exists as written, stays as it is: discovery
    then says why); URLs, globs in URLs included, are left to :func:`remote_entries` (listed
    once per prefix there); ``file://`` URLs become local paths. Duplicates are dropped."""
    import glob as globmod

    out: list = []
    for item in given:
        if isinstance(item, str) and is_url(item):
            local = local_path(item)
            if local is None:
                out.append(item)
                continue
            item = local
        text = str(item)
        if text != "-" and GLOB_CHARS & set(text) and not os.path.lexists(text):
            matches = sorted(globmod.glob(text, recursive=True))
            if matches:
                out.extend(matches)
                continue
        out.append(item)
    seen: set[str] = set()
    return [p for p in out if not (str(p) in seen or seen.add(str(p)))]  # type: ignore[func-returns-value]

"""Helpers shared by the readers: safe file access, error wrapping, point collection.

Nothing here is a reader (the module name starts with ``_``, so the registry in
:mod:`losscheck.readers` skips it).
"""

from __future__ import annotations

import math
import os
import stat
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from losscheck.errors import LosscheckError, ParseError, UnreadableFile
from losscheck.model import ReadNote, ReadResult, Series
from losscheck.readers.interface import Reader
from losscheck.series import normalize

#: Step-like column/key names, most specific first. ``epoch`` is last: it is only the step
#: when nothing finer is logged.
STEP_KEYS = ("step", "global_step", "Step", "_step", "iteration", "iter", "epoch")

#: Cell spellings meaning "no value here" (no point), compared lower-cased and stripped.
MISSING_TOKENS = frozenset({"", "none", "null", "na", "n/a", "<na>", "#n/a", "nil"})

#: Cell spellings of a NaN *value* (kept as a point), lower-cased.
NAN_TOKENS = frozenset({"nan", "-nan", "+nan", "nan(ind)", "-nan(ind)"})

#: Cell spellings of infinities, lower-cased, with their value.
INF_TOKENS = {"inf": math.inf, "+inf": math.inf, "infinity": math.inf, "+infinity": math.inf,
              "-inf": -math.inf, "-infinity": -math.inf}


def base_name(path: Path) -> str:
    """The file name without a trailing ``.gz`` (readers sniff the uncompressed name)."""
    name = path.name
    return name[:-3] if name.endswith(".gz") else name


_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20

#: The most bytes one compressed file (``.gz``, or an archive member) may inflate to; past it
#: the file is an :class:`~losscheck.errors.UnreadableFile` (a decompression bomb, or a log
#: far larger than any training run writes), never a machine out of memory.
MAX_INFLATED_BYTES = 2 << 30

#: Content of files that are not on disk (archive members, standard input), by path string.
#: Filled for the duration of a read by :func:`memory_files`; :func:`read_data` and
#: :func:`open_binary` look here first.
_MEMORY: dict[str, bytes] = {}


class memory_files:
    """Context manager: while it is open, the given ``{path string: content}`` files can be
    read by every reader as if they were on disk (:func:`read_data`, :func:`open_binary`).

    Used for archive members and standard input, which losscheck never writes to disk.
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def __enter__(self) -> "memory_files":
        _MEMORY.update(self.files)
        return self

    def __exit__(self, *exc) -> None:
        for key in self.files:
            _MEMORY.pop(key, None)


#: Byte-order marks of UTF-32 and UTF-16 text (what PowerShell's ``>`` writes), longest
#: first: such files are transcoded to UTF-8 as they are read.
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"), (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"),
         (b"\xff\xfe", "utf-16-le", "UTF-16 LE"), (b"\xfe\xff", "utf-16-be", "UTF-16 BE"))


def transcode_bom(data: bytes, path: Path) -> tuple[bytes, list[ReadNote]]:
    """``data`` re-encoded as UTF-8 when it starts with a UTF-16 or UTF-32 byte-order mark;
    unchanged otherwise (binary data that merely starts like a mark, with more than 1% of
    its units undecodable, is left alone). A head cut inside a code unit loses that unit
    only. Returns ``(data, notes)``; never raises."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            body = data[len(bom):]
            unit = 4 if "32" in codec else 2
            body = body[:len(body) - len(body) % unit]
            text = body.decode(codec, errors="replace")
            bad = text.count("\ufffd")
            if bad > 0.01 * max(1, len(text)):
                return data, []
            notes = [ReadNote(str(path), f"text encoded as {label} (byte-order mark); read as such", "info")]
            if bad:
                notes.append(ReadNote(str(path), f"{bad} invalid {label} code unit(s) replaced", "warning"))
            return text.encode("utf-8"), notes
    return data, []


@lru_cache(maxsize=1)
def _pseudo_devices() -> frozenset[int]:
    """Device numbers of the kernel's pseudo-file systems (procfs, sysfs, devtmpfs): their
    "regular" files (``/proc/kmsg``) can block a read forever or never end."""
    devs = set()
    for top in ("/proc", "/sys", "/dev"):
        try:
            devs.add(os.stat(top).st_dev)
        except OSError:
            continue
    try:
        devs.discard(os.stat("/").st_dev)  # a /dev that is a plain folder of the root file system
    except OSError:
        pass
    return frozenset(devs)


def open_regular(path: Path) -> int:
    """Open ``path`` for reading without ever blocking, and return the file descriptor.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor,
    so a FIFO (or a file swapped for one after discovery) cannot hang losscheck; files of the
    kernel's pseudo-file systems (``/proc/kmsg`` behind a symlink) are refused the same way.

    Raises:
        UnreadableFile: missing, permission denied, not a regular file (FIFO, socket,
            device, directory), or a kernel pseudo-file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(path, "not a regular file (FIFO, socket, device or directory): not read")
        if st.st_dev in _pseudo_devices():
            raise UnreadableFile(path, "a kernel pseudo-file (/proc, /sys, /dev): not read (a read may never "
                                       "end)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _gunzip(fh, limit: int | None) -> tuple[bytes, str | None]:
    """Decompress a (possibly multi-member) gzip stream from ``fh``, at most ``limit`` bytes
    of output (all when ``None``). Returns ``(data, problem)``: ``problem`` says why the
    stream ended early (truncated or corrupt), ``None`` when it ended cleanly."""
    out: list[bytes] = []
    size = 0
    d = None
    consumed = 0
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        while chunk:
            if d is None:
                if not chunk.strip(b"\x00"):
                    chunk = b""  # zero padding after the last member
                    break
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                piece = d.decompress(chunk, 0 if limit is None else max(1, limit - size))
            except zlib.error as exc:
                return b"".join(out), f"corrupt gzip data after {size} decompressed byte(s) ({exc})"
            out.append(piece)
            size += len(piece)
            consumed += len(chunk)
            if limit is not None and size >= limit:
                return b"".join(out)[:limit], None
            if d.eof:
                chunk = d.unused_data
                d = None
            elif d.unconsumed_tail:
                chunk = d.unconsumed_tail
            else:
                chunk = b""
    if d is not None and not d.eof:
        return b"".join(out), f"gzip stream ends early after {size} decompressed byte(s) (truncated file?)"
    return b"".join(out), None


def read_data(path: Path, limit: int | None = None) -> tuple[bytes, list[ReadNote]]:
    """The content of ``path`` (gunzipped when the name ends in ``.gz``), with notes.

    A ``.gz`` file that is cut short or corrupt yields what could be decompressed, with a
    warning (a job killed while compressing); a ``.gz`` file that is not gzip at all is read
    as plain bytes, with a note. Never blocks on a FIFO (see :func:`open_regular`).

    Args:
        limit: read at most this many (decompressed) bytes; ``None`` = everything.
    Returns:
        ``(data, notes)``.
    Raises:
        UnreadableFile: not a regular file, permission denied, I/O error, or a ``.gz`` file
            of which not a single byte can be decompressed.
    """
    memory = _MEMORY.get(str(path))
    if memory is not None:  # already inflated (see losscheck.sources)
        data = memory if limit is None else memory[:limit]
        return transcode_bom(data, path)
    data, notes = _read_disk(path, limit)
    data, more = transcode_bom(data, path)
    return data, notes + more


def _read_disk(path: Path, limit: int | None) -> tuple[bytes, list[ReadNote]]:
    """:func:`read_data` for a file on disk, before any transcoding."""
    fd = open_regular(path)
    notes: list[ReadNote] = []
    try:
        with os.fdopen(fd, "rb") as fh:
            if path.name.endswith(".gz"):
                magic = fh.read(2)
                fh.seek(0)
                if magic == _GZIP_MAGIC:
                    data, problem = _gunzip(fh, limit if limit is not None else MAX_INFLATED_BYTES + 1)
                    if limit is None and len(data) > MAX_INFLATED_BYTES:
                        raise UnreadableFile(path, f"decompresses to more than {MAX_INFLATED_BYTES >> 30} GiB "
                                                   "(a decompression bomb?): not read")
                    if problem is not None:
                        if not data:
                            raise UnreadableFile(path, f"cannot decompress: {problem}")
                        notes.append(ReadNote(str(path), f"{problem}; read what could be decompressed",
                                              "warning"))
                    return data, notes
                if magic:
                    notes.append(ReadNote(str(path), "named .gz but not gzip-compressed; read as plain "
                                                     "text", "warning"))
            return (fh.read() if limit is None else fh.read(limit)), notes
    except LosscheckError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def open_binary(path: Path):
    """A binary file object for reading ``path`` in blocks (``.read(n)``): the file itself, or
    for a ``.gz`` name the decompressed content in memory (see :func:`read_data`).

    Raises:
        UnreadableFile: as :func:`open_regular` and :func:`read_data`. Errors while reading
            from the returned object are the caller's to turn into ``UnreadableFile``.
    """
    if path.name.endswith(".gz") or str(path) in _MEMORY:
        import io

        return io.BytesIO(read_bytes(path))
    return os.fdopen(open_regular(path), "rb")


def read_bytes(path: Path) -> bytes:
    """The whole content of ``path`` (see :func:`read_data`; its notes are dropped, so
    readers that can should call :func:`read_data`).

    Raises:
        UnreadableFile: as :func:`read_data`.
    """
    return read_data(path)[0]


def read_text(path: Path) -> tuple[str, list[ReadNote]]:
    """``read_data`` then :func:`decode_text`: ``(text, notes)``.

    Raises:
        UnreadableFile: as :func:`read_data`.
    """
    data, notes = read_data(path)
    text, more = decode_text(data, path)
    return text, notes + more


def decode_text(data: bytes, path: Path) -> tuple[str, list[ReadNote]]:
    """Decode file bytes as UTF-8 (a leading BOM is removed), else Latin-1 with a note.

    Returns ``(text, notes)``; never raises (Latin-1 decodes any byte string).
    """
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        note = ReadNote(str(path), f"not valid UTF-8 (byte {exc.start}); decoded as Latin-1", "warning")
        return data.decode("latin-1"), [note]


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte-order mark."""
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def head_text(head: bytes) -> str:
    """The sniff head decoded leniently (BOM removed, bad bytes replaced). Never raises."""
    return strip_bom(head).decode("utf-8", errors="replace")


def parse_cell(text: str) -> float | None:
    """One textual number: ``None`` for a missing cell, NaN/Inf for their spellings.

    ``"nan"``, ``"inf"``, ``"-Infinity"`` are values; ``""``, ``"None"``, ``"null"`` are
    missing. Raises ``ValueError`` for anything else that is not a number.
    """
    t = text.strip()
    low = t.lower()
    if low in MISSING_TOKENS:
        return None
    if low in NAN_TOKENS:
        return math.nan
    if low in INF_TOKENS:
        return INF_TOKENS[low]
    return float(t)


def json_number(value: Any) -> float | None:
    """A JSON value as a float: numbers (NaN/Inf included) only; ``None`` for null, booleans,
    strings, lists and objects."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a double
            return math.inf if value > 0 else -math.inf
    return None


def is_integral(x: float) -> bool:
    """Whether ``x`` is a finite whole number (a usable step)."""
    return math.isfinite(x) and float(x).is_integer()


class Collector:
    """Points per tag, in file order, turned into normalised series at the end.

    ``add(tag, step, value, wall)`` appends one point: ``step`` a number (NaN = no step),
    ``value`` a float (NaN/Inf kept), ``wall`` seconds since the Unix epoch or ``None``.
    """

    def __init__(self) -> None:
        self._points: dict[str, tuple[list[float], list[float], list[float]]] = {}
        self._has_wall: dict[str, bool] = {}

    def add(self, tag: str, step: float, value: float, wall: float | None = None) -> None:
        """Append one point to ``tag``."""
        pts = self._points.get(tag)
        if pts is None:
            pts = self._points[tag] = ([], [], [])
            self._has_wall[tag] = True
        pts[0].append(step)
        pts[1].append(value)
        if wall is None:
            self._has_wall[tag] = False
            pts[2].append(math.nan)
        else:
            pts[2].append(wall)

    def set_points(self, tag: str, steps: list[float], values: list[float], walls: list[float],
                   has_wall: bool) -> None:
        """Set all points of a new ``tag`` at once (``walls`` NaN where unknown; ``has_wall``
        False when any point had no wall time), as if added one by one with :meth:`add`.
        Lists or arrays of shape ``(n,)``; ``walls`` is not read when ``has_wall`` is False."""
        self._points[tag] = (steps, values, walls)
        self._has_wall[tag] = has_wall

    def drop_from(self, step: float) -> int:
        """Remove every point at a step ``>= step`` from every tag (TensorBoard's purge on a
        ``SessionLog.START``). Returns how many points were removed."""
        removed = 0
        for tag, (st, va, wt) in self._points.items():
            keep = [i for i, s in enumerate(st) if not s >= step]
            if len(keep) != len(st):
                removed += len(st) - len(keep)
                self._points[tag] = ([st[i] for i in keep], [va[i] for i in keep], [wt[i] for i in keep])
        return removed

    def tags(self) -> list[str]:
        """Tags in first-seen order."""
        return list(self._points)

    def build(self, source: str, step_unit: str = "step",
              units: dict[str, str] | None = None) -> tuple[list[Series], list[ReadNote]]:
        """Normalise every tag with :func:`losscheck.series.normalize`.

        Args:
            source: the file path recorded in each series.
            step_unit: default unit; ``units`` may override it per tag.
        Returns ``(series, notes)``; tags without points are left out.
        """
        out: list[Series] = []
        notes: list[ReadNote] = []
        for tag, (st, va, wt) in self._points.items():
            if len(st) == 0:
                continue
            unit = (units or {}).get(tag, step_unit)
            s, n = normalize(tag, st, va, source, wt if self._has_wall[tag] else None, unit)
            if len(s):
                out.append(s)
            notes.extend(n)
        return out, notes


class BaseReader(Reader):
    """A :class:`Reader` whose :meth:`read` wraps :meth:`_read` so that only
    :class:`~losscheck.errors.UnreadableFile` and :class:`~losscheck.errors.ParseError`
    (or another :class:`~losscheck.errors.LosscheckError`) can escape, each one line naming
    the file. :meth:`sniff` is wrapped the same way and returns 0 on any exception."""

    def read(self, path: Path) -> ReadResult:
        """Read ``path``; see :meth:`losscheck.readers.interface.Reader.read`.

        Raises:
            UnreadableFile: the file cannot be opened or read.
            ParseError: the content cannot be parsed (unexpected library exceptions are
                wrapped into this type).
        """
        path = Path(path)
        try:
            return self._read(path)
        except LosscheckError:
            raise
        except OSError as exc:
            raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
        except RecursionError:
            raise ParseError(path, f"{self.name}: content nested too deeply") from None
        except Exception as exc:  # pandas / json / protobuf internals: never leak them
            msg = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ParseError(path, f"{self.name}: cannot parse ({type(exc).__name__}: {msg})") from None

    def _read(self, path: Path) -> ReadResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def sniff(self, path: Path, head: bytes) -> float:
        """See :meth:`losscheck.readers.interface.Reader.sniff`; never raises."""
        try:
            path = path if isinstance(path, Path) else Path(path)
            return max(0.0, min(1.0, float(self._sniff(path, head))))
        except Exception:
            return 0.0

    def _sniff(self, path: Path, head: bytes) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


def first_lines(head: bytes, limit: int = 50) -> list[str]:
    """Up to ``limit`` complete, non-blank lines of the sniff head (the last, possibly cut,
    line is dropped when the head does not end with a newline and holds more than one line).

    A head with a NUL byte among its first 8 bytes is binary (TFRecord and W&B files start
    with a length or magic that holds one; no text log does) and has no lines. Every
    reader's sniff asks for the same head, so the split is cached (a fresh list is returned)."""
    return list(_lines(head)[:limit])


@lru_cache(maxsize=4)
def _lines(head: bytes) -> tuple[str, ...]:
    if b"\x00" in head[:8]:
        return ()
    text = head_text(head)
    lines = text.splitlines()
    if lines and not text.endswith(("\n", "\r")) and len(lines) > 1 and len(head) >= 65536:
        lines = lines[:-1]
    return tuple(ln for ln in lines if ln.strip())


def safe_call(fn: Callable[[], Any], default: Any = None) -> Any:
    """``fn()``, or ``default`` when it raises (for best-effort metadata)."""
    try:
        return fn()
    except Exception:
        return default



def steps_per_epoch(steps, epochs) -> int | None:
    """Optimizer steps per epoch from paired (global step, epoch) values logged together.

    Args:
        steps, epochs: array-likes of shape ``(n,)``; NaN/missing pairs are ignored.
    Returns:
        With fractional epochs (HF Trainer, LLaMA-Factory log ``epoch = step / steps_per_epoch``):
        the median of ``step / epoch`` over points past 0.5 epoch. With integer epochs
        (Lightning's ``epoch`` column): the median gap between the first steps of consecutive
        epochs. ``None`` when fewer than 2 usable points or the estimate is below 2 steps.
    """
    import numpy as np

    s = np.asarray(steps, dtype=np.float64)
    e = np.asarray(epochs, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(e) & (e >= 0)
    s, e = s[ok], e[ok]
    if len(s) < 2:
        return None
    if np.all(e == np.round(e)):
        firsts = [s[e == k].min() for k in np.unique(e)]
        gaps = np.diff(np.asarray(firsts))
        est = float(np.median(gaps)) if len(gaps) else None
    else:
        far = e >= 0.5
        est = float(np.median(s[far] / e[far])) if far.any() else None
    if est is None or not np.isfinite(est) or est < 2:
        return None
    return int(round(est))


def add_steps_per_epoch(meta: dict, records, step_key: str) -> None:
    """Set ``meta["steps_per_epoch"]`` from ``(line, dict)`` records holding ``step_key`` and
    ``epoch`` (HF ``log_history`` entries, LLaMA-Factory lines); unchanged when unknown."""
    spe = steps_per_epoch([json_number(r.get(step_key)) for _, r in records],
                          [json_number(r.get("epoch")) for _, r in records])
    if spe:
        meta["steps_per_epoch"] = spe

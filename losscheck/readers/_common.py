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
from typing import TYPE_CHECKING, Any, Callable, Sequence

from losscheck.errors import LosscheckError, ParseError, UnreadableFile
from losscheck.model import ReadNote, ReadResult, Series
from losscheck.readers.interface import Reader
from losscheck.series import normalize

if TYPE_CHECKING:
    import numpy as np

#: Step-like column/key names, most specific first. ``epoch`` is last: it is only the step
#: when nothing finer is logged. The plural spellings (``steps``, ``iterations``: ChainerRL's
#: tab-separated ``scores.txt`` opens with ``steps``) follow the singular ones.
STEP_KEYS = ("step", "global_step", "Step", "_step", "iteration", "iter", "steps", "iterations", "epoch")

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
#: gzip's magic and its only compression method (deflate): what a gzip file starts with
_GZIP_MAGIC3 = b"\x1f\x8b\x08"
_CHUNK = 1 << 20

#: The most bytes one compressed file (``.gz``, or an archive member) may inflate to; past it
#: the file is an :class:`~losscheck.errors.UnreadableFile` (a decompression bomb, or a log
#: far larger than any training run writes), never a machine out of memory.
MAX_INFLATED_BYTES = 2 << 30


class InflateLimits:
    """How far one gzip-compressed file (a ``.gz`` log, a log gzipped under another name, a
    ``.gz`` archive member) may inflate before it is refused as an
    :class:`~losscheck.errors.UnreadableFile` instead of filling the memory (a decompression
    bomb: 1 MB of zeros inflates to 1 GB).

    Attributes:
        max_bytes: the most bytes a file may inflate to (``--max-inflated``; default 512 MiB:
            a text log of several million lines; 256 MiB of CSV take about 1.3 GB of memory
            to read, measured on this project's CSV reader).
        max_ratio: the most inflated bytes per compressed byte, judged once ``ratio_floor``
            bytes are out (``--max-ratio``; default 16: training logs compress 3-10x with
            gzip's default level (CSV of a 10M-row run: 6.6x; console logs 5-12x), while
            bombs and blank-line files compress 100-1000x; so a file of 10 MB on disk inflates
            to at most 160 MB and its read stays under 1 GiB).
        ratio_floor: inflated bytes below which the ratio is not judged (32 MiB: a small
            file of repeated lines may compress far better than 16x and costs little; the
            worst content, blank lines, costs the CSV reader about 18 bytes of memory per
            line, so 32 MiB of them stay near 600 MB).
        step_bytes: the most bytes inflated by one call to zlib (16 MiB), so a limit is checked
            before memory grows past it by more than this.
    """

    def __init__(self, max_bytes: int = 512 << 20, max_ratio: float = 16.0, ratio_floor: int = 32 << 20,
                 step_bytes: int = 16 << 20) -> None:
        self.max_bytes = int(max_bytes)
        self.max_ratio = float(max_ratio)
        self.ratio_floor = int(ratio_floor)
        self.step_bytes = int(step_bytes)

    def as_tuple(self) -> tuple[int, float, int, int]:
        """``(max_bytes, max_ratio, ratio_floor, step_bytes)``: what a worker process needs."""
        return self.max_bytes, self.max_ratio, self.ratio_floor, self.step_bytes

    def allowed(self, compressed: int) -> int:
        """The most bytes ``compressed`` bytes may inflate to: ``max_bytes``, and no more
        than ``max_ratio`` times ``compressed`` once past ``ratio_floor``."""
        return int(min(self.max_bytes, max(self.ratio_floor, self.max_ratio * compressed)))


#: The limits of this process (set by the CLI from ``--max-inflated``/``--max-ratio``, and
#: passed to sweep workers: :func:`set_inflate_limits`).
INFLATE = InflateLimits()


def set_inflate_limits(max_bytes: int | None = None, max_ratio: float | None = None,
                       ratio_floor: int | None = None, step_bytes: int | None = None) -> None:
    """Change the gzip limits of this process (:data:`INFLATE`); ``None`` keeps a value.

    Raises:
        ValueError: a limit that is not positive.
    """
    for name, value in (("max_bytes", max_bytes), ("max_ratio", max_ratio), ("ratio_floor", ratio_floor),
                        ("step_bytes", step_bytes)):
        if value is None:
            continue
        if not value > 0:
            raise ValueError(f"{name} must be positive, not {value!r}")
        setattr(INFLATE, name, type(getattr(INFLATE, name))(value))


class InflateLimitError(Exception):
    """A gzip stream went past :data:`INFLATE` (raised by :func:`gunzip`)."""

#: Content of files that are not on disk (archive members, standard input), by path string.
#: Filled for the duration of a read by :func:`memory_files`; :func:`read_data` and
#: :func:`open_binary` look here first.
_MEMORY: dict[str, bytes] = {}


def in_memory(path: Path) -> bool:
    """Whether ``path`` is served from memory (:class:`memory_files`), not from disk."""
    return str(path) in _MEMORY


def memory_content(path: Path) -> bytes | None:
    """The raw bytes served for ``path`` by :class:`memory_files` (an archive member, standard
    input, a file fetched from a URL), or ``None`` when it is read from disk."""
    return _MEMORY.get(str(path))


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


def wide_bom(path: Path) -> str | None:
    """The encoding named by a UTF-16 / UTF-32 byte-order mark opening the raw bytes of
    ``path`` (``"UTF-16 LE"``...), or ``None`` (no such mark, a ``.gz`` file, any error): what
    PowerShell's ``>`` and ``Tee-Object`` write. Reads 4 bytes; never raises."""
    raw = memory_content(path)
    if raw is None:
        if path.name.endswith(".gz"):
            return None
        try:
            fd = open_regular(path)
        except Exception:  # noqa: BLE001 - a probe never raises
            return None
        try:
            raw = os.read(fd, 4)
        except OSError:
            return None
        finally:
            os.close(fd)
    return next((label for bom, _, label in _BOMS if raw.startswith(bom)), None)


def transcode_bom(data: bytes, path: Path) -> tuple[bytes, list[ReadNote]]:
    """``data`` re-encoded as UTF-8 when it starts with a UTF-16 or UTF-32 byte-order mark, or
    is UTF-32 or UTF-16 text without one (:func:`_bomless_utf32`, :func:`_bomless_utf16`); unchanged otherwise (binary data
    that merely starts like a mark, with more than 1% of its units undecodable, is left alone). A head cut inside a code unit loses that unit
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
    guessed = _bomless_utf32(data) or _bomless_utf16(data)
    if guessed is not None:
        unit = 4 if "32" in guessed else 2
        body = data[:len(data) - len(data) % unit]
        label = guessed.upper().replace("-LE", " LE").replace("-BE", " BE")
        return body.decode(guessed, errors="replace").encode("utf-8"), [ReadNote(
            str(path), f"text encoded as {label} without a byte-order mark; read as such", "info")]
    return data, []


def _bomless_utf32(data: bytes) -> str | None:
    """``"utf-32-le"``/``"utf-32-be"`` when ``data`` looks like ASCII-range text in UTF-32
    without a byte-order mark: in its first 4 KiB, the three high bytes of at least 90% of the
    4-byte units are NUL and the low byte never is, and the decoded sample is at least 95%
    printable text. ``None`` otherwise (then UTF-16 is tried)."""
    sample = data[:4096]
    sample = sample[:len(sample) - len(sample) % 4]
    if len(sample) < 32 or b"\x00\x00\x00" not in sample:
        return None
    lanes = [sample[k::4] for k in range(4)]
    n = len(lanes[0])
    for low, high, codec in ((0, (1, 2, 3), "utf-32-le"), (3, (0, 1, 2), "utf-32-be")):
        if lanes[low].count(0) == 0 and all(lanes[h].count(0) >= 0.9 * n for h in high):
            text = sample.decode(codec, errors="replace")
            printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
            if printable >= 0.95 * len(text):
                return codec
    return None


def _bomless_utf16(data: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when ``data`` looks like ASCII-range text in UTF-16
    without a byte-order mark: in its first 4 KiB, at least 90% of one byte lane is NUL and
    none of the other, and the decoded sample is at least 95% printable text. Binary formats
    (TFRecord, W&B) fail the lane test or the printable test. ``None`` otherwise."""
    sample = data[:4096]
    sample = sample[:len(sample) - len(sample) % 2]
    if len(sample) < 16 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    n = len(even)
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.9 * n and other.count(0) == 0:
            text = sample.decode(codec, errors="replace")
            printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
            if printable >= 0.95 * len(text):
                return codec
    return None


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


class BoundedFile:
    """A binary file object that reads a file only up to ``size``, the size it had when it was
    opened (``fstat`` on the open descriptor): a file that a running job keeps appending to is
    read as it was then, in bounded time and memory, never followed as it grows.

    Args:
        fh: a binary file object opened on a regular file (it is closed with this object).
        size: the byte count to read at most (``st_size`` at open).
    Reads return ``b""`` past ``size`` (or at the real end, when the file shrank).
    """

    def __init__(self, fh, size: int) -> None:
        self._fh = fh
        self.size = int(size)
        self._pos = 0

    def read(self, n: int | None = -1) -> bytes:
        """At most ``n`` bytes (all that is left of the first ``size`` when ``n`` is ``None`` or
        negative); ``b""`` at the end. Raises ``OSError`` on an I/O error."""
        left = self.size - self._pos
        if left <= 0:
            return b""
        want = left if n is None or n < 0 else min(n, left)
        data = self._fh.read(want)
        self._pos += len(data)
        return data

    def rewind(self) -> None:
        """Back to the first byte (the bound stays the size at open). Raises ``OSError``."""
        self._fh.seek(0)
        self._pos = 0

    def remaining(self) -> int:
        """Bytes left before ``size`` (0 at the end)."""
        return max(self.size - self._pos, 0)

    def tell(self) -> int:
        """Bytes read so far (the offset in the file)."""
        return self._pos

    def grown(self) -> int:
        """How many bytes the file has now beyond ``size`` (0 when it did not grow, or when
        it cannot be told)."""
        try:
            return max(os.fstat(self._fh.fileno()).st_size - self.size, 0)
        except (OSError, ValueError):
            return 0

    def fileno(self) -> int:
        """The underlying file descriptor."""
        return self._fh.fileno()

    def close(self) -> None:
        """Close the underlying file."""
        self._fh.close()

    def __enter__(self) -> "BoundedFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_bounded(path: Path) -> BoundedFile:
    """``path`` opened with :func:`open_regular` and wrapped in a :class:`BoundedFile` bounded
    by its size at open (taken by ``fstat`` before any byte is read).

    Raises:
        UnreadableFile: as :func:`open_regular`.
    """
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
    except OSError as exc:
        os.close(fd)
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    return BoundedFile(os.fdopen(fd, "rb"), size)


def grown_note(path: Path, size: int, grown: int) -> ReadNote:
    """The note for a file that grew by ``grown`` bytes while it was read (read up to ``size``)."""
    return ReadNote(str(path), f"the file grew by {grown} byte(s) while it was read (a run still writing?): "
                               f"read as it was when the read began ({size} bytes)", "info")


#: The longest line (bytes between two line breaks) that the line-oriented readers (JSON
#: lines, CSV) parse: a longer line is skipped and counted in a warning, like a malformed line.
#: Real lines are far shorter (a JSON-lines record with hundreds of metrics or a W&B
#: histogram is tens to hundreds of KB, a CSV header of 10,000 columns < 1 MB); a line at the
#: limit, parsed as JSON (a list of numbers costs ~20-30x its text in Python objects), stays
#: within ~0.5 GB, whereas 64 MiB could take 2 GB. Skipping a longer line costs one scan of
#: the file's bytes, without decoding or parsing that line.
MAX_LINE_BYTES = 16 << 20

# Bytes that end a line for str.splitlines() (besides multi-byte separators): a line is
# measured between two of these.
_LINE_END = bytes(b"\n\r\x0b\x0c\x1c\x1d\x1e")
_SCAN_BLOCK = 4 << 20


def long_lines(data: bytes, limit: int | None = None) -> list[tuple[int, int]]:
    """The lines of ``data`` longer than ``limit`` bytes (default :data:`MAX_LINE_BYTES`), as
    ``(start, end)`` byte ranges without their line break, in file order.

    A line is the bytes between two line-break bytes (``\\n``, ``\\r`` and the other ASCII
    separators of :meth:`str.splitlines`). O(1) when ``data`` is no longer than ``limit``.
    Otherwise a quick test first: a line longer than ``limit`` covers a whole window of
    ``h = (limit + 1) // 2`` bytes aligned on a multiple of ``h``, so when each such window
    holds a ``\\n`` (one ``memchr`` that stops at the first, every ``h`` bytes) there is none.
    Only then are the bytes scanned, in blocks of 4 MiB (a block's break positions, at most
    32 MiB, are the only temporary): O(n) either way.
    """
    import numpy as np

    limit = MAX_LINE_BYTES if limit is None else int(limit)
    n = len(data)
    if n <= limit:
        return []
    h = max((limit + 1) // 2, 1)
    if all(data.find(b"\n", a, a + h) != -1 for a in range(0, n - h + 1, h)):
        return []
    table = np.zeros(256, dtype=bool)
    table[list(_LINE_END)] = True
    arr = np.frombuffer(data, dtype=np.uint8)
    out: list[tuple[int, int]] = []
    prev = -1  # the last line break seen
    for a in range(0, n, _SCAN_BLOCK):
        brk = np.flatnonzero(table[arr[a:a + _SCAN_BLOCK]])
        if not len(brk):
            continue
        brk += a
        gaps = np.diff(brk, prepend=prev) - 1
        for i in np.flatnonzero(gaps > limit).tolist():
            out.append((int(brk[i] - gaps[i]), int(brk[i])))
        prev = int(brk[-1])
    if n - 1 - prev > limit:
        out.append((prev + 1, n))
    return out


def drop_long_lines(data: bytes, path: Path, limit: int | None = None) -> tuple[bytes, list[ReadNote]]:
    """``data`` with every line longer than ``limit`` bytes (default :data:`MAX_LINE_BYTES`)
    emptied, its line break kept (so the other lines keep their numbers), and a warning
    counting them with their line numbers (1-based, counted in ``\\n``). ``data`` itself when
    no line is that long (O(1) for data no longer than the limit, else one scan). Never
    raises."""
    spans = long_lines(data, limit)
    if not spans:
        return data, []
    limit = MAX_LINE_BYTES if limit is None else int(limit)
    pieces, at, numbers, line, counted = [], 0, [], 1, 0
    for a, b in spans:
        line += data.count(b"\n", counted, a)
        counted = a
        numbers.append(line)
        pieces.append(data[at:a])
        at = b
    pieces.append(data[at:])
    shown = ", ".join(str(k) for k in numbers[:5]) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
    note = ReadNote(str(path), f"{len(spans)} line(s) longer than {size_text(limit)} (the maximum line length) "
                               f"skipped: line {shown}", "warning")
    return b"".join(pieces), [note]


def size_text(n: int) -> str:
    """``16 MiB``, ``512 KiB``, ``100 bytes``; sizes that are not whole units are rounded
    to one decimal (``1.5 MiB``)."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            if n % (1 << shift) == 0:
                return f"{n >> shift} {unit}"
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def gunzip(fh, limit: int | None, limits: InflateLimits | None = None) -> tuple[bytes, str | None]:
    """Decompress a (possibly multi-member) gzip stream from ``fh``, at most ``limit`` bytes
    of output (all when ``None``), streamed: at most :attr:`InflateLimits.step_bytes` are
    inflated per call to zlib, and ``limits`` (when given) are checked after each call.

    Returns:
        ``(data, problem)``: ``problem`` says why the stream ended early (truncated or
        corrupt), ``None`` when it ended cleanly (or ``limit`` was reached).
    Raises:
        InflateLimitError: past ``limits.max_bytes``, or past ``limits.max_ratio`` inflated
            bytes per compressed byte read once ``limits.ratio_floor`` bytes are out (a
            head read, with ``limit`` below both, never raises).
    """
    step = limits.step_bytes if limits is not None else INFLATE.step_bytes
    out: list[bytes] = []
    size = 0
    d = None
    read = 0
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        read += len(chunk)
        while chunk:
            if d is None:
                if not chunk.strip(b"\x00"):
                    chunk = b""  # zero padding after the last member
                    break
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            want = step if limit is None else max(1, min(step, limit - size))
            try:
                piece = d.decompress(chunk, want)
            except zlib.error as exc:
                return b"".join(out), f"corrupt gzip data after {size} decompressed byte(s) ({exc})"
            out.append(piece)
            size += len(piece)
            if limit is not None and size >= limit:
                return b"".join(out)[:limit], None
            if limits is not None:
                if size > limits.max_bytes:
                    raise InflateLimitError(f"decompresses to more than {size_text(limits.max_bytes)} (--max-inflated)")
                if size > limits.ratio_floor and size > limits.max_ratio * read:
                    raise InflateLimitError(f"decompresses more than {limits.max_ratio:g} times its compressed "
                                            f"size (over {size_text(size)} from {size_text(read)}; --max-ratio): a "
                                            "decompression bomb?")
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
    as plain bytes, with a note. Never blocks on a FIFO (see :func:`open_regular`). A file on
    disk is read up to the size it had when it was opened, never past it (a file a running
    job keeps appending to is not followed: :class:`BoundedFile`); when it grew meanwhile, an
    info note says by how much (whole reads only).

    Args:
        limit: read at most this many (decompressed) bytes; ``None`` = everything (up to the
            size at open).
    Returns:
        ``(data, notes)``.
    Raises:
        UnreadableFile: not a regular file, permission denied, I/O error, or a ``.gz`` file
            of which not a single byte can be decompressed.
    """
    memory = _MEMORY.get(str(path))
    if memory is not None:  # an archive member or standard input (see losscheck.sources)
        notes: list[ReadNote] = []
        if memory[:3] == _GZIP_MAGIC3 or (path.name.endswith(".gz") and memory[:2] == _GZIP_MAGIC):
            import io

            data, notes = _inflate_gz(io.BytesIO(memory), path, limit)
        else:
            data = memory if limit is None else memory[:limit]
    else:
        data, notes = _read_disk(path, limit)
    data, more = transcode_bom(data, path)
    data, ends = _line_ends(data, path)
    return data, notes + more + ends


def _inflate_gz(fh, path: Path, limit: int | None) -> tuple[bytes, list[ReadNote]]:
    """The gunzipped content of ``fh`` (positioned at its start): at most ``limit`` bytes, or
    all within :data:`INFLATE`; a cut or corrupt stream gives what could be inflated, with a
    warning.

    Raises:
        UnreadableFile: past the limits of :data:`INFLATE` (whole reads; a head read of
            ``limit`` bytes stops there), or not a byte could be inflated.
    """
    try:
        data, problem = gunzip(fh, limit, None if limit is not None else INFLATE)
    except InflateLimitError as exc:
        raise UnreadableFile(path, f"{exc}: not read") from None
    notes: list[ReadNote] = []
    if data[:3] == _GZIP_MAGIC3:
        # read as text it is bytes that look like Latin-1 garbage: say what it is
        raise UnreadableFile(path, "gzip-compressed twice (gzip data inside gzip data): not read; decompress it "
                                   "once (gunzip) and diagnose the result")
    if problem is not None:
        if not data:
            raise UnreadableFile(path, f"cannot decompress: {problem}")
        notes.append(ReadNote(str(path), f"{problem}; read what could be decompressed", "warning"))
    return data, notes


#: Leading bytes of compressed or archive formats that are not gzip, with their names.
_OTHER_MAGIC = ((b"PK\x03\x04", "a zip archive"), (b"PK\x05\x06", "an empty zip archive"),
                (b"BZh", "bzip2-compressed data"), (b"\xfd7zXZ\x00", "xz-compressed data"),
                (b"\x28\xb5\x2f\xfd", "zstd-compressed data"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"))


def real_type(head: bytes) -> str | None:
    """What the first bytes of a file say it is, when that is a compressed or archive format
    (``"gzip-compressed data"``, ``"a zip archive"``, ...); ``None`` otherwise."""
    if head[:3] == _GZIP_MAGIC3:
        return "gzip-compressed data"
    return next((label for magic, label in _OTHER_MAGIC if head.startswith(magic)), None)


def _line_ends(data: bytes, path: Path) -> tuple[bytes, list[ReadNote]]:
    """``data`` with bare CR line ends (classic Mac OS, some exporters) turned into LF, when
    it is text (no NUL byte in its first 4 KiB) with CRs and not a single LF; unchanged
    otherwise. Returns ``(data, notes)``."""
    if b"\r" not in data or b"\n" in data or b"\x00" in data[:4096]:
        return data, []
    return data.replace(b"\r", b"\n"), [ReadNote(str(path), "lines end with a bare CR (classic Mac OS line "
                                                             "ends), read as line breaks", "info")]


def _read_disk(path: Path, limit: int | None) -> tuple[bytes, list[ReadNote]]:
    """:func:`read_data` for a file on disk, before any transcoding: at most the bytes the
    file held when it was opened (:func:`open_bounded`); a whole-file read (``limit`` is
    ``None``) of a file that grew meanwhile adds an info note (:func:`grown_note`).

    The content decides, not the name: gzip data is inflated whatever the file is called
    (with a note when the name does not end in ``.gz``), and a ``.gz`` file that holds a zip
    archive, bzip2, xz or zstd data is refused naming what it really is."""
    fh = open_bounded(path)
    notes: list[ReadNote] = []
    try:
        with fh:
            magic = fh.read(8)
            fh.rewind()
            named_gz = path.name.endswith(".gz")
            if magic[:3] == _GZIP_MAGIC3 or (named_gz and magic[:2] == _GZIP_MAGIC):
                data, notes = _inflate_gz(fh, path, limit)
                if not named_gz and limit is None:
                    notes.insert(0, ReadNote(str(path), "gzip-compressed although its name does not end in .gz; "
                                                        "decompressed", "info"))
                if limit is None and fh.grown():
                    notes.append(grown_note(path, fh.size, fh.grown()))
                return data, notes
            if named_gz and magic:
                other = real_type(magic)
                if other is not None:
                    raise UnreadableFile(path, f"named .gz but holds {other}, not gzip: not read")
                notes.append(ReadNote(str(path), "named .gz but not gzip-compressed; read as plain "
                                                 "text", "warning"))
            data = fh.read() if limit is None else fh.read(limit)
            if limit is None and fh.grown():
                notes.append(grown_note(path, fh.size, fh.grown()))
            return data, notes
    except LosscheckError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def open_binary(path: Path):
    """A binary file object for reading ``path`` in blocks (``.read(n)``, ``.remaining()``,
    ``.grown()``): for a file on disk a :class:`BoundedFile` that stops at the size the file
    had when it was opened (a file still being written is not followed); for a ``.gz`` name,
    gzip content under any name, or a file in memory, the (decompressed) content in memory (see :func:`read_data`), with
    ``remaining()`` and ``grown()`` (always 0) as well.

    Raises:
        UnreadableFile: as :func:`open_regular` and :func:`read_data`. Errors while reading
            from the returned object are the caller's to turn into ``UnreadableFile``.
    """
    if path.name.endswith(".gz") or str(path) in _MEMORY:
        return _MemoryFile(read_bytes(path))
    fh = open_bounded(path)
    try:
        gz = fh.read(3) == _GZIP_MAGIC3
        fh.rewind()
    except OSError as exc:
        fh.close()
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    if gz:  # gzip under another name: the content decides (see read_data)
        fh.close()
        return _MemoryFile(read_bytes(path))
    return fh


class _MemoryFile:
    """In-memory bytes with the reading interface of :class:`BoundedFile`."""

    def __init__(self, data: bytes) -> None:
        import io

        self._buf = io.BytesIO(data)
        self.size = len(data)

    def read(self, n: int | None = -1) -> bytes:
        """At most ``n`` bytes (the rest for ``None`` or a negative ``n``)."""
        return self._buf.read(-1 if n is None else n)

    def remaining(self) -> int:
        """Bytes left to read."""
        return self.size - self._buf.tell()

    def tell(self) -> int:
        """Bytes read so far."""
        return self._buf.tell()

    def grown(self) -> int:
        """0: bytes in memory do not grow."""
        return 0

    def close(self) -> None:
        """Release the buffer."""
        self._buf.close()

    def __enter__(self) -> "_MemoryFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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


#: Integers of larger magnitude than this are not all exact as doubles (2**53).
EXACT_DOUBLE_INT = 1 << 53
#: The int64 range of steps (:class:`~losscheck.model.Series`).
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def beyond_exact(values) -> np.ndarray | None:
    """The positions (``int64`` (k,)) of the finite values of ``values`` (``float64`` (n,))
    whose magnitude is 2**53 or more, where a double may have rounded an integer; ``None``
    when there is none. The common array costs two reductions (``fmax``/``fmin``, no
    temporary array)."""
    import numpy as np

    if not len(values):
        return None
    hi, lo = float(np.fmax.reduce(values)), float(np.fmin.reduce(values))
    if -EXACT_DOUBLE_INT < lo and hi < EXACT_DOUBLE_INT:
        return None
    with np.errstate(invalid="ignore"):
        big = np.flatnonzero((np.abs(values) >= EXACT_DOUBLE_INT) & np.isfinite(values))
    return big if len(big) else None


def json_number(value: Any) -> float | int | None:
    """A JSON value as a number: numbers (NaN/Inf included) only; ``None`` for null, booleans,
    strings, lists and objects.

    A float, except for an integer beyond +-2**53 that fits int64: it is returned as that
    exact ``int`` (a double would round it, and two steps 2**53 and 2**53 + 1 would become
    one). An integer beyond int64 is a float (``+-inf`` past the double range); as a step,
    :func:`losscheck.series.normalize` refuses it with a warning."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        if -EXACT_DOUBLE_INT <= value <= EXACT_DOUBLE_INT:
            return float(value)
        if INT64_MIN <= value <= INT64_MAX:
            return value
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

    ``add(tag, step, value, wall)`` appends one point: ``step`` a number (NaN = no step; an
    ``int`` is kept exact, beyond 2**53 too: steps are int64 end to end, see
    :func:`losscheck.series.normalize`), ``value`` a float (NaN/Inf kept), ``wall`` seconds
    since the Unix epoch or ``None``.
    """

    def __init__(self) -> None:
        # tag -> (steps, values, walls): lists from add, or whatever set_points was given
        self._points: dict[str, tuple[Any, Any, Any]] = {}
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

    def set_points(self, tag: str, steps: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray,
                   walls: Sequence[float] | np.ndarray, has_wall: bool) -> None:
        """Set all points of a new ``tag`` at once (``walls`` NaN where unknown; ``has_wall``
        False when any point had no wall time), as if added one by one with :meth:`add`.
        Lists or arrays of shape ``(n,)`` (steps: numbers, ints kept exact, or an integer or
        float array); ``walls`` is not read when ``has_wall`` is False."""
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

    def merge(self, tags: Sequence[str], into: str) -> None:
        """Replace ``tags`` (each a tag held here) by one new tag ``into`` holding their points
        in the order of ``tags`` (``into`` must not be held already)."""
        st: list = []
        va: list = []
        wt: list = []
        wall = True
        for t in tags:
            a, b, c = self._points.pop(t)
            st.extend(a)
            va.extend(b)
            wt.extend(c)
            wall = wall and self._has_wall.pop(t)
        self._points[into] = (st, va, wt)
        self._has_wall[into] = wall

    def restep(self, tag: str, steps: Sequence[float]) -> None:
        """Give the points of ``tag`` (held here) new steps, in the same order (``steps`` of
        the same length as the points; values and wall times are kept)."""
        _, va, wt = self._points[tag]
        if len(steps) != len(va):
            raise ValueError(f"{tag}: {len(steps)} steps for {len(va)} points")
        self._points[tag] = (list(steps), va, wt)

    def steps(self, tag: str) -> list:
        """The steps added to ``tag`` so far, in order (``[]`` for an unknown tag)."""
        pts = self._points.get(tag)
        return list(pts[0]) if pts is not None else []

    def tags(self) -> list[str]:
        """Tags in first-seen order."""
        return list(self._points)

    def values(self, tag: str) -> list[float]:
        """The values added to ``tag`` so far, in order (``[]`` for an unknown tag)."""
        pts = self._points.get(tag)
        return [float(v) for v in pts[1]] if pts is not None else []

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

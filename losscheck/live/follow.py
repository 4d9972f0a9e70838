"""Follow a run folder as its framework writes it, feeding what is new to a :class:`Monitor`.

Each :meth:`Follower.poll` reads from each log file only what it needs, through the file's
own reader (no second parser): the new bytes are handed to the reader as the file's whole
content (:class:`losscheck.readers._common.memory_files`).

New files appear while a run trains (a TensorBoard writer's second event file,
``checkpoint-N/`` copies, a W&B run). The tree is walked again
(:func:`losscheck.discovery.discover`) only when one of these says it may hold something new:
a folder walked last time has another modification time (a file or folder was created,
removed or renamed in it) or is gone; a file no reader claimed last time changed (it may have
grown into a log: a console log whose first lines are a config dump), except a file of at
least 64 KiB (:data:`~losscheck.readers.interface.HEAD_BYTES`, the head a sniff reads) that
only grew; a folder's modification time was within :data:`RACY_NS` of the last walk (a
second change in the same timestamp tick would not show); and in any case every
:data:`REDISCOVER_EVERY` polls. A walk sniffs only the files it has not seen with this size
and modification time (the followed files keep their readers) and its ``stat`` of each
followed file is the one the read uses. Between walks a poll costs one ``stat`` per folder,
per followed file and per unclaimed candidate file: no listing, no sniff.

==============  ======================================================================
how             formats (reader names)
==============  ======================================================================
appended lines  JSON lines (``jsonl``, ``llamafactory``, ``detectron2``): the complete lines
                after the last offset; a partial last line waits for the next poll
appended rows   CSV (``csv``, ``lightning-csv``, ``keras-csv``, ``yolo-results``,
                ``wandb-csv``): the header line followed by the new complete rows
records         TensorBoard event files: the complete TFRecord frames after the last offset
                (a frame is 12 header bytes, the payload, 4 CRC bytes)
appended text   console logs (``text-log``): only the new bytes are read from disk, but the
                layout of a console log depends on earlier lines (a header, an epoch
                banner), so the text held so far is parsed again (O(n) per poll, at most
                :data:`MAX_TEXT` bytes held)
whole file      everything else (``trainer_state.json``, which the HF Trainer rewrites at
                each save; W&B ``.wandb``; MLflow; SQLite stores): read again when its size or
                modification time changes
==============  ======================================================================

A file that shrank or whose CSV header changed was rewritten (Lightning's ``CSVLogger``
rewrites ``metrics.csv`` when a new column appears): it is read again from the start. After a
whole read, only points past each tag's last step fed are given to the monitor; appended
chunks are given whole (a resumed run's steps going back are then seen as such). A file that
shrank is a restarted run: the marks of the steps fed from it are dropped, so its points
from step 1 on reach the monitor (which then drops the old run's later points, as for a
resumed run).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from losscheck.config import Settings
from losscheck.errors import LosscheckError
from losscheck.live.monitor import Monitor, Verdict, points_by_step

LINE_READERS = frozenset({"jsonl", "llamafactory", "detectron2"})
CSV_READERS = frozenset({"csv", "lightning-csv", "keras-csv", "yolo-results", "wandb-csv"})
RECORD_READERS = frozenset({"tensorboard"})
TEXT_READERS = frozenset({"text-log"})
#: Bytes read from one file per poll at most (the rest waits for the next poll).
MAX_CHUNK = 64 << 20
#: Console-log text held per file at most; past it the file is followed no further (a note).
MAX_TEXT = 512 << 20
#: Polls between two walks of the tree when nothing said it changed: a safety net for what a
#: ``stat`` does not show (an unclaimed file of 64 KiB or more that grew and may now be
#: claimed by its tail; file systems that do not update a folder's modification time).
#: At the default 2 s interval: a walk a minute.
REDISCOVER_EVERY = 30
#: A folder modified less than this before a walk (nanoseconds) is walked again at the next
#: poll: a later change within the same timestamp tick would leave its modification time as
#: it was (2 s: the granularity of FAT and of some network file systems).
RACY_NS = 2_000_000_000


@dataclass
class _Tail:
    """What has been consumed of one log file."""

    path: Path
    reader: object
    subdir: str
    offset: int = 0
    header: bytes = b""
    held: bytearray = field(default_factory=bytearray)
    stamp: tuple[int, int] | None = None
    fed: dict[str, int] = field(default_factory=dict)  # tag -> last step given to the monitor
    problem: str | None = None

    @property
    def kind(self) -> str:
        name = getattr(self.reader, "name", "")
        if self.path.name.endswith(".gz"):
            return "whole"
        for kind, names in (("lines", LINE_READERS), ("csv", CSV_READERS), ("records", RECORD_READERS),
                            ("text", TEXT_READERS)):
            if name in names:
                return kind
        return "whole"


def _complete_records(buf: bytes) -> int:
    """Bytes of ``buf`` that are complete TFRecord frames (little-endian u64 length, u32 CRC,
    payload, u32 CRC)."""
    pos = 0
    n = len(buf)
    while pos + 12 <= n:
        length = int.from_bytes(buf[pos:pos + 8], "little")
        end = pos + 16 + length
        if end > n:
            break
        pos = end
    return pos


class Follower:
    """Follow the runs under ``path`` and keep one :class:`Monitor` per run.

    Args:
        path: a run folder, a tree of runs or one log file; it may not exist yet.
        options: the diagnosis settings (``fail_on``, roles, thresholds).
        stop_on: passed to each :class:`Monitor` (``"urgent"`` or ``"failing"``).
        monitor_kwargs: other :class:`Monitor` arguments (``growth``, ``sigmas``...).
    """

    def __init__(self, path: str | os.PathLike, options: Settings | None = None, stop_on: str = "urgent",
                 **monitor_kwargs) -> None:
        self.path = Path(path)
        self.options = options or Settings()
        self.stop_on = stop_on
        self.monitor_kwargs = monitor_kwargs
        self.monitors: dict[str, Monitor] = {}
        self.tails: dict[str, _Tail] = {}
        self.errors: list[str] = []
        #: polls made while ``path`` existed
        self.polls = 0
        self._runs: list[tuple[str, list[str]]] = []  # (run root, followed file paths), last walk
        self._walked_at: int | None = None  # the poll of the last walk
        self._dirs: dict[str, int] = {}  # folder walked -> its modification time (ns) then
        self._unclaimed: dict[str, tuple[int, int]] = {}  # file no reader claimed -> (size, mtime ns)
        self._top_stamp: tuple[int, int] | None = None
        self._racy = False

    def poll(self) -> list[tuple[str, Verdict, bool]]:
        """Read what is new and feed it; returns ``(run, verdict, changed)`` for every run that
        got new points this poll (an empty list: nothing new); ``changed``: the status or the
        findings' codes differ from the verdict before this poll."""
        try:
            top = self.path.stat()
        except OSError:
            return []
        self.polls += 1
        stats: dict[str, os.stat_result] = {}
        if self._must_walk(top):
            stats = self._walk(top)
        out = []
        for key, paths in self._runs:
            mon = self.monitors.get(key)
            if mon is None:
                mon = self.monitors[key] = Monitor(self.options, name=key, stop_on=self.stop_on,
                                                   **self.monitor_kwargs)
            fresh = False
            before = (mon.verdict.status, mon.verdict.codes)
            for p in paths:
                fresh |= self._feed(self.tails[p], mon, stats.get(p))
            if fresh:
                out.append((key, mon.verdict, (mon.verdict.status, mon.verdict.codes) != before))
        return out

    # --- finding the files ---------------------------------------------------------------

    def _must_walk(self, top: os.stat_result) -> bool:
        """Whether the tree may hold new log files since the last walk (see the module doc)."""
        from losscheck.readers.interface import HEAD_BYTES

        if self._walked_at is None or self._racy or self.polls - self._walked_at >= REDISCOVER_EVERY:
            return True
        if stat.S_ISREG(top.st_mode):  # one file named: found once it is claimed
            return str(self.path) not in self.tails and (top.st_size, top.st_mtime_ns) != self._top_stamp
        for d, mtime in self._dirs.items():
            try:
                if os.stat(d).st_mtime_ns != mtime:
                    return True
            except OSError:
                return True
        for f, (size, mtime) in self._unclaimed.items():
            try:
                st = os.stat(f)
            except OSError:
                return True
            if (st.st_size, st.st_mtime_ns) != (size, mtime) and not (size >= HEAD_BYTES and st.st_size > size):
                return True
        return False

    def _walk(self, top: os.stat_result) -> dict[str, os.stat_result]:
        """Find the runs and their files again; returns the walk's ``stat`` of each file."""
        from losscheck import discovery

        stats: dict[str, os.stat_result] = {}
        dirs: dict[str, int] = {}
        unclaimed: dict[str, tuple[int, int]] = {}

        def on_dir(path: Path, st: os.stat_result) -> None:
            dirs[str(path)] = st.st_mtime_ns

        def sniff(path: Path, st: os.stat_result):
            key = str(path)
            tail = self.tails.get(key)
            if tail is not None:
                stats[key] = st
                return tail.reader
            if path.name.endswith(discovery.SKIP_SUFFIXES):
                return None  # never a log (checkpoints, weights, code): not watched either
            stamp = (st.st_size, st.st_mtime_ns)
            if self._unclaimed.get(key) == stamp:
                unclaimed[key] = stamp
                return None
            reader = discovery._sniff(path)
            if reader is None:
                unclaimed[key] = stamp
            else:
                stats[key] = st
            return reader

        started = time.time_ns()
        self._walked_at = self.polls
        self._top_stamp = (top.st_size, top.st_mtime_ns)
        try:
            found = discovery.discover(self.path, sniff=sniff, on_dir=on_dir)
        except LosscheckError:
            found = None  # nothing to read yet
        self._dirs, self._unclaimed = dirs, unclaimed
        self._racy = any(m > started - RACY_NS for m in dirs.values())
        self._runs = []
        for run in found.runs if found is not None else []:
            paths = []
            for lf in run.files:
                key = str(lf.path)
                if key not in self.tails:
                    self.tails[key] = _Tail(lf.path, lf.reader, lf.subdir)
                paths.append(key)
            self._runs.append((str(run.root), paths))
        return stats

    # --- one file ------------------------------------------------------------------------

    def _feed(self, tail: _Tail, mon: Monitor, st: os.stat_result | None = None) -> bool:
        if tail.problem:
            return False
        if st is None:
            try:
                st = tail.path.stat()
            except OSError:
                return False
        kind = tail.kind
        whole = False
        if kind == "whole":
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == tail.stamp:
                return False
            if tail.stamp is not None and st.st_size < tail.stamp[1]:
                tail.fed = {}  # rewritten shorter: a restarted run, whose steps start again
            tail.stamp = stamp
            data = None  # the reader reads the file itself
            whole = True
        else:
            if st.st_size < tail.offset:  # truncated or rewritten (a restarted run): start again
                tail.offset, tail.held, tail.header, tail.fed, whole = 0, bytearray(), b"", {}, True
            if st.st_size == tail.offset:
                return False
            try:
                with open(tail.path, "rb") as fh:
                    fh.seek(tail.offset)
                    new = fh.read(min(st.st_size - tail.offset, MAX_CHUNK))
            except OSError:
                return False
            if kind == "records":
                used = _complete_records(new)
            else:
                used = new.rfind(b"\n") + 1
            if used == 0:
                return False
            chunk = new[:used]
            if kind == "csv":
                if tail.offset == 0:
                    nl = chunk.find(b"\n") + 1
                    if tail.header and chunk[:nl] != tail.header:
                        whole = True  # a rewritten file with a new header
                    tail.header = chunk[:nl]
                    data = chunk
                else:
                    data = tail.header + chunk
            elif kind == "text":
                if len(tail.held) + len(chunk) > MAX_TEXT:
                    tail.problem = f"{tail.path}: console log past {MAX_TEXT >> 20} MiB; followed no further"
                    self.errors.append(tail.problem)
                    return False
                tail.held += chunk
                data = bytes(tail.held)
                whole = True
            else:
                data = chunk
            tail.offset += used
        return self._read_and_feed(tail, mon, data, whole)

    def _read_and_feed(self, tail: _Tail, mon: Monitor, data: bytes | None, whole: bool) -> bool:
        from losscheck.pipeline import in_run
        from losscheck.readers._common import memory_files

        try:
            if data is None:
                res = tail.reader.read(tail.path)  # type: ignore[attr-defined]
            else:
                with memory_files({str(tail.path): data}):
                    res = tail.reader.read(tail.path)  # type: ignore[attr-defined]
        except LosscheckError:
            return False  # a half-written file: read again at the next change
        for k, v in res.meta.items():
            mon.meta.setdefault(k, v)
        tagged = []
        units: dict[str, str] = {}
        for s in res.series:
            if not len(s):
                continue
            s = in_run(s, tail.subdir)
            units[s.tag] = s.step_unit
            tagged.append((s.tag, s))
        rows, walls = points_by_step(tagged, tail.fed if whole else None)
        for tag, s in tagged:
            tail.fed[tag] = int(s.steps[-1])
        if not rows:
            return False
        if units and mon.points == 0:
            loss_units = {u for t, u in units.items() if "loss" in t.lower()} or set(units.values())
            mon.step_unit = sorted(loss_units)[-1]  # "step" before "epoch" when they differ
        src = str(tail.path)
        mon.file_readers[src] = (tail.reader.name, tail.subdir)  # type: ignore[attr-defined]
        for st in sorted(rows):
            mon.add(st, rows[st], wall_time=walls.get(st), source=src)
        return True

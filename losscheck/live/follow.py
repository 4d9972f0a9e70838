"""Follow a run folder as its framework writes it, feeding what is new to a :class:`Monitor`.

Each :meth:`Follower.poll` finds the run's log files again (new files appear: a TensorBoard
writer's second event file, ``checkpoint-N/`` copies, a W&B run) and reads from each only
what it needs, through the file's own reader (no second parser): the new bytes are handed to
the reader as the file's whole content (:class:`losscheck.readers._common.memory_files`).

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

    def poll(self) -> list[tuple[str, Verdict, bool]]:
        """Read what is new and feed it; returns ``(run, verdict, changed)`` for every run that
        got new points this poll (an empty list: nothing new); ``changed``: the status or the
        findings' codes differ from the verdict before this poll."""
        from losscheck.discovery import discover

        if not self.path.exists():
            return []
        try:
            found = discover(self.path)
        except LosscheckError:
            return []  # nothing to read yet
        out = []
        for run in found.runs:
            key = str(run.root)
            mon = self.monitors.get(key)
            if mon is None:
                mon = self.monitors[key] = Monitor(self.options, name=key, stop_on=self.stop_on,
                                                   **self.monitor_kwargs)
            fresh = False
            before = (mon.verdict.status, mon.verdict.codes)
            for lf in run.files:
                tail = self.tails.get(str(lf.path))
                if tail is None:
                    tail = self.tails[str(lf.path)] = _Tail(lf.path, lf.reader, lf.subdir)
                fresh |= self._feed(tail, mon)
            if fresh:
                out.append((key, mon.verdict, (mon.verdict.status, mon.verdict.codes) != before))
        return out

    # --- one file ------------------------------------------------------------------------

    def _feed(self, tail: _Tail, mon: Monitor) -> bool:
        if tail.problem:
            return False
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
        for st in sorted(rows):
            mon.add(st, rows[st], wall_time=walls.get(st), source=src)
        return True

"""Compact per-run results for the parent of a large sweep (issue 17: a 100k-run sweep in 1 GB).

A diagnosed run's :class:`~losscheck.model.RunReport` takes ~11 KB of Python objects (lists
of findings, curves, digests: hundreds of small objects). A sweep of at least
:data:`PACK_MIN_RUNS` runs rendered by a whole-set format (``--format json``, text, ...)
keeps each as a :class:`PackedRun` instead: the few fields the report's totals need, the
run's sweep-triage record, and the report itself pickled and zlib-compressed (~3 KB for a
small run; made in the worker process that diagnosed it). :class:`PackedRuns` is the
read-only sequence :attr:`losscheck.model.Report.runs` then holds: iterating it unpacks one
run at a time (a fresh object each time; nothing is cached), so a format that walks the
runs once (``json``, ``jsonl``, ``junit``, ``sarif``) never holds more than one unpacked
report. Formats that first sort the runs (``text``, ``markdown``, ``github``, ``html``)
still unpack them all while rendering.

Unpacking gives back the same report (pickle round-trips every value, floats bit for bit):
the rendered report is byte-identical to an unpacked sweep's (tested).
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from losscheck.model import RunReport, TriageRow

#: A sweep of this many runs or more keeps its results packed (a smaller one keeps the
#: reports themselves: packing costs ~0.3 ms per run and saves ~8 KB each).
PACK_MIN_RUNS = 256


@dataclass(frozen=True, slots=True)
class PackedRun:
    """One run's result, packed.

    Attributes:
        run: the run's name (``RunReport.run``), by which the report sorts its runs.
        status, confidence: the run's status and confidence (the gate reads them without
            unpacking: :attr:`losscheck.model.Report.failing`).
        triage: its :class:`~losscheck.model.TriageRow` (the sweep triage's input).
        blob: the :class:`~losscheck.model.RunReport`, pickled (highest protocol) and
            compressed by zlib (level 1: the fastest).
    """

    run: str
    status: str
    confidence: float | None
    triage: Any
    blob: bytes

    def unpack(self) -> RunReport:
        """The run's :class:`~losscheck.model.RunReport` (a new object at every call)."""
        return pickle.loads(zlib.decompress(self.blob))


def pack(report: RunReport, triage: TriageRow | None = None) -> PackedRun:
    """Pack a run's report (``triage``: its triage record, made here when not given)."""
    if triage is None:
        from losscheck.analysis.triage import triage_row

        triage = triage_row(report)
    blob = zlib.compress(pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL), 1)
    return PackedRun(report.run, report.status, report.confidence, triage, blob)


class PackedRuns(Sequence):
    """A read-only sequence of :class:`~losscheck.model.RunReport` held packed (module doc).

    ``runs[i]`` and iteration unpack (a fresh report each time: changing it changes nothing
    kept); ``summaries()`` gives the :class:`PackedRun` records themselves, for what needs
    only a run's name, status, confidence or triage record.
    """

    def __init__(self, items: list[PackedRun]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> RunReport: ...

    @overload
    def __getitem__(self, i: slice) -> list[RunReport]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [p.unpack() for p in self._items[i]]
        return self._items[i].unpack()

    def __iter__(self) -> Iterator[RunReport]:
        for p in self._items:
            yield p.unpack()

    def summaries(self) -> list[PackedRun]:
        """The packed records, in the runs' order."""
        return self._items

    def __repr__(self) -> str:
        return f"PackedRuns({len(self._items)} runs)"

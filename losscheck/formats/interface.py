"""The output-format interface: one module per format, each exposing ``FORMAT``.

A format renders a :class:`~losscheck.model.Report` to a string. It must not change the
report, and must render every run and every error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI lists formats for its help without loading numpy
    from collections.abc import Iterator
    from pathlib import Path

    from losscheck.model import Report, RunError, RunReport


class Format(ABC):
    """An output format, named like its module. ``name`` is what ``--format`` takes;
    ``description`` one line.

    Class attributes:
        for_people: the output is read by a person rather than a program: the CLI shows a
            progress bar for a sweep on a terminal, and writes no report when no run could be
            diagnosed (every error is on stderr already; exit 2).
        draws_curves: the format draws each run's curves from ``RunReport.plot``: the CLI asks
            the pipeline for the plot digests (``diagnose(..., plots=True)``).
        writes_files: see :meth:`files` (``png``: one image per run).
    """

    name: str = ""
    description: str = ""
    for_people: bool = False
    draws_curves: bool = False
    #: the format can be written run by run as results complete (:meth:`item`, :meth:`end`):
    #: the CLI then streams it to standard output and keeps no result
    streams: bool = False
    #: the format writes files that are not text (images), only to a place named after it
    #: (``-f FORMAT:PLACE``; without one, a usage error): the CLI writes what :meth:`files`
    #: yields instead of :meth:`render`'s text
    writes_files: bool = False

    def check(self) -> None:
        """Raise when the format cannot be written here (an optional dependency is missing);
        the CLI calls it before anything is read. Default: nothing to check.

        Raises:
            UsageError: the one line saying what is missing and how to install it (exit 2)."""

    def files(self, report: Report, where: Path) -> Iterator[tuple[Path, bytes]]:
        """The files to write for ``-f FORMAT:where``, as ``(path, bytes)``, made one at a time
        as they are asked for. Only for formats with :attr:`writes_files`.

        Raises:
            NotImplementedError: the format writes text (this base implementation)."""
        raise NotImplementedError(f"{self.name} writes text, not files")

    def item(self, result: RunReport | RunError) -> str:
        """One run's result (or one path's error) as text, for a streamed report. Only for
        formats with :attr:`streams`.

        Raises:
            NotImplementedError: the format does not stream (this base implementation)."""
        raise NotImplementedError(f"{self.name} is not a streamed format")

    def end(self, report: Report) -> str:
        """What ends a streamed report (``report`` holds only counts:
        :attr:`~losscheck.model.Report.counts`). Only for formats with :attr:`streams`.

        Raises:
            NotImplementedError: the format does not stream (this base implementation)."""
        raise NotImplementedError(f"{self.name} is not a streamed format")

    @abstractmethod
    def render(self, report: Report) -> str:
        """The whole report as text (UTF-8 when written). Never raises for a valid report."""

    def chunks(self, report: Report) -> Iterator[str]:
        """:meth:`render`'s text in pieces, for writing a large report as it is made; joined,
        exactly :meth:`render`'s text. Default: that text in one piece."""
        yield self.render(report)

    def appendices(self, report: Report, environ: Any) -> list[tuple[str, str]]:
        """Text to append to other files beside the report, as ``[(path, text)]`` (e.g. GitHub's
        step summary named by ``$GITHUB_STEP_SUMMARY``); ``environ`` is the environment
        mapping. The CLI appends each text to its file. Default: none."""
        return []

    def brief(self, report: Report, quiet: int) -> str | None:
        """The report shrunk for ``-q`` (``quiet`` = 1) or ``-qq`` (2), or ``None`` (the
        default) when this format has no shorter form: the CLI then writes it whole (a
        program reading it needs all of it); ``-q`` still drops the notes on stderr."""
        return None

    def draw(self, report: Report, console: Any) -> bool:
        """Draw the report on a terminal (``console``: a ``rich.console.Console``, colour
        allowed) and return ``True``; ``False`` (the default) when this format has no
        terminal form: the CLI then writes :meth:`render`'s text."""
        return False

"""The output-format interface: one module per format, each exposing ``FORMAT``.

A format renders a :class:`~losscheck.model.Report` to a string. It must not change the
report, and must render every run and every error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from losscheck.model import Report


class Format(ABC):
    """An output format. ``name`` is what ``--format`` takes; ``description`` one line;
    ``sparklines``: whether it draws ``RunReport.sparklines`` (the pipeline skips computing
    them for formats that do not)."""

    name: str = ""
    description: str = ""
    sparklines: bool = False

    @abstractmethod
    def render(self, report: Report) -> str:
        """The whole report as text (UTF-8 when written). Never raises for a valid report."""

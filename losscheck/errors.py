"""Error taxonomy and exit codes.

Every error losscheck reports to a user is a :class:`LosscheckError` subclass whose
``str()`` is one line naming the path and the problem. The CLI prints that line and exits
with :data:`EXIT_USAGE` (2) when nothing could be diagnosed; no traceback is shown unless
``--debug`` is given.

Exit codes (documented in README and ``losscheck --help``):

- ``0`` (:data:`EXIT_OK`): no run is failing (at the chosen ``--fail-on`` level);
- ``1`` (:data:`EXIT_FAILING`): at least one run is failing;
- ``2`` (:data:`EXIT_USAGE`): usage or input error; nothing could be diagnosed.
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_FAILING = 1
EXIT_USAGE = 2

#: Gate levels (``--fail-on``, ``fail-on``): a run fails the gate (exit 1) when its status is
#: ``failing`` (``error``), ``failing`` or ``warning`` (``warning``), or never (``never``); see
#: :func:`losscheck.model.run_fails`. A level may carry a confidence floor, ``error:0.8``
#: (:func:`parse_fail_on`).
FAIL_ON = ("error", "warning", "never")


def parse_fail_on(text: object) -> tuple[str, float | None]:
    """Split a gate spec ``LEVEL`` or ``LEVEL:FLOOR`` (``--fail-on``, ``fail-on``).

    ``LEVEL`` is one of :data:`FAIL_ON` (any case); ``FLOOR`` a confidence in [0, 1]: a run whose verdict's
    confidence (:mod:`losscheck.analysis.confidence`) is below it is reported as it is but does
    not fail the gate (``error:0.8``: only failing verdicts at least 80% sure fail CI).

    Returns:
        ``(level, floor)``, ``floor`` ``None`` when not given.
    Raises:
        ValueError: a one-line reason (not a string, unknown level, a floor that is not a
            number in [0, 1], a floor on ``never``).
    """
    if not isinstance(text, str):
        raise ValueError(f"must be one of {', '.join(FAIL_ON)} (optionally LEVEL:CONFIDENCE)")
    level, sep, floor_text = text.partition(":")
    level = level.strip().lower()  # as --format takes JSON for json: ERROR is error
    if level not in FAIL_ON:
        raise ValueError(f"must be one of {', '.join(FAIL_ON)}, optionally with a confidence floor (error:0.8)")
    if not sep:
        return level, None
    if level == "never":
        raise ValueError("never takes no confidence floor")
    try:
        floor = float(floor_text)
    except ValueError:
        floor = float("nan")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"the confidence floor {floor_text!r} must be a number in [0, 1]")
    return level, floor

#: Code points that can change what a terminal (or a log viewer) shows rather than being
#: shown: C0 controls (ESC starts ANSI sequences, CR rewrites the line), DEL, C1 controls
#: (U+009B is a one-character CSI), and the bidirectional embeddings, overrides and isolates
#: that reorder text ("Trojan Source"), plus the line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def escape_controls(text: object, keep: str = "") -> str:
    """``str(text)`` with every control character escaped as Python spells it (``\\x1b``,
    ``\\u202e``), so a file or folder name such as ``"\\x1b[2J FAKE PASS"`` is shown, never
    obeyed, by a terminal, a CI log viewer or a report.

    Args:
        text: anything; ``None`` is ``""``.
        keep: control characters to leave as they are (``"\\n"`` for multi-line text whose
            format handles line breaks itself).
    Returns:
        The escaped text; printable characters (including backslashes) are unchanged, so
        escaping twice gives the same result as escaping once.
    """
    s = "" if text is None else str(text)

    def esc(m: re.Match) -> str:
        """The escape for one matched control character (itself when kept)."""
        c = m.group()
        if c in keep:
            return c
        n = ord(c)
        return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"

    return _CONTROLS.sub(esc, s)


#: The most characters of a file's own text (a cell, a column name, a line) a message quotes.
EXCERPT_CHARS = 40


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, safe quotation of text taken from a file, for messages: the ``repr`` of at
    most ``limit`` characters of it, control characters escaped (:func:`escape_controls`),
    and, when it was cut, ``...`` with the full length (``'xxxx...' (5,000 chars)``). A
    message never carries a whole line or cell of a log (a secret, a megabyte, an ANSI
    sequence).

    Args:
        text: anything; ``str()`` of it is quoted (``None`` is ``''``).
        limit: characters kept (at least 1).
    Returns:
        One line of at most about ``limit + 30`` characters.
    """
    s = "" if text is None else str(text)
    limit = max(1, int(limit))
    if len(s) <= limit:
        return escape_controls(repr(s))
    return escape_controls(repr(s[:limit])[:-1]) + f"...' ({len(s):,} chars)"


class LosscheckError(Exception):
    """Base of every user-facing error.

    Args:
        path: the file or directory concerned (``None`` for pure usage errors).
        problem: a short description, without the path.
        line: 1-based line number or ``None``.
        offset: byte offset or ``None``.
        offset_in_problem: the problem text already names ``offset`` (``"... at byte 120"``),
            so :meth:`one_line` does not repeat it.
    """

    kind = "error"

    def __init__(self, path: object | None, problem: str, *, line: int | None = None,
                 offset: int | None = None, offset_in_problem: bool = False) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.line = line
        self.offset = offset
        self.offset_in_problem = offset_in_problem
        super().__init__(self.one_line())

    def __reduce__(self):
        """Pickle by constructor arguments (the default would call ``cls(message)``, which
        fails: sweeps send errors between worker processes)."""
        return (_rebuild, (type(self), self.path, self.problem, self.line, self.offset, self.offset_in_problem))

    def one_line(self) -> str:
        """The message as one line: ``<path>[:line][ (byte offset)]: <problem>`` (the offset is
        left out when the problem already names that byte: ``offset_in_problem``). Line
        breaks in the problem become spaces; control characters in the path and the problem
        are escaped (:func:`escape_controls`), so the line is safe to print on a terminal."""
        where = escape_controls(self.path) if self.path else "losscheck"
        if self.line is not None:
            where += f":{self.line}"
        if self.offset is not None and not self.offset_in_problem:
            where += f" (byte {self.offset})"
        problem = escape_controls(str(self.problem).replace("\n", " "))
        return f"{where}: {problem}"


def _rebuild(cls, path, problem, line, offset, offset_in_problem=False):
    """Unpickle a :class:`LosscheckError` (see ``__reduce__``)."""
    return cls(path, problem, line=line, offset=offset, offset_in_problem=offset_in_problem)


class UsageError(LosscheckError):
    """Bad command-line arguments or configuration."""

    kind = "usage"


class OutputError(LosscheckError):
    """The report cannot be written: a closed pipe, a full disk, or an output path that
    losscheck refuses (a file it reads, or a folder it diagnoses)."""

    kind = "output"


class NoLogsFound(LosscheckError):
    """A path holds no file that any reader recognises."""

    kind = "no-logs"


class UnreadableFile(LosscheckError):
    """A file cannot be opened or read (permissions, FIFO, I/O error)."""

    kind = "unreadable"


class ParseError(LosscheckError):
    """A recognised file whose content cannot be parsed."""

    kind = "parse"


class NoLossMetric(LosscheckError):
    """A run has series, but none can serve as a training or eval loss."""

    kind = "no-loss"


class TooLittleData(LosscheckError):
    """A run has a loss series with too few finite points to judge."""

    kind = "too-little-data"

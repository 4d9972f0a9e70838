"""The command line (typer). Thin: parse, call :mod:`losscheck.pipeline`, render, exit.

Exit codes: 0 no run failing; 1 at least one run failing (``--fail-on warning`` makes
warnings fail too; ``never`` never fails); 2 usage or input error (nothing diagnosed), with
a one-line message naming the path and the problem and no traceback (``--debug`` shows it).

Outputs: a report is never written into a path losscheck reads (``-o`` inside a diagnosed
folder, or over a diagnosed file, the baseline or the configuration file, is refused unless
``--force``), and ``-o`` writes atomically (a temporary file in the same folder, renamed
over the target; removed on any failure); so does each ``-f FORMAT:FILE`` (several outputs of
one diagnosis: one format to standard output or ``-o``, the others to their files; two
formats into one file are refused). Standard output that cannot be written (a closed
pipe, a full disk) is exit 2 with one line, never a traceback nor exit 1. Everything printed
on stderr has its control characters escaped.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterable, List, NoReturn, Optional

import typer

from losscheck import __version__
from losscheck._io import write_atomic as write_report  # (the name the CLI and its tests use)
from losscheck.errors import (EXIT_FAILING, EXIT_OK, EXIT_USAGE, FAIL_ON, LosscheckError, OutputError,
                              UsageError, escape_controls, parse_fail_on)
from losscheck.formats import format_names

class _Command(typer.core.TyperCommand):
    """A command whose help reads like click's, ruff's and pytest's: arguments named bare in
    the usage line (``PATH...``, not ``{PATH...}...``) and no Python type names
    (``<list[str]>``) beside them; options show their metavar (see :data:`app`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for p in self.params:
            if isinstance(p, typer.core.TyperArgument):
                name = (p.metavar or p.name or "ARG").upper().rstrip(".")
                name += "..." if p.nargs != 1 else ""
                p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
                p.get_usage_pieces = (lambda ctx, n=name, r=p.required:  # type: ignore[method-assign, misc]
                                      [n if r else f"[{n}]"])
                p._rich_display_name = lambda n=name: n  # type: ignore[method-assign, misc]


#: ``-h`` as well as ``--help``; click's plain help (typer's rich help prints ``<bool>``,
#: ``<str>`` beside every option and braces in the usage line).
_HELP = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, context_settings=_HELP,
                  help="losscheck: a doctor for deep-learning training runs.\n\n"
                       "Exit codes: 0 = no run failing, 1 = a run is failing, 2 = usage or input error, "
                       "130 = interrupted (Ctrl-C).")


def _err(message: str) -> None:
    """Print one line on stderr, prefixed ``losscheck:``, control characters escaped (a file
    name cannot drive the terminal); a stderr that cannot be written is ignored."""
    line = escape_controls(message if message.startswith("losscheck: ") else f"losscheck: {message}")
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _die(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``message`` on stderr (see :func:`_err`) and exit with ``code``."""
    _err(message)
    raise typer.Exit(code)


def _silence_stdout() -> None:
    """Point file descriptor 1 at the null device after stdout failed, so the interpreter's
    final flush of what is still buffered neither fails nor prints "Exception ignored"."""
    if isinstance(sys.stdout, _ClosedStream):
        return  # descriptor 1 is already the null device (see _guard_std_streams)
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(fd, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real descriptor (tests capture stdout)
        pass
    finally:
        os.close(fd)


def _stdout_error(exc: BaseException) -> OutputError:
    """The one-line error for a standard output that cannot be written (stdout silenced)."""
    _silence_stdout()
    reason = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__) if exc else "closed"
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        reason = "the reading end of the pipe is closed"
    return OutputError("standard output", f"cannot write the output: {reason}")


def _encoded(pieces):
    """The text ``pieces`` as UTF-8 bytes, one piece at a time (unencodable characters
    backslash-escaped, as for the whole text: UTF-8 encodes each character alone)."""
    return (p.encode("utf-8", errors="backslashreplace") for p in pieces)


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it.

    File names need not be valid UTF-8: unencodable characters are backslash-escaped. The
    bytes go through the binary buffer in a loop on the count each write reports: a write cut
    short by a closed pipe is reported by Python's buffered writer as a success with fewer
    bytes written (the rest silently dropped), so only the next write says the pipe is closed.

    Raises:
        OutputError: stdout cannot be written (a closed pipe, ``/dev/full``, an I/O error);
            stdout is then pointed at the null device, so nothing fails at exit.
    """
    try:
        buf = getattr(sys.stdout, "buffer", None)
        if buf is None:  # a text-only stream
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        data = memoryview(text.encode(getattr(sys.stdout, "encoding", None) or "utf-8",
                                      errors="backslashreplace"))
        sys.stdout.flush()  # whatever was written as text goes first
        while len(data):
            n = buf.write(data)
            if not n:
                raise OSError(errno.EIO, "the output accepted no byte")
            data = data[n:]
        buf.flush()
    except (OSError, ValueError, LookupError) as exc:  # ValueError: stdout already closed
        raise _stdout_error(exc) from None


def _version(value: bool) -> None:
    """``--version``: print the version and exit."""
    if value:
        try:
            write_stdout(f"losscheck {__version__}\n")
        except OutputError as exc:
            _die(exc.one_line())
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """losscheck: a doctor for deep-learning training runs."""


@app.command(cls=_Command)
def diagnose(
    paths: List[str] = typer.Argument(..., metavar="PATH", help="Log files, run directories, trees of runs "
                                      "(a sweep), globs (runs/lr-*), or URLs (s3://bucket/runs/, gs://, az://, "
                                      "https://, memory://, file://; read through fsspec)."),
    format: Optional[List[str]] = typer.Option(None, "--format", "-f", metavar="FORMAT[:FILE]",
                                               help=f"Output format: {', '.join(format_names())} (default "
                                               "text). FORMAT:FILE writes that format to FILE; repeat for "
                                               "several outputs of one diagnosis (-f github -f "
                                               "html:report.html). At most one FORMAT without a file: it "
                                               "goes to standard output (or --output); with none, text does."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to this file "
                                          "(atomically; never a path losscheck reads, unless --force)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", metavar="LEVEL", help="Exit 1 when a run is failing at this "
                                          f"level: {FAIL_ON[0]} (default), {', '.join(FAIL_ON[1:])}; "
                                          "LEVEL:P (error:0.8) only counts verdicts with confidence >= P."),
    loss: Optional[str] = typer.Option(None, "--loss", metavar="TAG", help="Tag to use as the training loss."),
    eval_loss: Optional[str] = typer.Option(None, "--eval-loss", metavar="TAG", help="Tag to use as the eval loss."),
    grad_norm: Optional[str] = typer.Option(None, "--grad-norm", metavar="TAG", help="Tag to use as the grad norm."),
    lr: Optional[str] = typer.Option(None, "--lr", metavar="TAG", help="Tag to use as the learning rate."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", metavar="C", min=2,
                                              help="Number of classes C, for the chance level ln(C)."),
    select: Optional[List[str]] = typer.Option(None, "--select", metavar="CODES", help="Only these rule codes/prefixes/names."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="CODES", help="Skip these rule codes/prefixes/names."),
    strict: Optional[bool] = typer.Option(None, "--strict", help="Any file that cannot be read at all fails its run (files read in part get a note)."),
    config: Optional[Path] = typer.Option(None, "--config", metavar="FILE", help="Configuration file (losscheck.toml or "
                                          "pyproject.toml); default: found from the working directory "
                                          "upward, never inside PATH."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore all configuration files."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", metavar="RUN", help="A run, or a saved JSON report: fail only "
                                            "on new findings or an eval-loss regression against it."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", metavar="N", min=1, help="Worker processes for a sweep "
                                       "(default: one per CPU core)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for internal errors and list the "
                               "folders skipped for holding no log."),
    force: bool = typer.Option(False, "--force", help="Let --output write inside a diagnosed folder or over "
                               "a file losscheck reads."),
    max_inflated: Optional[str] = typer.Option(None, "--max-inflated", metavar="SIZE", help="Refuse a gzip-compressed log that "
                                               "inflates past this size (default 512MiB; e.g. 2GiB)."),
    max_ratio: Optional[float] = typer.Option(None, "--max-ratio", metavar="RATIO", min=1.0, help="Refuse a gzip-compressed log "
                                              "that inflates more than this many times its size, past 32 MiB "
                                              "(default 16)."),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks", help="Also read what symlinks below PATH "
                                         "that lead out of it point to (default: not followed, named in a note)."),
    executor: str = typer.Option("local", "--executor", metavar="NAME", help="Where runs are read and diagnosed: local (this "
                                 "machine, --jobs processes) or dask (a dask.distributed cluster; "
                                 "pip install 'losscheck[dask]')."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS", help="With --executor dask: the scheduler "
                                            "address (tcp://HOST:PORT); default: a local cluster of --jobs "
                                            "workers."),
    quiet: int = typer.Option(0, "--quiet", "-q", count=True, show_default=False, help="Less output: the text "
                              "report shrinks to its verdict summary line (-qq: nothing but errors); notes on "
                              "stderr and the progress bar are dropped. Exit codes are unchanged."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="More output: also list the folders skipped "
                                 "for holding no log."),
    color: str = typer.Option("auto", "--color", metavar="WHEN", help="Colour the text report: auto (when "
                              "standard output is a terminal; NO_COLOR set turns it off, FORCE_COLOR set turns "
                              "it on even when piped), always, never."),
) -> None:
    """Diagnose training runs: classify the curves, list findings, rank remedies."""
    from losscheck.formats import get_format
    from losscheck.pipeline import diagnose as run_diagnose
    from losscheck.sources import expand_paths, is_url

    path = " ".join(paths)  # how messages name what was diagnosed
    # the local paths the pipeline will read: globs expanded and file:// URLs made paths, as
    # the pipeline expands them (a report must not land inside any of them)
    local = [Path(p) for p in expand_paths(list(paths)) if not is_url(p)]
    try:
        fmt, extra = _output_specs(format or [DEFAULT_FORMAT], get_format, format_names())
        for f in dict.fromkeys((fmt, *(f for f, _ in extra))):
            f.check()  # a missing optional dependency (png: matplotlib) stops us before any read
        coloured = want_color(color, sys.stdout.isatty(), os.environ)
        fail_on = _check_fail_on(fail_on)
        _inflate_limits(max_inflated, max_ratio)
        cfg = _config(local, config, isolated, baseline=baseline, fail_on=fail_on, num_classes=num_classes,
                      select=select, ignore=ignore, strict=strict, loss=loss, eval_loss=eval_loss,
                      grad_norm=grad_norm, lr=lr)
        for note in cfg.notes if not quiet else ():
            _err(f"note: {note}")
        targets = ([(output, False)] if output is not None else []) + [(where, f.writes_files) for f, where in extra]
        seen: dict[str, Path] = {}
        for where, makes_folders in targets:
            key = os.path.realpath(where)
            if key in seen:
                raise UsageError(where, "named as the output of two formats")
            seen[key] = where
            if not force:
                check_output(where, [*local, baseline, cfg.file])
            check_destination(where, makes_folders)  # before any read: a bad path wastes no diagnosis
        progress = None
        if fmt.for_people and sys.stderr.isatty() and not quiet:
            progress = _progress_bar()
        base = None
        if baseline is not None:
            from losscheck.baseline import load_baseline

            base = load_baseline(baseline, cfg)
        if scheduler is not None and executor != "dask":
            raise UsageError(None, "--scheduler is for --executor dask")
        # a streamed format goes to standard output run by run, and no result is kept
        streamed = fmt.streams and output is None and not extra
        sink = (lambda res: write_stdout(fmt.item(res))) if streamed else None
        report = run_diagnose(paths if len(paths) > 1 else paths[0], progress=progress, config=cfg, baseline=base,
                              jobs=jobs, follow_symlinks=follow_symlinks, executor=executor, scheduler=scheduler,
                              sink=sink, plots=any(f.draws_curves for f in (fmt, *(f for f, _ in extra))))
    except LosscheckError as exc:
        if debug:  # the traceback, then the same line and exit code as without --debug
            import traceback

            traceback.print_exc()
        _die(exc.one_line())
        return
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:  # never a traceback for users
        if debug:
            import traceback

            traceback.print_exc()
        _die(f"{path}: internal error ({type(exc).__name__}: {exc}); re-run with --debug and report it")
        return

    if report.links_not_followed and not quiet:
        links = report.links_not_followed
        _err(f"note: {len(links)} symlink(s) below {path} lead out of it and were not followed (first: "
             f"{links[0]}); pass --follow-symlinks to read them")
    if (debug or verbose) and report.without_logs:
        for d in report.without_logs:
            _err(f"{d}: no log found (not a run; skipped)")
    if streamed:
        try:
            write_stdout(fmt.end(report))
        except OutputError as exc:
            _die(exc.one_line())
        if not report.run_count:
            raise typer.Exit(EXIT_USAGE)
        if report.error_count:
            _err(f"{report.error_count} path(s) could not be diagnosed (see the error lines)")
            if cfg.settings.strict:
                raise typer.Exit(EXIT_FAILING)
        raise typer.Exit(EXIT_FAILING if report.failing else EXIT_OK)
    if not report.runs:
        # nothing could be diagnosed: one line per problem on stderr, exit 2
        for e in report.errors:
            msg = e.message if e.message.startswith(escape_controls(e.path)) else f"{e.path}: {e.message}"
            _err(msg)
        if fmt.for_people:  # the errors above are the whole answer
            raise typer.Exit(EXIT_USAGE)
    try:
        if output is not None:
            data = _encoded(fmt.chunks(report))  # written as it is made: a sweep's report is not held whole
            try:
                write_report(output, data)
            except OSError as exc:
                raise OutputError(output, f"cannot write the report: {exc.strerror or exc}") from None
        elif quiet and (short := fmt.brief(report, quiet)) is not None:
            for e in report.errors:  # the shrunk report leaves them out: one line each on stderr
                _err(e.message if e.message.startswith(escape_controls(e.path)) else f"{e.path}: {e.message}")
            write_stdout(short)
        elif not _draw(fmt, report, coloured):
            for piece in fmt.chunks(report):
                write_stdout(piece)
        for other, where in extra:
            if other.writes_files:  # images: one file or more per report, each written atomically
                _write_files(other, report, where, None if force else [*local, baseline, cfg.file])
                continue
            data = _encoded(other.chunks(report))
            try:
                write_report(where, data)
            except OSError as exc:
                raise OutputError(where, f"cannot write the report: {exc.strerror or exc}") from None
        appended = set()
        for f in (fmt, *(f for f, _ in extra)):
            if f.name in appended:
                continue  # one step summary per format, however many files it went to
            appended.add(f.name)
            for where, text in f.appendices(report, os.environ):
                try:
                    with open(where, "a", encoding="utf-8", errors="backslashreplace") as fh:
                        fh.write(text)
                except OSError as exc:
                    raise OutputError(Path(where), f"cannot append to it: {exc.strerror or exc}") from None
    except OutputError as exc:
        _die(exc.one_line())
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:  # a formatter bug: still one line, exit 2, never "a run is failing"
        if debug:
            import traceback

            traceback.print_exc()
        _die(f"{path}: internal error while rendering the report ({type(exc).__name__}: {exc}); "
             "re-run with --debug and report it")

    if not report.runs:
        raise typer.Exit(EXIT_USAGE)
    if report.errors:
        strict_on = cfg.settings.strict
        _err(f"{len(report.errors)} path(s) could not be diagnosed"
             + (" (--strict: the gate fails)" if strict_on else
                " and do not count towards the exit code (--strict makes them fail the gate)"))
        if strict_on:
            raise typer.Exit(EXIT_FAILING)
    raise typer.Exit(EXIT_FAILING if report.failing else EXIT_OK)


def parse_size(text: str) -> int:
    """A byte count from ``512MiB``, ``2GiB``, ``100MB``, ``64k`` or ``1048576`` (binary
    units for ``KiB``/``MiB``/``GiB`` and for ``k``/``M``/``G``; decimal for ``KB``/``MB``/``GB``).

    Raises:
        ValueError: not a positive size.
    """
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(text)
    num, unit, binary, b = m.groups()
    power = "kmgt".find(unit.lower()) + 1 if unit else 0
    base = 1000 if (b and not binary and unit) else 1024
    n = int(float(num) * base ** power)
    if n <= 0:
        raise ValueError(text)
    return n


def _inflate_limits(max_inflated: Optional[str], max_ratio: Optional[float]) -> None:
    """Apply ``--max-inflated``/``--max-ratio`` to this process (and so to sweep workers).

    Raises:
        UsageError: a size that cannot be read."""
    from losscheck.readers._common import set_inflate_limits

    size = None
    if max_inflated is not None:
        try:
            size = parse_size(max_inflated)
        except ValueError:
            raise UsageError(None, f"--max-inflated {max_inflated!r}: not a size (e.g. 512MiB, 2GiB)") from None
    set_inflate_limits(max_bytes=size, max_ratio=max_ratio)


def check_output(output: Path, reads: Iterable[Optional[Path]],
                 hint: str = "choose another --output, or pass --force") -> None:
    """Refuse an ``--output`` path that losscheck reads.

    Args:
        output: the report path.
        reads: the paths this call reads (the diagnosed path, the baseline, the configuration
            file; ``None`` and ``-`` are skipped).
        hint: what the message suggests instead (only flags the command has: ``watch``
            has ``--report`` and no ``--force``).
    Raises:
        OutputError: ``output`` is one of the files read (the same file, also through a
            symlink or a hard link), or lies inside a folder that is diagnosed.
    """
    from losscheck.config import data_roots, inside_roots

    for r in reads:
        if r is None or str(r) == "-":
            continue
        roots = data_roots([r])
        if roots:
            if inside_roots(output, roots):
                raise OutputError(output, f"refusing to write the report inside {r}, which is being read "
                                          f"(losscheck never writes into its inputs; {hint})")
            continue
        same = False
        try:
            same = os.path.samefile(output, r)
        except (OSError, ValueError):
            same = os.path.realpath(output) == os.path.realpath(r)
        if same:
            raise OutputError(output, f"refusing to overwrite {r}, which losscheck reads ({hint})")


def check_destination(where: Path, makes_folders: bool = False) -> None:
    """Check, before anything is read, that a report can be written to ``where``, without
    creating anything: an existing folder is not a file, the folder it goes in exists (or,
    with ``makes_folders``, its nearest existing ancestor is a folder), and that folder can be
    written (the report is written atomically: a temporary file beside it, then renamed).
    A device or FIFO (``/dev/null``, ``/dev/stdout``) is written in place and only needs to
    be writable. The write itself may still fail later (a full disk); it says so then.

    Raises:
        OutputError: one line naming ``where`` and why it cannot be written.
    """
    def fail(why: str) -> NoReturn:
        raise OutputError(where, f"cannot write the report: {why}")

    try:
        st = os.stat(where)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        fail(exc.strerror or str(exc))
    if st is not None and stat.S_ISDIR(st.st_mode):
        if makes_folders:
            return  # a file-writing format (png) may write into a folder
        fail("it is a folder, not a file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        if not os.access(where, os.W_OK):
            fail("permission denied")
        return
    folder = Path(os.path.realpath(where)).parent
    if makes_folders:
        while not os.path.lexists(folder) and folder.parent != folder:
            folder = folder.parent
    if not os.path.isdir(folder):
        fail(f"the folder {folder} does not exist" if not os.path.lexists(folder) else f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"permission denied in the folder {folder}")


def _check_fail_on(fail_on: str | None) -> str | None:
    """Check a ``--fail-on`` value given on the command line (``None``: not given); returns
    it as the report spells it (``ERROR`` -> ``error``, as ``-f JSON`` is ``json``).

    Raises:
        UsageError: a malformed value (:func:`losscheck.errors.parse_fail_on` says why)."""
    if fail_on is None:
        return None
    try:
        level, floor = parse_fail_on(fail_on)
    except ValueError as exc:
        raise UsageError(None, f"--fail-on {fail_on!r}: {exc}") from None
    return level if floor is None else f"{level}:{fail_on.partition(':')[2].strip()}"


#: The format of ``diagnose`` without ``-f`` (and on standard output when every ``-f`` names a file).
DEFAULT_FORMAT = "text"


def _output_specs(specs: List[str], get_format, names) -> tuple:
    """Parse repeated ``--format FORMAT[:FILE]``: ``(format, [(format, file), ...])``, the
    first the one format for standard output (or ``--output``; text when every spec names a
    file), the rest each written to its file.

    Raises:
        UsageError: an unknown format, an empty file after ``:``, or two formats without a
            file (both would go to standard output)."""
    primary = None
    extra = []
    for spec in specs:
        name, sep, where = spec.partition(":")
        f = get_format(name.strip().lower())
        if f is None:
            raise UsageError(None, f"--format {spec!r}: unknown format {name!r} (choose from {', '.join(names)})")
        if sep and not where:
            raise UsageError(None, f"--format {spec!r}: no file after ':' (FORMAT:FILE)")
        if f.writes_files and not sep:
            raise UsageError(None, f"--format {spec!r}: {f.name} writes image files, not text: name a folder or "
                                   f"a file for them ({f.name}:FOLDER or {f.name}:FILE.{f.name})")
        if sep:
            extra.append((f, Path(where)))
        elif primary is not None:
            raise UsageError(None, f"--format {spec!r}: only one format goes to standard output (already "
                                   f"{primary.name}); give this one a file: {f.name}:FILE")
        else:
            primary = f
    return primary or get_format(DEFAULT_FORMAT), extra


def _write_files(fmt, report, where: Path, reads: Optional[list]) -> None:
    """Write what a file-writing format (:attr:`Format.writes_files`) makes for ``-f
    FORMAT:where``, one file at a time, each atomically, making its folder when missing.

    Args:
        reads: the paths this call reads (each file is checked against them as ``-o`` is,
            :func:`check_output`), or ``None`` with ``--force``.
    Raises:
        OutputError: a folder cannot be made, a file cannot be written, or it would land
            on or inside what losscheck reads."""
    for path, data in fmt.files(report, where):
        if reads is not None:
            check_output(path, reads)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_report(path, data)
        except OSError as exc:
            raise OutputError(path, f"cannot write the image: {exc.strerror or exc}") from None


#: ``--color`` values.
COLOR_CHOICES = ("auto", "always", "never")


def want_color(when: str, isatty: bool, environ) -> bool:
    """Whether the text report is coloured: ``always``/``never`` as told; ``auto``: off when
    ``NO_COLOR`` is set and not empty (https://no-color.org), else on when ``FORCE_COLOR`` is
    set and not empty, whatever its value and even when piped (https://force-color.org), else
    on when standard output is a terminal. The flag beats both variables; ``NO_COLOR`` beats
    ``FORCE_COLOR``.

    Raises:
        UsageError: ``when`` is not one of :data:`COLOR_CHOICES`."""
    when = when.strip().lower()
    if when not in COLOR_CHOICES:
        raise UsageError(None, f"--color {when!r}: unknown (choose from {', '.join(COLOR_CHOICES)})")
    if when != "auto":
        return when == "always"
    if environ.get("NO_COLOR", ""):
        return False
    if environ.get("FORCE_COLOR", ""):
        return True
    return isatty


def _draw(fmt, report, coloured: bool) -> bool:
    """Let ``fmt`` draw ``report`` with rich: on a terminal (coloured or not), or piped with
    ANSI colour when ``coloured`` (``--color always``, ``FORCE_COLOR``), at the piped width;
    whether it did (else its plain text is written).

    Raises:
        OutputError: the output cannot be written (stdout then silenced)."""
    tty = sys.stdout.isatty()
    if not tty and not coloured:
        return False
    if not coloured:
        console = _terminal_console(color_system=None)
    elif tty:
        console = _terminal_console(force_terminal=True, no_color=False)
    else:
        from losscheck.formats.text import piped_width

        dumb = os.environ.get("TERM", "") in ("dumb", "unknown")
        console = _terminal_console(force_terminal=True, no_color=False, width=piped_width(),
                                    color_system="standard" if dumb else "auto")
    try:
        return fmt.draw(report, console)
    except (OSError, ValueError) as exc:
        raise _stdout_error(exc) from None


def _terminal_console(**kwargs):
    """A rich console for the terminal whose closed or hung-up output raises ``OSError``
    (rich's own handling exits 1, which would claim a failing run)."""
    from rich.console import Console

    class TerminalConsole(Console):
        """rich's console, with a broken pipe raised rather than exiting 1."""

        def on_broken_pipe(self) -> None:
            """Raise :class:`BrokenPipeError` (handled as a broken output, exit 2)."""
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    return TerminalConsole(**kwargs)


def _config(paths: List[Path], config: Optional[Path], isolated: bool, baseline: Optional[Path] = None, **flags):
    """Load the configuration (from the working directory upward, never from inside the local
    ``paths`` or ``baseline``; or ``--config``) and layer the command-line flags on top."""
    from losscheck.catalogue import vocabulary
    from losscheck.config import load_config, validate_table

    vocab = vocabulary()
    cfg = load_config(Path.cwd(), config, isolated, vocabulary=vocab,
                      data=[p for p in (*paths, baseline) if p is not None])
    for key in ("select", "ignore"):
        if flags[key]:
            codes = [c.strip() for item in flags[key] for c in item.split(",") if c.strip()]
            try:
                flags[key] = validate_table({key: codes}, Path(f"--{key}"), "", vocab)[key]
            except UsageError as exc:  # name the flag, not a file
                raise UsageError(None, f"--{exc.problem}") from None
    metrics = {role: flags.pop(role) for role in ("loss", "eval_loss", "grad_norm", "lr") if flags.get(role)}
    cfg.apply_flags({"fail_on": flags["fail_on"], "num_classes": flags["num_classes"],
                     "select": flags["select"] or None, "ignore": flags["ignore"] or None,
                     "strict": flags["strict"], "metrics": metrics,
                     "metric_origins": {r: f"--{r.replace('_', '-')} {t!r}" for r, t in metrics.items()}})
    return cfg


@app.command("config", cls=_Command)
def config_cmd(
    path: Optional[Path] = typer.Argument(None, help="The path you would diagnose: a configuration file "
                                          "inside it is not used (it is named in a note)."),
    config: Optional[Path] = typer.Option(None, "--config", metavar="FILE", help="Configuration file to use."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore all configuration files."),
) -> None:
    """Print the effective configuration and where each value came from.

    The configuration is found as diagnose finds it: from the working directory upward
    (or --config), never inside PATH.
    """
    from losscheck.catalogue import vocabulary
    from losscheck.config import KEYS, ROLE_KEYS, load_config

    vocab = vocabulary()
    try:
        if path is not None and str(path) != "-" and not os.path.lexists(path):
            raise UsageError(path, "no such file or directory")
        cfg = load_config(Path.cwd(), config, isolated, vocabulary=vocab, data=[path] if path is not None else [])
    except LosscheckError as exc:
        _die(exc.one_line())
        return
    for note in cfg.notes:
        _err(f"note: {note}")
    out = [f"# configuration file: {escape_controls(cfg.file or 'none (defaults)')}",
           "# effective values, as losscheck.toml; '# from' says where each came from"]
    settings = cfg.settings
    tables = {}
    kebab_role = {role: key for key, role in ROLE_KEYS.items()}
    for key, name in KEYS.items():
        val = getattr(settings, name)
        if name == "baseline_tolerance" and val is None:
            val = vocab.thresholds.get(key)  # the rule's default
        if isinstance(val, tuple):
            val = list(val)
        if name == "metrics":
            val = {kebab_role.get(r, r): t for r, t in val.items()}
        if name in ("severity", "metrics", "thresholds"):
            tables[key] = dict(val)
            continue
        line = f"{key} = {_toml(val)}" if val is not None else f"# {key} = (not set)"
        out.append(f"{line}    # from {escape_controls(cfg.sources.get(name, 'default'))}")
    th = dict(tables.pop("thresholds", {}) or {})
    for key, table in tables.items():
        out.append(f"\n[{key}]    # from {escape_controls(cfg.sources.get(KEYS[key], 'default'))}")
        for k, v in table.items():
            out.append(f"{_toml_key(k)} = {_toml(v)}")
    out.append("\n[thresholds]    # every threshold; '(default)' marks the built-in value, then what it accepts")
    for name, default in sorted(vocab.known_thresholds().items()):
        val = th.get(name, default)
        accepts = vocab.ranges.get(name)
        out.append(f"{name} = {_toml(val)}" + ("    # (default)" if name not in th else f"    # default {_toml(default)}")
                   + (f"; {accepts.describe()}" if accepts is not None else ""))
    field_key = {name: key for key, name in KEYS.items()}
    for pattern, table in cfg.per_path:
        out.append(f"\n[[per-path]]\npath = {_toml(pattern)}")
        for k, v in table.items():
            if k in ("path", "metric_origins"):
                continue
            if k == "metrics":
                v = {kebab_role.get(r, r): t for r, t in v.items()}
            out.append(f"{_toml_key(field_key.get(k, k))} = {_toml(list(v) if isinstance(v, tuple) else v)}")
    _emit("\n".join(out) + "\n")


def _emit(text: str) -> None:
    """Write a command's whole output to stdout; a broken stdout is exit 2 with one line."""
    try:
        write_stdout(text)
    except OutputError as exc:
        _die(exc.one_line())


def _toml_key(k) -> str:
    """A TOML key: bare when it is one, else quoted (escaped)."""
    import re

    return k if isinstance(k, str) and re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml(str(k))


def _toml(v) -> str:
    """A TOML literal for the simple values a configuration holds."""
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))


def _progress_bar():
    """A callback drawing a progress bar on stderr for sweeps (more than one run)."""
    state = {}

    def cb(done: int, total: int) -> None:
        if total <= 1:
            return
        if "p" not in state:
            from rich.console import Console
            from rich.progress import Progress

            p = Progress(console=Console(stderr=True), transient=True)
            p.start()
            state["p"], state["t"] = p, p.add_task("diagnosing", total=total)
        state["p"].update(state["t"], completed=done)
        if done >= total:
            state["p"].stop()

    return cb


def _watch_target(path: Path, idle: float) -> None:
    """Check what ``watch`` is pointed at before the first poll: a device, FIFO or socket is
    refused as ``diagnose`` refuses it; a path that does not exist yet gets one line on
    stderr saying that the watch waits for it, and for how long (a typo is not five silent
    minutes).

    Raises:
        UnreadableFile: ``path`` exists and is neither a regular file nor a directory
            (:func:`losscheck.discovery.refuse_special`).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        _err(f"losscheck watch: waiting for {path} to appear (ends after {idle:g} s without a new point; "
             "--idle sets it)")
        return
    except OSError:
        return  # the follower reports what it cannot read
    from losscheck.discovery import refuse_special

    refuse_special(path, st.st_mode)


@app.command(cls=_Command)
def watch(
    path: Path = typer.Argument(..., help="A run folder (or one log file) being written; it may appear later."),
    interval: float = typer.Option(2.0, "--interval", min=0.01, metavar="SECONDS", help="Seconds between polls."),
    idle: float = typer.Option(300.0, "--idle", min=0.0, metavar="SECONDS", help="End after this many seconds without a new "
                               "point: exit 0 if the full diagnosis is not failing, else 1."),
    on_fail: Optional[str] = typer.Option(None, "--on-fail", metavar="COMMAND", help="Shell command to run when a run fails "
                                          "(the JSON report's path is in $LOSSCHECK_REPORT), e.g. "
                                          "'scancel $SLURM_JOB_ID'."),
    report: Optional[Path] = typer.Option(None, "--report", metavar="FILE", help="Where the JSON report goes on failure "
                                          "(default: a new temporary folder; never inside PATH)."),
    stop_on: str = typer.Option("urgent", "--stop-on", metavar="WHEN", help="urgent: exit 1 at once on divergence, NaN/Inf "
                                "or an unrecovered spike; failing: on anything that fails the gate."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", metavar="LEVEL", help="Gate level of the final verdict, as for "
                                          "diagnose."),
    config: Optional[Path] = typer.Option(None, "--config", metavar="FILE", help="Configuration file, as for diagnose."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore all configuration files."),
    quiet: int = typer.Option(0, "--quiet", "-q", count=True, show_default=False, help="Less output: no line "
                              "per change, only the full diagnosis when the status changes (-qq: nothing on "
                              "standard output). The closing line on stderr and exit codes are unchanged."),
    color: str = typer.Option("auto", "--color", metavar="WHEN", help="Colour the full diagnoses, as for "
                              "diagnose: auto, always, never (NO_COLOR, FORCE_COLOR honoured)."),
) -> None:
    """Follow a run while it trains: one line per change, exit 1 the moment it is failing."""
    from losscheck.formats.json import JsonFormat
    from losscheck.formats.text import TextFormat
    from losscheck.live.watch import watch as run_watch

    def line(run: str, v) -> None:
        if not quiet:
            write_stdout(escape_controls(f"{run}: {v.line()}") + "\n")

    def full(rep) -> None:
        if quiet < 2 and not _draw(TextFormat(), rep, coloured):
            write_stdout(TextFormat().render(rep))

    try:
        coloured = want_color(color, sys.stdout.isatty(), os.environ)
        if stop_on not in ("urgent", "failing"):
            raise UsageError(None, f"--stop-on {stop_on!r}: choose urgent or failing")
        fail_on = _check_fail_on(fail_on)
        if report is not None:
            check_output(report, [path], hint="choose a --report path outside it")
        cfg = _config([path], config, isolated, fail_on=fail_on, num_classes=None, select=None, ignore=None,
                      strict=None, loss=None, eval_loss=None, grad_norm=None, lr=None)
        _watch_target(path, idle)
        res = run_watch(path, cfg.settings, interval=interval, idle=idle, stop_on=stop_on, on_line=line,
                        on_change=full)
        if res.outcome == "nothing":
            _die(res.errors[0] if res.errors else f"{path}: no diagnosable run after {idle:g} s idle")
        _err(f"losscheck watch: {'stopped' if res.outcome == 'stop' else 'idle'} at step {res.step}: "
             f"{'failing' if res.failing else 'not failing'}")
        if res.failing:
            out = report or Path(tempfile.mkdtemp(prefix="losscheck-watch-")) / "losscheck-report.json"
            try:
                write_report(out, JsonFormat().render(res.report).encode("utf-8"))
            except OSError as exc:
                raise OutputError(out, f"cannot write the report: {exc.strerror or exc}") from None
            _err(f"losscheck watch: report {out}")
            if on_fail:
                import subprocess

                env = dict(os.environ, LOSSCHECK_REPORT=str(out), LOSSCHECK_STEP=str(res.step))
                rc = subprocess.run(on_fail, shell=True, env=env).returncode
                if rc:
                    _err(f"--on-fail command exited {rc}")
    except LosscheckError as exc:
        _die(exc.one_line())
        return
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:  # never a traceback for users
        _die(f"{path}: internal error ({type(exc).__name__}: {exc}); report it")
        return
    raise typer.Exit(EXIT_FAILING if res.failing else EXIT_OK)


@app.command(cls=_Command)
def rules(format: str = typer.Option(DEFAULT_FORMAT, "--format", "-f", metavar="FORMAT",
                                     help="text (one line per rule) or json (code, name, severity, summary "
                                     "and each threshold with its default and unit).")) -> None:
    """List every rule: code, name, default severity, summary."""
    from losscheck.rules.docs import LISTINGS, rules_listing

    try:
        text = rules_listing(format)
    except ValueError:
        _die(f"--format {format!r}: unknown (choose from {', '.join(LISTINGS)})")
    _emit(text)


@app.command(cls=_Command)
def explain(code: str = typer.Argument(..., help="A rule code (LC101) or name (loss-diverging).")) -> None:
    """Explain one rule: what it detects, why it matters, what to do, how it is computed."""
    from losscheck.rules import find_rule
    from losscheck.rules.docs import rule_markdown

    rule = find_rule(code)
    if rule is None:
        _die(f"{code if code.strip() else repr(code)}: no such rule (see `losscheck rules`)")
    _emit(rule_markdown(rule) + "\n")


class _ClosedStream:
    """Stands for a standard stream whose descriptor was closed when losscheck started
    (``>&-``, ``2>&-``): Python then sets ``sys.stdout``/``sys.stderr`` to ``None``. Writing
    raises ``OSError(EBADF)`` (so a report to a closed stdout is exit 2 with one line), and
    it is never a terminal."""

    encoding = "utf-8"

    def write(self, text) -> int:
        """Always fails: the stream is closed."""
        raise OSError(errno.EBADF, "standard output is closed")

    def writelines(self, lines) -> None:
        """Always fails: the stream is closed."""
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        """Nothing is ever buffered: does nothing."""

    def isatty(self) -> bool:
        """Never a terminal."""
        return False

    def fileno(self) -> int:
        """No descriptor: raises ``OSError``."""
        raise OSError(errno.EBADF, "closed")


def _guard_std_streams() -> None:
    """Cope with standard streams closed at start: descriptors 0-2 are pointed at the null
    device, so no file losscheck opens later takes their number (a report written to
    "stdout" must never land in a log file); a closed stdout becomes a
    :class:`_ClosedStream` (writing to it is a broken output, exit 2), a closed stderr
    writes to the null device (its messages are lost, the exit code still says it all)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                nul = os.open(os.devnull, os.O_RDWR)
            except OSError:
                continue
            if nul != fd:
                os.dup2(nul, fd)
                os.close(nul)
    if sys.stdout is None:
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        try:
            sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        except OSError:
            sys.stderr = _ClosedStream()


def _interrupt_once() -> None:
    """Make Ctrl-C raise ``KeyboardInterrupt`` once: a second Ctrl-C while the first is being
    handled (sweep workers being killed, a temporary report removed) is ignored, so the
    cleanup ends and the exit code is 130, instead of the interpreter dying by the signal
    half-way through it. Left alone when SIGINT is ignored (a job started in the background)
    or this is not the main thread."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    state = {"seen": False}

    def handler(signum, frame) -> None:
        if state["seen"]:
            return  # the first Ctrl-C is already stopping everything
        state["seen"] = True
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        pass


def _quiet_exit(code: object) -> NoReturn:
    """``sys.exit(code)``; after a Ctrl-C, with SIGINT ignored from here on: the interpreter
    puts the default action back while it shuts down (joining the sweep's helper thread), and
    a second Ctrl-C landing then would kill it by the signal instead of exit 130."""
    import signal

    if code == 130:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:
            pass
    sys.exit(code)  # type: ignore[arg-type]


def _stdout_id() -> tuple[int, int] | None:
    """``(device, inode)`` of what file descriptor 1 refers to, or ``None``."""
    try:
        st = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return st.st_dev, st.st_ino


def _command_in(args: list[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is one), or ``None``."""
    import typer.main

    names = set(getattr(typer.main.get_command(app), "commands", {}))
    return next((a for a in args if a in names), None)


def _close_options_only(exc: BaseException) -> None:
    """Keep only the "Possible options" of an unknown option that resemble it without their
    leading dashes (the CLI framework compares ``--bogus`` with ``--jobs`` dashes included, so
    every short option looked close); none left: no suggestion at all."""
    import difflib

    opt, found = getattr(exc, "option_name", None), getattr(exc, "possibilities", None)
    if not isinstance(opt, str) or not found:
        return
    word = opt.lstrip("-").lower()
    exc.possibilities = [p for p in found  # type: ignore[attr-defined]
                         if difflib.SequenceMatcher(None, word, p.lstrip("-").lower()).ratio() >= 0.6]


def main() -> None:
    """Console-script entry point: the CLI framework's own usage errors become one line, exit 2;
    so does an output that cannot be written (a closed pipe, a full disk), whichever command
    wrote it."""
    # click's UsageError (BadParameter's base), whether typer vendors click or depends on it
    usage_error = typer.BadParameter.__mro__[1]
    _guard_std_streams()
    _interrupt_once()
    before = _stdout_id()
    try:
        rv = app(standalone_mode=False)
    except KeyboardInterrupt:  # outside the CLI framework's own handling
        _err("aborted")
        _quiet_exit(130)
    except usage_error as exc:  # type: ignore[misc, unused-ignore]  # a class found at run time
        ctx = getattr(exc, "ctx", None)
        name = getattr(ctx, "info_name", None) if ctx is not None else None
        if not name or name == "losscheck":  # an option missing its value carries no context
            name = _command_in(sys.argv[1:])
        hint = f"losscheck {name} --help" if name and name != "losscheck" else "losscheck --help"
        _close_options_only(exc)
        msg = exc.format_message().strip()
        if msg:  # bare `losscheck` prints the help and nothing else
            _err(f"{msg} (see `{hint}`)")
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        _err("aborted")
        _quiet_exit(130)
    except typer.Exit as exc:
        rv = exc.exit_code
    except SystemExit as exc:
        # On a closed pipe (help text, say), the CLI framework wraps stdout and exits 1, and
        # rich points descriptor 1 at the null device and exits 1: neither is a failing run.
        wrapped = type(sys.stdout).__name__ == "PacifyFlushWrapper"
        if exc.code == 1 and (wrapped or (before is not None and _stdout_id() != before)):
            if wrapped:
                sys.stdout = getattr(sys.stdout, "wrapped", sys.stdout)
            _err(_stdout_error(OSError(errno.EPIPE, os.strerror(errno.EPIPE))).one_line())
            sys.exit(EXIT_USAGE)
        raise
    except OSError as exc:  # every command handles its own errors: what is left is the output
        _err(_stdout_error(exc).one_line())
        sys.exit(EXIT_USAGE)
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        _err(_stdout_error(exc).one_line())
        sys.exit(EXIT_USAGE)
    _quiet_exit(rv if isinstance(rv, int) else 0)

"""Find log files under a path and group them into runs (the read stage's front door).

A path may be one file, one run directory, or a tree of many runs (a sweep). Each
directory that holds recognised logs is one run, except directories whose names mark them
as part of an enclosing run's layout (:data:`NESTED_DIRS`: MLflow's ``metrics/``,
Keras' ``train/`` and ``validation/`` TensorBoard sub-folders, W&B's ``files/``, HF
``checkpoint-N/`` copies...), which are merged into the nearest enclosing directory. (Once
read, a flat folder whose files are several runs' exports is split into those runs by the read
stage: :mod:`losscheck.runsplit`.)

Directories with regular files of their own but no recognised log, and no run inside them,
are reported as "no supported log found" (unless one of their files already has an error of
its own). Nothing is ever written. Symlinks that stay inside the diagnosed tree are followed;
a symlink (to a folder or a file) that leads out of it is not, unless ``follow_symlinks`` is
given (``--follow-symlinks``): a log folder must not pull ``/etc`` or another user's files
into a report or an error message. The links left out are listed in
:attr:`Discovery.links_not_followed`. Each directory and each file is visited once (by
device and inode), so symlink loops end and a file reachable by two names (a symlink or
hard link beside its target) is not read twice. FIFOs, devices
and sockets are never opened (checked with ``stat`` before sniffing, and again with
``fstat`` on a non-blocking descriptor when read: :func:`losscheck.readers._common.open_regular`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from losscheck.errors import LosscheckError, NoLogsFound, ParseError, UnreadableFile
from losscheck.model import ReadNote, ReadResult
from losscheck.readers import all_readers, choose, read_head
from losscheck.readers._common import MAX_INFLATED_BYTES, memory_files, open_bounded, read_data
from losscheck.readers.interface import BINARY_SUFFIXES, HEAD_BYTES, Reader
from losscheck.readers._hparams import is_config_file
from losscheck.sources import (GLOB_CHARS, STDIN_BINARY_NAMES, STDIN_NAMES, STDIN_ROOT, RemoteFile, archive_kind, archive_members,
                              collapsed, fetch_heads, is_archive, is_url, local_path, read_stdin, remote_entries,
                              remote_problem)

#: Directory names that belong to an enclosing run rather than being runs themselves.
NESTED_DIRS = re.compile(
    r"^(metrics|params|tags|artifacts|train|training|validation|valid|val|eval|evaluation|test|"
    r"tensorboard|tensorboard_logs|tb|tb_logs|logs|files|plugins|profile|checkpoint-\d+|"
    r"checkpoint_\d+|ckpt-\d+)$", re.IGNORECASE)

#: of :data:`SKIP_SUFFIXES`, the text ones: a file of these the user names is sniffed all the same
#: (a console log saved as ``R50-FPN_log.py``); inside a tree they are skipped (code, not logs)
NAMED_TEXT_SUFFIXES = (".py",)
#: File names never worth sniffing: binaries (:data:`losscheck.readers.interface.BINARY_SUFFIXES`:
#: checkpoints, arrays, archives) and code.
SKIP_SUFFIXES = BINARY_SUFFIXES + NAMED_TEXT_SUFFIXES


_TRAIN_EVAL_DIR = re.compile(r"^(train|training|validation|valid|val|eval|evaluation|test)$", re.IGNORECASE)
_ROLE_MARK = re.compile(r"(^|[/_\-. ])(train|training|eval|val|valid|validation|dev|test|evaluation)"
                        r"([/_\-. ]|$)", re.IGNORECASE)


def context_tag(tag: str, subdir: str) -> str:
    """The name a tag read from sub-folder ``subdir`` of its run takes in the run.

    Two layouts write one metric name into several sub-folders, one per role:

    - Keras ``TensorBoard`` callback: ``<run>/train/`` and ``<run>/validation/`` both hold
      ``epoch_loss``; they become ``train/epoch_loss`` and ``validation/epoch_loss`` (a tag
      that already names its role, ``evaluation_loss_vs_iterations``, is kept as it is).
    - PyTorch ``SummaryWriter.add_scalars("Loss", {"train": .., "val": ..})``: folders
      ``<run>/Loss_train/`` and ``<run>/Loss_val/`` hold the tag ``Loss``; they become
      ``Loss/train`` and ``Loss/val``.

    Args:
        tag: the tag as the file spells it.
        subdir: :attr:`LogFile.subdir` (``""`` for a file in the run root).
    Returns:
        The tag to use in the run (``tag`` itself when no rule applies).
    """
    if not subdir:
        return tag
    last = subdir.rsplit("/", 1)[-1]
    flat = tag.replace("/", "_")
    if last.startswith(flat + "_") and len(last) > len(flat) + 1:
        return f"{tag}/{last[len(flat) + 1:]}"
    if _TRAIN_EVAL_DIR.match(last) and not _ROLE_MARK.search(tag):
        return f"{last}/{tag}"
    return tag


class FailedReader(Reader):
    """Stands for a file that could not even be sniffed (permission denied, I/O error):
    it stays in its run, and :meth:`read` raises the original error, so the pipeline treats
    it like any other unreadable file (a note, or a failure of the run under ``--strict``)."""

    name = "unreadable"
    description = "a file that could not be read during discovery"

    def __init__(self, error: LosscheckError) -> None:
        self.error = error

    def sniff(self, path: Path, head: bytes) -> float:
        """Never chosen for anything: 0."""
        return 0.0

    def read(self, path: Path):
        """Raises the error met during discovery (:class:`UnreadableFile` usually)."""
        raise self.error


@dataclass
class LogFile:
    """A recognised log file and the reader chosen for it.

    ``subdir`` is the folder that holds the file relative to its run's root (POSIX form,
    ``""`` when the file sits in the root itself): ``validation`` for Keras'
    ``<run>/validation/events...``, ``Loss_val`` for PyTorch ``add_scalars``. The read stage
    uses it to tell the same tag in two sub-folders apart (:func:`context_tag`).
    """

    path: Path
    reader: Reader
    subdir: str = ""


@dataclass
class RunFiles:
    """The log files of one run (``root`` is the run directory, or the file itself).

    ``memory`` holds the content of the run's files that are not on disk (archive members,
    standard input: :mod:`losscheck.sources`), by path string; the read stage serves them
    to the readers (:class:`losscheck.readers._common.memory_files`).
    """

    root: Path
    files: list[LogFile] = field(default_factory=list)
    memory: dict[str, bytes] = field(default_factory=dict)
    #: results already read during discovery (standard input's format is found by reading it)
    preread: dict[str, "ReadResult"] = field(default_factory=dict)
    #: the run's files behind a URL, by virtual path (:mod:`losscheck.sources`): fetched by the
    #: read stage, wherever it runs; ``root`` and the files' paths are then virtual paths
    remote: dict[str, RemoteFile] = field(default_factory=dict)
    #: the URL scheme of a remote run (``s3``), whose results get their URLs back
    scheme: str = ""
    #: what discovery saw of the run's files but did not read (a FIFO named like a log, a
    #: member an archive holds twice), reported with the run's read notes
    notes: list[ReadNote] = field(default_factory=list)


@dataclass
class Discovery:
    """Runs found under a path, plus per-path problems.

    Attributes:
        runs: the runs, sorted by root path.
        errors: files or folders that could not be read or listed.
        links_not_followed: symlinks leading out of the diagnosed tree, left out (without
            ``follow_symlinks``).
        without_logs: folders with files of their own but no log and no run inside them
            (``src/``, ``data/``, ``notebooks/``...): not runs and not errors; the report
            counts them in one summary line.
    """

    runs: list[RunFiles]
    errors: list[LosscheckError]
    without_logs: list[Path] = field(default_factory=list)
    #: symlinks inside the tree whose target lies outside it, not followed (see the module doc)
    links_not_followed: list[Path] = field(default_factory=list)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name in ("__pycache__", "node_modules")


#: The HF Trainer's default ``logging_dir`` is ``<output_dir>/runs/<date>_<host>/``; readers
#: whose files mark ``<output_dir>`` as a fine-tune's output folder (its TensorBoard logs
#: below ``runs/`` belong to it).
OUTPUT_DIR_READERS = frozenset({"hf-trainer-state", "llamafactory"})


def _climbs(d: Path, event_dirs: set[Path]) -> bool:
    """Whether folder ``d`` is part of its parent's run rather than a run of its own:
    a layout folder (:data:`NESTED_DIRS`), or a PyTorch ``add_scalars`` folder
    (``<run>/<main_tag>_<key>/``: event files only, named with an underscore, beside the
    parent's own event file, which the ``SummaryWriter`` writes first)."""
    if NESTED_DIRS.match(d.name):
        return True
    return d in event_dirs and d.parent in event_dirs and "_" in d.name


def _run_root(file_dir: Path, top: Path, event_dirs: set[Path] = frozenset()) -> Path:
    """Climb out of nested layout folders (never above ``top``)."""
    d = file_dir
    while d != top and top in d.parents and _climbs(d, event_dirs):
        d = d.parent
    return d


def _inside(path: Path, top_real: Path) -> bool:
    """Whether the real location of ``path`` lies inside the real folder ``top_real`` on a
    path the walk visits (no hidden component)."""
    try:
        rel = Path(os.path.realpath(path)).relative_to(top_real)
    except ValueError:
        return False
    return not any(_is_hidden(part) for part in rel.parts)


def _is_link(path: Path) -> bool:
    """``path.is_symlink()``, ``False`` when it cannot be told (a folder without search
    permission: the ``stat`` that follows reports that)."""
    try:
        return path.is_symlink()
    except OSError:
        return False


def _leaves(link: Path, top_real: Path) -> bool:
    """Whether symlink ``link`` resolves to a place outside the real folder ``top_real``
    (a dangling link resolves to where it points, which is judged the same way)."""
    try:
        Path(os.path.realpath(link)).relative_to(top_real)
    except (ValueError, OSError):
        return True
    return False


def _canonical_top(top: Path) -> Path:
    """W&B's ``wandb/latest-run`` is a symlink to ``wandb/run-<date>-<id>``: name the run by
    its target, so the same run keeps the same name from one CI run to the next."""
    if top.name == "latest-run" and top.is_symlink():
        real = Path(os.path.realpath(top))
        if real.parent == Path(os.path.realpath(top.parent)) and not _is_hidden(real.name):
            return top.parent / real.name
    return top


def _raw_zip(path: Path) -> bool:
    """Whether the bytes of ``path`` on disk (not inflated) start a zip archive; ``False``
    when it cannot be read (the read that follows says why)."""
    try:
        with open_bounded(path) as fh:
            return archive_kind(fh.read(512)) == "zip"
    except (LosscheckError, OSError):
        return False


def _raw_bytes(path: Path) -> bytes:
    """The bytes of ``path`` on disk, at most :data:`MAX_INFLATED_BYTES`.

    Raises:
        UnreadableFile: it cannot be read, or holds more."""
    try:
        with open_bounded(path) as fh:
            data = fh.read(MAX_INFLATED_BYTES + 1)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INFLATED_BYTES:
        raise UnreadableFile(path, f"more than {MAX_INFLATED_BYTES >> 30} GiB: not read")
    return data


def _sniff(path: Path, named: bool = False, empty_is_error: bool = False) -> Reader | None:
    """The reader of ``path`` (None when none claims it); ``named``: the user named this file.

    Raises:
        ParseError: with ``empty_is_error``, ``path`` is empty (or only whitespace) and a
            reader would claim it by its name alone once it had content (an empty
            ``trainer_state.json``), or it is named as a text data file but holds binary
            bytes (:func:`_refuse_binary`): that run's error, not a folder without logs.
        UnreadableFile: its head cannot be read.
    """
    if path.name.endswith(SKIP_SUFFIXES) and not (named and path.name.endswith(NAMED_TEXT_SUFFIXES)):
        return None
    head = read_head(path)
    reader = choose(path, head)
    if reader is None and empty_is_error:
        _refuse_empty(path, head)
        _refuse_binary(path, head)
    return reader


#: Names of text data formats: a file so named whose content is binary is an error of its own in
#: a folder walk (a log damaged or overwritten), not a folder without logs.
TEXT_DATA_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".csv.gz", ".tsv.gz", ".jsonl.gz", ".ndjson.gz")


def _refuse_binary(path: Path, head: bytes) -> None:
    """Raise :class:`ParseError` when ``path`` is named as a text data file (:data:`TEXT_DATA_SUFFIXES`),
    no reader claims it, and its head holds NUL bytes (binary content; UTF-16 text is claimed
    by the readers before this is asked)."""
    if path.name.lower().endswith(TEXT_DATA_SUFFIXES) and b"\x00" in head[:4096]:
        raise ParseError(path, "binary content (NUL bytes), not the text its name says: not read")


def _refuse_empty(path: Path, head: bytes) -> None:
    """Raise :class:`ParseError` ``empty file`` when ``head`` is the whole of an empty (or
    whitespace-only) file that a reader claims by its name once it has any content."""
    if len(head) >= HEAD_BYTES or head.strip() or choose(path, b"x") is None:
        return
    raise ParseError(path, "empty file" if not head else "empty file (only whitespace)")


def refuse_special(path: Path, mode: int) -> None:
    """Refuse what is neither a regular file nor a directory (a FIFO, a socket, a device such
    as ``/dev/zero``): reading one can block or never end. ``mode``: ``os.stat(path).st_mode``.
    ``diagnose`` and ``watch`` both refuse such a path this way.

    Raises:
        UnreadableFile: ``mode`` is not a regular file's or a directory's."""
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UnreadableFile(path, "not a regular file or directory (FIFO, socket or device): not read")


def discover(path: str | os.PathLike, follow_symlinks: bool = False, *,
             sniff: Callable[[Path, os.stat_result], Reader | None] | None = None,
             on_dir: Callable[[Path, os.stat_result], None] | None = None) -> Discovery:
    """Find runs under ``path``.

    Args:
        path: a log file, a run directory, or a directory tree of runs (``path`` itself may
            be a symlink: it is what the user named).
        follow_symlinks: also follow symlinks below ``path`` that lead out of it (default:
            they are listed in :attr:`Discovery.links_not_followed`, not read).
        sniff: in a directory walk, chooses the reader of each regular file from its path and
            its ``stat`` (default: the readers' sniff of its head); may raise
            :class:`LosscheckError` as the sniff does. The log follower passes one that
            remembers what it chose (``losscheck watch`` walks again when a folder changes).
        on_dir: in a directory walk, called with each folder walked (``path`` first) and its
            ``stat``.
    Returns:
        A :class:`Discovery`; runs are sorted by path. A directory that cannot be listed is
        in ``errors``; a file that cannot be read stays in its run with a
        :class:`FailedReader` (so ``--strict`` fails that run), and the walk goes on.
    Raises:
        NoLogsFound: ``path`` does not exist, or holds no recognised log at all and no
            other error explains why (the message says when symlinks leading out of the
            tree were left out).
        UnreadableFile: ``path`` itself is a FIFO/device, or cannot be read.
    """
    if str(path) == "-":
        return _discover_stdin()
    if isinstance(path, str) and is_url(path):
        local = local_path(path)
        if local is None:
            return _discover_remote(path)
        path = local
    top = _canonical_top(Path(path))
    try:
        st = top.stat()
    except FileNotFoundError:
        raise NoLogsFound(top, "no such file or directory") from None
    except OSError as exc:
        raise UnreadableFile(top, f"cannot access: {exc.strerror or exc}") from None

    if stat.S_ISREG(st.st_mode) and is_archive(top):
        return _discover_archive(top)
    if stat.S_ISREG(st.st_mode) and top.name.endswith(".gz") and _raw_zip(top):
        return _discover_archive(top, _raw_bytes(top))  # a zip named .gz: read as what it is
    if stat.S_ISREG(st.st_mode) and top.name.endswith(".gz") and archive_kind(read_head(top, 512)):
        return _discover_archive(top, read_data(top)[0])  # logs.gz holding a tar (within the gzip limits)
    if stat.S_ISREG(st.st_mode):
        reader = _sniff(top, named=True, empty_is_error=True)
        if reader is None:
            raise NoLogsFound(top, "not a supported log file (no reader recognises its name and content)")
        return Discovery([RunFiles(top, [LogFile(top, reader)])], [])
    refuse_special(top, st.st_mode)

    found: list[tuple[Path, Path, Reader]] = []  # (folder, file, reader) in walk order
    errors: list[LosscheckError] = []
    dirs_with_files: list[Path] = []
    dirs_with_errors: set[Path] = set()
    event_dirs: set[Path] = set()
    seen_dirs: set[tuple[int, int]] = {(st.st_dev, st.st_ino)}
    seen_files: set[tuple[int, int]] = set()
    top_real = Path(os.path.realpath(top))
    outside: list[Path] = []
    denied: dict[Path, int] = {}  # folder -> files whose stat was refused
    specials: list[tuple[Path, Path]] = []  # (folder, FIFO/socket/device in it)

    def onerror(exc: OSError) -> None:
        errors.append(UnreadableFile(exc.filename or top, f"cannot list directory: {exc.strerror or exc}"))

    if on_dir is not None:
        on_dir(top, st)
    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=True):
        here = Path(dirpath)
        keep_dirs = []
        for d in sorted(dirnames):
            if _is_hidden(d):
                continue
            sub = here / d
            try:
                if sub.is_symlink():
                    if _inside(sub, top_real):
                        continue  # walked under its real name (W&B's latest-run -> run-<id>)
                    if not follow_symlinks and _leaves(sub, top_real):
                        outside.append(sub)
                        continue
                dst = sub.stat()
            except FileNotFoundError:
                continue  # a dangling symlink
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # not a symlink loop: a folder the walk cannot enter
                    errors.append(UnreadableFile(sub, f"cannot access folder: {exc.strerror or exc}"))
                continue
            key = (dst.st_dev, dst.st_ino)
            if key in seen_dirs:
                continue  # already walked (a symlink loop, or a second name for it)
            seen_dirs.add(key)
            keep_dirs.append(d)
            if on_dir is not None:
                on_dir(sub, dst)
        dirnames[:] = keep_dirs
        regular = False
        for name in sorted(filenames):
            if _is_hidden(name):
                continue
            fp = here / name
            if not follow_symlinks and _is_link(fp) and _leaves(fp, top_real):
                outside.append(fp)
                continue
            try:
                fst = fp.stat()
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    # a folder that can be listed but not searched (mode 444): one line for it
                    denied[here] = denied.get(here, 0) + 1
                elif not _is_link(fp):
                    errors.append(UnreadableFile(fp, f"cannot stat: {exc.strerror or exc}"))
                continue  # a dangling symlink: nothing to read
            if not stat.S_ISREG(fst.st_mode):
                specials.append((here, fp))  # FIFO, socket, device: never opened, noted in its run
                continue
            regular = True
            key = (fst.st_dev, fst.st_ino)
            if key in seen_files:
                continue  # the same file under another name (symlink / hard link)
            seen_files.add(key)
            try:
                reader = _sniff(fp, empty_is_error=True) if sniff is None else sniff(fp, fst)
            except LosscheckError as exc:
                # kept in its run: read_run notes it, or fails the run under --strict
                reader = FailedReader(exc)
                dirs_with_errors.add(here)
            if reader is None:
                continue
            if reader.name == "tensorboard":
                event_dirs.add(here)
            found.append((here, fp, reader))
        if regular and not NESTED_DIRS.match(here.name):
            dirs_with_files.append(here)

    for here, count in denied.items():
        errors.append(UnreadableFile(here, f"cannot access the {count} file(s) of this folder: permission "
                                           "denied (it can be listed but not searched)"))
    runs = _group(found, top, event_dirs)
    for here, fp in specials:
        owner = runs.get(_run_root(here, top, event_dirs))
        if owner is not None and not _is_hidden(fp.name):
            owner.notes.append(ReadNote(str(fp), "not a regular file (FIFO, socket or device): not read", "warning"))
    # every ancestor of a run, once: a sweep folder with a README is not a folder without logs
    has_run_below: set[Path] = set()
    for r in runs:
        for parent in r.parents:
            if parent in has_run_below:
                break
            has_run_below.add(parent)
    read_from = {here for here, _, _ in found}  # folders whose logs joined a run above them too
    without_logs = [d for d in dirs_with_files if d not in runs and d not in dirs_with_errors
                    and d not in has_run_below and d not in read_from]
    if not runs and not errors:
        if outside:
            raise NoLogsFound(top, f"no supported log found; {len(outside)} symlink(s) leading out of this "
                                   f"folder were not followed (first: {outside[0]}); pass --follow-symlinks "
                                   "to read them")
        if without_logs:
            raise NoLogsFound(top, "no supported log found")
        raise NoLogsFound(top, "no supported log found (empty directory tree)")
    return Discovery([runs[k] for k in sorted(runs)], errors, without_logs, outside)


def _discover_archive(top: Path, data: bytes | None = None) -> Discovery:
    """Runs inside a tar or zip archive (``data``: its bytes when it is not a file of its
    own: standard input, a ``.gz`` holding a tar), found as in a folder (:mod:`losscheck.sources`).
    A claimed member that cannot be read stays in its run as a :class:`FailedReader` (a note,
    or a failure of that run under ``--strict``)."""
    found: list[tuple[Path, Path, Reader]] = []
    memory: dict[str, bytes] = {}
    event_dirs: set[Path] = set()
    chosen: dict[str, Reader] = {}

    def claim(name: str, head: bytes, probe: bool = False) -> bool:
        if name.endswith(SKIP_SUFFIXES):
            return False
        fp = Path(f"{top}/{name}")
        with memory_files({str(fp): head}):
            try:
                reader = _sniff(fp, empty_is_error=True)
            except LosscheckError as exc:  # an empty log: that member's error
                reader = FailedReader(exc)
        if reader is not None and not probe:
            chosen[name] = reader
        return reader is not None

    at: dict[str, int] = {}  # member name -> its place in found: a name tar holds twice, last wins
    twice: list[Path] = []  # those names, for a note in their run
    refused: list[str] = []  # logs whose member path leads outside the archive: named, never read
    stopped: list[UnreadableFile] = []  # the archive broke part-way: the members before are kept
    for name, content, problem in archive_members(top, claim, data, refused, stopped):
        fp = Path(f"{top}/{name}")
        reader = chosen[name]
        if content is None:
            reader = FailedReader(UnreadableFile(fp, problem or "cannot be read"))
            memory.pop(str(fp), None)
        else:
            memory[str(fp)] = content
        if reader.name == "tensorboard":
            event_dirs.add(fp.parent)
        if name in at:
            found[at[name]] = (fp.parent, fp, reader)
            twice.append(fp)
        else:
            at[name] = len(found)
            found.append((fp.parent, fp, reader))
    runs = _group(found, top, event_dirs)
    errors: list[LosscheckError] = [UnreadableFile(Path(f"{top}/{name}"), REFUSED_MEMBER) for name in refused]
    if stopped and not runs:
        raise stopped[0]
    if stopped:
        errors.append(UnreadableFile(top, f"{stopped[0].problem} (the {len(runs)} run(s) before that point "
                                          "are diagnosed; any after it are not)"))
    if not runs:
        if refused:
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise NoLogsFound(top, f"no supported log found in the archive; member {refused[0]!r}{more} "
                                   f"refused: {REFUSED_MEMBER}")
        raise NoLogsFound(top, "no supported log found in the archive")
    for run in runs.values():
        run.memory = {str(lf.path): memory[str(lf.path)] for lf in run.files if str(lf.path) in memory}
        run.notes = [ReadNote(str(fp), "the archive holds this member more than once; the last copy was read",
                              "warning") for fp in dict.fromkeys(twice) if any(lf.path == fp for lf in run.files)]
    return Discovery([runs[k] for k in sorted(runs)], errors)


#: Why a log inside an archive whose path has ``..`` is not read (one error line each).
REFUSED_MEMBER = ("not read: its path leads outside the archive ('..'), which extracting it would "
                  "write; extract the archive yourself if you trust it")


def _discover_remote(url: str) -> Discovery:
    """Runs behind a URL (any fsspec protocol), found as in a folder: the prefix is listed
    once, the first :data:`~losscheck.sources.SNIFF_BYTES` of every candidate file fetched
    together and sniffed; files no larger than that keep their bytes (never fetched again).
    Hidden files and folders, :data:`SKIP_SUFFIXES` and archives inside the tree are skipped;
    a URL naming one archive is read as an archive (held in memory, within its limits).

    Raises:
        UsageError: the protocol's fsspec backend is missing (the extra to install is named).
        NoLogsFound: no such bucket/key/prefix, or no recognised log under it.
        UnreadableFile: access denied, no credentials, network errors.
    """
    from losscheck.sources import SNIFF_BYTES, url_scheme

    scheme = url_scheme(url)
    fs, root, entries, is_file = remote_entries(url)
    top_url = url.rstrip("/") if not is_file else url
    magic = [k for k, ch in enumerate(url) if ch in GLOB_CHARS]
    if magic:  # a glob: runs are named below the folder its pattern starts in
        top_url = url[:url.rfind("/", 0, magic[0])]
    top = Path(collapsed(top_url))
    if is_file and is_archive(Path(collapsed(url))):
        from losscheck.sources import fetch_remote

        got, problems = fetch_remote({str(top): RemoteFile(url, entries[0][1])})
        if problems:
            raise UnreadableFile(url, problems[str(top)])
        found_archive = _discover_archive(top, got[str(top)])
        for run in found_archive.runs:
            run.scheme = scheme
        return found_archive
    base = collapsed(entries[0][0]).rsplit("/", 1)[0] if is_file else str(top)
    candidates: list[tuple[str, int, Path]] = []
    for u, size in entries:
        fp = Path(collapsed(u))
        try:
            rel = fp.relative_to(base)
        except ValueError:
            rel = Path(fp.name)
        if any(_is_hidden(part) for part in rel.parts) or fp.name.endswith(SKIP_SUFFIXES) or is_archive(fp):
            if not is_file:
                continue
        candidates.append((u, size, fp))
    heads = fetch_heads(fs, [(u, size) for u, size, _ in candidates])
    found: list[tuple[Path, Path, Reader]] = []
    event_dirs: set[Path] = set()
    remote: dict[str, RemoteFile] = {}
    configs: dict[Path, dict[str, bytes]] = {}
    errors: list[LosscheckError] = []
    for (u, size, fp), head in zip(candidates, heads):
        reader: Reader | None
        if isinstance(head, BaseException):
            reader = FailedReader(UnreadableFile(u, remote_problem(head)))
        else:
            raw = bytes(head)
            try:
                with memory_files({str(fp): raw}):
                    reader = choose(fp, read_head(fp))
            except LosscheckError as exc:
                reader = FailedReader(exc)
            if reader is not None:
                remote[str(fp)] = RemoteFile(u, size, raw if size <= SNIFF_BYTES and len(raw) == size else None)
            elif is_config_file(fp) and size <= SNIFF_BYTES and len(raw) == size:
                configs.setdefault(fp.parent, {})[str(fp)] = raw  # hyperparameters (the sweep triage)
        if reader is None:
            continue
        if reader.name == "tensorboard":
            event_dirs.add(fp.parent)
        found.append((fp.parent, fp, reader))
    if is_file and found:
        fp = found[0][1]
        return Discovery([RunFiles(fp, [LogFile(fp, found[0][2])], remote=remote, scheme=scheme)], errors)
    runs = _group(found, top, event_dirs)
    if not runs:
        if is_file:
            raise NoLogsFound(url, "not a supported log file (no reader recognises its name and content)")
        raise NoLogsFound(url, "no supported log found" + ("" if entries else " (no file under this prefix)"))
    for run in runs.values():
        run.remote = {str(lf.path): remote[str(lf.path)] for lf in run.files if str(lf.path) in remote}
        run.scheme = scheme
        for d in {run.root, run.root / "files", run.root / "params", run.root / "files" / "params",
                  *(lf.path.parent for lf in run.files), *(lf.path.parent / "params" for lf in run.files)}:
            run.memory.update(configs.get(d, {}))
    return Discovery([runs[k] for k in sorted(runs)], errors)


def _discover_stdin() -> Discovery:
    """Standard input as one run of one file, its format told from the content: the file
    name (:data:`losscheck.sources.STDIN_NAMES`, or ``STDIN_BINARY_NAMES`` for binary
    content) whose reader is surest wins."""
    data = read_stdin()
    if not data.strip():
        raise NoLogsFound(Path("-"), "standard input is empty")
    if archive_kind(data[:512]):
        return _discover_archive(Path(STDIN_ROOT), data)
    # the head every reader sniffs is the same whatever name is tried (none ends in .gz)
    with memory_files({f"{STDIN_ROOT}/-": data}):
        head = read_head(Path(f"{STDIN_ROOT}/-"))
    claims: list[tuple[float, int, Path, Reader]] = []
    for k, name in enumerate(STDIN_BINARY_NAMES if b"\x00" in head[:8] else STDIN_NAMES):
        fp = Path(f"{STDIN_ROOT}/{name}")
        for reader in all_readers():
            score = reader.sniff(fp, head)
            if score > 0:
                claims.append((-score, k, fp, reader))
    # a reader may claim a name whatever the content: the surest claim that reads is taken
    for _, _, fp, reader in sorted(claims, key=lambda c: c[:2]):
        with memory_files({str(fp): data}):
            try:
                result = reader.read(fp)
            except LosscheckError:
                continue
        if result.series:
            break
    else:
        raise NoLogsFound(Path("-"), "standard input is not a supported log (no reader recognises its content)")
    root = Path(STDIN_ROOT)
    # the read that chose the reader is the run's read: standard input is not parsed twice
    return Discovery([RunFiles(root, [LogFile(fp, reader)], {str(fp): data}, {str(fp): result})], [])


def _group(found: list[tuple[Path, Path, Reader]], top: Path, event_dirs: set[Path]) -> dict[Path, RunFiles]:
    """Group recognised files into runs: each file goes to the run root above its folder
    (:func:`_run_root`); then the TensorBoard logs of a fine-tune's ``runs/<date>_<host>/``
    folders join the run of the output folder above them when that folder holds an HF
    ``trainer_state.json`` or a LLaMA-Factory ``trainer_log.jsonl`` (:data:`OUTPUT_DIR_READERS`)."""
    roots = {here: _run_root(here, top, event_dirs) for here in {h for h, _, _ in found}}
    output_dirs = {roots[h] for h, _, r in found if r.name in OUTPUT_DIR_READERS}
    for here, root in roots.items():
        owner = root.parent.parent
        if root.parent.name == "runs" and root != top and root.parent != top and owner in output_dirs:
            roots[here] = owner
    runs: dict[Path, RunFiles] = {}
    for here, fp, reader in found:
        root = roots[here]
        sub = here.relative_to(root).as_posix() if here != root else ""
        key = reader.run_key(fp)
        if key:  # a store keeping runs side by side: each is a run of its own
            root, sub = here / key, ""
        runs.setdefault(root, RunFiles(root)).files.append(LogFile(fp, reader, sub))
    return runs

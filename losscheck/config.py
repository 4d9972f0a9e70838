"""Configuration: ``losscheck.toml`` or ``[tool.losscheck]`` in ``pyproject.toml``.

Discovery: starting from the working directory (the project), each directory upward is
checked for ``losscheck.toml``, ``.losscheck.toml``, then a ``pyproject.toml`` that has a
``[tool.losscheck]`` table; the first found wins. ``--config PATH`` names a file directly
(``--isolated`` ignores all files). Configuration never comes from the data being judged: a
file found inside a diagnosed folder is skipped (the search goes on upward) and named in a
note (:attr:`Config.notes`), so artifacts cannot switch their own gate off. A file the
former rule (upward from the diagnosed path) would have used gets a note too.

A configuration file must be a regular file (a FIFO or a device is refused, never read), at
most :data:`MAX_CONFIG_BYTES`, UTF-8 TOML; anything else is a :class:`UsageError` naming it.

Precedence, lowest first: built-in defaults < the file < a matching ``[[per-path]]`` entry
of the file < command-line flags. Unknown keys and bad values are :class:`UsageError`
(exit 2) naming the file and the key; a threshold outside the values it accepts
(:mod:`losscheck.ranges`, e.g. ``divergence-blocks`` must be an integer >= 1) names the range.

The result is one typed :class:`Settings` per run (:meth:`Config.for_run`), built here once
and consumed by the pipeline. The names a configuration may use that the analysis and the
rules own (thresholds with their defaults, rule codes and names) come in as a
:class:`Vocabulary` from the caller (:func:`losscheck.catalogue.vocabulary`): this module
imports neither ``analysis`` nor ``rules``.

Keys (kebab-case; ``losscheck.toml`` has them at the top level)::

    select = ["LC1", "LC202"]      # rule codes, code prefixes or names ("ALL")
    ignore = ["LC106"]
    fail-on = "error"              # error | warning | never; "error:0.8": only verdicts >= 80% sure fail
    num-classes = 4                # chance level ln(C)
    strict = false                 # an unreadable file fails its run
    baseline-tolerance = 0.02      # relative eval-loss regression allowed by --baseline (LC901's default)
    [severity]                     # per rule: error | warning | info
    LC107 = "error"
    [metrics]                      # metric-name mapping (roles -> tags)
    loss = "train/my_loss"
    eval-loss = "val/my_loss"
    [thresholds]                   # detector and rule thresholds, see `losscheck config`
    [[per-path]]                   # overrides for runs whose path matches a glob
    path = "sweeps/gan-*"          # relative to the config file's directory
    ignore = ["LC106"]
"""

from __future__ import annotations

import fnmatch
import math
import os
import stat
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from losscheck.errors import UsageError, escape_controls, parse_fail_on
from losscheck.model import ROLES, SEVERITIES, Severity
from losscheck.ranges import Range

#: Metric-name keys (kebab-case, as in ``[metrics]`` and ``--eval-loss``) -> role.
ROLE_KEYS = {r.replace("_", "-"): r for r in ROLES}


@dataclass(frozen=True)
class Settings:
    """Everything one diagnosis is told, typed; every default is here, once.

    Attributes:
        select, ignore: rule codes, code prefixes or names (``None``: every rule / none).
        fail_on: one of :data:`~losscheck.model.FAIL_ON`, optionally ``LEVEL:FLOOR`` with a
            confidence floor (:func:`losscheck.errors.parse_fail_on`).
        num_classes: C for the chance level ln(C), when known.
        strict: any unreadable file fails its run.
        baseline_tolerance: relative eval-loss regression allowed against ``--baseline``
            (LC901); ``None``: the rule's own default.
        severity: rule code -> severity (one of :data:`~losscheck.model.SEVERITIES`).
        metrics: role -> tag (``--loss``, ``[metrics]``).
        metric_origins: role -> what set its tag, as the user wrote it (``--loss 'x'``,
            ``loss = 'x' in [tool.losscheck.metrics] of FILE``), for error messages; not a
            configuration key.
        thresholds: kebab-case threshold name -> value, for detectors and rules (names and
            defaults: :attr:`Vocabulary.thresholds`).
    """

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    fail_on: str = "error"
    num_classes: int | None = None
    strict: bool = False
    baseline_tolerance: float | None = None
    severity: Mapping[str, Severity] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    metric_origins: Mapping[str, str] = field(default_factory=dict)


#: Settings fields that are tables: a later layer adds to them key by key.
_TABLES = ("severity", "metrics", "thresholds", "metric_origins")
#: Configuration keys (kebab-case) -> :class:`Settings` field.
KEYS = {f.name.replace("_", "-"): f.name for f in fields(Settings) if f.name != "metric_origins"}
TOP_KEYS = set(KEYS) | {"per-path"}
PER_PATH_KEYS = TOP_KEYS - {"per-path", "fail-on", "baseline-tolerance"} | {"path"}


@dataclass(frozen=True)
class Vocabulary:
    """The names a configuration may use that other layers own, given by the caller.

    Attributes:
        thresholds: kebab-case name -> default, for every threshold of the analysis and the
            rules (a name both use sets both).
        rules: ``(code, name)`` of every rule.
        ranges: kebab-case threshold name -> the values it accepts (a
            :class:`~losscheck.ranges.Range`); a name missing here accepts any finite number.
    """

    thresholds: Mapping[str, float]
    rules: tuple[tuple[str, str], ...]
    ranges: Mapping[str, Range] = field(default_factory=dict)

    def rule_code(self, code_or_name: str) -> str | None:
        """The code of the rule whose code (case-insensitive) or name matches, or ``None``."""
        key = code_or_name.strip().lower()
        return next((c for c, n in self.rules if c.lower() == key or n == key), None)

    def matches_rule(self, pattern: str) -> bool:
        """Whether a ``select``/``ignore`` pattern (a code, a code prefix, a name or ``ALL``)
        matches at least one rule."""
        return pattern.upper() == "ALL" or any(c.lower().startswith(pattern.lower()) or n == pattern.lower()
                                               for c, n in self.rules)

    def known_thresholds(self) -> dict[str, float]:
        """Every name ``[thresholds]`` accepts, with its default (``baseline-tolerance`` is a
        top-level key, not a threshold)."""
        return {k: v for k, v in self.thresholds.items() if k not in KEYS}


#: File names discovery looks for in each folder, in precedence order.
CONFIG_NAMES = ("losscheck.toml", ".losscheck.toml", "pyproject.toml")
#: A configuration file larger than this is refused (real ones are a few hundred bytes).
MAX_CONFIG_BYTES = 1 << 20


def read_config_bytes(path: Path, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of a configuration file, read without ever blocking.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor:
    a FIFO, socket, device or directory is refused before any read (a FIFO would otherwise
    wait for a writer forever), and so is a kernel pseudo-file (``/proc``, ``/sys``).

    Raises:
        UsageError: cannot be opened, not a regular file, a pseudo-file, larger than ``limit``,
            or an I/O error; the message names ``path``.
    """
    from losscheck.errors import UnreadableFile
    from losscheck.readers._common import open_regular

    try:
        fd = open_regular(path)  # never blocks; refuses FIFOs, devices, folders, /proc files
    except UnreadableFile as exc:
        raise UsageError(path, f"cannot read config: {exc.problem}") from None
    try:
        st = os.fstat(fd)
        if st.st_size > limit:
            raise UsageError(path, f"cannot read config: {st.st_size} bytes, more than the "
                                   f"{limit >> 10} KiB a configuration file may have")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew while being read
            raise UsageError(path, f"cannot read config: more than the {limit >> 10} KiB a "
                                   "configuration file may have")
        return b"".join(chunks)
    except OSError as exc:
        raise UsageError(path, f"cannot read config: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _toml_load(path: Path) -> dict:
    """Parse a configuration file; every way it can be malformed is a :class:`UsageError`
    naming the file (never an internal error)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    data = read_config_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(path, f"invalid TOML: not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(path, f"invalid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(path, "invalid TOML: arrays or tables nested too deeply") from None
    except MemoryError:
        raise UsageError(path, "invalid TOML: too large to parse") from None
    except ValueError as exc:  # an integer past the int-to-str digit limit, and the like
        msg = str(exc)
        if "digits" in msg and "integer" in msg:
            msg = "an integer with too many digits"
        raise UsageError(path, f"invalid TOML: {msg}") from None


#: The largest ``num-classes`` accepted (ln(C) must be a float).
MAX_CLASSES = 2 ** 53


def _finite(v: Any) -> bool:
    """Whether ``v`` is an int or float (not a bool) that is a finite float."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _short(v: Any, limit: int = 60) -> str:
    """``repr(v)`` cut to ``limit`` characters (a value quoted in a one-line message)."""
    try:
        text = repr(v)
    except ValueError:  # an int too long to print
        return "a number too large"
    return text if len(text) <= limit else text[:limit] + "..."


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` naming the closest of ``choices`` to ``word`` (by
    :func:`difflib.get_close_matches`, similarity ratio >= 0.6, case-insensitive), or ``""``."""
    import difflib

    if not isinstance(word, str):
        return ""
    w = word.lower()
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(w, list(lower), n=5, cutoff=0.6)
    if not close:
        return ""

    def key(c: str) -> tuple[float, int]:  # best ratio; among ties, fewest characters out of place
        ratio = round(difflib.SequenceMatcher(None, w, c).ratio(), 6)
        return -ratio, sum(x != y for x, y in zip(w, c)) + abs(len(w) - len(c))

    return f" (did you mean {lower[min(close, key=key)]!r}?)"


#: An unknown key's message lists the allowed keys when there are at most this many; more
#: (the 80-odd thresholds) are left to ``losscheck config``.
_LIST_AT_MOST = 12


def _check_table(table: dict, path: Path, where: str, allowed: set[str]) -> None:
    """Raise on the first key of ``table`` not in ``allowed``: one line, with the closest
    allowed key ("did you mean"), or the allowed keys when they are few.

    Raises:
        UsageError: an unknown key."""
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            if not hint:
                hint = (f" (allowed: {', '.join(sorted(allowed))})" if len(allowed) <= _LIST_AT_MOST
                        else " (see `losscheck config` for every name)")
            raise UsageError(path, f"unknown key {_short(key)} in {where}{hint}")


def _rule_hint(word: Any, vocabulary: Vocabulary) -> str:
    """The closest rule code or name to a misspelled one, or a pointer to ``losscheck rules``."""
    return did_you_mean(word, [x for pair in vocabulary.rules for x in pair]) or " (see `losscheck rules`)"


def validate_table(values: dict, path: Path, where: str, vocabulary: Vocabulary) -> dict[str, Any]:
    """Check types and values of one config table; return it as :class:`Settings` fields.

    Args:
        values: key -> value as read from TOML (or from command-line flags), kebab-case.
        path: the file named in errors (``--select`` for flags).
        where: the table's location for messages (``[tool.losscheck]``, ``per-path[0]``).
        vocabulary: the rules and thresholds that exist.
    Returns:
        :class:`Settings` field -> typed value (lists as tuples, ``metrics`` by role, severity
        by rule code); a ``path`` key is kept as ``path``.
    Raises:
        UsageError: a bad type or value, an unknown rule code, or an unknown threshold.
    """
    out: dict[str, Any] = {}
    for key, val in values.items():
        loc = f"{where}.{key}" if where else key
        if key in ("select", "ignore"):
            if isinstance(val, str):
                val = [val]
            if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
                raise UsageError(path, f"{loc} must be a list of rule codes or names")
            for pat in val:
                if not vocabulary.matches_rule(pat):
                    raise UsageError(path, f"{loc}: {_short(pat)} matches no rule"
                                           f"{_rule_hint(pat, vocabulary)}")
            val = tuple(val)
        elif key == "fail-on":
            try:
                level, floor = parse_fail_on(val)
            except ValueError as exc:
                raise UsageError(path, f"{loc}{'' if str(exc).startswith('must') else ':'} {exc}, "
                                       f"not {_short(val)}") from None
            val = level if floor is None else f"{level}:{val.partition(':')[2].strip()}"  # ERROR -> error
        elif key == "num-classes":
            if not isinstance(val, int) or isinstance(val, bool) or not 2 <= val <= MAX_CLASSES:
                raise UsageError(path, f"{loc} must be an integer >= 2 and <= {MAX_CLASSES}, not {_short(val)}")
        elif key == "strict":
            if not isinstance(val, bool):
                raise UsageError(path, f"{loc} must be true or false, not {_short(val)}")
        elif key == "baseline-tolerance":
            if not _finite(val) or val < 0:
                raise UsageError(path, f"{loc} must be a finite number >= 0, not {_short(val)}")
            val = float(val)
        elif key == "severity":
            if not isinstance(val, dict):
                raise UsageError(path, f"{loc} must be a table of rule = severity")
            norm: dict[str, Severity] = {}
            for code, sev in val.items():
                rule = vocabulary.rule_code(code) if isinstance(code, str) else None
                if rule is None:
                    raise UsageError(path, f"{loc}: {_short(code)} is not a rule{_rule_hint(code, vocabulary)}")
                if sev not in SEVERITIES:
                    raise UsageError(path, f"{loc}.{code} must be one of {', '.join(SEVERITIES)}, not {_short(sev)}")
                norm[rule] = sev
            val = norm
        elif key == "metrics":
            if not isinstance(val, dict):
                raise UsageError(path, f"{loc} must be a table of role = tag")
            _check_table(val, path, loc, set(ROLE_KEYS))
            if not all(isinstance(v, str) and v for v in val.values()):
                raise UsageError(path, f"{loc}: every tag must be a non-empty string")
            table = (f"{where[:-1]}.metrics]" if where.startswith("[") else f"{where}.metrics" if where
                     else "[metrics]")
            out["metric_origins"] = {ROLE_KEYS[k]: f"{k} = {_short(v)} in {table} of {path}" for k, v in val.items()}
            val = {ROLE_KEYS[k]: v for k, v in val.items()}
        elif key == "thresholds":
            if not isinstance(val, dict):
                raise UsageError(path, f"{loc} must be a table of name = number")
            _check_table(val, path, loc, set(vocabulary.known_thresholds()))
            for k, v in val.items():
                allowed = vocabulary.ranges.get(k)
                if not _finite(v):
                    raise UsageError(path, f"{loc}.{k} must be a finite number"
                                           f"{f' ({allowed.describe()})' if allowed else ''}, not {_short(v)}")
                if allowed is not None and not allowed.allows(v):
                    raise UsageError(path, f"{loc}.{k} must be {allowed.describe()}, not {_short(v)}")
                if allowed is not None and allowed.integer and isinstance(v, float):
                    val = {**val, k: int(v)}  # 3.0 for a count is 3
        elif key == "path":
            if not isinstance(val, str) or not val:
                raise UsageError(path, f"{loc} must be a glob string")
        out[KEYS.get(key, key)] = val
    return out


def _layer(base: Settings, layer: Mapping[str, Any]) -> Settings:
    """``base`` with the fields of ``layer`` (:class:`Settings` field -> value) on top: a
    table adds to the one below key by key, any other value replaces it."""
    kw: dict[str, Any] = {k: ({**getattr(base, k), **v} if k in _TABLES else v)
                          for k, v in layer.items() if k in _FIELDS}
    return replace(base, **kw) if kw else base


_FIELDS = frozenset(f.name for f in fields(Settings))


@dataclass
class Config:
    """The effective configuration: the layers :class:`Settings` are built from.

    Attributes:
        file_values: :class:`Settings` field -> value from the file.
        flags: :class:`Settings` field -> value from the command line (:meth:`apply_flags`).
        sources: :class:`Settings` field -> where its value came from (the file path or
            ``command line``; a field not listed has its default).
        file: the config file used, or ``None``.
        per_path: ``(glob, fields)`` pairs from ``[[per-path]]`` (globs relative to the file).
        notes: one line per configuration file found but not used (inside the diagnosed
            data, or only reachable upward from the diagnosed path), naming it.
    """

    file_values: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    per_path: list[tuple[str, dict]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def apply_flags(self, flags: Mapping[str, Any]) -> None:
        """Layer command-line flags (:class:`Settings` field -> value, already validated;
        ``None``, empty lists and empty tables mean not given) on top of everything else."""
        for k, v in flags.items():
            if v is None or v == [] or v == {} or v == ():
                continue
            self.flags[k] = {**self.flags.get(k, {}), **v} if k in _TABLES else v
            self.sources[k] = "command line"

    @property
    def settings(self) -> Settings:
        """The settings of a run no ``[[per-path]]`` entry matches: defaults < file < flags."""
        return _layer(_layer(Settings(), self.file_values), self.flags)

    def for_run(self, run_path: str | Path) -> Settings:
        """The settings of one run: defaults < the file < each matching ``[[per-path]]``
        entry, in file order < command-line flags."""
        out = _layer(Settings(), self.file_values)
        if self.per_path:
            rp = Path(run_path).resolve()
            base = self.file.parent.resolve() if self.file else Path.cwd()
            try:
                rel = rp.relative_to(base).as_posix()
            except ValueError:
                rel = rp.as_posix()
            for pattern, table in self.per_path:
                pat = pattern.rstrip("/")
                if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + "/*") or fnmatch.fnmatch(rp.as_posix(), pat):
                    out = _layer(out, table)
        return _layer(out, self.flags)


def _losscheck_table(path: Path, data: dict) -> Any:
    """The losscheck table of a parsed file: ``[tool.losscheck]`` of a ``pyproject.toml``
    (``None`` when it has none), the whole document otherwise."""
    if path.name != "pyproject.toml":
        return data
    tool = data.get("tool")
    return tool.get("losscheck") if isinstance(tool, dict) else None


def _start_folder(start: Path) -> Path:
    """The absolute folder a search upward from ``start`` begins in (its parent for a file)."""
    try:
        d = start.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        d = Path(os.path.abspath(start))
    try:
        if d.is_file() or not d.exists():
            d = d.parent
    except OSError:
        d = d.parent
    return d


def _present(p: Path) -> bool:
    """Whether ``p`` exists and is not a directory (a FIFO counts: loading it says why not)."""
    try:
        return not stat.S_ISDIR(os.stat(p).st_mode)
    except (OSError, ValueError):
        return False


def data_roots(paths: Iterable[Path | str]) -> list[str]:
    """The folders whose contents are data being judged: each diagnosed path that is a
    directory, as written (absolute) and with symlinks resolved. Files, archives and ``-``
    (standard input) add nothing (no configuration file can be inside them)."""
    roots: list[str] = []
    for p in paths:
        if p is None or str(p) == "-":
            continue
        try:
            if not os.path.isdir(p):
                continue
        except (OSError, ValueError):
            continue
        for r in (os.path.abspath(p), os.path.realpath(p)):
            if r not in roots:
                roots.append(r)
    return roots


def inside_roots(path: Path | str, roots: Sequence[str]) -> bool:
    """Whether ``path`` (as written, or with symlinks resolved) is one of ``roots`` or lies
    under one of them."""
    if not roots:
        return False
    for cand in {os.path.abspath(path), os.path.realpath(path)}:
        for r in roots:
            try:
                if os.path.commonpath([cand, r]) == r:
                    return True
            except ValueError:  # different drives
                continue
    return False


def _configures_losscheck(p: Path) -> bool:
    """Whether a ``pyproject.toml`` that will not be used has a ``[tool.losscheck]`` table
    (for a note only: a file that cannot be read or parsed says no, never raises)."""
    try:
        return _losscheck_table(p, _toml_load(p)) is not None
    except UsageError:
        return False


def find_config(start: Path, data: Sequence[str] = (),
                ignored: list[Path] | None = None) -> tuple[Path, dict] | None:
    """The first config file upward from ``start`` and its losscheck table, or ``None``.

    Args:
        start: where the search starts (a folder, or a file whose folder is used).
        data: folders being diagnosed (:func:`data_roots`): a file inside one is skipped,
            never read as configuration, and the search goes on upward.
        ignored: when given, each skipped file is appended to it.
    Raises:
        UsageError: the file found cannot be read or parsed (named in the message).
    """
    d = _start_folder(start)
    for folder in (d, *d.parents):
        for name in CONFIG_NAMES:
            p = folder / name
            if not _present(p):
                continue
            if inside_roots(p, data):
                if ignored is not None and (name != "pyproject.toml" or _configures_losscheck(p)):
                    ignored.append(p)
                continue
            table = _losscheck_table(p, _toml_load(p))
            if table is None:  # a pyproject.toml without [tool.losscheck]
                continue
            return p, table
    return None


def _former_config(start: Path) -> Path | None:
    """The file the former rule (upward from the diagnosed path) would have used, found
    without parsing anything that could fail (for a note only)."""
    d = _start_folder(start)
    for folder in (d, *d.parents):
        for name in CONFIG_NAMES:
            p = folder / name
            if not _present(p):
                continue
            if name != "pyproject.toml" or _configures_losscheck(p):
                return p
    return None


def _same_file(a: Path, b: Path | None) -> bool:
    """Whether two paths name the same file (``b`` may be ``None``)."""
    if b is None:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def load_config(start: Path | None = None, explicit: Path | None = None, isolated: bool = False,
                *, vocabulary: Vocabulary, data: Sequence[Path | str] = ()) -> Config:
    """Load and validate the configuration.

    Args:
        start: where discovery starts: the project, by default the working directory (the
            command line always passes the working directory).
        explicit: ``--config PATH``; must be an existing regular file.
        isolated: ignore every configuration file.
        vocabulary: the rules and thresholds a file may name
            (:func:`losscheck.catalogue.vocabulary`).
        data: the paths being diagnosed (and any baseline run): a configuration file inside
            one of these folders is never used, only named in :attr:`Config.notes`, and so is
            one that the former rule (upward from a diagnosed path) would have used instead.
    Raises:
        UsageError: a missing or non-regular explicit file, invalid TOML, an unknown key or a
            bad value (the message names the file); ``explicit`` together with ``isolated``.
    """
    cfg = Config()
    if isolated and explicit is not None:
        raise UsageError(explicit, "--config and --isolated exclude each other (--isolated ignores every "
                                   "configuration file)")
    if isolated:
        return cfg
    found = None
    if explicit is not None:
        try:
            os.stat(explicit)
        except FileNotFoundError:
            raise UsageError(explicit, "config file not found") from None
        except (OSError, ValueError):
            pass  # reading it says what is wrong
        table = _losscheck_table(explicit, _toml_load(explicit))
        found = (explicit, {} if table is None else table)
    else:
        roots = data_roots(data)
        ignored: list[Path] = []
        found = find_config(start or Path.cwd(), roots, ignored)
        cfg.notes.extend(_discovery_notes(data, roots, ignored, found[0] if found else None))
    if found is None:
        return cfg
    path, table = found
    where = "[tool.losscheck]" if path.name == "pyproject.toml" else ""
    if not isinstance(table, dict):
        raise UsageError(path, "the losscheck configuration must be a table")
    _check_table(table, path, where or "the top level", TOP_KEYS)
    per_path = table.get("per-path", [])
    main = validate_table({k: v for k, v in table.items() if k != "per-path"}, path, where, vocabulary)
    for k, v in main.items():
        cfg.file_values[k] = v
        cfg.sources[k] = str(path)
    if not isinstance(per_path, list):
        raise UsageError(path, "per-path must be an array of tables ([[per-path]])")
    for i, entry in enumerate(per_path):
        loc = f"per-path[{i}]"
        if not isinstance(entry, dict) or "path" not in entry:
            raise UsageError(path, f"{loc} needs a path = \"glob\" key")
        _check_table(entry, path, loc, PER_PATH_KEYS)
        cfg.per_path.append((entry["path"], validate_table(entry, path, loc, vocabulary)))
    cfg.file = path
    return cfg


def _shown(p: Path) -> str:
    """``p`` relative to the working directory when it lies inside it, else absolute."""
    try:
        rel = os.path.relpath(p)
    except ValueError:
        return str(p)
    return str(p) if rel == ".." or rel.startswith(".." + os.sep) else rel


def _discovery_notes(data: Sequence[Path | str], roots: Sequence[str], ignored: list[Path],
                     used: Path | None) -> list[str]:
    """One line per configuration file not used: those skipped inside the diagnosed data, and
    the one the former rule (upward from each diagnosed path) would have picked."""
    out: list[str] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        """Note ``p`` once, unless it is the file in use."""
        key = os.path.realpath(p)
        if key in seen or _same_file(p, used):
            return
        seen.add(key)
        shown = escape_controls(_shown(p))
        if inside_roots(p, roots):
            out.append(f"{shown}: ignored: a configuration file inside the diagnosed data "
                       "is never used (configuration comes from the working directory upward, or --config)")
        else:
            out.append(f"{shown}: not used: configuration is found from the working "
                       f"directory upward, not from the diagnosed path (--config {shown} uses it)")

    for p in ignored:
        add(p)
    for d in data:
        if d is None or str(d) == "-":
            continue
        former = _former_config(Path(d))
        if former is not None:
            add(former)
    return out

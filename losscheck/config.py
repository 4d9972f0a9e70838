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
(exit 2) naming the file and the key.

Keys (kebab-case; ``losscheck.toml`` has them at the top level)::

    select = ["LC1", "LC202"]      # rule codes, code prefixes or names ("ALL")
    ignore = ["LC106"]
    fail-on = "error"              # error | warning | never
    num-classes = 4                # chance level ln(C)
    strict = false                 # an unreadable file fails its run
    baseline-tolerance = 0.02      # relative eval-loss regression allowed by --baseline
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from losscheck.errors import UsageError, escape_controls

FAIL_ON = ("error", "warning", "never")
SEVERITY_VALUES = ("error", "warning", "info")
ROLE_KEYS = {"loss": "loss", "eval-loss": "eval_loss", "grad-norm": "grad_norm", "lr": "lr",
             "accuracy": "accuracy", "eval-accuracy": "eval_accuracy"}
TOP_KEYS = {"select", "ignore", "fail-on", "num-classes", "strict", "baseline-tolerance", "severity",
            "metrics", "thresholds", "per-path"}
PER_PATH_KEYS = TOP_KEYS - {"per-path", "fail-on", "baseline-tolerance"} | {"path"}

DEFAULTS: dict[str, Any] = {"select": None, "ignore": None, "fail-on": "error", "num-classes": None,
                            "strict": False, "baseline-tolerance": 0.02, "severity": {}, "metrics": {},
                            "thresholds": {}}


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


def analysis_thresholds() -> dict[str, tuple[str | None, str, Any]]:
    """Kebab-case name -> (detector field or None, option field, default) for every numeric
    analysis threshold: top-level ones (``min-points``) and per-detector ones, named
    ``<detector>-<option>`` (``spike-z-thresh``, ``plateau-min-decrease``)."""
    import dataclasses

    from losscheck.analysis import AnalysisOptions

    out: dict[str, tuple[str | None, str, Any]] = {}
    for f in dataclasses.fields(AnalysisOptions):
        if f.name in AnalysisOptions.INTERNAL:
            continue
        if f.default_factory is not dataclasses.MISSING:  # a detector's options dataclass
            sub = f.default_factory()
            for g in dataclasses.fields(sub):
                v = getattr(sub, g.name)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[f"{f.name}-{g.name}".replace("_", "-")] = (f.name, g.name, v)
        elif isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
            out[f.name.replace("_", "-")] = (None, f.name, f.default)
    return out


def known_thresholds() -> dict[str, Any]:
    """Every threshold name with its default: rule options and analysis options (kebab-case).

    ``baseline-tolerance`` is a top-level key, not a threshold.
    """
    out: dict[str, Any] = {k: v[2] for k, v in analysis_thresholds().items()}
    from losscheck.rules import all_rules

    for r in all_rules():
        for k, v in getattr(r, "options", {}).items():
            out[k] = v
    out.pop("baseline-tolerance", None)
    return out


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


def _check_table(table: dict, path: Path, where: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise UsageError(path, f"unknown key {_short(key)} in {where} (allowed: {', '.join(sorted(allowed))})")


def validate_table(values: dict, path: Path, where: str) -> dict:
    """Check types and values of one config table; return it with kebab keys kept.

    Args:
        values: key -> value as read from TOML (or from command-line flags).
        path: the file named in errors (``--select`` for flags).
        where: the table's location for messages (``[tool.losscheck]``, ``per-path[0]``).
    Raises:
        UsageError: a bad type or value, an unknown rule code, or an unknown threshold.
    """
    out = {}
    for key, val in values.items():
        loc = f"{where}.{key}" if where else key
        if key in ("select", "ignore"):
            if isinstance(val, str):
                val = [val]
            if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
                raise UsageError(path, f"{loc} must be a list of rule codes or names")
            from losscheck.rules import all_rules

            for pat in val:
                if pat.upper() != "ALL" and not any(r.code.lower().startswith(pat.lower()) or r.name == pat.lower()
                                                    for r in all_rules()):
                    raise UsageError(path, f"{loc}: {_short(pat)} matches no rule (see `losscheck rules`)")
        elif key == "fail-on":
            if val not in FAIL_ON:
                raise UsageError(path, f"{loc} must be one of {', '.join(FAIL_ON)}, not {_short(val)}")
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
            from losscheck.rules import find_rule

            norm = {}
            for code, sev in val.items():
                rule = find_rule(code)
                if rule is None:
                    raise UsageError(path, f"{loc}: {_short(code)} is not a rule (see `losscheck rules`)")
                if sev not in SEVERITY_VALUES:
                    raise UsageError(path, f"{loc}.{code} must be one of {', '.join(SEVERITY_VALUES)}, not {_short(sev)}")
                norm[rule.code] = sev
            val = norm
        elif key == "metrics":
            if not isinstance(val, dict):
                raise UsageError(path, f"{loc} must be a table of role = tag")
            _check_table(val, path, loc, set(ROLE_KEYS))
            if not all(isinstance(v, str) and v for v in val.values()):
                raise UsageError(path, f"{loc}: every tag must be a non-empty string")
        elif key == "thresholds":
            if not isinstance(val, dict):
                raise UsageError(path, f"{loc} must be a table of name = number")
            known = known_thresholds()
            _check_table(val, path, loc, set(known))
            for k, v in val.items():
                if not _finite(v):
                    raise UsageError(path, f"{loc}.{k} must be a finite number, not {_short(v)}")
        elif key == "path":
            if not isinstance(val, str) or not val:
                raise UsageError(path, f"{loc} must be a glob string")
        out[key] = val
    return out


@dataclass
class Config:
    """The effective configuration.

    Attributes:
        values: key -> value after defaults, the file, and flags.
        sources: key -> where it came from (``default``, the file path, or ``command line``).
        file: the config file used, or ``None``.
        per_path: ``(glob, table)`` pairs from ``[[per-path]]`` (globs relative to the file).
        notes: one line per configuration file found but not used (inside the diagnosed
            data, or only reachable upward from the diagnosed path), naming it.
    """

    values: dict[str, Any]
    sources: dict[str, str]
    file: Path | None = None
    per_path: list[tuple[str, dict]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def apply_flags(self, flags: dict[str, Any]) -> None:
        """Override values with command-line flags (``None`` means not given)."""
        for k, v in flags.items():
            if v is None or v == [] or v == {}:
                continue
            if k in ("metrics", "severity", "thresholds"):
                self.values[k] = {**self.values.get(k, {}), **v}
            else:
                self.values[k] = v
            self.sources[k] = "command line"

    def for_run(self, run_path: str | Path) -> dict[str, Any]:
        """The values for one run: ``[[per-path]]`` entries matching it are layered on top."""
        vals = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.values.items()}
        if not self.per_path:
            return vals
        rp = Path(run_path).resolve()
        base = self.file.parent.resolve() if self.file else Path.cwd()
        try:
            rel = rp.relative_to(base).as_posix()
        except ValueError:
            rel = rp.as_posix()
        for pattern, table in self.per_path:
            pat = pattern.rstrip("/")
            if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + "/*") or fnmatch.fnmatch(rp.as_posix(), pat):
                for k, v in table.items():
                    if k == "path":
                        continue
                    if isinstance(v, dict):
                        vals[k] = {**vals.get(k, {}), **v}
                    else:
                        vals[k] = v
        return vals


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
                *, data: Sequence[Path | str] = ()) -> Config:
    """Load and validate the configuration.

    Args:
        start: where discovery starts: the project, by default the working directory (the
            command line always passes the working directory).
        explicit: ``--config PATH``; must be an existing regular file.
        isolated: ignore every configuration file.
        data: the paths being diagnosed (and any baseline run): a configuration file inside
            one of these folders is never used, only named in :attr:`Config.notes`, and so is
            one that the former rule (upward from a diagnosed path) would have used instead.
    Raises:
        UsageError: a missing or non-regular explicit file, invalid TOML, an unknown key or a
            bad value; the message names the file.
    """
    cfg = Config(dict(DEFAULTS), {k: "default" for k in DEFAULTS})
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
    main = validate_table({k: v for k, v in table.items() if k != "per-path"}, path, where)
    for k, v in main.items():
        cfg.values[k] = v
        cfg.sources[k] = str(path)
    if not isinstance(per_path, list):
        raise UsageError(path, "per-path must be an array of tables ([[per-path]])")
    for i, entry in enumerate(per_path):
        loc = f"per-path[{i}]"
        if not isinstance(entry, dict) or "path" not in entry:
            raise UsageError(path, f"{loc} needs a path = \"glob\" key")
        _check_table(entry, path, loc, PER_PATH_KEYS)
        cfg.per_path.append((entry["path"], validate_table(entry, path, loc)))
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

"""Configuration: ``losscheck.toml`` or ``[tool.losscheck]`` in ``pyproject.toml``.

Discovery follows ruff and pytest: starting from the diagnosed path (or the working
directory), each directory upward is checked for ``losscheck.toml``, ``.losscheck.toml``,
then a ``pyproject.toml`` that has a ``[tool.losscheck]`` table; the first found wins.
``--config PATH`` names a file directly (``--isolated`` ignores all files).

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
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from losscheck.errors import UsageError

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


def _toml_load(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise UsageError(path, f"cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(path, f"invalid TOML: {exc}") from None


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


def _check_table(table: dict, path: Path, where: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise UsageError(path, f"unknown key {key!r} in {where} (allowed: {', '.join(sorted(allowed))})")


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
                    raise UsageError(path, f"{loc}: {pat!r} matches no rule (see `losscheck rules`)")
        elif key == "fail-on":
            if val not in FAIL_ON:
                raise UsageError(path, f"{loc} must be one of {', '.join(FAIL_ON)}, not {val!r}")
        elif key == "num-classes":
            if not isinstance(val, int) or isinstance(val, bool) or val < 2:
                raise UsageError(path, f"{loc} must be an integer >= 2, not {val!r}")
        elif key == "strict":
            if not isinstance(val, bool):
                raise UsageError(path, f"{loc} must be true or false, not {val!r}")
        elif key == "baseline-tolerance":
            if not isinstance(val, (int, float)) or isinstance(val, bool) or val < 0:
                raise UsageError(path, f"{loc} must be a number >= 0, not {val!r}")
            val = float(val)
        elif key == "severity":
            if not isinstance(val, dict):
                raise UsageError(path, f"{loc} must be a table of rule = severity")
            from losscheck.rules import find_rule

            norm = {}
            for code, sev in val.items():
                rule = find_rule(code)
                if rule is None:
                    raise UsageError(path, f"{loc}: {code!r} is not a rule (see `losscheck rules`)")
                if sev not in SEVERITY_VALUES:
                    raise UsageError(path, f"{loc}.{code} must be one of {', '.join(SEVERITY_VALUES)}, not {sev!r}")
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
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise UsageError(path, f"{loc}.{k} must be a number, not {v!r}")
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
    """

    values: dict[str, Any]
    sources: dict[str, str]
    file: Path | None = None
    per_path: list[tuple[str, dict]] = field(default_factory=list)

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


def find_config(start: Path) -> tuple[Path, dict] | None:
    """The first config file upward from ``start`` and its losscheck table, or ``None``."""
    import os

    try:
        d = start.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        d = Path(os.path.abspath(start))
    try:
        if d.is_file() or not d.exists():
            d = d.parent
    except OSError:
        d = d.parent
    for folder in (d, *d.parents):
        for name in ("losscheck.toml", ".losscheck.toml"):
            p = folder / name
            if p.is_file():
                return p, _toml_load(p)
        p = folder / "pyproject.toml"
        if p.is_file():
            data = _toml_load(p)
            table = data.get("tool", {}).get("losscheck")
            if isinstance(table, dict):
                return p, table
    return None


def load_config(start: Path | None = None, explicit: Path | None = None, isolated: bool = False) -> Config:
    """Load and validate the configuration.

    Args:
        start: where discovery starts (the diagnosed path; default the working directory).
        explicit: ``--config PATH``; must exist.
        isolated: ignore every configuration file.
    Raises:
        UsageError: a missing explicit file, invalid TOML, an unknown key or a bad value.
    """
    cfg = Config(dict(DEFAULTS), {k: "default" for k in DEFAULTS})
    if isolated:
        return cfg
    found = None
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(explicit, "config file not found")
        data = _toml_load(explicit)
        table = data.get("tool", {}).get("losscheck", {}) if explicit.name == "pyproject.toml" else data
        found = (explicit, table)
    else:
        found = find_config(start or Path.cwd())
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

"""A run's hyperparameters, read from the configuration files its framework saves beside the
metrics (read stage; nothing here writes). They go to ``RunData.meta["hparams"]``: a flat
``{name: value}`` dict of scalars, as the run's files name them (nested keys joined by ``.``).

Files looked for, in each folder of the run (the run's root and the folders of its log files,
plus W&B's ``files/``), the first one found giving a name winning:

- ``training_args.json``: Hugging Face ``TrainingArguments.to_json_string()`` (one JSON object);
- ``training_args.yaml``: LLaMA-Factory's saved arguments (flat ``key: value``);
- ``hparams.yaml``: Lightning's ``save_hyperparameters()`` (``CSVLogger``/``TensorBoardLogger``);
- ``config.yaml``: W&B ``files/config.yaml``, values nested as ``{key: {value: ...}}`` (keys
  ``_wandb`` and ``wandb_version`` are W&B's own and dropped); a plain ``config.yaml`` is taken
  as flat ``key: value``;
- ``params/``: the MLflow file store's params folder, one file per param, the content its value.

``trainer_state.json`` settings (``train_batch_size``, ``max_steps``...) are already the HF
reader's standard meta (:mod:`losscheck.readers.hf_trainer_state`), and the sweep triage takes
them from there. YAML is parsed with PyYAML's ``safe_load`` when PyYAML is installed (it is no
dependency of losscheck), else with :func:`parse_simple_yaml`, a small subset (block mappings of
scalars: enough for these flat or two-level files). Best effort: a file that cannot be read or
parsed is skipped silently (hyperparameters are context, not the diagnosis).

A run read from a URL: its discovery keeps the content of the small configuration files beside
its logs (:func:`is_config_file`, at most ``losscheck.sources.SNIFF_BYTES`` each, fetched with
the heads it reads anyway) in ``RunFiles.memory``, and they are read from there.

Bounds: at most :data:`MAX_FILE_BYTES` read per file, :data:`MAX_PARAMS` params kept, text
values cut to :data:`MAX_TEXT` characters; lists and nulls are left out.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

#: Largest part of a configuration file read (bytes).
MAX_FILE_BYTES = 256 * 1024
#: Most params kept per run; most files read from an MLflow ``params/`` folder.
MAX_PARAMS = 200
#: Longest text value kept (characters; longer ones are cut).
MAX_TEXT = 120

_YAML_FILES = ("training_args.yaml", "hparams.yaml", "config.yaml")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


#: File names :func:`read_hparams` reads (and a remote run's discovery keeps: :func:`is_config_file`).
CONFIG_NAMES = frozenset({"training_args.json", *_YAML_FILES})


def is_config_file(path: Path | str) -> bool:
    """Whether ``path`` is a file :func:`read_hparams` may read: one of :data:`CONFIG_NAMES`,
    or a file directly in a ``params/`` folder (MLflow)."""
    p = Path(path)
    return p.name in CONFIG_NAMES or p.parent.name == "params"


def read_hparams(root: Path | str, files: Iterable[Path | str] = (),
                 virtual: Iterable[str] | None = None) -> dict[str, Any]:
    """The run's hyperparameters from the configuration files in its folders.

    Args:
        root: the run's folder (or its one log file: then its folder is searched).
        files: the run's log files; their folders (inside ``root``) are searched too.
        virtual: for a run whose files are not on disk (a URL's, fetched), the paths of the
            files there are; they are read through :func:`losscheck.readers._common.read_data`
            (the caller serves their content with ``memory_files``). ``None``: the disk.
    Returns:
        ``{name: value}`` with ``value`` a bool, int, float or str; empty when no file is found.
        Never raises.
    """
    fs = _Files(virtual)
    root = Path(root)
    dirs: list[Path] = []
    base = root if fs.is_dir(root) else root.parent
    for d in [base, base / "files", *(Path(f).parent for f in files)]:
        if d not in dirs and (d == base or _inside(d, base)) and fs.is_dir(d):
            dirs.append(d)
        if len(dirs) >= 16:
            break
    out: dict[str, Any] = {}
    for d in dirs:
        for name, found in _from_folder(d, fs):
            if len(out) >= MAX_PARAMS:
                return out
            out.setdefault(name, found)
    return out


class _Files:
    """The disk, or a set of virtual file paths: ``is_file``, ``is_dir``, ``listdir``."""

    def __init__(self, virtual: Iterable[str] | None) -> None:
        self.paths = None if virtual is None else {Path(p) for p in virtual}
        self.dirs = None if self.paths is None else {d for p in self.paths for d in p.parents}

    def is_file(self, p: Path) -> bool:
        if self.paths is not None:
            return p in self.paths
        try:
            return p.is_file()
        except OSError:
            return False

    def is_dir(self, p: Path) -> bool:
        if self.dirs is not None:
            return p in self.dirs
        return _is_dir(p)

    def listdir(self, d: Path) -> list[Path]:
        if self.paths is not None:
            return sorted(p for p in self.paths if p.parent == d)
        try:
            return sorted(p for p in d.iterdir() if p.is_file())
        except OSError:
            return []


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except OSError:
        return False


def _inside(d: Path, base: Path) -> bool:
    try:
        d.relative_to(base)
        return True
    except ValueError:
        return False


def _from_folder(d: Path, fs: _Files) -> Iterable[tuple[str, Any]]:
    text = _read(d / "training_args.json", fs)
    if text is not None:
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            yield from _flatten(obj)
    for fname in _YAML_FILES:
        text = _read(d / fname, fs)
        if text is None:
            continue
        obj = _load_yaml(text)
        if not isinstance(obj, dict):
            continue
        if fname == "config.yaml":
            obj = _unwrap_wandb(obj)
        yield from _flatten(obj)
    pdir = d / "params"
    if fs.is_dir(pdir):
        for p in fs.listdir(pdir)[:MAX_PARAMS]:
            text = _read(p, fs, 4096)
            if text is not None:
                v = _scalar(text.strip())
                if v is not None:
                    yield p.name, v


def _read(path: Path, fs: _Files, limit: int = MAX_FILE_BYTES) -> str | None:
    from losscheck.errors import LosscheckError
    from losscheck.readers._common import read_data

    try:
        if not fs.is_file(path):
            return None
        data, _ = read_data(path, limit)
    except (OSError, LosscheckError):
        return None
    return data.decode("utf-8", errors="replace")


def _unwrap_wandb(obj: dict) -> dict:
    """W&B's ``{key: {desc: ..., value: v}}`` -> ``{key: v}``; its own keys dropped. A file
    whose entries are not so wrapped is returned as it is."""
    wrapped = [k for k, v in obj.items() if isinstance(v, dict) and "value" in v]
    if not wrapped:
        return obj
    return {k: v["value"] for k, v in obj.items()
            if isinstance(v, dict) and "value" in v and k not in ("_wandb", "wandb_version")}


def _flatten(obj: dict, prefix: str = "", depth: int = 0) -> Iterable[tuple[str, Any]]:
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            if depth < 4:
                yield from _flatten(v, name + ".", depth + 1)
            continue
        s = _scalar(v)
        if s is not None:
            yield name, s


def _scalar(v: Any) -> Any:
    """A value as the triage compares it: bool, int, finite float or short text; ``None``
    for what is not a scalar (lists, nulls, NaN). Text that spells a number becomes one
    (YAML 1.1 reads ``1e-4`` as text; MLflow params are text)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if not isinstance(v, str):
        return None
    t = v.strip()
    if not t or t.lower() in ("null", "none", "~"):
        return None
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if _NUMBER.match(t):
        x = float(t)
        if math.isfinite(x):
            return int(x) if re.fullmatch(r"[+-]?\d+", t) else x
    return t[:MAX_TEXT]


def _load_yaml(text: str) -> Any:
    try:
        import yaml
    except ImportError:
        return parse_simple_yaml(text)
    try:
        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - any YAML error: the file is skipped
        return None


def parse_simple_yaml(text: str) -> dict:
    """A small YAML subset: block mappings (``key: value``, nested by indentation) of plain or
    quoted scalars, ``#`` comments. Sequences and flow collections are left out (their key
    maps to ``None``); values stay text (see :func:`_scalar`). Never raises.

    Returns:
        The mapping (empty when no ``key: value`` line is found).
    """
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if body.startswith("- ") or body == "-" or ":" not in body:
            continue
        key, _, value = body.partition(":")
        key, value = key.strip().strip("'\""), value.strip()
        while stack and indent <= stack[-1][0]:
            stack.pop()
        if not stack:
            stack = [(-1, root)]
        parent = stack[-1][1]
        if not value:
            child: dict = {}
            parent[key] = child
            stack.append((indent, child))
        elif value[0] in "[{|>&*!":
            parent[key] = None
        else:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            parent[key] = value
    return root

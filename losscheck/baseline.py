"""``--baseline``: the "did my change break training" gate.

A baseline is a previous run (diagnosed now with the same configuration) or a saved JSON
report (``--format json --output base.json``). Against it, a run fails only on findings
whose code the matching baseline run did not have, or when its final or best eval loss
(training loss when no eval loss is logged) is worse than the baseline's by more than
``baseline-tolerance`` (relative; default 2%), see rule LC901.

Matching: a single-run baseline applies to every run; otherwise runs are matched by their
path relative to the diagnosed root, then by directory name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from losscheck.errors import UsageError


@dataclass
class BaselineRun:
    """What a comparison needs of a baseline run: its finding codes and loss summary."""

    run: str
    codes: set[str] = field(default_factory=set)
    summary: dict = field(default_factory=dict)


@dataclass
class Baseline:
    """Baseline runs, keyed for matching; ``source`` is the path given."""

    source: str
    runs: list[BaselineRun]
    root: str = ""

    def match(self, run_path: str, root: str) -> BaselineRun | None:
        """The baseline run for ``run_path`` (diagnosed under ``root``), or ``None``."""
        if len(self.runs) == 1:
            return self.runs[0]
        rel = _rel(run_path, root)
        for b in self.runs:
            if _rel(b.run, self.root) == rel:
                return b
        name = Path(run_path).name
        hits = [b for b in self.runs if Path(b.run).name == name]
        return hits[0] if len(hits) == 1 else None


def _rel(path: str, root: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).name


def _num(x):
    if isinstance(x, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(x)
    return x


def from_report_json(path: Path) -> Baseline:
    """A baseline from a saved ``--format json`` report.

    Raises:
        UsageError: not JSON, or not a losscheck report (no ``schema_version``/``runs``).
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(path, f"cannot read baseline: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(path, f"baseline is not JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(doc, dict) or "schema_version" not in doc or not isinstance(doc.get("runs"), list):
        raise UsageError(path, "baseline JSON is not a losscheck report (no schema_version/runs)")
    runs = []
    for r in doc["runs"]:
        summ = {role: {k: _num(v) for k, v in d.items()} for role, d in (r.get("summary") or {}).items()}
        runs.append(BaselineRun(r.get("run", ""), {f.get("code") for f in r.get("findings", [])}
                                | {f.get("code") for f in r.get("baselined", [])}, summ))
    return Baseline(str(path), runs, doc.get("root", ""))


def load_baseline(path: Path, config=None) -> Baseline:
    """Load ``--baseline PATH``: a saved JSON report, or a run/tree diagnosed now.

    Raises:
        UsageError: the path is missing, not a report, or holds no diagnosable run.
    """
    if not path.exists():
        raise UsageError(path, "baseline not found")
    if path.is_file() and path.suffix == ".json":
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError as exc:
            raise UsageError(path, f"cannot read baseline: {exc.strerror or exc}") from None
        if '"schema_version"' in head:
            return from_report_json(path)
    from losscheck.errors import NoLogsFound
    from losscheck.pipeline import diagnose

    try:
        rep = diagnose(path, config=config)
    except NoLogsFound:
        if path.is_file() and path.suffix == ".json":  # {"x": 1}: neither a report nor a log
            raise UsageError(path, "baseline is neither a losscheck JSON report (no schema_version/runs) "
                                   "nor a run losscheck can read") from None
        raise
    if not rep.runs:
        raise UsageError(path, "baseline holds no run that could be diagnosed")
    return Baseline(str(path), [BaselineRun(r.run, {f.code for f in r.findings}, r.summary) for r in rep.runs],
                    str(path))

"""Verdict snapshot: every labelled run's verdict in one text file, for refactors that must not move it.

Each run of every collection (the fault-injection corpus, ``sample_runs/``, the public runs in
``../shared/real_runs`` when present, and the plain-text log collections) is diagnosed in this
process with the default configuration, and its verdict is written as one JSON object per line:
status, primary and secondary classes, onset step, the tag that filled each role, every finding
(code, role, step, message) and the ranked remedies (id, evidence, settings). Read notes and
numbers inside ``evidence`` dicts are left out: they are not verdicts.

A refactor that claims "verdicts do not move" writes the snapshot before and after and compares
the two files byte for byte::

    .venv/bin/python benchmarks/verdict_snapshot.py -o /tmp/before.jsonl     # on the old commit
    .venv/bin/python benchmarks/verdict_snapshot.py -o /tmp/after.jsonl      # on the new one
    cmp /tmp/before.jsonl /tmp/after.jsonl && echo identical

``--check FILE`` does the comparison and lists the runs that differ (exit 1 when any does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: collection name -> folder whose immediate sub-folders are runs
COLLECTIONS = {
    "corpus": REPO / "benchmarks" / "corpus",
    "samples": REPO / "sample_runs",
    "real": REPO.parent / "shared" / "real_runs",
    "text": REPO / "benchmarks" / "text_logs",
    "text_blind": REPO / "benchmarks" / "text_logs_blind",
    "text_blind2": REPO / "benchmarks" / "text_logs_blind2",
}


def runs() -> list[tuple[str, Path]]:
    """Every (collection, run folder) pair, sorted; collections whose folder is absent are skipped."""
    out = []
    for name, root in COLLECTIONS.items():
        if root.is_dir():
            out += [(name, p) for p in sorted(root.iterdir()) if p.is_dir()]
    return out


def verdict(path: Path) -> dict:
    """The verdict of one run as a JSON-ready dict (an ``error`` key when it could not be diagnosed)."""
    from losscheck.errors import LosscheckError
    from losscheck.pipeline import Options, diagnose

    try:
        rep = diagnose(path, Options())
    except LosscheckError as exc:
        return {"error": exc.one_line()}
    out: dict = {"errors": sorted(f"{e.kind}: {e.message}" for e in rep.errors), "runs": []}
    for r in rep.runs:
        out["runs"].append({
            "run": r.run, "status": r.status, "primary": r.primary, "secondary": list(r.secondary),
            "onset": r.onset_step,
            "roles": {k: [m.tag, m.points, m.first_step, m.last_step] for k, m in sorted(r.metrics.items())},
            "findings": [[f.code, f.role, f.step, f.message] for f in r.findings],
            "remedies": [[m.id, m.evidence, m.settings] for m in r.remedies],
        })
    return out


def snapshot() -> list[str]:
    """One JSON line per run: ``{"set": .., "run": .., **verdict}``.

    The collection's folder is written as ``<set>`` wherever a run name or message holds it, so
    snapshots taken in two checkouts (a worktree of the old commit, the new one) compare equal.
    """
    lines = []
    for name, path in runs():
        line = json.dumps({"set": name, "run": path.name, **verdict(path)}, sort_keys=True, default=str)
        lines.append(line.replace(str(path.parent), f"<{name}>"))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", help="write the snapshot here (default: standard output)")
    ap.add_argument("--check", metavar="FILE", help="compare with a snapshot written before; exit 1 on any difference")
    a = ap.parse_args(argv)
    lines = snapshot()
    text = "\n".join(lines) + "\n"
    if a.output:
        Path(a.output).write_text(text, encoding="utf-8")
    if a.check:
        old = {(d["set"], d["run"]): line for line in Path(a.check).read_text(encoding="utf-8").splitlines()
               if (d := json.loads(line))}
        new = {(d["set"], d["run"]): line for line in lines if (d := json.loads(line))}
        diff = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        for k in diff:
            print(f"differs: {k[0]}/{k[1]}")
        print(f"{len(new)} runs, {len(diff)} differ")
        return 1 if diff else 0
    if not a.output:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

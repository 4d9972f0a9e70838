"""The peers, side by side: run losslint, runmedic, trainspotter and trainproof on the labelled
runs that ``benchmarks/accuracy.py`` scores, map their findings to losscheck's classes, and
print one table per split.

Usage::

    python benchmarks/peers.py --install              # make the peer venvs when missing, then run
    python benchmarks/peers.py --split heldout -j 2   # one split, two runs at a time
    python benchmarks/peers.py --cache /tmp/peer-raw  # keep every peer's raw output; a second run
                                                      # with the same cache re-scores without the peers
    python benchmarks/peers.py --details              # each tool's confusion matrix and misses

Each peer lives in its own throwaway virtual environment, ``<venv-root>/peer-<name>`` (default
``--venv-root /work/venvs``, or ``$LOSSCHECK_PEER_VENVS``), made with ``python3 -m venv`` and
``pip install <package spec>`` when ``--install`` is given. None is a dependency of losscheck; a
peer whose venv is missing (and not installed) is reported as "not installed" and skipped. The
peers are driven through their command lines only (their ``--help``, their documentation and
their JSON output); nothing of theirs is copied here.

Runs and labels come from :mod:`accuracy` (``load_cases``; the same sets and splits, the same
scoring: :func:`accuracy.score`). Each run is a folder; a peer is first given the folder and,
when it reads nothing there, each log file in it (largest first, at most
:data:`MAX_FILE_TRIES`), so a peer that only takes a file path is not penalised. Each call has
a timeout (``--timeout``, 60 s); a timeout or a crash counts as "not read".

The mapping (also in README, "How it compares", and ``benchmarks/PEERS.md``)
-------------------------------------------------------------------------------

A peer's **status** is its own gate: *failing* when it reports a finding at its top severity
(losslint ``error``, runmedic ``critical``, trainspotter ``error``, trainproof ``FAIL``),
*warning* when its worst finding is a warning, else *healthy*. Every finding counts for the
status, mapped or not (a healthy run failed for "no warmup" is a healthy run failed).

Its **class** is the class of its most severe *mapped* finding (ties: nan, diverging, spiking,
overfitting, plateau, oscillating); no mapped finding means ``converging``; a run it cannot read
is ``error`` (a miss, and counted apart as "runs read"). Findings about things losscheck has no
class for (warmup, throughput, data loading, step bookkeeping, LR shape, grad-norm alone) map
to no class. Findings at a peer's lowest (info) level name a class or not, per peer, whichever
gives that peer more right classes over the splits run (losslint reports its plateau and
overfitting findings at info only; trainspotter reports an info ``plateau`` on almost every
run); the choice is printed. The column "named" is a generous bound: the labelled class is among *any* of its
mapped findings (for a healthy label: no mapped finding at all).

| losscheck class | losslint 0.4.1 | runmedic 0.1.1 | trainspotter 0.2.6 | trainproof 0.22.0 |
|---|---|---|---|---|
| nan | ``nan_inf`` | ``non_finite`` (loss, eval loss or grad norm) | ``divergence`` titled "non-finite" | ``TP-NAN``, ``TP-NAN-GRAD`` |
| diverging | ``divergence`` | ``divergence`` | ``divergence`` (sustained growth) | ``TP-DIVERGE`` |
| spiking | ``loss_spike`` | ``loss_spikes`` | ``spikes`` | (none) |
| overfitting | ``overfit_onset`` | ``overfitting`` | ``overfitting`` | ``TP-OVERFIT`` |
| plateau | ``stagnation`` | ``no_learning``, ``constant_lr_plateau`` | ``plateau`` | ``TP-DEAD-RUN``, ``TP-FLAT``, ``TP-ZERO-LR`` |
| oscillating | (none) | (none) | (none) | (none) |
| no class | ``step_backtrack`` | ``grad_spikes``, ``val_below_train``, ``log:*`` (crashes in stdout), speed, memory | ``grad_norm``, ``lr_schedule``, ``eval_noise``, ``loss_floor``, ``throughput`` | ``TP-GRAD-SPIKE``, ``TP-THROUGHPUT``, LR, step time, loader |
| not read | ``parse`` error / no run | no ``train_loss``/``val_loss`` role | "cannot guess format" / no loss metric | ``TP-NO-LOSS`` / no report |

No peer has an oscillation finding, so every ``oscillating`` label is a peer miss (losscheck's
own recall there is low too). An ``insufficient`` label (7 blind runs) can only be met by
losscheck; the peers say nothing or something else.

The exact finding identifiers each peer printed on these runs are in :data:`FINDING_CLASS`
(learnt from their JSON output on the runs; an identifier not listed maps to no class and is
counted in the report's "unmapped findings" line, so a gap in the table shows).

**Remedies.** runmedic and trainspotter name fixes in plain words (``fixes``); they are mapped
to losscheck's remedy ids by the keyword rules in :data:`REMEDY_WORDS` (every remedy a fix
names, in the order of its words; the fixes in the peer's order, the class-deciding findings
first), and "remedy hit" is the labelled first
remedy among the first three ids, as ``accuracy.py``'s top 3, over every faulty run with a
labelled remedy, read or not (``accuracy.py`` counts the runs losscheck read). losslint and trainproof name no
remedy list (trainproof says it does not infer causes): n/a.

**Time**: wall-clock seconds per run (process start included), the median over the split and
the total, measured in one pass after the verdicts (:func:`timing_pass`): for each run, losscheck's
CLI (``python -m losscheck diagnose --format json``; its verdicts are ``accuracy.py``'s
in-process ones) and then each peer on what it was given, one after the other, so every tool
runs under the same load (``-j`` runs at a time). ``--no-time`` skips the pass: the peers'
times are then those of their verdict runs and losscheck's is n/a.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402  (benchmarks/ is not a package)

REPO = accuracy.REPO
DEFAULT_VENV_ROOT = Path(os.environ.get("LOSSCHECK_PEER_VENVS", "/work/venvs"))
#: a run folder's files tried one by one when the folder itself yields nothing
MAX_FILE_TRIES = 3
#: class precedence among findings of equal severity (most specific first)
CLASS_ORDER = ("nan", "diverging", "spiking", "overfitting", "plateau", "oscillating")
#: a peer's severities, normalised: 2 = its top level (fails its gate), 1 = warning, 0 = info
SEVERITY = {"critical": 2, "error": 2, "fail": 2, "warning": 1, "warn": 1, "info": 0, "pass": 0, "ok": 0}


@dataclass
class Peer:
    """A peer tool: its PyPI package spec, executable and JSON command line."""

    name: str
    spec: str
    argv: tuple[str, ...]

    def exe(self, root: Path) -> Path:
        """The peer's executable in its venv ``root/peer-<name>/bin/<name>``."""
        return root / f"peer-{self.name}" / "bin" / self.name


PEERS = {
    "losslint": Peer("losslint", "losslint[tb,fast]", ("check", "--format", "json")),
    "runmedic": Peer("runmedic", "runmedic", ("diagnose", "--json")),
    "trainspotter": Peer("trainspotter", "trainspotter[tensorboard]", ("analyze", "--output", "json")),
    "trainproof": Peer("trainproof", "trainproof", ("doctor", "--json")),
}


@dataclass
class Finding:
    """One peer finding: identifier, normalised severity (0-2), remedies in words."""

    id: str
    severity: int
    fixes: list[str] = field(default_factory=list)
    title: str = ""


@dataclass
class PeerRun:
    """What a peer said about one run: ``read`` (it found a loss series), its findings, seconds."""

    read: bool
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    #: what the peer was given, in order (the folder, then files until one read)
    targets: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- parsing
def _json(text: str) -> object | None:
    """The JSON document on a peer's stdout (``None`` when there is none)."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
        if start <= 0:
            return None
        try:
            return json.loads(text[start:])
        except ValueError:
            return None


def _sev(word: object) -> int:
    return SEVERITY.get(str(word or "").strip().lower(), 0)


def parse_losslint(doc: object) -> PeerRun:
    """losslint ``check --format json``: ``runs`` (``points``) and ``findings`` (``check``,
    ``severity``); it prints no remedy list. A ``parse`` finding is a read failure, not a finding."""
    if not isinstance(doc, dict):
        return PeerRun(False, note="no JSON")
    read = any((r.get("points") or 0) > 0 for r in doc.get("runs") or [] if isinstance(r, dict))
    fs = [Finding(str(f.get("check")), _sev(f.get("severity")), title=str(f.get("message") or ""))
          for f in doc.get("findings") or [] if isinstance(f, dict) and f.get("check") != "parse"]
    return PeerRun(read, fs if read else [])


def parse_runmedic(doc: object) -> PeerRun:
    """runmedic ``diagnose --json``: a list of runs with ``roles`` (series it understood) and
    ``findings`` (``check``, ``severity``, ``fixes``)."""
    runs = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else []
    runs = [r for r in runs if isinstance(r, dict)]
    roles = [r.get("roles") or {} for r in runs]
    read = any(isinstance(ro, dict) and any(k in ro for k in ("train_loss", "val_loss")) for ro in roles)
    fs = [Finding(str(f.get("check")), _sev(f.get("severity")), [str(x) for x in f.get("fixes") or []],
                  str(f.get("title") or ""))
          for r in runs for f in r.get("findings") or [] if isinstance(f, dict)]
    return PeerRun(read, fs if read else [])


def parse_trainspotter(doc: object) -> PeerRun:
    """trainspotter ``analyze --output json``: ``run.metrics`` and ``findings`` (``detector``,
    ``severity``, ``fixes``)."""
    if not isinstance(doc, dict):
        return PeerRun(False, note="no JSON")
    metrics = (doc.get("run") or {}).get("metrics") or {}
    read = any("loss" in str(k).lower() and (v or {}).get("count", 0) > 0 for k, v in metrics.items())
    fs = [Finding(str(f.get("detector")), _sev(f.get("severity")), [str(x) for x in f.get("fixes") or []],
                  str(f.get("title") or ""))
          for f in doc.get("findings") or [] if isinstance(f, dict)]
    return PeerRun(read, fs if read else [])


def parse_trainproof(doc: object) -> PeerRun:
    """trainproof ``doctor --json``: ``reports`` (one per log file, ``num_records``) with
    ``findings`` (``id``, ``level``); it names no remedies."""
    if not isinstance(doc, dict):
        return PeerRun(False, note="no JSON")
    reps = [r for r in doc.get("reports") or [] if isinstance(r, dict)]
    read = any((r.get("num_records") or 0) > 0
               and not any(isinstance(f, dict) and f.get("id") == "TP-NO-LOSS" for f in r.get("findings") or [])
               for r in reps)
    fs = [Finding(str(f.get("id")), _sev(f.get("level")), title=str(f.get("message") or ""))
          for r in reps for f in r.get("findings") or []
          if isinstance(f, dict) and f.get("id") not in ("TP-NO-LOSS", "TP-PASS")]
    return PeerRun(read, fs if read else [])


PARSE = {"losslint": parse_losslint, "runmedic": parse_runmedic,
         "trainspotter": parse_trainspotter, "trainproof": parse_trainproof}


# --------------------------------------------------------------------------- running
def install(peer: Peer, root: Path) -> str:
    """Make ``root/peer-<name>`` and ``pip install`` the peer there; ``""`` or the reason it failed."""
    venv = root / f"peer-{peer.name}"
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", peer.spec], check=True,
                       capture_output=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"install failed: {exc}"
    return ""


def version(peer: Peer, root: Path) -> str:
    """The installed version of the peer's distribution, read in its venv (``"?"`` when unknown).

    (Asked of the package metadata, not ``--version``: losslint 0.4.1 prints 0.4.0.)"""
    dist = peer.spec.split("[")[0]
    py = root / f"peer-{peer.name}" / "bin" / "python"
    try:
        out = subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip() or "?"


def _targets(run: str) -> list[str]:
    """What a peer is given for a run: the folder, then its files (largest first)."""
    p = Path(run)
    if not p.is_dir():
        return [run]
    files = sorted((f for f in p.rglob("*") if f.is_file()), key=lambda f: (-f.stat().st_size, str(f)))
    return [run] + [str(f) for f in files[:MAX_FILE_TRIES]]


def _call(argv: list[str], cwd: str, timeout: float) -> tuple[str, int, float, str]:
    t0 = time.perf_counter()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                             env={**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"})
        return out.stdout, out.returncode, time.perf_counter() - t0, out.stderr[-300:]
    except subprocess.TimeoutExpired:
        return "", -1, time.perf_counter() - t0, f"timeout after {timeout:.0f} s"
    except OSError as exc:
        return "", -1, time.perf_counter() - t0, str(exc)


def run_peer(peer: Peer, root: Path, run: str, timeout: float, cache: Path | None, key: str) -> PeerRun:
    """Run one peer on one run (folder first, then its files) and parse what it says.

    The raw attempts are written to ``cache/<peer>/<key>.json`` when ``cache`` is given, and
    read back from there instead of running when that file exists."""
    cached = cache / peer.name / f"{key}.json" if cache else None
    if cached and cached.is_file():
        attempts = json.loads(cached.read_text(encoding="utf-8"))
    else:
        attempts = []
        for target in _targets(run):
            stdout, rc, secs, err = _call([str(peer.exe(root)), *peer.argv, target], str(Path(run).parent), timeout)
            attempts.append({"target": target, "rc": rc, "seconds": secs, "stdout": stdout, "stderr": err})
            if PARSE[peer.name](_json(stdout)).read:
                break
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(attempts), encoding="utf-8")
    return result_of(peer.name, attempts)


def result_of(peer: str, attempts: list[dict]) -> PeerRun:
    """A peer's verdict from its recorded attempts: the first one that read a loss, its seconds
    (all attempts' seconds add up: a user would have tried them too)."""
    secs = sum(a["seconds"] for a in attempts)
    targets = [a["target"] for a in attempts]
    for a in attempts:
        r = PARSE[peer](_json(a["stdout"]))
        if r.read:
            r.seconds, r.note, r.targets = secs, a["target"], targets
            return r
    last = attempts[-1] if attempts else {}
    return PeerRun(False, seconds=secs, targets=targets, note=(last.get("stderr") or "").strip().splitlines()[-1:][0]
                   if (last.get("stderr") or "").strip() else "nothing read")


# --------------------------------------------------------------------------- mapping
#: peer -> finding id -> losscheck class (``None``: a finding losscheck has no class for).
#: Learnt from the identifiers the peers printed on the labelled runs (their JSON output).
FINDING_CLASS: dict[str, dict[str, str | None]] = {
    "losslint": {"nan_inf": "nan", "divergence": "diverging", "loss_spike": "spiking",
                 "overfit_onset": "overfitting", "stagnation": "plateau", "step_backtrack": None},
    "runmedic": {"non_finite": "nan", "divergence": "diverging", "loss_spikes": "spiking",
                 "overfitting": "overfitting", "no_learning": "plateau", "constant_lr_plateau": "plateau",
                 "grad_spikes": None, "val_below_train": None},
    "trainspotter": {"divergence": "diverging", "spikes": "spiking", "overfitting": "overfitting",
                     "plateau": "plateau", "grad_norm": None, "lr_schedule": None, "eval_noise": None,
                     "loss_floor": None, "throughput": None},
    "trainproof": {"TP-NAN": "nan", "TP-NAN-GRAD": "nan", "TP-DIVERGE": "diverging",
                   "TP-OVERFIT": "overfitting", "TP-DEAD-RUN": "plateau", "TP-FLAT": "plateau",
                   "TP-ZERO-LR": "plateau", "TP-GRAD-SPIKE": None, "TP-THROUGHPUT": None},
}
#: findings whose title decides between two of our classes: (peer, id, words in title) -> class
TITLE_CLASS = {("trainspotter", "divergence", "non-finite"): "nan"}
#: a peer's words for a fix -> losscheck remedy id. A fix may name several remedies ("lower the
#: peak LR; add warmup"): each pattern that matches gives its id, ordered by where it matches.
REMEDY_WORDS: tuple[tuple[str, str], ...] = (
    ("mixed_precision", r"fp16|bf16|mixed.precision|loss.scal|\bamp\b|autocast"),
    ("early_stop", r"early.?stop|stop (the run|training|early|earlier)|best (eval|checkpoint)|\(best "),
    ("grad_clip", r"\bclip"),
    ("warmup", r"warm.?up"),
    ("increase_lr", r"(raise|increase|higher|larger|bigger) (the )?(peak )?(learning rate|lr)"),
    ("lower_lr", r"(lower|reduce|decrease|cut|smaller|halve) (the )?(peak |initial |base )?(learning rate|lr)"),
    ("shuffle_data", r"shuffl"),
    ("rebalance", r"imbalanc|class.weight|oversampl|rebalanc"),
    ("regularize", r"dropout|weight.decay|regulari[sz]|augment"),
    ("check_labels", r"overfit (a|one) (single |fixed )?batch|label (pairing|alignment|noise|leak)|mislabel"
                     r"|labels? (are|is) (shuffled|wrong|misaligned)"),
    ("normalization", r"normali[sz]ation|layer.?norm|batch.?norm|group.?norm"),
    ("more_data", r"more (training )?data|larger dataset"),
    ("lr_schedule", r"schedul|decay(ing)? (the )?(lr|learning rate|schedule)|lr discontinuit"),
    ("rollback", r"checkpoint|resume|roll.?back|restart"),
    ("check_model", r"initiali[sz]|requires_grad|frozen|freez|architecture|model code|zero_grad"),
    ("optimizer", r"optimi[sz]er\b|\badam|momentum|beta"),
    ("check_data", r"\bdata|batch|input|sample|record|preprocess"),
)


def finding_class(peer: str, f: Finding) -> str | None:
    """The losscheck class a peer finding maps to (``None``: no class of ours)."""
    for (p, fid, words), cls in TITLE_CLASS.items():
        if p == peer and f.id == fid and words in f.title.lower():
            return cls
    return FINDING_CLASS.get(peer, {}).get(f.id)


def remedy_ids(text: str) -> list[str]:
    """The losscheck remedies a peer's fix (in words) names, by :data:`REMEDY_WORDS`, in the
    order the words come in the text; ``rollback`` is dropped when ``early_stop`` matched the
    same words (keeping the best checkpoint is stopping early)."""
    low = text.lower()
    hits = sorted((m.start(), rid) for rid, pat in REMEDY_WORDS if (m := re.search(pat, low)))
    ids = [rid for _, rid in hits]
    if "early_stop" in ids and "rollback" in ids:
        ids.remove("rollback")
    return ids


def remedy_id(text: str) -> str | None:
    """The first remedy :func:`remedy_ids` finds in a fix (``None``: none)."""
    return next(iter(remedy_ids(text)), None)


@dataclass
class Verdict:
    """A peer's answer mapped to losscheck's terms."""

    predicted: str
    status: str
    remedies: list[str]
    named: set[str]


def verdict(peer: str, r: PeerRun, info_classes: bool = True) -> Verdict:
    """Map a peer's run to a class, a status and remedy ids.

    ``info_classes``: whether findings at the peer's lowest (info) level may name the class
    (losslint reports its plateau and overfitting findings at info only); the status always
    counts every finding. An unread run is ``error`` (status ``healthy``: the peer said nothing).
    """
    if not r.read:
        return Verdict("error", "healthy", [], set())
    top = max((f.severity for f in r.findings), default=0)
    status = "failing" if top >= 2 else "warning" if top == 1 else "healthy"
    mapped = [(f, finding_class(peer, f)) for f in r.findings]
    classed = [(f, c) for f, c in mapped if c and (info_classes or f.severity > 0)]
    rank = {c: i for i, c in enumerate(CLASS_ORDER)}
    classed.sort(key=lambda fc: (-fc[0].severity, rank[fc[1] or "oscillating"]))
    predicted = classed[0][1] if classed else "converging"
    order = [f for f, _ in classed] + sorted((f for f, c in mapped if f not in [g for g, _ in classed]),
                                             key=lambda f: -f.severity)
    rems: list[str] = []
    for f in order:
        for fix in f.fixes:
            rems += [rid for rid in remedy_ids(fix) if rid not in rems]
    return Verdict(str(predicted), status, rems[:3], {c for _, c in classed if c})


# --------------------------------------------------------------------------- scoring
@dataclass
class Row:
    """One line of the table: a tool on one split."""

    tool: str
    n: int
    read: int | None = None
    accuracy: float | None = None
    #: class right among the runs the tool read (what it gets right when the format is not the issue)
    accuracy_read: float | None = None
    named: float | None = None
    healthy: int = 0
    healthy_failing: int = 0
    faulty: int = 0
    detected: int = 0
    remedy_n: int = 0
    remedy_top3: float | None = None
    median_s: float | None = None
    total_s: float | None = None
    note: str = ""
    figures: accuracy.Figures | None = None


def score_cases(tool: str, cases: list[accuracy.Case], named: list[bool] | None, seconds: list[float],
                remedies: bool, read: int | None) -> Row:
    """The table line of a tool whose verdicts are filled into ``cases`` (``accuracy.Case``)."""
    f = accuracy.score(cases)
    healthy = [c for c in cases if c.label == "converging"]
    faulty = [c for c in cases if c.label not in ("converging", "insufficient")]
    # every faulty run with a labelled remedy, read or not (accuracy.py counts the read ones only)
    rem = [c for c in faulty if c.remedy]
    hit = sum(c.remedy in c.remedies[:3] and not c.error for c in rem)
    ok = [c for c in cases if not c.error]
    return Row(tool, len(cases), read, f.accuracy,
               sum(c.predicted == c.label for c in ok) / len(ok) if ok else None,
               sum(named) / len(named) if named else None,
               len(healthy), sum(c.status == "failing" for c in healthy),
               len(faulty), sum(c.status in ("failing", "warning") and not c.error for c in faulty),
               len(rem), hit / len(rem) if rem and remedies else None,
               statistics.median(seconds) if seconds else None, sum(seconds) if seconds else None,
               figures=f)


def peer_cases(peer: str, cases: list[accuracy.Case], runs: list[PeerRun], info_classes: bool
               ) -> tuple[list[accuracy.Case], list[bool]]:
    """Copies of ``cases`` holding the peer's mapped verdicts, and per case whether the label
    is among its mapped findings (the generous "named" figure)."""
    out, named = [], []
    for c, r in zip(cases, runs):
        v = verdict(peer, r, info_classes)
        out.append(accuracy.Case(c.set, c.run, c.split, c.label, c.onset, c.remedy, predicted=v.predicted,
                                 status=v.status, remedies=v.remedies, points=c.points,
                                 class_only=c.class_only, error="" if r.read else f"not read ({r.note})"))
        named.append(r.read and (c.label in v.named if c.label != "converging" else not v.named))
    return out, named


def timing_pass(cases: list[accuracy.Case], peer_runs: dict[str, list[PeerRun]], root: Path,
                timeout: float, jobs: int) -> dict[str, list[float]]:
    """Wall-clock seconds per run of every tool, measured side by side: for each run, losscheck's
    CLI (``python -m losscheck diagnose --format json RUN``) and then each peer on the targets it
    was given for its verdict, one after the other, so all tools share the machine's load.

    Returns tool name -> seconds per case (in ``cases`` order)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def one(i: int) -> dict[str, float]:
        c = cases[i]
        t0 = time.perf_counter()
        try:
            subprocess.run([sys.executable, "-m", "losscheck", "diagnose", "--format", "json", c.run],
                           capture_output=True, timeout=timeout, env=env, cwd=str(REPO))
        except subprocess.TimeoutExpired:
            pass
        out = {"losscheck": time.perf_counter() - t0}
        for name, runs in peer_runs.items():
            peer = PEERS[name]
            out[name] = sum(_call([str(peer.exe(root)), *peer.argv, t], str(Path(c.run).parent), timeout)[2]
                            for t in runs[i].targets or [c.run])
        return out

    with cf.ThreadPoolExecutor(jobs) as ex:
        per_case = list(ex.map(one, range(len(cases))))
    return {name: [d[name] for d in per_case] for name in ["losscheck", *peer_runs]}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render_table(split: str, rows: list[Row]) -> str:
    """The markdown table of one split."""
    lines = [f"| {split} ({rows[0].n if rows else 0} runs) | runs read | class right | right of read "
             "| named (generous) "
             "| healthy judged failing | failing runs detected | remedy in top 3 | s/run (median) | total s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.note:
            lines.append(f"| {r.tool} | {r.note} | | | | | | | | |")
            continue
        lines.append(
            f"| {r.tool} | {r.read if r.read is not None else r.n}/{r.n} | **{_pct(r.accuracy)}** | "
            f"{_pct(r.accuracy_read)} | "
            f"{_pct(r.named) if r.named is not None else '-'} | {r.healthy_failing} of {r.healthy} | "
            f"{r.detected} of {r.faulty} ({_pct(r.detected / r.faulty if r.faulty else None)}) | "
            f"{_pct(r.remedy_top3) + f' of {r.remedy_n}' if r.remedy_top3 is not None else 'n/a'} | "
            + (f"{r.median_s:.2f} | {r.total_s:.0f} |" if r.median_s is not None else "n/a | n/a |"))
    return "\n".join(lines)


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=30).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv: list[str] | None = None) -> int:
    """Command line: run the peers and losscheck on the chosen split(s) and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["heldout", "blind", "tune", "both"], default="both",
                    help="both = heldout and blind")
    ap.add_argument("--venv-root", type=Path, default=DEFAULT_VENV_ROOT,
                    help=f"where the peer venvs live (default {DEFAULT_VENV_ROOT}, or $LOSSCHECK_PEER_VENVS)")
    ap.add_argument("--install", action="store_true", help="make and install missing peer venvs first")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset of " + ",".join(PEERS))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per peer call (default 60)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="runs at a time (default 2: the machine's cores)")
    ap.add_argument("--cache", type=Path, help="keep each peer's raw output here; reuse it when present")
    ap.add_argument("--no-time", action="store_true", help="skip timing losscheck's CLI (its verdicts stay)")
    ap.add_argument("--details", action="store_true", help="print each tool's confusion matrix and misses")
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    a = ap.parse_args(argv)
    names = [p.strip() for p in a.peers.split(",") if p.strip()]
    unknown = [p for p in names if p not in PEERS]
    if unknown:
        print(f"peers.py: unknown peer(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    splits = ["heldout", "blind"] if a.split == "both" else [a.split]
    status: dict[str, str] = {}
    for name in names:
        peer = PEERS[name]
        if not peer.exe(a.venv_root).exists() and a.install:
            why = install(peer, a.venv_root)
            if why:
                print(f"peers.py: {name}: {why}", file=sys.stderr)
        status[name] = version(peer, a.venv_root) if peer.exe(a.venv_root).exists() else ""
    cases_of = {sp: [c for s in accuracy.SETS for c in accuracy.load_cases(s, sp)] for sp in splits}
    # every peer on every run first: the info-level choice below looks at all splits at once
    runs_of: dict[tuple[str, str], list[PeerRun]] = {}
    for name in names:
        if not status[name]:
            continue
        for sp in splits:
            cases = cases_of[sp]

            def one(c: accuracy.Case, name: str = name) -> PeerRun:
                return run_peer(PEERS[name], a.venv_root, c.run, a.timeout, a.cache, f"{c.set}--{Path(c.run).name}")

            with cf.ThreadPoolExecutor(max(1, a.jobs)) as ex:
                runs_of[name, sp] = list(ex.map(one, cases))
    # info-level findings name a class or not: whichever gives the peer more right classes overall
    info_choice: dict[str, bool] = {}
    for name in names:
        if not status[name]:
            continue
        right = {}
        for flag in (True, False):
            right[flag] = sum(pc.predicted == pc.label for sp in splits
                              for pc in peer_cases(name, cases_of[sp], runs_of[name, sp], flag)[0])
        info_choice[name] = right[True] >= right[False]
    out: dict[str, list[dict]] = {}
    commit = _git_commit()
    print(f"# peers.py at {commit}, {time.strftime('%Y-%m-%d')}; peer versions: "
          + ", ".join(f"{n} {status[n] or 'not installed'}" for n in names)
          + ("; info findings name a class: " + ", ".join(f"{n} {'yes' if v else 'no'}"
                                                          for n, v in info_choice.items()) if info_choice else "")
          + "\n")
    for sp in splits:
        cases = cases_of[sp]
        if not cases:
            continue
        lc = accuracy.diagnose_cases([accuracy.Case(c.set, c.run, c.split, c.label, c.onset, c.remedy,
                                                    points=c.points, class_only=c.class_only) for c in cases])
        avail = {n: runs_of[n, sp] for n in names if status[n]}
        timed = {} if a.no_time else timing_pass(cases, avail, a.venv_root, a.timeout, max(1, a.jobs))
        secs = timed.get("losscheck", [])
        rows = [score_cases("losscheck", lc, None, secs, True, sum(not c.error for c in lc))]
        for name in names:
            if not status[name]:
                rows.append(Row(name, len(cases), note="not installed"))
                continue
            pr = runs_of[name, sp]
            pcs, named = peer_cases(name, cases, pr, info_choice[name])
            has_fixes = any(f.fixes for r in pr for f in r.findings)
            rows.append(score_cases(name, pcs, named, timed.get(name) or [r.seconds for r in pr], has_fixes,
                                    sum(r.read for r in pr)))
        print(render_table(sp, rows) + "\n")
        if a.details:
            for r in rows:
                if r.figures is not None:
                    text = accuracy.render(f"{r.tool} / {sp}", r.figures)
                    if r.tool != "losscheck":  # peers' onsets are not read; remedies are in the table
                        text = "\n".join(x for x in text.splitlines()
                                         if not x.startswith(("onset within", "labelled first remedy")))
                    print(text)
                    print("\n".join("  miss: " + m for m in r.figures.misses if "onset" not in m) + "\n")
        unmapped = {n: sorted({f.id for r in runs_of[n, sp] for f in r.findings
                               if f.id not in FINDING_CLASS.get(n, {})}) for n in names if status[n]}
        if any(unmapped.values()):
            print("unmapped findings (no class): "
                  + "; ".join(f"{n}: {', '.join(v)}" for n, v in unmapped.items() if v) + "\n")
        out[sp] = [{k: v for k, v in vars(r).items() if k != "figures"} for r in rows]
    if a.json:
        a.json.write_text(json.dumps({"commit": commit, "versions": status, "info_classes": info_choice,
                                      "splits": out}, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy benchmark: diagnose labelled runs and score the verdicts.

Usage::

    python benchmarks/accuracy.py                 # every labelled set, both splits
    python benchmarks/accuracy.py --split heldout --set corpus
    python benchmarks/accuracy.py --json out.json # the figures as JSON
    python benchmarks/accuracy.py --split heldout --set all   # the pooled held-out view

Label sets (CSV files with at least ``run,class,onset_step,first_remedy``; ``split`` optional):

- ``corpus``: ``benchmarks/corpus/labels.csv``, the fault-injection corpus made by really
  training small models (``benchmarks/make_corpus.py``); labels come from the injected cause
  and the numbers, never from losscheck; ``split`` is ``tune`` or ``heldout`` by a hash rule.
- ``samples``: ``benchmarks/sample_runs_labels.csv`` (all ``tune``: the detectors were developed on them).
- ``real``: ``benchmarks/real_runs_labels.csv``, public logs in ``../shared/real_runs`` labelled
  from their numbers in ``SOURCES.md``; ``tune`` for the runs the detectors were tuned on,
  ``heldout`` for the rest. Skipped when ``../shared`` is absent.

- ``text_logs``, ``text_logs_blind`` (``tune``) and ``text_logs_blind2`` (``heldout``): public
  plain-text console logs (``benchmarks/text_logs*/``; sources in their ``SOURCES*.md``), labelled
  in ``labels*.csv`` (``id,file,...,class,confidence,note``) from their numbers and their source's
  words before losscheck was run on them. Label classes map to ours (``nonfinite`` -> ``nan``,
  ``spikes`` -> ``spiking``; ``insufficient`` rows expect ``insufficient``). These labels carry no
  onset and no remedy: the text-log sets score the **class only** (the output says so). The
  first two were looked at while readers were written (tune); ``text_logs_blind2`` shares no
  repository or thread with any tune set (its ``SOURCES.md``).

Splits are by *source*: ``tune`` = corpus tune + samples + real tune + text_logs +
text_logs_blind; ``heldout`` = corpus heldout + real heldout + text_logs_blind2; ``blind`` =
``verdicts_blind1`` (60 public runs, 48 of them structured logs, labelled with class, onset and
first remedy), ``text_logs_blind3``, ``text_logs_blind4``, ``text_logs_blind5``, ``text_logs_blind6``, ``text_logs_blind7``, ``text_logs_blind8`` and ``text_logs_blind9`` (class only): gathered and labelled
by helpers that never opened losscheck's code, measured and never used to change a detector.
(``text_logs_blind3`` and ``text_logs_blind4`` have since been used to fix the *text reader*, not the
verdicts.)
``--set all`` pools every set of a split and adds the per-set accuracy and the count of
``insufficient`` verdicts on runs with at least 3 points.

Figures: the confusion matrix of primary classes; per-class precision and recall; the
healthy-run false-alarm rate (a ``converging`` run judged *failing*) and warning rate; the
share of faulty runs whose onset is within ``max(5 steps, 5% of the run)`` of the label, and
the median onset error; how often the labelled first remedy is ranked first, and in the top 3;
the reliability table of the verdicts' confidences (binned: claimed vs observed accuracy) and
the expected calibration error (:func:`calibration`; the calibration is fitted on the ``tune``
rows only, by ``benchmarks/fit_confidence.py``, so the ``heldout`` figures are the honest ones).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("converging", "oscillating", "diverging", "nan", "plateau", "spiking", "overfitting")
#: label classes: ours plus ``insufficient`` (a run too short to judge, when a label says so)
LABELS = (*CLASSES, "insufficient")
SETS = {
    "corpus": (REPO / "benchmarks" / "corpus" / "labels.csv", REPO / "benchmarks" / "corpus"),
    "samples": (REPO / "benchmarks" / "sample_runs_labels.csv", REPO / "sample_runs"),
    "real": (REPO / "benchmarks" / "real_runs_labels.csv", REPO.parent / "shared" / "real_runs"),
    "text_logs": (REPO / "benchmarks" / "text_logs" / "labels-*.csv", REPO / "benchmarks" / "text_logs"),
    "text_logs_blind": (REPO / "benchmarks" / "text_logs_blind" / "labels.csv",
                        REPO / "benchmarks" / "text_logs_blind"),
    "text_logs_blind2": (REPO / "benchmarks" / "text_logs_blind2" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind2"),
    "text_logs_blind3": (REPO / "benchmarks" / "text_logs_blind3" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind3"),
    "text_logs_blind4": (REPO / "benchmarks" / "text_logs_blind4" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind4"),
    "text_logs_blind5": (REPO / "benchmarks" / "text_logs_blind5" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind5"),
    "text_logs_blind6": (REPO / "benchmarks" / "text_logs_blind6" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind6"),
    "text_logs_blind7": (REPO / "benchmarks" / "text_logs_blind7" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind7"),
    "text_logs_blind8": (REPO / "benchmarks" / "text_logs_blind8" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind8"),
    "text_logs_blind9": (REPO / "benchmarks" / "text_logs_blind9" / "labels.csv",
                         REPO / "benchmarks" / "text_logs_blind9"),
    "text_logs_blind10": (REPO / "benchmarks" / "text_logs_blind10" / "labels.csv",
                          REPO / "benchmarks" / "text_logs_blind10"),
    "verdicts_blind1": (REPO / "benchmarks" / "verdicts_blind1" / "labels.csv",
                        REPO / "benchmarks" / "verdicts_blind1"),
}
#: sets whose rows carry no ``split``: the split they belong to (``blind``: gathered by someone
#: who never saw the code, never used to change it; measured, not tuned on)
DEFAULT_SPLIT = {"verdicts_blind1": "blind"}
#: text-log sets: one split each (by source), class-only labels in the text-log columns
TEXT_SPLIT = {"text_logs": "tune", "text_logs_blind": "tune", "text_logs_blind2": "heldout",
              "text_logs_blind3": "blind", "text_logs_blind4": "blind",
              "text_logs_blind5": "blind", "text_logs_blind6": "blind", "text_logs_blind7": "blind",
              "text_logs_blind8": "blind", "text_logs_blind9": "blind",
              "text_logs_blind10": "blind"}
#: text-log label class -> ours (the collections' words for two of our classes)
TEXT_CLASS = {"nonfinite": "nan", "spikes": "spiking"}


@dataclass
class Case:
    """One labelled run and losscheck's verdict on it."""

    set: str
    run: str
    split: str
    label: str
    onset: int | None
    remedy: str | None
    predicted: str = ""
    status: str = ""
    pred_onset: int | None = None
    remedies: list[str] = field(default_factory=list)
    span: int = 0
    error: str = ""
    confidence: float | None = None
    #: points of the run's longest loss curve (labelled count when the label gives one, else as read)
    points: int = 0
    #: the label carries no onset and no remedy (text-log sets): only the class is scored
    class_only: bool = False


@dataclass
class Figures:
    """Scores over a list of cases (rates are fractions in [0, 1], ``None`` when undefined)."""

    n: int
    accuracy: float | None
    confusion: dict[str, dict[str, int]]
    precision: dict[str, float | None]
    recall: dict[str, float | None]
    healthy: int
    healthy_failing: float | None
    healthy_warning: float | None
    onset_n: int
    onset_within: float | None
    onset_median_error: float | None
    remedy_n: int
    remedy_top1: float | None
    remedy_top3: float | None
    misses: list[str]
    #: ``insufficient`` given to runs with >= 3 points (a refusal the data do not justify)
    insufficient_3plus: int = 0
    #: set name -> (correct, runs)
    per_set: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: runs scored on class only (no onset / remedy label)
    class_only: int = 0


def _int(x: str) -> int | None:
    x = (x or "").strip()
    return int(float(x)) if x else None


def label_files(name: str) -> list[Path]:
    """The label CSV files of a set (a ``*`` in its name matches several), sorted."""
    labels, _ = SETS[name]
    return sorted(labels.parent.glob(labels.name)) if "*" in labels.name else [labels] * labels.is_file()


def _load_text_cases(name: str, split: str | None) -> list[Case]:
    """Cases of a text-log set: ``id``/``file``/``class`` columns, class only, one split per set."""
    _, root = SETS[name]
    sp = TEXT_SPLIT[name]
    if split and sp != split:
        return []
    out = []
    for labels in label_files(name):
        with open(labels, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                cls = row["class"].strip().lower()
                cls = TEXT_CLASS.get(cls, cls)
                if cls not in LABELS:
                    raise ValueError(f"{labels}: row {row['id']!r}: unknown class {cls!r}")
                n = max(_int(row.get("loss_n", "")) or 0, _int(row.get("eval_n", "")) or 0)
                out.append(Case(name, str(root / row["id"]), sp, cls, None, None, points=n, class_only=True))
    return out


def load_cases(name: str, split: str | None = None) -> list[Case]:
    """The labelled cases of one set (``[]`` when its labels or data are absent).

    Raises:
        ValueError: a text-log label names a class outside :data:`LABELS` (after mapping).
    """
    labels, root = SETS[name]
    if not label_files(name) or not root.is_dir():
        return []
    if name in TEXT_SPLIT:
        return _load_text_cases(name, split)
    out = []
    with open(labels, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            sp = (row.get("split") or DEFAULT_SPLIT.get(name, "tune")).strip()
            if split and sp != split:
                continue
            out.append(Case(name, str(root / row["run"]), sp, row["class"].strip(), _int(row.get("onset_step", "")),
                            (row.get("first_remedy") or "").strip() or None))
    return out


def diagnose_cases(cases: list[Case]) -> list[Case]:
    """Run losscheck on every case (in-process, default configuration) and fill the verdicts."""
    from losscheck.errors import LosscheckError
    from losscheck.pipeline import Options, diagnose

    for c in cases:
        try:
            rep = diagnose(c.run, Options())
        except LosscheckError as exc:
            c.error = exc.one_line()
            continue
        if not rep.runs:
            c.error = "; ".join(e.message for e in rep.errors) or "no run"
            continue
        r = rep.runs[0]
        c.predicted, c.status, c.pred_onset = r.primary, r.status, r.onset_step
        c.remedies = [m.id for m in r.remedies]
        c.confidence = r.confidence
        m = r.metrics.get("loss") or r.metrics.get("eval_loss")
        c.span = (m.last_step - m.first_step) if m else 0
        read = max((r.metrics[k].points for k in ("loss", "eval_loss") if k in r.metrics), default=0)
        c.points = c.points or read
    return cases


def score(cases: list[Case]) -> Figures:
    """Compute :class:`Figures` from diagnosed cases."""
    cols = list(CLASSES) + ["insufficient", "error"]
    conf = {a: {b: 0 for b in cols} for a in LABELS}
    misses = []
    per_set: dict[str, tuple[int, int]] = {}
    for c in cases:
        p = c.predicted if not c.error else "error"
        if c.label in conf:
            conf[c.label][p if p in cols else "error"] += 1
        ok, tot = per_set.get(c.set, (0, 0))
        per_set[c.set] = (ok + (p == c.label), tot + 1)
        if p != c.label:
            misses.append(f"{c.set}:{Path(c.run).name}: label {c.label}, got {p}"
                          + (f" ({c.error})" if c.error else ""))
    n = len(cases)
    correct = sum(conf[k][k] for k in LABELS)
    insuf3 = sum(c.predicted == "insufficient" and c.label != "insufficient" and c.points >= 3 for c in cases)
    prec, rec = {}, {}
    for k in LABELS:
        col = sum(conf[a][k] for a in LABELS)
        row = sum(conf[k].values())
        prec[k] = conf[k][k] / col if col else None
        rec[k] = conf[k][k] / row if row else None
    healthy = [c for c in cases if c.label == "converging"]
    hf = sum(c.status == "failing" for c in healthy)
    misses += [f"{c.set}:{Path(c.run).name}: healthy run judged failing ({c.predicted})"
               for c in healthy if c.status == "failing"]
    misses += [f"{c.set}:{Path(c.run).name}: insufficient on {c.points} points"
               for c in cases if c.predicted == "insufficient" and c.label != "insufficient" and c.points >= 3]
    hw = sum(c.status == "warning" for c in healthy)
    faulty = [c for c in cases if c.label != "converging" and not c.error]
    on = [c for c in faulty if c.onset is not None]
    errs, within = [], 0
    for c in on:
        if c.pred_onset is None:
            misses.append(f"{c.set}:{Path(c.run).name}: onset {c.onset}, got none")
            continue
        e = abs(c.pred_onset - c.onset)
        errs.append(e)
        ok = e <= max(5, 0.05 * max(c.span, 1))
        within += ok
        if not ok:
            misses.append(f"{c.set}:{Path(c.run).name}: onset {c.onset}, got {c.pred_onset} (span {c.span})")
    rem = [c for c in faulty if c.remedy]
    t1 = sum(bool(c.remedies) and c.remedies[0] == c.remedy for c in rem)
    t3 = sum(c.remedy in c.remedies[:3] for c in rem)
    for c in rem:
        if c.remedies[:1] != [c.remedy]:
            misses.append(f"{c.set}:{Path(c.run).name}: first remedy {c.remedy}, got {c.remedies[:3]}")
    return Figures(n, correct / n if n else None, conf, prec, rec, len(healthy),
                   hf / len(healthy) if healthy else None, hw / len(healthy) if healthy else None,
                   len(on), within / len(on) if on else None, statistics.median(errs) if errs else None,
                   len(rem), t1 / len(rem) if rem else None, t3 / len(rem) if rem else None, misses,
                   insuf3, per_set, sum(c.class_only for c in cases))


# --------------------------------------------------------------------------- calibration
#: equal-width bins of claimed confidence for the reliability table and the ECE (Guo et al. 2017,
#: "On Calibration of Modern Neural Networks", sec. 2, use M equal-width bins; 10 here: with
#: fewer than 100 runs per split more bins leave most of them empty)
CALIBRATION_BINS = 10


@dataclass
class Calibration:
    """Claimed confidence against observed accuracy over a list of cases.

    Attributes:
        n: cases with a confidence (undiagnosed runs have none and are left out).
        bins: one row per non-empty bin: ``lo``, ``hi`` (bin edges), ``count``, ``claimed``
            (mean confidence), ``observed`` (share of right primary classes).
        ece: expected calibration error, ``sum_b count_b / n * |observed_b - claimed_b|``
            (Naeini et al. 2015; Guo et al. 2017 eq. 3); ``None`` when ``n == 0``.
        mean_claimed, observed: over all ``n`` cases.
        auroc: the probability that a right verdict has a higher confidence than a wrong one
            (ties count half; the Mann-Whitney form of the area under the ROC curve): how well
            the confidence *ranks* verdicts, which the ECE does not measure; ``None`` without
            both right and wrong verdicts.
    """

    n: int
    bins: list[dict]
    ece: float | None
    mean_claimed: float | None
    observed: float | None
    auroc: float | None = None


def calibration(cases: list[Case], n_bins: int = CALIBRATION_BINS) -> Calibration:
    """The reliability table and ECE of the cases' confidences (a case is *right* when its
    predicted primary class equals its label). Bin ``i`` holds confidences in
    ``[i/n_bins, (i+1)/n_bins)``, the last bin includes 1.0."""
    pairs = [(float(c.confidence), c.predicted == c.label and not c.error)
             for c in cases if c.confidence is not None and not c.error]
    n = len(pairs)
    rows, ece = [], 0.0
    for i in range(n_bins):
        lo, hi = i / n_bins, (i + 1) / n_bins
        inb = [(p, ok) for p, ok in pairs if lo <= p < hi or (i == n_bins - 1 and p == hi)]
        if not inb:
            continue
        claimed = sum(p for p, _ in inb) / len(inb)
        observed = sum(ok for _, ok in inb) / len(inb)
        rows.append({"lo": lo, "hi": hi, "count": len(inb), "claimed": claimed, "observed": observed})
        ece += len(inb) / n * abs(observed - claimed)
    good = [p for p, ok in pairs if ok]
    bad = [p for p, ok in pairs if not ok]
    auroc = (sum((g > b) + 0.5 * (g == b) for g in good for b in bad) / (len(good) * len(bad))
             if good and bad else None)
    return Calibration(n, rows, ece if n else None, sum(p for p, _ in pairs) / n if n else None,
                       sum(ok for _, ok in pairs) / n if n else None, auroc)


def render_calibration(title: str, cal: Calibration, target: float = 0.05) -> str:
    """The reliability table and ECE as plain text (``target``: the issue's ECE goal)."""
    lines = [f"-- confidence calibration, {title}: {cal.n} runs", "",
             "confidence bin   runs  claimed  observed"]
    for b in cal.bins:
        lines.append(f"[{b['lo']:.1f}, {b['hi']:.1f}{']' if b['hi'] >= 1 else ')'}   {b['count']:>5}  "
                     f"{_pct(b['claimed']):>7}  {_pct(b['observed']):>8}")
    met = "n/a" if cal.ece is None else ("met" if cal.ece <= target else "NOT met")
    lines += ["", f"mean claimed {_pct(cal.mean_claimed)}, observed {_pct(cal.observed)}; "
              f"expected calibration error: {'n/a' if cal.ece is None else f'{cal.ece:.3f}'} "
              f"(target <= {target}: {met})",
              "right verdicts ranked above wrong ones (AUROC): "
              + ("n/a" if cal.auroc is None else f"{cal.auroc:.2f}"), ""]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render(title: str, f: Figures) -> str:
    """A plain-text table of the figures (also used in README)."""
    cols = list(CLASSES) + ["insufficient", "error"]
    short = {"converging": "conv", "oscillating": "osc", "diverging": "div", "nan": "nan", "plateau": "plat",
             "spiking": "spike", "overfitting": "overf", "insufficient": "insuf", "error": "err"}
    lines = [f"== {title}: {f.n} runs", "",
             "label \\ predicted " + " ".join(f"{short[c]:>6}" for c in cols) + "   recall  precision"]
    for k in LABELS:
        row = f.confusion.get(k)
        if not row or not sum(row.values()):
            continue
        lines.append(f"{k:<18}" + " ".join(f"{row[c]:>6}" for c in cols)
                     + f"   {_pct(f.recall[k]):>6}  {_pct(f.precision[k]):>6}")
    lines += ["",
              f"primary class correct:           {_pct(f.accuracy)}",
              f"healthy runs judged failing:     {_pct(f.healthy_failing)} of {f.healthy}",
              f"healthy runs with a warning:     {_pct(f.healthy_warning)} of {f.healthy}",
              f"onset within max(5, 5% of run): {_pct(f.onset_within)} of {f.onset_n}"
              f" (median error {f.onset_median_error if f.onset_median_error is not None else 'n/a'} steps)",
              f"labelled first remedy ranked 1st: {_pct(f.remedy_top1)} of {f.remedy_n}; "
              f"in top 3: {_pct(f.remedy_top3)}",
              f"insufficient on runs >= 3 points: {f.insufficient_3plus}"]
    if f.class_only:
        lines.append(f"class only (no onset/remedy label): {f.class_only} of {f.n} runs (text-log sets);"
                     " onset and remedy figures cover the others")
    if len(f.per_set) > 1:
        lines.append("per set: " + ", ".join(f"{s} {ok}/{tot} ({_pct(ok / tot)})"
                                              for s, (ok, tot) in f.per_set.items()))
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: print the figures per set and split; ``--misses`` lists every miss."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=[*SETS, "all"], default="all")
    ap.add_argument("--split", choices=["tune", "heldout", "blind", "all"], default="all")
    ap.add_argument("--misses", action="store_true", help="list every misclassified run")
    ap.add_argument("--json", type=Path, help="write the figures as JSON here")
    a = ap.parse_args(argv)
    sets = list(SETS) if a.set == "all" else [a.set]
    for s in list(sets):
        labels, root = SETS[s]
        if not label_files(s) or not root.is_dir():
            missing = labels if not label_files(s) else root
            print(f"accuracy.py: set {s!r} skipped: {missing} not found"
                  + (" (the public real runs live in ../shared/real_runs beside the repository)"
                     if s == "real" else ""), file=sys.stderr)
            sets.remove(s)
    if not sets:
        return 2
    splits = ["tune", "heldout", "blind"] if a.split == "all" else [a.split]
    out = {}
    for split in splits:
        cases = []
        for s in sets:
            cases += diagnose_cases(load_cases(s, split))
        if not cases:
            continue
        f = score(cases)
        print(render(f"{'+'.join(sets)} / {split}", f))
        if a.misses:
            print("\n".join("  miss: " + m for m in f.misses) + "\n")
        out[split] = asdict(f)
        cal = calibration(cases)
        print(render_calibration(f"{'+'.join(sets)} / {split}", cal))
        out[split]["calibration"] = asdict(cal)
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

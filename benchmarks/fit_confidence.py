"""Fit the confidence calibration on the *tune* split and write ``losscheck/analysis/confidence_fit.py``.

Usage::

    python benchmarks/fit_confidence.py            # fit, write the coefficients, print the report
    python benchmarks/fit_confidence.py --dry-run  # fit and print only

Nothing here reads a ``heldout`` or ``blind`` row: every number below comes from the ``tune``
split of the sets in ``benchmarks/accuracy.py`` (corpus, samples, real, text_logs,
text_logs_blind; ``split == "tune"`` only). The model itself is documented in
:mod:`losscheck.analysis.confidence`.

Procedure:

1. **Collect.** Every tune run is diagnosed in this process with the default configuration; its
   :class:`RunAnalysis` is captured to compute its
   :class:`~losscheck.analysis.confidence.Features`; the verdict is *right* when the primary class
   equals the label. Each run gets a **source group** (:func:`source_group`), the coarsest one
   its records allow: a corpus run's fault family (all seeds, architectures and formats of one
   injected fault are one group); all hand-made sample runs one group; a public log its GitHub
   repository *name* (lower-cased, owner dropped, so forks and issue threads of one project are
   one group), read from the set's ``SOURCES*.md`` table.
2. **Model.** ``z = b + b_class + w . x`` is fitted by minimising the cross-entropy against
   Platt's smoothed targets (Platt 1999, "Probabilistic outputs for support vector machines",
   sec. 2.2: ``(N+ + 1)/(N+ + 2)`` for right verdicts, ``1/(N- + 2)`` for wrong ones) plus
   ``lambda/2 * (|w|^2 + |b_class|^2)`` (intercept not penalised), under the sign constraints of
   :data:`losscheck.analysis.confidence.SIGNS`; convex, minimised by projected gradient descent
   with step ``1/L`` from zero (:func:`fit`): deterministic, no random seed.
3. **Out-of-source predictions.** Leave-one-group-out cross-validation inside tune: for each
   source group, the model is fitted on all other groups and predicts the held-back group's
   runs. A run's out-of-source logit therefore never saw its own source, as a held-out run
   never does (grouped cross-validation: Hastie, Tibshirani & Friedman, "The Elements of
   Statistical Learning", 2nd ed., sec. 7.10, on keeping dependent rows on one side).
4. **Choose lambda** from :data:`LAMBDA_GRID` by the mean out-of-source log-loss (hard 0/1
   targets); a tie (within :data:`TIE`) goes to the larger lambda (the simpler model).
5. **Post-hoc calibration map** ``z' = scale * z + shift`` on the out-of-source logits of the
   chosen lambda, one of: ``identity``; ``temperature`` (``shift = 0``, ``scale = 1/T``; Guo et
   al. 2017, "On calibration of modern neural networks", sec. 4.2); ``platt`` (both; Platt
   1999). Each is fitted by maximum likelihood on Platt's smoothed targets with ``scale >= 0``
   (so the confidence stays monotone in the evidence). The map is chosen by a *nested*
   leave-one-group-out log-loss: the map evaluated on a group is fitted on the other groups'
   out-of-source logits only. Ties (within :data:`TIE`) go to the map with fewer parameters.
6. **Ship** the chosen-lambda fit on *all* tune runs plus the chosen map fitted on *all*
   out-of-source logits; the coefficients are written, rounded to 4 decimals, as a Python
   module (so the package needs no data file). The script prints the reliability table and
   expected calibration error (ECE; Naeini et al. 2015; Guo et al. 2017 eq. 3) of the tune
   runs in-sample, out-of-source without the map, and out-of-source with the nested map (the
   honest estimate inside tune).

What this cannot fix: the *detectors* were tuned on these same runs, so the verdicts are more
often right on tune than on new sources; the cross-validation re-fits only the confidence model,
not the detectors' thresholds, so the out-of-source estimate still inherits that optimism.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

#: the L2 penalties tried on the weights and class offsets (step 4); every feature is in [0, 1]
LAMBDA_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
#: log-loss differences below this count as ties (steps 4 and 5)
TIE = 1e-3
#: the calibration maps tried (step 5), simplest first
MAPS = ("identity", "temperature", "platt")
#: projected-gradient steps at most (the descent stops earlier once no coefficient moves)
ITERATIONS = 20000
OUT = REPO / "losscheck" / "analysis" / "confidence_fit.py"


def _repo_name(cell: str) -> str | None:
    """The repository name (lower case, owner dropped, only letters and digits) in a SOURCES cell."""
    m = (re.search(r"github\.com/[\w.-]+/([\w.-]+)", cell)
         or re.search(r"[\w.-]+/([\w.-]+?)(?:#\d+|\s|`|\]|$)", cell.strip()))
    return re.sub(r"[^a-z0-9]", "", m.group(1).lower()) if m else None


def source_table(root: Path) -> dict[str, str]:
    """run id -> repository name, from the ``SOURCES*.md`` tables under ``root`` (first column the
    id, second the repository or thread). Rows without a repository are left out."""
    out: dict[str, str] = {}
    for f in sorted(root.glob("SOURCES*.md")):
        for line in f.read_text(encoding="utf-8").splitlines():
            m = re.match(r"\|\s*([\w.-]+)\s*\|([^|]*)\|", line)
            if m and m.group(1) not in out:
                name = _repo_name(m.group(2))
                if name:
                    out[m.group(1)] = name
    return out


def source_group(set_name: str, run: str, fault: str | None, sources: dict[str, str]) -> str:
    """The source group of a tune run (module doc, step 1).

    Args:
        set_name: the benchmark set (``corpus``, ``samples``, ``real``, ``text_logs``...).
        run: the run's folder name.
        fault: the corpus label's ``fault`` column (``None`` outside the corpus).
        sources: run id -> repository name (:func:`source_table`).
    Returns:
        ``corpus:<fault>``, ``samples``, ``repo:<name>``, or ``run:<set>/<run>`` when no source is
        recorded (a group of one run, the finest grouping)."""
    if set_name == "corpus":
        return f"corpus:{fault or run}"
    if set_name == "samples":
        return "samples"
    name = sources.get(run)
    return f"repo:{name}" if name else f"run:{set_name}/{run}"


def _faults() -> dict[str, str]:
    import csv

    import accuracy
    labels, _ = accuracy.SETS["corpus"]
    if not labels.is_file():
        return {}
    with open(labels, newline="", encoding="utf-8") as fh:
        return {r["run"]: r.get("fault", "") for r in csv.DictReader(fh)}


def collect(split: str = "tune") -> list[tuple[str, tuple[float, ...], bool, str, str]]:
    """(primary class, feature vector, right?, run, source group) for every labelled run of ``split``.

    The analysis is captured by wrapping :func:`losscheck.analysis.analyse` for the duration of
    each diagnosis (the pipeline imports it from the package at call time)."""
    import accuracy

    import losscheck.analysis as la
    from losscheck.analysis.confidence import features
    from losscheck.errors import LosscheckError
    from losscheck.pipeline import Options, diagnose

    seen: list = []
    orig = la.analyse

    def capture(*args, **kwargs):
        out = orig(*args, **kwargs)
        seen.append(out)
        return out

    faults = _faults()
    rows = []
    la.analyse = capture  # type: ignore[assignment]
    try:
        for name in accuracy.SETS:
            cases = accuracy.load_cases(name, split)
            if not cases:
                continue
            sources = source_table(accuracy.SETS[name][1])
            for c in cases:
                seen.clear()
                try:
                    rep = diagnose(c.run, Options())
                except LosscheckError:
                    continue
                if not rep.runs or not seen:
                    continue
                a = seen[0]
                run = Path(c.run).name
                rows.append((a.primary, features(a).vector(), a.primary == c.label, f"{name}:{run}",
                             source_group(name, run, faults.get(run), sources)))
    finally:
        la.analyse = orig  # type: ignore[assignment]
    return rows


def _targets(right: np.ndarray) -> np.ndarray:
    """Platt's smoothed targets (module doc, step 2)."""
    n_pos, n_neg = int(right.sum()), int((~right).sum())
    return np.where(right, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))


def fit(classes: list[str], x: np.ndarray, right: np.ndarray, signs: tuple[int, ...],
        lam: float = 1.0, iterations: int = ITERATIONS, rounded: bool = True) -> dict:
    """Fit the constrained, penalised logistic model (module doc, step 2).

    Args:
        classes: primary class per row, length n.
        x: features, shape (n, k), values in [0, 1].
        right: bool, shape (n,).
        signs: +1 / -1 per feature (the weight's allowed sign).
        lam: the L2 penalty on the weights and class offsets.
        iterations: projected-gradient steps at most.
        rounded: round the coefficients to 4 decimals (as written); the cross-validation keeps
            them unrounded.
    Returns:
        ``{"intercept", "weights": {name: w}, "class_offset": {class: b}}`` with weights in
        :data:`~losscheck.analysis.confidence.FEATURES` order. Raises ValueError on empty input.
    """
    from losscheck.analysis.confidence import FEATURES

    n, k = x.shape
    if n == 0:
        raise ValueError("no rows to fit")
    names = sorted(set(classes))
    onehot = np.array([[c == m for m in names] for c in classes], dtype=float)
    design = np.hstack([np.ones((n, 1)), x, onehot])
    t = _targets(right)
    pen = np.r_[0.0, np.full(k, lam), np.full(len(names), lam)]
    lip = 0.25 * float(np.linalg.norm(design, 2) ** 2) / n + lam
    theta = np.zeros(design.shape[1])
    sg = np.asarray(signs, dtype=float)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (p - t) / n + pen * theta / n
        new = theta - grad / lip
        w = new[1:1 + k]
        new[1:1 + k] = np.where(w * sg < 0, 0.0, w)  # project onto the sign constraints
        done = float(np.max(np.abs(new - theta))) < 1e-10
        theta = new
        if done:
            break
    r = (lambda v: round(float(v), 4)) if rounded else float
    return {"intercept": r(theta[0]),
            "weights": {f: r(v) for f, v in zip(FEATURES, theta[1:1 + k])},
            "class_offset": {m: r(v) for m, v in zip(names, theta[1 + k:])}}


def logits(coef: dict, classes: list[str], x: np.ndarray) -> np.ndarray:
    """``b + b_class + w . x`` per row (a class the fit never saw has offset 0), shape (n,)."""
    from losscheck.analysis.confidence import FEATURES

    w = np.array([coef["weights"].get(f, 0.0) for f in FEATURES])
    off = np.array([coef["class_offset"].get(c, 0.0) for c in classes])
    return coef["intercept"] + off + x @ w


def out_of_source(classes: list[str], x: np.ndarray, right: np.ndarray, groups: list[str],
                  signs: tuple[int, ...], lam: float) -> np.ndarray:
    """Leave-one-group-out logits (module doc, step 3), shape (n,): row i's logit comes from a
    fit on the rows of every other group. Raises ValueError with fewer than 2 groups."""
    g = np.array(groups)
    uniq = sorted(set(groups))
    if len(uniq) < 2:
        raise ValueError("cross-validation needs at least 2 source groups")
    z = np.zeros(len(classes))
    cls = np.array(classes)
    for grp in uniq:
        out = g == grp
        coef = fit(list(cls[~out]), x[~out], right[~out], signs, lam, rounded=False)
        z[out] = logits(coef, list(cls[out]), x[out])
    return z


def log_loss(z: np.ndarray, right: np.ndarray) -> float:
    """Mean negative log-likelihood of 0/1 outcomes under ``sigmoid(z)`` (nats per run)."""
    s = np.where(right, 1.0, -1.0)
    return float(np.mean(np.logaddexp(0.0, -s * z)))


def fit_map(kind: str, z: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """``(scale, shift)`` of the calibration map ``kind`` (module doc, step 5) fitted by maximum
    likelihood on Platt's smoothed targets, ``scale >= 0``. Raises ValueError on an unknown kind."""
    from scipy.optimize import minimize

    if kind == "identity":
        return 1.0, 0.0
    if kind not in MAPS:
        raise ValueError(f"unknown calibration map {kind!r}")
    t = _targets(right)

    def nll(v: np.ndarray) -> float:
        a, c = v[0], (v[1] if kind == "platt" else 0.0)
        u = a * z + c
        return float(np.mean(t * np.logaddexp(0.0, -u) + (1 - t) * np.logaddexp(0.0, u)))

    x0 = np.array([1.0, 0.0]) if kind == "platt" else np.array([1.0])
    bounds = [(0.0, None), (None, None)] if kind == "platt" else [(0.0, None)]
    res = minimize(nll, x0, method="L-BFGS-B", bounds=bounds)
    return float(res.x[0]), float(res.x[1]) if kind == "platt" else 0.0


def nested_map_logits(kind: str, z: np.ndarray, right: np.ndarray, groups: list[str]) -> np.ndarray:
    """The out-of-source logits ``z`` passed through map ``kind`` fitted, for each group, on the
    other groups' rows only (module doc, step 5), shape (n,)."""
    g = np.array(groups)
    out = np.zeros_like(z)
    for grp in sorted(set(groups)):
        m = g == grp
        a, c = fit_map(kind, z[~m], right[~m])
        out[m] = a * z[m] + c
    return out


def reliability(title: str, p: np.ndarray, right: np.ndarray) -> str:
    """The reliability table and ECE of probabilities ``p`` (rounded as shipped), through
    ``benchmarks/accuracy.py``'s :func:`calibration` so the figures are comparable."""
    import accuracy

    cases = [accuracy.Case("tune", str(i), "tune", "r", None, None, predicted="r" if ok else "w",
                           confidence=round(float(q), 3)) for i, (q, ok) in enumerate(zip(p, right))]
    return accuracy.render_calibration(title, accuracy.calibration(cases))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


def write(coef: dict, n: int, n_right: int, n_groups: int, lam: float, kind: str, report: str) -> None:
    """Write the coefficients as ``losscheck/analysis/confidence_fit.py``."""
    import pprint
    text = (f'"""The fitted coefficients of :func:`losscheck.analysis.confidence.calibrate`.\n\n'
            f"Generated by ``benchmarks/fit_confidence.py`` (do not edit by hand; re-run the script) on the\n"
            f"tune split: {n} labelled runs in {n_groups} source groups, {n_right} with the right primary class.\n"
            f"lambda = {lam} and the {kind!r} calibration map, both chosen by leave-one-source-group-out\n"
            f"cross-validation inside tune. {report}\n"
            f'"""\n\nCOEFFICIENTS: dict = {pprint.pformat(coef, sort_dicts=False, width=100)}\n')
    OUT.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command line (module doc)."""
    from losscheck.analysis.confidence import FEATURES, SIGNS, Features, calibrate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print the fit, do not write it")
    ap.add_argument("--rows", action="store_true", help="also print every tune run's features")
    a = ap.parse_args(argv)
    rows = collect("tune")
    if not rows:
        print("fit_confidence.py: no tune rows found", file=sys.stderr)
        return 2
    classes = [r[0] for r in rows]
    x = np.array([r[1] for r in rows], dtype=float)
    right = np.array([r[2] for r in rows], dtype=bool)
    groups = [r[4] for r in rows]
    n_groups = len(set(groups))
    print(f"tune rows: {len(rows)}, right: {int(right.sum())}, source groups: {n_groups}")
    sizes: dict[str, int] = {}
    for grp in groups:
        sizes[grp] = sizes.get(grp, 0) + 1
    print("largest groups:", ", ".join(f"{k} {v}" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:8]))

    # step 4: lambda by out-of-source log-loss
    oos = {}
    for lam in LAMBDA_GRID:
        oos[lam] = out_of_source(classes, x, right, groups, SIGNS, lam)
        print(f"lambda {lam:>5}: out-of-source log-loss {log_loss(oos[lam], right):.4f}")
    best = min(log_loss(z, right) for z in oos.values())
    lam = max(v for v, z in oos.items() if log_loss(z, right) <= best + TIE)
    z = oos[lam]
    print(f"chosen lambda: {lam}")

    # step 5: the calibration map by nested out-of-source log-loss
    nested = {k: nested_map_logits(k, z, right, groups) for k in MAPS}
    for k in MAPS:
        print(f"map {k:<11}: nested out-of-source log-loss {log_loss(nested[k], right):.4f}")
    best = min(log_loss(v, right) for v in nested.values())
    kind = next(k for k in MAPS if log_loss(nested[k], right) <= best + TIE)
    scale, shift = fit_map(kind, z, right)
    print(f"chosen map: {kind} (scale {scale:.4f}, shift {shift:.4f})")

    # step 6: ship the full-tune fit + the map
    coef = fit(classes, x, right, SIGNS, lam)
    coef["calibration"] = {"scale": round(scale, 4), "shift": round(shift, 4)}
    print("coefficients:", coef)
    shipped = np.array([calibrate(c, Features(*v), coef) for c, v in zip(classes, x)])
    print()
    print(reliability("tune, in-sample (shipped model)", shipped, right))
    print(reliability(f"tune, out-of-source (lambda {lam}, no map)", _sigmoid(z), right))
    print(reliability(f"tune, out-of-source (lambda {lam}, nested {kind} map)", _sigmoid(nested[kind]), right))
    if a.rows:
        for r, p in zip(rows, shipped):
            print(f"  {p:.3f} {'ok ' if r[2] else 'BAD'} {r[0]:<12} "
                  + " ".join(f"{n}={v:.2f}" for n, v in zip(FEATURES, r[1])) + f"  {r[3]}  [{r[4]}]")
    if not a.dry_run:
        import accuracy
        cal = accuracy.calibration([accuracy.Case("t", str(i), "tune", "r", None, None,
                                                  predicted="r" if ok else "w", confidence=round(float(q), 3))
                                    for i, (q, ok) in enumerate(zip(_sigmoid(nested[kind]), right))])
        report = (f"Out-of-source (nested) expected calibration error on tune:\n{cal.ece:.3f}.")
        write(coef, len(rows), int(right.sum()), n_groups, lam, kind, report)
        print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fit the confidence calibration on the *tune* split and write ``losscheck/analysis/confidence_fit.py``.

Usage::

    python benchmarks/fit_confidence.py            # fit, write the coefficients, print the tune fit
    python benchmarks/fit_confidence.py --dry-run  # fit and print only

Procedure (the model is documented in :mod:`losscheck.analysis.confidence`):

1. Every labelled run of the ``tune`` split of the sets in ``benchmarks/accuracy.py`` (corpus,
   samples, real -- ``split == "tune"`` rows only; held-out rows are never read) is diagnosed
   in this process with the default configuration; the run's :class:`RunAnalysis` is captured
   to compute its :class:`~losscheck.analysis.confidence.Features`, and the verdict is *right*
   when the primary class equals the label.
2. A logistic model ``p = sigmoid(b + b_class + w . x)`` is fitted by minimising the
   cross-entropy against Platt's smoothed targets (Platt 1999, sec. 2.2: ``(N+ + 1)/(N+ + 2)``
   for right verdicts, ``1/(N- + 2)`` for wrong ones) plus ``LAMBDA/2 * (|w|^2 + |b_class|^2)``
   (the intercept is not penalised), under the sign constraints of
   :data:`losscheck.analysis.confidence.SIGNS`. The objective is convex; it is minimised by
   projected gradient descent with step ``1/L`` (``L`` the gradient's Lipschitz bound) for
   :data:`ITERATIONS` steps from zero: deterministic, no random seed involved.
3. The coefficients are written, rounded to 4 decimals, as a Python module (so the package
   needs no data file).

``LAMBDA`` = 1.0 is the usual unit ridge prior on standardised-scale inputs (every feature is in
[0, 1]); it was not searched (a search would need a third split the benchmark does not have).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

#: the L2 penalty on the weights and class offsets
LAMBDA = 1.0
#: projected-gradient steps
ITERATIONS = 20000
OUT = REPO / "losscheck" / "analysis" / "confidence_fit.py"


def collect(split: str = "tune") -> list[tuple[str, tuple[float, ...], bool, str]]:
    """(primary class, feature vector, right?, run) for every labelled run of ``split``.

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

    rows = []
    la.analyse = capture  # type: ignore[assignment]
    try:
        for name in accuracy.SETS:
            for c in accuracy.load_cases(name, split):
                seen.clear()
                try:
                    rep = diagnose(c.run, Options())
                except LosscheckError:
                    continue
                if not rep.runs or not seen:
                    continue
                a = seen[0]
                rows.append((a.primary, features(a).vector(), a.primary == c.label, f"{name}:{Path(c.run).name}"))
    finally:
        la.analyse = orig  # type: ignore[assignment]
    return rows


def fit(classes: list[str], x: np.ndarray, right: np.ndarray, signs: tuple[int, ...],
        lam: float = LAMBDA, iterations: int = ITERATIONS) -> dict:
    """Fit the constrained, penalised logistic model (module doc, step 2).

    Args:
        classes: primary class per row, length n.
        x: features, shape (n, k), values in [0, 1].
        right: bool, shape (n,).
        signs: +1 / -1 per feature (the weight's allowed sign).
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
    n_pos, n_neg = int(right.sum()), int((~right).sum())
    t = np.where(right, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    pen = np.r_[0.0, np.full(k, lam), np.full(len(names), lam)]
    lip = 0.25 * float(np.linalg.norm(design, 2) ** 2) / n + lam
    theta = np.zeros(design.shape[1])
    sg = np.asarray(signs, dtype=float)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (p - t) / n + pen * theta / n
        theta = theta - grad / lip
        w = theta[1:1 + k]
        theta[1:1 + k] = np.where(w * sg < 0, 0.0, w)  # project onto the sign constraints
    return {"intercept": round(float(theta[0]), 4),
            "weights": {f: round(float(v), 4) for f, v in zip(FEATURES, theta[1:1 + k])},
            "class_offset": {m: round(float(v), 4) for m, v in zip(names, theta[1 + k:])}}


def write(coef: dict, n: int, n_right: int) -> None:
    """Write the coefficients as ``losscheck/analysis/confidence_fit.py``."""
    import pprint
    text = (f'"""The fitted coefficients of :func:`losscheck.analysis.confidence.calibrate`.\n\n'
            f"Generated by ``benchmarks/fit_confidence.py`` (do not edit by hand; re-run the script) on the\n"
            f"tune split: {n} labelled runs, {n_right} with the right primary class. LAMBDA = {LAMBDA}.\n"
            f'"""\n\nCOEFFICIENTS: dict = {pprint.pformat(coef, sort_dicts=False, width=100)}\n')
    OUT.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command line (module doc)."""
    from losscheck.analysis.confidence import FEATURES, SIGNS, calibrate, Features

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print the fit, do not write it")
    a = ap.parse_args(argv)
    rows = collect("tune")
    if not rows:
        print("fit_confidence.py: no tune rows found", file=sys.stderr)
        return 2
    classes = [r[0] for r in rows]
    x = np.array([r[1] for r in rows], dtype=float)
    right = np.array([r[2] for r in rows], dtype=bool)
    coef = fit(classes, x, right, SIGNS)
    print(f"tune rows: {len(rows)}, right: {int(right.sum())}")
    print("coefficients:", coef)
    for r in rows:
        p = calibrate(r[0], Features(*r[1]), coef)
        print(f"  {p:.3f} {'ok ' if r[2] else 'BAD'} {r[0]:<12} "
              + " ".join(f"{n}={v:.2f}" for n, v in zip(FEATURES, r[1])) + f"  {r[3]}")
    if not a.dry_run:
        write(coef, len(rows), int(right.sum()))
        print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

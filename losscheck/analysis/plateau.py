"""Plateau: the model is not learning.

Two shapes count (and only these -- a loss that fell to a floor and then stays flat is a
*converged* run, not a plateau):

1. **flat from the start**: no material, significant decrease over the whole run. The
   start level (median of the first 3 % of bins, at least 3) and the end level (median of the last
   20 %) are compared on the log scale; the run has learned when the decrease is at least
   ``min_decrease`` (ln 1.05: 5 %, a practical-significance floor) *and* at least
   ``z_sig`` (3) standard errors of that difference (medians' SE = 1.2533 sigma/sqrt(k),
   sigma the robust point-to-point noise; Hampel 1974), or when the Theil-Sen decrease
   (Theil 1950; Sen 1968) is >= 5 % with its 95 % confidence interval above zero.
2. **flat at the chance level** ``ln C``: the cross-entropy of a uniform guess over C
   classes (Goodfellow, Bengio & Courville 2016, sec. 6.2.2; the "check the loss at
   init" sanity check, Karpathy 2019 "A recipe for training neural networks"). With C
   given (``num_classes``), the end level is within ``tol`` of ln C and the last quarter is
   flat; otherwise C is *evident* when both the start and the end level are within
   ``tol`` of ln C for C in 2..5, 10, 100, 1000, or when the last 20 % of the bins sit *on*
   ln C to 0.1 % (:func:`exact_chance`, also for tokenizer vocabularies). ``tol`` = 1 %, widened to at most 3 % by 2
   standard errors of a noisy level.

On a short curve (at most ``mk_max_points`` bins: an excerpt pasted into an issue, a few
epochs) a 5 % floor over the window is too much to ask of a healthy run caught mid-training
(a 10-point excerpt of a long run falls 1-4 % across it): there, a fall that the exact
Mann-Kendall test finds significant (one-sided ``p < mk_alpha``, :func:`losscheck.analysis.short.mann_kendall`;
Mann 1945, Kendall 1975) and of at least ``mk_min_decrease`` (Theil-Sen over the window)
also counts as learning. ``mk_alpha`` = 0.01 (stricter than the 3-7 point call's 0.05, as 8+
points give the test power) and ``mk_min_decrease`` = 1 %, the short call's floor;
``mk_max_points`` = 30, the usual small-sample boundary beyond which the 5 % rule's standard
errors are reliable.

A **fast drop to a floor** also counts as learning (issue 14, pattern 1: a plateau at the level
the run reached after learning, far below its start, is a converged run; one at chance or near
the start value is stuck). A loss that falls within its first 2-3 logged points and then stays
flat has a start median (of at least 3 bins) already on the floor, so the tests above see no
decrease. Here the first bin counts: the run has learned when the first bin sits at least
``drop_min`` above the end level on the log scale (ln 2: the floor at most half the first
loss) and ``drop_z`` (2) standard errors of that difference above it (SE = sigma *
sqrt(1 + 1.2533^2 / k_end): one point against a median of ``k_end`` bins), unless the end level
was *knocked up* from a lower level the run had reached (:func:`losscheck.analysis.evidence.knocked_up_values`
on the bins: ratio >= ``drop_knocked_ratio`` (1.5) and z >= ``drop_knocked_z`` (5); an LR far
too high, LC105's case). Only on the log scale. A chance level found as below still makes the
curve a plateau. The four thresholds were fitted on the tune split by
``benchmarks/fit_plateau_drop.py`` (grid search scored by the benchmark: tune runs with a loss
labelled plateau, 34 -> 36 right, healthy runs alarmed 3 -> 1; ties to the grid's middle).
A majority-class floor after a fast drop (the loss falling from ln 2 to the class-prior
entropy) is not told apart here: the frozen accuracy (:mod:`losscheck.analysis.classify`) is
that side channel.

An **eval loss still learning** decides against a plateau of the training loss (issue 14,
pattern 1 read from the other side; :func:`losscheck.analysis.classify._eval_still_learning`):
when the later half of the eval loss (at least ``eval_learning_min_points`` finite evals in
all) falls by the exact one-sided Mann-Kendall test at ``eval_learning_alpha`` and by at least
``eval_learning_min_fall`` (log units, median of its first third against its last third), the
model is still improving on data it does not train on, so a flat (noisy per-batch) training
loss or a frozen accuracy is not a stuck model (Prechelt 1998 reads progress from the
validation curve). Not at a chance level, not with an LR of 0. The three thresholds were
fitted on the tune split by ``benchmarks/fit_eval_learning.py`` (grid scored by the benchmark).

``rel_slope`` is the Theil-Sen slope of log-loss per 1,000 steps (= relative slope).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from losscheck.analysis._util import diff_noise, theil_sen
from losscheck.analysis.evidence import knocked_up_values
from losscheck.model import Plateau

#: Class counts tried when C is not given. Only the counts that are common in practice
#: (binary, 3-5-way choice, 10 / 100 / 1000 classes): between 6 and 9, ln C values lie within
#: ~0.1 of each other, so with a 1-3% tolerance almost any level of 1.7-2.3 would "match" one.
CHANCE_CLASSES = (2, 3, 4, 5, 10, 100, 1000)

#: Class counts and vocabulary sizes whose ln C a loss may sit *exactly* on at its end
#: (:func:`exact_chance`): the counts above plus common tokenizer vocabularies (LLaMA/Mistral
#: 32000, GPT-2 50257, LLaMA-3 128256, Qwen2 151936; issue 14, pattern 1). ln C of the
#: vocabularies lie >= 0.07 apart, far beyond the 0.1 % band.
EXACT_CHANCE_CLASSES = CHANCE_CLASSES + (32000, 50257, 128256, 151936)


def exact_chance(tail: np.ndarray, tol: float, num_classes: int | None = None) -> int | None:
    """C when the loss values ``tail`` (k,) (loss units, k >= 2) all sit within ``2 tol`` of
    ln C and their median within ``tol`` (relative), for C = ``num_classes`` when known, else
    C in :data:`EXACT_CHANCE_CLASSES`; else ``None``. A loss that has come to rest *on* ln C
    to three or four digits (6.9078 = ln 1000) predicts the uniform distribution, whatever it
    started from (a badly scaled initialisation starts above chance and falls onto it): the
    classic stuck-at-chance signature (Karpathy 2019, "A recipe for training neural
    networks": check the loss at init). ``tol`` is ``PlateauOptions.chance_exact_tol`` (0.1 %,
    ``benchmarks/fit_chance_exact.py``): the 1-3 % band of the start-and-end test would take
    healthy runs that merely pass near ln C."""
    t = np.asarray(tail, dtype=np.float64)
    if t.shape[0] < 2 or not np.all(np.isfinite(t)) or float(t.min()) <= 0:
        return None
    med = float(np.median(t))
    for c in ((num_classes,) if num_classes and num_classes >= 2 else EXACT_CHANCE_CLASSES):
        lc = float(np.log(c))
        if abs(med / lc - 1) <= tol and float(np.max(np.abs(t / lc - 1))) <= 2 * tol:
            return int(c)
    return None


@dataclass
class PlateauOptions:
    """Thresholds of :func:`detect_plateau` (sources in the module doc)."""

    min_decrease: float = float(np.log(1.05))
    z_sig: float = 3.0
    chance_tol: float = 0.01
    chance_tol_max: float = 0.03
    mk_max_points: int = 30
    mk_alpha: float = 0.01
    mk_min_decrease: float = float(np.log(1.01))
    drop_min: float = float(np.log(2.0))
    drop_z: float = 2.0
    drop_knocked_ratio: float = 1.5
    drop_knocked_z: float = 5.0
    eval_learning_min_points: int = 6
    eval_learning_alpha: float = 0.05
    eval_learning_min_fall: float = float(np.log(1.05))
    chance_exact_tol: float = 0.001


def detect_plateau(x: np.ndarray, y: np.ndarray, domain: str, inverse, num_classes: int | None = None,
                   opts: PlateauOptions | None = None) -> tuple[Plateau | None, dict]:
    """Decide whether a binned curve is a not-learning plateau.

    Args:
        x: (n,) bin steps; y: (n,) analysis-scale values (log-loss when ``domain == "log"``).
        domain: ``"log"`` or ``"asinh"``; chance levels are only checked on ``"log"``.
        inverse: maps analysis-scale values back to loss units.
        num_classes: C for the chance level ln C, when known.
    Returns:
        ``(Plateau or None, evidence)`` (evidence JSON-friendly, keyed ``plateau_*`` as the
        curve's evidence shows them). Needs >= 4 bins.
    """
    o = opts or PlateauOptions()
    n = y.shape[0]
    ev: dict = {}
    if n < 4:
        return None, ev
    k1 = max(3, int(round(0.03 * n)))
    k2 = max(2, int(round(0.2 * n)))
    y0, y1 = float(np.median(y[:k1])), float(np.median(y[-k2:]))
    sig = diff_noise(y)
    se = 1.2533 * sig * np.sqrt(1.0 / k1 + 1.0 / k2)
    dec = y0 - y1
    slope, lo, hi = theil_sen(x, y)
    span = float(x[-1] - x[0])
    ts_dec, ts_dec_lo = -slope * span, -hi * span
    learned = (dec >= o.min_decrease and dec >= o.z_sig * se) or \
              (ts_dec >= o.min_decrease and ts_dec_lo > 0 and dec >= o.min_decrease)
    # a fast drop to a floor: the first bin far above the end level, which is the lowest level
    # the run reached (not knocked up from a lower one)
    drop = float(y[0]) - y1
    drop_se = float(sig * np.sqrt(1.0 + 1.2533 ** 2 / k2))
    ku = knocked_up_values(inverse(y)) if domain == "log" else None
    knocked = ku is not None and ku[0] >= o.drop_knocked_ratio and ku[1] >= o.drop_knocked_z
    fast_drop = (domain == "log" and drop >= o.drop_min and drop >= o.drop_z * drop_se and not knocked)
    learned = learned or fast_drop
    if not learned and n <= o.mk_max_points and ts_dec >= o.mk_min_decrease:
        from losscheck.analysis.short import mann_kendall

        _, _, p_down = mann_kendall(y)
        learned = p_down < o.mk_alpha
        # learned by the short-window test only: a creep, which the classifier reads beside
        # the eval loss (a creeping train loss with an eval loss that does not improve is stuck)
        ev_mk = {"plateau_mk_p_down": p_down, "plateau_creep": learned}
    else:
        ev_mk = {}
    ev = {"plateau_decrease_log": dec, "plateau_decrease_se": float(se),
          "plateau_theil_sen_decrease_log": ts_dec, "plateau_theil_sen_decrease_low": ts_dec_lo,
          "plateau_noise_log": sig, "plateau_first_drop_log": drop, "plateau_first_drop_se": drop_se,
          **({"plateau_knocked_ratio": ku[0], "plateau_knocked_z": ku[1]} if ku is not None else {}),
          **({"plateau_fast_drop": True} if fast_drop else {}), **ev_mk}
    level_start, level_end = float(inverse(y0)), float(inverse(y1))
    if ev_mk.get("plateau_creep"):
        ev.update({"plateau_level_start": level_start, "plateau_level_end": level_end})
    chance = None
    start_idx = 0
    if domain == "log":
        tol = float(np.clip(2 * 1.2533 * sig / np.sqrt(k2), o.chance_tol, o.chance_tol_max))
        ev["plateau_chance_tol"] = tol
        if num_classes and num_classes >= 2:
            lc = np.log(num_classes)
            tail = y[-max(4, n // 4):]
            xt = x[-tail.shape[0]:]
            s2, _, _ = theil_sen(xt, tail)
            flat_tail = abs(s2 * float(xt[-1] - xt[0])) < o.min_decrease
            if abs(level_end / lc - 1) <= tol and flat_tail:
                chance = int(num_classes)
                band = np.abs(np.exp(y) / lc - 1) <= max(tol, o.chance_tol_max)
                outside = np.flatnonzero(~band)
                start_idx = int(outside[-1]) + 1 if outside.size else 0
                start_idx = min(start_idx, n - 1)
        else:
            for c in CHANCE_CLASSES:
                lc = np.log(c)
                if abs(level_start / lc - 1) <= tol and abs(level_end / lc - 1) <= tol:
                    chance = c
                    break
            if chance is None:
                chance = exact_chance(inverse(y[-k2:]), o.chance_exact_tol)
    if chance is not None:
        ev.pop("plateau_creep", None)  # at chance: a plateau whatever the creep
    if learned and chance is None:
        return None, ev
    ev.update({"plateau_level_start": level_start, "plateau_level_end": level_end})
    if chance is not None:
        ev["plateau_chance_level"] = float(np.log(chance))
    return Plateau(start_step=int(x[0]) if not learned or start_idx == 0 else int(x[start_idx]),
                   level=level_end, rel_slope=float(slope * 1000.0), from_start=not learned,
                   chance_classes=chance), ev


#: The options of :func:`detect` (the detector interface of :mod:`losscheck.analysis.prepared`).
Options = PlateauOptions


def detect(curve, opts: PlateauOptions | None = None):
    """A not-learning plateau of a prepared curve (:class:`~losscheck.analysis.prepared.PreparedCurve`):
    a :class:`~losscheck.analysis.prepared.Detection` with the :class:`~losscheck.model.Plateau`
    (or ``None``) and the ``plateau_*`` evidence; the chance level ln C is checked with the
    curve's ``num_classes`` when known."""
    from losscheck.analysis.prepared import Detection

    if not curve.binned:
        return Detection()
    fact, ev = detect_plateau(curve.tb, curve.yb, curve.tr.domain, curve.tr.inverse, curve.num_classes, opts)
    return Detection(fact, ev)

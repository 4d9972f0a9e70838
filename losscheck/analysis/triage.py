"""Sweep triage: which hyperparameters separate the failing runs of a sweep from the others,
and which few causes its failures come down to (issue 17).

Input: one compact :class:`~losscheck.model.TriageRow` per diagnosed run (:func:`triage_row`:
status, primary class, onset fraction, error codes, hyperparameters), so a streamed sweep keeps
these records, not the runs' reports. Output: a :class:`~losscheck.model.Triage`, or ``None``
when fewer than 2 runs carry hyperparameters or none varies.

The two sides compared are the **failing** runs (status ``failing``: an error finding) and the
others (``healthy`` or ``warning``: they did not fail).

Separations (:func:`find_separations`), a search for the best decision stump per
hyperparameter (one threshold, or one value; Iba & Langley 1992, "Induction of one-level
decision trees", ICML):

- numeric: every boundary between two consecutive distinct values, both directions (the high
  values fail, or the low ones); the stump with the fewest runs on the wrong side wins, ties
  broken by the lower weighted Gini impurity of the two sides (Breiman, Friedman, Olshen &
  Stone 1984, *Classification and Regression Trees*, ch. 4). It is reported when no run is on
  the wrong side (a separation), or when at most :data:`NEAR_SHARE` of the runs are
  (a near separation, ``exceptions`` named; never below 10 runs); in both cases each side
  must hold at least :data:`MIN_SIDE` runs of its own outcome (never a claim from one run).
- text and bool values: a value all of whose runs (at least :data:`MIN_SIDE`) fail, while at
  least :data:`MIN_SIDE` runs with other values do not.

Each carries ``p_value``, the chance of a split at least as clean if the outcomes were
shuffled over the runs: for a perfect threshold the exact share of outcome labellings that some
threshold separates perfectly (at most 2 of C(n, k)); for a near one a permutation estimate
(:data:`PERMUTATIONS` shuffles, fixed seed, ``(1 + hits) / (1 + shuffles)``: Phipson & Smyth
2010, "Permutation p-values should never be zero", SAGMB 9(1); a hit is a shuffle whose best
stump, side sizes unconstrained, has as few runs on the wrong side: conservative); for a value the hypergeometric
chance that its m runs all fall among the k failing, C(k, m) / C(n, m). It is per
hyperparameter, not corrected for the number tested: separations with ``p_value >`` :data:`ALPHA`
are reported as weak ("could be chance"), not dropped.

Failure groups (:func:`failure_groups`): failing runs keyed by (primary class, onset third:
early/mid/late/none, the set of error codes).

Hyperparameters that name a run rather than configure it are left out: text whose value differs
in every run (``output_dir``, ``run_name``) and names ending in ``_dir``, ``_path``, ``_file``,
``_id`` or ``run_name``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from losscheck.model import FailureGroup, RunReport, Separation, Triage, TriageRow

#: The outcome of a separation of the failing runs from the others.
FAIL = "fail"
#: Failure families, each sought apart when a sweep's failures span several (name: the verb
#: of the wording, classes): an LR too high shows as divergence or NaN (the seed case study;
#: Goodfellow et al. 2016, sec. 8.2), a stuck run as a plateau, memorising as overfitting.
FAMILIES = (("diverge or turn NaN", ("diverging", "nan")), ("stall on a plateau", ("plateau",)),
            ("overfit", ("overfitting",)), ("oscillate or spike", ("oscillating", "spiking")))
#: Fewest runs of its own outcome each side of a separation must hold.
MIN_SIDE = 2
#: Largest share of the runs that may sit on the wrong side of a near separation (10%, i.e.
#: none below 10 runs).
NEAR_SHARE = 0.10
#: A separation whose chance ``p_value`` exceeds this is reported as weak.
ALPHA = 0.05
#: Shuffles of the permutation estimate of a near separation's ``p_value``.
PERMUTATIONS = 2000
#: Example runs named per failure group.
EXAMPLES = 3
#: Runs on the wrong side of a near separation named (all are counted).
MAX_EXCEPTIONS = 20
#: Onset thirds (fraction of the run's logged span) -> bucket name.
ONSET_BUCKETS = ((1 / 3, "early"), (2 / 3, "mid"), (1.0 + 1e-9, "late"))

#: Standard meta keys (:data:`losscheck.readers._stores.META_NAMES`) that are hyperparameters,
#: added to a run's params when its configuration files do not name them already.
_META_PARAMS = ("learning_rate", "batch_size", "max_steps", "warmup_steps", "max_grad_norm", "epochs",
                "optimizer", "fp16", "bf16")
_ID_SUFFIXES = ("_dir", "_path", "_file", "_id", "run_name")


def run_params(meta: dict, lr_peak: float | None = None) -> dict[str, Any]:
    """The hyperparameters the triage compares for one run.

    Args:
        meta: the run's ``RunData.meta``: its ``hparams`` (configuration files) first, then
            the standard keys (``learning_rate``, ``batch_size``...) that no hparams name
            already spells (any alias in :data:`losscheck.readers._stores.META_NAMES`).
        lr_peak: the peak of the logged learning rate (``RunAnalysis.lr.peak``), added as
            ``logged_peak_lr`` when no learning rate is configured.
    Returns:
        ``{name: value}`` (bool, int, float or str).
    """
    from losscheck.readers._stores import META_NAMES

    out: dict[str, Any] = dict(meta.get("hparams") or {})
    shorts = {str(k).replace(".", "/").rsplit("/", 1)[-1].lower() for k in out}
    for key in _META_PARAMS:
        if key not in meta or key in out:
            continue
        aliases = {name for name, std, _ in META_NAMES if std == key} | {key}
        if not aliases & shorts:
            out[key] = meta[key]
    if lr_peak is not None and math.isfinite(lr_peak) and not any(
            name in shorts or name in out for name, std, _ in META_NAMES if std == "learning_rate"):
        out["logged_peak_lr"] = float(lr_peak)
    return out


def triage_row(run: RunReport) -> TriageRow:
    """The compact record of a diagnosed run (its onset as a fraction of the training loss's
    logged span, :attr:`~losscheck.model.TriageRow.onset`)."""
    onset = None
    m = run.metrics.get("loss")
    if run.onset_step is not None and m is not None and m.last_step > m.first_step:
        onset = min(1.0, max(0.0, (run.onset_step - m.first_step) / (m.last_step - m.first_step)))
    codes = sorted({f.code for f in run.findings if f.severity == "error"})
    return TriageRow(run.run, run.status, run.primary, onset, codes, dict(run.hparams))


def onset_bucket(onset: float | None) -> str:
    """``"early"``, ``"mid"`` or ``"late"`` (the third of the run the onset falls in), or
    ``"none"``."""
    if onset is None:
        return "none"
    for edge, name in ONSET_BUCKETS:
        if onset < edge:
            return name
    return "late"


def failure_groups(rows: list[TriageRow]) -> list[FailureGroup]:
    """The failing runs of ``rows`` grouped by (class, onset bucket, error codes); largest
    group first, then by class. Each group names at most :data:`EXAMPLES` runs."""
    groups: dict[tuple, list[str]] = {}
    for r in rows:
        if r.status == "failing":
            groups.setdefault((r.klass, onset_bucket(r.onset), tuple(r.codes)), []).append(r.run)
    out = [FailureGroup(k[0], k[1], list(k[2]), len(runs), sorted(runs)[:EXAMPLES]) for k, runs in groups.items()]
    out.sort(key=lambda g: (-g.count, g.klass, g.onset, g.codes))
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _varying(rows: list[TriageRow]) -> list[str]:
    """Params with at least 2 distinct values among the runs holding them, identifiers left out."""
    values: dict[str, list] = {}
    for r in rows:
        for k, v in r.params.items():
            values.setdefault(k, []).append(v)
    out = []
    for k, vs in values.items():
        distinct = set(vs)
        if len(distinct) < 2:
            continue
        if str(k).lower().endswith(_ID_SUFFIXES):
            continue
        if all(isinstance(v, str) for v in vs) and len(distinct) == len(vs) and len(vs) >= 3:
            continue  # text that names each run (output_dir, run_name)
        out.append(k)
    return sorted(out)


def _gini(fail: int, n: int) -> float:
    if n == 0:
        return 0.0
    p = fail / n
    return 2.0 * p * (1.0 - p)


def _min_errors(vals: np.ndarray, fails: np.ndarray) -> np.ndarray:
    """Fewest runs on the wrong side of any threshold stump, per labelling.

    Args:
        vals: the values sorted ascending, shape ``(n,)``.
        fails: 0/1 labellings (1 = failing), shape ``(P, n)``, columns in ``vals`` order.
    Returns:
        ``(P,)`` ints.
    """
    n = vals.shape[0]
    # boundaries only between distinct values: index i splits [:i] | [i:]
    cut = np.flatnonzero(vals[1:] != vals[:-1]) + 1
    cum = np.cumsum(fails, axis=1)
    total = cum[:, -1:]
    left_fail = cum[:, cut - 1]
    left_n = cut[None, :]
    right_fail = total - left_fail
    right_n = n - left_n
    high = left_fail + (right_n - right_fail)  # the high values fail
    low = right_fail + (left_n - left_fail)  # the low values fail
    return np.minimum(high.min(axis=1), low.min(axis=1))


def _failing(r: TriageRow) -> bool:
    return r.status == "failing"


def _numeric(name: str, pairs: list[tuple[float, TriageRow]], missing: int, hit=_failing,
             outcome: str = FAIL) -> Separation | None:
    pairs = sorted(pairs, key=lambda p: (p[0], p[1].run))
    vals = np.array([p[0] for p in pairs], dtype=np.float64)
    fails = np.array([hit(p[1]) for p in pairs], dtype=np.int64)
    n, k = len(pairs), int(fails.sum())
    if k < MIN_SIDE or n - k < MIN_SIDE:
        return None
    cut = np.flatnonzero(vals[1:] != vals[:-1]) + 1
    if cut.size == 0:
        return None
    best = None
    cum = np.cumsum(fails)
    for i in cut.tolist():
        lf, ln = int(cum[i - 1]), i
        rf, rn = k - lf, n - i
        for side in ("above", "below"):
            if side == "above":
                errors, own_fail, own_pass = lf + (rn - rf), rf, ln - lf
            else:
                errors, own_fail, own_pass = rf + (ln - lf), lf, rn - rf
            if own_fail < MIN_SIDE or own_pass < MIN_SIDE:
                continue
            gini = (ln * _gini(lf, ln) + rn * _gini(rf, rn)) / n
            key = (errors, gini, side != "above", i)
            if best is None or key < best[0]:
                best = (key, i, side)
    if best is None:
        return None
    (errors, _, _, _), i, side = best
    if errors > int(NEAR_SHARE * n):
        return None
    if errors == 0:
        p = _perfect_chance(vals, k)
    else:
        p = _permutation_p(vals, fails, errors)
    lo_v, hi_v = pairs[i - 1][0], pairs[i][0]
    low, high = [r for _, r in pairs[:i]], [r for _, r in pairs[i:]]
    fail_rows, pass_rows = (high, low) if side == "above" else (low, high)
    fail_b, pass_b = (hi_v, lo_v) if side == "above" else (lo_v, hi_v)
    return _separation(name, "threshold", side, fail_b, pass_b, fail_rows, pass_rows, p, missing, hit, outcome)


#: Most matrix cells (shuffles x runs) held at once by the permutation estimate.
_PERM_CELLS = 2_000_000


def _permutation_p(vals: np.ndarray, fails: np.ndarray, errors: int) -> float:
    """``(1 + hits) / (1 + PERMUTATIONS)``: a hit is a shuffle of ``fails`` whose best stump
    has at most ``errors`` runs on the wrong side (fixed seed; shuffles made in chunks of at most
    :data:`_PERM_CELLS` cells, so memory stays bounded whatever the sweep's size)."""
    rng = np.random.default_rng(0)
    n = fails.shape[0]
    chunk = max(1, min(PERMUTATIONS, _PERM_CELLS // max(n, 1)))
    hits, done = 0, 0
    while done < PERMUTATIONS:
        m = min(chunk, PERMUTATIONS - done)
        perms = rng.permuted(np.broadcast_to(fails, (m, n)), axis=1)
        hits += int((_min_errors(vals, perms) <= errors).sum())
        done += m
    return float((1 + hits) / (1 + PERMUTATIONS))


def _perfect_chance(vals: np.ndarray, k: int) -> float:
    """The share of the C(n, k) ways to pick k failing runs that some threshold separates
    perfectly: the k highest or the k lowest values, when a boundary between distinct values
    falls there (ties kept together)."""
    n = vals.shape[0]
    ok = 0
    if k < n and vals[n - k - 1] != vals[n - k]:
        ok += 1  # the k highest
    if k < n and vals[k - 1] != vals[k]:
        ok += 1  # the k lowest (never the same set as the k highest: 0 < k < n)
    return ok / math.comb(n, k)


def _categorical(name: str, pairs: list[tuple[Any, TriageRow]], missing: int, hit=_failing,
                 outcome: str = FAIL) -> list[Separation]:
    n = len(pairs)
    k = sum(hit(r) for _, r in pairs)
    by_value: dict[Any, list[TriageRow]] = {}
    for v, r in pairs:
        by_value.setdefault(v, []).append(r)
    passing = n - k
    out = []
    for v, runs in sorted(by_value.items(), key=lambda kv: str(kv[0])):
        m = len(runs)
        if m < MIN_SIDE or not all(hit(r) for r in runs) or passing < MIN_SIDE:
            continue  # (the value's runs all fail, so every passing run has another value)
        others = [r for w, r in pairs if w != v]
        p = math.comb(k, m) / math.comb(n, m)
        out.append(_separation(name, "value", "equal", v, None, runs, others, p, missing, hit, outcome))
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _classes(rows: list[TriageRow]) -> dict[str, int]:
    return dict(Counter(r.klass for r in rows).most_common())


def _classes_text(c: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in c.items())


def _separation(name: str, kind: str, side: str, fail_b: Any, pass_b: Any, fail_rows: list[TriageRow],
                pass_rows: list[TriageRow], p: float, missing: int, hit=_failing,
                outcome: str = FAIL) -> Separation:
    ff = sum(hit(r) for r in fail_rows)
    pp = sum(not hit(r) for r in pass_rows)
    wrong = sorted([r.run for r in fail_rows if not hit(r)] + [r.run for r in pass_rows if hit(r)])
    exceptions = wrong[:MAX_EXCEPTIONS]
    fc, pc = _classes(fail_rows), _classes(pass_rows)
    strong = p <= ALPHA
    nf, np_ = len(fail_rows), len(pass_rows)
    verb = "fail" if outcome == FAIL else outcome
    if kind == "threshold":
        op_f, op_p = (">=", "<=") if side == "above" else ("<=", ">=")
        fail_cond, pass_cond = f"{name} {op_f} {_fmt(fail_b)}", f"{name} {op_p} {_fmt(pass_b)}"
        lead_f = f"all {nf} runs" if ff == nf else f"{ff} of {nf} runs"
        if outcome == FAIL:
            lead_p = f"all {np_}" if pp == np_ else f"{pp} of {np_}"
            text = (f"{lead_f} with {fail_cond} fail ({_classes_text(fc)}); {lead_p} with {pass_cond} do not fail "
                    f"({_classes_text(pc)}): the stable range is {pass_cond}")
        else:
            lead_p = f"none of the {np_}" if pp == np_ else f"{np_ - pp} of the {np_}"
            text = (f"{lead_f} with {fail_cond} {verb} ({_classes_text(fc)}); {lead_p} with {pass_cond} "
                    f"{'does' if pp == np_ else 'do'} ({_classes_text(pc)}): the range safe from this failure is "
                    f"{pass_cond}")
    else:
        fail_cond = f"{name} = {_fmt(fail_b)}"
        text = (f"all {nf} runs with {fail_cond} {verb} ({_classes_text(fc)}); "
                f"{np_ - pp} of the {np_} runs with other values {verb}")
    if wrong:
        text += f"; nearly: {len(wrong)} run(s) on the wrong side"
    text += f" (chance p = {p:.2g}{'' if strong else ': weak evidence, could be chance'})"
    if missing:
        text += f"; {missing} run(s) without {name} left out"
    return Separation(name, kind, side, fail_b, pass_b, nf, ff, np_, pp, exceptions, fc, pc, float(p), strong,
                      missing, text, len(wrong), outcome)


def find_separations(rows: list[TriageRow], params: list[str], hit=_failing,
                     outcome: str = FAIL) -> list[Separation]:
    """The separations of the runs of ``rows`` for which ``hit`` holds (default: the failing
    runs) by each of ``params`` (see the module), strongest first (fewest exceptions, then
    smallest ``p_value``); ``outcome`` names what ``hit`` selects, for the wording."""
    out: list[Separation] = []
    for name in params:
        have = [(r.params[name], r) for r in rows if name in r.params]
        missing = len(rows) - len(have)
        nums = [(float(v), r) for v, r in have if _is_number(v)]
        if len(nums) == len(have):
            sep = _numeric(name, nums, missing, hit, outcome)
            if sep is not None:
                out.append(sep)
        else:
            out.extend(_categorical(name, [(v if not _is_number(v) else _fmt(v), r) for v, r in have], missing,
                                    hit, outcome))
    out.sort(key=lambda s: (s.wrong_side, s.p_value, s.param))
    return out


def cause_separations(rows: list[TriageRow], params: list[str]) -> list[Separation]:
    """Separations of one failure family at a time (:data:`FAMILIES`) from every other run,
    healthy or failing otherwise, sought when the failing runs span two families or more: a
    sweep whose high LRs diverge while two low-LR runs stall has no hyperparameter that
    separates *failing* from the rest, yet the LR separates the divergences. Each family
    needs :data:`MIN_SIDE` runs; the same stump search, p-values and wording rules apply,
    with ``outcome`` the family's name."""
    failing = [r for r in rows if r.status == "failing"]
    present = [(name, classes) for name, classes in FAMILIES
               if any(r.klass in classes for r in failing)]
    if len(present) < 2 and not (present and len(failing) > sum(r.klass in present[0][1] for r in failing)):
        return []
    out: list[Separation] = []
    for name, classes in present:
        if sum(r.klass in classes for r in failing) < MIN_SIDE:
            continue
        out.extend(find_separations(rows, params, lambda r, c=classes: r.status == "failing" and r.klass in c,
                                    name))
    out.sort(key=lambda s: (s.wrong_side, s.p_value, s.param))
    return out


def sweep_triage(rows: list[TriageRow]) -> Triage | None:
    """The triage of a sweep's runs (see the module).

    Args:
        rows: one record per diagnosed run (:func:`triage_row`), any order.
    Returns:
        A :class:`~losscheck.model.Triage`, or ``None`` when fewer than 2 runs carry
        hyperparameters or none of them varies.
    """
    with_params = sorted((r for r in rows if r.params), key=lambda r: r.run)
    if len(with_params) < 2:
        return None
    params = _varying(with_params)
    if not params:
        return None
    seps = find_separations(with_params, params)
    seps += cause_separations(with_params, params)
    lead = list(dict.fromkeys(s.param for s in seps))
    params = lead + [p for p in params if p not in lead]
    table = [TriageRow(r.run, r.status, r.klass, r.onset, list(r.codes), {k: r.params[k] for k in params
                                                                           if k in r.params})
             for r in with_params]
    if lead:
        first = lead[0]
        table.sort(key=lambda r: (first not in r.params, _sort_key(r.params.get(first)), r.run))
    failing = sum(r.status == "failing" for r in with_params)
    notes = []
    without = len(rows) - len(with_params)
    if without:
        notes.append(f"{without} run(s) without hyperparameters left out of the table and the separations")
    if not seps:
        if failing < MIN_SIDE:
            notes.append(f"no separation sought: {failing} failing run(s) (at least {MIN_SIDE} needed)")
        elif len(with_params) - failing < MIN_SIDE:
            notes.append(f"no separation sought: {len(with_params) - failing} run(s) not failing "
                         f"(at least {MIN_SIDE} needed)")
        else:
            notes.append("no hyperparameter separates the failing runs from the others")
    elif not any(x.outcome == FAIL for x in seps):
        notes.append("no hyperparameter separates all the failing runs from the others; "
                     "the separations above are of one kind of failure")
    return Triage(len(with_params), failing, without, params, table, seps, failure_groups(rows), notes)


def _sort_key(v: Any) -> tuple:
    return (0, float(v), "") if _is_number(v) else (1, 0.0, str(v))

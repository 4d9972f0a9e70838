"""Normalising and merging series: restarts, duplicated steps, several files.

Semantics follow TensorBoard's handling of restarted runs ("orphaned" data purge, see
``tensorboard/backend/event_processing/event_accumulator.py``, ``_CheckForRestartAndMaybePurge``):
when a step counter goes back to step ``s`` (a resumed run, or a job restarted from a
checkpoint), every point already seen at a step ``>= s`` is replaced by what comes after.
A step written twice in a row (two writer processes) keeps the later value. Both are
reported as :class:`~losscheck.model.ReadNote`, never done silently; the note says which
of these it looks like:

- a *restart or resume*: the counter goes back a few times (at most
  :data:`MAX_RESTARTS`) and carries on from there;
- *duplicate or interleaved writers*: the same steps are logged 2-4 times (``1,1,2,2`` or
  ``1,2,1,2``: one writer per process or rank), with many small back-steps;
- otherwise *out-of-order steps*.
"""

from __future__ import annotations

import numpy as np

from losscheck.model import ReadNote, Series

#: At most this many back-steps in one series read as restarts/resumes of one job.
MAX_RESTARTS = 3


def _fmt_steps(pairs: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a} -> {b}" for a, b in pairs)


def _describe_repeats(tag: str, st: np.ndarray, va: np.ndarray, keep: np.ndarray) -> tuple[str, str]:
    """The note text and severity for a series whose steps repeat or go back.

    ``st``: int64 steps of shape ``(n,)`` in file order; ``va``: values ``(n,)``; ``keep``:
    bool ``(n,)``, the points that survive.
    """
    n = st.shape[0]
    d = np.diff(st)
    back = np.flatnonzero(d < 0)
    same = int((d == 0).sum())
    dropped = int(n - keep.sum())
    _, counts = np.unique(st, return_counts=True)
    repeated = counts[counts > 1]
    # duplicates disagree when a dropped point's value differs from the surviving one
    kept_val = dict(zip(st[keep].tolist(), va[keep].tolist()))
    differ = 0
    for s, v in zip(st[~keep].tolist(), va[~keep].tolist()):
        w = kept_val.get(s)
        if w is None or not (v == w or (v != v and w != w)):
            differ += 1
    # runs of increasing steps between back-steps: short for interleaved writers (1,2,1,2),
    # long for a job that resumed from a checkpoint and carried on
    seg = np.diff(np.concatenate(([0], back + 1, [n])))
    interleaved = (len(repeated) > 0 and int(repeated.max()) <= 4 and len(repeated) * 2 >= len(counts)
                   and (len(back) == 0 or float(np.median(seg)) <= 4))
    head = f"{tag}: {dropped} of {n} point(s) replaced by later values at the same or earlier steps"
    agree = ("the repeated values are identical" if differ == 0 else
             f"{differ} repeated value(s) differ from the kept one")
    if interleaved:
        times = int(np.median(repeated))
        how = ", ".join(x for x in (f"{same} repeat(s) in a row" if same else "",
                                     f"{len(back)} small back-step(s)" if len(back) else "") if x)
        return (f"{head}: {len(repeated)} step(s) logged {times}x (duplicate or interleaved writers, "
                f"e.g. one per process: {how}); the later value of each step kept; {agree}",
                "info" if differ == 0 else "warning")
    parts = []
    pairs = [(int(st[i]), int(st[i + 1])) for i in back[:MAX_RESTARTS]]
    if len(back) and len(repeated) == 0:
        parts.append(f"steps out of order: the step counter went back {len(back)} time(s) (first "
                     f"{_fmt_steps(pairs)}) without repeating a step; each point followed by a smaller "
                     "step was dropped (TensorBoard semantics)")
    elif len(back) and len(back) <= MAX_RESTARTS:
        parts.append(f"the step counter went back {len(back)} time(s) ({_fmt_steps(pairs)}): a "
                     "restart or resume; the earlier points from those steps on were replaced by the later run")
    elif len(back):
        parts.append(f"the step counter went back {len(back)} time(s) (first {_fmt_steps(pairs)}): "
                     "several restarts or out-of-order steps; the later points were kept")
    if same:
        parts.append(f"{same} step(s) logged again in a row (a duplicate write or a restart; later "
                     f"value kept){'; ' + agree if differ else ''}")
    # a replaced value that differs from the kept one is data not shown: a warning, so the
    # report says it (99 different losses at one step read as one point)
    return head + ": " + "; ".join(parts or ["out-of-order steps"]), ("warning" if len(back) or differ else "info")


#: Steps are exact ``int64`` integers whose magnitude is below 2**62: int64 with one bit of
#: headroom, so that the difference or the sum of two steps (a span, a gap, ``last + 1``)
#: never overflows downstream. A finite step outside is skipped with a warning that says so
#: and names it (beyond int64 it could not even be represented).
STEP_MIN, STEP_MAX = -(2 ** 62) + 1, 2 ** 62 - 1
_EXACT = 2 ** 53  # integers beyond +-2**53 are not all exact as doubles


def exact_steps(steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps as exact integers, whatever their container.

    Args:
        steps: shape ``(n,)``: an integer array (exact), a float array, or a sequence of
            numbers in which Python/numpy ints are exact (beyond 2**53 too) and floats are
            rounded to the nearest whole step; ``None`` and NaN are no step.
    Returns:
        ``(as_float, as_int, out_of_range)``: ``float64`` (n,), the steps as doubles (NaN for
        none: for finiteness and fractional checks); ``int64`` (n,), the exact whole steps
        (0 where there is none or it is out of range); ``bool`` (n,), a finite step outside
        the step range (:data:`STEP_MIN` .. :data:`STEP_MAX`). O(n) numpy, plus a Python look at each step beyond 2**53 given as a
        float array built from a mixed sequence.
    """
    arr = steps if isinstance(steps, np.ndarray) else None
    if arr is None:
        try:
            arr = np.asarray(steps)
        except (OverflowError, ValueError, TypeError):
            arr = None
    if arr is not None and arr.dtype.kind in "iu":
        arr = arr.reshape(-1)
        big = (arr > STEP_MAX) | (arr < STEP_MIN) if arr.dtype.kind == "i" else arr > STEP_MAX
        as_int = np.where(big, 0, arr).astype(np.int64)
        return arr.astype(np.float64), as_int, big
    if arr is not None and arr.dtype.kind == "f":
        as_float = arr.astype(np.float64).reshape(-1)
        exact = None
        if not isinstance(steps, np.ndarray) and len(as_float) and not (
                -_EXACT < np.fmin.reduce(as_float) and np.fmax.reduce(as_float) < _EXACT):
            # a sequence reaching 2**53 (two reductions, no temporary, tell the common case):
            # its ints there are taken exactly
            with np.errstate(invalid="ignore"):
                far = np.flatnonzero(np.abs(as_float) >= _EXACT)
            seq = steps if isinstance(steps, (list, tuple)) else list(steps)
            exact = {int(i): int(seq[i]) for i in far.tolist() if _is_int(seq[i])}
        return _from_floats(as_float, exact)
    # an object array or a sequence numpy cannot type (None, ints beyond 2**64...): one by one
    seq = list(steps.reshape(-1) if isinstance(steps, np.ndarray) else steps)
    as_float = np.empty(len(seq), dtype=np.float64)
    exact = {}
    for i, x in enumerate(seq):
        if _is_int(x):
            exact[i] = int(x)
            as_float[i] = float(x) if -1e308 < x < 1e308 else (np.inf if x > 0 else -np.inf)
        else:
            try:
                as_float[i] = np.nan if x is None else float(x)
            except (TypeError, ValueError, OverflowError):
                as_float[i] = np.nan
    return _from_floats(as_float, exact)


def _is_int(x) -> bool:
    """A Python or numpy integer (not a bool)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _from_floats(as_float: np.ndarray, exact: dict[int, int] | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`exact_steps` from the steps as doubles, with ``exact`` (index -> int) for the
    integers that doubles would round."""
    with np.errstate(invalid="ignore"):
        fin = np.isfinite(as_float)
        # exact for doubles: 2**62 is a power of two (the range is |step| < 2**62)
        out = fin & ~(np.abs(as_float) < 2.0 ** 62)
    as_int = np.where(fin & ~out, np.rint(as_float), 0).astype(np.int64)
    for i, v in (exact or {}).items():
        if STEP_MIN <= v <= STEP_MAX:
            as_int[i], out[i] = v, False
        else:
            as_int[i], out[i] = 0, True
    return as_float, as_int, out


def normalize(tag: str, steps, values, source: str, wall_time=None, step_unit: str = "step"
              ) -> tuple[Series, list[ReadNote]]:
    """Build a :class:`Series` with strictly increasing steps from points in file order.

    Args:
        tag: metric name.
        steps: shape ``(n,)``: an integer array, a float array or a sequence of numbers
            (see :func:`exact_steps`). Integers are exact int64 end to end, beyond 2**53
            too (two distinct steps never collapse into one); fractional steps are rounded to
            the nearest integer, with a note.
        values: array-like of shape ``(n,)``; NaN/Inf kept.
        source: file path, for notes.
        wall_time: optional array-like of shape ``(n,)``, seconds.
        step_unit: ``"step"`` or ``"epoch"``.

    Returns:
        ``(series, notes)``. A point survives when every later point has a larger step
        (so later writes win), which is O(n) via a suffix minimum. Points without a finite
        step are dropped, and so are points whose step lies outside the step range
        (``|step| < 2**62``: int64 with headroom, :data:`STEP_MAX`; a warning says so and names
        the first); every drop or replacement is described in a note.
    Raises:
        ValueError: ``steps`` and ``values`` have different shapes.
    """
    st, exact_i, out = exact_steps(steps)
    va = np.asarray(values, dtype=np.float64).reshape(-1)
    if st.shape != va.shape:
        raise ValueError(f"steps {st.shape} and values {va.shape} differ")
    wt = None if wall_time is None else np.asarray(wall_time, dtype=np.float64).reshape(-1)
    ok = np.isfinite(st) & ~out
    notes: list[ReadNote] = []
    if not ok.all():
        n_out = int(out.sum())
        missing = int((~ok).sum()) - n_out
        if missing:
            notes.append(ReadNote(source, f"{tag}: {missing} point(s) without a valid step were skipped",
                                  "warning"))
        if n_out:
            first = _step_text(steps, int(np.flatnonzero(out)[0]))
            notes.append(ReadNote(source, f"{tag}: {n_out} point(s) without a valid step were skipped: their "
                                  f"step is outside the supported range (steps are 64-bit integers of magnitude "
                                  f"below 2**62 = {STEP_MAX + 1}; first: {first})", "warning"))
        st, va, exact_i = st[ok], va[ok], exact_i[ok]
        wt = None if wt is None else wt[ok]
    st_r = np.rint(st)
    frac = st != st_r
    if frac.any():
        merged = len(np.unique(st)) - len(np.unique(st_r))
        notes.append(ReadNote(source, f"{tag}: {int(frac.sum())} fractional step value(s) rounded to whole "
                              "steps" + (f" ({merged} distinct step(s) became equal)" if merged else ""),
                              "info"))
    st_i = exact_i
    n = st_i.shape[0]
    if n > 1:
        suffix_min = np.minimum.accumulate(st_i[::-1])[::-1]
        keep = np.ones(n, dtype=bool)
        keep[:-1] = st_i[:-1] < suffix_min[1:]
        if not keep.all():
            if frac.any() and bool(np.all(np.diff(st) > 0)):
                msg, sev = (f"{tag}: {int(n - keep.sum())} of {n} point(s) share a whole step with the "
                            "next point only after rounding fractional steps; the later value kept",
                            "warning")
            else:
                msg, sev = _describe_repeats(tag, st_i, va, keep)
            notes.append(ReadNote(source, msg, sev))
            st_i, va = st_i[keep], va[keep]
            wt = None if wt is None else wt[keep]
    return Series(tag, st_i, va, source, wt, step_unit), notes


def _step_text(steps, i: int) -> str:
    """The ``i``-th step as given (for a note: an exact integer, or a double)."""
    try:
        x = steps[i]
    except (TypeError, IndexError, KeyError):
        x = list(steps)[i]
    return str(int(x)) if _is_int(x) else f"{float(x):.6g}"


def values_agree(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise: do two loggers' copies of a value agree? Equal to float32 precision
    (TensorBoard stores float32: relative difference at most 1e-6 after rounding both to
    float32), NaN agreeing with NaN. ``a``, ``b``: float64 arrays of shape ``(n,)``;
    returns a bool array of shape ``(n,)``. Never raises or warns (values near 1e308
    overflow float32 to inf, and equal infinities agree)."""
    with np.errstate(over="ignore", invalid="ignore"):
        va = np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)
        vb = np.asarray(b, dtype=np.float64).astype(np.float32).astype(np.float64)
        # the relative test only between finite values: |inf - 2| <= 1e-6 * inf held, so an
        # infinite loss agreed with any finite one (and +inf with -inf)
        close = np.isfinite(va) & np.isfinite(vb) & (np.abs(va - vb) <= 1e-6 * np.maximum(np.abs(va), np.abs(vb)))
    return close | (va == vb) | (np.isnan(va) & np.isnan(vb))


#: Decimals tried when finding how precisely a value was printed (:func:`printed_agree`).
_MAX_DECIMALS = 12


def _decimals(v: np.ndarray) -> np.ndarray:
    """Per value, the fewest decimals (0 .. 12) that print it exactly (12 when none does).
    ``v``: finite float64 ``(n,)``; returns int ``(n,)``. One ``(13, n)`` rounding."""
    d = np.arange(_MAX_DECIMALS + 1, dtype=np.float64)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        scale = 10.0 ** d
        exact = np.abs(np.round(v[None, :] * scale) / scale - v[None, :]) <= 1e-9 * np.maximum(np.abs(v), 1.0 / scale)
    exact[-1] = True
    return np.argmax(exact, axis=0)


def printed_agree(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise: are ``a`` and ``b`` (float64 ``(n,)``) one value, printed or stored
    differently? Equal to float32 precision (:func:`values_agree`), or
    within half a unit in the last printed place of the coarser of the two (a console log's
    ``2.3457`` and a CSV's ``2.345678``). Returns bool ``(n,)``."""
    same = values_agree(a, b)
    fin = np.isfinite(a) & np.isfinite(b) & ~same
    if fin.any():
        fa, fb = a[fin], b[fin]
        dec = _decimals(np.concatenate((fa, fb)))
        coarse = np.minimum(dec[:fa.size], dec[fa.size:])
        half = 0.5 * 10.0 ** (-coarse.astype(np.float64))
        with np.errstate(over="ignore", invalid="ignore"):
            same[fin] = np.abs(fa - fb) <= half * (1 + 1e-9)
    return same


def merge(series: list[Series]) -> tuple[Series, list[ReadNote]]:
    """Merge the same tag read from several files of one run, without double counting.

    Points are pooled; where two files hold the same step, the file listed later wins. When
    copies of a step disagree (:func:`printed_agree`: beyond float32 rounding and the coarser
    copy's printed precision; two experiments' logs in one folder that
    :mod:`losscheck.runsplit` could not tell apart, not two copies of one log), the note is a
    warning that says so.

    Args:
        series: at least one :class:`Series` with the same tag, each already normalised.
    Returns:
        ``(merged, notes)``; ``merged.source`` joins the sources with ``", "``.
    """
    if len(series) == 1:
        return series[0], []
    steps = np.concatenate([s.steps for s in series])
    values = np.concatenate([s.values for s in series])
    has_wt = all(s.wall_time is not None for s in series)
    wt = np.concatenate([s.wall_time for s in series]) if has_wt else None
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    wt = None if wt is None else wt[order]
    keep = np.ones(len(steps), dtype=bool)
    keep[:-1] = steps[:-1] != steps[1:]
    shared = int((~keep).sum())
    # a shared step whose copies disagree (beyond float32 rounding, TensorBoard's, or the coarser
    # copy's printed precision: a console log's 2.3457 of a CSV's 2.345678)
    dup = np.flatnonzero(~keep)
    differ = int((~printed_agree(values[dup], values[dup + 1])).sum())
    sources = ", ".join(dict.fromkeys(s.source for s in series))
    merged = Series(series[0].tag, steps[keep], values[keep], sources,
                    None if wt is None else wt[keep], series[0].step_unit)
    if differ and all("tfevents" in s.source for s in series):
        # TensorBoard event files of one folder: a job restarted or resumed writes a new one
        notes = [ReadNote(sources, f"{series[0].tag}: merged from {len(series)} event files; {shared} step(s) "
                          f"present in more than one file, {differ} of them with different values: the later "
                          "file's kept, as TensorBoard does for a restarted or resumed run", "warning")]
    elif differ:
        notes = [ReadNote(sources, f"{series[0].tag}: merged from {len(series)} files; {shared} step(s) present "
                          f"in more than one file, {differ} of them with different values (the later file's "
                          "kept): two runs in one folder? Put each run in its own folder", "warning")]
    else:
        notes = [ReadNote(sources, f"{series[0].tag}: merged from {len(series)} files; {shared} step(s) "
                          f"present in more than one file were counted once", "info")]
    return merged, notes

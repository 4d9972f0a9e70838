"""Normalising and merging series: restarts, duplicated steps, several files.

Semantics follow TensorBoard's handling of restarted runs ("orphaned" data purge, see
``tensorboard/backend/event_processing/event_accumulator.py``, ``_CheckForRestartAndMaybePurge``):
when a step counter goes back to step ``s`` (a resumed run, or a job restarted from a
checkpoint), every point already seen at a step ``>= s`` is replaced by what comes after.
A step written twice in a row (two writer processes) keeps the later value. Both are
reported as :class:`~losscheck.model.ReadNote`, never done silently.
"""

from __future__ import annotations

import numpy as np

from losscheck.model import ReadNote, Series


def normalize(tag: str, steps, values, source: str, wall_time=None, step_unit: str = "step"
              ) -> tuple[Series, list[ReadNote]]:
    """Build a :class:`Series` with strictly increasing steps from points in file order.

    Args:
        tag: metric name.
        steps: array-like of shape ``(n,)``, integer-valued (floats are rounded).
        values: array-like of shape ``(n,)``; NaN/Inf kept.
        source: file path, for notes.
        wall_time: optional array-like of shape ``(n,)``, seconds.
        step_unit: ``"step"`` or ``"epoch"``.

    Returns:
        ``(series, notes)``. A point survives when every later point has a larger step
        (so later writes win), which is O(n) via a suffix minimum.
    """
    st = np.asarray(steps, dtype=np.float64)
    va = np.asarray(values, dtype=np.float64)
    wt = None if wall_time is None else np.asarray(wall_time, dtype=np.float64)
    ok = np.isfinite(st)
    notes: list[ReadNote] = []
    if not ok.all():
        notes.append(ReadNote(source, f"{tag}: {int((~ok).sum())} point(s) without a valid step were skipped", "warning"))
        st, va = st[ok], va[ok]
        wt = None if wt is None else wt[ok]
    st_i = np.rint(st).astype(np.int64)
    n = st_i.shape[0]
    if n > 1:
        suffix_min = np.minimum.accumulate(st_i[::-1])[::-1]
        keep = np.ones(n, dtype=bool)
        keep[:-1] = st_i[:-1] < suffix_min[1:]
        dropped = int(n - keep.sum())
        if dropped:
            back = np.flatnonzero(np.diff(st_i) < 0)
            same = int((np.diff(st_i) == 0).sum())
            parts = []
            if len(back):
                parts.append(f"the step counter went back {len(back)} time(s) (first at step "
                             f"{int(st_i[back[0]])} -> {int(st_i[back[0] + 1])}; a restart or resume)")
            if same:
                parts.append(f"{same} step(s) logged again in a row (duplicate writers)")
            notes.append(ReadNote(source, f"{tag}: {dropped} of {n} point(s) replaced by later values at "
                                  f"the same or earlier steps: " + "; ".join(parts or ["out-of-order steps"]),
                                  "warning" if len(back) else "info"))
            st_i, va = st_i[keep], va[keep]
            wt = None if wt is None else wt[keep]
    return Series(tag, st_i, va, source, wt, step_unit), notes


def merge(series: list[Series]) -> tuple[Series, list[ReadNote]]:
    """Merge the same tag read from several files of one run, without double counting.

    Points are pooled; where two files hold the same step, the file listed later wins.
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
    sources = ", ".join(dict.fromkeys(s.source for s in series))
    merged = Series(series[0].tag, steps[keep], values[keep], sources,
                    None if wt is None else wt[keep], series[0].step_unit)
    notes = [ReadNote(sources, f"{series[0].tag}: merged from {len(series)} files; {shared} step(s) "
                      f"present in more than one file were counted once", "info")]
    return merged, notes

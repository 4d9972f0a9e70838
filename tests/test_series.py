import numpy as np

from losscheck.series import merge, normalize


def test_restart_replaces_orphaned_points_like_tensorboard():
    # steps 1..5, then a resume from step 3: points 3,4,5 of the first attempt are orphaned
    steps = [1, 2, 3, 4, 5, 3, 4, 5, 6]
    vals = [1, 2, 3, 4, 5, 30, 40, 50, 60]
    s, notes = normalize("loss", steps, vals, "f")
    assert s.steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert s.values.tolist() == [1, 2, 30, 40, 50, 60]
    assert len(notes) == 1 and "went back 1 time" in notes[0].message and notes[0].severity == "warning"
    assert "restart or resume" in notes[0].message and "5 -> 3" in notes[0].message
    assert "interleaved" not in notes[0].message


def test_duplicate_writers_keep_later_value_and_say_so():
    s, notes = normalize("loss", [1, 1, 2, 2, 3], [1.0, 1.1, 2.0, 2.1, 3.0], "f")
    assert s.values.tolist() == [1.1, 2.1, 3.0]
    assert "2 step(s) logged 2x" in notes[0].message and "interleaved writers" in notes[0].message
    assert "restart" not in notes[0].message
    assert "2 repeated value(s) differ" in notes[0].message and notes[0].severity == "warning"


def test_identical_duplicates_are_info():
    s, notes = normalize("loss", [1, 1, 2, 2, 3, 3], [1.0, 1.0, 2.0, 2.0, np.nan, np.nan], "f")
    assert s.steps.tolist() == [1, 2, 3] and np.isnan(s.values[-1])
    assert notes[0].severity == "info" and "identical" in notes[0].message


def test_interleaved_writers_1212_are_not_called_a_restart():
    # two processes writing the same steps alternately: many small back-steps
    steps = [1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6]
    vals = [float(v) for v in range(12)]
    s, notes = normalize("loss", steps, vals, "f")
    # values kept exactly as before the wording change: the later write wins
    assert s.steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert s.values.tolist() == [2.0, 3.0, 6.0, 7.0, 10.0, 11.0]
    m = notes[0].message
    assert "interleaved writers" in m and "logged 2x" in m and "3 small back-step(s)" in m
    assert "restart" not in m


def test_a_resume_far_back_is_a_restart_even_with_many_repeats():
    steps = list(range(100)) + list(range(10, 120))
    s, notes = normalize("loss", steps, np.arange(len(steps), dtype=float), "f")
    assert s.steps.tolist() == list(range(120))
    assert "restart or resume" in notes[0].message and "99 -> 10" in notes[0].message


def test_out_of_order_steps_without_repeats_are_named_so():
    s, notes = normalize("loss", [0, 2, 1, 3, 5, 4, 6], np.arange(7.0), "f")
    assert s.steps.tolist() == [0, 1, 3, 4, 6]
    assert "out of order" in notes[0].message and "restart" not in notes[0].message


def test_many_restarts_are_not_interleaving():
    steps = list(range(50)) + list(range(20, 60)) + list(range(30, 70)) + list(range(40, 80)) + list(range(50, 90))
    s, notes = normalize("loss", steps, np.arange(len(steps), dtype=float), "f")
    assert s.steps.tolist() == list(range(90))
    assert "went back 4 time(s)" in notes[0].message and "several restarts" in notes[0].message


def test_fractional_steps_are_rounded_with_a_note():
    s, notes = normalize("loss", [0.2, 0.4, 0.6, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0, 5.0], "f")
    assert s.steps.tolist() == [0, 1, 2] and s.values.tolist() == [2.0, 4.0, 5.0]
    msgs = " | ".join(n.message for n in notes)
    assert "fractional step value(s) rounded" in msgs and "after rounding" in msgs
    assert "writers" not in msgs


def test_steps_beyond_int64_are_skipped_not_wrapped():
    s, notes = normalize("loss", [0, 1, 1e300, 3], [1.0, 2.0, 3.0, 4.0], "f")
    assert s.steps.tolist() == [0, 1, 3] and "without a valid step" in notes[0].message


def test_nan_values_are_kept_but_nan_steps_dropped_with_a_note():
    s, notes = normalize("loss", [0, 1, float("nan"), 3], [1.0, np.nan, 2.0, np.inf], "f")
    assert s.steps.tolist() == [0, 1, 3]
    assert np.isnan(s.values[1]) and np.isinf(s.values[2])
    assert "without a valid step" in notes[0].message


def test_clean_series_has_no_notes():
    s, notes = normalize("loss", np.arange(10), np.ones(10), "f")
    assert notes == [] and len(s) == 10


def test_merge_counts_shared_steps_once():
    a, _ = normalize("loss", [1, 2, 3], [1.0, 2.0, 3.0], "a")
    b, _ = normalize("loss", [2, 3, 4], [2.5, 3.5, 4.0], "b")
    m, notes = merge([a, b])
    assert m.steps.tolist() == [1, 2, 3, 4]
    assert m.values.tolist() == [1.0, 2.5, 3.5, 4.0]  # the later file wins
    assert "2 step(s)" in notes[0].message and m.source == "a, b"


def test_sparkline_tells_gaps_from_nonfinite_values():
    from losscheck.formats.text import sparkline
    from losscheck.model import Series
    from losscheck.pipeline import curve_digest as sparkline_values

    s = Series("loss", [0, 1, 2, 30, 31, 32], [1.0, 0.9, 0.8, np.nan, np.nan, np.nan], "f")
    vals = sparkline_values(s, width=8)
    assert vals[0] == 0.9 and None in vals and any(v != v for v in vals if v is not None)
    line = sparkline(vals)
    assert " " in line and line.endswith("×")


def test_merging_copies_that_disagree_is_a_warning():
    """Two experiments' logs in one folder: before, an info note 'counted once' hid that the
    values conflict (new-user pass)."""
    from losscheck.model import Series

    a = Series("loss", [1, 2, 3], [1.0, 0.9, 0.8], "exp1.log")
    b = Series("loss", [2, 3, 4], [5.0, 6.0, 7.0], "exp2.log")
    merged, (note,) = merge([a, b])
    assert note.severity == "warning" and "2 of them with different values" in note.message
    same = Series("loss", [2, 3], [0.9, 0.8], "copy.log")
    _, (note,) = merge([a, same])
    assert note.severity == "info"

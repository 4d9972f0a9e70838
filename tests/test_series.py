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


def test_duplicate_writers_keep_later_value_and_say_so():
    s, notes = normalize("loss", [1, 1, 2, 2, 3], [1.0, 1.1, 2.0, 2.1, 3.0], "f")
    assert s.values.tolist() == [1.1, 2.1, 3.0]
    assert "2 step(s) logged again" in notes[0].message


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

"""A CSV whose last line has no newline after it and ends in a number cut mid-print (``4,1.``:
the writer was stopped mid-row) loses that row with a warning, on the per-line path and on the
pandas path alike; a complete last row without a final newline is kept (hand-made files often
lack one). Found by a new-user trial: ``4,1.`` was read as a loss of 1.0 with no note."""

from __future__ import annotations

import pytest

from losscheck.readers._tabular import drop_cut_last_line, load_table


@pytest.mark.parametrize("tail,cut", [("4,1.", True), ("4,3.2e-", True), ("4,1e", True), ("4,-", True),
                                      ("4,1.5", False), ("4,1", False), ("4,1.7,True", False),
                                      ("4,1.0e-3", False), ("4,nan", False)])
def test_a_number_cut_mid_print_is_dropped_with_a_warning(tmp_path, tail, cut):
    head = "step,loss,flag\n" if tail.count(",") == 2 else "step,loss\n"
    rows = "".join(f"{i},{2.0 - 0.1 * i}" + (",False" if tail.count(",") == 2 else "") + "\n" for i in (1, 2, 3))
    p = tmp_path / "metrics.csv"
    p.write_text(head + rows + tail)
    t = load_table(p)
    warned = [n for n in t.notes if "cut mid-print" in n.message]
    assert len(t.steps("step")) == (3 if cut else 4)
    assert bool(warned) == cut and all(n.severity == "warning" and "line 5" in n.message for n in warned)


def test_a_newline_at_the_end_or_a_single_line_is_never_cut():
    assert drop_cut_last_line(b"step,loss\n1,2.\n", "f") == (b"step,loss\n1,2.\n", [])
    assert drop_cut_last_line(b"step,loss.", "f") == (b"step,loss.", [])


def test_the_pandas_path_drops_it_too(tmp_path, monkeypatch):
    from losscheck.readers import _tabular

    monkeypatch.setattr(_tabular, "PANDAS_MIN_CHARS", 0)  # every file takes the columnar path
    p = tmp_path / "metrics.csv"
    p.write_text("step,loss\n" + "".join(f"{i},{1.0 / i}\n" for i in range(1, 200)) + "200,0.")
    before = _tabular.BUDGET.columnar_files
    t = load_table(p)
    assert _tabular.BUDGET.columnar_files == before + 1  # the pandas path was taken
    assert len(t.steps("step")) == 199 and any("cut mid-print" in n.message for n in t.notes)

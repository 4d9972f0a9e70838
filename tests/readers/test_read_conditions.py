"""Readers report conditions as data (``ReadNote.kind``/``tags``), and the pipeline acts on
the data, never on the wording of a message."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from losscheck.errors import TooLittleData
from losscheck.model import NOTE_NO_VALUES, ReadNote, RunData, Series
from losscheck.pipeline import Options, diagnose_run
from losscheck.readers import choose


def _notes(path):
    return choose(path).read(path).notes


def test_jsonl_loss_always_null_is_a_no_values_note(tmp_path):
    f = tmp_path / "metrics.jsonl"
    f.write_text("".join(f'{{"step": {i}, "loss": null, "lr": 0.1}}\n' for i in range(5)))
    (note,) = [n for n in _notes(f) if n.kind == NOTE_NO_VALUES]
    assert note.tags == ("loss",)


def test_csv_empty_loss_column_is_a_no_values_note(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("step,loss,lr\n" + "".join(f"{i},,0.1\n" for i in range(5)))
    (note,) = [n for n in _notes(f) if n.kind == NOTE_NO_VALUES]
    assert note.tags == ("loss",)


def _run(notes) -> RunData:
    lr = Series("lr", np.arange(5, dtype=np.int64), np.full(5, 0.1), "f")
    return RunData("run", ["f"], {"lr": lr}, notes, {})


def test_the_pipeline_reads_the_kind_not_the_message():
    worded = ReadNote("f", "column 'loss' has no values (every cell empty or missing)", "info")
    with pytest.raises(Exception) as plain:
        diagnose_run(_run([worded]), Options())
    assert not isinstance(plain.value, TooLittleData)  # the words alone say nothing
    marked = dataclasses.replace(worded, message="(any wording)", kind=NOTE_NO_VALUES, tags=("loss",))
    with pytest.raises(TooLittleData, match=r"no loss values: \(any wording\)"):
        diagnose_run(_run([marked]), Options())


def test_an_error_says_whether_its_problem_names_the_offset():
    """Not found by searching the text for "byte N": the raiser says so."""
    import pickle

    from losscheck.errors import ParseError

    assert ParseError("f", "corrupt header", offset=7).one_line() == "f (byte 7): corrupt header"
    named = ParseError("f", "corrupt header at byte 7", offset=7, offset_in_problem=True)
    assert named.one_line() == "f: corrupt header at byte 7"
    assert pickle.loads(pickle.dumps(named)).one_line() == named.one_line()

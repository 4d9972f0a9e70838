"""A ``.jsonl`` file whose first line is garbage (``[[[...``, a non-object, a cut record) and
whose other lines are metric records is read, with the bad line skipped and named in a note,
as the same line is anywhere else in the file. It was refused whole ("not a supported log
file"; new-user trial #9). A file named ``.json`` keeps the strict first-line rule (a
pretty-printed JSON document must not pass for JSON lines)."""

from __future__ import annotations

import pytest

from losscheck.readers import choose, jsonl_generic

RECORDS = "".join(f'{{"step": {i}, "loss": {2.0 / i}}}\n' for i in range(1, 40))


@pytest.mark.parametrize("first", ["[" * 3000, "garbage here", "[1, 2, 3]", '"a string"', '{"step": 0, "lo'])
def test_a_bad_first_line_of_a_jsonl_file_is_skipped_not_fatal(tmp_path, first):
    p = tmp_path / "metrics.jsonl"
    p.write_text(first + "\n" + RECORDS)
    assert choose(p) is jsonl_generic.READER
    res = jsonl_generic.READER.read(p)
    loss = next(s for s in res.series if s.tag == "loss")
    assert loss.steps.tolist() == list(range(1, 40))
    assert any("line 1" in n.message for n in res.notes)


def test_a_pretty_printed_json_document_is_still_not_json_lines(tmp_path):
    p = tmp_path / "history.json"
    p.write_text("[\n" + ",\n".join(f'  {{"step": {i}, "loss": {1.0 / i}}}' for i in range(1, 6)) + "\n]\n")
    assert jsonl_generic.READER.sniff(p, p.read_bytes()) == 0.0


@pytest.mark.parametrize("first", [b"\x00\x01garbage", b"\x00" * 4096, b"[" * 100_000, b"y" * (2 << 20)],
                         ids=["nul-bytes", "nul-block", "deep-brackets-past-the-head", "2MiB-junk"])
def test_a_first_line_of_nul_bytes_or_longer_than_the_sniff_head_is_skipped_too(tmp_path, first):
    """NULs in the first 8 bytes made the head look binary, and a first line longer than the
    64 KiB sniff head hid every record: both files were 'not a supported log file'."""
    from losscheck.pipeline import diagnose

    p = tmp_path / "metrics.jsonl"
    p.write_bytes(first + b"\n" + RECORDS.encode())
    assert choose(p) is jsonl_generic.READER
    (run,) = diagnose(p).runs
    assert run.metrics["loss"].points == 39
    assert any("line 1" in n.message for n in run.notes)


def test_a_jsonl_file_that_is_one_long_line_of_garbage_is_one_clear_error(tmp_path):
    """Claimed by its name once its first line outruns the head, it must still end in one
    line naming the file when no line holds a record (not a verdict, not a traceback)."""
    from losscheck.errors import LosscheckError
    from losscheck.pipeline import diagnose

    p = tmp_path / "metrics.jsonl"
    p.write_bytes(b"\x00" * 4 + b"z" * (1 << 17))
    try:
        report = diagnose(p)
        (err,) = report.errors
        assert not report.runs
        line = err.message
    except LosscheckError as exc:
        line = exc.one_line()
    assert "metrics.jsonl" in line and "\n" not in line

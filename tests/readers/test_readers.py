"""Reader tests against the real public training logs in /work/shared/real_runs.

Every assertion states a fact checked by hand in the file (see SOURCES.md there, section
"Parsing edge cases found in these files"). The whole module is skipped when the folder
is absent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from losscheck.readers import _numscan, choose

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real_runs"

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} not present")


def read(rel: str, expect_reader: str | None = None):
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"{p} missing")
    r = choose(p)
    assert r is not None, f"no reader claims {rel}"
    if expect_reader is not None:
        assert r.name == expect_reader
    return r.read(p)


def tags(res):
    return {s.tag: s for s in res.series}


# --------------------------------------------------------------------------- Lightning


def test_pl_slm_v0_sparse_rows():
    t = tags(read("pl-slm-v0/metrics.csv", "lightning-csv"))
    assert "epoch" not in t and "step" not in t
    assert len(t["train_loss_step"]) == 2814
    assert len(t["val_loss"]) == 10
    assert t["val_loss"].steps[-1] == 140739
    assert t["val_loss"].values[-1] == pytest.approx(3.570486068725586)
    assert t["train_loss_step"].values[0] == pytest.approx(7.628580570220947)
    assert t["train_loss_step"].steps[0] == 49


def test_pl_slm_v5_resume_starts_late():
    t = tags(read("pl-slm-v5/metrics.csv", "lightning-csv"))
    assert len(t["train_loss_step"]) == 1126
    assert t["val_loss"].values.tolist() == pytest.approx([3.563, 3.566, 3.570, 3.604], abs=6e-4)
    assert t["train_loss_step"].steps[0] > 140000


def test_pl_pinn_v5_epoch_and_step_losses():
    t = tags(read("pl-pinn-v5/metrics.csv", "lightning-csv"))
    assert len(t["train_loss_epoch"]) == 100
    assert len(t["train_loss_step"]) == 126
    # the frozen epoch loss of this run (0.510902...)
    assert t["train_loss_epoch"].values[-1] == pytest.approx(0.5109022014221883)


# --------------------------------------------------------------------------- Keras / YOLO / TensorBoard


def test_keras_emotion_val_spike():
    t = tags(read("keras-emotion-resnet50-valspike/training.log", "keras-csv"))
    v = t["val_loss"]
    assert v.step_unit == "epoch" and len(v) == 17 and v.steps[0] == 0
    assert v.values[1] == pytest.approx(7.41715145111084)
    assert len(tags(read("keras-car-cnn-100ep/training.log", "keras-csv"))["loss"]) == 100


def test_yolov5_results_csv_matches_event_file():
    csv = tags(read("yolov5-helmet-exp2/results.csv", "yolo-results"))
    tb = tags(read("yolov5-helmet-exp2/events.out.tfevents.1671637532.gakko.30470.0", "tensorboard"))
    assert "train/box_loss" in csv  # padding stripped from '      train/box_loss'
    assert len(csv) == 13 and set(csv) == set(tb)
    for tag, s in csv.items():
        assert s.step_unit == "epoch" and len(s) == 150
        assert s.steps.tolist() == tb[tag].steps.tolist()
        # results.csv keeps 5 significant digits of the float32 in the event file
        np.testing.assert_allclose(s.values, tb[tag].values, rtol=1e-4, atol=1e-7, err_msg=tag)
    assert np.all(csv["train/cls_loss"].values == 0)


def test_mlflow_tf2_tensor_scalars_equal_mlflow_metric():
    tb = tags(read("mlflow-swahili-asr-plateau/tensorboard_logs/train/"
                   "events.out.tfevents.1628697775.DESKTOP-V1DB051.21044.31250.v2", "tensorboard"))
    ml = read("mlflow-swahili-asr-plateau/metrics/loss", "mlflow")
    (loss,) = ml.series
    assert loss.tag == "loss"
    ep = tb["epoch_loss"]
    assert len(ep) == 10 and ep.steps.tolist() == list(range(10))
    np.testing.assert_allclose(ep.values, loss.values, rtol=1e-7)
    assert loss.values[0] == pytest.approx(332.6841735839844)
    assert loss.wall_time[0] == pytest.approx(1628697792.090)
    assert ml.meta["learning_rate"] == 0.002 and ml.meta["max_grad_norm"] == 5.0
    assert ml.meta["epochs"] == 10 and ml.meta["optimizer"] == "SGD"
    assert "batch_size" not in ml.meta  # the param file holds 'None'


# --------------------------------------------------------------------------- detectron2


def test_d2_restart_keeps_second_runs_iteration_19():
    res = read("d2-maskrcnn-balloon/metrics.json", "detectron2")
    t = tags(res)
    lines = [json.loads(ln) for ln in (REAL / "d2-maskrcnn-balloon/metrics.json").read_text().splitlines()
             if ln.strip()]
    assert len(lines) == 16 and lines[0]["iteration"] == lines[1]["iteration"] == 19
    tl = t["total_loss"]
    assert len(tl) == 15 and tl.steps[0] == 19
    assert tl.values[0] == lines[1]["total_loss"] != lines[0]["total_loss"]
    assert any("total_loss" in n.message for n in res.notes)
    # the TensorBoard file only holds the second run: same 15 points (float32)
    tb = tags(read("d2-maskrcnn-balloon/events.out.tfevents.1737378888.LAPTOP-1BH8GF02.2695.0", "tensorboard"))
    assert tb["total_loss"].steps.tolist() == tl.steps.tolist()
    np.testing.assert_allclose(tb["total_loss"].values, tl.values, rtol=1e-6)


# --------------------------------------------------------------------------- LLaMA-Factory


def test_lf_sft_duplicate_lines():
    res = read("lf-sft-duplicate-lines/trainer_log.jsonl", "llamafactory")
    t = tags(res)
    raw = [json.loads(ln) for ln in (REAL / "lf-sft-duplicate-lines/trainer_log.jsonl").read_text().splitlines()
           if ln.strip()]
    assert len(raw) == 1360
    assert len({r["current_steps"] for r in raw}) == 657  # the last step (6565) logs no loss
    assert len(t["loss"]) == 656 and len(t["lr"]) == 656
    assert t["loss"].steps[0] == 10 and t["loss"].values[0] == 0.8547  # later duplicate wins
    assert any("loss" in n.message and "replaced" in n.message for n in res.notes)
    assert res.meta["max_steps"] == 6566


def test_lf_luojiu_old_schema_nulls_ignored():
    res = read("lf-luojiu7b-cpt/trainer_log.jsonl", "llamafactory")
    t = tags(res)
    assert set(t) == {"loss", "learning_rate"}  # eval_loss/predict_loss/reward always null
    assert len(t["loss"]) == 1742
    assert res.meta["max_steps"] == 8712


def test_lf_mistral_throughput_and_tokens():
    t = tags(read("lf-mistral-translator/trainer_log.jsonl", "llamafactory"))
    assert {"loss", "learning_rate", "throughput", "total_tokens"} <= set(t)
    assert "epoch" not in t and "percentage" not in t and "total_steps" not in t
    assert len(t["loss"]) == 866 and t["loss"].values[-1] == 0.1333


def test_lf_qwen_eval_lines():
    t = tags(read("lf-qwen25-medical-overfit/trainer_log.jsonl", "llamafactory"))
    ev = t["eval_loss"]
    assert len(ev) == 13 and len(t["loss"]) == 675
    assert ev.steps[int(np.argmin(ev.values))] == 4500
    assert ev.values.min() == pytest.approx(1.552, abs=1e-3)


def test_lf_dpo_accuracy_and_lr():
    t = tags(read("lf-dpo-warmup-flat/trainer_log.jsonl", "llamafactory"))
    assert len(t["loss"]) == 202 and len(t["accuracy"]) == 202
    assert t["lr"].values.max() < 2e-7


def test_lf_nsllm_new_schema_lr():
    t = tags(read("lf-nsllm-cpt/trainer_log.jsonl", "llamafactory"))
    assert "lr" in t and "learning_rate" not in t and len(t["loss"]) == 435


# --------------------------------------------------------------------------- HF trainer_state


def test_hf_quality_eval_loss_at_chance():
    res = read("hf-quality-flat-chance/trainer_state.json", "hf-trainer-state")
    t = tags(res)
    assert len(t["eval_loss"]) == 62 and len(t["loss"]) == 62
    np.testing.assert_allclose(t["eval_loss"].values, math.log(4), atol=1e-3)
    for gone in ("train_loss", "train_runtime", "total_flos", "epoch", "train_samples_per_second",
                 "eval_runtime"):
        assert gone not in t
    assert res.meta["final_train_loss"] == pytest.approx(1.3949827522229237)
    assert res.meta["max_steps"] == 3140 and res.meta["num_train_epochs"] == 20


def test_hf_whisper_eval_rises():
    t = tags(read("hf-whisper-ja-overfit/trainer_state.json", "hf-trainer-state"))
    ev = t["eval_loss"]
    assert len(ev) == 5 and np.all(np.diff(ev.values) > 0)
    assert len(t["loss"]) == 200 and "eval_wer" in t


def test_hf_autoscientist_meta():
    res = read("hf-autoscientist-short-ok/trainer_state.json", "hf-trainer-state")
    t = tags(res)
    assert len(t["loss"]) == 21 and len(t["eval_loss"]) == 5 and len(t["grad_norm"]) == 21
    assert res.meta["batch_size"] == 1 and res.meta["eval_steps"] == 4 and res.meta["logging_steps"] == 1


def test_lf_trainer_state_matches_trainer_log():
    jl = tags(read("lf-nsllm-cpt/trainer_log.jsonl", "llamafactory"))
    st = tags(read("lf-nsllm-cpt/trainer_state.json", "hf-trainer-state"))
    assert st["loss"].steps.tolist() == jl["loss"].steps.tolist()
    np.testing.assert_allclose(st["loss"].values, jl["loss"].values)


# --------------------------------------------------------------------------- not series


@pytest.mark.parametrize("rel", ["hf-whisper-ja-overfit/all_results.json", "lf-nsllm-cpt/all_results.json",
                                 "wandb-nanogpt-enwik8-ok/wandb-summary.json",
                                 "mlflow-swahili-asr-plateau/params/epochs", "wandb-gan-oscillating/config.yaml"])
def test_summaries_and_configs_not_claimed(rel):
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"{p} missing")
    assert choose(p) is None


def test_every_structured_real_file_reads_cleanly():
    """Each structured file is claimed by the expected reader and reads without error."""
    expect = {"metrics.csv": "lightning-csv", "training.log": "keras-csv", "results.csv": "yolo-results",
              "trainer_log.jsonl": "llamafactory", "trainer_state.json": "hf-trainer-state",
              "metrics.json": "detectron2"}
    n = 0
    for p in sorted(REAL.rglob("*")):
        if not p.is_file():
            continue
        want = "tensorboard" if "tfevents" in p.name else expect.get(p.name)
        if want is None:
            continue
        r = choose(p)
        assert r is not None and r.name == want, p
        res = r.read(p)
        assert res.series, p
        for s in res.series:
            assert np.all(np.diff(s.steps) > 0)
        n += 1
    assert n >= 27  # 3 event files, 8 Lightning, 2 Keras, 1 YOLO, 6 LF logs, 6 trainer states, 1 d2


def test_steps_per_epoch_from_fractional_and_integer_epochs():
    from losscheck.readers._common import steps_per_epoch

    # HF / LLaMA-Factory: epoch = step / steps_per_epoch (fractional)
    assert steps_per_epoch([10, 20, 30, 64, 128], [10 / 64, 20 / 64, 30 / 64, 1.0, 2.0]) == 64
    # Lightning: integer epoch column, the first step of each epoch is 128 apart
    steps = list(range(0, 384, 16))
    assert steps_per_epoch(steps, [s // 128 for s in steps]) == 128
    assert steps_per_epoch([1], [0.1]) is None


# --------------------------------------------------------------------------- CSV: pandas path

def _both_tables(path: Path):
    """``(pandas-path Table or None when that path declines, Python-path Table or the
    ParseError it raised)`` for one file, whatever its size."""
    from losscheck.errors import ParseError
    from losscheck.readers._common import read_text
    from losscheck.readers._tabular import _build_table, cells_fast, cells_reference

    text, notes = read_text(path)
    fast = cells_fast(text)
    try:
        slow = _build_table(str(path), *cells_reference(path, text, list(notes)), list(notes))
    except ParseError as exc:
        slow = exc
    if fast is None:
        return None, slow
    return _build_table(str(path), fast[0], fast[1], len(fast[1][0]), list(notes)), slow


def _assert_same_table(a, b, what):
    assert a.columns == b.columns and a.nrows == b.nrows and a.notes == b.notes, what
    assert list(a.values) == list(b.values) and list(a.missing) == list(b.missing), what
    for c in a.values:
        va, vb = a.values[c], b.values[c]
        assert np.array_equal(va, vb, equal_nan=True), (what, c)
        assert np.array_equal(np.signbit(va), np.signbit(vb)), (what, c)
        assert np.array_equal(a.missing[c], b.missing[c]), (what, c)


def _generated_csvs(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(3)
    tokens = ["", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "None", "null", "NA", "x", " 1.5", "2 ",
              "1e400", "-0.0", "0x10", "1_0", "+3", ".5", "5."]
    out = []
    for k, (sep, eol) in enumerate([(",", "\n"), (";", "\r\n"), ("\t", "\n"), (",", "\r\n")]):
        lines = [sep.join(["step", "loss", "loss", "lr"][: 4 - (k % 2)])]
        width = len(lines[0].split(sep))
        for i in range(3000):
            cells = [str(i), repr(float(rng.normal())), f"{rng.random():.17g}", f"{rng.random():.3e}"][:width]
            if rng.random() < 0.05:
                cells[int(rng.integers(1, width))] = tokens[int(rng.integers(len(tokens)))]
            if rng.random() < 0.01:
                cells = cells[: int(rng.integers(1, width))]  # a short row: padded, missing
            lines.append(sep.join(cells))
        p = tmp_path / f"gen{k}.csv"
        p.write_bytes((eol.join(lines) + eol).encode())
        out.append(p)
    return out


def test_csv_pandas_path_equals_python_path(tmp_path):
    """The pandas tokenizer (large files) gives the same Table as Python's csv module, or
    declines: the bad-input gallery, the real CSVs, and generated files with every token."""
    gallery = Path(__file__).resolve().parents[1] / "bad_inputs"
    files = sorted(gallery.glob("*.csv")) + _generated_csvs(tmp_path)
    if REAL.is_dir():
        files += sorted(REAL.rglob("*.csv"))
    taken = 0
    for f in files:
        fast, slow = _both_tables(f)
        if fast is None:
            continue
        assert not isinstance(slow, Exception), f
        _assert_same_table(fast, slow, f)
        taken += 1
    assert taken >= 5  # the comparison is not vacuous


def test_csv_pandas_path_used_for_large_files(tmp_path, monkeypatch):
    """``load_table`` takes the pandas path from PANDAS_MIN_CHARS on and falls back to the
    Python path (with its notes) when the file needs repairs."""
    import losscheck.readers._tabular as tab

    p = _generated_csvs(tmp_path)[0]
    calls = []
    real = tab.cells_fast
    monkeypatch.setattr(tab, "cells_fast", lambda text: calls.append(1) or real(text))
    monkeypatch.setattr(tab, "PANDAS_MIN_CHARS", 1000)
    fast = tab.load_table(p)
    assert calls
    monkeypatch.setattr(tab, "PANDAS_MIN_CHARS", 10**12)
    monkeypatch.setattr(_numscan, "SMALL_MAX_BYTES", 10**12)  # nor once pandas is loaded: per line
    _assert_same_table(fast, tab.load_table(p), p)
    p.write_text("# a comment\n" + p.read_text())
    monkeypatch.setattr(tab, "PANDAS_MIN_CHARS", 1000)
    assert any("comment" in n.message for n in tab.load_table(p).notes)


# --------------------------------------------------------------------------- CSV: float path

# Cells the float path must read exactly as float() does: NaN/Inf spellings, padding,
# signs, overflow, leading zeros, halfway and long-mantissa decimals, big integers.
_NUMERIC_TOKENS = ["nan", "NaN", "-nan", "+nan", "inf", "-inf", "+Infinity", "INF", "-iNfInItY", " 1.5",
                   "2 ", "\t3", "1e400", "-1e400", "1e-400", "-0.0", "-0", "+3", ".5", "5.", "1.e5", "007",
                   "9007199254740993", "18446744073709551617", "1.700000000000000177635684",
                   "2.2250738585072011e-308", "4.9e-324", "1" + "0" * 40, "0.1000000000000000055511151231257827",
                   "1.00000000000000011102230246251565404236316680908203125", "3E+05", "6.02e23"]
# Cells the float path must decline (the text paths read them, with their notes).
_DECLINED_TOKENS = ["None", "null", "NA", "x", "0x10", "1_0", "nan(ind)", "1d5", " ", "infin", "1 2"]


def _float_csvs(tmp_path: Path) -> list[tuple[Path, bool]]:
    """``(file, float path expected)``: generated CSVs with random long decimals and the
    tokens above: empty cells, NaN spellings, both, short rows, other separators and CRLF;
    declined tokens and a row too long (declined); with tabs, a "\\t3" cell may split a row."""
    rng = np.random.default_rng(7)
    out = []
    kinds = [("empty", ",", "\n", True), ("nan", ",", "\n", True), ("nan", ";", "\r\n", True),
             ("nan", "\t", "\n", None), ("empty+nan", ",", "\n", True), ("short", ",", "\n", True),
             ("declined", ",", "\n", False), ("long", ",", "\n", False)]
    for k, (kind, sep, eol, expected) in enumerate(kinds):
        lines = [sep.join(["step", "loss", "loss", "lr"])]
        for i in range(2000):
            mant = "".join(map(str, rng.integers(0, 10, int(rng.integers(1, 25))))).lstrip("0") or "0"
            cells = [str(i), repr(float(rng.normal())), f"{mant}e{int(rng.integers(-30, 30))}",
                     f"{rng.random():.20f}"[: int(rng.integers(3, 23))]]
            if rng.random() < 0.1:
                j = int(rng.integers(1, 4))
                if kind in ("empty", "empty+nan", "short"):
                    cells[j] = ""
                if kind in ("nan", "empty+nan"):
                    cells[j] = _NUMERIC_TOKENS[int(rng.integers(len(_NUMERIC_TOKENS)))]
                if kind == "declined" and i % 7 == 0:
                    cells[j] = _DECLINED_TOKENS[int(rng.integers(len(_DECLINED_TOKENS)))]
            if kind == "short" and rng.random() < 0.02:
                cells = cells[: int(rng.integers(1, 4))]
            if kind == "long" and i == 1500:
                cells.append("1")
            lines.append(sep.join(cells))
        if kind == "declined":
            lines[5] = sep.join(["5"] + _DECLINED_TOKENS[:3])
        p = tmp_path / f"float{k}.csv"
        p.write_bytes((eol.join(lines) + eol).encode())
        out.append((p, expected))
    return out


def test_csv_float_path_equals_python_path(tmp_path):
    """pandas' float conversion gives bit for bit the Python path's Table (values, missing
    masks, notes, duplicate-name renaming), or declines: generated tricky files, the
    bad-input gallery and the real CSVs."""
    from losscheck.errors import ParseError
    from losscheck.readers._common import read_data, read_text
    from losscheck.readers._numscan import csv_floats
    from losscheck.readers._tabular import _build_table, cells_reference

    gallery = Path(__file__).resolve().parents[1] / "bad_inputs"
    cases = _float_csvs(tmp_path) + [(f, None) for f in sorted(gallery.glob("*.csv"))]
    if REAL.is_dir():
        cases += [(f, None) for f in sorted(REAL.rglob("*.csv"))]
    taken = 0
    for f, expected in cases:
        data, notes = read_data(f)
        got = csv_floats(data)
        if expected is not None:
            assert (got is not None) == expected, f
        if got is None:
            continue
        text, notes = read_text(f)
        try:
            slow = _build_table(str(f), *cells_reference(f, text, list(notes)), list(notes))
        except ParseError:
            raise AssertionError(f"float path read {f}, the Python path refuses it") from None
        fast = _build_table(str(f), got[0], got[1], len(got[1][0][0]), list(notes), converted=True)
        _assert_same_table(fast, slow, f)
        taken += 1
    assert taken >= 6


def test_csv_load_table_float_path_end_to_end(tmp_path, monkeypatch):
    """``load_table`` of a large file equals the small-file (Python) reading whichever path
    it ends on: floats, text cells through pandas, or the Python tokenizer."""
    import losscheck.readers._tabular as tab

    calls = []
    real = tab.csv_floats
    monkeypatch.setattr(tab, "csv_floats", lambda data: calls.append(real(data) is not None) or real(data))
    for p, _ in _float_csvs(tmp_path):
        monkeypatch.setattr(tab, "PANDAS_MIN_CHARS", 1000)
        fast = tab.load_table(p)
        monkeypatch.setattr(tab, "PANDAS_MIN_CHARS", 10**12)
        monkeypatch.setattr(_numscan, "SMALL_MAX_BYTES", 10**12)  # nor once pandas is loaded: per line
        _assert_same_table(fast, tab.load_table(p), p)
    assert True in calls and False in calls


def test_csv_float_options_by_pandas_version():
    """Before pandas 3.1 the float path asks for the round-trip converter (the default one
    was not correctly rounded); from 3.1 on it passes nothing (all modes are fast_float)."""
    from types import SimpleNamespace

    from losscheck.readers._numscan import float_options as _float_options

    assert _float_options(SimpleNamespace(__version__="2.2.3")) == {"float_precision": "round_trip"}
    assert _float_options(SimpleNamespace(__version__="3.0.1")) == {"float_precision": "round_trip"}
    assert _float_options(SimpleNamespace(__version__="3.1.0")) == {}
    assert _float_options(SimpleNamespace(__version__="4.0.0.dev0+12")) == {}


def test_jsonl_whose_first_line_is_garbled_is_still_recognised(tmp_path):
    # a log whose first line was cut or garbled (a crash, a concurrent writer) is still a
    # JSON-lines log: read with the bad line skipped and named, not "no supported log found"
    f = tmp_path / "metrics.jsonl"
    f.write_text('{"step": 1, "loss": garb\n' + "".join(json.dumps({"step": i, "loss": 2.0 / i}) + "\n"
                                                        for i in range(2, 51)))
    reader = choose(f)
    assert reader is not None and reader.name == "jsonl"
    res = reader.read(f)
    loss = [s for s in res.series if s.tag == "loss"][0]
    assert len(loss) == 49 and int(loss.steps[0]) == 2
    assert any("line 1" in n.message for n in res.notes)


def test_text_file_with_no_json_object_in_its_first_lines_is_not_jsonl(tmp_path):
    f = tmp_path / "metrics.jsonl"
    f.write_text("".join(f"step {i} loss {2.0 / i}\n" for i in range(1, 30)))
    reader = choose(f)
    assert reader is None or reader.name != "jsonl"


def test_csv_whose_metric_column_is_all_text_says_so(tmp_path):
    f = tmp_path / "metrics.csv"
    f.write_text("step,loss\n1,abc\n2,def\n3,ghi\n")
    res = choose(f).read(f)
    assert not res.series
    assert any(n.severity == "warning" and "'loss' ('abc' in data row 1)" in n.message for n in res.notes)
    # a text column beside a numeric metric is no problem and gets no warning
    g = tmp_path / "g.csv"
    g.write_text("loss,phase\n0.5,train\n0.4,train\n")
    res = choose(g).read(g)
    assert res.series and not [n for n in res.notes if n.severity == "warning"]


@pytest.mark.parametrize("name,text", [
    ("metrics.json", "[\n" + ",\n".join(json.dumps({"step": i, "loss": 1.0 / i}) for i in range(1, 4)) + "\n]\n"),
    ("history.json", '{ "history": [\n' + ",\n".join(json.dumps({"step": i, "loss": 1.0 / i})
                                                    for i in range(1, 4)) + "\n] }\n"),
    ("train.log", "2024-01-01 starting\n" + json.dumps({"lr": 0.001, "batch_size": 32}) + "\n"
     + json.dumps({"seed": 1}) + "\n" + "".join(f"epoch {i} loss={1.0 / i:.4f}\n" for i in range(1, 60))),
])
def test_pretty_json_or_a_log_with_json_lines_is_not_taken_for_jsonl(tmp_path, name, text):
    # only a first line that starts like an object may be skipped as garbled (a review found
    # a JSON array and a log with config lines claimed by the JSON-lines reader)
    f = tmp_path / name
    f.write_text(text)
    reader = choose(f)
    assert reader is None or reader.name != "jsonl"

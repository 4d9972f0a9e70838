"""Accuracy is a property to protect: the held-out corpus split must not fall below the
figures reached when the detectors were frozen (README, "How accurate is it?"), minus a
stated margin.

The held-out split (``benchmarks/corpus/labels.csv``, ``split == heldout``: every other run
per class by sha256 of its name) was not used to tune the detectors. Figures measured on it
(issue 14, branch i14j, 2026-12-06; first set after the short-log call and the stuck side
channels at 90.0 / 1 of 20 / 86.7 / 66.7 / 83.3%): class 92.0% (46/50), healthy judged failing
0/20, healthy warnings 0/20, onset within tolerance 90.0% (27/30), first remedy ranked first
73.3% (22/30), top 3 86.7% (26/30). The real held-out runs: 69.7% (23/33), none of 11 healthy
failing. The third held-out set, ``benchmarks/text_logs_blind2`` (50 public text logs sharing
no source with a tune set; class only): 37/50 (74.0%), no ``insufficient`` on a log of 3
points or more, 2 of 23 healthy logs judged failing. (Floors raised only to these measured
values minus the margin.)
Margin: 5 percentage points on each rate (2-3 runs of 50), and at most one more healthy run
judged failing. The real public runs are held out too, and checked the same way when
``../shared/real_runs`` is present.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import REAL_RUNS, REPO

spec = importlib.util.spec_from_file_location("lc_accuracy", REPO / "benchmarks" / "accuracy.py")
accuracy = importlib.util.module_from_spec(spec)
sys.modules["lc_accuracy"] = accuracy  # dataclasses look their module up by name
spec.loader.exec_module(accuracy)

MARGIN = 0.05


@pytest.fixture(scope="module")
def corpus_heldout():
    cases = accuracy.load_cases("corpus", "heldout")
    assert len(cases) >= 50, "the corpus held-out split is missing"
    return accuracy.score(accuracy.diagnose_cases(cases))


def test_heldout_primary_class(corpus_heldout):
    assert corpus_heldout.accuracy >= 0.920 - MARGIN, corpus_heldout.misses


def test_heldout_healthy_runs_do_not_fail_the_gate(corpus_heldout):
    f = corpus_heldout
    failing = round(f.healthy_failing * f.healthy)
    assert failing <= 0 + 1, f.misses
    assert f.healthy_warning <= 0.0 + 0.10  # target: warnings on <= 10% of healthy runs


def test_heldout_onset(corpus_heldout):
    assert corpus_heldout.onset_within >= 0.900 - MARGIN


def test_heldout_first_remedy(corpus_heldout):
    assert corpus_heldout.remedy_top1 >= 0.733 - MARGIN
    assert corpus_heldout.remedy_top3 >= 0.867 - MARGIN


def test_real_runs_heldout():
    if not REAL_RUNS.is_dir():
        pytest.skip("../shared/real_runs is not beside this checkout")
    f = accuracy.score(accuracy.diagnose_cases(accuracy.load_cases("real", "heldout")))
    # reached at the freeze: class 22/33 (66.7%), since 23/33 (69.7%, i14j), no healthy run failing,
    # 1 of 11 warned (LC402 on txt-slm-suspicious-collapse, a justified "too good to be true" warning)
    assert f.accuracy >= 0.697 - MARGIN, f.misses
    assert f.healthy_failing == 0.0 and f.healthy_warning <= 0.10


def test_text_log_sets_load_by_source_split_and_map_classes(tmp_path, monkeypatch):
    """The text-log label files become class-only cases, each set in its one split, with the
    collections' class names mapped to ours (nonfinite -> nan, spikes -> spiking)."""
    root = tmp_path / "tl"
    root.mkdir()
    head = "id,file,unit,loss_name,loss_n,loss_first,loss_last,eval_name,eval_n,eval_first,eval_last," \
           "grad_norm_name,lr_name,other_losses,class,confidence,note\n"
    rows = ["a,a/x.log,step,loss,4,1,1,,,,,,,,nonfinite,high,n", "b,b/x.log,step,loss,9,1,1,val,12,1,1,,,,spikes,low,n",
            "c,c/x.log,step,loss,2,1,1,,,,,,,,insufficient,low,n"]
    (root / "labels-one.csv").write_text(head + rows[0] + "\n" + rows[1] + "\n", encoding="utf-8")
    (root / "labels-two.csv").write_text(head + rows[2] + "\n", encoding="utf-8")
    monkeypatch.setitem(accuracy.SETS, "text_logs", (root / "labels-*.csv", root))
    tune = accuracy.load_cases("text_logs", "tune")
    assert [(c.label, c.points, c.class_only) for c in tune] == [
        ("nan", 4, True), ("spiking", 12, True), ("insufficient", 2, True)]
    assert accuracy.load_cases("text_logs", "heldout") == []
    # an insufficient label is scored like a class; an insufficient verdict on >= 3 points is counted
    tune[0].predicted, tune[1].predicted, tune[2].predicted = "insufficient", "spiking", "insufficient"
    f = accuracy.score(tune)
    assert f.accuracy == 2 / 3 and f.insufficient_3plus == 1 and f.class_only == 3


def test_the_splits_share_no_set():
    """Held-out = corpus heldout + real heldout + text_logs_blind2; blind = the sets gathered blind
    and never tuned on; every other text set is tune."""
    assert accuracy.TEXT_SPLIT == {"text_logs": "tune", "text_logs_blind": "tune", "text_logs_blind2": "heldout",
                                   "text_logs_blind3": "blind", "text_logs_blind4": "blind",
                                   "text_logs_blind5": "blind", "text_logs_blind6": "blind",
                                   "text_logs_blind7": "blind", "text_logs_blind8": "blind",
                                   "text_logs_blind9": "blind", "text_logs_blind10": "blind"}
    assert not any(c.split == "tune" for c in accuracy.load_cases("text_logs_blind2"))
    blind = accuracy.load_cases("verdicts_blind1")
    assert blind and all(c.split == "blind" for c in blind)


def test_text_logs_blind2_heldout():
    """Held-out public text logs (class only): accuracy, no refusal on >= 3 points, and no
    more healthy logs failing the gate than at the measurement."""
    f = accuracy.score(accuracy.diagnose_cases(accuracy.load_cases("text_logs_blind2", "heldout")))
    assert f.n >= 50 and f.class_only == f.n
    assert f.accuracy >= 0.740 - MARGIN, f.misses
    assert f.insufficient_3plus == 0, f.misses
    assert round(f.healthy_failing * f.healthy) <= 2, f.misses

"""The peer mapping of ``benchmarks/peers.py`` on made-up peer JSON (no peer installed: the
peer runs themselves are a benchmark, kept out of CI).

The documents below are invented in the shape of each peer's JSON output (field names only);
they check that a finding lands on the class, status and remedy the mapping table documents.
"""

from __future__ import annotations

import importlib.util
import json
import sys

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("lc_peers", REPO / "benchmarks" / "peers.py")
peers = importlib.util.module_from_spec(spec)
sys.modules["lc_peers"] = peers  # dataclasses look their module up by name
spec.loader.exec_module(peers)


def _runmedic(findings, roles=None):
    return [{"run": "r", "roles": {"train_loss": ["loss"]} if roles is None else roles, "findings": findings}]


def test_runmedic_nan_beats_a_grad_spike_and_its_fixes_become_remedy_ids():
    doc = _runmedic([
        {"check": "grad_spikes", "severity": "warning", "title": "grad spikes",
         "fixes": ["Enable gradient clipping at the healthy level"]},
        {"check": "non_finite", "severity": "critical", "title": "loss became NaN",
         "fixes": ["Lower the peak learning rate 3x", "Scan the input batches for NaN"]},
    ])
    v = peers.verdict("runmedic", peers.parse_runmedic(doc))
    assert (v.predicted, v.status) == ("nan", "failing")
    # the class-mapped finding's fixes come first, then the unmapped finding's
    assert v.remedies == ["lower_lr", "check_data", "grad_clip"]


def test_a_run_without_a_loss_role_is_not_read_and_counts_as_a_miss():
    r = peers.parse_runmedic(_runmedic([{"check": "loss_spikes", "severity": "warning"}], roles={}))
    assert not r.read and r.findings == []
    v = peers.verdict("runmedic", r)
    assert (v.predicted, v.status, v.remedies) == ("error", "healthy", [])


def test_trainspotter_divergence_splits_on_its_title():
    def one(title):
        doc = {"run": {"metrics": {"train/loss": {"count": 50}}},
               "findings": [{"detector": "divergence", "title": title, "severity": "error", "fixes": []}]}
        return peers.verdict("trainspotter", peers.parse_trainspotter(doc)).predicted

    assert one("Diverged (non-finite values)") == "nan"
    assert one("Diverged (sustained growth)") == "diverging"


def test_info_findings_name_the_class_only_when_asked():
    doc = {"runs": [{"points": 40}], "findings": [{"check": "stagnation", "severity": "info", "message": "flat"}]}
    r = peers.parse_losslint(doc)
    assert peers.verdict("losslint", r, info_classes=True).predicted == "plateau"
    off = peers.verdict("losslint", r, info_classes=False)
    assert (off.predicted, off.status) == ("converging", "healthy")


def test_severity_first_then_the_class_order():
    doc = {"runs": [{"points": 40}], "findings": [
        {"check": "stagnation", "severity": "info"},
        {"check": "loss_spike", "severity": "warning"},
        {"check": "overfit_onset", "severity": "warning"},
    ]}
    v = peers.verdict("losslint", peers.parse_losslint(doc))
    assert (v.predicted, v.status) == ("spiking", "warning")  # spiking precedes overfitting
    assert v.named == {"spiking", "overfitting", "plateau"}


def test_an_unmapped_error_fails_the_gate_but_names_no_class():
    doc = {"runs": [{"points": 40}], "findings": [{"check": "step_backtrack", "severity": "error"}]}
    v = peers.verdict("losslint", peers.parse_losslint(doc))
    assert (v.predicted, v.status) == ("converging", "failing")


def test_trainproof_no_loss_is_not_a_read_and_pass_is_not_a_finding():
    no_loss = {"reports": [{"num_records": 30, "findings": [{"id": "TP-NO-LOSS", "level": "FAIL"}]}]}
    assert not peers.parse_trainproof(no_loss).read
    ok = {"reports": [{"num_records": 30, "findings": [{"id": "TP-PASS", "level": "PASS"},
                                                        {"id": "TP-DEAD-RUN", "level": "FAIL"}]}]}
    r = peers.parse_trainproof(ok)
    assert r.read and [f.id for f in r.findings] == ["TP-DEAD-RUN"]
    assert peers.verdict("trainproof", r).predicted == "plateau"


def test_json_is_found_after_a_banner_line():
    doc = {"runs": [{"points": 3}], "findings": []}
    assert peers._json("losslint: reading...\n" + json.dumps(doc)) == doc
    assert peers._json("no json here") is None


def test_remedy_words():
    assert peers.remedy_id("Add LR warmup over the first steps") == "warmup"
    assert peers.remedy_id("Stop early and keep the best checkpoint") == "early_stop"
    assert peers.remedy_id("Use bf16 instead of fp16") == "mixed_precision"
    assert peers.remedy_id("Take a walk") is None


def test_scoring_counts_healthy_failures_detections_and_remedy_hits():
    case = peers.accuracy.Case
    cases = [case("s", "a", "heldout", "converging", None, None, predicted="converging", status="failing"),
             case("s", "b", "heldout", "nan", 3, "check_data", predicted="nan", status="failing",
                  remedies=["lower_lr", "check_data"]),
             case("s", "c", "heldout", "diverging", 9, "lower_lr", predicted="error", status="healthy",
                  error="not read")]
    row = peers.score_cases("x", cases, [True, True, False], [0.1, 0.2, 0.3], True, 2)
    assert (row.healthy_failing, row.healthy, row.detected, row.faulty) == (1, 1, 1, 2)
    assert row.accuracy == 2 / 3 and row.named == 2 / 3
    assert row.remedy_top3 == 0.5 and row.remedy_n == 2  # the unread run counts as a miss


def test_a_fix_naming_two_remedies_gives_both_in_its_order():
    assert peers.remedy_ids("Lower the learning rate or add/extend LR warmup.") == ["lower_lr", "warmup"]
    assert peers.remedy_ids("Add regularization: weight decay, dropout, label smoothing") == ["regularize"]
    # keeping the best checkpoint is stopping early, not a rollback
    assert peers.remedy_ids("Use the checkpoint at step 50 (best eval/loss), not the last one.") == ["early_stop"]

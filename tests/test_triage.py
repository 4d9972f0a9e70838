"""Sweep triage (issue 17): hyperparameters read from each run's own files, the ones that
separate failing from other runs, failures grouped by signature; through the real CLI on
sweeps laid out as the frameworks write them."""

from __future__ import annotations

import json
import math
import random

import pytest
from typer.testing import CliRunner

from losscheck.analysis.triage import (MIN_SIDE, failure_groups, find_separations, onset_bucket, sweep_triage)
from losscheck.cli import app
from losscheck.model import TriageRow
from losscheck.readers._hparams import parse_simple_yaml, read_hparams

runner = CliRunner()


def cli(*args) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout


def sweep_json(path, *extra) -> dict:
    code, out = cli("diagnose", path, "-f", "json", *extra)
    assert code in (0, 1), out
    return json.loads(out)


def loss_curve(kind: str, n: int = 200, seed: int = 0, onset: float = 0.4) -> list[float]:
    """A training loss of ``n`` points: ``converge`` (exp decay to 0.3 plus noise), ``diverge``
    (decays, then grows exponentially from ``onset`` of the run), ``nan`` (decays, then NaN
    from ``onset``)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        base = 2.0 * math.exp(-i / 40) + 0.3 + 0.02 * rnd.random()
        k = int(onset * n)
        if kind == "diverge" and i >= k:
            base = (2.0 * math.exp(-k / 40) + 0.3) * math.exp((i - k) / 15)
        if kind == "nan" and i >= k:
            base = float("nan")
        out.append(base)
    return out


def hf_run(folder, args: dict | None, kind: str, seed: int = 0, onset: float = 0.4, lr_logged: float = 1e-4):
    """An HF Trainer output folder: trainer_state.json (log_history every 10 steps) and, unless
    ``args`` is None, training_args.json."""
    folder.mkdir(parents=True)
    hist = [{"step": 10 * (i + 1), "epoch": (i + 1) / 200, "loss": v, "learning_rate": lr_logged, "grad_norm": 1.0}
            for i, v in enumerate(loss_curve(kind, seed=seed, onset=onset))]
    (folder / "trainer_state.json").write_text(json.dumps(
        {"log_history": hist, "max_steps": 2000, "train_batch_size": 32, "global_step": 2000}))
    if args is not None:
        (folder / "training_args.json").write_text(json.dumps({"output_dir": str(folder), "seed": 42, **args}))


LRS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]


@pytest.fixture
def lr_sweep(tmp_path):
    """8 HF runs, LR from 1e-5 to 3e-2: the 5 with LR >= 3e-4 diverge; batch size alternates."""
    for i, lr in enumerate(LRS):
        hf_run(tmp_path / "sweep" / f"lr{i}", {"learning_rate": lr, "per_device_train_batch_size": 32 if i % 2 else 64},
               "diverge" if lr >= 3e-4 else "converge", seed=i)
    return tmp_path / "sweep"


def test_hf_sweep_finds_the_learning_rate_threshold(lr_sweep):
    doc = sweep_json(lr_sweep)
    statuses = {r["run"].rsplit("/", 1)[-1]: r["status"] for r in doc["runs"]}
    assert [statuses[f"lr{i}"] == "failing" for i in range(8)] == [lr >= 3e-4 for lr in LRS]
    sw = doc["sweep"]
    assert sw["runs"] == 8 and sw["failing"] == 5
    # output_dir names each run, seed does not vary: neither is a column
    assert set(sw["params"]) == {"learning_rate", "per_device_train_batch_size"}
    assert sw["params"][0] == "learning_rate"  # the separating one first
    (sep,) = sw["separations"]
    assert sep["param"] == "learning_rate" and sep["kind"] == "threshold" and sep["fail_side"] == "above"
    assert sep["fail_bound"] == 3e-4 and sep["pass_bound"] == 1e-4
    assert (sep["fail_runs"], sep["fail_failing"], sep["pass_runs"], sep["pass_passing"]) == (5, 5, 3, 3)
    assert sep["exceptions"] == [] and sep["fail_classes"] == {"diverging": 5}
    # exact chance: 2 of the C(8, 5) = 56 labellings are split by a threshold
    assert sep["p_value"] == pytest.approx(2 / 56) and sep["strong"]
    assert "all 5 runs with learning_rate >= 0.0003 fail" in sep["text"] and "learning_rate <= 0.0001" in sep["text"]
    # the table: one row per run, ordered by learning rate, with the varying params only
    assert [r["params"]["learning_rate"] for r in sw["table"]] == LRS
    assert all(set(r["params"]) == set(sw["params"]) for r in sw["table"])
    (group,) = sw["groups"]
    assert group["count"] == 5 and group["class"] == "diverging" and group["onset"] == "mid"
    assert "LC101" in group["codes"] and len(group["examples"]) == 3
    # each run's hyperparameters are in its run document too
    assert all("learning_rate" in r["hparams"] for r in doc["runs"])


def test_every_format_renders_the_triage(lr_sweep):
    for fmt, head in (("text", "Sweep triage"), ("markdown", "### Sweep triage"), ("html", '<section id="triage">')):
        code, out = cli("diagnose", lr_sweep, "-f", fmt)
        assert code == 1 and head in out, fmt
        assert "What separates failing runs" in out and "0.0003" in out, fmt
        assert "Failures by signature (5 failing runs, 1 group(s))" in out, fmt
    code, out = cli("diagnose", lr_sweep, "-f", "jsonl")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["type"] == "summary" and "table" not in summary["sweep"]
    assert summary["sweep"]["separations"][0]["param"] == "learning_rate"
    assert summary["sweep"]["separations"][0]["fail_bound"] == 3e-4


def test_streamed_and_kept_triage_agree(lr_sweep):
    from losscheck.formats._common import triage_document
    from losscheck.pipeline import diagnose

    kept = diagnose(lr_sweep)
    seen = []
    streamed = diagnose(lr_sweep, sink=seen.append, jobs=2)
    assert len(seen) == 8 and not streamed.runs
    assert triage_document(streamed) == triage_document(kept)


def test_no_separation_when_outcomes_are_mixed_across_the_param(tmp_path):
    """Failing and healthy runs alternate along the LR (the failures come from something else):
    no threshold is claimed."""
    for i, lr in enumerate(LRS):
        hf_run(tmp_path / f"r{i}", {"learning_rate": lr}, "diverge" if i % 2 else "converge", seed=i)
    sw = sweep_json(tmp_path)["sweep"]
    assert sw["failing"] == 4 and sw["params"] == ["learning_rate"]
    assert sw["separations"] == []
    assert any("no hyperparameter separates" in n for n in sw["notes"])
    assert sw["groups"][0]["count"] == 4


def test_no_separation_from_a_single_failing_run(tmp_path):
    for i, lr in enumerate(LRS[:6]):
        hf_run(tmp_path / f"r{i}", {"learning_rate": lr}, "diverge" if i == 5 else "converge", seed=i)
    sw = sweep_json(tmp_path)["sweep"]
    assert sw["failing"] == 1 and sw["separations"] == []
    assert any(f"1 failing run(s) (at least {MIN_SIDE} needed)" in n for n in sw["notes"])
    assert [g["count"] for g in sw["groups"]] == [1]


def test_a_sweep_without_hyperparameters_has_no_triage(tmp_path):
    for i in range(4):
        d = tmp_path / f"r{i}"
        d.mkdir()
        kind = "diverge" if i < 2 else "converge"
        (d / "metrics.csv").write_text("step,loss\n" + "".join(
            f"{s},{v!r}\n" for s, v in enumerate(loss_curve(kind, seed=i))))
    doc = sweep_json(tmp_path)
    assert doc["sweep"] is None and all(r["hparams"] == {} for r in doc["runs"])
    for fmt in ("text", "markdown", "html"):
        _, out = cli("diagnose", tmp_path, "-f", fmt)
        assert "Sweep triage" not in out, fmt


def test_trainer_state_alone_gives_its_settings_and_the_logged_lr(tmp_path):
    """No training_args.json: the HF reader's settings (batch size, max steps) and the logged
    peak LR are the run's params."""
    for i, lr in enumerate([1e-4, 2e-4, 2e-3, 5e-3]):
        hf_run(tmp_path / f"r{i}", None, "diverge" if lr > 1e-3 else "converge", seed=i, lr_logged=lr)
    doc = sweep_json(tmp_path)
    hp = doc["runs"][0]["hparams"]
    assert hp["batch_size"] == 32 and hp["max_steps"] == 2000 and hp["logged_peak_lr"] == pytest.approx(1e-4)
    sw = doc["sweep"]
    assert sw["params"] == ["logged_peak_lr"]
    (sep,) = sw["separations"]
    assert sep["fail_bound"] == pytest.approx(2e-3) and sep["pass_bound"] == pytest.approx(2e-4)
    assert not sep["strong"] and "weak evidence" in sep["text"]  # 2 of C(4, 2) = 6: p = 1/3


def wandb_run(root, name: str, config: dict, kind: str, seed: int):
    files = root / "wandb" / f"run-20250101_000000-{name}" / "files"
    files.mkdir(parents=True)
    lines = ["wandb_version: 1", "", "_wandb:", "  desc: null", "  value:", "    cli_version: 0.19.1"]
    for k, v in config.items():
        lines += [f"{k}:", "  desc: null", f"  value: {v}"]
    (files / "config.yaml").write_text("\n".join(lines) + "\n")
    (files / "metrics.csv").write_text("step,loss\n" + "".join(
        f"{s},{v!r}\n" for s, v in enumerate(loss_curve(kind, seed=seed, onset=0.8))))


def test_wandb_config_sweep_finds_a_failing_optimizer_value(tmp_path):
    """W&B config.yaml ({key: {desc, value}}): every run with optimizer sgd goes NaN late."""
    opts = ["sgd", "adamw", "sgd", "adamw", "sgd", "adamw", "lion"]
    for i, opt in enumerate(opts):
        wandb_run(tmp_path, f"r{i}", {"optimizer": opt, "lr": 1e-3 * (1 + i % 3), "dropout": 0.1}, "nan"
                  if opt == "sgd" else "converge", seed=i)
    sw = sweep_json(tmp_path)["sweep"]
    assert set(sw["params"]) == {"optimizer", "lr"}  # dropout does not vary; _wandb is W&B's own
    seps = [s for s in sw["separations"] if s["param"] == "optimizer"]
    assert len(seps) == 1 and seps[0]["kind"] == "value" and seps[0]["fail_bound"] == "sgd"
    assert seps[0]["fail_runs"] == 3 and seps[0]["pass_runs"] == 4 and seps[0]["pass_passing"] == 4
    assert seps[0]["p_value"] == pytest.approx(1 / math.comb(7, 3))
    assert not any(s["param"] == "lr" for s in sw["separations"])
    (group,) = sw["groups"]
    assert group["class"] == "nan" and group["onset"] == "late" and group["count"] == 3


def test_mlflow_params_and_lightning_hparams_are_read(tmp_path):
    run = tmp_path / "mlruns" / "0" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "params").mkdir()
    (run / "params" / "learning_rate").write_text("0.0003")
    (run / "params" / "optimizer").write_text("adam")
    (run / "metrics" / "loss").write_text("".join(f"1700000000000 {1 / (s + 1)} {s}\n" for s in range(20)))
    assert read_hparams(run) == {"learning_rate": 3e-4, "optimizer": "adam"}
    lg = tmp_path / "lightning_logs" / "version_0"
    lg.mkdir(parents=True)
    (lg / "hparams.yaml").write_text("lr: 1.0e-3\nbatch_size: 64\nmodel:\n  depth: 12\n  act: gelu\n")
    assert read_hparams(lg) == {"lr": 1e-3, "batch_size": 64, "model.depth": 12, "model.act": "gelu"}
    lf = tmp_path / "llamafactory"
    lf.mkdir()
    (lf / "training_args.yaml").write_text("learning_rate: 5e-05\nlr_scheduler_type: cosine\nbf16: true\n")
    # YAML 1.1 reads 5e-05 as text: the value is a number all the same
    assert read_hparams(lf) == {"learning_rate": 5e-05, "lr_scheduler_type": "cosine", "bf16": True}


def test_mlflow_sweep_through_the_cli(tmp_path):
    for i, lr in enumerate([1e-4, 2e-4, 4e-4, 1e-2, 2e-2, 4e-2]):
        run = tmp_path / "mlruns" / "1" / f"run{i}"
        (run / "metrics").mkdir(parents=True)
        (run / "params").mkdir()
        (run / "params" / "lr").write_text(repr(lr))
        (run / "metrics" / "loss").write_text("".join(
            f"{1700000000000 + s} {v!r} {s}\n" for s, v in enumerate(loss_curve("diverge" if lr > 1e-3 else "converge",
                                                                               seed=i))))
    sw = sweep_json(tmp_path)["sweep"]
    (sep,) = sw["separations"]
    assert sep["param"] == "lr" and sep["fail_bound"] == 1e-2 and sep["pass_bound"] == 4e-4
    assert (sep["fail_failing"], sep["pass_passing"]) == (3, 3) and sep["p_value"] == pytest.approx(2 / 20)
    assert not sep["strong"]


def test_simple_yaml_subset_agrees_with_pyyaml_on_a_wandb_config():
    yaml = pytest.importorskip("yaml")
    text = ("wandb_version: 1\n\n_wandb:\n  desc: null\n  value:\n    cli_version: 0.19.1\n    t:\n      1:\n"
            "      - 1\n      - 55\nlearning_rate:\n  desc: null\n  value: 0.0003\noptimizer:\n  desc: null\n"
            "  value: 'adamw'  # the optimizer\n")
    mine, ref = parse_simple_yaml(text), yaml.safe_load(text)
    assert mine["learning_rate"]["value"] == str(ref["learning_rate"]["value"])
    assert mine["optimizer"]["value"] == ref["optimizer"]["value"] == "adamw"
    assert set(mine) == set(ref)


# --------------------------------------------------------------------------- the analysis itself


def rows(values, fails, klass="diverging", onset=0.5, codes=("LC101",)) -> list[TriageRow]:
    return [TriageRow(f"r{i:03d}", "failing" if f else "healthy", klass if f else "converging",
                      onset if f else None, list(codes) if f else [], {"p": v}) for i, (v, f) in enumerate(zip(values, fails))]


def test_near_separation_names_its_exception_and_needs_ten_runs():
    vals = list(range(12))
    fails = [v >= 6 for v in vals]
    fails[2] = True  # one low-value run fails too
    (sep,) = find_separations(rows(vals, fails), ["p"])
    assert sep.exceptions == ["r002"] and sep.wrong_side == 1 and sep.fail_bound == 6 and sep.pass_bound == 5
    assert "nearly: 1 run(s) on the wrong side" in sep.text
    assert 0 < sep.p_value < 0.05
    # the same pattern over 8 runs: 1 exception is more than 10% of them: nothing claimed
    vals8 = list(range(8))
    fails8 = [v >= 4 for v in vals8]
    fails8[1] = True
    assert find_separations(rows(vals8, fails8), ["p"]) == []


def test_low_values_failing_and_ties_are_handled():
    vals = [0.0, 0.0, 0.1, 0.1, 0.5, 0.5, 1.0]
    fails = [True, True, True, True, False, False, False]
    (sep,) = find_separations(rows(vals, fails), ["p"])
    assert sep.fail_side == "below" and sep.fail_bound == 0.1 and sep.pass_bound == 0.5
    assert "p <= 0.1 fail" in sep.text and "stable range is p >= 0.5" in sep.text
    # a tie across the boundary makes a perfect split impossible
    tied = [0.0, 0.0, 0.1, 0.1, 0.1, 0.5, 1.0]
    assert find_separations(rows(tied, [True, True, True, True, False, False, False]), ["p"]) == []


def test_failure_groups_and_onset_buckets():
    recs = (rows([1] * 5, [True] * 5, "diverging", 0.1, ("LC101",))
            + rows([2] * 3, [True] * 3, "nan", 0.9, ("LC102",))
            + rows([3] * 2, [True] * 2, "diverging", 0.5, ("LC101",))
            + rows([4] * 4, [False] * 4))
    for i, r in enumerate(recs):
        r.run = f"run{i:02d}"
    groups = failure_groups(recs)
    assert [(g.klass, g.onset, g.codes, g.count) for g in groups] == [
        ("diverging", "early", ["LC101"], 5), ("nan", "late", ["LC102"], 3), ("diverging", "mid", ["LC101"], 2)]
    assert groups[0].examples == ["run00", "run01", "run02"]
    assert [onset_bucket(x) for x in (None, 0.0, 0.33, 0.34, 0.66, 0.67, 1.0)] == [
        "none", "early", "early", "mid", "mid", "late", "late"]


def test_a_param_naming_each_run_is_not_a_hyperparameter():
    recs = rows([1, 2, 3, 4], [True, True, False, False])
    for i, r in enumerate(recs):
        r.params["run_label"] = f"name-{i}"
        r.params["logging_dir"] = f"/logs/{i // 2}"
    t = sweep_triage(recs)
    assert t is not None and t.params == ["p"]


def test_without_pyyaml_the_subset_parser_reads_the_same_params(tmp_path, monkeypatch):
    """PyYAML is no dependency: with it missing, W&B's and Lightning's files give the same params."""
    run = tmp_path / "run-1" / "files"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("wandb_version: 1\n_wandb:\n  desc: null\n  value:\n    python_version: 3.11.9\n"
                                     "lr:\n  desc: null\n  value: 3.0e-4\noptimizer:\n  desc: null\n  value: adamw\n"
                                     "layers:\n  desc: null\n  value:\n  - 64\n  - 64\n")
    (tmp_path / "run-1" / "hparams.yaml").write_text("dropout: 0.1 # regularisation\nname: \"base\"\n")
    with_yaml = read_hparams(tmp_path / "run-1")
    monkeypatch.setitem(__import__("sys").modules, "yaml", None)  # import yaml -> ImportError
    without = read_hparams(tmp_path / "run-1")
    assert without == with_yaml == {"lr": 3e-4, "optimizer": "adamw", "dropout": 0.1, "name": "base"}


def test_a_large_sweep_reads_as_a_few_causes_and_stays_bounded():
    """300 failing runs of 3 signatures among 600: 3 groups; a near separation names at most
    MAX_EXCEPTIONS runs but counts them all."""
    from losscheck.analysis.triage import MAX_EXCEPTIONS

    rnd = random.Random(3)
    recs = []
    for i in range(600):
        lr = 10 ** rnd.uniform(-5, -1)
        fail = lr > 1e-3
        if i % 20 == 0:
            fail = not fail  # 30 runs (5%) on the wrong side
        sig = [("diverging", 0.2, ["LC101"]), ("nan", 0.8, ["LC102"]), ("diverging", 0.5, ["LC101", "LC201"])][i % 3]
        recs.append(TriageRow(f"run{i:03d}", "failing" if fail else "healthy", sig[0] if fail else "converging",
                              sig[1] if fail else None, sig[2] if fail else [], {"lr": lr}))
    t = sweep_triage(recs)
    assert t is not None and sum(g.count for g in t.groups) == t.failing and len(t.groups) == 3
    (sep,) = t.separations
    assert sep.wrong_side == 30 and len(sep.exceptions) == MAX_EXCEPTIONS
    assert 0.0009 <= sep.pass_bound < sep.fail_bound <= 0.0011
    assert "nearly: 30 run(s) on the wrong side" in sep.text


def test_a_sweep_behind_a_url_gives_the_same_triage(lr_sweep):
    """memory:// (any fsspec store): the small configuration files beside the logs are kept by
    discovery and read from memory, so the triage is the local one."""
    fsspec = pytest.importorskip("fsspec")
    from losscheck.pipeline import diagnose

    fs = fsspec.filesystem("memory")
    fs.store.clear()
    try:
        for f in sorted(lr_sweep.rglob("*")):
            if f.is_file():
                fs.pipe(f"/bucket/sweep/{f.relative_to(lr_sweep).as_posix()}", f.read_bytes())
        remote, local = diagnose("memory://bucket/sweep").triage, diagnose(lr_sweep).triage
    finally:
        fs.store.clear()
    assert remote is not None and local is not None
    assert remote.params == local.params and len(remote.rows) == 8
    assert [(s.param, s.fail_bound, s.pass_bound, s.p_value) for s in remote.separations] == [
        (s.param, s.fail_bound, s.pass_bound, s.p_value) for s in local.separations] != []


def test_markdown_with_a_triage_stays_under_its_size_limit():
    """3,000 runs with 13 long varying params: the Markdown report keeps under MAX_CHARS and
    still holds the triage."""
    from losscheck.formats.markdown import FORMAT, MAX_CHARS
    from losscheck.model import Report, RunReport

    runs, recs = [], []
    for i in range(3000):
        fail = i % 2 == 0
        runs.append(RunReport(run=f"/x/sweep/run-with-a-rather-long-name-{i:05d}", status="failing" if fail else "healthy",
                              primary="diverging" if fail else "converging", secondary=[], onset_step=None, metrics={},
                              curves=[], findings=[], remedies=[]))
        recs.append(TriageRow(runs[-1].run, runs[-1].status, runs[-1].primary, 0.5 if fail else None,
                              ["LC101"] if fail else [], {**{f"p{j}": "v" * 60 + str(i % 3) for j in range(12)}, "lr": i}))
    report = Report(runs, [], "0", roots=["/x/sweep"])
    report.triage = sweep_triage(recs)
    out = FORMAT.render(report)
    assert len(out) <= MAX_CHARS and "### Sweep triage" in out and "Failures by signature" in out


def test_one_kind_of_failure_is_separated_when_the_failures_mix_causes():
    """High LRs diverge or turn NaN while two low-LR runs stall: no LR threshold separates the
    failing runs from the rest, but one separates the divergences (the shape sample_runs/lr-sweep
    had while two of its healthy runs were misread as plateaus)."""
    spec = [(0.003, "converging"), (0.003, "converging"), (0.01, "converging"), (0.01, "converging"),
            (0.03, "converging"), (0.03, "plateau"), (0.1, "plateau"), (0.1, "converging"),
            (1.0, "diverging"), (1.0, "diverging"), (3.0, "nan"), (3.0, "nan")]
    rows = [TriageRow(f"r{i:02d}", "healthy" if k == "converging" else "failing", k, None, [], {"lr": lr, "seed": i % 2})
            for i, (lr, k) in enumerate(spec)]
    t = sweep_triage(rows)
    assert not [s for s in t.separations if s.outcome == "fail"]
    (sep,) = [s for s in t.separations if s.param == "lr"]
    assert sep.outcome == "diverge or turn NaN" and sep.fail_side == "above"
    assert (sep.fail_bound, sep.pass_bound, sep.fail_runs, sep.pass_runs, sep.wrong_side) == (1.0, 0.1, 4, 8, 0)
    assert sep.p_value == pytest.approx(2 / math.comb(12, 4))
    assert "all 4 runs with lr >= 1 diverge or turn NaN" in sep.text and "none of the 8" in sep.text
    assert any("one kind of failure" in n for n in t.notes)
    # one kind of failure only: the plain separation says it all, no family search
    only = [r for r in rows if r.klass != "plateau"]
    assert {s.outcome for s in sweep_triage(only).separations} == {"fail"}
    # a family whose runs are not apart from the rest by the param gets no claim
    mixed = [TriageRow(r.run, r.status, r.klass, None, [], {"lr": lr})
             for r, lr in zip(rows, [1.0, 3.0, 0.003, 0.01, 0.03, 0.03, 0.1, 0.1, 0.003, 0.01, 0.1, 1.0])]
    assert not [s for s in sweep_triage(mixed).separations if s.outcome != "fail"]

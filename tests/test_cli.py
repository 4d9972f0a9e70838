"""End to end through the command line: exit codes, JSON shape, errors, baseline, no writes."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from tests.conftest import SAMPLE_RUNS

runner = CliRunner()


def run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def write_csv(path, steps, loss):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fh.write("step,loss\n")
        for s, v in zip(steps, loss):
            fh.write(f"{s},{float(v)!r}\n")
    return path


def decaying(floor, n=300, seed=0):
    rng = np.random.default_rng(seed)
    st = np.arange(n)
    return st, (2.0 * np.exp(-st / 40) + floor) * np.exp(rng.normal(0, 0.03, n))


def test_demo_run_fails_with_exit_1_and_ranked_remedies():
    code, out, _ = run("diagnose", SAMPLE_RUNS / "qwen-style-diverge")
    assert code == 1
    assert "FAILING" in out and "diverging" in out and "LC101" in out
    assert "Lower the (peak) learning rate" in out


def test_healthy_run_exits_0(tmp_path):
    st, v = decaying(0.1)
    code, out, _ = run("diagnose", write_csv(tmp_path / "ok" / "log.csv", st, v))
    assert code == 0, out
    assert "HEALTHY" in out


def test_fail_on_levels():
    demo = SAMPLE_RUNS / "qwen-style-diverge"
    assert run("diagnose", demo, "--fail-on", "never")[0] == 0
    warn = SAMPLE_RUNS / "overfit-small-finetune"
    assert run("diagnose", warn)[0] == 0
    assert run("diagnose", warn, "--fail-on", "warning")[0] == 1


def test_json_document_shape():
    code, out, _ = run("diagnose", SAMPLE_RUNS / "qwen-style-diverge", "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert doc["schema_version"] == 1 and doc["tool"]["name"] == "losscheck" and doc["errors"] == []
    (r,) = doc["runs"]
    assert r["status"] == "failing"
    assert r["diagnosis"]["class"] == "diverging" and isinstance(r["diagnosis"]["secondary"], list)
    assert isinstance(r["diagnosis"]["onset_step"], int)
    assert set(r["metrics"]) >= {"loss", "lr", "grad_norm"}
    m = r["metrics"]["loss"]
    assert set(m) >= {"tag", "source", "points", "first_step", "last_step"} and m["points"] == 80
    assert {c["role"] for c in r["curves"]} >= {"loss"}
    assert all(set(c) >= {"role", "tag", "class", "onset_step", "evidence"} for c in r["curves"])
    assert all(set(f) >= {"code", "severity", "role", "step", "message"} for f in r["findings"])
    assert [x["rank"] for x in r["remedies"]] == list(range(1, len(r["remedies"]) + 1))
    assert r["remedies"][0]["id"] == "lower_lr" and "peak_lr" in r["remedies"][0]["settings"]


@pytest.mark.parametrize("args,needle", [
    (["diagnose", "/no/such/path"], "/no/such/path: no such file or directory"),
    (["diagnose", str(SAMPLE_RUNS), "--format", "yaml"], "--format 'yaml': unknown"),
    (["diagnose", str(SAMPLE_RUNS), "--fail-on", "sometimes"], "--fail-on 'sometimes'"),
    (["diagnose", str(SAMPLE_RUNS / "qwen-style-diverge"), "--loss", "nope"], "--loss 'nope': no such metric"),
    (["explain", "LC999"], "LC999: no such rule"),
])
def test_usage_errors_are_one_line_exit_2(args, needle):
    code, out, err = run(*args)
    assert code == 2
    assert needle in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_directory_without_logs_is_exit_2_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    code, _, err = run("diagnose", tmp_path)
    assert code == 2 and str(tmp_path) in err and "no supported log found" in err


def test_sweep_lists_a_folder_without_logs_apart_and_diagnoses_the_rest(tmp_path):
    st, v = decaying(0.1)
    write_csv(tmp_path / "good" / "log.csv", st, v)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "notes.txt").write_text("no metrics\n")
    code, out, _ = run("diagnose", tmp_path, "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert [os.path.basename(r["run"]) for r in doc["runs"]] == ["good"]
    # a folder with no log is not a run and not an error (issue 11): listed apart
    assert doc["errors"] == [] and [os.path.basename(p) for p in doc["folders_without_logs"]] == ["bad"]


def test_baseline_same_run_passes_and_worse_run_fails(tmp_path):
    st, good = decaying(0.10)
    _, worse = decaying(0.30, seed=1)
    g = write_csv(tmp_path / "good" / "log.csv", st, good).parent
    w = write_csv(tmp_path / "worse" / "log.csv", st, worse).parent
    assert run("diagnose", g, "--baseline", g)[0] == 0
    code, out, _ = run("diagnose", w, "--baseline", g, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [f["code"] for f in doc["runs"][0]["findings"]] == ["LC901"]
    # a saved report works as a baseline too
    saved = tmp_path / "base.json"
    assert run("diagnose", g, "--format", "json", "--output", saved)[0] == 0
    assert run("diagnose", w, "--baseline", saved)[0] == 1
    assert run("diagnose", g, "--baseline", saved)[0] == 0


def test_baseline_keeps_only_new_findings():
    demo = SAMPLE_RUNS / "qwen-style-diverge"
    plain = json.loads(run("diagnose", demo, "--format", "json")[1])["runs"][0]
    code, out, _ = run("diagnose", demo, "--baseline", demo, "--format", "json")
    r = json.loads(out)["runs"][0]
    assert code == 0 and r["status"] == "healthy" and r["findings"] == []
    assert "LC101" in [f["code"] for f in r["baselined"]]
    assert [f["code"] for f in r["baselined"]] == [f["code"] for f in plain["findings"]]


def test_config_ignore_removes_rule_from_findings_and_exit_code(tmp_path):
    cfg = tmp_path / "losscheck.toml"
    cfg.write_text('ignore = ["LC101"]\n')
    code, out, _ = run("diagnose", SAMPLE_RUNS / "qwen-style-diverge", "--config", cfg, "--format", "json")
    r = json.loads(out)["runs"][0]
    assert code == 0 and "LC101" not in [f["code"] for f in r["findings"]]


def test_never_writes_into_a_read_only_run(tmp_path):
    import shutil

    src = SAMPLE_RUNS / "qwen-style-diverge"
    dst = tmp_path / "ro"
    shutil.copytree(src, dst)
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in dst.rglob("*")}
    dir_mtime = dst.stat().st_mtime_ns
    for p in [*dst.rglob("*"), dst]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        code, _, err = run("diagnose", dst, "--format", "json")
        assert code == 1 and "Traceback" not in err
        after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in dst.rglob("*")}
        assert after == before and dst.stat().st_mtime_ns == dir_mtime
    finally:
        for p in [dst, *dst.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_rules_and_explain():
    code, out, _ = run("rules")
    assert code == 0 and "LC101  loss-diverging" in out
    code, out, _ = run("explain", "loss-diverging")
    assert code == 0 and "## What it detects" in out and "Akaike" in out


def test_select_and_ignore_take_comma_lists_and_reject_unknown_codes():
    demo = SAMPLE_RUNS / "qwen-style-diverge"
    doc = json.loads(run("diagnose", demo, "--select", "LC101,LC102", "--format", "json")[1])
    assert {f["code"] for f in doc["runs"][0]["findings"]} == {"LC101"}
    code, _, err = run("diagnose", demo, "--ignore", "LC10l")
    assert code == 2 and "'LC10l' matches no rule" in err


@pytest.mark.parametrize("args,needle", [
    (["diagnose", "--jobs", "0", "x"], "--jobs"),
    (["diagnose"], "Missing argument"),
    (["explain", "LC101", "extra"], "unexpected extra argument"),
])
def test_framework_usage_errors_are_one_line_exit_2(args, needle):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "losscheck", *args], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and needle.lower() in lines[0].lower() and lines[0].startswith("losscheck:")


def test_several_paths_and_globs_are_one_report(tmp_path):
    code, out, _ = run("diagnose", SAMPLE_RUNS / "qwen-style-diverge", str(SAMPLE_RUNS / "healthy-n*"),
                       "--format", "json")
    runs = sorted(r["run"] for r in json.loads(out)["runs"])
    assert code == 1 and runs == [str(SAMPLE_RUNS / "healthy-noisy-small-batch"),
                                  str(SAMPLE_RUNS / "qwen-style-diverge")]
    code, _, err = run("diagnose", tmp_path / "missing-a", tmp_path / "missing-b")
    assert code == 2
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        f"losscheck: {tmp_path / 'missing-a'}: no such file or directory",
        f"losscheck: {tmp_path / 'missing-b'}: no such file or directory"]


def test_strict_makes_an_undiagnosable_run_fail_the_gate(tmp_path):
    st, v = decaying(0.1)
    write_csv(tmp_path / "good" / "log.csv", st, v)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "log.csv").write_text("step,loss\n")  # a header and no data
    code, _, err = run("diagnose", tmp_path)
    assert code == 0 and "1 path(s) could not be diagnosed" in err
    code, _, err = run("diagnose", tmp_path, "--strict")
    assert code == 1 and "--strict" in err


def test_run_without_points_names_its_files(tmp_path):
    """A run that gives no point says which of its files is empty or why it gave nothing."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.out.tfevents.1.host").write_bytes(b"")
    code, out, err = run("diagnose", run_dir)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [f"losscheck: {run_dir}: no data points: "
                                        "events.out.tfevents.1.host: empty file (0 bytes)"]
    # the file itself: its path leads the line, once
    code, out, err = run("diagnose", run_dir / "events.out.tfevents.1.host")
    assert code == 2 and err.strip() == (f"losscheck: {run_dir / 'events.out.tfevents.1.host'}: "
                                         "no data points: empty file (0 bytes)")
    # a corrupt first header: the file and the byte, said once
    (run_dir / "events.out.tfevents.1.host").write_bytes(b"\x58" + b"\x00" * 19)
    code, out, err = run("diagnose", run_dir)
    assert code == 2 and err.strip() == (f"losscheck: {run_dir / 'events.out.tfevents.1.host'}: not a "
                                         "TensorBoard event file: corrupt record header at byte 0 "
                                         "(length checksum mismatch)")


def test_error_line_keeps_an_offset_the_problem_does_not_state():
    from losscheck.errors import ParseError

    assert ParseError("f", "corrupt at byte 12", offset=12, offset_in_problem=True).one_line() == \
        "f: corrupt at byte 12"
    assert ParseError("f", "corrupt at byte 12", offset=1).one_line() == "f (byte 1): corrupt at byte 12"

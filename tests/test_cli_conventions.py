"""The command line follows the conventions of ruff, pytest and pip-audit (issue 16): ``-h``,
``-q``/``-v``, ``--color`` with ``NO_COLOR``/``FORCE_COLOR``, help without type artefacts,
"did you mean" for misspelled configuration keys, errors naming what the user wrote, rule
metadata as JSON and each rule's thresholds in ``explain``."""

from __future__ import annotations

import os
import re

import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from tests.conftest import SAMPLE_RUNS

runner = CliRunner()
DEMO = SAMPLE_RUNS / "qwen-style-diverge"
ANSI = "\x1b["
COMMANDS = ["diagnose", "config", "rules", "explain", "watch"]


def run(*args, env=None, cwd=None):
    res = runner.invoke(app, [str(a) for a in args], env=env)
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize("cmd", [[], *[[c] for c in COMMANDS]])
def test_short_help_is_the_long_help(cmd):
    code_h, out_h, _ = run(*cmd, "-h")
    code_l, out_l, _ = run(*cmd, "--help")
    assert code_h == code_l == 0
    assert out_h == out_l and "Usage:" in out_h and "-h, --help" in out_h


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_has_no_type_artefacts(cmd):
    _, out, _ = run(cmd, "--help", env={"COLUMNS": "100"})
    assert not re.search(r"<(bool|str|int|path|float|list\[str\])[^>]*>", out), out
    assert "{" not in out.splitlines()[0], out.splitlines()[0]


def test_diagnose_usage_line_names_paths_plainly():
    _, out, _ = run("diagnose", "--help")
    assert re.search(r"diagnose \[OPTIONS\] PATH\.\.\.\s*$", out.splitlines()[0])
    assert re.search(r"--format FORMAT", out) and "--quiet" in out and "--verbose" in out and "--color WHEN" in out


def test_quiet_prints_only_the_summary_and_keeps_the_exit_code():
    code, full, _ = run("diagnose", DEMO)
    code_q, out_q, _ = run("diagnose", DEMO, "-q")
    code_qq, out_qq, _ = run("diagnose", DEMO, "--quiet", "--quiet")
    assert code == code_q == code_qq == 1
    assert len(full.splitlines()) > 5
    assert out_q.strip().splitlines() == [full.strip().splitlines()[-1]]
    assert "failing" in out_q
    assert out_qq == ""


def test_verbose_lists_folders_without_logs(tmp_path):
    import shutil

    shutil.copytree(DEMO, tmp_path / "sweep" / "a")
    (tmp_path / "sweep" / "empty").mkdir()
    (tmp_path / "sweep" / "empty" / "notes.txt").write_text("nothing here\n")
    _, _, err = run("diagnose", tmp_path / "sweep", "-q")
    _, _, err_v = run("diagnose", tmp_path / "sweep", "-v", "-q")
    assert "empty" not in err
    assert "empty" in err_v and "no log found" in err_v


@pytest.mark.parametrize("env,args,coloured", [
    ({}, [], False),                                   # piped: plain
    ({"FORCE_COLOR": "1"}, [], True),                  # FORCE_COLOR colours piped output
    ({"FORCE_COLOR": "0"}, [], True),                  # any non-empty value forces
    ({"FORCE_COLOR": ""}, [], False),                  # empty means unset
    ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, [], False),
    ({"NO_COLOR": "1"}, ["--color", "always"], True),  # the flag beats the variables
    ({"FORCE_COLOR": "1"}, ["--color", "never"], False),
    ({}, ["--color", "always"], True),
])
def test_color_flag_and_environment(env, args, coloured):
    base = {"NO_COLOR": None, "FORCE_COLOR": None, "TERM": "xterm"}
    code, out, _ = run("diagnose", DEMO, *args, env={**base, **env})
    assert code == 1
    assert (ANSI in out) is coloured
    assert "FAILING" in out


def test_bad_color_value_is_a_usage_error():
    code, out, err = run("diagnose", DEMO, "--color", "sometimes")
    assert code == 2 and out == ""
    assert "--color 'sometimes'" in err and "auto, always, never" in err


def diagnose_with_config(tmp_path, text, *args):
    """Diagnose the demo run with ``text`` as the working directory's pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text(text)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        return run("diagnose", DEMO, *args)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("table,wrong,right", [
    ("[tool.losscheck]\nfail-onn = 'warning'\n", "fail-onn", "fail-on"),
    ("[tool.losscheck.thresholds]\nspike-z-thres = 5\n", "spike-z-thres", "spike-z-thresh"),
    ("[tool.losscheck.metrics]\neval-los = 'val'\n", "eval-los", "eval-loss"),
    ("[tool.losscheck]\nselect = ['LC1O1']\n", "LC1O1", "LC101"),
    ("[tool.losscheck.severity]\nloss-divergin = 'error'\n", "loss-divergin", "loss-diverging"),
])
def test_misspelled_config_key_or_code_gets_one_did_you_mean_line(tmp_path, table, wrong, right):
    code, out, err = diagnose_with_config(tmp_path, table)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert f"{wrong!r}" in line and f"did you mean {right!r}?" in line
    assert "pyproject.toml" in line
    assert "allowed:" not in line  # no dump of every name
    assert len(line) < 250


def test_unknown_threshold_without_a_close_name_does_not_list_all_names(tmp_path):
    code, _, err = diagnose_with_config(tmp_path, "[tool.losscheck.thresholds]\nqqqqqqqq = 1\n")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "'qqqqqqqq'" in line and "did you mean" not in line and len(line) < 250


def test_misspelled_rule_code_on_the_command_line_gets_did_you_mean():
    code, _, err = run("diagnose", DEMO, "--select", "LC1O1", "--isolated")
    assert code == 2 and "--select" in err and "did you mean 'LC101'?" in err


def test_missing_metric_from_config_is_named_as_the_config_key(tmp_path):
    code, _, err = diagnose_with_config(tmp_path, "[tool.losscheck.metrics]\nloss = 'nosuch'\n")
    assert code == 2
    assert "--loss" not in err  # the user never typed the flag
    assert "loss = 'nosuch' in [tool.losscheck.metrics]" in err and "pyproject.toml" in err


def test_missing_metric_from_per_path_config_is_named_as_that_entry(tmp_path):
    code, _, err = diagnose_with_config(
        tmp_path, "[tool.losscheck]\n[[tool.losscheck.per-path]]\npath = '*'\nmetrics = { lr = 'nolr' }\n")
    assert code == 2 and "--lr" not in err and "lr = 'nolr' in per-path[0].metrics" in err


def test_missing_metric_from_the_flag_is_named_as_the_flag(tmp_path):
    code, _, err = diagnose_with_config(tmp_path, "[tool.losscheck.metrics]\nloss = 'loss'\n", "--loss", "nope")
    assert code == 2 and "--loss 'nope'" in err and "[tool.losscheck.metrics]" not in err


def test_config_command_does_not_print_metric_origins(tmp_path):
    (tmp_path / "losscheck.toml").write_text("[metrics]\nloss = 'x'\n[[per-path]]\npath = '*'\nmetrics = { lr = 'y' }\n")
    code, out, _ = run("config", "--config", tmp_path / "losscheck.toml")
    assert code == 0 and "origin" not in out and "loss = \"x\"" in out


def test_rules_json_lists_every_rule_with_its_thresholds():
    import dataclasses
    import json

    from losscheck.rules import all_rules

    code, out, _ = run("rules", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    rules = all_rules()
    assert [d["code"] for d in doc] == [r.code for r in rules]
    for d, r in zip(doc, rules):
        assert set(d) >= {"code", "name", "summary", "severity", "options"}
        assert (d["name"], d["severity"], d["summary"]) == (r.name, r.severity, r.summary)
        want = {f.name.replace("_", "-"): f.default for f in dataclasses.fields(r.Options)}
        assert {o["name"]: o["default"] for o in d["options"]} == want
        assert all(set(o) >= {"name", "default", "unit"} for o in d["options"])
    assert any(o["unit"] == "steps" for d in doc for o in d["options"])
    # a few rows spelled out, not rebuilt from the same fields walk (defaults of the rules' docs)
    opts = {d["code"]: {o["name"]: o["default"] for o in d["options"]} for d in doc}
    assert opts["LC301"]["min-run-steps"] == 1000 and opts["LC301"]["warmup-fraction"] == 0.03
    assert opts["LC105"] == {"knocked-up": 1.5, "knocked-up-z": 5.0, "adam-lr-factor": 30.0}


def test_rules_text_is_unchanged_and_bad_format_is_a_usage_error():
    code, out, _ = run("rules")
    assert code == 0 and out.splitlines()[0].startswith("LC101")
    code, out, err = run("rules", "--format", "yaml")
    assert code == 2 and out == "" and "--format 'yaml'" in err


def test_explain_lists_the_rule_thresholds_with_defaults_and_units():
    import dataclasses

    from losscheck.rules import find_rule

    rule = find_rule("LC301")
    fs = dataclasses.fields(rule.Options)
    assert fs  # the test needs a rule with thresholds
    code, out, _ = run("explain", "LC301")
    assert code == 0 and "Thresholds" in out
    for f in fs:
        assert f"`{f.name.replace('_', '-')}` = {f.default!r}" in out
    assert "(steps)" in out
    code, out, _ = run("explain", "LC104")  # a rule without thresholds has no such section
    assert code == 0 and "Thresholds" not in out


def test_every_threshold_of_every_rule_has_a_unit_and_a_doc_in_explain():
    """Issue 16: ``explain`` lists each rule's thresholds with their defaults and units; a
    threshold whose name says no unit (``epoch-match``, ``knocked-up-z``) carries one, and each
    says what it bounds."""
    from losscheck.rules import all_rules
    from losscheck.rules.docs import rule_thresholds

    seen = 0
    for rule in all_rules():
        th = rule_thresholds(rule)
        if not th:
            continue
        code, out, _ = run("explain", rule.code)
        assert code == 0
        for t in th:
            assert t["unit"] and t["doc"], (rule.code, t["name"])
            assert f"`{t['name']}` = {t['default']!r} ({t['unit']}): {t['doc']}" in out
            seen += 1
    assert seen >= 40


def test_several_outputs_from_one_diagnosis(tmp_path):
    import json
    import xml.etree.ElementTree as ET

    html, junit, doc = tmp_path / "r.html", tmp_path / "r.xml", tmp_path / "r.json"
    code, out, _ = run("diagnose", DEMO, "-f", "github", "-f", f"html:{html}", "--format", f"junit:{junit}",
                       "-f", f"json:{doc}")
    assert code == 1
    assert out.startswith("::error ") and "LC101" in out  # the format without a file, on stdout
    assert "<svg" in html.read_text()
    assert ET.parse(junit).getroot().tag in ("testsuites", "testsuite")
    one = json.loads(doc.read_text())
    # the same diagnosis as a run of its own
    code2, alone, _ = run("diagnose", DEMO, "-f", "json")
    assert code2 == 1
    strip = lambda d: [(r["run"], r["status"], r["diagnosis"]) for r in d["runs"]]  # noqa: E731
    assert strip(one) == strip(json.loads(alone))


def test_only_files_named_keeps_text_on_stdout(tmp_path):
    code, out, _ = run("diagnose", DEMO, "-f", f"junit:{tmp_path / 'r.xml'}")
    assert code == 1 and "FAILING" in out and (tmp_path / "r.xml").stat().st_size > 0


@pytest.mark.parametrize("args,needle", [
    (["-f", "json", "-f", "text"], "only one format goes to standard output"),
    (["-f", "html:", ], "no file after ':'"),
    (["-f", "xml:r.xml"], "unknown format 'xml'"),
])
def test_bad_output_specs_are_usage_errors(tmp_path, args, needle):
    code, out, err = run("diagnose", DEMO, *args)
    assert code == 2 and out == "" and needle in err


def test_two_formats_into_one_file_is_refused(tmp_path):
    target = tmp_path / "r.out"
    code, _, err = run("diagnose", DEMO, "-f", f"json:{target}", "-f", f"html:{target}")
    assert code == 2 and "two formats" in err and not target.exists()


def test_an_output_file_inside_the_diagnosed_run_is_refused(tmp_path):
    import shutil

    shutil.copytree(DEMO, tmp_path / "run")
    code, _, err = run("diagnose", tmp_path / "run", "-f", f"html:{tmp_path / 'run' / 'r.html'}")
    assert code == 2 and not (tmp_path / "run" / "r.html").exists()


def test_readme_ci_recipes_diagnose_once_and_usage_shows_the_new_flags():
    from tests.conftest import SAMPLE_RUNS as runs

    readme = (runs.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    assert blocks
    for block in blocks:
        assert len(re.findall(r"losscheck diagnose ", block)) <= 1, block
    usage = readme.split("## Usage", 1)[1].split("\n## ", 1)[0]
    for flag in ("FORMAT[:FILE]", "-q|--quiet", "-v|--verbose", "--color", "NO_COLOR", "FORCE_COLOR",
                 "rules [--format json]"):
        assert flag in usage, flag

"""Tests for the CI output formats: markdown, github, junit, sarif.

Reports are built directly from the model dataclasses (no log files), with awkward
characters (``|``, newlines, ``%``, ``,``, ``:``, ``<&>``, non-ASCII) in messages and paths.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest

from losscheck.formats import all_formats, get_format
from losscheck.formats.github import escape_data, escape_property
from losscheck.formats.markdown import md_text
from losscheck.formats.sarif import artifact_location, information_uri, pascal_case
from losscheck.model import (Finding, MetricInfo, ReadNote, Remedy, RemedyVote, Report, RunError,
                             RunReport)
from losscheck.rules import all_rules

AWKWARD = "loss | grew\nby 50%, see: <step & co> — ünïcødé"
FAIL_PATH = "runs/sweep,a:b/lr=5e-4 | ü"
FAIL_SOURCE = FAIL_PATH + "/events.out.tfevents.1"
WARN_PATH = "runs/warn-run"
OK_PATH = "runs/ok"
ERR_PATH = "runs/broken%<&>.csv"


def _metric(role: str, source: str) -> MetricInfo:
    return MetricInfo(role, f"train/{role}", source, 100, 0, 990)


def failing_run() -> RunReport:
    findings = [
        Finding("LC101", "loss-diverging", "error", "loss", 840, AWKWARD,
                {"rate": 0.01, "bad": float("nan")}, [RemedyVote("rollback", 0.5, "e"),
                                                     RemedyVote("lower_lr", 1.0, "e")]),
        Finding("LC202", "grad-overflow-skipped", "warning", "grad_norm", 12,
                "3 steps skipped,\r\nfp16: overflow", {}, [RemedyVote("grad_clip", 0.3, "e")]),
    ]
    remedies = [
        Remedy(1, "lower_lr", "Lower the peak LR | 3-10x", "onset at LR peak\n(5e-4)",
               {"learning_rate": 1e-4, "candidates": [5e-5, 1e-4]}, 0.9),
        Remedy(2, "rollback", "Roll back to step 800", "last healthy checkpoint", {"step": 800}, 0.5),
        Remedy(3, "grad_clip", "Clip gradients", "grad norm surged first", {"max_grad_norm": 1.0}, 0.3),
    ]
    return RunReport(FAIL_PATH, "failing", "diverging", ["spiking"], 840,
                     {"loss": _metric("loss", FAIL_SOURCE), "grad_norm": _metric("grad_norm", FAIL_SOURCE)},
                     [], findings, remedies, [ReadNote(FAIL_SOURCE, "truncated record", "warning")])


def warning_run() -> RunReport:
    findings = [Finding("LC105", "loss-plateau", "warning", "eval_loss", 300, "plateau at 2.30 = ln(10)",
                        {}, [RemedyVote("check_labels", 1.0, "e")])]
    remedies = [Remedy(1, "check_labels", "Check the labels", "level equals chance", {})]
    return RunReport(WARN_PATH, "warning", "plateau", [], 300,
                     {"loss": _metric("loss", WARN_PATH + "/metrics.csv"),
                      "eval_loss": _metric("eval_loss", WARN_PATH + "/eval.csv")},
                     [], findings, remedies)


def healthy_run() -> RunReport:
    return RunReport(OK_PATH, "healthy", "converging", [], None,
                     {"loss": _metric("loss", OK_PATH + "/log.jsonl")}, [], [], [])


def make_report(fail_on: str = "error") -> Report:
    return Report([failing_run(), warning_run(), healthy_run()],
                  [RunError(ERR_PATH, "cannot parse: line 3\nbad | cell", "unreadable")],
                  "0.1.0", fail_on)


def render(name: str, report: Report | None = None) -> str:
    fmt = get_format(name)
    assert fmt is not None, f"format {name} not registered"
    return fmt.render(report or make_report())


# --------------------------------------------------------------------------- registry / general


@pytest.mark.parametrize("name", ["markdown", "github", "junit", "sarif", "html"])
def test_registered_and_deterministic(name):
    assert name in all_formats()
    a, b = render(name), render(name)
    assert a == b
    assert a.endswith("\n")


@pytest.mark.parametrize("name", ["markdown", "github", "junit", "sarif", "html"])
def test_empty_report_renders(name):
    out = render(name, Report([], [], "0.1.0"))
    assert out.strip()


@pytest.mark.parametrize("name", ["markdown", "github", "junit", "sarif", "html"])
def test_undecodable_path_still_writable(name):
    """A lone surrogate (undecodable file-name byte) must not make UTF-8 writing fail."""
    rep = make_report()
    rep.errors.append(RunError("runs/bad\udcff.csv", "unreadable \udcff", "unreadable"))
    out = render(name, rep)
    out.encode("utf-8")
    assert "\ufffd" in out


# --------------------------------------------------------------------------- markdown


def _table_rows(md: str) -> list[str]:
    lines = md.splitlines()
    start = lines.index("| run | status | class | onset (step/epoch) | top remedy |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def test_markdown_one_row_per_run_with_escaped_pipes():
    md = render("markdown")
    rows = _table_rows(md)
    assert len(rows) == 3
    for row in rows:
        assert len(_cells(row)) == 5, row
    first = _cells(rows[0])
    assert first[0] == md_text(FAIL_PATH) and "\\|" in first[0]
    assert first[1].startswith("failing")
    assert first[2] == "diverging (also: spiking)"
    assert first[3] == "840"
    assert "lower\\_lr" in first[4] and "\\|" in first[4]
    assert _cells(rows[2])[3] == ""  # healthy run: no onset


def test_markdown_sections_findings_remedies_errors():
    md = render("markdown")
    assert md.splitlines()[2].startswith("**3 run(s): 1 failing, 1 warning, 1 healthy; 1 path(s) not diagnosed**")
    for path in (FAIL_PATH, WARN_PATH):
        assert f"### {md_text(path)}" in md
    assert f"### {md_text(OK_PATH)}" not in md  # a healthy run is its table row
    # the awkward message stays on one table line, newline as <br>, markup escaped
    row = next(line for line in md.splitlines() if line.startswith("| LC101 "))
    assert "<br>" in row and "\\<step \\& co\\>" in row and "ünïcødé" in row
    assert len(_cells(row)) == 5
    assert "| LC202 | grad-overflow-skipped | warning | 12 |" in md
    # ranked remedies with id, evidence and settings
    assert "1. **Lower the peak LR \\| 3-10x** (`lower_lr`): onset at LR peak<br>(5e-4)" in md
    assert "   - Settings: `learning_rate=0.0001, candidates=[5e-05, 0.0001]`" in md
    assert "3. **Clip gradients** (`grad_clip`)" in md
    assert "### Not diagnosed" in md
    assert "cannot parse: line 3<br>bad \\| cell" in md


def test_baselined_findings_are_mentioned_but_not_counted():
    rep = make_report()
    rep.runs[1].baselined = [Finding("LC103", "loss-spikes", "warning", "loss", 50, "old spike")]
    assert "Already in the baseline (not counted): LC103 loss-spikes." in render("markdown", rep)
    root = ET.fromstring(render("junit", rep).encode("utf-8"))
    case = next(c for c in root.iter("testcase") if c.get("name") == WARN_PATH)
    assert "baseline (not counted): LC103" in case.find("system-out").text
    assert "LC103" not in render("github", rep)
    assert all(r["ruleId"] != "LC103" for r in _sarif(rep)["runs"][0]["results"])


def test_markdown_gate_follows_fail_on():
    assert "**FAIL**" in render("markdown", make_report("error"))
    rep = make_report("error")
    rep.runs = [warning_run(), healthy_run()]
    assert "**pass**" in render("markdown", rep)
    assert "gate disabled" in render("markdown", make_report("never"))


# --------------------------------------------------------------------------- github


def test_github_escaping_helpers():
    assert escape_data("a%b\r\nc:d,e") == "a%25b%0D%0Ac:d,e"
    assert escape_property("a%b\r\nc:d,e") == "a%25b%0D%0Ac%3Ad%2Ce"
    assert escape_data("100%0A") == "100%250A"  # % escaped first: no double decoding


def test_github_one_line_per_finding_error_and_summary():
    out = render("github")
    lines = out.splitlines()
    n_findings = sum(len(r.findings) for r in make_report().runs)
    assert len(lines) == n_findings + 1 + 1
    assert all(line.startswith("::") for line in lines)
    assert lines[-1].startswith("::notice::") and "3 run(s): 1 failing" in lines[-1]
    assert lines[-1].endswith("(--fail-on error: FAIL)")
    for line in lines:
        assert "\n" not in line and "\r" not in line


def _parse_command(line: str):
    m = re.match(r"^::(\w+)(?: ([^:]*))?::(.*)$", line)
    assert m, line
    props = {}
    if m.group(2):
        for part in m.group(2).split(","):
            k, v = part.split("=", 1)
            props[k] = v
    return m.group(1), props, m.group(3)


def _unescape(s: str) -> str:
    return (s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",")
            .replace("%25", "%"))


def test_github_finding_lines_escaped_and_located():
    lines = render("github").splitlines()
    cmd, props, msg = _parse_command(lines[0])
    assert cmd == "error"
    assert _unescape(props["file"]) == FAIL_SOURCE
    assert "%2C" in props["file"] and "%3A" in props["file"]
    assert _unescape(props["title"]) == "LC101 loss-diverging"
    assert AWKWARD in _unescape(msg)
    assert "%25" in msg and "%0A" in msg
    assert "Top remedy: Lower the peak LR | 3-10x (lower_lr)" in _unescape(msg)
    warn = [ln for ln in lines if ln.startswith("::warning")]  # lines are grouped by level
    cmd, props, msg = _parse_command(warn[0])
    assert cmd == "warning" and "%0D%0A" in msg
    assert "grad_clip" in msg  # the remedy this finding voted for, not the run's rank 1
    cmd, props, msg = _parse_command(warn[1])
    assert cmd == "warning" and _unescape(props["file"]) == WARN_PATH + "/eval.csv"


def test_github_info_is_notice_and_roleless_uses_run_path():
    rep = Report([RunReport("runs/x", "healthy", "converging", [], None, {}, [],
                            [Finding("LC108", "insufficient-data", "info", None, None, "only 5 points")], [])],
                 [], "0.1.0", "never")
    lines = render("github", rep).splitlines()
    cmd, props, msg = _parse_command(lines[0])
    assert cmd == "notice" and props["file"] == "runs/x"
    assert "FAIL" not in lines[-1] and "pass" not in lines[-1]


def test_merged_series_source_points_to_first_file():
    """A series merged from several files has ``"a, b"`` as source: annotate one real file."""
    rep = make_report()
    rep.runs[1].metrics["eval_loss"].source = "runs/warn-run/eval1.csv, runs/warn-run/eval2.csv"
    line = [ln for ln in render("github", rep).splitlines() if ln.startswith("::warning")][1]
    assert _parse_command(line)[1]["file"] == "runs/warn-run/eval1.csv"
    res = _sarif(rep)["runs"][0]["results"][2]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "runs/warn-run/eval1.csv"
    assert [x["physicalLocation"]["artifactLocation"]["uri"] for x in res["relatedLocations"]] == \
        ["runs/warn-run/eval2.csv"]


def test_github_errors_are_error_commands():
    lines = render("github").splitlines()
    cmd, props, msg = _parse_command([ln for ln in lines if ln.startswith("::error") and "title=" not in ln][0])
    assert cmd == "error"
    assert _unescape(props["file"]) == ERR_PATH and "title" not in props
    assert _unescape(msg) == "unreadable: cannot parse: line 3\nbad | cell"


# --------------------------------------------------------------------------- junit


def _junit(fail_on: str) -> ET.Element:
    return ET.fromstring(render("junit", make_report(fail_on)).encode("utf-8"))


@pytest.mark.parametrize("fail_on,failures", [("error", 1), ("warning", 2), ("never", 0)])
def test_junit_counts_per_fail_on(fail_on, failures):
    root = _junit(fail_on)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "losscheck"
    suite = suites[0]
    cases = suite.findall("testcase")
    assert len(cases) == 4
    assert all(c.get("classname") == "losscheck" for c in cases)
    assert len(suite.findall("testcase/failure")) == failures
    assert len(suite.findall("testcase/error")) == 1
    for el in (root, suite):
        assert (el.get("tests"), el.get("failures"), el.get("errors"), el.get("skipped")) == \
            ("4", str(failures), "1", "0")


def test_junit_failure_content_and_escaping():
    root = _junit("error")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {FAIL_PATH, WARN_PATH, OK_PATH, ERR_PATH}
    fail = cases[FAIL_PATH].find("failure")
    assert fail.get("type") == "LC101"
    assert fail.get("message") == f"diverging (also: spiking): LC101 loss-diverging: {AWKWARD}"
    assert "LC202 grad-overflow-skipped" in fail.text
    assert "1. Lower the peak LR | 3-10x [lower_lr]" in fail.text and "3. Clip gradients" in fail.text
    assert "try: learning_rate=0.0001" in fail.text
    # warning run passes under fail_on=error; its findings are kept in system-out
    warn = cases[WARN_PATH]
    assert warn.find("failure") is None
    assert "LC105 loss-plateau" in warn.find("system-out").text
    assert len(list(cases[OK_PATH])) == 0
    err = cases[ERR_PATH].find("error")
    assert err.get("type") == "unreadable" and err.get("message") == "cannot parse: line 3\nbad | cell"


def test_junit_warning_gate_uses_warning_code():
    root = _junit("warning")
    case = next(c for c in root.iter("testcase") if c.get("name") == WARN_PATH)
    assert case.find("failure").get("type") == "LC105"


def test_junit_control_characters_do_not_break_xml():
    rep = make_report()
    rep.runs[0].findings[0].message = "bell\x07 and nul\x00"
    root = ET.fromstring(render("junit", rep).encode("utf-8"))
    assert "bell\ufffd" in next(root.iter("failure")).get("message")


# --------------------------------------------------------------------------- sarif


def _sarif(report: Report | None = None) -> dict:
    return json.loads(render("sarif", report))


def test_sarif_required_fields():
    doc = _sarif()
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "losscheck" and driver["version"] == "0.1.0"
    # optional in SARIF: present exactly when the package declares a documentation URL, then https
    uri = information_uri()
    if uri is None:
        assert "informationUri" not in driver
    else:
        assert driver["informationUri"] == uri and uri.startswith("https://")
    codes = [r.code for r in all_rules()]
    assert [r["id"] for r in driver["rules"]] == codes
    for desc, rule in zip(driver["rules"], all_rules()):
        assert desc["name"] == pascal_case(rule.name) and re.fullmatch(r"[A-Z][A-Za-z0-9]*", desc["name"])
        assert desc["shortDescription"]["text"] == rule.summary
        assert desc["fullDescription"]["text"] == rule.what
        assert rule.fix in desc["help"]["text"] and rule.why in desc["help"]["markdown"]
        assert desc["defaultConfiguration"]["level"] == {"error": "error", "warning": "warning",
                                                         "info": "note"}[rule.severity]


def test_sarif_results_point_to_rules():
    doc = _sarif()
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == sum(len(r.findings) for r in make_report().runs) == 3
    for res in results:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        assert res["message"]["text"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        # only unreserved characters, "/" and percent-escapes (RFC 3986), and it decodes back
        assert re.fullmatch(r"(?:[A-Za-z0-9\-._~/]|%[0-9A-F]{2})+", uri), uri
        assert unquote(uri) in (FAIL_SOURCE, WARN_PATH + "/eval.csv")
    first = results[0]
    assert first["ruleId"] == "LC101" and first["level"] == "error"
    assert first["message"]["text"].startswith(AWKWARD)
    assert "Top remedy: Lower the peak LR | 3-10x (lower_lr)." in first["message"]["text"]
    loc = first["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc["uriBaseId"] == "%SRCROOT%"
    assert loc["uri"] == "runs/sweep%2Ca%3Ab/lr%3D5e-4%20%7C%20%C3%BC/events.out.tfevents.1"
    props = first["properties"]
    assert props["step"] == 840 and props["role"] == "loss" and props["run"] == FAIL_PATH
    assert props["class"] == "diverging"
    assert [m["id"] for m in props["remedies"]] == ["lower_lr", "rollback", "grad_clip"]
    assert props["evidence"]["bad"] == "NaN"  # strict JSON
    assert results[2]["ruleId"] == "LC105" and results[2]["level"] == "warning"
    fps = {r["partialFingerprints"]["losscheckFinding/v1"] for r in results}
    assert len(fps) == 3


def test_sarif_errors_as_notifications():
    inv = _sarif()["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is True
    notes = inv["toolExecutionNotifications"]
    assert len(notes) == 1 and notes[0]["level"] == "error"
    assert notes[0]["message"]["text"] == "cannot parse: line 3\nbad | cell"
    assert notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "runs/broken%25%3C%26%3E.csv"
    only_errors = Report([], [RunError("x.csv", "boom", "unreadable")], "0.1.0")
    inv = _sarif(only_errors)["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert _sarif(only_errors)["runs"][0]["results"] == []


def test_sarif_unknown_rule_gets_descriptor():
    rep = Report([RunReport("r", "warning", "spiking", [], None, {}, [],
                            [Finding("LC999", "custom-check", "info", None, None, "custom")], [])], [], "0.1.0")
    run = _sarif(rep)["runs"][0]
    res = run["results"][0]
    desc = run["tool"]["driver"]["rules"][res["ruleIndex"]]
    assert desc["id"] == "LC999" and desc["name"] == "CustomCheck"
    assert res["level"] == "note"


def test_sarif_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = artifact_location(str(tmp_path / "runs" / "a b.csv"))
    assert inside == {"uri": "runs/a%20b.csv", "uriBaseId": "%SRCROOT%"}
    outside = artifact_location("/elsewhere/ü.csv")
    assert outside == {"uri": "file:///elsewhere/%C3%BC.csv"}


def test_sarif_is_strict_json():
    rep = make_report()
    rep.runs[0].remedies[0].settings["x"] = math.inf
    text = render("sarif", rep)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def test_every_report_carries_a_fixed_size_digest_and_formats_own_their_printing():
    """The core computes the same report whatever the format; a format draws the digest or not."""
    from pathlib import Path

    from losscheck.formats import all_formats, format_names
    from losscheck.model import DIGEST_BINS
    from losscheck.pipeline import diagnose

    assert format_names() == list(all_formats())  # the help's list is the registry
    assert all(name == fmt.name for name, fmt in all_formats().items())
    assert [n for n, f in all_formats().items() if f.for_people] == ["html", "text"]
    root = Path(__file__).resolve().parents[2] / "sample_runs"
    rep = diagnose(root)
    assert all(r.digest and all(0 < len(v) <= DIGEST_BINS for v in r.digest.values()) for r in rep.runs)


def test_the_cli_names_no_format_but_its_default():
    """Formats own how they print: the CLI asks them (for_people, draw), never checks a name."""
    import re
    from pathlib import Path

    import losscheck.cli as cli
    from losscheck.formats import format_names

    src = Path(cli.__file__).read_text(encoding="utf-8")
    assert ".name ==" not in src
    for name in format_names():
        assert len(re.findall(rf'"{name}"', src)) <= (1 if name == "text" else 0), name  # the default


def _many_findings_report(n_runs: int = 43) -> Report:
    """A sweep with more findings of every level than GitHub shows (10 per level)."""
    runs = []
    for i in range(n_runs):
        status = ("failing", "warning", "healthy")[i % 3]
        f = [Finding("LC103", "loss-spikes", "warning", "loss", 5, f"w{i}"),
             Finding("LC301", "lr-no-warmup", "info", None, None, f"n{i}")]
        if status == "failing":
            f.insert(0, Finding("LC101", "loss-diverging", "error", "loss", 10, f"e{i}"))
        runs.append(RunReport(f"runs/r{i:02d}", status, "diverging", [], 10, {}, [], f, [], confidence=i / 100))
    return Report(runs, [], "0.1.0")


def test_github_caps_each_level_at_ten_worst_first_and_keeps_the_summary():
    rep = _many_findings_report()
    lines = render("github", rep).splitlines()
    levels = [_parse_command(ln)[0] for ln in lines]
    assert levels.count("error") == 10 and levels.count("warning") == 10 and levels.count("notice") == 10
    cmd, _, summary = _parse_command(lines[-1])
    assert cmd == "notice" and summary.startswith("losscheck 0.1.0: 43 run(s)")
    n_err = sum(r.status == "failing" for r in rep.runs)
    assert f"{n_err - 10} error(s), {43 - 10} warning(s), {43 - 9} notice(s)" in _unescape(summary)
    # the worst first: the warnings shown belong to failing runs, most confident first
    warned = [_unescape(_parse_command(ln)[2]) for ln in lines if ln.startswith("::warning")]
    failing = sorted((r for r in rep.runs if r.status == "failing"), key=lambda r: -r.confidence)
    assert [w.split(" ")[0] for w in warned] == [r.run for r in failing[:10]]


def test_github_writes_the_step_summary_when_asked(tmp_path):
    fmt = get_format("github")
    rep = _many_findings_report(5)
    assert fmt.appendices(rep, {}) == []
    target = tmp_path / "summary.md"
    [(where, text)] = fmt.appendices(rep, {"GITHUB_STEP_SUMMARY": str(target)})
    assert where == str(target) and text == get_format("markdown").render(rep)


def test_cli_appends_the_step_summary(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    target = tmp_path / "step-summary.md"
    target.write_text("earlier step\n", encoding="utf-8")
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(target), PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-m", "losscheck", "diagnose", str(root / "sample_runs" / "qwen-style-diverge"),
                          "-f", "github"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 1 and out.stdout.startswith("::")
    text = target.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## losscheck") and "qwen-style-diverge" in text  # appended, not replaced


def test_markdown_failing_first_healthy_in_one_row_and_valid_commonmark():
    from markdown_it import MarkdownIt

    rep = make_report()
    rep.runs = [healthy_run(), warning_run(), failing_run()]  # alphabetical order would differ
    rep.runs[0].run, rep.runs[1].run, rep.runs[2].run = "a-ok", "b-warn", "c-fail"
    md = render("markdown", rep)
    assert [_cells(r)[0] for r in _table_rows(md)] == ["c-fail", "b-warn", "a-ok"]
    assert "### a-ok" not in md and "### c-fail" in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert html.count("<tr>") == (len(rep.runs) + 1) + (2 + 1) + (1 + 1)  # runs table, two findings tables
    # settings are their own nested item, not run into the remedy's paragraph
    assert re.search(r"<li>Settings: <code>learning_rate=0.0001", html)
    assert "Settings:" not in re.sub(r"<li>Settings:", "", html)


def test_markdown_stays_under_the_comment_limit():
    from losscheck.formats.markdown import MAX_CHARS

    runs = []
    for i in range(600):
        r = failing_run() if i % 2 else warning_run()
        r.run = f"sweeps/lr-{i:03d}-" + "x" * 40
        runs.append(r)
    md = render("markdown", Report(runs, [RunError(f"bad{i}", "unreadable " * 20) for i in range(400)], "0.1.0"))
    assert len(md) <= MAX_CHARS
    assert "more run(s) not listed" in md and "more run section(s) not shown" in md
    assert "more path(s) not diagnosed" in md
    small = render("markdown")  # a small report is whole
    assert "more" not in small


def test_sarif_message_sentences_and_no_made_up_information_uri():
    doc = _sarif(make_report())
    driver = doc["runs"][0]["tool"]["driver"]
    assert "pypi.org" not in json.dumps(driver)  # never published there
    uri = driver.get("informationUri")
    assert uri is None or uri.startswith("https://")
    rep = make_report()
    rep.runs[0].findings[0].message = "loss grows x2 every 6.79 steps for 4 classes"
    text = _sarif(rep)["runs"][0]["results"][0]["message"]["text"]
    assert "for 4 classes. Top remedy: " in text
    rep.runs[0].findings[0].message = "ends with a stop."
    assert "stop.. " not in _sarif(rep)["runs"][0]["results"][0]["message"]["text"]

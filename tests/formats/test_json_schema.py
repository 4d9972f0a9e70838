"""docs/report.schema.json describes what ``-f json`` and ``-f jsonl`` write.

Real output of real runs (every sample run, the sample sweep, a run against a baseline, a bad
file, a streamed JSON Lines output, the runs of ../shared/real_runs when present) must
validate; documents broken on purpose must not (the schema is not vacuous); and the schema's
enums are the code's vocabularies (statuses, classes, severities, roles, rule codes, remedy
ids, error kinds), so neither can change without the other.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from tests.conftest import REPO, SAMPLE_RUNS

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = REPO / "docs" / "report.schema.json"
LINE_SCHEMA_PATH = REPO / "docs" / "report-line.schema.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def line_validator(schema):
    """Validates one JSON line through docs/report-line.schema.json, which refers to the main
    schema by its ``$id`` (as a consumer loads the pair)."""
    from referencing import Registry, Resource

    line = json.loads(LINE_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(line)
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return jsonschema.Draft202012Validator(line, registry=registry)


def diagnose(*args) -> tuple[int, str]:
    res = runner.invoke(app, ["diagnose", *map(str, args)])
    return res.exit_code, res.stdout


def errors_of(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]


def json_report(*args) -> dict:
    code, out = diagnose(*args, "-f", "json")
    assert code in (0, 1), out
    return json.loads(out)


# --------------------------------------------------------------------------- real output validates


#: every labelled sample run (a folder may hold several: ``lr-sweep/`` holds a 12-run sweep)
with open(SAMPLE_RUNS.parent / "benchmarks" / "sample_runs_labels.csv", newline="") as _fh:
    SAMPLE_NAMES = [row["run"] for row in csv.DictReader(_fh)]


@pytest.mark.parametrize("run", SAMPLE_NAMES)
def test_every_sample_run_validates(validator, run):
    doc = json_report(SAMPLE_RUNS / run)
    assert len(doc["runs"]) == 1
    assert errors_of(validator, doc) == []


def test_the_sample_sweep_validates_and_covers_the_open_and_nullable_parts(validator):
    doc = json_report(SAMPLE_RUNS, "--fail-on", "error:0.8")
    assert len(doc["runs"]) == len(SAMPLE_NAMES)
    assert errors_of(validator, doc) == []
    text = json.dumps(doc)
    # the parts the schema spells out beyond plain numbers are exercised here, not assumed
    assert '"NaN"' in text or '"Infinity"' in text  # a non-finite number spelled as a string
    assert any(c["role"] == "component" for r in doc["runs"] for c in r["curves"])
    assert {r["status"] for r in doc["runs"]} == {"failing", "warning", "healthy"}
    assert any(c["evidence"].get("spikes") for r in doc["runs"] for c in r["curves"])


def test_a_run_against_its_own_baseline_validates_with_baselined_findings(validator, tmp_path):
    run = SAMPLE_RUNS / "qwen-style-diverge"
    base = tmp_path / "base.json"
    base.write_text(json.dumps(json_report(run)), encoding="utf-8")
    doc = json_report(run, "--baseline", base)
    assert doc["runs"][0]["baselined"], "the baseline held the same findings"
    assert errors_of(validator, doc) == []


def test_a_bad_file_beside_a_good_run_validates_with_its_error(validator, tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "trainer_state.json").write_text('{"log_history": [{"loss": 1.0, "step": ', encoding="utf-8")
    code, out = diagnose(SAMPLE_RUNS / "healthy-converge-floor", bad, "-f", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert len(doc["runs"]) == 1 and len(doc["errors"]) == 1
    assert errors_of(validator, doc) == []


def test_nothing_diagnosed_still_validates(validator, tmp_path):
    (tmp_path / "empty.csv").write_text("step,loss\n", encoding="utf-8")
    code, out = diagnose(tmp_path / "empty.csv", "-f", "json")
    assert code == 2
    doc = json.loads(out)
    assert doc["runs"] == [] and doc["errors"]
    assert errors_of(validator, doc) == []


def test_streamed_jsonl_lines_validate(line_validator, tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\x00\x01garbage\xff\n")
    code, out = diagnose(SAMPLE_RUNS, bad, "-f", "jsonl")
    assert code == 1, out
    lines = [json.loads(ln) for ln in out.splitlines()]
    assert [ln["type"] for ln in lines].count("summary") == 1 and lines[-1]["type"] == "summary"
    assert {ln["type"] for ln in lines} == {"run", "error", "summary"}
    for ln in lines:
        assert errors_of(line_validator, ln) == [], ln.get("run") or ln.get("path") or ln["type"]


def test_the_real_runs_validate(validator, real_runs):
    doc = json_report(real_runs, "-j", "1")
    assert len(doc["runs"]) >= 10
    assert errors_of(validator, doc) == []


# --------------------------------------------------------------------------- the schema is not vacuous


def _one_run_doc() -> dict:
    return json_report(SAMPLE_RUNS / "qwen-style-diverge")


@pytest.mark.parametrize("breakage", [
    "drop schema_version", "drop a run's status", "unknown status", "unknown class", "unknown severity",
    "bad rule code", "unknown remedy", "extra top-level key", "extra key in a finding", "bare NaN as null step",
    "string for a count", "schema_version 2", "confidence above 1", "unknown error kind",
])
def test_broken_documents_are_rejected(validator, breakage):
    doc = _one_run_doc()
    run = doc["runs"][0]
    assert errors_of(validator, doc) == []
    if breakage == "drop schema_version":
        del doc["schema_version"]
    elif breakage == "drop a run's status":
        del run["status"]
    elif breakage == "unknown status":
        run["status"] = "sick"
    elif breakage == "unknown class":
        run["diagnosis"]["class"] = "exploding"
    elif breakage == "unknown severity":
        run["findings"][0]["severity"] = "fatal"
    elif breakage == "bad rule code":
        run["findings"][0]["code"] = "LC1O1"
    elif breakage == "unknown remedy":
        run["remedies"][0]["id"] = "pray"
    elif breakage == "extra top-level key":
        doc["verdict"] = "bad"
    elif breakage == "extra key in a finding":
        run["findings"][0]["remedy"] = "x"
    elif breakage == "bare NaN as null step":
        run["findings"][0]["step"] = "NaN"
    elif breakage == "string for a count":
        next(iter(run["metrics"].values()))["points"] = "100"
    elif breakage == "schema_version 2":
        doc["schema_version"] = 2
    elif breakage == "confidence above 1":
        run["diagnosis"]["confidence"] = 1.5
    elif breakage == "unknown error kind":
        doc["errors"].append({"path": "x", "kind": "oops", "message": "x: oops"})
    assert errors_of(validator, doc), breakage


def test_a_jsonl_summary_line_without_its_gate_is_rejected(line_validator):
    line = {"type": "summary", "runs": 1, "failing": 1, "warning": 0, "healthy": 0, "errors": 0, "gate": "fail",
            "fail_on": "error", "tool": {"name": "losscheck", "version": "0"}}
    assert errors_of(line_validator, line) == []
    del line["gate"]
    assert errors_of(line_validator, line)
    assert errors_of(line_validator, {"type": "progress"})


# --------------------------------------------------------------------------- no drift from the code


def _enum(schema: dict, name: str) -> list:
    return schema["$defs"][name]["enum"]


def test_enums_are_the_codes_vocabularies(schema):
    import losscheck.errors as errors
    from losscheck.digest import PLOT_ROLES
    from losscheck.formats.json import SCHEMA_VERSION
    from losscheck.model import CLASSES, ROLES, SEVERITIES, STATUSES
    from losscheck.pipeline import DIGEST_ROLES
    from losscheck.remedies.catalogue import CATALOGUE

    assert _enum(schema, "status") == list(STATUSES)
    assert _enum(schema, "class") == list(CLASSES)
    assert _enum(schema, "severity") == list(SEVERITIES)
    assert set(_enum(schema, "role")) == set(ROLES) | set(PLOT_ROLES) | set(DIGEST_ROLES)
    assert _enum(schema, "remedy_id") == list(CATALOGUE)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION

    def kinds(cls):
        for sub in cls.__subclasses__():
            yield sub.kind
            yield from kinds(sub)

    # every error class's kind, the base class's, and the pipeline's "internal" (a bug, reported)
    assert set(_enum(schema, "error_kind")) == {errors.LosscheckError.kind, *kinds(errors.LosscheckError), "internal"}


def test_every_rule_code_and_name_matches_the_schemas_patterns(schema):
    import re

    from losscheck.rules import all_rules

    code = re.compile(schema["$defs"]["rule_code"]["pattern"])
    name = re.compile(schema["$defs"]["finding"]["properties"]["name"]["pattern"])
    rules = all_rules()
    assert len(rules) >= 20
    for rule in rules:
        assert code.fullmatch(rule.code), rule.code
        assert name.fullmatch(rule.name), rule.name
    assert not code.fullmatch("LC10") and not code.fullmatch("XX101")


def test_fail_on_pattern_accepts_what_the_gate_parser_accepts(schema):
    import re

    from losscheck.errors import FAIL_ON, parse_fail_on

    pat = re.compile(schema["$defs"]["fail_on"]["pattern"])
    for good in [*FAIL_ON, "error:0.8", "warning:1"]:
        parse_fail_on(good)
        assert pat.fullmatch(good), good
    assert not pat.fullmatch("fatal") and not pat.fullmatch("never:0.5")


def test_the_run_object_and_the_jsonl_run_line_list_the_same_keys(schema):
    """A jsonl run line is the JSON report's run object plus ``type`` (both are closed objects)."""
    d = schema["$defs"]
    assert list(d["run_line"]["properties"]) == ["type", *d["run"]["properties"]]
    assert d["run_line"]["required"] == ["type", *d["run"]["required"]]
    assert list(d["error_line"]["properties"]) == ["type", *d["error"]["properties"]]


def test_the_keys_the_code_writes_are_the_keys_the_schema_lists(schema):
    """Built from a report with every optional part filled, the run document's keys (at every
    fixed level) are the schema's, so a key added to json.py fails here until it is described."""
    from losscheck.formats._common import run_document
    from losscheck.formats.json import JsonFormat
    from losscheck.model import Report
    from tests.formats.test_formats import failing_run

    run = failing_run()
    doc = JsonFormat().document(Report([run], [], "0.1.0"))
    d = schema["$defs"]
    assert set(doc) == set(schema["required"])
    rd = run_document(run)
    assert set(rd) == set(d["run"]["properties"])
    assert set(rd["diagnosis"]) == set(d["run"]["properties"]["diagnosis"]["properties"])
    assert set(rd["findings"][0]) == set(d["finding"]["properties"])
    assert set(rd["remedies"][0]) == set(d["remedy"]["properties"])
    assert set(rd["notes"][0]) == set(d["note"]["properties"])
    assert set(next(iter(rd["metrics"].values()))) == set(d["metric"]["properties"])
    assert Path(SCHEMA_PATH).is_file()

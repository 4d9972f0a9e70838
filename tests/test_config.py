from pathlib import Path

import pytest

from losscheck.catalogue import vocabulary
from losscheck.config import Settings
from losscheck.config import load_config as _load_config
from losscheck.errors import UsageError


def load_config(*args, **kwargs):
    return _load_config(*args, vocabulary=vocabulary(), **kwargs)


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_discovered_upward_from_the_run_path(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.losscheck]\nignore = ["LC106"]\nnum-classes = 4\n')
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    cfg = load_config(run)
    assert cfg.file == tmp_path / "pyproject.toml"
    assert cfg.settings.ignore == ("LC106",) and cfg.settings.num_classes == 4
    assert cfg.sources["ignore"] == str(tmp_path / "pyproject.toml") and "select" not in cfg.sources


def test_losscheck_toml_nearer_wins_and_pyproject_without_table_is_skipped(tmp_path):
    write(tmp_path / "losscheck.toml", 'fail-on = "warning"\n')
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "x"\n')
    cfg = load_config(tmp_path / "sub")
    assert cfg.file == tmp_path / "losscheck.toml" and cfg.settings.fail_on == "warning"


def test_flags_override_the_file(tmp_path):
    write(tmp_path / "losscheck.toml", 'fail-on = "warning"\n[metrics]\nloss = "a"\neval-loss = "b"\n')
    cfg = load_config(tmp_path)
    cfg.apply_flags({"fail_on": "never", "metrics": {"loss": "c"}, "select": None})
    assert cfg.settings.fail_on == "never" and cfg.sources["fail_on"] == "command line"
    assert cfg.settings.metrics == {"loss": "c", "eval_loss": "b"}


def test_flags_override_per_path_entries(tmp_path):
    """Precedence: defaults < the file < a matching [[per-path]] entry < command-line flags."""
    write(tmp_path / "losscheck.toml", 'num-classes = 3\nstrict = true\n[[per-path]]\npath = "gan-*"\n'
          'num-classes = 5\n[per-path.thresholds]\nmin-points = 12\n')
    cfg = load_config(tmp_path)
    assert cfg.for_run(tmp_path / "gan-1").num_classes == 5 and cfg.for_run(tmp_path / "mlp").num_classes == 3
    cfg.apply_flags({"num_classes": 7, "thresholds": {"spike-z-thresh": 9.0}})
    gan = cfg.for_run(tmp_path / "gan-1")
    assert gan.num_classes == 7 and gan.strict is True
    assert gan.thresholds == {"min-points": 12, "spike-z-thresh": 9.0}


def test_settings_defaults_are_written_once():
    """Every default lives on Settings; LC901 owns the baseline tolerance's."""
    from losscheck.rules.lc901_loss_regression import TOLERANCE

    assert Settings().baseline_tolerance is None and Settings().fail_on == "error"
    assert vocabulary().thresholds["baseline-tolerance"] == TOLERANCE


@pytest.mark.parametrize("text,match", [
    ('bogus = 1\n', "unknown key 'bogus'"),
    ('fail-on = "sometimes"\n', "fail-on must be one of"),
    ('num-classes = 1\n', "num-classes must be an integer >= 2"),
    ('ignore = ["LC999"]\n', "matches no rule"),
    ('[severity]\nLC101 = "fatal"\n', "must be one of error, warning, info"),
    ('[thresholds]\nno-such-threshold = 3\n', "unknown key 'no-such-threshold'"),
    ('[metrics]\nloss = 3\n', "non-empty string"),
    ('[[per-path]]\nignore = ["LC106"]\n', "needs a path"),
    ('select = [\n', "invalid TOML"),
])
def test_bad_config_is_a_one_line_usage_error_naming_the_file(tmp_path, text, match):
    p = write(tmp_path / "losscheck.toml", text)
    with pytest.raises(UsageError, match=match) as exc:
        load_config(tmp_path)
    assert str(p) in str(exc.value) and "\n" not in str(exc.value)


def test_per_path_overrides_apply_only_to_matching_runs(tmp_path):
    write(tmp_path / "losscheck.toml", 'ignore = ["LC103"]\n[[per-path]]\npath = "sweeps/gan-*"\n'
          'ignore = ["LC106"]\n[per-path.severity]\nLC107 = "error"\n')
    cfg = load_config(tmp_path)
    gan = cfg.for_run(tmp_path / "sweeps" / "gan-3")
    other = cfg.for_run(tmp_path / "sweeps" / "mlp-1")
    assert gan.ignore == ("LC106",) and gan.severity == {"LC107": "error"}
    assert other.ignore == ("LC103",) and other.severity == {}


def test_explicit_missing_config_and_isolated(tmp_path):
    with pytest.raises(UsageError, match="config file not found"):
        load_config(tmp_path, tmp_path / "nope.toml")
    write(tmp_path / "losscheck.toml", 'bogus = 1\n')
    assert load_config(tmp_path, isolated=True).file is None


def test_detector_thresholds_reach_the_analysis(tmp_path):
    from losscheck.analysis import AnalysisOptions
    from losscheck.catalogue import analysis_options

    names = vocabulary().known_thresholds()
    assert {"min-points", "spike-z-thresh", "plateau-min-decrease", "recurring-spikes"} <= set(names)
    assert "baseline-tolerance" not in names and "divergence" not in names
    write(tmp_path / "losscheck.toml", "[thresholds]\nspike-z-thresh = 9\nmin-points = 12\n")
    opts = analysis_options(load_config(tmp_path).settings, None)
    assert opts.spike.z_thresh == 9 and opts.min_points == 12
    assert opts.plateau.min_decrease == AnalysisOptions().plateau.min_decrease


def test_config_imports_neither_analysis_nor_rules():
    """config is below the analysis and the rules: their names come in as a Vocabulary."""
    import ast

    import losscheck.config as config

    tree = ast.parse(Path(config.__file__).read_text(encoding="utf-8"))
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in mods if m.startswith(("losscheck.analysis", "losscheck.rules"))}


def test_rule_options_are_typed_per_rule_from_the_flat_keys():
    """Each rule gets its own ``Options`` instance: a configured ``[thresholds]`` key sets the field
    of the same name in every rule that has it, others keep the rule's defaults, and
    ``baseline-tolerance`` (a top-level key) reaches LC901."""
    from losscheck.catalogue import rule_options
    from losscheck.rules import all_rules, find_rule

    opts = rule_options(Settings(thresholds={"min-points": 7, "surge-ratio": 4.5}, baseline_tolerance=0.3))
    assert set(opts) == {r.code for r in all_rules()}
    for r in all_rules():
        assert isinstance(opts[r.code], r.Options)
    assert opts["LC203"].min_points == 7 and opts["LC501"].min_points == 7
    assert opts["LC201"].surge_ratio == 4.5
    assert opts["LC203"].clipped_share == find_rule("LC203").options["clipped-share"]
    assert opts["LC901"].baseline_tolerance == 0.3
    assert rule_options(Settings())["LC901"].baseline_tolerance == find_rule("LC901").options["baseline-tolerance"]


def test_fact_options_read_the_keys_and_defaults_the_rules_document():
    """The analysis measures the rules' facts with :class:`FactOptions`: every field is read from a
    ``[thresholds]`` key some rule documents, with that rule's default, and a configured key
    reaches it (``min-points`` reaches both LC203's and LC501's minimum)."""
    import dataclasses

    from losscheck.analysis.facts import FactOptions
    from losscheck.catalogue import analysis_options
    from losscheck.rules import all_rules

    documented = [r.options for r in all_rules()]
    d = FactOptions()
    flat = {f.name: getattr(d, f.name) for f in dataclasses.fields(d) if f.name not in ("surge", "lr_zero")}
    flat.update({g.name: getattr(d.surge, g.name) for g in dataclasses.fields(d.surge)})
    flat.update({g.name: getattr(d.lr_zero, g.name) for g in dataclasses.fields(d.lr_zero)})
    for name, default in flat.items():
        key = FactOptions.KEYS.get(name, name.replace("_", "-"))
        assert any(o.get(key) == default for o in documented), (name, key, default)
    o = analysis_options(Settings(thresholds={"min-points": 7, "surge-ratio": 4.5, "min-share": 0.6})).facts
    assert o.clip_min_points == 7 and o.stall_min_points == 7 and o.surge.surge_ratio == 4.5
    assert o.chance_min_share == 0.6 and o.min_gap == d.min_gap

"""The command line (typer). Thin: parse, call :mod:`losscheck.pipeline`, render, exit.

Exit codes: 0 no run failing; 1 at least one run failing (``--fail-on warning`` makes
warnings fail too; ``never`` never fails); 2 usage or input error (nothing diagnosed), with
a one-line message naming the path and the problem and no traceback (``--debug`` shows it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from losscheck import __version__
from losscheck.errors import EXIT_FAILING, EXIT_OK, EXIT_USAGE, LosscheckError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="losscheck: a doctor for deep-learning training runs.\n\n"
                       "Exit codes: 0 = no run failing, 1 = a run is failing, 2 = usage or input error.")

FAIL_ON = ("error", "warning", "never")


def _die(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"losscheck: {message}" if not message.startswith("losscheck") else message, err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"losscheck {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """losscheck: a doctor for deep-learning training runs."""


@app.command()
def diagnose(
    path: Path = typer.Argument(..., help="A log file, a run directory, or a tree of runs (a sweep)."),
    format: str = typer.Option("text", "--format", "-f",
                               help="Output format: text, json, markdown, github, junit or sarif."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 when a run is failing at this "
                                          "level: error (default), warning or never."),
    loss: Optional[str] = typer.Option(None, "--loss", help="Tag to use as the training loss."),
    eval_loss: Optional[str] = typer.Option(None, "--eval-loss", help="Tag to use as the eval loss."),
    grad_norm: Optional[str] = typer.Option(None, "--grad-norm", help="Tag to use as the grad norm."),
    lr: Optional[str] = typer.Option(None, "--lr", help="Tag to use as the learning rate."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", min=2,
                                              help="Number of classes C, for the chance level ln(C)."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Only these rule codes/prefixes/names."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these rule codes/prefixes/names."),
    strict: Optional[bool] = typer.Option(None, "--strict", help="Any file that cannot be read at all fails its run (files read in part get a note)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Configuration file (losscheck.toml or "
                                          "pyproject.toml); default: found upward from PATH."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore all configuration files."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="A run, or a saved JSON report: fail only "
                                            "on new findings or an eval-loss regression against it."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes for a sweep "
                                       "(default: one per CPU core)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for internal errors and list the "
                               "folders skipped for holding no log."),
) -> None:
    """Diagnose training runs: classify the curves, list findings, rank remedies."""
    from losscheck.formats import all_formats, get_format
    from losscheck.pipeline import diagnose as run_diagnose

    try:
        fmt = get_format(format.lower())
        if fmt is None:
            raise UsageError(None, f"--format {format!r}: unknown (choose from {', '.join(all_formats())})")
        if fail_on is not None and fail_on not in FAIL_ON:
            raise UsageError(None, f"--fail-on {fail_on!r}: choose error, warning or never")
        cfg = _config(path, config, isolated, fail_on=fail_on, num_classes=num_classes, select=select,
                      ignore=ignore, strict=strict, loss=loss, eval_loss=eval_loss, grad_norm=grad_norm, lr=lr)
        progress = None
        if fmt.name == "text" and sys.stderr.isatty():
            progress = _progress_bar()
        base = None
        if baseline is not None:
            from losscheck.baseline import load_baseline

            base = load_baseline(baseline, cfg)
        report = run_diagnose(path, progress=progress, config=cfg, baseline=base, jobs=jobs,
                              sparklines=fmt.sparklines)
    except LosscheckError as exc:
        if debug:
            raise
        _die(exc.one_line())
        return
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:  # never a traceback for users
        if debug:
            raise
        _die(f"{path}: internal error ({type(exc).__name__}: {exc}); re-run with --debug and report it")
        return

    if debug and report.without_logs:
        for d in report.without_logs:
            typer.echo(f"losscheck: {d}: no log found (not a run; skipped)", err=True)
    if not report.runs:
        # nothing could be diagnosed: one line per problem on stderr, exit 2
        for e in report.errors:
            msg = e.message if e.message.startswith(e.path) else f"{e.path}: {e.message}"
            typer.echo(f"losscheck: {msg}", err=True)
        if fmt.name == "text":
            raise typer.Exit(EXIT_USAGE)
    if output is not None:
        try:
            output.write_text(fmt.render(report), encoding="utf-8", errors="backslashreplace")
        except (OSError, UnicodeError) as exc:
            _die(f"{output}: cannot write the report: {getattr(exc, 'strerror', None) or exc}")
    elif fmt.name == "text" and sys.stdout.isatty():
        from rich.console import Console

        console = Console()
        for item in fmt.renderables(report, console.width):
            console.print(item)
    else:
        try:  # file names need not be valid UTF-8: never crash on printing them
            sys.stdout.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass
        sys.stdout.write(fmt.render(report))
        sys.stdout.flush()

    if not report.runs:
        raise typer.Exit(EXIT_USAGE)
    if report.errors:
        strict_on = bool(cfg.values.get("strict"))
        typer.echo(f"losscheck: {len(report.errors)} path(s) could not be diagnosed"
                   + (" (--strict: the gate fails)" if strict_on else
                      " and do not count towards the exit code (--strict makes them fail the gate)"), err=True)
        if strict_on:
            raise typer.Exit(EXIT_FAILING)
    raise typer.Exit(EXIT_FAILING if report.failing else EXIT_OK)


def _config(path: Path, config: Optional[Path], isolated: bool, **flags):
    """Load the configuration and layer the command-line flags on top."""
    from losscheck.config import load_config

    from losscheck.config import validate_table

    cfg = load_config(path, config, isolated)
    for key in ("select", "ignore"):
        if flags[key]:
            codes = [c.strip() for item in flags[key] for c in item.split(",") if c.strip()]
            try:
                flags[key] = validate_table({key: codes}, Path(f"--{key}"), "")[key]
            except UsageError as exc:  # name the flag, not a file
                raise UsageError(None, f"--{exc.problem}") from None
    metrics = {k: v for k, v in (("loss", flags.pop("loss")), ("eval-loss", flags.pop("eval_loss")),
                                 ("grad-norm", flags.pop("grad_norm")), ("lr", flags.pop("lr"))) if v}
    cfg.apply_flags({"fail-on": flags["fail_on"], "num-classes": flags["num_classes"],
                     "select": flags["select"] or None, "ignore": flags["ignore"] or None,
                     "strict": flags["strict"], "metrics": metrics})
    return cfg


@app.command("config")
def config_cmd(
    path: Path = typer.Argument(Path("."), help="Where discovery starts (a run path or directory)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Configuration file to use."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore all configuration files."),
) -> None:
    """Print the effective configuration and where each value came from."""
    from losscheck.config import known_thresholds, load_config

    try:
        if not path.exists():
            raise UsageError(path, "no such file or directory")
        cfg = load_config(path, config, isolated)
    except LosscheckError as exc:
        _die(exc.one_line())
        return
    typer.echo(f"# configuration file: {cfg.file or 'none (defaults)'}")
    typer.echo("# effective values, as losscheck.toml; '# from' says where each came from")
    tables = {}
    for key, val in cfg.values.items():
        if isinstance(val, dict):
            tables[key] = val
            continue
        line = f"{key} = {_toml(val)}" if val is not None else f"# {key} = (not set)"
        typer.echo(f"{line}    # from {cfg.sources.get(key, 'default')}")
    th = dict(tables.pop("thresholds", {}) or {})
    for key, table in tables.items():
        typer.echo(f"\n[{key}]    # from {cfg.sources.get(key, 'default')}")
        for k, v in table.items():
            typer.echo(f"{k} = {_toml(v)}")
    typer.echo("\n[thresholds]    # every threshold; '(default)' marks the built-in value")
    for name, default in sorted(known_thresholds().items()):
        val = th.get(name, default)
        typer.echo(f"{name} = {_toml(val)}" + ("    # (default)" if name not in th else f"    # default {_toml(default)}"))
    for pattern, table in cfg.per_path:
        typer.echo(f"\n[[per-path]]\npath = {_toml(pattern)}")
        for k, v in table.items():
            if k != "path":
                typer.echo(f"{k} = {_toml(v)}")


def _toml(v) -> str:
    """A TOML literal for the simple values a configuration holds."""
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))


def _progress_bar():
    """A callback drawing a progress bar on stderr for sweeps (more than one run)."""
    state = {}

    def cb(done: int, total: int) -> None:
        if total <= 1:
            return
        if "p" not in state:
            from rich.console import Console
            from rich.progress import Progress

            p = Progress(console=Console(stderr=True), transient=True)
            p.start()
            state["p"], state["t"] = p, p.add_task("diagnosing", total=total)
        state["p"].update(state["t"], completed=done)
        if done >= total:
            state["p"].stop()

    return cb


@app.command()
def rules() -> None:
    """List every rule: code, name, default severity, summary."""
    from losscheck.rules import all_rules

    for r in all_rules():
        typer.echo(f"{r.code}  {r.name:<28} {r.severity:<8} {r.summary}")


@app.command()
def explain(code: str = typer.Argument(..., help="A rule code (LC101) or name (loss-diverging).")) -> None:
    """Explain one rule: what it detects, why it matters, what to do, how it is computed."""
    from losscheck.rules import find_rule
    from losscheck.rules.docs import rule_markdown

    rule = find_rule(code)
    if rule is None:
        _die(f"{code}: no such rule (see `losscheck rules`)")
    typer.echo(rule_markdown(rule))


def main() -> None:
    """Console-script entry point: the CLI framework's own usage errors become one line, exit 2."""
    # click's UsageError (BadParameter's base), whether typer vendors click or depends on it
    usage_error = typer.BadParameter.__mro__[1]
    try:
        rv = app(standalone_mode=False)
    except usage_error as exc:
        ctx = getattr(exc, "ctx", None)
        name = getattr(ctx, "info_name", None) if ctx is not None else None
        hint = f"losscheck {name} --help" if name and name != "losscheck" else "losscheck --help"
        msg = exc.format_message().strip()
        if msg:  # bare `losscheck` prints the help and nothing else
            typer.echo(f"losscheck: {msg} (see `{hint}`)", err=True)
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        typer.echo("losscheck: aborted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)

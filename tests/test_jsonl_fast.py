"""The fast JSON-lines paths (one ``json.loads`` for the whole file, column-wise collection,
flat-dict shortcut in ``flatten``) give exactly what the per-line reference paths give:
same series, notes, metadata and errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from losscheck.errors import LosscheckError
from losscheck.readers import _jsonl, choose
from losscheck.readers._jsonl import _load_fast, _load_json_lines_per_line, flatten

from .conftest import REAL_RUNS, REPO

_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")


def _files() -> list[Path]:
    roots = [REPO / "tests" / "bad_inputs", REPO / "tests" / "fixtures", REPO / "sample_runs", REAL_RUNS]
    out = []
    for root in roots:
        if root.is_dir():
            out += sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
    return out


def _outcome(path: Path, monkeypatch, fast: bool):
    monkeypatch.setattr(_jsonl, "_FAST", fast)
    try:
        reader = choose(path)
        if reader is None:
            return ("unclaimed",)
        res = reader.read(path)
    except LosscheckError as exc:
        return ("error", type(exc).__name__, str(exc))
    series = [(s.tag, s.source, s.step_unit, s.steps.dtype.str, s.steps.tolist(), s.values.dtype.str,
               np.asarray(s.values).tobytes(),
               None if s.wall_time is None else np.asarray(s.wall_time).tobytes())
              for s in res.series]
    notes = [(n.path, n.message, n.severity) for n in res.notes]
    return ("ok", reader.name, series, notes, repr(res.meta))


def _same(path: Path, monkeypatch) -> None:
    slow = _outcome(path, monkeypatch, False)
    fast = _outcome(path, monkeypatch, True)
    assert fast == slow, path


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(p.parents[1])))
def test_real_files_same(path, monkeypatch):
    _same(path, monkeypatch)


def test_found_files():
    assert len(_files()) >= 10


_TOKENS = ["NaN", "Infinity", "-Infinity", '"nan"', '"-inf"', '"Infinity"', '"0.5"', '" 1e3 "', "null",
           '"None"', '"null"', '""', "true", "false", '"text"', "[1, 2]", "{}", '{"a": 1.5}',
           '{"b": {"c": NaN}}', "1e400", "-1e400", "12345678901234567890123", "-0.0", "3", "0",
           '"{\\"x\\": 1}"', '"\\u00e9"']


def _random_lines(rng: random.Random, n: int) -> list[str]:
    keys = ["loss", "lr", "train/loss", "eval_loss", "grad_norm", "_timestamp", "_runtime", "acc",
            "epoch", "total_loss", "loss_cls", "current_steps", "total_steps"]
    step_keys = ["step", "global_step", "iteration", "epoch", "current_steps", None]
    sk = rng.choice(step_keys)
    lines = []
    step = 0
    for _ in range(n):
        step += rng.choice([1, 1, 1, 0, -3, 2])
        parts = []
        if rng.random() < 0.002:
            parts.append('"note": "}, {"')  # looks like two objects on one line: per-line path
        if sk is not None and rng.random() > 0.03:
            sv = rng.choice([str(step), str(step), f"{step}.0", f"{step}.5", "null", "NaN", f'"{step}"'])
            parts.append(f'"{sk}": {sv}')
        for k in rng.sample(keys, rng.randint(0, 6)):
            parts.append(f'"{k}": {rng.choice(_TOKENS + [repr(rng.random())] * 8)}')
        if rng.random() < 0.1:
            parts.append(f'"nested": {{"loss": {rng.choice(_TOKENS)}, "deep": {{"x": {rng.random()}}}}}')
        sep = rng.choice([", ", ",", " ,\t", ",  "])
        line = "{" + sep.join(parts) + "}"
        if rng.random() < 0.05:
            line = rng.choice(["  " + line + "\t", "", "   ", "# comment", "// c", line])
        lines.append(line)
    return lines


def _corrupt(rng: random.Random, lines: list[str]) -> list[str]:
    lines = list(lines)
    kind = rng.randrange(7)
    if not lines:
        return lines
    i = rng.randrange(len(lines))
    if kind == 0:
        lines[-1] = lines[-1][: max(1, len(lines[-1]) // 2)]  # cut last line
    elif kind == 1:
        lines[i] = "[1, 2, 3]"
    elif kind == 2:
        lines[i] = lines[i] + ", " + lines[i]  # two objects on one line
    elif kind == 3:
        lines[i] = lines[i][:-1]  # unbalanced
    elif kind == 4:
        lines[i] = "not json"
    elif kind == 5:
        lines[i] = '"just a string"'
    return lines


@pytest.mark.parametrize("seed", range(100))
def test_random_files_same(seed, tmp_path, monkeypatch):
    rng = random.Random(seed)
    lines = _random_lines(rng, rng.choice([1, 2, 5, 50, 300]))
    if seed % 4 == 1:
        lines = _corrupt(rng, lines)
    name = rng.choice(["metrics.jsonl", "log.json", "metrics.json", "trainer_log.jsonl", "out.ndjson"])
    path = tmp_path / name
    end = rng.choice(["\n", "\r\n", ""])
    path.write_text(end.join(lines) + (end if lines else ""), encoding="utf-8")
    _same(path, monkeypatch)
    # the loader alone, whatever reader claims the file
    monkeypatch.setattr(_jsonl, "_FAST", True)
    try:
        fast = _jsonl.load_json_lines(path)
    except LosscheckError as exc:
        fast = str(exc)
    try:
        slow = _load_json_lines_per_line(path)
    except LosscheckError as exc:
        slow = str(exc)
    assert repr(fast) == repr(slow)


@pytest.mark.parametrize("text", [
    '{"a": "x\n", "b": 1}\n{"c": 2}',                # string cannot span lines
    '{"a":"}\n{"},{"c":1}',                           # in-string braces that would pair up
    '{"a":[{"b":1}\n{"c":2}]},{"d":3}',               # two objects on one line compensate a cut
    '{"a": 1}, {"b": 2}\n{"c": 3}',
    '{"a": 1}\n\n#x\n{"b": 2}',
    '{"a": 1}\n[1]',
])
def test_fast_loader_never_wrong(text):
    """The fast loader either declines (None) or agrees with per-line json.loads."""
    got = _load_fast(text)
    if got is None:
        return
    records, _ = got
    expect = []
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s and not s.startswith(("#", "//")):
            expect.append((i, json.loads(s)))
    assert repr(records) == repr(expect)


def test_flatten_same(monkeypatch):
    objs = [{}, {"a": 1}, {"a": {"b": {"c": 2}}, "d": 3}, {1: 2}, {"a": [1, {"b": 2}]}]
    for obj in objs:
        monkeypatch.setattr(_jsonl, "_FAST", True)
        fast = flatten(obj)
        monkeypatch.setattr(_jsonl, "_FAST", False)
        slow = flatten(obj)
        assert repr(fast) == repr(slow) and fast is not obj


@pytest.mark.parametrize("seed", range(30))
def test_uniform_files_same(seed, tmp_path, monkeypatch):
    """Files whose records all have the same keys (the column-wise path), with now and then
    a value that sends them back to the per-record loop."""
    rng = random.Random(1000 + seed)
    odd = rng.choice([None, "true", "null", '"0.5"', "NaN", "Infinity", "12345678901234567890123",
                      "7", '{"x": 1}', "[1]"])
    step_key = rng.choice(["step", "iteration", "current_steps", "epoch"])
    lines = []
    for i in range(rng.choice([1, 3, 40])):
        loss = odd if odd is not None and rng.random() < 0.1 else repr(rng.random())
        step = str(i) if rng.random() > 0.02 else rng.choice(["null", "NaN", f"{i}.5"])
        lines.append(f'{{"{step_key}": {step}, "loss": {loss}, "lr": {rng.choice([1, 0.001, 3])}, '
                     f'"total_loss": {rng.random()}}}')
    path = tmp_path / rng.choice(["metrics.jsonl", "metrics.json", "trainer_log.jsonl"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _same(path, monkeypatch)

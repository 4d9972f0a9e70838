"""The fast JSON-lines paths (one ``json.loads`` for the whole file, column-wise collection,
flat-dict shortcut in ``flatten``, the whole-file column scanner) give exactly what the
per-line reference paths give: same series, notes, metadata and errors. One equivalence test
per pair: ``lines_fast``/``lines_reference``, ``collect_fast``/``collect_reference``,
``flatten_fast``/``flatten_reference``, ``_numscan.jsonl_columns``/the per-line read; whole
reads compare every fast path on against every fast path replaced by its reference."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from losscheck.errors import LosscheckError
from losscheck.readers import _jsonl, _numscan, choose
from losscheck.readers._common import decode_text, drop_long_lines, read_data
from losscheck.readers._jsonl import flatten, flatten_reference, lines_fast

from tests.conftest import REAL_RUNS, REPO

_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")


def _files() -> list[Path]:
    roots = [REPO / "tests" / "bad_inputs", REPO / "tests" / "fixtures", REPO / "sample_runs", REAL_RUNS]
    out = []
    for root in roots:
        if root.is_dir():
            out += sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
    return out


def reference_paths(monkeypatch) -> None:
    """Replace every JSON-lines fast path by its reference (or make it decline)."""
    monkeypatch.setattr(_jsonl, "lines_fast", lambda text: None)
    monkeypatch.setattr(_jsonl, "collect_fast", _jsonl.collect_reference)
    monkeypatch.setattr(_jsonl, "flatten_fast", lambda obj: None)
    monkeypatch.setattr(_numscan, "jsonl_columns", lambda data: None)


def _load_json_lines_per_line(path: Path):
    """:func:`_jsonl.load_json_lines` by its per-line reference alone."""
    data, notes = read_data(path)
    data, long_notes = drop_long_lines(data, path)
    text, more = decode_text(data, path)
    return _jsonl.lines_reference(path, text, notes + long_notes + more)


def _outcome(path: Path, monkeypatch, fast: bool):
    with monkeypatch.context() as m:
        if not fast:
            reference_paths(m)
        return _outcome_now(path)


def _outcome_now(path: Path):
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
    got = lines_fast(text)
    if got is None:
        return
    records, _ = got
    expect = []
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s and not s.startswith(("#", "//")):
            expect.append((i, json.loads(s)))
    assert repr(records) == repr(expect)


def test_flatten_same():
    objs = [{}, {"a": 1}, {"a": {"b": {"c": 2}}, "d": 3}, {1: 2}, {"a": [1, {"b": 2}]}]
    for obj in objs:
        fast = flatten(obj)
        slow = flatten_reference(obj)
        assert repr(fast) == repr(slow) and fast is not obj
        if all(isinstance(k, str) for k in obj):  # as JSON gives them
            assert repr(_jsonl.flatten_records([(1, obj)])) == repr([(1, slow)])


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


# --------------------------------------------------------------------------- numeric columns

_CELLS = ["0", "-0", "-0.0", "-0e0", "0.5", "-1.25e-3", "1E+5", "1e400", "-1e400", "1e-400", "NaN", "Infinity",
          "-Infinity", "9007199254740993", "12345678901234567890123", "1" + "0" * 400,
          "1.700000000000000177635684", "2.2250738585072011e-308", "3", "7e0", "42"]
# Tokens that are not JSON (or not numbers): a line holding one is not the template.
_NOT_JSON = ["01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "1.2.3", "1e5.3", "1e5e5", "--1", "-NaN", "nan",
             "inf", "-inf", "infinity", "NAN", "1_0", "0x10", "1 ", " 1", "", "1-2", "1+2", "e5", "-e5", "1.e5",
             "1.5E", "Infinit", "NaNa", "null", "true", '"1"', "[1]", '{"a": 1}', "1,", "1}"]


def _columns_or_lines(text: str):
    """What :func:`_numscan.jsonl_columns` must give for ``text``: ``(keys, [column lists])`` with
    each line's values through json.loads and json_number, when every line is an object with
    the first line's keys in the same order."""
    from losscheck.readers._common import json_number

    objs = [json.loads(line) for line in text.split("\n")[:-1]]
    keys = list(objs[0])
    assert all(list(o) == keys for o in objs)
    return keys, [[json_number(o[k]) for o in objs] for k in keys]


def _check_columns(text: str) -> bool:
    """``jsonl_columns(text)`` either declines or equals per-line json.loads bit for bit;
    returns whether it took the file."""
    got = _numscan.jsonl_columns(text.encode("utf-8"))
    if got is None:
        return False
    keys, cols = _columns_or_lines(text)
    assert got[0] == keys, text[:200]
    for k, col, want in zip(keys, got[1], cols):
        want = np.array(want, dtype=np.float64)
        assert col.dtype == np.float64 and col.shape == want.shape
        assert col.tobytes() == want.tobytes() or (np.array_equal(col, want, equal_nan=True)
                                                   and np.array_equal(np.signbit(col), np.signbit(want))), (k, text[:300])
    return True


def test_numeric_columns_tokens():
    """Every JSON number form is read as json.loads reads it (an integer -0 is +0.0, a float
    -0.0 keeps its sign, huge integers round like float(int)); every other token declines."""
    taken = 0
    for cell in _CELLS:
        for pos in range(3):
            vals = ["1", "2.5", "3"]
            vals[pos] = cell
            text = "".join(f'{{"step": {i}, "loss": {vals[1] if i % 2 else 0.5}, "lr": {vals[2]}}}\n'
                           for i in range(4))
            text = text.replace('"step": 1,', f'"step": {vals[0] if pos == 0 else 1},')
            taken += _check_columns(text)
    assert taken >= len(_CELLS) * 2
    for cell in _NOT_JSON:
        for i in range(3):
            lines = [f'{{"step": {k}, "loss": 0.5, "lr": 3}}' for k in range(3)]
            lines[i] = lines[i].replace("0.5", cell)
            assert _numscan.jsonl_columns(("\n".join(lines) + "\n").encode()) is None, (cell, i)


@pytest.mark.parametrize("text", [
    '{"step": 0, "lr": 1, "loss": 2}\n{"step": 1, "loss": 2, "lr": 1}\n',     # key order differs
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2, "lr": 3}\n',              # an extra key
    '{"step": 0, "loss": 1, "lr": 3}\n{"step": 1, "loss": 2}\n',              # a key missing
    '{"step": 0, "loss": 1, "loss": 2}\n{"step": 1, "loss": 2, "loss": 3}\n', # a repeated key
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}',                         # no final newline
    '{"step": 0, "loss": 1}\n\n{"step": 1, "loss": 2}\n',                     # a blank line
    '{"step": 0, "loss": 1}\n# c\n{"step": 1, "loss": 2}\n',                  # a comment line
    '{"step": 0, "loss": 1}\r\n{"step": 1, "loss": 2}\r\n',                   # CRLF
    '{"step": 0, "loss": 1}\n{"step": 1,  "loss": 2}\n',                      # other spacing
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}{"step": 2, "loss": 3}\n', # two objects
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2, "loss": 3}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": {"x": 2}}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": null}\n',
    '{"step": 0, "loss": "1"}\n{"step": 1, "loss": "2"}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2\n',                        # unbalanced
    '{"step": 0, "loss": 1}\n{"step": 1, "loss\\u0022: 2}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "l\\u006fss": 2}\n',                 # same key, other spelling
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}\x1c\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}\x0b{"step": 2, "loss": 3}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2\x01}\n',                   # a marker byte
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2, "step": 3}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2e}\n{"step": 2, "loss": 3}\n',
    '{"\\u00e9": 0, "loss": 1}\n{"\\u00e9": 1, "loss": 2}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}\n',
    '  {"step":0,"loss":1.5}\t\n  {"step":1,"loss":-2.5e-3}\t\n',
    '{"a b": 0, "c\\"d": NaN}\n{"a b": 1, "c\\"d": -Infinity}\n',
    '\ufeff{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}\n',
    '{"step": 0, "loss": 1}\n{"step": 1, "loss": 2}\n{"step": 1, "loss": 2}\n',
])
def test_numeric_columns_never_wrong(text):
    """The column path either declines or gives exactly the per-line parse."""
    if text.startswith("\ufeff"):
        got = _numscan.jsonl_columns(text.encode("utf-8"))
        assert got is not None and _check_columns(text[1:])
        return
    try:
        _columns_or_lines(text)
        valid = True
    except (ValueError, AssertionError):
        valid = False
    if not valid:
        assert _numscan.jsonl_columns(text.encode("utf-8")) is None
    else:
        _check_columns(text)


def _uniform_numeric_lines(rng: random.Random, n: int) -> tuple[list[str], str]:
    keys = rng.choice([["step", "loss", "lr"], ["iteration", "loss"], ["epoch", "val_loss", "acc"],
                       ["loss", "lr"], ["_step", "train/loss", "_runtime", "_timestamp"],
                       ["global_step", "_wandb/x", "loss"], ["step", "epoch", "loss"]])
    fmt = rng.choice(['"{k}": {v}', '"{k}":{v}', ' "{k}" :  {v} '])
    sep = rng.choice([", ", ",", ",\t"])
    frac = rng.random() < 0.15
    nonfinite = rng.random() < 0.15  # a NaN/Infinity step: the per-record path must report it
    lines = []
    step = 0
    for i in range(n):
        step += rng.choice([1, 1, 1, 2, 0, -2]) if rng.random() < 0.3 else 1
        vals = []
        for k in keys:
            if k in ("step", "iteration", "epoch", "_step", "global_step"):
                v = f"{step}.5" if frac and i == n // 2 else str(step)
                if nonfinite and i == n // 3:
                    v = rng.choice(["NaN", "Infinity", "-Infinity"])
            elif k == "_timestamp":
                v = repr(1.7e9 + i * 0.5)
            else:
                v = rng.choice([repr(rng.random()), repr(rng.random()), "NaN", "Infinity", "-0", "0", "-0.0",
                                str(rng.randint(-5, 5)), f"{rng.random():.3e}", "12345678901234567890123"]) \
                    if rng.random() < 0.2 else repr(rng.random() * 10)
            vals.append(fmt.format(k=k, v=v))
        lines.append("{" + sep.join(vals) + "}")
    return lines, rng.choice(["metrics.jsonl", "log.json", "metrics.json", "out.ndjson"])


@pytest.mark.parametrize("seed", range(40))
def test_numeric_column_files_same(seed, tmp_path, monkeypatch):
    """Whole reads through the column path equal the per-line reference paths (series, notes,
    errors): step keys, fractional and repeated steps, W&B keys and wall times, NaN/Inf."""
    rng = random.Random(5000 + seed)
    lines, name = _uniform_numeric_lines(rng, rng.choice([1, 2, 30, 400]))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(_jsonl, "COLUMNS_MIN_BYTES", 0)
    calls = []
    real = _numscan.jsonl_columns
    monkeypatch.setattr(_numscan, "jsonl_columns", lambda data: calls.append(1) or real(data))
    _same(path, monkeypatch)
    reader = choose(path)
    if reader is not None and reader.name == "jsonl":
        assert calls and real(path.read_bytes()) is not None


def test_numeric_column_path_declines_to_notes(tmp_path, monkeypatch):
    """A large file with one odd line still gets the per-line notes (not the column path)."""
    monkeypatch.setattr(_jsonl, "COLUMNS_MIN_BYTES", 0)
    lines = [f'{{"step": {i}, "loss": {1 / (i + 1)!r}}}' for i in range(50)]
    lines[20] = '{"step": 20, "loss": null}'
    lines[30] = "not json"
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert _numscan.jsonl_columns(path.read_bytes()) is None
    res = choose(path).read(path)
    assert any("not JSON objects" in n.message for n in res.notes)
    assert len(res.series[0]) == 48


@pytest.mark.parametrize("seed", range(20))
def test_collect_fast_equals_reference(seed):
    """The pair on its own: same series (steps, values, walls) and notes for any records."""
    from losscheck.readers._common import json_number

    rng = random.Random(9000 + seed)
    records = []
    for i, line in enumerate(_random_lines(rng, rng.choice([0, 1, 5, 60])), 1):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            records.append((i, _jsonl.flatten(obj)))
    step_key = rng.choice(["step", "global_step", "iteration", "epoch", "current_steps"])
    wall_of = rng.choice([None, lambda r: json_number(r.get("_timestamp"))])

    def run(fn):
        series, notes = fn(records, "f", lambda r: json_number(r.get(step_key)), lambda k: k != step_key,
                           "step", wall_of, rng_value)
        return ([(s.tag, s.steps.tolist(), np.asarray(s.values).tobytes(),
                  None if s.wall_time is None else np.asarray(s.wall_time).tobytes()) for s in series],
                [(n.path, n.message, n.severity, n.kind, n.tags) for n in notes])

    rng_value = rng.choice([_jsonl.number_or_numeric_string, json_number])
    assert run(_jsonl.collect_fast) == run(_jsonl.collect_reference)

"""How fast is losscheck? Whole-process timings and peak memory, side by side with TensorBoard.

Generates every input into a temporary directory (nothing is downloaded), then measures,
in one run on the same machine:

- ``losscheck diagnose PATH -f json`` as a subprocess (what a user or CI waits for: Python
  start-up, imports, reading, analysis, report), median of ``--repeat`` runs, and its peak
  resident memory (``/usr/bin/time`` when present, else ``resource.getrusage`` of children);
- the same file through losscheck's reader alone (subprocess, to split reading from analysis);
- TensorBoard's ``EventAccumulator`` loading every point
  (``size_guidance={'scalars': 0, 'tensors': 0}``; ``Reload()``), as a subprocess;
- ``tbparse.SummaryReader(path).scalars`` when tbparse is installed (not a dependency);
- the raw-read floor: reading the file's bytes (``open().read()``), in-process.

Inputs (``--quick`` keeps the first one only, with fewer repeats):

=============  ==============================================================
tb-simple      one event file, 1 tag x 1,000,000 points, ``simple_value`` (PyTorch/TF1)
tb-tf2         the same in the TF2 layout (float32 ``tensor_content``, plugin "scalars")
tb-20tags      one event file, 20 tags x 100,000 points, interleaved per step
sweep          200 run directories x 5 tags x 5,000 points (``--jobs 1`` and ``--jobs 2``)
csv / jsonl    1,000,000 rows of step, loss, lr (with ``--polars-python``: against polars
               merely loading the same file, whole process, interleaved)
help           ``losscheck --help``
=============  ==============================================================

Issue 17's targets (each a separate ``--only`` name; none runs by default):

=============  ==============================================================
tiny           one 1,000-row CSV run, whole process (``-f json``)
tb-10m         one event file, 1 tag x ``--tb10m-points`` (10M), peak above the floor
               in bytes per point
mixed          ``--mixed-runs`` (1,000) runs x 25,000 steps, a third each TensorBoard
               (loss), CSV and JSON lines (step, loss, lr), ``-j 2``
tables         ``--tables-runs`` (300) runs x 25,000 rows, half CSV, half JSON lines,
               ``-j 2``, against one process of pandas merely loading the same files,
               interleaved
many           ``--many-runs`` (100,000) tiny runs (100-row CSV) with ``-j 2``: the peak
               of the parent process; with several sizes, the per-run slope and the
               projection to 100,000 runs
remote         ``benchmarks/remote.py`` on ``--mixed-runs`` runs x 25,000 rows, ``-j 2``
               (moto S3 on localhost vs local disk, interleaved; needs the test extra)
=============  ==============================================================

Ratios (``tables``, ``csv``/``jsonl`` against polars, ``remote``) are measured in one run with
the two commands alternated (ABAB...), so that a change of load hits both alike. polars is
never a losscheck dependency: point ``--polars-python`` at an interpreter of a throwaway
virtual environment that has it (``python -m venv /tmp/pl && /tmp/pl/bin/pip install polars``).

Usage::

    .venv/bin/python benchmarks/speed.py            # everything (~5-10 min, TensorBoard is slow)
    .venv/bin/python benchmarks/speed.py --quick    # tb-simple + help, 3 repeats (~1 min)
    .venv/bin/python benchmarks/speed.py --only sweep csv --repeat 7 --no-tensorboard
    .venv/bin/python benchmarks/speed.py --only tiny tb-10m mixed tables many --polars-python /tmp/pl/bin/python

The event files are written with vectorised TFRecord framing (masked CRC-32C from
``losscheck.readers._tfrecord``, itself tested against TensorBoard's CRC); the script checks
that losscheck and EventAccumulator see the same number of points. Numbers depend on the
machine and its load: medians of several runs are printed with min and max.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent / "losscheck"
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None

# --------------------------------------------------------------------------- inputs


def _masked(crc: np.ndarray) -> np.ndarray:
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)


def _frame_rows(payloads: np.ndarray) -> np.ndarray:
    """TFRecords of equal-length payloads: ``(k, L)`` uint8 -> ``(k, L + 16)`` uint8."""
    from losscheck.readers._tfrecord import crc32c_rows

    k, length = payloads.shape
    header = np.frombuffer(struct.pack("<Q", length), dtype=np.uint8)
    len_crc = _masked(crc32c_rows(header[None, :]))[0]
    out = np.empty((k, length + 16), dtype=np.uint8)
    out[:, :8] = header
    out[:, 8:12] = np.frombuffer(struct.pack("<I", int(len_crc)), dtype=np.uint8)
    out[:, 12:12 + length] = payloads
    out[:, 12 + length:] = _masked(crc32c_rows(payloads)).astype("<u4").view(np.uint8).reshape(k, 4)
    return out


def _file_version() -> bytes:
    payload = b"\x09" + struct.pack("<d", 1.7e9) + b"\x1a\x0dbrain.Event:2"
    return _frame_rows(np.frombuffer(payload, dtype=np.uint8)[None, :]).tobytes()


def write_event_file(path: Path, tags: list[str], n_steps: int, layout: str = "simple",
                     seed: int = 0) -> int:
    """An event file with ``len(tags)`` scalars logged at steps ``0..n_steps-1``, interleaved
    per step (as ``SummaryWriter.add_scalar`` writes them). All tags must have the same length.

    ``layout``: ``"simple"`` (``Summary.Value.simple_value``, TF1/PyTorch) or ``"tf2"`` (a
    float32 scalar ``TensorProto`` with ``tensor_content`` and ``plugin_name: "scalars"``,
    as TF2's C++ summary writer produces). Returns the number of points written.
    """
    tl = len(tags[0].encode())
    assert all(len(t.encode()) == tl for t in tags) and tl < 100
    rng = np.random.default_rng(seed)
    nt = len(tags)
    if layout == "simple":
        before, after = b"\x15", b""
    else:
        before = b"\x42\x0a\x08\x01\x12\x00\x22\x04"
        after = b"\x4a\x0b\x0a\x09\x0a\x07scalars"
    value_part = len(before) + 4 + len(after)
    vlen = 2 + tl + value_part
    slen = 2 + vlen
    steps = np.arange(n_steps, dtype=np.int64)
    width = np.where(steps == 0, 0, 1)
    for b in range(1, 9):
        width = np.where(steps >= (1 << (7 * b)), b + 1, width)
    with open(path, "wb") as fh:
        fh.write(_file_version())
        for w in np.unique(width).tolist():
            st = steps[width == w]
            for lo in range(0, len(st), 200_000):
                s = st[lo:lo + 200_000]
                k = len(s) * nt
                h = 9 if w == 0 else 10 + w
                length = h + 2 + slen
                p = np.zeros((len(s), nt, length), dtype=np.uint8)
                p[:, :, 0] = 0x09
                wall = (1.7e9 + s * 0.05)[:, None] + np.arange(nt)[None, :] * 1e-4
                p[:, :, 1:9] = wall.astype("<f8").view(np.uint8).reshape(len(s), nt, 8)
                if w:
                    p[:, :, 9] = 0x10
                    for b in range(w):
                        byte = (s >> (7 * b)) & 0x7F
                        if b < w - 1:
                            byte |= 0x80
                        p[:, :, 10 + b] = byte[:, None]
                head = bytes([0x2A, slen, 0x0A, vlen, 0x0A, tl])
                p[:, :, h:h + 6] = np.frombuffer(head, dtype=np.uint8)
                for j, t in enumerate(tags):
                    p[:, j, h + 6:h + 6 + tl] = np.frombuffer(t.encode(), dtype=np.uint8)
                q = h + 6 + tl
                p[:, :, q:q + len(before)] = np.frombuffer(before, dtype=np.uint8)
                x = s[:, None] / max(n_steps, 1) + np.arange(nt)[None, :]
                vals = (2.0 * np.exp(-5 * x) + 0.1 + 0.02 * rng.standard_normal((len(s), nt))).astype("<f4")
                v0 = q + len(before)
                p[:, :, v0:v0 + 4] = vals.view(np.uint8).reshape(len(s), nt, 4)
                if after:
                    p[:, :, v0 + 4:] = np.frombuffer(after, dtype=np.uint8)
                fh.write(_frame_rows(p.reshape(k, length)).tobytes())
    return n_steps * nt


def write_table(path: Path, n: int, kind: str, seed: int = 1, diverge: bool = False) -> int:
    """``n`` rows of step, loss, lr as CSV (header ``step,loss,lr``) or JSON lines; with
    ``diverge``, the loss grows exponentially over the second half."""
    rng = np.random.default_rng(seed)
    st = np.arange(n)
    loss = 2.0 * np.exp(-5 * st / n) + 0.1 + 0.02 * rng.standard_normal(n)
    if diverge:
        loss[n // 2:] *= np.exp(np.linspace(0, 5, n - n // 2))
    lr = 3e-4 * np.minimum(1.0, (st + 1) / 1000)
    with open(path, "w") as fh:
        if kind == "csv":
            fh.write("step,loss,lr\n")
            fmt = "{},{:.6f},{:.6g}\n"
        else:
            fmt = '{{"step": {}, "loss": {:.6f}, "lr": {:.6g}}}\n'
        for lo in range(0, n, 100_000):
            fh.write("".join(fmt.format(a, b, c) for a, b, c in
                             zip(st[lo:lo + 100_000].tolist(), loss[lo:lo + 100_000].tolist(),
                                 lr[lo:lo + 100_000].tolist())))
    return 2 * n


def write_runs(root: Path, runs: int, steps: int, kinds: tuple[str, ...]) -> dict:
    """``runs`` run folders of ``steps`` steps each, cycling through ``kinds`` (``"tb"``: one
    event file with the loss; ``"csv"``/``"jsonl"``: step, loss, lr); every 10th run
    diverges. Returns {path, file: None, points, files}."""
    pts, files = 0, []
    for r in range(runs):
        kind = kinds[r % len(kinds)]
        rd = root / f"run_{r:06d}"
        rd.mkdir(parents=True)
        if kind == "tb":
            f = rd / f"events.out.tfevents.1700000000.bench.{r}.0"
            pts += write_event_file(f, ["train/loss"], steps, "simple", seed=r)
        else:
            f = rd / f"metrics.{kind}"
            pts += write_table(f, steps, kind, seed=r, diverge=r % 10 == 9)
        files.append(f)
    return dict(path=root, file=None, points=pts, files=files)


def build_inputs(tmp: Path, cases: list[str], tb10m_points: int = 10_000_000, mixed_runs: int = 1000,
                 tables_runs: int = 300, many_runs: tuple[int, ...] = (100_000,)) -> dict[str, dict]:
    """Write the inputs of ``cases`` under ``tmp``; returns name -> {path, file, points, bytes}."""
    out = {}
    t0 = time.perf_counter()
    loss1 = ["train/loss"]
    if "tb-simple" in cases:
        d = tmp / "tb-simple"
        d.mkdir()
        f = d / "events.out.tfevents.1700000000.bench.1.0"
        out["tb-simple"] = dict(path=d, file=f, points=write_event_file(f, loss1, 1_000_000, "simple"))
    if "tb-tf2" in cases:
        d = tmp / "tb-tf2" / "train"
        d.mkdir(parents=True)
        f = d / "events.out.tfevents.1700000000.bench.1.0.v2"
        out["tb-tf2"] = dict(path=d, file=f, points=write_event_file(f, loss1, 1_000_000, "tf2"))
    if "tb-20tags" in cases:
        d = tmp / "tb-20tags"
        d.mkdir()
        f = d / "events.out.tfevents.1700000000.bench.1.0"
        tags = ["train/loss"] + [f"metric/m{i:02d}" for i in range(1, 20)]
        tags = [t.ljust(11, "_") for t in tags]
        out["tb-20tags"] = dict(path=d, file=f, points=write_event_file(f, tags, 100_000, "simple"))
    if "sweep" in cases:
        d = tmp / "sweep"
        tags = ["train/loss", "train/acc_", "train/lr__", "grad/norm_", "train/time"]
        pts = 0
        for r in range(200):
            rd = d / f"run_{r:03d}"
            rd.mkdir(parents=True)
            pts += write_event_file(rd / f"events.out.tfevents.1700000000.bench.{r}.0", tags, 5_000,
                                    "simple", seed=r)
        out["sweep"] = dict(path=d, file=None, points=pts)
    for kind in ("csv", "jsonl"):
        if kind in cases:
            d = tmp / kind
            d.mkdir()
            f = d / f"metrics.{kind}"
            out[kind] = dict(path=d, file=f, points=write_table(f, 1_000_000, kind))
    if "tb-10m" in cases:
        d = tmp / "tb-10m"
        d.mkdir()
        f = d / "events.out.tfevents.1700000000.bench.1.0"
        out["tb-10m"] = dict(path=d, file=f, points=write_event_file(f, loss1, tb10m_points, "simple"))
    if "tiny" in cases:
        d = tmp / "tiny-run"
        d.mkdir()
        f = d / "metrics.csv"
        out["tiny"] = dict(path=d, file=f, points=write_table(f, 1_000, "csv"))
    if "mixed" in cases:
        out["mixed"] = write_runs(tmp / "mixed", mixed_runs, 25_000, ("tb", "csv", "jsonl"))
    if "tables" in cases:
        out["tables"] = write_runs(tmp / "tables", tables_runs, 25_000, ("csv", "jsonl"))
    for n in (many_runs if "many" in cases else []):
        out[f"many-{n}"] = write_runs(tmp / f"many-{n}", n, 100, ("csv",))
    for v in out.values():
        files = [v["file"]] if v["file"] else list(Path(v["path"]).rglob("*"))
        v["bytes"] = sum(p.stat().st_size for p in files if p.is_file())
        v["largest"] = max(p.stat().st_size for p in files if p.is_file())
    print(f"# inputs written in {time.perf_counter() - t0:.1f} s under {tmp}", flush=True)
    return out


# --------------------------------------------------------------------------- measuring


def run_timed(cmd: list[str]) -> tuple[float, float | None, str]:
    """Run ``cmd``; returns (wall seconds, peak RSS in MB or None, stdout)."""
    if GNU_TIME:
        full = [GNU_TIME, "-f", "@@%M", *cmd]
    else:
        full = cmd
    t0 = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak = None
    if GNU_TIME:
        for line in proc.stderr.splitlines()[::-1]:
            if line.startswith("@@"):
                peak = int(line[2:]) / 1024
                break
    else:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, proc.stdout


def measure(cmd: list[str], repeat: int) -> dict:
    walls, peaks, out = [], [], ""
    for _ in range(repeat):
        w, p, out = run_timed([str(c) for c in cmd])
        walls.append(w)
        if p is not None:
            peaks.append(p)
    return dict(median=statistics.median(walls), min=min(walls), max=max(walls), n=repeat,
                peak=max(peaks) if peaks else None, stdout=out)


def measure_interleaved(cmds: dict[str, list], repeat: int) -> dict[str, dict]:
    """Each command of ``cmds`` ``repeat`` times, alternated (ABAB...): name -> the figures of
    :func:`measure`. A ratio of two medians taken this way is what a change of load on a
    shared machine moves least."""
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    peaks: dict[str, list[float]] = {k: [] for k in cmds}
    outs: dict[str, str] = {}
    for _ in range(repeat):
        for k, cmd in cmds.items():
            w, p, outs[k] = run_timed([str(c) for c in cmd])
            walls[k].append(w)
            if p is not None:
                peaks[k].append(p)
    return {k: dict(median=statistics.median(v), min=min(v), max=max(v), n=repeat,
                    peak=max(peaks[k]) if peaks[k] else None, stdout=outs[k]) for k, v in walls.items()}


def raw_read(files: list[Path], repeat: int) -> dict:
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for f in files:
            with open(f, "rb") as fh:
                fh.read()
        walls.append(time.perf_counter() - t0)
    return dict(median=statistics.median(walls), min=min(walls), max=max(walls), n=repeat)


READER_ONLY = """
import sys, json
from pathlib import Path
from losscheck.readers import choose
n = 0
for f in sys.argv[1:]:
    p = Path(f)
    n += sum(len(s) for s in choose(p).read(p).series)
print(json.dumps({"points": n}))
"""

EVENT_ACCUMULATOR = """
import sys, json, logging
logging.disable(logging.WARNING)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
n = 0
for f in sys.argv[1:]:
    ea = EventAccumulator(f, size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    tags = ea.Tags()
    n += sum(len(ea.Scalars(t)) for t in tags["scalars"]) + sum(len(ea.Tensors(t)) for t in tags["tensors"])
print(json.dumps({"points": n}))
"""

TBPARSE = """
import sys, json
from tbparse import SummaryReader
n = 0
for f in sys.argv[1:]:
    n += len(SummaryReader(f).scalars)
print(json.dumps({"points": n}))
"""


PANDAS_LOAD = """
import sys, json
import pandas as pd
n = 0
for f in sys.argv[1:]:
    n += len(pd.read_csv(f) if f.endswith(".csv") else pd.read_json(f, lines=True))
print(json.dumps({"rows": n}))
"""

POLARS_LOAD = """
import sys, json
import polars as pl
n = 0
for f in sys.argv[1:]:
    n += len(pl.read_csv(f) if f.endswith(".csv") else pl.read_ndjson(f))
print(json.dumps({"rows": n}))
"""

SWEEP_SPLIT = """
import json, resource, sys
from losscheck.cli import main
sys.argv = ["losscheck", "diagnose", sys.argv[1], "-f", "json", "--isolated", "-j", "2", "-o", "/dev/null"]
try:
    main()
except SystemExit:
    pass
mb = lambda who: resource.getrusage(who).ru_maxrss / 1024
print(json.dumps({"parent": mb(resource.RUSAGE_SELF), "workers": mb(resource.RUSAGE_CHILDREN)}))
"""


def have_tbparse() -> bool:
    return subprocess.run([PY, "-c", "import tbparse"], capture_output=True).returncode == 0


def fmt_t(m: dict | None) -> str:
    if not m:
        return "-"
    if m["n"] == 1:
        return f"{m['median']:.2f}"
    return f"{m['median']:.2f} [{m['min']:.2f}-{m['max']:.2f}]"


def compile_package() -> None:
    """Byte-compile the installed losscheck package, as ``pip install`` does for a regular
    install, so that no measured run pays for compiling its sources. (An editable install
    writes its bytecode on the first run, unless ``PYTHONDONTWRITEBYTECODE`` is set, as it
    is on some CI and sandbox machines: every run then recompiles ~80 modules, ~0.1 s.)"""
    out = subprocess.run([PY, "-c", "import losscheck, pathlib; print(pathlib.Path(losscheck.__file__).parent)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([PY, "-m", "compileall", "-q", out], check=True)
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE")
    print(f"# byte-compiled {out} (PYTHONDONTWRITEBYTECODE={flag or 'unset'})", flush=True)


def issue17_case(name: str, inputs: dict, args, repeat: int, floor: float, results: dict, checks: list) -> None:
    """Measure one of issue 17's targets; prints a line (ending with the load average before and
    after the measurement), appends to ``results`` and ``checks``."""
    load0 = os.getloadavg()[0]
    _issue17_case(name, inputs, args, repeat, floor, results, checks)
    print(f"          (load average {load0:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)


def _issue17_case(name: str, inputs: dict, args, repeat: int, floor: float, results: dict, checks: list) -> None:
    diag = [BIN, "diagnose"]
    if name == "tiny":
        inp = inputs["tiny"]
        m = measure([*diag, inp["path"], "-f", "json", "--isolated", "-j", 1], repeat * 2)
        m.pop("stdout")
        results["tiny"] = dict(losscheck=m)
        print(f"tiny      1,000-row CSV run, whole process {fmt_t(m)} s, peak {m['peak'] or 0:.0f} MB", flush=True)
        checks.append(("issue 17: tiny run, whole process <= 0.25 s", m["median"] <= 0.25, f"{m['median']:.3f} s"))
    elif name == "tb-10m":
        inp = inputs["tb-10m"]
        m = measure([*diag, inp["path"], "-f", "json", "--isolated", "-j", 1], max(1, repeat // 2))
        m.pop("stdout")
        above = max(0.0, (m["peak"] or 0) - floor)
        per = above * 2**20 / inp["points"]
        results["tb-10m"] = dict(losscheck=m, points=inp["points"], mb=inp["bytes"] / 1e6, b_per_point=per)
        print(f"tb-10m    {inp['bytes'] / 1e6:.0f} MB, {inp['points']:,} points | diagnose {fmt_t(m)} s, peak "
              f"{m['peak'] or 0:.0f} MB, {above:.0f} MB above the {floor:.0f} MB floor = {per:.1f} B per point",
              flush=True)
        checks.append((f"issue 17: {inp['points']:,}-point TensorBoard run, peak above the floor <= 32 B/point",
                       per <= 32, f"{per:.1f} B/point ({m['peak'] or 0:.0f} MB peak, {floor:.0f} MB floor)"))
    elif name == "mixed":
        inp = inputs["mixed"]
        m = measure([*diag, inp["path"], "-f", "json", "--isolated", "-j", 2, "-o", "/dev/null"], max(1, repeat // 2))
        m.pop("stdout")
        n = args.mixed_runs
        full = m["median"] * 1000 / n
        results["mixed"] = dict(losscheck_j2=m, runs=n, points=inp["points"], mb=inp["bytes"] / 1e6)
        print(f"mixed     {n} runs x 25,000 steps (TB/CSV/JSONL), {inp['bytes'] / 1e6:.0f} MB | -j 2 {fmt_t(m)} s"
              f" ({m['median'] / n * 1000:.1f} ms per run)", flush=True)
        scaled = "" if n == 1000 else f" (measured on {n} runs, scaled linearly to 1,000)"
        checks.append(("issue 17: 1,000 mixed runs x 25k points, -j 2 <= 12 s", full <= 12,
                       f"{full:.1f} s{scaled}"))
    elif name == "tables":
        inp = inputs["tables"]
        pair = measure_interleaved({
            "losscheck": [*diag, inp["path"], "-f", "json", "--isolated", "-j", 2, "-o", "/dev/null"],
            "pandas": [PY, "-c", PANDAS_LOAD, *inp["files"]]}, max(1, repeat // 2) + 1)
        ratio = pair["losscheck"]["median"] / pair["pandas"]["median"]
        results["tables"] = {k: {kk: vv for kk, vv in v.items() if kk != "stdout"} for k, v in pair.items()}
        print(f"tables    {args.tables_runs} runs x 25,000 rows (CSV/JSONL), {inp['bytes'] / 1e6:.0f} MB | interleaved: "
              f"losscheck -j 2 {fmt_t(pair['losscheck'])} s vs one pandas process loading them "
              f"{fmt_t(pair['pandas'])} s = {ratio:.2f}x", flush=True)
        checks.append((f"issue 17: {args.tables_runs} runs x 25k rows, -j 2 <= 1.0x one pandas process loading them",
                       ratio <= 1.0, f"{ratio:.2f}x"))
    elif name == "many":
        pts = []
        for n in args.many_runs:
            inp = inputs[f"many-{n}"]
            t0 = time.perf_counter()
            split = json.loads(measure([PY, "-c", SWEEP_SPLIT, inp["path"]], 1)["stdout"])
            pts.append((n, split["parent"], split["workers"], time.perf_counter() - t0))
            print(f"many      {n:,} tiny runs (100-row CSV), -j 2: parent peak {split['parent']:.0f} MB, "
                  f"per worker {split['workers']:.0f} MB, {pts[-1][3]:.0f} s", flush=True)
        results["many"] = [dict(runs=n, parent=a, workers=b, seconds=t) for n, a, b, t in pts]
        n1, p1 = pts[-1][0], pts[-1][1]
        if len(pts) >= 2 and pts[-1][0] != pts[0][0]:
            slope = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
            proj = p1 + slope * (100_000 - n1)
            detail = (f"{proj:.0f} MB projected for 100,000 runs ({slope * 1024:.1f} KB per run between "
                      f"{pts[0][0]:,} and {n1:,} runs: {pts[0][1]:.0f} -> {p1:.0f} MB)")
        else:
            proj = p1 if n1 >= 100_000 else float("nan")
            detail = f"{p1:.0f} MB at {n1:,} runs" + ("" if n1 >= 100_000 else " (give two sizes to project)")
        checks.append(("issue 17: 100k-run sweep of tiny runs, parent peak <= 1 GB", proj <= 1024, detail))
    elif name == "remote":
        cmd = [PY, ROOT / "benchmarks" / "remote.py", "--runs", args.mixed_runs, "--points", 25_000,
               "--repeat", args.remote_repeat, "--jobs", 2]
        out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        text = out.stdout + (out.stderr[-1500:] if out.returncode else "")
        print("remote    " + text.strip().replace("\n", "\n          "), flush=True)
        ratio = float("nan")
        for line in out.stdout.splitlines():
            if "s3 / local =" in line:
                ratio = float(line.split("=")[1].split("x")[0])
        results["remote"] = dict(stdout=out.stdout, ratio=ratio)
        checks.append((f"issue 17: {args.mixed_runs} runs from moto S3 <= 2x local disk", ratio <= 2.0,
                       f"{ratio:.2f}x (benchmarks/remote.py, -j 2)"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    all_cases = ["tb-simple", "tb-tf2", "tb-20tags", "sweep", "csv", "jsonl", "help"]
    issue17 = ["tiny", "tb-10m", "mixed", "tables", "many", "remote"]
    ap.add_argument("--quick", action="store_true", help="tb-simple and help only, 3 repeats, 1 TensorBoard run")
    ap.add_argument("--only", nargs="+", choices=all_cases + issue17, help="run these cases only")
    ap.add_argument("--polars-python", type=Path,
                    help="an interpreter with polars (a throwaway venv): csv/jsonl are then compared with "
                         "polars loading the same file, whole process, interleaved")
    ap.add_argument("--tb10m-points", type=int, default=10_000_000, help="points of the tb-10m event file")
    ap.add_argument("--mixed-runs", type=int, default=1000, help="runs of the mixed (and remote) sweep")
    ap.add_argument("--tables-runs", type=int, default=300, help="runs of the tables sweep")
    ap.add_argument("--many-runs", type=int, nargs="+", default=[100_000],
                    help="sizes of the many-tiny-runs sweep (several: slope per run and projection to 100,000)")
    ap.add_argument("--remote-repeat", type=int, default=3, help="runs per side of the remote comparison")
    ap.add_argument("--repeat", type=int, default=5, help="runs per losscheck measurement (median)")
    ap.add_argument("--tb-repeat", type=int, default=3, help="runs per EventAccumulator/tbparse measurement")
    ap.add_argument("--no-tensorboard", action="store_true", help="skip EventAccumulator and tbparse")
    ap.add_argument("--sweep-tensorboard", action="store_true",
                    help="also load the 200-run sweep with EventAccumulator (slow: ~1-2 min per run)")
    ap.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    ap.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = ap.parse_args(argv)
    cases = args.only or (["tb-simple", "help"] if args.quick else all_cases)
    repeat = 3 if args.quick and args.repeat == 5 else args.repeat
    tb_repeat = 1 if args.quick else args.tb_repeat
    tbparse = not args.no_tensorboard and have_tbparse()

    tmpdir = None
    if args.keep:
        tmp = args.keep
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmpdir = tempfile.TemporaryDirectory(prefix="losscheck-speed-")
        tmp = Path(tmpdir.name)
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; losscheck medians of {repeat} runs, TensorBoard of {tb_repeat}")
    compile_package()
    inputs = build_inputs(tmp, cases, args.tb10m_points, args.mixed_runs, args.tables_runs,
                          tuple(args.many_runs))
    results = {}
    (tmp / "losscheck.toml").write_text("")  # stop config discovery from walking up into the repo
    # memory floor: the same command on a 1,000-point run (interpreter, numpy, typer, rich, losscheck)
    tiny = tmp / "tiny"
    tiny.mkdir(exist_ok=True)
    write_event_file(tiny / "events.out.tfevents.1.bench.0.0", ["train/loss"], 1000)
    floor = measure([BIN, "diagnose", tiny, "-f", "json", "--isolated", "-j", 1], 3)["peak"] or 0.0
    print(f"# memory floor (diagnose of a 1,000-point run): {floor:.0f} MB", flush=True)
    checks = []
    for name in cases:
        if name in issue17:
            issue17_case(name, inputs, args, repeat, floor, results, checks)
            continue
        if name == "help":
            m = measure([BIN, "--help"], repeat * 2)
            results["help"] = dict(losscheck=m)
            print(f"help      losscheck --help {fmt_t(m)} s, peak {m['peak']:.0f} MB", flush=True)
            continue
        inp = inputs[name]
        files = [inp["file"]] if inp["file"] else sorted(Path(inp["path"]).rglob("events.out.tfevents.*"))
        r = dict(points=inp["points"], mb=inp["bytes"] / 1e6, largest_mb=inp["largest"] / 1e6)
        jobs = [1, 2] if name == "sweep" else [1]
        for j in jobs:
            m = measure([BIN, "diagnose", inp["path"], "-f", "json", "--isolated", "-j", j], repeat)
            doc = json.loads(m.pop("stdout"))
            r[f"losscheck_j{j}"] = m
            r["status"] = [run["status"] for run in doc["runs"]][:3]
        if name == "sweep":  # one run of the sweep alone: what "near one run per worker" means
            one = sorted(Path(inp["path"]).iterdir())[0]
            r["one_run"] = measure([BIN, "diagnose", one, "-f", "json", "--isolated", "-j", 1], 3)
            r["one_run"].pop("stdout")
            split = measure([PY, "-c", SWEEP_SPLIT, inp["path"]], 1)
            r["split_j2"] = json.loads(split["stdout"])  # peak of the parent and of its workers
        m = measure([PY, "-c", READER_ONLY, *files], repeat)
        r["reader_points"] = json.loads(m.pop("stdout"))["points"]
        r["reader"] = m
        r["raw"] = raw_read(files, repeat)
        is_tb = name.startswith("tb-") or (name == "sweep" and args.sweep_tensorboard)
        if is_tb and not args.no_tensorboard:
            m = measure([PY, "-c", EVENT_ACCUMULATOR, *files], tb_repeat)
            r["ea_points"] = json.loads(m.pop("stdout"))["points"]
            r["ea"] = m
            if tbparse:
                m = measure([PY, "-c", TBPARSE, *files], tb_repeat)
                r["tbparse_points"] = json.loads(m.pop("stdout"))["points"]
                r["tbparse"] = m
        results[name] = r
        lc = r["losscheck_j1"]
        above = max(0.0, (lc['peak'] or 0) - floor)
        line = (f"{name:<9} {r['mb']:.0f} MB, {r['points']:,} points | losscheck diagnose "
                f"{fmt_t(lc)} s (peak {lc['peak'] or 0:.0f} MB, {above:.0f} MB above the floor = "
                f"{above / r['largest_mb']:.1f}x largest file, {above * 1e6 / r['points']:.0f} B per point) "
                f"| reader only {fmt_t(r['reader'])} s "
                f"| raw read {fmt_t(r['raw'])} s")
        if "losscheck_j2" in r:
            line += f" | -j 2: {fmt_t(r['losscheck_j2'])} s (peak/process {r['losscheck_j2']['peak'] or 0:.0f} MB)"
        if "ea" in r:
            line += (f" | EventAccumulator {fmt_t(r['ea'])} s, peak {r['ea']['peak'] or 0:.0f} MB "
                     f"-> {r['ea']['median'] / lc['median']:.1f}x losscheck")
        if "tbparse" in r:
            line += f" | tbparse {fmt_t(r['tbparse'])} s -> {r['tbparse']['median'] / lc['median']:.1f}x"
        if name in ("csv", "jsonl") and args.polars_python:
            pair = measure_interleaved({"losscheck": [BIN, "diagnose", inp["path"], "-f", "json", "--isolated"],
                                        "polars": [args.polars_python, "-c", POLARS_LOAD, inp["file"]]}, repeat)
            r["vs_polars"] = {k: {kk: vv for kk, vv in v.items() if kk != "stdout"} for k, v in pair.items()}
            ratio = pair["losscheck"]["median"] / pair["polars"]["median"]
            line += (f" | interleaved: losscheck {fmt_t(pair['losscheck'])} s vs polars loading it "
                     f"{fmt_t(pair['polars'])} s = {ratio:.2f}x")
            checks.append((f"issue 17: 1M-row {name.upper()} whole process <= 1.5x polars loading it", ratio <= 1.5,
                           f"{ratio:.2f}x ({pair['losscheck']['median']:.2f} s vs {pair['polars']['median']:.2f} s)"))
        same = r["reader_points"] == r["points"] and r.get("ea_points", r["points"]) == r["points"]
        line += "" if same else (f" | POINT COUNT MISMATCH: wrote {r['points']}, losscheck {r['reader_points']}, "
                                 f"EventAccumulator {r.get('ea_points')}")
        print(line, flush=True)

    print("\n# targets (whole process, medians)")
    if "tb-simple" in results and "ea" in results["tb-simple"]:
        r = results["tb-simple"]
        checks.append(("1M-point file <= 1/15 of EventAccumulator",
                       r["losscheck_j1"]["median"] <= r["ea"]["median"] / 15,
                       f"{r['losscheck_j1']['median']:.2f} s vs {r['ea']['median']:.2f} s / 15 = "
                       f"{r['ea']['median'] / 15:.2f} s"))
    if "tb-simple" in results:
        r = results["tb-simple"]
        checks.append(("1M-point file about 1 s", r["losscheck_j1"]["median"] <= 1.0,
                       f"{r['losscheck_j1']['median']:.2f} s"))
    if "tb-simple" in results and "tb-tf2" in results:
        a, b = results["tb-simple"]["losscheck_j1"]["median"], results["tb-tf2"]["losscheck_j1"]["median"]
        checks.append(("TF2 layout within 1.3x of simple_value", b <= 1.3 * a, f"{b:.2f} s vs {a:.2f} s"))
    if "sweep" in results:
        m = results["sweep"]["losscheck_j2"]["median"]
        checks.append(("200-run sweep (5M points) <= 3 s with 2 jobs", m <= 3.0, f"{m:.2f} s"))
    for k in ("csv", "jsonl"):
        if k in results:
            m = results[k]["losscheck_j1"]["median"]
            checks.append((f"1M-row {k.upper()} <= 1.5 s", m <= 1.5, f"{m:.2f} s"))
    for name, r in results.items():
        if name in ("tiny", "tb-10m", "mixed", "tables", "many", "remote"):
            continue  # checked where measured
        if name == "sweep" and r.get("losscheck_j2", {}).get("peak"):
            # many small runs: what matters is that a worker holds about one run at a time, so
            # each process's peak is compared with diagnosing one of the runs on its own
            # (the parent process also holds every run's result and renders the report)
            one = r["one_run"]["peak"] or 0.0
            per = r["split_j2"]["workers"]
            checks.append(("sweep: peak memory per worker (-j 2) <= one run alone + 2x largest run",
                           per <= one + 2.0 * r["largest_mb"],
                           f"{per:.0f} MB per worker; one run alone {one:.0f} MB; largest run "
                           f"{r['largest_mb']:.1f} MB; the parent, holding the 200 results and the "
                           f"report, {r['split_j2']['parent']:.0f} MB"))
            continue
        if name != "help" and r["losscheck_j1"].get("peak"):
            ratio = r["losscheck_j1"]["peak"] / r["largest_mb"]
            above = max(0.0, r["losscheck_j1"]["peak"] - floor) / r["largest_mb"]
            checks.append((f"{name}: peak memory <= 2x largest run read", ratio <= 2.0,
                           f"{r['losscheck_j1']['peak']:.0f} MB = {ratio:.1f}x {r['largest_mb']:.1f} MB "
                           f"({above:.1f}x above the {floor:.0f} MB floor)"))
            # the same, less the interpreter floor (Python, numpy, typer, rich: what any run costs)
            checks.append((f"{name}: peak memory above the floor <= 2x largest run read", above <= 2.0,
                           f"{r['losscheck_j1']['peak'] - floor:.0f} MB = {above:.1f}x {r['largest_mb']:.1f} MB"))
    if "help" in results:
        m = results["help"]["losscheck"]["median"]
        checks.append(("losscheck --help <= 0.3 s", m <= 0.3, f"{m:.2f} s"))
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {detail}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if tmpdir is not None:
        tmpdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A gallery of hostile and unlucky inputs and conditions, rebuilt on every run (issue 12).

Each case builds its own inputs into a fresh folder (seeded: ``--seed``), runs the
``losscheck`` command line on them in a subprocess bounded by a timeout, and checks the
promises of the README's "Robustness" section:

- **no hang**: the process ends before its timeout (60 s for light cases);
- **no traceback**: neither output holds ``Traceback``;
- **documented exit code**: 0, 1, 2 or 130, and the one the case expects when it expects one;
- **no run silently lost**: every run folder the case names is in the report, as a run or
  as an error line (``-f json``);
- **no write into the inputs**: a hash of the case's whole folder (names, modes, contents)
  is the same before and after;
- **bounded memory**: peak resident memory (the kernel's ``VmHWM``, summed over the process
  and its workers, sampled every 10 ms) at most 1 GiB when the inputs hold at most 10 MB;
- **no terminal control**: no raw ESC or other C0 control character (tab and newline
  aside) reaches standard output or standard error.

Classes: ``hang`` (pseudo-files, FIFOs, devices, loops), ``superlinear`` (long lines, many
runs, long runs), ``memory`` (gzip bombs, growing files, blank lines, huge lines), ``lost``
(permissions, killed workers, nesting, big steps, deep paths), ``outputs`` (``-o`` into the
inputs, broken standard output, interrupts), ``config`` (planted, malformed, not a file),
``names`` (ANSI, bytes, symlinks), ``encoding``, ``file-type``, ``fuzz`` (seeded mutations of
real formats) and ``gallery`` (the bad-input files under ``tests/bad_inputs``).
Heavy cases (many MB or minutes) are marked and run only with ``--heavy`` or ``--heavy-only``.

The summary table gives cases tried and held per class, peak memory, and (unless
``--no-ctrl-c``) the time a 3,000-run sweep with ``-j 2`` takes to stop on Ctrl-C (median
of ``--ctrl-c-repeat`` runs).

Usage::

    .venv/bin/python benchmarks/hostile_gallery.py                 # light cases + Ctrl-C figure
    .venv/bin/python benchmarks/hostile_gallery.py --heavy -j 2    # everything
    .venv/bin/python benchmarks/hostile_gallery.py --only gzip --no-ctrl-c -v
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
EXIT_CODES = {0, 1, 2, 130}
RSS_LIMIT_KB = 1 << 20  # 1 GiB
SMALL_INPUT = 10_000_000  # bytes: the memory promise holds for inputs up to this size
LIGHT_TIMEOUT = 60.0


@dataclass
class Spec:
    """How to run one case (returned by its builder).

    Attributes:
        args: the ``losscheck`` arguments (``diagnose PATH -f json`` ...).
        codes: the exit codes accepted (a subset of :data:`EXIT_CODES`).
        runs: run folders (relative to the case folder) that must be in the report, as a run
            or an error; checked on the JSON report when ``-f json`` is among ``args``.
        shell: a ``bash -c`` command instead (``$PY`` the interpreter, ``"$@"`` the args).
        during: called with the ``Popen`` while the process runs (kill a worker, Ctrl-C,
            grow a file); runs in a thread.
        mutates: the case itself changes its inputs (a growing file): no hash check.
        stderr_has: a text standard error must hold (the message names the problem).
        timeout: seconds before the case counts as a hang.
        cwd: working directory (default: the case folder).
        after: ``after(stdout, stderr)``, a check run after the process ended, returning a
            problem or ``None``.
    """

    args: list[str]
    codes: set[int] = field(default_factory=lambda: {0, 1, 2})
    runs: list[str] | None = None
    shell: str | None = None
    during: Callable | None = None
    mutates: bool = False
    stderr_has: str | None = None
    timeout: float = LIGHT_TIMEOUT
    cwd: Path | None = None
    after: Callable[[str, str], str | None] | None = None


@dataclass
class Case:
    """One gallery entry: ``build(folder, rng) -> Spec`` creates the inputs."""

    name: str
    cls: str
    build: Callable[[Path, random.Random], Spec]
    heavy: bool = False


@dataclass
class Result:
    case: Case
    code: int | None
    seconds: float
    rss_kb: int
    input_bytes: int
    problems: list[str]

    @property
    def held(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- inputs

def curve(n: int, rng: random.Random, kind: str = "converge") -> list[float]:
    """A loss curve of ``n`` points: ``converge`` (exp decay + noise) or ``diverge``."""
    out = []
    for i in range(n):
        if kind == "diverge":
            v = 1.0 + 0.002 * i * i / max(1, n / 50)
        else:
            v = 2.0 * math.exp(-i / max(1, n / 5)) + 0.3
        out.append(v * (1 + 0.02 * (rng.random() - 0.5)))
    return out


def csv_text(n: int, rng: random.Random, kind: str = "converge", step0: int = 0, sep: str = ",") -> str:
    return f"step{sep}loss\n" + "".join(f"{step0 + i}{sep}{v:.6f}\n" for i, v in enumerate(curve(n, rng, kind)))


def jsonl_text(n: int, rng: random.Random, step0: int = 0) -> str:
    return "".join(json.dumps({"step": step0 + i, "loss": round(v, 6)}) + "\n" for i, v in enumerate(curve(n, rng)))


def log_text(n: int, rng: random.Random) -> str:
    return "".join(f"step {i} | loss {v:.5f} | lr 0.001\n" for i, v in enumerate(curve(n, rng)))


def trainer_state_text(n: int, rng: random.Random) -> str:
    hist = [{"step": (i + 1) * 10, "loss": round(v, 5), "learning_rate": 1e-4, "epoch": i / 10}
            for i, v in enumerate(curve(n, rng))]
    return json.dumps({"log_history": hist, "global_step": n * 10, "max_steps": n * 10})


def events_bytes(n: int, rng: random.Random, step0: int = 0) -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from losscheck.readers._tfrecord import frame

    out = [frame(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())]
    for i, v in enumerate(curve(n, rng)):
        summ = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="train/loss", simple_value=v)])
        out.append(frame(event_pb2.Event(wall_time=1.7e9 + i, step=step0 + i, summary=summ).SerializeToString()))
    return b"".join(out)


def mlflow_text(n: int, rng: random.Random) -> str:
    return "".join(f"{1700000000000 + i} {v} {i}\n" for i, v in enumerate(curve(n, rng)))


#: (file name in a run folder, builder of its bytes) for each format the fuzz class mutates
FORMATS: dict[str, tuple[str, Callable[[int, random.Random], bytes]]] = {
    "csv": ("metrics.csv", lambda n, r: csv_text(n, r).encode()),
    "tsv": ("metrics.tsv", lambda n, r: csv_text(n, r, sep="\t").encode()),
    "jsonl": ("metrics.jsonl", lambda n, r: jsonl_text(n, r).encode()),
    "log": ("train.log", lambda n, r: log_text(n, r).encode()),
    "trainer_state": ("trainer_state.json", lambda n, r: trainer_state_text(n, r).encode()),
    "tfevents": ("events.out.tfevents.1700000000.host", events_bytes),
    "mlflow": ("metrics/loss", lambda n, r: mlflow_text(n, r).encode()),
}


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def sweep(d: Path, n: int, rng: random.Random, points: int = 60) -> list[str]:
    names = []
    for k in range(n):
        write(d / f"run{k:05d}" / "metrics.csv", csv_text(points, rng))
        names.append(f"run{k:05d}")
    return names


def diag(path: str | Path = ".", *more: str) -> list[str]:
    return ["diagnose", str(path), "-f", "json", *more]


# --------------------------------------------------------------------------- during-run actions

def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (not a zombie). Never reaps it: the runner's ``wait4``
    must be the one that collects its exit status and memory."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _losscheck_pid(proc: subprocess.Popen) -> int:
    """The losscheck process: the Popen itself, or its child when it runs under bash."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            cmd = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        except OSError:
            return proc.pid
        if b"losscheck" in cmd and b"bash" not in cmd.split(b"\0")[0]:
            return proc.pid
        kids = _children(proc.pid)
        if kids:
            return kids[0]
        time.sleep(0.02)
    return proc.pid


def wait_workers(proc: subprocess.Popen, n: int = 2, timeout: float = 30) -> list[int]:
    pid = _losscheck_pid(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(proc.pid):
        kids = _children(pid)
        if len(kids) >= n:
            return kids
        time.sleep(0.02)
    return []


def kill_a_worker(proc: subprocess.Popen) -> None:
    kids = wait_workers(proc)
    if kids:
        time.sleep(0.3)
        try:
            os.kill(kids[0], signal.SIGKILL)
        except OSError:
            pass


def ctrl_c(times: int, delay: float = 0.5) -> Callable:
    def act(proc: subprocess.Popen) -> None:
        kids = wait_workers(proc)
        if not kids:
            return
        time.sleep(delay)
        pid = _losscheck_pid(proc)
        for _ in range(times):
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                return
            time.sleep(0.05)
        time.sleep(1.0)
        left = [w for w in kids if Path(f"/proc/{w}").exists()
                and "zombie" not in Path(f"/proc/{w}/status").read_text().lower()]
        act.left = left  # type: ignore[attr-defined]
    act.left = []  # type: ignore[attr-defined]
    return act


def grower(path: Path, seconds: float, rate: int = 40 << 20) -> Callable:
    """Append CSV rows to ``path`` at ``rate`` bytes/s while the process runs."""
    def act(proc: subprocess.Popen) -> None:
        row = "".join(f"{i},{1.0 / (i + 1):.6f}\n" for i in range(100000, 120000)).encode()
        end = time.monotonic() + seconds
        with open(path, "ab") as fh:
            while time.monotonic() < end and _alive(proc.pid):
                t0 = time.monotonic()
                fh.write(row)
                fh.flush()
                time.sleep(max(0.0, len(row) / rate - (time.monotonic() - t0)))
    return act


# --------------------------------------------------------------------------- the cases

CASES: list[Case] = []


def case(name: str, cls: str, heavy: bool = False):
    def deco(fn: Callable[[Path, random.Random], Spec]):
        CASES.append(Case(name, cls, fn, heavy))
        return fn
    return deco


def add(name: str, cls: str, fn: Callable[[Path, random.Random], Spec], heavy: bool = False) -> None:
    CASES.append(Case(name, cls, fn, heavy))


# ---- hang: pseudo-files, FIFOs, devices, loops

for target in ("/proc/kmsg", "/dev/zero", "/dev/urandom", "/proc/self/mem", "/dev/stdin", "/proc/self/status",
               "/sys/kernel/mm/transparent_hugepage/enabled", "/dev/null"):
    tag = target.strip("/").replace("/", "_")
    for follow in (False, True):
        def _b(d, rng, target=target, follow=follow):
            write(d / "run" / "metrics.csv", csv_text(80, rng))
            (d / "run" / "kernel.log").symlink_to(target)
            (d / "run" / "more.csv").symlink_to(target)
            return Spec(diag(".", *(["--follow-symlinks"] if follow else [])), runs=["run"])
        add(f"symlink-to-{tag}{'-followed' if follow else ''}", "hang", _b)

    def _bb(d, rng, target=target):
        write(d / "run" / "metrics.csv", csv_text(80, rng))
        return Spec(diag("run", "--baseline", target))
    add(f"baseline-{tag}", "hang", _bb)

    def _bp(d, rng, target=target):
        return Spec(diag(target), codes={2})
    add(f"path-{tag}", "hang", _bp)


for fname in ("metrics.csv", "events.out.tfevents.1.host", "train.log", "trainer_state.json", "m.jsonl.gz"):
    def _fifo(d, rng, fname=fname):
        write(d / "run" / "ok.csv", csv_text(80, rng))
        os.mkfifo(d / "run" / fname)
        return Spec(diag("."), runs=["run"])
    add(f"fifo-in-run-{fname}", "hang", _fifo)

    def _fifo_path(d, rng, fname=fname):
        os.mkfifo(d / fname)
        return Spec(diag(fname), codes={2})
    add(f"fifo-as-path-{fname}", "hang", _fifo_path)


@case("fifo-as-config", "hang")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    os.mkfifo(d / "losscheck.toml")
    return Spec(diag("run", "--config", "losscheck.toml"), codes={2}, stderr_has="losscheck.toml")


@case("fifo-found-as-project-config", "hang")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    os.mkfifo(d / "losscheck.toml")
    return Spec(diag("run"), codes={0, 1, 2})


@case("device-as-config", "hang")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    return Spec(diag("run", "--config", "/dev/zero"), codes={2}, stderr_has="/dev/zero")


@case("socket-in-run", "hang")
def _(d, rng):
    import socket

    write(d / "run" / "metrics.csv", csv_text(80, rng))
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d / "run" / "events.out.tfevents.sock"))
    s.close()
    return Spec(diag("."), runs=["run"])


for depth in (2, 40):
    def _loop(d, rng, depth=depth):
        write(d / "run" / "metrics.csv", csv_text(80, rng))
        cur = d / "run"
        for k in range(depth):
            cur = cur / f"sub{k}"
            cur.mkdir()
        (cur / "back").symlink_to(d)
        (d / "run" / "self").symlink_to(".")
        return Spec(diag("."), runs=["run"])
    add(f"symlink-loop-depth{depth}", "hang", _loop)


@case("dangling-symlinks", "hang")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    (d / "run" / "gone.csv").symlink_to(d / "nowhere.csv")
    (d / "run" / "gone").symlink_to(d / "nowhere")
    return Spec(diag("."), runs=["run"])


@case("stdin-from-dev-zero", "hang")
def _(d, rng):
    return Spec([], shell='"$PY" -m losscheck diagnose - -f json < /dev/zero', codes={2})


@case("stdin-from-tty-less-empty", "hang")
def _(d, rng):
    return Spec([], shell='"$PY" -m losscheck diagnose - -f json < /dev/null', codes={2})


# ---- superlinear: long lines, many runs, long runs

for fmt, length in [(f, n) for f in ("csv", "jsonl", "log", "tsv") for n in (100_000, 1_000_000)]:
    def _long(d, rng, fmt=fmt, length=length):
        name, make = FORMATS[fmt]
        data = make(200, rng)
        lines = data.split(b"\n")
        k = rng.randrange(1, len(lines) - 2)
        filler = {"csv": b"9" * length, "tsv": b"x" * length, "jsonl": b'{"note": "' + b"a" * length + b'"}',
                  "log": b"step 5 loss " + b"1.0 " * (length // 4)}[fmt]
        lines.insert(k, filler)
        write(d / "run" / name, b"\n".join(lines))
        return Spec(diag("."), runs=["run"])
    add(f"long-line-{fmt}-{length // 1000}k", "superlinear", _long)


@case("long-line-no-newline-10MB", "superlinear")
def _(d, rng):
    write(d / "run" / "train.log", b"loss=" + b"1" * 9_000_000)
    return Spec(diag("."), codes={2}, runs=["run"])


@case("many-columns-20k", "superlinear")
def _(d, rng):
    cols = [f"c{k}" for k in range(20000)]
    rows = [",".join(["step", "loss", *cols])]
    for i, v in enumerate(curve(50, rng)):
        rows.append(",".join([str(i), f"{v:.5f}", *("1" for _ in cols)]))
    write(d / "run" / "metrics.csv", "\n".join(rows) + "\n")
    return Spec(diag("."), runs=["run"])


@case("many-tags-jsonl-5k", "superlinear")
def _(d, rng):
    lines = []
    for i in range(40):
        rec = {"step": i, "loss": 2.0 / (i + 1)}
        rec.update({f"metric_{k}": float(k) for k in range(5000)})
        lines.append(json.dumps(rec))
    write(d / "run" / "metrics.jsonl", "\n".join(lines) + "\n")
    return Spec(diag("."), runs=["run"])


for n in (300, 1000):
    def _many(d, rng, n=n):
        names = []
        for k in range(n):
            write(d / f"run{k}" / "metrics.csv", csv_text(30, rng))
            write(d / f"run{k}" / "checkpoints" / "config.yaml", "lr: 0.1\n")
            names.append(f"run{k}")
        return Spec(diag(".", "-j", "2"), runs=rng.sample(names, 20))
    add(f"runs-{n}", "superlinear", _many)


@case("runs-5000", "superlinear", heavy=True)
def _(d, rng):
    names = []
    for k in range(5000):
        write(d / f"run{k}" / "metrics.csv", csv_text(30, rng))
        write(d / f"run{k}" / "checkpoints" / "config.yaml", "lr: 0.1\n")
        names.append(f"run{k}")
    return Spec(diag(".", "-j", "2"), runs=rng.sample(names, 50), timeout=600)


def _constant_lr(rows: int) -> Callable:
    def build(d, rng):
        with open(write(d / "run" / "metrics.csv", "step,loss,lr\n"), "a") as fh:
            for i in range(rows):
                fh.write(f"{i},{2.0 * math.exp(-i / (rows / 5)) + 0.3 + 0.01 * rng.random():.5f},0.001\n")
        return Spec(diag("."), runs=["run"], timeout=LIGHT_TIMEOUT if rows <= 200_000 else 600)
    return build


add("lc301-constant-lr-100k", "superlinear", _constant_lr(100_000))
add("lc301-constant-lr-1M", "superlinear", _constant_lr(1_000_000), heavy=True)


def _sparse_evals(rows: int, every: int) -> Callable:
    def build(d, rng):
        with open(write(d / "run" / "metrics.csv", "step,train_loss,val_loss,epoch\n"), "a") as fh:
            for i in range(rows):
                val = f"{1.0 + 1.0 / (1 + i / 1000):.5f}" if i % every == 0 else ""
                fh.write(f"{i},{2.0 * math.exp(-i / (rows / 5)) + 0.3:.5f},{val},{i // 1000}\n")
        return Spec(diag("."), runs=["run"], timeout=LIGHT_TIMEOUT if rows <= 200_000 else 600)
    return build


add("lc403-sparse-evals-100k", "superlinear", _sparse_evals(100_000, 1000))
add("lc403-every-row-evals-100k", "superlinear", _sparse_evals(100_000, 1))
add("lc403-sparse-evals-1M", "superlinear", _sparse_evals(1_000_000, 1000), heavy=True)
add("lc403-every-row-evals-300k", "superlinear", _sparse_evals(300_000, 1), heavy=True)


@case("tfevents-1M-points", "superlinear", heavy=True)
def _(d, rng):
    write(d / "run" / "events.out.tfevents.1.host", events_bytes(1_000_000, rng))
    return Spec(diag("."), runs=["run"], timeout=600)


# ---- memory: gzip bombs, growing files, blank lines, huge lines

for inflated_mb, name in ((200, "m.csv.gz"), (1000, "m.jsonl.gz"), (300, "train.log.gz"), (200, "metrics.csv"),
                          (150, "events.out.tfevents.1.host.gz")):
    def _bomb(d, rng, inflated_mb=inflated_mb, name=name):
        zeros = b"\n" * (1 << 20)
        with gzip.open(d / "bomb.tmp", "wb", compresslevel=9) as fh:
            fh.write(b"step,loss\n1,2\n2,1\n")
            for _ in range(inflated_mb):
                fh.write(zeros)
        write(d / "run" / "ok.csv", csv_text(80, rng))
        (d / "bomb.tmp").rename(d / "run" / name)
        return Spec(diag("."), runs=["run"])
    add(f"gzip-bomb-{inflated_mb}MB-{name}", "memory", _bomb)


def _archive_bomb(kind: str, mib: int) -> Callable:
    def build(d, rng):
        import io
        import tarfile
        import zipfile

        data = b"step,loss\n1,2\n2,1\n" + b"\n" * (mib << 20)
        if kind == "zip":
            with zipfile.ZipFile(d / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("run/metrics.csv", data)
                z.writestr("ok/metrics.csv", csv_text(80, rng))
            return Spec(diag("bomb.zip"), runs=["ok"])
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for name, payload in (("ok/metrics.csv", csv_text(80, rng).encode()), ("run/metrics.csv", data)):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                t.addfile(info, io.BytesIO(payload))
        name = "bomb.tar.gz" if kind == "tar.gz" else "logs.gz"
        write(d / name, gzip.compress(buf.getvalue(), 9))
        return Spec(diag(name), codes={0, 2})
    return build


for kind in ("zip", "tar.gz", "tar-in-gz"):
    for mib in (100, 1500):
        add(f"archive-bomb-{kind}-{mib}MiB", "memory", _archive_bomb(kind, mib))


@case("gzip-bomb-multimember", "memory")
def _(d, rng):
    member = gzip.compress(b"\0" * (8 << 20), 9)
    write(d / "run" / "log.jsonl.gz", member * 40)
    write(d / "run" / "ok.csv", csv_text(80, rng))
    return Spec(diag("."), runs=["run"])


@case("gzip-bomb-10GB", "memory", heavy=True)
def _(d, rng):
    with gzip.open(d / "bomb.csv.gz", "wb", compresslevel=9) as fh:
        block = b"\n" * (16 << 20)
        for _ in range(640):
            fh.write(block)
    return Spec(diag("bomb.csv.gz"), codes={2}, stderr_has="--max-ratio", timeout=600)


def _repetitive_csv(rows: int) -> bytes:
    """A CSV whose rows differ only in the step (constant metrics): gzip squeezes it 20-40x."""
    const = ",0.500000,0.001000,1,0.900000" + ",0.123456" * 8
    return ("step,loss,lr,epoch,acc" + "".join(f",m{k}" for k in range(8)) + "\n"
            + "".join(f"{i}{const}\n" for i in range(rows))).encode()


@case("gzip-repetitive-refused-by-ratio", "memory")
def _(d, rng):
    write(d / "run" / "m.csv.gz", gzip.compress(_repetitive_csv(700_000), 9))
    return Spec(diag("."), codes={2}, runs=["run"], stderr_has="--max-ratio")


@case("gzip-repetitive-accepted-with-option", "memory")
def _(d, rng):
    write(d / "run" / "m.csv.gz", gzip.compress(_repetitive_csv(700_000), 9))
    return Spec(diag(".", "--max-ratio", "1000"), codes={0, 1}, runs=["run"])


@case("growing-file", "memory")
def _(d, rng):
    f = write(d / "run" / "metrics.csv", csv_text(50_000, rng))
    return Spec(diag("."), runs=["run"], during=grower(f, 8.0), mutates=True)


@case("growing-file-heavy", "memory", heavy=True)
def _(d, rng):
    f = write(d / "run" / "metrics.csv", csv_text(500_000, rng))
    return Spec(diag("."), runs=["run"], during=grower(f, 60.0, rate=160 << 20), mutates=True, timeout=600)


for fmt in ("csv", "jsonl", "log"):
    def _blank(d, rng, fmt=fmt):
        name, make = FORMATS[fmt]
        write(d / "run" / name, make(100, rng) + b"\n" * (10 << 20) + make(10, rng))
        return Spec(diag("."), runs=["run"])
    add(f"blank-lines-10MiB-{fmt}", "memory", _blank)


@case("huge-jsonl-line-9MB", "memory")
def _(d, rng):
    write(d / "run" / "metrics.jsonl", jsonl_text(100, rng) + json.dumps({"step": 101, "blob": "x" * 9_000_000})
          + "\n" + jsonl_text(10, rng, 200))
    return Spec(diag("."), runs=["run"])


@case("huge-jsonl-line-300MB", "memory", heavy=True)
def _(d, rng):
    with open(write(d / "run" / "metrics.jsonl", jsonl_text(100, rng)), "a") as fh:
        fh.write('{"step": 101, "blob": "')
        for _ in range(300):
            fh.write("x" * (1 << 20))
        fh.write('"}\n')
        fh.write(jsonl_text(10, rng, 200))
    return Spec(diag("."), runs=["run"], timeout=600)


@case("csv-9MB-single-cell", "memory")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(100, rng) + "1," + "7" * 9_000_000 + "\n")
    return Spec(diag("."), runs=["run"])


@case("tfevents-huge-record-length", "memory")
def _(d, rng):
    import struct

    from losscheck.readers._tfrecord import masked_crc32c

    good = events_bytes(100, rng)
    length = struct.pack("<Q", 1 << 60)
    write(d / "run" / "events.out.tfevents.1.host", good + length + struct.pack("<I", masked_crc32c(length)) + b"x" * 64)
    return Spec(diag("."), runs=["run"])


# ---- lost data: killed workers, nesting, big steps, deep paths, permissions

@case("kill-9-a-worker", "lost")
def _(d, rng):
    names = sweep(d, 150, rng, points=400)
    return Spec(diag(".", "-j", "2"), runs=names, during=kill_a_worker)


for depth in (1000, 100_000):
    def _nest(d, rng, depth=depth):
        deep = '{"step": 5, "loss": ' + "[" * depth + "]" * depth + "}"
        write(d / "run" / "metrics.jsonl", jsonl_text(50, rng) + deep + "\n" + jsonl_text(50, rng, 100))
        return Spec(diag("."), runs=["run"], codes={0, 1})
    add(f"nested-jsonl-line-{depth}", "lost", _nest)


@case("nested-trainer-state", "lost")
def _(d, rng):
    write(d / "run" / "trainer_state.json", '{"log_history": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return Spec(diag("."), runs=["run"])


for base in (2 ** 53, 2 ** 62 - 10_000, 2 ** 63 - 10):
    for fmt in ("csv", "jsonl", "tfevents"):
        def _steps(d, rng, base=base, fmt=fmt):
            if fmt == "csv":
                data = csv_text(200, rng, step0=base).encode()
            elif fmt == "jsonl":
                data = jsonl_text(200, rng, step0=base).encode()
            else:
                data = events_bytes(200, rng, step0=min(base, 2 ** 63 - 201))
            write(d / "run" / FORMATS[fmt][0], data)
            return Spec(diag("."), runs=["run"])
        add(f"steps-from-{base}-{fmt}", "lost", _steps)


@case("path-deeper-than-PATH_MAX", "lost")
def _(d, rng):
    write(d / "shallow" / "metrics.csv", csv_text(80, rng))
    fd = os.open(d, os.O_RDONLY)
    for _ in range(24):
        name = "d" * 250
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    out = os.open("metrics.csv", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, csv_text(80, rng).encode())
    os.close(out)
    os.close(fd)
    return Spec(diag("."), runs=["shallow", "d" * 250])


for mode in (0o444, 0o000, 0o311):
    def _perm(d, rng, mode=mode):
        write(d / "ok" / "metrics.csv", csv_text(80, rng))
        write(d / "locked" / "inner" / "metrics.csv", csv_text(80, rng))
        os.chmod(d / "locked", mode)
        return Spec(diag("."), runs=["ok", "locked"])
    add(f"folder-mode-{mode:o}", "lost", _perm)


@case("file-mode-000", "lost")
def _(d, rng):
    write(d / "ok" / "metrics.csv", csv_text(80, rng))
    os.chmod(write(d / "bad" / "metrics.csv", csv_text(80, rng)), 0)
    return Spec(diag("."), runs=["ok", "bad"])


@case("empty-files-everywhere", "lost")
def _(d, rng):
    for fmt, (name, _) in FORMATS.items():
        write(d / f"run-{fmt}" / name, b"")
    write(d / "good" / "metrics.csv", csv_text(80, rng))
    return Spec(diag("."), runs=["good"])


@case("one-raising-run-among-many", "lost")
def _(d, rng):
    names = sweep(d, 30, rng)
    write(d / "weird" / "metrics.csv", "step,loss\n" + "\n".join(f"{i},{'nan' if i % 2 else 'inf'}" for i in range(100)))
    return Spec(diag(".", "-j", "2"), runs=[*names, "weird"])


# ---- outputs and the gate

@case("output-over-the-log", "outputs")
def _(d, rng):
    write(d / "o" / "metrics.csv", csv_text(80, rng))
    return Spec(["diagnose", "o/metrics.csv", "-o", "o/metrics.csv"], codes={2})


@case("output-inside-the-tree", "outputs")
def _(d, rng):
    write(d / "o" / "run" / "metrics.csv", csv_text(80, rng))
    return Spec(["diagnose", "o", "-o", "o/run/report.txt"], codes={2})


@case("output-over-the-config", "outputs")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    write(d / "cfg" / "losscheck.toml", 'fail-on = "warning"\n')
    return Spec(["diagnose", "run", "--config", "cfg/losscheck.toml", "-o", "cfg/losscheck.toml"], codes={2})


@case("output-over-a-hard-link", "outputs")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    (d / "other").mkdir()
    os.link(d / "run" / "metrics.csv", d / "other" / "alias.csv")
    return Spec(["diagnose", "run/metrics.csv", "-o", "other/alias.csv"], codes={2})


for fmt in ("text", "json", "markdown", "sarif", "junit", "github"):
    def _full(d, rng, fmt=fmt):
        write(d / "run" / "metrics.csv", csv_text(80, rng))
        return Spec(["diagnose", "run", "-f", fmt], shell='"$PY" -m losscheck "$@" > /dev/full', codes={2},
                    stderr_has="standard output")
    add(f"stdout-dev-full-{fmt}", "outputs", _full)

    def _pipe(d, rng, fmt=fmt):
        sweep(d, 40, rng)
        # `true` exits without reading: the pipe is closed before the report is written
        return Spec(["diagnose", ".", "-f", fmt], shell='"$PY" -m losscheck "$@" | true; exit ${PIPESTATUS[0]}',
                    codes={2})
    add(f"stdout-closed-pipe-{fmt}", "outputs", _pipe)

    def _closed(d, rng, fmt=fmt):
        write(d / "run" / "metrics.csv", csv_text(80, rng))
        return Spec(["diagnose", "run", "-f", fmt], shell='"$PY" -m losscheck "$@" >&-', codes={2},
                    stderr_has="standard output")
    add(f"stdout-closed-{fmt}", "outputs", _closed)


for args in (["--help"], ["rules"], ["explain", "LC101"], ["config"], ["--version"]):
    def _help(d, rng, args=args):
        return Spec(args, shell='"$PY" -m losscheck "$@" >&-', codes={2})
    add(f"closed-stdout-{'-'.join(a.strip('-') for a in args)}", "outputs", _help)


@case("stderr-closed", "outputs")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng, "diverge"))
    return Spec(diag("run"), shell='"$PY" -m losscheck "$@" 2>&-', codes={1})


@case("ctrl-c-sweep", "outputs")
def _(d, rng):
    sweep(d, 400, rng, points=400)
    act = ctrl_c(1)

    def after(out: str, err: str) -> str | None:
        temps = [p.name for p in d.parent.glob(".report-ctrl-c-*")]
        return f"workers left: {act.left}" if act.left else (f"temporary files left: {temps}" if temps else None)
    return Spec(diag(".", "-j", "2", "-o", f"../report-ctrl-c-{d.name}.json"), codes={130}, during=act, after=after)


@case("double-ctrl-c-sweep", "outputs")
def _(d, rng):
    sweep(d, 400, rng, points=400)
    act = ctrl_c(2)
    return Spec(diag(".", "-j", "2"), codes={130}, during=act,
                after=lambda out, err: f"workers left: {act.left}" if act.left else None)


# ---- config: planted, malformed, not a file

@case("planted-config-in-data", "config")
def _(d, rng):
    write(d / "data" / "run" / "metrics.csv", csv_text(200, rng, "diverge"))
    write(d / "data" / "losscheck.toml", 'fail-on = "never"\n')
    write(d / "data" / "run" / "pyproject.toml", '[tool.losscheck]\nfail-on = "never"\n')
    return Spec(diag("data"), codes={1}, cwd=d)


@case("planted-config-cwd-inside-data", "config")
def _(d, rng):
    write(d / "data" / "run" / "metrics.csv", csv_text(200, rng, "diverge"))
    write(d / "data" / "losscheck.toml", 'fail-on = "never"\n')
    return Spec(diag(".."), codes={1}, cwd=d / "data" / "run")  # the config lies inside what is diagnosed


for label, text in (("deep-nesting", "a = " + "[" * 100_000 + "]" * 100_000 + "\n"),
                    ("5000-digit-int", "[thresholds]\nspike-z = " + "9" * 5000 + "\n"),
                    ("binary", "\x00\x01\x02fail-on\xff"), ("bad-utf8", b"fail-on = '\xff\xfe'\n"),
                    ("unknown-key", "fial-on = 'never'\n"), ("wrong-type", "fail-on = 3\n"),
                    ("huge-string", "fail-on = '" + "x" * 5_000_000 + "'\n"),
                    ("inline-table-nesting", "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n")):
    def _cfg(d, rng, text=text):
        write(d / "run" / "metrics.csv", csv_text(80, rng))
        write(d / "conf" / "losscheck.toml", text)
        return Spec(diag("run", "--config", "conf/losscheck.toml"), codes={2}, stderr_has="losscheck.toml")
    add(f"config-{label}", "config", _cfg)

    def _cfg_found(d, rng, text=text):
        write(d / "run" / "metrics.csv", csv_text(80, rng))
        write(d / "losscheck.toml", text)
        return Spec(diag("run"), codes={2}, stderr_has="losscheck.toml")
    add(f"config-found-{label}", "config", _cfg_found)


@case("config-is-a-directory", "config")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    (d / "conf.toml").mkdir()
    return Spec(diag("run", "--config", "conf.toml"), codes={2})


@case("config-missing", "config")
def _(d, rng):
    write(d / "run" / "metrics.csv", csv_text(80, rng))
    return Spec(diag("run", "--config", "nope.toml"), codes={2})


# ---- names: ANSI, control characters, bytes, symlinks out of the tree

for label, name in (("ansi", "\x1b[2J\x1b[31mFAKE PASS"), ("cr", "run\rOK"), ("bidi", "run\u202eTXT.exe"),
                    ("newline", "run\nlosscheck: all good"), ("c1", "run\x9b31m"), ("tab", "run\tx"),
                    ("long", "r" * 250), ("unicode", "実験-🚀")):
    def _names(d, rng, name=name):
        write(d / name / "metrics.csv", csv_text(200, rng, "diverge"))
        write(d / "plain" / f"{name}.csv", csv_text(80, rng))
        return Spec(diag("."), runs=["plain"], codes={1, 2})
    add(f"names-{label}", "names", _names)

    for fmt in ("text", "markdown", "github", "sarif", "junit"):
        def _names_fmt(d, rng, name=name, fmt=fmt):
            write(d / name / "metrics.csv", csv_text(200, rng, "diverge"))
            return Spec(["diagnose", ".", "-f", fmt], codes={1})
        add(f"names-{label}-{fmt}", "names", _names_fmt)


@case("names-non-utf8-bytes", "names")
def _(d, rng):
    p = os.fsencode(d) + b"/run\xff\xfe"
    os.makedirs(p)
    with open(p + b"/metrics.csv", "wb") as fh:
        fh.write(csv_text(80, rng).encode())
    return Spec(diag("."), codes={0, 1})


for target_kind in ("folder", "file", "all-out"):
    def _out(d, rng, target_kind=target_kind):
        write(d / "outside" / "secret" / "metrics.csv", csv_text(80, rng))
        write(d / "outside" / "private.csv", "step,loss\n1,hunter2-password\n2,x\n")
        tree = d / "tree"
        tree.mkdir()
        if target_kind != "all-out":
            write(tree / "r1" / "metrics.csv", csv_text(80, rng))
        if target_kind == "file":
            (tree / "r1" / "p.csv").symlink_to(d / "outside" / "private.csv")
        else:
            (tree / "linked").symlink_to(d / "outside" / "secret")

        def no_secret(out: str, err: str) -> str | None:
            return "a file outside the tree was read" if "hunter2" in out + err or "outside" in out else None
        return Spec(diag("tree"), codes={0, 2} if target_kind == "all-out" else {0},
                    stderr_has="--follow-symlinks", after=no_secret)
    add(f"symlink-out-of-tree-{target_kind}", "names", _out)


@case("symlink-out-followed-on-request", "names")
def _(d, rng):
    write(d / "outside" / "secret" / "metrics.csv", csv_text(80, rng))
    (d / "tree").mkdir()
    (d / "tree" / "linked").symlink_to(d / "outside" / "secret")
    return Spec(diag("tree", "--follow-symlinks"), codes={0}, runs=["linked"])


# ---- encoding and file type

for codec in ("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "cp1252", "latin-1"):
    for fmt in ("csv", "jsonl", "log"):
        def _enc(d, rng, codec=codec, fmt=fmt):
            name, make = FORMATS[fmt]
            text = make(150, rng).decode()
            if codec in ("cp1252", "latin-1"):
                text = text.replace("loss", "loss", 1) + "# Ünïcödé café\n" if fmt == "log" else text
            write(d / "run" / name, text.encode(codec))
            return Spec(diag("."), runs=["run"])
        add(f"encoding-{codec}-{fmt}", "encoding", _enc)

for ends, label in (("\r", "bare-cr"), ("\r\n", "crlf"), ("\n\r", "lfcr")):
    for fmt in ("csv", "jsonl", "log"):
        def _ends(d, rng, ends=ends, fmt=fmt):
            name, make = FORMATS[fmt]
            write(d / "run" / name, make(150, rng).replace(b"\n", ends.encode()))
            return Spec(diag("."), runs=["run"])
        add(f"line-ends-{label}-{fmt}", "encoding", _ends)


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


for label, name, maker in (
        ("zip-named-gz", "metrics.csv.gz", lambda r: _zip({"m.csv": csv_text(80, r).encode()})),
        ("gzip-named-csv", "metrics.csv", lambda r: gzip.compress(csv_text(80, r).encode())),
        ("gzip-named-jsonl", "metrics.jsonl", lambda r: gzip.compress(jsonl_text(80, r).encode())),
        ("gzip-named-log", "train.log", lambda r: gzip.compress(log_text(80, r).encode())),
        ("gzip-named-tfevents", "events.out.tfevents.1.host", lambda r: gzip.compress(events_bytes(80, r))),
        ("bz2-named-csv", "metrics.csv", lambda r: __import__("bz2").compress(csv_text(80, r).encode())),
        ("xz-named-gz", "metrics.csv.gz", lambda r: __import__("lzma").compress(csv_text(80, r).encode())),
        ("png-named-csv", "metrics.csv", lambda r: b"\x89PNG\r\n\x1a\n" + bytes(r.randrange(256) for _ in range(4000))),
        ("elf-named-log", "train.log", lambda r: b"\x7fELF" + bytes(r.randrange(256) for _ in range(4000))),
        ("sqlite-named-csv", "metrics.csv", lambda r: b"SQLite format 3\x00" + b"\x00" * 4000),
        ("csv-named-tfevents", "events.out.tfevents.1.host", lambda r: csv_text(80, r).encode()),
        ("jsonl-named-csv", "metrics.csv", lambda r: jsonl_text(80, r).encode()),
        ("html-named-csv", "metrics.csv", lambda r: b"<!DOCTYPE html><html><body>404</body></html>\n" * 50),
        ("git-lfs-pointer", "events.out.tfevents.1.host",
         lambda r: b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 123456\n"),
        ("truncated-gz", "metrics.csv.gz", lambda r: gzip.compress(csv_text(2000, r).encode())[:3000]),
        ("empty-gz", "metrics.csv.gz", lambda r: b""),
        ("gz-header-only", "metrics.csv.gz", lambda r: b"\x1f\x8b\x08\x00\x00\x00\x00\x00"),
        ("nul-bytes-csv", "metrics.csv", lambda r: csv_text(80, r).encode().replace(b"\n", b"\x00\n", 5)),
        ("all-nul", "metrics.csv", lambda r: b"\x00" * 100_000)):
    def _ft(d, rng, name=name, maker=maker):
        write(d / "run" / name, maker(rng))
        write(d / "good" / "metrics.csv", csv_text(80, rng))
        return Spec(diag("."), runs=["good"])
    add(f"file-type-{label}", "file-type", _ft)

    def _ft_alone(d, rng, name=name, maker=maker):
        write(d / name, maker(rng))
        return Spec(diag(name))
    add(f"file-type-{label}-alone", "file-type", _ft_alone)


# ---- fuzz: seeded mutations of each format

def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.choice(("flip", "cut", "insert", "dup", "zero", "truncate"))
        if not b:
            break
        i = rng.randrange(len(b))
        if op == "flip":
            b[i] = rng.randrange(256)
        elif op == "cut":
            del b[i:i + rng.randint(1, 200)]
        elif op == "insert":
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 50)))
        elif op == "dup":
            j = min(len(b), i + rng.randint(1, 500))
            b[i:i] = b[i:j]
        elif op == "zero":
            b[i:i + 64] = b"\x00" * len(b[i:i + 64])
        else:
            del b[i:]
    return bytes(b)


for fmt in FORMATS:
    for k in range(12):
        def _fz(d, rng, fmt=fmt):
            name, make = FORMATS[fmt]
            data = _mutate(make(rng.randint(20, 400), rng), rng)
            if rng.random() < 0.2:
                data = gzip.compress(data)
                name += ".gz"
            write(d / "run" / name, data)
            write(d / "good" / "metrics.csv", csv_text(80, rng))
            return Spec(diag("."), runs=["good"])
        add(f"fuzz-{fmt}-{k:02d}", "fuzz", _fz)


# ---- the project's own bad-input files, each run on its own

for f in sorted((ROOT / "tests" / "bad_inputs").glob("*")):
    if f.name == "cases.toml" or not f.is_file():
        continue

    def _gal(d, rng, f=f):
        shutil.copy(f, d / f.name)
        return Spec(diag(f.name))
    add(f"gallery-{f.stem}", "gallery", _gal)


# --------------------------------------------------------------------------- running

def tree_hash(d: Path) -> str:
    """sha256 over every name, type, mode and regular-file content below ``d`` (symlinks
    not followed; FIFOs and sockets by name and mode only)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(d, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            h.update(os.fsencode(p) + b"\0" + str(st.st_mode).encode())
            if stat.S_ISREG(st.st_mode):
                try:
                    with open(p, "rb") as fh:
                        while chunk := fh.read(1 << 20):
                            h.update(chunk)
                except OSError:
                    h.update(f"unreadable {st.st_size} {st.st_mtime_ns}".encode())
            elif stat.S_ISLNK(st.st_mode):
                h.update(os.fsencode(os.readlink(p)))
    return h.hexdigest()


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (workers, the command under bash)."""
    parent: dict[int, int] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                parent[int(p.name)] = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [pid], [pid]
    while todo:
        cur = todo.pop()
        kids = [c for c, pp in parent.items() if pp == cur]
        out += kids
        todo += kids
    return out


def _hwm_kb(pids: list[int]) -> int:
    """The summed peak resident memory (``VmHWM``, KiB) of ``pids`` as the kernel reports it
    now. ``wait4``'s ``ru_maxrss`` is not used: it counts the memory of the runner itself,
    which a child shares until it calls ``exec``."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            continue
    return total


def input_bytes(d: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(d, followlinks=False):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def _unlock(d: Path) -> None:
    for dirpath, dirnames, _ in os.walk(d, followlinks=False):
        for name in dirnames:
            try:
                os.chmod(os.path.join(dirpath, name), 0o755, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
    for dirpath, _, filenames in os.walk(d, followlinks=False):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o644)
                except OSError:
                    pass


def _controls(text: str) -> bool:
    return any(c in text for c in "\x1b\x07\x08\x0b\x0c\x0e\x0f\x7f\x9b") or "\r" in text.replace("\r\n", "\n")


def run_case(c: Case, root: Path, seed: int, verbose: bool = False) -> Result:
    """Build case ``c`` under ``root`` and run it; the :class:`Result` lists broken promises."""
    d = root / c.name.replace("/", "_")
    d.mkdir(parents=True)
    rng = random.Random(f"{seed}-{c.name}")
    problems: list[str] = []
    try:
        spec = c.build(d, rng)
    except Exception as exc:  # noqa: BLE001 - a case this machine cannot build
        return Result(c, None, 0.0, 0, 0, [f"could not build: {type(exc).__name__}: {exc}"])
    size = input_bytes(d)
    before = tree_hash(d)
    out_path, err_path = root / f"{d.name}.out", root / f"{d.name}.err"
    env = dict(os.environ, PY=PY, COLUMNS="100", NO_COLOR="1")
    cmd = (["bash", "-c", spec.shell, "bash", *spec.args] if spec.shell
           else [PY, "-m", "losscheck", *spec.args])
    t0 = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=spec.cwd or d, env=env,
                                start_new_session=True)
    helper = threading.Thread(target=spec.during, args=(proc,), daemon=True) if spec.during else None
    if helper:
        helper.start()
    status, rss_kb, hung = None, 0, False
    tree: list[int] = [proc.pid]
    polls = 0
    while True:
        pid, st, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status = st
            break
        if polls % 10 == 0:
            tree = _descendants(proc.pid)
        rss_kb = max(rss_kb, _hwm_kb(tree))
        polls += 1
        if time.monotonic() - t0 > spec.timeout:
            hung = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - t0
    if helper:
        helper.join(timeout=30)
    try:  # what a killed group may leave behind
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    code = proc.returncode
    stdout = out_path.read_bytes().decode("utf-8", errors="replace")
    stderr = err_path.read_bytes().decode("utf-8", errors="replace")
    if hung:
        problems.append(f"hang: still running after {spec.timeout:.0f} s")
    if "Traceback" in stdout or "Traceback" in stderr:
        problems.append("traceback: " + stderr[-300:].replace("\n", " | "))
    if code not in EXIT_CODES and not hung:
        problems.append(f"exit code {code} is not documented")
    elif code not in spec.codes and not hung:
        problems.append(f"exit code {code}, expected {sorted(spec.codes)}: {stderr[-200:]!r}")
    if spec.stderr_has and spec.stderr_has not in stderr and not hung:
        problems.append(f"stderr does not name {spec.stderr_has!r}: {stderr[-200:]!r}")
    if _controls(stdout) or _controls(stderr):
        problems.append("a raw control character reached the output")
    if spec.runs is not None and "-f" in spec.args and "json" in spec.args and not hung:
        try:
            doc = json.loads(stdout)
            seen = [r["run"] for r in doc["runs"]] + [e["path"] for e in doc["errors"]] + \
                   [e["message"] for e in doc["errors"]]
            lost = [r for r in spec.runs if not any(r in s for s in seen)]
            if lost:
                problems.append(f"{len(lost)} run(s) silently lost, e.g. {lost[0][:60]}")
        except (ValueError, KeyError, TypeError):
            # nothing diagnosed at all is exit 2 and one line naming the path: not silent
            if code != 130 and not (code == 2 and stderr.strip()):
                problems.append("no JSON report to check the runs against")
    if not spec.mutates and tree_hash(d) != before:
        problems.append("the inputs were written to")
    _unlock(d)
    if spec.mutates:  # a file that grew while read: judged by what it grew to (an upper bound)
        size = max(size, input_bytes(d))
    if size <= SMALL_INPUT and rss_kb > RSS_LIMIT_KB:
        problems.append(f"peak memory {rss_kb / 1024:.0f} MiB on {size / 1e6:.1f} MB of input")
    if spec.after is not None:
        extra = spec.after(stdout, stderr)
        if extra:
            problems.append(extra)
    if verbose:
        print(f"{'held ' if not problems else 'BROKE'} {c.cls:11s} {c.name:50s} exit {code} "
              f"{seconds:6.1f} s {rss_kb / 1024:6.0f} MiB {'; '.join(problems)}", flush=True)
    shutil.rmtree(d, ignore_errors=True)
    for p in (out_path, err_path):
        p.unlink(missing_ok=True)
    return Result(c, code, seconds, rss_kb, size, problems)


def select(heavy: bool = False, heavy_only: bool = False, only: list[str] | None = None) -> list[Case]:
    out = [c for c in CASES if (c.heavy and (heavy or heavy_only)) or (not c.heavy and not heavy_only)]
    if only:
        out = [c for c in out if any(o in c.name or o == c.cls for o in only)]
    return out


def run_all(cases: list[Case], seed: int = 0, jobs: int = 2, verbose: bool = False) -> list[Result]:
    """Run ``cases`` (``jobs`` at a time) in a fresh temporary folder; results in case order."""
    with tempfile.TemporaryDirectory(prefix="losscheck-hostile-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(lambda c: run_case(c, root, seed, verbose), cases))


def ctrl_c_stop_times(runs: int = 3000, repeat: int = 10, seed: int = 0) -> list[float]:
    """Seconds from Ctrl-C to exit for a ``runs``-run sweep with ``-j 2`` (each repeat after
    the workers have started and one second has passed), one per repeat.

    Raises:
        RuntimeError: a repeat did not exit 130, or left a worker process behind."""
    times = []
    with tempfile.TemporaryDirectory(prefix="losscheck-ctrlc-") as tmp:
        root = Path(tmp)
        sweep(root / "sweep", runs, random.Random(seed), points=400)
        for _ in range(repeat):
            proc = subprocess.Popen([PY, "-m", "losscheck", "diagnose", str(root / "sweep"), "-j", "2", "-f", "json"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            kids = wait_workers(proc)
            time.sleep(1.0)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
            times.append(time.monotonic() - t0)
            time.sleep(0.2)
            left = [w for w in kids if Path(f"/proc/{w}").exists()
                    and "zombie" not in Path(f"/proc/{w}/status").read_text().lower()]
            if code != 130 or left:
                raise RuntimeError(f"Ctrl-C: exit {code}, workers left {left}")
    return times


def summary(results: list[Result]) -> str:
    classes = sorted({r.case.cls for r in results})
    lines = [f"{'class':12s} {'tried':>6s} {'held':>6s} {'peak MiB':>9s} {'slowest s':>10s}"]
    for cls in classes + ["all"]:
        rs = [r for r in results if cls in ("all", r.case.cls)]
        lines.append(f"{cls:12s} {len(rs):6d} {sum(r.held for r in rs):6d} "
                     f"{max(r.rss_kb for r in rs) / 1024:9.0f} {max(r.seconds for r in rs):10.1f}")
    small = [r for r in results if r.input_bytes <= SMALL_INPUT]
    hangs = sum(any(p.startswith("hang") for p in r.problems) for r in results)
    tbs = sum(any(p.startswith("traceback") for p in r.problems) for r in results)
    lost = sum(any("silently lost" in p for p in r.problems) for r in results)
    writes = sum(any("written to" in p for p in r.problems) for r in results)
    lines.append(f"hangs {hangs}, tracebacks {tbs}, cases losing runs {lost}, writes into inputs {writes}; "
                 f"peak memory on inputs <= 10 MB: {max((r.rss_kb for r in small), default=0) / 1024:.0f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-j", "--jobs", type=int, default=2, help="cases run at a time")
    ap.add_argument("--heavy", action="store_true", help="also the heavy cases")
    ap.add_argument("--heavy-only", action="store_true", help="only the heavy cases")
    ap.add_argument("--only", nargs="*", help="cases whose name holds one of these words, or of these classes")
    ap.add_argument("--no-ctrl-c", action="store_true", help="skip the Ctrl-C stop-time measurement")
    ap.add_argument("--ctrl-c-repeat", type=int, default=10)
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    args = ap.parse_args(argv)
    cases = select(args.heavy, args.heavy_only, args.only)
    if args.list:
        for c in cases:
            print(f"{c.cls:12s} {c.name}{' (heavy)' if c.heavy else ''}")
        print(f"{len(cases)} case(s) of {len(CASES)}")
        return 0
    t0 = time.monotonic()
    results = run_all(cases, args.seed, args.jobs, args.verbose)
    print(summary(results))
    broken = [r for r in results if not r.held]
    for r in broken:
        print(f"BROKE {r.case.cls}/{r.case.name}: {'; '.join(r.problems)}")
    print(f"{len(results)} case(s) in {time.monotonic() - t0:.0f} s (seed {args.seed}, -j {args.jobs})")
    if not args.no_ctrl_c:
        times = ctrl_c_stop_times(repeat=args.ctrl_c_repeat, seed=args.seed)
        print(f"Ctrl-C on a 3,000-run sweep with -j 2: stopped in {statistics.median(times):.2f} s "
              f"(median of {len(times)}; max {max(times):.2f} s), exit 130, no worker left")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

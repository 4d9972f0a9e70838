"""Reading a sweep from an S3 API vs from local disk (issue 17's target: <= 2x).

Writes a sweep of ``--runs`` run folders (half CSV ``step,loss,lr``, half JSON lines, ``--points``
rows each; seeded curves, some diverging) into a temporary folder, starts a moto S3 server on a
free localhost port, uploads the same files with boto3, then times ``losscheck.pipeline.diagnose``
in this process on the folder and on ``s3://bench/sweep`` (``--jobs`` workers), alternating,
``--repeat`` times each, and checks the two reports hold the same verdicts.

Needs the test extra (moto[server], s3fs, boto3). Usage::

    python benchmarks/remote.py --runs 200 --points 5000 --repeat 3 --jobs 1
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write_sweep(root: Path, runs: int, points: int) -> list[Path]:
    rng = np.random.default_rng(17)
    files = []
    steps = np.arange(points)
    for k in range(runs):
        lr = 10 ** rng.uniform(-5, -2)
        loss = 2.5 * np.exp(-steps / (points / 4)) + 0.3 + 0.02 * rng.standard_normal(points)
        if lr > 3e-3:  # the high learning rates diverge after half the run
            loss[points // 2:] *= np.exp(np.linspace(0, 5, points - points // 2))
        d = root / f"run-{k:04d}"
        d.mkdir(parents=True)
        if k % 2:
            p = d / "metrics.csv"
            with open(p, "w") as fh:
                fh.write("step,loss,lr\n")
                fh.writelines(f"{s},{v:.6g},{lr:.3g}\n" for s, v in zip(steps, loss))
        else:
            p = d / "metrics.jsonl"
            with open(p, "w") as fh:
                fh.writelines(f'{{"step": {s}, "loss": {v:.6g}, "lr": {lr:.3g}}}\n' for s, v in zip(steps, loss))
        files.append(p)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()

    import boto3
    import s3fs
    from moto.server import ThreadedMotoServer

    from losscheck.pipeline import diagnose

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import logging

    requests: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            requests.append(record.getMessage())

    wz = logging.getLogger("werkzeug")
    wz.handlers[:] = [Count()]
    wz.propagate = False
    wz.setLevel(logging.INFO)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        with tempfile.TemporaryDirectory(prefix="losscheck-remote-bench-") as tmp:
            root = Path(tmp) / "sweep"
            files = write_sweep(root, args.runs, args.points)
            size = sum(p.stat().st_size for p in files)
            client = boto3.client("s3", endpoint_url=endpoint)
            client.create_bucket(Bucket="bench")
            for p in files:
                client.upload_file(str(p), "bench", f"sweep/{p.relative_to(root)}")
            requests.clear()
            if os.environ.get("BENCH_SHOW_REQUESTS"):
                print("\n".join(requests[-5:]))
            first = diagnose("s3://bench/sweep", jobs=args.jobs)
            lists = sum("list-type=2" in r or "?prefix=" in r for r in requests)
            gets = sum("GET /bench/sweep/" in r for r in requests)
            if os.environ.get("BENCH_SHOW_REQUESTS"):
                print("\n".join(requests))
            print(f"one diagnosis of s3://bench/sweep: {len(requests)} requests, {lists} listing(s), {gets} GETs of "
                  f"objects for {len(files)} files ({len(first.runs)} runs)")
            times: dict[str, list[float]] = {"local": [], "s3": []}
            verdicts = {}
            for _ in range(args.repeat):
                for name, target in (("local", str(root)), ("s3", "s3://bench/sweep")):
                    t0 = time.perf_counter()
                    rep = diagnose(target, jobs=args.jobs)
                    times[name].append(time.perf_counter() - t0)
                    verdicts[name] = sorted((r.run.rsplit("/", 1)[-1], r.status, r.primary) for r in rep.runs)
            assert verdicts["local"] == verdicts["s3"], "the verdicts differ"
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{args.runs} runs x {args.points} points ({size / 1e6:.1f} MB), jobs={args.jobs}, "
                  f"median of {args.repeat}")
            for k, v in times.items():
                print(f"  {k:6s} {med[k]:7.2f} s  (min {min(v):.2f}, max {max(v):.2f})")
            print(f"  s3 / local = {med['s3'] / med['local']:.2f}x; verdicts identical "
                  f"({sum(1 for v in verdicts['s3'] if v[1] == 'failing')} failing)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

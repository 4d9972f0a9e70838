"""How much does ``losscheck.Monitor.update`` cost per logged point?

A synthetic 1,000,000-step healthy run (loss decaying to a floor with noise, a cosine LR with
warmup, a grad norm, an eval loss every 1,000 steps) is fed to one Monitor, one ``update`` per
step, each timed with ``time.perf_counter_ns``. Printed: median, p99, p99.9 and maximum
microseconds per update, the mean (which carries the full analyses), the number of full
analyses and the total time. Then the same for a run that diverges at 70% (the first failing
verdict's step and the analyses it took). Nothing is asserted: tests count analyses
(tests/live/test_monitor.py), this script measures time on the machine it runs on.

Usage::

    .venv/bin/python benchmarks/monitor_speed.py               # 1,000,000 steps
    .venv/bin/python benchmarks/monitor_speed.py --steps 100000
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from losscheck import Monitor  # noqa: E402


def synthetic(n: int, diverge_at: float | None = None, seed: int = 0):
    """``(loss, lr, grad_norm)`` arrays of shape ``(n,)`` for a healthy run (or one whose
    loss grows x1.002 per step from ``diverge_at * n``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    warm = max(1, n // 100)
    lr = 3e-4 * np.where(t < warm, (t + 1) / warm, 0.5 * (1 + np.cos(math.pi * (t - warm) / (n - warm))))
    loss = 2.8 * np.exp(-t / (n / 8)) + 1.1 + 0.04 * rng.standard_normal(n)
    gn = 1.0 + 0.1 * rng.standard_normal(n) ** 2
    if diverge_at is not None:
        k = int(diverge_at * n)
        loss[k:] *= np.exp(0.002 * np.arange(n - k))
        gn[k:] *= np.exp(0.002 * np.arange(n - k))
    return loss, lr, gn


def replay(n: int, diverge_at: float | None) -> dict:
    loss, lr, gn = synthetic(n, diverge_at)
    loss_l, lr_l, gn_l = loss.tolist(), lr.tolist(), gn.tolist()
    mon = Monitor(meta={"max_steps": n})
    ns = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    first_stop = None
    t_all = time.perf_counter()
    for i in range(n):
        ev = loss_l[i] + 0.05 if i % 1000 == 999 else None
        a = clock()
        v = mon.update(i, loss=loss_l[i], lr=lr_l[i], grad_norm=gn_l[i], eval_loss=ev)
        ns[i] = clock() - a
        if v.stop and first_stop is None:
            first_stop = i
            if diverge_at is not None:
                ns = ns[:i + 1]
                break
    total = time.perf_counter() - t_all
    us = ns / 1000.0
    return {"updates": len(us), "median_us": float(np.median(us)), "p99_us": float(np.percentile(us, 99)),
            "p999_us": float(np.percentile(us, 99.9)), "max_ms": float(us.max() / 1000), "mean_us": float(us.mean()),
            "analyses": mon.analyses, "total_s": total, "first_stop": first_stop, "status": v.status,
            "codes": v.codes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    args = ap.parse_args()
    for label, div in (("healthy", None), ("diverges at 70%", 0.7)):
        r = replay(args.steps, div)
        print(f"{label}: {r['updates']:,} updates (4 metrics each, eval every 1000): median {r['median_us']:.1f} us, "
              f"p99 {r['p99_us']:.1f} us, p99.9 {r['p999_us']:.0f} us, max {r['max_ms']:.0f} ms, "
              f"mean {r['mean_us']:.1f} us; {r['analyses']} full analyses; total {r['total_s']:.1f} s; "
              f"final {r['status']} {' '.join(r['codes'])}; first stop at step {r['first_stop']}")


if __name__ == "__main__":
    main()

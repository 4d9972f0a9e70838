"""A seeded subset of the light cases of ``benchmarks/hostile_gallery.py`` (issue 12): each
case runs the command line in a subprocess and must hold every promise the gallery checks
(no hang, no traceback, a documented exit code, no run lost, no write into the inputs,
bounded memory, no raw control character in the output). The whole gallery, heavy cases
and the Ctrl-C figure are run by the benchmark itself."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PER_CLASS = 3
#: cases that take several seconds on their own (timed, or thousands of files): the benchmark runs them
SLOW = ("runs-1000", "runs-300", "growing", "dev-zero", "many-columns", "ctrl-c", "gzip-legit")


def _gallery():
    spec = importlib.util.spec_from_file_location("hostile_gallery", REPO / "benchmarks" / "hostile_gallery.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hostile_gallery"] = mod
    spec.loader.exec_module(mod)
    return mod


def _subset(gallery, seed: int = 12) -> list:
    rng = random.Random(seed)
    light = [c for c in gallery.select() if not any(s in c.name for s in SLOW)]
    out = []
    for cls in sorted({c.cls for c in light}):
        cases = [c for c in light if c.cls == cls]
        out += rng.sample(cases, min(PER_CLASS, len(cases)))
    return out


def test_the_gallery_has_300_cases_covering_every_class():
    gallery = _gallery()
    names = [c.name for c in gallery.CASES]
    assert len(names) == len(set(names)) >= 300
    classes = {c.cls for c in gallery.CASES}
    assert {"hang", "superlinear", "memory", "lost", "outputs", "config", "names", "encoding",
            "file-type", "fuzz"} <= classes
    assert any(c.heavy for c in gallery.CASES) and len(gallery.select()) < len(gallery.CASES)


@pytest.mark.skipif(not Path("/proc").is_dir() or sys.platform != "linux", reason="needs Linux")
def test_a_seeded_subset_of_the_gallery_holds():
    gallery = _gallery()
    cases = _subset(gallery)
    results = gallery.run_all(cases, seed=12, jobs=2)
    broken = [f"{r.case.cls}/{r.case.name}: {'; '.join(r.problems)}" for r in results if not r.held]
    assert not broken, "\n".join(broken)
    assert len(results) >= 30

"""``--format png:PLACE``: one image per run with the HTML report's marks (matplotlib, the
``plot`` extra). The tests that draw skip without matplotlib; the ones about names, the
missing-extra error and the lazy import run everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from losscheck.cli import app
from losscheck.formats import get_format
from losscheck.formats._marks import panels
from losscheck.formats.png import MISSING, WIDTH_PX, image_height, image_paths, safe_name
from losscheck.model import Report, RunReport
from losscheck.pipeline import diagnose
from tests.conftest import REPO, SAMPLE_RUNS

runner = CliRunner()
DIVERGING = SAMPLE_RUNS / "qwen-style-diverge"
HEALTHY = SAMPLE_RUNS / "healthy-converge-floor"
NAN_RUN = SAMPLE_RUNS / "nan-input-injected"


def cli(*args):
    res = runner.invoke(app, ["diagnose", *map(str, args)])
    return res.exit_code, res.stdout, res.stderr


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


# --------------------------------------------------------------------------- no matplotlib needed


def test_without_matplotlib_one_line_exit_2_and_nothing_read_or_written(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    out = tmp_path / "img"
    code, stdout, stderr = cli(tmp_path / "does-not-exist", "-f", f"png:{out}")
    assert code == 2
    assert stderr.strip().splitlines() == [f"losscheck: {MISSING}"]  # not the missing path: nothing was read
    assert "losscheck[plot]" in stderr and not out.exists()


def test_png_needs_a_place(tmp_path):
    code, _, stderr = cli(HEALTHY, "-f", "png")
    assert code == 2
    assert "png:FOLDER" in stderr and len(stderr.strip().splitlines()) == 1


def test_file_names_follow_the_documented_convention(tmp_path):
    rep = Report([RunReport(p, "healthy", "converging", [], None, {}, [], [], [])
                  for p in ["runs/b/lr=1e-3 x", "runs/a/run.1", "runs/A/run.1", "runs/.hidden", "runs/ü"]],
                 [], "0", roots=["runs"])
    names = [p.name for _, p in image_paths(rep, tmp_path / "imgs")]
    # sorted by path; "/" -> "__", other characters -> "_", no leading dot, case-insensitive clashes numbered
    assert names == ["hidden.png", "A__run.1.png", "a__run.1-2.png", "b__lr_1e-3_x.png", "_.png"]
    assert {p.parent for _, p in image_paths(rep, tmp_path / "imgs")} == {tmp_path / "imgs"}
    several = image_paths(rep, tmp_path / "out.png")
    assert [p.name for _, p in several][:2] == ["out-hidden.png", "out-A__run.1.png"]
    one = Report(rep.runs[:1], [], "0", roots=["runs"])
    assert [p for _, p in image_paths(one, tmp_path / "One.PNG")] == [tmp_path / "One.PNG"]
    assert safe_name("x" * 500) == "x" * 120 and safe_name("...") == "run" and safe_name("a\\b") == "a__b"


def test_other_formats_and_the_names_never_import_matplotlib(tmp_path):
    code = (
        "import sys\n"
        "from losscheck.pipeline import diagnose\n"
        "from losscheck.formats import all_formats\n"
        f"rep = diagnose({str(DIVERGING)!r}, plots=True)\n"
        "for name, f in all_formats().items():\n"
        "    f.render(rep)\n"
        "assert 'matplotlib' not in sys.modules, 'imported'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]


def test_png_draws_from_the_report_and_the_shared_marks_only():
    """No re-analysis: the module reads the report's digests and the marks html.py draws."""
    src = (REPO / "losscheck" / "formats" / "png.py").read_text(encoding="utf-8")
    assert "losscheck.analysis" not in src and "losscheck.digest" not in src and "numpy" not in src
    assert "from losscheck.formats._marks import" in src


# --------------------------------------------------------------------------- drawing (matplotlib)


def _image(path: Path):
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg
    import numpy as np

    arr = mpimg.imread(path)  # float RGBA in [0, 1]
    return np.round(arr[..., :3] * 255).astype(int)


def _count(img, hex_colour: str):
    import numpy as np

    return int(np.all(img == _rgb(hex_colour), axis=-1).sum())


def _one_png(run_dir: Path, tmp_path: Path) -> tuple[Path, RunReport]:
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{run_dir.name}.png"
    code, _, stderr = cli(run_dir, "-f", f"png:{out}", "-q")
    assert code in (0, 1), stderr
    (run,) = diagnose(run_dir, plots=True).runs
    return out, run


def test_diverging_run_image_size_and_marks(tmp_path):
    from losscheck.formats.html import ONSET, ROLE_COLOUR, TREND

    path, run = _one_png(DIVERGING, tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = _image(path)
    assert run.plot is not None and run.onset_step is not None
    assert img.shape[:2] == (image_height(len(panels(run.plot))), WIDTH_PX)
    # the sizes README states
    assert (WIDTH_PX, image_height(1), image_height(3)) == (1200, 490, 830) and len(panels(run.plot)) == 3
    # not blank: far from one colour
    white = (img == 255).all(axis=-1).mean()
    assert white < 0.9 and len({tuple(p) for p in img.reshape(-1, 3)[::7]}) > 50
    # the onset line: its exact colour, in a narrow vertical band spanning the panels
    import numpy as np

    ys, xs = np.nonzero(np.all(img == _rgb(ONSET), axis=-1))
    assert len(xs) > 300
    assert np.percentile(xs, 95) - np.percentile(xs, 5) <= 6  # one vertical line (plus its label)
    assert ys.max() - ys.min() > img.shape[0] / 2
    assert _count(img, ROLE_COLOUR["loss"]) > 200 and _count(img, TREND) > 50


def test_healthy_run_has_no_onset_and_the_nan_run_its_nan_ticks(tmp_path):
    from losscheck.formats.html import NONFINITE, ONSET

    healthy, hrun = _one_png(HEALTHY, tmp_path)
    assert hrun.onset_step is None
    img = _image(healthy)
    assert _count(img, ONSET) == 0 and _count(img, NONFINITE) == 0
    nan_png, nrun = _one_png(NAN_RUN, tmp_path)
    assert any(d.nonfinite for d in nrun.plot.curves.values())
    assert _count(_image(nan_png), NONFINITE) > 100


def test_a_sweep_writes_one_image_per_run_named_by_label(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "images"
    code, stdout, stderr = cli(SAMPLE_RUNS, "-f", f"png:{out}", "-f", f"json:{tmp_path / 'r.json'}", "-q")
    assert code == 1, stderr
    rep = diagnose(SAMPLE_RUNS)
    expected = sorted(p.name for _, p in image_paths(rep, out))
    assert sorted(p.name for p in out.iterdir()) == expected
    assert len(expected) == len(rep.runs)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in out.iterdir())


def test_png_is_refused_inside_a_diagnosed_folder(tmp_path):
    pytest.importorskip("matplotlib")
    import shutil

    run = tmp_path / "run"
    shutil.copytree(HEALTHY, run)
    before = sorted(p.name for p in run.rglob("*"))
    code, _, stderr = cli(run, "-f", f"png:{run / 'img'}")
    assert code == 2 and "refusing" in stderr
    assert sorted(p.name for p in run.rglob("*")) == before


def test_format_registry_lists_png_without_making_it_for_people():
    fmt = get_format("png")
    assert fmt is not None and fmt.writes_files and fmt.draws_curves and not fmt.for_people

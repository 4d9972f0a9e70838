"""Start-up work (issue 17): a whole-process ``losscheck diagnose`` of a small run is dominated
by imports, so modules needed only for some inputs or outputs are imported only when those
come. Counted, never timed: a fresh interpreter runs the CLI on a sample run and lists which of
the lazy modules ended up in ``sys.modules``.

numpy.ma is not in these lists: numpy loads it itself on the first ``np.median``
(``numpy.lib._utils_impl._median_nancheck`` asks ``np.ma.isMaskedArray``), which every
diagnosis calls. pydantic is not either: typer (0.2x) builds a pydantic ``TypeAdapter`` for
each command-line parameter it converts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "sample_runs"

#: modules no diagnosis of a CSV, JSON-lines or event-file run needs
NEVER = ("sqlite3", "scipy", "tarfile")
#: the text-log grammar
TEXT = ("losscheck.readers._textkv", "losscheck.readers._numlines")
#: the TensorBoard decoder
EVENTS = ("losscheck.readers._tfevents", "losscheck.readers._tfrecord")
#: every output format but the one asked for (JSON), and what they import
OTHER_FORMATS = tuple(f"losscheck.formats.{f}" for f in ("github", "html", "jsonl", "junit", "markdown",
                                                         "sarif", "text")) + ("xml.etree.ElementTree",)

_CODE = """
import json, sys
from losscheck.cli import main
sys.argv = ["losscheck", "diagnose", {run!r}, "-f", "json", "-o", {out!r}, "--isolated"]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(run: Path, tmp_path: Path) -> set[str]:
    out = tmp_path / "report.json"
    res = subprocess.run([sys.executable, "-c", _CODE.format(run=str(run), out=str(out))],
                         capture_output=True, text=True, timeout=300)
    assert out.exists(), res.stderr  # the diagnosis ran and wrote its report
    assert json.loads(out.read_text())["runs"], out.read_text()
    return set(json.loads(res.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("run, lazy", [
    # a CSV: neither the text grammar, nor the event decoder, nor pandas (a small clean CSV)
    ("healthy-noisy-small-batch", NEVER + TEXT + EVENTS + OTHER_FORMATS + ("losscheck.readers.text_logs", "pandas")),
    # JSON lines
    ("plateau-frozen-params", NEVER + TEXT + EVENTS + OTHER_FORMATS + ("losscheck.readers.text_logs", "pandas")),
    # Lightning's metrics.csv with an hparams.yaml beside it: the YAML file is offered to the
    # text-log reader (no other reader claims it), which turns it down on its name
    ("healthy-mlp-lightning", NEVER + TEXT + EVENTS + OTHER_FORMATS + ("pandas",)),
    # TensorBoard event files
    ("overfit-keras-tensorboard", NEVER + TEXT + OTHER_FORMATS + ("losscheck.readers.text_logs", "pandas")),
])
def test_a_diagnosis_imports_only_what_its_input_and_format_need(run, lazy, tmp_path):
    loaded = _loaded(SAMPLES / run, tmp_path)
    assert "losscheck.formats.json" in loaded
    assert not loaded & set(lazy), sorted(loaded & set(lazy))


def test_the_lazy_modules_do_load_when_the_input_needs_them(tmp_path):
    """The other side: the listing above sees imports (a text log loads the grammar, an event
    file the decoder), so the absences it reports are real."""
    loaded = _loaded(SAMPLES / "diverge-custom-text-log", tmp_path)
    assert set(TEXT) <= loaded
    loaded = _loaded(SAMPLES / "overfit-keras-tensorboard", tmp_path)
    assert set(EVENTS) <= loaded

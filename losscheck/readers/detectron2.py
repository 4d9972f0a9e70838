"""detectron2 ``metrics.json`` (JSON lines written by ``JSONWriter``).

Format (detectron2 docs, ``detectron2.utils.events.JSONWriter``): one JSON object per
logging period with ``iteration`` and every scalar in the event storage (``total_loss``,
``loss_cls``, ``lr``, ``time``, ``data_time``, ``eta_seconds``, evaluation results such as
``bbox/AP``). The writer appends, so a resumed or re-run job continues the same file and
the iteration counter goes back; :func:`losscheck.series.normalize` keeps the later run's
values (with a note).
"""

from __future__ import annotations

from pathlib import Path

from losscheck.model import ReadResult
from losscheck.readers._common import BaseReader, base_name, json_number
from losscheck.readers._jsonl import collect, first_object, flatten_records, gc_paused, load_json_lines
from losscheck.readers.interface import SNIFF


class Detectron2Reader(BaseReader):
    """detectron2 ``metrics.json``: step = ``iteration``.

    ``read`` returns one series per numeric key (units: iterations).

    Raises:
        UnreadableFile: the file cannot be read.
        ParseError: no line holds a JSON object.
    """

    name = "detectron2"
    description = "detectron2 metrics.json (JSON lines keyed by iteration)"

    def _sniff(self, path: Path, head: bytes) -> float:
        conf = SNIFF[self.name]
        obj = first_object(head)
        if obj is None or "iteration" not in obj:
            return 0.0
        name = base_name(path)
        if name == "metrics.json":
            return conf["named"]
        if any(k == "total_loss" or k.startswith("loss_") for k in obj):
            return conf["content"]
        return 0.0

    @gc_paused
    def _read(self, path: Path) -> ReadResult:
        records, notes = load_json_lines(path)
        records = flatten_records(records)
        series, n = collect(records, str(path), lambda r: json_number(r.get("iteration")),
                            lambda k: k != "iteration", "step")
        return ReadResult(series, notes + n, {})


READER = Detectron2Reader()

"""``--executor dask`` (issue 17): runs diagnosed on a real ``dask.distributed`` cluster give the
report of ``--executor local``. The cluster here is a ``LocalCluster`` of two workers in this
process (``processes=False``: two worker threads pools, each single-threaded; worker processes
are tried once, through the default cluster the executor starts itself).

Needs the test extra (``dask[distributed]``); skipped cleanly without it.
"""

from __future__ import annotations

import json

import pytest

from losscheck.formats import get_format
from losscheck.pipeline import diagnose
from tests.conftest import SAMPLE_RUNS

distributed = pytest.importorskip("distributed")


def _json(report) -> str:
    return json.dumps(json.loads(get_format("json").render(report)), sort_keys=True)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as c:
        yield c


def test_dask_report_equals_local(cluster, monkeypatch):
    import losscheck.pipeline as pipeline

    monkeypatch.setattr(pipeline, "DASK_BATCH", 3)  # several partitions over the two workers
    local = diagnose(SAMPLE_RUNS)
    with distributed.Client(cluster.scheduler_address) as client:
        with distributed.get_task_stream(client) as stream:
            spread = diagnose(SAMPLE_RUNS, executor="dask", scheduler=cluster.scheduler_address)
    assert len(local.runs) + len(local.errors) > 6
    assert _json(spread) == _json(local)
    batches = [t for t in stream.data if "_diagnose_batch" in t["key"]]
    assert len(batches) == -(-(len(local.runs) + len(local.errors)) // 3)  # partitions of DASK_BATCH = 3 runs
    assert len({t["worker"] for t in batches}) == 2  # both workers took part


def test_dask_progress_counts_every_run(cluster):
    seen: list[tuple[int, int]] = []
    rep = diagnose(SAMPLE_RUNS, executor="dask", scheduler=cluster.scheduler_address,
                   progress=lambda d, t: seen.append((d, t)))
    total = len(rep.runs) + len(rep.errors)
    assert seen[-1] == (total, total) and all(t == total for _, t in seen)


def test_dask_reads_urls_where_the_workers_are(cluster):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    for p in sorted((SAMPLE_RUNS / "qwen-style-diverge").rglob("*")):
        if p.is_file():
            fs.pipe(f"/dask-bucket/{p.relative_to(SAMPLE_RUNS)}", p.read_bytes())
    try:
        rep = diagnose("memory://dask-bucket", executor="dask", scheduler=cluster.scheduler_address)
        local = diagnose(SAMPLE_RUNS / "qwen-style-diverge")
        assert [r.run for r in rep.runs] == ["memory://dask-bucket/qwen-style-diverge"]
        assert (rep.runs[0].status, rep.runs[0].primary) == (local.runs[0].status, local.runs[0].primary)
    finally:
        fs.rm("/dask-bucket", recursive=True)


def test_dask_default_local_cluster_of_processes():
    runs = [str(SAMPLE_RUNS / n) for n in ("qwen-style-diverge", "plateau-frozen-params")]
    assert _json(diagnose(runs, executor="dask", jobs=1)) == _json(diagnose(runs))


def test_unknown_executor_is_a_usage_error():
    from losscheck.errors import UsageError

    with pytest.raises(UsageError):
        diagnose(SAMPLE_RUNS, executor="spark")

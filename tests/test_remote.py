"""Runs read from URLs (issue 17): a real S3 API on localhost (moto in server mode, started and
stopped here, written to with boto3), and fsspec's in-memory store. Each verdict must equal the
one of the same run read from disk; a prefix is listed once, and a small file fetched once.

Needs the test extra (moto[server], s3fs, boto3); skipped cleanly without it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from losscheck.errors import NoLogsFound, UnreadableFile, UsageError
from losscheck.formats import get_format
from losscheck.pipeline import diagnose
from losscheck.sources import collapsed, expand_paths, remote_problem, restore_urls
from tests.conftest import REPO, SAMPLE_RUNS

fsspec = pytest.importorskip("fsspec")

#: sample runs of several formats (TensorBoard, HF trainer state, Lightning CSV, JSON lines, text)
SOME = ["healthy-converge-floor", "overfit-keras-tensorboard", "qwen-style-diverge", "healthy-mlp-lightning",
        "plateau-frozen-params", "diverge-custom-text-log", "spike-to-worse-level", "nan-input-injected"]


def _json(report, prefix: str | None = None) -> str:
    """The JSON report without its ``root`` (what was named on the command line), with the URL
    prefix of its runs put back to the local folder."""
    import json

    data = json.loads(get_format("json").render(report))
    data.pop("root", None)
    text = json.dumps(data, sort_keys=True)
    return text if prefix is None else text.replace(prefix, str(SAMPLE_RUNS))


def _local(names=SOME):
    return diagnose([str(SAMPLE_RUNS / n) for n in names])


def _upload(put, names=SOME) -> int:
    """Write the sample runs ``names`` through ``put(key, bytes)``; returns the file count."""
    count = 0
    for name in names:
        for p in sorted((SAMPLE_RUNS / name).rglob("*")):
            if p.is_file():
                put(f"sample_runs/{p.relative_to(SAMPLE_RUNS)}", p.read_bytes())
                count += 1
    return count


# --------------------------------------------------------------------------- pure helpers


def test_pathlib_would_collapse_and_results_get_their_url_back():
    assert collapsed("s3://b/k/x.csv") == "s3:/b/k/x.csv"
    from losscheck.model import ReadNote, RunError

    err = restore_urls(RunError("s3:/b/k", "s3:/b/k/x.csv: cannot read; see s3:/b/k"), "s3")
    assert err.path == "s3://b/k" and err.message == "s3://b/k/x.csv: cannot read; see s3://b/k"
    note = restore_urls([ReadNote("gs:/b/x", "m")], "s3")[0]
    assert note.path == "gs:/b/x"  # another scheme is left alone


def test_remote_problems_are_one_line():
    assert remote_problem(FileNotFoundError("x")) == "no such bucket, key or prefix"
    assert remote_problem(PermissionError("The AWS Access Key Id you provided does not exist")).startswith(
        "access denied")
    assert "\n" not in remote_problem(OSError("a\nb"))


def test_local_globs_expand_and_file_urls_are_local(tmp_path):
    for n in ("lr-1", "lr-2", "other"):
        (tmp_path / n).mkdir()
    got = expand_paths([str(tmp_path / "lr-*"), f"file://{tmp_path}/other", "s3://b/x*"])
    assert got == [str(tmp_path / "lr-1"), str(tmp_path / "lr-2"), str(tmp_path / "other"), "s3://b/x*"]


def test_missing_backend_names_the_extra():
    try:
        import gcsfs  # noqa: F401
        pytest.skip("gcsfs is installed")
    except ImportError:
        pass
    with pytest.raises(UsageError) as exc:
        diagnose("gs://some-bucket/runs")
    assert "pip install 'losscheck[gcs]'" in exc.value.one_line()
    assert exc.value.one_line().startswith("gs://some-bucket/runs: gs:// needs")


# --------------------------------------------------------------------------- memory://


@pytest.fixture
def memfs():
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    fs.pseudo_dirs.clear()
    fs.pseudo_dirs.append("")
    yield fs
    fs.store.clear()


def test_memory_url_report_equals_local(memfs):
    _upload(lambda k, b: memfs.pipe(f"/bucket/{k}", b))
    remote = diagnose("memory://bucket/sample_runs")
    assert all(r.run.startswith("memory://bucket/sample_runs/") for r in remote.runs)
    assert len(remote.runs) == len(SOME)
    assert _json(remote, "memory://bucket/sample_runs") == _json(_local())


def test_memory_prefix_listed_once_and_small_files_fetched_once(memfs, monkeypatch):
    n_files = _upload(lambda k, b: memfs.pipe(f"/bucket/{k}", b))
    cls = type(memfs)
    calls: dict[str, list] = {"find": [], "ls": [], "ranges": []}
    real_find, real_ls, real_ranges = cls.find, cls.ls, cls.cat_ranges

    def find(self, path, *a, **k):
        calls["find"].append(path)
        return real_find(self, path, *a, **k)

    def ls(self, path, *a, **k):
        calls["ls"].append(path)
        return real_ls(self, path, *a, **k)

    def cat_ranges(self, paths, starts, ends, *a, **k):
        calls["ranges"].extend(zip(paths, starts, ends))
        return real_ranges(self, paths, starts, ends, *a, **k)

    monkeypatch.setattr(cls, "find", find)
    monkeypatch.setattr(cls, "ls", ls)
    monkeypatch.setattr(cls, "cat_ranges", cat_ranges)
    diagnose("memory://bucket/sample_runs")
    assert calls["find"] == ["/bucket/sample_runs"]
    assert len(calls["ls"]) <= 1 + 50  # find walks the in-memory tree; S3 lists one prefix in one call
    fetched: dict[str, int] = {}
    for p, a, b in calls["ranges"]:
        fetched[p] = fetched.get(p, 0) + (b - a)
    sizes = {p: memfs.size(p) for p in fetched}
    small = [p for p in sizes if sizes[p] <= 65536]
    assert small, "the sample runs hold small files"
    for p in small:  # the sniff buffer of a small file is its content: fetched once
        assert fetched[p] == sizes[p], p
    for p in sizes:  # a large file: its head, then the whole once
        assert fetched[p] <= sizes[p] + 65536, p
    assert len(fetched) <= n_files


def test_memory_glob_and_several_paths(memfs):
    _upload(lambda k, b: memfs.pipe(f"/bucket/{k}", b))
    rep = diagnose("memory://bucket/sample_runs/healthy-*")
    assert sorted(r.run for r in rep.runs) == [  # as the local glob names them
        "memory://bucket/sample_runs/healthy-converge-floor",
        "memory://bucket/sample_runs/healthy-mlp-lightning/lightning_logs/version_0"]
    both = diagnose(["memory://bucket/sample_runs/qwen-style-diverge", str(SAMPLE_RUNS / "plateau-frozen-params"),
                     "memory://bucket/nothing-here"])
    assert sorted(r.run for r in both.runs) == sorted(["memory://bucket/sample_runs/qwen-style-diverge",
                                                       str(SAMPLE_RUNS / "plateau-frozen-params")])
    assert [e.path for e in both.errors] == ["memory://bucket/nothing-here"]
    assert "no such bucket, key or prefix" in both.errors[0].message


def test_memory_missing_prefix_is_one_line(memfs):
    with pytest.raises(NoLogsFound) as exc:
        diagnose("memory://bucket/absent")
    assert exc.value.one_line() == "memory://bucket/absent: no such bucket, key or prefix"


# --------------------------------------------------------------------------- S3 (moto server)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free localhost port for this module, with the variables that
    point boto3 and s3fs at it; the bucket ``runs`` holds some sample runs under ``sample_runs/``."""
    pytest.importorskip("s3fs")
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    import boto3
    import s3fs

    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("AWS_PROFILE", raising=False)
        s3fs.S3FileSystem.clear_instance_cache()
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="runs")
        _upload(lambda k, b: client.put_object(Bucket="runs", Key=k, Body=b))
        try:
            yield {"endpoint": endpoint, "env": env, "client": client}
        finally:
            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()


def test_s3_report_equals_local(s3):
    remote = diagnose("s3://runs/sample_runs/")
    assert all(r.run.startswith("s3://runs/sample_runs/") for r in remote.runs), [r.run for r in remote.runs]
    local = _local()
    assert [(r.status, r.primary) for r in remote.runs] == [(r.status, r.primary) for r in local.runs]
    assert _json(remote, "s3://runs/sample_runs") == _json(local)


def test_s3_one_file_and_glob(s3):
    one = diagnose("s3://runs/sample_runs/qwen-style-diverge/trainer_state.json")
    local = diagnose(SAMPLE_RUNS / "qwen-style-diverge" / "trainer_state.json")
    assert one.runs[0].run == "s3://runs/sample_runs/qwen-style-diverge/trainer_state.json"
    assert (one.runs[0].status, one.runs[0].primary) == (local.runs[0].status, local.runs[0].primary)
    globbed = diagnose("s3://runs/sample_runs/*-diverge")
    assert [r.run for r in globbed.runs] == ["s3://runs/sample_runs/qwen-style-diverge"]


def test_s3_missing_bucket_and_key(s3):
    with pytest.raises(NoLogsFound) as exc:
        diagnose("s3://no-such-bucket/runs")
    assert exc.value.one_line() == "s3://no-such-bucket/runs: no such bucket, key or prefix"
    with pytest.raises(NoLogsFound) as exc:
        diagnose("s3://runs/not-there/")
    assert "no such bucket, key or prefix" in exc.value.one_line()


def test_s3_store_is_never_written(s3):
    def listing():
        return sorted((o["Key"], o["ETag"], o["Size"]) for o in
                      s3["client"].list_objects_v2(Bucket="runs").get("Contents", []))

    before = listing()
    diagnose("s3://runs/sample_runs")
    assert listing() == before


def test_s3_cli_exit_codes_and_one_line_errors(s3):
    env = {**os.environ, **s3["env"], "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "losscheck", "diagnose", "--format", "json"]
    got = subprocess.run(cmd + ["s3://runs/sample_runs/qwen-style-diverge", "s3://runs/sample_runs/healthy-*"],
                         capture_output=True, text=True, env=env, timeout=120)
    local = subprocess.run(cmd + [str(SAMPLE_RUNS / "qwen-style-diverge"), str(SAMPLE_RUNS / "healthy-*")],
                           capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == local.returncode == 1, got.stderr
    assert '"run": "s3://runs/sample_runs/qwen-style-diverge"' in got.stdout
    missing = subprocess.run(cmd + ["s3://no-such-bucket/x"], capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == ["losscheck: s3://no-such-bucket/x: no such bucket, key or prefix"]


def test_s3_access_denied_is_one_line(monkeypatch):
    """A moto server of its own, in a subprocess, with its IAM authentication on
    (``INITIAL_NO_AUTH_ACTION_COUNT=0``): an unknown access key is refused, as AWS does."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    import s3fs

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert server.poll() is None, "the moto server did not start"
                import time

                time.sleep(0.1)
        for k, v in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "nobody",
                     "AWS_SECRET_ACCESS_KEY": "wrong", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(k, v)
        s3fs.S3FileSystem.clear_instance_cache()
        with pytest.raises(UnreadableFile) as exc:
            diagnose("s3://runs/sample_runs")
        line = exc.value.one_line()
        assert line.startswith("s3://runs/sample_runs: access denied: check the credentials") and "\n" not in line
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.terminate()
        server.wait(timeout=30)


def test_unreadable_remote_file_is_a_note(memfs):
    from losscheck.discovery import discover
    from losscheck.pipeline import read_run

    _upload(lambda k, b: memfs.pipe(f"/bucket/{k}", b), ["qwen-style-diverge"])
    found = discover("memory://bucket/sample_runs")
    run = found.runs[0]
    key = next(iter(run.remote))
    run.remote[key] = type(run.remote[key])(run.remote[key].url.replace("qwen", "gone"), 10 << 20)
    with pytest.raises(UnreadableFile) as exc:
        read_run(run)
    assert "no such bucket, key or prefix" in exc.value.one_line()
    assert Path(key).name in exc.value.one_line()


STORES = REPO / "tests" / "fixtures" / "readers"


@pytest.mark.parametrize("store", ["trackio", "mlflow_sqlite", "neptune_parquet"])
def test_stores_from_memory_read_like_from_disk(memfs, store):
    """SQLite and Parquet stores are opened from bytes (no OS path behind a URL)."""
    if store != "mlflow_sqlite":
        pytest.importorskip("pyarrow")
    for p in sorted((STORES / store).rglob("*")):
        if p.is_file():
            memfs.pipe(f"/st/{p.relative_to(STORES)}", p.read_bytes())
    remote = diagnose(f"memory://st/{store}")
    assert remote.runs and not remote.errors
    assert not [n for r in remote.runs for n in r.notes if n.severity == "warning" and "SQLite" in n.message]
    assert _json(remote, f"memory://st/{store}") == _json(diagnose(str(STORES / store))).replace(
        str(STORES / store), str(SAMPLE_RUNS))


def test_sqlite_store_inside_an_archive(tmp_path):
    import tarfile

    with tarfile.open(tmp_path / "stores.tar.gz", "w:gz") as tf:
        tf.add(STORES / "mlflow_sqlite" / "mlflow.db", arcname="mlflow_sqlite/mlflow.db")
    packed = diagnose(str(tmp_path / "stores.tar.gz"))
    local = diagnose(str(STORES / "mlflow_sqlite"))
    assert [(r.status, r.primary, r.metrics["loss"].points) for r in packed.runs] == \
        [(r.status, r.primary, r.metrics["loss"].points) for r in local.runs]

"""Network failures are named as such (try-user finding 10): a DNS failure, a refused
connection, were "no such bucket, key or prefix" for http(s):// and an internal error for
ftp://. Local means only: a closed localhost port and a name under ``.invalid`` (RFC 2606,
never resolves), so no internet is needed."""

from __future__ import annotations

import socket

import pytest

from losscheck.errors import UnreadableFile, UsageError
from losscheck.pipeline import diagnose
from losscheck.sources import network_problem, open_fs

pytest.importorskip("fsspec")


def _closed_port() -> int:
    """A localhost TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_ok() -> None:
    pytest.importorskip("aiohttp")


def test_connection_refused_over_http_is_a_network_error():
    _http_ok()
    with pytest.raises(UnreadableFile) as exc:
        diagnose(f"http://127.0.0.1:{_closed_port()}/run/metrics.csv")
    assert "connection refused" in exc.value.problem and "no such" not in exc.value.problem


def test_dns_failure_over_http_is_a_network_error():
    _http_ok()
    with pytest.raises(UnreadableFile) as exc:
        diagnose("https://losscheck-test.invalid/run/trainer_state.json")
    assert exc.value.problem.startswith("network error:")
    assert "does not resolve" in exc.value.problem or "cannot connect" in exc.value.problem


@pytest.mark.parametrize("host", ["losscheck-test.invalid", "127.0.0.1:{port}"])
def test_ftp_network_failure_is_not_an_internal_error(host):
    url = f"ftp://{host.format(port=_closed_port())}/run/metrics.csv"
    with pytest.raises(UnreadableFile) as exc:
        diagnose(url)
    assert exc.value.problem.startswith("network error:")


def test_network_problem_reads_the_cause_chain():
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as inner:
            raise FileNotFoundError("http://x/y") from inner
    except FileNotFoundError as outer:
        assert "connection refused" in network_problem(outer)
    assert network_problem(FileNotFoundError("s3://b/k")) is None
    assert "does not resolve" in network_problem(socket.gaierror(-2, "Name or service not known"))


def test_a_missing_backend_reads_cleanly(monkeypatch):
    """Before: "hf:// needs pip install the fsspec backend for it (Install huggingface_hub to
    access HfFileSystem)"."""
    import fsspec.core

    def missing(url):
        raise ImportError("Install huggingface_hub to access HfFileSystem")

    monkeypatch.setattr(fsspec.core, "url_to_fs", missing)
    with pytest.raises(UsageError) as exc:
        open_fs("hf://datasets/nope/nope")
    assert exc.value.problem == ("hf:// needs an fsspec backend that is not installed "
                                 "(fsspec says: Install huggingface_hub to access HfFileSystem)")

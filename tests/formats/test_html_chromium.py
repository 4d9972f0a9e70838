"""The HTML report in a real headless Chromium (Debian's ``chromium`` package).

The page is served by a small local HTTP server that is also Chromium's proxy for every
request (``--proxy-server`` with loopback not bypassed), so any request the page made, to any
host, would reach it and be counted; the page must cause exactly one (itself). Console
messages come out on stderr (``--enable-logging=stderr``, ``INFO:CONSOLE``); there must be
none (a Content-Security-Policy violation is one). The screenshot is decoded (a small PNG
reader below) and its pixels checked: the loss's line and the onset marker's colour are there.

Skipped when no ``chromium`` is installed (``.ci/run`` installs it on Debian).
"""

from __future__ import annotations

import http.server
import os
import shutil
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

from losscheck.formats import get_format
from losscheck.formats.html import NONFINITE, ONSET, ROLE_COLOUR
from losscheck.pipeline import diagnose

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """``(width, height, rows)`` of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes);
    each row is ``width * channels`` bytes, RGB first. Raises ValueError for anything else."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, hgt, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError("unsupported PNG")
            ch = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = w * ch
    rows, prev = [], bytearray(stride)
    for y in range(hgt):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, hgt, [bytes(r) for r in rows] if ch == 3 else [
        b"".join(r[i:i + 3] for i in range(0, len(r), 4)) for r in rows]


def count_colour(rows: list[bytes], hex_colour: str, tol: int = 40, box=None) -> int:
    """Pixels within ``tol`` (per channel) of ``hex_colour``, in ``box`` = (x0, y0, x1, y1)."""
    want = bytes.fromhex(hex_colour.lstrip("#"))
    x0, y0, x1, y1 = box or (0, 0, len(rows[0]) // 3, len(rows))
    n = 0
    for row in rows[y0:y1]:
        for x in range(x0, x1):
            p = row[3 * x:3 * x + 3]
            if abs(p[0] - want[0]) <= tol and abs(p[1] - want[1]) <= tol and abs(p[2] - want[2]) <= tol:
                n += 1
    return n


class _Server(http.server.ThreadingHTTPServer):
    page: bytes = b""
    requests: list[str]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the page at any URL path ``/report.html``; records every request (GET, CONNECT
    for https, anything), and answers everything else 404/403."""

    def _record(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        if self.path.endswith("/report.html"):
            body = self.server.page  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def do_CONNECT(self) -> None:  # noqa: N802
        self._record()
        self.send_error(403)

    do_POST = do_HEAD = do_PUT = do_GET

    def log_message(self, *args) -> None:
        pass


def shoot(html: str, tmp_path: Path, height: int) -> tuple[list[str], list[str], Path]:
    """Load ``html`` in headless Chromium; return (requests seen, console lines, screenshot)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.page = html.encode("utf-8")
    server.requests = []
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shot = tmp_path / "shot.png"
    try:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
             f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", f"--window-size=1280,{height}",
             f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>",
             "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
             "http://losscheck.test/report.html"],
            capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert shot.exists(), proc.stderr[-2000:]
    return server.requests, console, shot


#: Hosts Chromium itself contacts at start-up whatever the page (network time, the default
#: search engine's preconnect, the account service), seen through the proxy on an empty page.
BROWSER_HOSTS = (".google.com",)


def page_requests(requests: list[str]) -> list[str]:
    """The requests not made by the browser for itself (:data:`BROWSER_HOSTS`)."""
    def host(r: str) -> str:
        target = r.split(" ", 1)[1]
        return target.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]

    return [r for r in requests if not host(r).endswith(BROWSER_HOSTS)]


def test_the_harness_sees_a_page_fetch(tmp_path):
    """Control: a page that does fetch (an image, a style sheet over https) is caught, so the
    checks below can fail."""
    page = ('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.example/f.css">'
            '</head><body><img src="http://cdn.example/x.png"><script>console.error("boom")</script></body></html>')
    requests, console, _ = shoot(page, tmp_path, 300)
    got = page_requests(requests)
    assert "GET http://cdn.example/x.png" in got and "CONNECT fonts.example:443" in got, got
    assert any("boom" in c for c in console), console


def _keep(name: str) -> str | None:
    """Where to keep a screenshot: ``docs/<name>`` when ``LOSSCHECK_KEEP_SHOTS=1`` (how the
    pictures in README were made), else nowhere."""
    return str(ROOT / "docs" / name) if os.environ.get("LOSSCHECK_KEEP_SHOTS") == "1" else None


def _check_page(html: str, tmp_path: Path, height: int, save: str | None = None):
    requests, console, shot = shoot(html, tmp_path, height)
    assert page_requests(requests) == ["GET http://losscheck.test/report.html"], requests  # the page only
    assert console == [], console
    if save:  # keep the picture for people (docs/), when asked
        shutil.copy(shot, save)
    return read_png(shot.read_bytes())


def test_demo_run_in_chromium(tmp_path):
    rep = diagnose(ROOT / "sample_runs" / "qwen-style-diverge", plots=True)
    w, hgt, rows = _check_page(get_format("html").render(rep), tmp_path, 1000,
                               _keep("html-report-demo.png"))
    assert (w, hgt) == (1280, 1000)
    # the plot area (left of the findings) is not blank: the loss's line, the onset marker
    plot = (60, 180, 780, 420)
    assert count_colour(rows, ROLE_COLOUR["loss"], 30, plot) > 300
    assert count_colour(rows, ONSET, 30, plot) > 200
    assert count_colour(rows, ROLE_COLOUR["grad_norm"], 30, (60, 400, 780, 560)) > 100


def test_real_sweep_in_chromium(tmp_path):
    real = Path("/work/shared/real_runs")
    if not real.is_dir():
        pytest.skip("../shared is absent")
    rep = diagnose(real, jobs=2, plots=True)
    w, hgt, rows = _check_page(get_format("html").render(rep), tmp_path, 1400,
                               _keep("html-report-sweep.png"))
    overview = (0, 100, 1280, 1000)
    assert count_colour(rows, ROLE_COLOUR["loss"], 30, overview) > 2000  # small multiples drawn
    assert count_colour(rows, ONSET, 30, overview) > 200
    assert count_colour(rows, NONFINITE, 30, overview) > 20  # NaN runs marked

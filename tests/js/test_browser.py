"""A real browser: headless Chromium, a page from another origin, the official browser build.

The page (``browser_page.html``) is served by a tiny HTTP server on another
port, so every long-polling request is cross-origin and depends on CORS. It
reports what happened by POSTing to that same tiny server. Skipped where
Debian's ``chromium`` is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

JS_DIR = Path(__file__).resolve().parent
CLIENT_BUILD = JS_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
REPORT_TIMEOUT = 30


class PageServer:
    """Serves the test page and the client build; keeps the page's reports."""

    def __init__(self) -> None:
        self.port = free_port()
        self.reports: list[dict] = []
        self.reported = threading.Event()
        handler = partial(_Handler, self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, pages: PageServer, *args, **kwargs) -> None:
        self.pages = pages
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        files = {"/": JS_DIR / "browser_page.html", "/socket.io.min.js": CLIENT_BUILD}
        if path not in files:
            self.send_error(404)
            return
        body = files[path].read_bytes()
        self.send_response(200)
        kind = "text/html" if path == "/" else "application/javascript"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.pages.reports.append(json.loads(self.rfile.read(length)))
        self.pages.reported.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def chromium():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    if not CLIENT_BUILD.is_file():
        pytest.skip("tests/js/node_modules is not installed (npm ci in tests/js)")
    return binary


def open_page(chromium: str, url: str, profile: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_page(chromium, tmp_path, page_origin_host, pages, server, token, stream) -> dict:
    query = urlencode({"server": server.url, "token": token, "stream": str(stream.pk)})
    browser = open_page(chromium, f"http://{page_origin_host}:{pages.port}/?{query}", tmp_path)
    try:
        assert pages.reported.wait(REPORT_TIMEOUT), f"no report within {REPORT_TIMEOUT}s"
    finally:
        browser.kill()
        browser.wait(timeout=10)
    return pages.reports[0]


def test_a_page_from_an_allowed_origin_connects_chats_and_upgrades(
    chromium, tmp_path, start_server, user, token_for, make_stream
):
    with PageServer() as pages:
        server = start_server(ALLOWED_ORIGINS=f"http://localhost:{pages.port}")
        report = run_page(
            chromium, tmp_path, "localhost", pages, server, token_for(user), make_stream()
        )
    assert report["origin"] == f"http://localhost:{pages.port}"
    assert "connectError" not in report, report
    assert "error" not in report, report
    assert report["firstTransport"] == "polling"
    assert report["joinAck"]["ok"] is True
    assert report["chatAck"]["ok"] is True
    assert report["finalTransport"] == "websocket"
    assert report["afterUpgradeAck"]["ok"] is True


def test_a_page_from_another_origin_cannot_connect(
    chromium, tmp_path, start_server, user, token_for, make_stream
):
    with PageServer() as pages:
        # The page is served from 127.0.0.1; only localhost is allowed.
        server = start_server(ALLOWED_ORIGINS=f"http://localhost:{pages.port}")
        report = run_page(
            chromium, tmp_path, "127.0.0.1", pages, server, token_for(user), make_stream()
        )
    assert report["origin"] == f"http://127.0.0.1:{pages.port}"
    assert report.get("connectError"), report
    assert "joinAck" not in report

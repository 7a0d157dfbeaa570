"""The watch page's HLS player (the vendored hls.js) in a real browser.

ffmpeg makes a short HLS stream (H.264 test pattern) served from another
origin with CORS, as a media server would; skipped where ffmpeg is missing
(Debian: ``apt-get install ffmpeg``, which ``.ci/run`` installs).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.servers import free_port
from tests.web.test_browser import sign_in, text_of, wait

pytestmark = pytest.mark.django_db(transaction=True)


class _CorsHandler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hls_origin(tmp_path):
    """An HTTP server for ``<port>/<stream id>.m3u8``; ``make(stream_id)`` encodes one."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    folder = tmp_path / "hls"
    folder.mkdir()
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", free_port()), partial(_CorsHandler, directory=str(folder))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def make(stream_id: str) -> None:
        subprocess.run(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                "-i", "testsrc=size=320x180:rate=25", "-t", "4", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", "-g", "25", "-f", "hls", "-hls_time", "1",
                "-hls_list_size", "0", "-hls_playlist_type", "vod",
                str(folder / f"{stream_id}.m3u8"),
            ],
            check=True,
            timeout=60,
        )  # fmt: skip

    make.template = f"http://127.0.0.1:{httpd.server_address[1]}/{{stream_id}}.m3u8"
    yield make
    httpd.shutdown()
    httpd.server_close()


def video_ready(driver) -> bool:
    return driver.execute_script(
        "const v = document.querySelector('#player video'); return !!v && v.readyState >= 2;"
    )


def test_a_stream_with_a_playback_url_plays_in_the_page(
    browser, start_server, hls_origin, make_user, make_stream
):
    stream = make_stream(title="With video")
    hls_origin(str(stream.pk))
    server = start_server(PLAYBACK_URL_TEMPLATE=hls_origin.template)
    page = browser("viewer")
    sign_in(page, server.url, make_user("watcher"))
    page.get(f"{server.url}/watch/{stream.pk}/")
    wait(page, video_ready, message="the video never had a frame to show")
    video = "document.querySelector('#player video')"
    assert page.execute_script(f"return {video}.ariaLabel") == "Live video"
    # Played through hls.js (Media Source Extensions), not the browser's own HLS support.
    assert page.execute_script(f"return {video}.src").startswith("blob:")


def test_a_playback_url_that_does_not_answer_shows_a_placeholder(
    browser, start_server, make_user, make_stream
):
    stream = make_stream(title="Video down")
    nowhere = f"http://127.0.0.1:{free_port()}/{{stream_id}}.m3u8"
    server = start_server(PLAYBACK_URL_TEMPLATE=nowhere)
    page = browser("viewer")
    sign_in(page, server.url, make_user("watcher"))
    page.get(f"{server.url}/watch/{stream.pk}/")
    text_of(page, "#player", "The video cannot be played right now: chat is live.")
    text_of(page, "#connection", "connected")

"""The encoder drives the stream: a real nginx-rtmp (deploy/ recipe) and ffmpeg publishing."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from asgiref.sync import sync_to_async

from streams.ingest import STOPPED_REASON
from streams.models import Stream
from tests.servers import RTMP_MODULE, RtmpServer
from tests.sio import SERVER_DISCONNECT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
    pytest.mark.skipif(
        not RTMP_MODULE.exists(), reason="nginx-rtmp is not installed (libnginx-mod-rtmp)"
    ),
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed"),
]

SECRET = "test-ingest-secret"
GRACE = 3


@pytest.fixture
def media(start_server, server_logs):
    rtmp = RtmpServer(server_logs, backend_url="", secret=SECRET)
    backend = start_server(
        INGEST_HOOK_SECRET=SECRET,
        INGEST_RECONNECT_GRACE_SECONDS=str(GRACE),
        INGEST_SWEEP_INTERVAL_SECONDS="1",
        PLAYBACK_URL_TEMPLATE=f"{rtmp.hls_url}/{{stream_id}}.m3u8",
    )
    rtmp.backend_url = backend.url
    rtmp.start()
    yield backend, rtmp
    rtmp.stop()


class Encoder:
    """ffmpeg publishing a test pattern with sound, like OBS would."""

    def __init__(self, url: str, log_dir) -> None:
        self.url = url
        self.log_path = log_dir / f"ffmpeg-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen | None = None

    def start(self, seconds: int = 60) -> Encoder:
        command = ["ffmpeg", "-hide_banner", "-nostdin", "-re"]
        command += ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]
        command += ["-f", "lavfi", "-i", "sine", "-t", str(seconds)]
        command += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac"]
        command += ["-f", "flv", self.url]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def encoders(server_logs):
    started: list[Encoder] = []

    def start(url: str, seconds: int = 60) -> Encoder:
        encoder = Encoder(url, server_logs).start(seconds)
        started.append(encoder)
        return encoder

    yield start
    for encoder in started:
        encoder.kill()


async def eventually(condition, *, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await sync_to_async(condition)():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def status_of(stream: Stream) -> str:
    return Stream.objects.values_list("status", flat=True).get(pk=stream.pk)


def segments(url: str) -> set[str]:
    """The fragments the HLS playlist at ``url`` lists now (none while it is missing)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            playlist = response.read().decode()
    except urllib.error.HTTPError:
        return set()
    return {line for line in playlist.splitlines() if line.endswith(".ts")}


async def test_a_wrong_key_is_refused_and_the_stream_stays_idle(media, encoders, make_stream):
    backend, rtmp = media
    stream = make_stream(live=False)
    encoder = encoders(f"{rtmp.publish_url}/not-{stream.stream_key}", seconds=5)
    code = await asyncio.to_thread(encoder.process.wait, 30)
    assert code != 0, encoder.log_path.read_text()
    assert status_of(stream) == "idle"
    assert not list(rtmp.hls_dir.iterdir())


async def test_the_encoder_drives_the_stream_through_a_reconnect_to_its_end(
    media, encoders, make_stream, make_user, connect
):
    backend, rtmp = media
    stream = make_stream(live=False)
    stream_id = str(stream.pk)
    key = stream.stream_key
    publish = f"{rtmp.publish_url}/{key}"

    encoder = encoders(publish)
    await eventually(lambda: status_of(stream) == "live", what="the stream to go live")

    viewer = await connect(backend, make_user())
    joined = await viewer.call("join_stream_room", {"streamId": stream_id})
    playback = joined["playbackUrl"]
    assert playback == f"{rtmp.hls_url}/{stream_id}.m3u8"

    # The playlist appears under the public id and grows.
    seen: set[str] = set()
    await eventually(lambda: seen.update(segments(playback)) or seen, what="the playlist")
    await eventually(lambda: segments(playback) - seen, what="the playlist to grow")
    seen |= segments(playback)

    # OBS drops and comes back within the grace: viewers stay, told at most the status.
    mark = viewer.mark()
    await asyncio.to_thread(encoder.kill)
    assert (await viewer.wait_for("stream_status", after=mark)) == {
        "streamId": stream_id,
        "status": "reconnecting",
    }
    encoder = encoders(publish)
    assert await viewer.wait_for("stream_status", lambda d: d["status"] == "live", after=mark)
    assert status_of(stream) == "live"
    await eventually(lambda: segments(playback) - seen, what="the playlist to go on")
    assert viewer.sio.connected and status_of(stream) == "live"

    # Gone for longer than the grace: the stream ends and the viewer is let go.
    mark = viewer.mark()
    await asyncio.to_thread(encoder.kill)
    ended = await viewer.wait_for("stream_ended_notification", after=mark, timeout=GRACE + 15)
    assert ended == {"roomId": stream_id, "message": STOPPED_REASON}
    assert await viewer.wait_disconnected() == SERVER_DISCONNECT
    assert status_of(stream) == "ended"

    # The key shows nowhere: HLS paths, nginx's access log, the project's log.
    assert all(key not in path.name for path in rtmp.hls_dir.iterdir())
    assert key not in rtmp.access_log.read_text()
    assert key not in backend.log_path.read_text()

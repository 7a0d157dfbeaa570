"""The admin's live overview shows live streams, their viewers and chat pace, and the workers."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.support import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

# Workers report every half heartbeat: a short one keeps the test short.
HEARTBEAT = {"SOCKETIO_PING_INTERVAL_MS": "1000", "SOCKETIO_PING_TIMEOUT_MS": "1000"}


def cells(html: str, row_of: str, css: str) -> list[str]:
    table = re.search(rf'<table id="{row_of}">(.*?)</table>', html, re.S).group(1)
    return re.findall(rf'<td class="{css}">(\d+)</td>', table)


async def test_the_overview_follows_viewers_chat_and_sockets(
    start_server, connect, make_user, make_stream, staff, client
):
    server = start_server(**HEARTBEAT)
    stream = make_stream(title="Night owls")
    make_stream(title="Not on air", live=False)
    stream_id = str(stream.pk)
    first, second = await connect(server, make_user()), await connect(server, make_user())
    for viewer in (first, second):
        assert (await viewer.call("join_stream_room", {"streamId": stream_id}))["ok"]
    assert (await first.call("chat_message", {"streamId": stream_id, "message": "hoot"}))["ok"]
    client.force_login(staff)

    deadline = time.monotonic() + TIMEOUT
    while True:
        html = (await asyncio.to_thread(client.get, "/admin/overview/")).content.decode()
        # Workers of other servers of this test run share the Redis: ours by its pid.
        if re.search(rf':{server.process.pid}</td>\s*<td class="sockets">2</td>', html):
            break
        assert time.monotonic() < deadline, html
        await asyncio.sleep(0.2)
    assert "Night owls" in html and "Not on air" not in html
    assert cells(html, "live-streams", "viewers") == ["2"]
    assert cells(html, "live-streams", "per-minute") == ["1"]


def test_the_overview_is_for_staff_only(client, user):
    client.force_login(user)
    response = client.get("/admin/overview/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

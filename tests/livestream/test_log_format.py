"""LOG_FORMAT=json: one JSON object per line, naming socket, user and stream where known."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from livestream import log_context
from livestream.log_format import JsonFormatter

pytestmark = pytest.mark.django_db(transaction=True)


def record(message: str, *, exc_info=None, **extra) -> logging.LogRecord:
    return logging.getLogger("chat.events").makeRecord(
        "chat.events", logging.WARNING, __file__, 1, message, (), exc_info, extra=extra
    )


def test_a_line_carries_the_context_and_nothing_else():
    with log_context.session_context("sid-1", user_id=7):
        log_context.bind(stream_id="s-9")
        line = JsonFormatter().format(record("refused", token="eyJ.secret", password="hunter2"))
    entry = json.loads(line)
    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "WARNING",
        "logger": "chat.events",
        "message": "refused",
        "sid": "sid-1",
        "user_id": "7",
        "stream_id": "s-9",
    }


def test_the_context_ends_with_the_packet():
    with log_context.session_context("sid-1"):
        pass
    entry = json.loads(JsonFormatter().format(record("later")))
    assert "sid" not in entry and "stream_id" not in entry


def test_an_exception_is_one_field_of_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        line = JsonFormatter().format(record("failed", exc_info=sys.exc_info()))
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


async def test_a_server_logs_json_lines_with_the_socket_and_user(start_server, connect, make_user):
    server = start_server(LOG_FORMAT="json", SOCKETIO_EVENT_RATE="1", SOCKETIO_EVENT_BURST="1")
    user = make_user()
    client = await connect(server, user)
    sid = client.sio.get_sid()
    for _ in range(5):  # flooding closes the socket, which is logged
        await client.emit("no_such_event")
    await client.wait_disconnected()

    entries = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    flood = [entry for entry in entries if "too many events" in entry["message"]]
    assert flood, entries
    assert flood[0]["user_id"] == str(user.pk)
    assert flood[0]["sid"] == sid

"""Connection-state recovery on the wire: pid, offsets, resuming, and who gets neither.

A raw client drives the protocol exactly as the official JS client does
(``40{"token","pid","offset"}`` after a drop); the JS client itself runs the
same story in ``tests/js/test_recovery.py``. Drops are TCP aborts (no close
frame), like a phone losing its network.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from notifications.services import notify
from tests.raw import RawSocket
from tests.sio import assert_no_flap

pytestmark = pytest.mark.django_db(transaction=True)

# Browsers and the official JS client: they get offsets. (The raw client's own
# User-Agent, "Python/... websockets/...", marks it as a Python client.)
BROWSER = {"user_agent_header": "Mozilla/5.0 (recovery test)"}
WAIT = 10.0


class Recovering:
    """A raw socket that keeps what the JS client keeps: pid and the last offset."""

    def __init__(self, server, token: str) -> None:
        self.server, self.token = server, token
        self.pid: str | None = None
        self.offset: str | None = None
        self.raw: RawSocket | None = None
        self.ack_id = 0

    async def connect(self, **auth) -> dict:
        self.raw = await RawSocket.open(self.server.url, **BROWSER)
        payload = {"token": self.token, **auth}
        if self.pid is not None:
            payload.update(pid=self.pid, offset=self.offset)
        await self.raw.send("40" + json.dumps(payload))
        frame = await self.raw.recv()
        assert frame.startswith("40"), frame
        answer = json.loads(frame[2:])
        self.pid = answer.get("pid")
        return answer

    async def call(self, event: str, data) -> dict:
        self.ack_id += 1
        await self.raw.send(f"42{self.ack_id}" + json.dumps([event, data]))
        while True:
            frame = await self.raw.recv(WAIT)
            if frame.startswith(f"43{self.ack_id}["):
                return json.loads(frame[2 + len(str(self.ack_id)) :])[0]

    async def events(self, until, timeout: float = WAIT) -> list[tuple[str, list]]:
        """Events (name, args) until ``until(name, args)`` holds, noting offsets as JS does."""
        seen = []

        async def read():
            while True:
                frame = await self.raw.recv(timeout)
                if frame.startswith("42"):
                    name, *args = json.loads(frame[2:])
                    if self.pid and args and isinstance(args[-1], str):
                        self.offset = args[-1]
                    seen.append((name, args))
                    if until(name, args):
                        return seen

        return await asyncio.wait_for(read(), timeout)

    def drop(self) -> None:
        self.raw.ws.transport.abort()


def is_message(text):
    return lambda name, args: name == "new_message" and args[0]["message"] == text


async def _watch(client: Recovering, stream) -> None:
    joined = await client.call("join_stream_room", {"streamId": str(stream.pk)})
    assert joined["ok"], joined
    assert (await client.call("join_notification_room", None))["ok"]


async def test_a_dropped_socket_resumes_with_everything_it_missed(
    server, connect, make_user, make_stream, token_for
):
    stream = make_stream()
    viewer, talker, late = make_user(), make_user(), make_user()
    phone = Recovering(server, token_for(viewer))
    first = await phone.connect()
    assert first["pid"] and first["sid"]
    await _watch(phone, stream)
    other = await connect(server, talker)
    await other.call("join_stream_room", {"streamId": str(stream.pk)})
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "before"})
    seen = await phone.events(is_message("before"))
    assert seen[-1][1][-1] == phone.offset  # the offset is the last argument

    mark = other.mark()
    phone.drop()
    for text in ("away 1", "away 2"):
        await other.call("chat_message", {"streamId": str(stream.pk), "message": text})
    await sync_to_async(notify)(viewer, "gift", {"from": "talker"})
    third = await connect(server, late)
    await third.call("join_stream_room", {"streamId": str(stream.pk)})
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "away 3"})

    again = await phone.connect()
    assert again == {"sid": first["sid"], "pid": first["pid"]}
    got: set[str] = set()

    def everything(name, args):
        got.add(name if name != "new_message" else args[0]["message"])
        return {"away 3", "notification", "viewer_count_updated"} <= got

    missed = await phone.events(everything)
    # Each missed event exactly once; chat in order. (The count change may come
    # after the chat: counts are coalesced, so the joiner's count trails.)
    assert [args[0]["message"] for name, args in missed if name == "new_message"] == [
        "away 1",
        "away 2",
        "away 3",
    ]
    assert [args[0]["kind"] for name, args in missed if name == "notification"] == ["gift"]
    assert [args[0]["count"] for name, args in missed if name == "viewer_count_updated"] == [3]
    # Live again, in the same rooms, with nothing repeated.
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "after"})
    after = await phone.events(is_message("after"))
    assert [args[0].get("message") for _, args in after] == ["after"]
    # The others never saw the viewer leave: the only count change is the third viewer.
    await assert_no_flap(other, mark, viewers=2, then=3)


async def test_another_worker_resumes_the_session(
    start_server, connect, make_user, make_stream, token_for
):
    first_worker, second_worker = start_server(), start_server()
    stream = make_stream()
    viewer, talker = make_user(), make_user()
    phone = Recovering(first_worker, token_for(viewer))
    first = await phone.connect()
    await _watch(phone, stream)
    other = await connect(second_worker, talker)
    await other.call("join_stream_room", {"streamId": str(stream.pk)})
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "before"})
    await phone.events(is_message("before"))

    mark = other.mark()
    phone.drop()
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "away"})
    await sync_to_async(notify)(viewer, "gift", {"from": "talker"})

    phone.server = second_worker
    again = await phone.connect()
    assert again == {"sid": first["sid"], "pid": first["pid"]}
    missed = await phone.events(lambda name, args: name == "notification")
    assert [name for name, _ in missed] == ["new_message", "notification"]
    assert missed[0][1][0]["message"] == "away"
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "after"})
    after = await phone.events(is_message("after"))
    assert [args[0].get("message") for _, args in after] == ["after"]
    await assert_no_flap(other, mark, viewers=2)
    # The new worker holds the viewer now: a disconnect there is seen by everyone.
    await phone.raw.send("41")
    left = await other.wait_for("viewer_count_updated", after=mark)
    assert left["count"] == 1


async def test_a_socket_that_saw_no_broadcast_yet_resumes_too(
    server, connect, make_user, make_stream, token_for
):
    # Without an offset (the JS client sends none before its first broadcast) the
    # session resumes from its start; the Node server refuses it.
    stream = make_stream()
    phone = Recovering(server, token_for(make_user()))
    first = await phone.connect()
    await _watch(phone, stream)
    assert phone.offset is None
    phone.drop()
    other = await connect(server, make_user())
    await other.call("join_stream_room", {"streamId": str(stream.pk)})
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "while away"})
    again = await phone.connect()
    assert again["sid"] == first["sid"]
    got: set[str] = set()

    def both(name, args):
        got.add(name if name != "new_message" else args[0]["message"])
        return {"while away", "viewer_count_updated"} <= got

    missed = await phone.events(both)
    assert [args[0]["count"] for name, args in missed if name == "viewer_count_updated"] == [2]
    assert [args[0]["message"] for name, args in missed if name == "new_message"] == ["while away"]


@pytest.mark.parametrize("other_worker", [False, True], ids=["same-worker", "other-worker"])
async def test_a_reconnection_takes_over_a_connection_the_server_thinks_alive(
    other_worker, start_server, connect, make_user, make_stream, token_for
):
    # A phone switching networks knows at once that its socket is gone; the server
    # would only notice at the next missed heartbeat. The reconnection tells it.
    first_worker = start_server()
    second_worker = start_server() if other_worker else first_worker
    stream = make_stream()
    phone = Recovering(first_worker, token_for(make_user()))
    first = await phone.connect()
    await _watch(phone, stream)
    other = await connect(second_worker, make_user())
    await other.call("join_stream_room", {"streamId": str(stream.pk)})
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "before"})
    await phone.events(is_message("before"))
    old = phone.raw
    old.stop_reading()  # gone as far as the phone knows; the server sees nothing
    mark = other.mark()
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "switching"})
    phone.server = second_worker
    again = await phone.connect()
    assert again == {"sid": first["sid"], "pid": first["pid"]}
    missed = await phone.events(is_message("switching"))
    assert [args[0]["message"] for name, args in missed if name == "new_message"] == ["switching"]
    await old.closed()  # the server dropped the old connection (or this times out)
    await assert_no_flap(other, mark, viewers=2)


async def test_past_the_window_it_is_a_new_session(
    start_server, connect, make_user, make_stream, token_for
):
    server = start_server(SOCKETIO_RECOVERY_WINDOW_MS="1000")
    stream = make_stream()
    viewer, watcher = make_user(), make_user()
    other = await connect(server, watcher)
    await other.call("join_stream_room", {"streamId": str(stream.pk)})
    mark = other.mark()
    phone = Recovering(server, token_for(viewer))
    first = await phone.connect()
    await _watch(phone, stream)
    await other.wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=mark)
    mark = other.mark()
    phone.drop()
    # When the window passes, the parked viewer leaves like any other.
    await other.wait_for("viewer_count_updated", lambda d: d["count"] == 1, after=mark)
    again = await phone.connect()
    assert again["sid"] != first["sid"]
    assert again["pid"] != first["pid"]


async def test_a_deactivated_user_is_refused_not_resumed(server, make_user, make_stream, token_for):
    stream = make_stream()
    viewer = make_user()
    phone = Recovering(server, token_for(viewer))
    await phone.connect()
    await _watch(phone, stream)
    phone.drop()
    viewer.is_active = False
    await sync_to_async(viewer.save)()
    phone.raw = await RawSocket.open(server.url, **BROWSER)
    await phone.raw.send(
        "40" + json.dumps({"token": phone.token, "pid": phone.pid, "offset": phone.offset})
    )
    assert json.loads((await phone.raw.recv())[2:]) == {"message": "Authentication error"}


async def test_another_users_token_cannot_take_the_session(
    server, make_user, make_stream, token_for
):
    stream = make_stream()
    phone = Recovering(server, token_for(make_user()))
    first = await phone.connect()
    await _watch(phone, stream)
    phone.drop()
    thief = Recovering(server, token_for(make_user()))
    thief.pid = phone.pid
    stolen = await thief.connect()
    assert stolen["sid"] != first["sid"]


async def test_python_clients_get_no_pid_and_no_offsets(
    server, connect, make_user, make_stream, token_for
):
    stream = make_stream()
    raw = await RawSocket.open(server.url)  # User-Agent: Python/... websockets/...
    answer = json.loads((await raw.connect(token_for(make_user())))[2:])
    assert "pid" not in answer
    await raw.send("42" + json.dumps(["join_stream_room", {"streamId": str(stream.pk)}]))
    other = await connect(server, make_user())
    await other.call("join_stream_room", {"streamId": str(stream.pk)})
    await other.call("chat_message", {"streamId": str(stream.pk), "message": "hello"})
    while True:
        frame = await raw.recv(WAIT)
        if frame.startswith('42["new_message"'):
            break
    assert len(json.loads(frame[2:])) == 2  # the event and its payload, nothing more
    # python-socketio's own client: its handlers still take one argument.
    assert other.received("new_message")[-1]["message"] == "hello"


async def test_a_client_may_turn_offsets_off(server, make_user, token_for):
    phone = Recovering(server, token_for(make_user()))
    answer = await phone.connect(recovery=False)
    assert "pid" not in answer

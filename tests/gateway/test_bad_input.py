"""Bad input, one row per case: the offender gets the documented answer, nobody else notices.

Each case runs against the shared server while a well-behaved python-socketio
client in the same stream room keeps chatting: it sends numbered messages
before, during and after the bad input and must get every one back, in order,
acked, with no error and no disconnect, and the one sent while the bad input
is handled comes back within its usual round trip (plus a generous margin for
a noisy machine: a stalled worker takes seconds). The offender speaks raw Engine.IO
(``tests/raw.py``) and gets exactly the answer docs/events.md ("How bad input
is answered") documents: these reply frames and nothing else, no reply at
all, the connection closed with this code, or the handshake refused. Where it
stays connected a probe (a join, or a CONNECT) shows the connection still
works, and where it is closed the viewer it held is released at once.

In frames and expected replies ``<stream>``, ``<token>`` and ``<uid>`` stand
for the room's stream id and the offender's token and user id.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streams import presence
from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5.0
MAX_PAYLOAD = 1_000_000
MAX_ACK_ID = 2**53 - 1
OTHER_STREAM = str(uuid.UUID(int=7))
PROBE_ACK = 999
# What a bystander's round trip may exceed its usual one by while bad input is
# handled: scheduling noise on a shared machine, far below a stalled worker.
ROUND_TRIP_SLACK = 0.5


# --- what a case sends and what it gets --------------------------------------


@dataclass(frozen=True)
class Ctx:
    stream: str
    token: str
    uid: str
    username: str

    def fill(self, text: str) -> str:
        return (
            text.replace("<stream>", self.stream)
            .replace("<token>", self.token)
            .replace("<uid>", self.uid)
        )


@dataclass(frozen=True)
class Utf8Bytes:
    """A text frame whose payload is these (possibly invalid UTF-8) bytes."""

    data: bytes


Frame = str | bytes | Utf8Bytes | Callable[[Ctx], str]
Match = str | Callable[[str, Ctx], bool]


@dataclass(frozen=True)
class Reply:
    """Exactly these frames (in any order: broadcasts race direct replies), then nothing."""

    frames: tuple[Match, ...] = ()


@dataclass(frozen=True)
class Closed:
    """The server closes the connection with this WebSocket close code, saying nothing first."""

    code: int


@dataclass(frozen=True)
class Refused:
    """The WebSocket handshake is refused with this HTTP status."""

    status: int = 403


IGNORED = Reply()

OPEN, CONNECTED, JOINED = "open", "connected", "joined"


@dataclass(frozen=True)
class Case:
    id: str
    answer: Reply | Closed | Refused
    frames: tuple[Frame, ...] = ()
    # How far the offender got before misbehaving.
    stage: str = JOINED
    # The handshake query, for the cases refused there.
    query: str = "EIO=4&transport=websocket"
    # Chat messages of the offender's that everyone in the room sees.
    accepted: tuple[str, ...] = ()
    # Whether the offender is connected afterwards (by default: when it was before).
    connects: bool = False


def case(id: str, *frames: Frame, answer, **options) -> pytest.param:
    marks = options.pop("marks", ())
    return pytest.param(Case(id, answer, frames, **options), id=id, marks=marks)


def _json(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def event(name: str, data: object, ack: int | None = None) -> str:
    return "42" + ("" if ack is None else str(ack)) + _json([name, data])


def error(error_event: str, message: str, ack: int = 1) -> tuple[str, str]:
    """The answer to a bad payload: the event's error event and a negative ack."""
    return "42" + _json([error_event, {"message": message}]), nack(message, ack)


def nack(message: str, ack: int = 1) -> str:
    return f"43{ack}" + _json([{"ok": False, "message": message}])


def _decode(frame: str, prefix: str) -> object | None:
    if not frame.startswith(prefix):
        return None
    try:
        return json.loads(frame[len(prefix) :])
    except ValueError:
        return None


def stored(text: str, ack: int = 1) -> tuple[Match, Match]:
    """A chat message accepted: new_message and a positive ack, both from the token's user."""

    def from_offender(data: object, ctx: Ctx) -> bool:
        return (
            isinstance(data, dict)
            and data.get("userId") == ctx.uid
            and data.get("username") == ctx.username
            and data.get("message") == text
            and data.get("streamId") == ctx.stream
        )

    def broadcast(frame: str, ctx: Ctx) -> bool:
        data = _decode(frame, "42")
        return isinstance(data, list) and data[0] == "new_message" and from_offender(data[1], ctx)

    def acked(frame: str, ctx: Ctx) -> bool:
        data = _decode(frame, f"43{ack}")
        return isinstance(data, list) and data[0].get("ok") is True and from_offender(data[0], ctx)

    return broadcast, acked


def starts(prefix: str) -> Callable[[str, Ctx], bool]:
    return lambda frame, ctx: frame.startswith(ctx.fill(prefix))


def joined(ack: int) -> tuple[Match, ...]:
    """The replies to a join of the room (its viewer count is room traffic, skipped)."""
    return (
        starts('42["room_joined_successfully",{"streamId":"<stream>"'),
        starts('42["recent_chat_history",{"streamId":"<stream>"'),
        starts(f'43{ack}[{{"ok":true,"streamId":"<stream>"'),
    )


def notification_room(ack: int = 1) -> tuple[str, str]:
    room = {"room": "notification:<uid>"}
    return "42" + _json(["notification_room_joined", room]), f"43{ack}" + _json(
        [{"ok": True, **room}]
    )


def chat(data: str, ack: int = 1) -> str:
    """A chat_message frame; ``data`` is the payload's JSON text, as sent."""
    return f'42{ack}["chat_message",{data}]'


def exactly(size: int, ack: int = 1) -> Callable[[Ctx], str]:
    """A chat_message frame of exactly ``size`` bytes, its message padded with "x"."""

    def build(ctx: Ctx) -> str:
        head = chat(f'{{"streamId":"{ctx.stream}","message":"', ack)
        tail = '"}]'
        frame = head + "x" * (size - len(head) - len(tail)) + tail
        assert len(frame.encode()) == size
        return frame

    return build


def nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


EMOJI = "\U0001f600"
KB7 = "x" * 7_168
KB10 = "x" * 10_240
# The frame of issue 8: backtracked from every quote by a regex, it took an hour.
ESCAPED_QUOTES = "42" + "[" * 40 + '"' + '\\"' * 497_000
BAD_STREAM = "Invalid streamId"
BAD_PAYLOAD = "Invalid message payload"
NOT_TEXT = "Message must be a string"
TOO_LONG = "Message too long (max 500 characters)"
INVALID_TEXT = "Message contains invalid characters"
EMPTY = "Message cannot be empty"
NOT_IN_ROOM = "You are not in this stream room"
AUTH_ERROR = '44{"message":"Authentication error"}'
CONNECT_OK = starts('40{"sid":"')


def join_error(message: str, ack: int = 1) -> Reply:
    return Reply(error("room_join_error", message, ack))


def message_error(message: str, ack: int = 1) -> Reply:
    return Reply(error("message_error", message, ack))


CASES = [
    # --- the handshake ---------------------------------------------------------
    case("handshake-eio3", query="EIO=3&transport=websocket", answer=Refused()),
    case("handshake-eio-missing", query="transport=websocket", answer=Refused()),
    case("handshake-eio-garbage", query="EIO=four&transport=websocket", answer=Refused()),
    case("handshake-transport-unknown", query="EIO=4&transport=pigeon", answer=Refused()),
    case("handshake-transport-polling", query="EIO=4&transport=polling", answer=Refused()),
    case("handshake-transport-missing", query="EIO=4", answer=Refused()),
    case("handshake-sid-unknown", query="EIO=4&transport=websocket&sid=nope", answer=Refused()),
    # --- Engine.IO frames ------------------------------------------------------
    case("eio-empty-frame", "", answer=Closed(4002)),
    case("eio-unknown-packet-type", "7", answer=Closed(4002)),
    case("eio-not-a-packet", "hello, server", answer=Closed(4002)),
    case("eio-json-not-a-packet", '{"type":"message","data":"hi"}', answer=Closed(4002)),
    case("eio-client-open", '0{"sid":"mine"}', answer=Closed(4002)),
    case("eio-binary-frame", b"\x04binary", answer=Closed(4003)),
    case("eio-binary-frame-empty", b"", answer=Closed(4003)),
    case("eio-binary-before-connect", b"\x00\x01", answer=Closed(4003), stage=OPEN),
    case("eio-invalid-utf8", Utf8Bytes(b'42["chat_message","\xff\xfe"]'), answer=Closed(1007)),
    case("eio-upgrade", "5", answer=IGNORED),
    case("eio-noop", "6", answer=IGNORED),
    case("eio-unsolicited-pong", "3", answer=IGNORED),
    case("eio-ping-probe", "2probe", answer=Reply(("3probe",))),
    case("eio-close", "1", answer=Closed(1000)),
    case("eio-close-before-connect", "1", answer=Closed(1000), stage=OPEN),
    # --- Socket.IO packets -----------------------------------------------------
    case("sio-empty", "4", answer=Closed(4002)),
    case("sio-unknown-packet-type", '47["join_notification_room"]', answer=Closed(4002)),
    case("sio-malformed-json", '421["chat_message",{"streamId":', answer=Closed(4002)),
    case("sio-json-object", '42{"event":"join_notification_room"}', answer=Closed(4002)),
    case("sio-json-string", '42"join_notification_room"', answer=Closed(4002)),
    case("sio-json-nan", '421["join_stream_room",NaN]', answer=Closed(4002)),
    case("sio-no-data", "421", answer=Closed(4002)),
    case("sio-array-without-event-name", "421[]", answer=Closed(4002)),
    case("sio-event-name-number", '421[42,{"streamId":"<stream>"}]', answer=Closed(4002)),
    case("sio-event-name-null", "421[null]", answer=Closed(4002)),
    case("sio-event-name-object", '421[{"name":"chat_message"}]', answer=Closed(4002)),
    case(
        "sio-event-name-unknown", '421["no_such_event",{}]', answer=Reply((nack("Unknown event"),))
    ),
    case("sio-event-name-unknown-no-ack", '42["no_such_event"]', answer=IGNORED),
    case("sio-event-name-surrogate", '421["\\ud800"]', answer=Reply((nack("Unknown event"),))),
    case(
        "sio-event-before-connect",
        '421["join_notification_room"]',
        '42["chat_message",{"streamId":"<stream>","message":"sneaky"}]',
        answer=IGNORED,
        stage=OPEN,
    ),
    case(
        "sio-malformed-before-connect",  # dropped unread: events wait for CONNECT
        '42["join_notification_room"',
        answer=IGNORED,
        stage=OPEN,
    ),
    case("sio-connect-twice", '40{"token":"<token>"}', answer=Closed(4002)),
    case(
        "sio-connect-other-namespace",
        '40/admin,{"token":"<token>"}',
        answer=Reply(('44/admin,{"message":"Invalid namespace"}',)),
    ),
    case(
        "sio-connect-other-namespace-first",
        '40/admin,{"token":"<token>"}',
        answer=Reply(('44/admin,{"message":"Invalid namespace"}',)),
        stage=OPEN,
    ),
    case("sio-event-other-namespace", '42/admin,1["join_notification_room"]', answer=IGNORED),
    case("sio-disconnect-other-namespace", "41/admin,", answer=IGNORED),
    case("sio-client-ack", '431[{"ok":true}]', answer=IGNORED),
    case("sio-client-connect-error", '44{"message":"nope"}', answer=IGNORED),
    case("sio-disconnect", "41", answer=Closed(1000)),
    case("sio-disconnect-before-connect", "41", answer=Closed(1000), stage=OPEN),
    # --- before CONNECT: small frames, few kinds, nothing free ----------------
    case("pre-connect-escaped-quotes-1mb", ESCAPED_QUOTES, answer=Closed(4009), stage=OPEN),
    case("pre-connect-8kb-plus-one", "40" + "x" * 8_191, answer=Closed(4009), stage=OPEN),
    case("pre-connect-upgrade", "5", answer=Closed(4008), stage=OPEN),
    case("pre-connect-noop", "6", answer=Closed(4008), stage=OPEN),
    case("pre-connect-pong", "3", answer=IGNORED, stage=OPEN),
    case("pre-connect-ping-probe", "2probe", answer=Reply(("3probe",)), stage=OPEN),
    case("pre-connect-ping-long", "2" + "x" * 17, answer=Closed(4002), stage=OPEN),
    case(
        "pre-connect-acks-are-charged",  # 201 over a budget of 100: closed, not ignored
        *['431[{"ok":true}]'] * 250,
        answer=Closed(4008),
        stage=OPEN,
    ),
    case("pre-connect-events-are-charged", *['42["x"]'] * 250, answer=Closed(4008), stage=OPEN),
    case("pre-connect-errors-are-charged", *["44{}"] * 250, answer=Closed(4008), stage=OPEN),
    # --- 1 MB adversarial frames once connected: linear work, then closed -----
    case("sio-escaped-quotes-1mb", ESCAPED_QUOTES, answer=Closed(4002)),
    case("sio-many-arrays-1mb", "42" + "[]," * 330_000, answer=Closed(4002)),
    case("sio-huge-exponent", '421["join_stream_room",1e999999]', answer=Closed(4002)),
    case("sio-long-namespace", "40/" + "n" * 500_000 + ",{}", answer=Closed(4002)),
    case("eio-ping-long", "2" + "x" * 500_000, answer=Closed(4002)),
    # A binary packet waits for its attachments, then is handled (test_binary.py).
    case(
        "sio-binary-chat-message",
        '451-1["chat_message",{"streamId":"<stream>","message":{"_placeholder":true,"num":0}}]',
        b"\x01\x02",
        answer=message_error(BAD_PAYLOAD),
    ),
    case("sio-binary-event-no-attachments", '45["join_notification_room"]', answer=Closed(4002)),
    case(
        "sio-binary-event-11-attachments",
        '4511-["a",{"_placeholder":true,"num":0}]',
        answer=Closed(4002),
    ),
    case("sio-binary-ack", '461-0[{"_placeholder":true,"num":0}]', b"\x01", answer=IGNORED),
    case("sio-binary-text-instead-of-attachment", '451-["a",{}]', "2", answer=Closed(4002)),
    case("sio-ack-id-letters", '42x["join_notification_room"]', answer=Closed(4002)),
    case("sio-ack-id-negative", '42-1["join_notification_room"]', answer=Closed(4002)),
    case("sio-ack-id-fraction", '421.5["join_notification_room"]', answer=Closed(4002)),
    case("sio-ack-id-non-ascii-digit", '42\u0661["join_notification_room"]', answer=Closed(4002)),
    case(
        "sio-ack-id-2^53",
        f'42{MAX_ACK_ID + 1}["join_notification_room"]',
        answer=Closed(4002),
    ),
    case("sio-ack-id-huge", f'42{"9" * 400}["join_notification_room"]', answer=Closed(4002)),
    case(
        "sio-ack-id-2^53-1",
        f'42{MAX_ACK_ID}["join_notification_room"]',
        answer=Reply(notification_room(MAX_ACK_ID)),
    ),
    case("sio-ack-id-zero", '420["join_notification_room"]', answer=Reply(notification_room(0))),
    case(
        "sio-nested-1000-deep",
        f'421["join_stream_room",{nested(1000)}]',
        answer=Closed(4002),
    ),
    case(
        "sio-nested-32-deep",  # the array around the event counts as one level
        f'421["join_stream_room",{nested(31)}]',
        answer=join_error(BAD_STREAM),
    ),
    # --- the CONNECT payload ---------------------------------------------------
    case("connect-no-payload", "40", answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case("connect-null", "40null", answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case("connect-number", "40 42", answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case("connect-string", '40"<token>"', answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case("connect-array", '40["<token>"]', answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case("connect-token-number", '40{"token":42}', answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case("connect-token-empty", '40{"token":""}', answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case(
        "connect-token-object",
        '40{"token":{"token":"<token>"}}',
        answer=Reply((AUTH_ERROR,)),
        stage=OPEN,
    ),
    case(
        "connect-token-surrogate", '40{"token":"\\ud800"}', answer=Reply((AUTH_ERROR,)), stage=OPEN
    ),
    case("connect-token-7kb", f'40{{"token":"{KB7}"}}', answer=Reply((AUTH_ERROR,)), stage=OPEN),
    case("connect-token-10kb", f'40{{"token":"{KB10}"}}', answer=Closed(4009), stage=OPEN),
    case(
        "connect-extra-keys-identity-from-token",
        '40{"token":"<token>","userId":"1","username":"root","is_staff":true}',
        '422["join_stream_room",{"streamId":"<stream>"}]',
        chat('{"streamId":"<stream>","message":"who am i"}', 3),
        answer=Reply((CONNECT_OK, *joined(2), *stored("who am i", 3))),
        stage=OPEN,
        connects=True,
        accepted=("who am i",),
    ),
    # --- join_stream_room payloads ---------------------------------------------
    case("join-no-payload", '421["join_stream_room"]', answer=join_error(BAD_STREAM)),
    case("join-null", '421["join_stream_room",null]', answer=join_error(BAD_STREAM)),
    case("join-number", '421["join_stream_room",42]', answer=join_error(BAD_STREAM)),
    case("join-string", '421["join_stream_room","<stream>"]', answer=join_error(BAD_STREAM)),
    case("join-array", '421["join_stream_room",["<stream>"]]', answer=join_error(BAD_STREAM)),
    case(
        "join-nested",
        f'421["join_stream_room",{{"streamId":{nested(20)}}}]',
        answer=join_error(BAD_STREAM),
    ),
    case(
        "join-stream-id-number",
        '421["join_stream_room",{"streamId":7}]',
        answer=join_error(BAD_STREAM),
    ),
    case(
        "join-stream-id-10kb",
        f'421["join_stream_room",{{"streamId":"{KB10}"}}]',
        answer=join_error(BAD_STREAM),
    ),
    case(
        "join-stream-id-control-char",
        '421["join_stream_room",{"streamId":"<stream>\\u0000"}]',
        answer=join_error(BAD_STREAM),
    ),
    case(
        "join-stream-id-zero-width",
        '421["join_stream_room",{"streamId":"\\u200b<stream>"}]',
        answer=join_error(BAD_STREAM),
    ),
    case(
        "join-stream-id-surrogate",
        '421["join_stream_room",{"streamId":"\\ud800"}]',
        answer=join_error(BAD_STREAM),
    ),
    case(
        "join-stream-not-found",
        f'421["join_stream_room",{{"streamId":"{OTHER_STREAM}"}}]',
        answer=join_error("Stream not found"),
    ),
    case(
        "join-extra-keys",
        '421["join_stream_room",{"streamId":"<stream>","userId":"1","count":99}]',
        answer=Reply(joined(1)),
    ),
    # --- chat_message payloads -------------------------------------------------
    case("chat-null", chat("null"), answer=message_error(BAD_PAYLOAD)),
    case("chat-number", chat("42"), answer=message_error(BAD_PAYLOAD)),
    case("chat-string", chat('"hello"'), answer=message_error(BAD_PAYLOAD)),
    case("chat-array", chat('["<stream>","hello"]'), answer=message_error(BAD_PAYLOAD)),
    case(
        "chat-nested",
        chat(f'{{"streamId":"<stream>","message":{nested(20, chr(34) + "hi" + chr(34))}}}'),
        answer=message_error(NOT_TEXT),
    ),
    case(
        "chat-message-number",
        chat('{"streamId":"<stream>","message":42}'),
        answer=message_error(NOT_TEXT),
    ),
    case(
        "chat-stream-id-10kb",
        chat(f'{{"streamId":"{KB10}","message":"hi"}}'),
        answer=message_error(BAD_STREAM),
    ),
    case(
        "chat-message-10kb",
        chat(f'{{"streamId":"<stream>","message":"{KB10}"}}'),
        answer=message_error(TOO_LONG),
    ),
    case(
        "chat-nul",
        chat('{"streamId":"<stream>","message":"hi\\u0000there"}'),
        answer=message_error(INVALID_TEXT),
    ),
    case(
        "chat-escape-sequence",
        chat('{"streamId":"<stream>","message":"\\u001b[31mred"}'),
        answer=message_error(INVALID_TEXT),
    ),
    case(
        "chat-carriage-return",
        chat('{"streamId":"<stream>","message":"a\\rb"}'),
        answer=message_error(INVALID_TEXT),
    ),
    case(
        "chat-lone-high-surrogate",
        chat('{"streamId":"<stream>","message":"hi \\ud800"}'),
        answer=message_error(INVALID_TEXT),
    ),
    case(
        "chat-lone-low-surrogate",
        chat('{"streamId":"<stream>","message":"\\udc00 hi"}'),
        answer=message_error(INVALID_TEXT),
    ),
    case(
        "chat-only-invisible",
        chat('{"streamId":"<stream>","message":" \\u200b\\ufeff\\t\\n\\u200b "}'),
        answer=message_error(EMPTY),
    ),
    case(
        "chat-invisible-edges-trimmed",
        chat('{"streamId":"<stream>","message":"\\ufeff\\u200b hi there \\u200b"}'),
        answer=Reply(stored("hi there")),
        accepted=("hi there",),
    ),
    case(
        "chat-tab-and-newline-kept",
        chat('{"streamId":"<stream>","message":"a\\tb\\nc"}'),
        answer=Reply(stored("a\tb\nc")),
        accepted=("a\tb\nc",),
    ),
    case(
        "chat-500-emoji",
        chat(_json({"streamId": "<stream>", "message": EMOJI * 500})),
        answer=Reply(stored(EMOJI * 500)),
        accepted=(EMOJI * 500,),
    ),
    case(
        "chat-501-emoji",
        chat(_json({"streamId": "<stream>", "message": EMOJI * 501})),
        answer=message_error(TOO_LONG),
    ),
    case(
        "chat-extra-keys-identity-from-token",
        chat(
            '{"streamId":"<stream>","message":"hi","userId":"1","username":"root",'
            '"id":"42","timestamp":"1970-01-01T00:00:00.000Z"}'
        ),
        answer=Reply(stored("hi")),
        accepted=("hi",),
    ),
    case(
        "chat-room-not-joined",
        chat(f'{{"streamId":"{OTHER_STREAM}","message":"hi"}}'),
        answer=message_error(NOT_IN_ROOM),
    ),
    case("chat-frame-of-max-payload", exactly(MAX_PAYLOAD), answer=message_error(TOO_LONG)),
    case("chat-frame-over-max-payload", exactly(MAX_PAYLOAD + 1), answer=Closed(1009)),
    # --- leave_stream_room payloads: no error event, a negative ack, nothing changes
    case("leave-null", '421["leave_stream_room",null]', answer=Reply((nack(BAD_STREAM),))),
    case("leave-number", '421["leave_stream_room",42]', answer=Reply((nack(BAD_STREAM),))),
    case("leave-string", '421["leave_stream_room","<stream>"]', answer=Reply((nack(BAD_STREAM),))),
    case("leave-array", '421["leave_stream_room",["<stream>"]]', answer=Reply((nack(BAD_STREAM),))),
    case(
        "leave-stream-id-10kb",
        f'421["leave_stream_room",{{"streamId":"{KB10}"}}]',
        answer=Reply((nack(BAD_STREAM),)),
    ),
    case(
        "leave-stream-id-surrogate",
        '421["leave_stream_room",{"streamId":"\\ud800"}]',
        answer=Reply((nack(BAD_STREAM),)),
    ),
    case(
        "leave-room-not-joined",
        f'421["leave_stream_room",{{"streamId":"{OTHER_STREAM}"}}]',
        answer=Reply((nack(NOT_IN_ROOM),)),
    ),
    case("leave-invalid-without-ack", '42["leave_stream_room",[]]', answer=IGNORED),
    # --- join_notification_room: it takes no payload, whatever comes is ignored
    case(
        "notification-null", '421["join_notification_room",null]', answer=Reply(notification_room())
    ),
    case(
        "notification-number", '421["join_notification_room",42]', answer=Reply(notification_room())
    ),
    case(
        "notification-string",
        '421["join_notification_room","x"]',
        answer=Reply(notification_room()),
    ),
    case(
        "notification-array", '421["join_notification_room",[1]]', answer=Reply(notification_room())
    ),
    case(
        "notification-nested",
        f'421["join_notification_room",{nested(30)}]',
        answer=Reply(notification_room()),
    ),
    case(
        "notification-identity-from-token",
        '421["join_notification_room",{"userId":"1","room":"notification:1"}]',
        answer=Reply(notification_room()),
    ),
]


# --- the two clients -----------------------------------------------------------


class Offender:
    """A raw Engine.IO client that misbehaves, and reads what the server answers."""

    def __init__(self, raw: RawSocket, ctx: Ctx) -> None:
        self.raw = raw
        self.ctx = ctx

    @classmethod
    async def open(cls, server, ctx: Ctx, stage: str) -> Offender:
        offender = cls(await RawSocket.open(server.url, compression=None), ctx)
        if stage in (CONNECTED, JOINED):
            await offender.send(f'40{{"token":"{ctx.token}"}}')
            assert CONNECT_OK(await offender.next_frame(), ctx)
        if stage == JOINED:
            await offender.send('4290["join_stream_room",{"streamId":"<stream>"}]')
            await offender.expect(joined(90))
        return offender

    async def send(self, frame: Frame) -> None:
        if isinstance(frame, Utf8Bytes):
            await self.raw.ws.send(frame.data, text=True)
        elif isinstance(frame, bytes):
            await self.raw.send(frame)
        else:
            await self.raw.send(self.ctx.fill(frame if isinstance(frame, str) else frame(self.ctx)))

    def _room_traffic(self, frame: str) -> bool:
        """Broadcasts caused by others in the room: not an answer to the offender."""
        data = _decode(frame, "42")
        if not isinstance(data, list) or len(data) < 2:
            return False
        if data[0] == "viewer_count_updated":
            return True
        return data[0] == "new_message" and data[1].get("userId") != self.ctx.uid

    async def next_frame(self, timeout: float = TIMEOUT) -> str:
        while True:
            frame = await self.raw.recv(timeout)
            if not self._room_traffic(frame):
                return frame

    async def expect(self, matches: tuple[Match, ...]) -> None:
        """Exactly ``matches`` arrive, in any order, with nothing else in between."""
        pending = list(matches)
        while pending:
            frame = await self.next_frame()
            for match in pending:
                if match(frame, self.ctx) if callable(match) else frame == self.ctx.fill(match):
                    pending.remove(match)
                    break
            else:
                raise AssertionError(f"unexpected frame {frame[:300]!r}")

    async def probe(self, connected: bool) -> None:
        """Show that the connection still works: it answers a CONNECT or a join."""
        if connected:
            await self.send(f'42{PROBE_ACK}["join_stream_room",{{"streamId":"<stream>"}}]')
            await self.expect(joined(PROBE_ACK))
        else:
            await self.send('40{"token":"<token>"}')
            await self.expect((CONNECT_OK,))

    async def close_code(self) -> int | None:
        """Wait for the server to close; nothing but room traffic may come first."""
        try:
            frame = await self.next_frame()
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        raise AssertionError(f"unexpected frame {frame[:300]!r} instead of a close")

    async def silent(self) -> None:
        """Nothing more has come (a short look, after everything else)."""
        try:
            frame = await self.next_frame(timeout=0.05)
        except (TimeoutError, ConnectionClosed):
            return
        raise AssertionError(f"unexpected late frame {frame[:300]!r}")


class Chatter:
    """The well-behaved client: numbered messages, each acked and seen by everyone."""

    def __init__(self, client, stream_id: str, user) -> None:
        self.client = client
        self.stream_id = stream_id
        self.user_id = str(user.pk)
        self.sent: list[str] = []
        self.round_trips: list[float] = []

    async def say(self, count: int) -> None:
        for _ in range(count):
            text = f"message {len(self.sent) + 1}"
            self.sent.append(text)
            started = time.monotonic()
            ack = await self.client.call(
                "chat_message", {"streamId": self.stream_id, "message": text}
            )
            self.round_trips.append(time.monotonic() - started)
            assert ack["ok"] is True and ack["message"] == text, ack

    def assert_not_delayed(self, usual: float) -> None:
        """The last round trip took no longer than the usual one, give or take noise."""
        assert self.round_trips[-1] <= 3 * usual + ROUND_TRIP_SLACK, (
            f"{self.round_trips[-1]:.3f}s against a usual {usual:.3f}s"
        )

    def heard(self, user_id: str) -> list[str]:
        return [m["message"] for m in self.client.received("new_message") if m["userId"] == user_id]

    def counts_since(self, mark: int) -> list[int]:
        return [
            d["count"] for name, d in self.client.events[mark:] if name == "viewer_count_updated"
        ]

    async def all_heard(self) -> None:
        await self.client.wait_until(lambda: len(self.heard(self.user_id)) >= len(self.sent))
        assert self.heard(self.user_id) == self.sent

    def assert_untroubled(self) -> None:
        errors = [(name, data) for name, data in self.client.events if name.endswith("_error")]
        assert errors == []
        assert self.client.disconnect_reasons == []
        assert self.client.sio.connected


# --- the battery ---------------------------------------------------------------


async def viewers_become(stream_id: str, count: int, timeout: float = 2.0) -> None:
    """The room's viewer count (presence, as every process sees it) reaches ``count``."""

    async def poll() -> None:
        while await presence.count(stream_id) != count:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.parametrize("case", CASES)
async def test_bad_input_gets_its_documented_answer(
    case: Case, server, connect, make_user, make_stream, token_for
):
    stream = make_stream()
    good_user, bad_user = make_user(), make_user()
    ctx = Ctx(str(stream.pk), token_for(bad_user), str(bad_user.pk), bad_user.username)
    good = await connect(server, good_user)
    assert (await good.call("join_stream_room", {"streamId": ctx.stream}))["ok"]
    chatter = Chatter(good, ctx.stream, good_user)
    await chatter.say(2)  # with the 1 during and 2 after: the chat burst of 5
    usual = max(chatter.round_trips)

    offender = None
    if isinstance(case.answer, Refused):
        during = asyncio.create_task(chatter.say(1))
        with pytest.raises(InvalidStatus) as refused:
            await RawSocket.open(server.url, case.query)
        assert refused.value.response.status_code == case.answer.status
        await during
        chatter.assert_not_delayed(usual)
    else:
        offender = await Offender.open(server, ctx, case.stage)
        for frame in case.frames:
            await offender.send(frame)
        # Sent after the bad input, so the worker handles it behind that.
        during = asyncio.create_task(chatter.say(1))
        if isinstance(case.answer, Closed):
            assert await asyncio.wait_for(offender.close_code(), TIMEOUT) == case.answer.code
            await viewers_become(ctx.stream, 1)  # released at once, not after a heartbeat
        else:
            await offender.expect(case.answer.frames)
            await offender.probe(connected=case.stage != OPEN or case.connects)
            if case.stage == JOINED:
                await viewers_become(ctx.stream, 2)  # still watching, counted once
        await during
        chatter.assert_not_delayed(usual)

    await chatter.say(2)
    await chatter.all_heard()
    chatter.assert_untroubled()
    assert chatter.heard(ctx.uid) == list(case.accepted)
    if offender is not None and not isinstance(case.answer, Closed):
        await offender.silent()
        await offender.raw.close()
    assert server.process.poll() is None, server.log()
    newcomer = await connect(server, make_user())
    assert newcomer.sio.connected


def test_the_battery_has_at_least_40_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("frame", ["1", "41"], ids=["engineio-close", "socketio-disconnect"])
async def test_a_client_that_says_goodbye_is_no_longer_counted_at_once(
    frame, server, connect, make_user, make_stream, token_for
):
    stream = make_stream()
    bad_user = make_user()
    ctx = Ctx(str(stream.pk), token_for(bad_user), str(bad_user.pk), bad_user.username)
    other = await connect(server, make_user())
    await other.call("join_stream_room", {"streamId": ctx.stream})
    leaving = await Offender.open(server, ctx, JOINED)
    chatter = Chatter(other, ctx.stream, bad_user)
    await other.wait_until(lambda: 2 in chatter.counts_since(0))
    mark = other.mark()
    started = time.monotonic()
    await leaving.send(frame)
    assert await leaving.close_code() == 1000
    # The room hears it within one count window (500 ms), not a heartbeat (45 s) later.
    await other.wait_until(lambda: 1 in chatter.counts_since(mark), timeout=2)
    assert time.monotonic() - started < 1.5

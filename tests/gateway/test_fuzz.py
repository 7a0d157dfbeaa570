"""Property tests: whatever a client sends, the gateway answers it and stays consistent.

The decoder (:mod:`gateway.codec`) may only raise :class:`~gateway.codec.ProtocolError`.
Frames fed through the consumer's frame handling into a real
:class:`~gateway.session.Session` (on an in-memory transport) and the real
event handlers never raise at all: the session stays in one of its states, in
rooms it really joined, and once closed it sends nothing more.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway import codec, hub
from gateway.session import (
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED_DATA,
    Session,
    State,
)
from gateway.transports.websocket import EngineIOConsumer
from streams import presence
from streams.events import joined_streams

# Deterministic, so CI never flakes; no example database in the repository.
FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None)

# --- strategies --------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)

# Text near the edges of what chat accepts: controls, invisible characters, surrogates.
edgy_text = st.one_of(
    st.text(
        alphabet=st.sampled_from(list("ab \t\n\r\x00\x1b\u200b\ufeff\U0001f600\ud800\udc00")),
        max_size=12,
    ),
    st.sampled_from(["", "\ud800", "a\udc00", "\u200b\ufeff", "x" * 501, "\U0001f600" * 500]),
)
# one_of() picks its branches about evenly: repeats weight them toward well-formed
# input, so that examples get far (connected, in rooms, chatting) before breaking things.
stream_ids = st.one_of(
    st.sampled_from(["<stream>", "<stream>", "<STREAM>"]),
    st.sampled_from(["00000000-0000-0000-0000-000000000007", "", "<stream>\u200b"]),
    st.text(max_size=40),
)
well_formed_payloads = st.fixed_dictionaries(
    {"streamId": stream_ids},
    optional={
        "message": edgy_text | json_values,
        "userId": json_values,
        "username": json_values,
    },
)
payloads = st.one_of(well_formed_payloads, well_formed_payloads, json_values)
known_events = st.sampled_from(
    ["join_stream_room", "leave_stream_room", "chat_message", "join_notification_room"]
)
event_names = st.one_of(known_events, known_events, st.text(max_size=8))
ack_ids = st.none() | st.integers(0, 9) | st.integers(0, codec.MAX_ACK_ID + 2)
namespaces = st.sampled_from(["", "", "", "/,", "/admin,"])


@st.composite
def event_frames(draw) -> str:
    args = [draw(event_names)]
    if draw(st.sampled_from([True, True, True, False])):
        args.append(draw(payloads))
    ack = draw(ack_ids)
    ack_text = "" if ack is None else str(ack)
    return "42" + draw(namespaces) + ack_text + json.dumps(args)


# Socket.IO-shaped text: a type, maybe a namespace and an ack id, then scraps of JSON.
packet_scraps = st.builds(
    lambda kind, namespace, ack, body: f"4{kind}{namespace}{ack}{body}",
    st.sampled_from("0123456789x"),
    namespaces,
    st.sampled_from(["", "0", "7", "-1", "\u0661", str(codec.MAX_ACK_ID), "9" * 30]),
    st.text(alphabet=st.sampled_from(list('[]{}",:0123 nul\\ud800a')), max_size=30),
)
# Frames that keep a session going, and frames that may end it.
valid_events = st.builds(
    lambda name, ack, text: (
        f"42{ack}" + json.dumps([name, {"streamId": "<stream>", "message": text}])
    ),
    known_events,
    st.sampled_from(["", "1"]),
    edgy_text,
)
harmless_frames = st.one_of(
    *[event_frames()] * 3,
    valid_events,
    st.sampled_from(["2", "2probe", "3", "5", "6", '40/admin,{"token":"<token>"}', "41/admin,"]),
)
connect_frames = st.builds(
    lambda auth: "40" + json.dumps(auth),
    st.fixed_dictionaries({"token": edgy_text | json_values}) | json_values,
)
deep_events = st.integers(0, 5000).map(lambda depth: '42["x",' + "[" * depth + "]" * depth + "]")
breaking_frames = st.one_of(
    st.sampled_from(['40{"token":"<token>"}', "40", "40null", "1", "41", "0{}", ""]),
    connect_frames,
    deep_events,
    packet_scraps,
    st.text(max_size=40),
    st.text(min_size=1000, max_size=1200),  # over the test's max payload
    st.binary(max_size=16),
)
CONNECT = '40{"token":"<token>"}'
# Mostly: connect (maybe after a refused CONNECT), get somewhere, maybe break
# something, and carry on if still open.
frame_sequences = st.builds(
    lambda connect, before, breaking, after: connect + before + breaking + after,
    st.one_of(
        st.just([CONNECT]),
        st.just([CONNECT]),
        connect_frames.map(lambda refused: [refused, CONNECT]),
        st.just([]),
    ),
    st.lists(harmless_frames, max_size=8),
    st.lists(breaking_frames, max_size=2),
    st.lists(harmless_frames, max_size=3),
)


# --- the decoder ---------------------------------------------------------------


@FUZZ
@given(
    st.one_of(st.text(), packet_scraps, event_frames(), connect_frames, deep_events).map(
        lambda text: text[1:]
    )
)
def test_decoder_accepts_a_packet_or_raises_protocol_error(data):
    try:
        packet = codec.decode_socketio(data)
    except codec.ProtocolError:
        return
    assert packet.packet_type in (
        codec.CONNECT,
        codec.DISCONNECT,
        codec.EVENT,
        codec.ACK,
        codec.CONNECT_ERROR,
    )
    assert packet.id is None or 0 <= packet.id <= codec.MAX_ACK_ID
    assert packet.namespace is None or packet.namespace.startswith("/")


@FUZZ
@given(st.text())
def test_engineio_decoder_splits_a_frame_or_raises_protocol_error(frame):
    try:
        kind, data = codec.decode_engineio(frame)
    except codec.ProtocolError:
        return
    assert 0 <= kind <= 6
    assert str(kind) + data == frame


@FUZZ
@given(
    st.text(min_size=1, max_size=12),
    json_values,
    ack_ids.filter(lambda a: a is None or a <= codec.MAX_ACK_ID),
)
def test_what_the_server_encodes_decodes_to_the_same(name, data, ack):
    frame = (
        codec.encode_ack(ack, [name, data]) if ack is not None else codec.encode_event(name, data)
    )
    kind, body = codec.decode_engineio(frame)
    packet = codec.decode_socketio(body)
    assert kind == codec.MESSAGE
    assert packet.id == ack
    assert packet.data == ([name, data] if ack is not None or data is not None else [name])


# --- frames through the consumer into a session and the real handlers -----------


class MemoryTransport:
    """What a session sent and how it was closed, kept in memory."""

    kind = "websocket"
    upgrades = ()

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.close_codes: list[int] = []
        self.sent_after_close: list[str] = []

    async def send_text(self, frame: str) -> None:
        assert isinstance(frame, str)
        (self.sent_after_close if self.close_codes else self.frames).append(frame)

    def deliver(self, broadcast) -> bool:
        return False  # room broadcasts come through send_text

    async def close(self, code: int) -> None:
        self.close_codes.append(code)


DOCUMENTED_CLOSE_CODES = {
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNSUPPORTED_DATA,
    CLOSE_POLICY_VIOLATION,
    CLOSE_TOO_BIG,
}
MAX_PAYLOAD = 1000


@pytest.fixture
def small_payload(settings):
    settings.SOCKETIO = {**settings.SOCKETIO, "MAX_PAYLOAD": MAX_PAYLOAD}


def _check(session: Session, transport: MemoryTransport, allowed_rooms: set[str]) -> None:
    assert isinstance(session.state, State)
    assert transport.sent_after_close == []
    if transport.close_codes:
        assert session.state is State.CLOSED
        assert len(transport.close_codes) == 1
        assert transport.close_codes[0] in DOCUMENTED_CLOSE_CODES
    if session.state is State.CLOSED:
        assert session.rooms == set()
    assert session.rooms <= allowed_rooms
    for room in session.rooms:
        assert session in hub.get_hub().local_members(room)
        if not room.startswith("notification:"):
            assert room in joined_streams(session)


def _record_coverage(session: Session, transport: MemoryTransport) -> None:
    """How far examples got (``pytest --hypothesis-show-statistics``)."""
    event(f"ended {session.state.value}, close codes {transport.close_codes}")
    for reply in transport.frames:
        if reply.startswith("43"):
            event("acked ok" if '"ok":true' in reply else "acked: " + reply.split(":")[-1])


@pytest.fixture
def live_stream(make_stream):
    return make_stream()


# Every example of a run shares the fixtures: one user, one live stream.
@pytest.mark.django_db(transaction=True)
@settings(FUZZ, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=frame_sequences)
async def test_any_frames_leave_the_session_consistent(
    sequence, small_payload, user, live_stream, token_for
):
    stream_id = str(live_stream.pk)
    allowed_rooms = {stream_id, f"notification:{user.pk}"}
    fill = {"<token>": token_for(user), "<stream>": stream_id, "<STREAM>": stream_id.upper()}

    transport = MemoryTransport()
    session = Session(transport)
    consumer = EngineIOConsumer()
    consumer.session = session
    await session.open()
    try:
        for frame in sequence:
            if isinstance(frame, str):
                for marker, value in fill.items():
                    frame = frame.replace(marker, value)
                message = {"type": "websocket.receive", "text": frame}
            else:
                message = {"type": "websocket.receive", "bytes": frame}
            was_closed = session.state is State.CLOSED
            await consumer.websocket_receive(message)
            _check(session, transport, allowed_rooms)
            if not was_closed and isinstance(frame, bytes):
                assert transport.close_codes == [CLOSE_UNSUPPORTED_DATA]
            if (
                not was_closed
                and isinstance(frame, str)
                and len(frame.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD
            ):
                assert transport.close_codes == [CLOSE_TOO_BIG]
            if session.rooms:
                event(f"in {len(session.rooms)} room(s)")
    finally:
        _record_coverage(session, transport)
        await session.close()
    assert session.state is State.CLOSED
    assert all(session not in members for members in hub.get_hub().rooms.values())
    assert await presence.count(stream_id) == 0
    assert transport.sent_after_close == []
